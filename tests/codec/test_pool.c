/* test_pool.c — pool_parallel_for hands out every piece of the range
 * exactly once, on valid threads, across many back-to-back jobs. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include "codec/fade.h"
#include "codec/pool.h"

struct tp_job {
    _Atomic unsigned *hits;     /* per index */
    _Atomic unsigned calls;
    _Atomic int bad;            /* a piece was not where pool.h says */
    unsigned n_threads;
    size_t n, grain;            /* grain as the pool applies it */
    pthread_t caller;
};

static void tp_fn(void *arg, size_t b, size_t e, unsigned tid)
{
    struct tp_job *j = arg;
    atomic_fetch_add(&j->calls, 1);
    if (tid >= j->n_threads || b >= e || e > j->n || b % j->grain != 0 ||
        (e != j->n && e - b != j->grain))
        atomic_store(&j->bad, 1);
    if ((tid == 0) != (pthread_equal(pthread_self(), j->caller) != 0))
        atomic_store(&j->bad, 1);
    for (size_t i = b; i < e; i++)
        atomic_fetch_add(&j->hits[i], 1);
}

static void tp_run(struct fade_pool *p, size_t n, size_t grain)
{
    const unsigned nt = pool_n_threads(p);
    struct tp_job j = {.n_threads = nt, .n = n, .caller = pthread_self()};
    j.hits = calloc(n + 1, sizeof *j.hits);
    cr_assert_not_null(j.hits);
    atomic_init(&j.calls, 0);
    atomic_init(&j.bad, 0);
    /* The pool's documented piece size. */
    j.grain = grain ? grain : (n + 4 * (size_t)nt - 1) / (4 * (size_t)nt);
    if (nt == 1 || j.grain == 0 || j.grain >= n)
        j.grain = n ? n : 1;
    pool_parallel_for(p, n, grain, tp_fn, &j);
    cr_assert_eq(atomic_load(&j.bad), 0, "piece or thread wrong: n=%zu grain=%zu", n, grain);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(atomic_load(&j.hits[i]), 1u, "index %zu of %zu", i, n);
    const unsigned pieces = n ? (unsigned)((n - 1) / j.grain + 1) : 0;
    cr_assert_eq(atomic_load(&j.calls), pieces, "n=%zu grain=%zu", n, grain);
    free(j.hits);
}

Test(pool, null_pool_runs_on_caller)
{
    cr_assert_eq(pool_n_threads(NULL), 1u);
    tp_run(NULL, 0, 0);
    tp_run(NULL, 1, 0);
    tp_run(NULL, 1000, 7);
}

Test(pool, every_index_once)
{
    const unsigned counts[] = {0, 1, 2, 3, 4, 7};
    const size_t ns[] = {0, 1, 2, 3, 5, 8, 64, 1001};
    const size_t grains[] = {0, 1, 3, 64, 5000};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        struct fade_pool *p = NULL;
        cr_assert_eq(pool_create(&p, counts[c]), 0);
        cr_assert_eq(pool_n_threads(p), counts[c] ? counts[c] : 1u);
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (size_t g = 0; g < sizeof grains / sizeof grains[0]; g++)
                tp_run(p, ns[i], grains[g]);
        pool_free(p);
    }
}

Test(pool, many_jobs_back_to_back)
{
    struct fade_pool *p = NULL;
    cr_assert_eq(pool_create(&p, 4), 0);
    for (int r = 0; r < 3000; r++)
        tp_run(p, (size_t)(r % 37), (size_t)(r % 3));
    pool_free(p);
}

/* Workers asleep (after their spin) must still be woken for the next job. */
Test(pool, wakes_sleeping_workers)
{
    struct fade_pool *p = NULL;
    cr_assert_eq(pool_create(&p, 3), 0);
    for (int r = 0; r < 5; r++) {
        const struct timespec ts = {0, 3 * 1000 * 1000};
        nanosleep(&ts, NULL);
        tp_run(p, 100, 1);
    }
    pool_free(p);
}

Test(pool, create_rejects_and_free_accepts_null)
{
    struct fade_pool *p = (struct fade_pool *)1;
    cr_expect_eq(pool_create(&p, 100000), FADE_E_INVAL);
    cr_expect_null(p);
    cr_expect_eq(pool_create(NULL, 2), FADE_E_INVAL);
    pool_free(NULL);
}
