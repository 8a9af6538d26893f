/* test_match.c — the match stage (codec/match.h): the row adjustment keeps
 * a valid frequency table, the *-match presets round-trip every kind of
 * input, the stage shrinks repetitive data, never reads a byte the decoder
 * does not have yet, codes identically on every ISA, and a pinned
 * encoding of the default-to-be preset. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "codec/fade.h"
#include "codec/match.h"
#include "tests/codec/codec_util.h"

static fade_ctx *mkctx(const char *preset, uint32_t n_streams, enum fade_isa isa)
{
    struct fade_ctx_params p = {.preset = preset, .n_streams = n_streams, .isa = isa};
    fade_ctx *c = NULL;
    int rc = fade_ctx_create(&c, &p);
    cr_assert_eq(rc, 0, "fade_ctx_create(%s): %s", preset, fade_strerror(rc));
    return c;
}

/* Encodes src with c, checks the block decodes back (into a destination
 * first filled with `fill`), returns the block length; *blk_out gets the
 * block if not NULL (caller frees). */
static size_t roundtrip_fill(fade_ctx *c, const uint8_t *src, size_t n, uint8_t fill,
                             uint8_t **blk_out)
{
    size_t cap = fade_block_bound(n, 0);
    uint8_t *blk = malloc(cap), *out = malloc(n + 1);
    cr_assert(blk && out);
    ssize_t len = fade_block_encode(c, blk, cap, src, n);
    cr_assert_geq(len, 0, "encode %zu bytes: %s", n, fade_strerror((int)len));
    memset(out, fill, n + 1);
    ssize_t d = fade_block_decode(c, out, n, blk, (size_t)len);
    cr_assert_eq(d, (ssize_t)n, "decode %zu bytes: %s", n, fade_strerror((int)d));
    cr_assert(n == 0 || memcmp(out, src, n) == 0, "decoded bytes differ (%zu bytes)", n);
    free(out);
    if (blk_out)
        *blk_out = blk;
    else
        free(blk);
    return (size_t)len;
}

static size_t roundtrip(fade_ctx *c, const uint8_t *src, size_t n)
{
    return roundtrip_fill(c, src, n, 0, NULL);
}

/* A random row: every entry >= 1, sum 65536, skewed by `shape`. */
static void random_row(uint32_t *f, uint64_t *rs, unsigned shape)
{
    uint64_t w[256], tot = 0;
    for (unsigned s = 0; s < 256; s++) {
        uint64_t v = tu_rnd(rs);
        w[s] = shape == 0 ? v % 1000 : shape == 1 ? (v % 7 == 0 ? v % 100000 : v % 3)
                                                  : (s == (v >> 40) % 256 ? 1000000 : v % 2);
        tot += w[s];
    }
    if (tot == 0)
        tot = 1;
    uint32_t sum = 0;
    for (unsigned s = 0; s < 256; s++) {
        f[s] = 1 + (uint32_t)(w[s] * (65536 - 256) / tot);
        sum += f[s];
    }
    f[tu_rnd(rs) % 256] += 65536 - sum;
}

Test(match, row_adjustment_keeps_a_valid_table)
{
    uint64_t rs = 12345;
    uint32_t f[256], g[256];
    unsigned changed = 0;
    for (unsigned it = 0; it < 20000; it++) {
        random_row(f, &rs, it % 3);
        memcpy(g, f, sizeof f);
        unsigned c = (unsigned)(tu_rnd(&rs) % 256);
        uint32_t p = (uint32_t)(tu_rnd(&rs) % 65536);
        if (it % 5 == 0)
            p = 65535;                      /* at the cap */
        uint32_t p_max = it % 2 ? 65536 - 512 : 65536 - 256;
        match_adjust_row(g, c, p, p_max);
        uint32_t sum = 0;
        for (unsigned s = 0; s < 256; s++) {
            cr_assert_geq(g[s], 1u, "entry %u is 0", s);
            if (s != c)
                cr_assert_leq(g[s], f[s], "other symbol %u grew", s);
            sum += g[s];
        }
        cr_assert_eq(sum, 65536u);
        cr_assert_geq(g[c], f[c], "f[c] decreased: %u -> %u", f[c], g[c]);
        uint32_t t = p < p_max ? p : p_max;
        if (t <= f[c]) {
            cr_assert(memcmp(f, g, sizeof f) == 0, "row changed although p <= f[c]");
        } else {
            changed++;
            /* f[c] lands at t, up to what rounding the others up to 1 and
             * the floors give back: never above t + 256, never below t - 255. */
            cr_assert_leq(g[c], t + 256, "f[c] %u far above t %u", g[c], t);
            cr_assert_geq(g[c] + 255, t, "f[c] %u far below t %u", g[c], t);
        }
    }
    cr_assert_gt(changed, 1000u);
}

