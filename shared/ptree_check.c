/*
 * The prefix tree (ptree.h): rebuilding it from the keys, and checking it
 * against them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptree_int.h"
#include "zp.h"

/* ------------------------------------------------------------------ */
/* Rebuild and check                                                    */

/* All 16-byte keys of `keys` that are no key of `skip` (NULL: none),
 * ascending. */
static int
all_hashes(MDB_txn *txn, MDB_dbi keys, const MDB_dbi *skip,
    hkp_pt_hvec_t *v, const char **err)
{
    MDB_cursor *cur;
    MDB_val k, d;
    MDB_stat st;
    int rc;

    if ((rc = mdb_stat(txn, keys, &st)) != 0) {
        *err = mdb_strerror(rc);
        return -1;
    }
    if (st.ms_entries > 0) {
        v->a = malloc(st.ms_entries * HKP_HASH_LEN);
        if (v->a == NULL) {
            *err = "out of memory";
            return -1;
        }
        v->cap = st.ms_entries;
    }
    if ((rc = mdb_cursor_open(txn, keys, &cur)) != 0) {
        *err = mdb_strerror(rc);
        return -1;
    }
    while ((rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) == 0) {
        MDB_val kk = k, sv;
        if (k.mv_size != HKP_HASH_LEN)
            continue;
        if (skip != NULL
            && (rc = mdb_get(txn, *skip, &kk, &sv)) != MDB_NOTFOUND)
        {
            if (rc == 0)
                continue;
            break;
        }
        if (hkp_pt_hvec_add(v, k.mv_data, 1) != 0) {
            mdb_cursor_close(cur);
            *err = "out of memory";
            return -1;
        }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
        *err = mdb_strerror(rc);
        return -1;
    }
    return 0;
}

/* End of the run of elements in a[start..n) with child index c. */
static size_t
run_end(const uint8_t *a, size_t start, size_t n, unsigned depth, unsigned c)
{
    while (start < n
        && hkp_pt_child_index(a + start * HKP_HASH_LEN, depth) == c)
        start++;
    return start;
}

static int
build(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, unsigned nbits,
    const uint8_t *a, size_t n, hkp_pt_sv_t sv, const char **err)
{
    uint8_t key[HKP_PT_KEY_MAX];
    size_t klen = hkp_pt_make_key(key, prefix, nbits);
    unsigned depth = nbits / HKP_RECON_BITQUANTUM;

    if (n <= HKP_PTREE_SPLIT || depth >= HKP_PTREE_MAX_DEPTH) {
        if (hkp_zp_svalues_of(sv, (const hkp_hash_t *) a, n) != 0) {
            *err = "a key hash equals a sample point";
            return -1;
        }
        return hkp_pt_put_node(txn, dbi, key, klen, (uint32_t) n, sv, 1, a, n, err);
    }
    hkp_zp_svalues_empty(sv);
    size_t start = 0;
    for (unsigned c = 0; c < HKP_RECON_CHILDREN; c++) {
        uint8_t child[HKP_PT_KEY_MAX];
        hkp_pt_sv_t csv;
        size_t end = run_end(a, start, n, depth, c);
        hkp_ptree_child_prefix(prefix, nbits, c, child);
        if (build(txn, dbi, child, nbits + HKP_RECON_BITQUANTUM,
                a + start * HKP_HASH_LEN, end - start, csv, err) != 0)
            return -1;
        hkp_zp_svalues_mul(sv, (const uint8_t (*)[HKP_ELEM_LEN]) csv);
        start = end;
    }
    if (start != n) {
        *err = "key hashes out of order";
        return -1;
    }
    return hkp_pt_put_node(txn, dbi, key, klen, (uint32_t) n, sv, 0, NULL, 0, err);
}

int
hkp_ptree_rebuild(MDB_txn *txn, MDB_dbi ptree, MDB_dbi keys,
    const MDB_dbi *skip, const char **err)
{
    hkp_pt_hvec_t v = { NULL, 0, 0 };
    hkp_pt_sv_t sv;
    uint8_t root[1] = { 0 };
    int rc, ret;

    if ((rc = mdb_drop(txn, ptree, 0)) != 0) {
        *err = mdb_strerror(rc);
        return -1;
    }
    if (all_hashes(txn, keys, skip, &v, err) != 0) {
        free(v.a);
        return -1;
    }
    ret = build(txn, ptree, root, 0, v.a, v.n, sv, err);
    free(v.a);
    return ret;
}

