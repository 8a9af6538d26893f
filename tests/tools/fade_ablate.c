/* fade_ablate — what each part of a mix preset pays for: codes files with
 * the preset's mixing coder with one part switched off at a time and
 * prints the coded size and CPU seconds of every variant beside the full
 * preset's.
 *
 *   fade_ablate [-m PRESET] [-b BLOCK] [-s STREAMS] [-d DIV] [-g 0|1|2] [-n] [-v NAMES] FILE...
 *
 * -d runs the network on one stream in DIV, -g 0/1/2 switches its gate off or
 * on (default: as the preset has them);
 * -n switches the network off in every variant;
 * -v keeps only the variants whose names appear in NAMES (and full).
 *
 * Sizes are the coded payloads (block headers left out, the same for every
 * variant); CPU seconds are this process's (clock(3)) for encoding, which
 * costs what decoding costs.  Output: one line per variant, and a TOTAL
 * over the files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "codec/block.h"
#include "codec/fade.h"
#include "codec/mix.h"
#include "tests/codec/codec_util.h"

static const struct { const char *name; uint32_t off; } variants[] = {
    { "full",          0 },
    { "no network",    MIX_USE_NET },
    { "no order 1",    MIX_USE_O1 },
    { "no order 2",    MIX_USE_O2 },
    { "no order 3",    MIX_USE_O3 },
    { "no order 4",    MIX_USE_O4 },
    { "no order 5",    MIX_USE_O5 },
    { "no order 6",    MIX_USE_O6 },
    { "no word",       MIX_USE_WORD },
    { "no word pair",  MIX_USE_WORD2 },
    { "no sparse",     MIX_USE_SPARSE },
    { "no records",    MIX_USE_REC_A | MIX_USE_REC_B },
    { "no row",        MIX_USE_ROW },
    { "no match",      MIX_USE_MATCH },
    { "no APM",        MIX_USE_APM },
    { "no histories",  MIX_USE_HIST },
};
#define N_VAR (sizeof variants / sizeof variants[0])

int main(int argc, char **argv)
{
    const char *preset = fade_preset_default();
    size_t block = 1u << 20;
    uint32_t streams = 0, div = 0, base = MIX_ALL;
    int gate = -1;
    const char *only = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc)
            preset = argv[++i];
        else if (!strcmp(argv[i], "-b") && i + 1 < argc)
            block = strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            div = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "-g") && i + 1 < argc)
            gate = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-n"))
            base &= ~(uint32_t)MIX_USE_NET;
        else if (!strcmp(argv[i], "-v") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            streams = (uint32_t)strtoul(argv[++i], NULL, 0);
        else {
            fprintf(stderr, "usage: fade_ablate [-m PRESET] [-b BLOCK] [-s STREAMS] [-d DIV] [-g 0|1|2] [-n] [-v NAMES] FILE...\n");
            return 2;
        }
    }
    if (i >= argc || block == 0 || block > FADE_BLOCK_MAX_RAW) {
        fprintf(stderr, "usage: fade_ablate [-m PRESET] [-b BLOCK] [-s STREAMS] [-d DIV] [-g 0|1|2] [-n] [-v NAMES] FILE...\n");
        return 2;
    }
    const struct fade_preset *p = fade_preset_find(preset);
    if (!p || !p->mix) {
        fprintf(stderr, "fade_ablate: %s is not a mix preset\n", preset);
        return 2;
    }
    struct fade_ctx_params cp = { .preset = preset };
    fade_ctx *ctx;
    int rc = fade_ctx_create(&ctx, &cp);
    if (rc < 0) {
        fprintf(stderr, "fade_ablate: %s\n", fade_strerror(rc));
        return 1;
    }
    uint64_t tot[N_VAR] = {0};
    double cpu[N_VAR] = {0};
    uint64_t raw = 0;
    printf("# fade_ablate: preset %s, block %zu, streams %s\n", preset, block,
           streams ? "fixed" : "preset's");
    for (; i < argc; i++) {
        size_t len = 0;
        uint8_t *buf = tu_read_file(argv[i], &len);
        if (!buf) {
            fprintf(stderr, "fade_ablate: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        raw += len;
        for (size_t v = 0; v < N_VAR; v++) {
            if (only && v && !strstr(only, variants[v].name))
                continue;
            uint64_t sz = 0;
            clock_t t0 = clock();
            for (size_t off = 0; off < len; off += block) {
                size_t n = len - off < block ? len - off : block;
                uint32_t s = streams ? streams : blk_preset_streams(p, n);
                if (s > n)
                    s = (uint32_t)n;
                ssize_t r = blk_mix_trial(ctx, preset, base & ~variants[v].off, div, gate,
                                          buf + off, n, s);
                if (r < 0) {
                    fprintf(stderr, "fade_ablate: %s: %s\n", argv[i], fade_strerror((int)r));
                    return 1;
                }
                sz += (uint64_t)r;
            }
            double c = (double)(clock() - t0) / CLOCKS_PER_SEC;
            tot[v] += sz;
            cpu[v] += c;
            printf("%-32s %-12s %10zu %10llu %7.3f %6.2f s\n", argv[i], variants[v].name, len,
                   (unsigned long long)sz, (double)len / (double)sz, c);
            fflush(stdout);
        }
        free(buf);
    }
    for (size_t v = 0; v < N_VAR; v++)
        if (!only || !v || strstr(only, variants[v].name))
            printf("TOTAL %-12s %10llu %10llu %7.3f %+6.2f%% %7.2f s\n", variants[v].name,
               (unsigned long long)raw, (unsigned long long)tot[v],
               (double)raw / (double)tot[v],
               100.0 * ((double)tot[v] / (double)tot[0] - 1.0), cpu[v]);
    fade_ctx_free(ctx);
    return 0;
}
