/* fs_file.c — file data over fixed-size blocks: dirty block buffers, reads
 * through the block cache, commits through the writer, truncate.
 *
 * Invariants (all under the inode's rw lock):
 *   - a block with a dirty buffer is read from the buffer, never the store;
 *   - the store holds no file byte at or past the file's size: commit stores
 *     min(bs, size - start) bytes of a block and truncate rewrites or deletes
 *     the block it cuts, so growing a file always exposes zeros;
 *   - a block that becomes all zeros becomes a hole (its row, if any, is
 *     deleted), so holes cost no space;
 *   - a block handed to the writer is read from fs_pend until its row
 *     commits: dirty buffer, then fs_pend, then cache, then store.
 * Commits hand the buffers to the writer, which appends them as raw codec
 * blocks at the job's first run without copying them: the payload is a
 * 20-byte block header followed by the buffer itself (one gathered write).
 * The data's CRC32C, which both the block header and the segment record
 * need, is kept up while sequential writes copy the data in (it is hot
 * then), so nobody reads the data again for it.  Block buffers are
 * recycled through fs_cache's pool.  Commits are
 * asynchronous (fs_writer.c defers them to share payload syncs); fsync and
 * the few callers that need the store up to date wait for them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/uio.h>

#include "fs/fs.h"

#define FS_MAX_FILE_SIZE ((uint64_t)INT64_MAX)

void fs_now(struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
}

static struct fs_dbuf *dbuf_find(const struct fs_inode *in, uint64_t blkno)
{
    for (struct fs_dbuf *d = in->dirty; d; d = d->next)
        if (d->blkno == blkno)
            return d;
    return NULL;
}

int fs_is_zero(const uint8_t *p, size_t n)
{
    /* p[0] == 0 and every byte equals its successor: all zero. */
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Reads the payload of loc into r->pay (grown as needed). */
static int read_payload(struct fs_rd *r, const struct idx_bloc *loc)
{
    if (r->pay_cap < loc->len) {
        uint8_t *p = realloc(r->pay, loc->len);
        if (!p)
            return -ENOMEM;
        r->pay = p;
        r->pay_cap = loc->len;
    }
    return idx_r_payload_read(r->rd, loc, r->pay, r->pay_cap);
}

int fs_file_load_stored(struct fs_ctx *fs, struct fs_rd *r, uint64_t ino,
                        uint64_t blkno, uint8_t *dst, uint32_t *len,
                        struct idx_bloc *loc)
{
    int e = idx_r_block_get(r->rd, ino, blkno, loc);
    if (e)
        return e;
    /* A failed read may be a move: compaction moved the payload, or the
     * compressor swapped in a coded one (same bytes, new generation) and
     * compaction then dropped the old record.  Look the row up again and
     * retry while it points elsewhere (each change needs a whole writer
     * job, so a few tries are plenty). */
    for (int tries = 0;; tries++) {
        if (loc->raw_len > fs->bs || loc->len == 0 ||
            loc->len > fade_block_bound(fs->bs, FADE_BLOCK_MAX_STREAMS)) {
            fs_log(fs, LOG_ERR, "inode %llu block %llu: bad block map row (raw %u, len %u)",
                   (unsigned long long)ino, (unsigned long long)blkno,
                   loc->raw_len, loc->len);
            return -EIO;
        }
        e = read_payload(r, loc);
        if (e == 0 || e == -ENOMEM || tries == 3 ||
            (e != -EIO && e != -ENOENT && e != -ESTALE))
            break;
        struct idx_bloc again;
        int e2 = idx_r_block_get(r->rd, ino, blkno, &again);
        if (e2 == -ENOENT)
            return -ENOENT;       /* deleted meanwhile: a hole now */
        if (e2 || (again.seg == loc->seg && again.off == loc->off &&
                   again.gen == loc->gen))
            break;
        *loc = again;
    }
    if (e) {
        fs_log(fs, LOG_ERR, "inode %llu block %llu: payload unreadable: %s",
               (unsigned long long)ino, (unsigned long long)blkno, strerror(-e));
        return e == -ENOMEM ? e : -EIO;
    }
    struct fade_block_info info;
    ssize_t n = fade_block_info(r->pay, loc->len, &info);
    if (n == 0 && info.codec != FADE_CODEC_RAW && !r->fctx) {
        /* A coded block needs a model; contexts are big, so a reader
         * makes one only when it first meets such a block, for the
         * mount's preset, which most blocks name (a context of another
         * preset first rebuilds its model: seconds for a primed one). */
        struct fade_ctx_params p = { .preset = fs->sched.preset };
        n = fade_ctx_create(&r->fctx, &p);
    }
    if (n == 0)
        n = fade_block_decode(r->fctx, dst, fs->bs, r->pay, loc->len);
    if (n < 0 || (uint64_t)n != loc->raw_len) {
        fs_log(fs, LOG_ERR, "inode %llu block %llu: cannot decode: %s",
               (unsigned long long)ino, (unsigned long long)blkno,
               n < 0 ? fade_strerror((int)n) : "wrong length");
        return -EIO;
    }
    memset(dst + n, 0, fs->bs - (size_t)n);
    *len = (uint32_t)n;
    return 0;
}

