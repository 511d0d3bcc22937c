/*
 * The "selfsig" database (store.h): one self-signature record
 * (selfsig.h) per stored key, under the key's hash. hkp_db_put writes it
 * in the txn that stores the key (or, with selfsig_later, leaves the fill
 * mark: store_selfsig_fill.c) and deletes it in the txn that removes the
 * key, so a record never disagrees with its key. Also the check of the
 * records and the fill at once (`reconsvc check --fill-selfsig`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hkp_error.h"
#include "selfsig.h"
#include "store_int.h"

#define HKP_SELFSIG_DB  "selfsig"
/* Stored keys hkp_db_selfsig_fill looks at per write txn (the writer lock
 * is let go between them). */
#define HKP_SELFSIG_FILL_BATCH  1000

int
hkp_store_selfsig_open(hkp_db_t *db, MDB_txn *txn, int create)
{
    return hkp_store_dbi_optional(txn, HKP_SELFSIG_DB, create, &db->selfsig,
        &db->have_selfsig);
}

/* The record of key under hash. 0 or a code. */
static int
put_rec(hkp_db_t *db, MDB_txn *txn, const uint8_t hash[HKP_HASH_LEN],
    const hkp_key_t *key)
{
    MDB_val k = { HKP_HASH_LEN, (void *) hash }, v;
    int     rc;

    v.mv_size = hkp_selfsig_len(key->npkts);
    v.mv_data = NULL;
    if ((rc = mdb_put(txn, db->selfsig, &k, &v, MDB_RESERVE)) != 0)
        return rc;
    /* a key hkp_db_put stores always has its primary */
    return hkp_selfsig_build(key, v.mv_data) == 0 ? 0 : HKP_EKEY;
}

int
hkp_store_selfsig_put(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key,
    int later)
{
    if (!db->have_selfsig)
        return 0;
    return later ? hkp_store_selfsig_defer(db, txn)
                 : put_rec(db, txn, key->hash, key);
}

int
hkp_store_selfsig_del(hkp_db_t *db, MDB_txn *txn,
    const uint8_t hash[HKP_HASH_LEN])
{
    MDB_val k = { HKP_HASH_LEN, (void *) hash };
    int     rc;

    if (!db->have_selfsig)
        return 0;
    rc = mdb_del(txn, db->selfsig, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
hkp_db_selfsig_get(hkp_db_t *db, MDB_txn *txn,
    const uint8_t hash[HKP_HASH_LEN], MDB_val *out)
{
    MDB_val k = { HKP_HASH_LEN, (void *) hash };
    int     rc;

    if (!db->have_selfsig)
        return MDB_NOTFOUND;
    rc = mdb_get(txn, db->selfsig, &k, out);
    /* EINVAL: a txn older than the database's handle */
    return rc == EINVAL ? MDB_NOTFOUND : rc;
}

/* Whether the record of the stored key (k, v) is missing (or, with redo,
 * disagrees with it): then it is written (*wrote 1). 0 or a code. */
static int
fill_one(hkp_db_t *db, MDB_txn *txn, MDB_val *k, MDB_val *v, int redo,
    int *wrote)
{
    hkp_key_t  key;
    MDB_val    rec;
    uint8_t   *want = NULL;
    char       reason[HKP_REASON_LEN];
    int        rc = hkp_db_selfsig_get(db, txn, k->mv_data, &rec), w = 1;

    *wrote = 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0 && !redo)
        return 0;
    if (hkp_key_decode(v->mv_data, v->mv_size, &key, reason, sizeof(reason))
        != 0)
        return 0;                       /* check reports it */
    if (rc == 0 && hkp_selfsig_valid(rec.mv_data, rec.mv_size, key.npkts)) {
        if ((want = malloc(rec.mv_size)) == NULL) {
            hkp_key_free(&key);
            return HKP_ENOMEM;
        }
        w = hkp_selfsig_build(&key, want) != 0
            || memcmp(want, rec.mv_data, rec.mv_size) != 0;
        free(want);
    }
    rc = w ? put_rec(db, txn, k->mv_data, &key) : 0;
    hkp_key_free(&key);
    *wrote = rc == 0 && w;
    return rc;
}

/* The fill mark (store.h) in the first txn of a fill: a pass of ours
 * begun (*passno) when there is one. 0 or a code. */
static int
fill_mark_begin(hkp_db_t *db, MDB_txn *txn, int *have, uint32_t *passno)
{
    hkp_selfsig_mark_t m;
    int                rc = hkp_db_selfsig_mark_get(db, txn, &m);

    *have = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0 || (rc = hkp_db_selfsig_pass_begin(db, txn, &m)) != 0)
        return rc;
    *have = 1;
    *passno = m.passno;
    return 0;
}

/* ... and in its last txn: deleted when it still shows our pass and no
 * key was stored without its record since. 0 or a code. */
static int
fill_mark_end(hkp_db_t *db, MDB_txn *txn, uint32_t passno, size_t written)
{
    hkp_selfsig_mark_t m;
    int                rc = hkp_db_selfsig_mark_get(db, txn, &m);

    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    if (m.pass && m.passno == passno && !m.again)
        return hkp_db_selfsig_mark_del(db, txn);
    m.filled += written;
    return hkp_db_selfsig_mark_put(db, txn, &m);
}

