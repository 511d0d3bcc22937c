/*
 * Unit tests for shared/store.c: hkp_db_put (new, merged, unchanged, index
 * maintenance, count, per-hour "hist:" counts and their pruning), hkp_db_find_id, hkp_db_find_words, read-only open,
 * aborted transactions. Uses a temporary environment (mkdtemp) that is
 * removed at the end.
 *
 * Usage: test_store
 * Env:   HKP_TEST_DATA (default t/data), TMPDIR (default /tmp).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"
#include "armor.h"
#include "hkp_limits.h"
#include "key.h"
#include "packet.h"
#include "store.h"

#define MAPSIZE  ((size_t) 64 * 1024 * 1024)
#define MAXH     64

static const char *datadir = "t/data";
static char        tmpdir[4096];

/* The SKS hashes and fingerprints of t/data/hashes.txt. */
#define H_DEBIAN   "B4453EAFA31FA69F081C0E647F32B6E3"
#define H_K1       "50ED94C61884E160D6F8C91DA546C429"
#define H_K2       "B01DB9A46CE7264D3DCD64479010D335"
#define H_K3DUP    "39B1F79DC69266314C6AD3ED3A5F06BF"
#define H_K3       "84D77DC5D86163BC803AD2CD5C789E99"
#define H_K4       "D6098F23D29F7D3D776892775ADDBE3C"
#define H_K7       "24AD9C8DCFDBEA5C0CCC0054CB24ECFC"
#define H_K8       "1C39089AA661517C6B34F9AA2588E256"

#define F_DEBIAN   "7DF3D4B58EAD38D84E554E3B68530A812B47DCDE"
#define F_DEBSUB   "3966851E9CBE33F814DA065FE85E05609BC71181"
#define F_K1       "8236DAA56DF885E6A77B041A20E8C38A2AE840BF"
#define F_K1SUB    "BB3556C600B38C1AA671B6598B7D547986907D72"
#define F_K2       "451C1DD6CD209EC53A2D96BE0A7541B2E71AFA2E"
#define F_K3       "F24511A38E1F7ADFD95D3952EA498F20AD79F7AC"
#define F_K3SUB    "FE88EF54058BFC76707E5179A00C2EF93675F7C8"
#define F_K6       "9C7C8112120358EE1A3F0020958A5BA742CEAF24"
#define F_K8       "40C0EEB58EAA20BE1574A4B5440EFEE97BD5A159"

/* ------------------------------------------------------------------ */

/* A key made of `base`'s primary key packet and one extra user ID packet
 * (no signatures: the store does not verify). */
static hkp_key_t *
key_with_uid(const hkp_key_t *base, const char *uid)
{
    hkp_pkt_t   pkts[2];
    hkp_key_t  *k = calloc(1, sizeof(*k));
    char        why[HKP_REASON_LEN];

    if (k == NULL || base == NULL)
        goto fail;
    memset(pkts, 0, sizeof(pkts));
    pkts[0] = base->pkts[0];
    pkts[1].tag = HKP_TAG_UID;
    pkts[1].body = (const uint8_t *) uid;
    pkts[1].len = (uint32_t) strlen(uid);
    if (hkp_key_canon(pkts, 2, NULL, k, why, sizeof(why)) != 0) {
        diag("hkp_key_canon: %s", why);
        goto fail;
    }
    return k;
fail:
    free(k);
    return NULL;
}

static void
hexof(const uint8_t *h, char *out)
{
    hkp_hex(h, HKP_HASH_LEN, out);
}

/* ------------------------------------------------------------------ */
/* Helpers over the store                                               */

static hkp_db_t db;
static hkp_put_opts_t popts;      /* hkp_db_put settings (the clock) */

