/* fs_sched.c — background compression: scheduler, coder pool, swap-in jobs.
 * The contract and the flow are in fs_sched.h; the story in
 * docs/ARCHITECTURE.md ("Background compression").
 *
 * A coder claims blocks under fs_sched.lock, then works without any lock:
 * it reads and decodes the stored payload (whatever its codec), decides,
 * codes, and hands the result to the writer as an async job.  The job's
 * finish (on the writer thread, no lock held) releases the claim, so a
 * block is never in two coders at once and a block whose job has not
 * landed is not picked again from the queue it is still in.
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs/fs.h"

#define PICK_MAX 256              /* queue rows looked at per pick */
#define IDLE_WAIT_NS 500000000ll  /* nothing cold: look again after this */
#define LOG_EVERY_NS (10ll * 1000000000ll)
#define RATE_WINDOW_NS (30ll * 1000000000ll)
#define HOLD_NS (10ll * 1000000000ll)  /* coders rest after a failed result */
/* Coders step aside while file reads and writes come in: SCHED_IDLE gives
 * the CPU up at once, but two coders on two cores still share caches and
 * memory bandwidth with the foreground (measured: cached-read p99 1.7x and
 * sequential writes 0.78x of idle without this).  Quiet for QUIET_NS, they
 * go on; a pause is at most PAUSE_MAX_NS, so sustained I/O slows coding
 * down without stopping it. */
#define QUIET_NS     2000000ll
#define PAUSE_MAX_NS 200000000ll

