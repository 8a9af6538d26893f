/* test_corpus.c — every file of the shared corpus, whole, survives a round
 * trip through the `fade` command (tiny preset, so the suite stays fast):
 * compress, decompress, compare byte for byte.  The corpus spans text,
 * audio, images, video, floats, genomes and mixed binaries, so this is the
 * broadest check that no kind of input trips the coder. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tests/common/mount.h"

/* 1 if the two files hold the same bytes. */
static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    static char ba[1 << 16], bb[1 << 16];
    while (same) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        if (na != nb || memcmp(ba, bb, na) != 0)
            same = 0;
        if (na == 0 || na != nb)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

Test(corpus, every_file_round_trips)
{
    char build[PATH_MAX], corpus[PATH_MAX], tmp[PATH_MAX];
    cr_assert_eq(fst_build_dir(build, sizeof build), 0);
    if (fst_corpus_dir(corpus, sizeof corpus) != 0)
        cr_skip_test("corpus not found (set FADE_CORPUS)");
    cr_assert_eq(fst_mkdtemp("corpus", tmp, sizeof tmp), 0);
    char fade[PATH_MAX + 8], packed[PATH_MAX + 8], unpacked[PATH_MAX + 8];
    snprintf(fade, sizeof fade, "%s/fade", build);
    snprintf(packed, sizeof packed, "%s/f.fade", tmp);
    snprintf(unpacked, sizeof unpacked, "%s/f.out", tmp);

    DIR *d = opendir(corpus);
    cr_assert_not_null(d);
    struct dirent *e;
    int n_files = 0;
    uint64_t raw_total = 0, packed_total = 0;
    while ((e = readdir(d)) != NULL) {
        char src[2 * PATH_MAX];
        struct stat st;
        snprintf(src, sizeof src, "%s/%s", corpus, e->d_name);
        if (e->d_name[0] == '.' || stat(src, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        char *c_argv[] = {fade, "c", "-q", "-f", "-m", "tiny", "-t", "2", src, packed, NULL};
        char *d_argv[] = {fade, "d", "-q", "-f", "-t", "2", packed, unpacked, NULL};
        char msg[1024];
        int ws;
        cr_assert_eq(fst_run_capture(c_argv, 600000, msg, sizeof msg, &ws), 0);
        cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "fade c %s: %s", e->d_name, msg);
        cr_assert_eq(fst_run_capture(d_argv, 600000, msg, sizeof msg, &ws), 0);
        cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "fade d %s: %s", e->d_name, msg);
        cr_expect(same_file(src, unpacked), "%s does not round-trip", e->d_name);
        struct stat sp;
        cr_assert_eq(stat(packed, &sp), 0);
        raw_total += (uint64_t)st.st_size;
        packed_total += (uint64_t)sp.st_size;
        n_files++;
    }
    closedir(d);
    cr_expect_gt(n_files, 30, "only %d corpus files found", n_files);
    /* Even the tiny model must shrink the corpus as a whole: a coder that
     * silently fell back to raw blocks everywhere would fail here. */
    cr_expect_lt(packed_total * 10, raw_total * 8,
                 "corpus %llu -> %llu bytes: tiny preset barely compresses",
                 (unsigned long long)raw_total, (unsigned long long)packed_total);
    fst_rm_rf(tmp);
}
