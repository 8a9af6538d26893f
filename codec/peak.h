/* peak.h — measures this machine's fused multiply-add peak, the yardstick
 * against which the kernels' GFLOP/s are reported (benchmarks, `fade
 * bench`).  The probe runs register-only FMA loops with many independent
 * accumulators, so it is limited by the FMA units alone, never by memory. */
#ifndef FADE_PEAK_H
#define FADE_PEAK_H

#include "codec/fade.h"

/* Runs the probe for `isa` (FADE_ISA_AUTO = best; FADE_ISA_SCALAR is
 * measured with scalar multiply-add pairs, one lane) on n_threads threads
 * (0 = 1) for about `seconds` of CPU time each (<= 0: 0.2 s) and stores
 * the rate in GFLOP/s
 * (an FMA counts 2) in *gflops.  Each thread's rate is taken over its own
 * CPU time, so the figure is what n_threads cores deliver while they run,
 * even on a busy machine; give at most one thread per core.  Returns 0,
 * FADE_E_UNSUPPORTED if the ISA is not available, FADE_E_INVAL, or
 * FADE_E_NOMEM if threads could not be started.  Thread-safe; blocks the
 * caller for the duration. */
int fade_peak_gflops(enum fade_isa isa, unsigned n_threads, double seconds,
                     double *gflops);

#endif /* FADE_PEAK_H */
