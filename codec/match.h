/* match.h — the match stage of the *-match presets: an exact integer stage
 * between the model's prediction and the range coder that predicts the
 * byte which followed the last earlier occurrence of a stream's recent
 * bytes and moves probability onto it by a learned amount.
 *
 * The model sees T bytes of context and cannot use long repeats (sorted
 * URLs, markup); this stage can, for a few integer operations per byte.
 * Everything is integer, so the encoder and every decoder compute the same
 * rows on every machine.  The exact rules are in codec/FORMAT.md ("Match
 * stage").
 *
 * One step of a block (every sub-stream codes its i-th byte) is:
 *   mdl_predict -> match_predict (adjusts the rows in place) -> code ->
 *   match_update (the step's bytes are in buf) -> next step.
 * buf is the block's raw bytes: the source when encoding, the output when
 * decoding.  The stage reads only bytes that every decoder already has at
 * that point: for each stream, the bytes of its range coded in earlier
 * steps (and, in match_update, this step's).
 *
 * Memory: the state is owned by the coding context (ctx.h) and reused
 * across blocks; match_reserve grows it, match_reset starts a block.
 */
#ifndef FADE_MATCH_H
#define FADE_MATCH_H

#include <stddef.h>
#include <stdint.h>

/* Probability cells: match-length bucket x model-probability bucket. */
#define MATCH_LEN_BUCKETS 20u
#define MATCH_F_BUCKETS   32u
#define MATCH_CELLS       (MATCH_LEN_BUCKETS * MATCH_F_BUCKETS)

/* The stage's parameters; the presets use match_cfg_init's values with
 * their own min_len (FORMAT.md fixes them). */
struct match_cfg {
    uint32_t min_len;     /* bytes hashed to find a candidate, 1..32 */
    uint32_t hash_bits;   /* largest table: 2^hash_bits entries, 12..24 */
    uint32_t rate;        /* cell adaptation: 1 / 2^rate at the end, 1..15 */
    uint32_t verify_max;  /* longest backward check of a candidate, >= min_len */
    uint32_t p_max;       /* most a predicted symbol's frequency may become */
};

/* Per stream: the current match (len 0 = none). */
struct match_stream {
    uint32_t ptr;         /* block position of the predicted byte */
    uint32_t len;         /* match length in bytes, 0 = no match */
    uint32_t m_start;     /* start and length of the range ptr lies in */
    uint32_t m_len;
    uint16_t cell;        /* cell used by this step's prediction */
    uint8_t  pred;        /* predicted byte of this step */
    uint8_t  active;      /* predicted this step */
};

struct match {
    struct match_cfg cfg;
    uint32_t *table;      /* hash of min_len bytes -> block position (0 = empty) */
    uint32_t  table_cap_bits;   /* allocated: 2^table_cap_bits entries */
    uint32_t  bits;       /* in use for this block */
    struct match_stream *st;
    uint32_t  st_cap;
    /* The block's layout. */
    size_t    raw_len;
    uint32_t  n;
    size_t    q, r;
    /* Learned hit probabilities, 16-bit fixed point, and update counts. */
    int32_t   p[MATCH_CELLS];
    uint32_t  cnt[MATCH_CELLS];
};

/* The preset parameters for hash length min_len. */
void match_cfg_init(struct match_cfg *cfg, uint32_t min_len);
/* 0 if cfg is usable, else FADE_E_INVAL. */
int match_cfg_check(const struct match_cfg *cfg);
/* Zeroes a struct match that owns nothing yet. */
void match_init(struct match *mt);
/* Frees what mt owns (not mt); mt is then as after match_init. */
void match_free(struct match *mt);
/* Starts a block of raw_len bytes (>= 1) in n streams (1..raw_len),
 * growing the buffers if needed.  0, FADE_E_INVAL or FADE_E_NOMEM. */
int match_reset(struct match *mt, const struct match_cfg *cfg, size_t raw_len, uint32_t n);
/* Step i: adjusts rows freq[b*256 ..] of streams 0..n_active-1 in place. */
void match_predict(struct match *mt, const uint8_t *buf, size_t i, uint32_t n_active,
                   uint32_t *freq);
/* Step i is coded (its bytes are in buf): learns, follows and finds
 * matches, and records the streams' contexts, in stream order. */
void match_update(struct match *mt, const uint8_t *buf, size_t i, uint32_t n_active);

/* Moves a 256-entry row (each >= 1, sum 65536) towards symbol c having
 * probability p / 65536 (p capped at p_max <= 65536 - 256): unchanged
 * unless p > f[c]; otherwise the other entries are scaled down, and f[c]
 * takes the rest.  The row keeps sum 65536 and every entry >= 1, and f[c]
 * never decreases. */
void match_adjust_row(uint32_t *f, unsigned c, uint32_t p, uint32_t p_max);

#endif /* FADE_MATCH_H */
