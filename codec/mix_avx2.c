/* mix_avx2.c — the mixing coder's per-byte work built with -mavx2 (same
 * bits as the build in mix.c, see mix_code.h); used only where
 * fade_isa_available(FADE_ISA_AVX2). */
#include "codec/block.h"
#include "codec/err.h"
#include "codec/fade.h"

#define MIX_CODE(name) name##_avx2
#include "codec/mix_code.h"
