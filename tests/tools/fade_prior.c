/* fade_prior.c — the C side of offline prior training (scripts/prior/).
 *
 *   fade_prior init  PRESET OUT        prior blob of PRESET's seeded start values
 *   fade_prior fixed PRESET OUT        the untrained tensors the trainer needs
 *                                      (raw little-endian binary32: global.full.w,
 *                                      .b, global.last.w, .b, W[in][out])
 *   fade_prior check PRESET PRIOR      validates PRIOR for PRESET, prints the model id
 *   fade_prior probe PRESET PRIOR FILE [N]
 *                                      codes the first N bytes of FILE (default
 *                                      4096) in one stream WITHOUT training and
 *                                      prints bits per byte: what the prior alone
 *                                      knows (PRIOR "-" = seeded start values);
 *                                      scripts/prior/train.py --probe prints the
 *                                      same number from its own forward pass, which
 *                                      proves both read the weights the same way.
 *   fade_prior pick  PRESET PRIOR FILE  the prior's bits per byte on FILE's first
 *                                      block as fade_block_encode measures it
 *   fade_prior size  PRESET PRIOR FILE [BLOCK]
 *                                      codes FILE as the block coder does (blocks of
 *                                      BLOCK bytes, default 1 MiB, default sub-streams,
 *                                      online training) and prints the ideal code
 *                                      length: what a prior is worth on FILE.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codec/block.h"
#include "codec/fade.h"
#include "codec/kern.h"
#include "codec/model.h"

static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    unsigned char *b = malloc(cap);
    while (b) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
        unsigned char *nb = realloc(b, cap *= 2);
        if (!nb) {
            free(b);
            b = NULL;
        }
        b = nb;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(b);
        return NULL;
    }
    *len = n;
    return b;
}

/* slurp, saying on stderr what could not be read */
static unsigned char *load(const char *path, size_t *len)
{
    unsigned char *b = slurp(path, len);
    if (!b)
        fprintf(stderr, "fade_prior: cannot read %s\n", path);
    return b;
}

