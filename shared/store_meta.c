/*
 * The store's "meta" records (store.h): the key count and the per-hour
 * put counts ("hist:"), reconsvc's heartbeat.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hkp_error.h"
#include "bytes.h"
#include "store_int.h"

uint64_t
hkp_db_count(hkp_db_t *db, MDB_txn *txn)
{
    MDB_val k = { sizeof(HKP_META_COUNT) - 1, (void *) HKP_META_COUNT }, v;
    if (mdb_get(txn, db->meta, &k, &v) != 0 || v.mv_size != 8)
        return 0;
    return hkp_store_get_u64be(v.mv_data);
}

int
hkp_store_count_add(hkp_db_t *db, MDB_txn *txn, int64_t delta)
{
    MDB_val k = { sizeof(HKP_META_COUNT) - 1, (void *) HKP_META_COUNT }, v;
    uint8_t buf[8];
    uint64_t c = 0;
    int rc;

    if (delta == 0)
        return 0;
    rc = mdb_get(txn, db->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        c = hkp_store_get_u64be(v.mv_data);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (delta < 0 && c < (uint64_t) -delta)
        c = 0;
    else
        c += (uint64_t) delta;
    hkp_store_put_u64be(buf, c);
    v.mv_size = 8;
    v.mv_data = buf;
    return mdb_put(txn, db->meta, &k, &v, 0);
}

/* ------------------------------------------------------------------ */
/* Per-hour put counts (meta "hist:", store.h)                          */

/* Most stale hours deleted when a new hour starts: one is enough to keep
 * up (an hour starts at most once per hour); more catches up after a gap
 * or a clock change, still bounded. */
#define HIST_PRUNE_MAX  64

static void
hist_key(uint8_t kb[HKP_META_HIST_LEN], uint32_t hour)
{
    memcpy(kb, HKP_META_HIST, sizeof(HKP_META_HIST) - 1);
    hkp_put_be32(kb + 5, hour);
}

static uint32_t
hist_hour(const uint8_t *kb)
{
    return hkp_get_be32(kb + 5);
}

static int
is_hist_key(const MDB_val *k)
{
    return k->mv_size >= sizeof(HKP_META_HIST) - 1
        && memcmp(k->mv_data, HKP_META_HIST, sizeof(HKP_META_HIST) - 1) == 0;
}

/* Deletes at most HIST_PRUNE_MAX hours before `hour` -
 * HKP_HIST_KEEP_HOURS (they sort first: big-endian hour numbers). */
static int
hist_prune(hkp_db_t *db, MDB_txn *txn, uint32_t hour)
{
    MDB_cursor *cur;
    uint8_t kb[HKP_META_HIST_LEN];
    MDB_val k = { sizeof(kb), kb }, v;
    int rc, n = 0;

    if (hour <= HKP_HIST_KEEP_HOURS)
        return 0;
    if ((rc = mdb_cursor_open(txn, db->meta, &cur)) != 0)
        return rc;
    hist_key(kb, 0);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && is_hist_key(&k) && n++ < HIST_PRUNE_MAX) {
        if (k.mv_size == HKP_META_HIST_LEN) {
            if (hist_hour(k.mv_data) >= hour - HKP_HIST_KEEP_HOURS)
                break;
            /* after a delete, MDB_NEXT gives the key that followed */
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Counts one key stored by hkp_db_put() in the current hour: one get and
 * one put in meta (plus a bounded prune when the hour is new). */
int
hkp_store_hist_add(hkp_db_t *db, MDB_txn *txn, int merged, int64_t now)
{
    uint32_t hour;
    uint8_t kb[HKP_META_HIST_LEN], vb[HKP_META_HIST_VAL_LEN];
    MDB_val k = { sizeof(kb), kb }, v;
    uint64_t c[2] = { 0, 0 };
    int rc, fresh;

    if (now == 0)
        now = (int64_t) time(NULL);
    hour = now > 0 ? (uint32_t) (now / 3600) : 0;

    hist_key(kb, hour);
    rc = mdb_get(txn, db->meta, &k, &v);
    fresh = rc == MDB_NOTFOUND;
    if (rc == 0 && v.mv_size == sizeof(vb)) {
        c[0] = hkp_store_get_u64be(v.mv_data);
        c[1] = hkp_store_get_u64be((const uint8_t *) v.mv_data + 8);
    } else if (rc != 0 && !fresh)
        return rc;
    c[merged ? 1 : 0]++;
    hkp_store_put_u64be(vb, c[0]);
    hkp_store_put_u64be(vb + 8, c[1]);
    v.mv_size = sizeof(vb);
    v.mv_data = vb;
    if ((rc = mdb_put(txn, db->meta, &k, &v, 0)) != 0)
        return rc;
    return fresh ? hist_prune(db, txn, hour) : 0;
}

int
hkp_db_hist(hkp_db_t *db, MDB_txn *txn, uint32_t first_hour, size_t nhours,
    uint64_t (*counts)[2])
{
    MDB_cursor *cur;
    uint8_t kb[HKP_META_HIST_LEN];
    MDB_val k = { sizeof(kb), kb }, v;
    int rc;

    memset(counts, 0, nhours * sizeof(*counts));
    if (nhours == 0)
        return 0;
    if ((rc = mdb_cursor_open(txn, db->meta, &cur)) != 0)
        return rc;
    hist_key(kb, first_hour);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && is_hist_key(&k)) {
        if (k.mv_size == HKP_META_HIST_LEN
            && v.mv_size == HKP_META_HIST_VAL_LEN)
        {
            uint32_t h = hist_hour(k.mv_data);
            if (h < first_hour)
                ;               /* cannot happen: sorted from first_hour */
            else if (h - first_hour >= nhours)
                break;
            else {
                counts[h - first_hour][0] = hkp_store_get_u64be(v.mv_data);
                counts[h - first_hour][1] =
                    hkp_store_get_u64be((const uint8_t *) v.mv_data + 8);
            }
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}



int
hkp_db_heartbeat_put(hkp_db_t *db, MDB_txn *txn, int64_t now, int64_t started)
{
    uint8_t buf[HKP_HEARTBEAT_LEN];
    MDB_val k = { sizeof(HKP_META_HEARTBEAT) - 1, (void *) HKP_META_HEARTBEAT };
    MDB_val v = { sizeof(buf), buf };

    hkp_store_put_u64be(buf, (uint64_t) now);
    hkp_store_put_u64be(buf + 8, (uint64_t) started);
    return mdb_put(txn, db->meta, &k, &v, 0);
}

int
hkp_db_heartbeat_get(hkp_db_t *db, MDB_txn *txn, int64_t *beat,
    int64_t *started)
{
    MDB_val k = { sizeof(HKP_META_HEARTBEAT) - 1, (void *) HKP_META_HEARTBEAT };
    MDB_val v;
    int rc;

    if ((rc = mdb_get(txn, db->meta, &k, &v)) != 0)
        return rc;
    if (v.mv_size != HKP_HEARTBEAT_LEN)
        return MDB_NOTFOUND;
    *beat = (int64_t) hkp_store_get_u64be(v.mv_data);
    *started = (int64_t) hkp_store_get_u64be((const uint8_t *) v.mv_data + 8);
    return 0;
}