static int
put_key(const hkp_key_t *k, hkp_put_result_t *res)
{
    MDB_txn    *txn;
    int         rc;

    if (k == NULL)
        return -1;
    if ((rc = mdb_txn_begin(db.env, NULL, 0, &txn)) != 0) {
        diag("mdb_txn_begin: %s", mdb_strerror(rc));
        return -1;
    }
    if ((rc = hkp_db_put(&db, txn, k, &popts, res)) != 0) {
        diag("hkp_db_put: %s (%s)", res->reason, hkp_strerror(rc));
        mdb_txn_abort(txn);
        return -1;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        diag("mdb_txn_commit: %s", mdb_strerror(rc));
        return -1;
    }
    return 0;
}

/* Loads name, puts it, returns the put status (or -1). */
static int
put_file(const char *name, hkp_put_result_t *res)
{
    hkp_key_t *k = load_key(datadir, name);
    int r = -1;

    if (k != NULL && put_key(k, res) == 0)
        r = (int) res->status;
    free_key(k);
    return r;
}

/* hashes[0..n) as comma-separated hex into out[outsz]. */
static void
hashes_csv(uint8_t (*hashes)[HKP_HASH_LEN], size_t n, char *out, size_t outsz)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char h[2 * HKP_HASH_LEN + 1];
        size_t l = strlen(out);
        hexof(hashes[i], h);
        snprintf(out + l, outsz - l, "%s%s", i ? "," : "", h);
    }
}

/* find_id by a hex ID; returns the rc and writes "H1,H2,..." to out. */
static int
find_id_hex(const char *hexid, size_t max, char *out, size_t outsz,
    size_t *n)
{
    uint8_t     id[32], hashes[MAXH][HKP_HASH_LEN];
    size_t      idlen = unhex(hexid, id, sizeof(id));
    MDB_txn    *txn;
    int         rc;

    out[0] = '\0';
    *n = 0;
    if (max > MAXH)
        max = MAXH;
    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    rc = hkp_db_find_id(&db, txn, id, idlen, hashes, max, n);
    hashes_csv(hashes, *n, out, outsz);
    mdb_txn_abort(txn);
    return rc;
}

/* find_words over a space-separated list of already folded words. */
static int
find_words_str(const char *q, size_t max_candidates, size_t max, char *out,
    size_t outsz, size_t *n)
{
    char        buf[1024];
    const uint8_t *words[HKP_MAX_QUERY_WORDS];
    size_t      lens[HKP_MAX_QUERY_WORDS], nw = 0;
    uint8_t     hashes[MAXH][HKP_HASH_LEN];
    MDB_txn    *txn;
    char       *save = NULL, *w;
    int         rc;

    out[0] = '\0';
    *n = 0;
    if (max > MAXH)
        max = MAXH;
    snprintf(buf, sizeof(buf), "%s", q);
    for (w = strtok_r(buf, " ", &save); w && nw < HKP_MAX_QUERY_WORDS;
         w = strtok_r(NULL, " ", &save))
    {
        words[nw] = (const uint8_t *) w;
        lens[nw++] = strlen(w);
    }
    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    rc = hkp_db_find_words(&db, txn, words, lens, nw, max_candidates, hashes,
        max, n);
    hashes_csv(hashes, *n, out, outsz);
    mdb_txn_abort(txn);
    return rc;
}

static uint64_t
count_now(void)
{
    MDB_txn *txn;
    uint64_t c;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return (uint64_t) -1;
    c = hkp_db_count(&db, txn);
    mdb_txn_abort(txn);
    return c;
}

/* Number of entries in the keys database. */
static long long
keys_entries(void)
{
    MDB_txn  *txn;
    MDB_stat  st;
    long long n = -1;

    if (hkp_db_rtxn(&db, &txn) != 0)
        return -1;
    if (mdb_stat(txn, db.keys, &st) == 0)
        n = (long long) st.ms_entries;
    mdb_txn_abort(txn);
    return n;
}

/* Is the stored key under hash hex present, and does it decode to a key
 * with that hash? */
