/* fs_ctx.c — setup and teardown of the daemon state: the store, the pool of
 * read connections, crash-orphan cleanup at mount, and logging.
 *
 * Read connections are pooled rather than kept per thread: libfuse creates
 * and retires worker threads as load changes, and a pool keeps the number of
 * connections at the peak concurrency with no thread-exit hooks, and lets
 * fs_ctx_close() close every one of them before the store (idx.h requires
 * readers closed first).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "fs/fs.h"

void fs_log(struct fs_ctx *fs, int prio, const char *fmt, ...)
{
    /* Quiet unless something is wrong; notices (the compressor's progress
     * line) also in the foreground; chatter only with -d. */
    if (prio > (fs->foreground ? LOG_NOTICE : LOG_WARNING) && !fs->debug)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (fs->foreground) {
        char line[1024];
        vsnprintf(line, sizeof(line), fmt, ap);
        fprintf(stderr, "fadefs: %s\n", line);
    } else {
        vsyslog(prio, fmt, ap);
    }
    va_end(ap);
}

int fs_rd_take(struct fs_ctx *fs, struct fs_rd **out)
{
    pthread_mutex_lock(&fs->rd_lock);
    struct fs_rd *r = fs->rd_free;
    if (r)
        fs->rd_free = r->next_free;
    pthread_mutex_unlock(&fs->rd_lock);
    if (r) {
        *out = r;
        return 0;
    }
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    int e = idx_rd_open(fs->idx, &r->rd);
    if (e) {
        free(r);
        fs_log(fs, LOG_ERR, "cannot open a read connection: %s", strerror(-e));
        return e;
    }
    pthread_mutex_lock(&fs->rd_lock);
    r->next_all = fs->rd_all;
    fs->rd_all = r;
    pthread_mutex_unlock(&fs->rd_lock);
    *out = r;
    return 0;
}

void fs_rd_give(struct fs_ctx *fs, struct fs_rd *r)
{
    pthread_mutex_lock(&fs->rd_lock);
    r->next_free = fs->rd_free;
    fs->rd_free = r;
    pthread_mutex_unlock(&fs->rd_lock);
}

static void rd_close_all(struct fs_ctx *fs)
{
    struct fs_rd *r = fs->rd_all;
    while (r) {
        struct fs_rd *n = r->next_all;
        idx_rd_close(r->rd);
        fade_ctx_free(r->fctx);
        free(r->pay);
        free(r);
        r = n;
    }
    fs->rd_all = fs->rd_free = NULL;
}

/* ---- mount-time jobs ---- */
struct orphan_list {
    uint64_t *ino;
    size_t n, cap;
};

static int orphan_collect(void *arg, uint64_t ino)
{
    struct orphan_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        uint64_t *p = realloc(l->ino, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        l->ino = p;
        l->cap = cap;
    }
    l->ino[l->n++] = ino;
    return 0;
}

struct mount_job {
    struct fs_job j;
    int created;
    uint32_t uid, gid;
    size_t n_orphans;
};

/* Deletes every inode with no links left; *n gets their number. */
static int delete_orphans(struct fs_ctx *fs, size_t *n)
{
    struct orphan_list l = { 0 };
    /* Collect first, delete after: no deleting under a running query. */
    int e = idx_w_orphans(fs->idx, orphan_collect, &l);
    for (size_t i = 0; !e && i < l.n; i++)
        e = idx_w_inode_delete(fs->idx, l.ino[i]);
    *n = l.n;
    free(l.ino);
    return e;
}

static int mount_run(struct fs_ctx *fs, struct fs_job *jj)
{
    struct mount_job *j = (struct mount_job *)jj;
    int e = delete_orphans(fs, &j->n_orphans);
    if (e)
        return e;
    struct idx_attr a;
    e = idx_w_inode_get(fs->idx, IDX_ROOT_INO, &a);
    if (e)
        return e == -ENOENT ? -EUCLEAN : e;
    if (j->created) {
        /* A new store's root belongs to whoever created it. */
        struct timespec now;
        fs_now(&now);
        a.uid = j->uid;
        a.gid = j->gid;
        a.mode = S_IFDIR | 0755;
        a.atime_sec = a.mtime_sec = a.ctime_sec = now.tv_sec;
        a.atime_nsec = a.mtime_nsec = a.ctime_nsec = (uint32_t)now.tv_nsec;
        e = idx_w_inode_put(fs->idx, &a);
    }
    return e;
}

/* At unmount every handle is closed, so unlinked files the kernel never
 * forgot can go now rather than at the next mount. */
static int unmount_run(struct fs_ctx *fs, struct fs_job *jj)
{
    size_t n;
    (void)jj;
    return delete_orphans(fs, &n);
}

