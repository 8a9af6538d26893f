/* test_meta.c — inodes, directory entries, readdir, symlinks, xattrs, and
 * the block-map scans behind SEEK_DATA / SEEK_HOLE. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "index/idx.h"
#include "tests/index/idx_fixture.h"

TestSuite(inode, .init = setup, .fini = teardown);
TestSuite(dentry, .init = setup, .fini = teardown);
TestSuite(readdir, .init = setup, .fini = teardown);
TestSuite(symlink, .init = setup, .fini = teardown);
TestSuite(xattr, .init = setup, .fini = teardown);
TestSuite(holes, .init = setup, .fini = teardown);

static int attr_eq(const struct idx_attr *a, const struct idx_attr *b)
{
    return a->ino == b->ino && a->mode == b->mode && a->uid == b->uid &&
           a->gid == b->gid && a->nlink == b->nlink && a->size == b->size &&
           a->rdev == b->rdev && a->atime_sec == b->atime_sec &&
           a->mtime_sec == b->mtime_sec && a->ctime_sec == b->ctime_sec &&
           a->atime_nsec == b->atime_nsec && a->mtime_nsec == b->mtime_nsec &&
           a->ctime_nsec == b->ctime_nsec;
}

static uint64_t new_inode(uint32_t mode)
{
    struct idx_attr a = { .mode = mode, .uid = 1000, .gid = 100, .nlink = 1 };
    cr_assert_eq(idx_w_inode_create(x, &a), 0);
    return a.ino;
}

Test(inode, create_get_put_delete)
{
    struct idx_attr a = {
        .mode = S_IFREG | 0640, .uid = 1000, .gid = 100, .nlink = 1,
        .size = 123456789012ull, .rdev = 0x0801,
        .atime_sec = 1700000000, .atime_nsec = 1,
        .mtime_sec = -5, .mtime_nsec = 999999999,
        .ctime_sec = 1700000002, .ctime_nsec = 3,
    };
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_inode_create(x, &a), 0);
    cr_assert_gt(a.ino, IDX_ROOT_INO);
    struct idx_attr b;
    /* The writer sees its own uncommitted work; readers do not. */
    cr_assert_eq(idx_w_inode_get(x, a.ino, &b), 0);
    cr_assert_eq(idx_r_inode_get(r, a.ino, &b), -ENOENT);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(idx_r_inode_get(r, a.ino, &b), 0);
    cr_assert(attr_eq(&a, &b));

    a.size = 7;
    a.nlink = 3;
    a.mtime_sec = 1800000000;
    cr_assert_eq(idx_w_inode_put(x, &a), 0);
    cr_assert_eq(idx_r_inode_get(r, a.ino, &b), 0);
    cr_assert(attr_eq(&a, &b));

    cr_assert_eq(idx_w_inode_delete(x, a.ino), 0);
    cr_assert_eq(idx_r_inode_get(r, a.ino, &b), -ENOENT);
    cr_assert_eq(idx_w_inode_delete(x, a.ino), -ENOENT);
    struct idx_attr c = a;
    cr_assert_eq(idx_w_inode_put(x, &c), -ENOENT);
}

Test(inode, numbers_never_reused)
{
    uint64_t a = new_inode(S_IFREG | 0644);
    cr_assert_eq(idx_w_inode_delete(x, a), 0);
    uint64_t b = new_inode(S_IFREG | 0644);
    cr_assert_gt(b, a);
    /* ...not even after a reopen. */
    cr_assert_eq(idx_w_inode_delete(x, b), 0);
    idx_rd_close(r);
    idx_close(x);
    x = itest_open(dir, 0, 0);
    cr_assert_eq(idx_rd_open(x, &r), 0);
    uint64_t c = new_inode(S_IFREG | 0644);
    cr_assert_gt(c, b);
}

Test(inode, rollback_undoes)
{
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_begin(x), -EINVAL);
    uint64_t a = new_inode(S_IFREG | 0644);
    idx_w_rollback(x);
    struct idx_attr b;
    cr_assert_eq(idx_w_inode_get(x, a, &b), -ENOENT);
    idx_w_rollback(x);   /* harmless with no transaction */
}

static int collect_orphan(void *arg, uint64_t ino)
{
    uint64_t *seen = arg;
    seen[seen[0] + 1] = ino;
    seen[0]++;
    return idx_w_inode_delete(x, ino);
}

