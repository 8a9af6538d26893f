/* mix_code.h — the mixing coder's per-byte work (mix.h), as one body
 * compiled twice: by mix.c for any x86-64 and by mix_avx2.c with -mavx2,
 * where the mixer's dot products and updates use vector lanes.  Both give
 * the same bits: everything here is integer arithmetic, whose sums do not
 * depend on their order.  The includer defines MIX_CODE(name) to give the
 * two entry points their variant's names; mix.c also takes the constants
 * and helpers it shares with them from here.  codec/FORMAT.md ("Mix
 * stage") is the specification. */
#ifndef MIX_CODE
#error "define MIX_CODE(name) before including mix_code.h"
#endif

#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include "codec/mix.h"

/* The builds' entry points; mix.c picks one per struct mix (mix_init). */
void mix_encode_generic(struct mix *mx, uint32_t b, const uint8_t *buf,
                        const uint32_t *freq, struct bc_enc *e);
uint8_t mix_decode_generic(struct mix *mx, uint32_t b, uint8_t *buf,
                           const uint32_t *freq, struct bc_dec *d);
void mix_encode_avx2(struct mix *mx, uint32_t b, const uint8_t *buf,
                     const uint32_t *freq, struct bc_enc *e);
uint8_t mix_decode_avx2(struct mix *mx, uint32_t b, uint8_t *buf,
                        const uint32_t *freq, struct bc_dec *d);

/* Right shifts of negative values are arithmetic on every compiler the
 * project supports (gcc, clang); the counters and the mixer rely on it. */
_Static_assert((-3 >> 1) == -2, "arithmetic right shift");

#define CTR_INIT   (1u << 31)     /* probability 1/2, count 0, no history */
#define HSM_LIMIT  1023u          /* version 1 and 2: counts stop here */
#define HSM_SHIFT  7              /* from version 3: rate 2^-7 */
#define CTR_LIMIT  255u           /* counts stop here: rate 1/(limit+1.5) */
#define MIX_LR     4              /* mixer learning rate, in 2^-14 units */
#define MIX_LR16   3              /* from version 3, in 2^-15 units of Q14 */
#define MIX_SKIP   64             /* from version 3: errors under this train nothing */
#define MIX_W0     (1 << 12)      /* start weight of every model input */
#define FW0        16384          /* final mixer: 1/4 each, Q16 */
#define FW_LR      2              /* its learning rate, in 2^-14 units */
#define MSM_INIT   49152u         /* a match is right 3 times in 4 */
#define MSM_RATE   5
#define APM_RATE   6
#define MATCH_VERIFY  32u         /* longest backward check of a candidate */
#define MATCH_LEN_MAX 65535u
#define RLEN_MAX      4096u       /* longest record length detected */
#define RLEN_VOTES    8u
#define RLEN_VOTES_MAX 64u
#define ROW_EVERY     4u          /* version 4: a row sample every 4 bytes */
#define ROW_SCAN      512u        /* and a choice every 512 samples */
#define ROW_HITS      16u         /* the fewest equal bytes a row needs */
#define ROW_KEEP      2u          /* a new row must beat the one in use by 2/16 */
#define ROW_LIFT      2u          /* and be hit more than twice the mean distance */
#define T_BITS_MIN 12u             /* and at most mix_reset's tbits */

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

static inline uint32_t stream_of(const struct mix *mx, uint32_t pos)
{
    uint32_t big = mx->r * (mx->q + 1);
    return pos < big ? pos / (mx->q + 1) : mx->r + (pos - big) / mx->q;
}

/* mix_known's body (mix.h). */
static inline int known_at(const struct mix *mx, uint32_t pos)
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

/* The hash of a context's second-nibble bucket: the byte's hash h with
 * the first nibble c0n (with its leading 1). */
static inline uint32_t nibble_hash(uint32_t h, uint32_t c0n)
{
    return hmix(h + c0n * 0x9E3779B9u);
}

/* The match model's hash of the stream's last MIX_MATCH_MIN bytes. */
static inline uint32_t match_hash(uint32_t c4, uint32_t c8)
{
    return hmix(c4 ^ hmix((c8 & 0xFFFFu) | 0x6D000000u));
}

/* Row length detection (version 4).  Every ROW_EVERY bytes of a stream,
 * the byte c just coded at block position pos is compared with each of
 * the MIX_ROW_N bytes MIX_ROW_MIN .. MIX_ROW_MAX - 1 back (all of them in
 * the stream and coded), and each distance's counter counts the equal
 * ones.  Every ROW_SCAN samples the distance with the highest count (the
 * shortest of equal ones) becomes the row length if it has ROW_HITS, more
 * than ROW_LIFT times the mean count of all distances, and more than
 * ROW_KEEP / 16 above the row in use; then every count is halved, so that
 * the choice follows the data.  Element widths (a pixel, a sample) are
 * found by the record length; rows, tables and frames repeat at one
 * longer distance.  Text and code repeat at every distance alike: there a
 * row would be one chance best, whose contexts only cost table misses
 * (8 % of the time on enwik6), and the lift keeps it 0. */
