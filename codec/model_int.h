/* model_int.h — internals of the FADE model shared by model.c (layout,
 * initial weights, Adam, API) and model_pass.h (forward and backward
 * passes).  Not a public header: only codec/model*.c include it.
 *
 * Notation (DESIGN.md, fade_model.py): T context bytes, D embedding width,
 * TD = T*D flattened features, C = TD/2 coarse branch width, G global cache
 * size, L cache features appended per byte, F fine GeGLU width, H coarse
 * hidden width, V = 256 symbols.  N active streams are the rows of every
 * batched matrix; the two coarse branches make R = 2N rows of width C
 * (row 2n+b is branch b of stream n, which is where it already lies in a
 * [N][TD] array).
 *
 * Weights of a Linear layer are stored W[in][out] as kern.h wants them.
 */
#ifndef FADE_MODEL_INT_H
#define FADE_MODEL_INT_H

#include <stddef.h>
#include <stdint.h>
#include "codec/model.h"

#define MDL_V 256

/* Trained tensors shared by all streams, in the order they lie in the
 * parameter vector (and are hashed into the model id). */
enum mdl_par {
    P_EMB,                  /* [V][D]  embedding */
    P_LN0_W, P_LN0_B,       /* [TD]    LayerNorm over the flattened context */
    P_LL_W, P_LL_B,         /* [D]     local stream LayerNorm (per position) */
    P_CONV_W,               /* [D][3]  depthwise conv taps, channel major */
    P_CONV_B,               /* [D] */
    P_GOUT_W, P_GOUT_B,     /* [G][TD], [TD]  global Linear G -> TD */
    P_GSKIP,                /* [1]     global skip scale */
    P_GATE_W, P_GATE_B,     /* [TD][TD], [TD] fusion gate */
    P_CLN_W, P_CLN_B,       /* [C]     coarse LayerNorm */
    P_CDOWN_W, P_CDOWN_B,   /* [C][H], [H] */
    P_CUP_W, P_CUP_B,       /* [H][C], [C] */
    P_CGATE_W, P_CGATE_B,   /* [C][C], [C] coarse self-gate */
    P_CSKIP,                /* [1] */
    P_FLN1_W, P_FLN1_B,     /* [TD] */
    P_FGLU_W, P_FGLU_B,     /* [TD][2F], [2F]  GeGLU: first F = main, last F = gate */
    P_FOUT_W, P_FOUT_B,     /* [F][TD], [TD] */
    P_FLN2_W, P_FLN2_B,     /* [TD] */
    P_FSKIP,                /* [1] */
    P_OUT_W, P_OUT_B,       /* [TD][V], [V] */
    P_NSHARED
};

/* Trained tensors owned by one stream; stream b's block follows the
 * shared block at b * per_stream, so the active streams' parameters are
 * one contiguous prefix (Adam runs over exactly that). */
enum mdl_spar {
    S_U,                    /* [H][H]  the stream's own matrix U_b */
    S_BIAS,                 /* [2][C]  the stream's own coarse bias */
    S_N
};

/* Untrained tensors: the global GeGLUs, whose outputs only feed the
 * detached cache, so no gradient ever reaches them (as in the reference). */
enum mdl_fixed {
    X_FULL_W, X_FULL_B,     /* [TD][2G], [2G]  initial cache (used once) */
    X_LAST_W, X_LAST_B,     /* [D][2L], [2L]   per-byte cache features */
    X_N
};

struct mdl {
    struct fade_preset p;           /* copy of the preset */
    const struct kern_ops *k;   /* &kb */
    struct kern_ops kb;         /* the backend's ops bound for the preset (kern_bind) */
    struct fade_pool *pool;         /* not owned; may be NULL */
    uint32_t max_streams;           /* rows every buffer holds */
    size_t T, D, TD, C, G, L, F, H;
    uint64_t model_id;

