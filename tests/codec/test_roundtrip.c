/* test_roundtrip.c — the `fade` command end to end: compress/decompress
 * round trips (files, pipes, threads), its error messages and exit
 * statuses, and that a failed run leaves no partial output behind. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "codec/bytes.h"
#include "tests/codec/codec_util.h"

static char dir[4096];
static char fade[4200];

/* The fade binary of the same build as this test: <build>/fade. */
static void setup(void)
{
    cr_assert_eq(tu_mkdtemp(dir, sizeof dir), 0);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    cr_assert_gt(n, 0);
    exe[n] = 0;
    for (int up = 0; up < 3; up++)
        *strrchr(exe, '/') = 0;     /* <build>/tests/codec/test_x -> <build> */
    snprintf(fade, sizeof fade, "%s/fade", exe);
    if (access(fade, X_OK) != 0)
        cr_skip_test("%s not built", fade);
}

static void teardown(void)
{
    tu_rmdir_r(dir);
}

TestSuite(cli, .init = setup, .fini = teardown);

/* Runs `fade ARGS` in dir (sh syntax allowed); returns the exit status and
 * stores stderr's first line in err. */
static int run(char *err, size_t cap, const char *fmt, ...)
{
    char args[2048], cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && FADE=%s; %s 2>stderr.txt", dir, fade, args);
    int st = system(cmd);
    cr_assert(WIFEXITED(st), "%s", cmd);
    if (err) {
        char p[4400];
        snprintf(p, sizeof p, "%s/stderr.txt", dir);
        FILE *f = fopen(p, "r");
        err[0] = 0;
        if (f) {
            if (!fgets(err, (int)cap, f))
                err[0] = 0;
            fclose(f);
        }
        err[strcspn(err, "\n")] = 0;
    }
    return WEXITSTATUS(st);
}

static void put(const char *name, const void *b, size_t n)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    cr_assert(f && fwrite(b, 1, n, f) == n && fclose(f) == 0);
}

static uint8_t *get(const char *name, size_t *n)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return tu_read_file(p, n);
}

static int exists(const char *name)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* No temporary output files left in dir. */
static void no_leftovers(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert_null(strstr(e->d_name, ".fadetmp."), "left behind: %s", e->d_name);
    closedir(d);
}

static uint8_t *input(size_t *n)
{
    uint8_t *b = tu_corpus_slice("alice29.txt", 20000, 5000, n);
    if (!b) {
        *n = 5000;
        b = malloc(*n);
        for (size_t i = 0; i < *n; i++)
            b[i] = (uint8_t)("Down the rabbit hole. "[i % 22]);
    }
    return b;
}

Test(cli, compress_decompress_files_and_threads)
{
    size_t n, m;
    uint8_t *src = input(&n);
    put("in.txt", src, n);
    cr_assert_eq(run(NULL, 0, "$FADE c -q -m tiny -b 2K -t 3 in.txt in.fade"), 0);
    cr_assert_eq(run(NULL, 0, "$FADE d -q -t 2 in.fade out.txt"), 0);
    uint8_t *out = get("out.txt", &m);
    cr_assert_eq(m, n);
    cr_assert(memcmp(out, src, n) == 0);
    /* One thread writes the same file. */
    cr_assert_eq(run(NULL, 0, "$FADE c -q -m tiny -b 2K in.txt in1.fade && cmp -s in.fade in1.fade"), 0);
    size_t cl;
    uint8_t *c = get("in.fade", &cl);
    cr_assert_lt(cl, n, "text must shrink");
    no_leftovers();
    free(c);
    free(out);
    free(src);
}

Test(cli, pipes)
{
    size_t n, m;
    uint8_t *src = input(&n);
    put("in.txt", src, n);
    cr_assert_eq(run(NULL, 0, "cat in.txt | $FADE c -q -m tiny -b 3000 - - > p.fade"), 0);
    cr_assert_eq(run(NULL, 0, "cat p.fade | $FADE d -q - - > p.txt"), 0);
    uint8_t *out = get("p.txt", &m);
    cr_assert_eq(m, n);
    cr_assert(memcmp(out, src, n) == 0);
    free(out);
    free(src);
}

