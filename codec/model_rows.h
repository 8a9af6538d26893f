/* model_rows.h — the elementwise and per-row building blocks of the
 * model's passes (fmath over arrays, LayerNorm rows, softmax, row dots,
 * register transposes), part of the body that model_pass.h compiles once
 * per build variant; included only from there.
 *
 * Every function computes each output with the operation order its
 * comment states; vector lanes and side-by-side rows only ever hold
 * different outputs, so the baseline and the AVX2+FMA builds give the same
 * bits (tests/codec/test_fmath.c and test_model.c check it).
 */
#ifndef MDL_PASS
#error "model_rows.h is part of model_pass.h"
#endif

#define MDL_LN_EPS  1e-5f

#if defined(__AVX2__) && defined(__FMA__)
#include "codec/fmath_avx2.h"
#define MDL_VEC 1       /* eight lanes at a time, same bits (fmath_avx2.h) */
#endif

/* Elementwise fmath over arrays.  Lanes hold different elements, so the
 * vector loop and the scalar tail give each element fmath.h's bits. */

/* y[i] = gelu(x[i]) = x[i] * phi[i], phi[i] = fm_phi(x[i]) kept for the
 * backward pass */
static void gelu_arr(size_t n, const float *x, float *phi, float *y)
{
    size_t i = 0;
#ifdef MDL_VEC
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i), p = fmv_phi(v);
        _mm256_storeu_ps(phi + i, p);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(v, p));
    }
#endif
    for (; i < n; i++) {
        float p = fm_phi(x[i]);
        phi[i] = p;
        y[i] = x[i] * p;
    }
}

/* dx[i] = dy[i] * gelu'(x[i]) from the kept phi (dx may be dy) */
static void gelu_grad_arr(size_t n, const float *x, const float *phi, const float *dy,
                          float *dx)
{
    size_t i = 0;
#ifdef MDL_VEC
    for (; i + 8 <= n; i += 8) {
        __m256 g = fmv_gelu_grad_phi(_mm256_loadu_ps(x + i), _mm256_loadu_ps(phi + i));
        _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), g));
    }
#endif
    for (; i < n; i++)
        dx[i] = dy[i] * fm_gelu_grad_phi(x[i], phi[i]);
}

/* y[i] = sigmoid(x[i]) (y may be x) */
static void sigmoid_arr(size_t n, const float *x, float *y)
{
    size_t i = 0;
#ifdef MDL_VEC
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, fmv_sigmoid(_mm256_loadu_ps(x + i)));
#endif
    for (; i < n; i++)
        y[i] = fm_sigmoid(x[i]);
}

/* y[i] = exp(x[i]) (y may be x) */
static void exp_arr(size_t n, const float *x, float *y)
{
    size_t i = 0;
#ifdef MDL_VEC
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, fmv_exp(_mm256_loadu_ps(x + i)));
#endif
    for (; i < n; i++)
        y[i] = fm_exp(x[i]);
}

void MDL_PASS(mdl_vec_apply)(int fn, size_t n, const float *x, float *y)
{
    switch (fn) {
    case MDL_VEC_EXP:
        exp_arr(n, x, y);
        break;
    case MDL_VEC_GELU:
    case MDL_VEC_PHI:
    case MDL_VEC_GELU_GRAD:
        for (size_t i = 0; i < n; i += 64) {
            float phi[64], g[64], one[64];
            size_t c = n - i < 64 ? n - i : 64;
            gelu_arr(c, x + i, phi, g);
            if (fn == MDL_VEC_GELU)
                memcpy(y + i, g, c * sizeof(float));
            else if (fn == MDL_VEC_PHI)
                memcpy(y + i, phi, c * sizeof(float));
            else {
                for (size_t j = 0; j < c; j++)
                    one[j] = 1.0f;
                gelu_grad_arr(c, x + i, phi, one, y + i);
            }
        }
        break;
    default:
        sigmoid_arr(n, x, y);
        break;
    }
}

/* Row reductions run RB rows side by side: each row's sum still runs in
 * its own ascending order (the bits do not change), but RB independent
 * chains hide the latency of the adds. */
#define RB 8

/* LayerNorm over rows of width M (PyTorch semantics, biased variance):
 *   mean = (sum_i x[i], from 0, ascending, adds) / M
 *   var  = (sum_i d*d via fmaf, d = x[i] - mean, from 0, ascending) / M
 *   rstd = 1 / sqrtf(var + eps)
 *   xhat = (x[i] - mean) * rstd;  y = fmaf(xhat, w[i], b[i]).
 * nb <= RB rows at x (row stride M). */
static void ln_fwd_rows(size_t nb, size_t M, const float *x, const float *w, const float *b,
                        float *xhat, float *rstd, float *y)
{
    const float fm = (float)M;
    float sum[RB], mean[RB], sq[RB];
    for (size_t q = 0; q < nb; q++)
        sum[q] = 0.0f;
    for (size_t i = 0; i < M; i++)
        for (size_t q = 0; q < nb; q++)
            sum[q] = sum[q] + x[q * M + i];
    for (size_t q = 0; q < nb; q++) {
        mean[q] = sum[q] / fm;
        sq[q] = 0.0f;
    }
    for (size_t i = 0; i < M; i++)
        for (size_t q = 0; q < nb; q++) {
            float d = x[q * M + i] - mean[q];
            sq[q] = fmaf(d, d, sq[q]);
        }
    for (size_t q = 0; q < nb; q++) {
        float rs = fm_rsqrt(sq[q] / fm + MDL_LN_EPS);
        rstd[q] = rs;
        const float *xr = x + q * M;
        float *xh = xhat + q * M, *yr = y + q * M;
        for (size_t i = 0; i < M; i++) {
            float v = (xr[i] - mean[q]) * rs;
            xh[i] = v;
            yr[i] = fmaf(v, w[i], b[i]);
        }
    }
}

