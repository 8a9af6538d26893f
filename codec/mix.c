/* mix.c — the mixing coder of the mix presets (mix.h): its tables, their
 * sizes and start values, and the choice of build for the per-byte work
 * (mix_code.h; the rules are specified in codec/FORMAT.md, "Mix stage").
 * All integer. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "codec/block.h"
#include "codec/err.h"
#include "codec/fade.h"
#include "codec/mix.h"

#define MIX_CODE(name) name##_generic
#include "codec/mix_code.h"

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

void mix_init(struct mix *mx, enum fade_isa isa)
{
    memset(mx, 0, sizeof *mx);
    mx->avx2 = isa != FADE_ISA_SCALAR && fade_isa_available(FADE_ISA_AVX2);
    int pi = 0;
    for (int x = -2047; x <= 2047; x++) {
        int v = squash(x);
        mx->squash[x + 2047] = (int16_t)v;
        for (int j = pi; j <= v; j++)
            mx->stretch[j] = (int16_t)x;
        pi = v + 1;
    }
    for (int j = pi; j < 4096; j++)
        mx->stretch[j] = 2047;
    for (int j = 0; j < 4096; j++)
        mx->stretch32[j] = mx->stretch[j];
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
            mx->hnext[y][h] = n0 | n1 << 3 | (uint32_t)y << 6;
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
    mix_init(mx, mx->avx2 ? FADE_ISA_AVX2 : FADE_ISA_SCALAR);
}

static uint32_t ceil_log2(size_t v)
{
    uint32_t b = 0;
    while (((size_t)1 << b) < v)
        b++;
    return b;
}

static uint32_t clamp_bits(uint32_t b, uint32_t max)
{
    return b < T_BITS_MIN ? T_BITS_MIN : b > max ? max : b;
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

static void mixer_start16(int16_t *w, uint32_t sets)
{
    for (uint32_t s = 0; s < sets; s++)
        for (uint32_t i = 0; i < MIX_NIN_PAD; i++)
            w[(size_t)s * MIX_NIN_PAD + i] = (int16_t)(i < MIX_IN_BIAS ? MIX_W0 / 4 : 0);
}

int mix_reset(struct mix *mx, uint32_t ver, uint32_t use, size_t raw_len, uint32_t n,
              uint32_t slots, uint32_t tbits)
{
    if (raw_len < 1 || raw_len > FADE_BLOCK_MAX_RAW || n < 1 || n > raw_len ||
        ver < 1 || ver > 4 || (use & ~(uint32_t)MIX_ALL) || slots < 1 ||
        slots > MIX_SLOTS_MAX || tbits < MIX_TBITS_MIN || tbits > MIX_TBITS_MAX)
        return FADE_E_INVAL;
    /* a version runs only the parts it has */
    if (ver == 1)
        use &= MIX_ALL_V1;
    else if (ver <= 3)
        use &= MIX_ALL_V3;
    else
        use &= MIX_ALL_V4;
    mx->ver = ver;
    mx->use = use;
    mx->net_gain = 0;
    mx->raw_len = (uint32_t)raw_len;
    mx->n = n;
    mx->q = (uint32_t)(raw_len / n);
    mx->r = (uint32_t)(raw_len % n);

    /* Table sizes follow the block: 2^slots slots a byte for the hashed
     * contexts, within the limits. */
    uint32_t hb = clamp_bits(ceil_log2(raw_len) + slots, tbits);
    for (int k = 0; k < MIX_NCTX; k++) {
        if (!(use & (1u << k))) {
            mx->t_bits[k] = 0;          /* never read */
            continue;
        }
        mx->t_bits[k] = k == MIX_C_O1 ? 16 : hb;
        size_t ns = (size_t)1 << mx->t_bits[k];
        FADE_FORWARD(grow((void **)&mx->t[k], &mx->t_cap[k], ns, sizeof(uint32_t)));
        if (k == MIX_C_O1) {
            for (size_t i = 0; i < ns; i++)
                mx->t[k][i] = CTR_INIT;
        } else {
            /* zero checks: every bucket is reset on first use */
            memset(mx->t[k], 0, ns * sizeof(uint32_t));
        }
    }
    mx->mt_bits = clamp_bits(ceil_log2(raw_len), tbits);
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
        for (uint32_t k = 0; k < MIX_NCTX; k++)
            mx->hsm[k * MIX_HIST_STATES + h] = p22 << 10;
    }
    /* Version 1 reads only the first mixer's sets of order 0. */
    if (ver >= 3) {
        mixer_start16(mx->h1, MIX_SETS);
        mixer_start16(mx->h2, MIX_SETS2);
        mixer_start16(mx->h3, MIX_SETS3);
        mixer_start16(mx->h4, MIX_SETS3);
    } else {
        mixer_start(mx->w, ver == 1 ? 256u * 4u : MIX_SETS);
        mixer_start(mx->w2, MIX_SETS2);
        if (ver == 2) {
            mixer_start(mx->w3, MIX_SETS3);
            mixer_start(mx->w4, MIX_SETS3);
        }
    }
    if (ver >= 2)
        for (uint32_t i = 0; i < MIX_FSETS * 4; i++)
            mx->fw[i] = FW0;
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

int mix_known(const struct mix *mx, uint32_t pos)
{
    return known_at(mx, pos);
}

void mix_encode(struct mix *mx, uint32_t b, const uint8_t *buf, const uint32_t *freq,
                struct bc_enc *e)
{
    if (mx->avx2)
        mix_encode_avx2(mx, b, buf, freq, e);
    else
        mix_encode_generic(mx, b, buf, freq, e);
}

uint8_t mix_decode(struct mix *mx, uint32_t b, uint8_t *buf, const uint32_t *freq,
                   struct bc_dec *d)
{
    return mx->avx2 ? mix_decode_avx2(mx, b, buf, freq, d)
                    : mix_decode_generic(mx, b, buf, freq, d);
}