static void row_sample(struct mix_stream *s, const uint8_t *buf, uint32_t pos, uint8_t c)
{
    const uint8_t *b0 = buf + pos - (MIX_ROW_MAX - 1);
    uint16_t *rc = s->rowc;
    for (uint32_t i = 0; i < MIX_ROW_N; i++)   /* vectorised by the compiler */
        rc[i] = (uint16_t)(rc[i] + (b0[i] == c));
    if (++s->row_samples < ROW_SCAN)
        return;
    s->row_samples = 0;
    uint32_t best = MIX_ROW_N - 1, hits = 0;   /* i of distance MIX_ROW_MIN */
    uint32_t sum = 0;
    for (uint32_t i = MIX_ROW_N; i-- > 0;) {    /* shortest distance first */
        sum += rc[i];
        if (rc[i] > hits) {
            hits = rc[i];
            best = i;
        }
    }
    uint32_t cur = s->row ? rc[MIX_ROW_MAX - 1 - s->row] : 0;
    if (hits * 16u > cur * (16u + ROW_KEEP))
        s->row = hits >= ROW_HITS && hits * MIX_ROW_N > ROW_LIFT * sum ? MIX_ROW_MAX - 1 - best : 0;
    for (uint32_t i = 0; i < MIX_ROW_N; i++)
        rc[i] >>= 1;
}

/* The bytes d and 2d before the one after block position pos, as the
 * record and row contexts read them: 0 and 0 when d is 0 or the stream
 * has fewer than 2d bytes. */
static inline uint32_t two_up(const struct mix_stream *s, const uint8_t *buf, uint32_t pos,
                              uint32_t d)
{
    if (!d || s->done < 2 * d)
        return 0;
    return (uint32_t)buf[pos + 1 - d] << 8 | buf[pos + 1 - 2 * d];
}

/* The context models of stream s's next byte: those in use, less the row
 * model while the stream has no row length (no table read, inputs 0). */
static inline uint32_t ctx_on(uint32_t use, const struct mix_stream *s)
{
    return use & MIX_CTX_MASK & (s->row ? ~0u : ~(uint32_t)MIX_USE_ROW);
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
    if (lc >= 'a' && lc <= 'z') {
        s->word = (s->word + lc + 1) * 0x3D4D51CBu;
    } else if (s->word) {
        s->word1 = s->word;
        s->word = 0;
    }

    if (use & MIX_USE_MATCH) {
        if (s->m_len && predicted && buf[s->m_ptr] == c) {
            if (s->m_len < MATCH_LEN_MAX)
                s->m_len++;
            s->m_ptr++;
        } else {
            s->m_len = 0;
        }
        if (s->done >= MIX_MATCH_MIN) {
            uint32_t h = match_hash(s->c4, s->c8) >> (32 - mx->mt_bits);
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
    uint32_t rl = s->rlen, ups = two_up(s, buf, pos, rl);
    s->hash[MIX_C_SPARSE] = hmix(((c4 >> 8) & 0xFFFFu) | 0x08000000u);
    s->hash[MIX_C_REC_A] = hmix(((ups & 0xFF00u) | (c4 & 0xFFu)) ^ hmix(rl | 0x09000000u));
    s->hash[MIX_C_REC_B] = hmix(ups ^ hmix(rl | 0x0A000000u));
    if (use & MIX_USE_ROW) {
        /* a sample once the row window lies in the stream's coded bytes */
        if (s->done % ROW_EVERY == 0 && s->done >= MIX_ROW_MAX)
            row_sample(s, buf, pos, c);
        if (s->row)     /* else never read: the byte leaves the row model out */
            s->hash[MIX_C_ROW] = hmix(two_up(s, buf, pos, s->row) ^ hmix(s->row | 0x0D000000u));
    }
    s->hash[MIX_C_O2] = hmix((c4 & 0xFFFFu) | 0x02000000u);
    s->hash[MIX_C_O3] = hmix((c4 & 0xFFFFFFu) | 0x03000000u);
    s->hash[MIX_C_O4] = hmix(c4 ^ 0x4F1BBCDDu) + 4u;
    s->hash[MIX_C_O6] = hmix(c4 ^ hmix((s->c8 & 0xFFFFu) | 0x06000000u));
    s->hash[MIX_C_WORD] = hmix(s->word ^ hmix(s->word ? 0x07000000u : (c4 & 0xFFu) | 0x17000000u));
    s->hash[MIX_C_O5] = hmix(c4 ^ hmix((s->c8 & 0xFFu) | 0x05000000u));
    /* the word so far (or, between words, the last byte) with the word
     * before it */
    s->hash[MIX_C_WORD2] = hmix((s->word ? s->word : c4 & 0xFFu) ^ hmix(s->word1 ^ 0x0C000000u));
    /* The next byte's first buckets: start loading them now. */
    const uint32_t on = ctx_on(use, s);
    for (int k = MIX_C_O2; k < MIX_NCTX; k++) {
        if (!(on & (1u << k)))
            continue;
        uint32_t i = bucket_at(mx->t_bits[k], s->hash[k]);
        __builtin_prefetch(mx->t[k] + i);
        __builtin_prefetch(mx->t[k] + (i ^ 16u));
    }
}

/* The mixer's dot product of the inputs x and one weight set w, over all
 * MIX_NIN_PAD entries (the padding holds zeros in both).  Integer sums
 * are exact in any order, so the vector build adds lanes as it likes. */
static inline int64_t mixer_dot(const int *x, const int32_t *w)
{
#ifdef __AVX2__
    __m256i acc = _mm256_setzero_si256();
    for (unsigned i = 0; i < MIX_NIN_PAD; i += 8) {
        __m256i xv = _mm256_loadu_si256((const __m256i *)(x + i));
        __m256i wv = _mm256_loadu_si256((const __m256i *)(w + i));
        /* signed 32 x 32 -> 64 of the even lanes, then of the odd ones */
        acc = _mm256_add_epi64(acc, _mm256_mul_epi32(xv, wv));
        acc = _mm256_add_epi64(acc, _mm256_mul_epi32(_mm256_srli_epi64(xv, 32),
                                                     _mm256_srli_epi64(wv, 32)));
    }
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    return _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
#else
    int64_t dot = 0;
    for (unsigned i = 0; i < MIX_NIN_PAD; i++)
        dot += (int64_t)x[i] * w[i];
    return dot;
#endif
}

/* w += x * err / 2^14, rounded, for every input (|x * err| < 2^26). */
static inline void mixer_train(const int *x, int32_t *w, int err)
{
#ifdef __AVX2__
    const __m256i ev = _mm256_set1_epi32(err), half = _mm256_set1_epi32(1 << 13);
    for (unsigned i = 0; i < MIX_NIN_PAD; i += 8) {
        __m256i xv = _mm256_loadu_si256((const __m256i *)(x + i));
        __m256i wv = _mm256_loadu_si256((const __m256i *)(w + i));
        __m256i d = _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(xv, ev), half), 14);
        _mm256_storeu_si256((__m256i *)(w + i), _mm256_add_epi32(wv, d));
    }
#else
    for (unsigned i = 0; i < MIX_NIN_PAD; i++)
        w[i] += (x[i] * err + (1 << 13)) >> 14;
#endif
}