Test(inode, orphans)
{
    uint64_t a = new_inode(S_IFREG | 0644);
    uint64_t b = new_inode(S_IFREG | 0644);
    uint64_t c = new_inode(S_IFREG | 0644);
    struct idx_attr at;
    cr_assert_eq(idx_w_inode_get(x, b, &at), 0);
    at.nlink = 0;
    cr_assert_eq(idx_w_inode_put(x, &at), 0);
    cr_assert_eq(idx_w_inode_get(x, c, &at), 0);
    at.nlink = 0;
    cr_assert_eq(idx_w_inode_put(x, &at), 0);
    uint64_t seen[8] = { 0 };
    cr_assert_eq(idx_w_orphans(x, collect_orphan, seen), 0);
    cr_assert_eq(seen[0], 2);
    cr_assert((seen[1] == b && seen[2] == c) || (seen[1] == c && seen[2] == b));
    cr_assert_eq(idx_w_inode_get(x, a, &at), 0);
    cr_assert_eq(idx_w_inode_get(x, b, &at), -ENOENT);
    memset(seen, 0, sizeof seen);
    cr_assert_eq(idx_w_orphans(x, collect_orphan, seen), 0);
    cr_assert_eq(seen[0], 0);
}

Test(inode, delete_removes_everything)
{
    uint64_t a = new_inode(S_IFREG | 0644);
    char buf[64];
    itest_fill(buf, sizeof buf, 1);
    itest_put_block(x, a, 0, buf, sizeof buf, NULL);
    itest_put_block(x, a, 9, buf, sizeof buf, NULL);
    cr_assert_eq(idx_w_queue_push(x, a, 0), 0);
    cr_assert_eq(idx_w_xattr_set(x, a, "user.k", "v", 1, 0), 0);
    cr_assert_eq(idx_w_symlink_set(x, a, "t", 1), 0);
    cr_assert_eq(idx_w_inode_delete(x, a), 0);
    struct idx_bloc l;
    cr_assert_eq(idx_r_block_get(r, a, 0, &l), -ENOENT);
    cr_assert_eq(idx_r_block_get(r, a, 9, &l), -ENOENT);
    uint64_t qi, qb;
    cr_assert_eq(idx_r_queue_peek(r, &qi, &qb, 1), 0);
    size_t len;
    cr_assert_eq(idx_r_xattr_get(r, a, "user.k", NULL, 0, &len), -ENODATA);
    cr_assert_eq(idx_r_symlink_get(r, a, buf, sizeof buf, &len), -ENOENT);
    struct idx_stats s;
    cr_assert_eq(idx_r_stats(r, &s), 0);
    cr_assert_eq(s.n_blocks, 0);
    cr_assert_eq(s.n_inodes, 1);
}

Test(dentry, link_lookup_unlink)
{
    uint64_t a = new_inode(S_IFREG | 0644), ino = 0;
    cr_assert_eq(idx_w_dir_empty(x, IDX_ROOT_INO), 1);
    cr_assert_eq(idx_w_link(x, IDX_ROOT_INO, "hello", 5, a), 0);
    cr_assert_eq(idx_w_dir_empty(x, IDX_ROOT_INO), 0);
    cr_assert_eq(idx_w_link(x, IDX_ROOT_INO, "hello", 5, a), -EEXIST);
    cr_assert_eq(idx_r_lookup(r, IDX_ROOT_INO, "hello", 5, &ino), 0);
    cr_assert_eq(ino, a);
    ino = 0;
    cr_assert_eq(idx_w_lookup(x, IDX_ROOT_INO, "hello", 5, &ino), 0);
    cr_assert_eq(ino, a);
    /* Length is explicit: a prefix is another name. */
    cr_assert_eq(idx_r_lookup(r, IDX_ROOT_INO, "hell", 4, &ino), -ENOENT);
    cr_assert_eq(idx_r_lookup(r, IDX_ROOT_INO, "hello!", 5, &ino), 0);
    /* Same name in another directory is independent. */
    cr_assert_eq(idx_r_lookup(r, a, "hello", 5, &ino), -ENOENT);
    cr_assert_eq(idx_w_unlink(x, IDX_ROOT_INO, "hello", 5), 0);
    cr_assert_eq(idx_w_unlink(x, IDX_ROOT_INO, "hello", 5), -ENOENT);
    cr_assert_eq(idx_r_lookup(r, IDX_ROOT_INO, "hello", 5, &ino), -ENOENT);
    cr_assert_eq(idx_w_dir_empty(x, IDX_ROOT_INO), 1);
}

