/* preset.c — the table of model presets (dimensions and training
 * settings), smallest first, and their lookup.
 *
 * A preset's dimensions, with the initial weights derived from them,
 * define a model id that blocks name; changing a row changes that id and
 * makes existing blocks of the preset undecodable, so rows are only ever
 * appended (golden tests pin the ids). */
#include <string.h>
#include "codec/fade.h"
#include "codec/model.h"

/* Bytes the match presets hash (docs/BENCHMARKS.md, "Match stage"). */
#define MATCH_MIN 5
/* The default mix preset runs the network on one stream in NET_DIV
 * (docs/BENCHMARKS.md, "Mix presets"). */
#define NET_DIV 1

static const struct fade_preset presets[] = {
    /* name      T   D     G   L     F   H  streams upd  lr     prior      fallback  match */
    { "tiny",    4,  8,   64,  8,   64, 16,   64,  1, 1e-3f, NULL, NULL, 0, 0, 0, 0 },   /* tests */
    { "small",   8, 16,  512, 32,  512, 32,  256,  1, 1e-3f, NULL, NULL, 0, 0, 0, 0 },
    { "medium", 16, 16, 1024, 32, 1024, 64,  256,  1, 1e-3f, NULL, NULL, 0, 0, 0, 0 },
    { "large",  16, 32, 2048, 64, 2048, 64,  512,  1, 1e-3f, NULL, NULL, 0, 0, 0, 0 },
    { "paper",  16, 32, 4096, 64, 8192, 64,  512,  1, 1e-3f, NULL, NULL, 0, 0, 0, 0 },   /* DESIGN.md */
    /* small's dimensions, started from weights trained offline */
    { "primed",  8, 16,  512, 32,  512, 32,  256,  1, 2e-4f, "primed1", "small", 0, 0, 0, 0 },
    /* small and primed followed by the match stage (codec/match.h); tiny
     * with it is for tests and fuzzing */
    { "tiny-match",   4,  8,  64,  8,  64, 16,  64, 1, 1e-3f, NULL, NULL, MATCH_MIN, 0, 0, 0 },
    { "small-match",  8, 16, 512, 32, 512, 32, 256, 1, 1e-3f, NULL, NULL, MATCH_MIN, 0, 0, 0 },
    { "primed-match", 8, 16, 512, 32, 512, 32, 256, 1, 2e-4f, "primed1", "small-match",
      MATCH_MIN, 0, 0, 0 },
    /* The mix stage (codec/mix.h) around a network: the default runs tiny
     * on a share of the streams while it pays; max runs small on every
     * stream and step.  mix1 and max1 are the same with version 1 of the
     * stage, kept so that their blocks decode. */
    { "mix1",    4,  8,   64,  8,   64, 16,  256, 1, 1e-3f, NULL, NULL, 0, 1, NET_DIV, 1 },
    { "max1",    8, 16,  512, 32,  512, 32,  256, 1, 1e-3f, NULL, NULL, 0, 1, 1, 0 },
    { "mix",     4,  8,   64,  8,   64, 16,  256, 1, 1e-3f, NULL, NULL, 0, 2, NET_DIV, 1 },
    { "max",     8, 16,  512, 32,  512, 32,  256, 1, 1e-3f, NULL, NULL, 0, 2, 1, 0 },
};

#define N_PRESETS (sizeof presets / sizeof presets[0])

/* The preset used when none is named (decided by measurement). */
static const char default_preset[] = "mix";

const struct fade_preset *fade_preset_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_PRESETS; i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}

const struct fade_preset *fade_preset_at(unsigned i)
{
    return i < N_PRESETS ? &presets[i] : NULL;
}

const char *fade_preset_default(void)
{
    return default_preset;
}

uint64_t fade_preset_model_id(const struct fade_preset *p)
{
    return mdl_model_id(p);
}
