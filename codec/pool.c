/* pool.c — worker threads for pool_parallel_for (contract in pool.h).
 *
 * A job is published under the mutex: (fn, arg, n, grain) and a new
 * generation number.  Pieces are claimed with a compare-and-swap on one
 * 64-bit word holding (generation, next piece), so a worker that read an
 * old job can never claim a piece of a newer one: its CAS fails on the
 * generation.  Every claimed piece is counted in `done`; the caller returns
 * once done == pieces, after which nobody touches the job any more.
 *
 * Workers spin briefly on the generation before sleeping because the model
 * calls the kernels in quick succession and a condition-variable wake-up
 * costs tens of microseconds; the caller only pays for the wake-up
 * syscall when some worker actually sleeps. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include "codec/fade.h"
#include "codec/pool.h"

#define POOL_MAX_THREADS 256
#define POOL_SPIN        1000   /* polls with pause (~40-80 us) before sleeping */
#define POOL_IDX_BITS    32     /* claim word: generation above, piece below */
#define POOL_IDX_MASK    ((UINT64_C(1) << POOL_IDX_BITS) - 1)

struct pool_worker {
    struct fade_pool *pool;
    unsigned tid;
};

struct fade_pool {
    unsigned n_threads;             /* workers + the caller */
    pthread_t *threads;             /* n_threads - 1 */
    struct pool_worker *workers;    /* n_threads - 1 */
    pthread_mutex_t mu;
    pthread_cond_t cv_work;         /* gen moved or stop (waits under mu) */
    pthread_cond_t cv_done;         /* done reached pieces (waits under mu) */
    /* The job: written by the caller under mu before gen moves. */
    pool_fn fn;
    void *arg;
    size_t n, grain;
    uint64_t pieces;
    unsigned sleepers;              /* workers in cv_work wait (under mu) */
    int caller_waits;               /* caller in cv_done wait (under mu) */
    int stop;                       /* under mu */
    _Atomic uint64_t gen;           /* job generation (written under mu) */
    _Atomic uint64_t claim;         /* (gen << POOL_IDX_BITS) | next piece */
    _Atomic uint64_t done;          /* pieces finished in this job */
};

static void pool_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claims and runs pieces of generation `gen` until none is left. */
static void pool_work(struct fade_pool *p, uint64_t gen, pool_fn fn, void *arg,
                      size_t n, size_t grain, uint64_t pieces, unsigned tid)
{
    const uint64_t tag = (gen & (UINT64_MAX >> POOL_IDX_BITS)) << POOL_IDX_BITS;
    uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        if ((c & ~POOL_IDX_MASK) != tag || (c & POOL_IDX_MASK) >= pieces)
            return;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c + 1,
                                                   memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        const size_t b = (size_t)(c & POOL_IDX_MASK) * grain;
        const size_t e = n - b < grain ? n : b + grain;
        fn(arg, b, e, tid);
        if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) + 1 == pieces &&
            tid != 0) {
            pthread_mutex_lock(&p->mu);
            if (p->caller_waits)
                pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
        c = atomic_load_explicit(&p->claim, memory_order_acquire);
    }
}

static void *pool_worker_main(void *argp)
{
    struct pool_worker *w = argp;
    struct fade_pool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        for (int i = 0; i < POOL_SPIN &&
                        atomic_load_explicit(&p->gen, memory_order_acquire) == seen; i++)
            pool_cpu_relax();
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->gen, memory_order_relaxed) == seen && !p->stop) {
            p->sleepers++;
            pthread_cond_wait(&p->cv_work, &p->mu);
            p->sleepers--;
        }
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = atomic_load_explicit(&p->gen, memory_order_relaxed);
        pool_fn fn = p->fn;
        void *arg = p->arg;
        const size_t n = p->n, grain = p->grain;
        const uint64_t pieces = p->pieces;
        pthread_mutex_unlock(&p->mu);
        pool_work(p, seen, fn, arg, n, grain, pieces, w->tid);
    }
}