static int64_t clock_ns(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

const char *fs_sched_state_name(enum fs_sched_state s)
{
    switch (s) {
    case FS_SCHED_OFF:     return "off";
    case FS_SCHED_IDLE:    return "idle";
    case FS_SCHED_WAITING: return "waiting";
    case FS_SCHED_WORKING: return "working";
    case FS_SCHED_PAUSED:  return "paused";
    }
    return "?";
}

/* ---- the in-flight set (small: at most coders x batch, plus jobs not
 * landed yet), under the lock ---- */

static int fly_find(const struct fs_sched *s, uint64_t ino, uint64_t blkno)
{
    for (uint32_t i = 0; i < s->n_fly; i++)
        if (s->fly[i].ino == ino && s->fly[i].blkno == blkno)
            return (int)i;
    return -1;
}

static int fly_add(struct fs_sched *s, uint64_t ino, uint64_t blkno)
{
    if (s->n_fly == s->cap_fly) {
        uint32_t cap = s->cap_fly ? 2 * s->cap_fly : 16;
        void *p = realloc(s->fly, cap * sizeof(*s->fly));
        if (!p)
            return -ENOMEM;
        s->fly = p;
        s->cap_fly = cap;
    }
    s->fly[s->n_fly++] = (struct fs_sched_key){ ino, blkno };
    return 0;
}

static void fly_del(struct fs_sched *s, uint64_t ino, uint64_t blkno)
{
    int i = fly_find(s, ino, blkno);
    if (i >= 0)
        s->fly[i] = s->fly[--s->n_fly];
}

/* ---- the jobs that land a result ---- */
enum { R_SWAP, R_KEEP, R_DROP, R_FAIL, R_ORPHAN };
struct sched_job {
    struct fs_job j;
    uint64_t ino, blkno, gen;     /* the version the coder read */
    int kind;
    uint64_t why;                 /* R_KEEP / R_FAIL: idx_w_block_keep's why */
    uint8_t *payload;             /* R_SWAP: the FADE block (owned) */
    size_t len;
    uint32_t raw_len;
    int prepared;                 /* payload appended ahead of run, at loc */
    struct idx_bloc loc;
    int raced;                    /* the CAS found the block rewritten */
};

static int sj_append(struct fs_ctx *fs, struct sched_job *sj, struct idx_bloc *loc)
{
    return fs_w_payload_append(fs, sj->ino, sj->blkno, FADE_CODEC_FADE,
                               sj->raw_len, sj->payload, sj->len, loc);
}

static int sj_prepare(struct fs_ctx *fs, struct fs_job *jj)
{
    struct sched_job *sj = (struct sched_job *)jj;
    if (sj->kind != R_SWAP)
        return 0;
    int e = sj_append(fs, sj, &sj->loc);
    sj->prepared = e == 0;
    return e;
}

static void sj_unprepare(struct fs_ctx *fs, struct fs_job *jj)
{
    (void)fs;
    ((struct sched_job *)jj)->prepared = 0;
}

static int sj_run(struct fs_ctx *fs, struct fs_job *jj)
{
    struct sched_job *sj = (struct sched_job *)jj;
    int e;
    sj->raced = 0;
    switch (sj->kind) {
    case R_SWAP: {
        struct idx_bloc loc = sj->loc;
        e = sj->prepared ? 0 : sj_append(fs, sj, &loc);
        if (!e)
            e = idx_w_block_swap(fs->idx, sj->ino, sj->blkno, sj->gen, &loc,
                                 fs->sched.model);
        break;
    }
    case R_DROP:
        e = idx_w_block_drop(fs->idx, sj->ino, sj->blkno, sj->gen);
        break;
    case R_ORPHAN:
        e = idx_w_queue_drop_orphan(fs->idx, sj->ino, sj->blkno);
        break;
    default:
        e = idx_w_block_keep(fs->idx, sj->ino, sj->blkno, sj->gen, sj->why);
        break;
    }
    /* A lost race changed nothing (the appended payload is garbage). */
    if (e == -ESTALE) {
        sj->raced = 1;
        return 0;
    }
    return e;
}

/* Gives a claim back without a job: the block stays queued and is picked
 * again later; failed counts it, hold also rests the coders first. */
static void unclaim(struct fs_sched *s, uint64_t ino, uint64_t blkno,
                    int failed, int hold)
{
    pthread_mutex_lock(&s->lock);
    fly_del(s, ino, blkno);
    if (failed)
        s->c.failed++;
    if (hold)
        s->hold_until = clock_ns(CLOCK_MONOTONIC) + HOLD_NS;
    pthread_mutex_unlock(&s->lock);
}

static void rate_note(struct fs_sched *s, int64_t t, uint64_t bytes)
{
    s->rate_i = (s->rate_i + 1) % FS_SCHED_RATE_N;
    s->rate[s->rate_i].t = t;
    s->rate[s->rate_i].bytes = bytes;
}

/* On the writer thread, no lock held: count, release the claim, tell the
 * kernel that st_blocks moved. */
static void sj_finish(struct fs_ctx *fs, struct fs_job *jj)
{
    struct sched_job *sj = (struct sched_job *)jj;
    struct fs_sched *s = &fs->sched;
    int changed = 0;
    if (jj->result)
        fs_log(fs, jj->result == -ENOSPC ? LOG_DEBUG : LOG_WARNING,
               "inode %llu block %llu: compressed block not stored: %s",
               (unsigned long long)sj->ino, (unsigned long long)sj->blkno,
               strerror(-jj->result));
    pthread_mutex_lock(&s->lock);
    fly_del(s, sj->ino, sj->blkno);
    if (jj->result) {
        s->c.failed++;            /* still queued: tried again later */
        s->hold_until = clock_ns(CLOCK_MONOTONIC) + HOLD_NS;
    } else if (sj->raced) {
        s->c.raced++;
    } else {
        switch (sj->kind) {
        case R_SWAP:
            s->c.done++;
            s->c.raw_in += sj->raw_len;
            s->c.coded_out += sj->len;
            rate_note(s, clock_ns(CLOCK_MONOTONIC), sj->raw_len);
            changed = 1;
            break;
        case R_DROP: s->c.zero++; changed = 1; break;
        case R_KEEP: s->c.kept++; break;
        case R_ORPHAN: s->c.raced++; break;
        default:     s->c.failed++; break;
        }
    }
    void (*notify)(void *, uint64_t) = changed ? s->notify : NULL;
    void *arg = s->notify_arg;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    /* fs_sched.lock is a leaf: the cache's lock only after it. */
    if (changed && sj->kind == R_SWAP)
        fs_cache_mark_coded(&fs->cache, sj->ino, sj->blkno);
    /* fs_sched_stop clears notify only after every job has finished. */
    if (notify)
        notify(arg, sj->ino);
    free(sj->payload);
    free(sj);
}

static void submit(struct fs_ctx *fs, uint64_t ino, uint64_t blkno, uint64_t gen,
                   int kind, uint64_t why, uint8_t *payload, size_t len,
                   uint32_t raw_len)
{
    struct fs_sched *s = &fs->sched;
    struct sched_job *sj = calloc(1, sizeof(*sj));
    if (!sj) {
        free(payload);
        unclaim(s, ino, blkno, 1, 0);
        return;
    }
    sj->j.run = sj_run;
    sj->j.finish = sj_finish;
    sj->j.prepare = sj_prepare;
    sj->j.unprepare = sj_unprepare;
    sj->j.bytes = len + 256;
    sj->ino = ino;
    sj->blkno = blkno;
    sj->gen = gen;
    sj->kind = kind;
    sj->why = why;
    sj->payload = payload;
    sj->len = len;
    sj->raw_len = raw_len;
    uint64_t seq = fs_writer_submit_async(fs, &sj->j);   /* sj may be gone */
    pthread_mutex_lock(&s->lock);
    if (seq > s->last_seq)
        s->last_seq = seq;
    pthread_mutex_unlock(&s->lock);
}

/* ---- deciding ---- */

/* Order-0 entropy in milli-bits per byte: one pass over the block, about
 * a ten-thousandth of what coding it costs. */
static uint32_t entropy_mbits(const uint8_t *p, size_t n)
{
    uint32_t h[256] = { 0 };
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        h[p[i]]++;
    double bits = 0, inv = 1.0 / (double)n;
    for (int i = 0; i < 256; i++)
        if (h[i]) {
            double q = h[i] * inv;
            bits -= q * log2(q);
        }
    return (uint32_t)(bits * 1000.0 + 0.5);
}

/* ---- the coders ---- */
struct coder {
    struct fs_ctx *fs;
    fade_ctx *fctx;
    uint32_t batch;
    struct fs_sched_key *keys;
    uint64_t *gens;
    uint32_t *lens;
    uint8_t **raw;                /* batch x bs */
    struct fade_batch_item *items;
    uint32_t *item_of;            /* item i codes keys[item_of[i]] */
    size_t enc_cap;
    uint64_t q_ino[PICK_MAX], q_blk[PICK_MAX];
};

void fs_sched_foreground(struct fs_ctx *fs)
{
    atomic_store_explicit(&fs->sched.fg_ns, clock_ns(CLOCK_MONOTONIC),
                          memory_order_relaxed);
}

/* The codec calls this every few hundred steps of a block (a few ms). */
static void coder_progress(void *arg, uint64_t done, uint64_t total)
{
    struct fs_sched *s = arg;
    (void)done;
    (void)total;
    int64_t t0 = clock_ns(CLOCK_MONOTONIC), now = t0;
    while (!atomic_load(&s->cancel) && now - t0 < PAUSE_MAX_NS &&
           now - atomic_load_explicit(&s->fg_ns, memory_order_relaxed) < QUIET_NS) {
        usleep(1000);
        now = clock_ns(CLOCK_MONOTONIC);
    }
}

static void lower_priority(void)
{
    struct sched_param p = { 0 };
    /* SCHED_IDLE: runs only when no normal thread wants the CPU. */
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &p) != 0)
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
}

