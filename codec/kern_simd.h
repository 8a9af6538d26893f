/* kern_simd.h — the SIMD kernels, written once and instantiated per ISA by
 * kern_avx2.c and kern_avx512.c, which define the vector macros below and
 * then include this file (it is a template, not a normal header).
 *
 * Exactness (kern.h, DESIGN.md "Exact arithmetic"): every vector lane holds
 * a different output element and performs exactly the scalar reference's
 * sequence of roundings: one V_FMA (a single-rounding fused multiply-add)
 * per reduction term, terms in ascending order.  Cache tiling splits a
 * reduction into consecutive ranges only, keeping the partial result in the
 * output array in between, so the fold simply continues where it stopped.
 * Threads take whole output tiles (column panels or row chunks).
 *
 * Structure: a register-blocked micro kernel (KS_MR rows x KS_NV vectors
 * of outputs in registers, the reduction innermost), driven over cache
 * blocks in the BLIS manner: for a block of KS_NC columns and a chunk of
 * KS_MC rows, the reduction runs in KS_KC-deep slices; each slice of B is
 * packed into contiguous KS_KC x KS_NR micro panels on the stack
 * (transposed on the fly for linear_bwd_x, whose reduction runs along rows
 * of W), and every row block of the chunk folds over each panel.  So the
 * output block and the A block stay in L2 while the slices pass, the
 * micro panel stays in L1, and neither A nor the outputs stream from
 * memory once per column panel (which made large weight matrices and
 * long reductions run at half the speed of cache-sized ones).  The A block
 * of a slice is copied into a contiguous buffer too (see KS(pack_a)).
 * Stack use: KS_KC * (KS_NC + KS_MC) floats (400 KiB) per calling thread.
 *
 * Required macros: KS(name) (prefixes a symbol), VT (vector type), VL
 * (lanes), KS_MR x KS_NV (register block: rows x vectors), ks_mask and
 * KS_MASK(nvalid) (a mask with the first nvalid lanes on, 1..VL), V_ZERO(),
 * V_SET1(x), V_LOADU(p), V_LOADM(p, m), V_STOREU(p, v), V_STOREM(p, m, v),
 * V_FMA(a, b, c) = a*b+c rounded once, V_ADD, V_SUB, V_MUL, V_DIV, V_SQRT
 * (all correctly rounded), KS_FMA_ACCS (accumulators in the peak loop),
 * KS_MASK_FREE (1 if a masked access costs the same as a plain one).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "codec/kern.h"
#include "codec/pool.h"

#define KS_INLINE static inline __attribute__((always_inline))
#define KS_NR (KS_NV * VL)          /* output columns per register block */

enum { KS_INIT_ZERO = 0, KS_INIT_BIAS = 1, KS_INIT_LOAD = 2 };

/* Register block: C[0..mr)[0..nv*VL) (last vector masked by lm if part)
 * folded over r in [0, kc): acc = fma(A(i, r), B(r, j), acc), r ascending.
 * A(i, r) = A[i*a_rs + r*a_cs]; B(r, j) = B[r*ldb + j]; C row stride ldc.
 * mr and nv are compile-time constants at every call site (the switch in
 * KS(block)), so the loops below unroll and acc stays in registers. */
