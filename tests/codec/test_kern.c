/* test_kern.c — every SIMD kernel reproduces the scalar reference bit for
 * bit (memcmp), for odd shapes, padded strides, awkward values, with and
 * without a thread pool; plus ISA naming and kernel dispatch. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "codec/kern.h"
#include "codec/peak.h"
#include "codec/pool.h"

/* ---- deterministic inputs ---- */

static uint64_t tk_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float tk_unit(uint64_t *s)   /* uniform in [-1, 1) */
{
    return (float)((int32_t)(tk_next(s) >> 32)) * (1.0f / 2147483648.0f);
}

/* Mostly ordinary values, with subnormals, signed zeros and very large and
 * very small magnitudes mixed in (products stay below FLT_MAX, so no inf
 * or NaN appears; sums of tiny products land in the subnormal range). */
static float tk_value(uint64_t *s)
{
    const uint64_t r = tk_next(s) % 100;
    if (r < 3) {
        uint32_t bits = (uint32_t)(tk_next(s) & 0x807fffffu);  /* exponent 0 */
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    if (r < 5)
        return -0.0f;
    if (r < 7)
        return 0.0f;
    if (r < 9)
        return tk_unit(s) * 1e18f;
    if (r < 13)
        return tk_unit(s) * 1e-20f;
    return tk_unit(s);
}

static float *tk_fill(size_t n, uint64_t *s)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = tk_value(s);
    return p;
}

static float *tk_copy(const float *src, size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    cr_assert_not_null(p);
    memcpy(p, src, n * sizeof *p);
    return p;
}

/* ---- one parity check per kernel ---- */

static void tk_check_fwd(const struct kern_ops *k, struct fade_pool *pool,
                         size_t N, size_t K, size_t O, size_t pad, int bias,
                         uint64_t seed)
{
    const size_t ldx = K + pad, ldy = O + pad;
    float *X = tk_fill(N * ldx, &seed), *W = tk_fill(K * O, &seed);
    float *b = tk_fill(O, &seed);
    float *Yr = tk_fill(N * ldy, &seed), *Yt = tk_copy(Yr, N * ldy);
    kern_scalar_ops.linear_fwd(NULL, N, K, O, X, ldx, W, bias ? b : NULL, Yr, ldy);
    k->linear_fwd(pool, N, K, O, X, ldx, W, bias ? b : NULL, Yt, ldy);
    cr_assert(memcmp(Yr, Yt, N * ldy * sizeof *Yr) == 0,
              "%s linear_fwd differs: N=%zu K=%zu O=%zu pad=%zu bias=%d threads=%u",
              k->name, N, K, O, pad, bias, pool_n_threads(pool));
    free(X); free(W); free(b); free(Yr); free(Yt);
}

static void tk_check_bwd_x(const struct kern_ops *k, struct fade_pool *pool,
                           size_t N, size_t K, size_t O, size_t pad, int accumulate,
                           uint64_t seed)
{
    const size_t lddy = O + pad, lddx = K + pad;
    float *dY = tk_fill(N * lddy, &seed), *W = tk_fill(K * O, &seed);
    float *dXr = tk_fill(N * lddx, &seed), *dXt = tk_copy(dXr, N * lddx);
    float *scratch = malloc((N * O + 1) * sizeof *scratch);
    cr_assert_not_null(scratch);
    kern_scalar_ops.linear_bwd_x(NULL, N, K, O, dY, lddy, W, dXr, lddx, accumulate, scratch);
    k->linear_bwd_x(pool, N, K, O, dY, lddy, W, dXt, lddx, accumulate, scratch);
    cr_assert(memcmp(dXr, dXt, N * lddx * sizeof *dXr) == 0,
              "%s linear_bwd_x differs: N=%zu K=%zu O=%zu pad=%zu acc=%d threads=%u",
              k->name, N, K, O, pad, accumulate, pool_n_threads(pool));
    free(dY); free(W); free(dXr); free(dXt); free(scratch);
}

