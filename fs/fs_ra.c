/* fs_ra.c — decode-ahead for sequential readers.  A coded block costs a
 * second or more of CPU to decode, so a reader that goes through a file in
 * order would decode one block at a time on one core.  When fs_file_read
 * sees a read continue where the last one of the file ended, it asks for
 * the next blocks here (fs_ra_ask); these threads, at normal priority (a
 * read is foreground work, unlike the coders), load them into the block
 * cache through fs_file_prefetch, which takes the inode's lock shared like
 * any reader, so the cache's coherence rules hold.  A request for a block
 * already cached, being loaded, or dirty costs a lookup.
 *
 * Lock: fs_ra.lock (a leaf) guards the request ring and stop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs.h"

static void *ra_main(void *arg)
{
    struct fs_ctx *fs = arg;
    struct fs_ra *ra = &fs->ra;
    pthread_mutex_lock(&ra->lock);
    for (;;) {
        while (!ra->stop && ra->n == 0)
            pthread_cond_wait(&ra->wake, &ra->lock);
        if (ra->stop)
            break;
        struct fs_ra_req q = ra->q[ra->head];
        ra->head = (ra->head + 1) % FS_RA_QUEUE;
        ra->n--;
        pthread_mutex_unlock(&ra->lock);
        fs_file_prefetch(fs, q.ino, q.blkno);
        pthread_mutex_lock(&ra->lock);
    }
    pthread_mutex_unlock(&ra->lock);
    return NULL;
}

void fs_ra_ask(struct fs_ctx *fs, uint64_t ino, uint64_t blkno)
{
    struct fs_ra *ra = &fs->ra;
    if (!ra->n_threads)
        return;
    pthread_mutex_lock(&ra->lock);
    int dup = 0;
    for (uint32_t i = 0, k = ra->head; i < ra->n; i++, k = (k + 1) % FS_RA_QUEUE)
        dup |= ra->q[k].ino == ino && ra->q[k].blkno == blkno;
    /* A full ring drops the request: decode-ahead is only a hint. */
    if (!dup && !ra->stop && ra->n < FS_RA_QUEUE) {
        ra->q[(ra->head + ra->n) % FS_RA_QUEUE] = (struct fs_ra_req){ ino, blkno };
        ra->n++;
        pthread_cond_signal(&ra->wake);
    }
    pthread_mutex_unlock(&ra->lock);
}

int fs_ra_start(struct fs_ctx *fs, uint32_t n)
{
    struct fs_ra *ra = &fs->ra;
    memset(ra, 0, sizeof(*ra));
    int e = pthread_mutex_init(&ra->lock, NULL);
    if (e)
        return -e;
    if ((e = pthread_cond_init(&ra->wake, NULL))) {
        pthread_mutex_destroy(&ra->lock);
        return -e;
    }
    ra->inited = 1;
    if (n > FS_RA_THREADS)
        n = FS_RA_THREADS;
    for (uint32_t i = 0; i < n; i++) {
        if ((e = pthread_create(&ra->threads[i], NULL, ra_main, fs)))
            break;
        ra->n_threads++;
    }
    return 0;                     /* fewer threads only means less read-ahead */
}

void fs_ra_stop(struct fs_ctx *fs)
{
    struct fs_ra *ra = &fs->ra;
    if (!ra->inited)
        return;
    pthread_mutex_lock(&ra->lock);
    ra->stop = 1;
    pthread_cond_broadcast(&ra->wake);
    pthread_mutex_unlock(&ra->lock);
    for (uint32_t i = 0; i < ra->n_threads; i++)
        pthread_join(ra->threads[i], NULL);
    ra->n_threads = 0;
    pthread_cond_destroy(&ra->wake);
    pthread_mutex_destroy(&ra->lock);
    ra->inited = 0;
}
