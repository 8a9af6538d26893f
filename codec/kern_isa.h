/* kern_isa.h — private links between the ISA-neutral code (kern.c, peak.c)
 * and the per-ISA kernel files.  Nothing declared here may be called
 * unless fade_isa_available() said yes for its ISA: the code behind it is
 * compiled with -mavx2 / -mavx512f and faults on older CPUs. */
#ifndef FADE_KERN_ISA_H
#define FADE_KERN_ISA_H

#include <stdint.h>
#include "codec/kern.h"

extern const struct kern_ops kern_avx2_ops;
extern const struct kern_ops kern_avx512_ops;

/* Register-only FMA loops for the peak probe (peak.c): run `iters`
 * iterations of a fixed number of independent vector FMAs and return a
 * value that depends on all of them (so nothing is optimised away).
 * *flops_per_iter receives the floating-point operations per iteration
 * (an FMA counts 2 per lane). */
float kern_avx2_fma_burst(uint64_t iters, double *flops_per_iter);
float kern_avx512_fma_burst(uint64_t iters, double *flops_per_iter);

#endif /* FADE_KERN_ISA_H */
