/* test_block.c — blocks round-trip (raw and FADE), are identical across
 * ISAs and thread counts, and every damaged block is rejected. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "codec/block.h"
#include "codec/bytes.h"
#include "codec/fade.h"
#include "tests/codec/codec_util.h"

static fade_ctx *mkctx(const char *preset, uint32_t n_streams, enum fade_isa isa,
                       uint32_t threads)
{
    struct fade_ctx_params p = {.preset = preset, .n_streams = n_streams,
                                .isa = isa, .n_threads = threads};
    fade_ctx *c = NULL;
    int rc = fade_ctx_create(&c, &p);
    cr_assert_eq(rc, 0, "fade_ctx_create: %s", fade_strerror(rc));
    return c;
}

/* Encodes and decodes src with ctx; returns the encoded block (caller frees). */
static uint8_t *roundtrip(fade_ctx *c, const uint8_t *src, size_t n, size_t *blen)
{
    size_t cap = fade_block_bound(n, 0);
    uint8_t *blk = malloc(cap);
    uint8_t *out = malloc(n + 1);
    cr_assert(blk && out);
    ssize_t len = fade_block_encode(c, blk, cap, src, n);
    cr_assert_geq(len, 0, "encode %zu bytes: %s", n, fade_strerror((int)len));
    cr_assert_leq((size_t)len, cap);
    struct fade_block_info info;
    cr_assert_eq(fade_block_info(blk, (size_t)len, &info), 0);
    cr_assert_eq(info.block_len, (size_t)len);
    cr_assert_eq(info.raw_len, n);
    cr_assert_eq(info.crc32c, fade_crc32c(0, src, n));
    ssize_t d = fade_block_decode(c, out, n, blk, (size_t)len);
    cr_assert_eq(d, (ssize_t)n, "decode: %s", fade_strerror((int)d));
    cr_assert(n == 0 || memcmp(out, src, n) == 0);
    free(out);
    *blen = (size_t)len;
    return blk;
}

Test(block_raw, roundtrip_sizes)
{
    static const size_t sizes[] = {0, 1, 2, 19, 20, 21, 255, 4096, 65537};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        uint8_t *src = malloc(n + 1), *blk = malloc(n + 20), *out = malloc(n + 1);
        tu_fill_random(src, n, n + 1);
        ssize_t len = fade_block_encode_raw(blk, n + 20, src, n);
        cr_assert_eq(len, (ssize_t)(n + 20));
        cr_assert_eq(fade_block_encode_raw(blk, n + 19, src, n), FADE_E_DST_SMALL);
        struct fade_block_info info;
        cr_assert_eq(fade_block_info(blk, (size_t)len, &info), 0);
        cr_assert_eq(info.codec, FADE_CODEC_RAW);
        cr_assert_eq(info.model_id, 0);
        cr_assert_eq(info.n_streams, 0);
        cr_assert_eq(info.header_len, 20);
        /* A raw block needs no context. */
        cr_assert_eq(fade_block_decode(NULL, out, n, blk, (size_t)len), (ssize_t)n);
        cr_assert(n == 0 || memcmp(out, src, n) == 0);
        if (n)
            cr_assert_eq(fade_block_decode(NULL, out, n - 1, blk, (size_t)len), FADE_E_DST_SMALL);
        free(src);
        free(blk);
        free(out);
    }
}

Test(block_raw, too_large_is_inval)
{
    uint8_t b[32] = {0};
    cr_assert_eq(fade_block_encode_raw(b, sizeof b, b, (size_t)FADE_BLOCK_MAX_RAW + 1), FADE_E_INVAL);
}