/* fs_file_load_block; *coded (may be NULL) is set to 1 when the block came
 * from a coded payload, the case decode-ahead exists for. */
static int load_block(struct fs_ctx *fs, uint64_t ino, uint64_t blkno,
                      uint8_t *dst, int *coded, int nowait)
{
    if (fs_pend_read(&fs->pend, ino, blkno, 0, dst, fs->bs))
        return 0;
    if (fs_cache_read(&fs->cache, ino, blkno, 0, dst, fs->bs))
        return 0;
    /* One decode per block at a time: a coded block costs seconds, so a
     * second reader waits for the first one's result in the cache. */
    for (;;) {
        int c = fs_cache_claim_try(&fs->cache, ino, blkno, nowait);
        if (c == 1)
            break;
        if (c < 0)
            return 0;             /* nowait: somebody is loading it (dst unset) */
        if (fs_cache_read(&fs->cache, ino, blkno, 0, dst, fs->bs))
            return 0;
    }
    struct fs_rd *r;
    int e = fs_rd_take(fs, &r);
    if (e) {
        fs_cache_unclaim(&fs->cache, ino, blkno);
        return e;
    }
    uint32_t len = 0;
    struct idx_bloc loc;
    e = fs_file_load_stored(fs, r, ino, blkno, dst, &len, &loc);
    fs_rd_give(fs, r);
    if (e == -ENOENT) {
        memset(dst, 0, fs->bs);
        e = 0;
    } else if (e == 0) {
        fs_cache_put(&fs->cache, ino, blkno, dst, len, loc.codec != FADE_CODEC_RAW);
        if (coded && loc.codec != FADE_CODEC_RAW)
            *coded = 1;
    }
    fs_cache_unclaim(&fs->cache, ino, blkno);
    return e;
}

int fs_file_load_block(struct fs_ctx *fs, uint64_t ino, uint64_t blkno,
                       uint8_t *dst)
{
    return load_block(fs, ino, blkno, dst, NULL, 0);
}

void fs_file_prefetch(struct fs_ctx *fs, uint64_t ino, uint64_t blkno)
{
    struct fs_inode *in = fs_inode_find(fs, ino);
    if (!in)
        return;
    pthread_rwlock_rdlock(&in->rw);
    if (in->is_reg && blkno < (in->size + fs->bs - 1) / fs->bs &&
        !dbuf_find(in, blkno) && !fs_cache_read(&fs->cache, ino, blkno, 0, NULL, 0)) {
        uint8_t *buf = fs_cache_buf_get(&fs->cache, fs->bs);
        if (buf)
            /* A block another thread is loading is left to it; errors are
             * the reader's to see. */
            (void)load_block(fs, ino, blkno, buf, NULL, 1);
        fs_cache_buf_put(&fs->cache, buf, fs->bs);
    }
    pthread_rwlock_unlock(&in->rw);
    fs_inode_put(fs, in, 0, 0);
}

