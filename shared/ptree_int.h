/*
 * Inside the prefix tree (ptree.h): the node encoding and the helpers the
 * three parts share. ptree.c: node codec and lookups; ptree_batch.c: the
 * node cache, insert/remove and batches (the write path); ptree_check.c:
 * rebuild and check. Not for use outside them.
 */
#ifndef HKP_PTREE_INT_H
#define HKP_PTREE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "ptree.h"

#define HKP_PT_SV_LEN     (HKP_RECON_NSAMPLES * HKP_ELEM_LEN)
#define HKP_PT_HDR_LEN    (4 + HKP_PT_SV_LEN + 1)
#define HKP_PT_MAX_NBITS  (HKP_PTREE_MAX_DEPTH * HKP_RECON_BITQUANTUM)
#define HKP_PT_KEY_MAX    (1 + (HKP_PT_MAX_NBITS + 7) / 8)
/* Leaves normally hold at most split + 1 elements, but not always: the
 * children of a split are not split again in the same step (doc/recon.md
 * 2.4), so hashes sharing a long prefix make one bigger leaf per level. */

typedef uint8_t hkp_pt_sv_t[HKP_RECON_NSAMPLES][HKP_ELEM_LEN];

/* Growable hash arrays. */
typedef struct {
    uint8_t  *a;            /* n x 16 */
    size_t    n, cap;
} hkp_pt_hvec_t;

/* Node key of the first nbits bits of `bits`. Returns its length. */
size_t hkp_pt_make_key(uint8_t key[HKP_PT_KEY_MAX], const uint8_t *bits,
    unsigned nbits);
/* Child index (0..3) of `h` below a node at depth `depth`. */
unsigned hkp_pt_child_index(const uint8_t *h, unsigned depth);
/* Parses a node value. 0 or -1 (malformed). */
int hkp_pt_decode(const MDB_val *v, hkp_pnode_t *n);
void hkp_pt_encode_hdr(uint8_t *buf, uint32_t count, const hkp_pt_sv_t sv,
    int leaf);
/* Writes a node. 0 or the LMDB code (with *err = its text). */
int hkp_pt_put_node(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key,
    size_t klen, uint32_t count, const hkp_pt_sv_t sv, int leaf,
    const uint8_t *elems, size_t nelems, const char **err);
/* 0 found, 1 not found, -1 error / malformed (*err). */
int hkp_pt_get_node(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key,
    size_t klen, hkp_pnode_t *n, const char **err);
void hkp_pt_empty_root(hkp_pnode_t *n);
/* 0 or -1 (out of memory). */
int hkp_pt_hvec_add(hkp_pt_hvec_t *v, const uint8_t *h, size_t cnt);
/* Appends every element below the stored node `prefix`/`nbits` (which
 * exists) in ascending order, reading the database directly. 0 or -1. */
int hkp_pt_collect(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
    unsigned nbits, hkp_pt_hvec_t *out, const char **err);

#endif