/* fade_block_raw_header + the data is byte for byte the raw block. */
Test(block_raw, header_alone_matches_encode_raw)
{
    static const size_t sizes[] = {0, 1, 13, 20, 4096, 65536, 65537};
    cr_assert_eq(FADE_RAW_HEADER_LEN, BLK_RAW_HEADER_LEN);
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        uint8_t *src = malloc(n + 1), *blk = malloc(n + FADE_RAW_HEADER_LEN);
        uint8_t *mine = malloc(n + FADE_RAW_HEADER_LEN);
        cr_assert(src && blk && mine);
        tu_fill_random(src, n, (uint32_t)n + 7);
        cr_assert_eq(fade_block_encode_raw(blk, n + FADE_RAW_HEADER_LEN, src, n),
                     (ssize_t)(n + FADE_RAW_HEADER_LEN));
        cr_assert_eq(fade_block_raw_header(mine, FADE_RAW_HEADER_LEN, (uint32_t)n,
                                           fade_crc32c(0, src, n)),
                     (ssize_t)FADE_RAW_HEADER_LEN);
        memcpy(mine + FADE_RAW_HEADER_LEN, src, n);
        cr_assert(memcmp(mine, blk, n + FADE_RAW_HEADER_LEN) == 0, "%zu bytes", n);
        free(src);
        free(blk);
        free(mine);
    }
    uint8_t h[FADE_RAW_HEADER_LEN];
    cr_assert_eq(fade_block_raw_header(h, sizeof h - 1, 0, 0), FADE_E_DST_SMALL);
    cr_assert_eq(fade_block_raw_header(NULL, sizeof h, 0, 0), FADE_E_INVAL);
    cr_assert_eq(fade_block_raw_header(h, sizeof h, FADE_BLOCK_MAX_RAW + 1, 0),
                 FADE_E_INVAL);
    cr_assert_eq(fade_block_raw_header(h, sizeof h, FADE_BLOCK_MAX_RAW, 0),
                 (ssize_t)sizeof h);
}

Test(block_fade, small_and_odd_sizes)
{
    fade_ctx *c = mkctx("tiny", 0, FADE_ISA_AUTO, 1);
    static const size_t sizes[] = {0, 1, 2, 3, 7, 33, 100, 257, 1001};
    uint8_t src[1001];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)("the quick brown fox jumps over the lazy dog. "[i % 45]);
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t blen;
        free(roundtrip(c, src, sizes[k], &blen));
    }
    fade_ctx_free(c);
}

Test(block_fade, many_streams_odd_split)
{
    /* 1001 bytes in 1, 2, 7, 13 and 64 streams: even and uneven splits
     * (the remainder goes to the first streams). */
    uint8_t src[1001];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 7 % 13 + 'a');
    static const uint32_t ns[] = {1, 2, 7, 13, 64};
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
        fade_ctx *c = mkctx("tiny", ns[k], FADE_ISA_AUTO, 1);
        size_t blen;
        uint8_t *blk = roundtrip(c, src, sizeof src, &blen);
        struct fade_block_info info;
        cr_assert_eq(fade_block_info(blk, blen, &info), 0);
        /* With few streams periodic text must compress; 64 streams of 15
         * bytes cannot pay for their headers and flushes. */
        if (ns[k] <= 7)
            cr_assert_eq(info.codec, FADE_CODEC_FADE, "periodic text must compress");
        if (info.codec == FADE_CODEC_FADE) {
            cr_assert_eq(info.n_streams, ns[k]);
            /* Version 2: the header is the fixed part plus one minimal
             * varint per stream, and the lengths add up to the payload. */
            cr_assert_eq(info.format_version, 2);
            size_t pos = BLK_FADE_TABLE_AT, vbytes = 0, payload = 0;
            for (uint32_t b = 0; b < info.n_streams; b++) {
                uint32_t len;
                size_t at = pos;
                cr_assert_eq(blk_get_len(blk, blen, &pos, 2, &len), 0);
                cr_assert_eq(pos - at, blk_varint_len(len));
                vbytes += pos - at;
                payload += len;
            }
            cr_assert_eq(info.header_len, BLK_FADE_HEADER_FIXED + vbytes);
            cr_assert_eq(info.block_len, info.header_len + payload);
        } else {
            cr_assert_eq(info.format_version, 1, "raw blocks are written as version 1");
        }
        free(blk);
        fade_ctx_free(c);
    }
}

