/*
 * Unit tests for shared/store_block.c (takedowns): fingerprint and reason
 * parsing; hkp_db_block deletes the key from the store and every tree (the
 * SKS and hockeypuck trees check clean), remembers its IDs and both
 * profiles' hashes; hkp_db_put and the writer refuse it (HKP_EBLOCKED, the
 * public reason) while the other keys of a batch are stored; a subkey
 * fingerprint blocks the key that has it; hkp_block_check finds a stored
 * blocked key and a dangling entry; hkp_block_del forgets everything.
 *
 * Usage: test_store_block
 * Env:   HKP_TEST_DATA (default t/data), TMPDIR (default /tmp).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"
#include "key.h"
#include "ptree.h"
#include "store.h"
#include "store_block.h"
#include "words.h"
#include "writer.h"

#define MAPSIZE  ((size_t) 64 * 1024 * 1024)
#define HP       1          /* index of the hockeypuck profile */

static const char *datadir = "t/data";
static char        tmpdir[4096];
static hkp_db_t    db;

/* The fingerprint of the pkts[at] key packet. */
static size_t
fpr_at(const hkp_key_t *k, size_t at, uint8_t fpr[32], uint8_t kid[8])
{
    hkp_pubkey_t pk;
    const char *err;
    if (hkp_pubkey_parse(&k->pkts[at], &pk, &err) != 0)
        return 0;
    memcpy(fpr, pk.fpr, pk.fpr_len);
    memcpy(kid, pk.keyid, 8);
    return pk.fpr_len;
}

/* Index of the first subkey packet, 0 if none. */
static size_t
first_sub(const hkp_key_t *k)
{
    for (size_t i = 1; i < k->npkts; i++)
        if (k->pkts[i].tag == HKP_TAG_PUBSUB)
            return i;
    return 0;
}

