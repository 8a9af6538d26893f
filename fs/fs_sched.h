/* fs_sched.h — background compression: the scheduler that takes cold
 * blocks from the store's persistent queue, the pool of coder threads that
 * code them, and the writer jobs that swap the result in (fs/ only).
 *
 * Flow (docs/ARCHITECTURE.md, "Background compression"):
 *   queue (idx_r_queue_peek_before, oldest first, cold for cold_ns)
 *     -> a coder thread claims the block (in-flight set, so no block is
 *        coded twice at once), reads its payload through a reader, decodes
 *        it to raw bytes, and decides: all zeros -> hole; the probe says
 *        incompressible, or the coded block does not save min_saving ->
 *        kept raw; else the FADE block
 *     -> one async writer job per result (fs_writer_submit_async): a
 *        compare-and-swap on the row's generation (idx_w_block_swap, _keep,
 *        _drop), so a block rewritten, truncated or deleted meanwhile is
 *        never overwritten: the job counts it "raced" and the newer
 *        version, which its own write queued, is coded later.
 * The jobs are deferred like data commits, in one FIFO with them (they
 * share their payload sync and transaction; the CAS would make any order
 * correct), so compression never stalls a write stream.
 *
 * Threads: coders run at SCHED_IDLE (nice 19 where that is refused), so
 * FUSE threads always win the CPU; a foreground read decodes on its own
 * thread and never waits for a coder.  The codec is called through
 * fade_block_encode_many, which takes several blocks at once: a GPU
 * backend plugs in there without a change here.
 *
 * Lock: fs_sched.lock guards every field marked "lock" below.  It is a leaf
 * (nothing else is taken while holding it); coders release it before any
 * store read, codec call or job submission.
 */
#ifndef FADEFS_FS_SCHED_H
#define FADEFS_FS_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct fs_ctx;

struct fs_sched_opts {
    int      off;              /* -o compress=off: no coder threads */
    const char *preset;        /* NULL = the codec's default */
    uint32_t n_streams;        /* sub-streams per block; 0 = preset's choice */
    uint32_t n_coders;         /* coder threads; 0 = one per online CPU */
    uint32_t batch;            /* blocks handed to the codec at once; 0 = 1 */
    int64_t  cold_ns;          /* a block is coded once queued this long */
    uint32_t min_saving_pm;    /* keep raw unless coding saves this (per mille) */
};
#define FS_SCHED_COLD_NS      (5ll * 1000000000ll)
/* The codec's default: a read of a block nobody has cached waits for its
 * decode, and the mix preset decodes a 256 KiB block in a fraction of a
 * second where the network alone (tiny-match) took 1.3 s and primed-match
 * 11-14 s (docs/BENCHMARKS.md, "Block latency"). */
#define FS_SCHED_PRESET       "mix"
#define FS_SCHED_MIN_SAVING   125u          /* 12.5 %, as ZFS */
/* Order-0 entropy (bits per byte, times 1000) at or above which a block
 * is not worth the model: JPEG and random bytes measure 7.97-8.0, while
 * every other file of the corpus is below 7.85 (docs/BENCHMARKS.md). */
#define FS_SCHED_PROBE_MBITS  7900u

enum fs_sched_state { FS_SCHED_OFF, FS_SCHED_IDLE, FS_SCHED_WAITING,
                      FS_SCHED_WORKING, FS_SCHED_PAUSED };

/* Counters since mount, and the pool's recent throughput. */
struct fs_sched_counts {
    uint64_t seen;             /* blocks claimed from the queue */
    uint64_t done;             /* swapped in as FADE blocks */
    uint64_t kept;             /* kept raw (probe or too little saving) */
    uint64_t zero;             /* all zeros: became holes */
    uint64_t raced;            /* rewritten while coded: left to the newer version */
    uint64_t failed;           /* unreadable or uncodable: left as they were */
    uint64_t raw_in;           /* raw bytes of the blocks swapped in */
    uint64_t coded_out;        /* their coded bytes */
    uint64_t in_flight;        /* blocks being coded or waiting for their job */
    uint64_t rate_bps;         /* raw bytes per second over the last ~30 s */
    uint64_t n_coders;
    enum fs_sched_state state;
};

#define FS_SCHED_RATE_N 32
struct fs_sched {
    pthread_mutex_t lock;
    pthread_cond_t  wake;        /* stop, resume, a finished job; lock */
    struct fs_sched_opts o;      /* fixed after start */
    uint64_t model;              /* model id of o.preset; fixed */
    const char *preset;          /* its name; fixed */
    int stop, paused;            /* lock */
    atomic_int cancel;           /* set with stop: coders abandon their block */
    _Atomic int64_t fg_ns;       /* CLOCK_MONOTONIC ns of the last file read or write */
    struct fs_sched_key { uint64_t ino, blkno; } *fly;  /* in flight; lock */
    uint32_t n_fly, cap_fly;     /* lock */
    struct fs_sched_counts c;    /* lock (state and rate computed on read) */
    /* The last completions: when, and how many raw bytes; lock. */
    struct { int64_t t; uint64_t bytes; } rate[FS_SCHED_RATE_N];
    uint32_t rate_i;             /* lock */
    int64_t t_work0;             /* CLOCK_MONOTONIC ns of the first claim; lock */
    int64_t hold_until;          /* no claims before this (after a failure); lock */
    int64_t last_log;            /* CLOCK_MONOTONIC ns of the last progress line; lock */
    uint64_t last_seq;           /* highest async seq of a job submitted; lock */
    int waiting;                 /* a coder found nothing cold; lock */
    pthread_t *threads;
    uint32_t n_threads;          /* started */
    /* Told of every inode whose payload was swapped (st_blocks changed);
     * set before start, cleared by fs_sched_stop.  lock. */
    void (*notify)(void *arg, uint64_t ino);
    void *notify_arg;
};

/* Initialises s from o (checks the preset) and, unless o->off, re-queues
 * blocks kept raw by another model.  0 or -errno, with a reason in msg. */
int  fs_sched_init(struct fs_ctx *fs, const struct fs_sched_opts *o, char *msg,
                   size_t msg_cap);
/* Starts the coder threads (none when off). */
int  fs_sched_start(struct fs_ctx *fs);
/* Stops the coders, waits for their jobs to land, clears notify.  Safe to
 * call twice and without start. */
void fs_sched_stop(struct fs_ctx *fs);
void fs_sched_fini(struct fs_ctx *fs);
/* Called by every FUSE read and write: coders step aside while file I/O
 * goes on (fs_sched.c, coder_progress).  Any thread, no lock. */
void fs_sched_foreground(struct fs_ctx *fs);
/* Runtime switch: pause (1) or resume (0).  -EPERM when compression is off. */
int  fs_sched_pause(struct fs_ctx *fs, int pause);
void fs_sched_counts(struct fs_ctx *fs, struct fs_sched_counts *out);
const char *fs_sched_state_name(enum fs_sched_state s);

#endif /* FADEFS_FS_SCHED_H */
