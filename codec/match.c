/* match.c — the match stage (match.h; exact rules in FORMAT.md, "Match
 * stage"): a hash table of earlier contexts shared by all sub-streams, one
 * match per stream, and learned hit probabilities that reshape the
 * model's rows.  Integer only. */
#include <stdlib.h>
#include <string.h>
#include "codec/fade.h"
#include "codec/match.h"

#define MATCH_TOTAL   65536u
#define MATCH_LEN_CAP 65535u
#define MATCH_P_INIT  32768
#define MATCH_CNT_CAP 65535u

void match_cfg_init(struct match_cfg *cfg, uint32_t min_len)
{
    cfg->min_len = min_len;
    cfg->hash_bits = 20;
    cfg->rate = 7;
    cfg->verify_max = 32;
    cfg->p_max = MATCH_TOTAL - 256;
}

int match_cfg_check(const struct match_cfg *cfg)
{
    if (!cfg || cfg->min_len < 1 || cfg->min_len > 32 || cfg->hash_bits < 12 ||
        cfg->hash_bits > 24 || cfg->rate < 1 || cfg->rate > 15 ||
        cfg->verify_max < cfg->min_len || cfg->verify_max > 65535 ||
        cfg->p_max > MATCH_TOTAL - 256)
        return FADE_E_INVAL;
    return 0;
}

void match_init(struct match *mt)
{
    memset(mt, 0, sizeof *mt);
}

void match_free(struct match *mt)
{
    if (!mt)
        return;
    free(mt->table);
    free(mt->st);
    match_init(mt);
}

/* Table size for a block: the next power of two >= raw_len, within
 * [2^12, 2^hash_bits]. */
static uint32_t table_bits(size_t raw_len, uint32_t hash_bits)
{
    uint32_t b = 12;
    while (b < hash_bits && ((size_t)1 << b) < raw_len)
        b++;
    return b;
}

int match_reset(struct match *mt, const struct match_cfg *cfg, size_t raw_len, uint32_t n)
{
    if (!mt || match_cfg_check(cfg) < 0 || raw_len == 0 || raw_len > FADE_BLOCK_MAX_RAW ||
        n == 0 || n > raw_len)
        return FADE_E_INVAL;
    uint32_t bits = table_bits(raw_len, cfg->hash_bits);
    if (!mt->table || bits > mt->table_cap_bits) {
        uint32_t *t = malloc(((size_t)1 << bits) * sizeof *t);
        if (!t)
            return FADE_E_NOMEM;
        free(mt->table);
        mt->table = t;
        mt->table_cap_bits = bits;
    }
    if (n > mt->st_cap) {
        struct match_stream *s = malloc((size_t)n * sizeof *s);
        if (!s)
            return FADE_E_NOMEM;
        free(mt->st);
        mt->st = s;
        mt->st_cap = n;
    }
    mt->cfg = *cfg;
    mt->bits = bits;
    memset(mt->table, 0, ((size_t)1 << bits) * sizeof *mt->table);
    memset(mt->st, 0, (size_t)n * sizeof *mt->st);
    mt->raw_len = raw_len;
    mt->n = n;
    mt->q = raw_len / n;
    mt->r = raw_len % n;
    for (uint32_t c = 0; c < MATCH_CELLS; c++) {
        mt->p[c] = MATCH_P_INIT;
        mt->cnt[c] = 0;
    }
    return 0;
}

static inline size_t stream_start(const struct match *mt, uint32_t b)
{
    return (size_t)b * mt->q + (b < mt->r ? b : mt->r);
}

static inline unsigned ilog2_u32(uint32_t v)
{
    return 31u - (unsigned)__builtin_clz(v);
}

/* Cell of a match of length len (>= 1) whose byte the model gives fc. */
static inline uint32_t cell_of(uint32_t len, uint32_t fc)
{
    uint32_t lb = len < 16 ? len - 1 : 15 + (ilog2_u32(len) - 3 < 5 ? ilog2_u32(len) - 3 : 4);
    /* log2 of the model's probability of c below one half, log2 of its
     * probability of anything else above: 0..30. */
    uint32_t fb = fc < 32768 ? ilog2_u32(fc) : 30 - ilog2_u32(MATCH_TOTAL - fc);
    return lb * MATCH_F_BUCKETS + fb;
}

void match_adjust_row(uint32_t *f, unsigned c, uint32_t p, uint32_t p_max)
{
    uint32_t t = p < p_max ? p : p_max;
    uint32_t fc = f[c];
    if (t <= fc)
        return;
    /* k / 2^16 = (65536 - t) / (65536 - fc) < 1, rounded down. */
    uint32_t k = (uint32_t)((((uint64_t)(MATCH_TOTAL - t)) << 16) / (MATCH_TOTAL - fc));
    uint32_t sum = 0;
    for (unsigned s = 0; s < 256; s++) {
        uint32_t g = (f[s] * k) >> 16;
        g = g ? g : 1;
        f[s] = g;
        sum += g;
    }
    sum -= f[c];
    f[c] = MATCH_TOTAL - sum;
}

