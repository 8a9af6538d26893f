/* fade_mkgolden.c — writes the golden block and container files of
 * tests/golden/{ok,bad}/ (usage: fade_mkgolden DIR).
 *
 * ok/ files must decode, bad/ files must be rejected; tests/codec/
 * test_golden.c replays both through the fuzz entry.  Files holding FADE
 * blocks name the model they were made with, so they are regenerated (and
 * the change recorded in codec/FORMAT.md) only when the format or a
 * preset's model id changes on purpose.
 *
 * The encoder writes the newest block format; files named *_v1 hold the
 * same streams in the version-1 layout (rewritten here, see to_v1), which
 * is byte for byte what the version-1 encoder wrote, so that decoding of
 * version-1 blocks stays pinned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "codec/block.h"
#include "codec/bytes.h"
#include "codec/container.h"
#include "codec/fade.h"

static const char *dir;
static int failed;

static void save(const char *sub, const char *name, const uint8_t *b, size_t n)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(b, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "fade_mkgolden: %s: %s\n", p, strerror(errno));
        failed = 1;
    }
}

static void die(const char *what)
{
    fprintf(stderr, "fade_mkgolden: %s\n", what);
    exit(1);
}

/* Recomputes the header CRC after an edit, so that the field check itself
 * (not the CRC) must catch the edit.  The length table is read in the
 * layout of the block's version (version 2's for an unknown one); it must
 * still parse. */
static void reseal_block(uint8_t *b, size_t n)
{
    if (b[5] == FADE_CODEC_RAW) {
        st_le32(b + 16, fade_crc32c(0, b, 16));
        return;
    }
    unsigned v = b[4] == 1 ? 1 : 2;
    size_t pos = BLK_FADE_TABLE_AT;
    uint32_t len;
    for (uint32_t i = 0; i < ld_le32(b + 24); i++)
        if (blk_get_len(b, n, &pos, v, &len) != 0)
            die("reseal: length table does not parse");
    st_le32(b + pos, fade_crc32c(0, b, pos));
}

/* The coded lengths of a valid FADE block into lens[]; returns the count. */
#define LENS_MAX 8u
static uint32_t block_lens(const uint8_t *b, size_t n, uint32_t *lens, struct fade_block_info *info)
{
    if (fade_block_info(b, n, info) != 0 || info->codec != FADE_CODEC_FADE)
        die("not a valid FADE block");
    if (info->n_streams > LENS_MAX)
        die("too many streams");
    size_t pos = BLK_FADE_TABLE_AT;
    for (uint32_t i = 0; i < info->n_streams; i++)
        if (blk_get_len(b, info->header_len - 4, &pos, info->format_version, &lens[i]) != 0)
            die("length table does not parse");
    return info->n_streams;
}

/* Block b (a valid version-2 FADE block of n bytes) with its length table
 * replaced by the tl bytes at tab and the header CRC recomputed after
 * them, into out; returns the new length. */
static size_t with_table(const uint8_t *b, size_t n, const uint8_t *tab, size_t tl, uint8_t *out)
{
    struct fade_block_info info;
    uint32_t lens[LENS_MAX];
    block_lens(b, n, lens, &info);
    memcpy(out, b, BLK_FADE_TABLE_AT);
    memcpy(out + BLK_FADE_TABLE_AT, tab, tl);
    size_t h = BLK_FADE_TABLE_AT + tl;
    st_le32(out + h, fade_crc32c(0, out, h));
    memcpy(out + h + 4, b + info.header_len, n - info.header_len);
    return h + 4 + n - info.header_len;
}

/* v as a varint of exactly k bytes (groups of 7 bits, low first, all but
 * the last with the top bit set), minimal or not; returns k. */
static size_t put_wide(uint8_t *p, uint64_t v, size_t k)
{
    for (size_t i = 0; i < k; i++, v >>= 7)
        p[i] = (uint8_t)((v & 0x7F) | (i + 1 < k ? 0x80 : 0));
    return k;
}

/* The minimal varint table of lens[0..k-1] into tab; returns its size. */
static size_t table_of(const uint32_t *lens, uint32_t k, uint8_t *tab)
{
    size_t tl = 0;
    for (uint32_t i = 0; i < k; i++)
        tl += blk_varint_put(tab + tl, lens[i]);
    return tl;
}

/* The version-1 form of FADE block b (n bytes) into out: version byte 1,
 * u32 lengths, the same streams.  Returns the new length. */
