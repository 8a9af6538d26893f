/* test_fs_store.c — the mount as a whole: what survives a remount, which
 * stores and mounts the daemon refuses, damage in a segment (EIO, never
 * wrong bytes), concurrent readers and writers, fsync'd data after kill -9,
 * and short runs of the model-based exerciser and the crash tester. */
#include "tests/fs/fs_test.h"

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/xattr.h>

TestSuite(fs_store, .fini = fsT_down, .timeout = 180);

Test(fs_store, remount_preserves_everything)
{
    umask(022);
    fsT_up("remount");
    cr_assert_eq(mkdir(fsT_p("a"), 0750), 0);
    cr_assert_eq(mkdir(fsT_p("a/b"), 0700), 0);
    uint8_t buf[150000];
    fsT_fill(buf, sizeof buf, 61, 0);
    fsT_write_file(fsT_p("a/b/data"), buf, sizeof buf, 0640);
    fsT_write_file(fsT_p("empty"), "", 0, 0600);
    cr_assert_eq(symlink("a/b/data", fsT_p("sl")), 0);
    cr_assert_eq(link(fsT_p("a/b/data"), fsT_p("hl")), 0);
    cr_assert_eq(chown(fsT_p("a/b/data"), 4321, 8765), 0);
    cr_assert_eq(chmod(fsT_p("a/b/data"), 0604), 0);
    cr_assert_eq(lchown(fsT_p("sl"), 11, 12), 0);
    cr_assert_eq(setxattr(fsT_p("a"), "user.k", "v", 1, 0), 0, "setxattr: %s", strerror(errno));
    struct timespec ts[2] = { { 1234567890, 1 }, { 1234567891, 999999999 } };
    cr_assert_eq(utimensat(AT_FDCWD, fsT_p("a/b/data"), ts, 0), 0);
    cr_assert_eq(utimensat(AT_FDCWD, fsT_p("a/b"), ts, 0), 0);
    cr_assert_eq(utimensat(AT_FDCWD, fsT_p("sl"), ts, AT_SYMLINK_NOFOLLOW), 0);

    static const char *const rels[] = { "a", "a/b", "a/b/data", "empty", "sl", "hl" };
    struct stat before[6], after[6];
    for (int i = 0; i < 6; i++)
        cr_assert_eq(lstat(fsT_p(rels[i]), &before[i]), 0, "%s", rels[i]);

    for (int round = 0; round < 2; round++) {
        fsT_remount();
        for (int i = 0; i < 6; i++) {
            cr_assert_eq(lstat(fsT_p(rels[i]), &after[i]), 0, "%s gone after remount", rels[i]);
            const struct stat *x = &before[i], *y = &after[i];
            cr_assert_eq(y->st_mode, x->st_mode, "%s: mode %o, was %o", rels[i], y->st_mode, x->st_mode);
            cr_assert_eq(y->st_uid, x->st_uid, "%s: uid", rels[i]);
            cr_assert_eq(y->st_gid, x->st_gid, "%s: gid", rels[i]);
            cr_assert_eq(y->st_nlink, x->st_nlink, "%s: nlink", rels[i]);
            cr_assert_eq(y->st_size, x->st_size, "%s: size", rels[i]);
            cr_assert_eq(y->st_ino, x->st_ino, "%s: inode number changed", rels[i]);
            cr_assert_eq(y->st_mtim.tv_sec, x->st_mtim.tv_sec, "%s: mtime", rels[i]);
            cr_assert_eq(y->st_mtim.tv_nsec, x->st_mtim.tv_nsec, "%s: mtime ns", rels[i]);
            cr_assert_eq(y->st_ctim.tv_sec, x->st_ctim.tv_sec, "%s: ctime", rels[i]);
            cr_assert_eq(y->st_ctim.tv_nsec, x->st_ctim.tv_nsec, "%s: ctime ns", rels[i]);
            if (!S_ISDIR(x->st_mode)) {
                cr_assert_eq(y->st_atim.tv_sec, x->st_atim.tv_sec, "%s: atime", rels[i]);
                cr_assert_eq(y->st_atim.tv_nsec, x->st_atim.tv_nsec, "%s: atime ns", rels[i]);
            }
        }
    }
    size_t len;
    uint8_t *d = fsT_read_file(fsT_p("hl"), &len);
    cr_assert_eq(len, sizeof buf);
    cr_assert_eq(memcmp(d, buf, len), 0);
    free(d);
    char v[8];
    cr_assert_eq(getxattr(fsT_p("a"), "user.k", v, sizeof v), 1);
    char t[64];
    cr_assert_eq(readlink(fsT_p("sl"), t, sizeof t), 8);
}

