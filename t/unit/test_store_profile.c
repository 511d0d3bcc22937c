/*
 * Unit tests for shared/store_profile.c: the hockeypuck profile's tree and
 * hash maps kept by hkp_db_put in the same txn as the keys. A merge
 * replaces the old key's hockeypuck entry, a key the profile drops has
 * none, hashes are the ones Hockeypuck 2.2 stored (t/data/hockeypuck-2.2),
 * hkp_db_prof_check finds a tampered tree, switching the profile off
 * empties its databases and on again rebuilds them the same, and an
 * aborted txn leaves nothing. Keys with a tail SKS refuses (11-dup-uid,
 * 13-marker; key.h): their canonical form, merge and decode keep the
 * tail; stored only while the hockeypuck profile is kept, outside the
 * SKS tree (sksout), never over a stored key SKS keeps.
 *
 * Usage: test_store_profile
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
#include "key.h"
#include "profile.h"
#include "ptree.h"
#include "store.h"

#define MAPSIZE  ((size_t) 64 * 1024 * 1024)
#define HP       1          /* index of the hockeypuck profile */

/* Hockeypuck 2.2's hashes (t/data/hockeypuck-2.2/hashes.tsv, set
 * "hostile") of the keys used here */
#define HP_PHOTO   "b7afe0f3e9e4b49f28d4c30475caf868"   /* 02-photo */
#define HP_SIGNER  "8ee6c9b3467a4993f229a80d996fadfb"   /* 00-gpg-signer */
#define HP_DUPUID  "15c7830a6aaf2d4ee419efc94e7fd56d"   /* 11-dup-uid */
#define HP_MARKER  "323433b77c1e18ac122e019e1b898cab"   /* 13-marker */

static const char *datadir = "t/data";
static char        tmpdir[4096];
static hkp_db_t    db;

/* The key made of the first n packets of k (canonicalised). */
static hkp_key_t *
prefix_key(const hkp_key_t *k, size_t n)
{
    hkp_key_t *out = calloc(1, sizeof(*out));
    char why[HKP_REASON_LEN] = "out of memory";
    if (out == NULL || hkp_key_canon(k->pkts, n, NULL, out, why, sizeof(why))
        != 0) {
        diag("canon: %s", why);
        free(out);
        return NULL;
    }
    return out;
}

