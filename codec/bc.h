/* bc.h — the binary arithmetic coder of the mix presets: pure integer,
 * carry-less, one 32-bit interval [x1, x2] per sub-stream.
 *
 * Coding bit y with P(y = 1) = p / 65536 (1 <= p <= 65535) splits the
 * interval at xmid = x1 + ((x2 - x1) * p >> 16) (64-bit product): y = 1
 * keeps [x1, xmid], y = 0 keeps [xmid + 1, x2].  While x1 and x2 share
 * their top byte, that byte is written and both shift left by 8 (x2 takes
 * 0xFF from the right).  Flushing writes the four bytes of v, which is x2
 * with its low 4 - k bytes cleared for the smallest k (1 <= k <= 4) that
 * keeps v >= x1: one value for each final interval, and every stream is at
 * least 4 bytes long, as the block format's length rule wants.  The exact
 * specification is in codec/FORMAT.md ("Binary coder").
 *
 * The decoder reads bytes past the end of its input as zero and counts
 * them; bc_dec_finish then checks that the stream ended exactly where the
 * encoder's did (the code value is v, every byte used and none more), so
 * trailing garbage or a cut stream is an error here before the block CRC
 * sees it.
 * The interval arithmetic itself cannot fail: the code value always stays
 * inside [x1, x2].
 *
 * Memory: coders keep the buffer pointer they are given; the caller owns
 * it.  No allocation.  One coder is one stream, one thread.
 */
#ifndef FADE_BC_H
#define FADE_BC_H

#include <stddef.h>
#include <stdint.h>

struct bc_enc {
    uint32_t x1, x2;
    uint8_t *buf;
    size_t   cap;
    size_t   pos;        /* bytes produced (may pass cap: then overflow) */
    int      overflow;
};

struct bc_dec {
    uint32_t x1, x2, x;
    const uint8_t *buf;
    size_t   len;
    size_t   pos;        /* bytes asked for (may pass len: zeros) */
};

static inline void bc_enc_init(struct bc_enc *e, uint8_t *buf, size_t cap)
{
    e->x1 = 0;
    e->x2 = 0xFFFFFFFFu;
    e->buf = buf;
    e->cap = cap;
    e->pos = 0;
    e->overflow = 0;
}

static inline void bc_enc_byte(struct bc_enc *e, uint8_t c)
{
    if (e->pos < e->cap)
        e->buf[e->pos] = c;
    else
        e->overflow = 1;
    e->pos++;
}

/* Codes bit y (0 or 1) with P(1) = p / 65536, 1 <= p <= 65535. */
static inline void bc_enc_bit(struct bc_enc *e, uint32_t p, int y)
{
    uint32_t xmid = e->x1 + (uint32_t)(((uint64_t)(e->x2 - e->x1) * p) >> 16);
    if (y)
        e->x2 = xmid;
    else
        e->x1 = xmid + 1;
    while (((e->x1 ^ e->x2) & 0xFF000000u) == 0) {
        bc_enc_byte(e, (uint8_t)(e->x2 >> 24));
        e->x1 <<= 8;
        e->x2 = (e->x2 << 8) | 0xFFu;
    }
}

/* The flush value v of an interval and its k (see the top). */
static inline unsigned bc_flush_len(uint32_t x1, uint32_t x2, uint32_t *v)
{
    for (unsigned k = 1; k < 4; k++) {
        uint32_t t = x2 & ~(0xFFFFFFFFu >> (8 * k));
        if (t >= x1) {
            *v = t;
            return k;
        }
    }
    *v = x2;
    return 4;
}

/* Flushes; returns 0 and the stream length in *len, or -1 if the output
 * did not fit in cap. */
static inline int bc_enc_finish(struct bc_enc *e, size_t *len)
{
    uint32_t v;
    (void)bc_flush_len(e->x1, e->x2, &v);
    for (unsigned i = 0; i < 4; i++)
        bc_enc_byte(e, (uint8_t)(v >> (24 - 8 * i)));
    *len = e->pos;
    return e->overflow ? -1 : 0;
}

static inline uint8_t bc_dec_next(struct bc_dec *d)
{
    uint8_t c = d->pos < d->len ? d->buf[d->pos] : 0;
    d->pos++;
    return c;
}

static inline void bc_dec_init(struct bc_dec *d, const uint8_t *buf, size_t len)
{
    d->x1 = 0;
    d->x2 = 0xFFFFFFFFu;
    d->buf = buf;
    d->len = len;
    d->pos = 0;
    d->x = 0;
    for (int i = 0; i < 4; i++)
        d->x = (d->x << 8) | bc_dec_next(d);
}

/* Decodes one bit coded with P(1) = p / 65536. */
static inline int bc_dec_bit(struct bc_dec *d, uint32_t p)
{
    uint32_t xmid = d->x1 + (uint32_t)(((uint64_t)(d->x2 - d->x1) * p) >> 16);
    int y = d->x <= xmid;
    if (y)
        d->x2 = xmid;
    else
        d->x1 = xmid + 1;
    while (((d->x1 ^ d->x2) & 0xFF000000u) == 0) {
        d->x1 <<= 8;
        d->x2 = (d->x2 << 8) | 0xFFu;
        d->x = (d->x << 8) | bc_dec_next(d);
    }
    return y;
}

/* 0 if the stream ended as the encoder's did: the code value is the
 * flushed value and exactly len bytes were used; else -1. */
static inline int bc_dec_finish(const struct bc_dec *d)
{
    uint32_t v;
    (void)bc_flush_len(d->x1, d->x2, &v);
    return d->x == v && d->pos == d->len ? 0 : -1;
}

#endif /* FADE_BC_H */