static void tk_check_bwd_w(const struct kern_ops *k, struct fade_pool *pool,
                           size_t N, size_t K, size_t O, size_t pad, int accumulate,
                           int with_db, uint64_t seed)
{
    const size_t ldx = K + pad, ldy = O + pad;
    float *X = tk_fill(N * ldx, &seed), *dY = tk_fill(N * ldy, &seed);
    float *dWr = tk_fill(K * O, &seed), *dWt = tk_copy(dWr, K * O);
    float *dBr = tk_fill(O, &seed), *dBt = tk_copy(dBr, O);
    kern_scalar_ops.linear_bwd_w(NULL, N, K, O, X, ldx, dY, ldy, dWr,
                                 with_db ? dBr : NULL, accumulate);
    k->linear_bwd_w(pool, N, K, O, X, ldx, dY, ldy, dWt, with_db ? dBt : NULL, accumulate);
    cr_assert(memcmp(dWr, dWt, K * O * sizeof *dWr) == 0,
              "%s linear_bwd_w dW differs: N=%zu K=%zu O=%zu pad=%zu acc=%d threads=%u",
              k->name, N, K, O, pad, accumulate, pool_n_threads(pool));
    cr_assert(memcmp(dBr, dBt, O * sizeof *dBr) == 0,
              "%s linear_bwd_w dB differs: N=%zu K=%zu O=%zu acc=%d db=%d",
              k->name, N, K, O, accumulate, with_db);
    free(X); free(dY); free(dWr); free(dWt); free(dBr); free(dBt);
}

static void tk_check_adam(const struct kern_ops *k, size_t n, uint64_t seed)
{
    float *w = tk_fill(n, &seed), *g = tk_fill(n, &seed), *m = tk_fill(n, &seed);
    float *v = tk_fill(n, &seed);
    for (size_t i = 0; i < n; i++)
        v[i] = fabsf(v[i]) * 1e-3f;      /* a second moment is never negative */
    float *w2 = tk_copy(w, n), *m2 = tk_copy(m, n), *v2 = tk_copy(v, n);
    /* Step 3 of lr 1e-3 with torch's defaults, bias corrections in binary32. */
    const float b1 = 0.9f, b2 = 0.999f, lr = 1e-3f;
    const float bc1 = 1.0f - b1 * b1 * b1, bc2 = 1.0f - b2 * b2 * b2;
    const float step = lr / bc1, ibc = 1.0f / sqrtf(bc2);
    kern_scalar_ops.adam(n, w, g, m, v, 1e-2f, b1, b2, step, ibc, 1e-8f);
    k->adam(n, w2, g, m2, v2, 1e-2f, b1, b2, step, ibc, 1e-8f);
    cr_assert(memcmp(w, w2, n * sizeof *w) == 0, "%s adam w differs, n=%zu", k->name, n);
    cr_assert(memcmp(m, m2, n * sizeof *m) == 0, "%s adam m differs, n=%zu", k->name, n);
    cr_assert(memcmp(v, v2, n * sizeof *v) == 0, "%s adam v differs, n=%zu", k->name, n);
    free(w); free(g); free(m); free(v); free(w2); free(m2); free(v2);
}

/* ---- the shape sweep ---- */

static const size_t tk_dims[] = {1, 3, 17, 33, 100};
#define TK_NDIMS (sizeof tk_dims / sizeof tk_dims[0])

/* Shapes past the size at which the kernels start using the pool, so that
 * threads split both columns and rows, and around every cache block edge
 * of kern_simd.h: the reduction slice (128: one slice exactly, one less,
 * one more, two exactly, not a multiple), the column block (512, the
 * micro panel 64 / 16) and the row chunk (288 rows; for linear_bwd_w the
 * rows are K and the reduction N, for linear_bwd_x the columns are K and
 * the reduction O), with odd N and O and rows below the packing limit. */
static const size_t tk_big[][3] = {
    {100, 300, 70}, {7, 600, 129}, {64, 64, 513}, {300, 20, 200}, {2, 1030, 31},
    {1000, 40, 30}, {400, 130, 80},
    {289, 128, 257}, {13, 256, 300}, {290, 129, 67}, {5, 127, 513}, {577, 300, 33},
    {131, 389, 129}, {1, 1000, 300}, {7, 40, 260}, {128, 289, 128}, {257, 577, 127},
    {3, 130, 1025}, {20, 64, 1030}, {30, 512, 512},
};
#define TK_NBIG (sizeof tk_big / sizeof tk_big[0])

static const struct kern_ops *tk_ops(enum fade_isa isa)
{
    if (!fade_isa_available(isa))
        cr_skip_test("%s not available on this machine", fade_isa_name(isa));
    const struct kern_ops *k = kern_get(isa);
    cr_assert_not_null(k);
    cr_assert_eq(k->isa, isa);
    cr_assert_eq(k->version, KERN_V2);
    return k;
}

