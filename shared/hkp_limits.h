/*
 * Named limits. Every size read from untrusted input is checked against one
 * of these before it is used. Operators can lower (some can raise) the
 * runtime ones through nginx directives / reconsvc options; these are the
 * defaults and the hard ceilings.
 */
#ifndef HKP_LIMITS_H
#define HKP_LIMITS_H

/* One OpenPGP packet body (a 4096-bit RSA key is ~530 B; photo IDs are the
 * big ones). */
#define HKP_MAX_PACKET_LEN        (1024 * 1024)
/* A whole key (all packets, binary). */
#define HKP_MAX_KEY_LEN           (4 * 1024 * 1024)
/* Packets in one key. */
#define HKP_MAX_PACKETS_PER_KEY   20000
/* User IDs + user attributes in one key. */
#define HKP_MAX_UIDS_PER_KEY      1000
/* Signatures on one user ID / subkey / directly on the primary. */
#define HKP_MAX_SIGS_PER_UID      10000
/* Subkeys in one key. */
#define HKP_MAX_SUBKEYS_PER_KEY   1000
/* Packets in the tail of one key, after where SKS's grammar stops (key.h:
 * a user ID after a subkey, a marker): edge structure, so a merge may
 * compare tails packet by packet. */
#define HKP_MAX_TAIL_PACKETS      256
/* A keydump file or upload decoded to binary. */
#define HKP_MAX_BLOB_LEN          (64 * 1024 * 1024)
/* Keys parsed out of one blob before giving up. */
#define HKP_MAX_KEYS_PER_BLOB     1000000
/* A user ID packet that is indexed for word search (longer ones are
 * truncated for indexing only). */
#define HKP_MAX_UID_INDEX_LEN     2048
/* Words indexed per key. */
#define HKP_MAX_WORDS_PER_KEY     4096
/* Bytes of one indexed word (LMDB keys are at most 511 bytes). */
#define HKP_MAX_WORD_LEN          128
/* Words in one search query. */
#define HKP_MAX_QUERY_WORDS       16
/* Length of the decoded search string. */
#define HKP_MAX_SEARCH_LEN        1024
/* Default cap on keys in one lookup answer. */
#define HKP_DEFAULT_MAX_RESULTS   500
/* Default cap on candidate keys examined for one word search. */
#define HKP_DEFAULT_MAX_CANDIDATES 20000
/* Default HTTP body limit for /pks/add (the peering guide's proxy figure). */
#define HKP_DEFAULT_MAX_BODY      (8 * 1024 * 1024)
/* Hashes in one /pks/hashquery request. */
#define HKP_MAX_HASHQUERY         1000

/* LMDB */
#define HKP_DB_DEFAULT_MAPSIZE    ((size_t) 64 * 1024 * 1024 * 1024)
/* Growing the map when a write does not fit (MDB_MAP_FULL; store_map.c):
 * by the map's own size, at least STEP_MIN and at most STEP_MAX at a
 * time, never past MAP_MAX. The map is address space, not disk: the file
 * grows only with the data. */
#define HKP_DB_MAP_STEP_MIN       ((size_t) 64 * 1024 * 1024)
#define HKP_DB_MAP_STEP_MAX       ((size_t) 16 * 1024 * 1024 * 1024)
#define HKP_DB_MAP_MAX            ((size_t) 1024 * 1024 * 1024 * 1024)
#define HKP_DB_MAXREADERS         1024
#define HKP_DB_MAXDBS             32

#endif
