/* fs_writer.c — the single writer thread: a FIFO of jobs from FUSE threads,
 * run in one transaction per batch (group commit).
 *
 * Why one thread: the store has one writer connection (idx.h), and batching
 * every job that arrived while the previous batch was committing turns many
 * small transactions (and their payload syncs and fsyncs) into one.
 *
 * A batch: begin; run each job; if any job appended a payload, sync the
 * segments (payload durable BEFORE the rows that point at it commit); commit,
 * durably if any job asked for it; wake every waiter with its own result.
 * A job may fail cleanly (ENOENT, EEXIST, ...: it changed nothing) and the
 * batch still commits.  If a job or the commit fails with a store error
 * (ENOSPC, EIO, ...), the batch is rolled back and each job is re-run alone
 * in its own transaction, so one job's failure never takes its neighbours'
 * changes with it, and nothing committed before is lost.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs/fs.h"

/* Errors that may leave a half-done transaction behind: the batch must be
 * rolled back.  Every other error is a job's clean refusal. */
static int fs_err_is_hard(int e)
{
    switch (e) {
    case -ENOSPC: case -EIO: case -EUCLEAN: case -EBUSY: case -ENOMEM:
    case -EROFS: case -EDQUOT: case -EFBIG: case -EPROTO: case -EAGAIN:
        return 1;
    default:
        return 0;
    }
}

int fs_w_payload_append(struct fs_ctx *fs, uint64_t ino, uint64_t blkno,
                        uint32_t codec, uint32_t raw_len, const void *payload,
                        size_t len, struct idx_bloc *loc)
{
    fs->w.need_sync = 1;
    fs->w.appended += len;
    return idx_w_payload_append(fs->idx, ino, blkno, codec, raw_len, payload,
                                len, loc);
}

int fs_w_payload_appendv(struct fs_ctx *fs, uint64_t ino, uint64_t blkno,
                         uint32_t codec, uint32_t raw_len,
                         const struct iovec *iov, int n_iov,
                         const uint32_t *piece_crc, struct idx_bloc *loc)
{
    int e = idx_w_payload_appendv(fs->idx, ino, blkno, codec, raw_len, iov,
                                  n_iov, piece_crc, loc);
    fs->w.need_sync = 1;
    if (!e)
        fs->w.appended += loc->len;
    return e;
}

/* A full disk is the application's news (it gets ENOSPC), not the
 * daemon's: it is logged only with -d.  Anything else is logged. */
static void log_failure(struct fs_ctx *fs, int e)
{
    fs_log(fs, e == -ENOSPC ? LOG_DEBUG : LOG_ERR, "store write failed: %s",
           strerror(-e));
}

/* On a full disk, segments that hold mostly dead payloads (deleted or
 * overwritten data) are worth rewriting before the jobs are retried.  At
 * most once every FS_COMPACT_GAP seconds: each try reads the block map. */
#define FS_COMPACT_GAP 10
static void compact_for_space(struct fs_ctx *fs)
{
    /* Payloads of a prepared batch have no rows yet: compaction would take
     * them for garbage (idx_w_compact's contract). */
    if (fs->w.pipe || fs->w.preparing)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (fs->w.last_compact && now.tv_sec - fs->w.last_compact < FS_COMPACT_GAP)
        return;
    fs->w.last_compact = now.tv_sec ? now.tv_sec : 1;
    int e = idx_w_compact(fs->idx, 0.5);
    fs_log(fs, LOG_DEBUG, "disk full: compaction %s", e ? strerror(-e) : "done");
}

/* Runs one job in a transaction of its own. */
static void run_alone(struct fs_ctx *fs, struct fs_job *j)
{
    int r = idx_w_begin(fs->idx);
    if (r) {
        j->result = r;
        return;
    }
    fs->w.need_sync = 0;
    r = j->run(fs, j);
    if (fs_err_is_hard(r))
        goto fail;
    int s = 0;
    if (fs->w.need_sync)
        s = idx_w_payload_sync(fs->idx);
    if (!s)
        s = idx_w_commit(fs->idx, j->durable);
    if (s) {
        r = s;
        goto fail;
    }
    if (j->durable)
        fs->w.n_durable++;
    j->result = r;
    return;
fail:
    idx_w_rollback(fs->idx);
    j->result = r;
    log_failure(fs, r);
}

static void unprepare_list(struct fs_ctx *fs, struct fs_job *list)
{
    for (struct fs_job *j = list; j; j = j->next)
        if (j->unprepare)
            j->unprepare(fs, j);
}