/* Version 3's mixers: 16-bit inputs and weights (Q14).  |x| <= 2047 and
 * |w| <= 32768, so a sum of MIX_NIN_PAD products stays under 2^31 and
 * the 32-bit sums are exact in any order. */
static inline void pack16(const int *x, int16_t *x16)
{
#ifdef __AVX2__
    for (unsigned i = 0; i < MIX_NIN_PAD; i += 16) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(x + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(x + i + 8));
        _mm256_store_si256((__m256i *)(x16 + i),
                           _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8));
    }
#else
    for (unsigned i = 0; i < MIX_NIN_PAD; i++)
        x16[i] = (int16_t)x[i];
#endif
}

static inline int32_t dot16(const int16_t *x16, const int16_t *w)
{
#ifdef __AVX2__
    __m256i acc = _mm256_setzero_si256();
    for (unsigned i = 0; i < MIX_NIN_PAD; i += 16)
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(x16 + i)),
                                                      _mm256_loadu_si256((const __m256i *)(w + i))));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
#else
    int32_t dot = 0;
    for (unsigned i = 0; i < MIX_NIN_PAD; i++)
        dot += (int32_t)x16[i] * w[i];
    return dot;
#endif
}

/* w += round(x * e / 2^15), saturated to 16 bits, with e = err *
 * MIX_LR16 (what vpmulhrsw and vpaddsw compute); sets whose error is
 * under MIX_SKIP are left as they are. */
