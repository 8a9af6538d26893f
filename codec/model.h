/* model.h — the FADE network: forward pass to a probability table, and
 * online training (backpropagation + Adam) on the byte that was coded.
 *
 * A struct mdl codes one block: it starts from the preset's initial weights
 * and evolves as it trains, identically in encoder and decoder.  The block
 * coder (block.c) drives it in lock-step with B range coders:
 *
 *     mdl_reset(m, n_streams)          -- initial weights, padded contexts
 *     for each step:
 *         mdl_predict(m, n_active, freq)   -- integer tables for every stream
 *         ...range-code one byte per active stream with freq...
 *         mdl_update(m, n_active, sym)     -- train, then shift contexts
 *
 * Active streams are always a prefix 0..n_active-1 of the streams (longer
 * streams come first, see FORMAT.md), and n_active never grows within a
 * block.  The loss is the mean cross-entropy over active streams.
 *
 * Frequency rule (part of the format): for each stream, given the softmax
 * probabilities p[0..255] in binary32,
 *     f[s] = 1 + (uint32_t)(p[s] * (float)(MDL_FREQ_TOTAL - 256))   (floor)
 * then the difference between MDL_FREQ_TOTAL and sum(f) is added to (or
 * taken from) f[argmax] where argmax is the lowest index holding the largest
 * f.  Every f[s] >= 1 and sum(f) == MDL_FREQ_TOTAL exactly.
 *
 * Memory: a mdl owns all its buffers (weights, Adam moments, activations),
 * allocated once in mdl_create for up to max_streams streams; predict and
 * update never allocate.  Not thread-safe: one thread drives a mdl (it may
 * use `pool` internally).
 */
#ifndef FADE_MODEL_H
#define FADE_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "codec/fade.h"
#include "codec/kern.h"

#define MDL_FREQ_BITS  16
#define MDL_FREQ_TOTAL (1u << MDL_FREQ_BITS)

struct mdl;
struct fade_pool;

/* Creates a model for `preset` able to run up to max_streams streams, with
 * kernels `k` and optional thread pool (not owned; must outlive the mdl).
 * Returns 0 or FADE_E_NOMEM / FADE_E_INVAL. */
int  mdl_create(struct mdl **out, const struct fade_preset *preset,
                uint32_t max_streams, const struct kern_ops *k,
                struct fade_pool *pool);
/* As mdl_create, with the trained tensors' start values taken from a prior
 * blob (FORMAT.md, "Prior weights"; not owned, read only during the call)
 * instead of the preset's own; prior NULL = the seeded start values.
 * FADE_E_CORRUPT if the blob is malformed or made for other dimensions. */
int  mdl_create_prior(struct mdl **out, const struct fade_preset *preset,
                      uint32_t max_streams, const struct kern_ops *k,
                      struct fade_pool *pool, const void *prior, size_t prior_len);
void mdl_free(struct mdl *m);

/* Starts a new block of n_streams (<= max_streams): initial weights, zero
 * Adam state, every context filled with the padding byte. */
int  mdl_reset(struct mdl *m, uint32_t n_streams);

/* Writes MDL_FREQ_TOTAL-normalised frequency tables for streams
 * 0..n_active-1: freq[b * 256 + s]. */
int  mdl_predict(struct mdl *m, uint32_t n_active, uint32_t *freq);

/* Trains on the true bytes sym[0..n_active-1] of the last predicted step
 * and advances every active stream's context by that byte.  Must follow a
 * mdl_predict with the same n_active. */
int  mdl_update(struct mdl *m, uint32_t n_active, const uint8_t *sym);

/* Ends a step that was not predicted: every active stream's context
 * advances by its byte, with no forward pass and no training (the mix
 * presets run the network only on some steps).  The rolling cache is
 * extended only by forward passes, so it holds the bytes before the steps
 * that ran.  Must not follow a mdl_predict; n_active as for mdl_predict. */
int  mdl_skip(struct mdl *m, uint32_t n_active, const uint8_t *sym);

/* How well the model's start weights know src: mean bits per byte of
 * n_windows windows of `window` bytes spread evenly over src (all of src
 * once when it is shorter than that), each coded from a fresh stream
 * without training.  For choosing a model, not for coding (deterministic on
 * every machine all the same); leaves m needing mdl_reset.  Returns -1 on bad arguments. */
float mdl_probe(struct mdl *m, const uint8_t *src, size_t len, size_t window, unsigned n_windows);
/* Floating-point operations one predict+update of n_active streams costs
 * (multiply-add counted as 2), for GFLOP/s reporting. */
double mdl_flops_per_step(const struct fade_preset *p, uint32_t n_active);

/* Hash of the preset's dimensions and initial weights (fade_preset_model_id);
 * 0 for an invalid preset or one naming a prior this build lacks. */
uint64_t mdl_model_id(const struct fade_preset *p);
/* The same for p started from `prior` (NULL: the seeded start values). */
uint64_t mdl_model_id_prior(const struct fade_preset *p, const void *prior, size_t prior_len);
/* 0 if blob is a well-formed prior for p's dimensions, else FADE_E_CORRUPT. */
int mdl_prior_check(const struct fade_preset *p, const void *blob, size_t len);
/* For the offline trainer (tests/tools/fade_prior): a prior blob holding
 * p's seeded start values (stream 0's U and bias as the stream block),
 * malloc'd into *blob; and the untrained tensors (global.full.w, .b,
 * global.last.w, .b, in that order, W[in][out]) malloc'd into *out. */
int mdl_prior_from_init(const struct fade_preset *p, void **blob, size_t *len);
int mdl_fixed_tensors(const struct fade_preset *p, float **out, size_t *n);

/* The id of the model m runs (mdl_model_id of its preset), known since
 * mdl_create: cheaper than mdl_model_id, which regenerates the weights. */
uint64_t mdl_get_model_id(const struct mdl *m);

/* Mean cross-entropy in nats over the active streams of the step that the
 * last mdl_update trained on (the prediction's cost); for reports. */
float mdl_last_loss(const struct mdl *m);

/* ---- test hooks: not used by the coder ----
 * The trained parameters form one vector (shared tensors, then one block
 * per stream); mdl_test_tensor describes tensor i: `count` copies of
 * `size` floats at offset + c * stride.  mdl_test_forward recomputes the
 * logits of streams 0..n_active-1 from the current weights, contexts and
 * caches without changing any state; mdl_test_backward does that and
 * writes the gradient of the mean cross-entropy on sym into the gradient
 * vector, without an Adam step. */
struct mdl_tensor {
    const char *name;
    size_t offset, size, count, stride;
};
size_t mdl_test_n_tensors(void);
int mdl_test_tensor(const struct mdl *m, size_t i, struct mdl_tensor *out);
size_t mdl_test_n_params(const struct mdl *m);
float *mdl_test_params(struct mdl *m);
const float *mdl_test_grads(const struct mdl *m);
const float *mdl_test_logits(const struct mdl *m);
int mdl_test_forward(struct mdl *m, uint32_t n_active);
int mdl_test_backward(struct mdl *m, uint32_t n_active, const uint8_t *sym);
/* Ends a predicted step like mdl_update but without training: contexts
 * advance by sym, weights stay (evaluates a prior as it stands). */
int mdl_test_advance(struct mdl *m, uint32_t n_active, const uint8_t *sym);

#endif /* FADE_MODEL_H */
