/*
 * What a recon peer gets for a hash it asks for (/pks/hashquery, store.h):
 * for an SKS hash the stored key as it is (not for the id of a key the
 * sks profile drops); for the hash of another
 * profile the database keeps, the form that profile hashes of the stored
 * key its map names (profile.h), so that the peer, storing those bytes,
 * gets the hash it asked for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hkp_error.h"
#include "store_int.h"

/* The stored key under SKS hash h: 0, MDB_NOTFOUND or a code. */
static int
stored(hkp_db_t *db, MDB_txn *txn, const uint8_t h[HKP_HASH_LEN],
    MDB_val *val)
{
    MDB_val k = { HKP_HASH_LEN, (void *) h };

    return mdb_get(txn, db->keys, &k, val);
}

int
hkp_db_get_form(hkp_db_t *db, MDB_txn *txn, const uint8_t hash[HKP_HASH_LEN],
    MDB_val *val, uint8_t **owned)
{
    unsigned mask;
    int      rc;

    *owned = NULL;
    /* an SKS hash: a stored key the sks profile keeps */
    if ((rc = stored(db, txn, hash, val)) != MDB_NOTFOUND
        && (rc != 0 || (rc = hkp_db_sks_out(db, txn, hash)) != 1))
        return rc;
    if ((rc = hkp_db_profiles_readable(db, txn, &mask)) != 0)
        return rc;
    for (size_t i = 1; i < HKP_PROFILE_MAX; i++) {
        const hkp_profile_t *p = db->prof[i].p;
        MDB_val              hk = { HKP_HASH_LEN, (void *) hash }, sv;
        hkp_key_t            key;
        hkp_pkt_t           *pkts;
        size_t               n, len;
        const char          *why;
        char                 kerr[HKP_REASON_LEN];
        uint8_t             *buf, *end;

        if (!(mask & (1u << i)))
            continue;
        rc = mdb_get(txn, db->prof[i].byhash, &hk, &sv);
        /* EINVAL: txn began before hkp_db_profiles_refresh() opened it */
        if (rc == MDB_NOTFOUND || rc == EINVAL)
            continue;
        if (rc != 0)
            return rc;
        if (sv.mv_size != HKP_HASH_LEN)
            return HKP_EPTREE;
        if ((rc = stored(db, txn, sv.mv_data, val)) != 0)
            return rc == MDB_NOTFOUND ? HKP_EPTREE : rc;  /* names no key */
        if (p->form == NULL)
            return 0;
        if (hkp_key_decode(val->mv_data, val->mv_size, &key, kerr,
                sizeof(kerr)) != 0)
            return HKP_ESTORED;
        rc = p->form(p, &key, &pkts, &n, &why);
        if (rc != HKP_PROFILE_HASHED) {
            hkp_key_free(&key);
            /* in the profile's map, yet dropped by it (or out of memory) */
            return rc == HKP_PROFILE_DROPPED ? HKP_EPTREE : HKP_ENOMEM;
        }
        len = 0;
        for (size_t j = 0; j < n; j++)
            len += hkp_pkt_encoded_len(&pkts[j]);
        buf = malloc(len > 0 ? len : 1);
        if (buf == NULL) {
            free(pkts);
            hkp_key_free(&key);
            return HKP_ENOMEM;
        }
        end = buf;
        for (size_t j = 0; j < n; j++)
            end = hkp_pkt_write(end, &pkts[j]);
        free(pkts);
        hkp_key_free(&key);
        val->mv_data = buf;
        val->mv_size = (size_t) (end - buf);
        *owned = buf;
        return 0;
    }
    return MDB_NOTFOUND;
}
