/*
 * Unit tests for shared/writer.c: a refused key replayed out of a direct
 * batch, MDB_TXN_FULL (commit what is done, go on with the rest), a
 * refused key in a nested txn leaving the batch intact, steps, the commit
 * policy by keys and by bytes, unchanged keys, and the prefix tree batch
 * applied at each commit (hkp_ptree_check). Failures are injected through
 * the writer's put hook: the real hkp_db_put runs first, so the txn holds
 * the key's writes when the failure is reported, as it would for a real
 * one. Each scenario uses its own environment in a mkdtemp directory.
 */
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"
#include "armor.h"
#include "key.h"
#include "ptree.h"
#include "store.h"
#include "writer.h"
#include "hkp_limits.h"

#define MAPSIZE  ((size_t) 64 << 20)
#define NKEYS    8

static const char *datadir = "t/data";
static char        tmpdir[4096];
static hkp_key_t  *keys[NKEYS];      /* k1 .. k8 */

/* ------------------------------------------------------------------ */
/* Keys                                                                 */

/* The writer's measure of a key kept for replay (writer.h). */
static size_t
key_bytes(const hkp_key_t *k)
{
    return sizeof(*k) + k->npkts * sizeof(hkp_pkt_t)
        + hkp_key_encoded_len(k);
}

/* ------------------------------------------------------------------ */
/* Failure injection and commit log                                     */

static size_t  put_calls;
static size_t  fail_at;             /* 1-based put call to fail, 0 none */
static int     fail_code;

static int
fault_put(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key,
    const hkp_put_opts_t *opts, hkp_put_result_t *res)
{
    int rc = hkp_db_put(db, txn, key, opts, res);

    if (++put_calls == fail_at && rc == 0) {
        snprintf(res->reason, sizeof(res->reason), "injected");
        return fail_code;
    }
    return rc;
}

#define MAXCOMMITS 16
static size_t             ncommits;
static hkp_writer_count_t commits[MAXCOMMITS];

static void
on_commit(void *arg, const hkp_writer_count_t *c)
{
    (void) arg;
    if (ncommits < MAXCOMMITS)
        commits[ncommits] = *c;
    ncommits++;
}

static void
reset(size_t at, int code)
{
    put_calls = 0;
    fail_at = at;
    fail_code = code;
    ncommits = 0;
    memset(commits, 0, sizeof(commits));
}

/* ------------------------------------------------------------------ */
/* Environment helpers                                                  */

static int
env_open(hkp_db_t *db, const char *name)
{
    char path[4200], err[512];

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    if (hkp_db_open(db, path, 0, MAPSIZE, err, sizeof(err)) != 0) {
        diag("hkp_db_open: %s", err);
        return -1;
    }
    return 0;
}

static int
writer_open(hkp_writer_t *w, hkp_db_t *db, unsigned flags, size_t max_keys,
    size_t max_bytes)
{
    hkp_writer_policy_t p;

    memset(&p, 0, sizeof(p));
    p.flags = flags;
    p.max_keys = max_keys;
    p.max_bytes = max_bytes;
    p.on_commit = on_commit;
    if (hkp_writer_open(w, db, &p) != 0)
        return -1;
    w->put = fault_put;
    return 0;
}

/* 1 if key i is stored (under its own hash), 0 if not, -1 on error. */
static int
stored(hkp_db_t *db, size_t i)
{
    MDB_txn *txn;
    MDB_val  v;
    int      r;

    if (hkp_db_rtxn(db, &txn) != 0)
        return -1;
    r = hkp_db_get(db, txn, keys[i]->hash, &v);
    mdb_txn_abort(txn);
    return r == 0 ? 1 : r == MDB_NOTFOUND ? 0 : -1;
}

static uint64_t
count(hkp_db_t *db)
{
    MDB_txn *txn;
    uint64_t n;

    if (hkp_db_rtxn(db, &txn) != 0)
        return (uint64_t) -1;
    n = hkp_db_count(db, txn);
    mdb_txn_abort(txn);
    return n;
}

static void
report(void *ctx, const char *line)
{
    (void) ctx;
    diag("ptree: %s", line);
}

