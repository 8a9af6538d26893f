/* model_pass_avx2.c — the model's forward and backward passes built with
 * -mavx2 -mfma (same bits as model_pass.c, see model_pass.h); used only
 * where fade_isa_available(FADE_ISA_AVX2). */
#define MDL_PASS(name) name##_avx2
#include "codec/model_pass.h"
