/* model_pass.h — the forward and backward passes of the FADE model, as
 * one body compiled twice: by model_pass.c for any x86-64 (fmaf is a libm
 * call there) and by model_pass_avx2.c with -mavx2 -mfma (fmaf becomes
 * one instruction and elementwise loops may use vector lanes).  Both
 * compute the same bits: fmaf is correctly rounded either way, the build
 * forbids contraction and reassociation, and lanes only ever hold
 * different outputs.  The includer defines MDL_PASS(name) to give the
 * exported functions their variant's names.
 *
 * Exact arithmetic (DESIGN.md): every Linear goes through the kern_ops
 * vtable (rows = active streams, or 2N rows for the shared coarse
 * layers); everything else is plain binary32 C in which each reduction
 * runs in ascending index order from the start value named in its
 * comment (0 unless said otherwise), one add or fmaf per term, fmaf only
 * where written, and the elementary functions come from fmath.h.
 * Gradients of parameters that several rows share are summed over rows in
 * ascending row order.  Structure follows fade_model.py; where the
 * reference leaves an order open, the comment at that line fixes it.
 */
#ifndef MDL_PASS
#error "define MDL_PASS(name) before including model_pass.h"
#endif

#include <string.h>
#include "codec/fmath.h"
#include "codec/model_int.h"
#include "codec/pool.h"
#include "codec/model_rows.h"

/* cdu[r] = cdn[r] @ U_n (n = r/2) for coarse rows r0..r1-1:
 * cdu[r][j] = sum_i fmaf(cdn[r][i], U[i][j]) from 0, i ascending (i outer
 * so that U is read by rows; vector lanes are different j) */
static void u_fwd_rows(struct mdl *m, size_t r0, size_t r1)
{
    const size_t H = m->H;
    for (size_t r = r0; r < r1; r++) {
        const float *U = mdl_spar(m, m->w, r / 2, S_U);
        const float *x = m->cdn + r * H;
        float *y = m->cdu + r * H;
        size_t j0 = 0;
#ifdef MDL_VEC
        for (; j0 + 8 <= H; j0 += 8) {      /* lanes = outputs j0..j0+7 */
            __m256 acc = _mm256_setzero_ps();
            for (size_t i = 0; i < H; i++)
                acc = _mm256_fmadd_ps(_mm256_set1_ps(x[i]),
                                      _mm256_loadu_ps(U + i * H + j0), acc);
            _mm256_storeu_ps(y + j0, acc);
        }
#endif
        for (size_t j = j0; j < H; j++)
            y[j] = 0.0f;
        for (size_t i = 0; i < H; i++)
            for (size_t j = j0; j < H; j++)
                y[j] = fmaf(x[i], U[i * H + j], y[j]);
    }
}

/* Backward of u_fwd_rows for streams n0..n1-1:
 *   dU_n[i][j] = sum over branch b = 0, 1 of fmaf(cdn[2n+b][i], ddu[2n+b][j]),
 *                from 0
 *   ddn[r][i]  = sum_j fmaf(ddu[r][j], U_n[i][j]), from 0, j ascending */