Test(block_fade, zeros_compress_random_falls_back_to_raw)
{
    fade_ctx *c = mkctx("tiny", 0, FADE_ISA_AUTO, 1);
    enum { N = 6000 };
    static uint8_t z[N], r[N];
    tu_fill_random(r, N, 99);
    size_t blen;
    uint8_t *blk = roundtrip(c, z, N, &blen);
    struct fade_block_info info;
    cr_assert_eq(fade_block_info(blk, blen, &info), 0);
    cr_assert_eq(info.codec, FADE_CODEC_FADE);
    cr_assert_lt(blen, N / 4, "zeros coded in %zu bytes", blen);
    free(blk);
    blk = roundtrip(c, r, N, &blen);
    cr_assert_eq(fade_block_info(blk, blen, &info), 0);
    cr_assert_eq(info.codec, FADE_CODEC_RAW, "random bytes do not shrink");
    cr_assert_eq(blen, N + 20);
    free(blk);
    fade_ctx_free(c);
}

Test(block_fade, corpus_slices)
{
    static const char *files[] = {"alice29.txt", "kppkn.gtb", "camera.pgm",
                                  "lambda_virus.fa", "bash_x86-64.elf"};
    fade_ctx *c = mkctx("tiny", 0, FADE_ISA_AUTO, 1);
    int seen = 0;
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        size_t got;
        uint8_t *src = tu_corpus_slice(files[k], 10000, 3000, &got);
        if (!src)
            continue;
        seen++;
        size_t blen;
        free(roundtrip(c, src, got, &blen));
        free(src);
    }
    fade_ctx_free(c);
    if (!seen)
        cr_skip_test("corpus not found (set FADE_CORPUS)");
}

Test(block_fade, decode_with_context_of_other_preset)
{
    /* The block names its model: a context made for "small" decodes a
     * "tiny" block. */
    uint8_t src[800];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)("abcabcabd"[i % 9]);
    fade_ctx *t = mkctx("tiny", 2, FADE_ISA_AUTO, 1);
    const struct fade_preset *second = fade_preset_at(1);
    if (!second)
        cr_skip_test("only one preset");
    fade_ctx *s = mkctx(second->name, 0, FADE_ISA_AUTO, 1);
    size_t blen;
    uint8_t *blk = roundtrip(t, src, sizeof src, &blen);
    uint8_t out[800];
    cr_assert_eq(fade_block_decode(s, out, sizeof out, blk, blen), (ssize_t)sizeof src);
    cr_assert(memcmp(out, src, sizeof src) == 0);
    /* A FADE block without a context is a caller error. */
    struct fade_block_info info;
    cr_assert_eq(fade_block_info(blk, blen, &info), 0);
    if (info.codec == FADE_CODEC_FADE)
        cr_assert_eq(fade_block_decode(NULL, out, sizeof out, blk, blen), FADE_E_INVAL);
    free(blk);
    fade_ctx_free(t);
    fade_ctx_free(s);
}

static void encode_with(const uint8_t *src, size_t n, enum fade_isa isa, uint32_t threads,
                        uint32_t streams, uint8_t **blk, size_t *blen)
{
    fade_ctx *c = mkctx("tiny", streams, isa, threads);
    *blk = roundtrip(c, src, n, blen);
    fade_ctx_free(c);
}

