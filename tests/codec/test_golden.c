/* test_golden.c — pins the format: golden files in tests/golden/ok must
 * decode and those in tests/golden/bad must be rejected (replayed through
 * the fuzz entry, tests/fuzz/fuzz_entry.h, as libFuzzer would), a saved
 * fuzz corpus replays without a crash, and encoding a fixed corpus slice
 * gives pinned bytes. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codec/fade.h"
#include "tests/codec/codec_util.h"
#include "tests/fuzz/fuzz_entry.h"

static fade_ctx *tiny_ctx(void)
{
    fade_ctx *c;
    struct fade_ctx_params p = {.preset = "tiny"};
    cr_assert_eq(fade_ctx_create(&c, &p), 0);
    return c;
}

/* Reads tests/golden/<rel> into a new buffer; NULL if not found. */
static uint8_t *golden(const char *rel, size_t *len)
{
    char p[4096], full[4400];
    if (!tu_repo_path("tests/golden", p, sizeof p))
        return NULL;
    snprintf(full, sizeof full, "%s/%s", p, rel);
    return tu_read_file(full, len);
}

/* Calls fn on every regular file of dir; returns the count. */
static int each_file(const char *dir, void (*fn)(fade_ctx *, const char *, const uint8_t *, size_t),
                     fade_ctx *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        size_t len;
        uint8_t *b = tu_read_file(p, &len);
        if (!b)
            continue;
        fn(ctx, e->d_name, b, len);
        free(b);
        n++;
    }
    closedir(d);
    return n;
}

static void check_ok(fade_ctx *ctx, const char *name, const uint8_t *b, size_t n)
{
    struct fuzz_result r = fuzz_one(ctx, b, n);
    if (!strncmp(name, "block_", 6)) {
        cr_expect_geq(r.block, 0, "%s: %s", name, fade_strerror(r.block));
    } else {
        cr_expect_eq(r.stream, 0, "%s: %s", name, fade_strerror(r.stream));
        cr_expect_eq(r.indexed, 0, "%s (index): %s", name, fade_strerror(r.indexed));
    }
}

static void check_bad(fade_ctx *ctx, const char *name, const uint8_t *b, size_t n)
{
    struct fuzz_result r = fuzz_one(ctx, b, n);
    cr_expect_lt(r.block, 0, "%s decoded as a block", name);
    cr_expect_lt(r.stream, 0, "%s decoded as a container", name);
    /* Some files capture one specific error. */
    static const struct {
        const char *name;
        int err;
    } want[] = {
        {"block_unknown_model.blk", FADE_E_UNKNOWN_MODEL},
        {"block_version_3.blk", FADE_E_VERSION},
        {"block_bad_magic.blk", FADE_E_NOT_FADE},
        {"block_raw_crc_mismatch.blk", FADE_E_CHECKSUM},
        {"block_truncated_payload.blk", FADE_E_TRUNCATED},
        {"block_truncated_header.blk", FADE_E_TRUNCATED},
        {"block_truncated_header_v1.blk", FADE_E_TRUNCATED},
        {"block_truncated_in_stream_len.blk", FADE_E_TRUNCATED},
        /* The varint length rules (header CRC resealed: the rule itself
         * must reject them). */
        {"block_stream_len_below_flush.blk", FADE_E_CORRUPT},
        {"block_stream_len_over_bound.blk", FADE_E_CORRUPT},
        {"block_stream_len_not_minimal.blk", FADE_E_CORRUPT},
        {"block_stream_len_padded_to_5_bytes.blk", FADE_E_CORRUPT},
        {"block_stream_len_max_u32.blk", FADE_E_CORRUPT},
        {"block_stream_len_over_32_bits.blk", FADE_E_CORRUPT},
        {"block_stream_len_6_bytes.blk", FADE_E_CORRUPT},
        {"block_stream_len_runs_into_crc.blk", FADE_E_CORRUPT},
        {"block_more_streams_than_lengths.blk", FADE_E_CORRUPT},
        {"block_stream_len_below_flush_v1.blk", FADE_E_CORRUPT},
        {"block_stream_len_over_bound_v1.blk", FADE_E_CORRUPT},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strcmp(name, want[i].name))
            cr_expect_eq(r.block, want[i].err, "%s: got %s", name, fade_strerror(r.block));
    static const struct {
        const char *name;
        int err;
    } want_c[] = {
        {"container_bad_magic.fade", FADE_E_NOT_FADE},
        {"container_version_2.fade", FADE_E_VERSION},
        {"container_truncated_in_block.fade", FADE_E_TRUNCATED},
        {"container_missing_trailer.fade", FADE_E_TRUNCATED},
        {"container_trailing_garbage.fade", FADE_E_CORRUPT},
        {"container_short_block_not_last.fade", FADE_E_CORRUPT},
    };
    for (size_t i = 0; i < sizeof want_c / sizeof *want_c; i++)
        if (!strcmp(name, want_c[i].name))
            cr_expect_eq(r.stream, want_c[i].err, "%s: got %s", name, fade_strerror(r.stream));
}