/* Runs the fadefs binary on (store, mnt) expecting refusal: a non-zero
 * exit within the timeout, a message, and no mount left behind. */
static void fsT_expect_refusal(const char *store, const char *mnt, const char *what)
{
    char out[4096];
    int st = 0;
    char *argv[] = { fsT_m.bin, (char *)"-f", (char *)store, (char *)mnt, NULL };
    int rc = fst_run_capture(argv, 15000, out, sizeof out, &st);
    int mounted = fst_is_fuse_mounted(mnt);
    if (mounted)
        fst_unmount_path(mnt, 1);
    cr_assert_neq(rc, -ETIMEDOUT, "%s: fadefs did not exit (mounted: %d)", what, mounted);
    cr_assert_eq(rc, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0,
              "%s: fadefs exited with status 0x%x; output: %s", what, st, out);
    cr_assert_gt(strlen(out), 5, "%s: refused without a message", what);
    cr_assert_eq(mounted, 0, "%s: mount left behind", what);
}

Test(fs_store, refuses_foreign_dir_and_double_mount)
{
    fsT_up("refuse");
    fsT_write_file(fsT_p("keep"), "k", 1, 0644);

    /* A directory that holds someone else's files is not a store; its
     * files must be left untouched. */
    char foreign[PATH_MAX + 16], mnt2[PATH_MAX + 16], file[PATH_MAX + 32];
    snprintf(foreign, sizeof foreign, "%s/foreign", fsT_m.dir);
    snprintf(mnt2, sizeof mnt2, "%s/mnt2", fsT_m.dir);
    snprintf(file, sizeof file, "%s/precious.txt", foreign);
    cr_assert_eq(mkdir(foreign, 0755), 0);
    cr_assert_eq(mkdir(mnt2, 0755), 0);
    int fd = open(file, O_WRONLY | O_CREAT, 0644);
    cr_assert_eq(write(fd, "mine", 4), 4);
    close(fd);
    fsT_expect_refusal(foreign, mnt2, "non-store directory");
    int n = 0;
    DIR *d = opendir(foreign);
    while (readdir(d))
        n++;
    closedir(d);
    cr_assert_eq(n, 3, "fadefs wrote into a directory it refused");

    /* The store that is already mounted. */
    fsT_expect_refusal(fsT_m.store, mnt2, "already-mounted store");
    /* A store path that does not exist. */
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof missing, "%s/missing", fsT_m.dir);
    fsT_expect_refusal(missing, mnt2, "missing store");

    /* The first mount still works. */
    size_t len;
    uint8_t *k = fsT_read_file(fsT_p("keep"), &len);
    cr_assert_eq(len, 1u);
    free(k);
}

/* ---- damage in a segment ---- */

struct fsT_scan {
    const uint8_t *pat;
    size_t patlen;
    int hits;
    int files;
};
static struct fsT_scan fsT_scan_state;

static int fsT_is_sqlite(const char *p)
{
    size_t n = strlen(p);
    if ((n > 4 && strcmp(p + n - 4, "-wal") == 0) || (n > 4 && strcmp(p + n - 4, "-shm") == 0) ||
        (n > 8 && strcmp(p + n - 8, "-journal") == 0))
        return 1;
    char hdr[16] = { 0 };
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return 1;
    ssize_t r = read(fd, hdr, sizeof hdr);
    close(fd);
    return r == 16 && memcmp(hdr, "SQLite format 3", 16) == 0;
}