static void u_bwd_streams(struct mdl *m, size_t n0, size_t n1)
{
    const size_t H = m->H;
    for (size_t n = n0; n < n1; n++) {
        const float *U = mdl_spar(m, m->w, n, S_U);
        float *gU = mdl_spar(m, m->g, n, S_U);
        const float *x0 = m->cdn + 2 * n * H, *x1 = x0 + H;
        const float *d0 = m->ddu + 2 * n * H, *d1 = d0 + H;
        for (size_t i = 0; i < H; i++) {
            size_t j = 0;
#ifdef MDL_VEC
            for (; j + 8 <= H; j += 8) {
                __m256 acc = _mm256_setzero_ps();
                acc = _mm256_fmadd_ps(_mm256_set1_ps(x0[i]), _mm256_loadu_ps(d0 + j), acc);
                acc = _mm256_fmadd_ps(_mm256_set1_ps(x1[i]), _mm256_loadu_ps(d1 + j), acc);
                _mm256_storeu_ps(gU + i * H + j, acc);
            }
#endif
            for (; j < H; j++) {
                float acc = 0.0f;
                acc = fmaf(x0[i], d0[j], acc);
                acc = fmaf(x1[i], d1[j], acc);
                gU[i * H + j] = acc;
            }
        }
#ifdef MDL_VEC
        if (H % 8 == 0) {
            /* lanes = outputs i0..i0+7 of both branch rows; an 8x8 tile of
             * U is transposed in registers so that column j is one vector,
             * and each output's chain still runs j ascending from 0 */
            const float *da = m->ddu + 2 * n * H, *db = da + H;
            float *oa = m->ddn + 2 * n * H, *ob = oa + H;
            for (size_t i0 = 0; i0 < H; i0 += 8) {
                __m256 acc_a = _mm256_setzero_ps(), acc_b = _mm256_setzero_ps();
                for (size_t j0 = 0; j0 < H; j0 += 8) {
                    __m256 col[8];
                    transpose8(U + i0 * H + j0, H, col);
                    for (size_t q = 0; q < 8; q++) {
                        acc_a = _mm256_fmadd_ps(_mm256_set1_ps(da[j0 + q]), col[q], acc_a);
                        acc_b = _mm256_fmadd_ps(_mm256_set1_ps(db[j0 + q]), col[q], acc_b);
                    }
                }
                _mm256_storeu_ps(oa + i0, acc_a);
                _mm256_storeu_ps(ob + i0, acc_b);
            }
            continue;
        }
#endif
        for (size_t b = 0; b < 2; b++) {
            const float *d = m->ddu + (2 * n + b) * H;
            float *o = m->ddn + (2 * n + b) * H;
            size_t i = 0;
            for (; i + RB <= H; i += RB) {      /* RB independent chains */
                float acc[RB];
                for (size_t q = 0; q < RB; q++)
                    acc[q] = 0.0f;
                for (size_t j = 0; j < H; j++)
                    for (size_t q = 0; q < RB; q++)
                        acc[q] = fmaf(d[j], U[(i + q) * H + j], acc[q]);
                for (size_t q = 0; q < RB; q++)
                    o[i + q] = acc[q];
            }
            for (; i < H; i++) {
                float acc = 0.0f;
                for (size_t j = 0; j < H; j++)
                    acc = fmaf(d[j], U[i * H + j], acc);
                o[i] = acc;
            }
        }
    }
}

/* z = gelu(zz[:F]) * zz[F:] for rows n0..n1-1 (gelu kept in gz) */
static void glu_fwd_rows(struct mdl *m, size_t n0, size_t n1)
{
    const size_t F = m->F;
    for (size_t n = n0; n < n1; n++) {
        const float *zr = m->zz + n * 2 * F;
        float *gzr = m->gz + n * F, *z = m->z + n * F;
        gelu_arr(F, zr, m->zphi + n * F, gzr);
        for (size_t j = 0; j < F; j++)
            z[j] = gzr[j] * zr[F + j];
    }
}

/* backward of glu_fwd_rows: dzz from dz for rows n0..n1-1 */
static void glu_bwd_rows(struct mdl *m, size_t n0, size_t n1)
{
    const size_t F = m->F;
    for (size_t n = n0; n < n1; n++) {
        const float *zr = m->zz + n * 2 * F, *gzr = m->gz + n * F, *dz = m->dz + n * F;
        float *d = m->dzz + n * 2 * F;
        for (size_t j = 0; j < F; j++) {
            d[j] = dz[j] * zr[F + j];
            d[F + j] = dz[j] * gzr[j];
        }
        /* d[j] = (dz * gate) * gelu'(main) */
        gelu_grad_arr(F, zr, m->zphi + n * F, d, d);
    }
}

/* depthwise conv, kernel 3, pad 1, along time, for streams n0..n1-1:
 * bias, then taps t-1, t, t+1 by fmaf; padded taps are skipped, not
 * added as zero */