uint64_t fs_file_alloc(struct fs_ctx *fs, uint64_t ino, uint64_t size)
{
    struct fs_inode *in = fs_inode_find(fs, ino);
    uint64_t extra = 0, used = 0;
    if (in) {
        /* Blocks not in the store yet: dirty ones and those whose commit
         * has not landed. */
        pthread_rwlock_rdlock(&in->rw);
        extra = (uint64_t)in->n_dirty * fs->bs;
        pthread_rwlock_unlock(&in->rw);
        pthread_mutex_lock(&fs->itab.lock);
        uint64_t seq = in->async_seq, pend = in->pend_bytes;
        pthread_mutex_unlock(&fs->itab.lock);
        if (!fs_writer_async_done(fs, seq))
            extra += pend;
        fs_inode_put(fs, in, 0, 0);
    }
    struct fs_rd *r;
    if (fs_rd_take(fs, &r))
        return size;
    if (idx_r_block_usage(r->rd, ino, NULL, &used))
        used = size;
    fs_rd_give(fs, r);
    return used + extra;
}

ssize_t fs_file_read(struct fs_ctx *fs, struct fs_inode *in, char *buf,
                     size_t n, uint64_t off)
{
    uint64_t size = in->size;
    if (off >= size)
        return 0;
    if (n > size - off)
        n = (size_t)(size - off);
    uint8_t *scratch = NULL;
    size_t done = 0;
    uint64_t first = off / fs->bs, last = (off + n - 1) / fs->bs;
    int ra = fs->cache.limit >= (uint64_t)(FS_RA_DEPTH + 2) * fs->bs;
    /* A request over several blocks (the kernel's read-ahead asks for up
     * to 1 MiB at once, and its first window after an open often spans
     * two blocks): the decode-ahead threads load the later ones while this
     * thread loads the first, and this thread then finds them cached or
     * waits for their claim.  Any codec: loads of raw blocks overlap too. */
    for (uint64_t b = first + 1; ra && b <= last; b++)
        if (!dbuf_find(in, b))
            fs_ra_ask(fs, in->ino, b);
    while (done < n) {
        uint64_t pos = off + done;
        uint64_t blkno = pos / fs->bs;
        uint32_t boff = (uint32_t)(pos % fs->bs);
        size_t chunk = fs->bs - boff;
        if (chunk > n - done)
            chunk = n - done;
        struct fs_dbuf *d = dbuf_find(in, blkno);
        if (d) {
            memcpy(buf + done, d->data + boff, chunk);
        } else if (fs_pend_read(&fs->pend, in->ino, blkno, boff, buf + done,
                                (uint32_t)chunk)) {
            ;
        } else if (!fs_cache_read(&fs->cache, in->ino, blkno, boff,
                                  buf + done, (uint32_t)chunk)) {
            if (!scratch && !(scratch = fs_cache_buf_get(&fs->cache, fs->bs)))
                return -ENOMEM;   /* not a short read: see below */
            int coded = 0;
            int e = load_block(fs, in->ino, blkno, scratch, &coded, 0);
            if (coded)
                __atomic_store_n(&in->ra_coded, 1, __ATOMIC_RELAXED);
            if (e) {
                /* The whole request fails, not a short read: the kernel
                 * takes a short read for the end of the file and would
                 * shrink its idea of the size.  It then reads page by
                 * page, so the good blocks before still read. */
                fs_cache_buf_put(&fs->cache, scratch, fs->bs);
                return e;
            }
            memcpy(buf + done, scratch + boff, chunk);
        }
        done += chunk;
    }
    fs_cache_buf_put(&fs->cache, scratch, fs->bs);
    /* A file with coded blocks read in order: decode the next ones on the
     * decode-ahead threads while the application uses these (fs_ra.c). */
    uint64_t prev = __atomic_exchange_n(&in->ra_next, last + 1, __ATOMIC_RELAXED);
    ra = __atomic_load_n(&in->ra_coded, __ATOMIC_RELAXED) &&
         fs->cache.limit >= (uint64_t)(FS_RA_DEPTH + 2) * fs->bs;
    if (ra && (first == prev || first + 1 == prev))
        for (uint64_t b = last + 1; b <= last + FS_RA_DEPTH &&
                                    b < (size + fs->bs - 1) / fs->bs; b++)
            fs_ra_ask(fs, in->ino, b);
    return (ssize_t)n;
}