Test(cli, refuses_to_overwrite_without_force)
{
    put("in.txt", "hello hello hello hello", 23);
    put("out.fade", "keep", 4);
    char err[512];
    cr_assert_eq(run(err, sizeof err, "$FADE c -q -m tiny in.txt out.fade"), 2);
    cr_assert(strstr(err, "already exists"), "%s", err);
    size_t k;
    uint8_t *b = get("out.fade", &k);
    cr_assert(k == 4 && !memcmp(b, "keep", 4));
    free(b);
    cr_assert_eq(run(NULL, 0, "$FADE c -q -f -m tiny in.txt out.fade"), 0);
    cr_assert_eq(run(err, sizeof err, "$FADE c -q in.txt in.txt"), 2);
}

Test(cli, foreign_truncated_corrupt_inputs)
{
    char err[512];
    put("foreign", "#!/bin/sh\necho this is not a fade file\n", 40);
    cr_assert_eq(run(err, sizeof err, "$FADE d foreign out"), 1);
    cr_assert_str_eq(err, "fade: foreign: not a fade file");
    cr_assert(!exists("out"));

    size_t n;
    uint8_t *src = input(&n);
    put("in.txt", src, n);
    cr_assert_eq(run(NULL, 0, "$FADE c -q -m tiny -b 1500 in.txt in.fade"), 0);
    size_t cl;
    uint8_t *c = get("in.fade", &cl);
    put("trunc.fade", c, cl / 2);
    cr_assert_eq(run(err, sizeof err, "$FADE d trunc.fade out"), 1);
    cr_assert_str_eq(err, "fade: trunc.fade: truncated");
    cr_assert(!exists("out"));

    /* Damage the last payload byte of block 2. */
    size_t at = 32;
    for (int i = 0; i < 2; i++)
        at += 4 + ld_le32(c + at);
    c[at + 4 + ld_le32(c + at) - 1] ^= 0x08;
    put("bad.fade", c, cl);
    cr_assert_eq(run(err, sizeof err, "$FADE d bad.fade out"), 1);
    cr_assert(!strncmp(err, "fade: bad.fade: corrupt block 2: ", strlen("fade: bad.fade: corrupt block 2: ")), "%s", err);
    cr_assert(!exists("out"));
    no_leftovers();

    cr_assert_eq(run(err, sizeof err, "$FADE d no-such-file out"), 3);
    cr_assert_str_eq(err, "fade: no-such-file: No such file or directory");
    free(c);
    free(src);
}

Test(cli, help_version_usage)
{
    char err[512];
    cr_assert_eq(run(NULL, 0, "$FADE --help > help.txt"), 0);
    size_t n;
    char *h = (char *)get("help.txt", &n);
    cr_assert(h);
    h = realloc(h, n + 1);
    h[n] = 0;
    cr_assert(strstr(h, "SYNOPSIS") && strstr(h, "EXIT STATUS") && strstr(h, "EXAMPLES"));
    cr_assert(strstr(h, "--isa") && strstr(h, "--threads") && strstr(h, "--block"));
    free(h);
    cr_assert_eq(run(NULL, 0, "$FADE --version | grep -q '^fade [0-9]'"), 0);
    cr_assert_eq(run(err, sizeof err, "$FADE"), 2);
    cr_assert_eq(run(err, sizeof err, "$FADE x a b"), 2);
    cr_assert_eq(run(err, sizeof err, "$FADE c -b 0 a b"), 2);
    cr_assert_eq(run(err, sizeof err, "$FADE c -b 65M a b"), 2);
    cr_assert_eq(run(err, sizeof err, "$FADE c -m nosuch a b"), 2);
    cr_assert_eq(run(err, sizeof err, "$FADE c --isa sse a b"), 2);
}

Test(cli, bench_verifies)
{
    size_t n;
    uint8_t *src = input(&n);
    put("b.txt", src, 2000);
    cr_assert_eq(run(NULL, 0, "$FADE bench -q -m tiny -b 1K b.txt > bench.txt && grep -q ' ok$' bench.txt"), 0);
    free(src);
}
