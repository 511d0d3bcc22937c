/*
 * The `sks` hash profile: the key as hkp_key_canon() stores it, hashed
 * with the SKS key hash (doc/recon.md 1.2, 1.3). SKS keeps every key that
 * passes its grammar: a key with a tail (key.h: a user ID after a subkey,
 * a marker packet) it refuses whole, and so this profile drops it.
 */
#include <string.h>

#include "profile.h"

/* The filter string SKS 1.1.x sends in its recon config (doc/recon.md). */
#define HKP_PROFILE_SKS_FILTERS  "yminsky.dedup,yminsky.merge"

static int
profile_sks_hash(const hkp_profile_t *p, const hkp_key_t *key,
    uint8_t hash[HKP_HASH_LEN], const char **reason)
{
    (void) p;
    if ((*reason = hkp_key_sks_reason(key)) != NULL)
        return HKP_PROFILE_DROPPED;
    hkp_key_hash(key->pkts, key->npkts, hash);
    return HKP_PROFILE_HASHED;
}

const hkp_profile_t hkp_profile_sks = {
    "sks", HKP_PROFILE_SKS_FILTERS, profile_sks_hash, NULL, NULL, 0
};
