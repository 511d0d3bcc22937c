/*
 * Unit tests for shared/ptree.c: the prefix tree in a temporary LMDB
 * environment against a brute-force model (every node's count, svalues
 * computed from scratch with plain GMP, leaf contents, the split/join
 * thresholds, no orphan nodes), hkp_ptree_get / hkp_ptree_elements,
 * hkp_ptree_check on good and hand-corrupted trees, rebuild versus
 * incremental, and the batch API (test_ptree_store.c: through the store).
 *
 * Usage: test_ptree
 * Env:   TMPDIR (default /tmp), HKP_PTREE_N (hashes inserted, 3000).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gmp.h>
#include <lmdb.h>

#include "tap.h"
#include "util.h"
#include "ref_zp.h"
#include "armor.h"
#include "key.h"
#include "ptree.h"
#include "store.h"
#include "zp.h"

#define NS  HKP_RECON_NSAMPLES
#define EL  HKP_ELEM_LEN

static char     tmpdir[4096];
/* Leaves hold at most 51 elements unless hashes share long prefixes
 * (then one more per level is possible, doc/recon.md 2.4). */
static int      strict_leaf = 1;
static MDB_env *env;
static MDB_dbi  tdbi, kdbi;

/* ------------------------------------------------------------------ */

static int
cmp16(const void *a, const void *b)
{
    return memcmp(a, b, HKP_HASH_LEN);
}


/* The model: a sorted set of hashes. */
typedef struct {
    hkp_hash_t *a;
    size_t n, cap;
} set_t;

static void
set_add(set_t *s, const uint8_t h[HKP_HASH_LEN])
{
    size_t i = 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->a = realloc(s->a, s->cap * 16);
    }
    while (i < s->n && memcmp(s->a[i], h, HKP_HASH_LEN) < 0)
        i++;
    memmove(s->a[i + 1], s->a[i], (s->n - i) * 16);
    memcpy(s->a[i], h, HKP_HASH_LEN);
    s->n++;
}

static void
set_del(set_t *s, const uint8_t h[HKP_HASH_LEN])
{
    hkp_hash_t *p = bsearch(h, s->a, s->n, HKP_HASH_LEN, cmp16);
    size_t i;
    if (p == NULL)
        return;
    i = (size_t) (p - s->a);
    memmove(s->a[i], s->a[i + 1], (s->n - i - 1) * 16);
    s->n--;
}

/* ------------------------------------------------------------------ */
/* brute-force comparison                                               */

typedef struct {
    size_t nodes, leaves, maxdepth;
    int    bad;
    char   why[256];
} walk_t;

static int
has_prefix(const uint8_t *h, const uint8_t *prefix, unsigned nbits)
{
    for (unsigned j = 0; j < nbits; j++) {
        uint8_t m = (uint8_t) (0x80 >> (j % 8));
        if ((h[j / 8] & m) != (prefix[j / 8] & m))
            return 0;
    }
    return 1;
}