static int
tree_ok(hkp_db_t *db)
{
    MDB_txn *txn;
    int      r;

    if (hkp_db_rtxn(db, &txn) != 0)
        return 0;
    r = hkp_ptree_check(txn, db->ptree, db->keys, NULL, report, NULL);
    mdb_txn_abort(txn);
    return r == 0;
}

/* Puts keys[i] and checks the code. */
static int
put(hkp_writer_t *w, size_t i, int want, const char *name)
{
    hkp_put_result_t res;
    int rc = hkp_writer_put(w, keys[i], &res);

    if (rc != 0 && rc != want)
        diag("%s: %s (%s)", name, hkp_strerror(rc), res.reason);
    return is_int(rc, want, name);
}

/* ------------------------------------------------------------------ */
/* Scenarios                                                            */

/* Direct puts: a refused key (after its writes) is replayed out. */
static void
test_direct_refused(void)
{
    hkp_db_t db;
    hkp_writer_t w;
    hkp_put_result_t res;

    if (env_open(&db, "direct") != 0
        || !ok(writer_open(&w, &db, HKP_WRITER_TREE_BATCH, 0, 0) == 0,
            "direct: writer open"))
        return;
    reset(4, HKP_EKEY);
    put(&w, 0, 0, "direct: k1");
    put(&w, 1, 0, "direct: k2");
    put(&w, 2, 0, "direct: k3");
    is_int(hkp_writer_put(&w, keys[3], &res), HKP_EKEY,
        "direct: k4 refused (injected after its writes)");
    is_str(res.reason, "injected", "... with its own reason");
    is_int(ncommits, 1, "... the keys before it were replayed and "
        "committed");
    is_int(commits[0].keys, 3, "... 3 keys in that batch");
    is_int(commits[0].nnew, 3, "... all new");
    is_int(put_calls, 7, "... one replay of the 3 keys");
    put(&w, 4, 0, "direct: k5 after the refusal");
    is_int(hkp_writer_commit(&w), 0, "direct: commit");
    is_int(ncommits, 2, "... second batch");
    is_int(commits[1].keys, 1, "... holding k5");
    ok(stored(&db, 0) == 1 && stored(&db, 1) == 1 && stored(&db, 2) == 1
        && stored(&db, 4) == 1, "direct: k1, k2, k3, k5 stored");
    is_int(stored(&db, 3), 0, "direct: k4 not stored");
    is_int((long long) count(&db), 4, "direct: count 4");
    ok(tree_ok(&db), "direct: prefix tree matches the keys");

    /* an unchanged key is counted, not replayed, holds no bytes */
    reset(0, 0);
    is_int(hkp_writer_put(&w, keys[0], &res), 0, "direct: k1 again");
    is_int(res.status, HKP_PUT_UNCHANGED, "... unchanged");
    is_int(w.nlog, 0, "... not in the replay log");
    is_int(hkp_writer_pending(&w).bytes, 0, "... no bytes held");
    is_int(hkp_writer_pending(&w).nunchanged, 1, "... counted unchanged");
    hkp_writer_close(&w);
    hkp_db_close(&db);
}

/* Direct puts: MDB_TXN_FULL commits what is done and retries the key in a
 * new batch. */
static void
test_direct_txn_full(void)
{
    hkp_db_t db;
    hkp_writer_t w;

    if (env_open(&db, "full") != 0
        || !ok(writer_open(&w, &db, HKP_WRITER_TREE_BATCH, 0, 0) == 0,
            "txn full: writer open"))
        return;
    reset(4, MDB_TXN_FULL);
    put(&w, 0, 0, "txn full: k1");
    put(&w, 1, 0, "txn full: k2");
    put(&w, 2, 0, "txn full: k3");
    put(&w, 3, 0, "txn full: k4 stored after MDB_TXN_FULL");
    is_int(ncommits, 1, "... what was done was committed");
    is_int(commits[0].keys, 3, "... the 3 keys before it");
    is_int(hkp_writer_pending(&w).keys, 1, "... k4 in the new batch");
    is_int(hkp_writer_commit(&w), 0, "txn full: commit");
    is_int((long long) count(&db), 4, "txn full: count 4");
    ok(stored(&db, 3) == 1, "txn full: k4 stored");
    ok(tree_ok(&db), "txn full: prefix tree matches the keys");
    hkp_writer_close(&w);
    hkp_db_close(&db);
}