static int spill(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(b, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static int probe(const struct fade_preset *p, const void *prior, size_t plen,
                 const char *file, size_t n)
{
    size_t len;
    unsigned char *data = load(file, &len);
    if (!data)
        return 1;
    if (n > len)
        n = len;
    struct mdl *m;
    int rc = mdl_create_prior(&m, p, 1, kern_get(FADE_ISA_SCALAR), NULL, prior, plen);
    if (rc < 0) {
        fprintf(stderr, "fade_prior: %s\n", fade_strerror(rc));
        free(data);
        return 1;
    }
    uint32_t freq[256];
    double bits = 0.0;
    for (size_t t = 0; t < n && rc == 0; t++) {
        rc = mdl_predict(m, 1, freq);
        if (rc == 0) {
            double b = -log2((double)freq[data[t]] / MDL_FREQ_TOTAL);
            if (t < 4)
                printf("pos %zu: %.4f bits\n", t, b);
            bits += b;
            rc = mdl_test_advance(m, 1, data + t);
        }
    }
    mdl_free(m);
    free(data);
    if (rc < 0) {
        fprintf(stderr, "fade_prior: %s\n", fade_strerror(rc));
        return 1;
    }
    printf("probe: %zu bytes, %.4f bits/byte\n", n, n ? bits / (double)n : 0.0);
    return 0;
}

/* Ideal code length (bits) of one block coded in n lock-step streams. */
static int block_bits(struct mdl *m, const unsigned char *src, size_t len, uint32_t n,
                      double *bits)
{
    uint32_t *freq = malloc((size_t)n * 256 * sizeof *freq);
    uint8_t *sym = malloc(n);
    int rc = (freq && sym) ? mdl_reset(m, n) : FADE_E_NOMEM;
    size_t steps = blk_stream_len(len, n, 0);
    for (size_t t = 0; t < steps && rc == 0; t++) {
        uint32_t act = 0;
        while (act < n && t < blk_stream_len(len, n, act))
            act++;
        rc = mdl_predict(m, act, freq);
        for (uint32_t b = 0; b < act && rc == 0; b++) {
            sym[b] = src[blk_stream_start(len, n, b) + t];
            *bits -= log2((double)freq[(size_t)b * 256 + sym[b]] / MDL_FREQ_TOTAL);
        }
        if (rc == 0)
            rc = mdl_update(m, act, sym);
    }
    free(freq);
    free(sym);
    return rc;
}

static int size_of(const struct fade_preset *p, const void *prior, size_t plen,
                   const char *file, size_t bsize)
{
    size_t len;
    unsigned char *data = load(file, &len);
    if (!data)
        return 1;
    struct mdl *m;
    int rc = mdl_create_prior(&m, p, p->max_streams, kern_get(FADE_ISA_AVX512) ?
                              kern_get(FADE_ISA_AVX512) : kern_get(FADE_ISA_SCALAR),
                              NULL, prior, plen);
    double bits = 0.0;
    for (size_t o = 0; o < len && rc == 0; o += bsize) {
        size_t n = len - o < bsize ? len - o : bsize;
        rc = block_bits(m, data + o, n, blk_default_streams(n, p->max_streams), &bits);
    }
    if (rc == 0)
        mdl_free(m);
    free(data);
    if (rc < 0) {
        fprintf(stderr, "fade_prior: %s\n", fade_strerror(rc));
        return 1;
    }
    printf("size: %s %zu bytes -> %.0f bytes, ratio %.3f\n", file, len, bits / 8,
           bits > 0 ? (double)len * 8 / bits : 0.0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: fade_prior init|fixed PRESET OUT | check PRESET PRIOR | "
                        "probe PRESET PRIOR FILE [N]\n");
        return 2;
    }
    const struct fade_preset *found = fade_preset_find(argv[2]);
    if (!found) {
        fprintf(stderr, "fade_prior: unknown preset %s\n", argv[2]);
        return 2;
    }
    /* FADE_PRIOR_LR tries another online learning rate with a prior */
    struct fade_preset tuned = *found;
    const char *lr = getenv("FADE_PRIOR_LR");
    if (lr)
        tuned.lr = strtof(lr, NULL);

    const struct fade_preset *p = &tuned;
    if (!strcmp(argv[1], "init")) {
        void *b;
        size_t n;
        if (mdl_prior_from_init(p, &b, &n) < 0 || spill(argv[3], b, n) < 0) {
            fprintf(stderr, "fade_prior: cannot write %s\n", argv[3]);
            return 1;
        }
        free(b);
        return 0;
    }
    if (!strcmp(argv[1], "fixed")) {
        float *v;
        size_t n;
        if (mdl_fixed_tensors(p, &v, &n) < 0 || spill(argv[3], v, n * sizeof *v) < 0) {
            fprintf(stderr, "fade_prior: cannot write %s\n", argv[3]);
            return 1;
        }
        free(v);
        return 0;
    }
    void *prior = NULL;
    size_t plen = 0;
    if (strcmp(argv[3], "-") != 0 && !(prior = slurp(argv[3], &plen))) {
        fprintf(stderr, "fade_prior: cannot read %s\n", argv[3]);
        return 1;
    }
    int rc = 2;
    if (!strcmp(argv[1], "check")) {
        int c = prior ? mdl_prior_check(p, prior, plen) : 0;
        if (c < 0)
            fprintf(stderr, "fade_prior: %s: %s\n", argv[3], fade_strerror(c));
        else
            printf("model id %016llx\n", (unsigned long long)mdl_model_id_prior(p, prior, plen));
        rc = c < 0;
    } else if (!strcmp(argv[1], "probe") && argc >= 5) {
        rc = probe(p, prior, plen, argv[4], argc > 5 ? strtoul(argv[5], NULL, 0) : 4096);
    } else if (!strcmp(argv[1], "pick") && argc >= 5) {
        size_t len;
        unsigned char *d = load(argv[4], &len);
        struct mdl *m = NULL;
        if (d && mdl_create_prior(&m, p, 1, kern_get(FADE_ISA_SCALAR), NULL, prior, plen) == 0) {
            printf("pick: %s %.4f bits/byte\n", argv[4],
                   mdl_probe(m, d, len < (1u << 20) ? len : 1u << 20, 1024, 4));
            rc = 0;
        }
        mdl_free(m);
        free(d);
    } else if (!strcmp(argv[1], "size") && argc >= 5) {
        rc = size_of(p, prior, plen, argv[4], argc > 5 ? strtoul(argv[5], NULL, 0) : 1u << 20);
    } else {
        fprintf(stderr, "fade_prior: bad command %s\n", argv[1]);
    }
    free(prior);
    return rc;
}