typedef struct {
    MDB_txn   *txn;
    MDB_dbi    dbi;
    void     (*report)(void *, const char *);
    void      *ctx;
    long       diffs;
    size_t     visited;
    const char *err;
} chk_t;

static void
prefix_str(const uint8_t *prefix, unsigned nbits, char *out, size_t outlen)
{
    size_t o = 0;
    if (nbits == 0) {
        snprintf(out, outlen, "(root)");
        return;
    }
    for (unsigned j = 0; j < nbits && o + 1 < outlen; j++)
        out[o++] = (prefix[j / 8] & (0x80 >> (j % 8))) ? '1' : '0';
    out[o] = '\0';
}

__attribute__((format(printf, 4, 5)))
static void
diff(chk_t *c, const uint8_t *prefix, unsigned nbits, const char *fmt, ...)
{
    char line[512], pfx[HKP_PT_MAX_NBITS + 8];
    int o;
    va_list ap;

    c->diffs++;
    if (c->report == NULL)
        return;
    prefix_str(prefix, nbits, pfx, sizeof(pfx));
    o = snprintf(line, sizeof(line), "node %s (depth %u): ", pfx,
        nbits / HKP_RECON_BITQUANTUM);
    va_start(ap, fmt);
    vsnprintf(line + o, sizeof(line) - (size_t) o, fmt, ap);
    va_end(ap);
    c->report(c->ctx, line);
}

/* Checks the stored node prefix/nbits against the hashes a[0..n) that
 * belong below it; sv gets the true svalues of a. -1 on a fatal error. */
static int
check_node(chk_t *c, const uint8_t *prefix, unsigned nbits, const uint8_t *a,
    size_t n, hkp_pt_sv_t sv)
{
    uint8_t key[HKP_PT_KEY_MAX];
    size_t klen = hkp_pt_make_key(key, prefix, nbits);
    unsigned depth = nbits / HKP_RECON_BITQUANTUM;
    hkp_pnode_t node;
    MDB_val k = { klen, key }, v;
    int rc = mdb_get(c->txn, c->dbi, &k, &v);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        c->err = mdb_strerror(rc);
        return -1;
    }
    if (rc == MDB_NOTFOUND || hkp_pt_decode(&v, &node) != 0) {
        int missing = rc == MDB_NOTFOUND;
        if (hkp_zp_svalues_of(sv, (const hkp_hash_t *) a, n) != 0)
            diff(c, prefix, nbits, "a key hash equals a sample point");
        if (missing && nbits == 0 && n == 0)
            return 0;           /* no tree, no keys */
        if (missing)
            diff(c, prefix, nbits, "missing (%zu keys below it)", n);
        else
            diff(c, prefix, nbits, "malformed value (%zu bytes)",
                v.mv_size);
        return 0;
    }
    c->visited++;
    if (node.count != n)
        diff(c, prefix, nbits, "count %u, keys %zu", node.count, n);

    if (node.leaf || depth >= HKP_PTREE_MAX_DEPTH) {
        if (!node.leaf)
            diff(c, prefix, nbits, "internal node at the maximum depth");
        if (hkp_zp_svalues_of(sv, (const hkp_hash_t *) a, n) != 0)
            diff(c, prefix, nbits, "a key hash equals a sample point");
        if (node.leaf) {
            /* Merge-compare the sorted leaf with the sorted keys. */
            size_t i = 0, j = 0, missing = 0, extra = 0;
            int order = 1;
            for (size_t q = 1; q < node.nelems; q++)
                if (memcmp(node.elems + (q - 1) * HKP_HASH_LEN,
                        node.elems + q * HKP_HASH_LEN, HKP_HASH_LEN) >= 0)
                    order = 0;
            if (!order)
                diff(c, prefix, nbits, "leaf elements not sorted/unique");
            while (order && (i < node.nelems || j < n)) {
                int cmp = i == node.nelems ? 1 : j == n ? -1
                    : memcmp(node.elems + i * HKP_HASH_LEN,
                        a + j * HKP_HASH_LEN, HKP_HASH_LEN);
                if (cmp == 0) {
                    i++;
                    j++;
                } else if (cmp < 0) {
                    extra++;
                    i++;
                } else {
                    missing++;
                    j++;
                }
            }
            if (missing || extra)
                diff(c, prefix, nbits, "leaf lacks %zu keys and has %zu "
                    "hashes that are not keys (or not below it)", missing,
                    extra);
        }
    } else {
        size_t start = 0;
        if (node.count <= HKP_PTREE_JOIN)
            diff(c, prefix, nbits, "internal node with %u elements (at most "
                "%d: should be a leaf)", node.count, HKP_PTREE_JOIN);
        hkp_zp_svalues_empty(sv);
        for (unsigned ci = 0; ci < HKP_RECON_CHILDREN; ci++) {
            uint8_t child[HKP_PT_KEY_MAX];
            hkp_pt_sv_t csv;
            size_t end = run_end(a, start, n, depth, ci);
            hkp_ptree_child_prefix(prefix, nbits, ci, child);
            if (check_node(c, child, nbits + HKP_RECON_BITQUANTUM,
                    a + start * HKP_HASH_LEN, end - start, csv) != 0)
                return -1;
            hkp_zp_svalues_mul(sv, (const uint8_t (*)[HKP_ELEM_LEN]) csv);
            start = end;
        }
    }
    if (memcmp(node.svalues, sv, HKP_PT_SV_LEN) != 0)
        diff(c, prefix, nbits, "svalues differ from the keys below it");
    return 0;
}

