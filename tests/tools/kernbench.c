/* kernbench.c — GFLOP/s of each numeric kernel on the GEMM shapes of the
 * model, next to the FMA peak measured in the same run (codec/peak.h).
 *
 *   kernbench [--isa NAME] [--threads N] [--reps R] [--quick]
 *             [--shape NxKxO]...
 *
 * For each shape (N rows, K inputs, O outputs) it times linear_fwd,
 * linear_bwd_x and linear_bwd_w (best of R runs after one warm-up) and
 * prints ms, GFLOP/s (an FMA counts 2) and the ratio to the peak of the
 * same ISA and thread count; the last line ("all") is the time-weighted
 * total, i.e. the GEMM part of one training step of the model.  The last
 * two columns divide by the process's CPU time instead of wall time and
 * compare with one core's peak: on a busy machine they show what the
 * kernels do while they actually run (pool spinning counts against them;
 * the peak probe counts CPU time too, see codec/peak.h).  Run it with `nice` on a shared machine: the
 * ratio is only meaningful when the peak probe saw the same contention. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "codec/kern.h"
#include "codec/peak.h"
#include "codec/pool.h"

struct kb_shape { size_t N, K, O; };

/* The GEMMs of one step of the paper preset (T*D = 512, D = 32, L = 64,
 * G = 4096, F = 8192, 512 streams; the coarse branches stack 2 x 512 rows
 * of width 256 with hidden width 64), forward and backward. */
static const struct kb_shape kb_paper[] = {
    {512, 32, 128},      /* last byte's GeGLU into the rolling cache */
    {512, 4096, 512},    /* cache G -> T*D */
    {512, 512, 512},     /* fusion gate */
    {1024, 256, 64},     /* coarse down */
    {1024, 64, 256},     /* coarse up */
    {1024, 256, 256},    /* coarse self-gate */
    {512, 512, 16384},   /* fine GeGLU T*D -> 2F */
    {512, 8192, 512},    /* fine F -> T*D */
    {512, 512, 256},     /* output */
};
static const struct kb_shape kb_quick[] = {
    {512, 512, 4096}, {512, 4096, 512}, {1024, 256, 256}, {100, 512, 1000},
    {1, 4096, 512},
};

static double kb_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float *kb_alloc(size_t n, uint32_t seed)
{
    float *p = aligned_alloc(64, ((n * sizeof(float)) + 63) / 64 * 64);
    if (!p)
        return NULL;
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)(int32_t)(s >> 8) * (1.0f / 8388608.0f) - 1.0f;
    }
    return p;
}

enum kb_kernel { KB_FWD, KB_BWD_X, KB_BWD_W };
static const char *const kb_names[] = {"linear_fwd", "linear_bwd_x", "linear_bwd_w"};

/* Best wall time of `reps` runs after a warm-up; *cpu_best receives the
 * best CPU time of the process (all threads, spinning included). */