Test(match, presets_exist_with_their_own_ids)
{
    static const char *pairs[][2] = {
        {"tiny", "tiny-match"}, {"small", "small-match"}, {"primed", "primed-match"}};
    for (size_t k = 0; k < 3; k++) {
        const struct fade_preset *a = fade_preset_find(pairs[k][0]);
        const struct fade_preset *b = fade_preset_find(pairs[k][1]);
        cr_assert(a && b, "%s", pairs[k][1]);
        cr_expect_eq(a->match_min, 0u);
        cr_expect_gt(b->match_min, 0u);
        cr_expect_neq(fade_preset_model_id(a), fade_preset_model_id(b), "%s", pairs[k][1]);
        cr_expect_neq(fade_preset_model_id(b), 0u);
    }
    cr_expect_str_eq(fade_preset_find("primed-match")->fallback, "small-match");
    /* Only the match presets have the stage. */
    for (unsigned i = 0; fade_preset_at(i); i++) {
        const struct fade_preset *p = fade_preset_at(i);
        cr_expect_eq(p->match_min != 0, strstr(p->name, "-match") != NULL, "%s", p->name);
    }
}

Test(match, odd_sizes_zeros_and_random_roundtrip)
{
    fade_ctx *c = mkctx("tiny-match", 0, FADE_ISA_AUTO);
    static const size_t sizes[] = {0, 1, 2, 3, 5, 6, 7, 8, 33, 257, 1001, 4099};
    uint8_t *src = malloc(4099);
    cr_assert(src);
    for (size_t i = 0; i < 4099; i++)
        src[i] = (uint8_t)("<a href=\"http://www.example.com/"[i % 31]);
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
        roundtrip(c, src, sizes[k]);
    memset(src, 0, 4099);
    size_t zl = roundtrip(c, src, 4099);
    cr_expect_lt(zl, 200u, "zeros: %zu bytes", zl);
    tu_fill_random(src, 4099, 7);
    roundtrip(c, src, 4099);
    fade_ctx_free(c);
    free(src);
}

/* Streams of every split, including uneven ones and more streams than
 * the stage can find matches in; the decode target starts with garbage of
 * two kinds, so a decoder that read a byte it had not decoded yet would
 * disagree with the encoder (which reads the true source). */
Test(match, many_streams_and_unknown_bytes)
{
    size_t n = 6007;
    uint8_t *src = malloc(n);
    cr_assert(src);
    uint64_t rs = 99;
    for (size_t i = 0; i < n; i++)
        src[i] = i % 500 < 40 ? (uint8_t)tu_rnd(&rs) : (uint8_t)("GET /index.html HTTP/1.1\n"[i % 25]);
    static const uint32_t ns[] = {1, 2, 3, 7, 16, 64};
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
        fade_ctx *c = mkctx("tiny-match", ns[k], FADE_ISA_AUTO);
        uint8_t *b1, *b2;
        size_t l1 = roundtrip_fill(c, src, n, 0x00, &b1);
        size_t l2 = roundtrip_fill(c, src, n, 0xFF, &b2);
        cr_assert_eq(l1, l2);
        cr_assert(memcmp(b1, b2, l1) == 0, "encoding is not deterministic");
        free(b1);
        free(b2);
        fade_ctx_free(c);
    }
    free(src);
}

/* Repeats far apart (beyond any model context) must cost much less with
 * the stage than without it. */
Test(match, repeats_shrink_much_more_with_the_stage)
{
    size_t unit = 400, n = 8 * unit;
    uint8_t *src = malloc(n);
    cr_assert(src);
    tu_fill_random(src, unit, 3);
    for (size_t i = unit; i < n; i++)
        src[i] = src[i - unit];
    static const char *pairs[][2] = {{"tiny", "tiny-match"}, {"small", "small-match"}};
    for (size_t k = 0; k < 2; k++) {
        /* One stream: with more, each stream must first see a copy of
         * its own before it has anything to match. */
        fade_ctx *a = mkctx(pairs[k][0], 1, FADE_ISA_AUTO);
        fade_ctx *b = mkctx(pairs[k][1], 1, FADE_ISA_AUTO);
        size_t without = roundtrip(a, src, n), with = roundtrip(b, src, n);
        /* Without: the model learns the repeats only slowly; with: the
         * random first copy (~unit bytes) plus a little. */
        cr_expect_lt(with * 3, without * 2, "%s: %zu bytes, %s: %zu bytes", pairs[k][1], with,
                     pairs[k][0], without);
        cr_expect_lt(with, unit + unit / 4, "%s: %zu bytes", pairs[k][1], with);
        fade_ctx_free(a);
        fade_ctx_free(b);
    }
    free(src);
}