KS_INLINE void KS(micro)(const int mr, const int nv, const ks_mask lm, const int part,
                         size_t kc,
                         const float *A, size_t a_rs, size_t a_cs,
                         const float *B, size_t ldb, float *C, size_t ldc,
                         int init, const float *bias, const float *pf, int pf_mr)
{
    /* Fetch the next row block's outputs while this one computes: the
     * first reduction slice of a chunk finds them in memory, and a demand
     * miss on each of them would stall the fold. */
#pragma GCC unroll 16
    for (int i = 0; i < KS_MR; i++)
#pragma GCC unroll 16
        for (int j = 0; j < KS_NV; j++)
            if (i < pf_mr && j < nv)
                __builtin_prefetch(pf + i * ldc + j * VL, 1, 3);
    VT acc[KS_MR][KS_NV];
#pragma GCC unroll 16
    for (int i = 0; i < KS_MR; i++) {
#pragma GCC unroll 16
        for (int j = 0; j < KS_NV; j++) {
            if (i >= mr || j >= nv)
                continue;
            const int last = part && j == nv - 1;
            if (init == KS_INIT_LOAD)
                acc[i][j] = last ? V_LOADM(C + i * ldc + j * VL, lm)
                                 : V_LOADU(C + i * ldc + j * VL);
            else if (init == KS_INIT_BIAS)
                acc[i][j] = last ? V_LOADM(bias + j * VL, lm) : V_LOADU(bias + j * VL);
            else
                acc[i][j] = V_ZERO();
        }
    }
    const float *a[KS_MR];
#pragma GCC unroll 16
    for (int i = 0; i < KS_MR; i++)
        a[i] = A + (size_t)(i < mr ? i : 0) * a_rs;
    const float *b = B;
    for (size_t r = 0; r < kc; r++) {
        VT w[KS_NV];
#pragma GCC unroll 16
        for (int j = 0; j < KS_NV; j++)
            if (j < nv)
                w[j] = (part && j == nv - 1) ? V_LOADM(b + j * VL, lm) : V_LOADU(b + j * VL);
#pragma GCC unroll 16
        for (int i = 0; i < KS_MR; i++) {
            if (i >= mr)
                continue;
            const VT x = V_SET1(a[i][r * a_cs]);
#pragma GCC unroll 16
            for (int j = 0; j < KS_NV; j++)
                if (j < nv)
                    acc[i][j] = V_FMA(x, w[j], acc[i][j]);
        }
        b += ldb;
    }
#pragma GCC unroll 16
    for (int i = 0; i < KS_MR; i++) {
#pragma GCC unroll 16
        for (int j = 0; j < KS_NV; j++) {
            if (i >= mr || j >= nv)
                continue;
            if (part && j == nv - 1)
                V_STOREM(C + i * ldc + j * VL, lm, acc[i][j]);
            else
                V_STOREU(C + i * ldc + j * VL, acc[i][j]);
        }
    }
}

/* One GEMM-shaped job: C (M x NC, row stride ldc) = fold over r < R of
 * A(i, r) * B(r, j), starting from `init`.  B(r, j) is B[r*ldb + j], or
 * B[j*ldb + r] when b_trans (linear_bwd_x reads W along its rows). */
struct KS(gemm) {
    size_t M, NC, R;
    const float *A;
    size_t a_rs, a_cs;
    const float *B;
    size_t ldb;
    int b_trans;
    float *C;
    size_t ldc;
    int init;
    const float *bias;
    int split_rows;         /* threads split rows (else column items) */
    size_t col_item;        /* columns per thread work item */
};

/* Reduction slice: one packed micro panel of B (KS_KC x KS_NR floats,
 * 32 KiB for AVX-512) stays in L1 while the row blocks of a chunk fold
 * over it. */
#ifndef KS_KC
#define KS_KC 128
#endif
/* Columns per packed B block (KS_KC x KS_NC floats, 256 KiB, on the
 * stack): packed once per row chunk and reduction slice, then read by every
 * row block of the chunk; the A block is reused over all of its panels.
 * A multiple of KS_NR for both ISAs.  512 measured a few per cent faster
 * than 256 on the paper shapes: A is packed half as often. */
#ifndef KS_NC
#define KS_NC 512
#endif
/* Rows per chunk: the output block (KS_MC x KS_NC, mostly) and the A
 * block (KS_MC x KS_KC) stay in L2 while the reduction slices and the column
 * panels pass over them, so that neither the outputs nor A stream from
 * memory once per column panel. */
#ifndef KS_MC
#define KS_MC (KS_MR * 48)
#endif
_Static_assert(KS_NC % KS_NR == 0, "a column block is whole micro panels");
_Static_assert(KS_MC % KS_MR == 0, "a row chunk is whole register blocks");

/* Whether A read along its rows is copied into a contiguous block too. */
#ifndef KS_PACK_A_ROWS
#define KS_PACK_A_ROWS 1
#endif