static size_t to_v1(const uint8_t *b, size_t n, uint8_t *out)
{
    struct fade_block_info info;
    uint32_t lens[LENS_MAX];
    uint32_t k = block_lens(b, n, lens, &info);
    memcpy(out, b, BLK_FADE_TABLE_AT);
    out[4] = 1;
    for (uint32_t i = 0; i < k; i++)
        st_le32(out + BLK_FADE_TABLE_AT + 4 * (size_t)i, lens[i]);
    size_t h = BLK_FADE_V1_HEADER_LEN(k);
    st_le32(out + h - 4, fade_crc32c(0, out, h - 4));
    memcpy(out + h, b + info.header_len, n - info.header_len);
    return h + n - info.header_len;
}

static void text(uint8_t *b, size_t n, unsigned salt)
{
    static const char s[] = "It was the best of times, it was the worst of times; ";
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)s[(i + salt) % (sizeof s - 1)];
}

static size_t fade_block(fade_ctx *c, uint8_t *out, size_t cap, const uint8_t *src, size_t n)
{
    ssize_t r = fade_block_encode(c, out, cap, src, n);
    if (r < 0) {
        fprintf(stderr, "fade_mkgolden: encode: %s\n", fade_strerror((int)r));
        exit(1);
    }
    return (size_t)r;
}

/* Container encode of src into a new buffer (memory file in between). */
static uint8_t *container(const uint8_t *src, size_t n, uint32_t bs, int raw_only, size_t *len)
{
    int in = memfd_create("in", 0), out = memfd_create("out", 0);
    if (in < 0 || out < 0 || (n && write(in, src, n) != (ssize_t)n))
        exit(1);
    lseek(in, 0, SEEK_SET);
    struct fc_opts o = {.preset = "tiny", .block_size = bs, .raw_only = raw_only};
    int rc = fc_encode_fd(in, out, &o, NULL);
    if (rc) {
        fprintf(stderr, "fade_mkgolden: container: %s\n", fade_strerror(rc));
        exit(1);
    }
    *len = (size_t)lseek(out, 0, SEEK_END);
    uint8_t *b = malloc(*len + 64);
    if (!b || pread(out, b, *len, 0) != (ssize_t)*len)
        exit(1);
    close(in);
    close(out);
    return b;
}

/* Container c (len bytes, as container() wrote it) with every FADE block
 * in its version-1 form and the frame lengths and trailer to match, in a
 * new buffer. */
static uint8_t *container_to_v1(const uint8_t *c, size_t len, size_t *out_len)
{
    uint8_t *o = malloc(len + 1024);
    uint32_t fl[16];
    uint64_t nb = 0;
    if (!o)
        exit(1);
    memcpy(o, c, FC_HEADER_LEN);
    size_t r = FC_HEADER_LEN, w = FC_HEADER_LEN;
    for (uint32_t bl; (bl = ld_le32(c + r)) != 0; r += 4 + bl) {
        if (nb == 16)
            die("container_to_v1: too many blocks");
        size_t nl = bl;
        if (c[r + 4 + 5] == FADE_CODEC_FADE)
            nl = to_v1(c + r + 4, bl, o + w + 4);
        else
            memcpy(o + w + 4, c + r + 4, bl);
        st_le32(o + w, (uint32_t)nl);
        w += 4 + nl;
        fl[nb++] = (uint32_t)nl;
    }
    r += 4;                                 /* end mark; the trailer follows */
    st_le32(o + w, 0);
    w += 4;
    size_t t = w;
    st_le64(o + w, nb);
    st_le64(o + w + 8, ld_le64(c + r + 8)); /* total raw length */
    w += 16;
    for (uint64_t i = 0; i < nb; i++, w += 4)
        st_le32(o + w, fl[i]);
    st_le32(o + w, fade_crc32c(0, o + t, w - t));
    w += 4;
    st_le32(o + w, (uint32_t)(w - t));
    memcpy(o + w + 4, c + len - 4, 4);      /* end magic */
    *out_len = w + 8;
    return o;
}

/* Offset of the trailer of a container of len bytes (from the footer). */
static size_t trailer_at(const uint8_t *c, size_t len)
{
    return len - 8 - ld_le32(c + len - 8);
}

