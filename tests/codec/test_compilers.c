/* test_compilers.c — the gcc and clang builds of `fade` write identical
 * bytes, on every ISA this machine has: the exact-arithmetic contract must
 * not depend on the compiler's choices (instruction selection, inlining,
 * vectorisation of the scalar path).  `make test` builds build-clang/fade
 * beside build/fade when clang is installed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "codec/fade.h"
#include "tests/common/mount.h"

/* Runs argv to completion and fails the test unless it exits 0. */
static void run_ok(char *const argv[])
{
    char msg[1024];
    int st;
    cr_assert_eq(fst_run_capture(argv, 600000, msg, sizeof msg, &st), 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed: %s", argv[0], msg);
}

Test(compilers, gcc_and_clang_write_the_same_bytes)
{
    char build[PATH_MAX], root[PATH_MAX], corpus[PATH_MAX], tmp[PATH_MAX];
    cr_assert_eq(fst_build_dir(build, sizeof build), 0);
    cr_assert_eq(fst_repo_root(root, sizeof root), 0);
    if (fst_corpus_dir(corpus, sizeof corpus) != 0)
        cr_skip_test("no corpus");
    if (strstr(build, "build-clang") || strstr(build, "build-san"))
        cr_skip_test("runs from the gcc build only");
    char gcc_fade[PATH_MAX + 8], clang_fade[PATH_MAX + 32];
    snprintf(gcc_fade, sizeof gcc_fade, "%s/fade", build);
    snprintf(clang_fade, sizeof clang_fade, "%s/build-clang/fade", root);
    if (access("/usr/bin/clang", X_OK) != 0)
        cr_skip_test("clang not installed");
    cr_assert_eq(access(clang_fade, X_OK), 0,
                 "%s missing: `make test` builds it when clang is installed", clang_fade);
    cr_assert_eq(fst_mkdtemp("cc", tmp, sizeof tmp), 0);

    /* Slices of three kinds of data, a few blocks each, with the test
     * preset (enough steps for the weights to drift far from their
     * initial values, so that any divergence in rounding shows) and with
     * the default mix preset, its network on every step (max's rule is
     * not needed: the gate runs it on the first windows of every block,
     * and the integer stage around it is the same code). */
    static const char *files[] = {"alice29.txt", "kppkn.gtb", "coads_SST_12x90x180.f32"};
    static const char *isas[] = {"scalar", "avx2", "avx512"};
    static const enum fade_isa isa_ids[] = {FADE_ISA_SCALAR, FADE_ISA_AVX2, FADE_ISA_AVX512};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char src[2 * PATH_MAX], in[2 * PATH_MAX], ref[2 * PATH_MAX], out[2 * PATH_MAX];
        snprintf(src, sizeof src, "%s/%s", corpus, files[f]);
        snprintf(in, sizeof in, "%s/in", tmp);
        size_t n;
        char *data;
        cr_assert_eq(fst_read_text(src, &data, &n), 0, "cannot read %s", src);
        if (n > 12000)
            n = 40000;
        FILE *fi = fopen(in, "wb");
        cr_assert_not_null(fi);
        cr_assert_eq(fwrite(data, 1, n, fi), n);
        cr_assert_eq(fclose(fi), 0);
        free(data);

        for (int pm = 0; pm < 2; pm++) {
        char *preset = pm ? "mix" : "tiny", *bsz = pm ? "16K" : "4K";
        snprintf(ref, sizeof ref, "%s/ref", tmp);
        char *argv_ref[] = {gcc_fade, "c", "-q", "-f", "-m", preset, "-b", bsz,
                            "--isa", "scalar", in, ref, NULL};
        run_ok(argv_ref);
        size_t ref_len;
        char *ref_bytes;
        cr_assert_eq(fst_read_text(ref, &ref_bytes, &ref_len), 0);
        for (int c = 0; c < 2; c++)
            for (size_t i = 0; i < 3; i++) {
                if (!fade_isa_available(isa_ids[i]))
                    continue;
                snprintf(out, sizeof out, "%s/out", tmp);
                char *bin = c ? clang_fade : gcc_fade;
                char *argv_out[] = {bin, "c", "-q", "-f", "-m", preset, "-b", bsz,
                                    "--isa", (char *)isas[i], in, out, NULL};
                run_ok(argv_out);
                size_t out_len;
                char *out_bytes;
                cr_assert_eq(fst_read_text(out, &out_bytes, &out_len), 0);
                cr_expect(out_len == ref_len && memcmp(out_bytes, ref_bytes, ref_len) == 0,
                          "%s (%s): %s build, --isa %s differs from gcc scalar",
                          files[f], preset, c ? "clang" : "gcc", isas[i]);
                free(out_bytes);
            }
        free(ref_bytes);
        }
    }
    fst_rm_rf(tmp);
}
