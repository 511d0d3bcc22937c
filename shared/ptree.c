/*
 * The SKS prefix tree in LMDB (see ptree.h and doc/recon.md 2.4).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "ptree.h"
#include "zp.h"

#define SV_LEN      (HKP_RECON_NSAMPLES * HKP_ELEM_LEN)
#define HDR_LEN     (4 + SV_LEN + 1)
#define MAX_NBITS   (HKP_PTREE_MAX_DEPTH * HKP_RECON_BITQUANTUM)
#define KEY_MAX     (1 + (MAX_NBITS + 7) / 8)
/* Leaves normally hold at most split + 1 elements, but not always: the
 * children of a split are not split again in the same step (doc/recon.md
 * 2.4), so hashes sharing a long prefix make one bigger leaf per level. */

typedef uint8_t sv_t[HKP_RECON_NSAMPLES][HKP_ELEM_LEN];

/* ------------------------------------------------------------------ */
/* Encoding                                                             */

static uint32_t
get_u32be(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
        | ((uint32_t) p[2] << 8) | p[3];
}

static void
put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

/* Node key of the first nbits bits of `bits`. Returns its length. */
static size_t
make_key(uint8_t key[KEY_MAX], const uint8_t *bits, unsigned nbits)
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
hkp_ptree_child_index(const uint8_t hash[16], unsigned depth)
{
    unsigned bit = depth * HKP_RECON_BITQUANTUM;
    if (bit >= MAX_NBITS)
        return 0;
    return (hash[bit / 8] >> (8 - HKP_RECON_BITQUANTUM - bit % 8))
        & (HKP_RECON_CHILDREN - 1);
}

/* Child index (0..3) of `h` below a node at depth `depth`. */
static unsigned
child_index(const uint8_t *h, unsigned depth)
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
static int
decode(const MDB_val *v, hkp_pnode_t *n)
{
    const uint8_t *p = v->mv_data;

    if (v->mv_size < HDR_LEN)
        return -1;
    n->count = get_u32be(p);
    memcpy(n->svalues, p + 4, SV_LEN);
    if (p[4 + SV_LEN] > 1)
        return -1;
    n->leaf = p[4 + SV_LEN];
    if (n->leaf) {
        if ((v->mv_size - HDR_LEN) % 16 != 0
            || (v->mv_size - HDR_LEN) / 16 != n->count)
            return -1;
        n->nelems = n->count;
        n->elems = p + HDR_LEN;
    } else {
        if (v->mv_size != HDR_LEN)
            return -1;
        n->nelems = 0;
        n->elems = NULL;
    }
    return 0;
}

static void
encode_hdr(uint8_t *buf, uint32_t count, const sv_t sv, int leaf)
{
    put_u32be(buf, count);
    memcpy(buf + 4, sv, SV_LEN);
    buf[4 + SV_LEN] = leaf ? 1 : 0;
}

static int
put_node(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen,
    uint32_t count, const sv_t sv, int leaf, const uint8_t *elems,
    size_t nelems, const char **err)
{
    MDB_val k = { klen, (void *) key }, v;
    int rc;

    v.mv_size = HDR_LEN + (leaf ? nelems * 16 : 0);
    v.mv_data = NULL;
    if ((rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE)) != 0) {
        *err = mdb_strerror(rc);
        return -1;
    }
    encode_hdr(v.mv_data, count, sv, leaf);
    if (leaf && nelems > 0)
        memcpy((uint8_t *) v.mv_data + HDR_LEN, elems, nelems * 16);
    return 0;
}

/* 0 found, 1 not found, -1 error / malformed. */
static int
get_node(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen,
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
    if (decode(&v, n) != 0) {
        *err = "malformed prefix tree node";
        return -1;
    }
    return 0;
}

static void
empty_root(hkp_pnode_t *n)
{
    n->count = 0;
    hkp_zp_svalues_empty(n->svalues);
    n->leaf = 1;
    n->nelems = 0;
    n->elems = NULL;
}

/* Position of h in a sorted element array: index of the first element
 * >= h; *found says whether it equals h. */
