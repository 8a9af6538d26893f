/* bytes.h — explicit little-endian loads and stores for the on-disk formats.
 *
 * Every multi-byte integer in a block or container is little-endian
 * (codec/FORMAT.md).  Reading through these helpers instead of casting a
 * pointer keeps the formats independent of host byte order and alignment;
 * compilers turn the byte loops into single moves on x86-64.
 */
#ifndef FADE_BYTES_H
#define FADE_BYTES_H

#include <stdint.h>

static inline uint16_t ld_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t ld_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t ld_le64(const uint8_t *p)
{
    return (uint64_t)ld_le32(p) | (uint64_t)ld_le32(p + 4) << 32;
}

static inline void st_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void st_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void st_le64(uint8_t *p, uint64_t v)
{
    st_le32(p, (uint32_t)v);
    st_le32(p + 4, (uint32_t)(v >> 32));
}

#endif /* FADE_BYTES_H */