Test(dentry, names_are_bytes)
{
    /* Any byte but '/' and NUL, compared exactly: case, high bytes,
     * invalid UTF-8, 255 bytes. */
    char big[255];
    for (int i = 0; i < 255; i++)
        big[i] = (char)(1 + i % 254 == '/' ? 'x' : 1 + i % 254);
    const struct { const char *n; size_t len; } names[] = {
        { "A", 1 }, { "a", 1 }, { "\xff\xfe", 2 }, { "\xc3\xa9", 2 },
        { "e\xcc\x81", 3 }, { " ", 1 }, { big, sizeof big },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_assert_eq(idx_w_link(x, 1, names[i].n, names[i].len, 100 + i), 0, "%zu", i);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        uint64_t ino;
        cr_assert_eq(idx_r_lookup(r, 1, names[i].n, names[i].len, &ino), 0);
        cr_assert_eq(ino, 100 + i);
    }
    char longer[256];
    memset(longer, 'a', sizeof longer);
    cr_assert_eq(idx_w_link(x, 1, longer, sizeof longer, 5), -ENAMETOOLONG);
}

struct listing {
    int n;
    char names[64][16];
    uint64_t inos[64];
    uint32_t modes[64];
    uint64_t cookies[64];
    int stop_after;
};

static int collect(void *arg, const char *name, size_t len, uint64_t ino,
                   uint32_t mode, uint64_t cookie)
{
    struct listing *l = arg;
    cr_assert_lt(len, sizeof l->names[0]);
    memcpy(l->names[l->n], name, len);
    l->names[l->n][len] = 0;
    l->inos[l->n] = ino;
    l->modes[l->n] = mode;
    l->cookies[l->n] = cookie;
    l->n++;
    return l->stop_after && l->n >= l->stop_after ? 1 : 0;
}

Test(readdir, order_mode_resume)
{
    uint64_t d = new_inode(S_IFDIR | 0755);
    uint64_t f = new_inode(S_IFREG | 0600);
    cr_assert_eq(idx_w_link(x, d, "zeta", 4, f), 0);
    cr_assert_eq(idx_w_link(x, d, "alpha", 5, d), 0);
    cr_assert_eq(idx_w_link(x, d, "mid", 3, 999999), 0);  /* dangling */
    struct listing l = { 0 };
    cr_assert_eq(idx_r_readdir(r, d, 0, collect, &l), 0);
    cr_assert_eq(l.n, 3);
    /* Insertion order, not name order. */
    cr_assert_str_eq(l.names[0], "zeta");
    cr_assert_str_eq(l.names[1], "alpha");
    cr_assert_str_eq(l.names[2], "mid");
    cr_assert_eq(l.modes[0], S_IFREG | 0600);
    cr_assert_eq(l.modes[1], S_IFDIR | 0755);
    cr_assert_eq(l.modes[2], 0);
    cr_assert_lt(l.cookies[0], l.cookies[1]);
    cr_assert_lt(l.cookies[1], l.cookies[2]);
    /* Resume after the first; stop early. */
    struct listing m = { .stop_after = 1 };
    cr_assert_eq(idx_r_readdir(r, d, l.cookies[0], collect, &m), 0);
    cr_assert_eq(m.n, 1);
    cr_assert_str_eq(m.names[0], "alpha");
    struct listing e = { 0 };
    cr_assert_eq(idx_r_readdir(r, d, l.cookies[2], collect, &e), 0);
    cr_assert_eq(e.n, 0);
}

static int fail_cb(void *arg, const char *name, size_t len, uint64_t ino,
                   uint32_t mode, uint64_t cookie)
{
    return -EIO;
}

Test(readdir, callback_error_returned)
{
    cr_assert_eq(idx_w_link(x, 1, "a", 1, 5), 0);
    cr_assert_eq(idx_r_readdir(r, 1, 0, fail_cb, NULL), -EIO);
}

/* A writer thread inserts and deletes entries while the test lists the
 * directory page by page; entries present throughout must appear exactly
 * once in every listing. */
#define N_STABLE 40
static volatile int stop_churn;

static void *churn(void *arg)
{
    for (int i = 0; !stop_churn && i < 100000; i++) {
        char name[16];
        int n = snprintf(name, sizeof name, "tmp%d", i);
        cr_assert_eq(idx_w_begin(x), 0);
        cr_assert_eq(idx_w_link(x, 1, name, (size_t)n, 7), 0);
        if (i >= 3) {
            n = snprintf(name, sizeof name, "tmp%d", i - 3);
            cr_assert_eq(idx_w_unlink(x, 1, name, (size_t)n), 0);
        }
        cr_assert_eq(idx_w_commit(x, 0), 0);
    }
    return NULL;
}

