/*
 * The prefix tree's write path (ptree.h): a cache of decoded nodes that
 * insert and remove work on, and the batches of deferred updates. Errors
 * are codes (hkp_error.h).
 */
#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "hkp_error.h"
#include "ptree_int.h"
#include "zp.h"

/* Position of h in a sorted element array: index of the first element
 * >= h; *found says whether it equals h. */
static size_t
lower_bound(const uint8_t *elems, size_t n, const uint8_t *h, int *found)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(elems + mid * HKP_HASH_LEN, h, HKP_HASH_LEN) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < n && memcmp(elems + lo * HKP_HASH_LEN, h, HKP_HASH_LEN) == 0;
    return lo;
}

/* ------------------------------------------------------------------ */
/* Node cache: insert and remove work on decoded copies of the nodes they
 * touch and write each changed node once at the end (for a batch of many
 * hashes, the upper levels are written once instead of once per hash). */

typedef struct cnode {
    struct cnode *next;         /* hash chain */
    uint8_t       key[HKP_PT_KEY_MAX];
    uint8_t       klen;
    uint8_t       present;      /* node exists (in the cache's view) */
    uint8_t       indb;         /* node exists in the database */
    uint8_t       dirty;
    uint8_t       leaf;
    uint32_t      count;
    hkp_pt_sv_t          sv;
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
    uint8_t *e = realloc(n->el, nc * HKP_HASH_LEN);
    if (e == NULL)
        return -1;
    n->el = e;
    n->cap = nc;
    return 0;
}

/* The cached node for the first nbits bits of `bits`, loaded from the
 * database on first use (present = 0 if it does not exist). */
