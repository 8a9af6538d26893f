/* pool.h — a fixed pthread worker pool with a fork-join parallel_for.
 *
 * The kernels split their *outputs* (tiles of a result matrix, ranges of
 * elements) over the pool; which thread computes which output never changes
 * a result bit, so the pool has no effect on the coded bytes.  A job must
 * keep that property: its result may not depend on which thread ran which
 * range, nor in what order.
 *
 * Scheduling is dynamic: the range is cut into pieces of `grain` items,
 * and the caller and the workers claim pieces one at a time until none is
 * left.  A worker that is slow to wake up (busy machine) therefore never
 * holds the caller back; it simply finds no work left.
 *
 * Ownership: pool_create starts n_threads - 1 worker threads; the thread
 * that calls pool_parallel_for takes part in the work as thread 0.
 * pool_free joins the workers and frees everything; it accepts NULL.
 * Nothing is allocated after pool_create; `arg` is used only until
 * pool_parallel_for returns (no worker touches the job after that).
 *
 * Thread safety: a pool serves one caller at a time.  pool_parallel_for
 * must not be called concurrently on the same pool (give each fade_ctx /
 * mdl its own pool, or serialise callers), nor from inside a job it runs
 * (no nesting).  Different pools are independent.  pool_n_threads may be
 * called from anywhere.  Idle workers spin for a few tens of microseconds
 * after a job (cheap back-to-back jobs), then sleep on a condition variable.
 *
 * A NULL pool is valid everywhere and means "the calling thread alone".
 */
#ifndef FADE_POOL_H
#define FADE_POOL_H

#include <stddef.h>

struct fade_pool;

/* A piece of a job: process items [begin, end).  `tid` is the index
 * (0 = caller) of the thread running it, < pool_n_threads(), e.g. to pick
 * a per-thread scratch slice.  Called any number of times per thread. */
typedef void (*pool_fn)(void *arg, size_t begin, size_t end, unsigned tid);

/* Creates a pool running n_threads threads in total (the caller
 * included); n_threads 0 or 1 gives a pool with no worker threads.
 * Returns 0 and sets *out (NULL on failure), FADE_E_INVAL (out NULL or
 * n_threads > 256) or FADE_E_NOMEM (allocation or thread creation failed). */
int pool_create(struct fade_pool **out, unsigned n_threads);
void pool_free(struct fade_pool *p);

/* Threads taking part in a parallel_for: 1 for NULL. */
unsigned pool_n_threads(const struct fade_pool *p);

/* Runs fn over [0, n) cut into pieces [i*grain, min(n, (i+1)*grain)),
 * each piece exactly once, on whichever thread claims it, and returns when
 * all are done.  grain 0 picks about four pieces per thread.  With a NULL
 * or one-thread pool, fn(arg, 0, n, 0) is called once. */
void pool_parallel_for(struct fade_pool *p, size_t n, size_t grain, pool_fn fn,
                       void *arg);

#endif /* FADE_POOL_H */
