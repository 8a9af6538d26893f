/* test_open.c — creating, opening, refusing and locking stores. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "index/idx.h"
#include "index/idx_int.h"
#include "tests/index/idx_testutil.h"

static char *dir;
static void setup(void) { dir = itest_tmpdir(); }
static void teardown(void) { itest_rmrf(dir); free(dir); }

TestSuite(open, .init = setup, .fini = teardown);

static int try_open(int create, int read_only, char *msg, size_t cap, struct idx **out)
{
    struct idx_opts o = { .create = create, .read_only = read_only, .block_size = 4096 };
    return idx_open(out, dir, &o, msg, cap);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

static void sql(const char *db, const char *q)
{
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    char *err = NULL;
    int r = sqlite3_exec(h, q, NULL, NULL, &err);
    cr_assert_eq(r, SQLITE_OK, "%s: %s", q, err ? err : "");
    sqlite3_close(h);
}

Test(open, create_then_reopen)
{
    struct idx *x = NULL;
    char msg[256];
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    cr_assert_eq(idx_block_size(x), 4096);
    cr_assert_eq(idx_read_only(x), 0);
    struct idx_attr a;
    cr_assert_eq(idx_w_inode_get(x, IDX_ROOT_INO, &a), 0);
    cr_assert_eq(a.mode, S_IFDIR | 0755);
    cr_assert_eq(a.nlink, 2);
    cr_assert_eq(a.uid, 0);
    cr_assert(a.mtime_sec > 1000000000);
    idx_close(x);

    struct stat st;
    cr_assert_eq(stat(itest_path(dir, "fadefs.db"), &st), 0);
    cr_assert_eq(stat(itest_path(dir, "segments"), &st), 0);
    cr_assert(S_ISDIR(st.st_mode));

    /* Reopen without create; block size comes from the store. */
    struct idx_opts o = { 0 };
    cr_assert_eq(idx_open(&x, dir, &o, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(idx_block_size(x), 4096);
    cr_assert_eq(idx_w_inode_get(x, IDX_ROOT_INO, &a), 0);
    idx_close(x);
}

Test(open, empty_dir_without_create)
{
    struct idx *x = (struct idx *)1;
    char msg[256];
    cr_assert_eq(try_open(0, 0, msg, sizeof msg, &x), -EINVAL);
    cr_assert_null(x);
    cr_assert(strlen(msg) > 0);
    cr_assert_null(strchr(msg, '\n'));
}

Test(open, missing_dir)
{
    struct idx *x;
    char msg[256];
    struct idx_opts o = { .create = 1 };
    cr_assert_eq(idx_open(&x, itest_path(dir, "nope"), &o, msg, sizeof msg), -ENOENT);
    write_file(itest_path(dir, "file"), "x");
    cr_assert_eq(idx_open(&x, itest_path(dir, "file"), &o, msg, sizeof msg), -ENOTDIR);
}

Test(open, refuses_foreign_dir)
{
    struct idx *x;
    char msg[256];
    write_file(itest_path(dir, "notes.txt"), "hello");
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), -EINVAL);
    cr_assert(strstr(msg, "not a fadefs store") != NULL, "%s", msg);
    /* Nothing of ours was left in the foreign directory. */
    cr_assert_neq(access(itest_path(dir, "fadefs.lock"), F_OK), 0);
    cr_assert_neq(access(itest_path(dir, "segments"), F_OK), 0);
}

Test(open, lost_found_counts_as_empty)
{
    struct idx *x;
    char msg[256];
    cr_assert_eq(mkdir(itest_path(dir, "lost+found"), 0700), 0);
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    idx_close(x);
}

Test(open, refuses_foreign_db)
{
    struct idx *x;
    char msg[256];
    sql(itest_path(dir, "fadefs.db"), "CREATE TABLE t(a);");
    cr_assert_eq(try_open(0, 0, msg, sizeof msg, &x), -EINVAL);
    cr_assert(strstr(msg, "not a fadefs database") != NULL, "%s", msg);
}

