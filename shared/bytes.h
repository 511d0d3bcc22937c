/*
 * Bytes in buffers and text: big-endian integers, the one encoding every
 * format we read or write uses (OpenPGP, the recon wire, hashquery, our
 * LMDB keys and records; callers check the buffer's length first), and
 * the value of a hex digit.
 */
#ifndef HKP_BYTES_H
#define HKP_BYTES_H

#include <stdint.h>

static inline uint32_t
hkp_get_be32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
        | ((uint32_t) p[2] << 8) | p[3];
}

static inline void
hkp_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

static inline uint64_t
hkp_get_be64(const uint8_t *p)
{
    return ((uint64_t) hkp_get_be32(p) << 32) | hkp_get_be32(p + 4);
}

static inline void
hkp_put_be64(uint8_t *p, uint64_t v)
{
    hkp_put_be32(p, (uint32_t) (v >> 32));
    hkp_put_be32(p + 4, (uint32_t) v);
}

/* The value of hex digit c (either case), or -1. */
static inline int
hkp_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