/* Keeps d's running CRC up after bytes [boff, boff+n) were written: a write
 * at or past crc_len extends it (over any gap, which the buffer holds as
 * zeros or loaded bytes), one that goes back makes it unknown. */
#define CRC_UNKNOWN UINT32_MAX
static void crc_extend(struct fs_dbuf *d, uint32_t boff, uint32_t n)
{
    if (d->crc_len == CRC_UNKNOWN)
        return;
    if (boff < d->crc_len) {
        d->crc_len = CRC_UNKNOWN;
        return;
    }
    d->crc = fade_crc32c(d->crc, d->data + d->crc_len, boff + n - d->crc_len);
    d->crc_len = boff + n;
}

ssize_t fs_file_write(struct fs_ctx *fs, struct fs_inode *in, const char *buf,
                      size_t n, uint64_t off, int kill_priv)
{
    if (off > FS_MAX_FILE_SIZE || n > FS_MAX_FILE_SIZE - off)
        return -EFBIG;
    size_t done = 0;
    while (done < n) {
        uint64_t pos = off + done;
        uint64_t blkno = pos / fs->bs;
        uint32_t boff = (uint32_t)(pos % fs->bs);
        size_t chunk = fs->bs - boff;
        if (chunk > n - done)
            chunk = n - done;
        struct fs_dbuf *d = dbuf_find(in, blkno);
        if (!d) {
            if (in->n_dirty >= fs->dirty_max) {
                /* Bounded dirty memory: commit before taking more. */
                int e = fs_file_commit(fs, in, FS_COMMIT_ASYNC);
                if (e)
                    return done ? (ssize_t)done : e;
            }
            d = malloc(sizeof(*d));
            uint8_t *data = fs_cache_buf_get(&fs->cache, fs->bs);
            if (!d || !data) {
                free(d);
                fs_cache_buf_put(&fs->cache, data, fs->bs);
                return done ? (ssize_t)done : -ENOMEM;
            }
            uint64_t start = blkno * fs->bs;
            int e = 0;
            if (boff == 0 && chunk == fs->bs) {
                ;                            /* all of it is overwritten below */
            } else if (start >= in->size) {
                /* Nothing stored to keep: zeros around what comes in. */
                memset(data, 0, boff);
                memset(data + boff + chunk, 0, fs->bs - boff - chunk);
            } else {
                e = fs_file_load_block(fs, in->ino, blkno, data);
            }
            if (e) {
                free(d);
                fs_cache_buf_put(&fs->cache, data, fs->bs);
                return done ? (ssize_t)done : e;
            }
            *d = (struct fs_dbuf){ .blkno = blkno, .data = data };
            d->next = in->dirty;
            in->dirty = d;
            in->n_dirty++;
        }
        if (d->crc_len == boff) {
            /* In order (the usual case): copy and sum in one pass. */
            d->crc = fade_crc32c_copy(d->crc, d->data + boff,
                                      (const uint8_t *)buf + done, chunk);
            d->crc_len = boff + (uint32_t)chunk;
        } else {
            memcpy(d->data + boff, buf + done, chunk);
            crc_extend(d, boff, (uint32_t)chunk);
        }
        done += chunk;
        if (off + done > in->size)
            in->size = off + done;
    }
    fs_now(&in->mtime);
    in->ctime = in->mtime;
    in->data_gen++;
    in->attr_dirty = 1;
    if (kill_priv)
        in->kill_priv = 1;
    return (ssize_t)n;
}

