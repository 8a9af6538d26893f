/* test_mix.c — the mix presets: the binary coder on its own, round trips
 * of mix blocks over sizes and stream counts, identical bytes on every
 * ISA and thread count, pinned bytes, every part of the mixing coder
 * taking part, the network gate, and damaged blocks rejected. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codec/bc.h"
#include "codec/block.h"
#include "codec/container.h"
#include "codec/fade.h"
#include "codec/mix.h"
#include "tests/codec/codec_util.h"

static fade_ctx *mk_ctx(const char *preset, uint32_t streams, uint32_t threads,
                        enum fade_isa isa)
{
    fade_ctx *c;
    struct fade_ctx_params p = {.preset = preset, .n_streams = streams,
                                .n_threads = threads, .isa = isa};
    cr_assert_eq(fade_ctx_create(&c, &p), 0, "%s", preset);
    return c;
}

static uint8_t *corpus(const char *name, size_t off, size_t len)
{
    size_t got;
    uint8_t *b = tu_corpus_slice(name, off, len, &got);
    cr_assert(b && got == len, "corpus file %s missing (set FADE_CORPUS)", name);
    return b;
}

/* Encodes src with ctx, checks the block is a mix block (or raw when
 * allow_raw), decodes it with a fresh context and compares. */
static ssize_t roundtrip(fade_ctx *ctx, const uint8_t *src, size_t n, uint8_t **out_blk)
{
    size_t cap = fade_block_bound(n, 0);
    uint8_t *blk = malloc(cap), *back = malloc(n + 1);
    cr_assert(blk && back);
    ssize_t len = fade_block_encode(ctx, blk, cap, src, n);
    cr_assert_gt(len, 0, "encode: %s", fade_strerror((int)len));
    fade_ctx *d = mk_ctx("tiny", 0, 1, FADE_ISA_AUTO);
    ssize_t got = fade_block_decode(d, back, n, blk, (size_t)len);
    cr_assert_eq(got, (ssize_t)n, "decode: %s", fade_strerror((int)got));
    cr_assert(n == 0 || memcmp(back, src, n) == 0, "round trip differs");
    fade_ctx_free(d);
    free(back);
    if (out_blk)
        *out_blk = blk;
    else
        free(blk);
    return len;
}

Test(mix, binary_coder_roundtrip_and_exact_end)
{
    enum { N = 20000 };
    static uint8_t buf[4 * N];
    static int bits[N];
    static uint32_t probs[N];
    uint64_t s = 42;
    for (int i = 0; i < N; i++) {
        probs[i] = 1 + (uint32_t)(tu_rnd(&s) % 65535);
        /* mostly the likely bit, with extreme probabilities too */
        if (i % 7 == 0)
            probs[i] = i % 2 ? 1 : 65535;
        bits[i] = (tu_rnd(&s) % 65536) < probs[i];
    }
    struct bc_enc e;
    bc_enc_init(&e, buf, sizeof buf);
    for (int i = 0; i < N; i++)
        bc_enc_bit(&e, probs[i], bits[i]);
    size_t len;
    cr_assert_eq(bc_enc_finish(&e, &len), 0);
    cr_assert_leq(len, sizeof buf);

    struct bc_dec d;
    bc_dec_init(&d, buf, len);
    for (int i = 0; i < N; i++)
        cr_assert_eq(bc_dec_bit(&d, probs[i]), bits[i], "bit %d", i);
    cr_assert_eq(bc_dec_finish(&d), 0);

    /* One byte short, or one extra: the end check sees it. */
    bc_dec_init(&d, buf, len - 1);
    for (int i = 0; i < N; i++)
        (void)bc_dec_bit(&d, probs[i]);
    cr_assert_neq(bc_dec_finish(&d), 0, "cut stream accepted");
    buf[len] = 0x5A;
    bc_dec_init(&d, buf, len + 1);
    for (int i = 0; i < N; i++)
        (void)bc_dec_bit(&d, probs[i]);
    cr_assert_neq(bc_dec_finish(&d), 0, "trailing byte accepted");

    /* An output buffer too small is reported, not overrun. */
    uint8_t small[8];
    bc_enc_init(&e, small, sizeof small);
    for (int i = 0; i < 1000; i++)
        bc_enc_bit(&e, 1, 1);
    cr_assert_neq(bc_enc_finish(&e, &len), 0);
}