/* Below this many rows in a chunk, packing B costs more than it saves. */
#ifndef KS_PACK_MIN_ROWS
#define KS_PACK_MIN_ROWS 16
#endif

/* Dispatches a register block of mr rows and nv vectors to the
 * specialised micro kernel. */
static void KS(block)(int mr, int nv, ks_mask lm, int part, size_t kc,
                      const float *A, size_t a_rs, size_t a_cs,
                      const float *B, size_t ldb, float *C, size_t ldc,
                      int init, const float *bias, const float *pf, int pf_mr)
{
#define KS_CASE(MRc, NVc)                                                      \
    case (MRc - 1) * KS_NV + (NVc - 1):                                        \
        KS(micro)(MRc, NVc, lm, part, kc, A, a_rs, a_cs, B, ldb, C, ldc, init, bias, \
                  pf, pf_mr);                                                  \
        return;
    switch ((mr - 1) * KS_NV + (nv - 1)) {
#include "codec/kern_simd_cases.h"
    default:
        break;
    }
#undef KS_CASE
}

/* Copies B(r0.., j0..) for kc x nval into the panel dst[r][j] (ld KS_NR). */
static void KS(pack)(const struct KS(gemm) *g, size_t r0, size_t kc, size_t j0,
                     size_t nval, float *dst)
{
    if (!g->b_trans) {
        for (size_t r = 0; r < kc; r++)
            memcpy(dst + r * KS_NR, g->B + (r0 + r) * g->ldb + j0, nval * sizeof *dst);
        return;
    }
    size_t j = 0;
#ifdef KS_HAVE_TRANSPOSE
    for (; j + VL <= nval; j += VL) {
        size_t r = 0;
        for (; r + VL <= kc; r += VL)
            KS(transpose)(g->B + (j0 + j) * g->ldb + r0 + r, g->ldb, dst + r * KS_NR + j, KS_NR);
        for (; r < kc; r++)
            for (size_t jj = j; jj < j + VL; jj++)
                dst[r * KS_NR + jj] = g->B[(j0 + jj) * g->ldb + r0 + r];
    }
#endif
    for (; j < nval; j++) {
        const float *src = g->B + (j0 + j) * g->ldb + r0;
        for (size_t r = 0; r < kc; r++)
            dst[r * KS_NR + j] = src[r];
    }
}

/* Copies A(i0..i1, r0..r0+kc) into a contiguous block.  A read along its
 * rows (a_cs == 1) is copied row by row: dst[(i - i0)*kc + r].  Its rows
 * are often a power of two apart, so in place they would fall into a few
 * cache sets and the A block would not stay in L1/L2 at all.  A read down
 * its columns (a_rs == 1, linear_bwd_w) becomes micro panels: block b
 * (rows i0 + KS_MR*b ..) at dst + KS_MR*b*kc, element (i, r) at
 * [r*KS_MR + i]; in place every reduction step would touch a new cache
 * line and often a new page.  Either way block b starts at (i - i0)*kc. */
static void KS(pack_a)(const struct KS(gemm) *g, size_t i0, size_t i1, size_t r0,
                       size_t kc, float *dst)
{
    if (g->a_cs == 1) {
        for (size_t i = i0; i < i1; i++)
            memcpy(dst + (i - i0) * kc, g->A + i * g->a_rs + r0, kc * sizeof *dst);
        return;
    }
    const size_t full = i0 + (i1 - i0) / KS_MR * KS_MR;
    for (size_t r = 0; r < kc; r++) {
        const float *src = g->A + (r0 + r) * g->a_cs;
        float *d = dst + r * KS_MR;
        size_t i = i0;
        for (; i < full; i += KS_MR, d += KS_MR * kc)
            for (int t = 0; t < KS_MR; t++)
                d[t] = src[i + (size_t)t];
        for (int t = 0; i + (size_t)t < i1; t++)
            d[t] = src[i + (size_t)t];
    }
}

