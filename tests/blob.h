/* Deterministic test blobs: member m's contribution to fence i has a size and content that
 * every process can recompute, so a test checks every byte it receives. Header-only. */
#ifndef FMX_TEST_BLOB_H
#define FMX_TEST_BLOB_H

#include <stddef.h>
#include <stdint.h>

/* base 0 stays 0; otherwise sizes vary by member so blobs are not all alike. */
static inline size_t blob_len(size_t base, uint32_t member, uint32_t iter)
{
    if (base == 0)
        return 0;
    return base + (member * 7u + iter) % 5u;
}

static inline uint8_t blob_byte(uint32_t member, uint32_t iter, size_t i)
{
    uint32_t x = member * 2654435761u ^ iter * 40503u ^ (uint32_t)i * 2246822519u;
    return (uint8_t)(x ^ x >> 13 ^ x >> 24);
}

static inline void blob_fill(uint8_t *buf, size_t len, uint32_t member, uint32_t iter)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = blob_byte(member, iter, i);
}

/* Returns the index of the first wrong byte, or len when all match. */
static inline size_t blob_check(const uint8_t *buf, size_t len, uint32_t member, uint32_t iter)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != blob_byte(member, iter, i))
            return i;
    return len;
}

#endif
