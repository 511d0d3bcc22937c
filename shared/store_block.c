/*
 * The "blocked" database (store_block.h): takedowns that stay down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hkp_error.h"
#include "openpgp.h"
#include "store_block.h"
#include "bytes.h"
#include "serve.h"
#include "store_int.h"
#include "words.h"

/* Kinds of entry (the first key byte). */
#define KIND_BLOCK  'B'
#define KIND_FPR    'F'
#define KIND_KID64  'L'
#define KIND_KID32  'S'
#define KIND_HASH   'H'
#define KIND_MAIL   'M'

_Static_assert(HKP_BLOCK_MAIL_LEN == HKP_SERVE_DIGEST_LEN,
               "an e-mail entry is named by hkp_serve_uid_digest()");

/* A v4 or v6 fingerprint's length. */
#define FPR_LEN_OK(n)  ((n) == HKP_FPR_V4_LEN || (n) == HKP_FPR_V6_LEN)
/* Longest entry key: kind + an address digest + a v6 fingerprint. */
#define KEY_MAX     (1 + HKP_BLOCK_MAIL_LEN + HKP_FPR_V6_LEN)
/* Longest record: version, time, three u16-prefixed strings. */
#define REC_MAX     (1 + 8 + 3 * 2 + HKP_BLOCK_USER_MAX + HKP_BLOCK_PUBLIC_MAX \
                     + HKP_BLOCK_NOTE_MAX)

_Static_assert(sizeof(HKP_BLOCK_REFUSAL) + 2 + HKP_BLOCK_PUBLIC_MAX
               < HKP_REASON_LEN, "a refusal reason must fit HKP_REASON_LEN");

/* ------------------------------------------------------------ entries */

static size_t
entry_key(uint8_t *k, int kind, const uint8_t *a, size_t alen,
    const uint8_t *b, size_t blen)
{
    k[0] = (uint8_t) kind;
    memcpy(k + 1, a, alen);
    if (blen > 0)
        memcpy(k + 1 + alen, b, blen);
    return 1 + alen + blen;
}

static size_t
put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    p[0] = (uint8_t) (n >> 8);
    p[1] = (uint8_t) n;
    memcpy(p + 2, s, n);
    return 2 + n;
}

static size_t
rec_encode(const hkp_blockrec_t *rec, uint8_t *buf)
{
    size_t n = 0;
    buf[n++] = HKP_BLOCK_REC_VERSION;
    hkp_store_put_u64be(buf + n, (uint64_t) rec->when);
    n += 8;
    n += put_str(buf + n, rec->user);
    n += put_str(buf + n, rec->pub);
    n += put_str(buf + n, rec->note);
    return n;
}

static int
get_str(const uint8_t **p, const uint8_t *end, char *out, size_t max)
{
    size_t n;
    if (end - *p < 2)
        return -1;
    n = ((size_t) (*p)[0] << 8) | (*p)[1];
    if (n > max || (size_t) (end - *p - 2) < n)
        return -1;
    memcpy(out, *p + 2, n);
    out[n] = '\0';
    *p += 2 + n;
    return 0;
}

/* The record of block fpr from its value. 0, or HKP_ESTORED. */
static int
rec_decode(const MDB_val *v, const uint8_t *fpr, size_t len,
    hkp_blockrec_t *rec)
{
    const uint8_t *p = v->mv_data, *end = p + v->mv_size;

    memset(rec, 0, sizeof(*rec));
    if (v->mv_size < 9 || p[0] != HKP_BLOCK_REC_VERSION)
        return HKP_ESTORED;
    rec->when = (int64_t) hkp_store_get_u64be(p + 1);
    p += 9;
    if (get_str(&p, end, rec->user, HKP_BLOCK_USER_MAX) != 0
        || get_str(&p, end, rec->pub, HKP_BLOCK_PUBLIC_MAX) != 0
        || get_str(&p, end, rec->note, HKP_BLOCK_NOTE_MAX) != 0
        || p != end)
        return HKP_ESTORED;
    memcpy(rec->fpr, fpr, len);
    rec->fpr_len = len;
    return 0;
}