Test(open, damaged_db_file)
{
    struct idx *x;
    char msg[256];
    char junk[8192];
    itest_fill(junk, sizeof junk, 7);
    FILE *f = fopen(itest_path(dir, "fadefs.db"), "w");
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    cr_assert_eq(try_open(0, 0, msg, sizeof msg, &x), -EUCLEAN, "%s", msg);
}

Test(open, missing_table_is_damage)
{
    struct idx *x;
    char msg[256];
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    idx_close(x);
    sql(itest_path(dir, "fadefs.db"), "DROP TABLE xattrs;");
    cr_assert_eq(try_open(0, 0, msg, sizeof msg, &x), -EUCLEAN);
    cr_assert(strstr(msg, "xattrs") != NULL, "%s", msg);
}

Test(open, corrupt_page_found_by_quick_check)
{
    struct idx *x;
    char msg[256];
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    /* Enough rows for several index pages. */
    cr_assert_eq(idx_w_begin(x), 0);
    for (int i = 0; i < 2000; i++) {
        char name[32];
        int n = snprintf(name, sizeof name, "file-%05d", i);
        cr_assert_eq(idx_w_link(x, 1, name, (size_t)n, 1000 + (uint64_t)i), 0);
    }
    cr_assert_eq(idx_w_commit(x, 1), 0);
    idx_close(x);
    /* Overwrite the last page (a b-tree page of the bulk just written)
     * with noise. */
    int fd = open(itest_path(dir, "fadefs.db"), O_RDWR);
    cr_assert(fd >= 0);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_gt(st.st_size, 8 * 4096);
    char junk[4096];
    itest_fill(junk, sizeof junk, 3);
    cr_assert_eq(pwrite(fd, junk, sizeof junk, st.st_size - 4096), (ssize_t)sizeof junk);
    close(fd);
    cr_assert_eq(try_open(0, 0, msg, sizeof msg, &x), -EUCLEAN, "%s", msg);
}

Test(open, newer_read_version_refused)
{
    struct idx *x;
    char msg[256];
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    idx_close(x);
    sql(itest_path(dir, "fadefs.db"), "UPDATE meta SET value = 99 WHERE key = 'read_version';");
    cr_assert_eq(try_open(0, 0, msg, sizeof msg, &x), -EPROTO);
    cr_assert(strstr(msg, "newer") != NULL, "%s", msg);
}

Test(open, newer_write_version_opens_read_only)
{
    struct idx *x;
    char msg[256];
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    struct idx_attr a = { .mode = S_IFREG | 0644, .nlink = 1 };
    cr_assert_eq(idx_w_inode_create(x, &a), 0);
    idx_close(x);
    sql(itest_path(dir, "fadefs.db"), "UPDATE meta SET value = 99 WHERE key = 'write_version';");
    cr_assert_eq(try_open(0, 0, msg, sizeof msg, &x), 0, "%s", msg);
    cr_assert_eq(idx_read_only(x), 1);
    cr_assert(strstr(msg, "read-only") != NULL, "%s", msg);
    cr_assert_eq(idx_w_begin(x), -EROFS);
    cr_assert_eq(idx_w_inode_create(x, &a), -EROFS);
    struct idx_rd *r;
    cr_assert_eq(idx_rd_open(x, &r), 0);
    struct idx_attr b;
    cr_assert_eq(idx_r_inode_get(r, a.ino, &b), 0);
    idx_rd_close(r);
    idx_close(x);
}