static int
stored_ok(const char *hex)
{
    uint8_t     h[HKP_HASH_LEN];
    MDB_txn    *txn;
    MDB_val     v;
    hkp_key_t   k;
    char        why[HKP_REASON_LEN];
    int         r = 0;

    unhex(hex, h, sizeof(h));
    if (hkp_db_rtxn(&db, &txn) != 0)
        return 0;
    if (hkp_db_get(&db, txn, h, &v) == 0
        && hkp_key_decode(v.mv_data, v.mv_size, &k, why, sizeof(why)) == 0)
    {
        r = memcmp(k.hash, h, HKP_HASH_LEN) == 0;
        hkp_key_free(&k);
    }
    mdb_txn_abort(txn);
    return r;
}

static int
stored_absent(const char *hex)
{
    uint8_t  h[HKP_HASH_LEN];
    MDB_txn *txn;
    MDB_val  v;
    int      r;

    unhex(hex, h, sizeof(h));
    if (hkp_db_rtxn(&db, &txn) != 0)
        return 0;
    r = hkp_db_get(&db, txn, h, &v) == MDB_NOTFOUND;
    mdb_txn_abort(txn);
    return r;
}

/* ------------------------------------------------------------------ */

static int
open_rw(const char *path)
{
    char err[512];

    if (hkp_db_open(&db, path, 0, MAPSIZE, err, sizeof(err)) != 0) {
        diag("hkp_db_open: %s", err);
        return -1;
    }
    return 0;
}

static void
test_put(void)
{
    hkp_put_result_t res;
    char h[2 * HKP_HASH_LEN + 1];

    is_int(count_now(), 0, "empty store: count 0");

    is_int(put_file("debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc",
        &res), HKP_PUT_NEW, "put debian key: NEW");
    hexof(res.hash, h);
    is_str(h, H_DEBIAN, "debian key stored under its SKS hash");
    is_int(put_file("k1-ed25519.asc", &res), HKP_PUT_NEW, "put k1: NEW");
    hexof(res.hash, h);
    is_str(h, H_K1, "k1 hash");
    is_int(put_file("k1-newformat-headers.asc", &res), HKP_PUT_UNCHANGED,
        "put k1 with new-format headers (same packets): UNCHANGED");
    is_int(put_file("k1-ed25519.asc", &res), HKP_PUT_UNCHANGED,
        "put k1 again: UNCHANGED");
    hexof(res.hash, h);
    is_str(h, H_K1, "UNCHANGED reports the stored hash");
    is_int(res.nremoved, 0, "UNCHANGED removes nothing");
    is_int(put_file("k2-rsa2048.asc", &res), HKP_PUT_NEW, "put k2: NEW");
    is_int(put_file("k3-dupsig.asc", &res), HKP_PUT_NEW, "put k3-dupsig: NEW");
    hexof(res.hash, h);
    is_str(h, H_K3DUP, "k3-dupsig hash");
    is_int(put_file("k4-ed25519.asc", &res), HKP_PUT_NEW, "put k4: NEW");
    is_int(put_file("k4-repeated-blocks.asc", &res), HKP_PUT_UNCHANGED,
        "put k4 with repeated blocks: UNCHANGED");
    is_int(put_file("k5-ed25519.asc", &res), HKP_PUT_NEW, "put k5: NEW");
    is_int(put_file("k6-ed25519.asc", &res), HKP_PUT_NEW, "put k6: NEW");
    is_int(put_file("k7-ed25519.asc", &res), HKP_PUT_NEW, "put k7: NEW");
    is_int(count_now(), 8, "count 8 after 8 distinct keys");
    is_int(keys_entries(), 8, "keys database has 8 entries");
    ok(stored_ok(H_K3DUP), "k3-dupsig stored and decodes to its hash");

    /* The k3 merge, as SKS did it: "Del'ng 39B1..." "Adding 84D7...". */
    is_int(put_file("k3-ed25519.asc", &res), HKP_PUT_MERGED,
        "put k3-ed25519 onto k3-dupsig: MERGED");
    hexof(res.hash, h);
    is_str(h, H_K3, "merged hash is 84D77DC5...");
    is_int(res.nremoved, 1, "one old version removed");
    hexof(res.removed[0], h);
    is_str(h, H_K3DUP, "removed hash is 39B1F79D...");
    is_int(count_now(), 8, "count unchanged by a merge");
    is_int(keys_entries(), 8, "keys database still has 8 entries");
    ok(stored_absent(H_K3DUP), "old k3 hash no longer in keys");
    ok(stored_ok(H_K3), "merged k3 stored and decodes to its hash");
    is_int(put_file("k3-dupsig.asc", &res), HKP_PUT_UNCHANGED,
        "put k3-dupsig again after the merge: UNCHANGED");
    hexof(res.hash, h);
    is_str(h, H_K3, "... and the stored hash stays 84D77DC5...");
}

