/* fuzz_block.c — libFuzzer target: arbitrary bytes through the block
 * decoder and both container readers (property: tests/fuzz/fuzz_entry.h —
 * never crash, and a successful decode yields the announced length).
 * Built by scripts/build-fuzz.sh; replayed without libFuzzer by
 * tests/codec/test_golden.c. */
#include <stddef.h>
#include <stdint.h>
#include "tests/fuzz/fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One context for the whole run: creating it (models, ids) costs far
     * more than most inputs.  The fuzzer is single-threaded. */
    static fade_ctx *ctx;
    if (!ctx) {
        struct fade_ctx_params p = {.preset = "tiny"};
        FUZZ_CHECK(fade_ctx_create(&ctx, &p) == 0);
    }
    fuzz_one(ctx, data, size);
    return 0;
}
