/* fuzz_entry.h — the one entry point shared by the libFuzzer target
 * (tests/fuzz/fuzz_block.c) and the regression replay of saved inputs
 * (tests/codec/test_golden.c), so both exercise exactly the same code.
 *
 * Property checked: arbitrary bytes given to fade_block_decode() and to the
 * container readers (streaming fc_decode_fd and indexed fc_reader_*) never
 * crash, never read out of bounds, never hang; and when a decode succeeds,
 * its output length is the length the header announced.  A FADE header
 * that fade_block_info() accepts has a length table that parses to exactly
 * its end, every version-2 length in its one minimal encoding, and lengths
 * that add up to the block.  The checks use FUZZ_CHECK, which stays on in
 * every build.
 */
#ifndef FADE_FUZZ_ENTRY_H
#define FADE_FUZZ_ENTRY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "codec/block.h"
#include "codec/container.h"
#include "codec/fade.h"

#define FUZZ_CHECK(cond)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__,    \
                    __LINE__, #cond);                                      \
            abort();                                                       \
        }                                                                  \
    } while (0)

/* Largest raw length the entry decodes; bigger claims are skipped (they
 * are legal, but a fuzzer should not spend its time allocating 64 MiB).
 * 16 KiB lets a mix block's stream live long enough to choose a row
 * length (past 6 KiB), so that path is fuzzed too. */
#define FUZZ_MAX_RAW (1u << 14)

struct fuzz_result {
    int block;          /* fade_block_decode result (< 0 error, else length) */
    int stream;         /* fc_decode_fd result */
    int indexed;        /* fc_reader_open, then the first failing block */
};

/* Writes data into a fresh memory file, positioned at 0; -1 on failure. */
static inline int fuzz_memfd(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return -1;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

/* The length table of a FADE block that fade_block_info() accepted. */
static inline void fuzz_check_table(const uint8_t *data, const struct fade_block_info *info)
{
    FUZZ_CHECK(info->format_version == 1 || info->format_version == 2);
    FUZZ_CHECK(info->header_len >= BLK_FADE_HEADER_FIXED + info->n_streams);
    size_t pos = BLK_FADE_TABLE_AT, end = info->header_len - 4;
    uint64_t payload = 0;
    for (uint32_t b = 0; b < info->n_streams; b++) {
        size_t at = pos;
        uint32_t len;
        FUZZ_CHECK(blk_get_len(data, end, &pos, info->format_version, &len) == 0);
        if (info->format_version == 2) {
            uint8_t w[BLK_VARINT_MAX];
            FUZZ_CHECK(blk_varint_put(w, len) == pos - at);
            FUZZ_CHECK(memcmp(w, data + at, pos - at) == 0);
        }
        FUZZ_CHECK(len >= 4);
        payload += len;
    }
    FUZZ_CHECK(pos == end);
    FUZZ_CHECK(info->header_len + payload == info->block_len);
}

/* Runs every decoder over data.  ctx: a context of any preset (reused). */
static inline struct fuzz_result fuzz_one(fade_ctx *ctx, const uint8_t *data, size_t size)
{
    struct fuzz_result res = {FADE_E_NOT_FADE, FADE_E_NOT_FADE, FADE_E_NOT_FADE};

    /* 1. One block. */
    struct fade_block_info info;
    int irc = fade_block_info(data, size, &info);
    if (irc == 0) {
        FUZZ_CHECK(info.block_len <= size && info.header_len <= info.block_len);
        FUZZ_CHECK(info.raw_len <= FADE_BLOCK_MAX_RAW);
        if (info.codec == FADE_CODEC_FADE)
            fuzz_check_table(data, &info);
        else
            FUZZ_CHECK(info.header_len == BLK_RAW_HEADER_LEN &&
                       info.block_len == BLK_RAW_HEADER_LEN + info.raw_len);
    }
    if (irc != 0 || info.raw_len <= FUZZ_MAX_RAW) {
        size_t cap = irc == 0 ? info.raw_len : 64;
        uint8_t *out = malloc(cap ? cap : 1);
        FUZZ_CHECK(out);
        ssize_t r = fade_block_decode(ctx, out, cap, data, size);
        if (r >= 0) {
            FUZZ_CHECK(irc == 0);
            FUZZ_CHECK((size_t)r == info.raw_len);
            FUZZ_CHECK(fade_crc32c(0, out, (size_t)r) == info.crc32c);
        }
        res.block = (int)r;
        free(out);
    }

    /* 2. A container, streamed front to back and through its index.  The
     * block size is read from the header to skip absurd allocations. */
    if (size >= 12 && data[0] == 0xFA && data[1] == 0xDE && data[2] == 0xF1 &&
        (uint32_t)(data[8] | data[9] << 8 | data[10] << 16 | (uint32_t)data[11] << 24) >
            FUZZ_MAX_RAW)
        return res;
    int in = fuzz_memfd(data, size);
    int out = memfd_create("fuzz-out", MFD_CLOEXEC);
    FUZZ_CHECK(in >= 0 && out >= 0);
    struct fc_opts o = {.ctx = ctx};
    struct fc_stats st;
    res.stream = fc_decode_fd(in, out, &o, &st);
    if (res.stream == 0) {
        FUZZ_CHECK(st.in_bytes == size);
        FUZZ_CHECK((uint64_t)lseek(out, 0, SEEK_END) == st.out_bytes);
    }
    struct fc_reader *r = NULL;
    res.indexed = fc_reader_open(&r, in);
    if (res.indexed == 0) {
        uint64_t n = fc_reader_n_blocks(r), total = 0;
        size_t bs = fc_reader_block_size(r);
        uint8_t *buf = malloc(bs);
        FUZZ_CHECK(buf);
        for (uint64_t i = 0; i < n && i < 64; i++) {
            ssize_t got = fc_reader_block(r, ctx, i, buf, bs);
            if (got < 0) {
                res.indexed = (int)got;
                break;
            }
            FUZZ_CHECK((size_t)got <= bs);
            total += (uint64_t)got;
        }
        if (res.indexed == 0 && n <= 64)
            FUZZ_CHECK(total == fc_reader_raw_len(r));
        free(buf);
        fc_reader_free(r);
    }
    /* A container that streams cleanly also opens through its index. */
    if (res.stream == 0)
        FUZZ_CHECK(res.indexed == 0);
    close(in);
    close(out);
    return res;
}

#endif /* FADE_FUZZ_ENTRY_H */