void MDL_PASS(mdl_ln_fwd)(size_t rows, size_t M, const float *x, const float *w,
                          const float *b, float *xhat, float *rstd, float *y)
{
    size_t r = 0;
    /* full blocks with a constant count, so the chains live in registers */
    for (; r + RB <= rows; r += RB)
        ln_fwd_rows(RB, M, x + r * M, w, b, xhat + r * M, rstd + r, y + r * M);
    if (r < rows)
        ln_fwd_rows(rows - r, M, x + r * M, w, b, xhat + r * M, rstd + r, y + r * M);
}

/* Softmax of a row of V logits: mx = max (first of equals), ex = exp(l -
 * mx), sum from 0 ascending, p = ex / sum. */
static void softmax_row(const float *l, float *p)
{
    float mx = l[0];
    for (size_t s = 1; s < MDL_V; s++)
        if (l[s] > mx)
            mx = l[s];
    for (size_t s = 0; s < MDL_V; s++)
        p[s] = l[s] - mx;
    exp_arr(MDL_V, p, p);
    float sum = 0.0f;
    for (size_t s = 0; s < MDL_V; s++)
        sum = sum + p[s];
    for (size_t s = 0; s < MDL_V; s++)
        p[s] = p[s] / sum;
}

/* Backward of mdl_ln_fwd over `rows` rows of width M:
 *   dw[i] = sum_r fmaf(dy, xhat), db[i] = sum_r dy   (r ascending, from 0)
 *   per row: gi = dy[i] * w[i]; sg = sum gi (adds), sgx = sum fmaf(gi, xhat)
 *            (i ascending, from 0); mg = sg / M; mgx = sgx / M;
 *            dx[i] = rstd * ((gi - mg) - xhat[i] * mgx). */
static void ln_bwd_rows(size_t nb, size_t M, const float *dy, const float *xhat,
                        const float *rstd, const float *w, float *dx)
{
    const float fm = (float)M;
    float sg[RB], sgx[RB];
    for (size_t q = 0; q < nb; q++) {
        sg[q] = 0.0f;
        sgx[q] = 0.0f;
    }
    for (size_t i = 0; i < M; i++)
        for (size_t q = 0; q < nb; q++) {
            float gi = dy[q * M + i] * w[i];
            sg[q] = sg[q] + gi;
            sgx[q] = fmaf(gi, xhat[q * M + i], sgx[q]);
        }
    for (size_t q = 0; q < nb; q++) {
        const float mg = sg[q] / fm, mgx = sgx[q] / fm, rs = rstd[q];
        const float *d = dy + q * M, *xh = xhat + q * M;
        float *o = dx + q * M;
        for (size_t i = 0; i < M; i++) {
            float gi = d[i] * w[i];
            o[i] = rs * ((gi - mg) - xh[i] * mgx);
        }
    }
}

/* Gradient of a scalar skip scale over N rows of width M: per row
 * sum_i fmaf(a, b) from 0, i ascending; then the row sums added from 0,
 * rows ascending.  (Two levels, so that rows can run side by side here,
 * and in parallel on a GPU.) */
static float rows_dot(size_t N, size_t M, const float *a, const float *b)
{
    float tot = 0.0f;
    size_t r = 0;
    for (; r + RB <= N; r += RB) {
        float acc[RB];
        for (size_t q = 0; q < RB; q++)
            acc[q] = 0.0f;
        for (size_t i = 0; i < M; i++)
            for (size_t q = 0; q < RB; q++)
                acc[q] = fmaf(a[(r + q) * M + i], b[(r + q) * M + i], acc[q]);
        for (size_t q = 0; q < RB; q++)
            tot = tot + acc[q];
    }
    for (; r < N; r++) {
        float acc = 0.0f;
        for (size_t i = 0; i < M; i++)
            acc = fmaf(a[r * M + i], b[r * M + i], acc);
        tot = tot + acc;
    }
    return tot;
}

#ifdef MDL_VEC
/* col[k] = (src[0][k], src[1][k], ..., src[7][k]) for the 8x8 tile at src
 * with row stride ld: only moves bits */
static inline void transpose8(const float *src, size_t ld, __m256 col[8])
{
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ld);
    __m256 r2 = _mm256_loadu_ps(src + 2 * ld), r3 = _mm256_loadu_ps(src + 3 * ld);
    __m256 r4 = _mm256_loadu_ps(src + 4 * ld), r5 = _mm256_loadu_ps(src + 5 * ld);
    __m256 r6 = _mm256_loadu_ps(src + 6 * ld), r7 = _mm256_loadu_ps(src + 7 * ld);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    col[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    col[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    col[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    col[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    col[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    col[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    col[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    col[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}
#endif