static int
put(const hkp_key_t *k, hkp_put_result_t *res)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(db.env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    if ((rc = hkp_db_put(&db, txn, k, NULL, res)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

static int
stored(const uint8_t h[HKP_HASH_LEN])
{
    MDB_txn *txn;
    MDB_val v;
    int r;
    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    r = hkp_db_get(&db, txn, h, &v) == 0;
    mdb_txn_abort(txn);
    return r;
}

/* Differences of every check: SKS tree, hockeypuck tree, blocks. */
static int
checks(void)
{
    MDB_txn *txn;
    int lines = 0, d = 0, r;
    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    r = hkp_ptree_check(txn, db.ptree, db.keys, NULL, count_report, &lines);
    d += r < 0 ? 1000 : r;
    r = hkp_db_prof_check(&db, txn, HP, count_report, &lines);
    d += r < 0 ? 1000 : r;
    r = hkp_block_check(&db, txn, count_report, &lines);
    d += r < 0 ? 1000 : r;
    mdb_txn_abort(txn);
    return d;
}

static int
block_flags(const uint8_t *fpr, size_t len, const char *reason, int flags,
    int64_t when, size_t *ndel, hkp_blockrec_t *by)
{
    hkp_blockrec_t rec;
    char err[256];
    MDB_txn *txn;
    int rc;

    memset(&rec, 0, sizeof(rec));
    memcpy(rec.fpr, fpr, len);
    rec.fpr_len = len;
    rec.when = when;
    snprintf(rec.user, sizeof(rec.user), "unit test %lld", (long long) when);
    if (hkp_block_reason_parse(reason, &rec, err, sizeof(err)) != 0)
        return -1;
    if ((rc = mdb_txn_begin(db.env, NULL, 0, &txn)) != 0)
        return rc;
    rc = hkp_db_block(&db, txn, &rec, flags, ndel, NULL, NULL, by, err,
        sizeof(err));
    if (rc != 0 && rc != MDB_KEYEXIST) {
        diag("block: %d %s", rc, err);
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn) == 0 ? rc : -1;
}

static int
block(const uint8_t *fpr, size_t len, const char *reason, size_t *ndel)
{
    hkp_blockrec_t by;
    return block_flags(fpr, len, reason, 0, 1764700000, ndel, &by);
}

/* The e-mail address of the first user ID of key that has one. */
static size_t
first_email(const hkp_key_t *key, char *out, size_t outsz)
{
    for (size_t i = 0; i < key->npkts; i++) {
        size_t n;
        if (key->pkts[i].tag == HKP_TAG_UID
            && (n = hkp_uid_email(key->pkts[i].body, key->pkts[i].len, out,
                    outsz)) > 0)
            return n;
    }
    return 0;
}

static void
count_hash(void *ctx, const uint8_t h[HKP_HASH_LEN])
{
    (void) h;
    (*(int *) ctx)++;
}

static void
test_parse(void)
{
    uint8_t f[32];
    size_t len = 0;
    hkp_blockrec_t rec;
    char err[256], buf[HKP_REASON_LEN], big[HKP_BLOCK_PUBLIC_MAX + 10];

    ok(hkp_block_fpr_parse("0x8236DAA56DF885E6A77B041A20E8C38A2AE840BF", f,
        &len) == 0 && len == 20 && f[0] == 0x82 && f[19] == 0xbf,
        "a v4 fingerprint with 0x");
    ok(hkp_block_fpr_parse("8236 DAA5 6DF8 85E6 A77B  041A 20E8 C38A 2AE8 "
        "40bf", f, &len) == 0 && len == 20, "spaces and lower case");
    ok(hkp_block_fpr_parse("00112233445566778899AABBCCDDEEFF00112233445566"
        "778899AABBCCDDEEFF", f, &len) == 0 && len == 32, "a v6 fingerprint");
    ok(hkp_block_fpr_parse("2AE840BF", f, &len) != 0, "a key ID is refused");
    ok(hkp_block_fpr_parse("8236DAA56DF885E6A77B041A20E8C38A2AE840BX", f,
        &len) != 0, "a non-hex digit is refused");
    ok(hkp_block_fpr_parse("8236DAA56DF885E6A77B041A20E8C38A2AE840BF00", f,
        &len) != 0, "42 digits are refused");

    memset(&rec, 0, sizeof(rec));
    ok(hkp_block_reason_parse("  court order | ticket 7 | more ", &rec, err,
        sizeof(err)) == 0, "reason with a note");
    is_str(rec.pub, "court order", "public part, trimmed");
    is_str(rec.note, "ticket 7 | more", "private part: the rest, trimmed");
    hkp_block_reason_str(&rec, buf, sizeof(buf));
    is_str(buf, "blocked by the operator: court order", "refusal text");
    ok(hkp_block_reason_parse("| only private", &rec, err, sizeof(err)) == 0
        && rec.pub[0] == '\0', "an empty public part");
    hkp_block_reason_str(&rec, buf, sizeof(buf));
    is_str(buf, "blocked by the operator", "refusal text without a reason");
    ok(hkp_block_reason_parse("bad\x01 text", &rec, err, sizeof(err)) != 0,
        "a control character is refused");
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ok(hkp_block_reason_parse(big, &rec, err, sizeof(err)) != 0
        && strstr(err, "too long") != NULL, "a long public reason is refused");
}

static void
test_block(void)
{
    hkp_key_t *photo = load_hostile(datadir, "02-photo.pgp");
    hkp_key_t *signer = load_hostile(datadir, "00-gpg-signer.pgp");
    hkp_key_t *other = load_hostile(datadir, "05-expired.pgp");
    hkp_put_result_t res;
    uint8_t fpr[HKP_FPR_MAX_LEN], kid[HKP_KEYID_LEN], sfpr[HKP_FPR_MAX_LEN],
            skid[HKP_KEYID_LEN], hph[HKP_HASH_LEN];
    size_t len, slen = 0, ndel = 99, sub;
    hkp_blockrec_t rec;
    MDB_txn *txn;
    int changed = 0, nh = 0;

    if (!ok(photo && signer && other, "test keys load"))
        goto out;
    /* keep both profiles */
    if (mdb_txn_begin(db.env, NULL, 0, &txn) == 0) {
        char err[256];
        ok(hkp_db_profiles_set(&db, txn, 3, &changed, err, sizeof(err)) == 0
            && mdb_txn_commit(txn) == 0, "keep sks and hockeypuck");
    }
    ok(put(photo, &res) == 0 && put(signer, &res) == 0 && put(other, &res)
        == 0, "three keys stored");
    len = fpr_at(photo, 0, fpr, kid);
    ok(len == 20, "the photo key's fingerprint");
    {
        MDB_val k = { 16, photo->hash }, v;
        ok(hkp_db_rtxn(&db, &txn) == 0
            && mdb_get(txn, db.prof[HP].ofkey, &k, &v) == 0
            && v.mv_size == 16 && (memcpy(hph, v.mv_data, 16), 1),
            "it has a hockeypuck hash");
        mdb_txn_abort(txn);
    }
    is_int(checks(), 0, "all checks clean before");

    ok(block(fpr, len, "court order | ticket 7", &ndel) == 0 && ndel == 1,
        "hkp_db_block deletes the one key");
    ok(stored(photo->hash) == 0 && stored(signer->hash) == 1,
        "the blocked key is gone, the others stay");
    is_int(checks(), 0, "SKS tree, hockeypuck tree and blocks check clean");
    ok(hkp_db_rtxn(&db, &txn) == 0, "read txn");
    ok(hkp_block_find_id(&db, txn, fpr, 20, &rec) == 0
        && strcmp(rec.pub, "court order") == 0
        && strcmp(rec.note, "ticket 7") == 0 && rec.when == 1764700000,
        "found by fingerprint, with its record");
    ok(hkp_block_find_id(&db, txn, kid, 8, NULL) == 0, "by 64-bit key ID");
    ok(hkp_block_find_id(&db, txn, kid + 4, 4, NULL) == 0, "by 32-bit key ID");
    ok(hkp_block_find_hash(&db, txn, photo->hash, NULL) == 0,
        "its SKS hash is remembered");
    ok(hkp_block_find_hash(&db, txn, hph, NULL) == 0,
        "its hockeypuck hash is remembered");
    ok(hkp_block_find_hash(&db, txn, signer->hash, NULL) == MDB_NOTFOUND
        && hkp_block_find_id(&db, txn, fpr + 1, 8, NULL) == MDB_NOTFOUND,
        "nothing else is blocked: MDB_NOTFOUND");
    ok(hkp_block_find_email(&db, txn, "nobody@example.invalid", 22, NULL)
        == MDB_NOTFOUND, "an address no blocked key had: MDB_NOTFOUND");
    {
        char addr[HKP_MAX_WORD_LEN + 1];
        size_t an = first_email(photo, addr, sizeof(addr));
        ok(an > 0 && hkp_block_find_email(&db, txn, addr, an, &rec) == 0
            && strcmp(rec.pub, "court order") == 0,
            "the deleted key's e-mail address finds the block");
        diag("address %s", an > 0 ? addr : "(none)");
    }
    is_int((long long) hkp_block_count(&db, txn), 1, "one block");
    mdb_txn_abort(txn);

    /* blocking it again keeps the first record; only the flag replaces
     * the reason, and still keeps the first time and user */
    {
        hkp_blockrec_t by;
        int rc = block_flags(fpr, len, "another reason", 0, 1764800000,
            &ndel, &by);
        ok(rc == MDB_KEYEXIST && ndel == 0 && by.when == 1764700000
            && strcmp(by.pub, "court order") == 0,
            "re-block: MDB_KEYEXIST, the first record is reported");
        ok(hkp_db_rtxn(&db, &txn) == 0
            && hkp_block_find_id(&db, txn, fpr, 20, &rec) == 0
            && rec.when == 1764700000 && strcmp(rec.pub, "court order") == 0
            && strcmp(rec.note, "ticket 7") == 0, "... and kept as it was");
        mdb_txn_abort(txn);
        rc = block_flags(fpr, len, "court order 2 | ticket 8",
            HKP_BLOCK_UPDATE, 1764900000, &ndel, &by);
        ok(rc == MDB_KEYEXIST && strcmp(by.pub, "court order 2") == 0
            && by.when == 1764700000, "HKP_BLOCK_UPDATE: the reason is "
            "replaced");
        ok(hkp_db_rtxn(&db, &txn) == 0
            && hkp_block_find_id(&db, txn, kid, 8, &rec) == 0
            && rec.when == 1764700000
            && strcmp(rec.user, "unit test 1764700000") == 0
            && strcmp(rec.pub, "court order 2") == 0
            && strcmp(rec.note, "ticket 8") == 0,
            "... stored, with the first time and user");
        mdb_txn_abort(txn);
        rc = block_flags(fpr, len, "court order | ticket 7",
            HKP_BLOCK_UPDATE, 1764900000, &ndel, &by);
        ok(rc == MDB_KEYEXIST, "the first reason back");
    }

    ok(put(photo, &res) == HKP_EBLOCKED
        && strcmp(res.reason, "blocked by the operator: court order") == 0,
        "hkp_db_put refuses it with the public reason");
    ok(hkp_err_is_key(HKP_EBLOCKED), "HKP_EBLOCKED is a key code");

    /* through the writer, in a batch with another key (replay) */
    {
        hkp_writer_t w;
        hkp_key_t *exp2 = load_hostile(datadir, "03-hard-revoked.pgp");
        int rc1 = -1, rc2 = -1, rc3 = -1;
        if (ok(exp2 != NULL && hkp_writer_open(&w, &db, NULL) == 0,
            "a writer"))
        {
            rc1 = hkp_writer_put(&w, exp2, &res);
            rc2 = hkp_writer_put(&w, photo, &res);
            rc3 = hkp_writer_commit(&w);
            hkp_writer_close(&w);
        }
        ok(rc1 == 0 && rc2 == HKP_EBLOCKED && rc3 == 0
            && stored(exp2->hash) == 1 && stored(photo->hash) == 0,
            "the writer refuses the blocked key alone");
        free_key(exp2);
    }

    /* a subkey fingerprint */
    sub = first_sub(signer);
    if (sub > 0)
        slen = fpr_at(signer, sub, sfpr, skid);
    if (ok(slen == 20, "the signer key has a subkey")) {
        ok(block(sfpr, slen, "", &ndel) == 0 && ndel == 1,
            "blocking its subkey deletes the key");
        ok(stored(signer->hash) == 0, "the key with the subkey is gone");
        ok(put(signer, &res) == HKP_EBLOCKED
            && strcmp(res.reason, "blocked by the operator") == 0,
            "and is refused");
        is_int(checks(), 0, "checks clean");
    }

    /* check finds a stored key that is blocked and a dangling entry */
    if (mdb_txn_begin(db.env, NULL, 0, &txn) == 0) {
        uint8_t k[21] = { 'F' }, ghost[20];
        MDB_val kv = { 21, k }, vv = { 20, ghost };
        int lines = 0, d;
        uint8_t ofpr[32], okid[8];
        fpr_at(other, 0, ofpr, okid);
        memcpy(k + 1, ofpr, 20);
        memset(ghost, 0x77, sizeof(ghost));
        d = mdb_put(txn, db.blocked, &kv, &vv, 0) == 0
            ? hkp_block_check(&db, txn, count_report, &lines) : -1;
        mdb_txn_abort(txn);
        is_int(d, 2, "check: a stored key with a blocked fingerprint and an "
            "entry naming no block");
    }

    /* unblock */
    if (mdb_txn_begin(db.env, NULL, 0, &txn) == 0) {
        int rc = hkp_block_del(&db, txn, fpr, len, count_hash, &nh);
        int again = hkp_block_del(&db, txn, fpr, len, NULL, NULL);
        ok(rc == 0 && again == MDB_NOTFOUND && mdb_txn_commit(txn) == 0,
            "hkp_block_del: gone, and a second time there is none");
        is_int(nh, 2, "it reported the two remembered hashes");
    }
    ok(hkp_db_rtxn(&db, &txn) == 0, "read txn");
    ok(hkp_block_find_id(&db, txn, kid, 8, NULL) == MDB_NOTFOUND
        && hkp_block_find_hash(&db, txn, hph, NULL) == MDB_NOTFOUND
        && hkp_block_count(&db, txn) == 1, "nothing of it is left (the "
        "subkey block stays)");
    {
        char addr[HKP_MAX_WORD_LEN + 1];
        size_t an = first_email(photo, addr, sizeof(addr));
        ok(hkp_block_find_email(&db, txn, addr, an, NULL) == MDB_NOTFOUND,
            "... its address neither");
    }
    mdb_txn_abort(txn);
    ok(put(photo, &res) == 0 && res.status == HKP_PUT_NEW,
        "the key is accepted again");
    is_int(checks(), 0, "checks clean after the unblock");

out:
    free_key(photo);
    free_key(signer);
    free_key(other);
}

int
main(void)
{
    const char *dd = getenv("HKP_TEST_DATA");
    const char *td = getenv("TMPDIR");
    char path[4200], err[512];

    if (dd && *dd)
        datadir = dd;
    test_parse();
    snprintf(tmpdir, sizeof(tmpdir), "%s/hkp-test-block.XXXXXX",
        td && *td ? td : "/tmp");
    if (!ok(mkdtemp(tmpdir) != NULL, "mkdtemp"))
        return tap_done();
    snprintf(path, sizeof(path), "%s/db", tmpdir);
    if (ok(hkp_db_open(&db, path, 0, MAPSIZE, err, sizeof(err)) == 0,
        "open a new store"))
    {
        ok(db.have_blocked, "it has the \"blocked\" database");
        test_block();
        hkp_db_close(&db);
    }
    rm_tree(tmpdir);
    return tap_done();
}
