/* fade.h — public API of the FADE learned lossless codec (libfade).
 *
 * FADE codes bytes with a small neural network trained online on the data
 * it codes, driving B range coders in lock-step (one per sub-stream of a
 * block).  Encoder and decoder run exactly the same float computation under
 * the exact-arithmetic contract (codec/FORMAT.md, DESIGN.md), so a block
 * written on one machine decodes on any other.
 *
 * Units: a *block* is at most FADE_BLOCK_MAX_RAW bytes of raw data, coded
 * independently of every other block; a *container* (the `fade` command's
 * file format) is a header followed by blocks.  Formats: codec/FORMAT.md.
 *
 * Threads: a fade_ctx is used by one thread at a time (it may use a worker
 * pool internally, see fade_ctx_params.n_threads).  Different contexts are
 * independent.  Every function that takes no context is thread-safe.
 *
 * Memory: the library never keeps a pointer passed in after the call
 * returns.  Objects returned by *_create are freed by the matching *_free,
 * which accepts NULL.
 *
 * Errors: functions return 0 / a non-negative length on success and a
 * negative FADE_E_* code on failure.  The values are pinned: they appear in
 * logs and tests.  fade_strerror() names them.
 */
#ifndef FADE_H
#define FADE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FADE_VERSION_MAJOR 0
#define FADE_VERSION_MINOR 1
#define FADE_VERSION_PATCH 0
#define FADE_VERSION_STRING "0.1.0"
const char *fade_version(void);

/* ---- errors (values are stable; append only) ---- */
enum fade_err {
    FADE_OK              = 0,
    FADE_E_NOMEM         = -1,  /* allocation failed */
    FADE_E_INVAL         = -2,  /* bad argument from the caller */
    FADE_E_CORRUPT       = -3,  /* input bytes are not a valid block/container */
    FADE_E_TRUNCATED     = -4,  /* input ends before the format says it does */
    FADE_E_CHECKSUM      = -5,  /* decoded bytes fail the stored CRC32C */
    FADE_E_UNKNOWN_MODEL = -6,  /* block names a model this build does not have */
    FADE_E_VERSION       = -7,  /* format version newer than this library */
    FADE_E_DST_SMALL     = -8,  /* destination capacity too small */
    FADE_E_IO            = -9,  /* read/write failed (container helpers) */
    FADE_E_UNSUPPORTED   = -10, /* ISA or feature not available here */
    FADE_E_NOT_FADE      = -11, /* input is not a FADE block/container at all (bad magic) */
    FADE_E_CANCELED      = -12, /* the context's cancel flag was raised */
};
const char *fade_strerror(int err);

/* ---- codecs a block may carry ---- */
enum fade_codec {
    FADE_CODEC_RAW  = 0,        /* bytes stored as they are */
    FADE_CODEC_FADE = 1,        /* learned model + range coders */
};

/* ---- arithmetic paths; all produce identical bytes ---- */
enum fade_isa {
    FADE_ISA_AUTO   = 0,        /* best this machine supports */
    FADE_ISA_SCALAR = 1,        /* reference path, plain C */
    FADE_ISA_AVX2   = 2,
    FADE_ISA_AVX512 = 3,
};
/* Name <-> enum; fade_isa_parse returns FADE_E_INVAL for an unknown name. */
const char *fade_isa_name(enum fade_isa isa);
int fade_isa_parse(const char *name, enum fade_isa *out);
/* The ISA that FADE_ISA_AUTO resolves to on this machine. */
enum fade_isa fade_isa_best(void);
/* 1 if this machine can run `isa`, 0 otherwise. */
int fade_isa_available(enum fade_isa isa);

/* ---- model presets ----
 * A preset fixes the model's dimensions; with the initial weights (derived
 * deterministically from the preset) it defines a model id that every block
 * names.  Presets are listed from smallest to largest. */