static void conv_fwd_rows(struct mdl *m, size_t n0, size_t n1)
{
    const size_t T = m->T, D = m->D, TD = m->TD;
    const float *cw = mdl_par(m, m->w, P_CONV_W), *cb = mdl_par(m, m->w, P_CONV_B);
    for (size_t n = n0; n < n1; n++) {
        const float *u = m->lu + n * TD;
        float *pre = m->lpre + n * TD;
        for (size_t t = 0; t < T; t++)
            for (size_t c = 0; c < D; c++) {
                float acc = cb[c];
                if (t > 0)
                    acc = fmaf(u[(t - 1) * D + c], cw[c * 3 + 0], acc);
                acc = fmaf(u[t * D + c], cw[c * 3 + 1], acc);
                if (t + 1 < T)
                    acc = fmaf(u[(t + 1) * D + c], cw[c * 3 + 2], acc);
                pre[t * D + c] = acc;
            }
    }
}

/* ---------------------------------------------------------------------
 * Work split over the pool.  Rows (streams) or elements are cut into
 * pieces; every output is computed by exactly the serial code above, so
 * which thread runs which piece never changes a bit.  Reductions across
 * rows (gradients of shared parameters) are split by column, each column
 * keeping its ascending row order.
 * ------------------------------------------------------------------- */

#define PAR_ELEMS 2048u      /* elements per piece: amortises the hand-off */

enum job_kind {
    JOB_U_FWD, JOB_U_BWD, JOB_GLU_FWD, JOB_GLU_BWD, JOB_CONV_FWD, JOB_SOFTMAX,
};

struct par_job {
    struct mdl *m;
    enum job_kind kind;
    size_t M, rows;
    const float *x, *w, *b, *dy, *aux, *cxhat, *crstd;
    float *y, *phi, *xhat, *rstd, *dx, *dw, *db;
};

static void job_rows(void *arg, size_t b, size_t e, unsigned tid)
{
    const struct par_job *j = arg;
    (void)tid;
    switch (j->kind) {
    case JOB_U_FWD:    u_fwd_rows(j->m, b, e); break;
    case JOB_U_BWD:    u_bwd_streams(j->m, b, e); break;
    case JOB_GLU_FWD:  glu_fwd_rows(j->m, b, e); break;
    case JOB_GLU_BWD:  glu_bwd_rows(j->m, b, e); break;
    case JOB_CONV_FWD: conv_fwd_rows(j->m, b, e); break;
    case JOB_SOFTMAX:
        for (size_t n = b; n < e; n++)
            softmax_row(j->m->logits + n * MDL_V, j->m->prob + n * MDL_V);
        break;
    }
}

static void par_rows(struct mdl *m, size_t rows, size_t grain, enum job_kind kind)
{
    struct par_job j = { .m = m, .kind = kind };
    pool_parallel_for(m->pool, rows, grain, job_rows, &j);
}

static void job_gelu(void *arg, size_t b, size_t e, unsigned tid)
{
    const struct par_job *j = arg;
    (void)tid;
    gelu_arr(e - b, j->x + b, j->phi + b, j->y + b);
}

static void par_gelu(struct mdl *m, size_t n, const float *x, float *phi, float *y)
{
    struct par_job j = { .x = x, .phi = phi, .y = y };
    pool_parallel_for(m->pool, n, PAR_ELEMS, job_gelu, &j);
}

static void job_gelu_grad(void *arg, size_t b, size_t e, unsigned tid)
{
    const struct par_job *j = arg;
    (void)tid;
    gelu_grad_arr(e - b, j->x + b, j->aux + b, j->dy + b, j->dx + b);
}

static void par_gelu_grad(struct mdl *m, size_t n, const float *x, const float *phi,
                          const float *dy, float *dx)
{
    struct par_job j = { .x = x, .aux = phi, .dy = dy, .dx = dx };
    pool_parallel_for(m->pool, n, PAR_ELEMS, job_gelu_grad, &j);
}

static void job_sigmoid(void *arg, size_t b, size_t e, unsigned tid)
{
    const struct par_job *j = arg;
    (void)tid;
    sigmoid_arr(e - b, j->x + b, j->y + b);
}