int fs_ctx_open(struct fs_ctx **out, const struct fs_opts *o, char *msg,
                size_t msg_cap)
{
    int e;
    struct fs_ctx *fs = calloc(1, sizeof(*fs));
    if (!fs) {
        snprintf(msg, msg_cap, "out of memory");
        return -ENOMEM;
    }
    fs->foreground = o->foreground;
    fs->debug = o->debug;
    fs->store = strdup(o->store);
    if (!fs->store) {
        e = -ENOMEM;
        snprintf(msg, msg_cap, "out of memory");
        goto out_free;
    }
    struct idx_opts io = {
        .create = 1,
        .block_size = o->block_size ? o->block_size : FS_DEFAULT_BLOCK_SIZE,
    };
    msg[0] = 0;
    e = idx_open(&fs->idx, o->store, &io, msg, msg_cap);
    if (e) {
        if (!msg[0])
            snprintf(msg, msg_cap, "%s", strerror(-e));
        goto out_free;
    }
    fs->bs = idx_block_size(fs->idx);
    if (fs->bs < 512 || fs->bs > FADE_BLOCK_MAX_RAW) {
        e = -EUCLEAN;
        snprintf(msg, msg_cap, "store has an invalid block size %u", fs->bs);
        goto out_idx;
    }
    uint64_t dirty = o->dirty_bytes ? o->dirty_bytes : FS_DEFAULT_DIRTY_BYTES;
    fs->dirty_max = (uint32_t)(dirty / fs->bs);
    if (fs->dirty_max < 2)
        fs->dirty_max = 2;
    if ((e = -pthread_mutex_init(&fs->rd_lock, NULL))) {
        snprintf(msg, msg_cap, "%s", strerror(-e));
        goto out_idx;
    }
    if ((e = fs_itab_init(&fs->itab))) {
        snprintf(msg, msg_cap, "%s", strerror(-e));
        goto out_rdlock;
    }
    if ((e = fs_cache_init(&fs->cache, o->cache_bytes ? o->cache_bytes
                                                       : FS_DEFAULT_CACHE_BYTES))) {
        snprintf(msg, msg_cap, "%s", strerror(-e));
        goto out_itab;
    }
    if ((e = fs_pend_init(&fs->pend))) {
        snprintf(msg, msg_cap, "%s", strerror(-e));
        goto out_cache;
    }
    if ((e = fs_sched_init(fs, &o->sched, msg, msg_cap)))
        goto out_pend;
    if ((e = fs_writer_start(fs))) {
        snprintf(msg, msg_cap, "cannot start the writer thread: %s", strerror(-e));
        goto out_sched;
    }
    /* As many decode-ahead threads as coders: both are bound by CPUs. */
    if ((e = fs_ra_start(fs, fs->sched.o.n_coders))) {
        snprintf(msg, msg_cap, "cannot start decode-ahead: %s", strerror(-e));
        goto out_writer;
    }
    struct mount_job mj = {
        .j = { .run = mount_run, .durable = 1 },
        .created = idx_created(fs->idx), .uid = getuid(), .gid = getgid(),
    };
    e = fs_writer_submit(fs, &mj.j);
    if (e) {
        snprintf(msg, msg_cap, "%s", e == -EUCLEAN ? "damaged store (no root directory)"
                                                   : strerror(-e));
        goto out_writer;
    }
    if (mj.n_orphans)
        fs_log(fs, LOG_INFO, "deleted %zu unlinked files left open by a crash",
               mj.n_orphans);
    *out = fs;
    return 0;

out_writer:
    fs_ra_stop(fs);
    fs_writer_stop(fs);
out_sched:
    fs_sched_fini(fs);
out_pend:
    fs_pend_fini(&fs->pend);
out_cache:
    fs_cache_fini(&fs->cache);
out_itab:
    fs_itab_fini(&fs->itab);
out_rdlock:
    rd_close_all(fs);
    pthread_mutex_destroy(&fs->rd_lock);
out_idx:
    idx_close(fs->idx);
out_free:
    free(fs->store);
    free(fs);
    return e;
}

void fs_ctx_close(struct fs_ctx *fs)
{
    if (!fs)
        return;
    fs_sched_stop(fs);            /* no swap-in after the last flush */
    fs_ra_stop(fs);
    fs_inode_flush_all(fs);
    struct fs_job uj = { .run = unmount_run, .durable = 1 };
    int e = fs_writer_submit(fs, &uj);
    if (e)
        fs_log(fs, LOG_ERR, "deleting unlinked files at unmount failed: %s",
               strerror(-e));
    e = fs_writer_barrier(fs);
    if (e)
        fs_log(fs, LOG_ERR, "final commit failed: %s", strerror(-e));
    fs_writer_stop(fs);
    fs_sched_fini(fs);
    fs_log(fs, LOG_DEBUG, "cache: %llu hits, %llu misses",
           (unsigned long long)fs->cache.hits, (unsigned long long)fs->cache.misses);
    rd_close_all(fs);
    fs_pend_fini(&fs->pend);
    fs_cache_fini(&fs->cache);
    fs_itab_fini(&fs->itab);
    pthread_mutex_destroy(&fs->rd_lock);
    idx_close(fs->idx);
    free(fs->store);
    free(fs);
}
