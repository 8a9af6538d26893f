/* test_model.c — the FADE model (codec/model*.c, codec/preset.c): analytic
 * gradients against finite differences, determinism, the frequency rule,
 * online learning, shrinking stream counts, model ids. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "codec/kern.h"
#include "codec/model.h"
#include "codec/pool.h"
#include "codec/preset.h"

#define V 256

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static double urand(uint64_t *s) { return (double)(rnd(s) >> 11) * 0x1p-53; }

static struct mdl *make(const struct fade_preset *p, uint32_t streams, const struct kern_ops *k,
                        struct fade_pool *pool)
{
    struct mdl *m = NULL;
    cr_assert_eq(mdl_create(&m, p, streams, k, pool), 0);
    cr_assert_not_null(m);
    return m;
}

static const struct fade_preset *tiny(void)
{
    const struct fade_preset *p = fade_preset_find("tiny");
    cr_assert_not_null(p);
    return p;
}

/* Checks the frequency table invariants of model.h for n rows. */
static void check_freq(const uint32_t *f, uint32_t n)
{
    for (uint32_t b = 0; b < n; b++) {
        uint64_t sum = 0;
        for (int s = 0; s < V; s++) {
            cr_assert_geq(f[b * V + s], 1u, "stream %u sym %d", b, s);
            sum += f[b * V + s];
        }
        cr_assert_eq(sum, MDL_FREQ_TOTAL, "stream %u sum %llu", b, (unsigned long long)sum);
    }
}

/* Mean cross-entropy of the current logits in double (the test's own
 * reference, so libm is fine here). */
static double loss_of(struct mdl *m, uint32_t n, const uint8_t *sym)
{
    cr_assert_eq(mdl_test_forward(m, n), 0);
    const float *l = mdl_test_logits(m);
    double tot = 0;
    for (uint32_t b = 0; b < n; b++) {
        double mx = l[b * V];
        for (int s = 1; s < V; s++)
            if (l[b * V + s] > mx)
                mx = l[b * V + s];
        double z = 0;
        for (int s = 0; s < V; s++)
            z += exp((double)l[b * V + s] - mx);
        tot += log(z) + mx - (double)l[b * V + sym[b]];
    }
    return tot / n;
}

/* Runs `steps` predict+update steps of random bytes on streams 0..n-1. */
static void run_random(struct mdl *m, uint32_t n, int steps, uint64_t seed)
{
    uint32_t *f = malloc(sizeof(uint32_t) * V * n);
    uint8_t *sym = malloc(n);
    cr_assert(f && sym);
    for (int i = 0; i < steps; i++) {
        cr_assert_eq(mdl_predict(m, n, f), 0);
        for (uint32_t b = 0; b < n; b++)
            sym[b] = (uint8_t)rnd(&seed);
        cr_assert_eq(mdl_update(m, n, sym), 0);
    }
    free(f);
    free(sym);
}

