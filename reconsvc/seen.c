/*
 * The seen-cache (seen.h).
 */
#include <stdio.h>
#include <string.h>

#include "block.h"
#include "log.h"
#include "seen.h"

#define SEEN_KEY_MAX  (HKP_HASH_LEN + SEEN_PEER_LEN)
#define SEEN_VAL_LEN  16      /* u64 first seen, u32 wait, u32 times */

static size_t
seen_key(uint8_t *k, const uint8_t h[HKP_HASH_LEN], const char *peer)
{
    size_t pl = strlen(peer);
    if (pl > SEEN_PEER_LEN)
        pl = SEEN_PEER_LEN;
    memcpy(k, h, HKP_HASH_LEN);
    memcpy(k + HKP_HASH_LEN, peer, pl);
    return HKP_HASH_LEN + pl;
}

static uint64_t
get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static void
set_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t) v;
        v >>= 8;
    }
}

int
seen_open(hkp_db_t *db, MDB_dbi *dbi)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);

    if (rc != 0)
        return rc;
    if ((rc = mdb_dbi_open(txn, SEEN_DB, MDB_CREATE, dbi)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

size_t
seen_filter(hkp_db_t *db, MDB_dbi dbi, const char *peer, hkp_hash_t *h,
    size_t n, int64_t now)
{
    MDB_txn *txn;
    size_t out = 0;

    if (n == 0 || hkp_db_rtxn(db, &txn) != 0)
        return n;
    for (size_t i = 0; i < n; i++) {
        uint8_t kb[SEEN_KEY_MAX];
        MDB_val k = { seen_key(kb, h[i], peer), kb }, v;
        if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == SEEN_VAL_LEN
            && (int64_t) get_be(v.mv_data, 8) > now)
            continue;           /* still waiting */
        if (block_hash_blocked(db, txn, h[i]))
            continue;           /* takedown (block.h): never asked for */
        if (out != i)
            memcpy(h[out], h[i], HKP_HASH_LEN);
        out++;
    }
    mdb_txn_abort(txn);
    return out;
}

int
seen_record(hkp_db_t *db, MDB_dbi dbi, const char *peer, int prof,
    const hkp_hash_t *h, size_t n, int64_t now, seen_why_fn *why,
    const void *arg, size_t *nvain)
{
    const hkp_profile_t *p = hkp_profile_at((size_t) prof);
    MDB_txn *txn;
    int rc;

    *nvain = 0;
    if (n == 0)
        return 0;
    if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
        return rc;
    /* takedown (block.h): hashes of keys refused as blocked go to their
     * block, for good, not to the backoff below */
    if ((rc = block_note_flush(db, txn)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t kb[SEEN_KEY_MAX], vb[SEEN_VAL_LEN], sks[HKP_HASH_LEN];
        MDB_val k = { seen_key(kb, h[i], peer), kb }, v;
        uint64_t wait = SEEN_WAIT_MIN, times = 1;
        int r = hkp_db_prof_find(db, txn, (size_t) prof, h[i], sks);

        if (r == 0)
            continue;           /* stored under the profile: fine */
        if (r != MDB_NOTFOUND) {
            rc = r;
            break;
        }
        if (block_hash_blocked(db, txn, h[i]))
            continue;           /* takedown: remembered by its block */
        rc = mdb_get(txn, dbi, &k, &v);
        if (rc == 0 && v.mv_size == SEEN_VAL_LEN) {
            wait = get_be((const uint8_t *) v.mv_data + 8, 4) * 2;
            if (wait > SEEN_WAIT_MAX)
                wait = SEEN_WAIT_MAX;
            times = get_be((const uint8_t *) v.mv_data + 12, 4) + 1;
        } else if (rc != 0 && rc != MDB_NOTFOUND)
            break;
        if (times == 1) {
            char hex[2 * HKP_HASH_LEN + 1];
            for (int j = 0; j < HKP_HASH_LEN; j++)
                snprintf(hex + 2 * j, 3, "%02X", h[i][j]);
            rlog("seen-cache: peer %s offered %s, but after fetching it no "
                "stored key has that %s hash: %s; not asked again for "
                "%lu s", peer, hex, p->name, why != NULL ? why(arg, h[i])
                : "?", (unsigned long) wait);
        }
        set_be(vb, (uint64_t) now + wait, 8);
        set_be(vb + 8, wait, 4);
        set_be(vb + 12, times > UINT32_MAX ? UINT32_MAX : times, 4);
        v.mv_size = SEEN_VAL_LEN;
        v.mv_data = vb;
        if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
            break;
        (*nvain)++;
        rc = 0;
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}