/* A nested txn per key: a refused key aborts only its nested txn. */
static void
test_nested(void)
{
    hkp_db_t db;
    hkp_writer_t w;
    hkp_put_result_t res;

    if (env_open(&db, "nested") != 0
        || !ok(writer_open(&w, &db, HKP_WRITER_NEST, 0, 0) == 0,
            "nested: writer open"))
        return;
    reset(3, HKP_ELIMIT);
    put(&w, 0, 0, "nested: k1");
    put(&w, 1, 0, "nested: k2");
    is_int(hkp_writer_put(&w, keys[2], &res), HKP_ELIMIT,
        "nested: k3 refused");
    is_int(ncommits, 0, "... no commit");
    is_int(put_calls, 3, "... no replay");
    is_int(hkp_writer_pending(&w).keys, 2, "... the batch still holds k1, "
        "k2");
    put(&w, 3, 0, "nested: k4");
    /* MDB_TXN_FULL in a nested txn: commit the batch, retry */
    fail_at = 5;
    fail_code = MDB_TXN_FULL;
    put(&w, 4, 0, "nested: k5 stored after MDB_TXN_FULL");
    is_int(ncommits, 1, "... the batch before it was committed");
    is_int(commits[0].keys, 3, "... with k1, k2, k4");
    is_int(hkp_writer_commit(&w), 0, "nested: commit");
    ok(stored(&db, 0) == 1 && stored(&db, 1) == 1 && stored(&db, 3) == 1
        && stored(&db, 4) == 1, "nested: k1, k2, k4, k5 stored");
    is_int(stored(&db, 2), 0, "nested: k3 not stored");
    ok(tree_ok(&db), "nested: prefix tree matches the keys");
    hkp_writer_close(&w);
    hkp_db_close(&db);
}

/* Steps: a refused key is replayed out of the step; a step abort drops
 * only its own keys; MDB_TXN_FULL in a step. */
static void
test_steps(void)
{
    hkp_db_t db;
    hkp_writer_t w;
    hkp_put_result_t res;

    if (env_open(&db, "steps") != 0
        || !ok(writer_open(&w, &db, HKP_WRITER_TREE_BATCH, 0, 0) == 0,
            "steps: writer open"))
        return;
    reset(3, HKP_EKEY);
    is_int(hkp_writer_step_begin(&w), 0, "steps: step 1");
    put(&w, 0, 0, "steps: k1");
    put(&w, 1, 0, "steps: k2");
    is_int(hkp_writer_put(&w, keys[2], &res), HKP_EKEY, "steps: k3 refused");
    put(&w, 3, 0, "steps: k4");
    is_int(hkp_writer_step_commit(&w), 0, "steps: step 1 committed");
    is_int(ncommits, 0, "... into the batch (no commit yet)");
    is_int(hkp_writer_pending(&w).keys, 3, "... which holds 3 keys");

    is_int(hkp_writer_step_begin(&w), 0, "steps: step 2");
    put(&w, 4, 0, "steps: k5");
    hkp_writer_step_abort(&w);
    is_int(hkp_writer_pending(&w).keys, 3, "steps: abort dropped k5 only");

    fail_at = put_calls + 2;
    fail_code = MDB_TXN_FULL;
    is_int(hkp_writer_step_begin(&w), 0, "steps: step 3");
    put(&w, 5, 0, "steps: k6");
    put(&w, 6, 0, "steps: k7 stored after MDB_TXN_FULL");
    is_int(ncommits, 1, "... the batch before the step was committed");
    is_int(commits[0].keys, 3, "... with the 3 keys of step 1");
    is_int(hkp_writer_step_commit(&w), 0, "steps: step 3 committed");
    is_int(hkp_writer_commit(&w), 0, "steps: commit");
    is_int(commits[1].keys, 2, "... k6 and k7 in the last batch");
    ok(stored(&db, 0) == 1 && stored(&db, 1) == 1 && stored(&db, 3) == 1
        && stored(&db, 5) == 1 && stored(&db, 6) == 1,
        "steps: k1, k2, k4, k6, k7 stored");
    ok(stored(&db, 2) == 0 && stored(&db, 4) == 0,
        "steps: k3 (refused) and k5 (step aborted) not stored");
    ok(tree_ok(&db), "steps: prefix tree matches the keys");
    hkp_writer_close(&w);
    hkp_db_close(&db);
}

