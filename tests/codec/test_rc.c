/* test_rc.c — the range coder round-trips, stays within rc_bound(), and
 * reports truncated and damaged streams; CRC32C matches its test vectors. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "codec/crc32c.h"
#include "codec/fade.h"
#include "codec/rc.h"

/* xorshift64*: deterministic, seedable, no global state. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* A table summing to RC_TOTAL with every entry >= 1; skew > 0 piles mass
 * on few symbols. */
static void make_table(uint32_t *f, uint64_t *seed, int skew)
{
    uint32_t w[256];
    uint64_t sum = 0;
    for (int s = 0; s < 256; s++) {
        uint64_t x = rnd(seed) % 1000 + 1;
        for (int k = 0; k < skew; k++)
            x = x * x % 100003 + 1;
        w[s] = (uint32_t)(skew ? (x % 97 == 0 ? x * 50 : x / 50 + 1) : x);
        sum += w[s];
    }
    uint32_t tot = 0;
    for (int s = 0; s < 256; s++) {
        f[s] = 1 + (uint32_t)((uint64_t)w[s] * (RC_TOTAL - 256) / sum);
        tot += f[s];
    }
    int top = 0;
    for (int s = 1; s < 256; s++)
        if (f[s] > f[top])
            top = s;
    f[top] += RC_TOTAL - tot;
}

/* Draws a symbol from table f. */
static unsigned draw(const uint32_t *f, uint64_t *seed)
{
    uint32_t v = (uint32_t)(rnd(seed) % RC_TOTAL), cum = 0;
    unsigned s = 0;
    while (cum + f[s] <= v) cum += f[s++];
    return s;
}

/* Codes n symbols with per-symbol tables from `tables` (n_tab of them,
 * cycling), decodes, and checks everything rc.h promises. */
static void roundtrip(const uint32_t *tables, size_t n_tab, const uint8_t *sym, size_t n)
{
    size_t cap = rc_bound(n);
    uint8_t *buf = malloc(cap);
    uint8_t *out = malloc(n + 1);
    cr_assert(buf && out);
    struct rc_enc e;
    rc_enc_init(&e, buf, cap);
    for (size_t i = 0; i < n; i++)
        rc_enc_sym(&e, tables + (i % n_tab) * 256, sym[i]);
    size_t len;
    cr_assert_eq(rc_enc_finish(&e, &len), 0);
    cr_assert_leq(len, cap);
    cr_assert_geq(len, 4);

    struct rc_dec d;
    rc_dec_init(&d, buf, len);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)rc_dec_sym(&d, tables + (i % n_tab) * 256);
    cr_assert_eq(rc_dec_finish(&d), 0, "exact consumption: pos %zu len %zu", d.pos, len);
    cr_assert(memcmp(out, sym, n) == 0);

    /* Too short: the decoder asks past the end and says so. */
    if (len > 0) {
        rc_dec_init(&d, buf, len - 1);
        for (size_t i = 0; i < n; i++)
            rc_dec_sym(&d, tables + (i % n_tab) * 256);
        cr_assert_neq(rc_dec_finish(&d), 0);
    }
    /* Too long: a byte left over is an error. */
    uint8_t *longer = malloc(len + 1);
    cr_assert(longer);
    memcpy(longer, buf, len);
    longer[len] = 0x5a;
    rc_dec_init(&d, longer, len + 1);
    for (size_t i = 0; i < n; i++)
        rc_dec_sym(&d, tables + (i % n_tab) * 256);
    cr_assert_neq(rc_dec_finish(&d), 0);
    free(longer);
    free(buf);
    free(out);
}

Test(rc, empty_stream_is_four_bytes)
{
    uint8_t buf[8];
    struct rc_enc e;
    rc_enc_init(&e, buf, sizeof buf);
    size_t len;
    cr_assert_eq(rc_enc_finish(&e, &len), 0);
    cr_assert_eq(len, 4);
    struct rc_dec d;
    rc_dec_init(&d, buf, len);
    cr_assert_eq(rc_dec_finish(&d), 0);
}

Test(rc, random_tables)
{
    uint64_t seed = 12345;
    enum { NT = 7, N = 20000 };
    static uint32_t tab[NT * 256];
    static uint8_t sym[N];
    for (int t = 0; t < NT; t++)
        make_table(tab + t * 256, &seed, 0);
    for (int i = 0; i < N; i++)
        sym[i] = (uint8_t)draw(tab + (i % NT) * 256, &seed);
    roundtrip(tab, NT, sym, N);
}