static inline void train16_if(const int16_t *x16, int16_t *w, int err)
{
    if (err > -MIX_SKIP && err < MIX_SKIP)
        return;
    int e = err * MIX_LR16;
#ifdef __AVX2__
    const __m256i ev = _mm256_set1_epi16((int16_t)e);
    for (unsigned i = 0; i < MIX_NIN_PAD; i += 16) {
        __m256i xv = _mm256_load_si256((const __m256i *)(x16 + i));
        __m256i wv = _mm256_loadu_si256((const __m256i *)(w + i));
        _mm256_storeu_si256((__m256i *)(w + i), _mm256_adds_epi16(wv, _mm256_mulhrs_epi16(xv, ev)));
    }
#else
    for (unsigned i = 0; i < MIX_NIN_PAD; i++) {
        int v = w[i] + (((int32_t)x16[i] * e + (1 << 14)) >> 15);
        w[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
    }
#endif
}

/* The first weight of mixer 1's set for order o, match state m and
 * partial byte c0, and of mixer 3's or 4's for byte c, m and bit
 * position j (FORMAT.md, "Mixing"); the 16-bit sets have the same. */
static inline size_t set_by_order(uint32_t o, uint32_t m, uint32_t c0)
{
    return (size_t)((o * 4u + m) * 256u + c0) * MIX_NIN_PAD;
}

static inline size_t set_by_byte(uint32_t c, uint32_t m, uint32_t j)
{
    return (size_t)((c * 4u + m) * 8u + j) * MIX_NIN_PAD;
}

/* The context models' step for one bit.  slot[k] is context k's slot
 * (used only for k in `on`): a 16-bit probability, an 8-bit count (rate
 * 1/(n + 1.5) until CTR_LIMIT) and an 8-bit history state, whose learned
 * probability is cell k * 128 + state of mx->hsm (22-bit probability;
 * versions 1 and 2 add a 10-bit count, from version 3 it learns at a fixed rate).
 *
 * ctx_inputs writes the inputs x[k] (the counter) and x[MIX_IN_HIST + k]
 * (the history, if hist) of the contexts in `on` (the others stay 0).
 * ctx_update then trains both on bit y: it reads each slot again, an L1
 * hit, where keeping the values live across the bit spilled them.
 * The vector build runs ctx_inputs_v and ctx_update_v instead for
 * versions 3 and 4 with histories (the presets); these are the
 * specification and the baseline build. */
static inline void ctx_inputs(const struct mix *mx, uint32_t *const *slot, uint32_t on, int hist,
                              int *x)
{
#pragma GCC unroll 16
    for (unsigned k = 0; k < MIX_NCTX; k++) {
        if (!(on & (1u << k)))
            continue;
        uint32_t v = *slot[k];
        x[k] = mx->stretch[v >> 20];
        if (hist)
            x[MIX_IN_HIST + k] = mx->stretch[mx->hsm[k * MIX_HIST_STATES + (v & (MIX_HIST_STATES - 1))] >> 20];
    }
}

static inline void ctx_update(struct mix *mx, uint32_t *const *slot, uint32_t on, int hist,
                              int y, uint32_t ver)
{
    const uint32_t *hn_y = mx->hnext[y];
    const int32_t t16 = y ? 65535 : 0, t22 = y ? (1 << 22) - 1 : 0;
#pragma GCC unroll 16
    for (unsigned k = 0; k < MIX_NCTX; k++) {
        if (!(on & (1u << k)))
            continue;
        uint32_t s = *slot[k], n = (s >> 8) & 255u;
        int32_t p = (int32_t)(s >> 16);
        p += (int32_t)(((int64_t)(t16 - p) * mx->rec[n]) >> 16);
        n += n < CTR_LIMIT;
        *slot[k] = (uint32_t)p << 16 | n << 8 | hn_y[s & (MIX_HIST_STATES - 1)];
        const uint32_t ck = k * MIX_HIST_STATES + (s & (MIX_HIST_STATES - 1));
        if (hist && ver >= 3) {
            /* a fixed rate: a cell is shared by every context of its
             * model in that state, and a count-driven rate soon stops
             * following the data */
            int32_t hp = (int32_t)(mx->hsm[ck] >> 10);
            hp += (t22 - hp) >> HSM_SHIFT;
            mx->hsm[ck] = (uint32_t)hp << 10;
        } else if (hist) {
            uint32_t hv = mx->hsm[ck], hn = hv & 1023u;
            int32_t hp = (int32_t)(hv >> 10);
            hp += (int32_t)(((int64_t)(t22 - hp) * mx->rec[hn]) >> 16);
            hn += hn < HSM_LIMIT;
            mx->hsm[ck] = (uint32_t)hp << 10 | hn;
        }
    }
}

#ifdef __AVX2__
/* The vector build's context step for versions 3 and 4 with histories:
 * the same arithmetic as ctx_inputs and ctx_update, eight contexts a
 * lane group.  The slots and history cells are read with scalar loads and
 * written with scalar stores (AVX2 has no scatter), the rest is in lanes.
 * Every slot pointer is valid (contexts not in `on` point at a dummy),
 * their lanes are masked to 0 and they write nothing.  It keeps what the
 * update needs in *cs between the two halves of the bit. */
_Static_assert(MIX_NCTX > 8 && MIX_NCTX <= 16, "two lane groups of contexts");
struct ctx_save {
    __m256i v[2], h[2], ck[2];
};

static inline __m256i on_lanes(uint32_t on, unsigned first)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    __m256i o = _mm256_set1_epi32((int)(on >> first));
    return _mm256_cmpeq_epi32(_mm256_and_si256(o, bit), bit);
}