Test(mix, roundtrip_sizes_and_streams, .timeout = 600)
{
    static const size_t sizes[] = {1, 2, 7, 100, 4097, 70000};
    static const uint32_t streams[] = {0, 1, 3, 16, 256};
    uint8_t *text = corpus("alice29.txt", 0, 70000);
    uint8_t *bin = corpus("kppkn.gtb", 0, 70000);
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        for (size_t k = 0; k < sizeof streams / sizeof *streams; k++) {
            fade_ctx *c = mk_ctx("mix", streams[k], 1, FADE_ISA_AUTO);
            (void)roundtrip(c, text, sizes[si], NULL);
            (void)roundtrip(c, bin, sizes[si], NULL);
            fade_ctx_free(c);
        }
    }
    /* Random bytes cannot be coded smaller: a raw block comes back. */
    uint8_t rnd[5000];
    tu_fill_random(rnd, sizeof rnd, 7);
    fade_ctx *c = mk_ctx("mix", 0, 1, FADE_ISA_AUTO);
    uint8_t *blk;
    (void)roundtrip(c, rnd, sizeof rnd, &blk);
    struct fade_block_info info;
    cr_assert_eq(fade_block_info(blk, FADE_RAW_HEADER_LEN + sizeof rnd, &info), 0);
    cr_assert_eq(info.codec, FADE_CODEC_RAW);
    free(blk);
    fade_ctx_free(c);
    free(text);
    free(bin);
}

/* mix and max code a block in one stream, max1 .. max4 split it for the
 * network's batch; mix and max get 16 MiB blocks from `fade`. */
Test(mix, stream_counts_follow_the_preset)
{
    cr_assert_eq(blk_preset_streams(fade_preset_find("mix"), 8u << 20), 1);
    cr_assert_eq(blk_preset_streams(fade_preset_find("max"), 8u << 20), 1);
    cr_assert_eq(blk_preset_streams(fade_preset_find("max4"), 1u << 20), 16);
    cr_assert_eq(blk_preset_streams(fade_preset_find("small"), 1u << 20), 16);
    cr_assert_eq(fc_default_block(fade_preset_find("max")), FC_DEFAULT_BLOCK_MIX);
    cr_assert_eq(fc_default_block(fade_preset_find("max4")), FC_DEFAULT_BLOCK);
}

Test(mix, max_preset_roundtrip, .timeout = 600)
{
    uint8_t *src = corpus("geo.protodata", 0, 6000);
    fade_ctx *c = mk_ctx("max", 2, 1, FADE_ISA_AUTO);
    ssize_t len = roundtrip(c, src, 6000, NULL);
    cr_assert_lt(len, 6000 / 3, "max coded 6000 protobuf bytes into %zd", len);
    fade_ctx_free(c);
    free(src);
}

/* The FNV-1a pins of each mix stage version's block of a slice of
 * kppkn.gtb: a change is a format change (FORMAT.md, "Mix stage");
 * re-pin on purpose only.  mix1, mix2 and mix3 are versions 1 to 3, kept
 * so that their blocks decode.  Version 4's slice is long enough for its
 * streams to choose a row length (after 6 KiB each). */
static const struct {
    const char *preset;
    size_t off, n;
    uint32_t streams;
    ssize_t len;
    uint64_t hash;
} pins[] = {
    { "mix1", 20000, 6000, 3, 1104, 0xc0a5135ad1350bbaull },
    { "mix2", 20000, 6000, 3, 1101, 0x6821638bae799153ull },
    { "mix3", 20000, 6000, 3, 1104, 0x0687427ac3702f89ull },
    { "mix4", 20000, 30000, 2, 4780, 0x4fd53394e82541edull },
    /* mix: version 4 with gate 2, which tries the network less often */
    { "mix",  20000, 30000, 2, 4780, 0x32e94684e4d06325ull },
    /* max: version 4 with the network on every step and 8 slots a byte */
    { "max",  20000, 30000, 1, 3972, 0xad50c66cd9de9611ull },
};