enum tk_kernel { TK_FWD, TK_BWD_X, TK_BWD_W };

static void tk_sweep(enum fade_isa isa, enum tk_kernel which)
{
    const struct kern_ops *k = tk_ops(isa);
    struct fade_pool *pools[3] = {NULL, NULL, NULL};
    cr_assert_eq(pool_create(&pools[1], 2), 0);
    cr_assert_eq(pool_create(&pools[2], 4), 0);
    uint64_t seed = 1234 + (uint64_t)which * 77 + (uint64_t)isa;
    for (size_t a = 0; a < TK_NDIMS; a++)
        for (size_t b = 0; b < TK_NDIMS; b++)
            for (size_t c = 0; c < TK_NDIMS; c++) {
                const size_t N = tk_dims[a], K = tk_dims[b], O = tk_dims[c];
                const size_t pad = (a + b + c) % 3 == 0 ? 0 : (a + 2 * c) % 5 + 1;
                const int flag = (int)((a + b + c) & 1);
                struct fade_pool *pool = pools[(a + b * 2 + c) % 3];
                seed++;
                switch (which) {
                case TK_FWD:   tk_check_fwd(k, pool, N, K, O, pad, flag, seed); break;
                case TK_BWD_X: tk_check_bwd_x(k, pool, N, K, O, pad, flag, seed); break;
                case TK_BWD_W: tk_check_bwd_w(k, pool, N, K, O, pad, flag, !flag || c & 1, seed); break;
                }
            }
    for (size_t i = 0; i < TK_NBIG; i++)
        for (int p = 0; p < 3; p++)
            for (int flag = 0; flag < 2; flag++) {
                const size_t N = tk_big[i][0], K = tk_big[i][1], O = tk_big[i][2];
                seed++;
                switch (which) {
                case TK_FWD:   tk_check_fwd(k, pools[p], N, K, O, (size_t)p, flag, seed); break;
                case TK_BWD_X: tk_check_bwd_x(k, pools[p], N, K, O, (size_t)p, flag, seed); break;
                case TK_BWD_W: tk_check_bwd_w(k, pools[p], N, K, O, (size_t)p, flag, 1, seed); break;
                }
            }
    pool_free(pools[1]);
    pool_free(pools[2]);
}

static void tk_adam_sweep(enum fade_isa isa)
{
    const struct kern_ops *k = tk_ops(isa);
    const size_t ns[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 33, 100, 1000, 4099};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        tk_check_adam(k, ns[i], 99 + i);
}

/* Empty dimensions: nothing to fold (outputs get their start value) or
 * nothing to write; never a crash, always the scalar result. */
static void tk_empty(enum fade_isa isa)
{
    const struct kern_ops *k = tk_ops(isa);
    const size_t d[] = {0, 1, 5};
    uint64_t seed = 5;
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++)
            for (size_t c = 0; c < 3; c++) {
                if (d[a] && d[b] && d[c])
                    continue;
                tk_check_fwd(k, NULL, d[a], d[b], d[c], 1, 1, ++seed);
                tk_check_bwd_x(k, NULL, d[a], d[b], d[c], 0, 1, ++seed);
                tk_check_bwd_w(k, NULL, d[a], d[b], d[c], 2, 0, 1, ++seed);
            }
}

Test(kern, empty_dims_avx2)   { tk_empty(FADE_ISA_AVX2); }
Test(kern, empty_dims_avx512) { tk_empty(FADE_ISA_AVX512); }

Test(kern, fwd_avx2)    { tk_sweep(FADE_ISA_AVX2, TK_FWD); }
Test(kern, fwd_avx512)  { tk_sweep(FADE_ISA_AVX512, TK_FWD); }
Test(kern, bwd_x_avx2)  { tk_sweep(FADE_ISA_AVX2, TK_BWD_X); }
Test(kern, bwd_x_avx512){ tk_sweep(FADE_ISA_AVX512, TK_BWD_X); }
Test(kern, bwd_w_avx2)  { tk_sweep(FADE_ISA_AVX2, TK_BWD_W); }
Test(kern, bwd_w_avx512){ tk_sweep(FADE_ISA_AVX512, TK_BWD_W); }
Test(kern, adam_avx2)   { tk_adam_sweep(FADE_ISA_AVX2); }
Test(kern, adam_avx512) { tk_adam_sweep(FADE_ISA_AVX512); }

