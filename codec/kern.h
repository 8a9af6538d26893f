/* kern.h — the numeric kernels of the FADE model, one vtable per ISA.
 *
 * Every kernel here influences coded probabilities, so each one is defined
 * down to the rounding of every operation (DESIGN.md, "Exact arithmetic"):
 *
 *   - binary32, round-to-nearest-even, subnormals kept;
 *   - a reduction runs in ascending index order from the stated start value,
 *     one fmaf() (or one add) per term;
 *   - implementations parallelise across *outputs* only (SIMD lanes and
 *     threads hold different output elements), never inside one reduction;
 *   - they may cut a reduction into consecutive index ranges (cache
 *     blocking), keeping the partial result in memory in between: a
 *     binary32 store and load are exact, so the chain of operations per
 *     output, and hence its bits, stays the same.
 *
 * Under these rules the scalar kernels in kern_scalar.c are the definition
 * and every other implementation (AVX2, AVX-512, CUDA) must produce the same
 * bits; tests/codec/test_kern.c checks that with memcmp.
 *
 * Layouts are row-major.  Weights of a linear layer are stored W[k][o]
 * (input index major), so the forward pass reads rows of W contiguously.
 *
 * Memory: kernels never allocate and never keep pointers; scratch is passed
 * in where a kernel needs it.  Outputs never alias inputs unless a kernel
 * says so.  `pool` may be NULL (run on the calling thread); otherwise the
 * kernel may split its outputs across the pool's threads.
 */
#ifndef FADE_KERN_H
#define FADE_KERN_H

#include <stddef.h>
#include <stdint.h>
#include "codec/fade.h"

struct fade_pool;   /* codec/pool.h */

/* The backend interface.  One op vocabulary for the model step's numeric
 * ops, and one versioned table of functions per backend (the scalar
 * definitions, AVX2, AVX-512; a GPU backend is another table).  A backend
 * implements an op only where it computes the scalar definition's bits;
 * for any other op, or shape, its `supports` says no, and kern_bind puts
 * the scalar definition in its place, so a partial backend is still exact.
 * Tables only grow at the end: a version-1 table (no `supports`) is bound
 * as supporting everything it has.  The model's elementwise passes (layer
 * norms, GELU, softmax, the convolution: model_pass.h) are compiled per
 * ISA from one source and are not in the table yet. */
enum kern_op {
    KERN_OP_LINEAR_FWD,
    KERN_OP_LINEAR_BWD_X,
    KERN_OP_LINEAR_BWD_W,
    KERN_OP_ADAM,
    KERN_OP_COUNT
};

#define KERN_V1 1
#define KERN_V2 2           /* v1 + supports */

struct kern_ops {
    int version;                  /* KERN_V1 */
    enum fade_isa isa;
    const char *name;

    /* Y[n][o] = fold_k fmaf(X[n][k], W[k][o], acc), acc starting at bias[o]
     * (or +0.0f when bias is NULL), k = 0..K-1 ascending.
     * X has row stride ldx (>= K), Y row stride ldy (>= O). */
    void (*linear_fwd)(struct fade_pool *pool, size_t N, size_t K, size_t O,
                       const float *X, size_t ldx, const float *W,
                       const float *bias, float *Y, size_t ldy);

    /* dX[n][k] = fold_o fmaf(dY[n][o], W[k][o], acc), acc starting at +0.0f,
     * o = 0..O-1 ascending.  (The reduction runs along a row of W.)
     * If accumulate is nonzero, the start value is dX[n][k]'s old value
     * instead of +0.0f.  scratch: at least N*O floats (for a transpose). */
    void (*linear_bwd_x)(struct fade_pool *pool, size_t N, size_t K, size_t O,
                         const float *dY, size_t lddy, const float *W,
                         float *dX, size_t lddx, int accumulate,
                         float *scratch);

    /* dW[k][o] = fold_n fmaf(X[n][k], dY[n][o], acc), acc starting at +0.0f
     * (or dW's old value if accumulate), n = 0..N-1 ascending.
     * If dB is not NULL: dB[o] = fold_n (acc + dY[n][o]), same start rule. */
    void (*linear_bwd_w)(struct fade_pool *pool, size_t N, size_t K, size_t O,
                         const float *X, size_t ldx, const float *dY,
                         size_t ldy, float *dW, float *dB, int accumulate);

    /* One Adam step with L2 weight decay folded into the gradient, exactly
     * as torch.optim.Adam(weight_decay=wd) does, element by element:
     *   g  = fmaf(wd, w, grad)            (wd*w + grad, one rounding)
     *   m  = fmaf(b1, m, (1-b1)*g)       where (1-b1)*g is one product
     *   v  = fmaf(b2, v, ((1-b2)*g)*g)
     *   w  = w - step * (m / (sqrtf(v) * inv_sqrt_bc2 + eps))
     * with step = lr / bc1, the bias corrections computed by the caller
     * (see mdl) in binary32.  Every element independent: any lane order. */
    void (*adam)(size_t n, float *w, const float *grad, float *m, float *v,
                 float wd, float b1, float b2, float step,
                 float inv_sqrt_bc2, float eps);
    /* end of v1 */
    /* v2: 0 if this backend computes `op` with the scalar definition's
     * bits for every shape preset p needs, FADE_E_UNSUPPORTED if not.
     * NULL: every op it has. */
    int (*supports)(enum kern_op op, const struct fade_preset *p);
    /* end of v2: append only */
};

/* Fills *out with k's ops for preset p: each op that k declines or lacks
 * is the scalar definition's.  Returns the number of ops replaced (0..
 * KERN_OP_COUNT), or FADE_E_INVAL for a NULL argument or a table of an
 * unknown version. */
int kern_bind(const struct kern_ops *k, const struct fade_preset *p, struct kern_ops *out);

/* Returns the kernels for `isa` (FADE_ISA_AUTO = best available), or NULL
 * if this build or machine cannot run it.  Pointers are static. */
const struct kern_ops *kern_get(enum fade_isa isa);

/* The scalar definitions, also used directly by tests. */
extern const struct kern_ops kern_scalar_ops;

#endif /* FADE_KERN_H */