/* Is the stored node key reachable (every ancestor an internal node)? */
static int
reachable(chk_t *c, const uint8_t *key, size_t klen)
{
    unsigned nbits = key[0];
    hkp_pnode_t n;
    const char *err;

    if (klen != 1 + (nbits + 7) / 8 || nbits % HKP_RECON_BITQUANTUM != 0
        || nbits > HKP_PT_MAX_NBITS)
        return 0;
    for (unsigned b = 0; b < nbits; b += HKP_RECON_BITQUANTUM) {
        uint8_t akey[HKP_PT_KEY_MAX];
        size_t alen = hkp_pt_make_key(akey, key + 1, b);
        if (hkp_pt_get_node(c->txn, c->dbi, akey, alen, &n, &err) != 0 || n.leaf)
            return 0;
    }
    /* Unused low bits must be zero, or the key is not the node's key. */
    if (nbits % 8 != 0
        && (key[klen - 1] & (uint8_t) ~(0xFF << (8 - nbits % 8))) != 0)
        return 0;
    return 1;
}

int
hkp_ptree_check(MDB_txn *txn, MDB_dbi ptree, MDB_dbi keys,
    const MDB_dbi *skip, void (*report)(void *ctx, const char *line),
    void *ctx)
{
    chk_t c;
    hkp_pt_hvec_t v = { NULL, 0, 0 };
    MDB_stat st;
    hkp_pt_sv_t sv;
    uint8_t root[1] = { 0 };
    const char *err;

    memset(&c, 0, sizeof(c));
    c.txn = txn;
    c.dbi = ptree;
    c.report = report;
    c.ctx = ctx;
    if (all_hashes(txn, keys, skip, &v, &err) != 0) {
        free(v.a);
        return -1;
    }
    if (check_node(&c, root, 0, v.a, v.n, sv) != 0) {
        free(v.a);
        return -1;
    }
    free(v.a);

    /* Nodes the walk did not reach (below a leaf, under a bad key). */
    if (mdb_stat(txn, ptree, &st) != 0)
        return -1;
    if (st.ms_entries != c.visited) {
        MDB_cursor *cur;
        MDB_val k, d;
        int rc;
        if (mdb_cursor_open(txn, ptree, &cur) != 0)
            return -1;
        while ((rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) == 0) {
            const uint8_t *kb = k.mv_data;
            if (k.mv_size == 0 || k.mv_size > HKP_PT_KEY_MAX) {
                diff(&c, root, 0, "stored entry with a bad key (%zu bytes)",
                    k.mv_size);
                continue;
            }
            if (!reachable(&c, kb, k.mv_size)) {
                int valid = kb[0] <= HKP_PT_MAX_NBITS
                    && k.mv_size == 1 + (kb[0] + 7u) / 8;
                diff(&c, kb + 1, valid ? kb[0] : 0, "stored node not "
                    "reachable from the root%s", valid ? "" : " (bad key)");
            }
        }
        mdb_cursor_close(cur);
        if (rc != MDB_NOTFOUND)
            return -1;
    }
    return c.diffs > 0x7fffffff ? 0x7fffffff : (int) c.diffs;
}

