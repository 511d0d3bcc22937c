/*
 * Takedowns (issue 10 item 3): the "blocked" database of the store's
 * environment.
 *
 * A block names one v4 (20-byte) or v6 (32-byte) fingerprint, of a
 * primary key or of a subkey. hkp_db_block() deletes every stored key
 * that has a component (primary or subkey) with that fingerprint, through
 * the store's delete path (keys, index entries, every profile's tree), and
 * remembers what those keys were: their other fingerprints, key IDs,
 * e-mail addresses and recon hashes (every maintained profile). From then on hkp_db_put()
 * refuses a key with any component fingerprint that is remembered
 * (HKP_EBLOCKED, reason "blocked by the operator: <public reason>"), the
 * nginx module answers lookups naming one with 410 (or 404), and recon
 * does not ask peers for the remembered hashes. hkp_block_del() (unblock)
 * forgets all of it at once.
 *
 * Database "blocked" (plain, no dupsort), the key is a kind byte + fields:
 *   'B' fpr             -> the block record (below)
 *   'F' fpr             -> block fpr: a fingerprint of a blocked key (the
 *                          block's own one included)
 *   'L' kid64 blockfpr  -> empty: the 64-bit key ID of such a fingerprint
 *   'S' kid32 blockfpr  -> empty: its 32-bit key ID
 *   'M' digest blockfpr -> empty: the SHA-256 (hkp_serve_uid_digest) of
 *                          the lower-cased e-mail address of a user ID of
 *                          a deleted key (hkp_uid_email); the address
 *                          itself is not kept
 *   'H' hash (16 B)     -> block fpr: a recon hash of a blocked key (any
 *                          profile), deleted here or refused from a peer
 * Record: u8 version (HKP_BLOCK_REC_VERSION), u64 BE Unix time, then
 * user, public reason and private note, each a u16 BE length + bytes.
 *
 * A reason as the operator writes it: "public text | private note" (split
 * at the first '|', both trimmed); only the public part is ever served.
 *
 * Returns, LMDB style: 0 found / done, MDB_NOTFOUND for "no such block"
 * (every lookup), or an error code (hkp_error.h). A database opened
 * read-only from before this database existed has none: every lookup
 * says MDB_NOTFOUND.
 */
#ifndef HKP_STORE_BLOCK_H
#define HKP_STORE_BLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "key.h"
#include "store.h"

#define HKP_BLOCK_DB           "blocked"
#define HKP_BLOCK_REC_VERSION  1
/* Bytes of a public reason: it must fit the writer's refusal reason
 * (HKP_BLOCK_REFUSAL + reason < HKP_REASON_LEN). */
#define HKP_BLOCK_PUBLIC_MAX   120
/* Bytes of a private note and of the "who" field. */
#define HKP_BLOCK_NOTE_MAX     512
#define HKP_BLOCK_USER_MAX     128
/* The refusal reason's text before the public reason. */
#define HKP_BLOCK_REFUSAL      "blocked by the operator"
/* Bytes naming an e-mail address ('M' entries): a SHA-256. */
#define HKP_BLOCK_MAIL_LEN     32
/* hkp_db_block flags: replace the reason (public and private) of a block
 * that exists (its first time and user are kept). */
#define HKP_BLOCK_UPDATE       0x1
/* Stored keys read per round while deleting what a block names (the
 * rounds go on until none is left). */
#define HKP_BLOCK_DEL_ROUND    64

typedef struct {
    uint8_t   fpr[32];
    size_t    fpr_len;                      /* 20 or 32 */
    int64_t   when;                         /* Unix time it was blocked */
    char      user[HKP_BLOCK_USER_MAX + 1]; /* who blocked it */
    char      pub[HKP_BLOCK_PUBLIC_MAX + 1];/* public reason ("" = none) */
    char      note[HKP_BLOCK_NOTE_MAX + 1]; /* private note, never served */
} hkp_blockrec_t;

/* "ABCD...", "0xABCD...", spaces allowed: 40 or 64 hex digits -> fpr.
 * 0, or -1 (not a v4/v6 fingerprint). */
int  hkp_block_fpr_parse(const char *s, uint8_t fpr[32], size_t *len);

/* Splits "public | private" into rec->pub and rec->note (trimmed).
 * 0, or -1 with why in err[errlen] (too long, control characters). */
