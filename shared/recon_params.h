/*
 * SKS reconciliation parameters (doc/recon.md 2.4, 3.9, 6). The ones marked
 * "wire" must equal the peer's; the others are local.
 */
#ifndef HKP_RECON_PARAMS_H
#define HKP_RECON_PARAMS_H

#include <stdint.h>

#define HKP_RECON_MBAR          5     /* wire: svalues per node - 1 */
#define HKP_RECON_NSAMPLES      (HKP_RECON_MBAR + 1)
#define HKP_RECON_BITQUANTUM    2     /* wire: bits per tree level */
#define HKP_RECON_CHILDREN      (1 << HKP_RECON_BITQUANTUM)
#define HKP_PTREE_SPLIT         (HKP_RECON_MBAR * 10)   /* leaf splits above this */
#define HKP_PTREE_JOIN          (HKP_PTREE_SPLIT / 2)   /* node joins at or below */
#define HKP_RECON_FULL_BELOW    (HKP_RECON_MBAR * 30)   /* Full instead of Poly */
#define HKP_HASH_LEN            16    /* SKS key hash (MD5 of the canonical
                                         packets): the set element */
#define HKP_ELEM_LEN            17    /* field element on the wire, LE (the
                                         modulus is just above 2^128) */
#define HKP_PTREE_MAX_DEPTH     64    /* 128 hash bits / bitquantum */

/* One key hash; arrays of them are hkp_hash_t *. */
typedef uint8_t hkp_hash_t[HKP_HASH_LEN];

#endif