/* The record of block fpr (rec may be NULL). 0, MDB_NOTFOUND, or a code. */
static int
rec_get(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr, size_t len,
    hkp_blockrec_t *rec)
{
    uint8_t kb[KEY_MAX];
    hkp_blockrec_t tmp;
    MDB_val k = { entry_key(kb, KIND_BLOCK, fpr, len, NULL, 0), kb }, v;
    int rc = mdb_get(txn, db->blocked, &k, &v);

    if (rc != 0)
        return rc;
    return rec_decode(&v, fpr, len, rec != NULL ? rec : &tmp);
}

/* The block a value naming a block fingerprint points to. */
static int
rec_by_value(hkp_db_t *db, MDB_txn *txn, const MDB_val *v,
    hkp_blockrec_t *rec)
{
    if (!FPR_LEN_OK(v->mv_size))
        return HKP_ESTORED;
    return rec_get(db, txn, v->mv_data, v->mv_size, rec);
}

/* A fingerprint (with its 64-bit key ID) of a key blocked by blockfpr.
 * An 'F' entry another block made is left to it. */
static int
put_component(hkp_db_t *db, MDB_txn *txn, const uint8_t *blockfpr,
    size_t blen, const uint8_t *fpr, size_t len, const uint8_t kid64[8])
{
    uint8_t kb[KEY_MAX];
    MDB_val k, v = { blen, (void *) blockfpr }, none = { 0, NULL };
    int rc;

    k.mv_data = kb;
    k.mv_size = entry_key(kb, KIND_FPR, fpr, len, NULL, 0);
    rc = mdb_put(txn, db->blocked, &k, &v, MDB_NOOVERWRITE);
    if (rc != 0 && rc != MDB_KEYEXIST)
        return rc;
    k.mv_size = entry_key(kb, KIND_KID64, kid64, HKP_KEYID_LEN, blockfpr,
        blen);
    if ((rc = mdb_put(txn, db->blocked, &k, &none, 0)) != 0)
        return rc;
    k.mv_size = entry_key(kb, KIND_KID32,
        kid64 + HKP_KEYID_LEN - HKP_KEYID32_LEN, HKP_KEYID32_LEN, blockfpr,
        blen);
    return mdb_put(txn, db->blocked, &k, &none, 0);
}

int
hkp_block_add_hash(hkp_db_t *db, MDB_txn *txn, const uint8_t *blockfpr,
    size_t len, const uint8_t h[HKP_HASH_LEN])
{
    uint8_t kb[KEY_MAX];
    MDB_val k = { entry_key(kb, KIND_HASH, h, HKP_HASH_LEN, NULL, 0), kb };
    MDB_val v = { len, (void *) blockfpr };
    int rc;

    if (!db->have_blocked)
        return MDB_NOTFOUND;
    rc = mdb_put(txn, db->blocked, &k, &v, MDB_NOOVERWRITE);
    return rc == MDB_KEYEXIST ? 0 : rc;
}

int
hkp_block_open(hkp_db_t *db, MDB_txn *txn, int create)
{
    int rc = mdb_dbi_open(txn, HKP_BLOCK_DB, create ? MDB_CREATE : 0,
        &db->blocked);

    db->have_blocked = rc == 0;
    return rc == MDB_NOTFOUND && !create ? 0 : rc;
}

/* ------------------------------------------------------------ lookups */

int
hkp_block_get(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr, size_t len,
    hkp_blockrec_t *rec)
{
    uint8_t kb[KEY_MAX];
    MDB_val k, v;
    int rc;

    if (!db->have_blocked || (!FPR_LEN_OK(len)))
        return MDB_NOTFOUND;
    k.mv_data = kb;
    k.mv_size = entry_key(kb, KIND_FPR, fpr, len, NULL, 0);
    rc = mdb_get(txn, db->blocked, &k, &v);
    if (rc == MDB_NOTFOUND)
        return rec_get(db, txn, fpr, len, rec);
    if (rc != 0)
        return rc;
    return rec_by_value(db, txn, &v, rec);
}

