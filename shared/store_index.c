/*
 * The store's index entries (store.h: fpr, kid64, kid32, word) and the
 * lookups through them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "hkp_error.h"
#include "hkp_limits.h"
#include "store_int.h"

/* Longest whole e-mail address indexed (LMDB keys are at most 511 B). */
#define EMAIL_MAX    256

/* ------------------------------------------------------------------ */
/* Index entries                                                        */

/* A set of distinct words (open addressing over offsets into buf). */
typedef struct {
    uint8_t   *buf;          /* words, each prefixed by a length byte */
    size_t     used, cap;
    uint32_t  *slot;         /* offset+1 into buf, 0 = empty */
    size_t     nslot;        /* power of two */
    size_t     n;            /* words stored */
    int        oom;
} wordset_t;


static int
wordset_grow(wordset_t *s)
{
    size_t nslot = s->nslot ? s->nslot * 2 : 256;
    uint32_t *slot = calloc(nslot, sizeof(*slot));
    if (slot == NULL)
        return -1;
    for (size_t i = 0; i < s->nslot; i++) {
        uint32_t o = s->slot[i];
        if (o == 0)
            continue;
        const uint8_t *w = s->buf + o - 1;
        size_t j = hkp_fnv1a(w + 1, w[0]) & (nslot - 1);
        while (slot[j] != 0)
            j = (j + 1) & (nslot - 1);
        slot[j] = o;
    }
    free(s->slot);
    s->slot = slot;
    s->nslot = nslot;
    return 0;
}

/* 0 added or already present, 1 set full, -1 out of memory. */
static int
wordset_add(wordset_t *s, const uint8_t *w, size_t len)
{
    size_t j;

    if (len == 0 || len > HKP_MAX_WORD_LEN || len > 255)
        return 0;
    if ((s->n + 1) * 2 > s->nslot && wordset_grow(s) != 0)
        return -1;
    j = hkp_fnv1a(w, len) & (s->nslot - 1);
    while (s->slot[j] != 0) {
        const uint8_t *x = s->buf + s->slot[j] - 1;
        if (x[0] == len && memcmp(x + 1, w, len) == 0)
            return 0;
        j = (j + 1) & (s->nslot - 1);
    }
    if (s->n >= HKP_MAX_WORDS_PER_KEY)
        return 1;
    if (s->used + 1 + len > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->used + 1 + len)
            cap *= 2;
        uint8_t *b = realloc(s->buf, cap);
        if (b == NULL)
            return -1;
        s->buf = b;
        s->cap = cap;
    }
    s->buf[s->used] = (uint8_t) len;
    memcpy(s->buf + s->used + 1, w, len);
    s->slot[j] = (uint32_t) s->used + 1;
    s->used += 1 + len;
    s->n++;
    return 0;
}

static int
wordset_cb(void *ctx, const uint8_t *word, size_t len)
{
    wordset_t *s = ctx;
    int r = wordset_add(s, word, len);
    if (r < 0) {
        s->oom = 1;
        return 2;
    }
    return r;   /* 1 = full: stop */
}

static void
wordset_free(wordset_t *s)
{
    free(s->buf);
    free(s->slot);
}

/* Adds (add=1) or deletes one dup entry. Duplicates on add and missing
 * entries on delete are fine (two subkeys may share a key ID). */
