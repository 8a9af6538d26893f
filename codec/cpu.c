/* cpu.c — which arithmetic paths (ISAs) this machine can run.
 *
 * A path is available only if the CPU reports every instruction set its
 * kernel file is compiled for AND the operating system saves the matching
 * register state (XCR0 via XGETBV); a CPU flag alone is not enough, since a
 * kernel that runs with the OS not saving the upper halves of the vector
 * registers corrupts them at the first context switch.  Answers are
 * recomputed on each call (a few CPUID instructions): no global state. */
#include <cpuid.h>
#include <stdint.h>
#include <strings.h>
#include "codec/fade.h"

/* XCR0 bits: 1 SSE, 2 AVX (upper ymm), 5 opmask, 6 upper zmm0-15, 7 zmm16-31. */
#define XCR0_AVX     0x06u
#define XCR0_AVX512  0xe6u

static uint64_t cpu_xgetbv0(void)
{
    uint32_t lo, hi;
    /* Encoded by hand: the baseline target lacks -mxsave for _xgetbv(). */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Checks for the -mavx2 -mfma build of kern_avx2.c. */
static int cpu_has_avx2(uint64_t *xcr0)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx || !fma)
        return 0;
    *xcr0 = cpu_xgetbv0();
    if ((*xcr0 & XCR0_AVX) != XCR0_AVX)
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 5) & 1;
}

/* Checks for the -mavx512f -mavx512vl -mavx512bw -mavx512dq build of
 * kern_avx512.c (which also uses AVX2 and FMA). */
static int cpu_has_avx512(void)
{
    uint64_t xcr0 = 0;
    if (!cpu_has_avx2(&xcr0))
        return 0;
    if ((xcr0 & XCR0_AVX512) != XCR0_AVX512)
        return 0;
    unsigned a, b, c, d;
    __cpuid_count(7, 0, a, b, c, d);
    const unsigned need = (1u << 16) /* F */ | (1u << 17) /* DQ */ |
                          (1u << 30) /* BW */ | (1u << 31) /* VL */;
    return (b & need) == need;
}

const char *fade_isa_name(enum fade_isa isa)
{
    switch (isa) {
    case FADE_ISA_AUTO:   return "auto";
    case FADE_ISA_SCALAR: return "scalar";
    case FADE_ISA_AVX2:   return "avx2";
    case FADE_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

int fade_isa_parse(const char *name, enum fade_isa *out)
{
    static const enum fade_isa all[] = {
        FADE_ISA_AUTO, FADE_ISA_SCALAR, FADE_ISA_AVX2, FADE_ISA_AVX512,
    };
    if (!name || !out)
        return FADE_E_INVAL;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcasecmp(name, fade_isa_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return FADE_E_INVAL;
}

int fade_isa_available(enum fade_isa isa)
{
    uint64_t xcr0;
    switch (isa) {
    case FADE_ISA_AUTO:
    case FADE_ISA_SCALAR: return 1;
    case FADE_ISA_AVX2:   return cpu_has_avx2(&xcr0);
    case FADE_ISA_AVX512: return cpu_has_avx512();
    }
    return 0;
}

enum fade_isa fade_isa_best(void)
{
    if (fade_isa_available(FADE_ISA_AVX512))
        return FADE_ISA_AVX512;
    if (fade_isa_available(FADE_ISA_AVX2))
        return FADE_ISA_AVX2;
    return FADE_ISA_SCALAR;
}
