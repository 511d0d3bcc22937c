/*
 * Rational function interpolation and root finding over Z/pZ: solving one
 * recon node (doc/recon.md 3.7).
 */
#ifndef HKP_POLY_H
#define HKP_POLY_H

#include <stddef.h>
#include <stdint.h>
#include "recon_params.h"

/*
 * Given the remote node's svalues and size and the local node's, finds
 * the elements only the remote has and only we have. On success returns 0
 * and sets *remote_only / *local_only (malloc'd arrays of 16-byte hashes,
 * caller frees; may be NULL when the count is 0). Returns 1 when the
 * difference cannot be recovered from these svalues (caller falls back to
 * FullElements / SyncFail), -1 on bad input (a value >= p).
 */
int hkp_recon_solve(
    const uint8_t rsv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN], uint32_t rsize,
    const uint8_t lsv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN], uint32_t lsize,
    hkp_hash_t **remote_only, size_t *nremote,
    hkp_hash_t **local_only, size_t *nlocal);

/* Addition (tests, diagnostics): steps 1-6 of 3.7 only. On success (0)
 * a and b hold the coefficients, lowest first, of the reduced monic A
 * (roots: remote only) and B (roots: local only), of degree *adeg and
 * *bdeg; 1 / -1 as for hkp_recon_solve (no split check, no roots). */
int hkp_recon_interpolate(
    const uint8_t rsv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN], uint32_t rsize,
    const uint8_t lsv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN], uint32_t lsize,
    uint8_t a[HKP_RECON_MBAR + 1][HKP_ELEM_LEN], int *adeg,
    uint8_t b[HKP_RECON_MBAR + 1][HKP_ELEM_LEN], int *bdeg);

#endif