Test(model, gradient_matches_finite_differences)
{
    const uint32_t N = 3;
    struct mdl *m = make(tiny(), N, &kern_scalar_ops, NULL);
    cr_assert_eq(mdl_reset(m, N), 0);
    /* some history, so contexts and caches are not the initial ones */
    run_random(m, N, 6, 11);

    /* move every weight off its special initial value (LayerNorm 1/0,
     * tiny N(0, 0.01) tensors) so every path carries an O(1) gradient */
    uint64_t seed = 99;
    float *w = mdl_test_params(m);
    size_t nt = mdl_test_n_tensors();
    struct mdl_tensor t;
    for (size_t i = 0; i < nt; i++) {
        cr_assert_eq(mdl_test_tensor(m, i, &t), 0);
        for (size_t c = 0; c < t.count; c++)
            for (size_t j = 0; j < t.size; j++)
                w[t.offset + c * t.stride + j] += (float)(0.3 * (urand(&seed) - 0.5));
    }
    uint8_t sym[3] = { 7, 200, 'a' };
    cr_assert_eq(mdl_test_backward(m, N, sym), 0);
    size_t np = mdl_test_n_params(m);
    float *ga = malloc(np * sizeof(float));
    cr_assert_not_null(ga);
    memcpy(ga, mdl_test_grads(m), np * sizeof(float));

    int checked = 0, bad = 0;
    for (size_t i = 0; i < nt; i++) {
        cr_assert_eq(mdl_test_tensor(m, i, &t), 0);
        size_t copies = t.count > 1 ? N : 1;   /* active streams only */
        int tensor_nonzero = 0;
        for (size_t c = 0; c < copies; c++)
            for (int q = 0; q < 5; q++) {
                size_t j = q == 0 ? 0 : (size_t)(rnd(&seed) % t.size);
                /* embedding rows of bytes in no context get exactly zero
                 * (embedding_gradient_used_rows checks that): probe the
                 * used rows, found from the analytic gradient */
                if (strcmp(t.name, "embed") == 0)
                    for (size_t tries = 0; tries < t.size && ga[t.offset + j] == 0.0f; tries++)
                        j = (j + 1) % t.size;
                size_t at = t.offset + c * t.stride + j;
                float w0 = w[at];
                double h = 4e-3 * (fabs(w0) > 1 ? fabs(w0) : 1);
                w[at] = (float)(w0 + h);
                double hp = (double)w[at] - w0;
                double lp = loss_of(m, N, sym);
                w[at] = (float)(w0 - h);
                double hm = w0 - (double)w[at];
                double lm = loss_of(m, N, sym);
                w[at] = w0;
                double fd = (lp - lm) / (hp + hm);
                double an = ga[at];
                double tol = 4e-5 + 0.01 * fabs(fd);
                if (fabs(an) > 1e-3)
                    tensor_nonzero = 1;
                checked++;
                if (getenv("FADE_TEST_VERBOSE"))
                    cr_log_info("%s[%zu] copy %zu: analytic %.6g, numeric %.6g", t.name, j, c,
                                an, fd);
                if (fabs(an - fd) > tol) {
                    bad++;
                    cr_log_error("%s[%zu] copy %zu: analytic %.6g, numeric %.6g",
                                 t.name, j, c, an, fd);
                }
            }
        cr_expect(tensor_nonzero, "tensor %s got no gradient", t.name);
    }
    cr_expect_eq(bad, 0, "%d of %d gradient entries disagree", bad, checked);
    free(ga);
    mdl_free(m);
}

Test(model, embedding_gradient_used_rows)
{
    /* the rows of bytes in the contexts get gradient, the others exactly 0 */
    const uint32_t N = 2;
    struct mdl *m = make(tiny(), N, &kern_scalar_ops, NULL);
    uint32_t f[2 * V];
    uint8_t a[2] = { 'x', 'y' };
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(mdl_predict(m, N, f), 0);
        cr_assert_eq(mdl_update(m, N, a), 0);
    }
    uint8_t sym[2] = { 1, 2 };
    cr_assert_eq(mdl_test_backward(m, N, sym), 0);
    struct mdl_tensor t;
    cr_assert_eq(mdl_test_tensor(m, 0, &t), 0);
    cr_assert_str_eq(t.name, "embed");
    const float *g = mdl_test_grads(m) + t.offset;
    size_t D = t.size / V;
    for (int r = 0; r < V; r++) {
        int used = r == 'x' || r == 'y';
        int nz = 0;
        for (size_t d = 0; d < D; d++)
            nz |= g[r * D + d] != 0.0f;
        cr_expect_eq(nz, used, "row %d", r);
    }
    mdl_free(m);
}

Test(model, deterministic_and_reset_restores)
{
    const uint32_t N = 8;
    struct mdl *a = make(tiny(), N, &kern_scalar_ops, NULL);
    struct mdl *b = make(tiny(), N, &kern_scalar_ops, NULL);
    uint32_t *fa = malloc(sizeof(uint32_t) * V * N), *fb = malloc(sizeof(uint32_t) * V * N);
    uint32_t *first = malloc(sizeof(uint32_t) * V * N * 50);
    cr_assert(fa && fb && first);
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(mdl_reset(a, N), 0);
        cr_assert_eq(mdl_reset(b, N), 0);
        uint64_t seed = 5;
        for (int i = 0; i < 200; i++) {
            cr_assert_eq(mdl_predict(a, N, fa), 0);
            cr_assert_eq(mdl_predict(b, N, fb), 0);
            cr_assert_eq(memcmp(fa, fb, sizeof(uint32_t) * V * N), 0, "step %d", i);
            check_freq(fa, N);
            if (i < 50) {
                if (round == 0)
                    memcpy(first + (size_t)i * V * N, fa, sizeof(uint32_t) * V * N);
                else    /* a reset model repeats the first run exactly */
                    cr_assert_eq(memcmp(first + (size_t)i * V * N, fa,
                                        sizeof(uint32_t) * V * N), 0, "step %d", i);
            }
            uint8_t sym[8];
            for (uint32_t s = 0; s < N; s++)
                sym[s] = (uint8_t)(rnd(&seed) % 40 + 'a' * (s & 1));
            cr_assert_eq(mdl_update(a, N, sym), 0);
            cr_assert_eq(mdl_update(b, N, sym), 0);
        }
    }
    free(fa);
    free(fb);
    free(first);
    mdl_free(a);
    mdl_free(b);
}

