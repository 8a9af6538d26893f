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

/* Runs argv, returns its exit status (or -1 if it did not exit). */
static int run(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
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
     * preset: enough steps for the weights to drift far from their
     * initial values, so that any divergence in rounding shows. */
    static const char *files[] = {"alice29.txt", "kppkn.gtb", "coads_SST_12x90x180.f32"};
    static const char *isas[] = {"scalar", "avx2", "avx512"};
    static const enum fade_isa isa_ids[] = {FADE_ISA_SCALAR, FADE_ISA_AVX2, FADE_ISA_AVX512};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char src[2 * PATH_MAX], in[2 * PATH_MAX], ref[2 * PATH_MAX], out[2 * PATH_MAX];
        snprintf(src, sizeof src, "%s/%s", corpus, files[f]);
        snprintf(in, sizeof in, "%s/in", tmp);
        size_t n;
        unsigned char *data = slurp(src, &n);
        if (n > 12000)
            n = 40000;
        FILE *fi = fopen(in, "wb");
        cr_assert_not_null(fi);
        cr_assert_eq(fwrite(data, 1, n, fi), n);
        cr_assert_eq(fclose(fi), 0);
        free(data);

        snprintf(ref, sizeof ref, "%s/ref", tmp);
        char *argv_ref[] = {gcc_fade, "c", "-q", "-f", "-m", "tiny", "-b", "4K",
                            "--isa", "scalar", in, ref, NULL};
        cr_assert_eq(run(argv_ref), 0, "gcc fade failed on %s", files[f]);
        size_t ref_len;
        unsigned char *ref_bytes = slurp(ref, &ref_len);
        for (int c = 0; c < 2; c++)
            for (size_t i = 0; i < 3; i++) {
                if (!fade_isa_available(isa_ids[i]))
                    continue;
                snprintf(out, sizeof out, "%s/out", tmp);
                char *bin = c ? clang_fade : gcc_fade;
                char *argv_out[] = {bin, "c", "-q", "-f", "-m", "tiny", "-b", "4K",
                                    "--isa", (char *)isas[i], in, out, NULL};
                cr_assert_eq(run(argv_out), 0, "%s failed", bin);
                size_t out_len;
                unsigned char *out_bytes = slurp(out, &out_len);
                cr_expect(out_len == ref_len && memcmp(out_bytes, ref_bytes, ref_len) == 0,
                          "%s: %s build, --isa %s differs from gcc scalar",
                          files[f], c ? "clang" : "gcc", isas[i]);
                free(out_bytes);
            }
        free(ref_bytes);
    }
    fst_rm_rf(tmp);
}
