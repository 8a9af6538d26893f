/* rc.c — range encoder and decoder (specified in rc.h and codec/FORMAT.md). */
#include <assert.h>
#include "codec/fade.h"
#include "codec/rc.h"

#define RC_TOP (1u << 24)

void rc_enc_init(struct rc_enc *e, uint8_t *buf, size_t cap)
{
    e->low = 0;
    e->range = 0xFFFFFFFFu;
    e->cache = 0;
    e->n_ff = 0;
    e->started = 0;
    e->buf = buf;
    e->cap = cap;
    e->pos = 0;
    e->overflow = 0;
}

static void rc_out(struct rc_enc *e, uint8_t b)
{
    if (e->pos < e->cap)
        e->buf[e->pos] = b;
    else
        e->overflow = 1;
    e->pos++;
}

/* Moves the top byte of low out.  A byte is held back in `cache` (and a run
 * of 0xFF behind it counted in n_ff) until it is known that no carry can
 * reach it any more: that is the case once low's top byte is below 0xFF or
 * a carry has just happened. */
static void rc_shift_low(struct rc_enc *e)
{
    if ((uint32_t)e->low < 0xFF000000u || (e->low >> 32) != 0) {
        uint8_t carry = (uint8_t)(e->low >> 32);
        /* The interval starts inside [0, 2^32), so the very first byte is
         * always 0 with no carry: it carries no information and is dropped. */
        if (e->started)
            rc_out(e, (uint8_t)(e->cache + carry));
        else
            assert(e->cache == 0 && carry == 0);
        e->started = 1;
        for (; e->n_ff; e->n_ff--)
            rc_out(e, (uint8_t)(0xFF + carry));
        e->cache = (uint8_t)(e->low >> 24);
    } else {
        e->n_ff++;
    }
    e->low = (e->low & 0x00FFFFFFu) << 8;
}

void rc_enc_put(struct rc_enc *e, uint32_t cum, uint32_t freq)
{
    assert(freq >= 1 && cum + freq <= RC_TOTAL);
    uint32_t r = e->range >> RC_TOTAL_BITS;
    e->low += (uint64_t)r * cum;
    e->range = r * freq;
    while (e->range < RC_TOP) {
        e->range <<= 8;
        rc_shift_low(e);
    }
}

void rc_enc_sym(struct rc_enc *e, const uint32_t *freq, unsigned s)
{
    uint32_t cum = 0;
    for (unsigned i = 0; i < s; i++)
        cum += freq[i];
    rc_enc_put(e, cum, freq[s]);
}

int rc_enc_finish(struct rc_enc *e, size_t *len)
{
    /* Five shifts push the cache byte and all four bytes of low out. */
    for (int i = 0; i < 5; i++)
        rc_shift_low(e);
    *len = e->pos;
    return e->overflow ? FADE_E_DST_SMALL : 0;
}

static uint8_t rc_in(struct rc_dec *d)
{
    uint8_t b = d->pos < d->len ? d->buf[d->pos] : 0;
    d->pos++;
    return b;
}

void rc_dec_init(struct rc_dec *d, const uint8_t *buf, size_t len)
{
    d->buf = buf;
    d->len = len;
    d->pos = 0;
    d->bad = 0;
    d->range = 0xFFFFFFFFu;
    d->code = 0;
    for (int i = 0; i < 4; i++)
        d->code = d->code << 8 | rc_in(d);
}

uint32_t rc_dec_target(struct rc_dec *d)
{
    uint32_t r = d->range >> RC_TOTAL_BITS;
    uint32_t v = d->code / r;
    if (v >= RC_TOTAL) {
        /* code >= range: no encoder produces this.  Keep going with a
         * harmless value; the caller learns it from rc_dec_finish(). */
        d->bad = 1;
        v = RC_TOTAL - 1;
    }
    return v;
}

void rc_dec_advance(struct rc_dec *d, uint32_t cum, uint32_t freq)
{
    uint32_t r = d->range >> RC_TOTAL_BITS;
    d->code -= r * cum;
    d->range = r * freq;
    while (d->range < RC_TOP) {
        d->range <<= 8;
        d->code = d->code << 8 | rc_in(d);
    }
}

unsigned rc_dec_sym(struct rc_dec *d, const uint32_t *freq)
{
    uint32_t v = rc_dec_target(d);
    uint32_t cum = 0;
    unsigned s = 0;
    /* freq sums to RC_TOTAL > v, so the scan stops at s <= 255. */
    while (s < 255 && cum + freq[s] <= v) {
        cum += freq[s];
        s++;
    }
    rc_dec_advance(d, cum, freq[s]);
    return s;
}

int rc_dec_finish(const struct rc_dec *d)
{
    /* The encoder flushes low itself, so after the last symbol the value
     * read equals the decoder's low exactly: code is 0.  This makes the
     * flush bytes checked too, not just consumed. */
    if (d->bad || d->code != 0)
        return FADE_E_CORRUPT;
    if (d->pos > d->len)
        return FADE_E_TRUNCATED;
    if (d->pos < d->len)
        return FADE_E_CORRUPT;
    return 0;
}
