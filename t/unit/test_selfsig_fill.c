/*
 * Unit tests for self-signature records written later (store.h: the fill
 * mark, store_selfsig_fill.c): hkp_db_put with selfsig_later stores no
 * record and leaves the mark; a merge with it deletes the stale record;
 * batches scanned, built and applied move the cursor; a key stored
 * without its record during a pass makes another pass; a key replaced
 * between scan and apply gets no record from the stale copy; a batch of
 * an older pass does not move the cursor; the last batch removes the
 * mark and every record agrees with its key (hkp_db_selfsig_check);
 * hkp_db_selfsig_fill removes the mark too.
 *
 * Usage: test_selfsig_fill
 * Env:   HKP_TEST_DATA (default t/data), TMPDIR (default /tmp).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"
#include "armor.h"
#include "key.h"
#include "store.h"

#define MAPSIZE  ((size_t) 64 * 1024 * 1024)

static const char *datadir = "t/data";
static char        tmpdir[4096];
static hkp_db_t    db;

/* Puts the key of file name (later: without its record). The put status
 * with its hash in hash (may be NULL), or -1. */
static int
put(const char *name, int later, uint8_t *hash)
{
    hkp_key_t        *k = load_key(datadir, name);
    hkp_put_opts_t    o;
    hkp_put_result_t  res;
    MDB_txn          *txn;
    int               rc, r = -1;

    memset(&o, 0, sizeof(o));
    o.selfsig_later = later;
    if (k == NULL || mdb_txn_begin(db.env, NULL, 0, &txn) != 0) {
        free_key(k);
        return -1;
    }
    if ((rc = hkp_db_put(&db, txn, k, &o, &res)) != 0) {
        diag("hkp_db_put %s: %s", name, res.reason);
        mdb_txn_abort(txn);
    } else if (mdb_txn_commit(txn) == 0) {
        r = (int) res.status;
        if (hash != NULL)
            memcpy(hash, res.hash, HKP_HASH_LEN);
    }
    free_key(k);
    return r;
}

static int
has_rec(const uint8_t *hash)
{
    MDB_txn *txn;
    MDB_val  v;
    int      rc;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    rc = hkp_db_selfsig_get(&db, txn, hash, &v);
    mdb_txn_abort(txn);
    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : -1;
}

/* The mark: 1 with *m, 0 none, -1 error. */
static int
mark(hkp_selfsig_mark_t *m)
{
    MDB_txn *txn;
    int      rc;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    rc = hkp_db_selfsig_mark_get(&db, txn, m);
    mdb_txn_abort(txn);
    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : -1;
}

static size_t
missing(void)
{
    MDB_txn *txn;
    size_t   n = (size_t) -1;

    if (hkp_db_rtxn(&db, &txn) == 0) {
        (void) hkp_db_selfsig_missing(&db, txn, &n);
        mdb_txn_abort(txn);
    }
    return n;
}

static int
begin_pass(void)
{
    hkp_selfsig_mark_t m;
    MDB_txn           *txn;

    if (mdb_txn_begin(db.env, NULL, 0, &txn) != 0)
        return -1;
    if (hkp_db_selfsig_mark_get(&db, txn, &m) != 0
        || hkp_db_selfsig_pass_begin(&db, txn, &m) != 0)
    {
        mdb_txn_abort(txn);
        return -1;
    }
    return mdb_txn_commit(txn) == 0 ? 0 : -1;
}

static int
scan(hkp_selfsig_batch_t *b, size_t max_keys)
{
    hkp_selfsig_mark_t m;
    MDB_txn           *txn;
    int                rc;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    rc = hkp_db_selfsig_mark_get(&db, txn, &m);
    if (rc == 0)
        rc = hkp_db_selfsig_batch_scan(&db, txn, &m, max_keys, 1 << 20,
            1000, b);
    mdb_txn_abort(txn);
    return rc == 0 ? 0 : -1;
}