/* Hash of the min_len bytes ending at buf[end] (inclusive). */
static inline uint32_t ctx_hash(const uint8_t *buf, size_t end, uint32_t min_len, uint32_t bits)
{
    uint32_t h = 2166136261u;
    for (size_t j = end + 1 - min_len; j <= end; j++)
        h = (h ^ buf[j]) * 16777619u;
    return (h * 2654435761u) >> (32 - bits);
}

void match_predict(struct match *mt, const uint8_t *buf, size_t i, uint32_t n_active,
                   uint32_t *freq)
{
    (void)i;
    for (uint32_t b = 0; b < n_active; b++) {
        struct match_stream *s = &mt->st[b];
        s->active = s->len > 0;
        if (!s->active)
            continue;
        uint32_t *f = freq + (size_t)b * 256;
        uint8_t c = buf[s->ptr];
        s->pred = c;
        s->cell = (uint16_t)cell_of(s->len, f[c]);
        match_adjust_row(f, c, (uint32_t)mt->p[s->cell], mt->cfg.p_max);
    }
}

/* Learns from one prediction: p moves by (target - p) / min(cnt + 2, 2^rate),
 * rounded toward zero. */
static inline void learn(struct match *mt, uint32_t cell, int hit)
{
    int32_t d = (hit ? 65535 : 0) - mt->p[cell];
    uint32_t cnt = mt->cnt[cell];
    int32_t div = cnt + 2 < (1u << mt->cfg.rate) ? (int32_t)cnt + 2 : (int32_t)1 << mt->cfg.rate;
    mt->p[cell] += d / div;
    if (cnt < MATCH_CNT_CAP)
        mt->cnt[cell] = cnt + 1;
}

/* Looks for a match for stream b, whose bytes 0..i are known: the table's
 * candidate for its last min_len bytes, checked backwards. */
static void find(struct match *mt, const uint8_t *buf, uint32_t b, size_t start, size_t i)
{
    struct match_stream *s = &mt->st[b];
    const struct match_cfg *cfg = &mt->cfg;
    s->len = 0;
    if (i + 1 < cfg->min_len)
        return;
    uint32_t cand = mt->table[ctx_hash(buf, start + i, cfg->min_len, mt->bits)];
    if (cand == 0)
        return;
    /* The candidate's range: the first r ranges hold q + 1 bytes. */
    size_t q = mt->q, r = mt->r, big = r * (q + 1), cs;
    if (cand < big)
        cs = cand / (q + 1);
    else
        cs = r + (cand - big) / q;
    size_t c_start = stream_start(mt, (uint32_t)cs);
    size_t c_len = q + (cs < r);
    size_t off = cand - c_start;
    size_t known = i + 1 < c_len ? i + 1 : c_len;
    if (off >= known)
        return;     /* cannot happen: the table only holds known positions */
    uint32_t L = 0;
    while (L < cfg->verify_max && L < off && L <= i &&
           buf[c_start + off - 1 - L] == buf[start + i - L])
        L++;
    if (L < cfg->min_len)
        return;
    s->len = L;
    s->ptr = cand;
    s->m_start = (uint32_t)c_start;
    s->m_len = (uint32_t)c_len;
}

void match_update(struct match *mt, const uint8_t *buf, size_t i, uint32_t n_active)
{
    const uint32_t min_len = mt->cfg.min_len;
    for (uint32_t b = 0; b < n_active; b++) {
        struct match_stream *s = &mt->st[b];
        size_t start = stream_start(mt, b);
        uint8_t a = buf[start + i];
        if (s->active) {
            int hit = s->pred == a;
            learn(mt, s->cell, hit);
            if (hit) {
                s->ptr++;
                if (s->len < MATCH_LEN_CAP)
                    s->len++;
                /* The next byte of the match must be known for step i + 1:
                 * its range has bytes 0..i known (all, if shorter). */
                size_t known = i + 1 < s->m_len ? i + 1 : s->m_len;
                if (s->ptr - s->m_start >= known)
                    s->len = 0;
            } else {
                s->len = 0;
            }
        }
        if (s->len == 0)
            find(mt, buf, b, start, i);
        /* Record the context ending at byte i - 1 -> byte i (known now). */
        if (i >= min_len)
            mt->table[ctx_hash(buf, start + i - 1, min_len, mt->bits)] = (uint32_t)(start + i);
    }
}
