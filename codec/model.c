/* model.c — the FADE network on the CPU: parameter layout, deterministic
 * initial weights and model id, the frequency rule, Adam, and the mdl_*
 * API.  The forward and backward passes live in model_pass.h.
 *
 * Exact arithmetic (DESIGN.md): every Linear goes through the kern_ops
 * vtable; everything else here is plain binary32 C in which each reduction
 * runs in ascending index order from the start value named in its comment,
 * one add or fmaf per term, fmaf only where written, and the elementary
 * functions come from fmath.h.  Structure follows fade_model.py; where the
 * reference leaves an order open, the comment at that line fixes it.
 */
#include <stdlib.h>
#include <string.h>
#include "codec/bytes.h"
#include "codec/fmath.h"
#include "codec/mix.h"
#include "codec/model_int.h"
#include "codec/pool.h"
#include "codec/prior.h"

#define MDL_ALIGN_F 16u                 /* floats per 64 bytes */

/* ---------------------------------------------------------------------
 * Initial weights.  Every tensor draws from its own splitmix64 stream
 * seeded from (preset dims, tensor number, stream number), so a tensor's
 * values do not depend on which others exist or on max_streams.
 *   uniform(a): v = ((x >> 40) - 2^23) * 2^-23, exact in [-1, 1), times a
 *               where a = 1/sqrtf(fan_in) (PyTorch's Linear/Conv init);
 *   normal(0, 0.01): Irwin-Hall sum of the four 16-bit fields of x, centred
 *               (exact integer), times 0.01*sqrt(3)/65536 (variance ~1e-4).
 * ------------------------------------------------------------------- */

enum init_kind { I_ZERO, I_ONE, I_UNIFORM, I_NORMAL };

