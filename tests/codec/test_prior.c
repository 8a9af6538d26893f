/* test_prior.c — prior weights: the loader puts every value where the
 * seeded start would, damaged blobs are refused, the built-in prior is
 * pinned, and the primed preset picks its fallback for data it does not
 * know while every block still round-trips. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "codec/bytes.h"
#include "codec/fade.h"
#include "codec/kern.h"
#include "codec/model.h"
#include "codec/prior.h"
#include "tests/codec/codec_util.h"

#define PRIMED1_CRC 0x48674bc7u
#define PRIMED_MODEL_ID 0xbaa30014ecbd36bfull

/* A prior holding the seeded start values must give a one-stream model
 * the very logits the seeded model has: the loader's order and layout are
 * those of the generator (stream 0's U and bias are the prior's). */
Test(prior, init_prior_matches_seeded_model)
{
    const struct fade_preset *p = fade_preset_find("tiny");
    void *blob;
    size_t len;
    cr_assert_eq(mdl_prior_from_init(p, &blob, &len), 0);
    cr_assert_eq(mdl_prior_check(p, blob, len), 0);
    struct mdl *a, *b;
    cr_assert_eq(mdl_create(&a, p, 1, &kern_scalar_ops, NULL), 0);
    cr_assert_eq(mdl_create_prior(&b, p, 1, &kern_scalar_ops, NULL, blob, len), 0);
    cr_assert_eq(mdl_test_n_params(a), mdl_test_n_params(b));
    cr_assert_eq(memcmp(mdl_test_params(a), mdl_test_params(b),
                        mdl_test_n_params(a) * sizeof(float)), 0);
    /* one stream: every hashed value is the same, so the ids agree only
     * if tiny had one stream; it has more, so they must differ */
    cr_expect_neq(mdl_get_model_id(a), mdl_get_model_id(b));
    cr_expect_eq(mdl_get_model_id(b), mdl_model_id_prior(p, blob, len));
    uint32_t fa[256], fb[256];
    const uint8_t text[] = "prior weights load where the generator puts them";
    for (size_t t = 0; t < sizeof text - 1; t++) {
        cr_assert_eq(mdl_predict(a, 1, fa), 0);
        cr_assert_eq(mdl_predict(b, 1, fb), 0);
        cr_assert_eq(memcmp(fa, fb, sizeof fa), 0, "step %zu", t);
        cr_assert_eq(mdl_update(a, 1, text + t), 0);
        cr_assert_eq(mdl_update(b, 1, text + t), 0);
    }
    mdl_free(a);
    mdl_free(b);
    free(blob);
}

Test(prior, damaged_blobs_are_refused)
{
    const struct fade_preset *p = fade_preset_find("tiny");
    const struct fade_preset *other = fade_preset_find("small");
    void *blob;
    size_t len;
    cr_assert_eq(mdl_prior_from_init(p, &blob, &len), 0);
    uint8_t *b = blob;
    struct mdl *m = NULL;
    /* made for other dimensions */
    cr_expect_eq(mdl_create_prior(&m, other, 1, &kern_scalar_ops, NULL, blob, len), FADE_E_CORRUPT);
    /* truncated, extended, each byte flipped in turn (sampled) */
    cr_expect_eq(mdl_prior_check(p, blob, len - 1), FADE_E_CORRUPT);
    cr_expect_eq(mdl_prior_check(p, blob, 8), FADE_E_CORRUPT);
    for (size_t i = 0; i < len; i += 1 + i / 3) {
        b[i] ^= 0x10;
        cr_expect_eq(mdl_prior_check(p, blob, len), FADE_E_CORRUPT, "byte %zu", i);
        b[i] ^= 0x10;
    }
    cr_expect_eq(mdl_prior_check(p, blob, len), 0);
    cr_expect_null(m);
    free(blob);
}

/* The built-in prior is part of the format: a block names it through the
 * model id, so its bytes must never change.  Pinned: its CRC32C and the
 * id of the preset that uses it. */
