/*
 * What a recon peer gets for a hash it asks for (/pks/hashquery, store.h):
 * for an SKS hash the stored key as it is; for the hash of another
 * profile the database keeps, the form that profile hashes of the stored
 * key its map names (profile.h), so that the peer, storing those bytes,
 * gets the hash it asked for.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

int
hkp_db_get_form(hkp_db_t *db, MDB_txn *txn, const uint8_t hash[HKP_HASH_LEN],
    MDB_val *val, uint8_t **owned)
{
    unsigned mask;
    int      rc;

    *owned = NULL;
    if ((rc = hkp_db_get(db, txn, hash, val)) != 1)
        return rc;
    if (hkp_db_profiles_readable(db, txn, &mask) != 0)
        return -1;
    for (size_t i = 1; i < HKP_PROFILE_MAX; i++) {
        const hkp_profile_t *p = db->prof[i].p;
        uint8_t              sks[HKP_HASH_LEN];
        hkp_key_t            key;
        hkp_pkt_t           *pkts;
        size_t               n, len;
        const char          *why;
        char                 kerr[HKP_REASON_LEN];
        uint8_t             *buf, *end;

        if (!(mask & (1u << i)))
            continue;
        if ((rc = hkp_db_prof_find(db, txn, i, hash, sks)) == 1)
            continue;
        if (rc != 0 || (rc = hkp_db_get(db, txn, sks, val)) != 0)
            return rc == 1 ? -1 : rc;    /* a map names no stored key */
        if (p->form == NULL)
            return 0;
        if (hkp_key_decode(val->mv_data, val->mv_size, &key, kerr,
                sizeof(kerr)) != 0)
            return -1;
        rc = p->form(p, &key, &pkts, &n, &why);
        if (rc != HKP_PROFILE_HASHED) {
            hkp_key_free(&key);
            return -1;    /* in the profile's map, yet dropped by it */
        }
        len = 0;
        for (size_t j = 0; j < n; j++)
            len += hkp_pkt_encoded_len(&pkts[j]);
        buf = malloc(len > 0 ? len : 1);
        if (buf == NULL) {
            free(pkts);
            hkp_key_free(&key);
            return -1;
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
    return 1;
}