/* Runs a batch in one transaction.  synced: every payload its jobs
 * prepared was made durable through a mark (the pipeline below), so the
 * commit need not sync the segment (whose newer, unsynced records belong
 * to the next batch). */
static void run_batch(struct fs_ctx *fs, struct fs_job *batch, int synced)
{
    int durable = 0, bad = 0, n = 0;
    int r = idx_w_begin(fs->idx);
    if (r)
        bad = r;
    fs->w.need_sync = 0;
    for (struct fs_job *j = batch; j && !bad; j = j->next) {
        n++;
        j->result = j->run(fs, j);
        durable |= j->durable;
        if (fs_err_is_hard(j->result))
            bad = j->result;
    }
    if (!bad && fs->w.need_sync)
        bad = idx_w_payload_sync(fs->idx);
    if (!bad)
        bad = synced && !fs->w.need_sync ? idx_w_commit_synced(fs->idx, durable)
                                         : idx_w_commit(fs->idx, durable);
    if (!bad) {
        if (durable)
            fs->w.n_durable++;
        return;
    }
    if (r == 0)
        idx_w_rollback(fs->idx);
    /* The retries append again: whatever failed may have been a sync. */
    unprepare_list(fs, batch);
    if (bad == -ENOSPC)
        compact_for_space(fs);
    else if (!batch->next) {
        batch->result = bad;
        log_failure(fs, bad);
        return;
    }
    for (struct fs_job *j = batch; j; j = j->next)
        run_alone(fs, j);
}

/* Idle-time upkeep: once the writer has been idle for FS_IDLE_S after some
 * batches, and the segments hold much more than the live payloads (data
 * overwritten or deleted), rewrite the segments that are mostly dead.  Jobs
 * that arrive meanwhile wait for it; the threshold keeps each run short
 * next to the writes that made the garbage. */
#define FS_IDLE_S        1
/* 4 MiB: compression turns most of a small store into dead raw payloads,
 * which should come back too; a quarter of the live bytes keeps big stores
 * from compacting for little. */
#define FS_DEAD_MIN      (4ull << 20)
#define FS_UPKEEP_EVERY  (256ull << 20)   /* payload bytes between checks */
static void idle_upkeep(struct fs_ctx *fs)
{
    struct fs_rd *r;
    struct idx_stats st;
    if (fs_rd_take(fs, &r))
        return;
    int e = idx_r_stats(r->rd, &st);
    fs_rd_give(fs, r);
    if (e || st.segment_bytes <= st.payload_bytes)
        return;
    uint64_t dead = st.segment_bytes - st.payload_bytes;
    if (dead < FS_DEAD_MIN || dead < st.payload_bytes / 4)
        return;
    e = idx_w_compact(fs->idx, 0.5);
    fs_log(fs, e ? LOG_WARNING : LOG_DEBUG, "compaction of %llu MiB dead space: %s",
           (unsigned long long)(dead >> 20), e ? strerror(-e) : "done");
}

/* Deferred async commits are run (payloads appended, rows put) and
 * committed together once they hold this much, once the oldest has waited
 * this long, or as soon as a job that must not overtake them arrives
 * (anything but a create, e.g. an fsync).  One payload sync and one
 * transaction then cover many files or many MiB.  The bytes are block
 * buffers (no payload copies).  Smaller bounds mean fewer fresh pages to
 * fault in but more syncs, each with a fixed cost (a cache flush): on the
 * build machine 8/16 MiB took 0.33 s of daemon CPU for a 256 MiB write and
 * 16/32 MiB 0.38 s, while 16 MiB batches halve the syncs, which the disk
 * needed more (256 MiB in 8 MiB syncs: 0.5 s of sync, one sync: 0.25 s). */
#define FS_DEFER_BYTES   (16ull << 20)
#define FS_DEFER_NS      200000000ll
/* Async memory (buffers handed to the writer, not yet committed) beyond
 * which an async submitter waits: bounds memory, lets the writer catch up.
 * Three batches: one syncing, one being appended, one filling. */
#define FS_ASYNC_MAX     (3 * FS_DEFER_BYTES)

static int64_t mono_ns(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000ll + t->tv_nsec;
}

/* Sorts the jobs of a batch: deferred async jobs go to the writer's list;
 * the rest go to *now, behind the deferred jobs they must not overtake. */