    /* parameter vector: shared block, then max_streams stream blocks;
     * every tensor starts on a 16-float (64-byte) boundary, the padding
     * stays zero (its gradient is zero, so Adam keeps it zero) */
    size_t off[P_NSHARED];          /* offsets into w */
    size_t soff[S_N];               /* offsets inside a stream block */
    size_t n_shared, per_stream, n_par;
    float *w, *g, *am, *av;         /* weights, gradient, Adam m and v */
    float *w0;                      /* initial weights, restored by reset */
    float *xlast_w, *xlast_b;       /* fixed GeGLU_last */
    float *cache0;                  /* [G] initial cache (same for every stream) */

    /* coding state */
    uint8_t *ctx;                   /* [N][T] last T bytes, oldest first */
    float *cache;                   /* [N][G] rolling global cache */
    uint32_t n_streams;             /* since reset */
    uint32_t cur_active;            /* n_active never grows within a block */
    uint32_t pending;               /* n_active of a predict awaiting update, 0 = none */
    uint64_t steps;                 /* updates since reset */
    float b1t, b2t;                 /* beta1^t, beta2^t of Adam (binary32) */
    float last_loss;                /* mean cross-entropy (nats) of the last update */

    /* forward activations, rows = streams (R = 2N rows for coarse) */
    float *e, *x0hat, *r0, *s;                  /* embed, LN0 */
    float *lhat, *lr, *lu, *lpre, *loc;         /* local stream */
    float *gl;                                  /* [N][2L] GeGLU_last pre-act */
    float *gpre, *glob;                         /* global stream */
    float *gphi, *lphi, *zphi, *fphi;           /* Phi of each GELU input (for gelu') */
    float *a, *h;                               /* fusion */
    float *chat, *cr, *ck, *cdn, *cdu, *cup, *cg, *cout;   /* coarse */
    float *f1hat, *f1r, *n1, *zz, *gz, *z, *z2, *f2hat, *f2r, *z3, *fo;
    float *logits, *prob;

    /* backward buffers */
    float *dl, *dfo, *dz3, *dz2, *dz, *dzz, *dn1, *dc;
    float *dck, *dcup, *dcg, *ddu, *ddn, *dh;
    float *dglob, *dloc, *dap, *ds, *dpre, *du, *de, *de2;
    float *scratch;                 /* linear_bwd_x transpose space */

    void *arena;                    /* one 64-byte aligned block for all floats */

    /* the pass variant for this machine and kernel set */
    void (*forward)(struct mdl *m, uint32_t N, int append);
    void (*backward)(struct mdl *m, uint32_t N, const uint8_t *sym);
};

/* The tensor a parameter index points at. */
static inline float *mdl_par(const struct mdl *m, float *base, enum mdl_par i)
{
    return base + m->off[i];
}
static inline float *mdl_spar(const struct mdl *m, float *base, size_t b, enum mdl_spar i)
{
    return base + m->n_shared + b * m->per_stream + m->soff[i];
}

/* The passes (model_pass.h), one copy per build variant:
 *   forward: streams 0..N-1 from their contexts to m->prob; append = first
 *     push the newest byte's GeGLU_last features into each cache;
 *   backward: gradient of the mean cross-entropy of streams 0..N-1 on sym
 *     into m->g from the activations of the last forward (every trained
 *     tensor of the shared block and of the active streams' blocks is
 *     overwritten);
 *   ln_fwd: LayerNorm of `rows` rows of width M (also used at creation);
 *   vec_apply: for tests, the pass's array form of an fmath function
 *     (MDL_VEC_*) on x[0..n), to prove it gives fmath.h's bits. */
enum { MDL_VEC_EXP, MDL_VEC_GELU, MDL_VEC_PHI, MDL_VEC_GELU_GRAD, MDL_VEC_SIGMOID };
#define MDL_PASS_DECL(sfx)                                                        \
    void mdl_forward_##sfx(struct mdl *m, uint32_t N, int append);                \
    void mdl_backward_##sfx(struct mdl *m, uint32_t N, const uint8_t *sym);       \
    void mdl_ln_fwd_##sfx(size_t rows, size_t M, const float *x, const float *w,  \
                          const float *b, float *xhat, float *rstd, float *y); \
    void mdl_vec_apply_##sfx(int fn, size_t n, const float *x, float *y);
MDL_PASS_DECL(generic)
MDL_PASS_DECL(avx2)

#endif /* FADE_MODEL_INT_H */