/* x[i] = sigmoid(x[i]) */
static void par_sigmoid(struct mdl *m, size_t n, float *x)
{
    struct par_job j = { .x = x, .y = x };
    pool_parallel_for(m->pool, n, PAR_ELEMS, job_sigmoid, &j);
}

/* rows per piece for rows of width M: about PAR_ELEMS elements, a
 * multiple of RB so that pieces keep the side-by-side blocks full */
static size_t grain_rows(size_t M)
{
    size_t g = PAR_ELEMS / (M ? M : 1);
    g = (g + RB - 1) / RB * RB;
    return g ? g : RB;
}

static void job_ln_fwd(void *arg, size_t b, size_t e, unsigned tid)
{
    const struct par_job *j = arg;
    const size_t M = j->M;
    (void)tid;
    MDL_PASS(mdl_ln_fwd)(e - b, M, j->x + b * M, j->w, j->b, j->xhat + b * M, j->rstd + b,
                         j->y + b * M);
}

static void par_ln_fwd(struct mdl *m, size_t rows, size_t M, const float *x, const float *w,
                       const float *b, float *xhat, float *rstd, float *y)
{
    struct par_job j = { .M = M, .x = x, .w = w, .b = b, .xhat = xhat, .rstd = rstd, .y = y };
    pool_parallel_for(m->pool, rows, grain_rows(M), job_ln_fwd, &j);
}

/* LayerNorm parameter gradients, columns [b, e): each column's sum over
 * rows ascending from 0 */
static void job_ln_params(void *arg, size_t b, size_t e, unsigned tid)
{
    const struct par_job *j = arg;
    const size_t M = j->M;
    (void)tid;
    for (size_t i = b; i < e; i++) {
        j->dw[i] = 0.0f;
        j->db[i] = 0.0f;
    }
    for (size_t r = 0; r < j->rows; r++) {
        const float *d = j->dy + r * M, *xh = j->cxhat + r * M;
        for (size_t i = b; i < e; i++) {
            j->dw[i] = fmaf(d[i], xh[i], j->dw[i]);
            j->db[i] = j->db[i] + d[i];
        }
    }
}

static void job_ln_dx(void *arg, size_t b, size_t e, unsigned tid)
{
    const struct par_job *j = arg;
    const size_t M = j->M;
    (void)tid;
    size_t r = b;
    for (; r + RB <= e; r += RB)
        ln_bwd_rows(RB, M, j->dy + r * M, j->cxhat + r * M, j->crstd + r, j->w, j->dx + r * M);
    if (r < e)
        ln_bwd_rows(e - r, M, j->dy + r * M, j->cxhat + r * M, j->crstd + r, j->w,
                    j->dx + r * M);
}

/* ln_bwd split over the pool: parameter gradients by column, dx by row */
static void par_ln_bwd(struct mdl *m, size_t rows, size_t M, const float *dy,
                       const float *xhat, const float *rstd, const float *w, float *dx,
                       float *dw, float *db)
{
    struct par_job j = { .M = M, .rows = rows, .dy = dy, .cxhat = xhat, .crstd = rstd,
                         .w = w, .dx = dx, .dw = dw, .db = db };
    size_t cg = (PAR_ELEMS / (rows ? rows : 1) + 15) / 16 * 16;
    pool_parallel_for(m->pool, M, cg ? cg : 16, job_ln_params, &j);
    pool_parallel_for(m->pool, rows, grain_rows(M), job_ln_dx, &j);
}

/* ---------------------------------------------------------------------
 * Forward pass.
 * ------------------------------------------------------------------- */