static void
walk(MDB_txn *txn, const uint8_t *prefix, unsigned nbits,
    const hkp_hash_t *el, size_t n, walk_t *w)
{
    hkp_pnode_t node;
    uint8_t sv[NS][EL];
    int r = hkp_ptree_get(txn, tdbi, prefix, nbits, &node);

    if (w->bad)
        return;
    if (r != 0) {
        w->bad = 1;
        snprintf(w->why, sizeof(w->why), "get(nbits %u) = %d", nbits, r);
        return;
    }
    w->nodes++;
    if (nbits / 2 > w->maxdepth)
        w->maxdepth = nbits / 2;
    if (node.count != n) {
        w->bad = 1;
        snprintf(w->why, sizeof(w->why), "nbits %u: count %u, model %zu",
            nbits, node.count, n);
        return;
    }
    ref_svalues(sv, el, n);
    if (memcmp(sv, node.svalues, sizeof(sv)) != 0) {
        w->bad = 1;
        snprintf(w->why, sizeof(w->why), "nbits %u: svalues differ", nbits);
        return;
    }
    /* elements() of every node is the model's subset */
    {
        hkp_hash_t *e;
        size_t ne;
        if (hkp_ptree_elements(txn, tdbi, prefix, nbits, &e, &ne) != 0
            || ne != n || (n > 0 && memcmp(e, el, n * 16) != 0))
        {
            w->bad = 1;
            snprintf(w->why, sizeof(w->why), "nbits %u: elements() differ",
                nbits);
        }
        free(e);
        if (w->bad)
            return;
    }
    if (node.leaf) {
        w->leaves++;
        if (node.nelems != n || (n > 0 && memcmp(node.elems, el, n * 16)))
        {
            w->bad = 1;
            snprintf(w->why, sizeof(w->why), "nbits %u: leaf elements "
                "differ from the model", nbits);
            return;
        }
        if (strict_leaf && n > HKP_PTREE_SPLIT + 1) {
            w->bad = 1;
            snprintf(w->why, sizeof(w->why), "nbits %u: leaf with %zu > %d",
                nbits, n, HKP_PTREE_SPLIT + 1);
            return;
        }
        /* below a leaf nothing exists */
        if (nbits + 2 <= 128) {
            uint8_t child[17];
            hkp_pnode_t x;
            hkp_ptree_child_prefix(prefix, nbits, 0, child);
            if (hkp_ptree_get(txn, tdbi, child, nbits + 2, &x) != 1) {
                w->bad = 1;
                snprintf(w->why, sizeof(w->why), "nbits %u: get below a "
                    "leaf is not 1", nbits);
            }
        }
        return;
    }
    if (n <= HKP_PTREE_JOIN) {
        w->bad = 1;
        snprintf(w->why, sizeof(w->why), "nbits %u: internal with %zu <= %d",
            nbits, n, HKP_PTREE_JOIN);
        return;
    }
    {
        size_t start = 0;
        for (unsigned c = 0; c < HKP_RECON_CHILDREN; c++) {
            uint8_t child[17] = { 0 };
            size_t end = start;
            hkp_ptree_child_prefix(prefix, nbits, c, child);
            while (end < n && has_prefix(el[end], child, nbits + 2))
                end++;
            walk(txn, child, nbits + 2, el + start, end - start, w);
            start = end;
        }
        if (start != n && !w->bad) {
            w->bad = 1;
            snprintf(w->why, sizeof(w->why), "nbits %u: model elements not "
                "partitioned", nbits);
        }
    }
}

/* Compares the tree in txn with the model; also no orphan nodes. */
static int
model_ok(MDB_txn *txn, const set_t *s, const char *label)
{
    walk_t w;
    MDB_stat st;
    uint8_t root[1] = { 0 };

    memset(&w, 0, sizeof(w));
    walk(txn, root, 0, (const hkp_hash_t *) s->a, s->n, &w);
    if (!w.bad) {
        mdb_stat(txn, tdbi, &st);
        if (st.ms_entries != w.nodes && !(s->n == 0 && st.ms_entries == 0)) {
            w.bad = 1;
            snprintf(w.why, sizeof(w.why), "%zu stored nodes, %zu reachable",
                (size_t) st.ms_entries, w.nodes);
        }
    }
    ok(!w.bad, "%s: tree = model (%zu elements, %zu nodes, %zu leaves, "
        "depth %zu)", label, s->n, w.nodes, w.leaves, w.maxdepth);
    if (w.bad)
        diag("  %s", w.why);
    return !w.bad;
}

static int
check(MDB_txn *txn)
{
    int lines = 0;
    return hkp_ptree_check(txn, tdbi, kdbi, NULL, count_report, &lines);
}

/* keys db mirrors the model (hash -> empty value) for hkp_ptree_check. */
static int
do_insert(MDB_txn *txn, set_t *s, const uint8_t h[HKP_HASH_LEN])
{
    int rc;
    MDB_val k = { 16, (void *) h }, v = { 0, (void *) "" };
    if ((rc = hkp_ptree_insert(txn, tdbi, h)) != 0) {
        diag("insert: %s", hkp_strerror(rc));
        return -1;
    }
    mdb_put(txn, kdbi, &k, &v, 0);
    set_add(s, h);
    return 0;
}

