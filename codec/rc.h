/* rc.h — the range coder of FADE blocks: pure integer, 32-bit range, 64-bit
 * low with carry propagation (the LZMA scheme), totals fixed at 2^16.
 *
 * The exact byte-level specification is in codec/FORMAT.md ("Range
 * coder"); in short: range starts at 0xFFFFFFFF; coding (cum, freq) sets
 * r = range >> 16, low += r * cum, range = r * freq, then shifts out bytes
 * while range < 2^24.  The first byte LZMA would emit is always zero and is
 * left out; flushing writes the four bytes of low.  A stream of n symbols
 * that needed k normalisation shifts is exactly k + 4 bytes long, and the
 * decoder consumes exactly that many and ends with code == 0 (the flushed
 * value is low itself), which it checks.
 *
 * The decoder never reads outside its input: bytes past the end read as
 * zero and raise `overrun`, and an impossible target (a corrupt stream)
 * raises `bad`; rc_dec_finish() then fails.  So a truncated or damaged
 * stream cannot hang, crash, or pass as valid through the coder alone (the
 * block CRC catches what slips through).
 *
 * Memory: coders keep the buffer pointer they are given until finished; the
 * caller owns it.  No allocation.  A coder is one stream, one thread.
 */
#ifndef FADE_RC_H
#define FADE_RC_H

#include <stddef.h>
#include <stdint.h>

#define RC_TOTAL_BITS 16
#define RC_TOTAL      (1u << RC_TOTAL_BITS)

struct rc_enc {
    uint64_t low;        /* bits 0..31: low end of the interval; bit 32: carry */
    uint32_t range;      /* width of the interval, >= 2^24 between symbols */
    uint8_t  cache;      /* last byte not yet written (a carry may still reach it) */
    uint64_t n_ff;       /* 0xFF bytes pending behind cache */
    int      started;    /* 0 until the (always-zero) first byte was dropped */
    uint8_t *buf;        /* output, buf[0..cap) */
    size_t   cap;
    size_t   pos;        /* bytes written */
    int      overflow;   /* set if the output did not fit in cap */
};

struct rc_dec {
    uint32_t range;
    uint32_t code;       /* value - low, < range for a valid stream */
    const uint8_t *buf;
    size_t   len;
    size_t   pos;        /* bytes asked for so far (may pass len: zeros) */
    int      bad;        /* impossible target seen */
};

/* Worst-case coded size of n symbols: two bytes per symbol (r*freq >= 2^8
 * after any symbol, so at most two shifts) plus the four flush bytes. */
static inline size_t rc_bound(size_t n_symbols)
{
    return 2 * n_symbols + 4;
}

void rc_enc_init(struct rc_enc *e, uint8_t *buf, size_t cap);
/* Codes the sub-interval [cum, cum+freq) of RC_TOTAL; freq >= 1,
 * cum + freq <= RC_TOTAL (asserted: the model guarantees it). */
void rc_enc_put(struct rc_enc *e, uint32_t cum, uint32_t freq);
/* Codes symbol s with the 256-entry frequency table freq (sum RC_TOTAL). */
void rc_enc_sym(struct rc_enc *e, const uint32_t *freq, unsigned s);
/* Flushes; returns 0 and the stream length in *len, or FADE_E_DST_SMALL. */
int  rc_enc_finish(struct rc_enc *e, size_t *len);

void rc_dec_init(struct rc_dec *d, const uint8_t *buf, size_t len);
/* The target value in [0, RC_TOTAL) for the next symbol; on a corrupt
 * stream sets d->bad and returns RC_TOTAL - 1. */
uint32_t rc_dec_target(struct rc_dec *d);
/* Removes the sub-interval [cum, cum+freq) after rc_dec_target(). */
void rc_dec_advance(struct rc_dec *d, uint32_t cum, uint32_t freq);
/* Decodes one symbol with a 256-entry frequency table (sum RC_TOTAL). */
unsigned rc_dec_sym(struct rc_dec *d, const uint32_t *freq);
/* 0 if the stream was consumed exactly, ended on the flushed value and
 * nothing was wrong, else FADE_E_CORRUPT (impossible target, bytes left
 * over, final value not the encoder's) or
 * FADE_E_TRUNCATED (the decoder needed bytes past the end). */
int  rc_dec_finish(const struct rc_dec *d);

#endif /* FADE_RC_H */
