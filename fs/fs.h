/* fs.h — private state shared by the parts of the fadefs daemon (fs/ only).
 *
 * Rooms (one job per file):
 *   fs_ctx.c     open/close of the whole daemon state, reader pool, logging
 *   fs_inode.c   in-memory inode table: lookup/open counts, reaping orphans
 *   fs_cache.c   LRU cache of decoded blocks with a byte limit
 *   fs_writer.c  the single writer thread: job queue, group commit, and
 *                the syncer thread that syncs one batch while the writer
 *                appends the next
 *   fs_pend.c    blocks whose commit is deferred, readable until it lands
 *   fs_file.c    data path: dirty block buffers, read, write, truncate
 *   fs_seek.c    SEEK_DATA / SEEK_HOLE
 *   fs_meta.c    namespace and attribute changes run as writer jobs
 *   fs_ops.c     the fuse_lowlevel_ops table; the only place that replies
 *   fadefs_main.c  command line, mount, daemonising
 * docs/ARCHITECTURE.md tells the whole story.
 *
 * LOCK ORDER (a thread holding one of these takes only those below it;
 * docs/ARCHITECTURE.md "Locks" says the same):
 *   1. fs_inode.rw        one inode at a time; held across writer waits and
 *                         fs_cache_claim waits
 *   2. fs_itab.lock       short; fs_writer_async_done may be called under it
 *   3. fs_writer.lock     released while waiting on its conds; an async
 *                         job's publish() runs under it and takes 4
 *   4. fs_pend.lock       leaf
 *   leaves, under which no other lock is ever taken:
 *      fs_cache.lock, fs_ctx.rd_lock, fs_sched.lock
 * The writer thread never takes an inode's rw lock (jobs may take 2, and
 * finish() runs with no lock held and takes 4 and the leaves), so a FUSE
 * thread may hold an inode's rw lock while it waits for a job.  The syncer
 * thread takes only 3.  Coder threads (fs_sched.c) hold no inode lock.
 * No lock is ever held while a FUSE reply or notification is sent.
 */
#ifndef FADEFS_FS_H
#define FADEFS_FS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "index/idx.h"
#include "codec/fade.h"
#include "fs/fs_sched.h"

#define FS_NAME_MAX 255u

struct fs_ctx;

/* ---------------- options (fadefs_main.c fills them) ---------------- */
struct fs_opts {
    const char *store;        /* absolute path of the backing directory */
    uint32_t block_size;      /* bytes; 0 = default; only used at creation */
    uint64_t cache_bytes;     /* decoded-block cache limit; 0 = default */
    uint64_t dirty_bytes;     /* dirty data per open file before commit; 0 = default */
    int foreground;           /* log to stderr instead of syslog */
    int debug;                /* log debug lines */
    struct fs_sched_opts sched;  /* background compression (fs_sched.h) */
};

#define FS_DEFAULT_BLOCK_SIZE  (256u << 10)
#define FS_DEFAULT_CACHE_BYTES (64ull << 20)
#define FS_DEFAULT_DIRTY_BYTES (4ull << 20)

