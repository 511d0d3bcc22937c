/*
 * Stored keys the sks profile drops (store.h, database "sksout"): keys
 * with a tail SKS refuses (key.h), stored because another maintained
 * profile keeps them. They are in `keys` under their id (never an SKS
 * hash), not in the SKS prefix tree, and /pks/hashquery does not answer
 * their id as an SKS hash. hkp_db_put marks and unmarks them in the txn
 * that stores or removes the key.
 */
#include <errno.h>
#include <stdio.h>

#include "hkp_error.h"
#include "store_int.h"

/* The database's name. */
#define HKP_SKSOUT_DB  "sksout"

int
hkp_store_sksout_open(hkp_db_t *db, MDB_txn *txn, int create)
{
    int rc = mdb_dbi_open(txn, HKP_SKSOUT_DB, create ? MDB_CREATE : 0,
        &db->sksout);

    __atomic_store_n(&db->have_sksout, rc == 0, __ATOMIC_RELEASE);
    return rc == MDB_NOTFOUND && !create ? 0 : rc;
}

int
hkp_store_sksout_have(hkp_db_t *db)
{
    return __atomic_load_n(&db->have_sksout, __ATOMIC_ACQUIRE);
}

int
hkp_store_sksout_refresh(hkp_db_t *db, MDB_txn *txn)
{
    MDB_dbi d;
    int     rc = mdb_dbi_open(txn, HKP_SKSOUT_DB, 0, &d);

    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    db->sksout = d;
    __atomic_store_n(&db->have_sksout, 1, __ATOMIC_RELEASE);
    return 0;
}

int
hkp_store_sksout_mark(hkp_db_t *db, MDB_txn *txn,
    const uint8_t hash[HKP_HASH_LEN], int add)
{
    MDB_val k = { HKP_HASH_LEN, (void *) hash }, v = { 0, NULL };
    int rc;

    if (!hkp_store_sksout_have(db))
        return add ? HKP_EPROFILE : 0;
    if (add)
        return mdb_put(txn, db->sksout, &k, &v, 0);
    rc = mdb_del(txn, db->sksout, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
hkp_db_sks_out(hkp_db_t *db, MDB_txn *txn, const uint8_t hash[HKP_HASH_LEN])
{
    MDB_val k = { HKP_HASH_LEN, (void *) hash }, v;
    int rc;

    if (!hkp_store_sksout_have(db))
        return 0;
    rc = mdb_get(txn, db->sksout, &k, &v);
    /* EINVAL: txn began before hkp_store_sksout_refresh() opened it */
    return rc == 0 ? 1 : rc == MDB_NOTFOUND || rc == EINVAL ? 0 : rc;
}

/* Whether the stored bytes of a key have a tail (key.h): a marker packet,
 * or a user ID or attribute after a subkey. Packet headers only. */
static int
bytes_tailed(const uint8_t *p, size_t len)
{
    size_t      off = 0, used;
    hkp_pkt_t   pkt;
    const char *e;
    int         sub = 0;

    while (off < len && hkp_pkt_read(p + off, len - off, &pkt, &used, &e) == 0)
    {
        off += used;
        if (pkt.tag == HKP_TAG_MARKER
            || (sub && (pkt.tag == HKP_TAG_UID || pkt.tag == HKP_TAG_UAT)))
            return 1;
        sub |= pkt.tag == HKP_TAG_PUBSUB;
    }
    return 0;
}

/* One key's difference, reported: 1. */
static long
sksout_diff(void (*report)(void *ctx, const char *line), void *ctx,
    const uint8_t hash[HKP_HASH_LEN], const char *why)
{
    char line[160], hex[2 * HKP_HASH_LEN + 1];

    hkp_hex(hash, HKP_HASH_LEN, hex);
    snprintf(line, sizeof(line), "sks profile: key %s %s", hex, why);
    report(ctx, line);
    return 1;
}

/* What is wrong with the entry (k, v) of keys (marks 0) or of sksout
 * (marks 1), or NULL; *out += 1 for a marked stored key. NULL with *bad
 * set when reading failed. */
static const char *
sksout_entry(hkp_db_t *db, MDB_txn *txn, int marks, MDB_val *k, MDB_val *v,
    size_t *out, int *bad)
{
    MDB_val kk = *k, w;
    int     r;

    if (marks)
        return mdb_get(txn, db->keys, &kk, &w) != 0
            ? "is marked (sksout) but not stored" : NULL;
    if ((r = hkp_db_sks_out(db, txn, k->mv_data)) < 0) {
        *bad = 1;
        return NULL;
    }
    *out += (size_t) r;
    if (r == bytes_tailed(v->mv_data, v->mv_size))
        return NULL;
    return r ? "is marked as dropped by the sks profile but has no tail"
             : "has a tail SKS refuses but is not marked (sksout)";
}

long
hkp_db_sksout_check(hkp_db_t *db, MDB_txn *txn,
    void (*report)(void *ctx, const char *line), void *ctx, size_t *nout)
{
    MDB_cursor *cur;
    MDB_val     k, v;
    long        diffs = 0;
    int         rc = MDB_NOTFOUND, bad = 0;

    *nout = 0;
    for (int marks = 0; marks < 2 && rc == MDB_NOTFOUND && !bad; marks++) {
        if (marks && !hkp_store_sksout_have(db))
            break;
        if (mdb_cursor_open(txn, marks ? db->sksout : db->keys, &cur) != 0)
            return -1;
        while (!bad && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
            const char *why = k.mv_size != HKP_HASH_LEN ? NULL
                : sksout_entry(db, txn, marks, &k, &v, nout, &bad);
            if (why != NULL)
                diffs += sksout_diff(report, ctx, k.mv_data, why);
        }
        mdb_cursor_close(cur);
    }
    return rc == MDB_NOTFOUND && !bad ? diffs : -1;
}
