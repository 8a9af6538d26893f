/* codec_util.h — helpers shared by the codec tests: corpus access,
 * deterministic random bytes, temporary directories. */
#ifndef TESTS_CODEC_UTIL_H
#define TESTS_CODEC_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Directory of the shared test corpus: $FADE_CORPUS, else ../shared/corpus
 * next to the repository root (found from the working directory or from
 * the test binary's own path).  NULL if none exists. */
const char *tu_corpus_dir(char *buf, size_t cap);

/* Reads up to len bytes at offset off of corpus file `name` into a new
 * buffer (caller frees); *got receives the count.  NULL if unavailable. */
uint8_t *tu_corpus_slice(const char *name, size_t off, size_t len, size_t *got);

/* Whole file into a new buffer; NULL on error. */
uint8_t *tu_read_file(const char *path, size_t *len);

/* xorshift64*: deterministic bytes for reproducible tests. */
uint64_t tu_rnd(uint64_t *state);
void tu_fill_random(uint8_t *buf, size_t len, uint64_t seed);

/* A fresh directory under $TMPDIR (or /tmp) for this test; caller removes
 * it with tu_rmdir_r.  Path written to buf. */
int tu_mkdtemp(char *buf, size_t cap);
void tu_rmdir_r(const char *path);

/* Path of `rel` (e.g. "tests/golden") in the repository: relative to the
 * working directory if it exists there, else found from the test binary's
 * path.  NULL if not found. */
const char *tu_repo_path(const char *rel, char *buf, size_t cap);

/* FNV-1a 64 of b: the hash golden pins use (a block's CRC32C would not see
 * its header, whose CRC makes the CRC of the whole block constant). */
uint64_t tu_fnv1a64(const uint8_t *b, size_t n);

#endif

