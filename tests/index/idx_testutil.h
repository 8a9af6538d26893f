/* idx_testutil.h — helpers for the index/ tests: temporary stores. */
#ifndef FADEFS_IDX_TESTUTIL_H
#define FADEFS_IDX_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "index/idx.h"

/* A fresh empty directory under $TMPDIR (or /tmp); malloc'd path. */
char *itest_tmpdir(void);
/* Removes a directory tree (best effort). */
void itest_rmrf(const char *dir);
/* Opens (creating) a store in dir; fails the test on error. */
struct idx *itest_open(const char *dir, int create, uint64_t segment_max);
/* Deterministic pseudo-random bytes. */
void itest_fill(void *buf, size_t n, uint32_t seed);
/* Appends a payload for (ino, blkno), puts its row; fails the test on error. */
void itest_put_block(struct idx *x, uint64_t ino, uint64_t blkno,
                     const void *data, size_t len, struct idx_bloc *loc);
/* Path of a file inside dir (static buffer, one at a time). */
const char *itest_path(const char *dir, const char *name);

#endif
