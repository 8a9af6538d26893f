/* idx_testutil.c — helpers for the index/ tests: temporary stores. */
#include "tests/index/idx_testutil.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* No criterion here: tests/tools/ programs link this file without it.
 * A failed helper aborts, which criterion reports as a crashed test. */
static void check(int ok, const char *fmt, ...)
{
    if (ok)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "itest: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

char *itest_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/fadefs-idx-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    check(d != NULL, "mkdtemp(%s) failed", tmpl);
    return strdup(d);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

void itest_rmrf(const char *dir)
{
    if (dir)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct idx *itest_open(const char *dir, int create, uint64_t segment_max)
{
    struct idx_opts o = { .create = create, .block_size = 65536,
                          .segment_max = segment_max };
    struct idx *x = NULL;
    char msg[256];
    int rc = idx_open(&x, dir, &o, msg, sizeof msg);
    check(rc == 0, "idx_open(%s): %d %s", dir, rc, msg);
    return x;
}

void itest_fill(void *buf, size_t n, uint32_t seed)
{
    unsigned char *p = buf;
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 17; s ^= s << 5;
        p[i] = (unsigned char)s;
    }
}

void itest_put_block(struct idx *x, uint64_t ino, uint64_t blkno,
                     const void *data, size_t len, struct idx_bloc *loc)
{
    struct idx_bloc l;
    int rc = idx_w_payload_append(x, ino, blkno, 0, (uint32_t)len, data, len, &l);
    check(rc == 0, "payload_append(%llu, %llu): %d", (unsigned long long)ino,
          (unsigned long long)blkno, rc);
    rc = idx_w_block_put(x, ino, blkno, &l);
    check(rc == 0, "block_put(%llu, %llu): %d", (unsigned long long)ino,
          (unsigned long long)blkno, rc);
    if (loc)
        *loc = l;
}

const char *itest_path(const char *dir, const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}