/* Steps models a and b (N <= 8 streams) over the same random bytes and
 * requires identical frequency tables at every step. */
static void same_steps(struct mdl *a, struct mdl *b, uint32_t N, int steps, uint64_t seed,
                       const char *what)
{
    uint32_t fa[8 * V], fb[8 * V];
    cr_assert_leq(N, 8);
    for (int i = 0; i < steps; i++) {
        cr_assert_eq(mdl_predict(a, N, fa), 0);
        cr_assert_eq(mdl_predict(b, N, fb), 0);
        cr_assert_eq(memcmp(fa, fb, N * V * sizeof *fa), 0, "step %d (%s)", i, what);
        uint8_t sym[8];
        for (uint32_t s = 0; s < N; s++)
            sym[s] = (uint8_t)rnd(&seed);
        cr_assert_eq(mdl_update(a, N, sym), 0);
        cr_assert_eq(mdl_update(b, N, sym), 0);
    }
}

Test(model, simd_kernels_and_pool_match_scalar)
{
    /* the model through the best kernels and a worker pool codes exactly
     * what the scalar reference codes */
    const struct kern_ops *best = kern_get(FADE_ISA_AUTO);
    cr_assert_not_null(best);
    struct fade_pool *pool = NULL;
    cr_assert_eq(pool_create(&pool, 2), 0);
    const uint32_t N = 8;
    struct mdl *a = make(tiny(), N, &kern_scalar_ops, NULL);
    struct mdl *b = make(tiny(), N, best, pool);
    same_steps(a, b, N, 60, 77, best->name);
    mdl_free(a);
    mdl_free(b);
    pool_free(pool);
}

/* Sets the output layer so that the logits of every stream are exactly
 * `logits`, then predicts. */
static void predict_with_logits(struct mdl *m, uint32_t n, const float *logits, uint32_t *f)
{
    struct mdl_tensor tw = { 0 }, tb = { 0 };
    size_t nt = mdl_test_n_tensors();
    int found = 0;
    for (size_t i = 0; i < nt; i++) {
        struct mdl_tensor t;
        cr_assert_eq(mdl_test_tensor(m, i, &t), 0);
        if (strcmp(t.name, "out.w") == 0) {
            tw = t;
            found |= 1;
        }
        if (strcmp(t.name, "out.b") == 0) {
            tb = t;
            found |= 2;
        }
    }
    cr_assert_eq(found, 3);
    float *w = mdl_test_params(m);
    memset(w + tw.offset, 0, tw.size * sizeof(float));
    memcpy(w + tb.offset, logits, V * sizeof(float));
    cr_assert_eq(mdl_predict(m, n, f), 0);
}

Test(model, frequency_rule)
{
    struct mdl *m = make(tiny(), 2, &kern_scalar_ops, NULL);
    uint32_t f[2 * V];
    float l[V];
    uint64_t seed = 3;

    /* equal logits: exactly 256 each */
    for (int s = 0; s < V; s++)
        l[s] = 0.5f;
    predict_with_logits(m, 2, l, f);
    for (int s = 0; s < 2 * V; s++)
        cr_assert_eq(f[s], 256u);

    /* one certain symbol: everything else at the floor of 1 */
    for (int s = 0; s < V; s++)
        l[s] = -100.0f;
    l[77] = 100.0f;
    cr_assert_eq(mdl_reset(m, 2), 0);
    predict_with_logits(m, 2, l, f);
    check_freq(f, 2);
    cr_assert_eq(f[77], MDL_FREQ_TOTAL - 255);

    /* ties at the top: the lowest index takes the correction */
    for (int trial = 0; trial < 200; trial++) {
        double scale = trial < 100 ? 4.0 : trial < 150 ? 60.0 : 1e30;
        for (int s = 0; s < V; s++)
            l[s] = (float)(scale * (urand(&seed) - 0.5));
        if (trial % 7 == 0)
            l[rnd(&seed) % V] = 3e38f;
        if (trial % 11 == 0)
            l[rnd(&seed) % V] = -3e38f;
        cr_assert_eq(mdl_reset(m, 2), 0);
        predict_with_logits(m, 2, l, f);
        check_freq(f, 2);
        /* monotone: a larger logit never gets a smaller frequency, apart
         * from the one symbol that absorbed the rounding correction */
        for (int i = 0; i < 64; i++) {
            int x = (int)(rnd(&seed) % V), y = (int)(rnd(&seed) % V);
            if (l[x] > l[y] && f[y] > f[x] + 256)
                cr_assert_fail("trial %d: l[%d]=%g > l[%d]=%g but f %u < %u", trial, x,
                               (double)l[x], y, (double)l[y], f[x], f[y]);
        }
    }

    /* a NaN logit (a diverged model) still yields a valid table */
    for (int s = 0; s < V; s++)
        l[s] = 0.0f;
    l[5] = NAN;
    cr_assert_eq(mdl_reset(m, 2), 0);
    predict_with_logits(m, 2, l, f);
    check_freq(f, 2);
    mdl_free(m);
}

