/*
 * SKS reconciliation parameters (doc/recon.md 2.4, 3.9, 6). The ones marked
 * "wire" must equal the peer's; the others are local.
 */
#ifndef HKP_RECON_PARAMS_H
#define HKP_RECON_PARAMS_H

#define HKP_RECON_MBAR          5     /* wire: svalues per node - 1 */
#define HKP_RECON_NSAMPLES      (HKP_RECON_MBAR + 1)
#define HKP_RECON_BITQUANTUM    2     /* wire: bits per tree level */
#define HKP_RECON_CHILDREN      (1 << HKP_RECON_BITQUANTUM)
#define HKP_PTREE_SPLIT         (HKP_RECON_MBAR * 10)   /* leaf splits above this */
#define HKP_PTREE_JOIN          (HKP_PTREE_SPLIT / 2)   /* node joins at or below */
#define HKP_RECON_FULL_BELOW    (HKP_RECON_MBAR * 30)   /* Full instead of Poly */
#define HKP_ELEM_LEN            17    /* field element on the wire, LE */
#define HKP_PTREE_MAX_DEPTH     64    /* 128 hash bits / bitquantum */

#endif
