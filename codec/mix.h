/* mix.h — the mixing coder of the mix presets: cheap exact context models
 * beside the FADE network, a learned mixer, two calibration stages (APM),
 * and one binary arithmetic coder (bc.h) per sub-stream.
 *
 * A byte is coded as 8 binary decisions, high bit first.  For each one,
 * every input model gives a probability in the logistic ("stretch")
 * domain: context counters and bit histories of orders 1 to 6, words,
 * sparse and record contexts (version 4 adds the row context, the bytes
 * one and two rows up at the distance where bytes repeat most, and leaves
 * order 5 out),
 * the match model (the byte that followed the
 * last earlier occurrence of the stream's last MIX_MATCH_MIN bytes), and —
 * on the steps where the network runs — the network's own probability of
 * the bit, read off its 256-way distribution.  Mixers whose weights are
 * chosen by the partial byte, the match state and the last bytes add them
 * up and learn online which to trust; from version 2 a final mixer learns
 * how much to trust each of them (version 3 keeps their weights in 16
 * bits, for twice the lanes a vector op); two APM stages refine the
 * result.  Everything here is integer: encoder and
 * decoder compute the same probabilities on every machine by construction.
 * codec/FORMAT.md ("Mix stage") is the specification.
 *
 * The block's sub-streams are coded in lock-step, as with the other
 * presets: at step i, stream 0's i-th byte, then stream 1's, and so on.
 * The tables are shared by all streams (each learns from what the others
 * coded); each stream has its own history.  The match model may point into
 * any stream, at bytes already coded (mix_known).
 *
 * Memory: a struct mix is owned by the coding context (ctx.h) and reused
 * across blocks; mix_reset grows its tables to the block's size and clears
 * them.  Not thread-safe: one thread codes one block at a time.
 */
#ifndef FADE_MIX_H
#define FADE_MIX_H

#include <stddef.h>
#include <stdint.h>
#include "codec/bc.h"
#include "codec/fade.h"

/* Bytes hashed by the match model. */
#define MIX_MATCH_MIN 6u

/* The parts a mix configuration may switch off (for the ablation tool;
 * every preset runs all that its stage version has: MIX_ALL_V4 for
 * version 4, MIX_ALL_V3 for versions 2 and 3, MIX_ALL_V1 for version 1).
 * Callers may pass MIX_ALL: mix_reset keeps what the version has.  The
 * context models' bits come first, in the order of their tables
 * (MIX_C_*); the bits are not stored anywhere. */
enum {
    MIX_USE_O1     = 1u << 0,
    MIX_USE_O2     = 1u << 1,
    MIX_USE_O3     = 1u << 2,
    MIX_USE_O4     = 1u << 3,
    MIX_USE_O6     = 1u << 4,
    MIX_USE_WORD   = 1u << 5,
    MIX_USE_SPARSE = 1u << 6,
    MIX_USE_REC_A  = 1u << 7,
    MIX_USE_REC_B  = 1u << 8,
    MIX_USE_O5     = 1u << 9,
    MIX_USE_WORD2  = 1u << 10,
    MIX_USE_ROW    = 1u << 11,
    MIX_USE_MATCH  = 1u << 12,
    MIX_USE_APM    = 1u << 13,
    MIX_USE_NET    = 1u << 14,
    MIX_USE_HIST   = 1u << 15,
    MIX_ALL        = (1u << 16) - 1,
    MIX_ALL_V4     = MIX_ALL & ~MIX_USE_O5,
    MIX_ALL_V3     = MIX_ALL & ~MIX_USE_ROW,
    MIX_ALL_V1     = MIX_ALL_V3 & ~(MIX_USE_O5 | MIX_USE_WORD2),
};

/* Context models with a table each, in the order of their MIX_USE_ bits:
 * orders 1..4 and 6, the current word, the two bytes before the last
 * (sparse), two record contexts (the bytes one and two records up, with
 * the last byte or with each other; mix_stream.rlen), from version 2
 * order 5 and the current word with the one before it, and from version
 * 4 the row context (the bytes one and two rows up; mix_stream.row), which
 * takes order 5's place: order 5 paid 0.09 % where the row pays 5 %
 * (docs/BENCHMARKS.md), and a table costs some 5 % of the speed.  Order 0 is left
 * out: it paid nothing beside the APM on order 0 (BENCHMARKS.md). */