Test(model, learns_repetitive_text)
{
    static const char text[] = "the quick brown fox jumps over the lazy dog; ";
    const size_t tl = sizeof text - 1;
    const uint32_t N = 4;
    struct mdl *m = make(tiny(), N, &kern_scalar_ops, NULL);
    uint32_t f[4 * V];
    double early = 0, late = 0;
    const int steps = 600;
    for (int i = 0; i < steps; i++) {
        cr_assert_eq(mdl_predict(m, N, f), 0);
        uint8_t sym[4];
        double bits = 0;
        for (uint32_t b = 0; b < N; b++) {
            sym[b] = (uint8_t)text[(i + 11 * b) % tl];
            bits += -log2((double)f[b * V + sym[b]] / MDL_FREQ_TOTAL);
        }
        bits /= N;
        if (i < 50)
            early += bits / 50;
        if (i >= steps - 100)
            late += bits / 100;
        cr_assert_eq(mdl_update(m, N, sym), 0);
    }
    cr_log_info("tiny on repeated text: %.3f bits/byte first 50 steps, %.3f last 100",
                early, late);
    cr_expect_gt(early, 6.0, "first steps should cost near 8 bits (%.3f)", early);
    cr_expect_lt(late, 2.0, "the model should learn the cycle (%.3f bits/byte)", late);
    cr_expect(mdl_last_loss(m) >= 0.0f && mdl_last_loss(m) < 2.0f, "loss %g",
              (double)mdl_last_loss(m));
    mdl_free(m);
}

Test(model, shrinking_active_streams)
{
    const uint32_t N = 6;
    struct mdl *a = make(tiny(), 8, &kern_scalar_ops, NULL);
    struct mdl *b = make(tiny(), 8, &kern_scalar_ops, NULL);
    cr_assert_eq(mdl_reset(a, N), 0);
    cr_assert_eq(mdl_reset(b, N), 0);
    uint32_t fa[8 * V], fb[8 * V];
    uint8_t sym[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    const uint32_t act[] = { 6, 6, 6, 5, 5, 3, 1, 1 };
    for (size_t i = 0; i < sizeof act / sizeof act[0]; i++) {
        cr_assert_eq(mdl_predict(a, act[i], fa), 0);
        cr_assert_eq(mdl_predict(b, act[i], fb), 0);
        cr_assert_eq(memcmp(fa, fb, sizeof(uint32_t) * V * act[i]), 0);
        check_freq(fa, act[i]);
        cr_assert_eq(mdl_update(a, act[i], sym), 0);
        cr_assert_eq(mdl_update(b, act[i], sym), 0);
    }
    /* growing again, more than reset, or update without predict: refused */
    cr_expect_eq(mdl_predict(a, 2, fa), FADE_E_INVAL);
    cr_expect_eq(mdl_update(a, 1, sym), FADE_E_INVAL);
    cr_expect_eq(mdl_reset(a, 9), FADE_E_INVAL);
    cr_expect_eq(mdl_reset(a, 0), FADE_E_INVAL);
    /* predict then update with a different count: refused */
    cr_assert_eq(mdl_predict(a, 1, fa), 0);
    cr_expect_eq(mdl_update(a, 2, sym), FADE_E_INVAL);
    /* a repeated predict gives the same tables */
    cr_assert_eq(mdl_predict(a, 1, fb), 0);
    cr_expect_eq(memcmp(fa, fb, sizeof(uint32_t) * V), 0);
    cr_expect_eq(mdl_update(a, 1, sym), 0);
    mdl_free(a);
    mdl_free(b);
}

Test(model, n_updates_changes_training)
{
    struct fade_preset p2 = *tiny();
    p2.n_updates = 2;
    struct mdl *a = make(tiny(), 4, &kern_scalar_ops, NULL);
    struct mdl *b = make(&p2, 4, &kern_scalar_ops, NULL);
    cr_expect_neq(mdl_get_model_id(a), mdl_get_model_id(b));
    uint32_t fa[4 * V], fb[4 * V];
    uint8_t sym[4] = { 'a', 'b', 'c', 'd' };
    int differ = 0;
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(mdl_predict(a, 4, fa), 0);
        cr_assert_eq(mdl_predict(b, 4, fb), 0);
        check_freq(fb, 4);
        if (i == 0)     /* same initial weights: same first prediction */
            cr_expect_eq(memcmp(fa, fb, sizeof fa), 0);
        else
            differ |= memcmp(fa, fb, sizeof fa) != 0;
        cr_assert_eq(mdl_update(a, 4, sym), 0);
        cr_assert_eq(mdl_update(b, 4, sym), 0);
    }
    cr_expect(differ);
    mdl_free(a);
    mdl_free(b);
}

