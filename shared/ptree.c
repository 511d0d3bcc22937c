/*
 * The SKS prefix tree in LMDB (see ptree.h and doc/recon.md 2.4): the node
 * codec and the lookups. The write path is ptree_batch.c, rebuild and
 * check ptree_check.c.
 */
#include <stdlib.h>
#include <string.h>

#include "ptree_int.h"
#include "bytes.h"
#include "zp.h"

/* ------------------------------------------------------------------ */
/* Encoding                                                             */

/* Node key of the first nbits bits of `bits`. Returns its length. */
size_t
hkp_pt_make_key(uint8_t key[HKP_PT_KEY_MAX], const uint8_t *bits, unsigned nbits)
{
    size_t nb = (nbits + 7) / 8;

    key[0] = (uint8_t) nbits;
    if (nb > 0) {
        memcpy(key + 1, bits, nb);
        if (nbits % 8 != 0)
            key[nb] &= (uint8_t) (0xFF << (8 - nbits % 8));
    }
    return 1 + nb;
}

unsigned
hkp_ptree_child_index(const uint8_t hash[HKP_HASH_LEN], unsigned depth)
{
    unsigned bit = depth * HKP_RECON_BITQUANTUM;
    if (bit >= HKP_PT_MAX_NBITS)
        return 0;
    return (hash[bit / 8] >> (8 - HKP_RECON_BITQUANTUM - bit % 8))
        & (HKP_RECON_CHILDREN - 1);
}

/* Child index (0..3) of `h` below a node at depth `depth`. */
unsigned
hkp_pt_child_index(const uint8_t *h, unsigned depth)
{
    unsigned bit = depth * HKP_RECON_BITQUANTUM;
    return (h[bit / 8] >> (8 - HKP_RECON_BITQUANTUM - bit % 8))
        & (HKP_RECON_CHILDREN - 1);
}

void
hkp_ptree_child_prefix(const uint8_t *prefix, unsigned nbits, unsigned c,
    uint8_t *child)
{
    size_t nb = (nbits + 7) / 8;
    size_t cb = (nbits + HKP_RECON_BITQUANTUM + 7) / 8;

    if (nb > 0)
        memcpy(child, prefix, nb);
    if (cb > nb)
        child[cb - 1] = 0;
    if (nbits % 8 != 0)
        child[nb - 1] &= (uint8_t) (0xFF << (8 - nbits % 8));
    for (unsigned i = 0; i < HKP_RECON_BITQUANTUM; i++) {
        unsigned j = nbits + i;
        uint8_t mask = (uint8_t) (0x80 >> (j % 8));
        if ((c >> (HKP_RECON_BITQUANTUM - 1 - i)) & 1)
            child[j / 8] |= mask;
        else
            child[j / 8] &= (uint8_t) ~mask;
    }
}

/* Parses a node value. 0 or -1 (malformed). */
int
hkp_pt_decode(const MDB_val *v, hkp_pnode_t *n)
{
    const uint8_t *p = v->mv_data;

    if (v->mv_size < HKP_PT_HDR_LEN)
        return -1;
    n->count = hkp_get_be32(p);
    memcpy(n->svalues, p + 4, HKP_PT_SV_LEN);
    if (p[4 + HKP_PT_SV_LEN] > 1)
        return -1;
    n->leaf = p[4 + HKP_PT_SV_LEN];
    if (n->leaf) {
        if ((v->mv_size - HKP_PT_HDR_LEN) % HKP_HASH_LEN != 0
            || (v->mv_size - HKP_PT_HDR_LEN) / HKP_HASH_LEN != n->count)
            return -1;
        n->nelems = n->count;
        n->elems = p + HKP_PT_HDR_LEN;
    } else {
        if (v->mv_size != HKP_PT_HDR_LEN)
            return -1;
        n->nelems = 0;
        n->elems = NULL;
    }
    return 0;
}

void
hkp_pt_encode_hdr(uint8_t *buf, uint32_t count, const hkp_pt_sv_t sv, int leaf)
{
    hkp_put_be32(buf, count);
    memcpy(buf + 4, sv, HKP_PT_SV_LEN);
    buf[4 + HKP_PT_SV_LEN] = leaf ? 1 : 0;
}

int
hkp_pt_put_node(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen,
    uint32_t count, const hkp_pt_sv_t sv, int leaf, const uint8_t *elems,
    size_t nelems, const char **err)
{
    MDB_val k = { klen, (void *) key }, v;
    int rc;

    v.mv_size = HKP_PT_HDR_LEN + (leaf ? nelems * HKP_HASH_LEN : 0);
    v.mv_data = NULL;
    if ((rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE)) != 0) {
        if (err != NULL)
            *err = mdb_strerror(rc);
        return rc;
    }
    hkp_pt_encode_hdr(v.mv_data, count, sv, leaf);
    if (leaf && nelems > 0)
        memcpy((uint8_t *) v.mv_data + HKP_PT_HDR_LEN, elems,
            nelems * HKP_HASH_LEN);
    return 0;
}

/* 0 found, 1 not found, -1 error / malformed. */
int
hkp_pt_get_node(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen,
    hkp_pnode_t *n, const char **err)
{
    MDB_val k = { klen, (void *) key }, v;
    int rc = mdb_get(txn, dbi, &k, &v);

    if (rc == MDB_NOTFOUND)
        return 1;
    if (rc != 0) {
        *err = mdb_strerror(rc);
        return -1;
    }
    if (hkp_pt_decode(&v, n) != 0) {
        *err = "malformed prefix tree node";
        return -1;
    }
    return 0;
}