/* Computes the output region rows [i0,i1) x cols [j0,j1) completely.
 * Loop order (BLIS-like): column block (KS_NC), row chunk (KS_MC),
 * reduction slice (KS_KC; B packed here into micro panels, A too when it
 * is read down its columns), column panel (KS_NR), row block (KS_MR).
 * Every output still sees its terms in ascending order: the slices of one
 * output run one after another, the partial sum kept in the output array
 * in between (a float store and load are exact), so the chain of fmaf per
 * output is the reference's. */
static void KS(gemm_region)(const struct KS(gemm) *g, size_t i0, size_t i1,
                            size_t j0, size_t j1)
{
    float panel[KS_KC * KS_NC] __attribute__((aligned(64)));
    float apanel[KS_MC * KS_KC] __attribute__((aligned(64)));
    /* Packing A pays off when its block is reused over several panels or
     * when A is read down its columns.  Strides of the packed block: rows
     * kc apart (row copies) or micro panels (pa_rs 1, pa_cs KS_MR). */
    const int pack_a = g->a_cs != 1 || (KS_PACK_A_ROWS && g->NC > KS_NR && g->R > 0);
    const int pa_rows = g->a_cs == 1;
    const size_t pa_cs = pa_rows ? 1 : KS_MR;
    for (size_t jc = j0; jc < j1; jc += KS_NC) {
        const size_t je = j1 - jc < KS_NC ? j1 : jc + KS_NC;
        for (size_t ic = i0; ic < i1; ic += KS_MC) {
            const size_t ie = i1 - ic < KS_MC ? i1 : ic + KS_MC;
            const int pack = g->b_trans || ie - ic >= KS_PACK_MIN_ROWS;
            size_t r0 = 0;
            do {
                const size_t kc = g->R - r0 < KS_KC ? g->R - r0 : KS_KC;
                const int init = r0 == 0 ? g->init : KS_INIT_LOAD;
                if (pack_a)
                    KS(pack_a)(g, ic, ie, r0, kc, apanel);
                if (pack)
                    for (size_t j = jc; j < je; j += KS_NR)
                        KS(pack)(g, r0, kc, j, je - j < KS_NR ? je - j : KS_NR,
                                 panel + (j - jc) * kc);
                for (size_t j = jc; j < je; j += KS_NR) {
                    const size_t nval = je - j < KS_NR ? je - j : KS_NR;
                    const int nv = (int)((nval + VL - 1) / VL);
                    const ks_mask lm = KS_MASK((int)(nval - (size_t)(nv - 1) * VL));
                    /* A masked access costs nothing with AVX-512 but is
                     * slow with AVX2 (VMASKMOVPS), so AVX2 masks only
                     * partial vectors. */
                    const int part = KS_MASK_FREE || nval % VL != 0;
                    const float *bias = g->bias ? g->bias + j : NULL;
                    const float *Bp = pack ? panel + (j - jc) * kc : g->B + r0 * g->ldb + j;
                    const size_t ldb = pack ? KS_NR : g->ldb;
                    for (size_t i = ic; i < ie; i += KS_MR) {
                        const int mr = (int)(ie - i < KS_MR ? ie - i : KS_MR);
                        /* The next row block's outputs, for the micro
                         * kernel to prefetch. */
                        const size_t in = i + KS_MR;
                        const int pf_mr = in < ie ? (int)(ie - in < KS_MR ? ie - in : KS_MR) : 0;
                        const float *pf = in < ie ? g->C + in * g->ldc + j : g->C;
                        if (pack_a)
                            KS(block)(mr, nv, lm, part, kc, apanel + (i - ic) * kc,
                                      pa_rows ? kc : 1, pa_cs,
                                      Bp, ldb, g->C + i * g->ldc + j, g->ldc, init, bias,
                                      pf, pf_mr);
                        else
                            KS(block)(mr, nv, lm, part, kc,
                                      g->A + i * g->a_rs + r0 * g->a_cs, g->a_rs, g->a_cs,
                                      Bp, ldb, g->C + i * g->ldc + j, g->ldc, init, bias,
                                      pf, pf_mr);
                    }
                }
                r0 += kc;
            } while (r0 < g->R);
        }
    }
}