static int
apply(hkp_selfsig_batch_t *b, size_t *written, int *finished)
{
    MDB_txn *txn;

    if (mdb_txn_begin(db.env, NULL, 0, &txn) != 0)
        return -1;
    if (hkp_db_selfsig_batch_apply(&db, txn, b, 7, 1000, written, finished)
        != 0)
    {
        mdb_txn_abort(txn);
        return -1;
    }
    return mdb_txn_commit(txn) == 0 ? 0 : -1;
}

static void
report(void *ctx, const char *line)
{
    (void) ctx;
    diag("check: %s", line);
}

/* Every record agrees with its key and names one; *miss without one. */
static long
check(size_t *miss)
{
    MDB_txn *txn;
    long     d;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    d = hkp_db_selfsig_check(&db, txn, report, NULL, miss);
    mdb_txn_abort(txn);
    return d;
}

static void
test_later_puts(void)
{
    hkp_selfsig_mark_t m;
    uint8_t h1[HKP_HASH_LEN], h3[HKP_HASH_LEN], h3m[HKP_HASH_LEN];

    is_int(mark(&m), 0, "a new store: no fill mark");
    is_int(put("k1-ed25519.asc", 1, h1), HKP_PUT_NEW, "put k1 later: NEW");
    is_int(has_rec(h1), 0, "k1 has no record");
    is_int(mark(&m), 1, "the fill mark is there");
    ok(!m.pass && !m.again && !m.has_cursor, "no pass begun");
    is_int(put("k2-rsa2048.asc", 1, NULL), HKP_PUT_NEW, "put k2 later");
    is_int(put("k3-dupsig.asc", 0, h3), HKP_PUT_NEW, "put k3-dupsig now");
    is_int(has_rec(h3), 1, "k3-dupsig has its record");
    /* a merge with later: the record of the key it replaces goes */
    is_int(put("k3-ed25519.asc", 1, h3m), HKP_PUT_MERGED,
        "put k3 later onto k3-dupsig: MERGED");
    is_int(has_rec(h3), 0, "the replaced key's record is deleted");
    is_int(has_rec(h3m), 0, "the merged key has none yet");
    is_int(put("k4-ed25519.asc", 1, NULL), HKP_PUT_NEW, "put k4 later");
    is_int(put("k5-ed25519.asc", 1, NULL), HKP_PUT_NEW, "put k5 later");
    is_int((long long) missing(), 5, "5 keys without a record");
}