int
hkp_db_selfsig_fill(hkp_db_t *db, int redo, size_t *written)
{
    uint8_t     last[HKP_HASH_LEN];
    uint32_t    passno = 0;
    int         have_last = 0, rc, done = 0, first = 1, marked = 0;

    *written = 0;
    if (!db->have_selfsig)
        return HKP_ERDONLY;
    while (!done) {
        MDB_txn    *txn;
        MDB_cursor *cur;
        MDB_val     k = { HKP_HASH_LEN, last }, v;
        size_t      n = 0;
        int         w;

        if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
            return rc;
        if (first && (rc = fill_mark_begin(db, txn, &marked, &passno)) != 0)
        {
            mdb_txn_abort(txn);
            return rc;
        }
        first = 0;
        if ((rc = mdb_cursor_open(txn, db->keys, &cur)) != 0) {
            mdb_txn_abort(txn);
            return rc;
        }
        rc = mdb_cursor_get(cur, &k, &v, have_last ? MDB_SET_RANGE
                                                   : MDB_FIRST);
        if (rc == 0 && have_last && memcmp(k.mv_data, last, HKP_HASH_LEN) == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        for (; rc == 0 && n < HKP_SELFSIG_FILL_BATCH; n++) {
            if (k.mv_size == HKP_HASH_LEN) {
                memcpy(last, k.mv_data, HKP_HASH_LEN);
                have_last = 1;
                if ((rc = fill_one(db, txn, &k, &v, redo, &w)) != 0)
                    break;
                *written += (size_t) w;
            }
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            mdb_txn_abort(txn);
            return rc;
        }
        done = rc == MDB_NOTFOUND;
        if (done && marked
            && (rc = fill_mark_end(db, txn, passno, *written)) != 0)
        {
            mdb_txn_abort(txn);
            return rc;
        }
        if ((rc = mdb_txn_commit(txn)) != 0)
            return rc;
    }
    return 0;
}

/* What is wrong with the record of stored key (k, v), or NULL; *missing
 * += 1 when it has none. NULL with *bad set when reading failed. */
static const char *
selfsig_entry(hkp_db_t *db, MDB_txn *txn, MDB_val *k, MDB_val *v,
    size_t *missing, int *bad)
{
    hkp_key_t   key;
    MDB_val     rec;
    uint8_t    *want;
    char        reason[HKP_REASON_LEN];
    const char *why = NULL;
    int         rc = hkp_db_selfsig_get(db, txn, k->mv_data, &rec);

    if (rc == MDB_NOTFOUND) {
        (*missing)++;
        return NULL;
    }
    if (rc != 0) {
        *bad = 1;
        return NULL;
    }
    if (hkp_key_decode(v->mv_data, v->mv_size, &key, reason, sizeof(reason))
        != 0)
        return "is stored but cannot be decoded";
    if (!hkp_selfsig_valid(rec.mv_data, rec.mv_size, key.npkts)) {
        hkp_key_free(&key);
        return "has a malformed self-signature record";
    }
    if ((want = malloc(rec.mv_size)) == NULL) {
        hkp_key_free(&key);
        *bad = 1;
        return NULL;
    }
    if (hkp_selfsig_build(&key, want) != 0
        || memcmp(want, rec.mv_data, rec.mv_size) != 0)
        why = "has a self-signature record that disagrees with its "
              "signatures";
    free(want);
    hkp_key_free(&key);
    return why;
}

long
hkp_db_selfsig_check(hkp_db_t *db, MDB_txn *txn,
    void (*report)(void *ctx, const char *line), void *ctx,
    size_t *nmissing)
{
    MDB_cursor *cur;
    MDB_val     k, v, w;
    long        diffs = 0;
    int         rc = MDB_NOTFOUND, bad = 0;

    *nmissing = 0;
    if (!db->have_selfsig) {
        MDB_stat ks;
        if (mdb_stat(txn, db->keys, &ks) != 0)
            return -1;
        *nmissing = ks.ms_entries;
        return 0;
    }
    /* every stored key's record agrees with it ... */
    if (mdb_cursor_open(txn, db->keys, &cur) != 0)
        return -1;
    while (!bad && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        const char *why = k.mv_size != HKP_HASH_LEN ? NULL
            : selfsig_entry(db, txn, &k, &v, nmissing, &bad);
        if (why != NULL)
            diffs += hkp_store_report_key(report, ctx, "selfsig", k.mv_data,
                                          why);
    }
    mdb_cursor_close(cur);
    if (bad || rc != MDB_NOTFOUND)
        return -1;
    /* ... and every record names a stored key */
    if (mdb_cursor_open(txn, db->selfsig, &cur) != 0)
        return -1;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        MDB_val kk = k;
        if (mdb_get(txn, db->keys, &kk, &w) != 0)
            diffs += hkp_store_report_key(report, ctx, "selfsig", k.mv_data,
                                          "has a self-signature record but "
                                          "is not stored");
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? diffs : -1;
}
