/* test_corrupt.c — damaged FADE and raw blocks are rejected: every header
 * byte flipped, every truncation, random payload damage, and hand-made
 * headers with bad fields.  Success is allowed only with the exact bytes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "codec/block.h"
#include "codec/bytes.h"
#include "codec/fade.h"
#include "codec/rc.h"
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
 * itself (not the CRC) must catch it.  The length table is read in the
 * given layout (reseal: that of the block's version byte, version 2's for
 * an unknown one) and must still parse. */
static void reseal_as(uint8_t *b, size_t n, unsigned layout)
{
    if (b[5] == FADE_CODEC_RAW) {
        st_le32(b + 16, fade_crc32c(0, b, 16));
        return;
    }
    size_t pos = BLK_FADE_TABLE_AT;
    uint32_t len;
    for (uint32_t i = 0; i < ld_le32(b + 24); i++)
        cr_assert_eq(blk_get_len(b, n, &pos, layout, &len), 0);
    cr_assert_leq(pos + 4, n);
    st_le32(b + pos, fade_crc32c(0, b, pos));
}

static void reseal(uint8_t *b, size_t n)
{
    reseal_as(b, n, b[4] == 1 ? 1 : 2);
}

/* The coded lengths of f's block (tiny: at most 8 streams here). */
static uint32_t lens_of(const struct fixture *f, uint32_t *lens, struct fade_block_info *info)
{
    cr_assert_eq(fade_block_info(f->blk, f->blen, info), 0);
    cr_assert_leq(info->n_streams, 8);
    size_t pos = BLK_FADE_TABLE_AT;
    for (uint32_t i = 0; i < info->n_streams; i++)
        cr_assert_eq(blk_get_len(f->blk, info->header_len - 4, &pos, info->format_version,
                                 &lens[i]), 0);
    cr_assert_eq(pos, info->header_len - 4);
    return info->n_streams;
}

/* f's block with its length table replaced by tab[0..tl) and the header
 * CRC recomputed, into b; returns the new length. */
static size_t with_table(const struct fixture *f, uint8_t *b, const uint8_t *tab, size_t tl)
{
    struct fade_block_info info;
    cr_assert_eq(fade_block_info(f->blk, f->blen, &info), 0);
    size_t pay = f->blen - info.header_len;
    memcpy(b, f->blk, BLK_FADE_TABLE_AT);
    memcpy(b + BLK_FADE_TABLE_AT, tab, tl);
    size_t h = BLK_FADE_TABLE_AT + tl;
    st_le32(b + h, fade_crc32c(0, b, h));
    memcpy(b + h + 4, f->blk + info.header_len, pay);
    return h + 4 + pay;
}

/* v as a varint of exactly k bytes, minimal or not; returns k. */
static size_t put_wide(uint8_t *p, uint64_t v, size_t k)
{
    for (size_t i = 0; i < k; i++, v >>= 7)
        p[i] = (uint8_t)((v & 0x7F) | (i + 1 < k ? 0x80 : 0));
    return k;
}

/* Appends lens[from..n) as minimal varints to the tl bytes of tab;
 * returns the new size. */
static size_t append_lens(uint8_t *tab, size_t tl, const uint32_t *lens, uint32_t from, uint32_t n)
{
    for (uint32_t i = from; i < n; i++)
        tl += blk_varint_put(tab + tl, lens[i]);
    return tl;
}

static size_t table_of(const uint32_t *lens, uint32_t n, uint8_t *tab)
{
    return append_lens(tab, 0, lens, 0, n);
}

/* f's block in the version-1 layout (u32 lengths) into b; returns its
 * length.  The streams do not change between versions. */
static size_t as_v1(const struct fixture *f, uint8_t *b)
{
    struct fade_block_info info;
    uint32_t lens[8];
    uint32_t n = lens_of(f, lens, &info);
    memcpy(b, f->blk, BLK_FADE_TABLE_AT);
    b[4] = 1;
    for (uint32_t i = 0; i < n; i++)
        st_le32(b + BLK_FADE_TABLE_AT + 4 * (size_t)i, lens[i]);
    size_t h = BLK_FADE_V1_HEADER_LEN(n);
    st_le32(b + h - 4, fade_crc32c(0, b, h - 4));
    memcpy(b + h, f->blk + info.header_len, f->blen - info.header_len);
    return h + f->blen - info.header_len;
}