Test(model, ids_and_presets)
{
    const struct fade_preset *p0 = fade_preset_at(0);
    cr_assert_not_null(p0);
    cr_expect_str_eq(p0->name, "tiny");
    cr_expect_not_null(fade_preset_find(fade_preset_default()));
    cr_expect_null(fade_preset_find("no-such"));
    cr_expect_null(fade_preset_find(NULL));
    unsigned n = 0;
    while (fade_preset_at(n))
        n++;
    cr_expect_geq(n, 5u);
    /* ids: stable, distinct per preset; the model knows its own */
    uint64_t id0 = fade_preset_model_id(p0);
    cr_expect_eq(id0, mdl_model_id(p0));
    cr_expect_neq(id0, 0u);
    for (unsigned i = 1; i < n && i < 3; i++)
        cr_expect_neq(fade_preset_model_id(fade_preset_at(i)), id0);
    struct mdl *m = make(p0, 4, &kern_scalar_ops, NULL);
    cr_expect_eq(mdl_get_model_id(m), id0);
    mdl_free(m);
    /* every row's pinned id (preset.h) is its model id, and a preset
     * outside the table has none */
    for (unsigned i = 0; i < n; i++)
        cr_expect_eq(preset_pinned_id(fade_preset_at(i)), mdl_model_id(fade_preset_at(i)),
                     "%s: pinned 0x%016llx, model id 0x%016llx", fade_preset_at(i)->name,
                     (unsigned long long)preset_pinned_id(fade_preset_at(i)),
                     (unsigned long long)mdl_model_id(fade_preset_at(i)));
    struct fade_preset copy = *p0;
    cr_expect_eq(preset_pinned_id(&copy), 0u);
    /* bad arguments */
    struct mdl *x = NULL;
    cr_expect_eq(mdl_create(&x, p0, 0, &kern_scalar_ops, NULL), FADE_E_INVAL);
    cr_expect_eq(mdl_create(&x, p0, p0->max_streams + 1, &kern_scalar_ops, NULL), FADE_E_INVAL);
    cr_expect_eq(mdl_create(&x, p0, 1, NULL, NULL), FADE_E_INVAL);
    cr_expect_null(x);
    cr_expect_gt(mdl_flops_per_step(p0, 2), mdl_flops_per_step(p0, 1));
}

/* FNV-1a 64 over the little-endian bytes of n frequency values. */
static uint64_t hash_freq(uint64_t h, const uint32_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) {
            h ^= (f[i] >> (8 * k)) & 0xff;
            h *= 0x100000001b3ull;
        }
    return h;
}

/* Hash of the tables of a fixed 120-step run of `p` on 8 streams of
 * deterministic text-like bytes, the last 20 steps on 5 streams. */
static uint64_t golden_run(const struct fade_preset *p, const struct kern_ops *k)
{
    struct mdl *m = make(p, 8, k, NULL);
    uint32_t f[8 * V];
    uint64_t h = 0xcbf29ce484222325ull, seed = 2026;
    for (int i = 0; i < 120; i++) {
        uint32_t n = i < 100 ? 8 : 5;
        cr_assert_eq(mdl_predict(m, n, f), 0);
        h = hash_freq(h, f, (size_t)n * V);
        uint8_t sym[8];
        for (uint32_t b = 0; b < n; b++)
            sym[b] = (uint8_t)(" etaoinshrdlucmfw"[rnd(&seed) % 17]);
        cr_assert_eq(mdl_update(m, n, sym), 0);
    }
    mdl_free(m);
    return h;
}