static int
index_op(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
    const uint8_t hash[HKP_HASH_LEN], int add)
{
    MDB_val key = { klen, (void *) k }, val = { HKP_HASH_LEN, (void *) hash };
    int rc;

    if (add) {
        rc = mdb_put(txn, dbi, &key, &val, MDB_NODUPDATA);
        if (rc == MDB_KEYEXIST)
            rc = 0;
    } else {
        rc = mdb_del(txn, dbi, &key, &val);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    return rc;
}

static int
index_pubkey(hkp_db_t *db, MDB_txn *txn, const hkp_pubkey_t *pk,
    const uint8_t hash[HKP_HASH_LEN], int add)
{
    int rc;
    if ((pk->fpr_len == HKP_FPR_V4_LEN || pk->fpr_len == HKP_FPR_V6_LEN)
        && (rc = index_op(txn, db->fpr, pk->fpr, pk->fpr_len, hash, add))
           != 0)
        return rc;
    if ((rc = index_op(txn, db->kid64, pk->keyid, 8, hash, add)) != 0)
        return rc;
    return index_op(txn, db->kid32, pk->keyid + 4, 4, hash, add);
}

int
hkp_store_index_key(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key,
    const uint8_t hash[HKP_HASH_LEN], int add, char *reason, size_t rlen)
{
    wordset_t ws;
    int full = 0, ret;
    hkp_pubkey_t pk;
    const char *err;

    memset(&ws, 0, sizeof(ws));
    if (key->npkts == 0 || key->pkts[0].tag != HKP_TAG_PUBKEY) {
        snprintf(reason, rlen, "key does not start with a public key "
            "packet");
        return HKP_EKEY;
    }
    if (hkp_pubkey_parse(&key->pkts[0], &pk, &err) != 0) {
        snprintf(reason, rlen, "%s", err);
        return HKP_EKEY;
    }
    if ((ret = index_pubkey(db, txn, &pk, hash, add)) != 0)
        return ret;

    for (size_t i = 1; i < key->npkts; i++) {
        const hkp_pkt_t *p = &key->pkts[i];
        if (p->tag == HKP_TAG_PUBSUB) {
            if (hkp_pubkey_parse(p, &pk, &err) != 0)
                continue;       /* unparseable subkeys are not indexed */
            if ((ret = index_pubkey(db, txn, &pk, hash, add)) != 0)
                goto out;
        } else if (p->tag == HKP_TAG_UID && !full) {
            size_t len = p->len < HKP_MAX_UID_INDEX_LEN ? p->len
                                                        : HKP_MAX_UID_INDEX_LEN;
            char email[EMAIL_MAX];
            size_t elen;
            int r = hkp_words_split(db->words, p->body, len, wordset_cb, &ws,
                NULL);
            if (ws.oom) {
                ret = HKP_ENOMEM;
                goto out;
            }
            if (r == 1) {
                full = 1;
                continue;
            }
            if (r != 0) {
                snprintf(reason, rlen, "word tokenizer failed");
                ret = HKP_EKEY;
                goto out;
            }
            elen = hkp_uid_email(p->body, len, email, sizeof(email));
            if (elen > 0) {
                r = wordset_add(&ws, (const uint8_t *) email, elen);
                if (r < 0) {
                    ret = HKP_ENOMEM;
                    goto out;
                }
                if (r == 1)
                    full = 1;
            }
        }
    }

    ret = 0;
    for (size_t o = 0; o < ws.used && ret == 0; o += 1 + ws.buf[o])
        ret = index_op(txn, db->word, ws.buf + o + 1, ws.buf[o], hash, add);
out:
    wordset_free(&ws);
    return ret;
}

/* Collects the dup values (hashes) of `k` in `dbi` into a malloc array. */
int
hkp_store_collect_dups(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
    hkp_hash_t **out, size_t *n)
{
    MDB_cursor *cur;
    MDB_val key = { klen, (void *) k }, val;
    hkp_hash_t *arr = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);
    while (rc == 0) {
        if (val.mv_size == HKP_HASH_LEN) {
            if (cnt == cap) {
                size_t nc = cap ? cap * 2 : 4;
                void *a = realloc(arr, nc * HKP_HASH_LEN);
                if (a == NULL) {
                    free(arr);
                    mdb_cursor_close(cur);
                    return HKP_ENOMEM;
                }
                arr = a;
                cap = nc;
            }
            memcpy(arr[cnt++], val.mv_data, HKP_HASH_LEN);
        }
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
        free(arr);
        return rc;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Lookups                                                              */

int
hkp_db_find_id(hkp_db_t *db, MDB_txn *txn, const uint8_t *id, size_t idlen,
    hkp_hash_t *hashes, size_t max, size_t *n)
{
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k = { idlen, (void *) id }, v;
    int rc, ret = 0;

    *n = 0;
    switch (idlen) {
    case HKP_KEYID32_LEN: dbi = db->kid32; break;
    case HKP_KEYID_LEN:   dbi = db->kid64; break;
    case HKP_FPR_V4_LEN:
    case HKP_FPR_V6_LEN:  dbi = db->fpr; break;
    default: return HKP_EINVAL;
    }
    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    while (rc == 0) {
        /* Dup values of one key are a sorted set: no duplicates. */
        if (v.mv_size == HKP_HASH_LEN) {
            if (*n >= max) {
                ret = HKP_EMORE;
                break;
            }
            memcpy(hashes[(*n)++], v.mv_data, HKP_HASH_LEN);
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    if (ret == 0 && rc != MDB_NOTFOUND)
        return rc;
    return ret;
}

int
hkp_db_find_words(hkp_db_t *db, MDB_txn *txn, const uint8_t **words,
    const size_t *lens, size_t nwords, size_t max_candidates,
    hkp_hash_t *hashes, size_t max, size_t *n)
{
    MDB_cursor *cur = NULL, *chk = NULL;
    size_t rarest = 0, best = 0;
    MDB_val k, v;
    int rc, ret;

    *n = 0;
    if (nwords == 0)
        return 0;
    for (size_t i = 0; i < nwords; i++) {
        /* Nothing longer than an indexable word or e-mail is stored. */
        if (lens[i] == 0 || lens[i] >= EMAIL_MAX)
            return 0;
    }
    if ((rc = mdb_cursor_open(txn, db->word, &cur)) != 0)
        return rc;
    for (size_t i = 0; i < nwords; i++) {
        size_t cnt;
        k.mv_size = lens[i];
        k.mv_data = (void *) words[i];
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
        if (rc == MDB_NOTFOUND) {
            ret = 0;
            goto out;
        }
        if (rc != 0 || (rc = mdb_cursor_count(cur, &cnt)) != 0) {
            ret = rc;
            goto out;
        }
        if (i == 0 || cnt < best) {
            best = cnt;
            rarest = i;
        }
    }
    if (best > max_candidates) {
        ret = HKP_ECANDIDATES;
        goto out;
    }
    if (nwords > 1 && (ret = mdb_cursor_open(txn, db->word, &chk)) != 0) {
        chk = NULL;
        goto out;
    }

    k.mv_size = lens[rarest];
    k.mv_data = (void *) words[rarest];
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    while (rc == 0) {
        int all = v.mv_size == HKP_HASH_LEN;
        for (size_t i = 0; all && i < nwords; i++) {
            MDB_val k2, v2;
            int r2;
            if (i == rarest)
                continue;
            k2.mv_size = lens[i];
            k2.mv_data = (void *) words[i];
            v2 = v;
            r2 = mdb_cursor_get(chk, &k2, &v2, MDB_GET_BOTH);
            if (r2 == MDB_NOTFOUND)
                all = 0;
            else if (r2 != 0) {
                ret = r2;
                goto out;
            }
        }
        if (all) {
            if (*n >= max) {
                ret = HKP_EMORE;
                goto out;
            }
            memcpy(hashes[(*n)++], v.mv_data, HKP_HASH_LEN);
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    ret = rc == MDB_NOTFOUND ? 0 : rc;
out:
    if (chk != NULL)
        mdb_cursor_close(chk);
    mdb_cursor_close(cur);
    return ret;
}
