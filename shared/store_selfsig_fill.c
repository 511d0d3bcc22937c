/*
 * Self-signature records written later (store.h: the fill mark and the
 * batches of a fill). hkp_db_put with selfsig_later leaves the mark
 * (hkp_store_selfsig_defer); `reconsvc run` scans a batch in a read txn,
 * builds its records in a thread of its own (no database there) and
 * writes them in a short write txn (hkp_db_selfsig_batch_apply), each
 * only onto the bytes it was built from; hkp_db_selfsig_fill
 * (store_selfsig.c) uses the mark and the passes too.
 */
#include <stdlib.h>
#include <string.h>

#include "hkp_error.h"
#include "selfsig.h"
#include "store_int.h"

#define MARK_VERSION   1
#define MARK_PASS      0x1
#define MARK_AGAIN     0x2
#define MARK_CURSOR    0x4

static MDB_val
mark_key(void)
{
    MDB_val k = { sizeof(HKP_META_SELFSIG_FILL) - 1,
                  (void *) HKP_META_SELFSIG_FILL };
    return k;
}

int
hkp_db_selfsig_mark_get(hkp_db_t *db, MDB_txn *txn, hkp_selfsig_mark_t *m)
{
    MDB_val        k = mark_key(), v;
    const uint8_t *p;
    int            rc;

    memset(m, 0, sizeof(*m));
    if ((rc = mdb_get(txn, db->meta, &k, &v)) != 0)
        return rc;
    p = v.mv_data;
    if (v.mv_size != HKP_SELFSIG_MARK_LEN || p[0] != MARK_VERSION)
        return 0;                       /* pending, no pass: start over */
    m->pass = (p[1] & MARK_PASS) != 0;
    m->again = (p[1] & MARK_AGAIN) != 0;
    m->has_cursor = (p[1] & MARK_CURSOR) != 0;
    m->passno = (uint32_t) p[2] << 24 | (uint32_t) p[3] << 16
        | (uint32_t) p[4] << 8 | p[5];
    memcpy(m->cursor, p + 6, HKP_HASH_LEN);
    m->filled = hkp_store_get_u64be(p + 22);
    m->rate = hkp_store_get_u64be(p + 30);
    m->updated = (int64_t) hkp_store_get_u64be(p + 38);
    return 0;
}

int
hkp_db_selfsig_mark_put(hkp_db_t *db, MDB_txn *txn,
    const hkp_selfsig_mark_t *m)
{
    uint8_t p[HKP_SELFSIG_MARK_LEN];
    MDB_val k = mark_key(), v = { sizeof(p), p };

    memset(p, 0, sizeof(p));
    p[0] = MARK_VERSION;
    p[1] = (uint8_t) ((m->pass ? MARK_PASS : 0) | (m->again ? MARK_AGAIN : 0)
        | (m->has_cursor ? MARK_CURSOR : 0));
    p[2] = (uint8_t) (m->passno >> 24);
    p[3] = (uint8_t) (m->passno >> 16);
    p[4] = (uint8_t) (m->passno >> 8);
    p[5] = (uint8_t) m->passno;
    if (m->has_cursor)
        memcpy(p + 6, m->cursor, HKP_HASH_LEN);
    hkp_store_put_u64be(p + 22, m->filled);
    hkp_store_put_u64be(p + 30, m->rate);
    hkp_store_put_u64be(p + 38, (uint64_t) m->updated);
    return mdb_put(txn, db->meta, &k, &v, 0);
}