static int
do_remove(MDB_txn *txn, set_t *s, const uint8_t h[HKP_HASH_LEN])
{
    int rc;
    MDB_val k = { 16, (void *) h };
    if ((rc = hkp_ptree_remove(txn, tdbi, h)) != 0) {
        diag("remove: %s", hkp_strerror(rc));
        return -1;
    }
    mdb_del(txn, kdbi, &k, NULL);
    set_del(s, h);
    return 0;
}

static MDB_txn *
wtxn(void)
{
    MDB_txn *t = NULL;
    if (mdb_txn_begin(env, NULL, 0, &t) != 0)
        return NULL;
    return t;
}

static void
clear_all(void)
{
    MDB_txn *t = wtxn();
    mdb_drop(t, tdbi, 0);
    mdb_drop(t, kdbi, 0);
    mdb_txn_commit(t);
}

/* All (key, value) pairs of the tree, concatenated with lengths. */
static uint8_t *
dump_tree(MDB_txn *txn, size_t *len)
{
    MDB_cursor *c;
    MDB_val k, v;
    uint8_t *buf = NULL;
    size_t n = 0;

    mdb_cursor_open(txn, tdbi, &c);
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        buf = realloc(buf, n + 16 + k.mv_size + v.mv_size);
        memcpy(buf + n, &k.mv_size, 8);
        memcpy(buf + n + 8, &v.mv_size, 8);
        memcpy(buf + n + 16, k.mv_data, k.mv_size);
        memcpy(buf + n + 16 + k.mv_size, v.mv_data, v.mv_size);
        n += 16 + k.mv_size + v.mv_size;
    }
    mdb_cursor_close(c);
    *len = n;
    return buf;
}

/* ------------------------------------------------------------------ */

static void
test_basics(void)
{
    MDB_txn *t = wtxn();
    hkp_pnode_t node;
    uint8_t h[HKP_HASH_LEN], zero[HKP_HASH_LEN] = { 0 };
    set_t s = { NULL, 0, 0 };

    ok(hkp_ptree_get(t, tdbi, zero, 0, &node) == 0 && node.count == 0
        && node.leaf, "empty tree: root is an empty leaf");
    ok(hkp_ptree_get(t, tdbi, zero, 2, &node) == 1, "empty tree: depth 1 "
        "does not exist (1)");
    ok(hkp_ptree_get(t, tdbi, zero, 3, &node) == -1, "odd nbits is an "
        "error (-1)");
    ok(check(t) == 0, "check: empty tree, no keys");

    memset(h, 0, 16);
    h[0] = 2;
    ok(hkp_ptree_insert(t, tdbi, h) == HKP_ESAMPLE, "insert of a sample "
        "point refused: %s", hkp_strerror(HKP_ESAMPLE));
    rnd_hash(h);
    ok(do_insert(t, &s, h) == 0, "insert one");
    ok(hkp_ptree_insert(t, tdbi, h) == HKP_EPTREE, "insert twice refused: "
        "%s", hkp_strerror(HKP_EPTREE));
    {
        uint8_t o[HKP_HASH_LEN];
        rnd_hash(o);
        ok(hkp_ptree_remove(t, tdbi, o) == HKP_EPTREE, "remove of an "
            "absent hash refused: %s", hkp_strerror(HKP_EPTREE));
    }
    ok(hkp_ptree_get(t, tdbi, zero, 0, &node) == 0 && node.count == 1
        && node.leaf && node.nelems == 1
        && memcmp(node.elems, h, HKP_HASH_LEN) == 0, "root leaf holds it");
    model_ok(t, &s, "one element");
    ok(do_remove(t, &s, h) == 0, "remove it");
    ok(hkp_ptree_get(t, tdbi, zero, 0, &node) == 0 && node.count == 0,
        "root empty again");
    {
        uint8_t e[NS][EL];
        hkp_zp_svalues_empty(e);
        ok(memcmp(e, node.svalues, sizeof(e)) == 0, "empty root svalues = 1");
    }
    ok(check(t) == 0, "check after removing everything");
    mdb_txn_abort(t);
    free(s.a);
}