static void reseal_trailer(uint8_t *c, size_t len)
{
    size_t t = trailer_at(c, len), tl = ld_le32(c + len - 8);
    st_le32(c + t + tl - 4, fade_crc32c(0, c + t, tl - 4));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fade_mkgolden DIR\n");
        return 2;
    }
    dir = argv[1];
    char p[4096];
    snprintf(p, sizeof p, "%s/ok", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/bad", dir);
    mkdir(p, 0755);

    fade_ctx *c1, *c5;
    struct fade_ctx_params p1 = {.preset = "tiny", .n_streams = 1};
    struct fade_ctx_params p5 = {.preset = "tiny", .n_streams = 5};
    if (fade_ctx_create(&c1, &p1) || fade_ctx_create(&c5, &p5))
        return 1;
    uint8_t src[1000], b[2048], t[2048];
    size_t n;
    text(src, sizeof src, 0);

    /* ---- good blocks ---- */
    n = (size_t)fade_block_encode_raw(b, sizeof b, src, 0);
    save("ok", "block_raw_empty.blk", b, n);
    size_t nraw = (size_t)fade_block_encode_raw(b, sizeof b, src, 100);
    save("ok", "block_raw_text.blk", b, nraw);
    uint8_t raw[256];
    memcpy(raw, b, nraw);
    /* Raw blocks are written as version 1; version 2 has the same raw
     * layout and must read too. */
    b[4] = 2;
    reseal_block(b, nraw);
    save("ok", "block_raw_text_v2.blk", b, nraw);
    size_t n1 = fade_block(c1, b, sizeof b, src, 300);
    save("ok", "block_fade_tiny_1stream.blk", b, n1);
    uint8_t one[2048];
    memcpy(one, b, n1);
    size_t n5 = fade_block(c5, b, sizeof b, src, 301);
    save("ok", "block_fade_tiny_5streams_uneven_split.blk", b, n5);
    uint8_t five[2048];
    memcpy(five, b, n5);
    if (one[5] != FADE_CODEC_FADE || five[5] != FADE_CODEC_FADE) {
        fprintf(stderr, "fade_mkgolden: test text did not compress\n");
        return 1;
    }
    if (one[4] != 2 || five[4] != 2)
        die("the encoder no longer writes version 2: update this tool");
    uint8_t one1[2048], five1[2048];
    size_t n1v1 = to_v1(one, n1, one1), n5v1 = to_v1(five, n5, five1);
    save("ok", "block_fade_tiny_1stream_v1.blk", one1, n1v1);
    save("ok", "block_fade_tiny_5streams_uneven_split_v1.blk", five1, n5v1);

    /* ---- bad blocks ---- */
#define BAD_FROM(from, name, len, stmt)                                       \
    do {                                                                      \
        memcpy(t, from, sizeof t);                                            \
        stmt;                                                                 \
        save("bad", name, t, len);                                            \
    } while (0)
#define BAD(name, len, stmt) BAD_FROM(one, name, len, stmt)
    BAD("block_header_crc_mismatch.blk", n1, t[20] ^= 4);
    BAD("block_payload_bitflip.blk", n1, t[n1 / 2 + 20] ^= 0x10);
    BAD("block_last_byte_changed.blk", n1, t[n1 - 1] ^= 0x01);
    BAD("block_truncated_payload.blk", n1 - 1, (void)0);
    BAD("block_truncated_header.blk", 30, (void)0);
    BAD("block_trailing_byte.blk", n1 + 1, t[n1] = 0);
    BAD("block_version_3.blk", n1, (t[4] = 3, reseal_block(t, n1)));
    BAD("block_version_0.blk", n1, (t[4] = 0, reseal_block(t, n1)));
    BAD("block_codec_2.blk", n1, (t[5] = 2, reseal_block(t, n1)));
    BAD("block_reserved_flag_set.blk", n1, (t[7] = 0x80, reseal_block(t, n1)));
    BAD("block_unknown_model.blk", n1, (t[16] ^= 0xff, reseal_block(t, n1)));
    BAD("block_raw_crc_mismatch_fade.blk", n1, (t[12] ^= 1, reseal_block(t, n1)));
    BAD("block_raw_len_too_big.blk", n1,
        (st_le32(t + 8, FADE_BLOCK_MAX_RAW + 1), reseal_block(t, n1)));
    BAD("block_more_streams_than_bytes.blk", n1, (st_le32(t + 8, 0), reseal_block(t, n1)));
    memcpy(t, one, 28);
    st_le32(t + 24, 0);
    st_le32(t + 28, fade_crc32c(0, t, 28));
    save("bad", "block_zero_streams.blk", t, 32);

    /* The varint length table: each file holds one defect, with the header
     * CRC recomputed, so only the length rules catch it. */
    {
        struct fade_block_info info;
        uint32_t l1[LENS_MAX], l5[LENS_MAX];
        block_lens(one, n1, l1, &info);
        block_lens(five, n5, l5, &info);
        uint8_t tab[64];
        size_t tl;
#define BADT(name, ...)                                                       \
    do {                                                                      \
        static const uint8_t tab_[] = {__VA_ARGS__};                          \
        save("bad", name, t, with_table(one, n1, tab_, sizeof tab_, t));      \
    } while (0)
        tl = blk_varint_put(tab, 3);
        save("bad", "block_stream_len_below_flush.blk", t, with_table(one, n1, tab, tl, t));
        tl = blk_varint_put(tab, 100000);
        save("bad", "block_stream_len_over_bound.blk", t, with_table(one, n1, tab, tl, t));
        /* The right length with one zero group too many (and padded to the
         * full five bytes): the value is right, the encoding is not. */
        tl = put_wide(tab, l1[0], blk_varint_len(l1[0]) + 1);
        save("bad", "block_stream_len_not_minimal.blk", t, with_table(one, n1, tab, tl, t));
        tl = put_wide(tab, l1[0], BLK_VARINT_MAX);
        save("bad", "block_stream_len_padded_to_5_bytes.blk", t, with_table(one, n1, tab, tl, t));
        /* The biggest u32 (well formed, over the bound); the right length
         * plus 2^32 in five bytes, and plus 2^35 in six: a reader that
         * dropped the bits above 32 would take them for the right one. */
        BADT("block_stream_len_max_u32.blk", 0xFF, 0xFF, 0xFF, 0xFF, 0x0F);
        tl = put_wide(tab, l1[0] + (1ull << 32), 5);
        save("bad", "block_stream_len_over_32_bits.blk", t, with_table(one, n1, tab, tl, t));
        tl = put_wide(tab, l1[0] + (1ull << 35), 6);
        save("bad", "block_stream_len_6_bytes.blk", t, with_table(one, n1, tab, tl, t));
        /* Lengths that run past the header: the last length byte says
         * "more follows" (the CRC's first byte is read as a length byte and
         * the CRC one byte later), one stream more than the table holds,
         * and a block that ends inside a length. */
        block_lens(one, n1, l1, &info);
        memcpy(t, one, n1);
        t[info.header_len - 4 - 1] |= 0x80;
        save("bad", "block_stream_len_runs_into_crc.blk", t, n1);
        memcpy(t, five, n5);
        st_le32(t + 24, 6);
        save("bad", "block_more_streams_than_lengths.blk", t, n5);
        memcpy(t, one, BLK_FADE_TABLE_AT);
        tl = blk_varint_put(t + BLK_FADE_TABLE_AT, l1[0]);
        save("bad", "block_truncated_in_stream_len.blk", t, BLK_FADE_TABLE_AT + tl - 1);
        /* 5 streams: move a byte between two stream lengths. */
        l5[0]++;
        l5[1]--;
        tl = table_of(l5, 5, tab);
        save("bad", "block_stream_lens_shifted.blk", t, with_table(five, n5, tab, tl, t));
#undef BADT
    }

    /* Version 1 keeps its own checks: the same defects in u32 tables. */
#undef BAD
#define BAD(name, len, stmt) BAD_FROM(one1, name, len, stmt)
    BAD("block_header_crc_mismatch_v1.blk", n1v1, t[20] ^= 4);
    BAD("block_truncated_header_v1.blk", 30, (void)0);
    BAD("block_stream_len_below_flush_v1.blk", n1v1, (st_le32(t + 28, 3), reseal_block(t, n1v1)));
    BAD("block_stream_len_over_bound_v1.blk", n1v1,
        (st_le32(t + 28, 100000), reseal_block(t, n1v1)));
    BAD_FROM(five1, "block_stream_lens_shifted_v1.blk", n5v1,
             (st_le32(t + 28, ld_le32(t + 28) + 1), st_le32(t + 32, ld_le32(t + 32) - 1),
              reseal_block(t, n5v1)));
#undef BAD
    memcpy(t, raw, nraw);
    t[50] ^= 0x20;
    save("bad", "block_raw_crc_mismatch.blk", t, nraw);
    memcpy(t, raw, nraw);
    t[0] = 0xFB;
    save("bad", "block_bad_magic.blk", t, nraw);

    /* ---- containers ---- */
    size_t cl;
    uint8_t *cn = container(src, 0, 100, 0, &cl);
    save("ok", "container_empty.fade", cn, cl);
    free(cn);
    cn = container(src, 250, 100, 1, &cl);
    save("ok", "container_raw_3blocks_short_last.fade", cn, cl);
    uint8_t *raw3 = cn;
    size_t raw3_len = cl;
    uint8_t mixed[600];
    text(mixed, 300, 7);
    for (size_t i = 300; i < 600; i++)
        mixed[i] = (uint8_t)(i * 2654435761u >> 13);
    cn = container(mixed, 600, 300, 0, &cl);
    save("ok", "container_tiny_fade_then_raw.fade", cn, cl);
    if (cn[32 + 4 + 5] != FADE_CODEC_FADE)
        die("container: first block did not compress");
    size_t cl1;
    uint8_t *cn1 = container_to_v1(cn, cl, &cl1);
    save("ok", "container_tiny_fade_then_raw_v1.fade", cn1, cl1);
    free(cn1);
    free(cn);
    memcpy(t, raw3, raw3_len);
    st_le64(t + 20, FC_LEN_UNKNOWN);
    st_le32(t + 28, fade_crc32c(0, t, 28));
    save("ok", "container_length_unknown.fade", t, raw3_len);

#define BADC(name, len, stmt)                                                 \
    do {                                                                      \
        memcpy(t, raw3, raw3_len);                                            \
        stmt;                                                                 \
        save("bad", name, t, len);                                            \
    } while (0)
    BADC("container_bad_magic.fade", raw3_len, t[3] ^= 1);
    BADC("container_header_crc_mismatch.fade", raw3_len, t[9] ^= 1);
    BADC("container_version_2.fade", raw3_len, (t[4] = 2, st_le32(t + 28, fade_crc32c(0, t, 28))));
    BADC("container_block_size_zero.fade", raw3_len,
         (st_le32(t + 8, 0), st_le32(t + 28, fade_crc32c(0, t, 28))));
    BADC("container_header_total_mismatch.fade", raw3_len,
         (st_le64(t + 20, 251), st_le32(t + 28, fade_crc32c(0, t, 28))));
    BADC("container_truncated_header.fade", 20, (void)0);
    BADC("container_truncated_in_block.fade", 100, (void)0);
    BADC("container_missing_trailer.fade", raw3_len - 8 - ld_le32(t + raw3_len - 8), (void)0);
    BADC("container_truncated_footer.fade", raw3_len - 3, (void)0);
    BADC("container_trailing_garbage.fade", raw3_len + 1, t[raw3_len] = '\n');
    BADC("container_frame_len_too_small.fade", raw3_len, st_le32(t + 32, 10));
    BADC("container_frame_len_too_big.fade", raw3_len, st_le32(t + 32, 121));
    BADC("container_block_byte_flipped.fade", raw3_len, t[32 + 4 + 20 + 7] ^= 1);
    BADC("container_trailer_crc_mismatch.fade", raw3_len, t[trailer_at(t, raw3_len) + 17] ^= 1);
    BADC("container_trailer_count_mismatch.fade", raw3_len,
         (st_le64(t + trailer_at(t, raw3_len), 2), reseal_trailer(t, raw3_len)));
    BADC("container_trailer_total_mismatch.fade", raw3_len,
         (st_le64(t + trailer_at(t, raw3_len) + 8, 249), reseal_trailer(t, raw3_len)));
    BADC("container_bad_end_magic.fade", raw3_len, t[raw3_len - 1] ^= 1);
    /* A short block before a full one: only the last block may be short.
     * Made by swapping the 50-byte last block in front of a 100-byte one
     * and fixing the index, so only the order rule catches it. */
    {
        size_t f0 = 32, f1 = f0 + 4 + ld_le32(raw3 + f0), f2 = f1 + 4 + ld_le32(raw3 + f1);
        size_t l2 = 4 + ld_le32(raw3 + f2), l1 = 4 + ld_le32(raw3 + f1);
        memcpy(t, raw3, raw3_len);
        memcpy(t + f1, raw3 + f2, l2);
        memcpy(t + f1 + l2, raw3 + f1, l1);
        size_t tr = trailer_at(t, raw3_len);
        st_le32(t + tr + 16 + 4, (uint32_t)(l2 - 4));
        st_le32(t + tr + 16 + 8, (uint32_t)(l1 - 4));
        reseal_trailer(t, raw3_len);
        save("bad", "container_short_block_not_last.fade", t, raw3_len);
    }
    free(raw3);
    fade_ctx_free(c1);
    fade_ctx_free(c5);
    return failed;
}
