/* crc32c.h — CRC32C (Castagnoli), on its own: crc32c.c depends on nothing
 * else in codec/, so index/ uses it without the codec (it links only
 * crc32c.o's symbols).  fade.h declares fade_crc32c() and
 * fade_crc32c_copy() for the codec's users; crc32c.c includes both
 * headers, so the compiler keeps the two declarations alike.  The single
 * implementations are exposed so tests can check each against the test
 * vectors. */
#ifndef FADE_CRC32C_H
#define FADE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of buf, continuing from crc (start with 0). */
uint32_t fade_crc32c(uint32_t crc, const void *buf, size_t len);
/* Copies len bytes from src to dst (no overlap) and returns
 * fade_crc32c(crc, src, len), reading src once. */
uint32_t fade_crc32c_copy(uint32_t crc, void *dst, const void *src, size_t len);

uint32_t fade_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* Only call when fade_crc32c_hw_available() is 1. */
uint32_t fade_crc32c_hw(uint32_t crc, const void *buf, size_t len);
int fade_crc32c_hw_available(void);
/* Three interleaved chains joined by carry-less multiplies (SSE4.2 and
 * PCLMULQDQ); what fade_crc32c() and fade_crc32c_copy() use when
 * fade_crc32c_lanes_available() is 1.  Only call then. */
uint32_t fade_crc32c_lanes(uint32_t crc, const void *buf, size_t len);
int fade_crc32c_lanes_available(void);

#endif /* FADE_CRC32C_H */