static void
test_fill(void)
{
    hkp_selfsig_batch_t b, old;
    hkp_selfsig_mark_t  m;
    size_t              w, total = 0, miss;
    int                 fin = 0, rounds = 0;
    uint32_t            pass1;

    memset(&b, 0, sizeof(b));
    memset(&old, 0, sizeof(old));
    ok(begin_pass() == 0, "a pass begins");
    is_int(mark(&m), 1, "mark read");
    ok(m.pass && m.passno == 1 && !m.has_cursor, "pass 1, no cursor");
    pass1 = m.passno;

    ok(scan(&b, 2) == 0, "scan 2 keys");
    is_int((long long) b.n, 2, "2 keys without a record in the batch");
    ok(!b.end && b.have_last, "not at the end; a last key");
    hkp_selfsig_batch_build(&b);
    ok(b.items[0].rec != NULL && b.items[1].rec != NULL, "records built");
    ok(apply(&b, &w, &fin) == 0, "batch applied");
    is_int((long long) w, 2, "2 records written");
    ok(!fin, "not finished");
    is_int(mark(&m), 1, "mark still there");
    ok(m.has_cursor && memcmp(m.cursor, b.last, HKP_HASH_LEN) == 0,
        "the cursor is the batch's last key");
    is_int((long long) m.filled, 2, "filled 2");
    is_int((long long) m.rate, 7, "rate as given");
    is_int((long long) missing(), 3, "3 left");
    total += w;

    /* the next batch, its key deleted before it is applied (as a merge
     * or a takedown would) */
    ok(scan(&b, 1) == 0, "scan 1 key");
    is_int((long long) b.n, 1, "1 key in it");
    hkp_selfsig_batch_build(&b);
    {
        MDB_txn *txn;
        char     why[HKP_REASON_LEN];
        int      rc = -1;
        if (mdb_txn_begin(db.env, NULL, 0, &txn) == 0) {
            rc = hkp_db_del(&db, txn, b.items[0].hash, why, sizeof(why));
            if (rc == 0)
                rc = mdb_txn_commit(txn);
            else
                mdb_txn_abort(txn);
        }
        is_int(rc, 0, "the batch's key deleted before the apply");
    }
    ok(apply(&b, &w, &fin) == 0, "applied");
    is_int((long long) w, 0, "no record for a key no longer stored");
    is_int(has_rec(b.items[0].hash), 0, "none under its hash");

    /* a key stored without a record during the pass: another pass */
    is_int(put("k6-ed25519.asc", 1, NULL), HKP_PUT_NEW, "put k6 later "
        "during the pass");
    is_int(mark(&m), 1, "mark read");
    ok(m.again && m.passno == pass1, "again set, same pass");

    /* a batch scanned now but applied after another pass began does
     * not move that pass's cursor */
    ok(scan(&old, 8) == 0, "a batch scanned in pass 1");
    ok(begin_pass() == 0, "pass 2 begins meanwhile");
    hkp_selfsig_batch_build(&old);
    ok(apply(&old, &w, &fin) == 0, "the pass-1 batch applied");
    ok(w > 0 && !fin, "its records written, not finished");
    total += w;
    is_int(mark(&m), 1, "mark read");
    ok(m.pass && m.passno == pass1 + 1 && !m.has_cursor && !m.again,
        "pass 2 without a cursor: not moved by the old batch");

    /* to the end */
    is_int(put("k7-ed25519.asc", 1, NULL), HKP_PUT_NEW, "put k7 later");
    while (!fin && rounds++ < 50) {
        if (scan(&b, 1) != 0)
            break;
        hkp_selfsig_batch_build(&b);
        if (apply(&b, &w, &fin) != 0)
            break;
        total += w;
    }
    ok(fin, "the fill finished (%d batches)", rounds);
    is_int(mark(&m), 0, "the mark is gone");
    is_int(check(&miss), 0, "every record agrees with its key");
    is_int((long long) miss, 0, "no key without a record");
    diag("%zu records written by the batches", total);
    hkp_selfsig_batch_free(&b);
    hkp_selfsig_batch_free(&old);
}

static void
test_fill_at_once(void)
{
    hkp_selfsig_mark_t m;
    size_t             written, miss;

    is_int(put("k8-ed25519.asc", 1, NULL), HKP_PUT_NEW, "put k8 later");
    is_int(mark(&m), 1, "a mark again");
    is_int(hkp_db_selfsig_fill(&db, 0, &written), 0, "hkp_db_selfsig_fill");
    is_int((long long) written, 1, "1 record written");
    is_int(mark(&m), 0, "the mark is gone");
    is_int(check(&miss), 0, "records agree");
    is_int((long long) miss, 0, "none missing");
}

int
main(void)
{
    const char *dd = getenv("HKP_TEST_DATA");
    const char *td = getenv("TMPDIR");
    char        path[4200], err[512];

    if (dd && *dd)
        datadir = dd;
    snprintf(tmpdir, sizeof(tmpdir), "%s/hkp-test-selfsig-fill.XXXXXX",
        td && *td ? td : "/tmp");
    if (!ok(mkdtemp(tmpdir) != NULL, "mkdtemp"))
        return tap_done();
    snprintf(path, sizeof(path), "%s/db", tmpdir);
    if (ok(hkp_db_open(&db, path, 0, MAPSIZE, err, sizeof(err)) == 0,
           "open a new store"))
    {
        test_later_puts();
        test_fill();
        test_fill_at_once();
        hkp_db_close(&db);
    } else
        diag("%s", err);
    rm_tree(tmpdir);
    return tap_done();
}
