/* container.h — the `fade` file format: a header, the blocks of the input
 * in order (each framed by its length), an end mark and an index trailer.
 *
 * Layout and rules are in codec/FORMAT.md ("Container").  A container can
 * be written to a pipe (the header's total length is then "unknown" and
 * the trailer is authoritative) and read from a pipe front to back
 * (fc_decode_fd), or opened on a seekable file and read block by block
 * through the trailer's index (fc_reader_*).
 *
 * Threads: fc_encode_fd / fc_decode_fd code up to opts->n_threads blocks at
 * once, each on its own fade_ctx, and give any threads left over to the
 * contexts (threads inside a block).  The output is identical for every
 * thread count.  A fc_reader is used by one thread at a time.
 *
 * Errors: FADE_E_* codes.  The fc_stats a call fills says which block an
 * error belongs to and, for FADE_E_IO, whether reading or writing failed
 * and the errno.  On error the output holds an unspecified prefix; the
 * `fade` command writes to a temporary file and removes it.
 */
#ifndef FADE_CONTAINER_H
#define FADE_CONTAINER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "codec/fade.h"

#define FC_HEADER_LEN   32u
#define FC_FOOTER_LEN   8u
#define FC_VERSION      1u
#define FC_LEN_UNKNOWN  UINT64_MAX
#define FC_DEFAULT_BLOCK (1u << 20)
/* The default of the mix presets with one_stream set: their context
 * models gain from seeing more of a file (gcide_0-10M.txt 9.6 % smaller
 * than in 1 MiB blocks, docs/BENCHMARKS.md) and their blocks are one
 * stream whatever the size. */
#define FC_DEFAULT_BLOCK_MIX (16u << 20)

/* The block size a container of preset p gets when none is asked for. */
uint32_t fc_default_block(const struct fade_preset *p);

/* Called now and then with raw bytes done and the total (0 if unknown).
 * Calls are serialised (never two at once) but may come from any thread. */
typedef void (*fc_progress_fn)(void *arg, uint64_t done, uint64_t total);

struct fc_opts {
    const char   *preset;       /* encoding preset; NULL = default */
    uint32_t      block_size;   /* raw bytes per block; 0 = fc_default_block() */
    uint32_t      n_streams;    /* 0 = blk_default_streams() per block */
    enum fade_isa isa;
    uint32_t      n_threads;    /* total threads; 0 or 1 = one */
    int           raw_only;     /* encode: store blocks raw (tests, tools) */
    fade_ctx     *ctx;          /* if set: code every block on this context
                                 * (one at a time, n_threads ignored; not
                                 * freed); NULL = contexts of our own */
    fc_progress_fn progress;
    void         *progress_arg;
};

struct fc_stats {
    uint64_t in_bytes;          /* bytes read */
    uint64_t out_bytes;         /* bytes written */
    uint64_t n_blocks;
    uint64_t n_fade_blocks;     /* blocks coded with the model (not raw) */
    double   flops;             /* model FLOPs spent (blk_flops sums) */
    int64_t  err_block;         /* block an error belongs to, or -1 */
    int      err_output;        /* FADE_E_IO: 1 if writing failed, 0 reading */
    int      err_errno;         /* FADE_E_IO: errno of the failed call */
};

/* Reads in_fd to its end and writes a container to out_fd.  If out_fd is a
 * regular file, the header's total length is filled in at the end.
 * Returns 0 or a FADE_E_* code; st (may be NULL) gets the counts. */
int fc_encode_fd(int in_fd, int out_fd, const struct fc_opts *opts, struct fc_stats *st);

/* Reads a container from in_fd front to back, writes the raw bytes to
 * out_fd, and checks everything: framing, every block, the trailer, and
 * that nothing follows it.  opts may be NULL (only n_threads, isa and
 * progress are used). */
int fc_decode_fd(int in_fd, int out_fd, const struct fc_opts *opts, struct fc_stats *st);

/* Random access through the index. */
struct fc_reader;
/* Validates header, footer and index of the container in fd (not owned;
 * must stay open).  0 or FADE_E_*. */
int  fc_reader_open(struct fc_reader **out, int fd);
void fc_reader_free(struct fc_reader *r);
uint64_t fc_reader_n_blocks(const struct fc_reader *r);
uint64_t fc_reader_raw_len(const struct fc_reader *r);
uint32_t fc_reader_block_size(const struct fc_reader *r);
/* Decodes block i into dst; returns its raw length or FADE_E_*.  ctx may
 * be NULL for raw blocks only. */
ssize_t fc_reader_block(struct fc_reader *r, fade_ctx *ctx, uint64_t i,
                        void *dst, size_t dst_cap);

#endif /* FADE_CONTAINER_H */