Test(open, read_only_open)
{
    struct idx *x, *y;
    char msg[256];
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    idx_close(x);
    cr_assert_eq(try_open(0, 1, msg, sizeof msg, &x), 0, "%s", msg);
    cr_assert_eq(idx_read_only(x), 1);
    /* Two read-only opens share the lock. */
    cr_assert_eq(try_open(0, 1, msg, sizeof msg, &y), 0, "%s", msg);
    struct idx_rd *r;
    cr_assert_eq(idx_rd_open(x, &r), 0);
    struct idx_attr a;
    cr_assert_eq(idx_r_inode_get(r, IDX_ROOT_INO, &a), 0);
    idx_rd_close(r);
    /* ...but exclude a writable one. */
    struct idx *z;
    cr_assert_eq(try_open(0, 0, msg, sizeof msg, &z), -EBUSY);
    idx_close(y);
    idx_close(x);
}

Test(open, double_open_busy)
{
    struct idx *x, *y = NULL;
    char msg[256];
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    cr_assert_eq(try_open(0, 0, msg, sizeof msg, &y), -EBUSY);
    cr_assert(strstr(msg, "in use") != NULL, "%s", msg);
    cr_assert_null(y);
    idx_close(x);
    cr_assert_eq(try_open(0, 0, msg, sizeof msg, &y), 0, "%s", msg);
    idx_close(y);
}

Test(open, half_created_store_restarts)
{
    struct idx *x;
    char msg[256];
    /* What a crash during creation leaves: the lock and a temporary db. */
    write_file(itest_path(dir, "fadefs.lock"), "");
    write_file(itest_path(dir, "fadefs-new.db"), "partial");
    cr_assert_eq(mkdir(itest_path(dir, "segments"), 0755), 0);
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    idx_close(x);
    cr_assert_neq(access(itest_path(dir, "fadefs-new.db"), F_OK), 0);
}

Test(open, null_msg_and_opts)
{
    struct idx *x;
    struct idx_opts o = { .create = 1 };
    cr_assert_eq(idx_open(&x, dir, &o, NULL, 0), 0);
    cr_assert_eq(idx_block_size(x), 65536);
    idx_close(x);
    cr_assert_eq(idx_open(&x, dir, NULL, NULL, 0), 0);
    idx_close(x);
    idx_close(NULL);
    idx_rd_close(NULL);
}

Test(open, every_open_starts_a_new_segment)
{
    struct idx *x;
    char msg[256];
    char buf[100];
    itest_fill(buf, sizeof buf, 1);
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    struct idx_bloc a, b;
    itest_put_block(x, 5, 0, buf, sizeof buf, &a);
    idx_close(x);
    cr_assert_eq(try_open(0, 0, msg, sizeof msg, &x), 0, "%s", msg);
    itest_put_block(x, 5, 1, buf, sizeof buf, &b);
    cr_assert_gt(b.seg, a.seg);
    idx_close(x);
}

Test(open, created_only_by_the_open_that_made_it)
{
    struct idx *x;
    char msg[256];
    /* A fresh file system's mount point: lost+found does not make the
     * directory a foreign one, and the store made there is new. */
    cr_assert_eq(mkdir(itest_path(dir, "lost+found"), 0700), 0);
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    cr_assert_eq(idx_created(x), 1);
    idx_close(x);
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    cr_assert_eq(idx_created(x), 0);
    idx_close(x);
    cr_assert_eq(try_open(0, 1, msg, sizeof msg, &x), 0, "%s", msg);
    cr_assert_eq(idx_created(x), 0);
    idx_close(x);
}

/* ---- the store is private to its owner ---- */

static mode_t mode_of(const char *name)
{
    struct stat st;
    cr_assert_eq(lstat(itest_path(dir, name), &st), 0, "%s: %s", name, strerror(errno));
    return st.st_mode & 07777;
}

static void seg_file(char *out, size_t cap, uint64_t seg)
{
    snprintf(out, cap, "segments/%016llx.seg", (unsigned long long)seg);
}

/* Every file and folder of an open store (its WAL files included) is
 * owner-only. */
