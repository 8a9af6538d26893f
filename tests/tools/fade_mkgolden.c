/* fade_mkgolden.c — writes the golden block and container files of
 * tests/golden/{ok,bad}/ (usage: fade_mkgolden DIR).
 *
 * ok/ files must decode, bad/ files must be rejected; tests/codec/
 * test_golden.c replays both through the fuzz entry.  Files holding FADE
 * blocks name the model they were made with, so they are regenerated (and
 * the change recorded in codec/FORMAT.md) only when the format or a
 * preset's model id changes on purpose.
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

static void reseal_block(uint8_t *b)
{
    if (b[5] == FADE_CODEC_RAW) {
        st_le32(b + 16, fade_crc32c(0, b, 16));
    } else {
        size_t h = BLK_FADE_HEADER_LEN(ld_le32(b + 24));
        st_le32(b + h - 4, fade_crc32c(0, b, h - 4));
    }
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
    size_t n1 = fade_block(c1, b, sizeof b, src, 300);
    save("ok", "block_fade_tiny_1stream.blk", b, n1);
    uint8_t one[2048];
    memcpy(one, b, n1);
    size_t n5 = fade_block(c5, b, sizeof b, src, 301);
    save("ok", "block_fade_tiny_5streams_uneven_split.blk", b, n5);
    if (one[5] != FADE_CODEC_FADE || b[5] != FADE_CODEC_FADE) {
        fprintf(stderr, "fade_mkgolden: test text did not compress\n");
        return 1;
    }

    /* ---- bad blocks ---- */
#define BAD(name, len, stmt)                                                  \
    do {                                                                      \
        memcpy(t, one, n1);                                                   \
        stmt;                                                                 \
        save("bad", name, t, len);                                            \
    } while (0)
    BAD("block_header_crc_mismatch.blk", n1, t[20] ^= 4);
    BAD("block_payload_bitflip.blk", n1, t[n1 / 2 + 20] ^= 0x10);
    BAD("block_last_byte_changed.blk", n1, t[n1 - 1] ^= 0x01);
    BAD("block_truncated_payload.blk", n1 - 1, (void)0);
    BAD("block_truncated_header.blk", 30, (void)0);
    BAD("block_trailing_byte.blk", n1 + 1, t[n1] = 0);
    BAD("block_version_2.blk", n1, (t[4] = 2, reseal_block(t)));
    BAD("block_version_0.blk", n1, (t[4] = 0, reseal_block(t)));
    BAD("block_codec_2.blk", n1, (t[5] = 2, reseal_block(t)));
    BAD("block_reserved_flag_set.blk", n1, (t[7] = 0x80, reseal_block(t)));
    BAD("block_unknown_model.blk", n1, (t[16] ^= 0xff, reseal_block(t)));
    BAD("block_raw_crc_mismatch_fade.blk", n1, (t[12] ^= 1, reseal_block(t)));
    BAD("block_stream_len_below_flush.blk", n1, (st_le32(t + 28, 3), reseal_block(t)));
    BAD("block_stream_len_over_bound.blk", n1, (st_le32(t + 28, 100000), reseal_block(t)));
    BAD("block_raw_len_too_big.blk", n1,
        (st_le32(t + 8, FADE_BLOCK_MAX_RAW + 1), reseal_block(t)));
    BAD("block_more_streams_than_bytes.blk", n1, (st_le32(t + 8, 0), reseal_block(t)));
    memcpy(t, one, 28);
    st_le32(t + 24, 0);
    st_le32(t + 28, fade_crc32c(0, t, 28));
    save("bad", "block_zero_streams.blk", t, 32);
    memcpy(t, b, n5);   /* 5 streams: move a byte between stream lengths */
    st_le32(t + 28, ld_le32(t + 28) + 1);
    st_le32(t + 32, ld_le32(t + 32) - 1);
    reseal_block(t);
    save("bad", "block_stream_lens_shifted.blk", t, n5);
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
