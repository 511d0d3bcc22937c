/*
 * The fingerprint-prefix log (store.h, database "prefixlog"): for each UTC
 * day, the fingerprint prefixes of the keys hkp_db_put() stored new or
 * changed that day, written in the put's own txn, so the log never
 * disagrees with the keys. HKPv2's GET /pks/v2/prefixlog/<date> serves it:
 * a client learns which of its keys may have changed without naming them.
 *
 * Records (all keys sort by day first, big-endian):
 *   day (u32 BE, time / 86400)              -> u32 BE prefixes logged that day
 *   day (u32 BE) + prefix (HKP_PREFIXLOG_PREFIX_LEN bytes) -> empty
 * Bounds: days older than HKP_PREFIXLOG_KEEP_DAYS are deleted as puts pass
 * (at most HKP_PREFIXLOG_PRUNE_STEP records per put, the oldest first), and
 * a day logs at most HKP_PREFIXLOG_MAX_DAY prefixes: past that the day is
 * marked full and its log is not served (it would be incomplete).
 */
#include <string.h>
#include <time.h>

#include "hkp_error.h"
#include "bytes.h"
#include "store_int.h"

#define PLOG_DAY_LEN  4
#define PLOG_REC_LEN  (PLOG_DAY_LEN + HKP_PREFIXLOG_PREFIX_LEN)
/* counter value of a day that passed HKP_PREFIXLOG_MAX_DAY */
#define PLOG_FULL     0xFFFFFFFFu

uint32_t
hkp_prefixlog_day(int64_t now)
{
    if (now == 0)
        now = (int64_t) time(NULL);
    return now > 0 ? (uint32_t) (now / HKP_PREFIXLOG_DAY_SECS) : 0;
}

/* Deletes at most HKP_PREFIXLOG_PRUNE_STEP records of days before
 * `today` - HKP_PREFIXLOG_KEEP_DAYS (they sort first). */
static int
prune(hkp_db_t *db, MDB_txn *txn, uint32_t today)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc;

    if (today <= HKP_PREFIXLOG_KEEP_DAYS)
        return 0;
    if ((rc = mdb_cursor_open(txn, db->prefixlog, &c)) != 0)
        return rc;
    for (int i = 0; i < HKP_PREFIXLOG_PRUNE_STEP; i++) {
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            break;
        }
        if (rc != 0)
            break;
        if (k.mv_size < PLOG_DAY_LEN
            || hkp_get_be32(k.mv_data) >= today - HKP_PREFIXLOG_KEEP_DAYS)
            break;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
    }
    mdb_cursor_close(c);
    return rc;
}

int
hkp_store_prefixlog_add(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr,
    size_t fpr_len, int64_t now)
{
    uint8_t dk[PLOG_DAY_LEN], rk[PLOG_REC_LEN], cv[4];
    MDB_val k, v;
    uint32_t today, count = 0;
    int rc;

    if (!db->have_prefixlog || fpr_len < HKP_PREFIXLOG_PREFIX_LEN)
        return 0;
    today = hkp_prefixlog_day(now);
    if ((rc = prune(db, txn, today)) != 0)
        return rc;

    hkp_put_be32(dk, today);
    k.mv_size = sizeof(dk);
    k.mv_data = dk;
    rc = mdb_get(txn, db->prefixlog, &k, &v);
    if (rc == 0 && v.mv_size == 4)
        count = hkp_get_be32(v.mv_data);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (count == PLOG_FULL)
        return 0;

    memcpy(rk, dk, PLOG_DAY_LEN);
    memcpy(rk + PLOG_DAY_LEN, fpr, HKP_PREFIXLOG_PREFIX_LEN);
    k.mv_size = sizeof(rk);
    k.mv_data = rk;
    v.mv_size = 0;
    v.mv_data = NULL;
    rc = mdb_put(txn, db->prefixlog, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST)
        return 0;              /* already logged today */
    if (rc != 0)
        return rc;

    /* A day over the cap is marked full: its prefixes stay until pruned,
     * but the log of that day is no longer served. */
    count = count + 1 > HKP_PREFIXLOG_MAX_DAY ? PLOG_FULL : count + 1;
    hkp_put_be32(cv, count);
    k.mv_size = sizeof(dk);
    k.mv_data = dk;
    v.mv_size = sizeof(cv);
    v.mv_data = cv;
    return mdb_put(txn, db->prefixlog, &k, &v, 0);
}

int
hkp_db_prefixlog_get(hkp_db_t *db, MDB_txn *txn, uint32_t day, int64_t now,
    hkp_prefixlog_cb cb, void *ctx)
{
    uint8_t dk[PLOG_DAY_LEN];
    MDB_cursor *c;
    MDB_val k, v;
    uint32_t today = hkp_prefixlog_day(now);
    int rc;

    if (!db->have_prefixlog || day > today
        || today - day > HKP_PREFIXLOG_KEEP_DAYS)
        return 1;

    hkp_put_be32(dk, day);
    k.mv_size = sizeof(dk);
    k.mv_data = dk;
    rc = mdb_get(txn, db->prefixlog, &k, &v);
    if (rc == 0 && v.mv_size == 4 && hkp_get_be32(v.mv_data) == PLOG_FULL)
        return 1;
    if (rc == MDB_NOTFOUND)
        return 0;               /* nothing changed that day */
    if (rc != 0)
        return rc;

    if ((rc = mdb_cursor_open(txn, db->prefixlog, &c)) != 0)
        return rc;
    k.mv_size = sizeof(dk);
    k.mv_data = dk;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        if (k.mv_size < PLOG_DAY_LEN || memcmp(k.mv_data, dk, PLOG_DAY_LEN))
            break;
        if (k.mv_size == PLOG_REC_LEN
            && cb(ctx, (const uint8_t *) k.mv_data + PLOG_DAY_LEN,
                  HKP_PREFIXLOG_PREFIX_LEN) != 0)
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
