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
/* Newest block format this build reads, and the version it stamps on FADE
 * blocks.  Raw blocks are stamped BLK_VERSION_RAW, the oldest version with
 * their layout, so that older readers keep reading them (FORMAT.md). */
#define BLK_VERSION 2u
#define BLK_VERSION_RAW 1u
#define BLK_PREFIX_LEN 16u            /* magic .. crc32c, common to both codecs */
#define BLK_RAW_HEADER_LEN FADE_RAW_HEADER_LEN
/* FADE header: prefix, model id, stream count (28 bytes), the length
 * table, the header CRC (4 bytes). */
#define BLK_FADE_TABLE_AT 28u
#define BLK_FADE_HEADER_FIXED 32u
/* Version 1 tables are 4 bytes a stream; version 2 tables are varints of
 * 1..BLK_VARINT_MAX bytes (a u32 needs at most 5). */
#define BLK_FADE_V1_HEADER_LEN(n) (BLK_FADE_HEADER_FIXED + 4u * (size_t)(n))
#define BLK_VARINT_MAX 5u

/* Reads the coded length of one sub-stream from the length table of a FADE
 * block header of format `version` (1: u32; 2: minimal unsigned LEB128 of
 * at most 32 bits) at p[*pos], where p holds `end` readable bytes, and
 * advances *pos past it.  Returns 0, FADE_E_TRUNCATED if the field runs
 * past `end`, or FADE_E_CORRUPT for a badly encoded varint (non-minimal,
 * over 32 bits) or an unknown version.  The value itself is not checked. */
int blk_get_len(const uint8_t *p, size_t end, size_t *pos, unsigned version, uint32_t *len);

/* Bytes of the minimal varint of v, and writes it at p (returns its size). */
size_t blk_varint_len(uint32_t v);
size_t blk_varint_put(uint8_t *p, uint32_t v);

/* Sub-stream length target of blk_default_streams(), chosen by measurement
 * (docs/BENCHMARKS.md): 64 KiB beats xz -9e on enwik6, 16 KiB does not. */
#define BLK_STREAM_TARGET (64u << 10)

/* Default number of sub-streams for a block of raw_len bytes when the
 * context asks for none: one per BLK_STREAM_TARGET bytes, at least 1, at
 * most max_streams and never more than raw_len.  Fewer, longer streams
 * compress better (the model sees more updates per byte) but step more
 * times; the benchmark varies this with `fade bench -s`. */
uint32_t blk_default_streams(size_t raw_len, uint32_t max_streams);
/* The same with another length target (target >= 1). */
uint32_t blk_streams_for(size_t raw_len, uint32_t max_streams, size_t target);
/* The stream count fade_block_encode gives a block of preset p when the
 * context asks for none: one stream for a mix preset with one_stream set
 * (BLK_MIX_STREAM_TARGET), else blk_default_streams. */
uint32_t blk_preset_streams(const struct fade_preset *p, size_t raw_len);
/* The target of the mix presets with one_stream set (mix and max): the
 * context models code best in one stream (several interleave their
 * statistics, 2 to 8 % larger on the corpus), so a block is one stream.
 * max1 .. max4, whose small network runs on every step, split like the
 * network presets, where more streams make each step cheaper per byte
 * (docs/BENCHMARKS.md, "Mix presets"). */
#define BLK_MIX_STREAM_TARGET ((size_t)FADE_BLOCK_MAX_RAW)

/* Start offset and length of sub-stream b when raw_len bytes are split into
 * n streams: longer streams first, len_b = raw_len/n + (b < raw_len%n). */
size_t blk_stream_start(size_t raw_len, uint32_t n, uint32_t b);
size_t blk_stream_len(size_t raw_len, uint32_t n, uint32_t b);

/* Floating-point operations the model spends on a block of raw_len bytes
 * coded in n streams with preset p (sum of mdl_flops_per_step). */
double blk_flops(const struct fade_preset *p, size_t raw_len, uint32_t n);

/* For the ablation tool (tests/tools/fade_ablate): codes len bytes of
 * src in n streams with mix preset `preset` and only the parts in `use`
 * (MIX_USE_*, codec/mix.h), the network on one stream in net_div (0: the
 * preset's) and its gate off (0), on (1 or 2, FORMAT.md "Network gate")
 * or as the preset has it (-1),
 * and returns the coded payload's length (len
 * when it would not fit in 2 bytes a byte) or a FADE_E_* code.  Nothing
 * is written anywhere: such a variant has no model id. */
ssize_t blk_mix_trial(fade_ctx *ctx, const char *preset, uint32_t use, uint32_t net_div,
                      int gate, const void *src, size_t len, uint32_t n);

#endif /* FADE_BLOCK_H */
