/*
 * The seen-cache: hashes a peer offered that, once fetched, were not
 * stored under the session's profile (the peer did not send a key for
 * them, or its key hashes differently here: filters differ; each is
 * logged once with the reason the fetcher saw). They are not
 * asked for again until a wait is over, which doubles each time from
 * SEEN_WAIT_MIN to SEEN_WAIT_MAX; each is logged once, when first seen.
 *
 * LMDB database "seen" in the store's environment:
 *   key   16-byte hash, then the peer's membership line ("host port")
 *   value u64 BE Unix time the wait ends, u32 BE the wait (s), u32 BE
 *         times the hash was fetched in vain
 */
#ifndef RECONSVC_SEEN_H
#define RECONSVC_SEEN_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "store.h"

#define SEEN_DB          "seen"
#define SEEN_WAIT_MIN    3600                 /* s, after the first time */
#define SEEN_WAIT_MAX    (7 * 24 * 3600)      /* s */
#define SEEN_PEER_LEN    300                  /* longest peer name kept */

/* Opens (creates) the database in its own write txn. 0 or a code. */
int    seen_open(hkp_db_t *db, MDB_dbi *dbi);

/* Removes from h[0..n) (order kept) the hashes `peer` offered in vain
 * whose wait is not over at `now`; returns how many are left. A read
 * error leaves the set as it is. */
size_t seen_filter(hkp_db_t *db, MDB_dbi dbi, const char *peer,
    hkp_hash_t *h, size_t n, int64_t now);

/* Why hash h came to nothing (a line of text), for the log. */
typedef const char *seen_why_fn(const void *arg, const uint8_t *h);

/* Of h[0..n) (hashes fetched from `peer` for profile index prof), records
 * those no stored key has under that profile, and logs the first time for
 * each, with why(arg, hash) as its reason (the fetcher's: not returned by
 * the peer; returned, but hashing to X here; refused by our parser or
 * store with reason R; dropped by the profile; merged into another key).
 * In its own write txn. *nvain = how many. 0 or a code. */
int    seen_record(hkp_db_t *db, MDB_dbi dbi, const char *peer, int prof,
    const hkp_hash_t *h, size_t n, int64_t now, seen_why_fn *why,
    const void *arg, size_t *nvain);

#endif