static size_t
lower_bound(const uint8_t *elems, size_t n, const uint8_t *h, int *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(elems + mid * 16, h, 16) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < n && memcmp(elems + lo * 16, h, 16) == 0;
    return lo;
}

/* ------------------------------------------------------------------ */
/* Growable hash arrays                                                 */

typedef struct {
    uint8_t  *a;            /* n x 16 */
    size_t    n, cap;
} hvec_t;

static int
hvec_add(hvec_t *v, const uint8_t *h, size_t cnt)
{
    if (cnt == 0)
        return 0;
    if (v->n + cnt > v->cap) {
        size_t nc = v->cap ? v->cap : 64;
        while (nc < v->n + cnt)
            nc *= 2;
        uint8_t *a = realloc(v->a, nc * 16);
        if (a == NULL)
            return -1;
        v->a = a;
        v->cap = nc;
    }
    memcpy(v->a + v->n * 16, h, cnt * 16);
    v->n += cnt;
    return 0;
}

/* Appends every element below the stored node `prefix`/`nbits` (which
 * exists) in ascending order, reading the database directly. */
static int
collect(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, unsigned nbits,
    hvec_t *out, const char **err)
{
    uint8_t key[KEY_MAX], child[KEY_MAX];
    size_t klen = make_key(key, prefix, nbits);
    hkp_pnode_t n;
    int r = get_node(txn, dbi, key, klen, &n, err);

    if (r == 1) {
        *err = "prefix tree node missing below an internal node";
        return -1;
    }
    if (r != 0)
        return -1;
    if (n.leaf) {
        if (hvec_add(out, n.elems, n.nelems) != 0) {
            *err = "out of memory";
            return -1;
        }
        return 0;
    }
    if (nbits >= MAX_NBITS) {
        *err = "internal prefix tree node at the maximum depth";
        return -1;
    }
    for (unsigned c = 0; c < HKP_RECON_CHILDREN; c++) {
        hkp_ptree_child_prefix(prefix, nbits, c, child);
        if (collect(txn, dbi, child, nbits + HKP_RECON_BITQUANTUM, out, err)
            != 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Node cache: insert and remove work on decoded copies of the nodes they
 * touch and write each changed node once at the end (for a batch of many
 * hashes, the upper levels are written once instead of once per hash). */

typedef struct cnode {
    struct cnode *next;         /* hash chain */
    uint8_t       key[KEY_MAX];
    uint8_t       klen;
    uint8_t       present;      /* node exists (in the cache's view) */
    uint8_t       indb;         /* node exists in the database */
    uint8_t       dirty;
    uint8_t       leaf;
    uint32_t      count;
    sv_t          sv;
    uint8_t      *el;           /* leaf: nel x 16, sorted */
    size_t        nel, cap;
} cnode_t;

typedef struct {
    MDB_txn      *txn;
    MDB_dbi       dbi;
    cnode_t     **tab;
    size_t        nslot, n;     /* nslot a power of two */
    hkp_zp_factors_t f;
} cache_t;


static int
cache_init(cache_t *c, MDB_txn *txn, MDB_dbi dbi)
{
    memset(c, 0, sizeof(*c));
    c->txn = txn;
    c->dbi = dbi;
    c->nslot = 64;
    c->tab = calloc(c->nslot, sizeof(*c->tab));
    if (c->tab == NULL)
        return -1;
    hkp_zp_factors_init(&c->f);
    return 0;
}

static void
cache_free(cache_t *c)
{
    for (size_t i = 0; i < c->nslot; i++) {
        cnode_t *n = c->tab[i];
        while (n != NULL) {
            cnode_t *nx = n->next;
            free(n->el);
            free(n);
            n = nx;
        }
    }
    free(c->tab);
    c->tab = NULL;
    hkp_zp_factors_clear(&c->f);
}

static int
cache_grow(cache_t *c)
{
    size_t ns = c->nslot * 2;
    cnode_t **t = calloc(ns, sizeof(*t));
    if (t == NULL)
        return -1;
    for (size_t i = 0; i < c->nslot; i++) {
        cnode_t *n = c->tab[i];
        while (n != NULL) {
            cnode_t *nx = n->next;
            size_t j = hkp_fnv1a(n->key, n->klen) & (ns - 1);
            n->next = t[j];
            t[j] = n;
            n = nx;
        }
    }
    free(c->tab);
    c->tab = t;
    c->nslot = ns;
    return 0;
}

/* Makes room for `n` elements in a cached leaf. */
static int
cnode_reserve(cnode_t *n, size_t want)
{
    if (want <= n->cap)
        return 0;
    size_t nc = n->cap ? n->cap : 8;
    while (nc < want)
        nc *= 2;
    uint8_t *e = realloc(n->el, nc * 16);
    if (e == NULL)
        return -1;
    n->el = e;
    n->cap = nc;
    return 0;
}

/* The cached node for the first nbits bits of `bits`, loaded from the
 * database on first use (present = 0 if it does not exist). */
static cnode_t *
cache_get(cache_t *c, const uint8_t *bits, unsigned nbits, const char **err)
{
    uint8_t key[KEY_MAX];
    size_t klen = make_key(key, bits, nbits), j;
    cnode_t *n;
    MDB_val k = { klen, key }, v;
    hkp_pnode_t d;
    int rc;

    j = hkp_fnv1a(key, klen) & (c->nslot - 1);
    for (n = c->tab[j]; n != NULL; n = n->next)
        if (n->klen == klen && memcmp(n->key, key, klen) == 0)
            return n;

    n = calloc(1, sizeof(*n));
    if (n == NULL) {
        *err = "out of memory";
        return NULL;
    }
    memcpy(n->key, key, klen);
    n->klen = (uint8_t) klen;
    rc = mdb_get(c->txn, c->dbi, &k, &v);
    if (rc == 0) {
        if (decode(&v, &d) != 0) {
            free(n);
            *err = "malformed prefix tree node";
            return NULL;
        }
        n->present = n->indb = 1;
        n->leaf = (uint8_t) d.leaf;
        n->count = d.count;
        memcpy(n->sv, d.svalues, SV_LEN);
        if (d.leaf && d.nelems > 0) {
            if (cnode_reserve(n, d.nelems + 1) != 0) {
                free(n);
                *err = "out of memory";
                return NULL;
            }
            memcpy(n->el, d.elems, d.nelems * 16);
            n->nel = d.nelems;
        }
    } else if (rc != MDB_NOTFOUND) {
        free(n);
        *err = mdb_strerror(rc);
        return NULL;
    }
    if ((c->n + 1) * 2 > c->nslot && cache_grow(c) == 0)
        j = hkp_fnv1a(key, klen) & (c->nslot - 1);
    n->next = c->tab[j];
    c->tab[j] = n;
    c->n++;
    return n;
}

/* Writes every changed node. */
static int
cache_flush(cache_t *c, const char **err)
{
    for (size_t i = 0; i < c->nslot; i++) {
        for (cnode_t *n = c->tab[i]; n != NULL; n = n->next) {
            if (!n->dirty)
                continue;
            if (n->present) {
                if (put_node(c->txn, c->dbi, n->key, n->klen, n->count,
                        (const uint8_t (*)[HKP_ELEM_LEN]) n->sv, n->leaf,
                        n->el, n->leaf ? n->nel : 0, err) != 0)
                    return -1;
            } else if (n->indb) {
                MDB_val k = { n->klen, n->key };
                int rc = mdb_del(c->txn, c->dbi, &k, NULL);
                if (rc != 0 && rc != MDB_NOTFOUND) {
                    *err = mdb_strerror(rc);
                    return -1;
                }
            }
            n->indb = n->present;
            n->dirty = 0;
        }
    }
    return 0;
}

/* Appends the elements below a cached node (present) in ascending order. */
static int
cache_collect(cache_t *c, const uint8_t *prefix, unsigned nbits, hvec_t *out,
    const char **err)
{
    cnode_t *n = cache_get(c, prefix, nbits, err);
    uint8_t child[KEY_MAX];

    if (n == NULL)
        return -1;
    if (!n->present) {
        *err = "prefix tree node missing below an internal node";
        return -1;
    }
    if (n->leaf) {
        if (n->nel > 0 && hvec_add(out, n->el, n->nel) != 0) {
            *err = "out of memory";
            return -1;
        }
        return 0;
    }
    if (nbits >= MAX_NBITS) {
        *err = "internal prefix tree node at the maximum depth";
        return -1;
    }
    for (unsigned ci = 0; ci < HKP_RECON_CHILDREN; ci++) {
        hkp_ptree_child_prefix(prefix, nbits, ci, child);
        if (cache_collect(c, child, nbits + HKP_RECON_BITQUANTUM, out, err)
            != 0)
            return -1;
    }
    return 0;
}

/* Marks every node strictly below an internal node as deleted. */
static int
cache_delete_below(cache_t *c, const uint8_t *prefix, unsigned nbits,
    const char **err)
{
    uint8_t child[KEY_MAX];

    if (nbits >= MAX_NBITS)
        return 0;
    for (unsigned ci = 0; ci < HKP_RECON_CHILDREN; ci++) {
        cnode_t *n;
        hkp_ptree_child_prefix(prefix, nbits, ci, child);
        if ((n = cache_get(c, child, nbits + HKP_RECON_BITQUANTUM, err))
            == NULL)
            return -1;
        if (!n->present)
            continue;
        if (!n->leaf && cache_delete_below(c, child,
                nbits + HKP_RECON_BITQUANTUM, err) != 0)
            return -1;
        n->present = 0;
        n->dirty = 1;
        n->nel = 0;
    }
    return 0;
}

/* Walks from the root to the leaf for `hash`, filling path[0..depth]
 * (path[depth] is the leaf). create_root: an empty root appears when
 * the tree has no root yet. */
static int
cache_walk(cache_t *c, const uint8_t hash[16], int create_root,
    cnode_t **path, unsigned *depthp, const char **err)
{
    for (unsigned depth = 0;; depth++) {
        cnode_t *n = cache_get(c, hash, depth * HKP_RECON_BITQUANTUM, err);
        if (n == NULL)
            return -1;
        if (!n->present) {
            if (depth > 0) {
                *err = "prefix tree node missing below an internal node";
                return -1;
            }
            if (!create_root) {
                *err = "hash not in the prefix tree (no tree)";
                return -1;
            }
            n->present = 1;
            n->leaf = 1;
            n->count = 0;
            n->nel = 0;
            hkp_zp_svalues_empty(n->sv);
            n->dirty = 1;
        }
        path[depth] = n;
        if (n->leaf) {
            *depthp = depth;
            return 0;
        }
        if (depth >= HKP_PTREE_MAX_DEPTH) {
            *err = "internal prefix tree node at the maximum depth";
            return -1;
        }
    }
}

static int
cache_insert(cache_t *c, const uint8_t hash[16], const char **err)
{
    cnode_t *path[HKP_PTREE_MAX_DEPTH + 1], *leaf;
    unsigned depth;
    size_t pos;
    int found;

    if (hkp_zp_factors_set(&c->f, hash, 1) != 0) {
        *err = "key hash equals a sample point; it cannot enter the "
            "prefix tree";
        return -1;
    }
    if (cache_walk(c, hash, 1, path, &depth, err) != 0)
        return -1;
    leaf = path[depth];
    pos = lower_bound(leaf->el, leaf->nel, hash, &found);
    if (found) {
        *err = "hash already in the prefix tree";
        return -1;
    }
    if (cnode_reserve(leaf, leaf->nel + 1) != 0) {
        *err = "out of memory";
        return -1;
    }
    memmove(leaf->el + (pos + 1) * 16, leaf->el + pos * 16,
        (leaf->nel - pos) * 16);
    memcpy(leaf->el + pos * 16, hash, 16);
    leaf->nel++;
    for (unsigned d = 0; d <= depth; d++) {
        path[d]->count++;
        hkp_zp_factors_apply(&c->f, path[d]->sv);
        path[d]->dirty = 1;
    }

    if (leaf->nel > HKP_PTREE_SPLIT && depth < HKP_PTREE_MAX_DEPTH) {
        /* Split: the elements go to 4 new leaves (not split further). */
        unsigned nbits = depth * HKP_RECON_BITQUANTUM;
        size_t start = 0;
        for (unsigned ci = 0; ci < HKP_RECON_CHILDREN; ci++) {
            uint8_t child[KEY_MAX];
            size_t end = start;
            cnode_t *cn;
            while (end < leaf->nel
                && child_index(leaf->el + end * 16, depth) == ci)
                end++;
            hkp_ptree_child_prefix(hash, nbits, ci, child);
            cn = cache_get(c, child, nbits + HKP_RECON_BITQUANTUM, err);
            if (cn == NULL)
                return -1;
            if (cnode_reserve(cn, end - start + 1) != 0) {
                *err = "out of memory";
                return -1;
            }
            cn->present = 1;
            cn->leaf = 1;
            cn->dirty = 1;
            cn->count = (uint32_t) (end - start);
            cn->nel = end - start;
            if (cn->nel > 0)
                memcpy(cn->el, leaf->el + start * 16, cn->nel * 16);
            (void) hkp_zp_svalues_of(cn->sv,
                (const uint8_t (*)[16]) cn->el, cn->nel);
            start = end;
        }
        if (start != leaf->nel) {
            *err = "prefix tree leaf elements out of order";
            return -1;
        }
        leaf->leaf = 0;
        leaf->nel = 0;
    }
    return 0;
}

static int
cache_remove(cache_t *c, const uint8_t hash[16], const char **err)
{
    cnode_t *path[HKP_PTREE_MAX_DEPTH + 1], *leaf, *j;
    unsigned depth, joind;
    size_t pos;
    int found;
    hvec_t sub = { NULL, 0, 0 };

    if (hkp_zp_factors_set(&c->f, hash, 0) != 0) {
        *err = "hash not in the prefix tree (it is a sample point)";
        return -1;
    }
    if (cache_walk(c, hash, 0, path, &depth, err) != 0)
        return -1;
    leaf = path[depth];
    pos = lower_bound(leaf->el, leaf->nel, hash, &found);
    if (!found) {
        *err = "hash not in the prefix tree";
        return -1;
    }
    for (unsigned d = 0; d < depth; d++)
        if (path[d]->count == 0) {
            *err = "internal prefix tree node with no elements";
            return -1;
        }

    /* The shallowest ancestor that drops to the join threshold becomes a
     * leaf holding its whole subtree; nothing below it survives. */
    joind = depth;
    for (unsigned d = 0; d < depth; d++)
        if (path[d]->count - 1 <= HKP_PTREE_JOIN) {
            joind = d;
            break;
        }
    for (unsigned d = 0; d <= joind; d++) {
        path[d]->count--;
        hkp_zp_factors_apply(&c->f, path[d]->sv);
        path[d]->dirty = 1;
    }
    if (joind == depth) {
        memmove(leaf->el + pos * 16, leaf->el + (pos + 1) * 16,
            (leaf->nel - pos - 1) * 16);
        leaf->nel--;
        return 0;
    }

    /* Join. */
    j = path[joind];
    {
        unsigned nbits = joind * HKP_RECON_BITQUANTUM;
        int f2;
        if (cache_collect(c, hash, nbits, &sub, err) != 0)
            goto fail;
        pos = lower_bound(sub.a, sub.n, hash, &f2);
        if (!f2 || sub.n != (size_t) j->count + 1) {
            *err = "prefix tree counts do not match its leaves";
            goto fail;
        }
        memmove(sub.a + pos * 16, sub.a + (pos + 1) * 16,
            (sub.n - pos - 1) * 16);
        sub.n--;
        if (cache_delete_below(c, hash, nbits, err) != 0)
            goto fail;
        free(j->el);
        j->el = sub.a;
        j->cap = sub.cap;
        j->nel = sub.n;
        j->leaf = 1;
    }
    return 0;
fail:
    free(sub.a);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Insert / remove                                                      */

static int
apply_one(MDB_txn *txn, MDB_dbi dbi, const uint8_t hash[16], int add,
    const char **err)
{
    cache_t c;
    int r;

    if (cache_init(&c, txn, dbi) != 0) {
        *err = "out of memory";
        return -1;
    }
    r = add ? cache_insert(&c, hash, err) : cache_remove(&c, hash, err);
    if (r == 0)
        r = cache_flush(&c, err);
    cache_free(&c);
    return r;
}

int
hkp_ptree_insert(MDB_txn *txn, MDB_dbi dbi, const uint8_t hash[16],
    const char **err)
{
    return apply_one(txn, dbi, hash, 1, err);
}

int
hkp_ptree_remove(MDB_txn *txn, MDB_dbi dbi, const uint8_t hash[16],
    const char **err)
{
    return apply_one(txn, dbi, hash, 0, err);
}

/* ------------------------------------------------------------------ */
/* Batches                                                              */

typedef struct {
    uint8_t   hash[16];
    uint32_t  seq;
    int8_t    add;
} op_t;

struct hkp_ptree_batch {
    op_t     *ops;
    size_t    n, cap;
};

hkp_ptree_batch_t *
hkp_ptree_batch_new(void)
{
    return calloc(1, sizeof(hkp_ptree_batch_t));
}

void
hkp_ptree_batch_free(hkp_ptree_batch_t *b)
{
    if (b == NULL)
        return;
    free(b->ops);
    free(b);
}

int
hkp_ptree_batch_add(hkp_ptree_batch_t *b, const uint8_t hash[16], int add,
    const char **err)
{
    if (add && hkp_ptree_is_sample(hash)) {
        *err = "key hash equals a sample point; it cannot enter the "
            "prefix tree";
        return -1;
    }
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        op_t *o = realloc(b->ops, nc * sizeof(*o));
        if (o == NULL) {
            *err = "out of memory";
            return -1;
        }
        b->ops = o;
        b->cap = nc;
    }
    memcpy(b->ops[b->n].hash, hash, 16);
    b->ops[b->n].seq = (uint32_t) b->n;
    b->ops[b->n].add = add ? 1 : -1;
    b->n++;
    return 0;
}

size_t
hkp_ptree_batch_len(const hkp_ptree_batch_t *b)
{
    return b->n;
}

void
hkp_ptree_batch_truncate(hkp_ptree_batch_t *b, size_t len)
{
    if (len < b->n)
        b->n = len;
}

static int
op_cmp(const void *x, const void *y)
{
    const op_t *a = x, *b = y;
    int c = memcmp(a->hash, b->hash, 16);
    if (c != 0)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int
seq_cmp(const void *x, const void *y)
{
    const op_t *a = x, *b = y;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

int
hkp_ptree_batch_apply(hkp_ptree_batch_t *b, MDB_txn *txn, MDB_dbi dbi,
    const char **err)
{
    cache_t c;
    size_t nnet = 0;
    int ret = -1;

    if (b->n == 0)
        return 0;
    /* Net effect per hash (the adds and removes of one hash alternate, so
     * it is -1, 0 or +1), applied in the order of each hash's last record,
     * i.e. as the same updates made one by one would, minus the pairs
     * that cancel. */
    qsort(b->ops, b->n, sizeof(op_t), op_cmp);
    for (size_t i = 0; i < b->n;) {
        size_t j = i;
        int net = 0;
        while (j < b->n && memcmp(b->ops[j].hash, b->ops[i].hash, 16) == 0)
            net += b->ops[j++].add;
        if (net < -1 || net > 1) {
            *err = "prefix tree batch adds or removes a hash twice";
            return -1;
        }
        if (net != 0) {
            b->ops[nnet] = b->ops[j - 1];
            b->ops[nnet++].add = (int8_t) net;
        }
        i = j;
    }
    b->n = nnet;
    qsort(b->ops, b->n, sizeof(op_t), seq_cmp);
    if (cache_init(&c, txn, dbi) != 0) {
        *err = "out of memory";
        return -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        if ((b->ops[i].add > 0 ? cache_insert(&c, b->ops[i].hash, err)
                : cache_remove(&c, b->ops[i].hash, err)) != 0)
            goto out;
    }
    if (cache_flush(&c, err) != 0)
        goto out;
    ret = 0;
out:
    b->n = 0;
    cache_free(&c);
    return ret;
}

int
hkp_ptree_is_sample(const uint8_t hash[16])
{
    /* Only the points 0, 1, 2 are below 2^128 (the others are p - 1,
     * p - 2, p - 3). */
    for (int i = 1; i < 16; i++)
        if (hash[i] != 0)
            return 0;
    return hash[0] <= 2;
}

/* ------------------------------------------------------------------ */
/* Lookups                                                              */

int
hkp_ptree_get(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
    unsigned nbits, hkp_pnode_t *out)
{
    uint8_t key[KEY_MAX];
    const char *err;

    if (nbits % HKP_RECON_BITQUANTUM != 0 || nbits > MAX_NBITS)
        return -1;
    for (unsigned b = 0;; b += HKP_RECON_BITQUANTUM) {
        size_t klen = make_key(key, prefix, b);
        int r = get_node(txn, dbi, key, klen, out, &err);
        if (r < 0)
            return -1;
        if (r == 1) {
            if (b > 0)
                return -1;      /* missing below an internal node */
            empty_root(out);
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
    unsigned nbits, uint8_t (**out)[16], size_t *n)
{
    hkp_pnode_t node;
    hvec_t v = { NULL, 0, 0 };
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
            uint8_t key[KEY_MAX];
            size_t klen = make_key(key, prefix, b);
            r = get_node(txn, dbi, key, klen, &node, &err);
            if (r == 1 && b == 0)
                return 0;
            if (r != 0)
                return -1;
            if (node.leaf)
                break;
        }
        for (size_t i = 0; i < node.nelems; i++)
            if (cmp_prefix(node.elems + i * 16, prefix, nbits) == 0
                && hvec_add(&v, node.elems + i * 16, 1) != 0)
            {
                free(v.a);
                return -1;
            }
    } else if (node.leaf) {
        if (node.nelems > 0 && hvec_add(&v, node.elems, node.nelems) != 0)
            return -1;
    } else {
        uint8_t pfx[16] = { 0 };
        memcpy(pfx, prefix, (nbits + 7) / 8);
        if (collect(txn, dbi, pfx, nbits, &v, &err) != 0) {
            free(v.a);
            return -1;
        }
    }
    *out = (uint8_t (*)[16]) v.a;
    *n = v.n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Rebuild and check                                                    */

/* All 16-byte keys of `keys`, ascending. */
static int
all_hashes(MDB_txn *txn, MDB_dbi keys, hvec_t *v, const char **err)
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
        v->a = malloc(st.ms_entries * 16);
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
        if (k.mv_size != 16)
            continue;
        if (hvec_add(v, k.mv_data, 1) != 0) {
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
    while (start < n && child_index(a + start * 16, depth) == c)
        start++;
    return start;
}

static int
build(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, unsigned nbits,
    const uint8_t *a, size_t n, sv_t sv, const char **err)
{
    uint8_t key[KEY_MAX];
    size_t klen = make_key(key, prefix, nbits);
    unsigned depth = nbits / HKP_RECON_BITQUANTUM;

    if (n <= HKP_PTREE_SPLIT || depth >= HKP_PTREE_MAX_DEPTH) {
        if (hkp_zp_svalues_of(sv, (const uint8_t (*)[16]) a, n) != 0) {
            *err = "a key hash equals a sample point";
            return -1;
        }
        return put_node(txn, dbi, key, klen, (uint32_t) n, sv, 1, a, n, err);
    }
    hkp_zp_svalues_empty(sv);
    size_t start = 0;
    for (unsigned c = 0; c < HKP_RECON_CHILDREN; c++) {
        uint8_t child[KEY_MAX];
        sv_t csv;
        size_t end = run_end(a, start, n, depth, c);
        hkp_ptree_child_prefix(prefix, nbits, c, child);
        if (build(txn, dbi, child, nbits + HKP_RECON_BITQUANTUM,
                a + start * 16, end - start, csv, err) != 0)
            return -1;
        hkp_zp_svalues_mul(sv, (const uint8_t (*)[HKP_ELEM_LEN]) csv);
        start = end;
    }
    if (start != n) {
        *err = "key hashes out of order";
        return -1;
    }
    return put_node(txn, dbi, key, klen, (uint32_t) n, sv, 0, NULL, 0, err);
}

int
hkp_ptree_rebuild(MDB_txn *txn, MDB_dbi ptree, MDB_dbi keys,
    const char **err)
{
    hvec_t v = { NULL, 0, 0 };
    sv_t sv;
    uint8_t root[1] = { 0 };
    int rc, ret;

    if ((rc = mdb_drop(txn, ptree, 0)) != 0) {
        *err = mdb_strerror(rc);
        return -1;
    }
    if (all_hashes(txn, keys, &v, err) != 0) {
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
    char line[512], pfx[MAX_NBITS + 8];
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
    size_t n, sv_t sv)
{
    uint8_t key[KEY_MAX];
    size_t klen = make_key(key, prefix, nbits);
    unsigned depth = nbits / HKP_RECON_BITQUANTUM;
    hkp_pnode_t node;
    MDB_val k = { klen, key }, v;
    int rc = mdb_get(c->txn, c->dbi, &k, &v);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        c->err = mdb_strerror(rc);
        return -1;
    }
    if (rc == MDB_NOTFOUND || decode(&v, &node) != 0) {
        int missing = rc == MDB_NOTFOUND;
        if (hkp_zp_svalues_of(sv, (const uint8_t (*)[16]) a, n) != 0)
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
        if (hkp_zp_svalues_of(sv, (const uint8_t (*)[16]) a, n) != 0)
            diff(c, prefix, nbits, "a key hash equals a sample point");
        if (node.leaf) {
            /* Merge-compare the sorted leaf with the sorted keys. */
            size_t i = 0, j = 0, missing = 0, extra = 0;
            int order = 1;
            for (size_t q = 1; q < node.nelems; q++)
                if (memcmp(node.elems + (q - 1) * 16, node.elems + q * 16,
                        16) >= 0)
                    order = 0;
            if (!order)
                diff(c, prefix, nbits, "leaf elements not sorted/unique");
            while (order && (i < node.nelems || j < n)) {
                int cmp = i == node.nelems ? 1 : j == n ? -1
                    : memcmp(node.elems + i * 16, a + j * 16, 16);
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
            uint8_t child[KEY_MAX];
            sv_t csv;
            size_t end = run_end(a, start, n, depth, ci);
            hkp_ptree_child_prefix(prefix, nbits, ci, child);
            if (check_node(c, child, nbits + HKP_RECON_BITQUANTUM,
                    a + start * 16, end - start, csv) != 0)
                return -1;
            hkp_zp_svalues_mul(sv, (const uint8_t (*)[HKP_ELEM_LEN]) csv);
            start = end;
        }
    }
    if (memcmp(node.svalues, sv, SV_LEN) != 0)
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
        || nbits > MAX_NBITS)
        return 0;
    for (unsigned b = 0; b < nbits; b += HKP_RECON_BITQUANTUM) {
        uint8_t akey[KEY_MAX];
        size_t alen = make_key(akey, key + 1, b);
        if (get_node(c->txn, c->dbi, akey, alen, &n, &err) != 0 || n.leaf)
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
    void (*report)(void *ctx, const char *line), void *ctx)
{
    chk_t c;
    hvec_t v = { NULL, 0, 0 };
    MDB_stat st;
    sv_t sv;
    uint8_t root[1] = { 0 };
    const char *err;

    memset(&c, 0, sizeof(c));
    c.txn = txn;
    c.dbi = ptree;
    c.report = report;
    c.ctx = ctx;
    if (all_hashes(txn, keys, &v, &err) != 0) {
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
            if (k.mv_size == 0 || k.mv_size > KEY_MAX) {
                diff(&c, root, 0, "stored entry with a bad key (%zu bytes)",
                    k.mv_size);
                continue;
            }
            if (!reachable(&c, kb, k.mv_size)) {
                int valid = kb[0] <= MAX_NBITS
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