Test(corrupt_fields, resealed_headers)
{
    struct fixture f;
    setup(&f, 3);
    uint8_t b[720];
#define EDIT(stmt, want)                                                     \
    do {                                                                     \
        memcpy(b, f.blk, f.blen);                                            \
        stmt;                                                                \
        reseal(b, f.blen);                                                   \
        cr_assert_eq(try_decode(&f, b, f.blen), want, "%s", #stmt);          \
    } while (0)
    EDIT(b[4] = 3, FADE_E_VERSION);
    EDIT(b[4] = 0xFF, FADE_E_VERSION);
    EDIT(b[4] = 0, FADE_E_CORRUPT);
    EDIT(b[5] = 2, FADE_E_CORRUPT);
    EDIT(b[6] = 1, FADE_E_CORRUPT);                 /* reserved flag */
    EDIT(b[7] = 0x80, FADE_E_CORRUPT);
    EDIT(b[16] ^= 1, FADE_E_UNKNOWN_MODEL);         /* model id */
    EDIT(st_le32(b + 12, ld_le32(b + 12) ^ 1), FADE_E_CHECKSUM);
    EDIT(st_le32(b + 8, 2), FADE_E_CORRUPT);        /* fewer bytes than streams */
    EDIT(st_le32(b + 8, FADE_BLOCK_MAX_RAW + 1), FADE_E_CORRUPT);
#undef EDIT

    /* The varint length table, one defect at a time, CRC recomputed. */
    struct fade_block_info info;
    uint32_t lens[8], l[8];
    uint32_t n = lens_of(&f, lens, &info);
    cr_assert_eq(info.format_version, 2);
    cr_assert_eq(n, 3);
    uint8_t tab[64];
    size_t tl;
    /* Unchanged table: the block still decodes (the helpers are right). */
    tl = table_of(lens, n, tab);
    cr_assert_eq(with_table(&f, b, tab, tl), f.blen);
    cr_assert_eq(try_decode(&f, b, f.blen), 0);
#define TABLE(setup_stmt, want)                                              \
    do {                                                                     \
        memcpy(l, lens, sizeof l);                                           \
        setup_stmt;                                                          \
        size_t bl_ = with_table(&f, b, tab, tl);                             \
        cr_assert_eq(try_decode(&f, b, bl_), want, "%s", #setup_stmt);       \
    } while (0)
    /* Values: below a flush, over the bound, the largest u32. */
    TABLE((l[0] = 3, tl = table_of(l, n, tab)), FADE_E_CORRUPT);
    TABLE((l[1] = (uint32_t)rc_bound(200) + 1, tl = table_of(l, n, tab)), FADE_E_CORRUPT);
    TABLE((l[2] = 0xFFFFFFFFu, tl = table_of(l, n, tab)), FADE_E_CORRUPT);
    TABLE((l[2] = 0xFFFFFFF0u, tl = table_of(l, n, tab)), FADE_E_CORRUPT);
    /* Encodings of the right values that break a rule: a zero group too
     * many (first and last length), padded to five bytes; plus 2^32 in
     * five bytes, plus 2^35 in six (right if the high bits were dropped). */
#define REST append_lens(tab, tl, l, 1, n)
    TABLE((tl = put_wide(tab, l[0], blk_varint_len(l[0]) + 1), tl = REST), FADE_E_CORRUPT);
    TABLE((tl = append_lens(tab, 0, l, 0, n - 1),
           tl += put_wide(tab + tl, l[n - 1], blk_varint_len(l[n - 1]) + 1)),
          FADE_E_CORRUPT);
    TABLE((tl = put_wide(tab, l[0], BLK_VARINT_MAX), tl = REST), FADE_E_CORRUPT);
    TABLE((tl = put_wide(tab, l[0] + (1ull << 32), 5), tl = REST), FADE_E_CORRUPT);
    TABLE((tl = put_wide(tab, l[0] + (1ull << 35), 6), tl = REST), FADE_E_CORRUPT);
#undef REST
    /* Move one byte from stream 0 to stream 1: the lengths still add up,
     * but both streams now decode garbage. */
    TABLE((l[0]--, l[1]++, tl = table_of(l, n, tab)), FADE_E_CORRUPT);
    TABLE((l[1]--, l[2]++, tl = table_of(l, n, tab)), FADE_E_CORRUPT);
#undef TABLE
    /* The last length byte says "more follows": the table runs into the
     * CRC. */
    memcpy(b, f.blk, f.blen);
    b[info.header_len - 5] |= 0x80;
    cr_assert_eq(try_decode(&f, b, f.blen), FADE_E_CORRUPT);
    /* One stream more than the table holds: the CRC is read as a length. */
    memcpy(b, f.blk, f.blen);
    st_le32(b + 24, 4);
    cr_assert_lt(try_decode(&f, b, f.blen), 0);
    /* The block ends inside the table: truncated at every byte of it. */
    for (size_t k = BLK_FADE_TABLE_AT; k < info.header_len; k++)
        cr_assert_eq(try_decode(&f, f.blk, k), FADE_E_TRUNCATED, "cut at %zu", k);

    /* A version-2 table read as version 1 (and the reverse): the block is
     * rejected, never misread. */
    memcpy(b, f.blk, f.blen);
    b[4] = 1;
    cr_assert_lt(try_decode(&f, b, f.blen), 0);
    size_t l1 = as_v1(&f, b);
    cr_assert_eq(try_decode(&f, b, l1), 0, "version-1 form decodes");
    b[4] = 2;
    cr_assert_lt(try_decode(&f, b, l1), 0);

    /* Version 1 keeps every check it had (u32 lengths, CRC resealed). */
#define EDIT1(stmt, want)                                                    \
    do {                                                                     \
        as_v1(&f, b);                                                        \
        stmt;                                                                \
        reseal_as(b, l1, 1);                                                 \
        cr_assert_eq(try_decode(&f, b, l1), want, "%s", #stmt);              \
    } while (0)
    EDIT1(b[4] = 3, FADE_E_VERSION);
    EDIT1(st_le32(b + 8, 2), FADE_E_CORRUPT);
    EDIT1(b[16] ^= 1, FADE_E_UNKNOWN_MODEL);
    EDIT1(st_le32(b + 28, 3), FADE_E_CORRUPT);       /* stream shorter than a flush */
    EDIT1(st_le32(b + 28, 0xFFFFFFF0u), FADE_E_CORRUPT);
    EDIT1((st_le32(b + 28, ld_le32(b + 28) - 1), st_le32(b + 32, ld_le32(b + 32) + 1)),
          FADE_E_CORRUPT);
#undef EDIT1
    for (size_t k = 0; k < l1; k++)
        cr_assert_lt(try_decode(&f, b, k), 0, "version 1 cut at %zu", k);

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
    reseal(blk, (size_t)n);
    cr_assert_eq(fade_block_decode(c, out, sizeof out, blk, (size_t)n), FADE_E_CORRUPT);
    fade_ctx_free(c);
}
