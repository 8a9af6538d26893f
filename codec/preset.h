/* preset.h — what the codec knows of its preset table beyond fade.h.
 *
 * Every row of the table (preset.c) carries its model id as a constant,
 * so that a reader can tell which preset wrote a block without
 * regenerating every model's start weights (for the large presets that
 * costs more than decoding a small block).  test_model checks each
 * constant against mdl_model_id; a reader still confirms the one that
 * matches (ctx_find_model), so a stale constant costs time, never bytes. */
#ifndef FADE_PRESET_H
#define FADE_PRESET_H

#include <stdint.h>
#include "codec/fade.h"

/* The pinned model id of a row of the table, or 0 for a preset that is
 * not one of its rows. */
uint64_t preset_pinned_id(const struct fade_preset *p);

#endif /* FADE_PRESET_H */
