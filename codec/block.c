/* block.c — FADE blocks: header parsing and validation, raw blocks, and the
 * lock-step loop that drives the model and one range coder per sub-stream.
 * The byte layout is specified in codec/FORMAT.md. */
#include <string.h>
#include "codec/block.h"
#include "codec/bytes.h"
#include "codec/ctx.h"
#include "codec/err.h"
#include "codec/match.h"
#include "codec/mix.h"
#include "codec/model.h"
#include "codec/rc.h"

/* Progress is reported every this many steps (and at the end). */
#define BLK_PROGRESS_STEPS 256u

uint32_t blk_default_streams(size_t raw_len, uint32_t max_streams)
{
    return blk_streams_for(raw_len, max_streams, BLK_STREAM_TARGET);
}

uint32_t blk_preset_streams(const struct fade_preset *p, size_t raw_len)
{
    size_t target = p->mix && p->one_stream ? BLK_MIX_STREAM_TARGET : BLK_STREAM_TARGET;
    return blk_streams_for(raw_len, p->max_streams, target);
}

uint32_t blk_streams_for(size_t raw_len, uint32_t max_streams, size_t target)
{
    size_t n = raw_len / target;
    if (n > max_streams)
        n = max_streams;
    if (n > FADE_BLOCK_MAX_STREAMS)
        n = FADE_BLOCK_MAX_STREAMS;
    if (n > raw_len)
        n = raw_len;
    return n ? (uint32_t)n : 1;
}

size_t blk_stream_start(size_t raw_len, uint32_t n, uint32_t b)
{
    size_t q = raw_len / n, r = raw_len % n;
    return (size_t)b * q + (b < r ? b : r);
}

size_t blk_stream_len(size_t raw_len, uint32_t n, uint32_t b)
{
    return raw_len / n + (b < raw_len % n);
}

double blk_flops(const struct fade_preset *p, size_t raw_len, uint32_t n)
{
    if (n == 0 || raw_len == 0)
        return 0;
    size_t q = raw_len / n, r = raw_len % n;
    double f = (double)q * mdl_flops_per_step(p, n);
    if (r)
        f += mdl_flops_per_step(p, (uint32_t)r);
    return f;
}

size_t fade_block_bound(size_t src_len, uint32_t n_streams)
{
    /* A FADE block is written only when it is smaller than the raw block,
     * so the raw block is the bound whatever n_streams is. */
    (void)n_streams;
    return BLK_RAW_HEADER_LEN + src_len;
}

