/*
 * Reference svalues for the recon tests, computed with plain GMP from the
 * definition (doc/recon.md 2.3): svalue_i = prod over x of (k_i - x) mod p.
 */
#ifndef HKP_TEST_REF_ZP_H
#define HKP_TEST_REF_ZP_H

#include <gmp.h>
#include "zp.h"

__attribute__((unused))
static void
ref_svalues(uint8_t sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN],
    const hkp_hash_t *h, size_t n)
{
    mpz_t acc, x, t;
    mpz_init(acc);
    mpz_init(x);
    mpz_init(t);
    for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++) {
        mpz_set_ui(acc, 1);
        for (size_t j = 0; j < n; j++) {
            mpz_import(x, 16, -1, 1, 0, 0, h[j]);
            mpz_sub(t, *hkp_zp_point(i), x);
            mpz_mul(acc, acc, t);
            mpz_mod(acc, acc, *hkp_zp_p());
        }
        hkp_zp_to_wire(acc, sv[i]);
    }
    mpz_clear(acc);
    mpz_clear(x);
    mpz_clear(t);
}

#endif