int  hkp_block_reason_parse(const char *text, hkp_blockrec_t *rec,
    char *err, size_t errlen);

/* "blocked by the operator: <public>" (or without ": ..." when there is
 * no public reason) into buf[len]. */
void hkp_block_reason_str(const hkp_blockrec_t *rec, char *buf, size_t len);

/* Opens (create: makes) the database in txn; sets db->blocked and
 * db->have_blocked. 0 or a code (MDB_NOTFOUND is not one: have_blocked
 * stays 0). */
int  hkp_block_open(hkp_db_t *db, MDB_txn *txn, int create);

/*
 * The block: adds a block on rec->fpr and deletes every stored key with a
 * component of that fingerprint, remembering their fingerprints, key IDs,
 * addresses and hashes. *ndeleted = keys deleted; when `deleted` is not
 * NULL, deleted(ctx, primary fpr, len) is called for each. 0: blocked now.
 * MDB_KEYEXIST: the fingerprint was blocked already, *by is that block:
 *   - another one (a subkey of a blocked key): nothing is changed;
 *   - its own: the record is kept as it was (first time, user, reason),
 *     or with HKP_BLOCK_UPDATE in flags its reason is replaced by rec's
 *     (*by is the record as it is now); stored keys it names are deleted
 *     all the same (there should be none).
 * Or a code with err[errlen].
 */
int  hkp_db_block(hkp_db_t *db, MDB_txn *txn, const hkp_blockrec_t *rec,
    int flags, size_t *ndeleted, void (*deleted)(void *ctx,
    const uint8_t *fpr, size_t len), void *ctx, hkp_blockrec_t *by,
    char *err, size_t errlen);

/* The block covering fpr (its own, or the one of the key it belonged
 * to). 0 found (*rec), MDB_NOTFOUND, or a code. */
int  hkp_block_get(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr,
    size_t len, hkp_blockrec_t *rec);

/* Unblock: deletes the block on exactly this fingerprint and every entry
 * remembered for it; hash(ctx, h) is called first for each remembered
 * hash (may be NULL). 0, MDB_NOTFOUND when there is no such block, or a
 * code. */
int  hkp_block_del(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr,
    size_t len, void (*hash)(void *ctx, const uint8_t h[HKP_HASH_LEN]),
    void *ctx);

/* Calls cb for every block, in fingerprint order; a non-zero return
 * stops. 0 or a code. */
int  hkp_block_list(hkp_db_t *db, MDB_txn *txn,
    int (*cb)(void *ctx, const hkp_blockrec_t *rec), void *ctx);

/* Remembers hash h as one of the key blocked by blockfpr (a key refused
 * from a peer). 0 or a code. */
int  hkp_block_add_hash(hkp_db_t *db, MDB_txn *txn, const uint8_t *blockfpr,
    size_t len, const uint8_t h[HKP_HASH_LEN]);

/* Lookups: 0 blocked (*rec, may be NULL), MDB_NOTFOUND, or a code. */
/* by a recon hash (any profile) */
int  hkp_block_find_hash(hkp_db_t *db, MDB_txn *txn,
    const uint8_t h[HKP_HASH_LEN], hkp_blockrec_t *rec);
/* by a 32-bit (4), 64-bit (8) key ID or a v4/v6 fingerprint (20, 32) */
int  hkp_block_find_id(hkp_db_t *db, MDB_txn *txn, const uint8_t *id,
    size_t idlen, hkp_blockrec_t *rec);
/* by an e-mail address, lower-cased (hkp_uid_email), len bytes */
int  hkp_block_find_email(hkp_db_t *db, MDB_txn *txn, const char *email,
    size_t len, hkp_blockrec_t *rec);
/* a key: its primary or any subkey fingerprint (hkp_db_put's check) */
int  hkp_block_key(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key,
    hkp_blockrec_t *rec);

/* Verifies the database against the keys (reconsvc check): a stored key
 * that is blocked, a record that does not decode, an entry naming no
 * block; report(ctx, line) for each. The number found, or -1. */
int  hkp_block_check(hkp_db_t *db, MDB_txn *txn,
    void (*report)(void *ctx, const char *line), void *ctx);

/* Number of blocks (0 without the database). */
size_t hkp_block_count(hkp_db_t *db, MDB_txn *txn);

#endif