/* Flips one byte in the middle of every copy of the pattern found in the
 * store's non-SQLite files. */
static int fsT_corrupt_cb(const char *p, const struct stat *st, int type, struct FTW *f)
{
    (void)f;
    if (type != FTW_F || !S_ISREG(st->st_mode) || fsT_is_sqlite(p))
        return 0;
    fsT_scan_state.files++;
    int fd = open(p, O_RDWR);
    if (fd < 0)
        return 0;
    size_t n = (size_t)st->st_size;
    uint8_t *data = malloc(n ? n : 1);
    if (data && pread(fd, data, n, 0) == (ssize_t)n) {
        const struct fsT_scan *s = &fsT_scan_state;
        for (size_t i = 0; i + s->patlen <= n; i++) {
            if (data[i] == s->pat[0] && memcmp(data + i, s->pat, s->patlen) == 0) {
                uint8_t b = (uint8_t)(data[i + s->patlen / 2] ^ 0x01);
                if (pwrite(fd, &b, 1, (off_t)(i + s->patlen / 2)) == 1)
                    fsT_scan_state.hits++;
                i += s->patlen - 1;
            }
        }
    }
    free(data);
    fsync(fd);
    close(fd);
    return 0;
}

Test(fs_store, corrupt_segment_gives_eio)
{
    fsT_up("corrupt");
    /* Random bytes do not compress, so they stay raw in a segment where a
     * flipped byte is easy to place. */
    const size_t n = 256 * 1024;
    uint8_t *buf = malloc(n), *got = malloc(n);
    cr_assert(buf && got);
    fsT_fill(buf, n, 71, 0);
    fsT_write_file(fsT_p("victim"), buf, n, 0644);
    uint8_t *other = malloc(n);
    fsT_fill(other, n, 72, 0);
    fsT_write_file(fsT_p("bystander"), other, n, 0644);
    int fd = open(fsT_p("victim"), O_RDONLY);
    cr_assert_eq(fsync(fd), 0);
    close(fd);
    int rc = fst_mount_stop(&fsT_m);
    if (rc)
        fsT_fail_mount("unmount", rc);

    fsT_scan_state = (struct fsT_scan){ buf + 100000, 4096, 0, 0 };
    cr_assert_eq(nftw(fsT_m.store, fsT_corrupt_cb, 16, FTW_PHYS), 0);
    cr_assert_gt(fsT_scan_state.files, 0, "no segment files in the store");
    cr_assert_gt(fsT_scan_state.hits, 0,
                 "the written bytes are not in any segment file (%d files scanned)",
                 fsT_scan_state.files);

    rc = fst_mount_start(&fsT_m, NULL);
    if (rc)
        fsT_fail_mount("remount after damage", rc);
    fd = open(fsT_p("victim"), O_RDONLY);
    cr_assert_geq(fd, 0, "open after damage: %s", strerror(errno));
    /* Read in 4 KiB pieces: every piece is either the right bytes or EIO,
     * and the damaged one must be EIO. */
    int eio = 0;
    for (size_t off = 0; off < n; off += 4096) {
        ssize_t r = pread(fd, got, 4096, (off_t)off);
        if (r < 0) {
            cr_assert_eq(errno, EIO, "read at %zu: %s (want EIO)", off, strerror(errno));
            eio += off <= 100000 + 2048 && 100000 + 2048 < off + 4096;
            continue;
        }
        cr_assert_eq(r, 4096, "short read at %zu", off);
        cr_assert_eq(memcmp(got, buf + off, 4096), 0, "WRONG BYTES returned at %zu", off);
    }
    close(fd);
    cr_assert_eq(eio, 1, "damaged range read without an error");
    /* Other files are unaffected. */
    size_t len;
    uint8_t *o = fsT_read_file(fsT_p("bystander"), &len);
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(o, other, n), 0);
    free(o); free(buf); free(got); free(other);
}

/* ---- concurrency ---- */

struct fsT_worker {
    int id;
    int same_file;
    size_t region;   /* bytes owned by this writer */
    int rounds;
    volatile int *stop;
    int errors;
    char msg[256];
};