static void pool_stop_workers(struct fade_pool *p, unsigned started)
{
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(p->threads[i], NULL);
}

int pool_create(struct fade_pool **out, unsigned n_threads)
{
    if (!out)
        return FADE_E_INVAL;
    *out = NULL;
    if (n_threads > POOL_MAX_THREADS)
        return FADE_E_INVAL;
    if (n_threads == 0)
        n_threads = 1;
    struct fade_pool *p = calloc(1, sizeof *p);
    if (!p)
        return FADE_E_NOMEM;
    p->n_threads = n_threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->claim, 0);
    atomic_init(&p->done, 0);
    const unsigned nw = n_threads - 1;
    if (nw) {
        p->threads = calloc(nw, sizeof *p->threads);
        p->workers = calloc(nw, sizeof *p->workers);
        if (!p->threads || !p->workers)
            goto fail_alloc;
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        goto fail_alloc;
    if (pthread_cond_init(&p->cv_work, NULL) != 0)
        goto fail_mu;
    if (pthread_cond_init(&p->cv_done, NULL) != 0)
        goto fail_cv;
    for (unsigned i = 0; i < nw; i++) {
        p->workers[i].pool = p;
        p->workers[i].tid = i + 1;
        if (pthread_create(&p->threads[i], NULL, pool_worker_main, &p->workers[i]) != 0) {
            pool_stop_workers(p, i);
            goto fail_cv2;
        }
    }
    *out = p;
    return 0;

fail_cv2:
    pthread_cond_destroy(&p->cv_done);
fail_cv:
    pthread_cond_destroy(&p->cv_work);
fail_mu:
    pthread_mutex_destroy(&p->mu);
fail_alloc:
    free(p->threads);
    free(p->workers);
    free(p);
    return FADE_E_NOMEM;
}

void pool_free(struct fade_pool *p)
{
    if (!p)
        return;
    pool_stop_workers(p, p->n_threads - 1);
    pthread_cond_destroy(&p->cv_done);
    pthread_cond_destroy(&p->cv_work);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->workers);
    free(p);
}

unsigned pool_n_threads(const struct fade_pool *p)
{
    return p ? p->n_threads : 1;
}

void pool_parallel_for(struct fade_pool *p, size_t n, size_t grain, pool_fn fn,
                       void *arg)
{
    if (n == 0)
        return;
    if (!p || p->n_threads == 1) {
        fn(arg, 0, n, 0);
        return;
    }
    if (grain == 0) {
        const size_t want = 4 * (size_t)p->n_threads;
        grain = (n + want - 1) / want;
    }
    if ((n - 1) / grain + 1 > POOL_IDX_MASK)
        grain = n / POOL_IDX_MASK + 1;
    const uint64_t pieces = (uint64_t)((n - 1) / grain + 1);
    if (pieces == 1) {
        fn(arg, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    const uint64_t gen = atomic_load_explicit(&p->gen, memory_order_relaxed) + 1;
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->grain = grain;
    p->pieces = pieces;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->claim,
                          (gen & (UINT64_MAX >> POOL_IDX_BITS)) << POOL_IDX_BITS,
                          memory_order_relaxed);
    atomic_store_explicit(&p->gen, gen, memory_order_release);
    if (p->sleepers)
        pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);

    pool_work(p, gen, fn, arg, n, grain, pieces, 0);

    for (int i = 0; i < POOL_SPIN &&
                    atomic_load_explicit(&p->done, memory_order_acquire) != pieces; i++)
        pool_cpu_relax();
    if (atomic_load_explicit(&p->done, memory_order_acquire) != pieces) {
        pthread_mutex_lock(&p->mu);
        p->caller_waits = 1;
        while (atomic_load_explicit(&p->done, memory_order_acquire) != pieces)
            pthread_cond_wait(&p->cv_done, &p->mu);
        p->caller_waits = 0;
        pthread_mutex_unlock(&p->mu);
    }
}
