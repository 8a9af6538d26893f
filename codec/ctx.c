/* ctx.c — fade_ctx: kernel choice, worker pool, models and coder scratch. */
#include <stdlib.h>
#include <string.h>
#include "codec/ctx.h"
#include "codec/err.h"
#include "codec/pool.h"
#include "codec/preset.h"

int fade_ctx_create(fade_ctx **out, const struct fade_ctx_params *params)
{
    static const struct fade_ctx_params defaults = {0};
    if (!out)
        return FADE_E_INVAL;
    *out = NULL;
    if (!params)
        params = &defaults;

    const char *name = params->preset ? params->preset : fade_preset_default();
    const struct fade_preset *p = name ? fade_preset_find(name) : NULL;
    if (!p)
        return FADE_E_INVAL;
    if (params->n_streams > FADE_BLOCK_MAX_STREAMS || params->n_streams > p->max_streams)
        return FADE_E_INVAL;
    if (params->isa != FADE_ISA_AUTO) {
        if (params->isa != FADE_ISA_SCALAR && params->isa != FADE_ISA_AVX2 &&
            params->isa != FADE_ISA_AVX512)
            return FADE_E_INVAL;
        if (!fade_isa_available(params->isa))
            return FADE_E_UNSUPPORTED;
    }
    const struct kern_ops *k = kern_get(params->isa);
    if (!k)
        return FADE_E_UNSUPPORTED;

    struct fade_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return FADE_E_NOMEM;
    c->preset = p;
    match_init(&c->match);
    mix_init(&c->mix, k->isa);
    c->n_streams = params->n_streams;
    c->kern = k;

    unsigned n = 0;
    while (fade_preset_at(n))
        n++;
    c->models = calloc(n ? n : 1, sizeof *c->models);
    if (!c->models) {
        free(c);
        return FADE_E_NOMEM;
    }
    c->n_models = n;
    c->i_preset = n;
    for (unsigned i = 0; i < n; i++) {
        c->models[i].preset = fade_preset_at(i);
        if (c->models[i].preset == p)
            c->i_preset = i;
    }
    int rc = 0;
    if (c->i_preset == n)
        rc = FADE_E_INVAL;      /* fade_preset_find returned a preset not listed */
    if (rc == 0 && params->n_threads > 1)
        rc = pool_create(&c->pool, params->n_threads);
    /* The encoding model is made now so that a context that was created
     * can code: memory problems show up here, not in the first block. */
    if (rc == 0)
        rc = ctx_model_ready(c, &c->models[c->i_preset]);
    if (rc < 0) {
        fade_ctx_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void fade_ctx_free(fade_ctx *ctx)
{
    if (!ctx)
        return;
    for (unsigned i = 0; i < ctx->n_models; i++)
        mdl_free(ctx->models[i].m);
    free(ctx->models);
    pool_free(ctx->pool);
    free(ctx->freq);
    free(ctx->enc);
    free(ctx->dec);
    free(ctx->sym);
    free(ctx->streams);
    match_free(&ctx->match);
    mix_free(&ctx->mix);
    free(ctx->benc);
    free(ctx->bdec);
    free(ctx);
}

void fade_ctx_set_cancel(fade_ctx *ctx, const atomic_int *flag)
{
    if (ctx)
        ctx->cancel = flag;
}

void fade_ctx_set_progress(fade_ctx *ctx, fade_progress_fn fn, void *arg)
{
    if (!ctx)
        return;
    ctx->progress = fn;
    ctx->progress_arg = arg;
}

uint64_t ctx_model_id(struct ctx_model *cm)
{
    if (!cm->id_known) {
        cm->id = fade_preset_model_id(cm->preset);
        cm->id_known = 1;
    }
    return cm->id;
}

struct ctx_model *ctx_find_model(struct fade_ctx *ctx, uint64_t id)
{
    /* Known ids first: a context mostly decodes blocks of models it met. */
    for (unsigned i = 0; i < ctx->n_models; i++)
        if (ctx->models[i].id_known && ctx->models[i].id == id)
            return &ctx->models[i];
    /* Then the context's own preset: computing an id regenerates that
     * model's start weights, which for the large presets costs more than
     * decoding a small block. */
    struct ctx_model *own = &ctx->models[ctx->i_preset];
    if (!own->id_known && ctx_model_id(own) == id)
        return own;
    /* Then the row whose pinned id it is (preset.h), confirmed. */
    for (unsigned i = 0; i < ctx->n_models; i++) {
        struct ctx_model *cm = &ctx->models[i];
        if (!cm->id_known && preset_pinned_id(cm->preset) == id && ctx_model_id(cm) == id)
            return cm;
    }
    for (unsigned i = 0; i < ctx->n_models; i++)
        if (!ctx->models[i].id_known && ctx_model_id(&ctx->models[i]) == id)
            return &ctx->models[i];
    return NULL;
}

struct ctx_model *ctx_model_named(struct fade_ctx *ctx, const char *name)
{
    for (unsigned i = 0; name && i < ctx->n_models; i++)
        if (strcmp(ctx->models[i].preset->name, name) == 0)
            return &ctx->models[i];
    return NULL;
}

int ctx_model_ready(struct fade_ctx *ctx, struct ctx_model *cm)
{
    if (cm->m)
        return 0;
    uint32_t max = cm->preset->max_streams;
    if (max > FADE_BLOCK_MAX_STREAMS)
        max = FADE_BLOCK_MAX_STREAMS;
    return mdl_create(&cm->m, cm->preset, max, ctx->kern, ctx->pool);
}

int ctx_reserve(struct fade_ctx *ctx, uint32_t n_streams, size_t streams_bytes)
{
    if (n_streams > ctx->coder_cap) {
        /* All of them grow together; on failure the old (smaller) ones stay
         * valid and coder_cap unchanged. */
        uint32_t *f = malloc((size_t)n_streams * 256 * sizeof *f);
        struct rc_enc *e = malloc((size_t)n_streams * sizeof *e);
        struct rc_dec *d = malloc((size_t)n_streams * sizeof *d);
        uint8_t *s = malloc(n_streams);
        struct bc_enc *be = malloc((size_t)n_streams * sizeof *be);
        struct bc_dec *bd = malloc((size_t)n_streams * sizeof *bd);
        if (!f || !e || !d || !s || !be || !bd) {
            free(f);
            free(e);
            free(d);
            free(s);
            free(be);
            free(bd);
            return FADE_E_NOMEM;
        }
        free(ctx->freq);
        free(ctx->enc);
        free(ctx->dec);
        free(ctx->sym);
        free(ctx->benc);
        free(ctx->bdec);
        ctx->freq = f;
        ctx->enc = e;
        ctx->dec = d;
        ctx->sym = s;
        ctx->benc = be;
        ctx->bdec = bd;
        ctx->coder_cap = n_streams;
    }
    if (streams_bytes > ctx->streams_cap) {
        uint8_t *b = malloc(streams_bytes);
        if (!b)
            return FADE_E_NOMEM;
        free(ctx->streams);
        ctx->streams = b;
        ctx->streams_cap = streams_bytes;
    }
    return 0;
}
