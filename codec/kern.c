/* kern.c — picks the kernel vtable for an ISA, after checking that this
 * machine can run it (cpu.c). */
#include <stddef.h>
#include "codec/kern.h"
#include "codec/kern_isa.h"

const struct kern_ops *kern_get(enum fade_isa isa)
{
    if (isa == FADE_ISA_AUTO)
        isa = fade_isa_best();
    if (!fade_isa_available(isa))
        return NULL;
    switch (isa) {
    case FADE_ISA_SCALAR: return &kern_scalar_ops;
    case FADE_ISA_AVX2:   return &kern_avx2_ops;
    case FADE_ISA_AVX512: return &kern_avx512_ops;
    case FADE_ISA_AUTO:   break;
    }
    return NULL;
}