/* The commit policy: by keys, by bytes. */
static void
test_policy(void)
{
    hkp_db_t db;
    hkp_writer_t w;

    if (env_open(&db, "policy") != 0)
        return;
    if (ok(writer_open(&w, &db, 0, 2, 0) == 0, "policy: keys 2")) {
        reset(0, 0);
        put(&w, 0, 0, "policy keys: k1");
        is_int(ncommits, 0, "... not due at 1 key");
        ok(!hkp_writer_due(&w), "... hkp_writer_due says so");
        put(&w, 1, 0, "policy keys: k2");
        is_int(ncommits, 1, "... committed at 2 keys");
        is_int(commits[0].keys, 2, "... holding both");
        ok(hkp_writer_age(&w) < 0, "... no batch open after it");
        put(&w, 2, 0, "policy keys: k3");
        is_int(hkp_writer_pending(&w).keys, 1, "... k3 in the next batch");
        is_int(hkp_writer_commit(&w), 0, "policy keys: commit");
        hkp_writer_close(&w);
    }
    if (ok(writer_open(&w, &db, 0, 0, key_bytes(keys[3])
            + key_bytes(keys[4])) == 0, "policy: bytes of k4 + k5"))
    {
        reset(0, 0);
        put(&w, 3, 0, "policy bytes: k4");
        is_int(ncommits, 0, "... not due below the bytes");
        is_int(hkp_writer_pending(&w).bytes, key_bytes(keys[3]),
            "... holds the bytes of k4");
        put(&w, 4, 0, "policy bytes: k5");
        is_int(ncommits, 1, "... committed at the bytes");
        is_int(commits[0].bytes, key_bytes(keys[3]) + key_bytes(keys[4]),
            "... with the bytes of both");
        hkp_writer_close(&w);
    }
    is_int((long long) count(&db), 5, "policy: count 5");
    ok(tree_ok(&db), "policy: prefix tree matches the keys");
    hkp_db_close(&db);
}

/* Issue 13 D1: N copies of one key put onto one stored key in a batch
 * decode the stored key once (the put memo), and the memo never answers
 * for another key or under other limits. */