void
hkp_pt_empty_root(hkp_pnode_t *n)
{
    n->count = 0;
    hkp_zp_svalues_empty(n->svalues);
    n->leaf = 1;
    n->nelems = 0;
    n->elems = NULL;
}

/* ------------------------------------------------------------------ */
/* Growable hash arrays                                                 */

int
hkp_pt_hvec_add(hkp_pt_hvec_t *v, const uint8_t *h, size_t cnt)
{
    if (cnt == 0)
        return 0;
    if (v->n + cnt > v->cap) {
        size_t nc = v->cap ? v->cap : 64;
        while (nc < v->n + cnt)
            nc *= 2;
        uint8_t *a = realloc(v->a, nc * HKP_HASH_LEN);
        if (a == NULL)
            return -1;
        v->a = a;
        v->cap = nc;
    }
    memcpy(v->a + v->n * HKP_HASH_LEN, h, cnt * HKP_HASH_LEN);
    v->n += cnt;
    return 0;
}

/* Appends every element below the stored node `prefix`/`nbits` (which
 * exists) in ascending order, reading the database directly. */
int
hkp_pt_collect(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, unsigned nbits,
    hkp_pt_hvec_t *out, const char **err)
{
    uint8_t key[HKP_PT_KEY_MAX], child[HKP_PT_KEY_MAX];
    size_t klen = hkp_pt_make_key(key, prefix, nbits);
    hkp_pnode_t n;
    int r = hkp_pt_get_node(txn, dbi, key, klen, &n, err);

    if (r == 1) {
        *err = "prefix tree node missing below an internal node";
        return -1;
    }
    if (r != 0)
        return -1;
    if (n.leaf) {
        if (hkp_pt_hvec_add(out, n.elems, n.nelems) != 0) {
            *err = "out of memory";
            return -1;
        }
        return 0;
    }
    if (nbits >= HKP_PT_MAX_NBITS) {
        *err = "internal prefix tree node at the maximum depth";
        return -1;
    }
    for (unsigned c = 0; c < HKP_RECON_CHILDREN; c++) {
        hkp_ptree_child_prefix(prefix, nbits, c, child);
        if (hkp_pt_collect(txn, dbi, child, nbits + HKP_RECON_BITQUANTUM, out, err)
            != 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Lookups                                                              */

int
hkp_ptree_get(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
    unsigned nbits, hkp_pnode_t *out)
{
    uint8_t key[HKP_PT_KEY_MAX];
    const char *err;

    if (nbits % HKP_RECON_BITQUANTUM != 0 || nbits > HKP_PT_MAX_NBITS)
        return -1;
    for (unsigned b = 0;; b += HKP_RECON_BITQUANTUM) {
        size_t klen = hkp_pt_make_key(key, prefix, b);
        int r = hkp_pt_get_node(txn, dbi, key, klen, out, &err);
        if (r < 0)
            return -1;
        if (r == 1) {
            if (b > 0)
                return -1;      /* missing below an internal node */
            hkp_pt_empty_root(out);
        }
        if (b == nbits)
            return 0;
        if (out->leaf)
            return 1;
    }
}

static int
cmp_prefix(const uint8_t *h, const uint8_t *prefix, unsigned nbits)
{
    size_t full = nbits / 8;
    if (full > 0 && memcmp(h, prefix, full) != 0)
        return 1;
    if (nbits % 8 != 0) {
        uint8_t mask = (uint8_t) (0xFF << (8 - nbits % 8));
        if ((h[full] & mask) != (prefix[full] & mask))
            return 1;
    }
    return 0;
}

int
hkp_ptree_elements(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
    unsigned nbits, hkp_hash_t **out, size_t *n)
{
    hkp_pnode_t node;
    hkp_pt_hvec_t v = { NULL, 0, 0 };
    const char *err;
    int r;

    *out = NULL;
    *n = 0;
    r = hkp_ptree_get(txn, dbi, prefix, nbits, &node);
    if (r < 0)
        return -1;
    if (r == 1) {
        /* A leaf above the prefix: its elements that have the prefix
         * (the set of stored hashes below that prefix). */
        for (unsigned b = 0;; b += HKP_RECON_BITQUANTUM) {
            uint8_t key[HKP_PT_KEY_MAX];
            size_t klen = hkp_pt_make_key(key, prefix, b);
            r = hkp_pt_get_node(txn, dbi, key, klen, &node, &err);
            if (r == 1 && b == 0)
                return 0;
            if (r != 0)
                return -1;
            if (node.leaf)
                break;
        }
        for (size_t i = 0; i < node.nelems; i++)
            if (cmp_prefix(node.elems + i * HKP_HASH_LEN, prefix, nbits) == 0
                && hkp_pt_hvec_add(&v, node.elems + i * HKP_HASH_LEN, 1) != 0)
            {
                free(v.a);
                return -1;
            }
    } else if (node.leaf) {
        if (node.nelems > 0 && hkp_pt_hvec_add(&v, node.elems, node.nelems) != 0)
            return -1;
    } else {
        uint8_t pfx[HKP_HASH_LEN] = { 0 };
        memcpy(pfx, prefix, (nbits + 7) / 8);
        if (hkp_pt_collect(txn, dbi, pfx, nbits, &v, &err) != 0) {
            free(v.a);
            return -1;
        }
    }
    *out = (hkp_hash_t *) v.a;
    *n = v.n;
    return 0;
}