Test(block_fade, every_isa_gives_identical_bytes)
{
    size_t n;
    uint8_t *src = tu_corpus_slice("alice29.txt", 2000, 2500, &n);
    if (!src) {
        n = 2500;
        src = malloc(n);
        for (size_t i = 0; i < n; i++)
            src[i] = (uint8_t)("to be or not to be "[i % 19]);
    }
    uint8_t *ref;
    size_t ref_len;
    encode_with(src, n, FADE_ISA_SCALAR, 1, 4, &ref, &ref_len);
    static const enum fade_isa isas[] = {FADE_ISA_AVX2, FADE_ISA_AVX512};
    for (size_t k = 0; k < 2; k++) {
        if (!fade_isa_available(isas[k]))
            continue;
        uint8_t *b;
        size_t bl;
        encode_with(src, n, isas[k], 1, 4, &b, &bl);
        cr_assert_eq(bl, ref_len, "%s length differs", fade_isa_name(isas[k]));
        cr_assert(memcmp(b, ref, bl) == 0, "%s bytes differ", fade_isa_name(isas[k]));
        /* And each ISA decodes what the scalar path wrote. */
        fade_ctx *c = mkctx("tiny", 0, isas[k], 1);
        uint8_t *out = malloc(n);
        cr_assert_eq(fade_block_decode(c, out, n, ref, ref_len), (ssize_t)n);
        cr_assert(memcmp(out, src, n) == 0);
        free(out);
        fade_ctx_free(c);
        free(b);
    }
    free(ref);
    free(src);
}

Test(block_fade, thread_count_does_not_change_bytes)
{
    size_t n;
    uint8_t *src = tu_corpus_slice("kppkn.gtb", 5000, 2000, &n);
    if (!src) {
        n = 2000;
        src = malloc(n);
        for (size_t i = 0; i < n; i++)
            src[i] = (uint8_t)(i * i >> 3);
    }
    uint8_t *ref;
    size_t ref_len;
    encode_with(src, n, FADE_ISA_AUTO, 1, 3, &ref, &ref_len);
    for (uint32_t t = 2; t <= 4; t++) {
        uint8_t *b;
        size_t bl;
        encode_with(src, n, FADE_ISA_AUTO, t, 3, &b, &bl);
        cr_assert_eq(bl, ref_len, "%u threads: length differs", t);
        cr_assert(memcmp(b, ref, bl) == 0, "%u threads: bytes differ", t);
        free(b);
    }
    free(ref);
    free(src);
}

static void progress_cb(void *arg, uint64_t done, uint64_t total)
{
    uint64_t *last = arg;
    cr_assert_leq(done, total);
    /* Monotone within a block; encode and then decode each start at 0. */
    cr_assert(done >= last[0] || done <= 256);
    last[0] = done;
    last[1] = total;
}

Test(block_fade, progress_reaches_total)
{
    fade_ctx *c = mkctx("tiny", 1, FADE_ISA_AUTO, 1);
    uint64_t last[2] = {0, 0};
    fade_ctx_set_progress(c, progress_cb, last);
    uint8_t src[700] = {0};
    size_t blen;
    free(roundtrip(c, src, sizeof src, &blen));
    cr_assert_eq(last[0], sizeof src);
    cr_assert_eq(last[1], sizeof src);
    fade_ctx_free(c);
}

/* A raised cancel flag stops an encode within BLK_PROGRESS_STEPS steps;
 * lowered again, the same context codes the same bytes as a fresh one. */
