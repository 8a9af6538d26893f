/* mix.c — the mixing coder of the mix presets (mix.h; the rules are
 * specified in codec/FORMAT.md, "Mix stage").  All integer. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "codec/block.h"
#include "codec/err.h"
#include "codec/fade.h"
#include "codec/mix.h"

/* Right shifts of negative values are arithmetic on every compiler the
 * project supports (gcc, clang); the counters and the mixer rely on it. */
_Static_assert((-3 >> 1) == -2, "arithmetic right shift");

#define CTR_INIT   (1u << 31)     /* probability 1/2, count 0, no history */
#define HSM_LIMIT  1023u
#define CTR_LIMIT  255u           /* counts stop here: rate 1/(limit+1.5) */
#define MIX_LR     4              /* mixer learning rate, in 2^-14 units */
#define MIX_W0     (1 << 12)      /* start weight of every model input */
#define MSM_INIT   49152u         /* a match is right 3 times in 4 */
#define MSM_RATE   5
#define APM_RATE   6
#define MATCH_VERIFY  32u         /* longest backward check of a candidate */
#define MATCH_LEN_MAX 65535u
#define RLEN_MAX      4096u       /* longest record length detected */
#define RLEN_VOTES    8u
#define RLEN_VOTES_MAX 64u
#define MIX_HB     1              /* hashed tables: 2^MIX_HB slots a byte */
#define T_BITS_MIN 12u
#define T_BITS_MAX 22u

/* The logistic function 4096 / (1 + e^(-x/256)) at x = -2048, -1920, ...,
 * 2048, rounded: squash() interpolates it. */
static const int16_t squash_pts[33] = {
    1, 2, 4, 6, 10, 17, 27, 45, 74, 120, 194, 311, 488, 747, 1102, 1546, 2048,
    2550, 2994, 3349, 3608, 3785, 3902, 3976, 4022, 4051, 4069, 4079, 4086,
    4090, 4092, 4094, 4095,
};

/* x in [-2047, 2047] -> 12-bit probability in [1, 4095]. */
static inline int squash(int x)
{
    int s = x + 2048, i = s >> 7, w = s & 127;
    return (squash_pts[i] * (128 - w) + squash_pts[i + 1] * w + 64) >> 7;
}

static inline int clamp_st(int64_t x)
{
    return x > 2047 ? 2047 : x < -2047 ? -2047 : (int)x;
}

static inline uint32_t hmix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

/* floor(256 * log2(x)) for x >= 1, by exact integer squaring: the
 * mantissa m in [1, 2) is kept in Q31, and each squaring gives one bit. */
static uint32_t log2_q8(uint32_t x)
{
    uint32_t e = 31 - (uint32_t)__builtin_clz(x);
    uint64_t m = (uint64_t)x << (31 - e);       /* [2^31, 2^32) */
    uint32_t r = e << 8;
    for (int i = 7; i >= 0; i--) {
        m = (m * m) >> 31;                      /* [2^31, 2^33) */
        if (m >= (1ull << 32)) {
            m >>= 1;
            r |= 1u << i;
        }
    }
    return r;
}

void mix_init(struct mix *mx)
{
    memset(mx, 0, sizeof *mx);
    int pi = 0;
    for (int x = -2047; x <= 2047; x++) {
        int v = squash(x);
        for (int j = pi; j <= v; j++)
            mx->stretch[j] = (int16_t)x;
        pi = v + 1;
    }
    for (int j = pi; j < 4096; j++)
        mx->stretch[j] = 2047;
    for (uint32_t n = 0; n < 1024; n++)
        mx->rec[n] = 131072u / (2 * n + 3);
    for (uint32_t p = 1; p < 4096; p++)
        mx->cost[p] = (uint16_t)((12u << 8) - log2_q8(p));
    mx->cost[0] = mx->cost[1];
    /* A bit raises its own count (to 7 at most) and, above 2, halves the
     * other one's (rounding up): old evidence fades, new evidence counts. */
    for (uint32_t h = 0; h < MIX_HIST_STATES; h++) {
        for (int y = 0; y < 2; y++) {
            uint32_t n0 = h & 7, n1 = (h >> 3) & 7;
            if (y) {
                n1 += n1 < 7;
                if (n0 > 2)
                    n0 = (n0 + 2) / 2;
            } else {
                n0 += n0 < 7;
                if (n1 > 2)
                    n1 = (n1 + 2) / 2;
            }
            mx->hnext[h][y] = (uint8_t)(n0 | n1 << 3 | (uint32_t)y << 6);
        }
    }
}