void MDL_PASS(mdl_forward)(struct mdl *m, uint32_t N, int append)
{
    const struct kern_ops *k = m->k;
    struct fade_pool *pool = m->pool;
    const size_t T = m->T, D = m->D, TD = m->TD, C = m->C, G = m->G, L = m->L;
    const size_t F = m->F, H = m->H, R = 2 * (size_t)N;
    float *w = m->w;

    /* embedding gather: e[n][t*D + d] = E[ctx[n][t]][d] */
    const float *emb = mdl_par(m, w, P_EMB);
    for (size_t n = 0; n < N; n++)
        for (size_t t = 0; t < T; t++)
            memcpy(m->e + n * TD + t * D, emb + (size_t)m->ctx[n * T + t] * D,
                   D * sizeof(float));

    /* s = LayerNorm(TD)(e), the "skip" features */
    par_ln_fwd(m, N, TD, m->e, mdl_par(m, w, P_LN0_W), mdl_par(m, w, P_LN0_B),
               m->x0hat, m->r0, m->s);

    /* global cache: drop the oldest L features, append
     * gelu(main) * gate of GeGLU_last(newest position of s) */
    if (append) {
        k->linear_fwd(pool, N, D, 2 * L, m->s + (T - 1) * D, TD, m->xlast_w, m->xlast_b,
                      m->gl, 2 * L);
        for (size_t n = 0; n < N; n++) {
            float *cn = m->cache + n * G;
            const float *gn = m->gl + n * 2 * L;
            memmove(cn, cn + L, (G - L) * sizeof(float));
            for (size_t j = 0; j < L; j++)
                cn[G - L + j] = fm_gelu(gn[j]) * gn[L + j];
        }
    }

    /* global = gelu(Linear G->TD (cache)) + gskip * s */
    k->linear_fwd(pool, N, G, TD, m->cache, G, mdl_par(m, w, P_GOUT_W),
                  mdl_par(m, w, P_GOUT_B), m->gpre, TD);
    const float gskip = *mdl_par(m, w, P_GSKIP);
    par_gelu(m, (size_t)N * TD, m->gpre, m->gphi, m->glob);
    for (size_t i = 0; i < (size_t)N * TD; i++)
        m->glob[i] = fmaf(gskip, m->s[i], m->glob[i]);

    /* local = gelu(conv3(LayerNorm(D)(e) per position)) */
    par_ln_fwd(m, (size_t)N * T, D, m->e, mdl_par(m, w, P_LL_W),
               mdl_par(m, w, P_LL_B), m->lhat, m->lr, m->lu);
    par_rows(m, N, 4, JOB_CONV_FWD);
    par_gelu(m, (size_t)N * TD, m->lpre, m->lphi, m->loc);

    /* fusion: a = sigmoid(Linear(s)); h = a*glob + (1-a)*loc written as
     * fmaf(a, glob - loc, loc) */
    k->linear_fwd(pool, N, TD, TD, m->s, TD, mdl_par(m, w, P_GATE_W),
                  mdl_par(m, w, P_GATE_B), m->a, TD);
    par_sigmoid(m, (size_t)N * TD, m->a);
    for (size_t i = 0; i < (size_t)N * TD; i++)
        m->h[i] = fmaf(m->a[i], m->glob[i] - m->loc[i], m->loc[i]);

    /* coarse refinement on R = 2N rows of width C */
    par_ln_fwd(m, R, C, m->h, mdl_par(m, w, P_CLN_W), mdl_par(m, w, P_CLN_B),
               m->chat, m->cr, m->ck);
    k->linear_fwd(pool, R, C, H, m->ck, C, mdl_par(m, w, P_CDOWN_W),
                  mdl_par(m, w, P_CDOWN_B), m->cdn, H);
    par_rows(m, R, 8, JOB_U_FWD);              /* cdu = cdn @ U_n */
    k->linear_fwd(pool, R, H, C, m->cdu, H, mdl_par(m, w, P_CUP_W),
                  mdl_par(m, w, P_CUP_B), m->cup, C);
    k->linear_fwd(pool, R, C, C, m->ck, C, mdl_par(m, w, P_CGATE_W),
                  mdl_par(m, w, P_CGATE_B), m->cg, C);
    par_sigmoid(m, (size_t)N * TD, m->cg);
    {
        const float cskip = *mdl_par(m, w, P_CSKIP);
        for (size_t n = 0; n < N; n++) {
            const float *bias = mdl_spar(m, w, n, S_BIAS);     /* [2][C] = [TD] */
            for (size_t i = 0; i < TD; i++) {
                size_t j = n * TD + i;
                float y = m->cup[j] * m->cg[j] + bias[i];
                m->cout[j] = fmaf(cskip, m->ck[j], y);
            }
        }
    }

    /* fine refinement */
    par_ln_fwd(m, N, TD, m->cout, mdl_par(m, w, P_FLN1_W), mdl_par(m, w, P_FLN1_B),
               m->f1hat, m->f1r, m->n1);
    k->linear_fwd(pool, N, TD, 2 * F, m->n1, TD, mdl_par(m, w, P_FGLU_W),
                  mdl_par(m, w, P_FGLU_B), m->zz, 2 * F);
    par_rows(m, N, 1, JOB_GLU_FWD);
    k->linear_fwd(pool, N, F, TD, m->z, F, mdl_par(m, w, P_FOUT_W),
                  mdl_par(m, w, P_FOUT_B), m->z2, TD);
    par_ln_fwd(m, N, TD, m->z2, mdl_par(m, w, P_FLN2_W), mdl_par(m, w, P_FLN2_B),
               m->f2hat, m->f2r, m->z3);
    const float fskip = *mdl_par(m, w, P_FSKIP);
    par_gelu(m, (size_t)N * TD, m->z3, m->fphi, m->fo);
    for (size_t i = 0; i < (size_t)N * TD; i++)
        m->fo[i] = fmaf(fskip, m->n1[i], m->fo[i]);

    /* output */
    k->linear_fwd(pool, N, TD, MDL_V, m->fo, TD, mdl_par(m, w, P_OUT_W),
                  mdl_par(m, w, P_OUT_B), m->logits, MDL_V);
    par_rows(m, N, 8, JOB_SOFTMAX);
}

