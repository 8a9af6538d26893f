/* test_fs_core.c — the daemon's core without a kernel mount: block cache,
 * writer jobs, data path and namespace jobs driven directly through fs.h on
 * a real store in a temporary directory (runs where /dev/fuse is missing). */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs.h"
#include "tests/common/mount.h"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st; (void)flag; (void)f;
    return remove(p);
}

static char dir_[512];
static struct fs_ctx *fs_;

static void core_up(uint32_t bs)
{
    cr_assert_eq(fst_mkdtemp("core", dir_, sizeof dir_), 0);
    struct fs_opts o = { .store = dir_, .block_size = bs, .foreground = 1 };
    char msg[256];
    int e = fs_ctx_open(&fs_, &o, msg, sizeof msg);
    cr_assert_eq(e, 0, "open: %s", msg);
}

static void core_reopen(void)
{
    fs_ctx_close(fs_);
    struct fs_opts o = { .store = dir_, .foreground = 1 };
    char msg[256];
    int e = fs_ctx_open(&fs_, &o, msg, sizeof msg);
    cr_assert_eq(e, 0, "reopen: %s", msg);
}

static void core_down(void)
{
    fs_ctx_close(fs_);
    fs_ = NULL;
    if (dir_[0])
        nftw(dir_, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const struct fs_caller root_ = { 0, 0 };

static uint64_t mkfile(const char *name)
{
    struct idx_attr a;
    int e = fs_make(fs_, &root_, IDX_ROOT_INO, name, S_IFREG | 0644, 0, NULL, &a);
    cr_assert_eq(e, 0, "create %s: %s", name, strerror(-e));
    return a.ino;
}

static struct fs_inode *open_ino(uint64_t ino)
{
    struct fs_inode *in;
    cr_assert_eq(fs_inode_get(fs_, ino, &in), 0);
    fs_inode_open(fs_, in);
    return in;
}

static void close_ino(struct fs_inode *in)
{
    pthread_rwlock_wrlock(&in->rw);
    cr_assert_eq(fs_file_commit(fs_, in, 0), 0);
    pthread_rwlock_unlock(&in->rw);
    fs_inode_put(fs_, in, 0, 1);
}

static void put_at(struct fs_inode *in, const void *b, size_t n, uint64_t off)
{
    pthread_rwlock_wrlock(&in->rw);
    ssize_t w = fs_file_write(fs_, in, b, n, off, 0);
    pthread_rwlock_unlock(&in->rw);
    cr_assert_eq(w, (ssize_t)n);
}

static size_t get_at(struct fs_inode *in, void *b, size_t n, uint64_t off)
{
    pthread_rwlock_rdlock(&in->rw);
    ssize_t r = fs_file_read(fs_, in, b, n, off);
    pthread_rwlock_unlock(&in->rw);
    cr_assert_geq(r, 0);
    return (size_t)r;
}

static int has_row(uint64_t ino, uint64_t blkno)
{
    struct fs_rd *r;
    cr_assert_eq(fs_rd_take(fs_, &r), 0);
    struct idx_bloc loc;
    int e = idx_r_block_get(r->rd, ino, blkno, &loc);
    fs_rd_give(fs_, r);
    cr_assert(e == 0 || e == -ENOENT);
    return e == 0;
}

/* ---- cache ---- */
Test(fs_cache, lru_eviction_respects_the_byte_limit)
{
    struct fs_cache c;
    cr_assert_eq(fs_cache_init(&c, 3 * (1000 + 128)), 0);
    uint8_t b[1000], o[1000];
    for (int i = 0; i < 4; i++) {
        memset(b, 'a' + i, sizeof b);
        fs_cache_put(&c, 7, (uint64_t)i, b, sizeof b, 0);
        if (i == 2)   /* touch block 0: block 1 is now the coldest */
            cr_assert(fs_cache_read(&c, 7, 0, 0, o, 10));
    }
    cr_assert(c.bytes <= c.limit);
    cr_assert_not(fs_cache_read(&c, 7, 1, 0, o, 10), "coldest entry kept");
    cr_assert(fs_cache_read(&c, 7, 0, 0, o, 10));
    cr_assert(fs_cache_read(&c, 7, 3, 995, o, 10));
    cr_assert_eq(o[4], 'd');
    cr_assert_eq(o[5], 0, "bytes past an entry's length must read as zero");
    fs_cache_drop_from(&c, 7, 3);
    cr_assert_not(fs_cache_read(&c, 7, 3, 0, o, 1));
    cr_assert(fs_cache_read(&c, 7, 2, 0, o, 1));
    uint8_t *own = malloc(2000);
    cr_assert_not_null(own);
    memset(own, 'z', 2000);
    fs_cache_adopt(&c, 8, 0, own, 500, 2000);
    cr_assert(fs_cache_read(&c, 8, 0, 499, o, 2));
    cr_assert_eq(o[0], 'z');
    cr_assert_eq(o[1], 0);
    fs_cache_fini(&c);
}

/* ---- data path ---- */
Test(fs_core, writes_across_blocks_read_back_and_survive_reopen,
     .fini = core_down)
{
    core_up(4096);
    uint64_t ino = mkfile("f");
    struct fs_inode *in = open_ino(ino);
    static uint8_t buf[20000], got[60000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 31 + 7);
    put_at(in, buf, 10000, 100);              /* partial first block, 3 blocks */
    put_at(in, buf + 10000, 5000, 50000);     /* a hole of whole blocks between */
    cr_assert_eq(get_at(in, got, sizeof got, 0), 55000u);
    cr_assert_eq(memcmp(got + 100, buf, 10000), 0);
    for (size_t i = 10100; i < 50000; i++)
        cr_assert_eq(got[i], 0, "hole byte %zu", i);
    close_ino(in);
    cr_assert_not(has_row(ino, 5), "a never-written block must have no row");
    cr_assert(has_row(ino, 12));
    core_reopen();
    in = open_ino(ino);
    memset(got, 0xee, sizeof got);
    size_t n2 = get_at(in, got, sizeof got, 0);
    cr_assert_eq(n2, 55000u, "read %zu after reopen, size %llu", n2, (unsigned long long)in->size);
    cr_assert_eq(memcmp(got + 100, buf, 10000), 0);
    cr_assert_eq(memcmp(got + 50000, buf + 10000, 5000), 0);
    fs_inode_put(fs_, in, 0, 1);
}

Test(fs_core, truncate_zeroes_the_cut_tail, .fini = core_down)
{
    core_up(4096);
    uint64_t ino = mkfile("t");
    struct fs_inode *in = open_ino(ino);
    uint8_t buf[9000], got[9000];
    memset(buf, 0x5a, sizeof buf);
    put_at(in, buf, sizeof buf, 0);
    pthread_rwlock_wrlock(&in->rw);
    cr_assert_eq(fs_file_truncate(fs_, in, 5000, NULL), 0);
    cr_assert_eq(fs_file_truncate(fs_, in, 9000, NULL), 0);
    pthread_rwlock_unlock(&in->rw);
    cr_assert_eq(get_at(in, got, sizeof got, 0), 9000u);
    cr_assert_eq(memcmp(got, buf, 5000), 0);
    for (size_t i = 5000; i < 9000; i++)
        cr_assert_eq(got[i], 0, "byte %zu after truncate down and up", i);
    cr_assert_not(has_row(ino, 2), "rows past the cut must be gone");
    close_ino(in);
}

/* SEEK_DATA / SEEK_HOLE without a mount: dirty blocks, blocks whose
 * commit is deferred, and committed ones answer alike. */
Test(fs_core, seek_data_and_hole, .fini = core_down)
{
    core_up(4096);
    uint64_t ino = mkfile("s");
    struct fs_inode *in = open_ino(ino);
    uint8_t b[4096];
    memset(b, 0x77, sizeof b);
    put_at(in, b, 4096, 1 * 4096);            /* blocks 1 and 3 hold data */
    put_at(in, b, 10, 3 * 4096 + 100);
    pthread_rwlock_wrlock(&in->rw);
    cr_assert_eq(fs_file_truncate(fs_, in, 6 * 4096 + 5, NULL), 0);
    pthread_rwlock_unlock(&in->rw);
    put_at(in, b, 4096, 4 * 4096);            /* dirty again after the commit */
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 1) {                      /* handed off, maybe not landed */
            pthread_rwlock_wrlock(&in->rw);
            cr_assert_eq(fs_file_commit(fs_, in, FS_COMMIT_ASYNC), 0);
            pthread_rwlock_unlock(&in->rw);
        } else if (pass == 2) {
            cr_assert_eq(fs_writer_barrier(fs_), 0);
        }
        cr_assert_eq(fs_seek_data(fs_, in, 0, SEEK_DATA), 4096, "pass %d", pass);
        cr_assert_eq(fs_seek_data(fs_, in, 5000, SEEK_DATA), 5000);
        cr_assert_eq(fs_seek_data(fs_, in, 2 * 4096, SEEK_DATA), 3 * 4096);
        cr_assert_eq(fs_seek_data(fs_, in, 5 * 4096, SEEK_DATA), -ENXIO);
        cr_assert_eq(fs_seek_data(fs_, in, 0, SEEK_HOLE), 0);
        cr_assert_eq(fs_seek_data(fs_, in, 4096, SEEK_HOLE), 2 * 4096);
        cr_assert_eq(fs_seek_data(fs_, in, 3 * 4096 + 7, SEEK_HOLE), 5 * 4096);
        cr_assert_eq(fs_seek_data(fs_, in, 6 * 4096 + 4, SEEK_HOLE), 6 * 4096 + 4);
        cr_assert_eq(fs_seek_data(fs_, in, 6 * 4096 + 5, SEEK_HOLE), -ENXIO);
        cr_assert_eq(fs_seek_data(fs_, in, 0, SEEK_SET), -EINVAL);
    }
    close_ino(in);
}

