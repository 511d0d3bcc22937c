/*
 * Hash profiles: which canonical form and key hash a recon peer uses.
 * A profile takes a stored key (SKS-canonical, merged, as hkp_key_canon()
 * or hkp_key_merge() built it) and gives the hash that peer would compute
 * for it, or says the peer would drop the key (with a reason).
 *
 * Profiles are static descriptors; look one up by name.
 */
#ifndef HKP_PROFILE_H
#define HKP_PROFILE_H

#include "key.h"

/* Hash function results */
#define HKP_PROFILE_HASHED    0
#define HKP_PROFILE_DROPPED   1
#define HKP_PROFILE_ERROR   (-1)   /* out of memory or a libcrypto failure:
                                      neither hashed nor dropped */

typedef struct hkp_profile_s hkp_profile_t;

/* Computes the profile's hash of `key` into hash[]. Returns
 * HKP_PROFILE_HASHED, or HKP_PROFILE_DROPPED with *reason set (a static
 * string) when the peer would not store the key, or HKP_PROFILE_ERROR
 * with *reason. */
typedef int (*hkp_profile_hash_fn)(const hkp_profile_t *p,
    const hkp_key_t *key, uint8_t hash[HKP_HASH_LEN], const char **reason);

/* The same for one key as uploaded: pkts[0..n) are its packets in the
 * order they came (pkts[0] its primary key, up to the next one), before
 * any canonicalisation. Bodies are only read. */
typedef int (*hkp_profile_hash_pkts_fn)(const hkp_profile_t *p,
    const hkp_pkt_t *pkts, size_t n, uint8_t hash[HKP_HASH_LEN],
    const char **reason);

/* The packets the peer keeps of a stored key, in key order (the primary
 * key and its signatures, then each user ID or subkey with its
 * signatures): the form it hashes, so the peer, given these packets,
 * stores them under the profile's hash. *out is malloc'd (the caller
 * frees it); the bodies point into key. HKP_PROFILE_HASHED, or _DROPPED /
 * _ERROR with *reason and *out NULL. */
typedef int (*hkp_profile_form_fn)(const hkp_profile_t *p,
    const hkp_key_t *key, hkp_pkt_t **out, size_t *nout,
    const char **reason);

struct hkp_profile_s {
    const char          *name;     /* "sks" */
    const char          *filters;  /* the recon "filters" string it sends */
    hkp_profile_hash_fn  hash;
    /* NULL when the profile's hash of an upload is the hash of its
     * stored form (sks); set when the peer hashes what it kept of the
     * upload as it came (hockeypuck) */
    hkp_profile_hash_pkts_fn hash_pkts;
    /* NULL when the peer keeps the stored key as it is (sks) */
    hkp_profile_form_fn      form;
    /* 1 when its hash verifies every self-signature (hockeypuck): the
     * store's self-signature records (selfsig.h) are then cache hits of
     * those verifications and cost little beside it */
    int                      verifies;
};

/* The SKS 1.1.x profile: SKS canonical form, MD5 over sorted packets. */
extern const hkp_profile_t hkp_profile_sks;

/* The Hockeypuck 2.2 profile: its recon filters (profile_hockeypuck.c),
 * then the SKS hash of what they keep. */
extern const hkp_profile_t hkp_profile_hockeypuck;

/* The profile called `name`, or NULL. */
const hkp_profile_t *hkp_profile_find(const char *name);

/* The profiles there are: index 0 is `sks`, then the others in a fixed
 * order (the store keeps a tree for each, store.h). */
#define HKP_PROFILE_MAX  2
size_t hkp_profile_count(void);
const hkp_profile_t *hkp_profile_at(size_t i);

/* Comma-separated names of every profile (for usage messages). */
const char *hkp_profile_names(void);

#endif