Test(block_fade, cancel_flag_stops_encode)
{
    fade_ctx *c = mkctx("tiny", 1, FADE_ISA_AUTO, 1);
    uint8_t src[4096];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)("the cat sat on the mat. "[i % 24]);
    size_t cap = fade_block_bound(sizeof src, 1);
    uint8_t *dst = malloc(cap);
    cr_assert_not_null(dst);
    atomic_int flag = 1;
    fade_ctx_set_cancel(c, &flag);
    cr_assert_eq(fade_block_encode(c, dst, cap, src, sizeof src), FADE_E_CANCELED);
    atomic_store(&flag, 0);
    ssize_t n = fade_block_encode(c, dst, cap, src, sizeof src);
    cr_assert_gt(n, 0);
    fade_ctx_set_cancel(c, NULL);
    fade_ctx *c2 = mkctx("tiny", 1, FADE_ISA_AUTO, 1);
    uint8_t *fresh = malloc(cap);
    cr_assert_not_null(fresh);
    ssize_t fn = fade_block_encode(c2, fresh, cap, src, sizeof src);
    fade_ctx_free(c2);
    size_t blen = (size_t)fn;
    cr_assert_eq(n, fn);
    cr_assert_eq(memcmp(dst, fresh, blen), 0, "a canceled encode changed the context");
    /* Several blocks at once give what one at a time gives. */
    struct fade_batch_item it[2] = {
        { .dst = malloc(cap), .dst_cap = cap, .src = src, .src_len = sizeof src },
        { .dst = malloc(cap), .dst_cap = cap, .src = src, .src_len = 1000 },
    };
    cr_assert_eq(fade_block_encode_many(c, it, 2), 0);
    cr_assert_eq(it[0].result, (ssize_t)blen);
    cr_assert_eq(memcmp(it[0].dst, fresh, blen), 0);
    cr_assert_gt(it[1].result, 0);
    cr_assert_eq(fade_block_encode_many(NULL, it, 2), FADE_E_INVAL);
    free(it[0].dst);
    free(it[1].dst);
    free(fresh);
    free(dst);
    fade_ctx_free(c);
}

Test(block_api, bad_arguments)
{
    fade_ctx *c = NULL;
    struct fade_ctx_params p = {.preset = "no-such-preset"};
    cr_assert_eq(fade_ctx_create(&c, &p), FADE_E_INVAL);
    cr_assert_null(c);
    p.preset = "tiny";
    p.n_streams = FADE_BLOCK_MAX_STREAMS + 1;
    cr_assert_eq(fade_ctx_create(&c, &p), FADE_E_INVAL);
    p.n_streams = 0;
    p.isa = (enum fade_isa)42;
    cr_assert_eq(fade_ctx_create(&c, &p), FADE_E_INVAL);
    fade_ctx_free(NULL);
    cr_assert_eq(fade_ctx_create(&c, NULL), 0, "NULL params = defaults");
    uint8_t b[64];
    cr_assert_eq(fade_block_encode(c, b, sizeof b, NULL, 5), FADE_E_INVAL);
    cr_assert_eq(fade_block_encode(NULL, b, sizeof b, b, 5), FADE_E_INVAL);
    fade_ctx_free(c);
    struct fade_block_info info;
    cr_assert_eq(fade_block_info(b, 0, &info), FADE_E_TRUNCATED);
    cr_assert_eq(fade_block_info("GIF89a", 6, &info), FADE_E_NOT_FADE);
    cr_assert_eq(fade_block_info("\xfa", 1, &info), FADE_E_TRUNCATED);
    cr_assert_eq(fade_block_info("\xfa\xde\xb1\x0d", 4, &info), FADE_E_NOT_FADE);
}