struct fade_preset {
    const char *name;      /* "tiny", ..., "paper" */
    uint32_t T;            /* context length in bytes */
    uint32_t D;            /* embedding width */
    uint32_t G;            /* global GeGLU width (rolling cache size) */
    uint32_t L;            /* features appended to the cache per byte */
    uint32_t F;            /* fine-refinement GeGLU width */
    uint32_t H;            /* coarse-refinement hidden width (64 in the paper) */
    uint32_t max_streams;  /* most sub-streams a block of this preset may use */
    uint32_t n_updates;    /* Adam steps per coded position (>= 1) */
    float    lr;           /* Adam learning rate */
    const char *prior;     /* built-in prior weights (codec/prior.h) or NULL */
    const char *fallback;  /* preset a block uses instead when the prior does
                              not know its data (fade_block_encode), or NULL */
    uint32_t match_min;    /* 0: none; else the match stage (FORMAT.md, "Match
                              stage") runs after the model, hashing this many
                              bytes; part of the model id only when non-zero */
    uint32_t mix;          /* 0: none; else the version of the mix stage
                              (FORMAT.md, "Mix stage"): the network's rows
                              feed a mixing coder with cheap context models;
                              part of the model id only when non-zero */
    uint32_t net_div;      /* mix presets: the network runs on the first
                              ceil(n / net_div) of a block's n streams */
    uint32_t net_gate;     /* mix presets: 1 or 2 = the network runs only
                              while it pays, 2 trying it again less often
                              (FORMAT.md, "Network gate"); 0 = always */
    uint32_t mix_slots;    /* mix presets: log2 of a context table's slots a
                              block byte, 1 to MIX_SLOTS_MAX; 0 = MIX_SLOTS */
    uint32_t mix_tbits;    /* mix presets: log2 of the most slots a context
                              table (and the match table) may have,
                              MIX_TBITS_MIN to MIX_TBITS_MAX; 0 = MIX_TBITS
                              (mix.h).  Both are part of the model id only
                              when non-zero */
    uint32_t one_stream;   /* mix presets: 1 = a block is one sub-stream and
                              `fade` gives it FC_DEFAULT_BLOCK_MIX bytes; 0 =
                              one per BLK_STREAM_TARGET bytes, for the
                              network's batch (an encoder's choice: not part
                              of the model id) */
};
/* Returns the preset called `name`, or NULL.  The pointer is static. */
const struct fade_preset *fade_preset_find(const char *name);
/* i-th preset (0-based) or NULL past the end; for listings. */
const struct fade_preset *fade_preset_at(unsigned i);
/* The preset used when none is named. */
const char *fade_preset_default(void);
/* 64-bit model id of a preset: hash of its dimensions and initial weights.
 * Stable across machines and builds; pinned by golden tests. */
uint64_t fade_preset_model_id(const struct fade_preset *p);

/* ---- coding context ---- */
struct fade_ctx_params {
    const char   *preset;      /* NULL = fade_preset_default() */
    uint32_t      n_streams;   /* sub-streams per block; 0 = preset's choice for the block size */
    enum fade_isa isa;         /* FADE_ISA_AUTO = best available */
    uint32_t      n_threads;   /* worker threads inside one block; 0 or 1 = none */
};
typedef struct fade_ctx fade_ctx;
/* Creates a context.  Returns 0 and sets *out, or a FADE_E_* code
 * (FADE_E_INVAL for an unknown preset, FADE_E_UNSUPPORTED for an ISA the
 * machine lacks). */
int  fade_ctx_create(fade_ctx **out, const struct fade_ctx_params *params);
void fade_ctx_free(fade_ctx *ctx);

/* Optional progress callback, called from the coding thread now and then
 * with the number of raw bytes of the current block done so far. */
typedef void (*fade_progress_fn)(void *arg, uint64_t done, uint64_t total);
void fade_ctx_set_progress(fade_ctx *ctx, fade_progress_fn fn, void *arg);
/* Optional cancel flag: once *flag is non-zero (set from any thread), a
 * fade_block_encode running on ctx stops within a few hundred steps and
 * returns FADE_E_CANCELED.  For callers that must not wait for a block
 * that takes seconds (a daemon that unmounts).  NULL clears it. */