/* Claims up to want cold blocks that nobody codes; returns how many (0
 * when nothing is cold), or -errno.  The queue is read without the lock
 * (a coder at idle priority must not hold it across a store read: the
 * writer's finish() takes it); the claim is made under it. */
static int pick(struct fs_sched *s, struct fs_rd *r, struct coder *cd, uint32_t want)
{
    pthread_mutex_lock(&s->lock);
    int n = (int)(s->n_fly + want);
    pthread_mutex_unlock(&s->lock);
    if (n > PICK_MAX)
        n = PICK_MAX;
    int64_t before = clock_ns(CLOCK_REALTIME) - s->o.cold_ns;
    int k = idx_r_queue_peek_before(r->rd, before, cd->q_ino, cd->q_blk, n);
    if (k < 0)
        return k;
    pthread_mutex_lock(&s->lock);
    uint32_t got = 0;
    for (int i = 0; i < k && got < want; i++) {
        if (fly_find(s, cd->q_ino[i], cd->q_blk[i]) >= 0)
            continue;
        if (fly_add(s, cd->q_ino[i], cd->q_blk[i]))
            break;
        cd->keys[got++] = (struct fs_sched_key){ cd->q_ino[i], cd->q_blk[i] };
    }
    s->c.seen += got;
    if (got && !s->t_work0)
        s->t_work0 = clock_ns(CLOCK_MONOTONIC);
    pthread_mutex_unlock(&s->lock);
    return (int)got;
}