/* ------------------------------------------------------------------ */
/* Per-hour counts (meta "hist:"): test_put runs at a fixed clock.      */

#define HIST_T0  1795881600   /* 2026-11-28 16:00:00 UTC */
#define HIST_H0  ((uint32_t) (HIST_T0 / 3600))

static int
hist_raw_put(const void *key, size_t klen, uint64_t nnew, uint64_t nupd)
{
    MDB_txn *txn;
    uint8_t  vb[HKP_META_HIST_VAL_LEN];
    MDB_val  k = { klen, (void *) key }, v = { sizeof(vb), vb };

    for (int i = 0; i < 8; i++) {
        vb[i] = (uint8_t) (nnew >> (56 - 8 * i));
        vb[8 + i] = (uint8_t) (nupd >> (56 - 8 * i));
    }
    if (mdb_txn_begin(db.env, NULL, 0, &txn) != 0)
        return -1;
    if (mdb_put(txn, db.meta, &k, &v, 0) != 0) {
        mdb_txn_abort(txn);
        return -1;
    }
    return mdb_txn_commit(txn) == 0 ? 0 : -1;
}

static int
hist_raw_hour(uint32_t h, uint64_t nnew, uint64_t nupd)
{
    uint8_t kb[HKP_META_HIST_LEN];

    memcpy(kb, HKP_META_HIST, 5);
    for (int i = 0; i < 4; i++)
        kb[5 + i] = (uint8_t) (h >> (24 - 8 * i));
    return hist_raw_put(kb, sizeof(kb), nnew, nupd);
}

/* Before test_put: stale and kept hours, and a malformed key. */
static void
test_hist_setup(void)
{
    int r = 0;

    r |= hist_raw_hour(HIST_H0 - 800, 5, 6);
    r |= hist_raw_hour(HIST_H0 - HKP_HIST_KEEP_HOURS - 1, 7, 8);
    r |= hist_raw_hour(HIST_H0 - HKP_HIST_KEEP_HOURS, 9, 10);
    r |= hist_raw_hour(HIST_H0 - 1, 11, 12);
    r |= hist_raw_put(HKP_META_HIST "x", 6, 1, 1);
    is_int(r, 0, "hist: seeded 4 hours and a malformed key");
    popts.now = HIST_T0 + 1799;
}

/* After test_put: 8 keys new and 1 merged in HIST_H0; the first put
 * created that hour, which pruned the hours older than the kept range. */
