/* fuzz_roundtrip.c — libFuzzer target: arbitrary bytes encoded as a FADE
 * block (tiny preset, tiny-match for the match stage or mix for the mix
 * stage, and the stream count, both taken from the first byte) decode back
 * to exactly the same bytes, and the encoded block never exceeds
 * fade_block_bound().  Built by scripts/build-fuzz.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tests/fuzz/fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One context per preset and stream count, made on first use (the
     * fuzzer is single-threaded; creating a context per input would
     * dominate). */
    static const char *const presets[3] = {"tiny", "tiny-match", "mix"};
    static fade_ctx *ctxs[3][9];
    if (size < 1 || size > 2048)
        return 0;
    unsigned k = data[0] % 9;                   /* 1 << k streams: 1..256 */
    unsigned which = (data[0] / 9) % 3;
    fade_ctx **ctx = ctxs[which];
    uint32_t streams = 1u << k;
    if (streams > 64)
        streams = 64;                           /* tiny's max_streams */
    if (!ctx[k]) {
        struct fade_ctx_params p = {.preset = presets[which], .n_streams = streams};
        FUZZ_CHECK(fade_ctx_create(&ctx[k], &p) == 0);
    }
    const uint8_t *src = data + 1;
    size_t n = size - 1;
    size_t cap = fade_block_bound(n, streams);
    uint8_t *blk = malloc(cap), *out = malloc(n + 1);
    FUZZ_CHECK(blk && out);
    ssize_t len = fade_block_encode(ctx[k], blk, cap, src, n);
    FUZZ_CHECK(len > 0 && (size_t)len <= cap);
    ssize_t got = fade_block_decode(ctx[k], out, n, blk, (size_t)len);
    FUZZ_CHECK(got == (ssize_t)n);
    FUZZ_CHECK(n == 0 || memcmp(out, src, n) == 0);
    free(blk);
    free(out);
    return 0;
}