static inline void ctx_inputs_v(const struct mix *mx, uint32_t *const *slot, uint32_t on, int *x,
                                struct ctx_save *cs)
{
    const __m256i m127 = _mm256_set1_epi32(MIX_HIST_STATES - 1);
    cs->v[0] = _mm256_setr_epi32((int)*slot[0], (int)*slot[1], (int)*slot[2], (int)*slot[3],
                                 (int)*slot[4], (int)*slot[5], (int)*slot[6], (int)*slot[7]);
    uint32_t hi[8] = {0};
    for (unsigned k = 8; k < MIX_NCTX; k++)
        hi[k - 8] = *slot[k];
    cs->v[1] = _mm256_setr_epi32((int)hi[0], (int)hi[1], (int)hi[2], (int)hi[3], (int)hi[4],
                                 (int)hi[5], (int)hi[6], (int)hi[7]);
    /* cell k * 128 + state; lanes past MIX_NCTX read cell row 0 */
    const __m256i kb0 = _mm256_setr_epi32(0, 128, 256, 384, 512, 640, 768, 896);
    const __m256i kb1 = _mm256_setr_epi32(1024, 1152, 1280, 1408, 0, 0, 0, 0);
    _Static_assert(MIX_NCTX == 12, "kb1 holds the cells of contexts 8..11");
    __m256i xc[2], xh[2];
    for (int g = 0; g < 2; g++) {
        __m256i m = on_lanes(on, 8u * (unsigned)g);
        cs->ck[g] = _mm256_add_epi32(g ? kb1 : kb0, _mm256_and_si256(cs->v[g], m127));
        cs->h[g] = _mm256_i32gather_epi32((const int *)mx->hsm, cs->ck[g], 4);
        xc[g] = _mm256_and_si256(m, _mm256_i32gather_epi32(mx->stretch32, _mm256_srli_epi32(cs->v[g], 20), 4));
        xh[g] = _mm256_and_si256(m, _mm256_i32gather_epi32(mx->stretch32, _mm256_srli_epi32(cs->h[g], 20), 4));
    }
    /* x[0..11] the counters, x[12..23] the histories */
    _mm256_storeu_si256((__m256i *)x, xc[0]);
    _mm256_storeu_si256((__m256i *)(x + 8), _mm256_permute2x128_si256(xc[1], xh[0], 0x20));
    _mm256_storeu_si256((__m256i *)(x + 16), _mm256_permute2x128_si256(xh[0], xh[1], 0x21));
    _Static_assert(MIX_IN_HIST == 12 && MIX_NIN_PAD == 32, "the lanes' layout in x");
}

/* ctx_update for bit y: p += (t16 - p) * rec[n] >> 16 (arithmetic) is
 * p + ((65535 - p) * rec[n] >> 16) for y = 1 and p - ((p * rec[n] +
 * 65535) >> 16) for y = 0, both in 32 unsigned bits (p < 2^16, rec[n] <
 * 2^16, so the products and the rounding fit). */
static inline void ctx_update_v(struct mix *mx, uint32_t *const *slot, uint32_t on, int y,
                                const struct ctx_save *cs)
{
    const __m256i m127 = _mm256_set1_epi32(MIX_HIST_STATES - 1), m255 = _mm256_set1_epi32(255);
    const __m256i t16 = _mm256_set1_epi32(65535), t22 = _mm256_set1_epi32(y ? (1 << 22) - 1 : 0);
    const int *hn_y = (const int *)mx->hnext[y];
    uint32_t nv[16] __attribute__((aligned(32))), nh[16] __attribute__((aligned(32)));
    uint32_t ck[16] __attribute__((aligned(32)));
    for (int g = 0; g < 2; g++) {
        __m256i v = cs->v[g];
        __m256i n = _mm256_and_si256(_mm256_srli_epi32(v, 8), m255);
        __m256i p = _mm256_srli_epi32(v, 16);
        __m256i r = _mm256_i32gather_epi32((const int *)mx->rec, n, 4);
        if (y)
            p = _mm256_add_epi32(p, _mm256_srli_epi32(_mm256_mullo_epi32(_mm256_sub_epi32(t16, p), r), 16));
        else
            p = _mm256_sub_epi32(p, _mm256_srli_epi32(_mm256_add_epi32(_mm256_mullo_epi32(p, r), t16), 16));
        n = _mm256_min_epu32(_mm256_add_epi32(n, _mm256_set1_epi32(1)), _mm256_set1_epi32(CTR_LIMIT));
        __m256i hn = _mm256_i32gather_epi32(hn_y, _mm256_and_si256(v, m127), 4);
        v = _mm256_or_si256(_mm256_or_si256(_mm256_slli_epi32(p, 16), _mm256_slli_epi32(n, 8)), hn);
        __m256i hp = _mm256_srli_epi32(cs->h[g], 10);
        hp = _mm256_add_epi32(hp, _mm256_srai_epi32(_mm256_sub_epi32(t22, hp), HSM_SHIFT));
        _mm256_store_si256((__m256i *)(nv + 8 * g), v);
        _mm256_store_si256((__m256i *)(nh + 8 * g), _mm256_slli_epi32(hp, 10));
        _mm256_store_si256((__m256i *)(ck + 8 * g), cs->ck[g]);
    }
#pragma GCC unroll 16
    for (unsigned k = 0; k < MIX_NCTX; k++) {
        if (!(on & (1u << k)))
            continue;
        *slot[k] = nv[k];
        mx->hsm[ck[k]] = nh[k];
    }
}
#endif