Test(block_api, stream_length_varints)
{
    static const struct {
        uint32_t v;
        size_t len;
    } ok[] = {{0, 1}, {1, 1}, {4, 1}, {127, 1}, {128, 2}, {255, 2}, {16383, 2},
              {16384, 3}, {(1u << 21) - 1, 3}, {1u << 21, 4}, {(1u << 28) - 1, 4},
              {1u << 28, 5}, {0xFFFFFFFFu, 5}};
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        uint8_t b[16];
        memset(b, 0xAA, sizeof b);
        cr_assert_eq(blk_varint_len(ok[k].v), ok[k].len, "%u", ok[k].v);
        cr_assert_eq(blk_varint_put(b + 3, ok[k].v), ok[k].len, "%u", ok[k].v);
        cr_assert_eq(b[3 + ok[k].len], 0xAA, "writes no more than it says");
        size_t pos = 3;
        uint32_t v = 0;
        cr_assert_eq(blk_get_len(b, 3 + ok[k].len, &pos, 2, &v), 0);
        cr_assert_eq(v, ok[k].v);
        cr_assert_eq(pos, 3 + ok[k].len);
        /* Every shorter input is truncated, and the cursor stays put. */
        for (size_t end = 0; end < 3 + ok[k].len; end++) {
            pos = 3;
            cr_assert_eq(blk_get_len(b, end, &pos, 2, &v), FADE_E_TRUNCATED, "%u end %zu",
                         ok[k].v, end);
            cr_assert_eq(pos, 3);
        }
    }
    /* Not minimal, over 32 bits, a sixth byte. */
    static const struct {
        const char *b;
        size_t n;
    } bad[] = {{"\x80\x00", 2},
               {"\x84\x00", 2},
               {"\xff\x80\x00", 3},
               {"\x84\x80\x80\x80\x00", 5},
               {"\xff\xff\xff\xff\x10", 5},
               {"\xff\xff\xff\xff\x7f", 5},
               {"\x80\x80\x80\x80\x80\x01", 6},
               {"\x84\x80\x80\x80\x80\x00", 6}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        size_t pos = 0;
        uint32_t v = 7;
        cr_assert_eq(blk_get_len((const uint8_t *)bad[k].b, bad[k].n, &pos, 2, &v),
                     FADE_E_CORRUPT, "case %zu", k);
        cr_assert_eq(pos, 0);
        cr_assert_eq(v, 7);
    }
    /* One value, one encoding: of all 1- and 2-byte inputs (and random
     * 5-byte ones) exactly those the writer produces parse. */
    size_t accepted = 0;
    for (uint32_t x = 0; x < 65536 + 256; x++) {
        /* x < 256: the byte x alone; then every byte pair. */
        uint32_t y = x < 256 ? x : x - 256;
        uint8_t b[2] = {(uint8_t)y, (uint8_t)(y >> 8)}, w[8];
        size_t n = x < 256 ? 1 : 2, pos = 0;
        uint32_t v;
        int rc = blk_get_len(b, n, &pos, 2, &v);
        if (rc == 0) {
            cr_assert_eq(blk_varint_put(w, v), pos);
            cr_assert(memcmp(w, b, pos) == 0);
            accepted += pos == n;
        }
    }
    cr_assert_eq(accepted, 128 + 128 * 127, "every minimal 1- and 2-byte encoding");
    uint64_t s = 5;
    for (int k = 0; k < 20000; k++) {
        uint8_t b[5], w[8];
        uint64_t r = tu_rnd(&s);
        memcpy(b, &r, 5);
        size_t pos = 0;
        uint32_t v;
        if (blk_get_len(b, 5, &pos, 2, &v) == 0) {
            cr_assert_eq(blk_varint_put(w, v), pos);
            cr_assert(memcmp(w, b, pos) == 0);
        }
    }
    /* Version 1: a u32, 4 bytes or truncated; unknown versions: corrupt. */
    uint8_t b4[4] = {0x10, 0x20, 0x30, 0x40};
    size_t pos = 0;
    uint32_t v;
    cr_assert_eq(blk_get_len(b4, 4, &pos, 1, &v), 0);
    cr_assert_eq(v, 0x40302010u);
    cr_assert_eq(pos, 4);
    pos = 1;
    cr_assert_eq(blk_get_len(b4, 4, &pos, 1, &v), FADE_E_TRUNCATED);
    pos = 5;
    cr_assert_eq(blk_get_len(b4, 4, &pos, 2, &v), FADE_E_TRUNCATED);
    pos = 0;
    cr_assert_eq(blk_get_len(b4, 4, &pos, 0, &v), FADE_E_CORRUPT);
    cr_assert_eq(blk_get_len(b4, 4, &pos, 3, &v), FADE_E_CORRUPT);
}

static void count_progress(void *arg, uint64_t done, uint64_t total)
{
    (void)done;
    (void)total;
    ++*(unsigned *)arg;
}

