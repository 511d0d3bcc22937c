/*
 * Unit tests of the prefix tree through the store (shared/store.c,
 * ptree.c): hkp_db_put keeps the tree in step with the keys for the
 * fixture keys and every key of debian-keyring, merges included, and
 * hkp_ptree_check finds a tree that does not match.
 *
 * Env: TMPDIR (default /tmp), HKP_TEST_DATA (default t/data),
 *      HKP_DEBIAN_KEYRING (default /usr/share/keyrings/debian-keyring.gpg).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "tap.h"
#include "util.h"
#include "armor.h"
#include "key.h"
#include "ptree.h"
#include "store.h"
#include "zp.h"

static char tmpdir[4096];

/* ------------------------------------------------------------------ */
/* through the store: hkp_db_put keeps the tree in step (no batch)      */

static const char *datadir = "t/data";

typedef struct {
    hkp_key_t **keys;
    size_t      n;
} keys_t;

static int
collect_cb(void *ctx, size_t index, hkp_key_t *key, const char *reason)
{
    keys_t *k = ctx;
    (void) index;
    (void) reason;
    if (key == NULL)
        return 0;
    k->keys = realloc(k->keys, (k->n + 1) * sizeof(*k->keys));
    k->keys[k->n++] = key;
    return 0;
}

/* Every key of a file (armored or binary). */
static void
load_keys(const char *path, keys_t *out)
{
    size_t len, bl = 0;
    uint8_t *buf = read_file(path, &len), *bin = NULL;
    const char *err = NULL;
    char why[HKP_REASON_LEN];

    if (buf == NULL)
        return;
    if (len > 0 && (buf[0] & 0x80) == 0) {
        if (hkp_armor_decode(buf, len, &bin, &bl, &err) == 1)
            (void) hkp_keys_parse(bin, bl, NULL, collect_cb, out, why, sizeof(why));
        free(bin);
    } else
        (void) hkp_keys_parse(buf, len, NULL, collect_cb, out, why, sizeof(why));
    free(buf);
}

static void
free_keys(keys_t *k)
{
    for (size_t i = 0; i < k->n; i++) {
        hkp_key_free(k->keys[i]);
        free(k->keys[i]);
    }
    free(k->keys);
    k->keys = NULL;
    k->n = 0;
}

static int
db_check(hkp_db_t *db)
{
    MDB_txn *t;
    int lines = 0, n;
    if (hkp_db_rtxn(db, &t) != 0)
        return -1;
    n = hkp_ptree_check(t, db->ptree, db->keys, NULL, count_report, &lines);
    mdb_txn_abort(t);
    return n;
}