Test(prior, builtin_prior_is_pinned)
{
    const void *blob;
    size_t len;
    cr_assert_eq(fade_prior_find("primed1", &blob, &len), 0);
    cr_expect_eq(fade_prior_find("no-such-prior", &blob, &len), FADE_E_UNKNOWN_MODEL);
    cr_assert_eq(fade_prior_find("primed1", &blob, &len), 0);
    const struct fade_preset *p = fade_preset_find("primed");
    cr_assert_not_null(p);
    cr_assert_eq(mdl_prior_check(p, blob, len), 0);
    cr_expect_eq(len, 1310260u);
    cr_expect_eq(fade_crc32c(0, blob, len), PRIMED1_CRC, "crc %08x",
                 fade_crc32c(0, blob, len));
    cr_expect_eq(fade_preset_model_id(p), PRIMED_MODEL_ID, "id %016llx",
                 (unsigned long long)fade_preset_model_id(p));
    cr_expect_neq(fade_preset_model_id(p), fade_preset_model_id(fade_preset_find("small")));
}

static uint64_t block_model(const uint8_t *blk, size_t n)
{
    struct fade_block_info info;
    cr_assert_eq(fade_block_info(blk, n, &info), 0);
    return info.codec == FADE_CODEC_FADE ? info.model_id : 0;
}

/* Text the prior knows is coded with the primed model; random bytes are
 * not, so the encoder falls back to `small` (and then stores them raw,
 * since nothing shrinks them); a binary-looking but compressible input
 * (a byte ramp with noise) goes to the fallback and still shrinks.  Every
 * block decodes to its input. */
Test(prior, primed_preset_picks_model_per_block)
{
    fade_ctx *c;
    struct fade_ctx_params prm = {.preset = "primed"};
    cr_assert_eq(fade_ctx_create(&c, &prm), 0);
    const uint64_t primed = fade_preset_model_id(fade_preset_find("primed"));
    const uint64_t small = fade_preset_model_id(fade_preset_find("small"));

    size_t got;
    uint8_t *text = tu_corpus_slice("alice29.txt", 20000, 6000, &got);
    cr_assert_not_null(text, "corpus not found");
    uint8_t ramp[6000];
    uint64_t s = 7;
    for (size_t i = 0; i < sizeof ramp; i++)
        ramp[i] = (uint8_t)((i * 37) >> 4) ^ (uint8_t)(tu_rnd(&s) & 1) ^ (uint8_t)(i % 251 == 0);

    const uint8_t *in[] = { text, ramp };
    const size_t n_in[] = { got, sizeof ramp };
    const uint64_t want[] = { primed, small };
    for (int k = 0; k < 2; k++) {
        size_t cap = fade_block_bound(n_in[k], 0);
        uint8_t *blk = malloc(cap), *back = malloc(n_in[k]);
        cr_assert(blk && back);
        ssize_t n = fade_block_encode(c, blk, cap, in[k], n_in[k]);
        cr_assert_gt(n, 0);
        cr_expect_lt((size_t)n, n_in[k], "input %d did not shrink", k);
        cr_expect_eq(block_model(blk, (size_t)n), want[k], "input %d: model %016llx", k,
                     (unsigned long long)block_model(blk, (size_t)n));
        fade_ctx *d;
        cr_assert_eq(fade_ctx_create(&d, NULL), 0);
        cr_assert_eq(fade_block_decode(d, back, n_in[k], blk, (size_t)n), (ssize_t)n_in[k]);
        cr_expect_eq(memcmp(back, in[k], n_in[k]), 0);
        fade_ctx_free(d);
        free(blk);
        free(back);
    }
    free(text);
    fade_ctx_free(c);
}

/* The probe ranks what the prior knows: text well under the threshold the
 * encoder uses, random bytes near 8 bits. */
Test(prior, probe_separates_text_from_noise)
{
    struct mdl *m;
    cr_assert_eq(mdl_create(&m, fade_preset_find("primed"), 1, kern_get(FADE_ISA_AUTO), NULL), 0);
    size_t got;
    uint8_t *text = tu_corpus_slice("lcet10.txt", 0, 16384, &got);
    cr_assert_not_null(text);
    uint8_t noise[16384];
    tu_fill_random(noise, sizeof noise, 3);
    float bt = mdl_probe(m, text, got, 1024, 4);
    float bn = mdl_probe(m, noise, sizeof noise, 1024, 4);
    cr_expect(bt > 0.5f && bt < 4.5f, "text %.3f bits/byte", bt);
    cr_expect(bn > 7.0f, "noise %.3f bits/byte", bn);
    cr_expect_eq(mdl_probe(m, text, 0, 1024, 4), -1.0f);
    free(text);
    mdl_free(m);
}