static void KS(gemm_job)(void *arg, size_t begin, size_t end, unsigned tid)
{
    (void)tid;
    const struct KS(gemm) *g = arg;
    if (g->split_rows) {
        const size_t i1 = end * KS_MR < g->M ? end * KS_MR : g->M;
        KS(gemm_region)(g, begin * KS_MR, i1, 0, g->NC);
    } else {
        const size_t j1 = end * g->col_item < g->NC ? end * g->col_item : g->NC;
        KS(gemm_region)(g, 0, g->M, begin * g->col_item, j1);
    }
}

/* Small jobs run on the caller: waking the pool costs more than it saves. */
#ifndef KS_PAR_MIN_FMAS
#define KS_PAR_MIN_FMAS ((size_t)1 << 20)
#endif

static void KS(gemm_run)(struct fade_pool *pool, struct KS(gemm) *g)
{
    if (g->M == 0 || g->NC == 0)
        return;
    const size_t nt = pool_n_threads(pool);
    if (nt == 1 || g->M * g->NC * (g->R ? g->R : 1) < KS_PAR_MIN_FMAS) {
        KS(gemm_region)(g, 0, g->M, 0, g->NC);
        return;
    }
    /* Threads claim whole column blocks when there are enough of them, so
     * that each packs only its own B panels and reuses its A block over
     * as many columns as it can (a block is halved until every thread gets
     * about two); else chunks of row blocks, large enough to amortise
     * packing, small enough to balance. */
    size_t ci = KS_NC;
    while (ci > KS_NR && (g->NC + ci - 1) / ci < 2 * nt)
        ci /= 2;
    g->col_item = ci;
    const size_t citems = (g->NC + g->col_item - 1) / g->col_item;
    const size_t rblocks = (g->M + KS_MR - 1) / KS_MR;
    g->split_rows = citems < 2 * nt && rblocks > citems;
    if (!g->split_rows) {
        pool_parallel_for(pool, citems, 1, KS(gemm_job), g);
        return;
    }
    size_t grain = (rblocks + 4 * nt - 1) / (4 * nt);
    if (grain * KS_MR > KS_MC)
        grain = KS_MC / KS_MR;
    pool_parallel_for(pool, rblocks, grain, KS(gemm_job), g);
}

static void KS(linear_fwd)(struct fade_pool *pool, size_t N, size_t K, size_t O,
                           const float *X, size_t ldx, const float *W,
                           const float *bias, float *Y, size_t ldy)
{
    struct KS(gemm) g = {
        .M = N, .NC = O, .R = K,
        .A = X, .a_rs = ldx, .a_cs = 1,
        .B = W, .ldb = O, .b_trans = 0,
        .C = Y, .ldc = ldy,
        .init = bias ? KS_INIT_BIAS : KS_INIT_ZERO, .bias = bias,
    };
    KS(gemm_run)(pool, &g);
}

/* dX[n][k] = fold_o dY[n][o] * W[k][o]: outputs (n, k) with k in lanes;
 * the panels of W^T this needs are transposed on the fly into a stack
 * buffer, so `scratch` is not used. */
static void KS(linear_bwd_x)(struct fade_pool *pool, size_t N, size_t K, size_t O,
                             const float *dY, size_t lddy, const float *W,
                             float *dX, size_t lddx, int accumulate,
                             float *scratch)
{
    (void)scratch;
    struct KS(gemm) g = {
        .M = N, .NC = K, .R = O,
        .A = dY, .a_rs = lddy, .a_cs = 1,
        .B = W, .ldb = O, .b_trans = 1,
        .C = dX, .ldc = lddx,
        .init = accumulate ? KS_INIT_LOAD : KS_INIT_ZERO, .bias = NULL,
    };
    KS(gemm_run)(pool, &g);
}