/* Writer t owns [t*region, (t+1)*region) and rewrites it `rounds` times;
 * round r writes byte value (pos + 31t + r) & 0xff, so a reader can tell
 * a legal byte (from some round of the right writer, or 0) from garbage. */
static void *fsT_writer(void *arg)
{
    struct fsT_worker *w = arg;
    char rel[32], path[PATH_MAX + 40];
    snprintf(rel, sizeof rel, w->same_file ? "shared" : "own-%d", w->id);
    /* Not fsT_p: its rotating buffers are not thread-safe. */
    snprintf(path, sizeof path, "%s/%s", fsT_m.mnt, rel);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        snprintf(w->msg, sizeof w->msg, "open %s: %s", rel, strerror(errno));
        w->errors++;
        return NULL;
    }
    off_t base = w->same_file ? (off_t)w->region * w->id : 0;
    uint8_t *buf = malloc(w->region);
    for (int r = 1; r <= w->rounds && buf; r++) {
        for (size_t i = 0; i < w->region; i++)
            buf[i] = (uint8_t)((size_t)base + i + 31u * (unsigned)w->id + (unsigned)r);
        /* Pieces of odd sizes, in an order that differs per round. */
        size_t piece = 4096 * (size_t)(1 + (r + w->id) % 5) + 123;
        for (size_t off = 0; off < w->region; off += piece) {
            size_t k = piece < w->region - off ? piece : w->region - off;
            if (pwrite(fd, buf + off, k, base + (off_t)off) != (ssize_t)k) {
                snprintf(w->msg, sizeof w->msg, "pwrite: %s", strerror(errno));
                w->errors++;
                break;
            }
        }
        if (r % 3 == 0 && fsync(fd) != 0) {
            snprintf(w->msg, sizeof w->msg, "fsync: %s", strerror(errno));
            w->errors++;
        }
    }
    free(buf);
    close(fd);
    return NULL;
}

static int fsT_legal(uint8_t b, size_t pos, int owner, int rounds)
{
    if (b == 0)
        return 1;
    int r = (int)((uint8_t)(b - (uint8_t)(pos + 31u * (unsigned)owner)));
    return r >= 1 && r <= rounds;
}

static void *fsT_reader(void *arg)
{
    struct fsT_worker *w = arg;
    uint8_t *buf = malloc(65536);
    int writers = 4;
    while (!*w->stop && buf) {
        for (int t = 0; t < writers && !*w->stop; t++) {
            char rel[32], path[PATH_MAX + 40];
            snprintf(rel, sizeof rel, w->same_file ? "shared" : "own-%d", t);
            snprintf(path, sizeof path, "%s/%s", fsT_m.mnt, rel);
            int fd = open(path, O_RDONLY);
            if (fd < 0)
                continue;   /* not created yet */
            off_t base = w->same_file ? (off_t)w->region * t : 0;
            for (size_t off = 0; off < w->region; off += 65536) {
                size_t k = w->region - off < 65536 ? w->region - off : 65536;
                ssize_t r = pread(fd, buf, k, base + (off_t)off);
                if (r < 0) {
                    snprintf(w->msg, sizeof w->msg, "pread: %s", strerror(errno));
                    w->errors++;
                    break;
                }
                for (ssize_t i = 0; i < r; i++)
                    if (!fsT_legal(buf[i], (size_t)base + off + (size_t)i, t, w->rounds)) {
                        snprintf(w->msg, sizeof w->msg, "%s: garbage 0x%02x at %zu", rel, buf[i],
                                 (size_t)base + off + (size_t)i);
                        w->errors++;
                        break;
                    }
            }
            close(fd);
        }
    }
    free(buf);
    return NULL;
}

