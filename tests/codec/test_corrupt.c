/* test_corrupt.c — damaged FADE and raw blocks are rejected: every header
 * byte flipped, every truncation, random payload damage, and hand-made
 * headers with bad fields.  Success is allowed only with the exact bytes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "codec/block.h"
#include "codec/bytes.h"
#include "codec/fade.h"
#include "tests/codec/codec_util.h"

struct fixture {
    fade_ctx *c;
    uint8_t src[600];
    uint8_t blk[700];
    size_t blen;
    uint8_t out[600];
};

static void setup(struct fixture *f, uint32_t streams)
{
    struct fade_ctx_params p = {.preset = "tiny", .n_streams = streams};
    cr_assert_eq(fade_ctx_create(&f->c, &p), 0);
    for (size_t i = 0; i < sizeof f->src; i++)
        f->src[i] = (uint8_t)("lorem ipsum dolor sit amet, "[i % 28] ^ (i / 100));
    ssize_t n = fade_block_encode(f->c, f->blk, sizeof f->blk, f->src, sizeof f->src);
    cr_assert_gt(n, 0);
    f->blen = (size_t)n;
    struct fade_block_info info;
    cr_assert_eq(fade_block_info(f->blk, f->blen, &info), 0);
    cr_assert_eq(info.codec, FADE_CODEC_FADE);
}

/* Decodes a damaged copy: must fail, or reproduce the original exactly. */
static int try_decode(struct fixture *f, const uint8_t *b, size_t n)
{
    ssize_t r = fade_block_decode(f->c, f->out, sizeof f->out, b, n);
    if (r >= 0) {
        cr_assert_eq(r, (ssize_t)sizeof f->src);
        cr_assert(memcmp(f->out, f->src, sizeof f->src) == 0, "wrong bytes accepted");
    }
    return (int)(r < 0 ? r : 0);
}

Test(corrupt_header, every_byte_flipped)
{
    struct fixture f;
    setup(&f, 3);
    struct fade_block_info info;
    cr_assert_eq(fade_block_info(f.blk, f.blen, &info), 0);
    uint8_t b[700];
    for (size_t i = 0; i < info.header_len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(b, f.blk, f.blen);
            b[i] ^= (uint8_t)(1u << bit);
            cr_assert_lt(try_decode(&f, b, f.blen), 0, "flip byte %zu bit %d accepted", i, bit);
        }
    }
    fade_ctx_free(f.c);
}

Test(corrupt_header, every_truncation_and_extension)
{
    struct fixture f;
    setup(&f, 2);
    for (size_t n = 0; n < f.blen; n++) {
        int r = try_decode(&f, f.blk, n);
        cr_assert_lt(r, 0, "truncated to %zu accepted", n);
    }
    uint8_t b[701];
    memcpy(b, f.blk, f.blen);
    b[f.blen] = 0;
    cr_assert_eq(try_decode(&f, b, f.blen + 1), FADE_E_CORRUPT);
    fade_ctx_free(f.c);
}

Test(corrupt_payload, random_damage)
{
    struct fixture f;
    setup(&f, 4);
    struct fade_block_info info;
    cr_assert_eq(fade_block_info(f.blk, f.blen, &info), 0);
    uint64_t s = 2024;
    uint8_t b[700];
    for (int trial = 0; trial < 60; trial++) {
        memcpy(b, f.blk, f.blen);
        int k = 1 + (int)(tu_rnd(&s) % 3);
        for (int j = 0; j < k; j++) {
            size_t at = info.header_len + tu_rnd(&s) % (f.blen - info.header_len);
            b[at] ^= (uint8_t)(1 + tu_rnd(&s) % 255);
        }
        cr_assert_lt(try_decode(&f, b, f.blen), 0, "trial %d accepted", trial);
    }
    fade_ctx_free(f.c);
}

/* Rewrites the header CRC after editing a field, so that the field check
 * itself (not the CRC) must catch it. */
static void reseal(uint8_t *b)
{
    if (b[5] == FADE_CODEC_RAW) {
        st_le32(b + 16, fade_crc32c(0, b, 16));
    } else {
        size_t h = BLK_FADE_HEADER_LEN(ld_le32(b + 24));
        st_le32(b + h - 4, fade_crc32c(0, b, h - 4));
    }
}

