/* fs_inode.c — the in-memory inode table: kernel lookup counts, open
 * counts, and the end of unlinked-but-open files.
 *
 * An entry exists while the kernel knows the inode (nlookup > 0), while a
 * handle is open (nopen > 0) or while an op is using it (refs > 0).  When
 * all three reach zero the entry is freed; if the inode's link count fell to
 * zero meanwhile (flag `orphan`), a reap job deletes it from the store.
 * A crash before that leaves an inode with nlink 0 in the store, which the
 * next mount deletes (fs_ctx.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "fs/fs.h"

/* The orphan flag lives beside the counts, under the table lock, so that
 * the writer's "is anyone using it?" check and the last put agree. */
struct fs_inode_priv {
    struct fs_inode pub;
    int orphan;                   /* protected by fs_itab.lock */
};
#define PRIV(in) ((struct fs_inode_priv *)(in))

static size_t ihash(uint64_t ino)
{
    return (size_t)(ino * 0x9E3779B97F4A7C15ull >> 17);
}

int fs_itab_init(struct fs_itab *t)
{
    t->n = 0;
    t->n_buckets = 1024;
    t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
    if (!t->buckets)
        return -ENOMEM;
    int e = pthread_mutex_init(&t->lock, NULL);
    if (e) {
        free(t->buckets);
        t->buckets = NULL;
        return -e;
    }
    return 0;
}

static void inode_free(struct fs_inode *in)
{
    struct fs_dbuf *d = in->dirty;
    while (d) {
        struct fs_dbuf *n = d->next;
        free(d->data);
        free(d);
        d = n;
    }
    pthread_rwlock_destroy(&in->rw);
    free(PRIV(in));
}

void fs_itab_fini(struct fs_itab *t)
{
    if (!t->buckets)
        return;
    for (size_t i = 0; i < t->n_buckets; i++) {
        struct fs_inode *in = t->buckets[i];
        while (in) {
            struct fs_inode *n = in->hnext;
            inode_free(in);
            in = n;
        }
    }
    free(t->buckets);
    t->buckets = NULL;
    pthread_mutex_destroy(&t->lock);
}

static struct fs_inode **find_link(struct fs_itab *t, uint64_t ino)
{
    struct fs_inode **pp = &t->buckets[ihash(ino) & (t->n_buckets - 1)];
    while (*pp && (*pp)->ino != ino)
        pp = &(*pp)->hnext;
    return pp;
}