static void progress(struct fs_ctx *fs, struct fs_rd *r)
{
    struct fs_sched *s = &fs->sched;
    int64_t now = clock_ns(CLOCK_MONOTONIC);
    pthread_mutex_lock(&s->lock);
    int due = now - s->last_log >= LOG_EVERY_NS;
    if (due)
        s->last_log = now;
    pthread_mutex_unlock(&s->lock);
    if (!due)
        return;
    struct fs_sched_counts c;
    uint64_t queued = 0;
    fs_sched_counts(fs, &c);
    if (idx_r_queue_count(r->rd, 0, 0, &queued))
        return;
    fs_log(fs, LOG_NOTICE, "compression: %llu blocks queued, %llu coded "
           "(%.1f -> %.1f MiB), %llu kept raw, %llu raced, %llu failed, %.0f KB/s",
           (unsigned long long)queued, (unsigned long long)c.done,
           c.raw_in / 1048576.0, c.coded_out / 1048576.0,
           (unsigned long long)(c.kept + c.zero), (unsigned long long)c.raced,
           (unsigned long long)c.failed, c.rate_bps / 1000.0);
}

/* Reads, decides and codes the claimed blocks keys[0..n); every one ends
 * in a submitted job, so every claim is released. */
static void code_batch(struct coder *cd, struct fs_rd *r, uint32_t n)
{
    struct fs_ctx *fs = cd->fs;
    struct fs_sched *s = &fs->sched;
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct fs_sched_key *k = &cd->keys[i];
        struct idx_bloc loc = { 0 };
        int e = fs_file_load_stored(fs, r, k->ino, k->blkno, cd->raw[i],
                                    &cd->lens[i], &loc);
        cd->gens[i] = loc.gen;
        if (e == -ENOENT) {
            /* Deleted since the pick (its queue row went with it), or a
             * damaged store's queue row naming nothing, which must go or
             * it would be picked forever. */
            submit(fs, k->ino, k->blkno, 0, R_ORPHAN, 0, NULL, 0, 0);
        } else if (e && e != -EIO) {
            /* Not the payload's fault (memory, a busy database): still
             * queued, tried again after a rest. */
            unclaim(s, k->ino, k->blkno, 1, 1);
        } else if (e) {
            /* Logged by the load; left as it is and not tried again. */
            submit(fs, k->ino, k->blkno, loc.gen, R_FAIL, IDX_KEPT_FAILED,
                   NULL, 0, 0);
        } else if (fs_is_zero(cd->raw[i], cd->lens[i])) {
            submit(fs, k->ino, k->blkno, loc.gen, R_DROP, 0, NULL, 0, 0);
        } else if (loc.codec == FADE_CODEC_RAW &&
                   entropy_mbits(cd->raw[i], cd->lens[i]) >= FS_SCHED_PROBE_MBITS) {
            submit(fs, k->ino, k->blkno, loc.gen, R_KEEP, s->model, NULL, 0, 0);
        } else {
            uint8_t *dst = malloc(cd->enc_cap);
            if (!dst) {
                unclaim(s, k->ino, k->blkno, 1, 0);
                continue;
            }
            cd->items[m] = (struct fade_batch_item){
                .dst = dst, .dst_cap = cd->enc_cap,
                .src = cd->raw[i], .src_len = cd->lens[i],
            };
            cd->item_of[m++] = i;
        }
    }
    if (!m)
        return;
    int e = fade_block_encode_many(cd->fctx, cd->items, m);
    for (uint32_t t = 0; t < m; t++) {
        struct fade_batch_item *it = &cd->items[t];
        struct fs_sched_key *k = &cd->keys[cd->item_of[t]];
        uint64_t gen = cd->gens[cd->item_of[t]];
        uint32_t raw_len = (uint32_t)it->src_len;
        ssize_t len = e ? e : it->result;
        struct fade_block_info info;
        if (len == FADE_E_CANCELED || len == FADE_E_NOMEM) {
            /* Unmount (the block stays queued for the next mount), or no
             * memory now (queued, tried again after a rest). */
            free(it->dst);
            int nomem = len == FADE_E_NOMEM;
            unclaim(s, k->ino, k->blkno, nomem, nomem);
            continue;
        }
        /* The codec writes a raw block when the model loses; below the
         * minimum saving the raw payload already stored is as good. */
        uint64_t limit = (uint64_t)raw_len * (1000 - s->o.min_saving_pm) / 1000;
        if (len < 0) {
            fs_log(fs, LOG_ERR, "inode %llu block %llu: cannot code: %s",
                   (unsigned long long)k->ino, (unsigned long long)k->blkno,
                   fade_strerror((int)len));
            free(it->dst);
            submit(fs, k->ino, k->blkno, gen, R_FAIL, IDX_KEPT_FAILED, NULL, 0, 0);
        } else if (fade_block_info(it->dst, (size_t)len, &info) != 0 ||
                   info.codec != FADE_CODEC_FADE || (uint64_t)len > limit) {
            free(it->dst);
            submit(fs, k->ino, k->blkno, gen, R_KEEP, s->model, NULL, 0, 0);
        } else {
            uint8_t *p = realloc(it->dst, (size_t)len);   /* give back the slack */
            submit(fs, k->ino, k->blkno, gen, R_SWAP, 0, p ? p : it->dst,
                   (size_t)len, raw_len);
        }
    }
}

