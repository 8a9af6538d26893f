/* fs_test.h — shared helpers for the criterion tests of the mounted
 * filesystem (tests/fs/test_*.c): one mount per test, skip only where this
 * machine cannot mount at all, fail on anything else.
 *
 * Each test calls fsT_up() first; the suite's .fini (fsT_down) unmounts and
 * removes the temporary folder, and checks that the daemon exited cleanly.
 * Set FST_REQUIRE_MOUNT=1 to turn "cannot mount here" into a failure, and
 * FST_KEEP=1 to keep the temporary folders for inspection.
 */
#ifndef FADEFS_TESTS_FS_TEST_H
#define FADEFS_TESTS_FS_TEST_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/common/mount.h"

/* Criterion runs every test in its own process, so one mount per process. */
static struct fst_mount fsT_m;

static inline void fsT_fail_mount(const char *what, int rc)
{
    fst_mount_dump_log(&fsT_m, what);
    cr_assert_fail("%s failed (%s): %s", what, strerror(-rc), fsT_m.why);
}

/* Mounts a fresh store; skips the test if this machine cannot mount. */
static inline void fsT_up_opts(const char *tag, const char *const *extra)
{
    int rc = fst_mount_init(&fsT_m, tag);
    cr_assert_eq(rc, 0, "temporary folder: %s", strerror(-rc));
    rc = fst_mount_start(&fsT_m, extra);
    if (rc == FST_ENOMOUNT && !getenv("FST_REQUIRE_MOUNT")) {
        char why[sizeof fsT_m.why];
        memcpy(why, fsT_m.why, sizeof why);
        fst_mount_fini(&fsT_m);
        cr_skip_test("cannot mount here: %s", why);
    }
    if (rc)
        fsT_fail_mount("mount", rc);
}

static inline void fsT_up(const char *tag) { fsT_up_opts(tag, NULL); }

/* Unmount + mount the same store; the daemon must have exited with 0. */
static inline void fsT_remount(void)
{
    int rc = fst_mount_stop(&fsT_m);
    if (rc)
        fsT_fail_mount("unmount before remount", rc);
    rc = fst_mount_start(&fsT_m, NULL);
    if (rc)
        fsT_fail_mount("remount", rc);
}

static inline void fsT_down(void)
{
    if (!fsT_m.dir[0])
        return;
    int rc = 0;
    fst_close_fds_under(fsT_m.mnt);
    if (fsT_m.pid)
        rc = fst_mount_stop(&fsT_m);
    if (rc)
        fst_mount_dump_log(&fsT_m, "final unmount");
    char why[sizeof fsT_m.why];
    memcpy(why, fsT_m.why, sizeof why);
    fst_mount_fini(&fsT_m);
    cr_expect_eq(rc, 0, "final unmount: %s", why);
}

/* Runs the command <build>/tool with args (NULL-terminated) to completion
 * within timeout_ms and returns its exit status; its stdout and stderr are
 * in out.  A tool that is not built, hangs or dies fails the test. */
static inline int fsT_run_cmd(const char *tool, const char *const *args,
                               unsigned timeout_ms, char *out, size_t cap)
{
    char bin[PATH_MAX];
    cr_assert_eq(fst_build_dir(bin, sizeof bin), 0);
    size_t n = strlen(bin);
    cr_assert_lt(n + strlen(tool) + 2, sizeof bin);
    snprintf(bin + n, sizeof bin - n, "/%s", tool);
    cr_assert_eq(access(bin, X_OK), 0, "%s not built (make all)", bin);
    char *argv[16];
    int k = 0;
    argv[k++] = bin;
    for (int i = 0; args[i] && k < 15; i++)
        argv[k++] = (char *)args[i];
    argv[k] = NULL;
    int st = 0;
    int rc = fst_run_capture(argv, timeout_ms, out, cap, &st);
    cr_assert_eq(rc, 0, "running %s: %s", tool, strerror(-rc));
    cr_assert(WIFEXITED(st), "%s died (status 0x%x):\n%s", tool, st, out);
    return WEXITSTATUS(st);
}