Test(match, corpus_slices_roundtrip)
{
    static const struct {
        const char *file, *preset;
        size_t off, len;
        uint32_t streams;
    } cases[] = {
        {"html", "primed-match", 0, 3000, 2},
        {"urls.10K", "small-match", 10000, 2000, 3},
        {"kppkn.gtb", "primed-match", 4000, 1500, 1},
        {"alice29.txt", "tiny-match", 0, 6000, 5},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        size_t n;
        uint8_t *src = tu_corpus_slice(cases[k].file, cases[k].off, cases[k].len, &n);
        if (!src)
            cr_skip_test("corpus not found (set FADE_CORPUS)");
        fade_ctx *c = mkctx(cases[k].preset, cases[k].streams, FADE_ISA_AUTO);
        roundtrip(c, src, n);
        fade_ctx_free(c);
        free(src);
    }
}

static uint8_t *encode_isa(const char *preset, const uint8_t *src, size_t n, enum fade_isa isa,
                           uint32_t streams, size_t *len)
{
    fade_ctx *c = mkctx(preset, streams, isa);
    size_t cap = fade_block_bound(n, 0);
    uint8_t *blk = malloc(cap);
    cr_assert(blk);
    ssize_t l = fade_block_encode(c, blk, cap, src, n);
    cr_assert_gt(l, 0);
    fade_ctx_free(c);
    *len = (size_t)l;
    return blk;
}

Test(match, every_isa_gives_identical_bytes)
{
    size_t n;
    uint8_t *src = tu_corpus_slice("html", 1000, 1500, &n);
    if (!src)
        cr_skip_test("corpus not found (set FADE_CORPUS)");
    size_t rl;
    uint8_t *ref = encode_isa("primed-match", src, n, FADE_ISA_SCALAR, 2, &rl);
    static const enum fade_isa isas[] = {FADE_ISA_AVX2, FADE_ISA_AVX512};
    for (size_t k = 0; k < 2; k++) {
        if (!fade_isa_available(isas[k]))
            continue;
        size_t l;
        uint8_t *b = encode_isa("primed-match", src, n, isas[k], 2, &l);
        cr_assert_eq(l, rl, "%s length differs", fade_isa_name(isas[k]));
        cr_assert(memcmp(b, ref, l) == 0, "%s bytes differ", fade_isa_name(isas[k]));
        free(b);
        /* And decodes what the scalar path wrote. */
        fade_ctx *c = mkctx("primed-match", 0, isas[k]);
        uint8_t *out = malloc(n);
        cr_assert_eq(fade_block_decode(c, out, n, ref, rl), (ssize_t)n);
        cr_assert(memcmp(out, src, n) == 0);
        free(out);
        fade_ctx_free(c);
    }
    free(ref);
    free(src);
}

/* A fixed slice encoded with primed-match must give these exact bytes on
 * every machine (FNV-1a 64 of the block, as in test_golden.c).  A change
 * is a format change of the preset: see codec/FORMAT.md, "Match stage". */
#define GOLDEN_PRIMED_MATCH_LEN  1078
#define GOLDEN_PRIMED_MATCH_HASH 0xa08b78bc9032a48dull

Test(match, pinned_encoding)
{
    size_t n;
    uint8_t *src = tu_corpus_slice("html", 0, 3000, &n);
    if (!src || n != 3000)
        cr_skip_test("corpus not found (set FADE_CORPUS)");
    size_t len;
    uint8_t *blk = encode_isa("primed-match", src, n, FADE_ISA_AUTO, 2, &len);
    uint64_t h = tu_fnv1a64(blk, len);
    cr_expect(len == GOLDEN_PRIMED_MATCH_LEN && h == GOLDEN_PRIMED_MATCH_HASH,
              "primed-match: got len %zu hash 0x%016llxull", len, (unsigned long long)h);
    free(blk);
    free(src);
}