void fade_ctx_set_cancel(fade_ctx *ctx, const atomic_int *flag);

/* ---- blocks ---- */
#define FADE_BLOCK_MAX_RAW     (64u << 20)   /* largest raw length a block may hold */
#define FADE_BLOCK_MAX_STREAMS 4096u

/* Upper bound on an encoded block of src_len bytes with n_streams streams:
 * a dst of this size never fails with FADE_E_DST_SMALL. */
size_t fade_block_bound(size_t src_len, uint32_t n_streams);

/* Encodes src into one self-contained block with the FADE codec.  If the
 * coded form would not be smaller than a raw block, writes a raw block
 * instead.  Returns the block length (<= dst_cap) or a FADE_E_* code. */
ssize_t fade_block_encode(fade_ctx *ctx, void *dst, size_t dst_cap,
                          const void *src, size_t src_len);

/* Several blocks at once: items[i].result gets what fade_block_encode
 * would return for items[i] (the bytes are the same).  The CPU path codes
 * them in turn; a backend that steps many blocks per launch (a GPU) codes
 * them together, so callers that can offer several blocks should.
 * Returns 0 once every item has its result, FADE_E_INVAL for bad
 * arguments (then no item was coded). */
struct fade_batch_item {
    void       *dst;
    size_t      dst_cap;
    const void *src;
    size_t      src_len;
    ssize_t     result;       /* out: block length or a FADE_E_* code */
};
int fade_block_encode_many(fade_ctx *ctx, struct fade_batch_item *items,
                           size_t n);

/* Writes a raw block (no model, no context needed).  Thread-safe. */
ssize_t fade_block_encode_raw(void *dst, size_t dst_cap,
                              const void *src, size_t src_len);

/* A raw block is this fixed-length header followed by the data as it is
 * (codec/FORMAT.md, "Raw block"). */
#define FADE_RAW_HEADER_LEN 20u
/* Writes the header of a raw block holding raw_len bytes whose CRC32C is
 * crc32c: that header followed by those bytes is exactly what
 * fade_block_encode_raw writes for them.  For writers that put the header
 * in front of data they do not copy.  Returns FADE_RAW_HEADER_LEN, or
 * FADE_E_INVAL (dst NULL, raw_len > FADE_BLOCK_MAX_RAW) or
 * FADE_E_DST_SMALL.  Thread-safe. */
ssize_t fade_block_raw_header(void *dst, size_t dst_cap, uint32_t raw_len,
                              uint32_t crc32c);

/* Decodes one block.  ctx may be NULL for a raw block (a FADE block then
 * fails with FADE_E_INVAL).  The ctx's preset does not matter: the block
 * names its own model.  Validates every header field before use and the
 * CRC32C after; on any error returns a FADE_E_* code and dst holds
 * unspecified bytes.  Returns the raw length on success. */
ssize_t fade_block_decode(fade_ctx *ctx, void *dst, size_t dst_cap,
                          const void *src, size_t src_len);

/* What a block header says, validated but not decoded. */
struct fade_block_info {
    enum fade_codec codec;
    uint32_t format_version;
    uint64_t model_id;        /* 0 for raw */
    uint32_t n_streams;       /* 0 for raw */
    uint32_t raw_len;
    uint32_t crc32c;          /* of the raw bytes */
    size_t   header_len;
    size_t   block_len;       /* total bytes of this block */
};
int fade_block_info(const void *src, size_t src_len, struct fade_block_info *info);

/* CRC32C (Castagnoli) of buf, continuing from crc (start with 0). */
uint32_t fade_crc32c(uint32_t crc, const void *buf, size_t len);
/* Copies len bytes from src to dst (which must not overlap) and returns
 * fade_crc32c(crc, src, len), reading src once: for writers that need both
 * a copy of the data and its check value. */
uint32_t fade_crc32c_copy(uint32_t crc, void *dst, const void *src, size_t len);

#endif /* FADE_H */
