/*
 * Unit tests for shared/store_prefixlog.c: hkp_db_put logs the primary
 * fingerprint prefix of keys stored new or merged on the day of its clock
 * (not of unchanged ones), once per day, sorted; days are kept for
 * HKP_PREFIXLOG_KEEP_DAYS and pruned as puts pass; a day past
 * HKP_PREFIXLOG_MAX_DAY is not served; a store opened read-only without
 * the database serves nothing.
 *
 * Env: HKP_TEST_DATA (default t/data), TMPDIR (default /tmp).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"
#include "armor.h"
#include "key.h"
#include "store.h"

#define MAPSIZE  ((size_t) 64 * 1024 * 1024)
#define DAY      HKP_PREFIXLOG_DAY_SECS
#define T0       ((int64_t) 20000 * DAY + 3600)   /* a day number 20000 */

static const char *datadir = "t/data";
static hkp_db_t    db;

#define PLOG_MAX  16     /* prefixes kept per walk */

typedef struct {
    char    got[PLOG_MAX][2 * HKP_PREFIXLOG_PREFIX_LEN + 1];
    size_t  n;
} plog_t;

static int
plog_cb(void *ctx, const uint8_t *prefix, size_t len)
{
    plog_t *p = ctx;

    if (len == HKP_PREFIXLOG_PREFIX_LEN && p->n < PLOG_MAX)
        hkp_hex(prefix, len, p->got[p->n]);
    p->n++;
    return 0;
}

/* The day's log as "AAAAAAAA,BBBBBBBB", or "-" when not kept. */
static const char *
plog(uint32_t day, int64_t now)
{
    static char out[16 * 10];
    MDB_txn *txn;
    plog_t p;
    int rc;

    memset(&p, 0, sizeof(p));
    if (hkp_db_rtxn(&db, &txn) != 0)
        return "txn";
    rc = hkp_db_prefixlog_get(&db, txn, day, now, plog_cb, &p);
    mdb_txn_abort(txn);
    if (rc == 1)
        return "-";
    if (rc != 0)
        return "error";
    out[0] = '\0';
    for (size_t i = 0; i < p.n && i < PLOG_MAX; i++) {
        if (i)
            strcat(out, ",");
        strcat(out, p.got[i]);
    }
    return out;
}

static hkp_key_t *
load(const char *name)
{
    char path[4096], why[HKP_REASON_LEN];
    uint8_t *txt, *bin = NULL;
    size_t tl, bl = 0;
    const char *err = NULL;
    coll_t c;

    memset(&c, 0, sizeof(c));
    snprintf(path, sizeof(path), "%s/%s", datadir, name);
    txt = read_file(path, &tl);
    if (txt == NULL || hkp_armor_decode(txt, tl, &bin, &bl, &err) < 1
        || hkp_keys_parse(bin, bl, NULL, collect, &c, why, sizeof(why)) != 0
        || c.nkeys != 1)
    {
        diag("cannot load %s", path);
        free(txt);
        free(bin);
        coll_free(&c);
        return NULL;
    }
    free(txt);
    free(bin);
    return c.keys[0];
}

static int
put(hkp_key_t *key, int64_t now)
{
    MDB_txn *txn;
    hkp_put_opts_t o;
    hkp_put_result_t res;
    int rc;

    memset(&o, 0, sizeof(o));
    o.now = now;
    if (key == NULL || mdb_txn_begin(db.env, NULL, 0, &txn) != 0)
        return -1;
    rc = hkp_db_put(&db, txn, key, &o, &res);
    if (rc != 0) {
        diag("put: %s", res.reason);
        mdb_txn_abort(txn);
        return -1;
    }
    if (mdb_txn_commit(txn) != 0)
        return -1;
    return (int) res.status;
}

/* Entries of the prefixlog database (counters and prefixes). */
static size_t
entries(void)
{
    MDB_txn *txn;
    MDB_stat st;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return (size_t) -1;
    if (mdb_stat(txn, db.prefixlog, &st) != 0)
        st.ms_entries = (size_t) -1;
    mdb_txn_abort(txn);
    return st.ms_entries;
}