/* The mixer's output for the sums of one bit (stretch domain): in
 * version 1 the mean of the first two mixers', from version 2 the final
 * mixer's blend of all four. */
static inline int mixer_out(uint32_t ver, int s1, int s2, int s3, int s4, const int32_t *fw)
{
    if (ver == 1)
        return (s1 + s2) >> 1;
    return clamp_st(((int64_t)s1 * fw[0] + (int64_t)s2 * fw[1] + (int64_t)s3 * fw[2] +
                     (int64_t)s4 * fw[3]) >> 16);
}

/* Codes (e != NULL) or decodes (d != NULL) one byte of stream b with stage
 * version ver and the parts in use; always inlined into the entry points,
 * so each copy has its own constants. */
static inline __attribute__((always_inline)) uint8_t
code_byte(struct mix *mx, uint32_t b, const uint8_t *src, uint8_t *dst,
          const uint32_t *freq, struct bc_enc *e, struct bc_dec *d, const uint32_t use,
          const uint32_t ver)
{
    struct mix_stream *s = &mx->st[b];
    const int16_t *st = mx->stretch;
    const uint8_t *buf = e ? src : dst;
    uint32_t pos = s->start + s->done;
    uint8_t c = e ? src[pos] : 0;
    const uint32_t c1 = s->c4 & 0xFFu, c2 = (s->c4 >> 8) & 0xFFu;
    const uint32_t on = ctx_on(use, s);
    const int hist = (use & MIX_USE_HIST) != 0;

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
    if ((use & MIX_USE_MATCH) && s->m_len && known_at(mx, s->m_ptr)) {
        mlen = s->m_len;
        mbyte = buf[s->m_ptr];
    }
    const int predicted = mlen != 0;
    uint32_t mstate = mlen == 0 ? 0 : mlen < 16 ? 1 : mlen < 32 ? 2 : 3;
    uint32_t mcell = mlen < MIX_MATCH_SM ? mlen : MIX_MATCH_SM - 1;

    uint32_t *bk[MIX_NCTX] = {0};
    uint32_t nh[MIX_NCTX] = {0};        /* second-nibble hashes */
    uint32_t c0 = 1, nib = 1, ord = 0;
    for (int j = 0; j < 8; j++) {
        if (j == 0 || j == 4) {
            for (int k = MIX_C_O2; k < MIX_NCTX; k++) {
                if (!(on & (1u << k)))
                    continue;
                uint32_t h = j == 0 ? s->hash[k] : nh[k];
                bk[k] = bucket(mx->t[k], mx->t_bits[k], h);
            }
            if (ver >= 2 && j == 0) {
                /* the order: how many of orders 2..6 have seen their
                 * context before (a reset bucket's first count is 0) */
                static const uint8_t orders[5] = { MIX_C_O2, MIX_C_O3, MIX_C_O4,
                                                   MIX_C_O5, MIX_C_O6 };
                for (int q = 0; q < 5; q++)
                    ord += bk[orders[q]] && ((bk[orders[q]][1] >> 8) & 255u) != 0;
            }
            nib = 1;
        }
        if (j == 0 && ver >= 2) {
            /* This byte's rows of mixers 3 and 4 (8 sets each, one a bit
             * position, contiguous): they are read one a bit. */
            size_t r3 = set_by_byte(c1, mstate, 0), r4 = set_by_byte(c2, mstate, 0);
            const char *p3 = ver >= 3 ? (const char *)(mx->h3 + r3) : (const char *)(mx->w3 + r3);
            const char *p4 = ver >= 3 ? (const char *)(mx->h4 + r4) : (const char *)(mx->w4 + r4);
            size_t bytes = 8u * MIX_NIN_PAD * (ver >= 3 ? 2u : 4u);
            for (size_t o = 0; o < bytes; o += 64) {
                __builtin_prefetch(p3 + o);
                __builtin_prefetch(p4 + o);
            }
        }
        if (j == 7 && (use & MIX_USE_MATCH) && s->done + 1 >= MIX_MATCH_MIN) {
            /* The match table's entry that byte_done reads, for either
             * value of the last bit. */
            uint32_t c8n = s->c8 << 8 | s->c4 >> 24;
            for (uint32_t yb = 0; yb < 2; yb++)
                __builtin_prefetch(mx->mt + (match_hash(s->c4 << 8 | (c0 << 1 | yb), c8n) >>
                                             (32 - mx->mt_bits)));
        }
        if (j < 7) {
            /* The next bit's APM row and first-mixer set, for either
             * value of this bit (the two are neighbours): a bit's work
             * ahead, where their reads would otherwise wait on L3. */
            uint32_t c0n = c0 << 1;
            const char *pa = (const char *)(mx->a2 + (size_t)(c1 << 8 | c0n) * 33);
            __builtin_prefetch(pa);
            __builtin_prefetch(pa + 64);
            __builtin_prefetch(pa + 128);
            size_t r1 = set_by_order(ord, mstate, c0n);
            const char *p1 = ver >= 3 ? (const char *)(mx->h1 + r1) : (const char *)(mx->w + r1);
            for (size_t o = 0; o < 2u * MIX_NIN_PAD * (ver >= 3 ? 2u : 4u); o += 64)
                __builtin_prefetch(p1 + o);
        }
        uint32_t *slot[MIX_NCTX] = {0};
        int x[MIX_NIN_PAD] __attribute__((aligned(32)));
#ifdef __AVX2__
        const int vec = ver >= 3 && hist;
        struct ctx_save cs;
        memset(&cs, 0, sizeof cs);     /* read only after ctx_inputs_v sets it */
        uint32_t dummy = CTR_INIT;      /* the slot of a context not in `on` */
#else
        const int vec = 0;
#endif
        if (!vec)
            memset(x, 0, sizeof x);
#pragma GCC unroll 16
        for (int k = 0; k < MIX_NCTX; k++) {
            if (on & (1u << k))
                slot[k] = k == MIX_C_O1 ? mx->t[MIX_C_O1] + (c1 << 8 | c0) : bk[k] + nib;
#ifdef __AVX2__
            else if (vec)
                slot[k] = &dummy;
#endif
        }
#ifdef __AVX2__
        if (vec) {
            ctx_inputs_v(mx, slot, on, x, &cs);
            memset(x + 24, 0, (MIX_NIN_PAD - 24) * sizeof *x);
        } else
#endif
            ctx_inputs(mx, slot, on, hist, x);
        int mbit = -1;
        if (mlen && ((mbyte | 256u) >> (8 - j)) == c0) {
            mbit = (int)(mbyte >> (7 - j)) & 1;
            int mv = st[mx->msm[mcell] >> 4];
            x[MIX_IN_MATCH] = mbit ? mv : -mv;
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

        /* The mixers: weights chosen by the partial byte, the match state
         * and the order; by the bit position and the match state; and
         * (from version 2) by those and the last byte, or the byte
         * before.  Version 3's 16-bit sets have the same indices. */
        const size_t r1 = set_by_order(ord, mstate, c0);
        const size_t r2 = (size_t)(mstate * 8u + (uint32_t)j) * MIX_NIN_PAD;
        const size_t r3 = set_by_byte(c1, mstate, (uint32_t)j);
        const size_t r4 = set_by_byte(c2, mstate, (uint32_t)j);
        int32_t *w = mx->w + r1, *w2 = mx->w2 + r2, *w3 = mx->w3 + r3, *w4 = mx->w4 + r4;
        int32_t *fw = mx->fw + (size_t)c0 * 4;
        int16_t x16[MIX_NIN_PAD] __attribute__((aligned(32)));
        int16_t *h1 = NULL, *h2 = NULL, *h3 = NULL, *h4 = NULL;
        int64_t dot, dot2, dot3, dot4;
        if (ver >= 3) {
            /* 16-bit weights in Q14: the sums are scaled to Q16 */
            pack16(x, x16);
            h1 = mx->h1 + r1;
            h2 = mx->h2 + r2;
            h3 = mx->h3 + r3;
            h4 = mx->h4 + r4;
            dot = (int64_t)dot16(x16, h1) * 4;
            dot2 = (int64_t)dot16(x16, h2) * 4;
            dot3 = (int64_t)dot16(x16, h3) * 4;
            dot4 = (int64_t)dot16(x16, h4) * 4;
        } else {
            dot = mixer_dot(x, w);
            dot2 = mixer_dot(x, w2);
            dot3 = ver >= 2 ? mixer_dot(x, w3) : 0;
            dot4 = ver >= 2 ? mixer_dot(x, w4) : 0;
        }
        int sx1 = clamp_st(dot >> 16), sx2 = clamp_st(dot2 >> 16), sx3 = clamp_st(dot3 >> 16);
        int sx4 = clamp_st(dot4 >> 16);
        int sx = mixer_out(ver, sx1, sx2, sx3, sx4, fw);
        const int16_t *sq = mx->squash + 2047;   /* squash(), tabulated */
        int pm = sq[sx], pm1 = sq[sx1], pm2 = sq[sx2], pm3 = sq[sx3], pm4 = sq[sx4];
        int pm0 = 0;
        if (freq) {     /* the same sums without the network's term */
            int64_t xn = x[MIX_IN_NET];
            int64_t n1, n2, n3, n4;     /* the network's weights, Q16 */
            if (ver >= 3) {
                n1 = h1[MIX_IN_NET] * 4;
                n2 = h2[MIX_IN_NET] * 4;
                n3 = h3[MIX_IN_NET] * 4;
                n4 = h4[MIX_IN_NET] * 4;
            } else {
                n1 = w[MIX_IN_NET];
                n2 = w2[MIX_IN_NET];
                n3 = w3[MIX_IN_NET];
                n4 = w4[MIX_IN_NET];
            }
            pm0 = sq[mixer_out(ver, clamp_st((dot - xn * n1) >> 16), clamp_st((dot2 - xn * n2) >> 16),
                               clamp_st((dot3 - xn * n3) >> 16), clamp_st((dot4 - xn * n4) >> 16),
                               fw)];
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
                if (!(on & (1u << k)))
                    continue;
                nh[k] = nibble_hash(s->hash[k], c0n);
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
        if (ver >= 2) {
            int ef = ((y << 12) - pm) * FW_LR;
            fw[0] += (sx1 * ef + (1 << 13)) >> 14;
            fw[1] += (sx2 * ef + (1 << 13)) >> 14;
            fw[2] += (sx3 * ef + (1 << 13)) >> 14;
            fw[3] += (sx4 * ef + (1 << 13)) >> 14;
            if (ver >= 3) {
                train16_if(x16, h3, (y << 12) - pm3);
                train16_if(x16, h4, (y << 12) - pm4);
                train16_if(x16, h1, (y << 12) - pm1);
                train16_if(x16, h2, (y << 12) - pm2);
            } else {
                mixer_train(x, w3, ((y << 12) - pm3) * MIX_LR);
                mixer_train(x, w4, ((y << 12) - pm4) * MIX_LR);
            }
        }
        if (ver < 3) {
            mixer_train(x, w, ((y << 12) - pm1) * MIX_LR);
            mixer_train(x, w2, ((y << 12) - pm2) * MIX_LR);
        }
#ifdef __AVX2__
        if (vec)
            ctx_update_v(mx, slot, on, y, &cs);
        else
#endif
            ctx_update(mx, slot, on, hist, y, ver);
        if (mbit >= 0) {
            int mv = mx->msm[mcell];
            mv += (((mbit == y) ? 65535 : 0) - mv) >> MSM_RATE;
            mx->msm[mcell] = (uint16_t)mv;
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

/* The presets run every part their version has: those copies test no bit
 * of `use` (the network's is carried by freq). */
void MIX_CODE(mix_encode)(struct mix *mx, uint32_t b, const uint8_t *buf,
                         const uint32_t *freq, struct bc_enc *e)
{
    const uint32_t use = mx->use | MIX_USE_NET;
    freq = mx->use & MIX_USE_NET ? freq : NULL;
    if (mx->ver == 4 && use == MIX_ALL_V4)
        (void)code_byte(mx, b, buf, NULL, freq, e, NULL, MIX_ALL_V4, 4);
    else if (mx->ver == 3 && use == MIX_ALL_V3)
        (void)code_byte(mx, b, buf, NULL, freq, e, NULL, MIX_ALL_V3, 3);
    else if (mx->ver == 2 && use == MIX_ALL_V3)
        (void)code_byte(mx, b, buf, NULL, freq, e, NULL, MIX_ALL_V3, 2);
    else if (mx->ver == 1 && use == MIX_ALL_V1)
        (void)code_byte(mx, b, buf, NULL, freq, e, NULL, MIX_ALL_V1, 1);
    else if (mx->ver >= 2)
        (void)code_byte(mx, b, buf, NULL, freq, e, NULL, mx->use, mx->ver);
    else
        (void)code_byte(mx, b, buf, NULL, freq, e, NULL, mx->use, 1);
}

uint8_t MIX_CODE(mix_decode)(struct mix *mx, uint32_t b, uint8_t *buf,
                             const uint32_t *freq, struct bc_dec *d)
{
    const uint32_t use = mx->use | MIX_USE_NET;
    freq = mx->use & MIX_USE_NET ? freq : NULL;
    if (mx->ver == 4 && use == MIX_ALL_V4)
        return code_byte(mx, b, NULL, buf, freq, NULL, d, MIX_ALL_V4, 4);
    if (mx->ver == 3 && use == MIX_ALL_V3)
        return code_byte(mx, b, NULL, buf, freq, NULL, d, MIX_ALL_V3, 3);
    if (mx->ver == 2 && use == MIX_ALL_V3)
        return code_byte(mx, b, NULL, buf, freq, NULL, d, MIX_ALL_V3, 2);
    if (mx->ver == 1 && use == MIX_ALL_V1)
        return code_byte(mx, b, NULL, buf, freq, NULL, d, MIX_ALL_V1, 1);
    if (mx->ver >= 2)
        return code_byte(mx, b, NULL, buf, freq, NULL, d, mx->use, mx->ver);
    return code_byte(mx, b, NULL, buf, freq, NULL, d, mx->use, 1);
}