static double kb_time(const struct kern_ops *k, struct fade_pool *pool,
                      enum kb_kernel which, struct kb_shape s, int reps,
                      float *X, float *W, float *B, float *Y, float *S,
                      double *cpu_best)
{
    double best = 1e30;
    *cpu_best = 1e30;
    for (int r = 0; r <= reps; r++) {
        const double t0 = kb_clock(CLOCK_MONOTONIC);
        const double c0 = kb_clock(CLOCK_PROCESS_CPUTIME_ID);
        switch (which) {
        case KB_FWD:
            k->linear_fwd(pool, s.N, s.K, s.O, X, s.K, W, B, Y, s.O);
            break;
        case KB_BWD_X:   /* dY = Y (N x O), dX = X (N x K) */
            k->linear_bwd_x(pool, s.N, s.K, s.O, Y, s.O, W, X, s.K, 0, S);
            break;
        case KB_BWD_W:   /* dW = W, dB = B */
            k->linear_bwd_w(pool, s.N, s.K, s.O, X, s.K, Y, s.O, W, B, 1);
            break;
        }
        const double dt = kb_clock(CLOCK_MONOTONIC) - t0;
        const double dc = kb_clock(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (r > 0 && dt < best)   /* run 0 warms caches and pages */
            best = dt;
        if (r > 0 && dc < *cpu_best)
            *cpu_best = dc;
    }
    return best;
}

static int kb_parse_shape(const char *arg, struct kb_shape *s)
{
    return sscanf(arg, "%zux%zux%zu", &s->N, &s->K, &s->O) == 3 && s->N && s->K && s->O
               ? 0 : -1;
}

int main(int argc, char **argv)
{
    enum fade_isa isa = FADE_ISA_AUTO;
    unsigned threads = 1;
    int reps = 3, quick = 0;
    struct kb_shape own[16];
    size_t n_own = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
            if (fade_isa_parse(argv[++i], &isa) != 0) {
                fprintf(stderr, "kernbench: unknown ISA %s\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = (unsigned)atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else if (!strcmp(argv[i], "--shape") && i + 1 < argc && n_own < 16) {
            if (kb_parse_shape(argv[++i], &own[n_own++]) != 0) {
                fprintf(stderr, "kernbench: bad shape %s (want NxKxO)\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: kernbench [--isa NAME] [--threads N] [--reps R] "
                            "[--quick] [--shape NxKxO]...\n");
            return 2;
        }
    }
    if (threads == 0)
        threads = 1;
    if (reps < 1)
        reps = 1;
    const struct kern_ops *k = kern_get(isa);
    if (!k) {
        fprintf(stderr, "kernbench: ISA %s not available here\n", fade_isa_name(isa));
        return 1;
    }
    struct fade_pool *pool = NULL;
    if (threads > 1 && pool_create(&pool, threads) != 0) {
        fprintf(stderr, "kernbench: cannot start %u threads\n", threads);
        return 1;
    }
    double peak = 0;
    if (fade_peak_gflops(k->isa, threads, 0.2, &peak) != 0) {
        fprintf(stderr, "kernbench: peak probe failed\n");
        pool_free(pool);
        return 1;
    }
    printf("isa %s, %u thread%s, FMA peak %.1f GFLOP/s\n", k->name, threads,
           threads == 1 ? "" : "s", peak);
    const double core_peak = peak / threads;
    printf("%-13s %6s %6s %6s %10s %9s %7s %9s %7s\n", "kernel", "N", "K", "O", "ms",
           "GFLOP/s", "%peak", "GF/cpu-s", "%core");

    const struct kb_shape *shapes = n_own ? own : quick ? kb_quick : kb_paper;
    const size_t n_shapes = n_own ? n_own
                          : quick ? sizeof kb_quick / sizeof kb_quick[0]
                                  : sizeof kb_paper / sizeof kb_paper[0];
    int rc = 0;
    double total_flops = 0, total_s = 0, total_c = 0;
    for (size_t i = 0; i < n_shapes && rc == 0; i++) {
        const struct kb_shape s = shapes[i];
        float *X = kb_alloc(s.N * s.K, 1), *W = kb_alloc(s.K * s.O, 2);
        float *B = kb_alloc(s.O, 3), *Y = kb_alloc(s.N * s.O, 4);
        float *S = kb_alloc(s.N * s.O, 5);
        if (!X || !W || !B || !Y || !S) {
            fprintf(stderr, "kernbench: out of memory for %zux%zux%zu\n", s.N, s.K, s.O);
            rc = 1;
        }
        for (int w = KB_FWD; rc == 0 && w <= KB_BWD_W; w++) {
            double dc = 0;
            const double dt = kb_time(k, pool, (enum kb_kernel)w, s, reps, X, W, B, Y, S, &dc);
            const double fl = 2.0 * (double)s.N * (double)s.K * (double)s.O;
            const double gf = fl / dt * 1e-9, gc = fl / dc * 1e-9;
            printf("%-13s %6zu %6zu %6zu %10.3f %9.1f %6.1f%% %9.1f %6.1f%%\n", kb_names[w],
                   s.N, s.K, s.O, dt * 1e3, gf, 100.0 * gf / peak, gc, 100.0 * gc / core_peak);
            total_flops += fl;
            total_s += dt;
            total_c += dc;
            fflush(stdout);
        }
        free(X); free(W); free(B); free(Y); free(S);
    }
    /* Adam over a paper-sized parameter vector: memory-bound, so report
     * bytes moved (4 arrays read, 3 written). */
    const size_t na = quick ? ((size_t)1 << 20) : ((size_t)16 << 20);
    float *aw = kb_alloc(na, 6), *ag = kb_alloc(na, 7), *am = kb_alloc(na, 8);
    float *av = kb_alloc(na, 9);
    if (rc == 0 && aw && ag && am && av) {
        for (size_t i = 0; i < na; i++)
            av[i] = av[i] * av[i];
        double best = 1e30;
        for (int r = 0; r <= reps; r++) {
            const double t0 = kb_clock(CLOCK_MONOTONIC);
            k->adam(na, aw, ag, am, av, 1e-7f, 0.9f, 0.999f, 1e-3f, 1.0f, 1e-8f);
            const double dt = kb_clock(CLOCK_MONOTONIC) - t0;
            if (r > 0 && dt < best)
                best = dt;
        }
        printf("%-13s n=%-10zu %11.3f ms  %.1f GB/s\n", "adam", na, best * 1e3,
               28.0 * (double)na / best * 1e-9);
    }
    free(aw); free(ag); free(am); free(av);
    if (rc == 0 && total_s > 0) {
        const double gf = total_flops / total_s * 1e-9, gc = total_flops / total_c * 1e-9;
        printf("%-13s %20s %10.3f %9.1f %6.1f%% %9.1f %6.1f%%\n", "all", "", total_s * 1e3,
               gf, 100.0 * gf / peak, gc, 100.0 * gc / core_peak);
    }
    pool_free(pool);
    return rc;
}
