/* kern_scalar.c — reference kernels: the definition every other ISA must
 * reproduce bit for bit.  Plain loops in the order kern.h specifies; the
 * pool is ignored here on purpose so that this file stays the obvious
 * statement of the arithmetic. */
#include <math.h>
#include "codec/kern.h"

static void sc_linear_fwd(struct fade_pool *pool, size_t N, size_t K, size_t O,
                          const float *X, size_t ldx, const float *W,
                          const float *bias, float *Y, size_t ldy)
{
    (void)pool;
    for (size_t n = 0; n < N; n++)
        for (size_t o = 0; o < O; o++) {
            float acc = bias ? bias[o] : 0.0f;
            for (size_t k = 0; k < K; k++)
                acc = fmaf(X[n * ldx + k], W[k * O + o], acc);
            Y[n * ldy + o] = acc;
        }
}

static void sc_linear_bwd_x(struct fade_pool *pool, size_t N, size_t K, size_t O,
                            const float *dY, size_t lddy, const float *W,
                            float *dX, size_t lddx, int accumulate,
                            float *scratch)
{
    (void)pool; (void)scratch;
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < K; k++) {
            float acc = accumulate ? dX[n * lddx + k] : 0.0f;
            for (size_t o = 0; o < O; o++)
                acc = fmaf(dY[n * lddy + o], W[k * O + o], acc);
            dX[n * lddx + k] = acc;
        }
}

static void sc_linear_bwd_w(struct fade_pool *pool, size_t N, size_t K, size_t O,
                            const float *X, size_t ldx, const float *dY,
                            size_t ldy, float *dW, float *dB, int accumulate)
{
    (void)pool;
    for (size_t k = 0; k < K; k++)
        for (size_t o = 0; o < O; o++) {
            float acc = accumulate ? dW[k * O + o] : 0.0f;
            for (size_t n = 0; n < N; n++)
                acc = fmaf(X[n * ldx + k], dY[n * ldy + o], acc);
            dW[k * O + o] = acc;
        }
    if (dB)
        for (size_t o = 0; o < O; o++) {
            float acc = accumulate ? dB[o] : 0.0f;
            for (size_t n = 0; n < N; n++)
                acc = acc + dY[n * ldy + o];
            dB[o] = acc;
        }
}

static void sc_adam(size_t n, float *w, const float *grad, float *m, float *v,
                    float wd, float b1, float b2, float step,
                    float inv_sqrt_bc2, float eps)
{
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        float g = fmaf(wd, w[i], grad[i]);
        float mi = fmaf(b1, m[i], c1 * g);
        float vi = fmaf(b2, v[i], (c2 * g) * g);
        float den = sqrtf(vi) * inv_sqrt_bc2 + eps;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] - step * (mi / den);
    }
}

const struct kern_ops kern_scalar_ops = {
    .version      = KERN_V2,
    .isa          = FADE_ISA_SCALAR,
    .name         = "scalar",
    .linear_fwd   = sc_linear_fwd,
    .linear_bwd_x = sc_linear_bwd_x,
    .linear_bwd_w = sc_linear_bwd_w,
    .adam         = sc_adam,
};
