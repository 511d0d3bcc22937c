/*
 * Inside the store (store.h): what its three parts share. store.c: open,
 * close and the write path (hkp_db_put); store_index.c: the index entries
 * and the lookups by ID and word; store_meta.c: the "meta" records (key
 * count, per-hour put counts). Not for use outside them. Error returns are
 * codes (hkp_error.h).
 */
#ifndef HKP_STORE_INT_H
#define HKP_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define HKP_META_SCHEMA  "schema"
#define HKP_META_COUNT   "count"

static inline void
hkp_store_put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) v;
        v >>= 8;
    }
}

static inline uint64_t
hkp_store_get_u64be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* meta "count" += delta (not below 0). 0 or an LMDB code. */
int hkp_store_count_add(hkp_db_t *db, MDB_txn *txn, int64_t delta);

/* Counts one key stored in the hour of `now` (0 = time(NULL)) as new or
 * merged (meta "hist:"). 0 or an LMDB code. */
int hkp_store_hist_add(hkp_db_t *db, MDB_txn *txn, int merged, int64_t now);

/* Adds (add = 1) or deletes every index entry of `key` stored under
 * `hash`; the same enumeration both ways, so a delete removes exactly what
 * the add wrote. 0, HKP_EKEY with reason[rlen] set, or a database code. */
int hkp_store_index_key(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key,
    const uint8_t hash[HKP_HASH_LEN], int add, char *reason, size_t rlen);

/* The dup values (hashes) of `k` in `dbi`, in a malloc'd array. 0 or a
 * code. */
int hkp_store_collect_dups(MDB_txn *txn, MDB_dbi dbi, const void *k,
    size_t klen, hkp_hash_t **out, size_t *n);

/* Profile trees (store_profile.c) for a key just stored under key->hash,
 * and for a stored key deleted (by SKS hash): every maintained profile
 * but sks. 0 or a code. */
int hkp_store_prof_add(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key);
int hkp_store_prof_del(hkp_db_t *db, MDB_txn *txn,
    const uint8_t hash[HKP_HASH_LEN]);
/* The "sksout" database (store_sksout.c): open it (create: make it; a
 * missing one leaves db->have_sksout 0, and no key with a tail is stored);
 * mark (add 1) or unmark a stored key the sks profile drops. 0 or a
 * code (marking without the database: HKP_EPROFILE). */
int hkp_store_sksout_open(hkp_db_t *db, MDB_txn *txn, int create);
/* Whether it is open (read from any thread), and opening it in a
 * read-only txn once reconsvc has made it (hkp_db_profiles_refresh; the
 * handle counts once that txn commits). 0 or a code. */
int hkp_store_sksout_have(hkp_db_t *db);
int hkp_store_sksout_refresh(hkp_db_t *db, MDB_txn *txn);
int hkp_store_sksout_mark(hkp_db_t *db, MDB_txn *txn,
    const uint8_t hash[HKP_HASH_LEN], int add);
/* 1 when a maintained profile other than sks keeps `key` (its hash is
 * one, not DROPPED), 0 when none does, or a code. (store_profile.c) */
int hkp_store_prof_keeps(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key);
/* Opens the "redact" database (create: make it; else a missing one
 * leaves db->have_redact 0). 0 or a code. (store_redact.c) */
int hkp_store_redact_open(hkp_db_t *db, MDB_txn *txn, int create);
/* Opens the profile databases (create: make them). 0 or a code. */
int hkp_store_prof_open(hkp_db_t *db, MDB_txn *txn, int create);

/* Opens the optional database `name` (create: make it); *have = whether
 * it is open. A missing one without create is no error. 0 or a code.
 * (store.c) */
int hkp_store_dbi_optional(MDB_txn *txn, const char *name, int create,
    MDB_dbi *dbi, int *have);
/* report(ctx, "<what>: key <hash hex> <why>"): 1, one difference. */
long hkp_store_report_key(void (*report)(void *ctx, const char *line),
    void *ctx, const char *what, const uint8_t hash[HKP_HASH_LEN],
    const char *why);

/* The "selfsig" database (store_selfsig.c): open it (create: make it; a
 * missing one leaves db->have_selfsig 0 and nothing is recorded); write
 * the record of a key just stored under key->hash (verifying its
 * self-signatures), or with later leave it to a fill (the fill mark:
 * hkp_store_selfsig_defer); delete the record of a removed key. 0 or a
 * code. */
int hkp_store_selfsig_open(hkp_db_t *db, MDB_txn *txn, int create);
int hkp_store_selfsig_put(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key,
    int later);
/* A key was stored without its record (store_selfsig_fill.c): the mark
 * made, or `again` set when a pass has begun. 0 or a code. */
int hkp_store_selfsig_defer(hkp_db_t *db, MDB_txn *txn);
int hkp_store_selfsig_del(hkp_db_t *db, MDB_txn *txn,
    const uint8_t hash[HKP_HASH_LEN]);

/* Logs a key stored new or merged by hkp_db_put (its primary key
 * fingerprint) in the prefix log of the day of `now` (0 = time(NULL)),
 * pruning old days as it goes (store_prefixlog.c). 0 or an LMDB code. */
int hkp_store_prefixlog_add(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr,
    size_t fpr_len, int64_t now);

#endif