Test(rc, skewed_tables)
{
    uint64_t seed = 777;
    enum { NT = 5, N = 30000 };
    static uint32_t tab[NT * 256];
    static uint8_t sym[N];
    for (int t = 0; t < NT; t++)
        make_table(tab + t * 256, &seed, 3);
    for (int i = 0; i < N; i++)
        sym[i] = (uint8_t)draw(tab + (i % NT) * 256, &seed);
    roundtrip(tab, NT, sym, N);
}

/* One symbol holds 65281 = 2^16 - 255, the other 255 hold 1 each: the most
 * extreme table the frequency rule can produce. */
static void extreme_table(uint32_t *f, unsigned big)
{
    for (int s = 0; s < 256; s++)
        f[s] = 1;
    f[big] = RC_TOTAL - 255;
}

Test(rc, extreme_frequencies_likely_symbols)
{
    static uint32_t tab[3 * 256];
    extreme_table(tab, 0);
    extreme_table(tab + 256, 255);
    extreme_table(tab + 512, 77);
    enum { N = 50000 };
    static uint8_t sym[N];
    for (int i = 0; i < N; i++)
        sym[i] = (uint8_t)((i % 3) == 0 ? 0 : (i % 3) == 1 ? 255 : 77);
    roundtrip(tab, 3, sym, N);
}

Test(rc, extreme_frequencies_unlikely_symbols)
{
    /* Every symbol is one of the freq-1 ones: the worst case for size,
     * which must still stay within rc_bound(). */
    static uint32_t tab[2 * 256];
    extreme_table(tab, 0);
    extreme_table(tab + 256, 255);
    enum { N = 20000 };
    static uint8_t sym[N];
    uint64_t seed = 99;
    for (int i = 0; i < N; i++)
        sym[i] = (uint8_t)(1 + rnd(&seed) % 254);
    roundtrip(tab, 2, sym, N);
    /* And the extreme ends of the table: cum = 0 and cum = 2^16 - 1. */
    for (int i = 0; i < N; i++)
        sym[i] = (uint8_t)((i & 1) ? 255 : 0);
    static uint32_t t2[256];
    extreme_table(t2, 128);
    roundtrip(t2, 1, sym, N);
}

Test(rc, long_ff_runs_carry)
{
    /* Symbols at the top of the table keep low near 0xFF..., which builds
     * long 0xFF runs that a later carry must turn into 0x00. */
    static uint32_t tab[256];
    for (int s = 0; s < 256; s++)
        tab[s] = 256;
    enum { N = 40000 };
    static uint8_t sym[N];
    uint64_t seed = 5;
    for (int i = 0; i < N; i++)
        sym[i] = (uint8_t)(rnd(&seed) % 8 == 0 ? rnd(&seed) % 256 : 255);
    roundtrip(tab, 1, sym, N);
}

Test(rc, flush_bytes_are_checked)
{
    /* Changing any of the four flushed bytes either changes the symbols
     * or fails rc_dec_finish(): none of them is slack. */
    uint64_t seed = 8;
    static uint32_t tab[256];
    make_table(tab, &seed, 1);
    enum { N = 500 };
    uint8_t sym[N], out[N], buf[2 * N + 4];
    for (int i = 0; i < N; i++)
        sym[i] = (uint8_t)draw(tab, &seed);
    struct rc_enc e;
    rc_enc_init(&e, buf, sizeof buf);
    for (int i = 0; i < N; i++)
        rc_enc_sym(&e, tab, sym[i]);
    size_t len;
    cr_assert_eq(rc_enc_finish(&e, &len), 0);
    for (size_t at = len - 4; at < len; at++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[at] ^= (uint8_t)(1u << bit);
            struct rc_dec d;
            rc_dec_init(&d, buf, len);
            for (int i = 0; i < N; i++)
                out[i] = (uint8_t)rc_dec_sym(&d, tab);
            cr_assert(rc_dec_finish(&d) != 0 || memcmp(out, sym, N) != 0,
                      "byte %zu bit %d is slack", at, bit);
            buf[at] ^= (uint8_t)(1u << bit);
        }
    }
}

Test(rc, overflow_is_reported)
{
    uint8_t buf[16];
    static uint32_t tab[256];
    extreme_table(tab, 0);
    struct rc_enc e;
    rc_enc_init(&e, buf, sizeof buf);
    for (int i = 0; i < 100; i++)
        rc_enc_sym(&e, tab, 200);
    size_t len;
    cr_assert_eq(rc_enc_finish(&e, &len), FADE_E_DST_SMALL);
    cr_assert_gt(len, sizeof buf);
}