static void coder_free(struct coder *cd)
{
    if (!cd)
        return;
    if (cd->raw)
        for (uint32_t i = 0; i < cd->batch; i++)
            free(cd->raw[i]);
    free(cd->raw);
    free(cd->keys);
    free(cd->gens);
    free(cd->lens);
    free(cd->items);
    free(cd->item_of);
    fade_ctx_free(cd->fctx);
    free(cd);
}

static struct coder *coder_new(struct fs_ctx *fs)
{
    struct fs_sched *s = &fs->sched;
    struct coder *cd = calloc(1, sizeof(*cd));
    if (!cd)
        return NULL;
    cd->fs = fs;
    cd->batch = s->o.batch ? s->o.batch : 1;
    struct fade_ctx_params p = {
        .preset = s->preset, .n_streams = s->o.n_streams, .n_threads = 1,
    };
    cd->keys = calloc(cd->batch, sizeof(*cd->keys));
    cd->gens = calloc(cd->batch, sizeof(*cd->gens));
    cd->lens = calloc(cd->batch, sizeof(*cd->lens));
    cd->items = calloc(cd->batch, sizeof(*cd->items));
    cd->item_of = calloc(cd->batch, sizeof(*cd->item_of));
    cd->raw = calloc(cd->batch, sizeof(*cd->raw));
    if (!cd->keys || !cd->gens || !cd->lens || !cd->items || !cd->item_of ||
        !cd->raw || fade_ctx_create(&cd->fctx, &p) != 0) {
        coder_free(cd);
        return NULL;
    }
    fade_ctx_set_cancel(cd->fctx, &s->cancel);
    fade_ctx_set_progress(cd->fctx, coder_progress, s);
    for (uint32_t i = 0; i < cd->batch; i++)
        if (!(cd->raw[i] = malloc(fs->bs))) {
            coder_free(cd);
            return NULL;
        }
    cd->enc_cap = fade_block_bound(fs->bs, s->o.n_streams ? s->o.n_streams
                                                          : FADE_BLOCK_MAX_STREAMS);
    return cd;
}