void MDL_PASS(mdl_backward)(struct mdl *m, uint32_t N, const uint8_t *sym)
{
    const struct kern_ops *k = m->k;
    struct fade_pool *pool = m->pool;
    const size_t T = m->T, D = m->D, TD = m->TD, C = m->C, G = m->G;
    const size_t F = m->F, H = m->H, V = MDL_V, R = 2 * (size_t)N, NTD = (size_t)N * TD;
    float *w = m->w, *g = m->g, *sc = m->scratch;
    const float fn = (float)N;

    /* d(mean CE)/d logits = (p - onehot) / N */
    for (size_t n = 0; n < N; n++) {
        const float *p = m->prob + n * V;
        float *d = m->dl + n * V;
        for (size_t s = 0; s < V; s++)
            d[s] = (p[s] - (s == sym[n] ? 1.0f : 0.0f)) / fn;
    }

    /* output Linear */
    k->linear_bwd_w(pool, N, TD, V, m->fo, TD, m->dl, V, mdl_par(m, g, P_OUT_W),
                    mdl_par(m, g, P_OUT_B), 0);
    k->linear_bwd_x(pool, N, TD, V, m->dl, V, mdl_par(m, w, P_OUT_W), m->dfo, TD, 0, sc);

    /* fo = fmaf(fskip, n1, gelu(z3)) */
    const float fskip = *mdl_par(m, w, P_FSKIP);
    *mdl_par(m, g, P_FSKIP) = rows_dot(N, TD, m->dfo, m->n1);
    par_gelu_grad(m, NTD, m->z3, m->fphi, m->dfo, m->dz3);
    for (size_t i = 0; i < NTD; i++)
        m->dn1[i] = fskip * m->dfo[i];
    par_ln_bwd(m, N, TD, m->dz3, m->f2hat, m->f2r, mdl_par(m, w, P_FLN2_W), m->dz2,
               mdl_par(m, g, P_FLN2_W), mdl_par(m, g, P_FLN2_B));

    /* fine out Linear F -> TD */
    k->linear_bwd_w(pool, N, F, TD, m->z, F, m->dz2, TD, mdl_par(m, g, P_FOUT_W),
                    mdl_par(m, g, P_FOUT_B), 0);
    k->linear_bwd_x(pool, N, F, TD, m->dz2, TD, mdl_par(m, w, P_FOUT_W), m->dz, F, 0, sc);

    /* GeGLU: z = gelu(zz[:F]) * zz[F:] */
    par_rows(m, N, 1, JOB_GLU_BWD);
    k->linear_bwd_w(pool, N, TD, 2 * F, m->n1, TD, m->dzz, 2 * F, mdl_par(m, g, P_FGLU_W),
                    mdl_par(m, g, P_FGLU_B), 0);
    /* dn1 already holds the skip term; the GeGLU term accumulates onto it */
    k->linear_bwd_x(pool, N, TD, 2 * F, m->dzz, 2 * F, mdl_par(m, w, P_FGLU_W), m->dn1, TD,
                    1, sc);
    par_ln_bwd(m, N, TD, m->dn1, m->f1hat, m->f1r, mdl_par(m, w, P_FLN1_W), m->dc,
               mdl_par(m, g, P_FLN1_W), mdl_par(m, g, P_FLN1_B));

    /* coarse: cout = fmaf(cskip, k, up * sigmoid(cg) + bias_n) */
    const float cskip = *mdl_par(m, w, P_CSKIP);
    *mdl_par(m, g, P_CSKIP) = rows_dot(N, TD, m->dc, m->ck);
    for (size_t n = 0; n < N; n++) {
        float *gb = mdl_spar(m, g, n, S_BIAS);
        for (size_t i = 0; i < TD; i++) {
            size_t j = n * TD + i;
            float d = m->dc[j], cg = m->cg[j];
            gb[i] = d;
            m->dcup[j] = d * cg;
            m->dcg[j] = (d * m->cup[j]) * (cg * (1.0f - cg));
            m->dck[j] = cskip * d;
        }
    }
    k->linear_bwd_w(pool, R, C, C, m->ck, C, m->dcg, C, mdl_par(m, g, P_CGATE_W),
                    mdl_par(m, g, P_CGATE_B), 0);
    k->linear_bwd_x(pool, R, C, C, m->dcg, C, mdl_par(m, w, P_CGATE_W), m->dck, C, 1, sc);
    k->linear_bwd_w(pool, R, H, C, m->cdu, H, m->dcup, C, mdl_par(m, g, P_CUP_W),
                    mdl_par(m, g, P_CUP_B), 0);
    k->linear_bwd_x(pool, R, H, C, m->dcup, C, mdl_par(m, w, P_CUP_W), m->ddu, H, 0, sc);
    par_rows(m, N, 4, JOB_U_BWD);              /* dU_n and ddn (u_bwd_streams) */
    k->linear_bwd_w(pool, R, C, H, m->ck, C, m->ddn, H, mdl_par(m, g, P_CDOWN_W),
                    mdl_par(m, g, P_CDOWN_B), 0);
    k->linear_bwd_x(pool, R, C, H, m->ddn, H, mdl_par(m, w, P_CDOWN_W), m->dck, C, 1, sc);
    par_ln_bwd(m, R, C, m->dck, m->chat, m->cr, mdl_par(m, w, P_CLN_W), m->dh,
               mdl_par(m, g, P_CLN_W), mdl_par(m, g, P_CLN_B));

    /* fusion: h = fmaf(a, glob - loc, loc), a = sigmoid(gate pre-act) */
    for (size_t i = 0; i < NTD; i++) {
        float dh = m->dh[i], a = m->a[i];
        m->dglob[i] = dh * a;
        m->dloc[i] = dh * (1.0f - a);
        m->dap[i] = (dh * (m->glob[i] - m->loc[i])) * (a * (1.0f - a));
    }
    k->linear_bwd_w(pool, N, TD, TD, m->s, TD, m->dap, TD, mdl_par(m, g, P_GATE_W),
                    mdl_par(m, g, P_GATE_B), 0);
    k->linear_bwd_x(pool, N, TD, TD, m->dap, TD, mdl_par(m, w, P_GATE_W), m->ds, TD, 0, sc);

    /* global: glob = fmaf(gskip, s, gelu(gpre)); the cache is detached, so
     * the global Linear gets a weight gradient and passes nothing back */
    const float gskip = *mdl_par(m, w, P_GSKIP);
    *mdl_par(m, g, P_GSKIP) = rows_dot(N, TD, m->dglob, m->s);
    for (size_t i = 0; i < NTD; i++)
        m->ds[i] = fmaf(gskip, m->dglob[i], m->ds[i]);
    par_gelu_grad(m, NTD, m->gpre, m->gphi, m->dglob, m->dglob);
    k->linear_bwd_w(pool, N, G, TD, m->cache, G, m->dglob, TD, mdl_par(m, g, P_GOUT_W),
                    mdl_par(m, g, P_GOUT_B), 0);
    par_ln_bwd(m, N, TD, m->ds, m->x0hat, m->r0, mdl_par(m, w, P_LN0_W), m->de,
               mdl_par(m, g, P_LN0_W), mdl_par(m, g, P_LN0_B));

    /* local: loc = gelu(conv3(u)), u = LayerNorm(D)(e) per position */
    par_gelu_grad(m, NTD, m->lpre, m->lphi, m->dloc, m->dpre);
    {
        const float *cw = mdl_par(m, w, P_CONV_W);
        float *gw = mdl_par(m, g, P_CONV_W), *gb = mdl_par(m, g, P_CONV_B);
        /* tap and bias gradients: sums over (n, t) ascending from 0, the
         * padded taps contributing no term (as in the forward pass) */
        for (size_t c = 0; c < D; c++) {
            gb[c] = 0.0f;
            gw[c * 3 + 0] = gw[c * 3 + 1] = gw[c * 3 + 2] = 0.0f;
        }
        for (size_t n = 0; n < N; n++) {
            const float *u = m->lu + n * TD, *dp = m->dpre + n * TD;
            float *du = m->du + n * TD;
            for (size_t t = 0; t < T; t++)
                for (size_t c = 0; c < D; c++) {
                    float d = dp[t * D + c];
                    gb[c] = gb[c] + d;
                    if (t > 0)
                        gw[c * 3 + 0] = fmaf(d, u[(t - 1) * D + c], gw[c * 3 + 0]);
                    gw[c * 3 + 1] = fmaf(d, u[t * D + c], gw[c * 3 + 1]);
                    if (t + 1 < T)
                        gw[c * 3 + 2] = fmaf(d, u[(t + 1) * D + c], gw[c * 3 + 2]);
                }
            /* du[t] from 0: + dpre[t+1]*w0, + dpre[t]*w1, + dpre[t-1]*w2 */
            for (size_t t = 0; t < T; t++)
                for (size_t c = 0; c < D; c++) {
                    float acc = 0.0f;
                    if (t + 1 < T)
                        acc = fmaf(dp[(t + 1) * D + c], cw[c * 3 + 0], acc);
                    acc = fmaf(dp[t * D + c], cw[c * 3 + 1], acc);
                    if (t > 0)
                        acc = fmaf(dp[(t - 1) * D + c], cw[c * 3 + 2], acc);
                    du[t * D + c] = acc;
                }
        }
    }
    par_ln_bwd(m, (size_t)N * T, D, m->du, m->lhat, m->lr, mdl_par(m, w, P_LL_W), m->de2,
               mdl_par(m, g, P_LL_W), mdl_par(m, g, P_LL_B));

    /* e feeds both LN0 and the local stream: de = de(LN0) + de(local);
     * the embedding gradient is the scatter-add over (n, t) ascending */
    float *gE = mdl_par(m, g, P_EMB);
    memset(gE, 0, V * D * sizeof(float));
    for (size_t n = 0; n < N; n++)
        for (size_t t = 0; t < T; t++) {
            const float *d1 = m->de + n * TD + t * D, *d2 = m->de2 + n * TD + t * D;
            float *row = gE + (size_t)m->ctx[n * T + t] * D;
            for (size_t c = 0; c < D; c++)
                row[c] = row[c] + (d1[c] + d2[c]);
        }
}