static void maybe_grow(struct fs_itab *t)
{
    if (t->n < t->n_buckets * 2)
        return;
    size_t nb = t->n_buckets * 2;
    struct fs_inode **b = calloc(nb, sizeof(*b));
    if (!b)
        return;                   /* longer chains, still correct */
    for (size_t i = 0; i < t->n_buckets; i++) {
        struct fs_inode *in = t->buckets[i];
        while (in) {
            struct fs_inode *n = in->hnext;
            size_t h = ihash(in->ino) & (nb - 1);
            in->hnext = b[h];
            b[h] = in;
            in = n;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->n_buckets = nb;
}

struct fs_inode *fs_inode_ref(struct fs_ctx *fs, const struct idx_attr *a,
                              uint64_t lookups, uint32_t opens)
{
    struct fs_itab *t = &fs->itab;
    pthread_mutex_lock(&t->lock);
    struct fs_inode **pp = find_link(t, a->ino);
    struct fs_inode *in = *pp;
    if (!in) {
        struct fs_inode_priv *p = calloc(1, sizeof(*p));
        /* Writer-preferring: a reader that decodes a coded block holds the
         * lock shared for seconds, and readers overlapping one another
         * (decode-ahead, several FUSE threads) would starve a write or a
         * flush of the file forever with glibc's default.  Nobody takes
         * it shared twice, which this kind forbids. */
        pthread_rwlockattr_t ra;
        int bad = !p || pthread_rwlockattr_init(&ra);
        if (!bad) {
            pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
            bad = pthread_rwlock_init(&p->pub.rw, &ra) != 0;
            pthread_rwlockattr_destroy(&ra);
        }
        if (bad) {
            free(p);
            pthread_mutex_unlock(&t->lock);
            return NULL;
        }
        in = &p->pub;
        in->ino = a->ino;
        in->is_reg = S_ISREG(a->mode);
        in->size = a->size;
        in->hnext = NULL;
        *pp = in;
        t->n++;
        maybe_grow(t);
    }
    in->refs++;
    in->nlookup += lookups;
    in->nopen += opens;
    pthread_mutex_unlock(&t->lock);
    return in;
}

struct fs_inode *fs_inode_find(struct fs_ctx *fs, uint64_t ino)
{
    struct fs_itab *t = &fs->itab;
    pthread_mutex_lock(&t->lock);
    struct fs_inode *in = *find_link(t, ino);
    if (in)
        in->refs++;
    pthread_mutex_unlock(&t->lock);
    return in;
}

int fs_inode_get(struct fs_ctx *fs, uint64_t ino, struct fs_inode **out)
{
    struct fs_itab *t = &fs->itab;
    pthread_mutex_lock(&t->lock);
    struct fs_inode *in = *find_link(t, ino);
    if (in)
        in->refs++;
    pthread_mutex_unlock(&t->lock);
    if (in) {
        *out = in;
        return 0;
    }
    struct fs_rd *r;
    int e = fs_rd_take(fs, &r);
    if (e)
        return e;
    struct idx_attr a;
    e = idx_r_inode_get(r->rd, ino, &a);
    fs_rd_give(fs, r);
    if (e)
        return e;
    in = fs_inode_ref(fs, &a, 0, 0);
    if (!in)
        return -ENOMEM;
    *out = in;
    return 0;
}

static void reap_async(struct fs_ctx *fs, uint64_t ino);

void fs_inode_put(struct fs_ctx *fs, struct fs_inode *in, uint64_t lookups,
                  uint32_t opens)
{
    struct fs_itab *t = &fs->itab;
    int gone = 0, orphan = 0;
    pthread_mutex_lock(&t->lock);
    in->refs--;
    in->nlookup = lookups > in->nlookup ? 0 : in->nlookup - lookups;
    in->nopen = opens > in->nopen ? 0 : in->nopen - opens;
    if (in->refs == 0 && in->nlookup == 0 && in->nopen == 0 &&
        !fs_writer_async_done(fs, in->async_seq)) {
        /* The entry carries the size of data whose commit has not landed
         * yet; a new entry would load the older size from the store.  Let
         * the commit land first, then put again. */
        uint64_t seq = in->async_seq;
        in->refs++;
        pthread_mutex_unlock(&t->lock);
        fs_writer_async_wait(fs, seq);
        fs_inode_put(fs, in, 0, 0);
        return;
    }
    if (in->refs == 0 && in->nlookup == 0 && in->nopen == 0) {
        struct fs_inode **pp = find_link(t, in->ino);
        if (*pp == in) {
            *pp = in->hnext;
            t->n--;
        }
        gone = 1;
        orphan = PRIV(in)->orphan;
    }
    pthread_mutex_unlock(&t->lock);
    if (!gone)
        return;
    uint64_t ino = in->ino;
    if (in->n_dirty || in->attr_dirty) {
        /* Release commits everything, so this is only reached when a commit
         * failed; nobody can reach the entry any more, so one last try. */
        pthread_rwlock_wrlock(&in->rw);
        int e = fs_file_commit(fs, in, FS_COMMIT_WAIT);
        pthread_rwlock_unlock(&in->rw);
        if (e)
            fs_log(fs, LOG_ERR, "inode %llu: dirty data lost: %s",
                   (unsigned long long)ino, strerror(-e));
    }
    inode_free(in);
    if (orphan)
        reap_async(fs, ino);
}

void fs_inode_open(struct fs_ctx *fs, struct fs_inode *in)
{
    pthread_mutex_lock(&fs->itab.lock);
    in->nopen++;
    pthread_mutex_unlock(&fs->itab.lock);
}

int fs_inode_mark_orphan(struct fs_ctx *fs, uint64_t ino)
{
    struct fs_itab *t = &fs->itab;
    pthread_mutex_lock(&t->lock);
    struct fs_inode *in = *find_link(t, ino);
    if (in)
        PRIV(in)->orphan = 1;
    pthread_mutex_unlock(&t->lock);
    return in != NULL;
}

int fs_inode_in_use(struct fs_ctx *fs, uint64_t ino)
{
    struct fs_itab *t = &fs->itab;
    pthread_mutex_lock(&t->lock);
    int used = *find_link(t, ino) != NULL;
    pthread_mutex_unlock(&t->lock);
    return used;
}

struct reap_job {
    struct fs_job j;
    uint64_t ino;
    uint64_t size;                /* stored size of the deleted inode */
    int deleted;
};

/* A deleted inode's blocks are 0 .. size/bs (no block past the stored size
 * is ever cached: truncate drops them), so a small file's few blocks are
 * dropped by key; fs_cache_drop_from walks the whole table, which an
 * unlink of many small files would pay once each. */
#define FS_UNCACHE_BY_KEY 64
void fs_inode_uncache(struct fs_ctx *fs, uint64_t ino, uint64_t size)
{
    uint64_t n = size / fs->bs + 1;
    if (n > FS_UNCACHE_BY_KEY) {
        fs_cache_drop_from(&fs->cache, ino, 0);
        return;
    }
    for (uint64_t b = 0; b < n; b++)
        fs_cache_drop(&fs->cache, ino, b);
}

static int reap_run(struct fs_ctx *fs, struct fs_job *jj)
{
    struct reap_job *j = (struct reap_job *)jj;
    struct idx_attr a;
    j->deleted = 0;
    int e = idx_w_inode_get(fs->idx, j->ino, &a);
    if (e == -ENOENT)
        return 0;
    if (e)
        return e;
    if (a.nlink != 0 || fs_inode_in_use(fs, j->ino))
        return 0;
    j->size = a.size;
    e = idx_w_inode_delete(fs->idx, j->ino);
    if (!e)
        j->deleted = 1;
    return e;
}

int fs_inode_reap(struct fs_ctx *fs, uint64_t ino)
{
    struct reap_job j = { .j = { .run = reap_run }, .ino = ino };
    int e = fs_writer_submit(fs, &j.j);
    if (!e && j.deleted)
        fs_inode_uncache(fs, ino, j.size);
    return e;
}

static void reap_finish(struct fs_ctx *fs, struct fs_job *jj)
{
    struct reap_job *j = (struct reap_job *)jj;
    if (jj->result)
        fs_log(fs, jj->result == -ENOSPC ? LOG_DEBUG : LOG_ERR,
               "inode %llu: delete failed: %s (retried at next mount)",
               (unsigned long long)j->ino, strerror(-jj->result));
    else if (j->deleted)
        fs_inode_uncache(fs, j->ino, j->size);
    free(j);
}

void fs_inode_flush_all(struct fs_ctx *fs)
{
    struct fs_itab *t = &fs->itab;
    struct fs_inode **list = NULL;
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    list = calloc(t->n ? t->n : 1, sizeof(*list));
    if (list) {
        for (size_t i = 0; i < t->n_buckets; i++)
            for (struct fs_inode *in = t->buckets[i]; in; in = in->hnext) {
                in->refs++;
                list[n++] = in;
            }
    }
    pthread_mutex_unlock(&t->lock);
    if (!list) {
        fs_log(fs, LOG_ERR, "out of memory flushing files at unmount");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct fs_inode *in = list[i];
        pthread_rwlock_wrlock(&in->rw);
        int e = fs_file_commit(fs, in, FS_COMMIT_ASYNC);
        pthread_rwlock_unlock(&in->rw);
        if (e)
            fs_log(fs, LOG_ERR, "inode %llu: flush at unmount failed: %s",
                   (unsigned long long)in->ino, strerror(-e));
        fs_inode_put(fs, in, 0, 0);
    }
    free(list);
}

/* The last put of an orphan (usually the kernel's forget right after an
 * unlink) deletes it without waiting: nobody needs the answer, and as a
 * deferred job the delete shares the transaction of the next change
 * instead of costing a commit and two thread switches of its own (an
 * unlink then costs one commit, not two).  Until it lands the inode is a
 * row with nlink 0 that nothing can reach; a crash leaves it to the next
 * mount's orphan sweep, as before. */
static void reap_async(struct fs_ctx *fs, uint64_t ino)
{
    struct reap_job *j = calloc(1, sizeof(*j));
    if (!j) {
        int e = fs_inode_reap(fs, ino);
        if (e)
            fs_log(fs, LOG_ERR, "inode %llu: delete failed: %s (retried at next mount)",
                   (unsigned long long)ino, strerror(-e));
        return;
    }
    j->j.run = reap_run;
    j->j.finish = reap_finish;
    j->j.bytes = sizeof(*j);
    j->ino = ino;
    fs_writer_submit_async(fs, &j->j);    /* j may be gone now */
}
