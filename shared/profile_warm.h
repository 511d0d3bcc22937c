/*
 * Hashing ahead (profile_warm.c): while a bulk loader parses and stores
 * keys one by one, worker threads compute the hash profiles' hashes of the
 * keys it holds back and verify their self-signatures, so the signatures
 * they verify are in the verifier's cache (sigverify.h) when the store hashes the same keys. Nothing but
 * the cache changes: the keys come back unchanged, in the order they went
 * in, and the store's results are the same with or without it.
 *
 * Ownership: a key pushed belongs to the window until push or pop hands
 * it back; workers only read it.
 */
#ifndef HKP_PROFILE_WARM_H
#define HKP_PROFILE_WARM_H

#include <stddef.h>

#include "key.h"
#include "profile.h"

/* Keys held back at most: how far the workers can run ahead. Their
 * signatures must fit the verifier's cache (HKP_SIG_CACHE_ENTRIES). */
#define HKP_WARM_DEPTH        256
/* Worker threads at most. */
#define HKP_WARM_MAX_THREADS  8

typedef struct hkp_warm_s hkp_warm_t;

/* A window whose nthreads workers (at most HKP_WARM_MAX_THREADS) compute
 * the hashes of profs[0..nprofs) (pointers kept; none is fine) and, with
 * selfsig, verify the self-signatures the store's record of the key
 * needs (selfsig.h). NULL when nthreads is 0 or there is nothing to do,
 * or out of memory / no thread could start: then load without it. */
hkp_warm_t *hkp_warm_new(const hkp_profile_t *const *profs, size_t nprofs,
    int selfsig, unsigned nthreads);

/* Workers for this machine: one per online CPU but the caller's, capped. */
unsigned hkp_warm_threads(void);

/* Hands key in. When the window is full, returns its oldest key (hashed
 * ahead, or not when no worker reached it: then the caller's store
 * verifies it as it would have), else NULL. */
hkp_key_t *hkp_warm_push(hkp_warm_t *w, hkp_key_t *key);

/* The oldest key held, or NULL when none is (to drain the window). */
hkp_key_t *hkp_warm_pop(hkp_warm_t *w);

/* Stops the workers and frees the window; keys still held are freed
 * (hkp_key_free + free). */
void hkp_warm_free(hkp_warm_t *w);

#endif
