/* peak.c — the FMA peak probe (contract in peak.h).
 *
 * Each thread calibrates a burst length of about 5 ms, then repeats bursts
 * until its window is up, and counts its own CPU time (not wall time):
 * the peak is what the cores do while the threads actually run, so other
 * processes on a shared machine do not lower it.  A window's rate is the
 * sum of the threads' rates (threads are assumed to have a core each);
 * the best of several windows is reported, which also drops windows hurt
 * by frequency changes or interrupts. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include "codec/kern_isa.h"
#include "codec/peak.h"

#define PEAK_MAX_THREADS 256
#define PEAK_WINDOWS     5

typedef float (*peak_burst_fn)(uint64_t iters, double *flops_per_iter);

struct peak_thread {
    peak_burst_fn burst;
    double seconds;
    double flops;       /* out */
    double elapsed;     /* out: CPU seconds of this thread */
    float sink;         /* out: keeps the loop's result alive */
};

static double peak_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One lane of scalar FMA, for the scalar path's yardstick. */
static float peak_scalar_burst(uint64_t iters, double *flops_per_iter)
{
    /* Baseline code cannot emit FMA instructions; the AVX2 burst divided by
     * its lane count would overstate scalar code, so use mul+add pairs,
     * which is what the scalar kernels' libm fmaf calls cost at best. */
    float a0 = 1.0f, a1 = 1.1f, a2 = 1.2f, a3 = 1.3f, a4 = 1.4f, a5 = 1.5f, a6 = 1.6f,
          a7 = 1.7f;
    const float m = 0.999999f, c = 1e-7f;
    for (uint64_t i = 0; i < iters; i++) {
        a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
        a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
    }
    *flops_per_iter = 16.0;
    return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}

static void *peak_thread_main(void *argp)
{
    struct peak_thread *t = argp;
    double fpi = 0;
    uint64_t iters = 1u << 12;
    float sink = 0;
    /* Calibrate: grow the burst until it takes >= 5 ms. */
    for (;;) {
        const double t0 = peak_now();
        sink += t->burst(iters, &fpi);
        const double dt = peak_now() - t0;
        if (dt >= 0.005 || iters >= (1ull << 40))
            break;
        iters *= dt < 0.001 ? 8 : 2;
    }
    const double start = peak_now();
    double flops = 0, now = start;
    do {
        sink += t->burst(iters, &fpi);
        flops += fpi * (double)iters;
        now = peak_now();
    } while (now - start < t->seconds);
    t->flops = flops;
    t->elapsed = now - start;
    t->sink = sink;
    return NULL;
}

static int peak_window(peak_burst_fn burst, unsigned n_threads, double seconds,
                       double *gflops);

int fade_peak_gflops(enum fade_isa isa, unsigned n_threads, double seconds,
                     double *gflops)
{
    if (!gflops || n_threads > PEAK_MAX_THREADS)
        return FADE_E_INVAL;
    if (isa == FADE_ISA_AUTO)
        isa = fade_isa_best();
    if (!fade_isa_available(isa))
        return FADE_E_UNSUPPORTED;
    peak_burst_fn burst = NULL;
    switch (isa) {
    case FADE_ISA_SCALAR: burst = peak_scalar_burst; break;
    case FADE_ISA_AVX2:   burst = kern_avx2_fma_burst; break;
    case FADE_ISA_AVX512: burst = kern_avx512_fma_burst; break;
    case FADE_ISA_AUTO:   break;
    }
    if (!burst)
        return FADE_E_INVAL;
    if (n_threads == 0)
        n_threads = 1;
    if (seconds <= 0)
        seconds = 0.2;
    double best = 0;
    for (int w = 0; w < PEAK_WINDOWS; w++) {
        double g = 0;
        const int rc = peak_window(burst, n_threads, seconds / PEAK_WINDOWS, &g);
        if (rc != 0)
            return rc;
        if (g > best)
            best = g;
    }
    *gflops = best;
    return 0;
}

static int peak_window(peak_burst_fn burst, unsigned n_threads, double seconds,
                       double *gflops)
{
    struct peak_thread *ts = calloc(n_threads, sizeof *ts);
    pthread_t *tids = calloc(n_threads, sizeof *tids);
    if (!ts || !tids) {
        free(ts);
        free(tids);
        return FADE_E_NOMEM;
    }
    unsigned started = 0;
    int rc = 0;
    for (unsigned i = 0; i < n_threads; i++) {
        ts[i].burst = burst;
        ts[i].seconds = seconds;
    }
    /* Thread 0 is the caller. */
    for (unsigned i = 1; i < n_threads; i++, started++)
        if (pthread_create(&tids[i], NULL, peak_thread_main, &ts[i]) != 0) {
            rc = FADE_E_NOMEM;
            break;
        }
    if (rc == 0)
        peak_thread_main(&ts[0]);
    for (unsigned i = 1; i <= started; i++)
        pthread_join(tids[i], NULL);
    if (rc == 0) {
        double rate = 0;
        for (unsigned i = 0; i < n_threads; i++)
            if (ts[i].elapsed > 0)
                rate += ts[i].flops / ts[i].elapsed;
        *gflops = rate * 1e-9;
    }
    free(ts);
    free(tids);
    return rc;
}