Test(golden, ok_files_decode)
{
    char dir[4096];
    if (!tu_repo_path("tests/golden/ok", dir, sizeof dir))
        cr_skip_test("tests/golden/ok not found");
    fade_ctx *c = tiny_ctx();
    cr_assert_gt(each_file(dir, check_ok, c), 0);
    fade_ctx_free(c);
}

Test(golden, bad_files_are_rejected)
{
    char dir[4096];
    if (!tu_repo_path("tests/golden/bad", dir, sizeof dir))
        cr_skip_test("tests/golden/bad not found");
    fade_ctx *c = tiny_ctx();
    cr_assert_gt(each_file(dir, check_bad, c), 0);
    fade_ctx_free(c);
}

/* The block format changed from version 1 (u32 stream lengths) to 2
 * (varints) without touching the streams: the *_v1 golden files hold the
 * same streams as the current ones and must decode to the same bytes;
 * raw blocks are still written as version 1. */
Test(golden, version_1_and_2_blocks_decode_alike)
{
    static const char *names[] = {"ok/block_fade_tiny_1stream", "ok/block_fade_tiny_5streams_uneven_split"};
    fade_ctx *c = tiny_ctx();
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        char n1[256], n2[256];
        snprintf(n2, sizeof n2, "%s.blk", names[k]);
        snprintf(n1, sizeof n1, "%s_v1.blk", names[k]);
        size_t l1, l2;
        uint8_t *b1 = golden(n1, &l1), *b2 = golden(n2, &l2);
        if (!b1 || !b2)
            cr_skip_test("tests/golden not found");
        struct fade_block_info i1, i2;
        cr_assert_eq(fade_block_info(b1, l1, &i1), 0, "%s", n1);
        cr_assert_eq(fade_block_info(b2, l2, &i2), 0, "%s", n2);
        cr_expect_eq(i1.format_version, 1);
        cr_expect_eq(i2.format_version, 2);
        cr_assert_eq(i1.n_streams, i2.n_streams);
        cr_expect_eq(i1.header_len, 32 + 4 * (size_t)i1.n_streams);
        cr_expect_lt(i2.header_len, i1.header_len);
        cr_assert_eq(l1 - i1.header_len, l2 - i2.header_len, "%s: streams differ", names[k]);
        cr_expect(memcmp(b1 + i1.header_len, b2 + i2.header_len, l1 - i1.header_len) == 0,
                  "%s: streams differ", names[k]);
        uint8_t o1[1024], o2[1024];
        cr_assert_eq(fade_block_decode(c, o1, sizeof o1, b1, l1), (ssize_t)i1.raw_len);
        cr_assert_eq(fade_block_decode(c, o2, sizeof o2, b2, l2), (ssize_t)i2.raw_len);
        cr_expect(i1.raw_len == i2.raw_len && memcmp(o1, o2, i1.raw_len) == 0);
        free(b1);
        free(b2);
    }
    size_t lr;
    uint8_t *r = golden("ok/block_raw_text.blk", &lr);
    cr_assert_not_null(r);
    cr_expect_eq(r[4], 1, "raw blocks are written as version 1");
    free(r);
    fade_ctx_free(c);
}

static void replay(fade_ctx *ctx, const char *name, const uint8_t *b, size_t n)
{
    (void)name;
    fuzz_one(ctx, b, n);
}