static void timed_wait(struct fs_sched *s, int64_t ns)
{
    struct timespec until;
    int64_t t = clock_ns(CLOCK_REALTIME) + ns;
    until.tv_sec = t / 1000000000ll;
    until.tv_nsec = t % 1000000000ll;
    pthread_cond_timedwait(&s->wake, &s->lock, &until);
}

static void *coder_main(void *arg)
{
    struct fs_ctx *fs = arg;
    struct fs_sched *s = &fs->sched;
    lower_priority();
    struct coder *cd = coder_new(fs);
    if (!cd) {
        fs_log(fs, LOG_ERR, "compression: a coder thread could not start: out of memory");
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&s->lock);
        for (;;) {
            if (s->stop)
                break;
            if (s->paused) {
                pthread_cond_wait(&s->wake, &s->lock);
                continue;
            }
            /* After a failed result (a full disk, an I/O error), a pause:
             * the block is still queued and would be picked at once. */
            int64_t hold = s->hold_until - clock_ns(CLOCK_MONOTONIC);
            if (hold <= 0)
                break;
            timed_wait(s, hold);
        }
        int stop = s->stop;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;
        struct fs_rd *r;
        if (fs_rd_take(fs, &r)) {
            pthread_mutex_lock(&s->lock);
            timed_wait(s, IDLE_WAIT_NS);
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        int n = pick(s, r, cd, cd->batch);
        if (n <= 0) {
            fs_rd_give(fs, r);
            if (n < 0)
                fs_log(fs, LOG_ERR, "compression: cannot read the queue: %s",
                       strerror(-n));
            pthread_mutex_lock(&s->lock);
            s->waiting = 1;
            if (!s->stop)
                timed_wait(s, IDLE_WAIT_NS);
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        pthread_mutex_lock(&s->lock);
        s->waiting = 0;
        pthread_mutex_unlock(&s->lock);
        code_batch(cd, r, (uint32_t)n);
        progress(fs, r);
        fs_rd_give(fs, r);
    }
    coder_free(cd);
    return NULL;
}

/* ---- control ---- */

int fs_sched_init(struct fs_ctx *fs, const struct fs_sched_opts *o, char *msg,
                  size_t msg_cap)
{
    struct fs_sched *s = &fs->sched;
    memset(s, 0, sizeof(*s));
    s->o = *o;
    if (s->o.min_saving_pm >= 1000) {
        snprintf(msg, msg_cap, "min_saving must be below 100%%");
        return -EINVAL;
    }
    s->preset = o->preset ? o->preset : FS_SCHED_PRESET;
    const struct fade_preset *p = fade_preset_find(s->preset);
    if (!p) {
        snprintf(msg, msg_cap, "unknown preset '%s'", s->preset);
        return -EINVAL;
    }
    s->preset = p->name;
    if (s->o.n_streams > p->max_streams) {
        snprintf(msg, msg_cap, "preset %s takes at most %u streams", p->name,
                 p->max_streams);
        return -EINVAL;
    }
    s->model = fade_preset_model_id(p);
    if (!s->o.n_coders) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->o.n_coders = n > 0 ? (uint32_t)n : 1;
    }
    int e = -pthread_mutex_init(&s->lock, NULL);
    if (e) {
        snprintf(msg, msg_cap, "%s", strerror(-e));
        return e;
    }
    if ((e = -pthread_cond_init(&s->wake, NULL))) {
        pthread_mutex_destroy(&s->lock);
        snprintf(msg, msg_cap, "%s", strerror(-e));
        return e;
    }
    return 0;
}

struct mount_sched_job {
    struct fs_job j;
    uint64_t model;
    const char *preset;
    uint64_t requeued;
};

/* Names this mount's model in the store and gives blocks kept raw by
 * another model a new chance. */
static int mount_sched_run(struct fs_ctx *fs, struct fs_job *jj)
{
    struct mount_sched_job *j = (struct mount_sched_job *)jj;
    int e = idx_w_model_note(fs->idx, j->model, j->preset);
    return e ? e : idx_w_requeue_kept(fs->idx, j->model, &j->requeued);
}