static void sort_batch(struct fs_writer *w, struct fs_job *batch,
                       struct fs_job **now)
{
    struct fs_job **tail = now;
    while (*tail)
        tail = &(*tail)->next;
    for (struct fs_job *j = batch, *next; j; j = next) {
        next = j->next;
        j->next = NULL;
        if (j->async) {
            if (!w->def_head)
                clock_gettime(CLOCK_MONOTONIC, &w->def_t0);
            if (w->def_tail)
                w->def_tail->next = j;
            else
                w->def_head = j;
            w->def_tail = j;
            w->def_bytes += j->bytes;
            continue;
        }
        if (!j->reorder_ok && w->def_head) {
            *tail = w->def_head;
            tail = &w->def_tail->next;
            w->def_head = w->def_tail = NULL;
            w->def_bytes = 0;
        }
        *tail = j;
        tail = &j->next;
    }
}

static void release_deferred(struct fs_writer *w, struct fs_job **now)
{
    if (!w->def_head)
        return;
    struct fs_job **tail = now;
    while (*tail)
        tail = &(*tail)->next;
    *tail = w->def_head;
    w->def_head = w->def_tail = NULL;
    w->def_bytes = 0;
}

/* Wakes the submitters of a run list and finishes its async jobs. */
static void complete(struct fs_ctx *fs, struct fs_job *list)
{
    struct fs_writer *w = &fs->w;
    uint64_t last = 0, bytes = 0, n = 0;
    struct fs_job *waiting = NULL, **tail = &waiting;
    /* finish() frees async jobs and takes fs_pend.lock and leaf locks
     * (fs.h), and a coder's finish may call into the kernel: outside the
     * writer lock.  The waited-for
     * jobs are set aside first: the list dies with the async jobs. */
    for (struct fs_job *j = list, *next; j; j = next) {
        next = j->next;
        if (j->async) {
            last = j->seq;
            bytes += j->bytes;
            n++;
            j->finish(fs, j);
        } else {
            j->next = NULL;
            *tail = j;
            tail = &j->next;
        }
    }
    pthread_mutex_lock(&w->lock);
    if (last > w->async_done)
        w->async_done = last;
    w->async_bytes -= bytes;
    w->n_jobs += n;
    /* Read next before done: once done is set and the lock dropped, the
     * waiter returns and its job (on its stack) is gone. */
    for (struct fs_job *j = waiting, *next; j; j = next) {
        next = j->next;
        w->n_jobs++;
        j->done = 1;
    }
    pthread_cond_broadcast(&w->done);
    pthread_mutex_unlock(&w->lock);
}

/* Runs a list of jobs as one batch and wakes or finishes them. */
static void run_list(struct fs_ctx *fs, struct fs_job *list, int synced)
{
    fs->w.n_batches++;
    run_batch(fs, list, synced);
    complete(fs, list);
}

/* ---- the pipeline ----
 * A stream of writes makes full deferred batches back to back.  Each needs
 * its payloads appended, then synced, then its rows committed; done in
 * turn on one thread, the disk idles while the writer appends and the
 * writer idles while the disk syncs.  So a full batch is prepared (its
 * payloads appended, prepare hooks) while the previous one is synced by
 * the syncer thread; then the previous one's rows commit (without a sync
 * of their own: idx_w_commit_synced) and the new one's sync starts.  At
 * most one batch is being synced; anything else (a job that is not a
 * deferred async one, a deadline, stop) first finishes it, so commits stay
 * in submission order.  Compaction never runs while a batch is prepared:
 * it could move or delete the segment its payloads are in. */

static void *syncer_main(void *arg)
{
    struct fs_ctx *fs = arg;
    struct fs_writer *w = &fs->w;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->sync_fd < 0 && !w->sync_stop)
            pthread_cond_wait(&w->sync_cv, &w->lock);
        if (w->sync_fd < 0)
            break;
        int fd = w->sync_fd;
        w->sync_fd = -1;
        pthread_mutex_unlock(&w->lock);
        int r = idx_payload_sync_fd(fs->idx, fd);
        close(fd);
        pthread_mutex_lock(&w->lock);
        w->sync_result = r;
        w->sync_done = 1;
        pthread_cond_signal(&w->wake);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Waits for the pipelined batch's sync, commits it and wakes its
 * submitters.  If the sync failed, or any payload sync failed since the
 * batch was prepared (the failure may have dropped its pages), its jobs
 * append again and commit with an ordinary sync. */
static void pipe_finish(struct fs_ctx *fs)
{
    struct fs_writer *w = &fs->w;
    struct fs_job *b = w->pipe;
    if (!b)
        return;
    pthread_mutex_lock(&w->lock);
    while (!w->sync_done)
        pthread_cond_wait(&w->wake, &w->lock);
    int r = w->sync_result;
    w->sync_done = 0;
    pthread_mutex_unlock(&w->lock);
    idx_w_payload_marked(fs->idx, w->pipe_gen, r);
    int lost = r || idx_w_payload_failures(fs->idx) != w->pipe_fail0;
    if (lost)
        unprepare_list(fs, b);
    w->pipe = NULL;
    w->n_piped++;
    run_list(fs, b, !lost);
}