static void
test_store(void)
{
    char dir[4200], err[512], path[4096];
    hkp_db_t db;
    keys_t ks = { NULL, 0 };
    const char *files[] = { "k1-ed25519.asc", "k2-rsa2048.asc",
        "k3-dupsig.asc", "k3-ed25519.asc", "k4-repeated-blocks.asc",
        "k4-ed25519.asc", "k5-ed25519.asc", "k6-ed25519.asc",
        "k7-ed25519.asc", "k8-ed25519.asc",
        "debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc" };
    const char *keyring = getenv("HKP_DEBIAN_KEYRING");
    size_t nput = 0, nmerged = 0, nfail = 0, nkeys;
    MDB_txn *t;
    int r;

    snprintf(dir, sizeof(dir), "%s/store", tmpdir);
    if (!ok(hkp_db_open(&db, dir, 0, (size_t) 256 << 20, err, sizeof(err))
            == 0, "hkp_db_open (writer)"))
    {
        diag("%s", err);
        return;
    }
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", datadir, files[i]);
        load_keys(path, &ks);
    }
    load_keys(keyring != NULL ? keyring
        : "/usr/share/keyrings/debian-keyring.gpg", &ks);
    ok(ks.n >= 11, "%zu keys loaded", ks.n);

    /* one txn per key, as nginx /pks/add and recon fetch do */
    for (size_t i = 0; i < ks.n; i++) {
        hkp_put_result_t res;
        if (mdb_txn_begin(db.env, NULL, 0, &t) != 0)
            break;
        if (hkp_db_put(&db, t, ks.keys[i], NULL, &res) != 0) {
            nfail++;
            mdb_txn_abort(t);
            continue;
        }
        mdb_txn_commit(t);
        nput++;
        if (res.status == HKP_PUT_MERGED)
            nmerged++;
    }
    ok(nfail == 0 && nmerged >= 1, "%zu puts, %zu merged (old hash "
        "removed from the tree), %zu failed", nput, nmerged, nfail);
    ok((r = db_check(&db)) == 0, "check after the puts (%d)", r);
    {
        uint8_t k3[HKP_HASH_LEN], k3dup[HKP_HASH_LEN], zero[HKP_HASH_LEN] = { 0 };
        hkp_hash_t *e;
        size_t ne;
        int has3 = 0, hasdup = 0;
        hkp_db_rtxn(&db, &t);
        /* 84D77DC5... replaced 39B1F79D... (doc/recon.md 1.4) */
        memcpy(k3, "\x84\xD7\x7D\xC5\xD8\x61\x63\xBC\x80\x3A\xD2\xCD\x5C"
            "\x78\x9E\x99", HKP_HASH_LEN);
        memcpy(k3dup, "\x39\xB1\xF7\x9D\xC6\x92\x66\x31\x4C\x6A\xD3\xED"
            "\x3A\x5F\x06\xBF", HKP_HASH_LEN);
        hkp_ptree_elements(t, db.ptree, zero, 0, &e, &ne);
        for (size_t i = 0; i < ne; i++) {
            has3 |= memcmp(e[i], k3, HKP_HASH_LEN) == 0;
            hasdup |= memcmp(e[i], k3dup, HKP_HASH_LEN) == 0;
        }
        ok(has3 && !hasdup && ne == hkp_db_count(&db, t), "tree holds the "
            "merged k3, not k3-dupsig; %zu elements = key count", ne);
        nkeys = ne;
        free(e);
        mdb_txn_abort(t);
    }

    /* an aborted put leaves the tree alone */
    {
        hkp_put_result_t res;
        char why[HKP_REASON_LEN];
        keys_t k1 = { NULL, 0 };
        hkp_key_t *nk = calloc(1, sizeof(*nk));
        hkp_pkt_t pk[2];
        snprintf(path, sizeof(path), "%s/k1-ed25519.asc", datadir);
        load_keys(path, &k1);
        memset(pk, 0, sizeof(pk));
        pk[0] = k1.keys[0]->pkts[0];
        pk[1].tag = HKP_TAG_UID;
        pk[1].body = (const uint8_t *) "Extra <extra@example.org>";
        pk[1].len = 25;
        if (hkp_key_canon(pk, 2, NULL, nk, why, sizeof(why)) == 0) {
            mdb_txn_begin(db.env, NULL, 0, &t);
            r = hkp_db_put(&db, t, nk, NULL, &res);
            ok(r == 0 && res.status == HKP_PUT_MERGED, "merge a new uid "
                "into k1");
            mdb_txn_abort(t);
            ok(db_check(&db) == 0, "aborted: tree unchanged");
            mdb_txn_begin(db.env, NULL, 0, &t);
            r = hkp_db_put(&db, t, nk, NULL, &res);
            mdb_txn_commit(t);
            ok(r == 0 && db_check(&db) == 0, "committed: tree consistent");
            hkp_key_free(nk);
        }
        free(nk);
        free_keys(&k1);
    }
    free_keys(&ks);

    /* a database whose tree is missing (made before the tree existed)
     * gets it built by the next writer open */
    mdb_txn_begin(db.env, NULL, 0, &t);
    mdb_drop(t, db.ptree, 0);
    mdb_txn_commit(t);
    ok(db_check(&db) > 0, "tree emptied: check reports it");
    hkp_db_close(&db);
    if (hkp_db_open(&db, dir, 0, (size_t) 256 << 20, err, sizeof(err)) == 0)
    {
        MDB_stat st;
        hkp_db_rtxn(&db, &t);
        mdb_stat(t, db.ptree, &st);
        mdb_txn_abort(t);
        ok(st.ms_entries > 0 && db_check(&db) == 0, "writer open rebuilt "
            "the tree (%zu nodes, %zu keys)", (size_t) st.ms_entries,
            nkeys);
        hkp_db_close(&db);
    } else
        ok(0, "reopen: %s", err);
    /* read-only open of a consistent db works */
    ok(hkp_db_open(&db, dir, HKP_DB_RDONLY, 0, err, sizeof(err)) == 0,
        "read-only open");
    hkp_db_close(&db);
}

int
main(void)
{
    const char *tmp = getenv("TMPDIR");
    const char *dd = getenv("HKP_TEST_DATA");

    if (dd != NULL && *dd != '\0')
        datadir = dd;
    hkp_zp_init();
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_ptree_store.XXXXXX",
        tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_store();
    rm_tree(tmpdir);
    return tap_done();
}