static void
test_hist_check(void)
{
    uint64_t (*c)[2] = calloc(HKP_HIST_KEEP_HOURS + 2, sizeof(*c));
    uint64_t  one[1][2];
    MDB_txn  *txn;
    MDB_val   k = { 6, (void *) HKP_META_HIST "x" }, v;

    popts.now = 0;
    if (!ok(c != NULL && hkp_db_rtxn(&db, &txn) == 0, "hist: read txn")) {
        free(c);
        return;
    }
    is_int(hkp_db_hist(&db, txn, HIST_H0 - HKP_HIST_KEEP_HOURS,
        HKP_HIST_KEEP_HOURS + 2, c), 0, "hkp_db_hist over the kept range");
    is_int((long long) c[HKP_HIST_KEEP_HOURS][0], 8, "hist: 8 new this hour");
    is_int((long long) c[HKP_HIST_KEEP_HOURS][1], 1,
        "hist: 1 updated this hour (unchanged puts not counted)");
    is_int((long long) c[HKP_HIST_KEEP_HOURS + 1][0], 0, "hist: next hour 0");
    is_int((long long) c[HKP_HIST_KEEP_HOURS - 1][0], 11, "hist: hour before");
    is_int((long long) c[HKP_HIST_KEEP_HOURS - 1][1], 12, "... its updates");
    is_int((long long) c[0][0], 9, "hist: oldest kept hour kept");
    is_int((long long) c[1][0] + (long long) c[1][1], 0, "hist: gaps are 0");
    is_int(hkp_db_hist(&db, txn, HIST_H0 - 800, 1, one), 0, "hkp_db_hist");
    is_int((long long) (one[0][0] + one[0][1]), 0, "hist: 800 h old pruned");
    is_int(hkp_db_hist(&db, txn, HIST_H0 - HKP_HIST_KEEP_HOURS - 1, 1, one),
        0, "hkp_db_hist");
    is_int((long long) (one[0][0] + one[0][1]), 0,
        "hist: 1 h past the kept range pruned");
    is_int(mdb_get(txn, db.meta, &k, &v), 0,
        "hist: malformed key skipped, not deleted");
    mdb_txn_abort(txn);
    free(c);
}

static void
check_id(const char *what, const char *hexid, const char *want)
{
    char   got[MAXH * 40], name[256];
    size_t n;
    int    rc = find_id_hex(hexid, MAXH, got, sizeof(got), &n);

    snprintf(name, sizeof(name), "find_id %s (%s)", what, hexid);
    if (!is_int(rc, 0, name))
        return;
    snprintf(name, sizeof(name), "find_id %s -> %s", what,
        want[0] ? want : "nothing");
    is_str(got, want, name);
}

static void
test_find_id(void)
{
    char   got[MAXH * 40];
    size_t n;

    /* Primary: 32-bit, 64-bit, fingerprint. */
    check_id("k1 primary 32-bit", F_K1 + 32, H_K1);
    check_id("k1 primary 64-bit", F_K1 + 24, H_K1);
    check_id("k1 primary fpr", F_K1, H_K1);
    check_id("debian primary 32-bit", F_DEBIAN + 32, H_DEBIAN);
    check_id("debian primary 64-bit", F_DEBIAN + 24, H_DEBIAN);
    check_id("debian primary fpr", F_DEBIAN, H_DEBIAN);
    check_id("k2 (RSA) fpr", F_K2, H_K2);
    /* Subkey: 32-bit, 64-bit, fingerprint. */
    check_id("k1 subkey 32-bit", F_K1SUB + 32, H_K1);
    check_id("k1 subkey 64-bit", F_K1SUB + 24, H_K1);
    check_id("k1 subkey fpr", F_K1SUB, H_K1);
    check_id("debian subkey 32-bit", F_DEBSUB + 32, H_DEBIAN);
    check_id("debian subkey 64-bit", F_DEBSUB + 24, H_DEBIAN);
    check_id("debian subkey fpr", F_DEBSUB, H_DEBIAN);
    /* After the merge only the new hash is indexed. */
    check_id("k3 primary fpr after merge", F_K3, H_K3);
    check_id("k3 primary 64-bit after merge", F_K3 + 24, H_K3);
    check_id("k3 primary 32-bit after merge", F_K3 + 32, H_K3);
    check_id("k3 subkey fpr after merge", F_K3SUB, H_K3);
    check_id("k3 subkey 64-bit after merge", F_K3SUB + 24, H_K3);
    /* Unknown IDs. */
    check_id("unknown fpr", "0000000000000000000000000000000000000000", "");
    check_id("unknown 64-bit", "0123456789ABCDEF", "");
    check_id("not stored yet (k8)", F_K8, "");

    /* Limits: max 0 with one match says "too many". */
    is_int(find_id_hex(F_K1, 0, got, sizeof(got), &n), HKP_EMORE,
        "find_id with max 0 and one match: too many (HKP_EMORE)");
    is_int(n, 0, "... and writes nothing");
    is_int(find_id_hex("0102", MAXH, got, sizeof(got), &n), HKP_EINVAL,
        "find_id with a 2-byte ID: error (HKP_EINVAL)");
}