static void fsT_concurrent(int same_file)
{
    enum { W = 4, R = 3 };
    volatile int stop = 0;
    struct fsT_worker ws[W], rs[R];
    pthread_t wt[W], rt[R];
    size_t region = 700000;
    int rounds = 6;
    for (int i = 0; i < R; i++) {
        rs[i] = (struct fsT_worker){ .id = i, .same_file = same_file, .region = region,
                                     .rounds = rounds, .stop = &stop };
        cr_assert_eq(pthread_create(&rt[i], NULL, fsT_reader, &rs[i]), 0);
    }
    for (int i = 0; i < W; i++) {
        ws[i] = (struct fsT_worker){ .id = i, .same_file = same_file, .region = region,
                                     .rounds = rounds, .stop = &stop };
        cr_assert_eq(pthread_create(&wt[i], NULL, fsT_writer, &ws[i]), 0);
    }
    for (int i = 0; i < W; i++)
        pthread_join(wt[i], NULL);
    stop = 1;
    for (int i = 0; i < R; i++)
        pthread_join(rt[i], NULL);
    for (int i = 0; i < W; i++)
        cr_assert_eq(ws[i].errors, 0, "writer %d: %s", i, ws[i].msg);
    for (int i = 0; i < R; i++)
        cr_assert_eq(rs[i].errors, 0, "reader %d: %s", i, rs[i].msg);

    /* Final state: every region holds its writer's last round exactly. */
    for (int pass = 0; pass < 2; pass++) {
        for (int t = 0; t < W; t++) {
            char rel[32];
            snprintf(rel, sizeof rel, same_file ? "shared" : "own-%d", t);
            size_t len;
            uint8_t *d = fsT_read_file(fsT_p(rel), &len);
            off_t base = same_file ? (off_t)region * t : 0;
            cr_assert_geq(len, (size_t)base + region);
            for (size_t i = 0; i < region; i++) {
                uint8_t want = (uint8_t)((size_t)base + i + 31u * (unsigned)t + (unsigned)rounds);
                if (d[base + (off_t)i] != want)
                    cr_assert_fail("%s: byte %zu is 0x%02x, want 0x%02x (pass %d)", rel,
                                   (size_t)base + i, d[base + (off_t)i], want, pass);
            }
            free(d);
        }
        if (pass == 0)
            fsT_remount();
    }
}

Test(fs_store, concurrent_different_files)
{
    fsT_up("concdiff");
    fsT_concurrent(0);
}

Test(fs_store, concurrent_same_file)
{
    fsT_up("concsame");
    fsT_concurrent(1);
}

