/* preset.c — the table of model presets (dimensions and training
 * settings), smallest first, and their lookup.
 *
 * A preset's dimensions, with the initial weights derived from them,
 * define a model id that blocks name; changing a row changes that id and
 * makes existing blocks of the preset undecodable, so rows are only ever
 * appended (golden tests pin the ids). */
#include <string.h>
#include "codec/fade.h"
#include "codec/mix.h"
#include "codec/model.h"
#include "codec/preset.h"

/* Bytes the match presets hash (docs/BENCHMARKS.md, "Match stage"). */
#define MATCH_MIN 5
/* The default mix preset runs the network on one stream in NET_DIV
 * (docs/BENCHMARKS.md, "Mix presets"). */
#define NET_DIV 1

static const struct fade_preset presets[] = {
    /* name      T   D     G   L     F   H  streams upd  lr     prior      fallback  match mix div gate slots tbits one */
    { "tiny",    4,  8,   64,  8,   64, 16,   64,  1, 1e-3f, NULL, NULL, 0, 0, 0, 0, 0, 0, 0 },   /* tests */
    { "small",   8, 16,  512, 32,  512, 32,  256,  1, 1e-3f, NULL, NULL, 0, 0, 0, 0, 0, 0, 0 },
    { "medium", 16, 16, 1024, 32, 1024, 64,  256,  1, 1e-3f, NULL, NULL, 0, 0, 0, 0, 0, 0, 0 },
    { "large",  16, 32, 2048, 64, 2048, 64,  512,  1, 1e-3f, NULL, NULL, 0, 0, 0, 0, 0, 0, 0 },
    { "paper",  16, 32, 4096, 64, 8192, 64,  512,  1, 1e-3f, NULL, NULL, 0, 0, 0, 0, 0, 0, 0 },   /* DESIGN.md */
    /* small's dimensions, started from weights trained offline */
    { "primed",  8, 16,  512, 32,  512, 32,  256,  1, 2e-4f, "primed1", "small", 0, 0, 0, 0, 0, 0, 0 },
    /* small and primed followed by the match stage (codec/match.h); tiny
     * with it is for tests and fuzzing */
    { "tiny-match",   4,  8,  64,  8,  64, 16,  64, 1, 1e-3f, NULL, NULL, MATCH_MIN, 0, 0, 0, 0, 0, 0 },
    { "small-match",  8, 16, 512, 32, 512, 32, 256, 1, 1e-3f, NULL, NULL, MATCH_MIN, 0, 0, 0, 0, 0, 0 },
    { "primed-match", 8, 16, 512, 32, 512, 32, 256, 1, 2e-4f, "primed1", "small-match",
      MATCH_MIN, 0, 0, 0, 0, 0, 0 },
    /* The mix stage (codec/mix.h) around a network: the default (mix)
     * runs tiny in one stream a block while it pays (gate 2); max runs tiny
     * in one stream on every step.  mix1 .. mix3 are the default with
     * versions 1 to 3 of the stage, mix4 with version 4 and gate 1 (which
     * tried the network more often for the same bytes); max1 .. max4 run
     * small on every step of 64 KiB streams beside versions 1 to 4 (max's
     * form before one stream beat it: docs/BENCHMARKS.md).  They are kept
     * so that their blocks decode. */
    { "mix1",    4,  8,   64,  8,   64, 16,  256, 1, 1e-3f, NULL, NULL, 0, 1, NET_DIV, 1, 0, 0, 1 },
    { "max1",    8, 16,  512, 32,  512, 32,  256, 1, 1e-3f, NULL, NULL, 0, 1, 1, 0, 0, 0, 0 },
    { "mix2",    4,  8,   64,  8,   64, 16,  256, 1, 1e-3f, NULL, NULL, 0, 2, NET_DIV, 1, 0, 0, 1 },
    { "max2",    8, 16,  512, 32,  512, 32,  256, 1, 1e-3f, NULL, NULL, 0, 2, 1, 0, 0, 0, 0 },
    { "mix3",    4,  8,   64,  8,   64, 16,  256, 1, 1e-3f, NULL, NULL, 0, 3, NET_DIV, 1, 0, 0, 1 },
    { "max3",    8, 16,  512, 32,  512, 32,  256, 1, 1e-3f, NULL, NULL, 0, 3, 1, 0, 0, 0, 0 },
    { "mix4",    4,  8,   64,  8,   64, 16,  256, 1, 1e-3f, NULL, NULL, 0, 4, NET_DIV, 1, 0, 0, 1 },
    { "max4",    8, 16,  512, 32,  512, 32,  256, 1, 1e-3f, NULL, NULL, 0, 4, 1, 0, 0, 0, 0 },
    { "max",     4,  8,   64,  8,   64, 16,  256, 1, 1e-3f, NULL, NULL, 0, 4, 1, 0, 3, MIX_TBITS_MAX, 1 },
    { "mix",     4,  8,   64,  8,   64, 16,  256, 1, 1e-3f, NULL, NULL, 0, 4, NET_DIV, 2, 0, 0, 1 },
};

#define N_PRESETS (sizeof presets / sizeof presets[0])

/* Each row's model id, in the table's order (preset.h). */
static const uint64_t pinned_ids[] = {
    0xd505786b608b2b0cull, 0x0430d1cf99ab0c56ull, 0xa7e44980ebe92ebfull,   /* tiny small medium */
    0x1ce5d5c2792cc5d2ull, 0xd9088893c3a887dcull, 0xbaa30014ecbd36bfull,   /* large paper primed */
    0xd5b25899d6cf78ceull, 0x1bb7792271b50e0eull, 0xbaeab7c40ea49457ull,   /* *-match */
    0x3e6d728c91710cc7ull, 0xcbbcef54fce3c766ull,                          /* mix1 max1 */
    0xb5a25cb1b2cae8a4ull, 0x93c64983bed9a441ull,                          /* mix2 max2 */
    0x2b409014ebb547b9ull, 0x309b1fc6c065ac60ull,                          /* mix3 max3 */
    0xd47e4c9750a397d6ull, 0x3c7972e71e0ecf1bull,                          /* mix4 max4 */
    0x25dab7549ed07eedull, 0x7d000e2365257b25ull,                          /* max mix */
};
_Static_assert(sizeof pinned_ids / sizeof pinned_ids[0] == N_PRESETS, "one pinned id a row");

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

uint64_t preset_pinned_id(const struct fade_preset *p)
{
    for (size_t i = 0; i < N_PRESETS; i++)
        if (p == &presets[i])
            return pinned_ids[i];
    return 0;
}
