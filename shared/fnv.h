/*
 * FNV-1a, 32 bits: the hash of the small in-memory hash tables (the word
 * set of a key in store.c, the node cache of a prefix-tree batch in
 * ptree.c). Both tables are bounded (HKP_MAX_WORDS_PER_KEY words; one
 * batch of tree nodes), so even crafted collisions cost little.
 */
#ifndef HKP_FNV_H
#define HKP_FNV_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t
hkp_fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;

    while (n--) {
        h ^= *p++;
        h *= 16777619u;
    }
    return h;
}

#endif