static void
check_words(const char *q, const char *want)
{
    char   got[MAXH * 40], name[256];
    size_t n;
    int    rc = find_words_str(q, 1000, MAXH, got, sizeof(got), &n);

    snprintf(name, sizeof(name), "find_words \"%s\": rc 0", q);
    if (!is_int(rc, 0, name))
        return;
    snprintf(name, sizeof(name), "find_words \"%s\" -> %s", q,
        want[0] ? want : "nothing");
    is_str(got, want, name);
}

/* Number of hashes found for q (or -1 if rc != 0). */
static long long
nwords(const char *q)
{
    char   got[MAXH * 40];
    size_t n;

    if (find_words_str(q, 1000, MAXH, got, sizeof(got), &n) != 0)
        return -1;
    return (long long) n;
}

static void
test_find_words(void)
{
    char   got[MAXH * 40];
    size_t n;

    check_words("bonci", H_DEBIAN);
    check_words("jaybonci", H_DEBIAN);
    check_words("three", H_K3);
    check_words("vector three", H_K3);
    check_words("recon vector two", H_K2);
    check_words("vector1@example.invalid", H_K1);
    check_words("jaybonci@debian.org", H_DEBIAN);
    check_words("vector three vector3@example.invalid", H_K3);
    check_words("vector two three", "");
    check_words("nosuchword", "");
    check_words("recon nosuchword", "");
    check_words("Bonci", "");                 /* callers pass folded words */
    is_int(nwords("recon"), 7, "find_words \"recon\": 7 keys (k1..k7)");
    is_int(nwords("recon extra"), 3, "find_words \"recon extra\": 3 keys (k5..k7)");
    is_int(nwords("example invalid"), 7, "find_words \"example invalid\": 7 keys");
    is_int(nwords("vector"), 4, "find_words \"vector\": 4 keys (k1..k4)");

    /* Too many: 7 keys match, max 3. */
    is_int(find_words_str("recon", 1000, 3, got, sizeof(got), &n), HKP_EMORE,
        "find_words \"recon\" with max 3: too many (HKP_EMORE)");
    is_int(n, 3, "... and the first 3 are written");
    is_int(find_words_str("recon extra", 1000, 2, got, sizeof(got), &n),
        HKP_EMORE, "find_words \"recon extra\" with max 2: too many "
        "(HKP_EMORE)");
    /* Insufficiently specific: the rarest word has more candidates. */
    is_int(find_words_str("recon", 6, MAXH, got, sizeof(got), &n),
        HKP_ECANDIDATES, "find_words \"recon\" with max_candidates 6: "
        "insufficiently specific (HKP_ECANDIDATES)");
    is_int(find_words_str("recon example", 6, MAXH, got, sizeof(got), &n),
        HKP_ECANDIDATES, "find_words \"recon example\" with max_candidates "
        "6: HKP_ECANDIDATES");
    /* ... but a rare word makes the query specific enough. */
    is_int(find_words_str("recon three", 1, MAXH, got, sizeof(got), &n), 0,
        "find_words \"recon three\" with max_candidates 1: 0");
    is_int(n, 1, "... one key");
    is_int(find_words_str("recon", 7, MAXH, got, sizeof(got), &n), 0,
        "find_words \"recon\" with max_candidates 7 (exactly 7): 0");
}

/* A non-ASCII user ID merged into k6: folded words and the lower-cased
 * whole e-mail are indexed. */