int
hkp_block_find_hash(hkp_db_t *db, MDB_txn *txn,
    const uint8_t h[HKP_HASH_LEN], hkp_blockrec_t *rec)
{
    uint8_t kb[KEY_MAX];
    MDB_val k = { entry_key(kb, KIND_HASH, h, HKP_HASH_LEN, NULL, 0), kb }, v;
    int rc;

    if (!db->have_blocked)
        return MDB_NOTFOUND;
    if ((rc = mdb_get(txn, db->blocked, &k, &v)) != 0)
        return rc;
    return rec_by_value(db, txn, &v, rec);
}

/* The first 'L' / 'S' / 'M' entry with this key ID (address digest):
 * its block. */
static int
find_kid(hkp_db_t *db, MDB_txn *txn, int kind, const uint8_t *id,
    size_t idlen, hkp_blockrec_t *rec)
{
    uint8_t kb[KEY_MAX];
    MDB_cursor *cur;
    MDB_val k = { entry_key(kb, kind, id, idlen, NULL, 0), kb }, v;
    const uint8_t *p;
    int rc;

    if ((rc = mdb_cursor_open(txn, db->blocked, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    mdb_cursor_close(cur);
    if (rc != 0)
        return rc;
    p = k.mv_data;
    if (k.mv_size <= 1 + idlen || p[0] != kind
        || memcmp(p + 1, id, idlen) != 0)
        return MDB_NOTFOUND;
    {
        MDB_val fv = { k.mv_size - 1 - idlen, (void *) (p + 1 + idlen) };
        return rec_by_value(db, txn, &fv, rec);
    }
}

int
hkp_block_find_email(hkp_db_t *db, MDB_txn *txn, const char *email,
    size_t len, hkp_blockrec_t *rec)
{
    uint8_t d[HKP_BLOCK_MAIL_LEN];

    if (!db->have_blocked || len == 0)
        return MDB_NOTFOUND;
    hkp_serve_uid_digest((const uint8_t *) email, len, d);
    return find_kid(db, txn, KIND_MAIL, d, sizeof(d), rec);
}

int
hkp_block_find_id(hkp_db_t *db, MDB_txn *txn, const uint8_t *id,
    size_t idlen, hkp_blockrec_t *rec)
{
    if (!db->have_blocked)
        return MDB_NOTFOUND;
    switch (idlen) {
    case HKP_KEYID32_LEN:
        return find_kid(db, txn, KIND_KID32, id, HKP_KEYID32_LEN, rec);
    case HKP_KEYID_LEN:
        return find_kid(db, txn, KIND_KID64, id, HKP_KEYID_LEN, rec);
    case HKP_FPR_V4_LEN:
    case HKP_FPR_V6_LEN:
        return hkp_block_get(db, txn, id, idlen, rec);
    default:
        return MDB_NOTFOUND;
    }
}

/* 1 when p is the primary key or a subkey with a v4/v6 fingerprint (in
 * pk): the components a block names. */
static int
key_component(const hkp_pkt_t *p, hkp_pubkey_t *pk)
{
    const char *err;

    if (p->tag != HKP_TAG_PUBKEY && p->tag != HKP_TAG_PUBSUB)
        return 0;
    return hkp_pubkey_parse(p, pk, &err) == 0 && FPR_LEN_OK(pk->fpr_len);
}

int
hkp_block_key(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key,
    hkp_blockrec_t *rec)
{
    MDB_stat st;
    int rc;

    if (!db->have_blocked)
        return MDB_NOTFOUND;
    /* no block at all (the usual case): no fingerprint computed. EINVAL:
     * the handle was opened (nginx: ngx_hkp_block_refresh) after txn
     * began, so txn cannot see a block made since either */
    if ((rc = mdb_stat(txn, db->blocked, &st)) != 0)
        return rc == EINVAL ? MDB_NOTFOUND : rc;
    if (st.ms_entries == 0)
        return MDB_NOTFOUND;
    for (size_t i = 0; i < key->npkts; i++) {
        hkp_pubkey_t pk;

        if (!key_component(&key->pkts[i], &pk))
            continue;
        rc = hkp_block_get(db, txn, pk.fpr, pk.fpr_len, rec);
        if (rc != MDB_NOTFOUND)
            return rc;
    }
    return MDB_NOTFOUND;
}

/* ------------------------------------------------------------ block */

/* The e-mail address of user ID packet uid (if it has one), by its
 * digest: an e-mail lookup of it answers as one of its ID would. */
static int
put_email(hkp_db_t *db, MDB_txn *txn, const hkp_blockrec_t *rec,
    const hkp_pkt_t *uid)
{
    char addr[HKP_MAX_WORD_LEN + 1];
    uint8_t kb[KEY_MAX], d[HKP_BLOCK_MAIL_LEN];
    size_t n = hkp_uid_email(uid->body, uid->len, addr, sizeof(addr));
    MDB_val k, none = { 0, NULL };

    if (n == 0)
        return 0;
    hkp_serve_uid_digest((const uint8_t *) addr, n, d);
    k.mv_data = kb;
    k.mv_size = entry_key(kb, KIND_MAIL, d, sizeof(d), rec->fpr,
        rec->fpr_len);
    return mdb_put(txn, db->blocked, &k, &none, 0);
}

/* Remembers what the stored key (decoded) under `hash` was: its
 * fingerprints, key IDs and e-mail addresses, and its hash under every
 * profile. */
static int
remember_key(hkp_db_t *db, MDB_txn *txn, const hkp_blockrec_t *rec,
    const hkp_key_t *key, const uint8_t hash[HKP_HASH_LEN])
{
    int rc;

    for (size_t i = 0; i < key->npkts; i++) {
        hkp_pubkey_t pk;

        if (key->pkts[i].tag == HKP_TAG_UID) {
            if ((rc = put_email(db, txn, rec, &key->pkts[i])) != 0)
                return rc;
            continue;
        }
        if (!key_component(&key->pkts[i], &pk))
            continue;
        if ((rc = put_component(db, txn, rec->fpr, rec->fpr_len, pk.fpr,
                pk.fpr_len, pk.keyid)) != 0)
            return rc;
    }
    if ((rc = hkp_block_add_hash(db, txn, rec->fpr, rec->fpr_len, hash))
        != 0)
        return rc;
    for (size_t i = 1; i < HKP_PROFILE_MAX; i++) {
        MDB_val k = { HKP_HASH_LEN, (void *) hash }, v;
        if (!db->prof[i].have)
            continue;
        rc = mdb_get(txn, db->prof[i].ofkey, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;           /* dropped by that profile */
        if (rc != 0)
            return rc;
        if (v.mv_size == HKP_HASH_LEN
            && (rc = hkp_block_add_hash(db, txn, rec->fpr, rec->fpr_len,
                    v.mv_data)) != 0)
            return rc;
    }
    return 0;
}

/* Deletes one stored key the block names (remembering it first). */
static int
delete_one(hkp_db_t *db, MDB_txn *txn, const hkp_blockrec_t *rec,
    const uint8_t hash[HKP_HASH_LEN], void (*deleted)(void *ctx,
    const uint8_t *fpr, size_t len), void *ctx, char *err, size_t errlen)
{
    MDB_val k = { HKP_HASH_LEN, (void *) hash }, v;
    hkp_key_t key;
    hkp_pubkey_t pk;
    const char *perr;
    int rc = mdb_get(txn, db->keys, &k, &v);

    if (rc == MDB_NOTFOUND) {
        /* a dangling index entry: drop it, or the rounds never end */
        MDB_val fk = { rec->fpr_len, (void *) rec->fpr };
        rc = mdb_del(txn, db->fpr, &fk, &k);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (rc != 0)
        return rc;
    if (hkp_key_decode(v.mv_data, v.mv_size, &key, err, errlen) != 0)
        return HKP_ESTORED;
    rc = remember_key(db, txn, rec, &key, hash);
    if (rc == 0 && deleted != NULL
        && hkp_pubkey_parse(&key.pkts[0], &pk, &perr) == 0)
        deleted(ctx, pk.fpr, pk.fpr_len);
    hkp_key_free(&key);
    if (rc != 0)
        return rc;
    rc = hkp_db_del(db, txn, hash, err, errlen);
    return rc == 1 ? 0 : rc;
}

int
hkp_db_block(hkp_db_t *db, MDB_txn *txn, const hkp_blockrec_t *rec,
    int flags, size_t *ndeleted, void (*deleted)(void *ctx,
    const uint8_t *fpr, size_t len), void *ctx, hkp_blockrec_t *by,
    char *err, size_t errlen)
{
    uint8_t kb[KEY_MAX], vb[REC_MAX], kid[HKP_KEYID_LEN];
    uint8_t hashes[HKP_BLOCK_DEL_ROUND][HKP_HASH_LEN];
    hkp_blockrec_t other, upd;
    const hkp_blockrec_t *put = rec;
    MDB_val k, v;
    size_t n;
    int rc, exists;

    *ndeleted = 0;
    if (by == NULL)
        by = &other;
    snprintf(err, errlen, "%s", "");
    if (!db->have_blocked || db->words == NULL) {
        snprintf(err, errlen, "the database is not open for writing");
        return HKP_ERDONLY;
    }
    if (!hkp_fpr_keyid(rec->fpr, rec->fpr_len, kid)) {
        snprintf(err, errlen, "not a v4 or v6 fingerprint");
        return HKP_EKEY;
    }
    rc = hkp_block_get(db, txn, rec->fpr, rec->fpr_len, by);
    if (rc == 0 && (by->fpr_len != rec->fpr_len
                    || memcmp(by->fpr, rec->fpr, rec->fpr_len) != 0))
        return MDB_KEYEXIST;    /* part of a key blocked by another */
    if (rc != 0 && rc != MDB_NOTFOUND)
        goto fail;
    exists = rc == 0;

    /* a block that exists keeps its record (first time, who, reason);
     * HKP_BLOCK_UPDATE replaces only its reason */
    if (exists && (flags & HKP_BLOCK_UPDATE)) {
        upd = *by;
        memcpy(upd.pub, rec->pub, sizeof(upd.pub));
        memcpy(upd.note, rec->note, sizeof(upd.note));
        put = &upd;
    }
    if (!exists || put != rec) {
        k.mv_data = kb;
        k.mv_size = entry_key(kb, KIND_BLOCK, rec->fpr, rec->fpr_len, NULL,
            0);
        v.mv_data = vb;
        v.mv_size = rec_encode(put, vb);
        if ((rc = mdb_put(txn, db->blocked, &k, &v, 0)) != 0
            || (rc = put_component(db, txn, rec->fpr, rec->fpr_len,
                    rec->fpr, rec->fpr_len, kid)) != 0)
            goto fail;
    }

    /* every stored key with a component of this fingerprint, in rounds
     * (each deletion removes the key's index entries) */
    do {
        rc = hkp_db_find_id(db, txn, rec->fpr, rec->fpr_len, hashes,
            HKP_BLOCK_DEL_ROUND, &n);
        if (rc != 0 && rc != HKP_EMORE)     /* EMORE: the next round */
            goto fail;
        for (size_t i = 0; i < n; i++) {
            if ((rc = delete_one(db, txn, rec, hashes[i], deleted, ctx, err,
                    errlen)) != 0)
                goto fail;
            (*ndeleted)++;
        }
    } while (n > 0);
    if (exists && put != rec)
        *by = *put;
    return exists ? MDB_KEYEXIST : 0;

fail:
    if (err[0] == '\0')
        snprintf(err, errlen, "%s", hkp_strerror(rc));
    return rc;
}

/* ------------------------------------------------------------ unblock */

/* Does entry (k, v) belong to block fpr? */
static int
entry_of(const MDB_val *k, const MDB_val *v, const uint8_t *fpr, size_t len)
{
    const uint8_t *p = k->mv_data;

    switch (p[0]) {
    case KIND_FPR:
    case KIND_HASH:
        return v->mv_size == len && memcmp(v->mv_data, fpr, len) == 0;
    case KIND_KID64:
        return k->mv_size == 1 + HKP_KEYID_LEN + len
            && memcmp(p + 1 + HKP_KEYID_LEN, fpr, len) == 0;
    case KIND_KID32:
        return k->mv_size == 1 + HKP_KEYID32_LEN + len
            && memcmp(p + 1 + HKP_KEYID32_LEN, fpr, len) == 0;
    case KIND_MAIL:
        return k->mv_size == 1 + HKP_BLOCK_MAIL_LEN + len
            && memcmp(p + 1 + HKP_BLOCK_MAIL_LEN, fpr, len) == 0;
    case KIND_BLOCK:
        return k->mv_size == 1 + len && memcmp(p + 1, fpr, len) == 0;
    default:
        return 0;
    }
}

int
hkp_block_del(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr, size_t len,
    void (*hash)(void *ctx, const uint8_t h[HKP_HASH_LEN]), void *ctx)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t (*keys)[KEY_MAX] = NULL;
    size_t *klen = NULL, n = 0, cap = 0;
    int rc;

    if (!db->have_blocked)
        return MDB_NOTFOUND;
    if ((rc = rec_get(db, txn, fpr, len, NULL)) != 0)
        return rc;
    /* collect first, delete after: the scan never sees its own deletes */
    if ((rc = mdb_cursor_open(txn, db->blocked, &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        if (k.mv_size == 0 || k.mv_size > KEY_MAX || !entry_of(&k, &v, fpr,
                len))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            void *a = realloc(keys, nc * KEY_MAX), *b;
            if (a == NULL) {
                rc = HKP_ENOMEM;
                break;
            }
            keys = a;
            if ((b = realloc(klen, nc * sizeof(*klen))) == NULL) {
                rc = HKP_ENOMEM;
                break;
            }
            klen = b;
            cap = nc;
        }
        memcpy(keys[n], k.mv_data, k.mv_size);
        klen[n++] = k.mv_size;
        if (((uint8_t *) k.mv_data)[0] == KIND_HASH && hash != NULL)
            hash(ctx, (const uint8_t *) k.mv_data + 1);
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        MDB_val dk = { klen[i], keys[i] };
        rc = mdb_del(txn, db->blocked, &dk, NULL);
    }
    free(keys);
    free(klen);
    return rc;
}

/* ------------------------------------------------------------ list */

int
hkp_block_list(hkp_db_t *db, MDB_txn *txn,
    int (*cb)(void *ctx, const hkp_blockrec_t *rec), void *ctx)
{
    uint8_t first = KIND_BLOCK;
    MDB_cursor *cur;
    MDB_val k = { 1, &first }, v;
    hkp_blockrec_t rec;
    int rc;

    if (!db->have_blocked)
        return 0;
    if ((rc = mdb_cursor_open(txn, db->blocked, &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        const uint8_t *p = k.mv_data;
        if (p[0] != KIND_BLOCK)
            break;
        if (!FPR_LEN_OK(k.mv_size - 1)
            || (rc = rec_decode(&v, p + 1, k.mv_size - 1, &rec)) != 0)
        {
            rc = HKP_ESTORED;
            break;
        }
        if (cb(ctx, &rec) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

static int
count_cb(void *ctx, const hkp_blockrec_t *rec)
{
    (void) rec;
    (*(size_t *) ctx)++;
    return 0;
}

size_t
hkp_block_count(hkp_db_t *db, MDB_txn *txn)
{
    size_t n = 0;
    (void) hkp_block_list(db, txn, count_cb, &n);
    return n;
}

/* ------------------------------------------------------------ check */

static void
report_entry(void (*report)(void *ctx, const char *line), void *ctx,
    const char *what, const uint8_t *a, size_t alen, const uint8_t *b,
    size_t blen)
{
    char ha[2 * KEY_MAX + 1], hb[2 * HKP_FPR_MAX_LEN + 1], line[256];

    hkp_hex(a, alen < KEY_MAX ? alen : KEY_MAX, ha);
    if (blen > HKP_FPR_MAX_LEN)
        blen = HKP_FPR_MAX_LEN;
    hkp_hex(b, blen, hb);
    snprintf(line, sizeof(line), "blocked: %s %s (block %s)", what, ha, hb);
    report(ctx, line);
}

int
hkp_block_check(hkp_db_t *db, MDB_txn *txn,
    void (*report)(void *ctx, const char *line), void *ctx)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, found = 0;

    if (!db->have_blocked)
        return 0;
    if (mdb_cursor_open(txn, db->blocked, &cur) != 0)
        return -1;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        const uint8_t *p = k.mv_data, *bf = NULL;
        size_t blen = 0, idlen = 0;
        hkp_blockrec_t rec;
        uint8_t h[4][HKP_HASH_LEN], sks[HKP_HASH_LEN];
        size_t n = 0;
        int r;

        switch (k.mv_size > 0 ? p[0] : 0) {
        case KIND_BLOCK:
            if (!FPR_LEN_OK(k.mv_size - 1)
                || rec_decode(&v, p + 1, k.mv_size - 1, &rec) != 0)
            {
                report_entry(report, ctx, "record does not decode", p + 1,
                    k.mv_size - 1, NULL, 0);
                found++;
            }
            continue;
        case KIND_FPR:
            idlen = k.mv_size - 1;
            bf = v.mv_data;
            blen = v.mv_size;
            /* a key with this fingerprint must not be stored */
            if ((FPR_LEN_OK(idlen))
                && ((r = hkp_db_find_id(db, txn, p + 1, idlen, h, 4, &n)) == 0
                    || r == HKP_EMORE))
            {
                for (size_t i = 0; i < n; i++) {
                    MDB_val hk = { HKP_HASH_LEN, h[i] }, hv;
                    if (mdb_get(txn, db->keys, &hk, &hv) != 0)
                        continue;
                    report_entry(report, ctx, "key stored with fingerprint",
                        p + 1, idlen, bf, blen);
                    found++;
                    break;
                }
            }
            break;
        case KIND_HASH:
            bf = v.mv_data;
            blen = v.mv_size;
            if (k.mv_size == 1 + HKP_HASH_LEN
                && hkp_db_find_any(db, txn, p + 1, sks) == 0)
            {
                report_entry(report, ctx, "key stored with hash", p + 1,
                    HKP_HASH_LEN, bf, blen);
                found++;
            }
            break;
        case KIND_KID64:
        case KIND_KID32:
        case KIND_MAIL:
            idlen = p[0] == KIND_KID64 ? HKP_KEYID_LEN
                  : p[0] == KIND_KID32 ? HKP_KEYID32_LEN : HKP_BLOCK_MAIL_LEN;
            bf = p + 1 + idlen;
            blen = k.mv_size > 1 + idlen ? k.mv_size - 1 - idlen : 0;
            break;
        default:
            report_entry(report, ctx, "unknown entry", p, k.mv_size, NULL,
                0);
            found++;
            continue;
        }
        /* every other entry names a block that exists */
        r = FPR_LEN_OK(blen) ? rec_get(db, txn, bf, blen, NULL) : MDB_NOTFOUND;
        if (r != 0) {
            report_entry(report, ctx, "entry names no block", p,
                k.mv_size, bf, blen);
            found++;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? found : -1;
}