void mix_free(struct mix *mx)
{
    for (int k = 0; k < MIX_NCTX; k++)
        free(mx->t[k]);
    free(mx->st);
    free(mx->mt);
    free(mx->a2);
    mix_init(mx);
}

static uint32_t ceil_log2(size_t v)
{
    uint32_t b = 0;
    while (((size_t)1 << b) < v)
        b++;
    return b;
}

static uint32_t clamp_bits(uint32_t b)
{
    return b < T_BITS_MIN ? T_BITS_MIN : b > T_BITS_MAX ? T_BITS_MAX : b;
}

/* Makes *p hold at least n elements of size sz (contents undefined). */
/* Tables of 2 MiB and more are aligned to 2 MiB and offered to the
 * kernel for huge pages: every bit reads them at random, and with 4 KiB
 * pages most of those reads also miss the TLB. */
#define HUGE_ALIGN ((size_t)2 << 20)

static int grow(void **p, size_t *cap, size_t n, size_t sz)
{
    if (*cap >= n)
        return 0;
    size_t bytes = n * sz;
    void *q;
    if (bytes >= HUGE_ALIGN) {
        bytes = (bytes + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
        q = aligned_alloc(HUGE_ALIGN, bytes);
#ifdef MADV_HUGEPAGE
        if (q)
            (void)madvise(q, bytes, MADV_HUGEPAGE);     /* a hint: may fail */
#endif
    } else {
        q = malloc(bytes);
    }
    if (!q)
        return FADE_E_NOMEM;
    free(*p);
    *p = q;
    *cap = n;
    return 0;
}

/* Every weight set of a mixer at its start: MIX_W0 for each model input,
 * 0 for the bias and the padding. */
static void mixer_start(int32_t *w, uint32_t sets)
{
    for (uint32_t s = 0; s < sets; s++)
        for (uint32_t i = 0; i < MIX_NIN_PAD; i++)
            w[(size_t)s * MIX_NIN_PAD + i] = i < MIX_IN_BIAS ? MIX_W0 : 0;
}

int mix_reset(struct mix *mx, uint32_t use, size_t raw_len, uint32_t n)
{
    if (raw_len < 1 || raw_len > FADE_BLOCK_MAX_RAW || n < 1 || n > raw_len ||
        (use & ~(uint32_t)MIX_ALL))
        return FADE_E_INVAL;
    mx->use = use;
    mx->net_gain = 0;
    mx->raw_len = (uint32_t)raw_len;
    mx->n = n;
    mx->q = (uint32_t)(raw_len / n);
    mx->r = (uint32_t)(raw_len % n);

    /* Table sizes follow the block: 2^MIX_HB slots a byte for the hashed
     * contexts, within the limits. */
    uint32_t hb = clamp_bits(ceil_log2(raw_len) + MIX_HB);
    uint32_t bits[MIX_NCTX] = {16, hb, hb, hb, hb, hb, hb, hb, hb};
    for (int k = 0; k < MIX_NCTX; k++) {
        mx->t_bits[k] = bits[k];
        size_t slots = (size_t)1 << bits[k];
        FADE_FORWARD(grow((void **)&mx->t[k], &mx->t_cap[k], slots, sizeof(uint32_t)));
        if (k == MIX_C_O1) {
            for (size_t i = 0; i < slots; i++)
                mx->t[k][i] = CTR_INIT;
        } else {
            /* zero checks: every bucket is reset on first use */
            memset(mx->t[k], 0, slots * sizeof(uint32_t));
        }
    }
    mx->mt_bits = clamp_bits(ceil_log2(raw_len));
    FADE_FORWARD(grow((void **)&mx->mt, &mx->mt_cap, (size_t)1 << mx->mt_bits,
                      sizeof(uint32_t)));
    memset(mx->mt, 0, ((size_t)1 << mx->mt_bits) * sizeof(uint32_t));
    size_t scap = mx->st_cap;
    FADE_FORWARD(grow((void **)&mx->st, &scap, n, sizeof(struct mix_stream)));
    mx->st_cap = (uint32_t)scap;
    for (uint32_t b = 0; b < n; b++) {
        struct mix_stream *s = &mx->st[b];
        memset(s, 0, sizeof *s);
        s->start = (uint32_t)blk_stream_start(raw_len, n, b);
        for (int k = 0; k < MIX_NCTX; k++)
            s->hash[k] = hmix((uint32_t)k << 28);
    }
    for (uint32_t i = 0; i < MIX_MATCH_SM; i++)
        mx->msm[i] = MSM_INIT;
    /* A history's probability starts at (n1 + 1/2) / (n0 + n1 + 1). */
    for (uint32_t h = 0; h < MIX_HIST_STATES; h++) {
        uint32_t n0 = h & 7, n1 = (h >> 3) & 7;
        uint32_t p22 = (uint32_t)(((2 * n1 + 1) << 22) / (2 * (n0 + n1) + 2));
        for (int k = 0; k < MIX_NCTX; k++)
            mx->hsm[k][h] = p22 << 10;
    }
    mixer_start(mx->w, MIX_SETS);
    mixer_start(mx->w2, MIX_SETS2);
    uint16_t curve[33];
    for (int j = 0; j < 33; j++)
        curve[j] = (uint16_t)(squash(clamp_st((j - 16) * 128)) * 16);
    for (int c = 0; c < 256; c++)
        memcpy(mx->a1 + c * 33, curve, sizeof curve);
    FADE_FORWARD(grow((void **)&mx->a2, &mx->a2_cap, 65536u * 33, sizeof(uint16_t)));
    for (int c = 0; c < 65536; c++)
        memcpy(mx->a2 + (size_t)c * 33, curve, sizeof curve);
    return 0;
}

static inline uint32_t stream_of(const struct mix *mx, uint32_t pos)
{
    uint32_t big = mx->r * (mx->q + 1);
    return pos < big ? pos / (mx->q + 1) : mx->r + (pos - big) / mx->q;
}

int mix_known(const struct mix *mx, uint32_t pos)
{
    if (pos >= mx->raw_len)
        return 0;
    const struct mix_stream *s = &mx->st[stream_of(mx, pos)];
    return pos - s->start < s->done;
}

/* The first slot of the first of the two buckets that context hash h may
 * use in a table of 2^bits slots (the other is at index ^ 16). */
static inline uint32_t bucket_at(uint32_t bits, uint32_t h)
{
    return (h >> (32 - bits)) & ~15u;
}

/* The bucket of 16 slots for context hash h in table t of 2^bits slots:
 * one of two neighbours whose check (slot 0) is h | 1, else the one with
 * the lower count in its first node, reset. */
static inline uint32_t *bucket(uint32_t *t, uint32_t bits, uint32_t h)
{
    uint32_t i = bucket_at(bits, h), chk = h | 1u;
    uint32_t *a = t + i, *b = t + (i ^ 16u);
    if (a[0] == chk)
        return a;
    if (b[0] == chk)
        return b;
    uint32_t *v = ((a[1] >> 8) & 255u) <= ((b[1] >> 8) & 255u) ? a : b;
    v[0] = chk;
    for (int k = 1; k < 16; k++)
        v[k] = CTR_INIT;
    return v;
}

/* A slot: 16-bit probability, 8-bit count (rate 1/(n + 1.5) until
 * CTR_LIMIT), 8-bit history state. */
static inline void ctr_update(uint32_t *s, int y, const struct mix *mx)
{
    uint32_t v = *s, n = (v >> 8) & 255u, h = v & 255u;
    int32_t p = (int32_t)(v >> 16);
    int32_t target = y ? 65535 : 0;
    p += (int32_t)(((int64_t)(target - p) * mx->rec[n]) >> 16);
    if (n < CTR_LIMIT)
        n++;
    *s = (uint32_t)p << 16 | n << 8 | mx->hnext[h & (MIX_HIST_STATES - 1)][y];
}

static inline void hsm_update(uint32_t *s, int y, const uint32_t *rec)
{
    uint32_t v = *s, n = v & 1023u;
    int32_t p = (int32_t)(v >> 10);
    int32_t target = y ? (1 << 22) - 1 : 0;
    p += (int32_t)(((int64_t)(target - p) * rec[n]) >> 16);
    if (n < HSM_LIMIT)
        n++;
    *s = (uint32_t)p << 10 | n;
}

/* The APM at point table t: the interpolated 16-bit probability for input
 * x (stretch domain), and the point to train. */
static inline uint32_t apm(const uint16_t *t, int x, uint32_t *at)
{
    int s = x + 2048, i = s >> 7, w = s & 127;
    *at = (uint32_t)(i + (w >> 6));
    return ((uint32_t)t[i] * (uint32_t)(128 - w) + (uint32_t)t[i + 1] * (uint32_t)w) >> 7;
}

static inline void apm_update(uint16_t *t, uint32_t at, int y)
{
    int v = t[at];
    v += ((y ? 65535 : 0) - v) >> APM_RATE;
    t[at] = (uint16_t)v;
}

static inline uint32_t prefix_sum(const uint32_t *cum, uint32_t lo, uint32_t hi)
{
    return cum[hi] - cum[lo];
}

/* After byte c of stream s (at block position pos): histories, the match
 * model, and the next byte's context hashes. */
static void byte_done(struct mix *mx, struct mix_stream *s, const uint8_t *buf,
                      uint32_t pos, uint8_t c, int predicted)
{
    uint32_t use = mx->use;
    s->c8 = s->c8 << 8 | s->c4 >> 24;
    s->c4 = s->c4 << 8 | c;
    s->done++;
    uint32_t lc = c;
    if (lc >= 'A' && lc <= 'Z')
        lc += 'a' - 'A';
    if (lc >= 'a' && lc <= 'z')
        s->word = (s->word + lc + 1) * 0x3D4D51CBu;
    else
        s->word = 0;

    if (use & MIX_USE_MATCH) {
        if (s->m_len && predicted && buf[s->m_ptr] == c) {
            if (s->m_len < MATCH_LEN_MAX)
                s->m_len++;
            s->m_ptr++;
        } else {
            s->m_len = 0;
        }
        if (s->done >= MIX_MATCH_MIN) {
            uint32_t h = hmix(s->c4 ^ hmix((s->c8 & 0xFFFFu) | 0x6D000000u)) >>
                         (32 - mx->mt_bits);
            if (s->m_len == 0 && mx->mt[h]) {
                uint32_t cand = mx->mt[h] - 1;          /* byte after the context */
                uint32_t e = cand - 1;                  /* its last byte */
                const struct mix_stream *es = &mx->st[stream_of(mx, e)];
                uint32_t lim = e - es->start + 1;
                if (lim > s->done)
                    lim = s->done;
                if (lim > MATCH_VERIFY)
                    lim = MATCH_VERIFY;
                uint32_t len = 0;
                while (len < lim && buf[e - len] == buf[pos - len])
                    len++;
                if (len >= MIX_MATCH_MIN) {
                    s->m_len = len;
                    s->m_ptr = cand;
                }
            }
            mx->mt[h] = pos + 2;
        }
    }

    /* Record length: a distance that a byte value repeats at twice in a
     * row gets a vote; the candidate with votes left becomes the record
     * length once it has RLEN_VOTES. */
    uint32_t o = s->done;                       /* offset + 1 of this byte */
    if (s->last[c]) {
        uint32_t dd = o - s->last[c];
        if (dd > 1 && dd <= RLEN_MAX && dd == s->dist[c]) {
            if (dd == s->r_cand) {
                if (s->r_votes < RLEN_VOTES_MAX)
                    s->r_votes++;
                if (s->r_votes >= RLEN_VOTES)
                    s->rlen = dd;
            } else if (s->r_votes == 0) {
                s->r_cand = dd;
                s->r_votes = 1;
            } else {
                s->r_votes--;
            }
        }
        s->dist[c] = dd;
    }
    s->last[c] = o;

    uint32_t c4 = s->c4;
    uint32_t rl = s->rlen, up1 = 0, up2 = 0;
    if (rl && s->done >= 2 * rl) {
        up1 = buf[pos + 1 - rl];
        up2 = buf[pos + 1 - 2 * rl];
    }
    s->hash[MIX_C_SPARSE] = hmix(((c4 >> 8) & 0xFFFFu) | 0x08000000u);
    s->hash[MIX_C_REC_A] = hmix((up1 << 8 | (c4 & 0xFFu)) ^ hmix(rl | 0x09000000u));
    s->hash[MIX_C_REC_B] = hmix((up1 << 8 | up2) ^ hmix(rl | 0x0A000000u));
    s->hash[MIX_C_O2] = hmix((c4 & 0xFFFFu) | 0x02000000u);
    s->hash[MIX_C_O3] = hmix((c4 & 0xFFFFFFu) | 0x03000000u);
    s->hash[MIX_C_O4] = hmix(c4 ^ 0x4F1BBCDDu) + 4u;
    s->hash[MIX_C_O6] = hmix(c4 ^ hmix((s->c8 & 0xFFFFu) | 0x06000000u));
    s->hash[MIX_C_WORD] = hmix(s->word ^ hmix(s->word ? 0x07000000u : (c4 & 0xFFu) | 0x17000000u));
    /* The next byte's first buckets: start loading them now. */
    for (int k = MIX_C_O2; k < MIX_NCTX; k++) {
        uint32_t i = bucket_at(mx->t_bits[k], s->hash[k]);
        __builtin_prefetch(mx->t[k] + i);
        __builtin_prefetch(mx->t[k] + (i ^ 16u));
    }
}

/* Codes (e != NULL) or decodes (d != NULL) one byte of stream b; always
 * inlined into the two entry points so each gets its own copy. */
static inline __attribute__((always_inline)) uint8_t
code_byte(struct mix *mx, uint32_t b, const uint8_t *src, uint8_t *dst,
          const uint32_t *freq, struct bc_enc *e, struct bc_dec *d)
{
    struct mix_stream *s = &mx->st[b];
    const uint32_t use = mx->use;
    const int16_t *st = mx->stretch;
    const uint32_t *rec = mx->rec;
    const uint8_t *buf = e ? src : dst;
    uint32_t pos = s->start + s->done;
    uint8_t c = e ? src[pos] : 0;
    uint32_t c1 = s->c4 & 0xFFu;

    uint32_t cum[257];
    if (freq && (use & MIX_USE_NET)) {
        cum[0] = 0;
        for (int i = 0; i < 256; i++)
            cum[i + 1] = cum[i] + freq[i];
    } else {
        freq = NULL;
    }

    /* The match model's byte for this step, if any. */
    uint32_t mlen = 0, mbyte = 0;
    if ((use & MIX_USE_MATCH) && s->m_len && mix_known(mx, s->m_ptr)) {
        mlen = s->m_len;
        mbyte = buf[s->m_ptr];
    }
    const int predicted = mlen != 0;
    uint32_t mstate = mlen == 0 ? 0 : mlen < 16 ? 1 : mlen < 32 ? 2 : 3;
    uint32_t mcell = mlen < MIX_MATCH_SM ? mlen : MIX_MATCH_SM - 1;

    uint32_t *bk[MIX_NCTX] = {0};
    uint32_t nh[MIX_NCTX] = {0};        /* second-nibble hashes */
    uint32_t c0 = 1, nib = 1;
    for (int j = 0; j < 8; j++) {
        if (j == 0 || j == 4) {
            for (int k = MIX_C_O2; k < MIX_NCTX; k++) {
                if (!(use & (1u << k)))
                    continue;
                uint32_t h = j == 0 ? s->hash[k] : nh[k];
                bk[k] = bucket(mx->t[k], mx->t_bits[k], h);
            }
            nib = 1;
        }
        uint32_t *slot[MIX_NCTX];
        int x[MIX_NIN_PAD] = {0};
        slot[MIX_C_O1] = mx->t[MIX_C_O1] + (c1 << 8 | c0);
        for (int k = MIX_C_O2; k < MIX_NCTX; k++)
            slot[k] = bk[k] ? bk[k] + nib : NULL;
        uint32_t *hs[MIX_NCTX] = {0};
        for (int k = 0; k < MIX_NCTX; k++) {
            if (!(use & (1u << k)))
                continue;
            uint32_t v = *slot[k];
            x[k] = st[v >> 20];
            if (use & MIX_USE_HIST) {
                hs[k] = &mx->hsm[k][v & (MIX_HIST_STATES - 1)];
                x[MIX_IN_HIST + k] = st[*hs[k] >> 20];
            }
        }
        int mbit = -1;
        if (mlen && ((mbyte | 256u) >> (8 - j)) == c0) {
            mbit = (int)(mbyte >> (7 - j)) & 1;
            int v = st[mx->msm[mcell] >> 4];
            x[MIX_IN_MATCH] = mbit ? v : -v;
        } else {
            mlen = 0;
        }
        if (freq) {
            uint32_t lo = (c0 - (1u << j)) << (8 - j), wdt = 1u << (8 - j);
            uint32_t tot = prefix_sum(cum, lo, lo + wdt);
            uint32_t one = prefix_sum(cum, lo + wdt / 2, lo + wdt);
            uint32_t p = (uint32_t)(((uint64_t)one * 4096u) / tot);
            p = p < 1 ? 1 : p > 4095 ? 4095 : p;
            x[MIX_IN_NET] = st[p];
        }
        x[MIX_IN_BIAS] = 256;

        /* Two mixers: weights chosen by the partial byte and the match
         * state, and by the bit position and the match state; their
         * outputs are averaged in the stretch domain. */
        int32_t *w = mx->w + (size_t)(mstate * 256u + c0) * MIX_NIN_PAD;
        int32_t *w2 = mx->w2 + (size_t)(mstate * 8u + (uint32_t)j) * MIX_NIN_PAD;
        int64_t dot = 0, dot2 = 0;
        for (int i = 0; i < MIX_NIN; i++) {
            dot += (int64_t)x[i] * w[i];
            dot2 += (int64_t)x[i] * w2[i];
        }
        int sx1 = clamp_st(dot >> 16), sx2 = clamp_st(dot2 >> 16);
        int sx = (sx1 + sx2) >> 1;
        int pm = squash(sx), pm1 = squash(sx1), pm2 = squash(sx2);
        int pm0 = 0;
        if (freq) {     /* the same sums without the network's term */
            int64_t xn = x[MIX_IN_NET];
            pm0 = squash((clamp_st((dot - xn * w[MIX_IN_NET]) >> 16) +
                          clamp_st((dot2 - xn * w2[MIX_IN_NET]) >> 16)) >> 1);
        }
        uint32_t p16, at1 = 0, at2 = 0;
        uint16_t *t1 = NULL, *t2 = NULL;
        if (use & MIX_USE_APM) {
            t1 = mx->a1 + (size_t)c0 * 33;
            t2 = mx->a2 + (size_t)(c1 << 8 | c0) * 33;
            uint32_t pa1 = apm(t1, sx, &at1), pa2 = apm(t2, sx, &at2);
            p16 = ((uint32_t)pm * 16 + pa1 + 2 * pa2 + 2) >> 2;
        } else {
            p16 = (uint32_t)pm * 16;
        }

        int y;
        if (e) {
            y = (c >> (7 - j)) & 1;
            bc_enc_bit(e, p16, y);
        } else {
            y = bc_dec_bit(d, p16);
        }
        if (j == 3) {
            /* The second nibble's buckets are known now: start loading
             * them before this bit's updates. */
            uint32_t c0n = c0 << 1 | (uint32_t)y;
            for (int k = MIX_C_O2; k < MIX_NCTX; k++) {
                nh[k] = hmix(s->hash[k] + c0n * 0x9E3779B9u);
                uint32_t i = bucket_at(mx->t_bits[k], nh[k]);
                __builtin_prefetch(mx->t[k] + i);
                __builtin_prefetch(mx->t[k] + (i ^ 16u));
            }
        }

        if (freq) {
            const uint16_t *cost = mx->cost;
            mx->net_gain += y ? (int)cost[pm0] - (int)cost[pm]
                              : (int)cost[4096 - pm0] - (int)cost[4096 - pm];
        }
        int err = ((y << 12) - pm1) * MIX_LR, err2 = ((y << 12) - pm2) * MIX_LR;
        for (int i = 0; i < MIX_NIN; i++) {
            w[i] += (x[i] * err + (1 << 13)) >> 14;
            w2[i] += (x[i] * err2 + (1 << 13)) >> 14;
        }
        for (int k = 0; k < MIX_NCTX; k++) {
            if (!(use & (1u << k)))
                continue;
            ctr_update(slot[k], y, mx);
            if (hs[k])
                hsm_update(hs[k], y, rec);
        }
        if (mbit >= 0) {
            int v = mx->msm[mcell];
            v += (((mbit == y) ? 65535 : 0) - v) >> MSM_RATE;
            mx->msm[mcell] = (uint16_t)v;
        }
        if (t1) {
            apm_update(t1, at1, y);
            apm_update(t2, at2, y);
        }
        c0 = c0 << 1 | (uint32_t)y;
        nib = nib << 1 | (uint32_t)y;
    }
    c = (uint8_t)c0;
    if (dst)
        dst[pos] = c;
    byte_done(mx, s, buf, pos, c, predicted);
    return c;
}

void mix_encode(struct mix *mx, uint32_t b, const uint8_t *buf, const uint32_t *freq,
                struct bc_enc *e)
{
    (void)code_byte(mx, b, buf, NULL, freq, e, NULL);
}

uint8_t mix_decode(struct mix *mx, uint32_t b, uint8_t *buf, const uint32_t *freq,
                   struct bc_dec *d)
{
    return code_byte(mx, b, NULL, buf, freq, NULL, d);
}