enum { MIX_C_O1, MIX_C_O2, MIX_C_O3, MIX_C_O4, MIX_C_O6, MIX_C_WORD,
       MIX_C_SPARSE, MIX_C_REC_A, MIX_C_REC_B, MIX_C_O5, MIX_C_WORD2, MIX_C_ROW, MIX_NCTX };
#define MIX_CTX_MASK  ((1u << MIX_NCTX) - 1)
/* Mixer inputs: each context model's counter, then its bit history's
 * learned probability, the match model, the network, a bias.  Inputs
 * that a configuration leaves out are 0 and add nothing to the sums. */
#define MIX_IN_HIST   12
#define MIX_IN_MATCH  24
#define MIX_IN_NET    25
#define MIX_IN_BIAS   26
#define MIX_NIN       27
#define MIX_NIN_PAD   32u          /* weight rows padded for alignment */
_Static_assert(MIX_NCTX <= MIX_IN_HIST, "counter inputs overlap histories");
/* Bit-history states: counts of zeros and ones (0..7 each) and the last
 * bit, in 7 bits (codec/FORMAT.md, "Mix stage"). */
#define MIX_HIST_STATES 128u
/* Mixer weight sets.  The first mixer's: 256 partial bytes x 4 match
 * states x 6 orders (how many of orders 2..6 have seen their context;
 * version 1 always uses order 0). */
#define MIX_ORDERS    6u
#define MIX_SETS      (256u * 4u * MIX_ORDERS)
/* The second's: 8 bit positions x 4 match states; the third's and the
 * fourth's (from version 2) the same x the last byte, and x the byte
 * before it. */
#define MIX_SETS2     (8u * 4u)
#define MIX_SETS3     (8u * 4u * 256u)
/* The final mixer (from version 2): weights of the four, by partial byte. */
#define MIX_FSETS     256u
#define MIX_MATCH_SM  64u          /* match model probability cells */
/* Row length detection (version 4): the distances ROW_MIN .. ROW_MAX - 1
 * are candidates, one counter each. */
#define MIX_ROW_MIN   16u
#define MIX_ROW_MAX   4096u
#define MIX_ROW_N     (MIX_ROW_MAX - MIX_ROW_MIN)

struct mix_stream {
    uint32_t c4;          /* last 4 bytes of the stream, newest lowest */
    uint32_t c8;          /* the 4 before those */
    uint32_t word;        /* hash of the current word, 0 outside words */
    uint32_t word1;       /* hash of the word before it, 0 before the first */
    uint32_t start;       /* block position of the stream's first byte */
    uint32_t done;        /* bytes of the stream coded so far */
    uint32_t hash[MIX_NCTX];   /* this byte's context hashes */
    uint32_t m_ptr;       /* block position of the predicted byte */
    uint32_t m_len;       /* match length in bytes, 0 = none */
    /* Record length detection: the distance at which byte values repeat
     * most (a majority vote over the distances that repeated twice). */
    uint32_t rlen;        /* record length in use, 0 = none yet */
    uint32_t r_cand, r_votes;
    uint32_t last[256];   /* stream offset + 1 where each value last was */
    uint32_t dist[256];   /* and the distance before that */
    /* Row length detection (version 4): how often a sampled byte equalled
     * the byte d back, for d = MIX_ROW_MAX - 1 - i at rowc[i] (the order
     * of the bytes in the block); the row length chosen from them. */
    uint32_t row;         /* row length in use, 0 = none yet */
    uint32_t row_samples; /* samples since the last choice */
    uint16_t rowc[MIX_ROW_N];
};

