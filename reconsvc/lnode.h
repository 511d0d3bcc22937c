/*
 * Our side of one prefix-tree node, as the recon session needs it: count,
 * sample values, leaf flag and (when asked) the elements. Works for any
 * prefix, also one below a leaf of our tree (the tree may change between a
 * request and its reply): then the leaf's elements under the prefix are
 * taken and their sample values computed.
 */
#ifndef RECONSVC_LNODE_H
#define RECONSVC_LNODE_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "recon_params.h"

typedef struct {
    uint32_t   count;
    uint8_t    sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN];
    int        leaf;            /* a leaf, or below one */
    hkp_hash_t  *elems;      /* malloc'd, sorted; NULL unless loaded */
    size_t     nelems;
    int        have_elems;
} lnode_t;

#define LNODE_ELEMS_NEVER   0
#define LNODE_ELEMS_SMALL   1   /* if leaf or count < HKP_RECON_FULL_BELOW */
#define LNODE_ELEMS_ALWAYS  2

/* 0 or -1 with *err. Free with lnode_free(). */
int  lnode_get(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
    unsigned nbits, int want, lnode_t *out, const char **err);
void lnode_free(lnode_t *n);

#endif