/* A case where fused and unfused arithmetic give different bits: proves
 * the kernels fuse exactly where the reference does (and the tests above
 * would notice an unfused path). */
Test(kern, fma_is_single_rounding)
{
    const float x = 1.0f + 0x1p-12f, w = 1.0f - 0x1p-12f;   /* x*w = 1 - 2^-24 */
    const float Xr[1] = {x}, Wr[1] = {w}, bias[1] = {-1.0f};
    for (int isa = FADE_ISA_SCALAR; isa <= FADE_ISA_AVX512; isa++) {
        const struct kern_ops *k = kern_get((enum fade_isa)isa);
        if (!k)
            continue;
        float y = 0;
        k->linear_fwd(NULL, 1, 1, 1, Xr, 1, Wr, bias, &y, 1);
        cr_expect_eq(y, -0x1p-24f, "%s: got %a", k->name, (double)y);
    }
}

/* ---- dispatch and naming ---- */

Test(kern, isa_names_round_trip)
{
    const enum fade_isa all[] = {FADE_ISA_AUTO, FADE_ISA_SCALAR, FADE_ISA_AVX2, FADE_ISA_AVX512};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        enum fade_isa got = (enum fade_isa)99;
        cr_assert_eq(fade_isa_parse(fade_isa_name(all[i]), &got), 0);
        cr_assert_eq(got, all[i]);
    }
    enum fade_isa got = FADE_ISA_SCALAR;
    cr_expect_eq(fade_isa_parse("AVX512", &got), 0);
    cr_expect_eq(got, FADE_ISA_AVX512);
    cr_expect_eq(fade_isa_parse("avx3", &got), FADE_E_INVAL);
    cr_expect_eq(fade_isa_parse("", &got), FADE_E_INVAL);
    cr_expect_eq(fade_isa_parse(NULL, &got), FADE_E_INVAL);
    cr_expect_eq(fade_isa_parse("avx2", NULL), FADE_E_INVAL);
    cr_expect_str_eq(fade_isa_name((enum fade_isa)42), "unknown");
}

Test(kern, dispatch_matches_availability)
{
    cr_assert(fade_isa_available(FADE_ISA_SCALAR));
    cr_assert(fade_isa_available(FADE_ISA_AUTO));
    const enum fade_isa best = fade_isa_best();
    cr_assert(fade_isa_available(best));
    cr_assert_neq(best, FADE_ISA_AUTO);
    cr_assert_eq(kern_get(FADE_ISA_AUTO), kern_get(best));
    cr_assert_eq(kern_get(FADE_ISA_SCALAR), &kern_scalar_ops);
    /* AVX-512 implies AVX2 here: the AVX-512 file also uses AVX2 + FMA. */
    if (fade_isa_available(FADE_ISA_AVX512))
        cr_assert(fade_isa_available(FADE_ISA_AVX2));
    for (int isa = FADE_ISA_SCALAR; isa <= FADE_ISA_AVX512; isa++) {
        const struct kern_ops *k = kern_get((enum fade_isa)isa);
        if (fade_isa_available((enum fade_isa)isa)) {
            cr_assert_not_null(k);
            cr_assert_eq(k->isa, (enum fade_isa)isa);
            cr_assert(isa <= (int)best);
        } else {
            cr_assert_null(k);
        }
    }
    cr_assert_null(kern_get((enum fade_isa)17));
}

/* ---- the peak probe ---- */

Test(kern, peak_probe_reports_a_rate)
{
    double g = -1;
    cr_assert_eq(fade_peak_gflops(FADE_ISA_AUTO, 1, 0.02, &g), 0);
    cr_assert(g > 0.1 && g < 1e6, "implausible peak %f GFLOP/s", g);
    double s = -1;
    cr_assert_eq(fade_peak_gflops(FADE_ISA_SCALAR, 2, 0.02, &s), 0);
    cr_assert(s > 0.01, "implausible scalar peak %f", s);
    cr_expect_eq(fade_peak_gflops(FADE_ISA_AUTO, 1, 0.01, NULL), FADE_E_INVAL);
    cr_expect_eq(fade_peak_gflops((enum fade_isa)17, 1, 0.01, &g), FADE_E_UNSUPPORTED);
    cr_expect_eq(fade_peak_gflops(FADE_ISA_AUTO, 100000, 0.01, &g), FADE_E_INVAL);
}
