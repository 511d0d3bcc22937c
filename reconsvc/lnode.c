/*
 * Our side of one prefix-tree node (lnode.h).
 */
#include <stdlib.h>
#include <string.h>

#include "lnode.h"
#include "ptree.h"
#include "zp.h"

void
lnode_free(lnode_t *n)
{
    free(n->elems);
    n->elems = NULL;
    n->nelems = 0;
    n->have_elems = 0;
}

/* Do the first nbits of hash h equal prefix? */
static int
under(const uint8_t *h, const uint8_t *prefix, unsigned nbits)
{
    unsigned full = nbits / 8, rest = nbits % 8;
    if (memcmp(h, prefix, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t) (0xff << (8 - rest));
    return (h[full] & mask) == (prefix[full] & mask);
}

static int
copy_elems(lnode_t *out, const uint8_t *elems, size_t n,
    const uint8_t *prefix, unsigned nbits, int filter, const char **err)
{
    out->elems = NULL;
    out->nelems = 0;
    if (n > 0 && (out->elems = malloc(n * HKP_HASH_LEN)) == NULL) {
        *err = "out of memory";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (filter && !under(elems + HKP_HASH_LEN * i, prefix, nbits))
            continue;
        memcpy(out->elems[out->nelems++], elems + HKP_HASH_LEN * i,
            HKP_HASH_LEN);
    }
    out->have_elems = 1;
    return 0;
}

int
lnode_get(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, unsigned nbits,
    int want, lnode_t *out, const char **err)
{
    hkp_pnode_t pn;
    int rc;

    memset(out, 0, sizeof(*out));
    if (nbits % HKP_RECON_BITQUANTUM != 0 || nbits > 128) {
        *err = "prefix length not a multiple of bitquantum";
        return -1;
    }
    rc = hkp_ptree_get(txn, dbi, prefix, nbits, &pn);
    if (rc < 0) {
        *err = "prefix tree read failed";
        return -1;
    }
    if (rc == 0) {
        out->count = pn.count;
        memcpy(out->sv, pn.svalues, sizeof(out->sv));
        out->leaf = pn.leaf;
        if (want == LNODE_ELEMS_NEVER || (want == LNODE_ELEMS_SMALL
            && !pn.leaf && pn.count >= HKP_RECON_FULL_BELOW))
            return 0;
        if (pn.leaf)
            return copy_elems(out, pn.elems, pn.nelems, prefix, nbits, 0, err);
        if (hkp_ptree_elements(txn, dbi, prefix, nbits, &out->elems,
            &out->nelems) != 0)
        {
            *err = "prefix tree read failed";
            return -1;
        }
        out->have_elems = 1;
        return 0;
    }
    /* No such node: find the leaf above it (or an empty tree). */
    for (unsigned b = nbits; b > 0; ) {
        b -= HKP_RECON_BITQUANTUM;
        rc = hkp_ptree_get(txn, dbi, prefix, b, &pn);
        if (rc < 0) {
            *err = "prefix tree read failed";
            return -1;
        }
        if (rc == 0) {
            if (!pn.leaf) {
                *err = "prefix tree inconsistent (internal node without child)";
                return -1;
            }
            if (copy_elems(out, pn.elems, pn.nelems, prefix, nbits, 1,
                err) != 0)
                return -1;
            break;
        }
    }
    out->leaf = 1;
    out->count = (uint32_t) out->nelems;
    out->have_elems = 1;
    hkp_zp_svalues_empty(out->sv);
    for (size_t i = 0; i < out->nelems; i++) {
        if (hkp_zp_svalues_update(out->sv, out->elems[i], 1) != 0) {
            lnode_free(out);
            *err = "element equals a sample point";
            return -1;
        }
    }
    return 0;
}
