/*
 * The last reconciliation with each peer: written by reconsvc when a
 * session (and its fetches) is over, read by the nginx module for
 * op=stats. A fixed binary record in the LMDB `meta` database, the way
 * stub_status reads counters from a struct: nobody parses text.
 *
 *   key    "recon:<host> <port>"  (HKP_META_PEER; host and port as in the
 *                                  membership file, port in decimal)
 *   value  HKP_PEER_RECORD_LEN bytes, integers big-endian:
 *      0   4  magic "HKPS"
 *      4   1  version (HKP_PEER_VERSION)
 *      5   1  role length (<= HKP_PEER_ROLE_MAX)
 *      6   2  flags: which of the optional fields are set (HKP_PEER_HAS_*)
 *      8   8  time: Unix time the session ended (<= HKP_PEER_MAX_TIME)
 *     16   8  we_miss: hashes found missing here
 *     24   8  they_miss: hashes we sent the peer in Elements
 *     32   8  fetched: keys received and stored
 *     40   8  duration in microseconds, connect to end of the fetches
 *     48   2  outcome length (<= HKP_PEER_OUTCOME_MAX)
 *     50   1  profile length (<= HKP_PEER_PROFILE_MAX; 0 = none)
 *     51   1  zero
 *     52  16  role ("initiator": we connected; "acceptor": the peer did),
 *             zero-padded
 *     68  16  profile: the hash profile the session used (profile.h),
 *             zero-padded
 *     84 256  outcome ("ok" or why the session failed), zero-padded
 *   version 2 adds (HKP_PEER_RECORD_LEN; version 1 ends at 340,
 *   HKP_PEER_RECORD_V1_LEN, and is still read, these fields 0):
 *    340   8  sessions_ok: sessions with this peer that ended well   } HAS_
 *    348   8  sessions_failed: the others (cut off, timeouts, ...)   } COUNTS
 *    356   8  fetched_total: keys fetched from it in all sessions    }
 *    364   8  last_ok: Unix time the last good session ended (0 never)}
 *    372   8  fetch_total: hashes of the fetch in progress          } HAS_
 *    380   8  fetch_done: keys of it fetched (stored) so far         } FETCH
 *    388   8  fetch_rate: keys per second, so far                    }
 *    396   8  fetch_queue: hashes still to ask (this fetch and the   }
 *             queued ones) when written
 *   The counters are kept by reading the previous record; a record with
 *   HKP_PEER_HAS_FETCH is written every few seconds during a long fetch
 *   (reconsvc/fetch.h FETCH_PROGRESS_SECS), the final one without it.
 *
 * A value of any other length, magic or version, a length or time over
 * its bound, an unknown flag or a non-zero pad byte is not a record
 * (HKP_EPEERREC): a reader shows "never". The strings are bytes, not
 * checked as UTF-8: a reader cleans them for its output.
 *
 * Errors LMDB style: 0, an MDB_* code (MDB_NOTFOUND: no record), or a
 * negative HKP_E* code of hkp_error.h (HKP_EPEERREC; HKP_EINVAL: a name
 * or field too long); hkp_strerror() names either.
 */
#ifndef HKP_PEER_H
#define HKP_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>
#include "membership.h"
#include "store.h"

#define HKP_META_PEER         "recon:"
#define HKP_META_PEER_LEN     (sizeof(HKP_META_PEER) - 1)
/* "<host> <port>": a membership host, a blank, up to 5 digits */
#define HKP_PEER_NAME_MAX     (HKP_MEMBERSHIP_MAX_HOST + 1 + 5)

#define HKP_PEER_MAGIC        "HKPS"
#define HKP_PEER_VERSION      2
#define HKP_PEER_VERSION_1    1
#define HKP_PEER_ROLE_MAX     16
#define HKP_PEER_PROFILE_MAX  16
#define HKP_PEER_OUTCOME_MAX  256
#define HKP_PEER_RECORD_V1_LEN (84 + HKP_PEER_OUTCOME_MAX)
#define HKP_PEER_RECORD_LEN   (HKP_PEER_RECORD_V1_LEN + 8 * 8)
/* latest time accepted: 9999-12-31T23:59:59Z */
#define HKP_PEER_MAX_TIME     253402300799ULL

#define HKP_PEER_HAS_ROLE       0x01
#define HKP_PEER_HAS_WE_MISS    0x02
#define HKP_PEER_HAS_THEY_MISS  0x04
#define HKP_PEER_HAS_FETCHED    0x08
#define HKP_PEER_HAS_DURATION   0x10
#define HKP_PEER_HAS_ALL_V1     0x1f
#define HKP_PEER_HAS_COUNTS     0x20    /* version 2 */
#define HKP_PEER_HAS_FETCH      0x40    /* version 2: a fetch in progress */
#define HKP_PEER_HAS_ALL        0x3f    /* a finished session */
#define HKP_PEER_FLAGS          0x7f    /* every flag there is */

typedef struct {
    uint64_t    time;
    uint64_t    we_miss;
    uint64_t    they_miss;
    uint64_t    fetched;
    uint64_t    duration_us;
    uint64_t    sessions_ok, sessions_failed, fetched_total, last_ok;
    uint64_t    fetch_total, fetch_done, fetch_rate, fetch_queue;
    unsigned    flags;                           /* HKP_PEER_HAS_* */
    size_t      role_len;
    char        role[HKP_PEER_ROLE_MAX + 1];     /* NUL-terminated too */
    size_t      profile_len;                     /* 0 = none */
    char        profile[HKP_PEER_PROFILE_MAX + 1];
    size_t      outcome_len;
    char        outcome[HKP_PEER_OUTCOME_MAX + 1];
} hkp_peer_t;

/* Fills p->role/profile/outcome from C strings (NULL = empty), cut at
 * their maximum. */
void hkp_peer_set_text(hkp_peer_t *p, const char *role, const char *profile,
    const char *outcome);

/* The record of p in out[HKP_PEER_RECORD_LEN]; 0 or HKP_EINVAL. */
int  hkp_peer_encode(const hkp_peer_t *p, uint8_t *out);
/* A stored value into *p; 0 or HKP_EPEERREC. */
int  hkp_peer_decode(const void *buf, size_t len, hkp_peer_t *p);

/* "<host> <port>" into out[HKP_PEER_NAME_MAX + 1]; its length, or 0 when
 * host is longer than HKP_MEMBERSHIP_MAX_HOST or port is 0. */
size_t hkp_peer_name(char *out, const char *host, size_t host_len,
    unsigned port);

/* Stores p under name[0..len) in the caller's write txn. */
int  hkp_db_peer_put(hkp_db_t *db, MDB_txn *txn, const char *name,
    size_t len, const hkp_peer_t *p);
/* The record of name[0..len): 0, MDB_NOTFOUND, HKP_EPEERREC, ... */
int  hkp_db_peer_get(hkp_db_t *db, MDB_txn *txn, const char *name,
    size_t len, hkp_peer_t *p);

/*
 * Calls fn for every stored peer, in key order, with its name (not
 * NUL-terminated) and its record (NULL when the value is not one). fn
 * returns 0 to go on; another value stops the walk and is returned.
 * 0 at the end, or an MDB_* code.
 */
typedef int hkp_peer_fn(void *arg, const char *name, size_t len,
    const hkp_peer_t *p);
int  hkp_db_peer_each(hkp_db_t *db, MDB_txn *txn, hkp_peer_fn *fn,
    void *arg);

#endif