static void assert_private(uint64_t seg)
{
    static const char *const files[] = {
        "fadefs.db", "fadefs.db-wal", "fadefs.db-shm", "fadefs.lock",
    };
    char sf[64];
    seg_file(sf, sizeof sf, seg);
    cr_assert_eq(mode_of("."), 0700, "store: %o", mode_of("."));
    cr_assert_eq(mode_of("segments"), 0700, "segments: %o", mode_of("segments"));
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        cr_assert_eq(mode_of(files[i]), 0600, "%s: %o", files[i], mode_of(files[i]));
    cr_assert_eq(mode_of(sf), 0600, "%s: %o", sf, mode_of(sf));
}

static struct idx *open_with_block(uint64_t ino, struct idx_bloc *loc)
{
    struct idx *x;
    char msg[256];
    char buf[300];
    itest_fill(buf, sizeof buf, 9);
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    itest_put_block(x, ino, 0, buf, sizeof buf, loc);
    return x;
}

Test(open, store_is_private_whatever_the_umask)
{
    umask(0);
    struct idx_bloc a, b;
    struct idx *x = open_with_block(5, &a);
    assert_private(a.seg);
    idx_close(x);

    /* Loosened by hand (or made by an older fadefs): the next writable
     * open closes it again, files of earlier segments included. */
    char sf[64];
    seg_file(sf, sizeof sf, a.seg);
    cr_assert_eq(chmod(dir, 0777), 0);
    cr_assert_eq(chmod(itest_path(dir, "segments"), 0777), 0);
    cr_assert_eq(chmod(itest_path(dir, "fadefs.db"), 0666), 0);
    cr_assert_eq(chmod(itest_path(dir, "fadefs.lock"), 0666), 0);
    cr_assert_eq(chmod(itest_path(dir, sf), 0644), 0);
    x = open_with_block(6, &b);
    cr_assert_neq(b.seg, a.seg);
    assert_private(a.seg);
    assert_private(b.seg);
    idx_close(x);

    /* A read-only open (fsck of someone's store) changes nothing. */
    cr_assert_eq(chmod(itest_path(dir, "fadefs.db"), 0640), 0);
    char msg[256];
    cr_assert_eq(try_open(0, 1, msg, sizeof msg, &x), 0, "%s", msg);
    idx_close(x);
    cr_assert_eq(mode_of("fadefs.db"), 0640);
}

/* In a child that has become `nobody`: the files of the store must not
 * open.  Exit status: 0, or the index of the first check that failed. */
static int as_nobody(const char *const *names, size_t n, int reachable)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            _exit(100);
        if (getuid() != 65534 || geteuid() != 65534)
            _exit(101);
        for (size_t i = 0; i < n; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            struct stat st;
            /* With the folders open, the file's own mode is what stops us. */
            if (reachable && stat(path, &st) != 0)
                _exit(50 + (int)i);
            int fd = open(path, O_RDONLY);
            if (fd >= 0 || errno != EACCES)
                _exit(1 + (int)i);
        }
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child did not exit");
    return WEXITSTATUS(status);
}

Test(open, second_user_cannot_read_the_store)
{
    umask(0);
    struct idx_bloc a;
    struct idx *x = open_with_block(5, &a);
    char sf[64];
    seg_file(sf, sizeof sf, a.seg);
    const char *const names[] = {
        "fadefs.db", sf, "fadefs.db-wal", "fadefs.db-shm", "fadefs.lock",
        "segments",
    };
    const size_t n = sizeof names / sizeof names[0];
    int rc = as_nobody(names, n, 0);
    cr_assert_neq(rc, 100, "cannot become nobody (65534)");
    cr_assert_eq(rc, 0, "check %d failed: %s opened", rc,
                 rc >= 1 && (size_t)rc <= n ? names[rc - 1] : "?");

    /* Even with both folders opened up, every file stays closed. */
    cr_assert_eq(chmod(dir, 0755), 0);
    cr_assert_eq(chmod(itest_path(dir, "segments"), 0755), 0);
    rc = as_nobody(names, n - 1, 1);
    cr_assert_eq(rc, 0, "check %d failed (%s)", rc,
                 rc >= 50 ? "cannot reach the store from nobody: check TMPDIR's modes"
                 : rc >= 1 && (size_t)rc < n ? names[rc - 1] : "?");
    idx_close(x);
}