Test(mix, same_bytes_on_every_isa_and_thread_count_and_pinned, .timeout = 600)
{
    static const struct { uint32_t threads; enum fade_isa isa; } runs[] = {
        {1, FADE_ISA_SCALAR}, {2, FADE_ISA_SCALAR}, {1, FADE_ISA_AVX2},
        {3, FADE_ISA_AVX2}, {1, FADE_ISA_AVX512}, {2, FADE_ISA_AVX512},
    };
    for (size_t k = 0; k < sizeof pins / sizeof *pins; k++) {
        uint8_t *src = corpus("kppkn.gtb", pins[k].off, pins[k].n);
        size_t cap = fade_block_bound(pins[k].n, 0);
        uint8_t *ref = malloc(cap), *b = malloc(cap);
        ssize_t ref_len = -1;
        int n_runs = 0;
        for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
            if (!fade_isa_available(runs[i].isa))
                continue;
            fade_ctx *c = mk_ctx(pins[k].preset, pins[k].streams, runs[i].threads, runs[i].isa);
            ssize_t len = fade_block_encode(c, ref_len < 0 ? ref : b, cap, src, pins[k].n);
            cr_assert_gt(len, 0);
            if (ref_len < 0)
                ref_len = len;
            else
                cr_assert(len == ref_len && memcmp(ref, b, (size_t)len) == 0,
                          "%s: %s with %u threads differs from the scalar path",
                          pins[k].preset, fade_isa_name(runs[i].isa), runs[i].threads);
            n_runs++;
            fade_ctx_free(c);
        }
        cr_assert_geq(n_runs, 2);
        struct fade_block_info info;
        cr_assert_eq(fade_block_info(ref, (size_t)ref_len, &info), 0);
        cr_assert_eq(info.codec, FADE_CODEC_FADE);
        cr_assert_eq(info.model_id, fade_preset_model_id(fade_preset_find(pins[k].preset)));
        uint64_t h = tu_fnv1a64(ref, (size_t)ref_len);
        cr_expect(ref_len == pins[k].len && h == pins[k].hash, "%s: got len %zd hash 0x%016llxull",
                  pins[k].preset, ref_len, (unsigned long long)h);
        free(ref);
        free(b);
        free(src);
    }
}

/* Every part of the mixing coder changes the coded size of data it models
 * (the ablation in docs/BENCHMARKS.md measures how much), and the network
 * is used on data where it pays. */
Test(mix, every_part_takes_part, .timeout = 600)
{
    uint8_t *text = corpus("alice29.txt", 0, 40000);
    uint8_t *bin = corpus("kppkn.gtb", 0, 40000);
    fade_ctx *c = mk_ctx("mix", 0, 1, FADE_ISA_AUTO);
    static const uint32_t parts[] = {
        MIX_USE_O1, MIX_USE_O2, MIX_USE_O3, MIX_USE_O4, MIX_USE_O6,   /* v4: no order 5 */
        MIX_USE_WORD, MIX_USE_WORD2, MIX_USE_SPARSE, MIX_USE_REC_A, MIX_USE_REC_B,
        MIX_USE_ROW, MIX_USE_MATCH, MIX_USE_APM, MIX_USE_NET, MIX_USE_HIST,
    };
    ssize_t full_t = blk_mix_trial(c, "mix", MIX_ALL, 0, -1, text, 40000, 2);
    ssize_t full_b = blk_mix_trial(c, "mix", MIX_ALL, 0, -1, bin, 40000, 2);
    cr_assert_gt(full_t, 0);
    cr_assert_gt(full_b, 0);
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        ssize_t t = blk_mix_trial(c, "mix", MIX_ALL & ~parts[i], 0, -1, text, 40000, 2);
        ssize_t b = blk_mix_trial(c, "mix", MIX_ALL & ~parts[i], 0, -1, bin, 40000, 2);
        cr_assert(t > 0 && b > 0);
        cr_expect(t != full_t || b != full_b, "part %#x changes nothing", parts[i]);
    }
    /* The network pays on the table when it always runs, and the gate
     * lets it run (and pay) on speech. */
    ssize_t nonet = blk_mix_trial(c, "mix", MIX_ALL & ~MIX_USE_NET, 0, -1, bin, 40000, 2);
    ssize_t always = blk_mix_trial(c, "mix", MIX_ALL, 0, 0, bin, 40000, 2);
    cr_expect_lt(always, nonet, "network %zd vs none %zd", always, nonet);
    uint8_t *wav = corpus("LJ001-0001.wav", 0, 40000);
    ssize_t gated = blk_mix_trial(c, "mix", MIX_ALL, 0, -1, wav, 40000, 1);
    ssize_t wav_nonet = blk_mix_trial(c, "mix", MIX_ALL & ~MIX_USE_NET, 0, -1, wav, 40000, 1);
    cr_expect_lt(gated, wav_nonet, "gated network %zd vs none %zd", gated, wav_nonet);
    free(wav);
    fade_ctx_free(c);
    free(text);
    free(bin);
}

