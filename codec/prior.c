/* prior.c — embeds the prior weight files of codec/prior/ (prior.h).
 *
 * The bytes are pulled in by the assembler's .incbin so that no generated
 * source is needed; the Makefile makes this object depend on the .bin
 * files.  Symbols are hidden: they are reached only through the table. */
#include <stdint.h>
#include <string.h>
#include "codec/fade.h"
#include "codec/prior.h"

#define PRIOR_EMBED(sym, file)                                              \
    __asm__(".section .rodata\n"                                            \
            ".balign 16\n"                                                  \
            ".globl " #sym "_begin\n.hidden " #sym "_begin\n"               \
            #sym "_begin:\n"                                                \
            ".incbin \"" file "\"\n"                                        \
            ".globl " #sym "_end\n.hidden " #sym "_end\n"                   \
            #sym "_end:\n"                                                  \
            ".previous\n");                                                 \
    extern const uint8_t sym##_begin[], sym##_end[]

PRIOR_EMBED(fade_prior_primed1, "codec/prior/primed1.bin");

static const struct {
    const char *name;
    const uint8_t *begin, *end;
} priors[] = {
    { "primed1", fade_prior_primed1_begin, fade_prior_primed1_end },
};

int fade_prior_find(const char *name, const void **blob, size_t *len)
{
    if (!name || !blob || !len)
        return FADE_E_INVAL;
    for (size_t i = 0; i < sizeof priors / sizeof priors[0]; i++)
        if (strcmp(priors[i].name, name) == 0) {
            *blob = priors[i].begin;
            *len = (size_t)(priors[i].end - priors[i].begin);
            return 0;
        }
    return FADE_E_UNKNOWN_MODEL;
}