/* Golden values: they pin the arithmetic of the format.  A change here
 * means blocks written before no longer decode; it must come with a new
 * format version or model id, never silently. */
#define GOLDEN_TINY_ID   0xd505786b608b2b0cull
#define GOLDEN_TINY_RUN  0xd073a1d261cb0ab6ull

Test(model, golden_tables_pinned)
{
    const struct fade_preset *p = tiny();
    cr_expect_eq(mdl_model_id(p), GOLDEN_TINY_ID, "tiny model id %016llx",
                 (unsigned long long)mdl_model_id(p));
    uint64_t h = golden_run(p, &kern_scalar_ops);
    cr_expect_eq(h, GOLDEN_TINY_RUN, "tiny run hash %016llx", (unsigned long long)h);
    /* and the same bits through the best kernels here */
    const struct kern_ops *best = kern_get(FADE_ISA_AUTO);
    cr_assert_not_null(best);
    cr_expect_eq(golden_run(p, best), h, "%s differs from scalar", best->name);
}

Test(model, capacity_does_not_change_tables)
{
    /* a model sized for more streams codes a block exactly like one sized
     * for just that block: initial weights do not depend on capacity */
    struct mdl *a = make(tiny(), 4, &kern_scalar_ops, NULL);
    struct mdl *b = make(tiny(), 64, &kern_scalar_ops, NULL);
    cr_assert_eq(mdl_reset(b, 4), 0);
    uint32_t fa[4 * V], fb[4 * V];
    uint64_t seed = 8;
    for (int i = 0; i < 30; i++) {
        cr_assert_eq(mdl_predict(a, 4, fa), 0);
        cr_assert_eq(mdl_predict(b, 4, fb), 0);
        cr_assert_eq(memcmp(fa, fb, sizeof fa), 0, "step %d", i);
        uint8_t sym[4];
        for (int s = 0; s < 4; s++)
            sym[s] = (uint8_t)rnd(&seed);
        cr_assert_eq(mdl_update(a, 4, sym), 0);
        cr_assert_eq(mdl_update(b, 4, sym), 0);
    }
    mdl_free(a);
    mdl_free(b);
}

/* The backend interface (kern.h): a backend that declines ops gets the
 * scalar definitions in their place, and a model run through such a
 * partial backend codes exactly what the scalar path codes. */
static int decline_bwd(enum kern_op op, const struct fade_preset *p)
{
    (void)p;
    return op == KERN_OP_LINEAR_BWD_W || op == KERN_OP_ADAM ? FADE_E_UNSUPPORTED : 0;
}

Test(model, partial_backend_binds_scalar_ops_and_matches)
{
    const struct kern_ops *best = kern_get(FADE_ISA_AUTO);
    cr_assert_not_null(best);
    struct kern_ops partial = *best, bound;
    partial.supports = decline_bwd;
    cr_assert_eq(kern_bind(&partial, tiny(), &bound), 2);
    cr_assert(bound.linear_bwd_w == kern_scalar_ops.linear_bwd_w);
    cr_assert(bound.adam == kern_scalar_ops.adam);
    cr_assert(bound.linear_fwd == best->linear_fwd);
    cr_assert(bound.linear_bwd_x == best->linear_bwd_x);
    /* the built-in backends decline nothing; version-1 tables bind as
     * they are; an unknown version is refused */
    for (enum fade_isa isa = FADE_ISA_SCALAR; isa <= FADE_ISA_AVX512; isa++) {
        const struct kern_ops *k = kern_get(isa);
        if (k)
            cr_expect_eq(kern_bind(k, tiny(), &bound), 0, "%s", k->name);
    }
    struct kern_ops v1 = *best;
    v1.version = KERN_V1;
    v1.supports = decline_bwd;          /* not read in a v1 table */
    cr_assert_eq(kern_bind(&v1, tiny(), &bound), 0);
    v1.version = 99;
    cr_assert_eq(kern_bind(&v1, tiny(), &bound), FADE_E_INVAL);

    const uint32_t N = 4;
    struct mdl *a = make(tiny(), N, &kern_scalar_ops, NULL);
    struct mdl *b = make(tiny(), N, &partial, NULL);
    same_steps(a, b, N, 40, 5, "partial backend");
    mdl_free(a);
    mdl_free(b);
}
