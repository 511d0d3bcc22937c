/*
 * Redacted user IDs (store.h "redact"): which user IDs of which keys no
 * answer shows. The serve view (serve.h) applies them; the keys stay as
 * they are stored.
 */
#include <errno.h>
#include <string.h>

#include "serve.h"
#include "store_int.h"

/* 1 + fingerprint + digest */
_Static_assert(HKP_REDACT_DIGEST_LEN == HKP_SERVE_DIGEST_LEN,
    "a redaction digest is the serve view's");

#define REDACT_KEY_MAX  (1 + HKP_FPR_MAX_LEN + HKP_SERVE_DIGEST_LEN)

int
hkp_store_redact_open(hkp_db_t *db, MDB_txn *txn, int create)
{
    int rc = mdb_dbi_open(txn, "redact", create ? MDB_CREATE : 0,
                          &db->redact);

    db->have_redact = rc == 0;
    if (rc == MDB_NOTFOUND && !create)
        return 0;           /* made before redactions: there are none */
    return rc;
}

/* The key for (fpr, uid): its length, or 0 for a bad fingerprint. */
static size_t
redact_key(const uint8_t *fpr, size_t fprlen, const uint8_t *uid,
    size_t uidlen, uint8_t k[REDACT_KEY_MAX])
{
    if (fprlen != HKP_FPR_V4_LEN && fprlen != HKP_FPR_V6_LEN)
        return 0;
    k[0] = (uint8_t) fprlen;
    memcpy(k + 1, fpr, fprlen);
    if (uid != NULL)
        hkp_serve_uid_digest(uid, uidlen, k + 1 + fprlen);
    return 1 + fprlen + HKP_SERVE_DIGEST_LEN;
}

int
hkp_db_redact_add(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr,
    size_t fprlen, const uint8_t *uid, size_t uidlen, int64_t now)
{
    uint8_t  k[REDACT_KEY_MAX];
    MDB_val  key, val;
    int      rc;

    /* an environment made before redactions: the first one makes the
     * database (in this write txn) */
    if (!db->have_redact) {
        if ((rc = mdb_dbi_open(txn, "redact", MDB_CREATE, &db->redact)) != 0)
            return rc == EACCES ? HKP_ERDONLY : rc;
        db->have_redact = 1;
    }
    if (uidlen == 0 || uidlen > HKP_REDACT_MAX_UID)
        return HKP_EKEY;
    key.mv_size = redact_key(fpr, fprlen, uid, uidlen, k);
    key.mv_data = k;
    if (key.mv_size == 0)
        return HKP_EKEY;

    val.mv_size = 8 + uidlen;
    val.mv_data = NULL;
    rc = mdb_put(txn, db->redact, &key, &val, MDB_NOOVERWRITE | MDB_RESERVE);
    if (rc == MDB_KEYEXIST)
        return 1;
    if (rc != 0)
        return rc;
    hkp_store_put_u64be(val.mv_data, (uint64_t) now);
    memcpy((uint8_t *) val.mv_data + 8, uid, uidlen);
    return 0;
}

int
hkp_db_redact_del(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr,
    size_t fprlen, const uint8_t *uid, size_t uidlen)
{
    uint8_t  k[REDACT_KEY_MAX];
    MDB_val  key;
    int      rc;

    if (!db->have_redact)
        return HKP_ERDONLY;
    key.mv_size = redact_key(fpr, fprlen, uid, uidlen, k);
    key.mv_data = k;
    if (key.mv_size == 0)
        return HKP_EKEY;
    rc = mdb_del(txn, db->redact, &key, NULL);
    return rc == MDB_NOTFOUND ? 1 : rc;
}

int
hkp_db_redact_has(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr,
    size_t fprlen, const uint8_t *uid, size_t uidlen)
{
    uint8_t  k[REDACT_KEY_MAX];
    MDB_val  key, val;

    if (!db->have_redact)
        return 0;
    key.mv_size = redact_key(fpr, fprlen, uid, uidlen, k);
    key.mv_data = k;
    return key.mv_size != 0 && mdb_get(txn, db->redact, &key, &val) == 0;
}

int
hkp_db_redact_get(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr,
    size_t fprlen, uint8_t (*digests)[HKP_SERVE_DIGEST_LEN], size_t max,
    size_t *n)
{
    uint8_t     k[REDACT_KEY_MAX];
    size_t      plen;
    MDB_val     key, val;
    MDB_cursor *cur;
    int         rc;

    *n = 0;
    if (!db->have_redact
        || (fprlen != HKP_FPR_V4_LEN && fprlen != HKP_FPR_V6_LEN))
        return 0;
    plen = 1 + fprlen;
    memset(k, 0, sizeof(k));
    (void) redact_key(fpr, fprlen, NULL, 0, k);
    key.mv_size = plen;
    key.mv_data = k;

    if ((rc = mdb_cursor_open(txn, db->redact, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && *n < max) {
        if (key.mv_size != plen + HKP_SERVE_DIGEST_LEN
            || memcmp(key.mv_data, k, plen) != 0)
            break;
        memcpy(digests[(*n)++], (uint8_t *) key.mv_data + plen,
               HKP_SERVE_DIGEST_LEN);
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
hkp_db_redact_each(hkp_db_t *db, MDB_txn *txn, hkp_redact_cb cb, void *ctx)
{
    MDB_val     key, val;
    MDB_cursor *cur;
    int         rc, stop = 0;

    if (!db->have_redact)
        return 0;
    if ((rc = mdb_cursor_open(txn, db->redact, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    while (rc == 0 && !stop) {
        const uint8_t *kp = key.mv_data, *vp = val.mv_data;
        size_t         fl = key.mv_size ? kp[0] : 0;

        if ((fl == HKP_FPR_V4_LEN || fl == HKP_FPR_V6_LEN)
            && key.mv_size == 1 + fl + HKP_SERVE_DIGEST_LEN
            && val.mv_size > 8)
        {
            stop = cb(ctx, kp + 1, fl, vp + 8, val.mv_size - 8,
                      (int64_t) hkp_store_get_u64be(vp));
        } else {
            stop = cb(ctx, key.mv_size > 1 ? kp + 1 : NULL,
                      key.mv_size > 1 ? key.mv_size - 1 : 0, NULL, 0,
                      val.mv_size >= 8 ? (int64_t) hkp_store_get_u64be(vp)
                                       : 0);
        }
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}