size_t blk_varint_len(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t blk_varint_put(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

int blk_get_len(const uint8_t *p, size_t end, size_t *pos, unsigned version, uint32_t *len)
{
    size_t at = *pos;
    FADE_RETURN_IF(at > end, FADE_E_TRUNCATED);
    size_t left = end - at;
    if (version == 1) {
        FADE_RETURN_IF(left < 4, FADE_E_TRUNCATED);
        *len = ld_le32(p + at);
        *pos = at + 4;
        return 0;
    }
    FADE_CORRUPT_IF(version != 2);
    /* LEB128: 7 bits a byte, low group first, top bit = more follow. */
    uint32_t v = 0;
    for (size_t i = 0; i < BLK_VARINT_MAX; i++) {
        FADE_RETURN_IF(i >= left, FADE_E_TRUNCATED);
        uint8_t c = p[at + i];
        /* The fifth byte holds bits 28..31: more bits (overflow) or a
         * continuation (a sixth byte) cannot be a u32. */
        FADE_CORRUPT_IF(i == BLK_VARINT_MAX - 1 && c > 0x0F);
        v |= (uint32_t)(c & 0x7F) << (7 * i);
        if (!(c & 0x80)) {
            /* A last group of zero could have been left out: one value,
             * one encoding, so the header CRC pins the lengths. */
            FADE_CORRUPT_IF(i > 0 && c == 0);
            *len = v;
            *pos = at + i + 1;
            return 0;
        }
    }
    return FADE_CORRUPT();      /* not reached: the fifth byte ends the loop */
}

static void put_prefix(uint8_t *h, unsigned version, enum fade_codec codec,
                       uint32_t raw_len, uint32_t crc)
{
    h[0] = BLK_MAGIC0;
    h[1] = BLK_MAGIC1;
    h[2] = BLK_MAGIC2;
    h[3] = BLK_MAGIC3;
    h[4] = (uint8_t)version;
    h[5] = (uint8_t)codec;
    st_le16(h + 6, 0);
    st_le32(h + 8, raw_len);
    st_le32(h + 12, crc);
}

/* The one writer of the raw block header: fade_block_encode_raw's blocks
 * and fade_block_raw_header's headers are the same bytes. */
static void put_raw_header(uint8_t *h, uint32_t raw_len, uint32_t crc)
{
    put_prefix(h, BLK_VERSION_RAW, FADE_CODEC_RAW, raw_len, crc);
    st_le32(h + 16, fade_crc32c(0, h, 16));
}

ssize_t fade_block_raw_header(void *dst, size_t dst_cap, uint32_t raw_len,
                              uint32_t crc32c)
{
    if (!dst || raw_len > FADE_BLOCK_MAX_RAW)
        return FADE_E_INVAL;
    if (dst_cap < BLK_RAW_HEADER_LEN)
        return FADE_E_DST_SMALL;
    put_raw_header(dst, raw_len, crc32c);
    return BLK_RAW_HEADER_LEN;
}

static ssize_t raw_with_crc(void *dst, size_t dst_cap, const void *src,
                            size_t src_len, uint32_t crc)
{
    if (!dst || (!src && src_len))
        return FADE_E_INVAL;
    if (src_len > FADE_BLOCK_MAX_RAW)
        return FADE_E_INVAL;
    if (dst_cap < BLK_RAW_HEADER_LEN || src_len > dst_cap - BLK_RAW_HEADER_LEN)
        return FADE_E_DST_SMALL;
    put_raw_header(dst, (uint32_t)src_len, crc);
    if (src_len)
        memmove((uint8_t *)dst + BLK_RAW_HEADER_LEN, src, src_len);
    return (ssize_t)(BLK_RAW_HEADER_LEN + src_len);
}

ssize_t fade_block_encode_raw(void *dst, size_t dst_cap, const void *src, size_t src_len)
{
    if (src_len > FADE_BLOCK_MAX_RAW)
        return FADE_E_INVAL;
    return raw_with_crc(dst, dst_cap, src, src_len, src ? fade_crc32c(0, src, src_len) : 0);
}

int fade_block_info(const void *src, size_t src_len, struct fade_block_info *info)
{
    static const uint8_t magic[4] = {BLK_MAGIC0, BLK_MAGIC1, BLK_MAGIC2, BLK_MAGIC3};
    const uint8_t *p = src;
    if ((!src && src_len) || !info)
        return FADE_E_INVAL;
    memset(info, 0, sizeof *info);

    /* A prefix of the magic is "truncated", anything else "not FADE". */
    size_t m = src_len < 4 ? src_len : 4;
    if (m && memcmp(p, magic, m) != 0)
        return FADE_E_NOT_FADE;
    FADE_RETURN_IF(src_len < BLK_PREFIX_LEN, FADE_E_TRUNCATED);
    FADE_RETURN_IF(p[4] > BLK_VERSION, FADE_E_VERSION);
    FADE_CORRUPT_IF(p[4] == 0);
    FADE_CORRUPT_IF(p[5] != FADE_CODEC_RAW && p[5] != FADE_CODEC_FADE);
    FADE_CORRUPT_IF(ld_le16(p + 6) != 0);          /* reserved flags */
    uint32_t raw_len = ld_le32(p + 8);
    FADE_CORRUPT_IF(raw_len > FADE_BLOCK_MAX_RAW);

    info->codec = p[5];
    info->format_version = p[4];
    info->raw_len = raw_len;
    info->crc32c = ld_le32(p + 12);

    if (info->codec == FADE_CODEC_RAW) {
        FADE_RETURN_IF(src_len < BLK_RAW_HEADER_LEN, FADE_E_TRUNCATED);
        FADE_CORRUPT_IF(ld_le32(p + 16) != fade_crc32c(0, p, 16));
        info->header_len = BLK_RAW_HEADER_LEN;
        info->block_len = BLK_RAW_HEADER_LEN + (size_t)raw_len;
        FADE_RETURN_IF(src_len < info->block_len, FADE_E_TRUNCATED);
        return 0;
    }

    FADE_RETURN_IF(src_len < BLK_FADE_TABLE_AT, FADE_E_TRUNCATED);
    uint32_t n = ld_le32(p + 24);
    FADE_CORRUPT_IF(n == 0 || n > FADE_BLOCK_MAX_STREAMS || n > raw_len);
    /* The length table ends where its n-th entry ends (fixed in version 1,
     * varints in version 2); the header CRC follows it.  Find the end
     * first, check the CRC, and only then trust the values. */
    size_t pos = BLK_FADE_TABLE_AT;
    uint32_t len;
    for (uint32_t b = 0; b < n; b++)
        FADE_FORWARD(blk_get_len(p, src_len, &pos, info->format_version, &len));
    FADE_RETURN_IF(src_len - pos < 4, FADE_E_TRUNCATED);
    size_t hlen = pos + 4;
    FADE_CORRUPT_IF(ld_le32(p + pos) != fade_crc32c(0, p, pos));
    uint64_t payload = 0;
    pos = BLK_FADE_TABLE_AT;
    for (uint32_t b = 0; b < n; b++) {
        FADE_FORWARD(blk_get_len(p, src_len, &pos, info->format_version, &len));
        /* Every stream flushes 4 bytes and codes at most 2 per symbol. */
        FADE_CORRUPT_IF(len < 4 || len > rc_bound(blk_stream_len(raw_len, n, b)));
        payload += len;
    }
    info->model_id = ld_le64(p + 16);
    info->n_streams = n;
    info->header_len = hlen;
    info->block_len = hlen + (size_t)payload;
    FADE_RETURN_IF(src_len < info->block_len, FADE_E_TRUNCATED);
    return 0;
}

static void report(struct fade_ctx *ctx, uint64_t done, uint64_t total)
{
    if (ctx->progress)
        ctx->progress(ctx->progress_arg, done, total);
}

/* The match stage of preset p for a block of len bytes in n streams:
 * ctx->match started for the block, or NULL when p has none. */
static int match_start(struct fade_ctx *ctx, const struct fade_preset *p, size_t len,
                       uint32_t n, struct match **out)
{
    *out = NULL;
    if (!p->match_min)
        return 0;
    struct match_cfg cfg;
    match_cfg_init(&cfg, p->match_min);
    FADE_FORWARD(match_reset(&ctx->match, &cfg, len, n));
    *out = &ctx->match;
    return 0;
}

/* Codes src in n lock-step streams into ctx->streams, compacted in stream
 * order; stream b's length is left in ctx->enc[b].pos.  mt is the match
 * stage or NULL.  Returns the payload length or a FADE_E_* code. */
static ssize_t fade_encode_streams(struct fade_ctx *ctx, struct mdl *m, struct match *mt,
                                   const uint8_t *src, size_t src_len, uint32_t n)
{
    size_t q = src_len / n, r = src_len % n;
    size_t steps = q + (r != 0);
    /* Stream b gets rc_bound(len_b) bytes at a fixed place in the scratch,
     * 2 * src_len + 4 * n in all (ctx_reserve). */
    size_t off = 0;
    for (uint32_t b = 0; b < n; b++) {
        size_t cap = rc_bound(blk_stream_len(src_len, n, b));
        rc_enc_init(&ctx->enc[b], ctx->streams + off, cap);
        off += cap;
    }
    FADE_FORWARD(mdl_reset(m, n));
    uint64_t done = 0;
    for (size_t i = 0; i < steps; i++) {
        uint32_t n_active = i < q ? n : (uint32_t)r;
        FADE_FORWARD(mdl_predict(m, n_active, ctx->freq));
        if (mt)
            match_predict(mt, src, i, n_active, ctx->freq);
        for (uint32_t b = 0; b < n_active; b++) {
            uint8_t s = src[b * q + (b < r ? b : r) + i];
            ctx->sym[b] = s;
            rc_enc_sym(&ctx->enc[b], ctx->freq + (size_t)b * 256, s);
        }
        if (mt)
            match_update(mt, src, i, n_active);
        FADE_FORWARD(mdl_update(m, n_active, ctx->sym));
        done += n_active;
        if ((i + 1) % BLK_PROGRESS_STEPS == 0) {
            if (ctx->cancel && atomic_load(ctx->cancel))
                return FADE_E_CANCELED;
            report(ctx, done, src_len);
        }
    }
    /* Compact the streams to the front of the scratch, in order; each one
     * starts at or after the write position, so memmove is enough. */
    size_t w = 0;
    for (uint32_t b = 0; b < n; b++) {
        size_t len;
        /* Cannot fail: rc_bound() is a true bound (tests check it). */
        FADE_FORWARD(rc_enc_finish(&ctx->enc[b], &len));
        memmove(ctx->streams + w, ctx->enc[b].buf, len);
        w += len;
    }
    report(ctx, src_len, src_len);
    return (ssize_t)w;
}

/* The network gate of the mix presets (FORMAT.md, "Network gate"): the
 * network's term must save GATE_MIN_Q8 / 256 bits a netted byte over a
 * window of GATE_STEPS steps to stay on (1/8 bit: on one stream the
 * network costs about eleven times the rest of the stage,
 * docs/BENCHMARKS.md); otherwise it
 * rests for 2, 4, ... up to rest_max windows and then is tried again
 * (net_gate 1), or for 64, 256, 1024, 4096 windows (net_gate 2).
 * Short windows and long rests keep what a block that does not need the
 * network pays for trying it small.  Stage 1 rests up to 256 windows: 7
 * windows of a 64 KiB block (3 % of its steps), 20 of a 1 MiB block
 * (0.5 %).  Stage 2 rests up to 4096: 7 and 12 windows (0.3 %).  A
 * network step costs some 22 bytes of the rest of the stage, so those
 * tries were 6 % of the default's time over the corpus and 19 % of a
 * 256 KiB block's; net_gate 2 tries 2, 3 and 4 windows of a 64 KiB, a
 * 256 KiB and a 1 MiB block, for the same bytes (docs/BENCHMARKS.md). */
#define GATE_STEPS    256u
#define GATE_MIN_Q8   32
#define GATE_REST_MIN 2u
#define GATE2_REST_MIN 64u         /* net_gate 2: the first rest */
#define GATE2_GROWTH   4u          /* and each next one's factor */

struct gate {
    int on;
    uint32_t rest, backoff;
    uint32_t rest_min, growth; /* the first rest and each next one's factor */
    uint32_t rest_max;         /* the stage version's longest rest */
    uint64_t bytes;            /* netted bytes in this window */
};

/* After step i (0-based): at a window's end, decides the next window. */
static void gate_step(struct gate *g, struct mix *mx, size_t i)
{
    if ((i + 1) % GATE_STEPS != 0)
        return;
    if (g->on) {
        if (mx->net_gain < (int64_t)GATE_MIN_Q8 * (int64_t)g->bytes) {
            g->on = 0;
            g->rest = g->backoff;
            if (g->backoff < g->rest_max)
                g->backoff *= g->growth;
        } else {
            g->backoff = g->rest_min;
        }
    } else if (--g->rest == 0) {
        g->on = 1;
    }
    mx->net_gain = 0;
    g->bytes = 0;
}

/* The mix presets' lock-step loop (mix.h): the network predicts for its
 * share of the streams while the gate has it on, and every byte goes
 * through the mixing coder and one binary coder per stream.  Encodes src
 * (dst NULL) into ctx->streams like fade_encode_streams, or decodes into
 * dst from the streams of the block at src described by info.  Returns the
 * payload length (encoding), 0 (decoding) or a FADE_E_* code. */
static ssize_t mix_streams(struct fade_ctx *ctx, struct mdl *m, const struct fade_preset *p,
                           uint32_t use, const uint8_t *src, size_t len, uint32_t n,
                           uint8_t *dst, const struct fade_block_info *info)
{
    size_t q = len / n, r = len % n;
    size_t steps = q + (r != 0);
    struct mix *mx = &ctx->mix;
    FADE_FORWARD(mix_reset(mx, p->mix, use, len, n, p->mix_slots ? p->mix_slots : MIX_SLOTS,
                           p->mix_tbits ? p->mix_tbits : MIX_TBITS));
    if (!dst) {
        size_t off = 0;
        for (uint32_t b = 0; b < n; b++) {
            size_t cap = rc_bound(blk_stream_len(len, n, b));
            bc_enc_init(&ctx->benc[b], ctx->streams + off, cap);
            off += cap;
        }
    } else {
        size_t off = info->header_len, pos = BLK_FADE_TABLE_AT;
        for (uint32_t b = 0; b < n; b++) {
            uint32_t sl;
            FADE_FORWARD(blk_get_len(src, info->header_len - 4, &pos, info->format_version, &sl));
            bc_dec_init(&ctx->bdec[b], src + off, sl);
            off += sl;
        }
    }
    const int net = m && (use & MIX_USE_NET);
    /* The network's streams: a prefix, as the model wants. */
    uint32_t nn = (n + p->net_div - 1) / p->net_div;
    if (net)
        FADE_FORWARD(mdl_reset(m, nn));
    /* the first rest is also the first backoff */
    const uint32_t rest_min = p->net_gate == 2 ? GATE2_REST_MIN : GATE_REST_MIN;
    struct gate g = { .on = 1, .rest = 0, .backoff = rest_min, .rest_min = rest_min,
                      .growth = p->net_gate == 2 ? GATE2_GROWTH : 2u,
                      .rest_max = p->mix == 1 ? 256u : 4096u, .bytes = 0 };
    uint64_t done = 0;
    for (size_t i = 0; i < steps; i++) {
        uint32_t n_active = i < q ? n : (uint32_t)r;
        uint32_t n_net = n_active < nn ? n_active : nn;
        const int run = net && (g.on || !p->net_gate);
        if (run) {
            FADE_FORWARD(mdl_predict(m, n_net, ctx->freq));
            g.bytes += n_net;
        }
        for (uint32_t b = 0; b < n_active; b++) {
            const uint32_t *row = run && b < n_net ? ctx->freq + (size_t)b * 256 : NULL;
            size_t at = b * q + (b < r ? b : r) + i;
            if (!dst) {
                mix_encode(mx, b, src, row, &ctx->benc[b]);
                ctx->sym[b] = src[at];
            } else {
                ctx->sym[b] = mix_decode(mx, b, dst, row, &ctx->bdec[b]);
            }
        }
        if (net) {
            if (run)
                FADE_FORWARD(mdl_update(m, n_net, ctx->sym));
            else
                FADE_FORWARD(mdl_skip(m, n_net, ctx->sym));
            if (p->net_gate)
                gate_step(&g, mx, i);
        }
        done += n_active;
        if ((i + 1) % BLK_PROGRESS_STEPS == 0) {
            if (!dst && ctx->cancel && atomic_load(ctx->cancel))
                return FADE_E_CANCELED;
            /* A valid stream never asks for a byte past its end (its
             * flush is four bytes): stop early on garbage. */
            if (dst)
                for (uint32_t b = 0; b < n; b++)
                    FADE_RETURN_IF(ctx->bdec[b].pos > ctx->bdec[b].len, FADE_E_CORRUPT);
            report(ctx, done, len);
        }
    }
    if (dst) {
        for (uint32_t b = 0; b < n; b++)
            FADE_CORRUPT_IF(bc_dec_finish(&ctx->bdec[b]) != 0);
        report(ctx, len, len);
        return 0;
    }
    size_t w = 0;
    for (uint32_t b = 0; b < n; b++) {
        size_t sl;
        if (bc_enc_finish(&ctx->benc[b], &sl) != 0)
            return FADE_E_DST_SMALL;    /* worse than 2 bytes a byte: raw */
        memmove(ctx->streams + w, ctx->benc[b].buf, sl);
        ctx->enc[b].pos = sl;           /* the header's length table */
        w += sl;
    }
    report(ctx, len, len);
    return (ssize_t)w;
}

ssize_t blk_mix_trial(fade_ctx *ctx, const char *preset, uint32_t use, uint32_t net_div,
                      int gate, const void *src, size_t len, uint32_t n)
{
    if (!ctx || !src || len == 0 || n == 0 || n > len || n > FADE_BLOCK_MAX_STREAMS)
        return FADE_E_INVAL;
    struct ctx_model *cm = ctx_model_named(ctx, preset);
    if (!cm || !cm->preset->mix || n > cm->preset->max_streams)
        return FADE_E_INVAL;
    FADE_FORWARD(ctx_model_ready(ctx, cm));
    FADE_FORWARD(ctx_reserve(ctx, n, 2 * len + 4 * (size_t)n));
    struct fade_preset v = *cm->preset;
    if (net_div)
        v.net_div = net_div;
    if (gate > 2)
        return FADE_E_INVAL;
    if (gate >= 0)
        v.net_gate = (uint32_t)gate;
    ssize_t rv = mix_streams(ctx, cm->m, &v, use, src, len, n, NULL, NULL);
    return rv == FADE_E_DST_SMALL ? (ssize_t)len : rv;
}

/* A preset that starts from a prior names a fallback for data its prior
 * does not know: the prior's low learning rate keeps what it knows about
 * text, code and markup, but adapts too slowly to data unlike them
 * (binary tables, audio, images), where a model learned from scratch at a
 * higher rate codes better.  The prior's own bits per byte on a few
 * windows of the block (about 0.1 % of the block's work for 1 MiB) tells
 * the two apart; docs/BENCHMARKS.md has the measurements behind the
 * threshold.  The block names the model it was coded with, so the choice
 * is the encoder's alone. */
#define BLK_PROBE_WINDOW   1024u
#define BLK_PROBE_WINDOWS  4u
#define BLK_PROBE_MAX_BITS 5.0f

static int pick_model(struct fade_ctx *ctx, struct ctx_model **cm, const uint8_t *src,
                      size_t len)
{
    const struct fade_preset *p = (*cm)->preset;
    if (!p->prior || !p->fallback)
        return 0;
    float bits = mdl_probe((*cm)->m, src, len, BLK_PROBE_WINDOW, BLK_PROBE_WINDOWS);
    if (bits >= 0.0f && bits <= BLK_PROBE_MAX_BITS)
        return 0;
    struct ctx_model *fb = ctx_model_named(ctx, p->fallback);
    if (!fb)
        return FADE_E_INVAL;
    FADE_FORWARD(ctx_model_ready(ctx, fb));
    *cm = fb;
    return 0;
}

ssize_t fade_block_encode(fade_ctx *ctx, void *dst, size_t dst_cap,
                          const void *src, size_t src_len)
{
    if (!ctx || !dst || (!src && src_len))
        return FADE_E_INVAL;
    if (src_len > FADE_BLOCK_MAX_RAW)
        return FADE_E_INVAL;
    uint32_t crc = fade_crc32c(0, src, src_len);
    if (src_len == 0)
        return raw_with_crc(dst, dst_cap, src, src_len, crc);

    struct ctx_model *cm = &ctx->models[ctx->i_preset];
    uint32_t n = ctx->n_streams ? ctx->n_streams : blk_preset_streams(cm->preset, src_len);
    if (n > src_len)
        n = (uint32_t)src_len;
    if (n > FADE_BLOCK_MAX_STREAMS)
        n = FADE_BLOCK_MAX_STREAMS;

    /* Cannot win: even if every stream were its minimum of 4 bytes, with
     * a one-byte length each, the block would not be shorter than the raw
     * one; do not run the model. */
    size_t raw_block = BLK_RAW_HEADER_LEN + src_len;
    if (BLK_FADE_HEADER_FIXED + 5 * (size_t)n >= raw_block)
        return raw_with_crc(dst, dst_cap, src, src_len, crc);

    FADE_FORWARD(ctx_model_ready(ctx, cm));
    FADE_FORWARD(pick_model(ctx, &cm, src, src_len));
    FADE_FORWARD(ctx_reserve(ctx, n, 2 * src_len + 4 * (size_t)n));
    ssize_t payload;
    if (cm->preset->mix) {
        payload = mix_streams(ctx, cm->m, cm->preset, MIX_ALL, src, src_len, n, NULL, NULL);
        if (payload == FADE_E_DST_SMALL)
            return raw_with_crc(dst, dst_cap, src, src_len, crc);
    } else {
        struct match *mt;
        FADE_FORWARD(match_start(ctx, cm->preset, src_len, n, &mt));
        payload = fade_encode_streams(ctx, cm->m, mt, src, src_len, n);
    }
    if (payload < 0)
        return payload;
    /* Size the header from the coded lengths before writing anything. */
    size_t hlen = BLK_FADE_HEADER_FIXED;
    for (uint32_t b = 0; b < n; b++)
        hlen += blk_varint_len((uint32_t)ctx->enc[b].pos);
    size_t total = hlen + (size_t)payload;
    if (total >= raw_block)
        return raw_with_crc(dst, dst_cap, src, src_len, crc);
    if (total > dst_cap)
        return FADE_E_DST_SMALL;

    uint8_t *h = dst;
    put_prefix(h, BLK_VERSION, FADE_CODEC_FADE, (uint32_t)src_len, crc);
    st_le64(h + 16, ctx_model_id(cm));
    st_le32(h + 24, n);
    size_t at = BLK_FADE_TABLE_AT;
    for (uint32_t b = 0; b < n; b++)
        at += blk_varint_put(h + at, (uint32_t)ctx->enc[b].pos);
    st_le32(h + at, fade_crc32c(0, h, at));
    memcpy(h + hlen, ctx->streams, (size_t)payload);
    return (ssize_t)total;
}

static int fade_decode_streams(struct fade_ctx *ctx, struct mdl *m, struct match *mt,
                               uint8_t *dst, const uint8_t *src,
                               const struct fade_block_info *info)
{
    uint32_t n = info->n_streams;
    size_t raw_len = info->raw_len;
    size_t q = raw_len / n, r = raw_len % n;
    size_t steps = q + (r != 0);
    size_t off = info->header_len;
    size_t pos = BLK_FADE_TABLE_AT;
    for (uint32_t b = 0; b < n; b++) {
        uint32_t len;
        /* fade_block_info() validated the table; parse it the same way. */
        FADE_FORWARD(blk_get_len(src, info->header_len - 4, &pos, info->format_version, &len));
        rc_dec_init(&ctx->dec[b], src + off, len);
        off += len;
    }
    FADE_FORWARD(mdl_reset(m, n));
    uint64_t done = 0;
    for (size_t i = 0; i < steps; i++) {
        uint32_t n_active = i < q ? n : (uint32_t)r;
        FADE_FORWARD(mdl_predict(m, n_active, ctx->freq));
        if (mt)
            match_predict(mt, dst, i, n_active, ctx->freq);
        int bad = 0;
        for (uint32_t b = 0; b < n_active; b++) {
            struct rc_dec *d = &ctx->dec[b];
            uint8_t s = (uint8_t)rc_dec_sym(d, ctx->freq + (size_t)b * 256);
            ctx->sym[b] = s;
            dst[b * q + (b < r ? b : r) + i] = s;
            /* A valid stream never asks past its end nor hits an
             * impossible target; stop at once rather than run the model
             * over garbage for the rest of the block. */
            bad |= d->bad | (d->pos > d->len);
        }
        if (bad)
            return FADE_CORRUPT();
        if (mt)
            match_update(mt, dst, i, n_active);
        FADE_FORWARD(mdl_update(m, n_active, ctx->sym));
        done += n_active;
        if ((i + 1) % BLK_PROGRESS_STEPS == 0)
            report(ctx, done, raw_len);
    }
    for (uint32_t b = 0; b < n; b++)
        FADE_CORRUPT_IF(rc_dec_finish(&ctx->dec[b]) != 0);
    report(ctx, raw_len, raw_len);
    return 0;
}

ssize_t fade_block_decode(fade_ctx *ctx, void *dst, size_t dst_cap,
                          const void *src, size_t src_len)
{
    struct fade_block_info info;
    if ((!dst && dst_cap) || (!src && src_len))
        return FADE_E_INVAL;
    FADE_FORWARD(fade_block_info(src, src_len, &info));
    /* One block, exactly: trailing bytes mean the caller's framing and the
     * block disagree. */
    FADE_CORRUPT_IF(src_len != info.block_len);
    FADE_RETURN_IF(dst_cap < info.raw_len, FADE_E_DST_SMALL);
    const uint8_t *p = src;
    if (info.codec == FADE_CODEC_RAW) {
        if (info.raw_len)
            memmove(dst, p + info.header_len, info.raw_len);
    } else {
        if (!ctx)
            return FADE_E_INVAL;
        struct ctx_model *cm = ctx_find_model(ctx, info.model_id);
        FADE_RETURN_IF(!cm, FADE_E_UNKNOWN_MODEL);
        FADE_CORRUPT_IF(info.n_streams > cm->preset->max_streams);
        FADE_FORWARD(ctx_model_ready(ctx, cm));
        FADE_FORWARD(ctx_reserve(ctx, info.n_streams, 0));
        if (cm->preset->mix) {
            ssize_t rv = mix_streams(ctx, cm->m, cm->preset, MIX_ALL, p, info.raw_len,
                                     info.n_streams, dst, &info);
            if (rv < 0)
                return rv;
        } else {
            struct match *mt;
            FADE_FORWARD(match_start(ctx, cm->preset, info.raw_len, info.n_streams, &mt));
            FADE_FORWARD(fade_decode_streams(ctx, cm->m, mt, dst, p, &info));
        }
    }
    FADE_RETURN_IF(fade_crc32c(0, dst, info.raw_len) != info.crc32c, FADE_E_CHECKSUM);
    return (ssize_t)info.raw_len;
}