/* The thresholds, exactly: split when a leaf exceeds 50, join at 25. */
static void
test_thresholds(void)
{
    MDB_txn *t;
    set_t s = { NULL, 0, 0 };
    hkp_pnode_t node;
    uint8_t zero[HKP_HASH_LEN] = { 0 }, h[HKP_HASH_LEN];
    MDB_stat st;
    int okk = 1;

    clear_all();
    t = wtxn();
    for (int i = 0; i < HKP_PTREE_SPLIT; i++) {
        rnd_hash(h);
        okk &= do_insert(t, &s, h) == 0;
    }
    hkp_ptree_get(t, tdbi, zero, 0, &node);
    mdb_stat(t, tdbi, &st);
    ok(okk && node.leaf && node.count == 50 && st.ms_entries == 1,
        "50 elements: the root is still a leaf");
    rnd_hash(h);
    do_insert(t, &s, h);
    hkp_ptree_get(t, tdbi, zero, 0, &node);
    mdb_stat(t, tdbi, &st);
    ok(!node.leaf && node.count == 51 && st.ms_entries == 5,
        "51st element: the root splits into 4 leaves");
    model_ok(t, &s, "after the split");
    ok(check(t) == 0, "check after the split");
    while (s.n > HKP_PTREE_JOIN + 1) {
        uint8_t x[HKP_HASH_LEN];
        memcpy(x, s.a[rnd64() % s.n], HKP_HASH_LEN);
        do_remove(t, &s, x);
    }
    hkp_ptree_get(t, tdbi, zero, 0, &node);
    ok(!node.leaf && node.count == 26, "26 elements: still internal");
    {
        uint8_t x[HKP_HASH_LEN];
        memcpy(x, s.a[0], HKP_HASH_LEN);
        do_remove(t, &s, x);
    }
    hkp_ptree_get(t, tdbi, zero, 0, &node);
    mdb_stat(t, tdbi, &st);
    ok(node.leaf && node.count == 25 && node.nelems == 25
        && st.ms_entries == 1, "25 elements: joined back into one leaf");
    model_ok(t, &s, "after the join");
    ok(check(t) == 0, "check after the join");

    /* a deep join: elements sharing a long prefix make a chain of
     * internal nodes; removing below the threshold joins them all */
    {
        set_t s2 = { NULL, 0, 0 };
        int ok2 = 1;
        hkp_pnode_t lf;
        uint8_t pfx[2] = { 0xA5, 0x3C };
        strict_leaf = 0;
        mdb_drop(t, tdbi, 0);
        mdb_drop(t, kdbi, 0);
        for (int i = 0; i < 60; i++) {
            rnd_hash(h);
            h[0] = 0xA5;
            h[1] = (uint8_t) (i < 55 ? 0x3C : h[1]);
            ok2 &= do_insert(t, &s2, h) == 0;
        }
        mdb_stat(t, tdbi, &st);
        ok(ok2 && st.ms_entries > 20, "60 elements with a common prefix: %zu "
            "nodes", (size_t) st.ms_entries);
        model_ok(t, &s2, "deep tree");
        for (unsigned nb = 0; nb <= 16; nb += 2)
            if (hkp_ptree_get(t, tdbi, pfx, nb, &lf) != 0 || lf.leaf)
                break;
        ok(lf.leaf && lf.count > HKP_PTREE_SPLIT + 1, "a leaf with %u "
            "elements on the common prefix", lf.count);
        ok(check(t) == 0, "check accepts it");
        while (s2.n > 25) {
            uint8_t x[HKP_HASH_LEN];
            memcpy(x, s2.a[rnd64() % s2.n], HKP_HASH_LEN);
            do_remove(t, &s2, x);
        }
        mdb_stat(t, tdbi, &st);
        ok(st.ms_entries == 1, "deep tree joined into the root");
        model_ok(t, &s2, "deep tree joined");
        ok(check(t) == 0, "check after the deep join");
        free(s2.a);
        strict_leaf = 1;
    }
    mdb_txn_abort(t);
    free(s.a);
}