/* Flipping any single byte of a mix block never yields wrong bytes: the
 * decoder fails, or (for a bit that did not matter) returns the data. */
Test(mix, damaged_blocks_fail_cleanly, .timeout = 600)
{
    uint8_t *src = corpus("alice29.txt", 1000, 3000);
    fade_ctx *c = mk_ctx("mix", 2, 1, FADE_ISA_AUTO);
    uint8_t *blk;
    ssize_t len = roundtrip(c, src, 3000, &blk);
    uint8_t *bad = malloc((size_t)len), *out = malloc(3000);
    int failed = 0;
    for (ssize_t i = 0; i < len; i += 3) {
        memcpy(bad, blk, (size_t)len);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        ssize_t got = fade_block_decode(c, out, 3000, bad, (size_t)len);
        if (got < 0)
            failed++;
        else
            cr_assert(got == 3000 && memcmp(out, src, 3000) == 0, "flip at %zd: wrong bytes", i);
    }
    cr_expect_gt(failed, len / 3 - 2, "only %d of %zd damaged blocks failed", failed, len / 3);
    /* Cut short and extended by a byte. */
    cr_assert_lt(fade_block_decode(c, out, 3000, blk, (size_t)len - 1), 0);
    free(bad);
    free(out);
    free(blk);
    fade_ctx_free(c);
    free(src);
}

Test(mix, known_positions)
{
    struct mix mx;
    mix_init(&mx, FADE_ISA_SCALAR);
    cr_assert_eq(mix_reset(&mx, 2, MIX_ALL, 10, 3, MIX_SLOTS, MIX_TBITS), 0);   /* streams of 4, 3, 3 */
    cr_assert_eq(mx.st[0].start, 0);
    cr_assert_eq(mx.st[1].start, 4);
    cr_assert_eq(mx.st[2].start, 7);
    for (uint32_t p = 0; p < 12; p++)
        cr_assert_eq(mix_known(&mx, p), 0);
    mx.st[1].done = 2;
    cr_assert(mix_known(&mx, 4) && mix_known(&mx, 5) && !mix_known(&mx, 6));
    cr_assert(!mix_known(&mx, 3) && !mix_known(&mx, 7) && !mix_known(&mx, 10));
    cr_assert_eq(mix_reset(&mx, 2, MIX_ALL, 0, 1, MIX_SLOTS, MIX_TBITS), FADE_E_INVAL);
    cr_assert_eq(mix_reset(&mx, 2, MIX_ALL, 3, 4, MIX_SLOTS, MIX_TBITS), FADE_E_INVAL);
    cr_assert_eq(mix_reset(&mx, 2, MIX_ALL | (1u << 20), 3, 1, MIX_SLOTS, MIX_TBITS), FADE_E_INVAL);
    cr_assert_eq(mix_reset(&mx, 0, MIX_ALL, 3, 1, MIX_SLOTS, MIX_TBITS), FADE_E_INVAL);
    cr_assert_eq(mix_reset(&mx, 5, MIX_ALL, 3, 1, MIX_SLOTS, MIX_TBITS), FADE_E_INVAL);
    cr_assert_eq(mix_reset(&mx, 4, MIX_ALL, 3, 1, 0, MIX_TBITS), FADE_E_INVAL);
    cr_assert_eq(mix_reset(&mx, 4, MIX_ALL, 3, 1, MIX_SLOTS_MAX + 1, MIX_TBITS), FADE_E_INVAL);
    cr_assert_eq(mix_reset(&mx, 4, MIX_ALL, 3, 1, MIX_SLOTS, MIX_TBITS_MIN - 1), FADE_E_INVAL);
    cr_assert_eq(mix_reset(&mx, 4, MIX_ALL, 3, 1, MIX_SLOTS, MIX_TBITS_MAX + 1), FADE_E_INVAL);
    /* version 1 has no order-5 or word-pair context, 2 and 3 no row
     * context, 4 no order 5 */
    cr_assert_eq(mix_reset(&mx, 1, MIX_ALL, 3, 1, MIX_SLOTS, MIX_TBITS), 0);
    cr_assert_eq(mx.use, MIX_ALL_V1);
    cr_assert_eq(mix_reset(&mx, 2, MIX_ALL, 3, 1, MIX_SLOTS, MIX_TBITS), 0);
    cr_assert_eq(mx.use, MIX_ALL_V3);
    cr_assert_eq(mix_reset(&mx, 3, MIX_ALL, 3, 1, MIX_SLOTS, MIX_TBITS), 0);
    cr_assert_eq(mx.use, MIX_ALL_V3);
    cr_assert_eq(mix_reset(&mx, 4, MIX_ALL, 3, 1, MIX_SLOTS, MIX_TBITS), 0);
    cr_assert_eq(mx.use, MIX_ALL_V4);
    mix_free(&mx);
}