/* Bytes used on disk by a tree (the store): sum of st_blocks * 512. */
static long long fsT_du_total;
static inline int fsT_du_cb(const char *p, const struct stat *st, int type, struct FTW *f)
{
    (void)p; (void)f;
    if (type == FTW_F)
        fsT_du_total += (long long)st->st_blocks * 512;
    return 0;
}
static inline long long fsT_du(const char *dir)
{
    fsT_du_total = 0;
    cr_assert_eq(nftw(dir, fsT_du_cb, 16, FTW_PHYS), 0, "nftw %s", dir);
    return fsT_du_total;
}

/* Path inside the mount, in one of 64 rotating buffers so that a call can
 * take several paths at once; a test that keeps a path across many calls
 * copies it (fsT_pdup). */
static inline const char *fsT_p(const char *rel)
{
    static char buf[64][PATH_MAX];
    static unsigned i;
    char *b = buf[i++ & 63];
    int rc = fst_path(&fsT_m, rel, b, PATH_MAX);
    cr_assert_eq(rc, 0, "path too long: %s", rel);
    return b;
}

/* A path inside the mount that the caller owns (free it). */
static inline char *fsT_pdup(const char *rel)
{
    char *p = strdup(fsT_p(rel));
    cr_assert_not_null(p);
    return p;
}

/* Deterministic bytes: a function of (seed, absolute offset), so any
 * range can be checked without keeping the data. */
static inline uint8_t fsT_byte(uint64_t seed, uint64_t off)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + off;
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (uint8_t)x;
}

static inline void fsT_fill(uint8_t *buf, size_t n, uint64_t seed, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = fsT_byte(seed, off + i);
}

static inline void fsT_pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        cr_assert_gt(w, 0, "pwrite %zu at %lld: %s", n, (long long)off, strerror(errno));
        p += w; n -= (size_t)w; off += w;
    }
}

/* Reads exactly n bytes (asserting no short read before EOF is reached
 * when the caller expects n). Returns bytes read. */
static inline size_t fsT_pread_all(int fd, void *buf, size_t n, off_t off)
{
    uint8_t *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        cr_assert_geq(r, 0, "pread %zu at %lld: %s", n - got,
                      (long long)(off + (off_t)got), strerror(errno));
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* Writes a whole file from a buffer (creating/truncating it). */
static inline void fsT_write_file(const char *path, const void *buf, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    fsT_pwrite_all(fd, buf, n, 0);
    cr_assert_eq(close(fd), 0, "close %s: %s", path, strerror(errno));
}

/* Reads a whole file into a malloc'd buffer. */
static inline uint8_t *fsT_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    size_t cap = (size_t)st.st_size + 1;
    uint8_t *buf = malloc(cap);
    cr_assert_not_null(buf);
    size_t got = fsT_pread_all(fd, buf, cap, 0);
    close(fd);
    cr_assert_eq(got, (size_t)st.st_size, "%s: read %zu bytes, st_size %lld",
                 path, got, (long long)st.st_size);
    *len = got;
    return buf;
}

/* Asserts [off, off+n) of fd holds fsT_byte(seed, ...) (or zeros if
 * seed == 0 is passed as zero_ok). */
static inline void fsT_check_range(int fd, off_t off, size_t n, uint64_t seed, int zeros)
{
    uint8_t buf[65536];
    while (n) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        size_t got = fsT_pread_all(fd, buf, k, off);
        cr_assert_eq(got, k, "short read at %lld: %zu of %zu", (long long)off, got, k);
        for (size_t i = 0; i < k; i++) {
            uint8_t want = zeros ? 0 : fsT_byte(seed, (uint64_t)off + i);
            if (buf[i] != want)
                cr_assert_fail("byte at %lld is 0x%02x, want 0x%02x",
                               (long long)(off + (off_t)i), buf[i], want);
        }
        off += (off_t)k;
        n -= k;
    }
}

#endif