static void
test_nonascii(void)
{
    hkp_key_t       *k6 = load_key(datadir, "k6-ed25519.asc");
    hkp_key_t       *u = key_with_uid(k6,
        "J\xc3\xbcrgen M\xc3\x9cLLER \xc3\x89lodie <J.Mueller@Example.ORG>");
    hkp_put_result_t res;
    char             got[MAXH * 40], h6[2 * HKP_HASH_LEN + 1];
    size_t           n;

    if (!ok(k6 != NULL && u != NULL, "built a k6 variant with a non-ASCII user ID")) {
        free_key(k6);
        free_key(u);
        return;
    }
    is_int(put_key(u, &res) == 0 ? (int) res.status : -1, HKP_PUT_MERGED,
        "put it: MERGED into k6");
    hexof(res.hash, h6);
    {
        char old[2 * HKP_HASH_LEN + 1];
        hexof(res.removed[0], old);
        is_int(res.nremoved, 1, "... one old version removed");
        is_str(old, "2108FA6CB90EEFB0C527AD6CA06F840A", "... the original k6");
        ok(strcmp(h6, old) != 0, "... new hash %s", h6);
    }
    check_words("m\xc3\xbcller", h6);               /* MÜLLER folded */
    check_words("j\xc3\xbcrgen", h6);
    check_words("\xc3\xa9lodie", h6);               /* Élodie folded */
    check_words("j\xc3\xbcrgen m\xc3\xbcller extra", h6);
    check_words("j.mueller@example.org", h6);
    check_words("extra6@example.invalid", h6);       /* old UID still there */
    check_words("M\xc3\x9cLLER", "");                /* unfolded: no match */
    check_id("k6 fpr after merge", F_K6, h6);
    is_int(find_words_str("recon", 1000, MAXH, got, sizeof(got), &n), 0,
        "\"recon\" still works");
    is_int(n, 7, "... still 7 keys");
    is_int(count_now(), 8, "count still 8");
    free_key(k6);
    free_key(u);
}

/* Writes in an aborted txn leave no trace. */
static void
test_abort(void)
{
    hkp_key_t       *k8 = load_key(datadir, "k8-ed25519.asc");
    hkp_key_t       *k7 = load_key(datadir, "k7-ed25519.asc");
    hkp_key_t       *k7x = key_with_uid(k7, "Aborted Transaction <aborted@example.invalid>");
    hkp_put_result_t res;
    MDB_txn         *txn = NULL;
    int              rc;
    char             got[MAXH * 40];
    size_t           n;

    if (!ok(k8 != NULL && k7x != NULL, "loaded k8 and a k7 variant")) {
        free_key(k8);
        free_key(k7);
        free_key(k7x);
        return;
    }
    rc = mdb_txn_begin(db.env, NULL, 0, &txn);
    is_int(rc, 0, "begin write txn");
    if (rc == 0) {
        is_int(hkp_db_put(&db, txn, k8, &popts, &res), 0, "put k8 in the txn");
        is_int(res.status, HKP_PUT_NEW, "... NEW");
        is_int(hkp_db_put(&db, txn, k7x, &popts, &res), 0,
            "put a k7 variant in the txn");
        is_int(res.status, HKP_PUT_MERGED, "... MERGED");
        is_int(hkp_db_count(&db, txn), 9, "count 9 inside the txn");
        mdb_txn_abort(txn);
    }
    is_int(count_now(), 8, "after abort: count 8");
    is_int(keys_entries(), 8, "after abort: 8 entries in keys");
    check_id("k8 fpr after abort", F_K8, "");
    check_id("k7 fpr after abort", "756312A9860891BF7FEB5A90C037ABC624C1063D", H_K7);
    ok(stored_ok(H_K7), "after abort: old k7 still stored");
    check_words("aborted", "");
    check_words("extra8@example.invalid", "");
    is_int(find_words_str("recon extra", 1000, MAXH, got, sizeof(got), &n), 0,
        "after abort: \"recon extra\" works");
    is_int(n, 3, "... 3 keys");

    /* Now for real. */
    is_int(put_key(k8, &res) == 0 ? (int) res.status : -1, HKP_PUT_NEW,
        "put k8 committed: NEW");
    check_id("k8 fpr", F_K8, H_K8);
    check_words("extra8@example.invalid", H_K8);
    is_int(count_now(), 9, "count 9");
    free_key(k8);
    free_key(k7);
    free_key(k7x);
}