struct page {
    uint64_t last;
    int n;
    int seen[N_STABLE];
};

static int page_cb(void *arg, const char *name, size_t len, uint64_t ino,
                   uint32_t mode, uint64_t cookie)
{
    struct page *p = arg;
    p->last = cookie;
    if (len > 6 && memcmp(name, "stable", 6) == 0)
        p->seen[atoi(name + 6)]++;
    return ++p->n % 5 == 0 ? 1 : 0;   /* small pages: many resumptions */
}

Test(readdir, stable_under_concurrent_changes)
{
    cr_assert_eq(idx_w_begin(x), 0);
    for (int i = 0; i < N_STABLE; i++) {
        char name[16];
        int n = snprintf(name, sizeof name, "stable%d", i);
        cr_assert_eq(idx_w_link(x, 1, name, (size_t)n, 100 + (uint64_t)i), 0);
        n = snprintf(name, sizeof name, "gone%d", i);
        cr_assert_eq(idx_w_link(x, 1, name, (size_t)n, 100 + (uint64_t)i), 0);
    }
    cr_assert_eq(idx_w_commit(x, 0), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, churn, NULL), 0);
    for (int round = 0; round < 20; round++) {
        struct page p = { 0 };
        for (;;) {
            int before = p.n;
            cr_assert_eq(idx_r_readdir(r, 1, p.last, page_cb, &p), 0);
            if (p.n == before || p.n % 5 != 0)
                break;
        }
        for (int i = 0; i < N_STABLE; i++)
            cr_assert_eq(p.seen[i], 1, "round %d entry %d seen %d times", round, i, p.seen[i]);
    }
    stop_churn = 1;
    pthread_join(t, NULL);
}

Test(symlink, set_get_truncate)
{
    uint64_t a = new_inode(S_IFLNK | 0777);
    cr_assert_eq(idx_w_symlink_set(x, a, "../some/where", 13), 0);
    char buf[64];
    size_t len = 0;
    cr_assert_eq(idx_r_symlink_get(r, a, buf, sizeof buf, &len), 0);
    cr_assert_eq(len, 13);
    cr_assert_eq(memcmp(buf, "../some/where", 13), 0);
    memset(buf, 0, sizeof buf);
    cr_assert_eq(idx_r_symlink_get(r, a, buf, 4, &len), 0);
    cr_assert_eq(len, 13);
    cr_assert_eq(memcmp(buf, "../s\0", 5), 0);
    cr_assert_eq(idx_w_symlink_set(x, a, "x", 1), 0);
    cr_assert_eq(idx_r_symlink_get(r, a, buf, sizeof buf, &len), 0);
    cr_assert_eq(len, 1);
    cr_assert_eq(idx_r_symlink_get(r, a + 1, buf, sizeof buf, &len), -ENOENT);
}

