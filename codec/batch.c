/* batch.c — fade_block_encode_many: the entry point for coding several
 * blocks at once.  On the CPU each block is coded in turn with the
 * context's own worker pool; the call exists so that callers hand over
 * whole batches, which a GPU backend steps together in one launch. */
#include "codec/fade.h"

int fade_block_encode_many(fade_ctx *ctx, struct fade_batch_item *items,
                           size_t n)
{
    if (!ctx || (n && !items))
        return FADE_E_INVAL;
    for (size_t i = 0; i < n; i++)
        items[i].result = fade_block_encode(ctx, items[i].dst, items[i].dst_cap,
                                            items[i].src, items[i].src_len);
    return 0;
}