static void
test_readonly(const char *path)
{
    char     err[512], missing[4200];
    hkp_db_t ro;
    MDB_txn *txn;

    snprintf(missing, sizeof(missing), "%s/does-not-exist", tmpdir);
    err[0] = '\0';
    is_int(hkp_db_open(&ro, missing, HKP_DB_RDONLY, MAPSIZE, err,
        sizeof(err)), ENOENT, "read-only open of a nonexistent dir fails "
        "(ENOENT)");
    ok(err[0] != '\0', "... with a message: %s", err);
    ok(access(missing, F_OK) != 0, "... and does not create it");

    /* An existing directory with no environment in it. */
    snprintf(missing, sizeof(missing), "%s/empty", tmpdir);
    if (mkdir(missing, 0700) == 0) {
        err[0] = '\0';
        is_int(hkp_db_open(&ro, missing, HKP_DB_RDONLY, MAPSIZE, err,
            sizeof(err)), ENOENT, "read-only open of an empty dir fails "
        "(ENOENT: no data.mdb)");
        ok(err[0] != '\0', "... with a message: %s", err);
    }

    /* Read-only reopen of the real store (writer closed first). */
    hkp_db_close(&db);
    err[0] = '\0';
    if (!is_int(hkp_db_open(&ro, path, HKP_DB_RDONLY, MAPSIZE, err,
            sizeof(err)), 0, "read-only open of the store"))
    {
        diag("%s", err);
        return;
    }
    ok(ro.words == NULL, "read-only handle has no tokenizer");
    if (hkp_db_rtxn(&ro, &txn) == 0) {
        hkp_put_result_t res;
        hkp_key_t *k1 = load_key(datadir, "k1-ed25519.asc");
        uint8_t fpr[20], hashes[4][HKP_HASH_LEN];
        size_t n = 0;

        is_int(hkp_db_count(&ro, txn), 9, "read-only: count 9");
        unhex(F_K1SUB, fpr, sizeof(fpr));
        is_int(hkp_db_find_id(&ro, txn, fpr, 20, hashes, 4, &n), 0,
            "read-only: find_id k1 subkey");
        is_int(n, 1, "... one hash");
        is_int(k1 != NULL ? hkp_db_put(&ro, txn, k1, NULL, &res) : 0,
            HKP_ERDONLY, "read-only: put fails");
        ok(res.reason[0] != '\0', "... with a message: %s", res.reason);
        free_key(k1);
        mdb_txn_abort(txn);
    } else
        ok(0, "read-only txn");
    hkp_db_close(&ro);
}

int
main(void)
{
    const char *dd = getenv("HKP_TEST_DATA");
    const char *td = getenv("TMPDIR");
    char        path[4200];

    if (dd && *dd)
        datadir = dd;
    snprintf(tmpdir, sizeof(tmpdir), "%s/hkp-test-store.XXXXXX",
        td && *td ? td : "/tmp");
    if (!ok(mkdtemp(tmpdir) != NULL, "mkdtemp"))
        return tap_done();
    snprintf(path, sizeof(path), "%s/db", tmpdir);

    if (ok(open_rw(path) == 0, "open a new store at %s", path)) {
        test_hist_setup();
        test_put();
        test_hist_check();
        test_find_id();
        test_find_words();
        test_nonascii();
        test_abort();
        test_readonly(path);     /* closes db */
    }
    rm_tree(tmpdir);
    ok(access(tmpdir, F_OK) != 0, "temp dir removed");
    return tap_done();
}
