/*
 * The SKS prefix tree (doc/recon.md 2.4) in the LMDB environment, named
 * database "ptree". It is updated inside the same write transaction as the
 * keys (hkp_db_put calls hkp_ptree_insert / hkp_ptree_remove), so keys and
 * tree never disagree.
 *
 * Node key:   u8 nbits, then ceil(nbits/8) prefix bytes (bit j at byte j/8,
 *             mask 0x80 >> (j%8), unused bits 0). Root: nbits 0, no bytes.
 * Node value: u32 BE count (elements in the subtree), 6 x 17-byte svalues,
 *             u8 leaf (1/0), and for a leaf the elements as 16-byte hashes
 *             (sorted ascending), count of them.
 * An internal node has all 4 children stored.
 */
#ifndef HKP_PTREE_H
#define HKP_PTREE_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>
#include "recon_params.h"

typedef struct {
    uint32_t        count;
    uint8_t         svalues[HKP_RECON_NSAMPLES][HKP_ELEM_LEN];
    int             leaf;
    size_t          nelems;            /* leaf only */
    const uint8_t  *elems;             /* leaf only: nelems x 16 bytes,
                                          valid until the txn ends */
} hkp_pnode_t;

/* Add / remove one hash on the path from the root (split above
 * HKP_PTREE_SPLIT, join at HKP_PTREE_JOIN). Creates the root when missing.
 * 0 or an error code (hkp_error.h): an LMDB code, HKP_ESAMPLE (inserting
 * a sample point), HKP_EPTREE (e.g. removing a hash that is not there),
 * HKP_ENOMEM. (ptree_batch.c) */
int hkp_ptree_insert(MDB_txn *txn, MDB_dbi dbi,
    const uint8_t hash[HKP_HASH_LEN]);
int hkp_ptree_remove(MDB_txn *txn, MDB_dbi dbi,
    const uint8_t hash[HKP_HASH_LEN]);

/* Node by prefix (nbits a multiple of HKP_RECON_BITQUANTUM). 0 found,
 * 1 no such node (a leaf was reached above it), -1 error. With no tree
 * stored at all (no keys) the root is an empty leaf (count 0, svalues 1). */
int hkp_ptree_get(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
    unsigned nbits, hkp_pnode_t *out);

/* Every hash in the subtree of a node, in a malloc'd array (sorted
 * ascending; NULL when n is 0). When the node does not exist (a leaf above
 * it), the hashes of that leaf having the prefix, i.e. always the stored
 * hashes that start with the prefix. 0 or -1. */
int hkp_ptree_elements(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
    unsigned nbits, hkp_hash_t **out, size_t *n);

/* Child prefix: parent prefix followed by the HKP_RECON_BITQUANTUM bits of
 * child index c (high bit first). `child` must hold ceil((nbits+2)/8) B. */
void hkp_ptree_child_prefix(const uint8_t *prefix, unsigned nbits,
    unsigned c, uint8_t *child);

/* Drops the tree and rebuilds it from every hash in the `keys` database
 * that is not a key of `skip` (NULL: none skipped). 0 or -1 with *err.
 * (ptree_check.c, like hkp_ptree_check) */
int hkp_ptree_rebuild(MDB_txn *txn, MDB_dbi ptree, MDB_dbi keys,
    const MDB_dbi *skip, const char **err);

/* Verifies every node (count, svalues, leaf contents, structure) against
 * the hashes in `keys` but those in `skip` (NULL: none). Calls
 * report(ctx, line) for each difference found. Returns the number of
 * differences (0 = consistent), -1 on error. */
int hkp_ptree_check(MDB_txn *txn, MDB_dbi ptree, MDB_dbi keys,
    const MDB_dbi *skip, void (*report)(void *ctx, const char *line),
    void *ctx);

/* ---- Additions ---- */

/* Child index (0..HKP_RECON_CHILDREN-1) of a hash below a node at depth
 * `depth` (bits 2*depth and 2*depth+1, the first the high bit). */
unsigned hkp_ptree_child_index(const uint8_t hash[HKP_HASH_LEN],
    unsigned depth);

/* 1 if the hash's element is a sample point (0, 1 or 2): SKS refuses
 * those, and so does hkp_ptree_insert. */
int hkp_ptree_is_sample(const uint8_t hash[HKP_HASH_LEN]);

/*
 * Deferred updates for bulk loads: hkp_db_put records its tree changes in
 * the batch of its options (hkp_put_opts_t) when that is set, and the
 * writer (writer.h) applies them with
 * hkp_ptree_batch_apply in the same write txn before committing it (every
 * node touched by the batch is read and written once). The net change per
 * hash is applied, in the order of each hash's last record (so the tree is
 * the one the same updates made one by one give, except for transient
 * splits/joins of pairs that cancel); the batch is empty afterwards,
 * whatever the outcome. An error leaves the txn
 * unusable for commit (abort it). batch_add fails with HKP_ESAMPLE for a
 * sample point when adding. truncate drops the records made since
 * batch_len returned `len` (after a nested txn was aborted). add and apply
 * return 0 or an error code as hkp_ptree_insert does. (ptree_batch.c)
 */
typedef struct hkp_ptree_batch hkp_ptree_batch_t;
hkp_ptree_batch_t *hkp_ptree_batch_new(void);
void   hkp_ptree_batch_free(hkp_ptree_batch_t *b);
int    hkp_ptree_batch_add(hkp_ptree_batch_t *b,
    const uint8_t hash[HKP_HASH_LEN], int add);
size_t hkp_ptree_batch_len(const hkp_ptree_batch_t *b);
void   hkp_ptree_batch_truncate(hkp_ptree_batch_t *b, size_t len);
int    hkp_ptree_batch_apply(hkp_ptree_batch_t *b, MDB_txn *txn,
    MDB_dbi dbi);

#endif