int
hkp_db_selfsig_mark_del(hkp_db_t *db, MDB_txn *txn)
{
    MDB_val k = mark_key();
    int     rc = mdb_del(txn, db->meta, &k, NULL);

    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
hkp_db_selfsig_pass_begin(hkp_db_t *db, MDB_txn *txn, hkp_selfsig_mark_t *m)
{
    m->pass = 1;
    m->again = 0;
    m->passno++;
    m->has_cursor = 0;
    memset(m->cursor, 0, sizeof(m->cursor));
    return hkp_db_selfsig_mark_put(db, txn, m);
}

int
hkp_store_selfsig_defer(hkp_db_t *db, MDB_txn *txn)
{
    hkp_selfsig_mark_t m;
    int                rc = hkp_db_selfsig_mark_get(db, txn, &m);

    if (rc == MDB_NOTFOUND) {
        memset(&m, 0, sizeof(m));
        return hkp_db_selfsig_mark_put(db, txn, &m);
    }
    if (rc != 0)
        return rc;
    if (!m.pass || m.again)
        return 0;                       /* the next pass sees this key */
    m.again = 1;
    return hkp_db_selfsig_mark_put(db, txn, &m);
}

int
hkp_db_selfsig_missing(hkp_db_t *db, MDB_txn *txn, size_t *n)
{
    MDB_stat ks, ss;
    int      rc;

    *n = 0;
    if ((rc = mdb_stat(txn, db->keys, &ks)) != 0)
        return rc;
    if (!db->have_selfsig) {
        *n = ks.ms_entries;
        return 0;
    }
    if ((rc = mdb_stat(txn, db->selfsig, &ss)) != 0)
        return rc;
    *n = ks.ms_entries > ss.ms_entries ? ks.ms_entries - ss.ms_entries : 0;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Batches                                                              */

void
hkp_selfsig_batch_clear(hkp_selfsig_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->items[i].bytes);
        free(b->items[i].rec);
    }
    b->n = 0;
    b->bytes = b->scanned = 0;
    b->have_last = b->end = b->from_cursor = 0;
}

void
hkp_selfsig_batch_free(hkp_selfsig_batch_t *b)
{
    hkp_selfsig_batch_clear(b);
    free(b->items);
    b->items = NULL;
    b->cap = 0;
}

/* A copy of stored key (k, v) as the batch's next item. 0 or HKP_ENOMEM. */
static int
batch_add(hkp_selfsig_batch_t *b, const MDB_val *k, const MDB_val *v)
{
    hkp_selfsig_item_t *it;

    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        hkp_selfsig_item_t *p = realloc(b->items, nc * sizeof(*p));
        if (p == NULL)
            return HKP_ENOMEM;
        b->items = p;
        b->cap = nc;
    }
    it = &b->items[b->n];
    memset(it, 0, sizeof(*it));
    if ((it->bytes = malloc(v->mv_size ? v->mv_size : 1)) == NULL)
        return HKP_ENOMEM;
    memcpy(it->hash, k->mv_data, HKP_HASH_LEN);
    memcpy(it->bytes, v->mv_data, v->mv_size);
    it->len = v->mv_size;
    b->bytes += v->mv_size;
    b->n++;
    return 0;
}