/* ---- namespace ---- */
Test(fs_core, unlinked_open_file_lives_until_last_put, .fini = core_down)
{
    core_up(0);
    uint64_t ino = mkfile("u");
    struct fs_inode *in = open_ino(ino);
    put_at(in, "data", 4, 0);
    cr_assert_eq(fs_remove(fs_, IDX_ROOT_INO, "u", 0), 0);
    struct idx_attr a;
    cr_assert_eq(fs_lookup(fs_, IDX_ROOT_INO, "u", &a), -ENOENT);
    char got[4];
    cr_assert_eq(get_at(in, got, 4, 0), 4u);
    cr_assert_eq(memcmp(got, "data", 4), 0);
    close_ino(in);
    /* The last put deletes it without waiting: by the next change that may
     * not overtake deferred jobs (here a barrier), it is gone. */
    cr_assert_eq(fs_writer_barrier(fs_), 0);
    cr_assert_eq(fs_getattr(fs_, ino, &a), -ENOENT, "orphan not reaped at last put");
}

/* Orphans whose last put came just before an unmount, or just before
 * another unlink, are deleted with it; none is left with nlink 0. */
Test(fs_core, orphan_delete_rides_with_the_next_change, .fini = core_down)
{
    core_up(0);
    enum { N = 20 };
    uint64_t ino[N];
    char name[16];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "o%d", i);
        ino[i] = mkfile(name);
        struct fs_inode *in = open_ino(ino[i]);
        put_at(in, "orphan", 6, (uint64_t)i * 100000);
        cr_assert_eq(fs_remove(fs_, IDX_ROOT_INO, name, 0), 0);
        close_ino(in);
    }
    mkfile("last");
    cr_assert_eq(fs_remove(fs_, IDX_ROOT_INO, "last", 0), 0);
    struct idx_attr a;
    for (int i = 0; i < N; i++)
        cr_assert_eq(fs_getattr(fs_, ino[i], &a), -ENOENT, "orphan %d left", i);

    /* Deferred at unmount: the writer's last batch runs it. */
    uint64_t late = mkfile("late");
    struct fs_inode *in = open_ino(late);
    put_at(in, "x", 1, 0);
    cr_assert_eq(fs_remove(fs_, IDX_ROOT_INO, "late", 0), 0);
    close_ino(in);
    core_reopen();
    cr_assert_eq(fs_getattr(fs_, late, &a), -ENOENT, "orphan left at unmount");
    struct fs_rd *r;
    cr_assert_eq(fs_rd_take(fs_, &r), 0);
    struct idx_stats st;
    cr_assert_eq(idx_r_stats(r->rd, &st), 0);
    fs_rd_give(fs_, r);
    cr_assert_eq(st.n_inodes, 1, "%llu inodes left, want the root only",
                 (unsigned long long)st.n_inodes);
}

