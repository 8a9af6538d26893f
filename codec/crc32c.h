/* crc32c.h — private: the CRC32C implementations behind fade_crc32c(),
 * exposed so tests can check each one against the test vectors. */
#ifndef FADE_CRC32C_H
#define FADE_CRC32C_H

#include <stddef.h>
#include <stdint.h>
#include "codec/fade.h"

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