Test(fs_store, fsynced_data_survives_kill9)
{
    fsT_up("kill9");
    uint8_t buf[300000];
    fsT_fill(buf, sizeof buf, 81, 0);
    int fd = open(fsT_p("durable"), O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    fsT_pwrite_all(fd, buf, sizeof buf, 0);
    cr_assert_eq(fsync(fd), 0, "fsync: %s", strerror(errno));
    close(fd);
    cr_assert_eq(mkdir(fsT_p("dir"), 0755), 0);
    fd = open(fsT_p("dir/small"), O_WRONLY | O_CREAT, 0600);
    cr_assert_eq(write(fd, "small", 5), 5);
    cr_assert_eq(fsync(fd), 0);
    close(fd);
    /* The directory entry itself is made durable by fsync of the dir. */
    fd = open(fsT_p("dir"), O_RDONLY | O_DIRECTORY);
    cr_assert_eq(fsync(fd), 0, "fsync of a directory: %s", strerror(errno));
    close(fd);
    /* Unsynced data in flight at the kill: may be lost, must not corrupt. */
    fd = open(fsT_p("inflight"), O_WRONLY | O_CREAT, 0644);
    fsT_pwrite_all(fd, buf, sizeof buf, 0);

    cr_assert_eq(fst_mount_kill(&fsT_m), 0);
    close(fd);
    int rc = fst_mount_start(&fsT_m, NULL);
    if (rc)
        fsT_fail_mount("remount after kill -9", rc);
    size_t len;
    uint8_t *d = fsT_read_file(fsT_p("durable"), &len);
    cr_assert_eq(len, sizeof buf, "fsync'd file has %zu bytes after kill -9", len);
    cr_assert_eq(memcmp(d, buf, len), 0, "fsync'd file differs after kill -9");
    free(d);
    d = fsT_read_file(fsT_p("dir/small"), &len);
    cr_assert_eq(len, 5u);
    free(d);
    /* If the in-flight file exists, every byte it has is right or zero. */
    struct stat st;
    if (stat(fsT_p("inflight"), &st) == 0) {
        d = fsT_read_file(fsT_p("inflight"), &len);
        for (size_t i = 0; i < len; i++)
            cr_assert(d[i] == buf[i] || d[i] == 0, "in-flight file holds garbage at %zu", i);
        free(d);
    }
}

Test(fs_store, sigterm_unmounts_and_keeps_unsynced_data)
{
    fsT_up("sigterm");
    uint8_t buf[700000];
    fsT_fill(buf, sizeof buf, 91, 0);
    /* No fsync: a clean stop must commit dirty data by itself. */
    fsT_write_file(fsT_p("unsynced"), buf, sizeof buf, 0644);
    int fd = open(fsT_p("open-at-stop"), O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    fsT_pwrite_all(fd, buf, 5000, 0);
    close(fd);
    int rc = fst_mount_signal(&fsT_m, SIGTERM);
    cr_assert_eq(rc, 0, "SIGTERM: %s", fsT_m.why);
    rc = fst_mount_start(&fsT_m, NULL);
    if (rc)
        fsT_fail_mount("mount after SIGTERM", rc);
    size_t len;
    uint8_t *d = fsT_read_file(fsT_p("unsynced"), &len);
    cr_assert_eq(len, sizeof buf);
    cr_assert_eq(memcmp(d, buf, len), 0, "unsynced data lost or changed by a SIGTERM stop");
    free(d);
    d = fsT_read_file(fsT_p("open-at-stop"), &len);
    cr_assert_eq(len, 5000u);
    free(d);
    rc = fst_mount_signal(&fsT_m, SIGINT);
    cr_assert_eq(rc, 0, "SIGINT: %s", fsT_m.why);
}

/* Overwriting one file again and again must not grow the store without
 * bound: segments are append-only, so the replaced payloads have to be
 * reclaimed by compaction (DESIGN.md, "The store"). */
Test(fs_store, overwrites_are_reclaimed)
{
    fsT_up("reclaim");
    const size_t n = 8u << 20;
    const int rounds = 80;                     /* 640 MiB written, 8 MiB live */
    uint8_t *buf = malloc(n);
    cr_assert_not_null(buf);
    int fd = open(fsT_p("hot"), O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    for (int r = 0; r < rounds; r++) {
        /* Incompressible, so every block is stored raw at full size; more
         * than the dirty limit per round, so every round is committed. */
        fsT_fill(buf, n, 1000 + (uint64_t)r, 0);
        fsT_pwrite_all(fd, buf, n, 0);
    }
    cr_assert_eq(fsync(fd), 0);
    cr_assert_eq(close(fd), 0);
    const long long limit = 400ll << 20;
    long long used = fsT_du(fsT_m.store);
    for (int i = 0; i < 10 && used > limit; i++) {
        usleep(500000);
        used = fsT_du(fsT_m.store);
    }
    if (used > limit) {
        /* Compaction may run at mount time instead. */
        fsT_remount();
        used = fsT_du(fsT_m.store);
    }
    cr_assert_leq(used, limit, "store uses %lld MiB for 8 MiB of live data after %d MiB of "
                  "overwrites", used >> 20, rounds * 8);
    size_t len;
    uint8_t *d = fsT_read_file(fsT_p("hot"), &len);
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(d, buf, n), 0);
    free(d);
    free(buf);
}

/* Mounts a fresh store that lives on a 32 MiB tmpfs (needs root). */
static void fsT_up_small_store(const char *tag)
{
    int rc = fst_mount_init(&fsT_m, tag);
    cr_assert_eq(rc, 0);
    if (mount("tmpfs", fsT_m.store, "tmpfs", 0, "size=32m,mode=0755") != 0) {
        int e = errno;
        fst_mount_fini(&fsT_m);
        cr_skip_test("cannot mount a small tmpfs for the store: %s", strerror(e));
    }
    rc = fst_mount_start(&fsT_m, NULL);
    if (rc == FST_ENOMOUNT && !getenv("FST_REQUIRE_MOUNT")) {
        fsT_down();
        cr_skip_test("cannot mount here");
    }
    if (rc)
        fsT_fail_mount("mount", rc);
}

/* After a full store: the daemon neither died nor hung, and a remount
 * shows the fsync'd file keep[0..n) intact. */
static void fsT_check_survived_full_store(const uint8_t *keep, size_t n)
{
    int rc = fst_mount_stop(&fsT_m);
    cr_assert(!WIFSIGNALED(fsT_m.last_status), "fadefs died of signal %d on a full store",
              WTERMSIG(fsT_m.last_status));
    cr_assert_neq(rc, -ETIMEDOUT, "fadefs hung on a full store: %s", fsT_m.why);
    rc = fst_mount_start(&fsT_m, NULL);
    if (rc)
        fsT_fail_mount("remount of a full store", rc);
    size_t len;
    uint8_t *d = fsT_read_file(fsT_p("keep"), &len);
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(d, keep, len), 0, "fsync'd file damaged after remount of a full store");
    free(d);
}

/* Writes `mib` MiB of incompressible data to `name` in 1 MiB writes, with
 * an fsync after every `fsync_every` MiB (0: only at the end), until an
 * error; returns the first errno of a write, fsync or close, or 0. */
static int fsT_fill_store(const char *name, int mib, uint64_t seed, int fsync_every)
{
    const size_t chunk = 1u << 20;
    uint8_t *buf = malloc(chunk);
    cr_assert_not_null(buf);
    int fd = open(fsT_p(name), O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    int err = 0;
    for (int i = 0; i < mib && !err; i++) {
        fsT_fill(buf, chunk, seed + (uint64_t)i, 0);
        if (pwrite(fd, buf, chunk, (off_t)i * (off_t)chunk) < 0)
            err = errno;
        else if (fsync_every && i % fsync_every == fsync_every - 1 && fsync(fd) != 0)
            err = errno;
    }
    if (!err && fsync(fd) != 0)
        err = errno;
    int cerr = close(fd) != 0 ? errno : 0;
    free(buf);
    return err ? err : cerr;
}

/* A full disk under the store: writes fail with ENOSPC, nothing already
 * stored is damaged, the daemon neither crashes nor hangs, and the store
 * mounts again. */
Test(fs_store, full_store_gives_enospc)
{
    fsT_up_small_store("enospc");

    uint8_t keep[100000];
    fsT_fill(keep, sizeof keep, 5, 0);
    int fd = open(fsT_p("keep"), O_WRONLY | O_CREAT, 0644);
    fsT_pwrite_all(fd, keep, sizeof keep, 0);
    cr_assert_eq(fsync(fd), 0);
    close(fd);

    /* Fill: incompressible data until something says ENOSPC. */
    int err = fsT_fill_store("big", 64, 100, 4);
    cr_assert_eq(err, ENOSPC, "writing 64 MiB into a 32 MiB store: %s (want ENOSPC)",
                 err ? strerror(err) : "no error at all");

    /* What was stored before is intact, and the fs still answers. */
    size_t len;
    uint8_t *d = fsT_read_file(fsT_p("keep"), &len);
    cr_assert_eq(len, sizeof keep);
    cr_assert_eq(memcmp(d, keep, len), 0, "a full store damaged an fsync'd file");
    free(d);
    struct stat st;
    cr_assert_eq(stat(fsT_p("big"), &st), 0, "stat after ENOSPC: %s", strerror(errno));
    cr_assert_eq(unlink(fsT_p("big")), 0, "unlink after ENOSPC: %s", strerror(errno));
    /* Space may come back only after compaction; either way no other error. */
    fd = open(fsT_p("small"), O_WRONLY | O_CREAT, 0644);
    if (fd >= 0) {
        if (write(fd, "x", 1) != 1 || fsync(fd) != 0)
            cr_assert_eq(errno, ENOSPC, "small write after freeing: %s", strerror(errno));
        close(fd);
    } else {
        cr_assert_eq(errno, ENOSPC, "create after freeing: %s", strerror(errno));
    }

    fsT_check_survived_full_store(keep, sizeof keep);
}

/* The disk fills while a stream of writes, never fsync'd, goes through the
 * writer's pipeline (appends of one batch while the last one syncs): the
 * stream learns of ENOSPC by a later write, its close or fsync, and
 * nothing else is harmed. */
Test(fs_store, full_store_while_streaming)
{
    fsT_up_small_store("enospc-stream");
    uint8_t keep[100000];
    fsT_fill(keep, sizeof keep, 6, 0);
    int fd = open(fsT_p("keep"), O_WRONLY | O_CREAT, 0644);
    fsT_pwrite_all(fd, keep, sizeof keep, 0);
    cr_assert_eq(fsync(fd), 0);
    close(fd);

    int err = fsT_fill_store("stream", 96, 200, 0);
    cr_assert_eq(err, ENOSPC, "streaming 96 MiB into a 32 MiB store: %s (want ENOSPC)",
                 err ? strerror(err) : "no error at all");
    size_t len;
    uint8_t *d = fsT_read_file(fsT_p("keep"), &len);
    cr_assert_eq(len, sizeof keep);
    cr_assert_eq(memcmp(d, keep, len), 0, "a full store damaged an fsync'd file");
    free(d);
    /* Whatever of the stream landed reads back as written, or as zeros. */
    d = fsT_read_file(fsT_p("stream"), &len);
    for (size_t k = 0; k < len; k++) {
        uint8_t want = fsT_byte(200 + (k >> 20), k & ((1u << 20) - 1));
        cr_assert(d[k] == want || d[k] == 0, "stream byte %zu is 0x%02x, written 0x%02x",
                  k, d[k], want);
    }
    free(d);
    fsT_check_survived_full_store(keep, sizeof keep);
}

/* ---- the tools ---- */

static void fsT_run_tool(const char *name, char *const extra[], unsigned timeout_ms)
{
    char tool[PATH_MAX];
    cr_assert_eq(fst_tool_path(name, tool, sizeof tool), 0);
    if (access(tool, X_OK) != 0)
        cr_skip_test("%s not built (make %s)", tool, tool);
    /* Probe that mounting works here at all (skip otherwise). */
    fsT_up(name);
    int rc = fst_mount_stop(&fsT_m);
    if (rc)
        fsT_fail_mount("unmount", rc);
    char *argv[32];
    int n = 0;
    argv[n++] = tool;
    argv[n++] = (char *)"-b";
    argv[n++] = fsT_m.bin;
    argv[n++] = (char *)"-d";
    argv[n++] = fsT_m.dir;
    for (int i = 0; extra[i] && n < 30; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    static char out[1 << 16];
    int st = 0;
    rc = fst_run_capture(argv, timeout_ms, out, sizeof out, &st);
    size_t len = strlen(out);
    const char *tail = len > 3000 ? out + len - 3000 : out;
    cr_assert_neq(rc, -ETIMEDOUT, "%s did not finish in %u ms:\n%s", name, timeout_ms, tail);
    cr_assert_eq(rc, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed (status 0x%x):\n%s", name, st, tail);
}

Test(fs_store, fsmodel_short_run)
{
    char *extra[] = { (char *)"-n", (char *)"2000", (char *)"-r", (char *)"500",
                      (char *)"-s", (char *)"12345", NULL };
    fsT_run_tool("fsmodel", extra, 150000);
}

/* Tiny blocks: every write and truncate crosses many block edges. */
Test(fs_store, fsmodel_small_blocks)
{
    char *extra[] = { (char *)"-n", (char *)"1500", (char *)"-r", (char *)"500",
                      (char *)"-s", (char *)"4242", (char *)"-o", (char *)"block_size=4K", NULL };
    fsT_run_tool("fsmodel", extra, 150000);
}

Test(fs_store, crashtest_short_run)
{
    char *extra[] = { (char *)"-c", (char *)"5", (char *)"-s", (char *)"777", NULL };
    fsT_run_tool("crashtest", extra, 150000);
}
