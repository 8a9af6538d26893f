/* block.h — private helpers of the block coder that the `fade` command's
 * benchmark and the tests also use.  The block format is in FORMAT.md. */
#ifndef FADE_BLOCK_H
#define FADE_BLOCK_H

#include <stddef.h>
#include <stdint.h>
#include "codec/fade.h"

#define BLK_MAGIC0 0xFAu
#define BLK_MAGIC1 0xDEu
#define BLK_MAGIC2 0xB1u
#define BLK_MAGIC3 0x0Cu
#define BLK_VERSION 1u
#define BLK_PREFIX_LEN 16u            /* magic .. crc32c, common to both codecs */
#define BLK_RAW_HEADER_LEN 20u
#define BLK_FADE_HEADER_LEN(n) (32u + 4u * (size_t)(n))

/* Sub-stream length target of blk_default_streams(), chosen by measurement
 * (docs/BENCHMARKS.md): 64 KiB beats xz -9e on enwik6, 16 KiB does not. */
#define BLK_STREAM_TARGET (64u << 10)

/* Default number of sub-streams for a block of raw_len bytes when the
 * context asks for none: one per BLK_STREAM_TARGET bytes, at least 1, at
 * most max_streams and never more than raw_len.  Fewer, longer streams
 * compress better (the model sees more updates per byte) but step more
 * times; the benchmark varies this with `fade bench -s`. */
uint32_t blk_default_streams(size_t raw_len, uint32_t max_streams);

/* Start offset and length of sub-stream b when raw_len bytes are split into
 * n streams: longer streams first, len_b = raw_len/n + (b < raw_len%n). */
size_t blk_stream_start(size_t raw_len, uint32_t n, uint32_t b);
size_t blk_stream_len(size_t raw_len, uint32_t n, uint32_t b);

/* Floating-point operations the model spends on a block of raw_len bytes
 * coded in n streams with preset p (sum of mdl_flops_per_step). */
double blk_flops(const struct fade_preset *p, size_t raw_len, uint32_t n);

#endif /* FADE_BLOCK_H */