int
main(void)
{
    const char *dd = getenv("HKP_TEST_DATA"), *td = getenv("TMPDIR");
    char tmp[4096], path[4200], err[512];
    hkp_key_t *k1, *k2, *k3dup, *k3, *k4;
    uint32_t d0 = (uint32_t) (T0 / DAY);

    if (dd && *dd)
        datadir = dd;
    snprintf(tmp, sizeof(tmp), "%s/hkp-test-plog.XXXXXX", td && *td ? td : "/tmp");
    if (!ok(mkdtemp(tmp) != NULL, "mkdtemp"))
        return tap_done();
    snprintf(path, sizeof(path), "%s/db", tmp);
    if (!ok(hkp_db_open(&db, path, 0, MAPSIZE, err, sizeof(err)) == 0,
            "open a new store") || !ok(db.have_prefixlog, "it has a prefix log")) {
        rm_tree(tmp);
        return tap_done();
    }

    k1 = load("k1-ed25519.asc");          /* 8236DAA5... */
    k2 = load("k2-rsa2048.asc");          /* 451C1DD6... */
    k3dup = load("k3-dupsig.asc");        /* F24511A3..., merged by k3 */
    k3 = load("k3-ed25519.asc");
    k4 = load("k4-ed25519.asc");          /* B4C5A495... */

    is_int(hkp_prefixlog_day(T0), d0, "day number of the clock");
    is_str(plog(d0, T0), "", "a kept day without changes: empty");

    is_int(put(k1, T0), HKP_PUT_NEW, "k1 new on day 0");
    is_int(put(k2, T0 + 10), HKP_PUT_NEW, "k2 new on day 0");
    is_int(put(k3dup, T0 + 20), HKP_PUT_NEW, "k3 (dupsig) new on day 0");
    is_str(plog(d0, T0), "451C1DD6,8236DAA5,F24511A3", "day 0: the three, sorted");
    is_int(put(k1, T0 + DAY), HKP_PUT_UNCHANGED, "k1 again on day 1: unchanged");
    is_str(plog(d0 + 1, T0 + DAY), "", "an unchanged key is not logged");
    is_int(put(k3, T0 + DAY + 5), HKP_PUT_MERGED, "k3 merged on day 1");
    is_str(plog(d0 + 1, T0 + DAY), "F24511A3", "a merged key is logged on its day");
    is_str(plog(d0, T0 + DAY), "451C1DD6,8236DAA5,F24511A3", "day 0 is still kept");
    is_str(plog(d0 + 2, T0 + DAY), "-", "a future day is not kept");
    is_str(plog(d0, T0 + (int64_t) (HKP_PREFIXLOG_KEEP_DAYS + 1) * DAY), "-",
        "a day past the retention is not served");

    /* a put past the retention prunes the old days (a few per put) */
    {
        size_t before = entries();
        is_int(put(k4, T0 + (int64_t) (HKP_PREFIXLOG_KEEP_DAYS + 2) * DAY),
            HKP_PUT_NEW, "k4 new, days later");
        ok(before == 6 && entries() == 2,
           "the old days' records are pruned (%zu -> %zu entries)", before,
           entries());
        is_str(plog(d0 + HKP_PREFIXLOG_KEEP_DAYS + 2,
            T0 + (int64_t) (HKP_PREFIXLOG_KEEP_DAYS + 2) * DAY), "B4C5A495",
            "the new day has k4");
    }

    /* a day over the cap: its counter says so, it is not served */
    {
        MDB_txn *txn;
        uint32_t d = d0 + 40;
        uint8_t dk[4] = { (uint8_t) (d >> 24), (uint8_t) (d >> 16),
                          (uint8_t) (d >> 8), (uint8_t) d };
        uint8_t cv[4] = { (uint8_t) (HKP_PREFIXLOG_MAX_DAY >> 24),
                          (uint8_t) (HKP_PREFIXLOG_MAX_DAY >> 16),
                          (uint8_t) (HKP_PREFIXLOG_MAX_DAY >> 8),
                          (uint8_t) HKP_PREFIXLOG_MAX_DAY };
        MDB_val k = { 4, dk }, v = { 4, cv };
        ok(mdb_txn_begin(db.env, NULL, 0, &txn) == 0
           && mdb_put(txn, db.prefixlog, &k, &v, 0) == 0
           && mdb_txn_commit(txn) == 0,
           "a day with HKP_PREFIXLOG_MAX_DAY prefixes logged");
        is_int(put(k2, (int64_t) d * DAY + 1), HKP_PUT_UNCHANGED, "k2 unchanged");
        is_int(put(k3dup, (int64_t) d * DAY + 2), HKP_PUT_UNCHANGED, "k3dup unchanged");
    }
    {
        /* a new key on the full day: it passes the cap */
        hkp_key_t *k5 = load("k5-ed25519.asc");
        uint32_t d = d0 + 40;
        is_int(put(k5, (int64_t) d * DAY + 3), HKP_PUT_NEW, "k5 new on the full day");
        is_str(plog(d, (int64_t) d * DAY + 4), "-", "a day past the cap is not served");
        if (k5) {
            hkp_key_free(k5);
            free(k5);
        }
    }

    hkp_db_close(&db);

    /* read-only: what was written is served */
    ok(hkp_db_open(&db, path, HKP_DB_RDONLY, MAPSIZE, err, sizeof(err)) == 0
       && db.have_prefixlog, "read-only open has the prefix log");
    is_str(plog(d0 + HKP_PREFIXLOG_KEEP_DAYS + 2,
        T0 + (int64_t) (HKP_PREFIXLOG_KEEP_DAYS + 2) * DAY), "B4C5A495",
        "read-only: the day is served");
    hkp_db_close(&db);

    for (hkp_key_t **k = (hkp_key_t *[]) { k1, k2, k3dup, k3, k4, NULL }; *k; k++) {
        hkp_key_free(*k);
        free(*k);
    }
    rm_tree(tmp);
    return tap_done();
}