Test(xattr, create_replace_get_list_remove)
{
    uint64_t a = new_inode(S_IFREG | 0644);
    char buf[64];
    size_t len = 0;
    cr_assert_eq(idx_r_xattr_get(r, a, "user.a", buf, sizeof buf, &len), -ENODATA);
    cr_assert_eq(idx_w_xattr_set(x, a, "user.a", "v1", 2, XATTR_REPLACE), -ENODATA);
    cr_assert_eq(idx_w_xattr_set(x, a, "user.a", "v1", 2, XATTR_CREATE), 0);
    cr_assert_eq(idx_w_xattr_set(x, a, "user.a", "v2", 2, XATTR_CREATE), -EEXIST);
    cr_assert_eq(idx_w_xattr_set(x, a, "user.a", "value3", 6, XATTR_REPLACE), 0);
    cr_assert_eq(idx_w_xattr_set(x, a, "user.b", "\0\1\2", 3, 0), 0);
    cr_assert_eq(idx_w_xattr_set(x, a, "user.empty", NULL, 0, 0), 0);
    cr_assert_eq(idx_w_xattr_set(x, a, "user.b", "bb", 2, 0), 0);
    cr_assert_eq(idx_w_xattr_set(x, a, "user.c", "c", 1, XATTR_CREATE | XATTR_REPLACE), -EINVAL);

    cr_assert_eq(idx_r_xattr_get(r, a, "user.a", NULL, 0, &len), 0);
    cr_assert_eq(len, 6);
    cr_assert_eq(idx_r_xattr_get(r, a, "user.a", buf, 3, &len), -ERANGE);
    cr_assert_eq(idx_r_xattr_get(r, a, "user.a", buf, sizeof buf, &len), 0);
    cr_assert_eq(memcmp(buf, "value3", 6), 0);
    cr_assert_eq(idx_r_xattr_get(r, a, "user.b", buf, sizeof buf, &len), 0);
    cr_assert_eq(len, 2);
    cr_assert_eq(idx_r_xattr_get(r, a, "user.empty", buf, sizeof buf, &len), 0);
    cr_assert_eq(len, 0);

    const char want[] = "user.a\0user.b\0user.empty";
    cr_assert_eq(idx_r_xattr_list(r, a, NULL, 0, &len), 0);
    cr_assert_eq(len, sizeof want);
    cr_assert_eq(idx_r_xattr_list(r, a, buf, 5, &len), -ERANGE);
    cr_assert_eq(idx_r_xattr_list(r, a, buf, sizeof buf, &len), 0);
    cr_assert_eq(len, sizeof want);
    cr_assert_eq(memcmp(buf, want, sizeof want), 0);

    cr_assert_eq(idx_w_xattr_remove(x, a, "user.a"), 0);
    cr_assert_eq(idx_w_xattr_remove(x, a, "user.a"), -ENODATA);
    cr_assert_eq(idx_r_xattr_list(r, a, buf, sizeof buf, &len), 0);
    cr_assert_eq(len, sizeof "user.b\0user.empty");
    /* Another inode has none. */
    cr_assert_eq(idx_r_xattr_list(r, a + 1, buf, sizeof buf, &len), 0);
    cr_assert_eq(len, 0);
}

Test(xattr, large_value)
{
    uint64_t a = new_inode(S_IFREG | 0644);
    size_t n = 65536;
    char *v = malloc(n), *w = malloc(n);
    itest_fill(v, n, 9);
    cr_assert_eq(idx_w_xattr_set(x, a, "user.big", v, n, 0), 0);
    size_t len;
    cr_assert_eq(idx_r_xattr_get(r, a, "user.big", w, n, &len), 0);
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(v, w, n), 0);
    free(v);
    free(w);
}

/* Rows at 0-2, 5, 9 of inode 7 (end 12) and one row of inode 8, which the
 * scans of 7 must not see. */
Test(holes, next_data_and_next_hole)
{
    char a[100];
    itest_fill(a, sizeof a, 3);
    static const uint64_t rows[] = { 0, 1, 2, 5, 9 };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        itest_put_block(x, 7, rows[i], a, sizeof a, NULL);
    itest_put_block(x, 8, 3, a, sizeof a, NULL);
    static const struct { uint64_t from, data, hole; } want[] = {
        { 0, 0, 3 }, { 1, 1, 3 }, { 2, 2, 3 }, { 3, 5, 3 }, { 4, 5, 4 },
        { 5, 5, 6 }, { 6, 9, 6 }, { 9, 9, 10 }, { 10, 12, 10 }, { 11, 12, 11 },
        { 12, 12, 12 }, { 40, 12, 12 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint64_t b = 77;
        cr_assert_eq(idx_r_block_next_data(r, 7, want[i].from, 12, &b), 0);
        cr_assert_eq(b, want[i].data, "data from %llu: %llu",
                     (unsigned long long)want[i].from, (unsigned long long)b);
        b = 77;
        cr_assert_eq(idx_r_block_next_hole(r, 7, want[i].from, 12, &b), 0);
        cr_assert_eq(b, want[i].hole, "hole from %llu: %llu",
                     (unsigned long long)want[i].from, (unsigned long long)b);
    }
    /* The end bounds both scans: rows 0-2 fill [0, 3). */
    uint64_t b;
    cr_assert_eq(idx_r_block_next_hole(r, 7, 0, 3, &b), 0);
    cr_assert_eq(b, 3);
    cr_assert_eq(idx_r_block_next_data(r, 7, 3, 5, &b), 0);
    cr_assert_eq(b, 5);
    /* A file without rows, and an unknown inode: all hole. */
    cr_assert_eq(idx_r_block_next_data(r, 8, 0, 3, &b), 0);
    cr_assert_eq(b, 3);
    cr_assert_eq(idx_r_block_next_hole(r, 8, 3, 10, &b), 0);
    cr_assert_eq(b, 4);
    cr_assert_eq(idx_r_block_next_hole(r, 99, 2, 10, &b), 0);
    cr_assert_eq(b, 2);
}