int fs_sched_start(struct fs_ctx *fs)
{
    struct fs_sched *s = &fs->sched;
    if (s->o.off || idx_read_only(fs->idx))
        return 0;
    struct mount_sched_job mj = {
        .j = { .run = mount_sched_run }, .model = s->model, .preset = s->preset,
    };
    int e = fs_writer_submit(fs, &mj.j);
    if (e) {
        fs_log(fs, LOG_ERR, "compression: cannot prepare the queue: %s", strerror(-e));
        return e;
    }
    if (mj.requeued)
        fs_log(fs, LOG_INFO, "compression: %llu blocks kept raw by another model queued again",
               (unsigned long long)mj.requeued);
    s->threads = calloc(s->o.n_coders, sizeof(*s->threads));
    if (!s->threads)
        return -ENOMEM;
    for (uint32_t i = 0; i < s->o.n_coders; i++) {
        if ((e = pthread_create(&s->threads[i], NULL, coder_main, fs))) {
            fs_log(fs, LOG_ERR, "compression: cannot start coder %u: %s", i,
                   strerror(e));
            break;
        }
        s->n_threads++;
    }
    return s->n_threads ? 0 : -e;
}

void fs_sched_stop(struct fs_ctx *fs)
{
    struct fs_sched *s = &fs->sched;
    if (!s->threads)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    atomic_store(&s->cancel, 1);  /* a block takes seconds: do not wait for it */
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    for (uint32_t i = 0; i < s->n_threads; i++)
        pthread_join(s->threads[i], NULL);
    free(s->threads);
    s->threads = NULL;
    s->n_threads = 0;
    /* Every submitted result lands (or fails) before the kernel connection
     * may go away. */
    pthread_mutex_lock(&s->lock);
    uint64_t seq = s->last_seq;
    pthread_mutex_unlock(&s->lock);
    fs_writer_async_wait(fs, seq);
    pthread_mutex_lock(&s->lock);
    s->notify = NULL;
    pthread_mutex_unlock(&s->lock);
}

void fs_sched_fini(struct fs_ctx *fs)
{
    struct fs_sched *s = &fs->sched;
    fs_sched_stop(fs);
    free(s->fly);
    s->fly = NULL;
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
}

int fs_sched_pause(struct fs_ctx *fs, int pause)
{
    struct fs_sched *s = &fs->sched;
    if (s->o.off)
        return -EPERM;
    pthread_mutex_lock(&s->lock);
    s->paused = pause;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    fs_log(fs, LOG_NOTICE, "compression %s", pause ? "paused" : "resumed");
    return 0;
}

void fs_sched_counts(struct fs_ctx *fs, struct fs_sched_counts *out)
{
    struct fs_sched *s = &fs->sched;
    int64_t now = clock_ns(CLOCK_MONOTONIC);
    pthread_mutex_lock(&s->lock);
    *out = s->c;
    out->in_flight = s->n_fly;
    out->n_coders = s->n_threads;
    if (s->o.off || !s->threads)
        out->state = FS_SCHED_OFF;
    else if (s->paused)
        out->state = FS_SCHED_PAUSED;
    else if (s->n_fly)
        out->state = FS_SCHED_WORKING;
    else
        out->state = s->waiting ? FS_SCHED_WAITING : FS_SCHED_IDLE;
    /* Throughput: the raw bytes finished in the last RATE_WINDOW_NS over
     * that window (or over the time since the coders first had work, when
     * that is shorter). */
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < FS_SCHED_RATE_N; i++)
        if (s->rate[i].t && now - s->rate[i].t <= RATE_WINDOW_NS)
            bytes += s->rate[i].bytes;
    int64_t span = s->t_work0 ? now - s->t_work0 : 0;
    if (span > RATE_WINDOW_NS)
        span = RATE_WINDOW_NS;
    out->rate_bps = span > 0 ? (uint64_t)((double)bytes * 1e9 / (double)span) : 0;
    pthread_mutex_unlock(&s->lock);
}