static void KS(linear_bwd_w)(struct fade_pool *pool, size_t N, size_t K, size_t O,
                             const float *X, size_t ldx, const float *dY,
                             size_t ldy, float *dW, float *dB, int accumulate)
{
    struct KS(gemm) g = {
        .M = K, .NC = O, .R = N,
        .A = X, .a_rs = 1, .a_cs = ldx,
        .B = dY, .ldb = ldy, .b_trans = 0,
        .C = dW, .ldc = O,
        .init = accumulate ? KS_INIT_LOAD : KS_INIT_ZERO, .bias = NULL,
    };
    KS(gemm_run)(pool, &g);
    if (!dB)
        return;
    for (size_t o = 0; o < O; o += VL) {
        const size_t nval = O - o < VL ? O - o : VL;
        const ks_mask m = KS_MASK((int)nval);
        VT acc = V_ZERO();
        if (nval == VL) {
            if (accumulate)
                acc = V_LOADU(dB + o);
            for (size_t n = 0; n < N; n++)
                acc = V_ADD(acc, V_LOADU(dY + n * ldy + o));
            V_STOREU(dB + o, acc);
            continue;
        }
        if (accumulate)
            acc = V_LOADM(dB + o, m);
        for (size_t n = 0; n < N; n++)
            acc = V_ADD(acc, V_LOADM(dY + n * ldy + o, m));
        V_STOREM(dB + o, m, acc);
    }
}

/* One Adam step on a vector of elements; the masked form serves the tail. */
#define KS_ADAM_STEP(LOAD, STORE)                                              \
    do {                                                                       \
        const VT wi = LOAD(w + i);                                             \
        const VT g = V_FMA(vwd, wi, LOAD(grad + i));                           \
        const VT mi = V_FMA(vb1, LOAD(m + i), V_MUL(vc1, g));                  \
        const VT vi = V_FMA(vb2, LOAD(v + i), V_MUL(V_MUL(vc2, g), g));        \
        const VT den = V_ADD(V_MUL(V_SQRT(vi), vibc), veps);                   \
        STORE(m + i, mi);                                                      \
        STORE(v + i, vi);                                                      \
        STORE(w + i, V_SUB(wi, V_MUL(vstep, V_DIV(mi, den))));                 \
    } while (0)

static void KS(adam)(size_t n, float *w, const float *grad, float *m, float *v,
                     float wd, float b1, float b2, float step,
                     float inv_sqrt_bc2, float eps)
{
    const VT vwd = V_SET1(wd), vb1 = V_SET1(b1), vb2 = V_SET1(b2);
    const VT vc1 = V_SET1(1.0f - b1), vc2 = V_SET1(1.0f - b2);
    const VT vstep = V_SET1(step), vibc = V_SET1(inv_sqrt_bc2), veps = V_SET1(eps);
    size_t i = 0;
    for (; i + VL <= n; i += VL)
        KS_ADAM_STEP(V_LOADU, V_STOREU);
    if (i < n) {
        const ks_mask k = KS_MASK((int)(n - i));
#define KS_LOADT(p) V_LOADM((p), k)
#define KS_STORET(p, x) V_STOREM((p), k, (x))
        KS_ADAM_STEP(KS_LOADT, KS_STORET);
#undef KS_LOADT
#undef KS_STORET
    }
}
#undef KS_ADAM_STEP

float KS(fma_burst)(uint64_t iters, double *flops_per_iter)
{
    VT acc[KS_FMA_ACCS];
    const VT mul = V_SET1(0.999999f), add = V_SET1(1e-7f);
#pragma GCC unroll 32
    for (int j = 0; j < KS_FMA_ACCS; j++)
        acc[j] = V_SET1(1.0f + (float)j * 1e-3f);
    for (uint64_t it = 0; it < iters; it++) {
#pragma GCC unroll 32
        for (int j = 0; j < KS_FMA_ACCS; j++)
            acc[j] = V_FMA(acc[j], mul, add);
    }
    VT s = acc[0];
#pragma GCC unroll 32
    for (int j = 1; j < KS_FMA_ACCS; j++)
        s = V_ADD(s, acc[j]);
    float lanes[VL];
    V_STOREU(lanes, s);
    float t = 0.0f;
    for (int j = 0; j < VL; j++)
        t += lanes[j];
    *flops_per_iter = 2.0 * VL * KS_FMA_ACCS;
    return t;
}
