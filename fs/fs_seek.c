/* fs_seek.c — SEEK_DATA and SEEK_HOLE: where a file's data and holes are.
 *
 * A hole is a block without a row in the block map (a block of zeros is
 * stored as one, see fs_file.c), and a block that has a dirty buffer is
 * data whatever it holds.  The answer is in whole blocks, except that the
 * end of the file is a hole and offsets are never moved backwards: zeros
 * inside a stored block count as data, which lseek(2) allows.
 */
#include <errno.h>
#include <unistd.h>

#include "fs/fs.h"

static int is_dirty(const struct fs_inode *in, uint64_t blkno)
{
    for (const struct fs_dbuf *d = in->dirty; d; d = d->next)
        if (d->blkno == blkno)
            return 1;
    return 0;
}

/* The first dirty block in [from, end), or end. */
static uint64_t first_dirty(const struct fs_inode *in, uint64_t from,
                            uint64_t end)
{
    uint64_t best = end;
    for (const struct fs_dbuf *d = in->dirty; d; d = d->next)
        if (d->blkno >= from && d->blkno < best)
            best = d->blkno;
    return best;
}

/* in->rw held (either way): the blocks of in are its dirty buffers and the
 * store's rows. */
static int64_t seek_locked(struct fs_ctx *fs, struct fs_inode *in,
                           uint64_t off, int whence)
{
    uint64_t size = in->size;
    if (off >= size)
        return -ENXIO;
    uint64_t bs = fs->bs;
    uint64_t b = off / bs, end = (size + bs - 1) / bs;
    struct fs_rd *r;
    int e = fs_rd_take(fs, &r);
    if (e)
        return e;
    int64_t res;
    if (whence == SEEK_DATA) {
        uint64_t s;
        e = idx_r_block_next_data(r->rd, in->ino, b, end, &s);
        uint64_t d = first_dirty(in, b, end);
        if (d < s)
            s = d;
        if (e)
            res = e;
        else if (s >= end)
            res = -ENXIO;                 /* only a hole up to EOF */
        else
            res = (int64_t)(s * bs > off ? s * bs : off);
    } else {
        for (;;) {
            uint64_t h;
            if ((e = idx_r_block_next_hole(r->rd, in->ino, b, end, &h))) {
                res = e;
                break;
            }
            if (h >= end) {
                res = (int64_t)size;      /* EOF is a hole */
                break;
            }
            if (!is_dirty(in, h)) {
                res = (int64_t)(h * bs > off ? h * bs : off);
                break;
            }
            b = h + 1;
        }
    }
    fs_rd_give(fs, r);
    return res;
}

int64_t fs_seek_data(struct fs_ctx *fs, struct fs_inode *in, uint64_t off,
                     int whence)
{
    if (whence != SEEK_DATA && whence != SEEK_HOLE)
        return -EINVAL;
    pthread_rwlock_rdlock(&in->rw);
    /* Blocks whose commit has not landed (fs_pend) cannot be listed per
     * file: let this file's commits land first (nothing new can be handed
     * off while the lock is held).  A failed commit leaves the store as
     * it was, which is then what reads show too; its error stays for the
     * next flush or fsync. */
    pthread_mutex_lock(&fs->itab.lock);
    uint64_t seq = in->async_seq;
    pthread_mutex_unlock(&fs->itab.lock);
    fs_writer_async_wait(fs, seq);
    int64_t res = seek_locked(fs, in, off, whence);
    pthread_rwlock_unlock(&in->rw);
    return res;
}