/* ---- commit ---- */
struct commit_blk {
    uint64_t blkno;
    uint32_t raw_len;
    const uint8_t *data;          /* the raw bytes (the job's buffer) */
    uint8_t *payload;             /* an encoded payload (truncate) */
    size_t   plen;
    int      del;                 /* all zeros: delete the row (becomes a hole) */
    int      have_crc;            /* crc is known (kept for a re-run) */
    uint32_t crc;                 /* CRC32C of data[0..raw_len) */
    int      prepared;            /* appended ahead of run, at loc */
    struct idx_bloc loc;
};
struct commit_job {
    struct fs_job j;
    uint64_t ino;
    struct commit_blk *blk;
    size_t n;
    int set_attr;                 /* write size/mtime/ctime below */
    uint64_t size;
    struct timespec mtime, ctime;
    int kill_priv;
    uint64_t trunc_from;          /* delete rows >= this; UINT64_MAX = none */
    struct fs_dbuf *bufs;         /* async: the job's buffers, also in fs_pend */
};

/* Encodes a raw payload for data[0..raw_len). */
static int encode_raw(const uint8_t *data, uint32_t raw_len, uint8_t **out,
                      size_t *out_len)
{
    size_t cap = fade_block_bound(raw_len, 1);
    uint8_t *p = malloc(cap);
    if (!p)
        return -ENOMEM;
    ssize_t n = fade_block_encode_raw(p, cap, data, raw_len);
    if (n < 0) {
        free(p);
        return n == FADE_E_NOMEM ? -ENOMEM : -EIO;
    }
    *out = p;
    *out_len = (size_t)n;
    return 0;
}

/* Appends block b of job j as a raw block: header + the job's buffer in one
 * gathered write.  The data's CRC is the one kept up by the writes (else
 * computed here, once); the segment record derives its payload CRC from it
 * and the header's. */
static int append_raw(struct fs_ctx *fs, struct commit_job *j,
                      struct commit_blk *b, struct idx_bloc *loc)
{
    uint8_t h[FADE_RAW_HEADER_LEN];
    if (!b->have_crc) {
        b->crc = fade_crc32c(0, b->data, b->raw_len);
        b->have_crc = 1;
    }
    if (fade_block_raw_header(h, sizeof h, b->raw_len, b->crc) != (ssize_t)sizeof h)
        return -EIO;
    struct iovec iov[2] = {
        { .iov_base = h, .iov_len = sizeof h },
        { .iov_base = (void *)b->data, .iov_len = b->raw_len },
    };
    uint32_t crc[2] = { fade_crc32c(0, h, sizeof h), b->crc };
    return fs_w_payload_appendv(fs, j->ino, b->blkno, FADE_CODEC_RAW,
                                b->raw_len, iov, 2, crc, loc);
}

/* Appends block b's payload (raw) and fills *loc; 1 if b has none. */
static int append_blk(struct fs_ctx *fs, struct commit_job *j,
                      struct commit_blk *b, struct idx_bloc *loc)
{
    if (b->payload)
        return fs_w_payload_append(fs, j->ino, b->blkno, FADE_CODEC_RAW,
                                   b->raw_len, b->payload, b->plen, loc);
    if (b->data)
        return append_raw(fs, j, b, loc);
    return 1;
}

static void commit_unprepare(struct fs_ctx *fs, struct fs_job *jj)
{
    struct commit_job *j = (struct commit_job *)jj;
    (void)fs;
    for (size_t i = 0; i < j->n; i++)
        j->blk[i].prepared = 0;
}