Test(rc, garbage_never_hangs)
{
    /* Random bytes decoded with random tables: must end, and must never
     * claim exact consumption together with all targets valid by luck too
     * often (we only require termination and no out-of-bounds reads here;
     * ASan builds check the latter). */
    uint64_t seed = 4242;
    static uint32_t tab[256];
    make_table(tab, &seed, 2);
    for (int trial = 0; trial < 200; trial++) {
        uint8_t g[64];
        size_t n = rnd(&seed) % sizeof g;
        for (size_t i = 0; i < n; i++)
            g[i] = (uint8_t)rnd(&seed);
        struct rc_dec d;
        rc_dec_init(&d, g, n);
        for (int i = 0; i < 1000; i++)
            rc_dec_sym(&d, tab);
        cr_assert_neq(rc_dec_finish(&d), 0);
    }
}

Test(crc32c, test_vectors)
{
    /* RFC 3720 (iSCSI) appendix B.4 and the common check value. */
    static const uint8_t zeros[32] = {0};
    uint8_t ones[32], inc[32], dec[32];
    for (int i = 0; i < 32; i++) {
        ones[i] = 0xff;
        inc[i] = (uint8_t)i;
        dec[i] = (uint8_t)(31 - i);
    }
    cr_assert_eq(fade_crc32c(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(fade_crc32c(0, zeros, 32), 0x8A9136AAu);
    cr_assert_eq(fade_crc32c(0, ones, 32), 0x62A8AB43u);
    cr_assert_eq(fade_crc32c(0, inc, 32), 0x46DD794Eu);
    cr_assert_eq(fade_crc32c(0, dec, 32), 0x113FDB5Cu);
    cr_assert_eq(fade_crc32c(0, "", 0), 0u);
    cr_assert_eq(fade_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(fade_crc32c_sw(0, inc, 32), 0x46DD794Eu);
}

Test(crc32c, hw_matches_sw_and_chains)
{
    uint64_t seed = 31337;
    static uint8_t buf[4099];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rnd(&seed);
    for (size_t off = 0; off < 9; off++) {
        for (size_t len = 0; len + off <= sizeof buf; len += 1 + len / 3) {
            uint32_t sw = fade_crc32c_sw(0, buf + off, len);
            if (fade_crc32c_hw_available())
                cr_assert_eq(fade_crc32c_hw(0, buf + off, len), sw);
            cr_assert_eq(fade_crc32c(0, buf + off, len), sw);
            /* Continuing from a prefix's value gives the whole value. */
            size_t cut = len / 2;
            cr_assert_eq(fade_crc32c(fade_crc32c(0, buf + off, cut), buf + off + cut, len - cut), sw);
        }
    }
}

/* The three-lane path joins lanes of 4096 and 256 bytes with constants; a
 * wrong one breaks every length that uses its lane size.  Lengths around
 * each stretch (3 x lane) and misaligned starts cover both sizes, the
 * alignment prologue and the tails. */
Test(crc32c, lanes_and_copy_match_sw)
{
    uint64_t seed = 4242;
    static uint8_t buf[3 * 4096 * 2 + 3 * 256 * 3 + 64], dst[sizeof buf];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rnd(&seed);
    static const size_t base[] = { 0, 3 * 256, 3 * 4096, 2 * 3 * 4096,
                                   3 * 4096 + 2 * 3 * 256 };
    for (size_t bi = 0; bi < sizeof base / sizeof base[0]; bi++) {
        for (size_t off = 0; off < 9; off++) {
            for (size_t d = 0; d < 40; d++) {
                size_t len = base[bi] + d * 7 < 8 ? 0 : base[bi] + d * 7 - 8;
                if (len + off > sizeof buf)
                    continue;
                uint32_t sw = fade_crc32c_sw(7, buf + off, len);
                if (fade_crc32c_lanes_available())
                    cr_assert_eq(fade_crc32c_lanes(7, buf + off, len), sw,
                                 "lanes, len %zu off %zu", len, off);
                cr_assert_eq(fade_crc32c(7, buf + off, len), sw);
                memset(dst, 0xa5, sizeof dst);
                cr_assert_eq(fade_crc32c_copy(7, dst + (off ^ 3), buf + off, len), sw,
                             "copy, len %zu off %zu", len, off);
                cr_assert(memcmp(dst + (off ^ 3), buf + off, len) == 0);
                /* Nothing written around the copy. */
                for (size_t i = 0; i < (off ^ 3); i++)
                    cr_assert_eq(dst[i], 0xa5);
                if ((off ^ 3) + len < sizeof dst)
                    cr_assert_eq(dst[(off ^ 3) + len], 0xa5);
            }
        }
    }
}
