/* ctx.h — private: what a fade_ctx holds, shared by ctx.c and block.c.
 *
 * A context owns the kernel choice, the worker pool, one model per preset
 * it has met (created on first use: a block names its own model, which
 * need not be the context's preset) and the scratch buffers of the block
 * coder, sized once for the largest block so that coding never allocates
 * after the first block of a given model.
 */
#ifndef FADE_CTX_H
#define FADE_CTX_H

#include <stdint.h>
#include "codec/fade.h"
#include "codec/kern.h"
#include "codec/match.h"
#include "codec/mix.h"
#include "codec/model.h"
#include "codec/rc.h"

struct fade_pool;

struct ctx_model {
    const struct fade_preset *preset;
    uint64_t   id;         /* valid if id_known */
    int        id_known;
    struct mdl *m;         /* NULL until a block of this preset is coded */
};

struct fade_ctx {
    const struct fade_preset *preset;   /* for encoding */
    unsigned   i_preset;                /* index into models[] */
    uint32_t   n_streams;               /* requested; 0 = blk_default_streams */
    const struct kern_ops *kern;
    struct fade_pool *pool;             /* NULL when n_threads <= 1 */
    unsigned   n_models;                /* number of built-in presets */
    struct ctx_model *models;

    /* Block-coder scratch, grown on demand (never shrunk). */
    uint32_t  *freq;        /* 256 per stream */
    struct rc_enc *enc;
    struct rc_dec *dec;
    uint8_t   *sym;         /* one byte per stream */
    struct bc_enc *benc;    /* binary coders of the mix presets */
    struct bc_dec *bdec;
    uint32_t   coder_cap;   /* streams the arrays above can hold */
    uint8_t   *streams;     /* encoder output of every stream */
    size_t     streams_cap;
    struct match match;     /* match stage of *-match presets (reset per block) */
    struct mix mix;         /* mixing coder of the mix presets (reset per block) */

    const atomic_int *cancel;      /* fade_ctx_set_cancel; NULL = none */
    fade_progress_fn progress;
    void      *progress_arg;
};

/* The model entry whose id is `id`, computing ids lazily; NULL if no
 * built-in preset has it. */
struct ctx_model *ctx_find_model(struct fade_ctx *ctx, uint64_t id);
/* The model entry of the preset called name, or NULL. */
struct ctx_model *ctx_model_named(struct fade_ctx *ctx, const char *name);
/* The model id of entry cm (computed on first call). */
uint64_t ctx_model_id(struct ctx_model *cm);
/* Creates cm->m if needed.  0 or FADE_E_NOMEM / FADE_E_INVAL. */
int ctx_model_ready(struct fade_ctx *ctx, struct ctx_model *cm);
/* Makes the per-stream scratch hold n_streams streams and the stream
 * buffer hold streams_bytes.  0 or FADE_E_NOMEM. */
int ctx_reserve(struct fade_ctx *ctx, uint32_t n_streams, size_t streams_bytes);

#endif /* FADE_CTX_H */