Test(corrupt_fields, resealed_headers)
{
    struct fixture f;
    setup(&f, 3);
    uint8_t b[700];
#define EDIT(stmt, want)                                                     \
    do {                                                                     \
        memcpy(b, f.blk, f.blen);                                            \
        stmt;                                                                \
        reseal(b);                                                           \
        cr_assert_eq(try_decode(&f, b, f.blen), want, "%s", #stmt);          \
    } while (0)
    EDIT(b[4] = 2, FADE_E_VERSION);
    EDIT(b[4] = 0, FADE_E_CORRUPT);
    EDIT(b[5] = 2, FADE_E_CORRUPT);
    EDIT(b[6] = 1, FADE_E_CORRUPT);                 /* reserved flag */
    EDIT(b[7] = 0x80, FADE_E_CORRUPT);
    EDIT(b[16] ^= 1, FADE_E_UNKNOWN_MODEL);         /* model id */
    EDIT(st_le32(b + 12, ld_le32(b + 12) ^ 1), FADE_E_CHECKSUM);
    EDIT(st_le32(b + 8, 2), FADE_E_CORRUPT);        /* fewer bytes than streams */
    EDIT(st_le32(b + 8, FADE_BLOCK_MAX_RAW + 1), FADE_E_CORRUPT);
    EDIT(st_le32(b + 28, 3), FADE_E_CORRUPT);       /* stream shorter than a flush */
    EDIT(st_le32(b + 28, 0xFFFFFFF0u), FADE_E_CORRUPT);
    /* Move one byte from stream 0 to stream 1: the lengths still add up,
     * but both streams now decode garbage. */
    memcpy(b, f.blk, f.blen);
    st_le32(b + 28, ld_le32(b + 28) - 1);
    st_le32(b + 32, ld_le32(b + 32) + 1);
    reseal(b);
    cr_assert_lt(try_decode(&f, b, f.blen), 0);
#undef EDIT
    /* Stream count 0 and too many: the header length changes, so build
     * them by hand. */
    uint8_t h[64];
    memcpy(h, f.blk, 28);
    st_le32(h + 24, 0);
    st_le32(h + 28, fade_crc32c(0, h, 28));
    cr_assert_eq(try_decode(&f, h, 32), FADE_E_CORRUPT);
    st_le32(h + 24, FADE_BLOCK_MAX_STREAMS + 1);
    cr_assert_eq(try_decode(&f, h, 64), FADE_E_CORRUPT);
    fade_ctx_free(f.c);
}

Test(corrupt_fields, raw_block)
{
    uint8_t src[100], b[120], out[100];
    tu_fill_random(src, sizeof src, 7);
    cr_assert_eq(fade_block_encode_raw(b, sizeof b, src, sizeof src), 120);
    for (size_t i = 0; i < 20; i++) {
        b[i] ^= 0x10;
        cr_assert_lt(fade_block_decode(NULL, out, sizeof out, b, sizeof b), 0, "byte %zu", i);
        b[i] ^= 0x10;
    }
    b[50] ^= 1;
    cr_assert_eq(fade_block_decode(NULL, out, sizeof out, b, sizeof b), FADE_E_CHECKSUM);
    b[50] ^= 1;
    for (size_t n = 0; n < sizeof b; n++)
        cr_assert_lt(fade_block_decode(NULL, out, sizeof out, b, n), 0);
    cr_assert_eq(fade_block_decode(NULL, out, sizeof out, b, sizeof b), 100);
}

Test(corrupt_fields, more_streams_than_the_named_preset_allows)
{
    /* A "small" block of 100 streams relabelled as "tiny" (at most 64
     * streams): rejected from the header, before any decoding. */
    const struct fade_preset *tiny = fade_preset_find("tiny");
    const struct fade_preset *small = fade_preset_find("small");
    if (!tiny || !small || small->max_streams < 100 || tiny->max_streams >= 100)
        cr_skip_test("presets changed");
    struct fade_ctx_params p = {.preset = "small", .n_streams = 100};
    fade_ctx *c;
    cr_assert_eq(fade_ctx_create(&c, &p), 0);
    static uint8_t src[3000], blk[3100], out[3000];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i % 3 ? 'a' : 'b');
    ssize_t n = fade_block_encode(c, blk, sizeof blk, src, sizeof src);
    cr_assert_gt(n, 0);
    cr_assert_eq(blk[5], FADE_CODEC_FADE);
    st_le64(blk + 16, fade_preset_model_id(tiny));
    reseal(blk);
    cr_assert_eq(fade_block_decode(c, out, sizeof out, blk, (size_t)n), FADE_E_CORRUPT);
    fade_ctx_free(c);
}