struct mix {
    int      avx2;                /* 1: the -mavx2 build codes (mix_code.h) */
    uint32_t ver;                 /* the stage's version: 1 to 4 */
    uint32_t use;                 /* MIX_USE_* */
    /* Fixed tables (mix_init): squash and its inverse over 12-bit
     * probabilities, and the counters' rates 65536 / (n + 1.5). */
    int16_t  stretch[4096];
    int16_t  squash[4095];        /* squash(x) at x + 2047, x in [-2047, 2047] */
    int32_t  stretch32[4096];     /* stretch again, 32-bit: the AVX2 build gathers it */
    uint32_t rec[1024];
    uint16_t cost[4096];          /* -log2(p / 4096) in 1/256 bits */
    uint32_t hnext[2][MIX_HIST_STATES];   /* bit-history transitions, by bit */
    /* The block's layout. */
    uint32_t raw_len, n, q, r;
    struct mix_stream *st;
    uint32_t st_cap;
    /* Context tables: 32-bit slots (16-bit probability, 8-bit count,
     * 8-bit bit-history state) in buckets of 16 (slot 0 holds the
     * bucket's check). */
    uint32_t *t[MIX_NCTX];
    uint32_t  t_bits[MIX_NCTX];   /* in use: 2^t_bits slots */
    size_t    t_cap[MIX_NCTX];    /* allocated slots */
    /* Per context model: a bit-history state's probability (22-bit
     * probability, 10-bit count), context k's state h at k * 128 + h. */
    uint32_t hsm[MIX_NCTX * MIX_HIST_STATES];
    /* Match model. */
    uint32_t *mt;                 /* hash -> block position + 1, 0 = empty */
    uint32_t  mt_bits;
    size_t    mt_cap;
    uint16_t  msm[MIX_MATCH_SM];  /* P(expected bit is right), 16-bit */
    /* Mixer (versions 1 and 2). */
    int32_t   w[MIX_SETS * MIX_NIN_PAD];
    int32_t   w2[MIX_SETS2 * MIX_NIN_PAD];
    int32_t   w3[MIX_SETS3 * MIX_NIN_PAD];
    int32_t   w4[MIX_SETS3 * MIX_NIN_PAD];
    int32_t   fw[MIX_FSETS * 4];  /* 4 weights a set, Q16 */
    /* Version 3's and 4's mixers: the same sets with 16-bit weights (Q14). */
    int16_t   h1[MIX_SETS * MIX_NIN_PAD];
    int16_t   h2[MIX_SETS2 * MIX_NIN_PAD];
    int16_t   h3[MIX_SETS3 * MIX_NIN_PAD];
    int16_t   h4[MIX_SETS3 * MIX_NIN_PAD];
    /* What the network's input saved, in 1/256 bits, since the caller
     * last cleared it: the cost of each bit under the mixer's output
     * without the network's term minus its cost with it (mix_encode and
     * mix_decode add to it on the bytes coded with a frequency row). */
    int64_t   net_gain;
    /* APM stages: 33 interpolation points per context, 16-bit. */
    uint16_t  a1[256 * 33];
    uint16_t *a2;                 /* 65536 * 33 */
    size_t    a2_cap;
};

/* Zeroes a struct mix that owns nothing yet.  isa is the context's
 * kernel set: FADE_ISA_SCALAR keeps the baseline build of the per-byte
 * work, any other uses the AVX2 build where the machine has it (both give
 * the same bits). */
void mix_init(struct mix *mx, enum fade_isa isa);
/* Frees what mx owns (not mx); mx is then as after mix_init with the
 * same isa. */
void mix_free(struct mix *mx);
/* How large the hashed tables are, unless the preset says otherwise
 * (fade_preset.mix_slots, .mix_tbits): 2^MIX_SLOTS slots a byte of the
 * block, at most 2^MIX_TBITS slots (16 MiB) a table.  max takes 8 slots
 * a byte and up to 2^24 (64 MiB a table, 704 MiB for its ten and the
 * match table). */
#define MIX_SLOTS      1u
#define MIX_SLOTS_MAX  4u
#define MIX_TBITS      22u
#define MIX_TBITS_MIN  16u
#define MIX_TBITS_MAX  24u

/* Starts a block of raw_len (>= 1) bytes in n streams (1..raw_len) with
 * stage version ver (1 to 4), the parts in `use` that the version has and
 * hashed tables of 2^slots slots a byte (1 .. MIX_SLOTS_MAX) up to 2^tbits
 * (MIX_TBITS_MIN .. MIX_TBITS_MAX): sizes and clears every table.  0,
 * FADE_E_INVAL or FADE_E_NOMEM. */
int mix_reset(struct mix *mx, uint32_t ver, uint32_t use, size_t raw_len, uint32_t n,
              uint32_t slots, uint32_t tbits);

/* Codes the next byte c of stream b with the network's frequency row
 * `freq` (256 entries, each >= 1, sum 65536) or NULL on a step where the
 * network did not run.  buf is the block's raw bytes (the source): the
 * match model reads the bytes already coded from it. */
void mix_encode(struct mix *mx, uint32_t b, const uint8_t *buf, const uint32_t *freq,
                struct bc_enc *e);
/* Decodes the next byte of stream b into buf (at its block position) and
 * returns it; the other arguments as for mix_encode. */
uint8_t mix_decode(struct mix *mx, uint32_t b, uint8_t *buf, const uint32_t *freq,
                   struct bc_dec *d);

/* 1 if block position pos holds a byte every decoder already has. */
int mix_known(const struct mix *mx, uint32_t pos);

#endif /* FADE_MIX_H */