static void
test_random(size_t N)
{
    set_t s = { NULL, 0, 0 };
    MDB_txn *t;
    int okk = 1;
    uint8_t     h[HKP_HASH_LEN];
    hkp_hash_t *order = malloc(N * HKP_HASH_LEN);
    uint8_t *inc, *reb, *bat;
    size_t ninc, nreb, nbat;

    clear_all();
    t = wtxn();
    for (size_t i = 0; i < N; i++) {
        rnd_hash(h);
        memcpy(order[i], h, HKP_HASH_LEN);
        if (do_insert(t, &s, h) != 0)
            okk = 0;
        if ((i + 1) % 100 == 0) {
            mdb_txn_commit(t);
            t = wtxn();
        }
        if (i + 1 == 10 || i + 1 == 60 || i + 1 == 300 || i + 1 == 1000)
            model_ok(t, &s, "inserting");
    }
    ok(okk, "%zu random inserts", N);
    model_ok(t, &s, "all inserted");
    ok(check(t) == 0, "hkp_ptree_check: 0 differences");
    inc = dump_tree(t, &ninc);
    mdb_txn_commit(t);

    /* rebuild = incremental (insert-only history) */
    t = wtxn();
    {
        const char *err = NULL;
        ok(hkp_ptree_rebuild(t, tdbi, kdbi, NULL, &err) == 0, "rebuild");
        reb = dump_tree(t, &nreb);
        ok(nreb == ninc && memcmp(reb, inc, ninc) == 0, "rebuild gives the "
            "same nodes, byte for byte, as the incremental inserts");
    }
    mdb_txn_abort(t);

    /* a batch from empty = incremental */
    t = wtxn();
    {
        hkp_ptree_batch_t *b = hkp_ptree_batch_new();
        int bok = 1;
        mdb_drop(t, tdbi, 0);
        for (size_t i = 0; i < N; i++)
            bok &= hkp_ptree_batch_add(b, order[i], 1) == 0;
        bok &= hkp_ptree_batch_apply(b, t, tdbi) == 0;
        ok(bok && hkp_ptree_batch_len(b) == 0, "batch of %zu inserts", s.n);
        bat = dump_tree(t, &nbat);
        ok(nbat == ninc && memcmp(bat, inc, ninc) == 0, "batch gives the "
            "same nodes as the incremental inserts");
        if (nbat != ninc || memcmp(bat, inc, ninc) != 0) {
            size_t o = 0;
            while (o < nbat && o < ninc && bat[o] == inc[o])
                o++;
            diag("  sizes %zu %zu, first difference at byte %zu", nbat, ninc,
                o);
            model_ok(t, &s, "batch-built tree");
        }
        hkp_ptree_batch_free(b);
    }
    mdb_txn_abort(t);
    free(inc);
    free(reb);
    free(bat);
    free(order);

    /* remove half */
    t = wtxn();
    okk = 1;
    {
        size_t target = s.n / 2, i = 0;
        while (s.n > target) {
            memcpy(h, s.a[rnd64() % s.n], HKP_HASH_LEN);
            if (do_remove(t, &s, h) != 0)
                okk = 0;
            if (++i % 100 == 0) {
                mdb_txn_commit(t);
                t = wtxn();
            }
            if (s.n == target + target / 2)
                model_ok(t, &s, "removing");
        }
    }
    ok(okk, "removed half");
    model_ok(t, &s, "half removed");
    ok(check(t) == 0, "hkp_ptree_check after removals: 0 differences");

    /* mixed: inserts and removes interleaved */
    okk = 1;
    for (int i = 0; i < 2000; i++) {
        if (s.n > 0 && rnd64() % 2) {
            memcpy(h, s.a[rnd64() % s.n], HKP_HASH_LEN);
            okk &= do_remove(t, &s, h) == 0;
        } else {
            rnd_hash(h);
            okk &= do_insert(t, &s, h) == 0;
        }
    }
    ok(okk, "2000 mixed inserts/removes");
    model_ok(t, &s, "mixed");
    ok(check(t) == 0, "hkp_ptree_check after mixed updates");
    mdb_txn_commit(t);

    /* a mixed batch (adds, removes, add+remove of the same new hash,
     * remove+add of an old one) */
    t = wtxn();
    {
        hkp_ptree_batch_t *b = hkp_ptree_batch_new();
        int bok = 1;
        size_t mark;
        set_t s2 = { NULL, 0, 0 };
        for (size_t i = 0; i < s.n; i++)
            set_add(&s2, s.a[i]);
        for (int i = 0; i < 700; i++) {
            MDB_val k = { 16, h }, v = { 0, (void *) "" };
            if (s2.n > 0 && i % 3 == 0) {
                memcpy(h, s2.a[rnd64() % s2.n], HKP_HASH_LEN);
                bok &= hkp_ptree_batch_add(b, h, 0) == 0;
                set_del(&s2, h);
                mdb_del(t, kdbi, &k, NULL);
                if (i % 6 == 0) {       /* and back */
                    bok &= hkp_ptree_batch_add(b, h, 1) == 0;
                    set_add(&s2, h);
                    mdb_put(t, kdbi, &k, &v, 0);
                }
            } else {
                rnd_hash(h);
                bok &= hkp_ptree_batch_add(b, h, 1) == 0;
                if (i % 5 == 0)         /* added and gone again */
                    bok &= hkp_ptree_batch_add(b, h, 0) == 0;
                else {
                    set_add(&s2, h);
                    mdb_put(t, kdbi, &k, &v, 0);
                }
            }
        }
        /* records made after `mark` are dropped (an aborted nested txn) */
        mark = hkp_ptree_batch_len(b);
        rnd_hash(h);
        bok &= hkp_ptree_batch_add(b, h, 1) == 0;
        hkp_ptree_batch_truncate(b, mark);
        memset(h, 0, 16);
        h[0] = 1;
        ok(hkp_ptree_batch_add(b, h, 1) == HKP_ESAMPLE, "batch refuses a "
            "sample point");
        bok &= hkp_ptree_batch_apply(b, t, tdbi) == 0;
        ok(bok, "mixed batch applied");
        model_ok(t, &s2, "mixed batch");
        ok(check(t) == 0, "hkp_ptree_check after the mixed batch");
        /* a batch that removes a hash that is not there fails */
        rnd_hash(h);
        hkp_ptree_batch_add(b, h, 0);
        ok(hkp_ptree_batch_apply(b, t, tdbi) == HKP_EPTREE, "batch removing "
            "an absent hash fails: %s", hkp_strerror(HKP_EPTREE));
        hkp_ptree_batch_free(b);
        free(s2.a);
    }
    mdb_txn_abort(t);

    /* corruption: check must notice; each in a txn that is aborted */
    {
        MDB_cursor *c;
        MDB_val k, v;
        uint8_t kb[32], *vb;
        size_t vlen;
        int n;

        /* 1. a leaf's count and element changed */
        t = wtxn();
        mdb_cursor_open(t, tdbi, &c);
        while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
            if (v.mv_size > 4 + NS * EL + 1 + 16)
                break;          /* a leaf with elements */
        }
        memcpy(kb, k.mv_data, k.mv_size);
        vlen = v.mv_size;
        vb = malloc(vlen);
        memcpy(vb, v.mv_data, vlen);
        mdb_cursor_close(c);
        vb[vlen - 1] ^= 0x01;   /* last element's last byte */
        k.mv_data = kb;
        v.mv_data = vb;
        mdb_put(t, tdbi, &k, &v, 0);
        n = check(t);
        ok(n > 0, "check finds a changed leaf element (%d differences)", n);
        mdb_txn_abort(t);

        /* 2. svalues of the root changed */
        t = wtxn();
        {
            uint8_t rk[1] = { 0 };
            MDB_val r = { 1, rk }, rv;
            mdb_get(t, tdbi, &r, &rv);
            free(vb);
            vb = malloc(rv.mv_size);
            memcpy(vb, rv.mv_data, rv.mv_size);
            vb[4 + 3 * EL] ^= 0x10;
            rv.mv_data = vb;
            mdb_put(t, tdbi, &r, &rv, 0);
            n = check(t);
            ok(n > 0, "check finds changed root svalues (%d)", n);
        }
        mdb_txn_abort(t);

        /* 3. a node count changed */
        t = wtxn();
        {
            uint8_t rk[1] = { 0 };
            MDB_val r = { 1, rk }, rv;
            mdb_get(t, tdbi, &r, &rv);
            memcpy(vb, rv.mv_data, rv.mv_size);
            vb[3] ^= 1;
            rv.mv_data = vb;
            mdb_put(t, tdbi, &r, &rv, 0);
            n = check(t);
            ok(n > 0, "check finds a wrong root count (%d)", n);
        }
        mdb_txn_abort(t);

        /* 4. a node deleted */
        t = wtxn();
        k.mv_data = kb;
        mdb_del(t, tdbi, &k, NULL);
        n = check(t);
        ok(n > 0, "check finds a missing node (%d)", n);
        mdb_txn_abort(t);

        /* 5. an orphan node */
        t = wtxn();
        {
            uint8_t ok_[18];
            MDB_val ok2 = { 0, ok_ };
            memcpy(ok_, kb, k.mv_size);
            ok_[0] = (uint8_t) (ok_[0] + 2);
            ok_[k.mv_size] = 0;
            ok2.mv_size = 1 + (ok_[0] + 7u) / 8;
            v.mv_data = vb;
            v.mv_size = 4 + NS * EL + 1;
            memset(vb, 0, v.mv_size);
            mdb_put(t, tdbi, &ok2, &v, 0);
            n = check(t);
            ok(n > 0, "check finds a node below a leaf (%d)", n);
        }
        mdb_txn_abort(t);

        /* 6. a key without its tree element */
        t = wtxn();
        {
            MDB_val k2 = { 16, h }, v2 = { 0, (void *) "" };
            rnd_hash(h);
            mdb_put(t, kdbi, &k2, &v2, 0);
            n = check(t);
            ok(n > 0, "check finds a key that is not in the tree (%d)", n);
        }
        mdb_txn_abort(t);
        free(vb);

        /* and the tree itself is still good */
        t = wtxn();
        ok(check(t) == 0, "check: 0 after the aborted corruptions");
        mdb_txn_abort(t);
    }
    free(s.a);
}

int
main(void)
{
    const char *tmp = getenv("TMPDIR");
    const char *ns = getenv("HKP_PTREE_N");
    size_t N = ns != NULL ? (size_t) strtoul(ns, NULL, 10) : 3000;
    MDB_txn *t;

    rng_state = 0x2545F4914F6CDD1DULL;
    hkp_zp_init();
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_ptree.XXXXXX",
        tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 4) != 0
        || mdb_env_set_mapsize(env, (size_t) 256 << 20) != 0
        || mdb_env_open(env, tmpdir, MDB_NOSYNC, 0600) != 0)
    {
        fprintf(stderr, "lmdb env\n");
        return 1;
    }
    mdb_txn_begin(env, NULL, 0, &t);
    mdb_dbi_open(t, "ptree", MDB_CREATE, &tdbi);
    mdb_dbi_open(t, "keys", MDB_CREATE, &kdbi);
    mdb_txn_commit(t);

    test_basics();
    test_thresholds();
    test_random(N);

    mdb_env_close(env);
    rm_tree(tmpdir);
    return tap_done();
}
