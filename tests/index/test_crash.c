/* test_crash.c — a process killed at any moment leaves a store that opens
 * and holds everything it committed durably. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "index/idx.h"
#include "tests/index/idx_testutil.h"

static char *dir;
static void setup(void) { dir = itest_tmpdir(); }
static void teardown(void) { itest_rmrf(dir); free(dir); }

TestSuite(crash, .init = setup, .fini = teardown);

#define BLK 3000

static int round_no;   /* names and the file differ per round */
#define FILE_INO (50 + (uint64_t)round_no)

/* Child: commits file blocks one durable transaction at a time, telling
 * the parent the number of each commit, until killed. */
static void child_writer(int wfd, int n_max)
{
    struct idx *x = itest_open(dir, 0, 65536);
    char *buf = malloc(BLK);
    for (int i = 0; i < n_max; i++) {
        if (idx_w_begin(x) != 0)
            _exit(3);
        itest_fill(buf, BLK, (uint32_t)i);
        struct idx_bloc l;
        if (idx_w_payload_append(x, FILE_INO, (uint64_t)i, 0, BLK, buf, BLK, &l) != 0 ||
            idx_w_block_put(x, FILE_INO, (uint64_t)i, &l) != 0)
            _exit(4);
        char name[32];
        int n = snprintf(name, sizeof name, "r%d-f%d", round_no, i);
        if (idx_w_link(x, 1, name, (size_t)n, FILE_INO) != 0)
            _exit(5);
        if (idx_w_commit(x, 1) != 0)
            _exit(6);
        if (write(wfd, &i, sizeof i) != sizeof i)
            _exit(7);
    }
    /* Then an uncommitted transaction that stays open until the kill. */
    if (idx_w_begin(x) != 0)
        _exit(8);
    for (int i = 0; i < 50; i++) {
        struct idx_bloc l;
        itest_fill(buf, BLK, 999);
        if (idx_w_payload_append(x, FILE_INO, 10000 + (uint64_t)i, 0, BLK, buf, BLK, &l) != 0 ||
            idx_w_block_put(x, FILE_INO, 10000 + (uint64_t)i, &l) != 0)
            _exit(9);
    }
    int done = -1;
    if (write(wfd, &done, sizeof done) != sizeof done)
        _exit(10);
    for (;;)
        pause();
}

static int last_reported(int rfd, pid_t pid, int stop_at)
{
    int last = -1, v;
    while (read(rfd, &v, sizeof v) == sizeof v) {
        if (v < 0 || v >= stop_at) {
            if (v >= 0)
                last = v;
            break;
        }
        last = v;
    }
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFSIGNALED(st), "child exited with %d", WEXITSTATUS(st));
    return last;
}

static void check_prefix(int n)
{
    struct idx *x = itest_open(dir, 0, 0);
    struct idx_rd *r;
    cr_assert_eq(idx_rd_open(x, &r), 0);
    char *buf = malloc(BLK), *want = malloc(BLK);
    for (int i = 0; i <= n; i++) {
        struct idx_bloc l;
        cr_assert_eq(idx_r_block_get(r, FILE_INO, (uint64_t)i, &l), 0, "block %d of %d", i, n);
        cr_assert_eq(idx_r_payload_read(r, &l, buf, BLK), 0);
        itest_fill(want, BLK, (uint32_t)i);
        cr_assert_eq(memcmp(buf, want, BLK), 0);
        char name[32];
        int k = snprintf(name, sizeof name, "r%d-f%d", round_no, i);
        uint64_t ino;
        cr_assert_eq(idx_r_lookup(r, 1, name, (size_t)k, &ino), 0);
    }
    struct idx_bloc l;
    cr_assert_eq(idx_r_block_get(r, FILE_INO, 10000, &l), -ENOENT);
    free(buf);
    free(want);
    idx_rd_close(r);
    idx_close(x);
}

Test(crash, sigkill_after_durable_commit)
{
    idx_close(itest_open(dir, 1, 0));
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_writer(p[1], 20);
    }
    close(p[1]);
    int last = last_reported(p[0], pid, 1 << 30);
    close(p[0]);
    cr_assert_eq(last, 19);
    check_prefix(last);
}

Test(crash, sigkill_at_random_moments)
{
    idx_close(itest_open(dir, 1, 0));
    int killed_mid = 0;
    for (int round = 0; round < 4; round++) {
        round_no = round;
        int p[2];
        cr_assert_eq(pipe(p), 0);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child_writer(p[1], 1 << 20);
        }
        close(p[1]);
        /* Kill after the first commit plus a while, mid-whatever it is
         * doing then. */
        int last = -1, v;
        cr_assert_eq(read(p[0], &last, sizeof last), (ssize_t)sizeof last);
        struct timespec ts = { 0, (long)(1 + round * 5) * 1000 * 1000 };
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        while (read(p[0], &v, sizeof v) == sizeof v)
            last = v;
        close(p[0]);
        waitpid(pid, NULL, 0);
        killed_mid += last >= 0;
        check_prefix(last);
    }
    cr_assert_eq(killed_mid, 4);
}

Test(crash, torn_segment_tail)
{
    struct idx *x = itest_open(dir, 1, 0);
    char buf[BLK];
    itest_fill(buf, BLK, 0);
    struct idx_bloc l;
    itest_put_block(x, 50, 0, buf, BLK, &l);
    cr_assert_eq(idx_w_link(x, 1, "r0-f0", 5, 50), 0);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    idx_close(x);
    /* Half a record after the last good one, as a crash mid-append leaves. */
    char path[4096];
    snprintf(path, sizeof path, "%s/segments/%016llx.seg", dir, (unsigned long long)l.seg);
    int fd = open(path, O_WRONLY | O_APPEND);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "REC1garbage-garbage", 19), 19);
    close(fd);
    check_prefix(0);
    /* New records never follow the torn tail: they go to a new segment. */
    x = itest_open(dir, 0, 0);
    struct idx_bloc m;
    itest_put_block(x, 50, 1, buf, BLK, &m);
    cr_assert_neq(m.seg, l.seg);
    idx_close(x);
}

Test(crash, lock_released_by_death)
{
    idx_close(itest_open(dir, 1, 0));
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct idx *x = itest_open(dir, 0, 0);
        (void)x;
        char c = 1;
        if (write(p[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c;
    cr_assert_eq(read(p[0], &c, 1), 1);
    struct idx *y = NULL;
    struct idx_opts o = { 0 };
    char msg[200];
    cr_assert_eq(idx_open(&y, dir, &o, msg, sizeof msg), -EBUSY);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_eq(idx_open(&y, dir, &o, msg, sizeof msg), 0, "%s", msg);
    idx_close(y);
    close(p[0]);
    close(p[1]);
}