/* The pipeline's step ahead of run (fs.h): every payload appended. */
static int commit_prepare(struct fs_ctx *fs, struct fs_job *jj)
{
    struct commit_job *j = (struct commit_job *)jj;
    for (size_t i = 0; i < j->n; i++) {
        struct commit_blk *b = &j->blk[i];
        if (b->del)
            continue;
        int e = append_blk(fs, j, b, &b->loc);
        if (e < 0) {
            commit_unprepare(fs, jj);
            return e;
        }
        b->prepared = e == 0;
    }
    return 0;
}

static int commit_run(struct fs_ctx *fs, struct fs_job *jj)
{
    struct commit_job *j = (struct commit_job *)jj;
    struct idx_attr a;
    int e = idx_w_inode_get(fs->idx, j->ino, &a);
    if (e)
        return e;
    if (j->trunc_from != UINT64_MAX) {
        e = idx_w_block_truncate(fs->idx, j->ino, j->trunc_from);
        if (e)
            return e;
    }
    for (size_t i = 0; i < j->n; i++) {
        struct commit_blk *b = &j->blk[i];
        if (b->del) {
            if ((e = idx_w_block_delete(fs->idx, j->ino, b->blkno)))
                return e;
            continue;
        }
        struct idx_bloc loc = b->loc;
        if (!b->prepared) {
            e = append_blk(fs, j, b, &loc);
            if (e == 1)
                continue;
        }
        if (!e)
            e = idx_w_block_put(fs->idx, j->ino, b->blkno, &loc);
        if (!e)
            e = idx_w_queue_push(fs->idx, j->ino, b->blkno);
        if (e)
            return e;
    }
    if (!j->set_attr && !j->kill_priv)
        return 0;
    if (j->set_attr) {
        a.size = j->size;
        a.mtime_sec = j->mtime.tv_sec;
        a.mtime_nsec = (uint32_t)j->mtime.tv_nsec;
        /* A link, rename or unlink since the data was written moved the
         * stored ctime past the in-memory one; ctime never goes back. */
        if (j->ctime.tv_sec > a.ctime_sec ||
            (j->ctime.tv_sec == a.ctime_sec && (uint32_t)j->ctime.tv_nsec > a.ctime_nsec)) {
            a.ctime_sec = j->ctime.tv_sec;
            a.ctime_nsec = (uint32_t)j->ctime.tv_nsec;
        }
    }
    if (j->kill_priv) {
        a.mode &= ~(uint32_t)S_ISUID;
        if (a.mode & S_IXGRP)
            a.mode &= ~(uint32_t)S_ISGID;
    }
    return idx_w_inode_put(fs->idx, &a);
}

static int cmp_blk(const void *x, const void *y)
{
    const struct commit_blk *a = x, *b = y;
    return a->blkno < b->blkno ? -1 : a->blkno > b->blkno;
}

static void commit_job_free(struct fs_ctx *fs, struct commit_job *j)
{
    for (size_t i = 0; i < j->n; i++)
        free(j->blk[i].payload);
    free(j->blk);
    for (struct fs_dbuf *d = j->bufs, *next; d; d = next) {
        next = d->next;
        fs_cache_buf_put(&fs->cache, d->data, d->cap);
        free(d);
    }
    free(j);
}

/* Under the writer lock, once seq is known: from now on readers find the
 * buffers in fs_pend until this job finishes. */
static void commit_publish(struct fs_ctx *fs, struct fs_job *jj)
{
    struct commit_job *j = (struct commit_job *)jj;
    for (struct fs_dbuf *d = j->bufs; d; d = d->next)
        fs_pend_put(&fs->pend, j->ino, d, jj->seq);
}

