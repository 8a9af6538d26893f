/* kern.c — picks the kernel vtable for an ISA, after checking that this
 * machine can run it (cpu.c). */
#include <stddef.h>
#include "codec/kern.h"
#include "codec/err.h"
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

/* Whether k has op and takes it for p. */
static int takes(const struct kern_ops *k, enum kern_op op, const struct fade_preset *p,
                 const void *fn)
{
    if (!fn)
        return 0;
    if (k->version >= KERN_V2 && k->supports)
        return k->supports(op, p) == 0;
    return 1;
}

int kern_bind(const struct kern_ops *k, const struct fade_preset *p, struct kern_ops *out)
{
    if (!k || !p || !out || k->version < KERN_V1 || k->version > KERN_V2)
        return FADE_E_INVAL;
    const struct kern_ops *s = &kern_scalar_ops;
    int replaced = 0;
    *out = *s;
    out->isa = k->isa;
    out->name = k->name;
    out->supports = NULL;
#define BIND(OP, field)                                     \
    do {                                                    \
        if (takes(k, OP, p, (const void *)k->field))        \
            out->field = k->field;                          \
        else                                                \
            replaced++;                                     \
    } while (0)
    BIND(KERN_OP_LINEAR_FWD, linear_fwd);
    BIND(KERN_OP_LINEAR_BWD_X, linear_bwd_x);
    BIND(KERN_OP_LINEAR_BWD_W, linear_bwd_w);
    BIND(KERN_OP_ADAM, adam);
#undef BIND
    out->version = KERN_V2;
    return replaced;
}