/* ---- SQLite results as errno ---- */
TestSuite(sqlerr, .init = setup, .fini = teardown);

Test(sqlerr, only_key_clashes_are_eexist)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    sqlite3_extended_result_codes(db, 1);   /* as every store connection */
    cr_assert_eq(sqlite3_exec(db,
        "CREATE TABLE p(id INTEGER PRIMARY KEY);"
        "CREATE TABLE k(a INTEGER, b INTEGER, PRIMARY KEY(a, b)) WITHOUT ROWID;"
        "CREATE TABLE t(u INTEGER UNIQUE, n INTEGER NOT NULL,"
        " c INTEGER CHECK (c >= 0), f INTEGER REFERENCES p(id));"
        "CREATE TRIGGER no_seven BEFORE INSERT ON t WHEN new.n = 7"
        " BEGIN SELECT RAISE(ABORT, 'seven'); END;"
        "PRAGMA foreign_keys = ON;"
        "INSERT INTO p VALUES(1); INSERT INTO k VALUES(1, 1);"
        "INSERT INTO t VALUES(1, 1, 1, 1);", NULL, NULL, NULL), SQLITE_OK);
    static const struct { const char *sql; int err; } cases[] = {
        { "INSERT INTO p VALUES(1)",            -EEXIST },   /* rowid key */
        { "INSERT INTO k VALUES(1, 1)",         -EEXIST },   /* primary key */
        { "INSERT INTO t VALUES(1, 2, 2, 1)",   -EEXIST },   /* unique */
        { "INSERT INTO t VALUES(2, NULL, 2, 1)", -EIO },     /* not null */
        { "INSERT INTO t VALUES(3, 3, -1, 1)",  -EIO },      /* check */
        { "INSERT INTO t VALUES(4, 7, 1, 1)",   -EIO },      /* trigger */
        { "INSERT INTO t VALUES(5, 5, 1, 99)",  -EIO },      /* foreign key */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sqlite3_stmt *s;
        cr_assert_eq(sqlite3_prepare_v2(db, cases[i].sql, -1, &s, NULL), SQLITE_OK);
        int r = sqlite3_step(s);
        cr_assert_eq(r & 0xff, SQLITE_CONSTRAINT, "%s: %d", cases[i].sql, r);
        cr_assert_eq(idx_sqlerr(r), cases[i].err, "%s: rc %d gives %d", cases[i].sql,
                     r, idx_sqlerr(r));
        sqlite3_finalize(s);
    }
    /* Without the extended code nothing says it was a key. */
    cr_assert_eq(idx_sqlerr(SQLITE_CONSTRAINT), -EIO);
    sqlite3_close(db);
}

Test(sqlerr, store_link_clash_and_damage)
{
    struct idx *x;
    char msg[256];
    cr_assert_eq(try_open(1, 0, msg, sizeof msg, &x), 0, "%s", msg);
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_link(x, IDX_ROOT_INO, "a", 1, 7), 0);
    cr_assert_eq(idx_w_link(x, IDX_ROOT_INO, "a", 1, 8), -EEXIST);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    idx_close(x);
    /* A damaged store whose schema rejects a write: not a name clash. */
    sql(itest_path(dir, "fadefs.db"),
        "CREATE TRIGGER broken BEFORE INSERT ON dentries"
        " BEGIN SELECT RAISE(ABORT, 'damaged'); END;");
    cr_assert_eq(try_open(0, 0, msg, sizeof msg, &x), 0, "%s", msg);
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_link(x, IDX_ROOT_INO, "b", 1, 9), -EIO);
    idx_w_rollback(x);
    idx_close(x);
}