/* On the writer thread, after the commit (or its failure). */
static void commit_finish(struct fs_ctx *fs, struct fs_job *jj)
{
    struct commit_job *j = (struct commit_job *)jj;
    int ok = jj->result == 0;
    if (!ok) {
        fs_pend_error(&fs->pend, j->ino, jj->result);
        fs_log(fs, jj->result == -ENOSPC ? LOG_DEBUG : LOG_ERR,
               "inode %llu: data not committed: %s",
               (unsigned long long)j->ino, strerror(-jj->result));
    }
    struct fs_dbuf *d = j->bufs;
    j->bufs = NULL;
    for (struct fs_dbuf *next; d; d = next) {
        next = d->next;
        /* Still the newest version: committed, the buffer becomes the cache
         * entry (no copy; the next read is likely to want it); failed, the
         * store's old content is what readers see again.  Replaced by a
         * newer version: that one's job decides. */
        if (fs_pend_remove(&fs->pend, d)) {
            if (ok && d->data && d->len) {
                fs_cache_adopt(&fs->cache, j->ino, d->blkno, d->data, d->len, d->cap);
                d->data = NULL;
            } else {
                fs_cache_drop(&fs->cache, j->ino, d->blkno);
            }
        }
        fs_cache_buf_put(&fs->cache, d->data, d->cap);
        free(d);
    }
    commit_job_free(fs, j);
}

/* Hands the dirty buffers and attributes of in to the writer without
 * waiting.  Fails (with nothing changed) only before the hand-off. */
static int commit_async(struct fs_ctx *fs, struct fs_inode *in)
{
    struct commit_job *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->j.run = commit_run;
    j->j.publish = commit_publish;
    j->j.finish = commit_finish;
    j->j.prepare = commit_prepare;
    j->j.unprepare = commit_unprepare;
    j->ino = in->ino;
    j->set_attr = in->attr_dirty;
    j->size = in->size;
    j->mtime = in->mtime;
    j->ctime = in->ctime;
    j->kill_priv = in->kill_priv;
    j->trunc_from = UINT64_MAX;
    if (in->n_dirty && !(j->blk = calloc(in->n_dirty, sizeof(*j->blk)))) {
        free(j);
        return -ENOMEM;
    }
    uint64_t pend = 0;
    /* The buffers go with the job: those inside the file become fs_pend
     * entries (zero blocks with no data: they read as holes).  The writer
     * encodes them, so this thread only copies the data in. */
    for (struct fs_dbuf *d = in->dirty, *next; d; d = next) {
        next = d->next;
        uint64_t start = d->blkno * fs->bs;
        if (start >= in->size) {      /* cut off by a truncate: nothing */
            fs_cache_drop(&fs->cache, in->ino, d->blkno);
            fs_cache_buf_put(&fs->cache, d->data, fs->bs);
            free(d);
            continue;
        }
        uint64_t left = in->size - start;
        uint32_t len = left < fs->bs ? (uint32_t)left : fs->bs;
        struct commit_blk *b = &j->blk[j->n++];
        b->blkno = d->blkno;
        b->raw_len = len;
        d->cap = fs->bs;
        if (fs_is_zero(d->data, len)) {
            b->del = 1;               /* stays (or becomes) a hole */
            fs_cache_buf_put(&fs->cache, d->data, fs->bs);
            d->data = NULL;
            len = d->cap = 0;
        } else if (len < fs->bs / 2) {
            /* A small file's tail: keep only what it holds (the big buffer
             * goes back to the pool). */
            uint8_t *p = malloc(len);
            if (p) {
                memcpy(p, d->data, len);
                fs_cache_buf_put(&fs->cache, d->data, fs->bs);
                d->data = p;
                d->cap = len;
            }
        }
        b->data = d->data;
        if (b->data && d->crc_len != CRC_UNKNOWN && d->crc_len <= len) {
            /* Bytes past the last write (zeros or loaded) up to the length
             * stored; a longer CRC (the file was cut) is of no use. */
            b->crc = fade_crc32c(d->crc, d->data + d->crc_len, len - d->crc_len);
            b->have_crc = 1;
        }
        d->len = len;
        pend += len;
        /* The buffer, kept readable in fs_pend until the commit lands; the
         * payload is written from it without a copy. */
        j->j.bytes += d->cap;
        d->next = j->bufs;
        j->bufs = d;
    }
    if (j->n > 1)
        qsort(j->blk, j->n, sizeof(*j->blk), cmp_blk);  /* sequential segment layout */
    j->j.bytes += 256 * (uint64_t)(j->n + 1);
    int kill = in->kill_priv;
    in->dirty = NULL;
    in->n_dirty = 0;
    in->attr_dirty = 0;
    in->kill_priv = 0;
    uint64_t seq = fs_writer_submit_async(fs, &j->j);   /* j may be gone now */
    pthread_mutex_lock(&fs->itab.lock);
    if (fs_writer_async_done(fs, in->async_seq)) {
        in->pend_bytes = 0;
        in->pend_kill = 0;
    }
    in->pend_bytes += pend;
    in->pend_kill |= kill;
    if (seq)
        in->async_seq = seq;
    pthread_mutex_unlock(&fs->itab.lock);
    return 0;
}