/* With n streams a FADE block is at least 32 + n (one-byte lengths) + 4n
 * (a flush each) bytes: when that is not below the raw block's 20 +
 * raw_len the encoder writes raw without running the model (no progress
 * reported); one byte more and it tries.  Either way the result is the
 * shorter block and decodes. */
Test(block_fade, too_short_to_win_skips_the_model)
{
    fade_ctx *c = mkctx("tiny", 4, FADE_ISA_AUTO, 1);
    unsigned calls = 0;
    fade_ctx_set_progress(c, count_progress, &calls);
    uint8_t src[64] = {0};
    size_t blen;
    const size_t edge = BLK_FADE_HEADER_FIXED + 5 * 4 - BLK_RAW_HEADER_LEN;   /* 32 */
    uint8_t *blk = roundtrip(c, src, edge, &blen);
    cr_assert_eq(blk[5], FADE_CODEC_RAW);
    cr_assert_eq(blen, edge + BLK_RAW_HEADER_LEN);
    cr_assert_eq(calls, 0, "the model ran on a block it could not shrink");
    free(blk);
    calls = 0;
    blk = roundtrip(c, src, edge + 1, &blen);
    cr_assert_gt(calls, 0, "the model did not run");
    cr_assert_leq(blen, edge + 1 + BLK_RAW_HEADER_LEN);
    if (blk[5] == FADE_CODEC_FADE)
        cr_assert_lt(blen, edge + 1 + BLK_RAW_HEADER_LEN);
    free(blk);
    fade_ctx_free(c);
}

Test(block_api, strerror_names_every_code)
{
    for (int e = 0; e >= FADE_E_CANCELED; e--)
        cr_assert_str_neq(fade_strerror(e), "unknown error", "code %d", e);
    cr_assert_str_eq(fade_strerror(1), "unknown error");
    cr_assert_str_eq(fade_version(), FADE_VERSION_STRING);
}

Test(block_api, default_stream_count_and_split)
{
    cr_assert_eq(blk_default_streams(0, 64), 1);
    cr_assert_eq(blk_default_streams(100, 64), 1);
    cr_assert_eq(blk_default_streams(BLK_STREAM_TARGET * 3 + 5, 64), 3);
    cr_assert_eq(blk_default_streams((size_t)64 << 20, 64), 64);
    cr_assert_eq(blk_default_streams((size_t)FADE_BLOCK_MAX_STREAMS * BLK_STREAM_TARGET, 100000),
                 FADE_BLOCK_MAX_STREAMS);
    /* Split: longer streams first, contiguous, covering everything. */
    size_t at = 0;
    for (uint32_t b = 0; b < 7; b++) {
        /* 1003 = 7 * 143 + 2: streams 0 and 1 get one byte more. */
        cr_assert_eq(blk_stream_start(1003, 7, b), at);
        cr_assert_eq(blk_stream_len(1003, 7, b), b < 2 ? 144u : 143u);
        at += blk_stream_len(1003, 7, b);
    }
    cr_assert_eq(at, 1003);
}

Test(block_api, destination_too_small)
{
    fade_ctx *c = mkctx("tiny", 1, FADE_ISA_AUTO, 1);
    uint8_t src[400] = {0}, dst[300], out[400];
    cr_assert_eq(fade_block_encode(c, dst, 10, src, sizeof src), FADE_E_DST_SMALL);
    ssize_t n = fade_block_encode(c, dst, sizeof dst, src, sizeof src);
    cr_assert_gt(n, 0, "400 zeros fit in 300 bytes: %s", fade_strerror((int)n));
    cr_assert_eq(fade_block_decode(c, out, sizeof out - 1, dst, (size_t)n), FADE_E_DST_SMALL);
    cr_assert_eq(fade_block_decode(c, out, sizeof out, dst, (size_t)n), (ssize_t)sizeof src);
    fade_ctx_free(c);
}
