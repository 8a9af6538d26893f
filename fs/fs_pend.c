/* fs_pend.c — blocks handed to the writer whose rows have not committed
 * yet, kept readable from memory, and the errors of such commits.
 *
 * A non-durable commit does not wait for the store (fs_writer.c defers it
 * to share one payload sync and one transaction with its neighbours).  Until
 * the block's row commits, readers find the block here, before the cache and
 * the store.  An entry is the dirty buffer itself (no copy), owned by its
 * commit job; the FUSE thread installs it while it holds the inode
 * exclusively (a newer version only unlinks the older one), and the job's
 * end removes it (fs_pend_remove) if no newer version replaced it.
 * An asynchronous commit that fails has nobody waiting for it: its error is
 * kept here per inode and reported by that file's next flush or fsync.
 * The lock is a leaf: nothing else is taken while it is held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"

#define FS_PEND_BUCKETS 4096u     /* power of two */

static size_t slot(uint64_t ino, uint64_t blkno)
{
    uint64_t h = ino * 0x9E3779B97F4A7C15ull ^ (blkno + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h >> 20) & (FS_PEND_BUCKETS - 1);
}

int fs_pend_init(struct fs_pend *p)
{
    memset(p, 0, sizeof(*p));
    p->buckets = calloc(FS_PEND_BUCKETS, sizeof(*p->buckets));
    if (!p->buckets)
        return -ENOMEM;
    int e = pthread_mutex_init(&p->lock, NULL);
    if (e) {
        free(p->buckets);
        p->buckets = NULL;
        return -e;
    }
    return 0;
}

void fs_pend_fini(struct fs_pend *p)
{
    if (!p->buckets)
        return;
    /* Entries belong to their jobs, which all ended before this. */
    free(p->buckets);
    p->buckets = NULL;
    pthread_mutex_destroy(&p->lock);
}

void fs_pend_put(struct fs_pend *p, uint64_t ino, struct fs_dbuf *d,
                 uint64_t seq)
{
    d->ino = ino;
    d->seq = seq;
    pthread_mutex_lock(&p->lock);
    struct fs_dbuf **pp = &p->buckets[slot(ino, d->blkno)];
    for (; *pp; pp = &(*pp)->hnext) {
        if ((*pp)->ino == ino && (*pp)->blkno == d->blkno) {
            /* The older version's job still owns (and frees) it. */
            *pp = (*pp)->hnext;
            p->n--;
            break;
        }
    }
    d->hnext = p->buckets[slot(ino, d->blkno)];
    p->buckets[slot(ino, d->blkno)] = d;
    p->n++;
    pthread_mutex_unlock(&p->lock);
}

int fs_pend_read(struct fs_pend *p, uint64_t ino, uint64_t blkno, uint32_t off,
                 void *dst, uint32_t n)
{
    int hit = 0;
    pthread_mutex_lock(&p->lock);
    if (p->n) {
        for (struct fs_dbuf *d = p->buckets[slot(ino, blkno)]; d; d = d->hnext) {
            if (d->ino != ino || d->blkno != blkno)
                continue;
            uint32_t have = off < d->len ? d->len - off : 0;
            if (have > n)
                have = n;
            if (have)
                memcpy(dst, d->data + off, have);
            memset((uint8_t *)dst + have, 0, n - have);
            hit = 1;
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return hit;
}

int fs_pend_remove(struct fs_pend *p, struct fs_dbuf *d)
{
    int found = 0;
    pthread_mutex_lock(&p->lock);
    for (struct fs_dbuf **pp = &p->buckets[slot(d->ino, d->blkno)]; *pp;
         pp = &(*pp)->hnext) {
        if (*pp == d) {
            *pp = d->hnext;
            p->n--;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return found;
}

void fs_pend_error(struct fs_pend *p, uint64_t ino, int err)
{
    pthread_mutex_lock(&p->lock);
    int i = 0;
    while (i < p->n_errs && p->errs[i].ino != ino)
        i++;
    if (i == p->n_errs) {
        if (p->n_errs < FS_PEND_ERRS)
            p->n_errs++;
        else
            i = (int)(ino % FS_PEND_ERRS);   /* full: some older error is lost */
    }
    p->errs[i].ino = ino;
    p->errs[i].err = err;
    pthread_mutex_unlock(&p->lock);
}

int fs_pend_error_take(struct fs_pend *p, uint64_t ino)
{
    int err = 0;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->n_errs; i++) {
        if (p->errs[i].ino == ino) {
            err = p->errs[i].err;
            p->errs[i] = p->errs[--p->n_errs];
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return err;
}