static void
test_memo(void)
{
    hkp_db_t db;
    hkp_writer_t w;
    hkp_put_result_t res;
    hkp_key_t bare, *extra;
    hkp_pkt_t pk[2];
    hkp_limits_t lim;
    char why[HKP_REASON_LEN];
    unsigned long d0;
    int all = 1;

    if (env_open(&db, "memo") != 0
        || !ok(writer_open(&w, &db, HKP_WRITER_NEST, 0, 0) == 0,
            "memo: writer open"))
        return;
    reset(0, 0);
    memset(pk, 0, sizeof(pk));
    pk[0] = keys[1]->pkts[0];
    if (!ok(hkp_key_canon(pk, 1, NULL, &bare, why, sizeof(why)) == 0, "memo: k2's bare "
            "primary key packet as a key"))
        return;
    put(&w, 1, 0, "memo: k2 stored");
    d0 = hkp_db_stored_decodes();
    for (int i = 0; i < 10; i++) {
        all &= hkp_writer_put(&w, &bare, &res) == 0
            && res.status == HKP_PUT_UNCHANGED
            && memcmp(res.hash, keys[1]->hash, HKP_HASH_LEN) == 0;
    }
    ok(all, "memo: 10 copies of the bare primary: unchanged, k2's hash");
    is_int((long long) (hkp_db_stored_decodes() - d0), 1,
        "memo: the stored key was decoded once for the 10 copies");

    /* another key with the same primary still merges */
    pk[1].tag = HKP_TAG_UID;
    pk[1].body = (const uint8_t *) "Memo <memo@example.invalid>";
    pk[1].len = 27;
    extra = calloc(1, sizeof(*extra));
    if (ok(extra != NULL && hkp_key_canon(pk, 2, NULL, extra, why, sizeof(why)) == 0,
            "memo: k2's primary with a new user ID"))
    {
        is_int(hkp_writer_put(&w, extra, &res), 0, "memo: put it");
        is_int(res.status, HKP_PUT_MERGED, "... merged, not memoised");
        hkp_key_free(extra);
    }
    free(extra);

    /* other limits: the memo is cleared, the merge computed again */
    is_int(hkp_writer_put(&w, &bare, &res), 0, "memo: bare onto the merged "
        "key");
    d0 = hkp_db_stored_decodes();
    is_int(hkp_writer_put(&w, &bare, &res), 0, "memo: and again");
    is_int((long long) (hkp_db_stored_decodes() - d0), 0, "... from the "
        "memo");
    hkp_limits_default(&lim);
    lim.max_uids = 1;
    hkp_writer_set_limits(&w, &lim);
    is_int(hkp_writer_put(&w, &bare, &res), HKP_ELIMIT, "memo: under a "
        "1-UID limit the merge is computed and refused");
    hkp_writer_set_limits(&w, NULL);
    is_int(hkp_writer_commit(&w), 0, "memo: commit");
    hkp_key_free(&bare);
    hkp_writer_close(&w);
    hkp_db_close(&db);
}

/* MDB_MAP_FULL (injected after the key's writes) with HKP_WRITER_GROW_MAP:
 * what is done is committed, the map grows by one bounded step, the key is
 * stored in the next batch; direct and nested. hkp_db_map_set refuses to
 * remap while a read txn of this process is active. */
static void
test_map_full(void)
{
    static const unsigned modes[2] = {
        HKP_WRITER_TREE_BATCH | HKP_WRITER_GROW_MAP,
        HKP_WRITER_NEST | HKP_WRITER_GROW_MAP
    };
    static const char *names[2] = { "direct", "nested" };
    hkp_db_t     db;
    hkp_writer_t w;
    MDB_envinfo  before, after;
    MDB_txn     *txn;
    char         env[32];
    size_t       next;

    for (int m = 0; m < 2; m++) {
        snprintf(env, sizeof(env), "mapfull%d", m);
        if (env_open(&db, env) != 0
            || !ok(writer_open(&w, &db, modes[m], 0, 0) == 0,
                "map full %s: writer open", names[m]))
            return;
        mdb_env_info(db.env, &before);
        reset(3, MDB_MAP_FULL);
        put(&w, 0, 0, "map full: k1");
        put(&w, 1, 0, "map full: k2");
        put(&w, 2, 0, "map full: k3 stored after MDB_MAP_FULL");
        is_int(w.ngrown, 1, "... the map grew once");
        mdb_env_info(db.env, &after);
        is_int(after.me_mapsize, before.me_mapsize + before.me_mapsize,
            "... by one step (its own size)");
        is_int(ncommits, 1, "... what was done was committed first");
        is_int(hkp_writer_commit(&w), 0, "map full: commit");
        is_int((long long) count(&db), 3, "map full: count 3");
        ok(tree_ok(&db), "map full: prefix tree matches the keys");

        /* without GROW_MAP the code is the caller's */
        hkp_writer_close(&w);
        if (!ok(writer_open(&w, &db, modes[m] & ~HKP_WRITER_GROW_MAP, 0, 0)
                == 0, "map full: writer without GROW_MAP"))
            break;
        reset(1, MDB_MAP_FULL);
        put(&w, 3, MDB_MAP_FULL, "... MDB_MAP_FULL returned");
        is_int((long long) count(&db), 3, "... nothing stored");
        hkp_writer_close(&w);

        if (hkp_db_rtxn(&db, &txn) == 0) {
            is_int(hkp_db_map_set(&db, after.me_mapsize * 2), HKP_EMAPBUSY,
                "map: no remap while a read txn is active");
            mdb_txn_abort(txn);
            is_int(hkp_db_map_set(&db, after.me_mapsize * 2), 0,
                "map: remap once it ended");
        }
        hkp_db_close(&db);
    }
    /* the bound: HKP_EMAPMAX at the maximum */
    if (env_open(&db, "mapmax") == 0) {
        is_int(hkp_db_map_set(&db, HKP_DB_MAP_MAX), 0, "map: at the maximum");
        is_int(hkp_db_map_next(&db, &next), HKP_EMAPMAX,
            "map: no step past HKP_DB_MAP_MAX");
        hkp_db_close(&db);
    }
}

