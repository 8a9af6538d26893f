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
        {"block_version_2.blk", FADE_E_VERSION},
        {"block_bad_magic.blk", FADE_E_NOT_FADE},
        {"block_raw_crc_mismatch.blk", FADE_E_CHECKSUM},
        {"block_truncated_payload.blk", FADE_E_TRUNCATED},
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
 * block layout moved.  Bump FORMAT.md and re-pin on purpose only. */
/* Pinned on 2026-11-23 against the model as of FORMAT.md version 1. */
#define GOLDEN_TINY_LEN 1683
#define GOLDEN_TINY_CRC 0x50f07ebcu
#define GOLDEN_SMALL_LEN 1540
#define GOLDEN_SMALL_CRC 0x87f5914fu

struct pin {
    const char *preset;
    uint32_t n_streams;
    uint32_t threads;
    enum fade_isa isa;
    size_t len;
    uint32_t crc;
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
    uint32_t crc = fade_crc32c(0, b, (size_t)len);
    cr_expect(len == (ssize_t)pin->len && crc == pin->crc,
              "%s/%u streams/%u threads/%s: got len %zd crc 0x%08x, pinned %zu 0x%08x",
              pin->preset, pin->n_streams, pin->threads, fade_isa_name(pin->isa), len, crc,
              pin->len, pin->crc);
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
        {"tiny", 3, 1, FADE_ISA_SCALAR, GOLDEN_TINY_LEN, GOLDEN_TINY_CRC},
        {"tiny", 3, 2, FADE_ISA_AVX2, GOLDEN_TINY_LEN, GOLDEN_TINY_CRC},
        {"tiny", 3, 3, FADE_ISA_AVX512, GOLDEN_TINY_LEN, GOLDEN_TINY_CRC},
        {"small", 2, 1, FADE_ISA_AUTO, GOLDEN_SMALL_LEN, GOLDEN_SMALL_CRC},
    };
    for (size_t i = 0; i < sizeof pins / sizeof *pins; i++)
        check_pin(&pins[i], src, n);
    free(src);
}
