/*
 * Arithmetic in Z/pZ for SKS recon (doc/recon.md 2.1-2.3, 3.7), on GMP.
 * p = 530512889551602322505127520352579437339 (129 bits). Elements travel
 * as 17 bytes little-endian; a key hash (16 bytes) is the little-endian
 * integer of its MD5 bytes.
 */
#ifndef HKP_ZP_H
#define HKP_ZP_H

#include <stddef.h>
#include <stdint.h>
#include <gmp.h>
#include "recon_params.h"

/* Initialises p and the sample points; idempotent, thread-safe after the
 * first call returns (call it once at start-up). */
void hkp_zp_init(void);

/* p and the HKP_RECON_NSAMPLES sample points k_i. */
const mpz_t *hkp_zp_p(void);
const mpz_t *hkp_zp_point(unsigned i);

/* hash (16 B) -> element; element -> 17-byte wire; wire -> element
 * (-1 if the value is >= p). */
void hkp_zp_from_hash(mpz_t out, const uint8_t hash[HKP_HASH_LEN]);
void hkp_zp_to_wire(const mpz_t x, uint8_t out[HKP_ELEM_LEN]);
int  hkp_zp_from_wire(mpz_t out, const uint8_t in[HKP_ELEM_LEN]);

/* svalues of the empty set: every one is 1 (wire form). */
void hkp_zp_svalues_empty(uint8_t sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN]);

/* Multiplies (add=1) or divides (add=0) each svalue by (k_i - x) for the
 * element of `hash`. -1 if x equals a sample point (SKS refuses those). */
int hkp_zp_svalues_update(uint8_t sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN],
    const uint8_t hash[HKP_HASH_LEN], int add);

/* ---- Additions (not used by the protocol code; the tree uses them) ---- */

/* x < 2^128, i.e. a value that is a key hash; hkp_zp_to_hash writes the
 * low 16 bytes little-endian (= the MD5 bytes). */
int  hkp_zp_is_hash(const mpz_t x);
void hkp_zp_to_hash(const mpz_t x, uint8_t out[HKP_HASH_LEN]);

/* The 6 factors (k_i - x) (add=1) or their inverses (add=0) for one hash,
 * computed once and applied to many svalue vectors (every node on a tree
 * path). set: -1 if x is a sample point. */
typedef struct {
    uint64_t fm[HKP_RECON_NSAMPLES][3];  /* factor * 2^192 mod p, limbs */
    mpz_t    t;
} hkp_zp_factors_t;
void hkp_zp_factors_init(hkp_zp_factors_t *f);
void hkp_zp_factors_clear(hkp_zp_factors_t *f);
int  hkp_zp_factors_set(hkp_zp_factors_t *f,
    const uint8_t hash[HKP_HASH_LEN], int add);
void hkp_zp_factors_apply(hkp_zp_factors_t *f,
    uint8_t sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN]);

/* svalues of a set of hashes computed from scratch; -1 if one of them is a
 * sample point (its factor 0 is included). */
int  hkp_zp_svalues_of(uint8_t sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN],
    const hkp_hash_t *hashes, size_t n);

/* dst_i = dst_i * src_i mod p (svalues of a disjoint union). */
void hkp_zp_svalues_mul(uint8_t dst[HKP_RECON_NSAMPLES][HKP_ELEM_LEN],
    const uint8_t src[HKP_RECON_NSAMPLES][HKP_ELEM_LEN]);

#endif