/* The golden mix blocks are a corpus slice coded by each stage version's
 * preset (fade_block_encode with n_streams 2, or 1 for max and max4, one
 * thread): the first 3000 bytes of geo.protodata for versions 1 to 3, the
 * first 16384 of kppkn.gtb for version 4 (long enough for its streams to
 * choose a row length), its first 4096 for max and max4.  They must keep
 * decoding to exactly those bytes (what a format change would break). */
Test(mix, golden_blocks_decode, .timeout = 600)
{
    static const struct { const char *file, *preset, *src; size_t n; uint32_t streams; } golden[] = {
        { "block_fade_mix_2streams.blk", "mix1", "geo.protodata", 3000, 2 },
        { "block_fade_mix2_2streams.blk", "mix2", "geo.protodata", 3000, 2 },
        { "block_fade_mix3_2streams.blk", "mix3", "geo.protodata", 3000, 2 },
        { "block_fade_mix4_2streams.blk", "mix4", "kppkn.gtb", 16384, 2 },
        { "block_fade_mix4g2_2streams.blk", "mix", "kppkn.gtb", 16384, 2 },
        { "block_fade_max4_1stream.blk", "max4", "kppkn.gtb", 4096, 1 },
        { "block_fade_max_1stream.blk", "max", "kppkn.gtb", 4096, 1 },
    };
    char dir[4096], path[4400];
    cr_assert(tu_repo_path("tests/golden/ok", dir, sizeof dir), "tests/golden/ok not found");
    static uint8_t out[16384];
    fade_ctx *c = mk_ctx("tiny", 0, 1, FADE_ISA_AUTO);
    for (size_t i = 0; i < sizeof golden / sizeof *golden; i++) {
        uint8_t *want = corpus(golden[i].src, 0, golden[i].n);
        snprintf(path, sizeof path, "%s/%s", dir, golden[i].file);
        size_t len;
        uint8_t *blk = tu_read_file(path, &len);
        cr_assert(blk, "%s missing", path);
        cr_assert_eq(fade_block_decode(c, out, sizeof out, blk, len), (ssize_t)golden[i].n, "%s", path);
        cr_assert(memcmp(out, want, golden[i].n) == 0, "%s", path);
        struct fade_block_info info;
        cr_assert_eq(fade_block_info(blk, len, &info), 0);
        cr_assert_eq(info.model_id, fade_preset_model_id(fade_preset_find(golden[i].preset)));
        cr_assert_eq(info.n_streams, golden[i].streams);
        free(blk);
        free(want);
    }
    fade_ctx_free(c);
}