Test(fs_core, rename_rules, .fini = core_down)
{
    core_up(0);
    struct idx_attr a, d1, d2;
    mkfile("a");
    mkfile("b");
    cr_assert_eq(fs_make(fs_, &root_, IDX_ROOT_INO, "d1", S_IFDIR | 0755, 0, NULL, &d1), 0);
    cr_assert_eq(fs_make(fs_, &root_, IDX_ROOT_INO, "d2", S_IFDIR | 0755, 0, NULL, &d2), 0);
    cr_assert_eq(fs_make(fs_, &root_, d2.ino, "x", S_IFREG | 0644, 0, NULL, &a), 0);
    cr_assert_eq(fs_rename(fs_, IDX_ROOT_INO, "a", IDX_ROOT_INO, "b", RENAME_NOREPLACE), -EEXIST);
    cr_assert_eq(fs_rename(fs_, IDX_ROOT_INO, "a", IDX_ROOT_INO, "d1", 0), -EISDIR);
    cr_assert_eq(fs_rename(fs_, IDX_ROOT_INO, "d1", IDX_ROOT_INO, "a", 0), -ENOTDIR);
    cr_assert_eq(fs_rename(fs_, IDX_ROOT_INO, "d1", IDX_ROOT_INO, "d2", 0), -ENOTEMPTY);
    cr_assert_eq(fs_rename(fs_, IDX_ROOT_INO, "a", IDX_ROOT_INO, "d2", RENAME_EXCHANGE), 0);
    cr_assert_eq(fs_lookup(fs_, IDX_ROOT_INO, "a", &a), 0);
    cr_assert(S_ISDIR(a.mode));
    cr_assert_eq(fs_rename(fs_, IDX_ROOT_INO, "d1", IDX_ROOT_INO, "a", 0), -ENOTEMPTY);
    cr_assert_eq(fs_remove(fs_, IDX_ROOT_INO, "a", 1), -ENOTEMPTY);
    cr_assert_eq(fs_rename(fs_, IDX_ROOT_INO, "d2", IDX_ROOT_INO, "b", 0), 0);
    cr_assert_eq(fs_getattr(fs_, IDX_ROOT_INO, &a), 0);
    cr_assert_eq(a.nlink, 4u, "root: 2 + d1 + a");
}