static int
put(const hkp_key_t *k, hkp_put_result_t *res)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(db.env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    if ((rc = hkp_db_put(&db, txn, k, NULL, res)) != 0) {
        diag("put: %s", res->reason);
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/* hkp_db_del in a txn of its own: 0, or a code. */
static int
del_one(const uint8_t hash[HKP_HASH_LEN])
{
    MDB_txn *txn;
    char why[HKP_REASON_LEN];
    int rc = mdb_txn_begin(db.env, NULL, 0, &txn);

    if (rc != 0)
        return rc;
    if ((rc = hkp_db_del(&db, txn, hash, why, sizeof(why))) != 0) {
        diag("del: %s", why);
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/* The hockeypuck hash stored for SKS hash `sks`: 0 found (into h), 1 none,
 * -1 error. */
static int
hp_of(const uint8_t sks[HKP_HASH_LEN], uint8_t h[HKP_HASH_LEN])
{
    MDB_txn *txn;
    MDB_val k = { 16, (void *) sks }, v;
    int rc, r;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    rc = mdb_get(txn, db.prof[HP].ofkey, &k, &v);
    r = rc == 0 && v.mv_size == 16 ? 0 : rc == MDB_NOTFOUND ? 1 : -1;
    if (r == 0)
        memcpy(h, v.mv_data, HKP_HASH_LEN);
    mdb_txn_abort(txn);
    return r;
}

/* 1 when hockeypuck hash h names stored key sks (hkp_db_prof_find and
 * hkp_db_find_any agree). */
static int
hp_names(const uint8_t h[HKP_HASH_LEN], const uint8_t sks[HKP_HASH_LEN])
{
    MDB_txn *txn;
    uint8_t a[HKP_HASH_LEN], b[HKP_HASH_LEN];
    int ok1, ok2;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return 0;
    ok1 = hkp_db_prof_find(&db, txn, HP, h, a) == 0 && memcmp(a, sks, HKP_HASH_LEN) == 0;
    ok2 = hkp_db_find_any(&db, txn, h, b) == 0 && memcmp(b, sks, HKP_HASH_LEN) == 0;
    mdb_txn_abort(txn);
    return ok1 && ok2;
}

static int
hp_absent(const uint8_t h[HKP_HASH_LEN])
{
    MDB_txn *txn;
    uint8_t a[HKP_HASH_LEN];
    int r;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return 0;
    r = hkp_db_prof_find(&db, txn, HP, h, a);
    mdb_txn_abort(txn);
    return r == MDB_NOTFOUND;
}

static size_t
entries(MDB_dbi dbi)
{
    MDB_txn *txn;
    MDB_stat st;
    size_t n = (size_t) -1;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return n;
    if (mdb_stat(txn, dbi, &st) == 0)
        n = st.ms_entries;
    mdb_txn_abort(txn);
    return n;
}

/* The hockeypuck tree's root: count and first sample value. */
static int
root(uint32_t *count, uint8_t sv[HKP_ELEM_LEN])
{
    MDB_txn *txn;
    hkp_pnode_t n;
    int rc;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    rc = hkp_ptree_get(txn, db.prof[HP].tree, NULL, 0, &n);
    if (rc == 0) {
        *count = n.count;
        memcpy(sv, n.svalues[0], HKP_ELEM_LEN);
    }
    mdb_txn_abort(txn);
    return rc;
}

static int
check(void)
{
    MDB_txn *txn;
    int lines = 0, d;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    d = hkp_db_prof_check(&db, txn, HP, count_report, &lines);
    mdb_txn_abort(txn);
    return d;
}

static int
set_profiles(unsigned mask, int *changed)
{
    MDB_txn *txn;
    char err[256] = "";
    int rc = mdb_txn_begin(db.env, NULL, 0, &txn);

    if (rc != 0)
        return rc;
    if ((rc = hkp_db_profiles_set(&db, txn, mask, changed, err,
            sizeof(err))) != 0)
    {
        diag("profiles_set: %s", err);
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

static void
test_profiles(void)
{
    hkp_key_t *photo = load_hostile(datadir, "02-photo.pgp");
    hkp_key_t *signer = load_hostile(datadir, "00-gpg-signer.pgp");
    hkp_key_t *drop1 = load_hostile(datadir, "22-only-uid-badsig.pgp");
    hkp_key_t *drop2 = load_hostile(datadir, "24-v3-rsa.pgp");
    hkp_key_t *part = NULL;
    hkp_put_result_t res;
    uint8_t want[HKP_HASH_LEN], h[HKP_HASH_LEN], hpart[HKP_HASH_LEN], sv[HKP_ELEM_LEN], sv2[HKP_ELEM_LEN];
    uint32_t cnt = 0, cnt2 = 0;
    unsigned mask = 0;
    int changed = 0;
    char list[HKP_PROFILES_STR_LEN];

    if (!ok(photo && signer && drop1 && drop2, "test keys load"))
        goto out;

    /* the set */
    ok(hkp_db_profiles_parse("hockeypuck", &mask, list, sizeof(list)) == 0
        && mask == 3, "parse \"hockeypuck\": sks is always kept");
    ok(hkp_db_profiles_parse("sks,bogus", &mask, list, sizeof(list)) != 0
        && strcmp(list, "bogus") == 0, "an unknown name is refused");
    hkp_db_profiles_str(3, list, sizeof(list));
    is_str(list, "sks,hockeypuck", "mask 3 is sks,hockeypuck");

    /* a fresh database maintains sks alone: no hockeypuck entries */
    ok(put(signer, &res) == 0, "put gpg-signer (sks only)");
    is_int((long long) entries(db.prof[HP].byhash), 0, "no phash entries "
        "while the profile is not kept");
    ok(set_profiles(3, &changed) == 0 && changed, "keep hockeypuck: the "
        "tree is built from the stored key");
    unhex(HP_SIGNER, want, 16);
    ok(hp_of(signer->hash, h) == 0 && memcmp(h, want, HKP_HASH_LEN) == 0
        && hp_names(want, signer->hash), "gpg-signer has Hockeypuck's hash");
    ok(set_profiles(3, &changed) == 0 && !changed, "same set: no change");

    /* a merge replaces the old hockeypuck entry */
    part = prefix_key(photo, 3);    /* primary, first user ID, its sig */
    if (!ok(part != NULL && part->npkts < photo->npkts, "a part of the photo "
        "key"))
        goto out;
    ok(put(part, &res) == 0 && res.status == HKP_PUT_NEW, "put the part");
    ok(hp_of(part->hash, hpart) == 0 && hp_names(hpart, part->hash),
        "the part has a hockeypuck entry");
    ok(put(photo, &res) == 0 && res.status == HKP_PUT_MERGED
        && memcmp(res.hash, photo->hash, HKP_HASH_LEN) == 0, "put the whole key: merged");
    ok(hp_of(part->hash, h) == 1 && hp_absent(hpart), "the part's entry is "
        "gone from both maps");
    unhex(HP_PHOTO, want, 16);
    ok(hp_of(photo->hash, h) == 0 && memcmp(h, want, HKP_HASH_LEN) == 0
        && hp_names(want, photo->hash), "the merged key has Hockeypuck's "
        "hash (photo dropped there: not the SKS hash)");
    ok(memcmp(want, photo->hash, HKP_HASH_LEN) != 0, "it differs from the SKS hash");

    /* dropped keys: stored, no entry in the profile */
    ok(put(drop1, &res) == 0 && put(drop2, &res) == 0, "put two keys "
        "Hockeypuck drops");
    ok(hp_of(drop1->hash, h) == 1 && hp_of(drop2->hash, h) == 1,
        "no hockeypuck entry for either");
    is_int((long long) entries(db.prof[HP].byhash), 2, "phash: 2 keys");
    is_int((long long) entries(db.prof[HP].ofkey), 2, "pkey: 2 keys");
    ok(root(&cnt, sv) == 0 && cnt == 2, "tree root counts 2");
    is_int(check(), 0, "hkp_db_prof_check: consistent");

    /* an aborted txn leaves nothing */
    {
        MDB_txn *txn;
        hkp_key_t *p2 = prefix_key(signer, 3);
        if (p2 != NULL && mdb_txn_begin(db.env, NULL, 0, &txn) == 0) {
            hkp_key_t *three = load_hostile(datadir, "03-hard-revoked.pgp");
            int rc = three ? hkp_db_put(&db, txn, three, NULL, &res) : -1;
            mdb_txn_abort(txn);
            ok(rc == 0 && three != NULL && hp_of(three->hash, h) == 1 && check() == 0
                && entries(db.prof[HP].byhash) == 2, "an aborted put leaves "
                "no hockeypuck entry");
            free_key(three);
        }
        free_key(p2);
    }

    /* a tampered tree is found */
    {
        MDB_txn *txn;
        uint8_t x[HKP_HASH_LEN];
        memset(x, 0x5a, sizeof(x));
        if (mdb_txn_begin(db.env, NULL, 0, &txn) == 0) {
            int rc = hkp_ptree_insert(txn, db.prof[HP].tree, x);
            int lines = 0;
            int d = rc == 0 ? hkp_db_prof_check(&db, txn, HP, count_report, &lines)
                            : -1;
            mdb_txn_abort(txn);
            ok(d > 0 && lines == d, "a hash in the tree that no key has is "
                "reported (%d)", d);
        }
    }

    /* off: emptied; on: rebuilt the same */
    ok(set_profiles(1, &changed) == 0 && changed, "switch hockeypuck off");
    ok(entries(db.prof[HP].byhash) == 0 && entries(db.prof[HP].ofkey) == 0
        && entries(db.prof[HP].tree) == 0, "its databases are empty");
    {
        hkp_key_t *exp = load_hostile(datadir, "05-expired.pgp");
        ok(exp != NULL && put(exp, &res) == 0
            && entries(db.prof[HP].byhash) == 0, "a put while off adds "
            "nothing");
        free_key(exp);
    }
    ok(set_profiles(3, &changed) == 0 && changed, "switch it on again");
    ok(root(&cnt2, sv2) == 0 && cnt2 == 3, "rebuilt: 3 keys in the tree");
    is_int(check(), 0, "rebuilt tree consistent");
    ok(hp_names(want, photo->hash), "the photo key is found by its "
        "Hockeypuck hash again");
    (void) cnt;

out:
    free_key(photo);
    free_key(signer);
    free_key(drop1);
    free_key(drop2);
    free_key(part);
}

/* The SKS tree and sksout agree with the keys (what reconsvc check
 * runs): the number of differences, or -1. */
static int
sks_check(size_t *nout)
{
    MDB_txn *txn;
    int lines = 0, d;
    long o;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    d = hkp_ptree_check(txn, db.ptree, db.keys, &db.sksout, count_report, &lines);
    o = hkp_db_sksout_check(&db, txn, count_report, &lines, nout);
    mdb_txn_abort(txn);
    return d < 0 || o < 0 ? -1 : d + (int) o;
}

/* 1 when the sks profile finds a key under hash h. */
static int
sks_has(const uint8_t h[HKP_HASH_LEN])
{
    MDB_txn *txn;
    uint8_t a[HKP_HASH_LEN];
    int r;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return 0;
    r = hkp_db_prof_find(&db, txn, 0, h, a);
    mdb_txn_abort(txn);
    return r == 0;
}

/* The hockeypuck hash of the bytes /pks/hashquery gives for hash h into
 * out: 0, or -1 when it gives none. */
static int
form_hp_hash(const uint8_t h[HKP_HASH_LEN], uint8_t out[HKP_HASH_LEN])
{
    MDB_txn *txn;
    MDB_val v;
    uint8_t *owned = NULL;
    char why[HKP_REASON_LEN];
    hkp_key_t k;
    const char *r = NULL;
    int ret = -1;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    if (hkp_db_get_form(&db, txn, h, &v, &owned) == 0
        && hkp_key_decode(v.mv_data, v.mv_size, &k, why, sizeof(why)) == 0)
    {
        ret = hkp_profile_hockeypuck.hash(&hkp_profile_hockeypuck, &k, out,
            &r) == HKP_PROFILE_HASHED ? 0 : -1;
        hkp_key_free(&k);
    }
    free(owned);
    mdb_txn_abort(txn);
    return ret;
}

static void
test_tails(void)
{
    hkp_key_t *dup = load_hostile(datadir, "11-dup-uid.pgp"), *mark = load_hostile(datadir, "13-marker.pgp");
    hkp_key_t *head = NULL, *mhead = NULL, dec, m1, m2;
    hkp_put_result_t res;
    uint8_t h[HKP_HASH_LEN], want[HKP_HASH_LEN], *enc = NULL;
    const char *why = NULL;
    char err[HKP_REASON_LEN];
    size_t nout = 0;
    int changed;

    memset(&dec, 0, sizeof(dec));
    memset(&m1, 0, sizeof(m1));
    memset(&m2, 0, sizeof(m2));
    if (!ok(dup && mark, "11-dup-uid and 13-marker parse (with a tail)"))
        goto out;
    ok(dup->tail == 5 && dup->pkts[dup->tail].tag == HKP_TAG_UID
        && mark->tail == 3 && mark->pkts[3].tag == HKP_TAG_MARKER,
        "the tail starts where SKS's grammar stops");
    is_str(hkp_key_sks_reason(dup), "user ID after a subkey", "11: SKS's reason");
    is_str(hkp_key_sks_reason(mark), "unexpected packet in key", "13: SKS's reason");
    hkp_key_hash(dup->pkts, dup->npkts, h);
    ok(memcmp(h, dup->hash, HKP_HASH_LEN) != 0, "a tailed key's id is not "
        "the SKS hash of its packets");
    ok(hkp_profile_sks.hash(&hkp_profile_sks, dup, h, &why)
        == HKP_PROFILE_DROPPED && why && strcmp(why, "user ID after a subkey")
        == 0, "the sks profile drops it");
    unhex(HP_DUPUID, want, 16);
    ok(hkp_profile_hockeypuck.hash(&hkp_profile_hockeypuck, dup, h, &why)
        == HKP_PROFILE_HASHED && memcmp(h, want, HKP_HASH_LEN) == 0,
        "11 stored form: the hockeypuck hash Hockeypuck stored");
    unhex(HP_MARKER, want, 16);
    ok(hkp_profile_hockeypuck.hash(&hkp_profile_hockeypuck, mark, h, &why)
        == HKP_PROFILE_HASHED && memcmp(h, want, HKP_HASH_LEN) == 0,
        "13 stored form: the hockeypuck hash Hockeypuck stored");

    /* stored form: decode gives the same key */
    enc = malloc(hkp_key_encoded_len(dup));
    ok(enc != NULL && hkp_key_decode(enc, (size_t) (hkp_key_encode(dup, enc)
        - enc), &dec, err, sizeof(err)) == 0 && dec.tail == dup->tail
        && dec.npkts == dup->npkts && memcmp(dec.hash, dup->hash,
        HKP_HASH_LEN) == 0, "decode of the stored form: same tail, same id");

    /* merge: the head merges, the tail is kept once */
    head = prefix_key(dup, dup->tail);
    mhead = prefix_key(mark, mark->tail);
    if (!ok(head && mhead && head->tail == 0 && mhead->tail == 0,
        "the heads are keys SKS keeps"))
        goto out;
    ok(hkp_key_merge(head, dup, NULL, &m1, err, sizeof(err)) == 0
        && memcmp(m1.hash, dup->hash, HKP_HASH_LEN) == 0 && m1.tail == dup->tail,
        "head + tailed key = the tailed key");
    ok(hkp_key_merge(&m1, dup, NULL, &m2, err, sizeof(err)) == 0
        && memcmp(m2.hash, dup->hash, HKP_HASH_LEN) == 0,
        "merging the same tail again adds nothing");

    /* not kept by any profile but sks: refused with SKS's reason */
    ok(set_profiles(1, &changed) == 0, "sks alone");
    ok(put(dup, &res) == HKP_EKEY && strcmp(res.reason,
        "user ID after a subkey") == 0, "refused while sks is the only "
        "profile (%s)", res.reason);
    ok(set_profiles(3, &changed) == 0, "sks and hockeypuck");

    /* stored, outside the SKS tree */
    ok(put(dup, &res) == 0 && res.status == HKP_PUT_NEW, "11 stored (the "
        "hockeypuck profile keeps it)");
    ok(!sks_has(dup->hash), "not in the sks profile");
    unhex(HP_DUPUID, want, 16);
    ok(hp_names(want, dup->hash), "found by Hockeypuck's hash");
    ok(form_hp_hash(want, h) == 0 && memcmp(h, want, HKP_HASH_LEN) == 0,
        "hashquery by it: a form that hashes to it");
    ok(form_hp_hash(dup->hash, h) != 0, "hashquery by its id: nothing");
    ok(put(head, &res) == 0 && res.status == HKP_PUT_UNCHANGED,
        "its head uploaded again: unchanged");
    is_int(sks_check(&nout), 0, "sks tree and sksout consistent");
    is_int((long long) nout, 1, "sksout: 1 key");
    is_int(check(), 0, "hockeypuck tree consistent");

    /* a stored key SKS keeps is not replaced by a tailed one */
    ok(put(mhead, &res) == 0 && res.status == HKP_PUT_NEW
        && sks_has(mhead->hash), "13's head stored (SKS keeps it)");
    ok(put(mark, &res) == HKP_EKEY && strstr(res.reason, "unexpected packet "
        "in key") != NULL, "13 itself is then refused (%s)", res.reason);
    ok(sks_has(mhead->hash), "the stored head stays in the sks profile");

    /* deleted: every entry goes */
    ok(del_one(dup->hash) == 0, "11 deleted");
    unhex(HP_DUPUID, want, 16);
    ok(hp_absent(want), "its hockeypuck entry is gone");
    ok(sks_check(&nout) == 0 && nout == 0, "sksout empty, consistent");
    is_int(check(), 0, "hockeypuck tree consistent");

out:
    free(enc);
    hkp_key_free(&dec);
    hkp_key_free(&m1);
    hkp_key_free(&m2);
    free_key(dup);
    free_key(mark);
    free_key(head);
    free_key(mhead);
}

int
main(void)
{
    const char *dd = getenv("HKP_TEST_DATA");
    const char *td = getenv("TMPDIR");
    char path[4200], err[512];

    if (dd && *dd)
        datadir = dd;
    snprintf(tmpdir, sizeof(tmpdir), "%s/hkp-test-sprof.XXXXXX",
        td && *td ? td : "/tmp");
    if (!ok(mkdtemp(tmpdir) != NULL, "mkdtemp"))
        return tap_done();
    snprintf(path, sizeof(path), "%s/db", tmpdir);
    if (ok(hkp_db_open(&db, path, 0, MAPSIZE, err, sizeof(err)) == 0,
        "open a new store"))
    {
        ok(db.prof[HP].have && strcmp(db.prof[HP].p->name, "hockeypuck") == 0,
            "the hockeypuck databases exist");
        test_profiles();
        test_tails();
        hkp_db_close(&db);
    }
    rm_tree(tmpdir);
    return tap_done();
}