/* ---------------- logging (fs_ctx.c) ---------------- */
void fs_log(struct fs_ctx *fs, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------- block cache (fs_cache.c) ----------------
 * Decoded blocks keyed by (ino, blkno).  An entry holds `len` bytes, the
 * block's raw length; bytes past len read as zeros.  The cache copies in
 * and out under its own lock, so no caller ever holds a pointer into it.
 * Coherence: whoever changes a block's content (commit, truncate, delete)
 * drops or replaces the entry while holding that inode's rw lock for
 * writing; readers insert only while holding it for reading. */
struct fs_centry;
struct fs_cache {
    pthread_mutex_t lock;
    struct fs_centry **buckets;   /* protected by lock */
    size_t n_buckets;             /* power of two; protected by lock */
    size_t n_entries;             /* protected by lock */
    struct fs_centry *lru_head;   /* most recently used; protected by lock */
    struct fs_centry *lru_tail;   /* least recently used; protected by lock */
    uint64_t bytes;               /* charged bytes; protected by lock */
    uint64_t limit;               /* charged-byte limit; fixed */
    uint64_t hits, misses;        /* statistics; protected by lock */
    /* Spare block buffers (fs_cache_buf_get/put), linked through their
     * first bytes: reusing them spares malloc, zeroing and page faults. */
    void *pool;                   /* protected by lock */
    uint32_t n_pool;              /* protected by lock */
    uint32_t buf_size;            /* size of pooled buffers; set by the first get */
    /* Blocks being loaded from the store (fs_cache_claim): lock. */
#define FS_CACHE_CLAIMS 64
    struct { uint64_t ino, blkno; } claims[FS_CACHE_CLAIMS];
    uint32_t n_claims;            /* protected by lock */
    pthread_cond_t claim_cv;      /* a claim was released; with lock */
};
int  fs_cache_init(struct fs_cache *c, uint64_t limit);
void fs_cache_fini(struct fs_cache *c);
/* Copies bytes [off, off+n) of the block into dst (zeros past its length);
 * returns 1 on a hit, 0 on a miss. */
int  fs_cache_read(struct fs_cache *c, uint64_t ino, uint64_t blkno,
                   uint32_t off, void *dst, uint32_t n);
/* Inserts or replaces; copies data.  Failure to allocate only means the
 * block is not cached, so this cannot fail.  coded: the bytes were decoded
 * from a coded payload (dear to load again: a write stream's buffer
 * recycling passes such entries over, fs_cache_buf_get). */
void fs_cache_put(struct fs_cache *c, uint64_t ino, uint64_t blkno,
                  const void *data, uint32_t len, int coded);
/* The store's copy of the block is now coded (the compressor swapped it
 * in): a cached entry becomes dear to load again, like a decoded one. */
void fs_cache_mark_coded(struct fs_cache *c, uint64_t ino, uint64_t blkno);
/* Like fs_cache_put but takes ownership of data (a malloc'd buffer of cap
 * bytes, len of them valid): no copy.  data is freed if not kept. */
void fs_cache_adopt(struct fs_cache *c, uint64_t ino, uint64_t blkno,
                    uint8_t *data, uint32_t len, uint32_t cap);
void fs_cache_drop(struct fs_cache *c, uint64_t ino, uint64_t blkno);
/* A block buffer of size bytes (contents undefined; a malloc'd pointer, so
 * free() is a correct, if wasteful, way to drop it), or NULL.  Buffers
 * given back with fs_cache_buf_put (and cache entries of that size when
 * evicted) are reused.  Any thread. */
uint8_t *fs_cache_buf_get(struct fs_cache *c, uint32_t size);
/* Gives back a buffer of cap bytes (NULL is fine). */
void fs_cache_buf_put(struct fs_cache *c, uint8_t *p, uint32_t cap);
/* Single flight for loads from the store: returns 1 if the caller now
 * owns the load of (ino, blkno) and must call fs_cache_unclaim after
 * putting the result; 0 after waiting for another thread's load (look in
 * the cache again; on a miss, claim again).  Waits with no lock held but
 * the caller's inode lock (shared), which the owner holds too. */
int  fs_cache_claim(struct fs_cache *c, uint64_t ino, uint64_t blkno);
/* The same; with nowait, returns -1 at once instead of waiting when
 * another thread is loading the block (decode-ahead skips it). */
int  fs_cache_claim_try(struct fs_cache *c, uint64_t ino, uint64_t blkno, int nowait);
void fs_cache_unclaim(struct fs_cache *c, uint64_t ino, uint64_t blkno);
/* Drops every block of ino with blkno >= first. */
void fs_cache_drop_from(struct fs_cache *c, uint64_t ino, uint64_t first);

/* ---------------- writer (fs_writer.c) ----------------
 * A job is a function run on the writer thread against the writer
 * connection, inside the batch's transaction.  Rules for run():
 *   - touch only the store (idx_w_*) and what the job struct owns; in-memory
 *     effects belong to the submitter after fs_writer_submit() returns;
 *   - validate before the first change: an error that is not a store error
 *     (see fs_writer.c: fs_err_is_hard) must leave the store untouched;
 *   - it may be run a second time (alone) if the batch fails, so it must
 *     not consume its inputs.
 * The job lives in the submitter's memory (usually its stack) and the
 * submitter waits, so nothing has to be copied at the hand-off; everything
 * the job points at must stay valid until fs_writer_submit() returns. */
struct fs_job {
    struct fs_job *next;                              /* queue link; writer lock */
    int (*run)(struct fs_ctx *fs, struct fs_job *j);  /* on the writer thread */
    int durable;              /* commit durably before reporting success */
    int result;               /* 0 or -errno; valid once done */
    int done;                 /* protected by fs_writer.lock */
    /* A job that may commit before earlier deferred (async) jobs: it must
     * not touch any inode that such a job may change (creating a new inode
     * in a directory qualifies: deferred jobs only change regular files). */
    int reorder_ok;
    /* Asynchronous jobs (fs_writer_submit_async): heap-allocated, nobody
     * waits; the writer defers them to share one payload sync and one
     * commit, then calls finish() (with result set) which frees the job. */
    int async;
    uint64_t seq;             /* async jobs: their order number */
    uint64_t bytes;           /* async jobs: memory they hold, for the bounds */
    /* Async jobs: called once seq is known, before the job is queued, under
     * the writer lock (so it may take only fs_pend.lock). */
    void (*publish)(struct fs_ctx *fs, struct fs_job *j);
    void (*finish)(struct fs_ctx *fs, struct fs_job *j);
    /* Async jobs, optional: append the job's payloads ahead of run and
     * keep their locations (the writer's pipeline, fs_writer.c), so that
     * run only puts rows.  A prepare that fails leaves nothing prepared.
     * unprepare forgets the locations (run appends again); the payloads
     * become garbage.  Both on the writer thread. */
    int  (*prepare)(struct fs_ctx *fs, struct fs_job *j);
    void (*unprepare)(struct fs_ctx *fs, struct fs_job *j);
};
struct fs_writer {
    pthread_mutex_t lock;
    pthread_cond_t  wake;         /* new job or stop; protected by lock */
    pthread_cond_t  done;         /* some job finished; protected by lock */
    struct fs_job  *head, *tail;  /* FIFO; protected by lock */
    int             stop;         /* protected by lock */
    uint64_t        async_next;   /* last async seq handed out; lock */
    uint64_t        async_done;   /* every async job <= this has finished; lock */
    uint64_t        async_bytes;  /* held by unfinished async jobs; lock */
    int             running;      /* thread started */
    pthread_t       thread;
    /* The syncer thread: fdatasyncs the payloads of the pipelined batch
     * while the writer appends the next one (fs_writer.c). */
    pthread_cond_t  sync_cv;      /* a sync to do, or stop; lock */
    int             sync_fd;      /* descriptor to sync, -1 = none; lock */
    int             sync_done;    /* the pipelined batch's sync ended; lock */
    int             sync_result;  /* its result; lock */
    int             sync_stop;    /* lock */
    int             syncer_running;
    pthread_t       syncer;
    /* Writer-thread-only state (no lock: one thread): */
    int             need_sync;    /* a payload was appended in this txn */
    struct fs_job  *def_head, *def_tail;  /* deferred async jobs, in order */
    uint64_t        def_bytes;    /* their bytes */
    struct timespec def_t0;       /* CLOCK_MONOTONIC of the oldest */
    int64_t         last_compact; /* CLOCK_MONOTONIC s of the last try; 0 = never */
    uint64_t        appended;     /* payload bytes since the last upkeep check */
    struct fs_job  *pipe;         /* async batch prepared, being synced */
    int             preparing;    /* a batch is prepared while the last one commits */
    uint64_t        pipe_gen;     /* its idx_w_payload_mark token */
    uint64_t        pipe_fail0;   /* idx_w_payload_failures before its prepare */
    uint64_t        n_batches, n_jobs, n_durable, n_piped;
};
int  fs_writer_start(struct fs_ctx *fs);
/* Runs every queued job, then stops the thread. */
void fs_writer_stop(struct fs_ctx *fs);
/* Queues j, waits for it, returns j->result. */
int  fs_writer_submit(struct fs_ctx *fs, struct fs_job *j);
/* Queues a heap-allocated job j (async = 1, finish set) without waiting
 * for it, except while too much async memory is outstanding.  Sets and
 * returns j->seq.  Never fails: without a writer, j finishes at once with
 * -EIO. */
uint64_t fs_writer_submit_async(struct fs_ctx *fs, struct fs_job *j);
/* 1 once the async job seq (and every earlier one) has finished. */
int  fs_writer_async_done(struct fs_ctx *fs, uint64_t seq);
/* Makes sure async job seq has finished (committing deferred jobs now). */
void fs_writer_async_wait(struct fs_ctx *fs, uint64_t seq);
/* For run(): appends a payload and remembers that the batch must sync the
 * segment before it commits (durability order, DESIGN.md). */
int  fs_w_payload_append(struct fs_ctx *fs, uint64_t ino, uint64_t blkno,
                         uint32_t codec, uint32_t raw_len, const void *payload,
                         size_t len, struct idx_bloc *loc);
/* The same for a payload in pieces (idx_w_payload_appendv). */
int  fs_w_payload_appendv(struct fs_ctx *fs, uint64_t ino, uint64_t blkno,
                          uint32_t codec, uint32_t raw_len,
                          const struct iovec *iov, int n_iov,
                          const uint32_t *piece_crc, struct idx_bloc *loc);
/* A job that only makes everything committed so far durable. */
int  fs_writer_barrier(struct fs_ctx *fs);

/* ---------------- inode table (fs_inode.c) ---------------- */
struct fs_dbuf {                  /* one dirty block of file data */
    struct fs_dbuf *next;
    uint64_t blkno;
    uint8_t *data;                /* block_size bytes, zero beyond what was written */
    /* CRC32C of data[0..crc_len), kept up as sequential writes arrive (the
     * data is hot then) so that the writer need not read it again;
     * crc_len = UINT32_MAX: unknown (a write went back before crc_len). */
    uint32_t crc, crc_len;
    /* Once handed to the writer (fs_pend.c), under fs_pend.lock: */
    struct fs_dbuf *hnext;
    uint64_t ino, seq;
    uint32_t len, cap;            /* valid bytes of data (rest zeros); its size */
};
struct fs_inode {
    /* Protected by fs_itab.lock: */
    struct fs_inode *hnext;
    uint64_t ino;                 /* fixed */
    uint64_t nlookup;             /* kernel lookup count */
    uint32_t nopen;               /* open file handles */
    uint32_t refs;                /* ops currently using this struct */
    int      cache_ok;            /* kernel pages from the last open are valid */
    uint64_t cache_gen;           /* data_gen at the last open */
    uint64_t async_seq;           /* last async commit of this inode; 0 = none */
    uint64_t pend_bytes;          /* raw bytes in its unfinished async commits */
    int      pend_kill;           /* an unfinished async commit clears set-id bits */
    /* Protected by rw (read for readers, write for changers): */
    pthread_rwlock_t rw;
    int      is_reg;              /* fixed: regular file */
    uint64_t size;                /* current size incl. dirty data (regular files) */
    int      attr_dirty;          /* size/mtime/ctime not yet in the store */
    struct timespec mtime, ctime; /* valid when attr_dirty */
    int      kill_priv;           /* clear S_ISUID/S_ISGID at next commit */
    uint64_t data_gen;            /* bumped by every write and truncate */
    /* Decode-ahead (fs_ra.c), read and written with relaxed atomics since
     * readers share rw: the block after the last read, and whether a read
     * of this file has met a coded block. */
    uint64_t ra_next;
    int      ra_coded;
    struct fs_dbuf *dirty;        /* unsorted list */
    uint32_t n_dirty;
};
struct fs_itab {
    pthread_mutex_t lock;
    struct fs_inode **buckets;    /* protected by lock */
    size_t n_buckets;             /* power of two; protected by lock */
    size_t n;                     /* protected by lock */
};
int  fs_itab_init(struct fs_itab *t);
void fs_itab_fini(struct fs_itab *t);   /* frees whatever is left */
/* Finds or creates the in-memory inode, adds one ref (and `lookups` to its
 * lookup count, `opens` to its open count).  `a` is the inode's stored
 * attributes, used to initialise a new entry.  NULL on ENOMEM. */
struct fs_inode *fs_inode_ref(struct fs_ctx *fs, const struct idx_attr *a,
                              uint64_t lookups, uint32_t opens);
/* Takes one ref if the inode is in memory; NULL if it is not. */
struct fs_inode *fs_inode_find(struct fs_ctx *fs, uint64_t ino);
/* Takes one ref on an inode the kernel already knows; loads it from the
 * store if needed.  Returns 0 or -errno. */
int  fs_inode_get(struct fs_ctx *fs, uint64_t ino, struct fs_inode **out);
/* Drops a ref and subtracts lookups/opens; frees the entry when all are
 * zero and reaps the inode from the store if its link count is zero.
 * Must be called with no lock held (it may submit a job). */
void fs_inode_put(struct fs_ctx *fs, struct fs_inode *in, uint64_t lookups,
                  uint32_t opens);
/* Counts one more open handle on in (the caller holds a ref). */
void fs_inode_open(struct fs_ctx *fs, struct fs_inode *in);
/* For writer jobs: 1 if the kernel or an open handle still uses ino. */
int  fs_inode_in_use(struct fs_ctx *fs, uint64_t ino);
/* For writer jobs whose change dropped ino's link count to 0: if ino is in
 * use, flags it so that its last put reaps it and returns 1; returns 0 if
 * nobody uses it (the job deletes it at once). */
int  fs_inode_mark_orphan(struct fs_ctx *fs, uint64_t ino);
/* Reap: delete ino from the store if nlink == 0 and nobody uses it. */
int  fs_inode_reap(struct fs_ctx *fs, uint64_t ino);
/* Drops the cached blocks of an inode deleted from the store while it was
 * `size` bytes long (by key when that is a few blocks, not by a walk of
 * the whole cache). */
void fs_inode_uncache(struct fs_ctx *fs, uint64_t ino, uint64_t size);
/* Commits the dirty data of every in-memory inode (unmount). */
void fs_inode_flush_all(struct fs_ctx *fs);

/* ---------------- reader pool (fs_ctx.c) ----------------
 * A read connection plus scratch space, used by one thread at a time. */
struct fs_rd {
    struct fs_rd *next_free;      /* protected by fs_ctx.rd_lock */
    struct fs_rd *next_all;       /* protected by fs_ctx.rd_lock */
    struct idx_rd *rd;
    fade_ctx *fctx;               /* created on the first FADE block */
    uint8_t *pay;                 /* payload scratch */
    size_t pay_cap;
};
int  fs_rd_take(struct fs_ctx *fs, struct fs_rd **out);
void fs_rd_give(struct fs_ctx *fs, struct fs_rd *r);

/* ---------------- deferred blocks (fs_pend.c) ---------------- */
#define FS_PEND_ERRS 64
struct fs_pend {
    pthread_mutex_t lock;
    struct fs_dbuf **buckets;     /* protected by lock */
    size_t n;                     /* entries; protected by lock */
    struct { uint64_t ino; int err; } errs[FS_PEND_ERRS];  /* lock */
    int n_errs;                   /* protected by lock */
};
int  fs_pend_init(struct fs_pend *p);
void fs_pend_fini(struct fs_pend *p);     /* frees what is left */
/* Makes d (d->blkno, d->data of d->len bytes) the uncommitted content of
 * its block; unlinks an older one.  The entry stays owned by its job. */
void fs_pend_put(struct fs_pend *p, uint64_t ino, struct fs_dbuf *d,
                 uint64_t seq);
/* Copies bytes [off, off+n) of an uncommitted block (zeros past its length);
 * 1 on a hit, 0 if the block has no uncommitted version. */
int  fs_pend_read(struct fs_pend *p, uint64_t ino, uint64_t blkno,
                  uint32_t off, void *dst, uint32_t n);
/* Unlinks d if it is still in the table (no newer version replaced it):
 * returns 1 then, else 0. */
int  fs_pend_remove(struct fs_pend *p, struct fs_dbuf *d);
/* Remembers that an async commit of ino failed; the next flush or fsync of
 * ino takes the error (0 if none). */
void fs_pend_error(struct fs_pend *p, uint64_t ino, int err);
int  fs_pend_error_take(struct fs_pend *p, uint64_t ino);

/* ---------------- decode-ahead (fs_ra.c) ----------------
 * Threads at normal priority that load the next blocks of a file read in
 * order into the cache.  fs_ra.lock is a leaf; it guards q, head, n, stop. */
#define FS_RA_QUEUE   64
#define FS_RA_THREADS 8
#define FS_RA_DEPTH   2           /* blocks asked for ahead of a reader */
struct fs_ra_req { uint64_t ino, blkno; };
struct fs_ra {
    pthread_mutex_t lock;
    pthread_cond_t wake;          /* a request or stop; with lock */
    struct fs_ra_req q[FS_RA_QUEUE];   /* ring; lock */
    uint32_t head, n;             /* lock */
    int stop;                     /* lock */
    int inited;
    pthread_t threads[FS_RA_THREADS];
    uint32_t n_threads;           /* fixed after start */
};
/* Starts n threads (at most FS_RA_THREADS; 0 = none). */
int  fs_ra_start(struct fs_ctx *fs, uint32_t n);
void fs_ra_stop(struct fs_ctx *fs);     /* safe without start */
/* Asks for block blkno of ino to be loaded into the cache; never waits. */
void fs_ra_ask(struct fs_ctx *fs, uint64_t ino, uint64_t blkno);

/* ---------------- the whole daemon ---------------- */
struct fs_ctx {
    struct idx *idx;              /* writer connection: writer thread only */
    char *store;                  /* absolute path of the backing dir */
    uint32_t bs;                  /* block size of the store; fixed */
    uint32_t dirty_max;           /* dirty blocks per inode before commit; fixed */
    int foreground, debug;        /* fixed */
    pthread_mutex_t rd_lock;
    struct fs_rd *rd_free;        /* protected by rd_lock */
    struct fs_rd *rd_all;         /* protected by rd_lock */
    struct fs_itab itab;
    struct fs_cache cache;
    struct fs_pend pend;
    struct fs_writer w;
    struct fs_sched sched;
    struct fs_ra ra;
};
/* Opens the store (creating it when empty), deletes crash orphans and
 * starts the writer.  On failure writes a one-line reason into msg. */
int  fs_ctx_open(struct fs_ctx **out, const struct fs_opts *o, char *msg,
                 size_t msg_cap);
/* Flushes dirty data, stops the writer, closes everything.  Accepts NULL. */
void fs_ctx_close(struct fs_ctx *fs);

/* ---------------- data path (fs_file.c); caller holds in->rw ---------------- */
/* in->rw held for reading.  Fills buf with up to n bytes at off; returns
 * bytes read (short at EOF or before a damaged block) or -errno. */
ssize_t fs_file_read(struct fs_ctx *fs, struct fs_inode *in, char *buf,
                     size_t n, uint64_t off);
/* in->rw held for writing.  Returns bytes written or -errno. */
ssize_t fs_file_write(struct fs_ctx *fs, struct fs_inode *in, const char *buf,
                      size_t n, uint64_t off, int kill_priv);
/* in->rw held for writing.  Commits dirty blocks and attributes:
 * FS_COMMIT_ASYNC hands them to the writer without waiting (the blocks stay
 * readable from fs_pend until their rows commit; a failure is reported by
 * the next flush/fsync); FS_COMMIT_WAIT waits for the commit;
 * FS_COMMIT_DURABLE also makes it (and every earlier commit) durable.
 * WAIT and DURABLE also return the error of an earlier async commit. */
enum { FS_COMMIT_ASYNC = 0, FS_COMMIT_DURABLE = 1, FS_COMMIT_WAIT = 2 };
int fs_file_commit(struct fs_ctx *fs, struct fs_inode *in, int how);
/* in->rw held either way.  1 if in has nothing to commit (no dirty block,
 * size, times or set-id change): fs_file_commit then hands nothing over
 * and may run with in->rw held for reading. */
int fs_file_clean(const struct fs_inode *in);
/* in->rw held for writing.  Commits dirty data, then sets the size (both
 * directions) with mtime/ctime = now; fills *out (may be NULL). */
int fs_file_truncate(struct fs_ctx *fs, struct fs_inode *in, uint64_t size,
                     struct idx_attr *out);
/* Bytes a regular file of `size` occupies: stored payloads plus dirty
 * buffers.  Takes in->rw itself: call with no inode lock held. */
uint64_t fs_file_alloc(struct fs_ctx *fs, uint64_t ino, uint64_t size);
/* Reads and decodes the stored block blkno (any codec) through r into dst
 * (bs bytes, zeros past the block), sets *len to its raw length and *loc
 * to the row the bytes came from.  -ENOENT for a hole, -EIO (logged, with
 * inode and block) for a payload that fails its checks or its decode. */
int fs_file_load_stored(struct fs_ctx *fs, struct fs_rd *r, uint64_t ino,
                        uint64_t blkno, uint8_t *dst, uint32_t *len,
                        struct idx_bloc *loc);
/* 1 if p[0..n) is all zeros (such a block is stored as a hole). */
int fs_is_zero(const uint8_t *p, size_t n);
/* For decode-ahead: loads block blkno of ino into the cache unless it is
 * dirty, past EOF, or there already; takes in->rw itself (no lock held). */
void fs_file_prefetch(struct fs_ctx *fs, uint64_t ino, uint64_t blkno);
/* Loads block blkno (committed content) into dst (bs bytes, zero-filled);
 * with in->rw held either way. */
int fs_file_load_block(struct fs_ctx *fs, uint64_t ino, uint64_t blkno,
                       uint8_t *dst);

/* ---------------- holes (fs_seek.c) ---------------- */
/* lseek's SEEK_DATA / SEEK_HOLE (whence) from off: the offset found, or
 * -ENXIO at or past EOF (and for SEEK_DATA when only a hole follows).
 * Takes in->rw itself: call with no inode lock held. */
int64_t fs_seek_data(struct fs_ctx *fs, struct fs_inode *in, uint64_t off,
                     int whence);

/* ---------------- FUSE entry points (fs_ops.c) ---------------- */
struct fuse_lowlevel_ops;
/* The op table; the session's userdata must point to a struct fs_ctx *
 * that is set before the mount. */
const struct fuse_lowlevel_ops *fs_ops_table(void);

/* ---------------- metadata jobs (fs_meta.c) ---------------- */
struct fs_caller { uint32_t uid, gid; };
void fs_now(struct timespec *ts);
/* Fills st; st_blocks counts the payload bytes the file really has in the
 * store plus its dirty buffers (fs_file_alloc). */
void fs_attr_to_stat(struct fs_ctx *fs, const struct idx_attr *a,
                     struct stat *st);
/* Stored attributes, with the in-memory size/times of a dirty open file. */
int  fs_getattr(struct fs_ctx *fs, uint64_t ino, struct idx_attr *out);
int  fs_lookup(struct fs_ctx *fs, uint64_t dir, const char *name,
               struct idx_attr *out);
/* mknod/mkdir/symlink/create: new inode `mode` named name in dir. */
int  fs_make(struct fs_ctx *fs, const struct fs_caller *who, uint64_t dir,
             const char *name, uint32_t mode, uint64_t rdev,
             const char *target, struct idx_attr *out);
int  fs_remove(struct fs_ctx *fs, uint64_t dir, const char *name, int is_dir);
/* flags: RENAME_NOREPLACE or RENAME_EXCHANGE (linux/fs.h values). */
int  fs_rename(struct fs_ctx *fs, uint64_t dir, const char *name,
               uint64_t ndir, const char *nname, unsigned flags);
int  fs_link(struct fs_ctx *fs, uint64_t ino, uint64_t ndir, const char *nname,
             struct idx_attr *out);
/* Attribute changes other than size (which is fs_file_truncate's). */
enum {
    FS_SET_MODE = 1, FS_SET_UID = 2, FS_SET_GID = 4,
    FS_SET_ATIME = 8, FS_SET_MTIME = 16,        /* to the given time */
    FS_SET_ATIME_NOW = 32, FS_SET_MTIME_NOW = 64,
};
struct fs_setattr {
    int valid;                    /* FS_SET_* bits */
    uint32_t mode, uid, gid;
    struct timespec atime, mtime;
    uint32_t caller_uid;          /* a non-root chown clears set-id bits */
};
int  fs_setattr(struct fs_ctx *fs, uint64_t ino, const struct fs_setattr *s,
                struct idx_attr *out);
int  fs_xattr_set(struct fs_ctx *fs, uint64_t ino, const char *name,
                  const void *val, size_t len, int flags);
int  fs_xattr_remove(struct fs_ctx *fs, uint64_t ino, const char *name);

#endif /* FADEFS_FS_H */