/* Many threads submitting at once: every job done once, all visible. */
static void *maker(void *arg)
{
    long k = (long)arg;
    for (int i = 0; i < 20; i++) {
        char n[32];
        snprintf(n, sizeof n, "m%ld_%d", k, i);
        struct idx_attr a;
        if (fs_make(fs_, &root_, IDX_ROOT_INO, n, S_IFREG | 0600, 0, NULL, &a))
            return (void *)1;
    }
    return NULL;
}

Test(fs_core, concurrent_jobs_share_commits, .fini = core_down)
{
    core_up(0);
    pthread_t t[6];
    for (long k = 0; k < 6; k++)
        cr_assert_eq(pthread_create(&t[k], NULL, maker, (void *)k), 0);
    for (int k = 0; k < 6; k++) {
        void *r;
        pthread_join(t[k], &r);
        cr_assert_null(r);
    }
    struct idx_attr a;
    for (long k = 0; k < 6; k++)
        for (int i = 0; i < 20; i++) {
            char n[32];
            snprintf(n, sizeof n, "m%ld_%d", k, i);
            cr_assert_eq(fs_lookup(fs_, IDX_ROOT_INO, n, &a), 0, "%s missing", n);
        }
    cr_assert_eq(fs_make(fs_, &root_, IDX_ROOT_INO, "m0_0", S_IFREG | 0600, 0, NULL, &a),
                 -EEXIST);
    cr_assert_eq(fs_writer_barrier(fs_), 0);
}
