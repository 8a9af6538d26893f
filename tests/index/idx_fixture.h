/* idx_fixture.h — the criterion fixture shared by the index test files
 * whose suites each need a fresh store with one reader: a header, not a
 * .c in tests/index/, because those are also linked into the tools, which
 * do not link criterion.  Include it once per test file; each file is its
 * own binary, so the statics are per binary. */
#ifndef FADEFS_TESTS_IDX_FIXTURE_H
#define FADEFS_TESTS_IDX_FIXTURE_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include "index/idx.h"
#include "tests/index/idx_testutil.h"

static char *dir;
static struct idx *x;
static struct idx_rd *r;

static void setup(void)
{
    dir = itest_tmpdir();
    x = itest_open(dir, 1, 0);
    cr_assert_eq(idx_rd_open(x, &r), 0);
}

static void teardown(void)
{
    idx_rd_close(r);
    idx_close(x);
    itest_rmrf(dir);
    free(dir);
}

#endif /* FADEFS_TESTS_IDX_FIXTURE_H */