struct tinfo {
    const char *name;
    size_t size;
    enum init_kind kind;
    size_t fan_in;
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define FNV_OFF 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv_bytes(uint64_t h, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t fnv_u32(uint64_t h, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    return fnv_bytes(h, b, 4);
}

/* Dims of a preset, hashed (little-endian u32) into seeds and the id. */
static uint64_t hash_dims(uint64_t h, const struct fade_preset *p)
{
    h = fnv_u32(h, p->T);
    h = fnv_u32(h, p->D);
    h = fnv_u32(h, p->G);
    h = fnv_u32(h, p->L);
    h = fnv_u32(h, p->F);
    h = fnv_u32(h, p->H);
    return h;
}

static void tinfo_shared(const struct fade_preset *p, enum mdl_par i, struct tinfo *t)
{
    size_t T = p->T, D = p->D, TD = T * D, C = TD / 2, G = p->G, F = p->F, H = p->H;
    static const char *const names[P_NSHARED] = {
        "embed", "ln0.w", "ln0.b", "local.ln.w", "local.ln.b", "local.conv.w",
        "local.conv.b", "global.out.w", "global.out.b", "global.skip",
        "gate.w", "gate.b", "coarse.ln.w", "coarse.ln.b", "coarse.down.w",
        "coarse.down.b", "coarse.up.w", "coarse.up.b", "coarse.gate.w",
        "coarse.gate.b", "coarse.skip", "fine.ln1.w", "fine.ln1.b",
        "fine.glu.w", "fine.glu.b", "fine.out.w", "fine.out.b", "fine.ln2.w",
        "fine.ln2.b", "fine.skip", "out.w", "out.b",
    };
    t->name = names[i];
    t->fan_in = 0;
    switch (i) {
    case P_EMB:     t->size = MDL_V * D; t->kind = I_NORMAL; break;
    case P_LN0_W:   t->size = TD; t->kind = I_ONE; break;
    case P_LN0_B:   t->size = TD; t->kind = I_ZERO; break;
    case P_LL_W:    t->size = D; t->kind = I_ONE; break;
    case P_LL_B:    t->size = D; t->kind = I_ZERO; break;
    case P_CONV_W:  t->size = D * 3; t->kind = I_UNIFORM; t->fan_in = 3; break;
    case P_CONV_B:  t->size = D; t->kind = I_UNIFORM; t->fan_in = 3; break;
    case P_GOUT_W:  t->size = G * TD; t->kind = I_UNIFORM; t->fan_in = G; break;
    case P_GOUT_B:  t->size = TD; t->kind = I_UNIFORM; t->fan_in = G; break;
    case P_GSKIP:   t->size = 1; t->kind = I_ONE; break;
    case P_GATE_W:  t->size = TD * TD; t->kind = I_UNIFORM; t->fan_in = TD; break;
    case P_GATE_B:  t->size = TD; t->kind = I_UNIFORM; t->fan_in = TD; break;
    case P_CLN_W:   t->size = C; t->kind = I_ONE; break;
    case P_CLN_B:   t->size = C; t->kind = I_ZERO; break;
    case P_CDOWN_W: t->size = C * H; t->kind = I_UNIFORM; t->fan_in = C; break;
    case P_CDOWN_B: t->size = H; t->kind = I_UNIFORM; t->fan_in = C; break;
    case P_CUP_W:   t->size = H * C; t->kind = I_UNIFORM; t->fan_in = H; break;
    case P_CUP_B:   t->size = C; t->kind = I_UNIFORM; t->fan_in = H; break;
    case P_CGATE_W: t->size = C * C; t->kind = I_UNIFORM; t->fan_in = C; break;
    case P_CGATE_B: t->size = C; t->kind = I_UNIFORM; t->fan_in = C; break;
    case P_CSKIP:   t->size = 1; t->kind = I_ONE; break;
    case P_FLN1_W:  t->size = TD; t->kind = I_ONE; break;
    case P_FLN1_B:  t->size = TD; t->kind = I_ZERO; break;
    case P_FGLU_W:  t->size = TD * 2 * F; t->kind = I_UNIFORM; t->fan_in = TD; break;
    case P_FGLU_B:  t->size = 2 * F; t->kind = I_UNIFORM; t->fan_in = TD; break;
    case P_FOUT_W:  t->size = F * TD; t->kind = I_UNIFORM; t->fan_in = F; break;
    case P_FOUT_B:  t->size = TD; t->kind = I_UNIFORM; t->fan_in = F; break;
    case P_FLN2_W:  t->size = TD; t->kind = I_ONE; break;
    case P_FLN2_B:  t->size = TD; t->kind = I_ZERO; break;
    case P_FSKIP:   t->size = 1; t->kind = I_ONE; break;
    case P_OUT_W:   t->size = TD * MDL_V; t->kind = I_NORMAL; break;
    case P_OUT_B:   t->size = MDL_V; t->kind = I_ZERO; break;
    default:        t->size = 0; t->kind = I_ZERO; break;
    }
}

static void tinfo_stream(const struct fade_preset *p, enum mdl_spar i, struct tinfo *t)
{
    size_t C = (size_t)p->T * p->D / 2, H = p->H;
    t->fan_in = 0;
    t->kind = I_NORMAL;
    if (i == S_U) {
        t->name = "coarse.U";
        t->size = H * H;
    } else {
        t->name = "coarse.bias";
        t->size = 2 * C;
    }
}

static void tinfo_fixed(const struct fade_preset *p, enum mdl_fixed i, struct tinfo *t)
{
    size_t TD = (size_t)p->T * p->D, D = p->D, G = p->G, L = p->L;
    t->kind = I_UNIFORM;
    switch (i) {
    case X_FULL_W: t->name = "global.full.w"; t->size = TD * 2 * G; t->fan_in = TD; break;
    case X_FULL_B: t->name = "global.full.b"; t->size = 2 * G; t->fan_in = TD; break;
    case X_LAST_W: t->name = "global.last.w"; t->size = D * 2 * L; t->fan_in = D; break;
    default:       t->name = "global.last.b"; t->size = 2 * L; t->fan_in = D; break;
    }
}

/* Fills dst[0..t->size) (dst may be NULL: values only hashed) with tensor
 * number `tid`, stream `b`, folding each value's little-endian bytes into
 * *h when h is not NULL. */
static void gen_tensor(uint64_t seed, uint32_t tid, uint32_t b, const struct tinfo *t,
                       float *dst, uint64_t *h)
{
    uint64_t st = seed ^ ((uint64_t)tid << 40) ^ ((uint64_t)b << 8);
    (void)splitmix64(&st);
    const float bound = t->kind == I_UNIFORM ? 1.0f / sqrtf((float)t->fan_in) : 0.0f;
    const float nscale = (0.01f * sqrtf(3.0f)) / 65536.0f;
    for (size_t i = 0; i < t->size; i++) {
        float v;
        switch (t->kind) {
        case I_ZERO: v = 0.0f; break;
        case I_ONE:  v = 1.0f; break;
        case I_UNIFORM: {
            uint64_t x = splitmix64(&st);
            v = ((float)((int32_t)(x >> 40) - (1 << 23)) * 0x1p-23f) * bound;
            break;
        }
        default: {
            uint64_t x = splitmix64(&st);
            int32_t s = (int32_t)(x & 0xffff) + (int32_t)((x >> 16) & 0xffff) +
                        (int32_t)((x >> 32) & 0xffff) + (int32_t)(x >> 48) - 2 * 65535;
            v = (float)s * nscale;
            break;
        }
        }
        if (dst)
            dst[i] = v;
        if (h)
            *h = fnv_u32(*h, fm_bits(v));
    }
}

static uint64_t init_seed(const struct fade_preset *p)
{
    uint64_t h = fnv_bytes(FNV_OFF, "fade-init-1", 11);
    return hash_dims(h, p);
}

/* ---------------------------------------------------------------------
 * Prior weights (FORMAT.md, "Prior weights"): trained tensors learned
 * offline that replace the seeded start values.  The blob holds the
 * shared tensors in enum mdl_par order, then one stream block (U, bias)
 * that every stream starts from; the untrained global GeGLUs stay seeded.
 * ------------------------------------------------------------------- */

#define PRIOR_MAGIC "FADEPRI1"
#define PRIOR_HEAD (8u + 7u * 4u)           /* magic, T D G L F H, count */

/* Floats a prior for p holds. */
static size_t prior_count(const struct fade_preset *p)
{
    struct tinfo t;
    size_t n = 0;
    for (int i = 0; i < P_NSHARED; i++) {
        tinfo_shared(p, (enum mdl_par)i, &t);
        n += t.size;
    }
    for (int i = 0; i < S_N; i++) {
        tinfo_stream(p, (enum mdl_spar)i, &t);
        n += t.size;
    }
    return n;
}

int mdl_prior_check(const struct fade_preset *p, const void *blob, size_t len)
{
    const uint8_t *b = blob;
    if (!p || !blob)
        return FADE_E_INVAL;
    size_t n = prior_count(p);
    if (len < PRIOR_HEAD + 4 || memcmp(b, PRIOR_MAGIC, 8) != 0)
        return FADE_E_CORRUPT;
    const uint32_t dims[6] = { p->T, p->D, p->G, p->L, p->F, p->H };
    for (int i = 0; i < 6; i++)
        if (ld_le32(b + 8 + 4 * i) != dims[i])
            return FADE_E_CORRUPT;
    if (ld_le32(b + 32) != n || len != PRIOR_HEAD + 4 * n + 4)
        return FADE_E_CORRUPT;
    if (ld_le32(b + len - 4) != fade_crc32c(0, b, len - 4))
        return FADE_E_CORRUPT;
    return 0;
}

/* Copies t->size floats from the prior at *cur into dst (may be NULL),
 * hashing them like gen_tensor; advances *cur. */
static void prior_tensor(const uint8_t **cur, const struct tinfo *t, float *dst, uint64_t *h)
{
    for (size_t i = 0; i < t->size; i++) {
        uint32_t bits = ld_le32(*cur + 4 * i);
        float v;
        memcpy(&v, &bits, 4);
        if (dst)
            dst[i] = v;
        if (h)
            *h = fnv_u32(*h, bits);
    }
    *cur += 4 * t->size;
}

/* Start of the model id hash: version tag and everything in the preset
 * that changes the computation. */
static uint64_t id_prefix(const struct fade_preset *p)
{
    uint64_t h = fnv_bytes(FNV_OFF, "FADE-MODEL-1", 12);
    h = hash_dims(h, p);
    h = fnv_u32(h, p->max_streams);
    h = fnv_u32(h, p->n_updates);
    h = fnv_u32(h, fm_bits(p->lr));
    /* The match stage changes what a block's streams mean, so it is part
     * of the id; only when present, so that ids of presets without it
     * (and their existing blocks) stay as they were. */
    if (p->match_min)
        h = fnv_u32(fnv_bytes(h, "match-1", 7), p->match_min);
    /* So does the mix stage, and where the network runs in it. */
    if (p->mix)
        h = fnv_u32(fnv_u32(fnv_u32(fnv_bytes(h, "mix", 3), p->mix), p->net_div), p->net_gate);
    /* and the mix stage's table sizes, when not the default's */
    if (p->mix_slots)
        h = fnv_u32(fnv_bytes(h, "slots", 5), p->mix_slots);
    if (p->mix_tbits)
        h = fnv_u32(fnv_bytes(h, "tbits", 5), p->mix_tbits);
    return h;
}

/* Tensor numbers in the seed: shared 0.., stream 100.., fixed 200.. */
#define TID_STREAM 100u
#define TID_FIXED  200u

static int preset_ok(const struct fade_preset *p)
{
    if (!p || p->T < 1 || p->D < 1 || p->G < 1 || p->L < 1 || p->F < 1 || p->H < 1)
        return 0;
    if (p->L > p->G || ((size_t)p->T * p->D) % 2 != 0 || p->n_updates < 1)
        return 0;
    if (p->max_streams < 1 || p->max_streams > FADE_BLOCK_MAX_STREAMS)
        return 0;
    if (p->match_min > 32)      /* match stage: 0 = none, else 1..32 */
        return 0;
    if (p->mix > 4 || (p->mix && (p->net_div < 1 || p->net_gate > 2 || p->match_min)))
        return 0;               /* the mix stage has its own match model */
    if (p->mix_slots && (!p->mix || p->mix_slots > MIX_SLOTS_MAX))
        return 0;
    if (p->mix_tbits && (!p->mix || p->mix_tbits < MIX_TBITS_MIN || p->mix_tbits > MIX_TBITS_MAX))
        return 0;
    if (!(p->lr > 0.0f) || p->T > 4096 || p->D > 4096 || p->G > (1u << 24) ||
        p->F > (1u << 24) || p->H > 4096)
        return 0;
    return 1;
}

/* The built-in prior a preset names (NULL blob for none); a named prior
 * this build lacks is an error. */
static int preset_prior(const struct fade_preset *p, const void **blob, size_t *len)
{
    *blob = NULL;
    *len = 0;
    if (!p->prior)
        return 0;
    return fade_prior_find(p->prior, blob, len);
}

uint64_t mdl_model_id_prior(const struct fade_preset *p, const void *prior, size_t prior_len)
{
    if (!preset_ok(p) || (prior && mdl_prior_check(p, prior, prior_len) < 0))
        return 0;
    const uint8_t *cur = prior ? (const uint8_t *)prior + PRIOR_HEAD : NULL;
    uint64_t seed = init_seed(p), h = id_prefix(p);
    struct tinfo t;
    for (uint32_t i = 0; i < P_NSHARED; i++) {
        tinfo_shared(p, (enum mdl_par)i, &t);
        if (cur)
            prior_tensor(&cur, &t, NULL, &h);
        else
            gen_tensor(seed, i, 0, &t, NULL, &h);
    }
    for (uint32_t i = 0; i < X_N; i++) {
        tinfo_fixed(p, (enum mdl_fixed)i, &t);
        gen_tensor(seed, TID_FIXED + i, 0, &t, NULL, &h);
    }
    const uint8_t *streams = cur;
    for (uint32_t b = 0; b < p->max_streams; b++) {
        cur = streams;
        for (uint32_t i = 0; i < S_N; i++) {
            tinfo_stream(p, (enum mdl_spar)i, &t);
            if (cur)
                prior_tensor(&cur, &t, NULL, &h);
            else
                gen_tensor(seed, TID_STREAM + i, b, &t, NULL, &h);
        }
    }
    return h;
}

uint64_t mdl_model_id(const struct fade_preset *p)
{
    const void *blob;
    size_t len;
    if (!preset_ok(p) || preset_prior(p, &blob, &len) < 0)
        return 0;
    return mdl_model_id_prior(p, blob, len);
}

int mdl_prior_from_init(const struct fade_preset *p, void **blob, size_t *len)
{
    if (!preset_ok(p) || !blob || !len)
        return FADE_E_INVAL;
    size_t n = prior_count(p), bytes = PRIOR_HEAD + 4 * n + 4;
    uint8_t *b = malloc(bytes);
    float *tmp = NULL;
    if (!b)
        return FADE_E_NOMEM;
    memcpy(b, PRIOR_MAGIC, 8);
    const uint32_t dims[6] = { p->T, p->D, p->G, p->L, p->F, p->H };
    for (int i = 0; i < 6; i++)
        st_le32(b + 8 + 4 * i, dims[i]);
    st_le32(b + 32, (uint32_t)n);
    uint64_t seed = init_seed(p);
    uint8_t *cur = b + PRIOR_HEAD;
    struct tinfo t;
    for (uint32_t i = 0; i < P_NSHARED + S_N; i++) {
        if (i < P_NSHARED)
            tinfo_shared(p, (enum mdl_par)i, &t);
        else
            tinfo_stream(p, (enum mdl_spar)(i - P_NSHARED), &t);
        tmp = malloc(t.size * sizeof(float));
        if (!tmp) {
            free(b);
            return FADE_E_NOMEM;
        }
        gen_tensor(seed, i < P_NSHARED ? i : TID_STREAM + (i - P_NSHARED), 0, &t, tmp, NULL);
        for (size_t j = 0; j < t.size; j++)
            st_le32(cur + 4 * j, fm_bits(tmp[j]));
        cur += 4 * t.size;
        free(tmp);
    }
    st_le32(b + bytes - 4, fade_crc32c(0, b, bytes - 4));
    *blob = b;
    *len = bytes;
    return 0;
}

int mdl_fixed_tensors(const struct fade_preset *p, float **out, size_t *n)
{
    if (!preset_ok(p) || !out || !n)
        return FADE_E_INVAL;
    struct tinfo t;
    size_t total = 0;
    for (uint32_t i = 0; i < X_N; i++) {
        tinfo_fixed(p, (enum mdl_fixed)i, &t);
        total += t.size;
    }
    float *v = malloc(total * sizeof(float));
    if (!v)
        return FADE_E_NOMEM;
    uint64_t seed = init_seed(p);
    size_t o = 0;
    for (uint32_t i = 0; i < X_N; i++) {
        tinfo_fixed(p, (enum mdl_fixed)i, &t);
        gen_tensor(seed, TID_FIXED + i, 0, &t, v + o, NULL);
        o += t.size;
    }
    *out = v;
    *n = total;
    return 0;
}

/* ---------------------------------------------------------------------
 * Elementwise pieces of the forward pass.
 * ------------------------------------------------------------------- */

/* The frequency rule of model.h.  Probabilities outside [0, 1] (only a
 * diverged model produces them; NaN included) count as 0 or 1, so the
 * table is valid whatever the floats hold. */
static void freq_row(const float *p, uint32_t *f)
{
    const float scale = (float)(MDL_FREQ_TOTAL - MDL_V);
    int64_t total = 0;
    size_t best = 0;
    for (size_t s = 0; s < MDL_V; s++) {
        float q = p[s];
        if (!(q >= 0.0f))
            q = 0.0f;
        if (q > 1.0f)
            q = 1.0f;
        f[s] = 1u + (uint32_t)(q * scale);
        total += f[s];
        if (f[s] > f[best])
            best = s;
    }
    f[best] = (uint32_t)((int64_t)f[best] + ((int64_t)MDL_FREQ_TOTAL - total));
}

/* torch.optim.Adam(lr, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-7):
 * beta^t kept as running binary32 products, step = lr / (1 - beta1^t),
 * inv_sqrt_bc2 = 1 / sqrtf(1 - beta2^t); the kernel does the rest.  Only
 * the shared block and the active streams' blocks are stepped: inactive
 * streams never run again in this block. */
struct adam_job {
    struct mdl *m;
    float b1, b2, step, isb;
};

/* Adam is element-wise, so any split of the parameter vector across
 * threads gives the same bits; ranges keep each thread on its own lines. */
static void mdl_adam_range(void *arg, size_t begin, size_t end, unsigned tid)
{
    const struct adam_job *j = arg;
    struct mdl *m = j->m;
    (void)tid;
    m->k->adam(end - begin, m->w + begin, m->g + begin, m->am + begin,
               m->av + begin, 1e-7f, j->b1, j->b2, j->step, j->isb, 1e-8f);
}

static void mdl_adam(struct mdl *m, uint32_t N)
{
    const float b1 = 0.9f, b2 = 0.999f;
    m->b1t = m->b1t * b1;
    m->b2t = m->b2t * b2;
    const float bc1 = 1.0f - m->b1t, bc2 = 1.0f - m->b2t;
    struct adam_job j = {m, b1, b2, m->p.lr / bc1, 1.0f / sqrtf(bc2)};
    size_t n = m->n_shared + (size_t)N * m->per_stream;
    /* Pieces of 64 Ki floats: big enough to amortise the hand-off, small
     * enough to balance a busy machine's threads. */
    pool_parallel_for(m->pool, n, (size_t)1 << 16, mdl_adam_range, &j);
}

/* ---------------------------------------------------------------------
 * Creation and the API.
 * ------------------------------------------------------------------- */

static size_t align_f(size_t n) { return (n + MDL_ALIGN_F - 1) / MDL_ALIGN_F * MDL_ALIGN_F; }

struct carve { float **dst; size_t n; };

int mdl_create(struct mdl **out, const struct fade_preset *preset,
               uint32_t max_streams, const struct kern_ops *k,
               struct fade_pool *pool)
{
    const void *blob;
    size_t len;
    if (!out || !preset_ok(preset))
        return FADE_E_INVAL;
    int rc = preset_prior(preset, &blob, &len);
    if (rc < 0)
        return rc;
    return mdl_create_prior(out, preset, max_streams, k, pool, blob, len);
}

int mdl_create_prior(struct mdl **out, const struct fade_preset *preset,
                     uint32_t max_streams, const struct kern_ops *k,
                     struct fade_pool *pool, const void *prior, size_t prior_len)
{
    if (!out || !k || !preset_ok(preset) || max_streams < 1 ||
        max_streams > preset->max_streams)
        return FADE_E_INVAL;
    *out = NULL;
    if (prior) {
        int prc = mdl_prior_check(preset, prior, prior_len);
        if (prc < 0)
            return prc;
    }
    const uint8_t *cur = prior ? (const uint8_t *)prior + PRIOR_HEAD : NULL;
    struct mdl *m = calloc(1, sizeof *m);
    if (!m)
        return FADE_E_NOMEM;
    m->p = *preset;
    if (kern_bind(k, preset, &m->kb) < 0) {
        mdl_free(m);
        return FADE_E_INVAL;
    }
    m->k = &m->kb;
    m->pool = pool;
    m->max_streams = max_streams;
    /* the FMA build of the passes where the machine has it; the scalar
     * kernel set keeps the baseline build so that it stays the plain
     * reference path (both give the same bits) */
    if (k->isa != FADE_ISA_SCALAR && fade_isa_available(FADE_ISA_AVX2)) {
        m->forward = mdl_forward_avx2;
        m->backward = mdl_backward_avx2;
    } else {
        m->forward = mdl_forward_generic;
        m->backward = mdl_backward_generic;
    }
    m->T = preset->T; m->D = preset->D; m->TD = m->T * m->D; m->C = m->TD / 2;
    m->G = preset->G; m->L = preset->L; m->F = preset->F; m->H = preset->H;

    struct tinfo ti;
    size_t o = 0;
    for (int i = 0; i < P_NSHARED; i++) {
        tinfo_shared(preset, (enum mdl_par)i, &ti);
        m->off[i] = o;
        o += align_f(ti.size);
    }
    m->n_shared = o;
    o = 0;
    for (int i = 0; i < S_N; i++) {
        tinfo_stream(preset, (enum mdl_spar)i, &ti);
        m->soff[i] = o;
        o += align_f(ti.size);
    }
    m->per_stream = o;
    m->n_par = m->n_shared + (size_t)max_streams * m->per_stream;

    const size_t N = max_streams, R = 2 * N, T = m->T, TD = m->TD, G = m->G;
    const size_t L = m->L, F = m->F, H = m->H, V = MDL_V;
    size_t so = 2 * F;
    if (so < TD) so = TD;
    if (so < V) so = V;
    if (so < 2 * H) so = 2 * H;
    const struct carve cv[] = {
        { &m->w, m->n_par }, { &m->g, m->n_par }, { &m->am, m->n_par }, { &m->av, m->n_par },
        { &m->w0, m->n_par },
        { &m->xlast_w, m->D * 2 * L }, { &m->xlast_b, 2 * L }, { &m->cache0, G },
        { &m->cache, N * G },
        { &m->e, N * TD }, { &m->x0hat, N * TD }, { &m->r0, N }, { &m->s, N * TD },
        { &m->lhat, N * TD }, { &m->lr, N * T }, { &m->lu, N * TD }, { &m->lpre, N * TD },
        { &m->loc, N * TD }, { &m->gl, N * 2 * L }, { &m->gpre, N * TD }, { &m->glob, N * TD },
        { &m->gphi, N * TD }, { &m->lphi, N * TD }, { &m->zphi, N * F }, { &m->fphi, N * TD },
        { &m->a, N * TD }, { &m->h, N * TD },
        { &m->chat, N * TD }, { &m->cr, R }, { &m->ck, N * TD }, { &m->cdn, R * H },
        { &m->cdu, R * H }, { &m->cup, N * TD }, { &m->cg, N * TD }, { &m->cout, N * TD },
        { &m->f1hat, N * TD }, { &m->f1r, N }, { &m->n1, N * TD }, { &m->zz, N * 2 * F },
        { &m->gz, N * F }, { &m->z, N * F }, { &m->z2, N * TD }, { &m->f2hat, N * TD },
        { &m->f2r, N }, { &m->z3, N * TD }, { &m->fo, N * TD },
        { &m->logits, N * V }, { &m->prob, N * V },
        { &m->dl, N * V }, { &m->dfo, N * TD }, { &m->dz3, N * TD }, { &m->dz2, N * TD },
        { &m->dz, N * F }, { &m->dzz, N * 2 * F }, { &m->dn1, N * TD }, { &m->dc, N * TD },
        { &m->dck, N * TD }, { &m->dcup, N * TD }, { &m->dcg, N * TD }, { &m->ddu, R * H },
        { &m->ddn, R * H }, { &m->dh, N * TD },
        { &m->dglob, N * TD }, { &m->dloc, N * TD }, { &m->dap, N * TD }, { &m->ds, N * TD },
        { &m->dpre, N * TD }, { &m->du, N * TD }, { &m->de, N * TD }, { &m->de2, N * TD },
        { &m->scratch, N * so },
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof cv / sizeof cv[0]; i++)
        total += align_f(cv[i].n);
    m->arena = aligned_alloc(64, total * sizeof(float));
    m->ctx = malloc(N * T);
    if (!m->arena || !m->ctx) {
        mdl_free(m);
        return FADE_E_NOMEM;
    }
    memset(m->arena, 0, total * sizeof(float));
    float *base = m->arena;
    for (size_t i = 0; i < sizeof cv / sizeof cv[0]; i++) {
        *cv[i].dst = base;
        base += align_f(cv[i].n);
    }

    /* initial weights, hashed in the same order as mdl_model_id */
    uint64_t seed = init_seed(preset), h = id_prefix(preset);
    for (uint32_t i = 0; i < P_NSHARED; i++) {
        tinfo_shared(preset, (enum mdl_par)i, &ti);
        if (cur)
            prior_tensor(&cur, &ti, m->w0 + m->off[i], &h);
        else
            gen_tensor(seed, i, 0, &ti, m->w0 + m->off[i], &h);
    }
    float *full_w = NULL, *full_b = NULL;
    for (uint32_t i = 0; i < X_N; i++) {
        tinfo_fixed(preset, (enum mdl_fixed)i, &ti);
        float *dst = NULL;
        if (i == X_FULL_W || i == X_FULL_B) {
            dst = malloc(ti.size * sizeof(float));
            if (!dst) {
                free(full_w);
                mdl_free(m);
                return FADE_E_NOMEM;
            }
            if (i == X_FULL_W)
                full_w = dst;
            else
                full_b = dst;
        } else {
            dst = i == X_LAST_W ? m->xlast_w : m->xlast_b;
        }
        gen_tensor(seed, TID_FIXED + i, 0, &ti, dst, &h);
    }
    const uint8_t *streams = cur;
    for (uint32_t b = 0; b < preset->max_streams; b++) {
        cur = streams;
        for (uint32_t i = 0; i < S_N; i++) {
            tinfo_stream(preset, (enum mdl_spar)i, &ti);
            float *dst = b < max_streams ? mdl_spar(m, m->w0, b, (enum mdl_spar)i) : NULL;
            if (cur)
                prior_tensor(&cur, &ti, dst, &h);
            else
                gen_tensor(seed, TID_STREAM + i, b, &ti, dst, &h);
        }
    }
    m->model_id = h;

    /* initial cache = GeGLU_full(s of the all-padding context), computed
     * with the initial weights: the same for every stream and block, so
     * once here (row 0 of the activation buffers as scratch) */
    memcpy(m->w, m->w0, m->n_par * sizeof(float));
    memset(m->ctx, 0, T);
    {
        const float *emb = mdl_par(m, m->w, P_EMB);
        for (size_t t = 0; t < T; t++)
            memcpy(m->e + t * m->D, emb, m->D * sizeof(float));
        mdl_ln_fwd_generic(1, TD, m->e, mdl_par(m, m->w, P_LN0_W), mdl_par(m, m->w, P_LN0_B),
               m->x0hat, m->r0, m->s);
        float *tmp = malloc(2 * G * sizeof(float));
        if (!tmp) {
            free(full_w);
            free(full_b);
            mdl_free(m);
            return FADE_E_NOMEM;
        }
        k->linear_fwd(pool, 1, TD, 2 * G, m->s, TD, full_w, full_b, tmp, 2 * G);
        for (size_t j = 0; j < G; j++)
            m->cache0[j] = fm_gelu(tmp[j]) * tmp[G + j];
        free(tmp);
    }
    free(full_w);
    free(full_b);

    int rc = mdl_reset(m, max_streams);
    if (rc < 0) {
        mdl_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void mdl_free(struct mdl *m)
{
    if (!m)
        return;
    free(m->arena);
    free(m->ctx);
    free(m);
}

int mdl_reset(struct mdl *m, uint32_t n_streams)
{
    if (!m || n_streams < 1 || n_streams > m->max_streams)
        return FADE_E_INVAL;
    /* only the shared block and the streams of this block matter until the
     * next reset, so only those are restored */
    size_t n = m->n_shared + (size_t)n_streams * m->per_stream;
    memcpy(m->w, m->w0, n * sizeof(float));
    memset(m->am, 0, n * sizeof(float));
    memset(m->av, 0, n * sizeof(float));
    memset(m->ctx, 0, (size_t)n_streams * m->T);
    for (size_t b = 0; b < n_streams; b++)
        memcpy(m->cache + b * m->G, m->cache0, m->G * sizeof(float));
    m->n_streams = n_streams;
    m->cur_active = n_streams;
    m->pending = 0;
    m->steps = 0;
    m->b1t = 1.0f;
    m->b2t = 1.0f;
    m->last_loss = 0.0f;
    return 0;
}

int mdl_predict(struct mdl *m, uint32_t n_active, uint32_t *freq)
{
    if (!m || !freq || n_active < 1 || n_active > m->cur_active)
        return FADE_E_INVAL;
    if (m->pending) {
        /* a repeated predict of the same step: same tables, no new state */
        if (m->pending != n_active)
            return FADE_E_INVAL;
    } else {
        /* the reference builds the cache from the first context and
         * appends for every later one */
        m->forward(m, n_active, m->steps > 0);
        m->pending = n_active;
        m->cur_active = n_active;
    }
    for (size_t n = 0; n < n_active; n++)
        freq_row(m->prob + n * MDL_V, freq + n * MDL_V);
    return 0;
}

/* Shifts each active stream's context by its byte and ends the step. */
static void advance(struct mdl *m, uint32_t n_active, const uint8_t *sym)
{
    const size_t T = m->T;
    for (size_t n = 0; n < n_active; n++) {
        uint8_t *c = m->ctx + n * T;
        memmove(c, c + 1, T - 1);
        c[T - 1] = sym[n];
    }
    m->pending = 0;
    m->steps++;
}

int mdl_update(struct mdl *m, uint32_t n_active, const uint8_t *sym)
{
    if (!m || !sym || n_active < 1 || m->pending != n_active)
        return FADE_E_INVAL;
    /* the coded cost of this step, for reports (sum over streams
     * ascending from 0; not on the coded path) */
    float lsum = 0.0f;
    for (size_t n = 0; n < n_active; n++)
        lsum = lsum - fm_log(m->prob[n * MDL_V + sym[n]]);
    m->last_loss = lsum / (float)n_active;
    for (uint32_t u = 0; u < m->p.n_updates; u++) {
        if (u > 0)
            m->forward(m, n_active, 0);
        m->backward(m, n_active, sym);
        mdl_adam(m, n_active);
    }
    advance(m, n_active, sym);
    return 0;
}

int mdl_skip(struct mdl *m, uint32_t n_active, const uint8_t *sym)
{
    if (!m || !sym || n_active < 1 || n_active > m->cur_active || m->pending)
        return FADE_E_INVAL;
    m->cur_active = n_active;
    advance(m, n_active, sym);
    return 0;
}

int mdl_test_advance(struct mdl *m, uint32_t n_active, const uint8_t *sym)
{
    if (!m || !sym || n_active < 1 || m->pending != n_active)
        return FADE_E_INVAL;
    advance(m, n_active, sym);
    return 0;
}

float mdl_probe(struct mdl *m, const uint8_t *src, size_t len, size_t window, unsigned n_windows)
{
    if (!m || !src || len == 0 || window == 0 || n_windows == 0)
        return -1.0f;
    if (len <= window * n_windows) {        /* short: all of it, once */
        window = len;
        n_windows = 1;
    }
    /* Not on the coded path (the block names the model it picked), but the
     * pick decides the encoder's bytes, so it uses fm_log and a fixed
     * summation order: every machine picks the same model. */
    double bits = 0.0;
    for (unsigned w = 0; w < n_windows; w++) {
        size_t at = n_windows == 1 ? 0 : (len - window) / (n_windows - 1) * w;
        if (mdl_reset(m, 1) < 0)
            return -1.0f;
        for (size_t t = 0; t < window; t++) {
            m->forward(m, 1, t > 0);
            float p = m->prob[src[at + t]];
            bits -= (double)fm_log(p > 0x1p-16f ? p : 0x1p-16f);
            advance(m, 1, src + at + t);
        }
    }
    m->steps = 0;
    m->pending = 0;
    return (float)(bits / 0.6931471805599453 / ((double)window * n_windows));
}

uint64_t mdl_get_model_id(const struct mdl *m) { return m->model_id; }

float mdl_last_loss(const struct mdl *m) { return m->last_loss; }

double mdl_flops_per_step(const struct fade_preset *p, uint32_t n_active)
{
    if (!p)
        return 0.0;
    double T = p->T, D = p->D, TD = T * D, C = TD / 2, G = p->G, L = p->L;
    double F = p->F, H = p->H, V = MDL_V;
    /* multiply-adds per stream: forward of every Linear, backward (input
     * and weight gradient) of the trained ones; the global Linear needs
     * no input gradient (the cache is detached); GeGLU_last runs forward
     * once per step; U_b counts like a Linear */
    double fwd = G * TD + TD * TD + 2 * (C * H + H * H + H * C + C * C) + TD * 2 * F +
                 F * TD + TD * V;
    double bwd_x = TD * TD + 2 * (C * H + H * H + H * C + C * C) + TD * 2 * F + F * TD + TD * V;
    double bwd_w = fwd;
    double per = (fwd + bwd_x + bwd_w) * p->n_updates + D * 2 * L;
    return 2.0 * per * n_active;
}

/* ---------------------------------------------------------------------
 * Test hooks.
 * ------------------------------------------------------------------- */

size_t mdl_test_n_tensors(void) { return P_NSHARED + S_N; }

int mdl_test_tensor(const struct mdl *m, size_t i, struct mdl_tensor *out)
{
    struct tinfo t;
    if (!m || !out || i >= P_NSHARED + S_N)
        return FADE_E_INVAL;
    if (i < P_NSHARED) {
        tinfo_shared(&m->p, (enum mdl_par)i, &t);
        out->offset = m->off[i];
        out->count = 1;
        out->stride = 0;
    } else {
        tinfo_stream(&m->p, (enum mdl_spar)(i - P_NSHARED), &t);
        out->offset = m->n_shared + m->soff[i - P_NSHARED];
        out->count = m->max_streams;
        out->stride = m->per_stream;
    }
    out->name = t.name;
    out->size = t.size;
    return 0;
}

size_t mdl_test_n_params(const struct mdl *m) { return m->n_par; }
float *mdl_test_params(struct mdl *m) { return m->w; }
const float *mdl_test_grads(const struct mdl *m) { return m->g; }
const float *mdl_test_logits(const struct mdl *m) { return m->logits; }

int mdl_test_forward(struct mdl *m, uint32_t n_active)
{
    if (!m || n_active < 1 || n_active > m->n_streams)
        return FADE_E_INVAL;
    m->forward(m, n_active, 0);
    return 0;
}

int mdl_test_backward(struct mdl *m, uint32_t n_active, const uint8_t *sym)
{
    if (!m || !sym || n_active < 1 || n_active > m->n_streams)
        return FADE_E_INVAL;
    m->forward(m, n_active, 0);
    m->backward(m, n_active, sym);
    return 0;
}