/* The minimised fuzzing corpus kept in tests/fuzz/corpus/fuzz_block
 * replays without a crash; FADE_FUZZ_CORPUS=DIR replays another one (for
 * example build/fuzz/corpus/fuzz_block after a long run). */
Test(golden, fuzz_corpus_replays)
{
    char buf[4096];
    const char *dir = getenv("FADE_FUZZ_CORPUS");
    if (!dir)
        dir = tu_repo_path("tests/fuzz/corpus/fuzz_block", buf, sizeof buf);
    if (!dir)
        cr_skip_test("no fuzzing corpus found");
    fade_ctx *c = tiny_ctx();
    cr_assert_gt(each_file(dir, replay, c), 0, "cannot read %s", dir);
    fade_ctx_free(c);
}

/* Encoding a fixed slice of the corpus must give these exact bytes on every
 * machine, ISA and thread count.  A change here is a format change: the
 * model, its initial weights, the frequency rule, the range coder or the
 * block layout moved.  Bump FORMAT.md and re-pin on purpose only.
 *
 * The hash is FNV-1a (64 bits), not CRC32C: a block ends its header with
 * the header's own CRC32C, and the CRC32C of any message followed by its
 * CRC is a constant, so a CRC32C of the whole block depends on the payload
 * only and would not see a change of the header. */
/* Re-pinned on 2026-11-23 for block format version 2 (varint stream
 * lengths: 3 streams save 6 header bytes, 2 streams 4; same streams). */
#define GOLDEN_TINY_LEN 1677
#define GOLDEN_TINY_HASH 0xc86e2f3254491261ull
#define GOLDEN_SMALL_LEN 1536
#define GOLDEN_SMALL_HASH 0xdfdf828625c000d6ull

struct pin {
    const char *preset;
    uint32_t n_streams;
    uint32_t threads;
    enum fade_isa isa;
    size_t len;
    uint64_t hash;
};

static void check_pin(const struct pin *pin, const uint8_t *src, size_t n)
{
    if (pin->isa != FADE_ISA_AUTO && !fade_isa_available(pin->isa))
        return;
    struct fade_ctx_params p = {.preset = pin->preset, .n_streams = pin->n_streams,
                                .n_threads = pin->threads, .isa = pin->isa};
    fade_ctx *c;
    cr_assert_eq(fade_ctx_create(&c, &p), 0);
    size_t cap = fade_block_bound(n, 0);
    uint8_t *b = malloc(cap);
    ssize_t len = fade_block_encode(c, b, cap, src, n);
    cr_assert_gt(len, 0);
    uint64_t h = tu_fnv1a64(b, (size_t)len);
    cr_expect(len == (ssize_t)pin->len && h == pin->hash,
              "%s/%u streams/%u threads/%s: got len %zd hash 0x%016llxull, pinned %zu 0x%016llxull",
              pin->preset, pin->n_streams, pin->threads, fade_isa_name(pin->isa), len,
              (unsigned long long)h, pin->len, (unsigned long long)pin->hash);
    free(b);
    fade_ctx_free(c);
}

Test(golden, pinned_encodings)
{
    size_t n;
    uint8_t *src = tu_corpus_slice("alice29.txt", 0, 3000, &n);
    if (!src || n != 3000)
        cr_skip_test("corpus not found (set FADE_CORPUS)");
    static const struct pin pins[] = {
        {"tiny", 3, 1, FADE_ISA_SCALAR, GOLDEN_TINY_LEN, GOLDEN_TINY_HASH},
        {"tiny", 3, 2, FADE_ISA_AVX2, GOLDEN_TINY_LEN, GOLDEN_TINY_HASH},
        {"tiny", 3, 3, FADE_ISA_AVX512, GOLDEN_TINY_LEN, GOLDEN_TINY_HASH},
        {"small", 2, 1, FADE_ISA_AUTO, GOLDEN_SMALL_LEN, GOLDEN_SMALL_HASH},
    };
    for (size_t i = 0; i < sizeof pins / sizeof *pins; i++)
        check_pin(&pins[i], src, n);
    free(src);
}