/* The work budget: a put that would decode a stored key larger than the
 * budget left is refused alone (HKP_EBUDGET), nothing decoded; one within
 * it is charged the stored key's size. */
static void
test_budget(void)
{
    hkp_db_t         db;
    hkp_writer_t     w;
    hkp_put_result_t res;
    unsigned long    d0;
    hkp_key_t        part;
    char             err[HKP_REASON_LEN] = "";

    if (env_open(&db, "budget") != 0
        || !ok(writer_open(&w, &db, HKP_WRITER_NEST, 0, 0) == 0,
            "budget: writer open"))
        return;
    reset(0, 0);
    put(&w, 0, 0, "budget: k1 new (nothing decoded)");
    is_int(hkp_writer_commit(&w), 0, "budget: commit");
    /* a part of k1 (primary, user ID, its signature): merging it decodes
     * the stored k1 (the whole k1 again would be found by its hash) */
    if (!ok(keys[0]->npkts >= 3 && hkp_key_canon(keys[0]->pkts, 3, NULL,
            &part, err, sizeof(err)) == 0, "budget: a part of k1 (%s)", err))
        return;
    hkp_writer_set_budget(&w, 1);
    d0 = hkp_db_stored_decodes();
    is_int(hkp_writer_put(&w, &part, &res), HKP_EBUDGET,
        "budget: a part of k1 with 1 byte of budget: HKP_EBUDGET");
    ok(hkp_err_is_key(HKP_EBUDGET), "... a key code (that key alone)");
    ok(strstr(res.reason, "budget") != NULL, "... with a reason (%s)",
        res.reason);
    is_int(hkp_db_stored_decodes(), d0, "... nothing decoded");
    hkp_writer_set_budget(&w, (size_t) 1 << 20);
    is_int(hkp_writer_put(&w, &part, &res), 0,
        "budget: the part of k1 within 1 MiB of budget");
    ok(w.touch < ((size_t) 1 << 20), "... charged the stored key's size");
    hkp_writer_set_budget(&w, 0);
    put(&w, 1, 0, "budget: no bound again");
    is_int(hkp_writer_commit(&w), 0, "budget: commit");
    hkp_writer_close(&w);
    hkp_key_free(&part);
    hkp_db_close(&db);
}

int
main(void)
{
    const char *dd = getenv("HKP_TEST_DATA");
    const char *td = getenv("TMPDIR");
    char name[32];
    int loaded = 1;

    if (dd && *dd)
        datadir = dd;
    for (size_t i = 0; i < NKEYS; i++) {
        snprintf(name, sizeof(name), "k%zu-ed25519.asc", i + 1);
        if (i == 1)
            snprintf(name, sizeof(name), "k2-rsa2048.asc");
        keys[i] = load_key(datadir, name);
        loaded &= keys[i] != NULL;
    }
    if (!ok(loaded, "loaded %d test keys", NKEYS))
        return tap_done();
    snprintf(tmpdir, sizeof(tmpdir), "%s/hkp-test-writer.XXXXXX",
        td && *td ? td : "/tmp");
    if (!ok(mkdtemp(tmpdir) != NULL, "mkdtemp"))
        return tap_done();

    test_direct_refused();
    test_direct_txn_full();
    test_nested();
    test_steps();
    test_policy();
    test_memo();
    test_map_full();
    test_budget();

    rm_tree(tmpdir);
    for (size_t i = 0; i < NKEYS; i++) {
        hkp_key_free(keys[i]);
        free(keys[i]);
    }
    return tap_done();
}