static cnode_t *
cache_get(cache_t *c, const uint8_t *bits, unsigned nbits, int *rcp)
{
    uint8_t key[HKP_PT_KEY_MAX];
    size_t klen = hkp_pt_make_key(key, bits, nbits), j;
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
        *rcp = HKP_ENOMEM;
        return NULL;
    }
    memcpy(n->key, key, klen);
    n->klen = (uint8_t) klen;
    rc = mdb_get(c->txn, c->dbi, &k, &v);
    if (rc == 0) {
        if (hkp_pt_decode(&v, &d) != 0) {
            free(n);
            *rcp = HKP_EPTREE;
            return NULL;
        }
        n->present = n->indb = 1;
        n->leaf = (uint8_t) d.leaf;
        n->count = d.count;
        memcpy(n->sv, d.svalues, HKP_PT_SV_LEN);
        if (d.leaf && d.nelems > 0) {
            if (cnode_reserve(n, d.nelems + 1) != 0) {
                free(n);
                *rcp = HKP_ENOMEM;
                return NULL;
            }
            memcpy(n->el, d.elems, d.nelems * HKP_HASH_LEN);
            n->nel = d.nelems;
        }
    } else if (rc != MDB_NOTFOUND) {
        free(n);
        *rcp = rc;
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
cache_flush(cache_t *c)
{
    for (size_t i = 0; i < c->nslot; i++) {
        for (cnode_t *n = c->tab[i]; n != NULL; n = n->next) {
            int rc;
            if (!n->dirty)
                continue;
            if (n->present) {
                if ((rc = hkp_pt_put_node(c->txn, c->dbi, n->key, n->klen, n->count,
                        (const uint8_t (*)[HKP_ELEM_LEN]) n->sv, n->leaf,
                        n->el, n->leaf ? n->nel : 0, NULL)) != 0)
                    return rc;
            } else if (n->indb) {
                MDB_val k = { n->klen, n->key };
                rc = mdb_del(c->txn, c->dbi, &k, NULL);
                if (rc != 0 && rc != MDB_NOTFOUND) {
                    return rc;
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
cache_collect(cache_t *c, const uint8_t *prefix, unsigned nbits, hkp_pt_hvec_t *out)
{
    int r;
    cnode_t *n = cache_get(c, prefix, nbits, &r);
    uint8_t child[HKP_PT_KEY_MAX];

    if (n == NULL)
        return r;
    if (!n->present) {
        return HKP_EPTREE;
    }
    if (n->leaf) {
        if (n->nel > 0 && hkp_pt_hvec_add(out, n->el, n->nel) != 0) {
            return HKP_ENOMEM;
        }
        return 0;
    }
    if (nbits >= HKP_PT_MAX_NBITS) {
        return HKP_EPTREE;
    }
    for (unsigned ci = 0; ci < HKP_RECON_CHILDREN; ci++) {
        hkp_ptree_child_prefix(prefix, nbits, ci, child);
        if ((r = cache_collect(c, child, nbits + HKP_RECON_BITQUANTUM, out)) != 0)
            return r;
    }
    return 0;
}

/* Marks every node strictly below an internal node as deleted. */
static int
cache_delete_below(cache_t *c, const uint8_t *prefix, unsigned nbits)
{
    int r;
    uint8_t child[HKP_PT_KEY_MAX];

    if (nbits >= HKP_PT_MAX_NBITS)
        return 0;
    for (unsigned ci = 0; ci < HKP_RECON_CHILDREN; ci++) {
        cnode_t *n;
        hkp_ptree_child_prefix(prefix, nbits, ci, child);
        if ((n = cache_get(c, child, nbits + HKP_RECON_BITQUANTUM, &r))
            == NULL)
            return r;
        if (!n->present)
            continue;
        if (!n->leaf && (r = cache_delete_below(c, child,
                nbits + HKP_RECON_BITQUANTUM)) != 0)
            return r;
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
cache_walk(cache_t *c, const uint8_t hash[HKP_HASH_LEN], int create_root,
    cnode_t **path, unsigned *depthp)
{
    int r;
    for (unsigned depth = 0;; depth++) {
        cnode_t *n = cache_get(c, hash, depth * HKP_RECON_BITQUANTUM, &r);
        if (n == NULL)
            return r;
        if (!n->present) {
            if (depth > 0) {
                return HKP_EPTREE;
            }
            if (!create_root) {
                return HKP_EPTREE;
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
            return HKP_EPTREE;
        }
    }
}

static int
cache_insert(cache_t *c, const uint8_t hash[HKP_HASH_LEN])
{
    int r;
    cnode_t *path[HKP_PTREE_MAX_DEPTH + 1], *leaf;
    unsigned depth;
    size_t pos;
    int found;

    if (hkp_zp_factors_set(&c->f, hash, 1) != 0) {
        return HKP_ESAMPLE;
    }
    if ((r = cache_walk(c, hash, 1, path, &depth)) != 0)
        return r;
    leaf = path[depth];
    pos = lower_bound(leaf->el, leaf->nel, hash, &found);
    if (found) {
        return HKP_EPTREE;
    }
    if (cnode_reserve(leaf, leaf->nel + 1) != 0) {
        return HKP_ENOMEM;
    }
    memmove(leaf->el + (pos + 1) * HKP_HASH_LEN, leaf->el + pos * HKP_HASH_LEN,
        (leaf->nel - pos) * HKP_HASH_LEN);
    memcpy(leaf->el + pos * HKP_HASH_LEN, hash, HKP_HASH_LEN);
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
            uint8_t child[HKP_PT_KEY_MAX];
            size_t end = start;
            cnode_t *cn;
            while (end < leaf->nel
                && hkp_pt_child_index(leaf->el + end * HKP_HASH_LEN, depth)
                    == ci)
                end++;
            hkp_ptree_child_prefix(hash, nbits, ci, child);
            cn = cache_get(c, child, nbits + HKP_RECON_BITQUANTUM, &r);
            if (cn == NULL)
                return r;
            if (cnode_reserve(cn, end - start + 1) != 0) {
                return HKP_ENOMEM;
            }
            cn->present = 1;
            cn->leaf = 1;
            cn->dirty = 1;
            cn->count = (uint32_t) (end - start);
            cn->nel = end - start;
            if (cn->nel > 0)
                memcpy(cn->el, leaf->el + start * HKP_HASH_LEN,
                    cn->nel * HKP_HASH_LEN);
            (void) hkp_zp_svalues_of(cn->sv,
                (const hkp_hash_t *) cn->el, cn->nel);
            start = end;
        }
        if (start != leaf->nel) {
            return HKP_EPTREE;
        }
        leaf->leaf = 0;
        leaf->nel = 0;
    }
    return 0;
}

static int
cache_remove(cache_t *c, const uint8_t hash[HKP_HASH_LEN])
{
    int r;
    cnode_t *path[HKP_PTREE_MAX_DEPTH + 1], *leaf, *j;
    unsigned depth, joind;
    size_t pos;
    int found;
    hkp_pt_hvec_t sub = { NULL, 0, 0 };

    if (hkp_zp_factors_set(&c->f, hash, 0) != 0) {
        return HKP_EPTREE;
    }
    if ((r = cache_walk(c, hash, 0, path, &depth)) != 0)
        return r;
    leaf = path[depth];
    pos = lower_bound(leaf->el, leaf->nel, hash, &found);
    if (!found) {
        return HKP_EPTREE;
    }
    for (unsigned d = 0; d < depth; d++)
        if (path[d]->count == 0) {
            return HKP_EPTREE;
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
        memmove(leaf->el + pos * HKP_HASH_LEN,
            leaf->el + (pos + 1) * HKP_HASH_LEN,
            (leaf->nel - pos - 1) * HKP_HASH_LEN);
        leaf->nel--;
        return 0;
    }

    /* Join. */
    j = path[joind];
    {
        unsigned nbits = joind * HKP_RECON_BITQUANTUM;
        int f2;
        if ((r = cache_collect(c, hash, nbits, &sub)) != 0)
            goto fail;
        pos = lower_bound(sub.a, sub.n, hash, &f2);
        if (!f2 || sub.n != (size_t) j->count + 1) {
            r = HKP_EPTREE;
            goto fail;
        }
        memmove(sub.a + pos * HKP_HASH_LEN, sub.a + (pos + 1) * HKP_HASH_LEN,
            (sub.n - pos - 1) * HKP_HASH_LEN);
        sub.n--;
        if ((r = cache_delete_below(c, hash, nbits)) != 0)
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
    return r;
}

/* ------------------------------------------------------------------ */
/* Insert / remove                                                      */

static int
apply_one(MDB_txn *txn, MDB_dbi dbi, const uint8_t hash[HKP_HASH_LEN], int add)
{
    cache_t c;
    int r;

    if (cache_init(&c, txn, dbi) != 0) {
        return HKP_ENOMEM;
    }
    r = add ? cache_insert(&c, hash) : cache_remove(&c, hash);
    if (r == 0)
        r = cache_flush(&c);
    cache_free(&c);
    return r;
}

int
hkp_ptree_insert(MDB_txn *txn, MDB_dbi dbi, const uint8_t hash[HKP_HASH_LEN])
{
    return apply_one(txn, dbi, hash, 1);
}

int
hkp_ptree_remove(MDB_txn *txn, MDB_dbi dbi, const uint8_t hash[HKP_HASH_LEN])
{
    return apply_one(txn, dbi, hash, 0);
}

/* ------------------------------------------------------------------ */
/* Batches                                                              */

typedef struct {
    uint8_t   hash[HKP_HASH_LEN];
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
hkp_ptree_batch_add(hkp_ptree_batch_t *b, const uint8_t hash[HKP_HASH_LEN],
    int add)
{
    if (add && hkp_ptree_is_sample(hash)) {
        return HKP_ESAMPLE;
    }
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        op_t *o = realloc(b->ops, nc * sizeof(*o));
        if (o == NULL) {
            return HKP_ENOMEM;
        }
        b->ops = o;
        b->cap = nc;
    }
    memcpy(b->ops[b->n].hash, hash, HKP_HASH_LEN);
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
    int c = memcmp(a->hash, b->hash, HKP_HASH_LEN);
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
hkp_ptree_batch_apply(hkp_ptree_batch_t *b, MDB_txn *txn, MDB_dbi dbi)
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
        while (j < b->n
            && memcmp(b->ops[j].hash, b->ops[i].hash, HKP_HASH_LEN) == 0)
            net += b->ops[j++].add;
        if (net < -1 || net > 1) {
            return HKP_EPTREE;
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
        return HKP_ENOMEM;
    }
    for (size_t i = 0; i < b->n; i++) {
        if ((ret = b->ops[i].add > 0 ? cache_insert(&c, b->ops[i].hash)
                : cache_remove(&c, b->ops[i].hash)) != 0)
            goto out;
    }
    if ((ret = cache_flush(&c)) != 0)
        goto out;
    ret = 0;
out:
    b->n = 0;
    cache_free(&c);
    return ret;
}

int
hkp_ptree_is_sample(const uint8_t hash[HKP_HASH_LEN])
{
    /* Only the points 0, 1, 2 are below 2^128 (the others are p - 1,
     * p - 2, p - 3). */
    for (int i = 1; i < HKP_HASH_LEN; i++)
        if (hash[i] != 0)
            return 0;
    return hash[0] <= 2;
}

