/* model_pass.c — the model's forward and backward passes for any x86-64
 * (the baseline build of model_pass.h). */
#define MDL_PASS(name) name##_generic
#include "codec/model_pass.h"