int
hkp_db_selfsig_batch_scan(hkp_db_t *db, MDB_txn *txn,
    const hkp_selfsig_mark_t *m, size_t max_keys, size_t max_bytes,
    size_t max_scan, hkp_selfsig_batch_t *b)
{
    MDB_cursor *cur;
    MDB_val     k, v, rec;
    int         rc;

    hkp_selfsig_batch_clear(b);
    b->passno = m->passno;
    b->from_cursor = m->has_cursor;
    memcpy(b->from, m->cursor, HKP_HASH_LEN);
    if (!db->have_selfsig) {
        b->end = 1;
        return 0;
    }
    if ((rc = mdb_cursor_open(txn, db->keys, &cur)) != 0)
        return rc;
    k.mv_size = HKP_HASH_LEN;
    k.mv_data = (void *) m->cursor;
    rc = mdb_cursor_get(cur, &k, &v, m->has_cursor ? MDB_SET_RANGE
                                                   : MDB_FIRST);
    if (rc == 0 && m->has_cursor && k.mv_size == HKP_HASH_LEN
        && memcmp(k.mv_data, m->cursor, HKP_HASH_LEN) == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (b->n >= max_keys || b->scanned >= max_scan
            || (b->n > 0 && b->bytes + v.mv_size > max_bytes))
            break;
        b->scanned++;
        if (k.mv_size != HKP_HASH_LEN)
            continue;
        memcpy(b->last, k.mv_data, HKP_HASH_LEN);
        b->have_last = 1;
        rc = hkp_db_selfsig_get(db, txn, k.mv_data, &rec);
        if (rc == 0)
            continue;
        if (rc != MDB_NOTFOUND || (rc = batch_add(b, &k, &v)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        b->end = 1;
        rc = 0;
    }
    return rc;
}

void
hkp_selfsig_batch_build(hkp_selfsig_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        hkp_selfsig_item_t *it = &b->items[i];
        hkp_key_t           key;
        char                reason[HKP_REASON_LEN];

        free(it->rec);
        it->rec = NULL;
        if (hkp_key_decode(it->bytes, it->len, &key, reason, sizeof(reason))
            != 0)
            continue;                   /* check reports it */
        it->reclen = hkp_selfsig_len(key.npkts);
        if ((it->rec = malloc(it->reclen)) != NULL
            && hkp_selfsig_build(&key, it->rec) != 0)
        {
            free(it->rec);
            it->rec = NULL;
        }
        hkp_key_free(&key);
    }
}

/* The record of item it, if its key is still stored as it was and has
 * none. *wrote 1 when written. 0 or a code. */
static int
apply_one(hkp_db_t *db, MDB_txn *txn, const hkp_selfsig_item_t *it,
    int *wrote)
{
    MDB_val k = { HKP_HASH_LEN, (void *) it->hash }, v, r;
    int     rc;

    *wrote = 0;
    if (it->rec == NULL)
        return 0;
    if ((rc = mdb_get(txn, db->keys, &k, &v)) != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;     /* replaced meanwhile */
    if (v.mv_size != it->len || memcmp(v.mv_data, it->bytes, it->len) != 0)
        return 0;
    if ((rc = hkp_db_selfsig_get(db, txn, it->hash, &r)) != MDB_NOTFOUND)
        return rc;                      /* 0: written meanwhile */
    r.mv_size = it->reclen;
    r.mv_data = it->rec;
    if ((rc = mdb_put(txn, db->selfsig, &k, &r, 0)) != 0)
        return rc;
    *wrote = 1;
    return 0;
}

int
hkp_db_selfsig_batch_apply(hkp_db_t *db, MDB_txn *txn,
    const hkp_selfsig_batch_t *b, uint64_t rate, int64_t now,
    size_t *written, int *finished)
{
    hkp_selfsig_mark_t m;
    int                rc, w;

    *written = 0;
    *finished = 0;
    if (!db->have_selfsig)
        return HKP_ERDONLY;
    for (size_t i = 0; i < b->n; i++) {
        if ((rc = apply_one(db, txn, &b->items[i], &w)) != 0)
            return rc;
        *written += (size_t) w;
    }
    rc = hkp_db_selfsig_mark_get(db, txn, &m);
    if (rc == MDB_NOTFOUND) {
        *finished = 1;                  /* another fill ended it */
        return 0;
    }
    if (rc != 0)
        return rc;
    m.filled += *written;
    m.rate = rate;
    m.updated = now;
    /* the cursor moves only from where this batch was scanned */
    if (m.pass && m.passno == b->passno && m.has_cursor == b->from_cursor
        && (!m.has_cursor
            || memcmp(m.cursor, b->from, HKP_HASH_LEN) == 0))
    {
        if (b->end) {
            if (!m.again) {
                *finished = 1;
                return hkp_db_selfsig_mark_del(db, txn);
            }
            return hkp_db_selfsig_pass_begin(db, txn, &m);
        }
        if (b->have_last) {
            m.has_cursor = 1;
            memcpy(m.cursor, b->last, HKP_HASH_LEN);
        }
    }
    return hkp_db_selfsig_mark_put(db, txn, &m);
}