int fs_file_clean(const struct fs_inode *in)
{
    return !in->n_dirty && !in->attr_dirty && !in->kill_priv;
}

int fs_file_commit(struct fs_ctx *fs, struct fs_inode *in, int how)
{
    int e = 0;
    if (in->n_dirty || in->attr_dirty || in->kill_priv)
        e = commit_async(fs, in);
    if (e)
        return e;                     /* nothing handed off: still dirty */
    if (how == FS_COMMIT_DURABLE) {
        e = fs_writer_barrier(fs);
    } else if (how == FS_COMMIT_WAIT) {
        pthread_mutex_lock(&fs->itab.lock);
        uint64_t seq = in->async_seq;
        pthread_mutex_unlock(&fs->itab.lock);
        fs_writer_async_wait(fs, seq);
    }
    /* A failed async commit of this file is reported here (once). */
    int e2 = fs_pend_error_take(&fs->pend, in->ino);
    return e ? e : e2;
}

int fs_file_truncate(struct fs_ctx *fs, struct fs_inode *in, uint64_t size,
                     struct idx_attr *out)
{
    if (size > FS_MAX_FILE_SIZE)
        return -EFBIG;
    /* The truncate job below may not overtake the deferred commit. */
    int e = fs_file_commit(fs, in, FS_COMMIT_ASYNC);
    if (e)
        return e;
    uint64_t old = in->size;
    uint64_t k = size / fs->bs;
    uint32_t rem = (uint32_t)(size % fs->bs);
    struct commit_blk part = { .blkno = k };
    struct commit_job j = {
        .j = { .run = commit_run }, .ino = in->ino, .set_attr = 1,
        .size = size, .trunc_from = UINT64_MAX,
    };
    fs_now(&j.mtime);
    j.ctime = j.mtime;
    uint8_t *data = NULL;
    if (size < old) {
        j.trunc_from = rem ? k + 1 : k;
        if (rem) {
            /* The block the new end cuts keeps only its first rem bytes. */
            data = malloc(fs->bs);
            if (!data)
                return -ENOMEM;
            e = fs_file_load_block(fs, in->ino, k, data);
            if (e) {
                free(data);
                return e;
            }
            if (fs_is_zero(data, rem)) {
                j.trunc_from = k;     /* becomes a hole */
            } else {
                part.raw_len = rem;
                e = encode_raw(data, rem, &part.payload, &part.plen);
                if (e) {
                    free(data);
                    return e;
                }
                j.blk = &part;
                j.n = 1;
            }
        }
    }
    e = fs_writer_submit(fs, &j.j);
    free(part.payload);
    if (e) {
        free(data);
        return e;
    }
    if (size < old) {
        fs_cache_drop_from(&fs->cache, in->ino, k);
        if (j.n)
            fs_cache_put(&fs->cache, in->ino, k, data, rem, 0);
    }
    free(data);
    in->size = size;
    in->data_gen++;
    if (out) {
        struct fs_rd *r;
        e = fs_rd_take(fs, &r);
        if (e)
            return e;
        e = idx_r_inode_get(r->rd, in->ino, out);
        fs_rd_give(fs, r);
    }
    return e;
}
