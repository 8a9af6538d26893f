/* prior.h — the prior weights built into the library.
 *
 * A prior is a blob of trained start values for a preset's tensors
 * (format in FORMAT.md, "Prior weights"), learned offline on a training
 * corpus by scripts/prior/train.py and kept in codec/prior/NAME.bin.  The
 * build embeds every such file; a preset names the one it starts from.  A
 * block's model id hashes the values, so a prior, once a block names it,
 * is part of the format and must never change: a retrained prior gets a
 * new name (and a new preset).
 */
#ifndef FADE_PRIOR_H
#define FADE_PRIOR_H

#include <stddef.h>

/* Sets *blob (static, read-only) and *len to the built-in prior `name`.
 * Returns 0, or FADE_E_UNKNOWN_MODEL if this build has no such prior. */
int fade_prior_find(const char *name, const void **blob, size_t *len);

#endif /* FADE_PRIOR_H */