/* Appends the payloads of a full deferred batch, commits the previous
 * one, and hands the new one's sync to the syncer. */
static void pipe_next(struct fs_ctx *fs, struct fs_job *b)
{
    struct fs_writer *w = &fs->w;
    uint64_t fail0 = idx_w_payload_failures(fs->idx);
    w->preparing = 1;
    for (struct fs_job *j = b; j; j = j->next)
        if (j->prepare)
            j->prepare(fs, j);
    pipe_finish(fs);
    w->preparing = 0;
    int fd;
    uint64_t gen;
    int e = idx_w_payload_mark(fs->idx, &fd, &gen);
    if (e) {
        /* No sync point (a sticky sync error): the batch goes the plain
         * way, which reports the error. */
        unprepare_list(fs, b);
        run_list(fs, b, 0);
        return;
    }
    w->pipe = b;
    w->pipe_gen = gen;
    w->pipe_fail0 = fail0;
    pthread_mutex_lock(&w->lock);
    if (fd < 0) {
        w->sync_result = 0;       /* nothing appended: nothing to sync */
        w->sync_done = 1;
    } else {
        w->sync_fd = fd;
        pthread_cond_signal(&w->sync_cv);
    }
    pthread_mutex_unlock(&w->lock);
}

static void *writer_main(void *arg)
{
    struct fs_ctx *fs = arg;
    struct fs_writer *w = &fs->w;
    int upkeep_due = 1;           /* also once after mount */
    pthread_mutex_lock(&w->lock);
    for (;;) {
        int due = 0;              /* the deferred jobs must run now */
        while (!w->head && !w->stop && !due && !(w->pipe && w->sync_done)) {
            if (w->pipe && !w->def_head) {
                pthread_cond_wait(&w->wake, &w->lock);   /* the syncer wakes us */
                continue;
            }
            if (w->def_head) {
                struct timespec now, until;
                clock_gettime(CLOCK_MONOTONIC, &now);
                int64_t left = mono_ns(&w->def_t0) + FS_DEFER_NS - mono_ns(&now);
                if (left <= 0) {
                    due = 1;
                    break;
                }
                clock_gettime(CLOCK_REALTIME, &until);
                int64_t t = mono_ns(&until) + left;
                until.tv_sec = t / 1000000000ll;
                until.tv_nsec = t % 1000000000ll;
                pthread_cond_timedwait(&w->wake, &w->lock, &until);
                continue;
            }
            if (!upkeep_due) {
                pthread_cond_wait(&w->wake, &w->lock);
                continue;
            }
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += FS_IDLE_S;
            int rc = pthread_cond_timedwait(&w->wake, &w->lock, &until);
            if (rc == ETIMEDOUT && !w->head && !w->stop) {
                upkeep_due = 0;
                pthread_mutex_unlock(&w->lock);
                idle_upkeep(fs);
                pthread_mutex_lock(&w->lock);
            }
        }
        if (!w->head && !w->def_head && !w->pipe)
            break;                /* stop, and nothing left */
        upkeep_due = 1;
        struct fs_job *batch = w->head;
        w->head = w->tail = NULL;
        int stop = w->stop;
        int synced = w->pipe && w->sync_done;
        pthread_mutex_unlock(&w->lock);

        struct fs_job *now = NULL;
        sort_batch(w, batch, &now);
        int full = w->def_bytes >= FS_DEFER_BYTES;
        /* Upkeep must not wait for the stream to pause: the batch that
         * reaches its mark goes the plain way, leaving nothing prepared. */
        int upkeep = fs->w.appended >= FS_UPKEEP_EVERY;
        if (now || due || stop || (full && upkeep)) {
            pipe_finish(fs);      /* it was submitted first */
            if (due || stop || full)
                release_deferred(w, &now);
            if (now)
                run_list(fs, now, 0);
        } else if (full) {
            struct fs_job *b = NULL;
            release_deferred(w, &b);
            pipe_next(fs, b);
        } else if (synced) {
            pipe_finish(fs);
        }
        if (fs->w.appended >= FS_UPKEEP_EVERY && !w->pipe) {
            /* A write stream that never pauses still gets its garbage
             * collected, between batches (deferred jobs have not touched
             * the store yet, so compaction may run before them). */
            fs->w.appended = 0;
            idle_upkeep(fs);
        }
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void stop_syncer(struct fs_writer *w)
{
    pthread_mutex_lock(&w->lock);
    w->sync_stop = 1;
    pthread_cond_signal(&w->sync_cv);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->syncer, NULL);
    w->syncer_running = 0;
}

int fs_writer_start(struct fs_ctx *fs)
{
    struct fs_writer *w = &fs->w;
    int e = pthread_mutex_init(&w->lock, NULL);
    if (e)
        return -e;
    if ((e = pthread_cond_init(&w->wake, NULL)))
        goto out_lock;
    if ((e = pthread_cond_init(&w->done, NULL)))
        goto out_wake;
    w->head = w->tail = NULL;
    w->def_head = w->def_tail = NULL;
    w->def_bytes = 0;
    w->stop = 0;
    w->async_next = w->async_done = w->async_bytes = 0;
    w->pipe = NULL;
    w->sync_fd = -1;
    w->sync_done = w->sync_stop = 0;
    if ((e = pthread_cond_init(&w->sync_cv, NULL)))
        goto out_done;
    if ((e = pthread_create(&w->syncer, NULL, syncer_main, fs)))
        goto out_sync_cv;
    w->syncer_running = 1;
    if ((e = pthread_create(&w->thread, NULL, writer_main, fs)))
        goto out_syncer;
    w->running = 1;
    return 0;
out_syncer:
    stop_syncer(w);
out_sync_cv:
    pthread_cond_destroy(&w->sync_cv);
out_done:
    pthread_cond_destroy(&w->done);
out_wake:
    pthread_cond_destroy(&w->wake);
out_lock:
    pthread_mutex_destroy(&w->lock);
    return -e;
}

void fs_writer_stop(struct fs_ctx *fs)
{
    struct fs_writer *w = &fs->w;
    if (!w->running)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    w->running = 0;
    stop_syncer(w);               /* idle: the writer finished every batch */
    pthread_cond_destroy(&w->sync_cv);
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    fs_log(fs, LOG_DEBUG, "writer: %llu jobs in %llu batches (%llu pipelined), "
           "%llu durable commits",
           (unsigned long long)w->n_jobs, (unsigned long long)w->n_batches,
           (unsigned long long)w->n_piped, (unsigned long long)w->n_durable);
}

uint64_t fs_writer_submit_async(struct fs_ctx *fs, struct fs_job *j)
{
    struct fs_writer *w = &fs->w;
    j->next = NULL;
    j->done = 0;
    j->result = 0;
    j->async = 1;
    if (!w->running) {
        j->seq = 0;
        j->result = -EIO;
        j->finish(fs, j);
        return 0;
    }
    pthread_mutex_lock(&w->lock);
    /* Bounded memory: wait for the writer to catch up (it never needs
     * anything this thread holds, fs.h). */
    while (w->async_bytes && w->async_bytes + j->bytes > FS_ASYNC_MAX)
        pthread_cond_wait(&w->done, &w->lock);
    uint64_t seq = j->seq = ++w->async_next;
    w->async_bytes += j->bytes;
    if (j->publish)
        j->publish(fs, j);
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return seq;            /* j may be gone already */
}

int fs_writer_async_done(struct fs_ctx *fs, uint64_t seq)
{
    if (!seq)
        return 1;
    pthread_mutex_lock(&fs->w.lock);
    int done = fs->w.async_done >= seq;
    pthread_mutex_unlock(&fs->w.lock);
    return done;
}

static int noop_run(struct fs_ctx *fs, struct fs_job *j)
{
    (void)fs;
    (void)j;
    return 0;
}

void fs_writer_async_wait(struct fs_ctx *fs, uint64_t seq)
{
    if (fs_writer_async_done(fs, seq))
        return;
    /* A job that may not overtake the deferred ones runs them now. */
    struct fs_job j = { .run = noop_run };
    fs_writer_submit(fs, &j);
}

int fs_writer_submit(struct fs_ctx *fs, struct fs_job *j)
{
    struct fs_writer *w = &fs->w;
    if (!w->running)
        return -EIO;
    j->next = NULL;
    j->done = 0;
    j->result = 0;
    j->async = 0;
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->wake);
    while (!j->done)
        pthread_cond_wait(&w->done, &w->lock);
    pthread_mutex_unlock(&w->lock);
    return j->result;
}

static int barrier_run(struct fs_ctx *fs, struct fs_job *j)
{
    (void)fs;
    (void)j;
    return 0;
}

int fs_writer_barrier(struct fs_ctx *fs)
{
    struct fs_job j = { .run = barrier_run, .durable = 1 };
    return fs_writer_submit(fs, &j);
}
