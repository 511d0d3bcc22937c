/*
 * The LMDB schema and the one write path.
 *
 * One environment (a directory), named databases:
 *   keys   SKS hash (16 B)                -> canonical key (hkp_key_encode)
 *   fpr    fingerprint (20 or 32 B) of primary keys and subkeys -> hash (dupsort)
 *   kid64  64-bit key ID (8 B), primary and subkeys -> hash (dupsort)
 *   kid32  32-bit key ID (4 B, the low half of kid64) -> hash (dupsort)
 *   word   folded word, or a whole lower-cased e-mail address -> hash (dupsort)
 *   meta   "schema" -> "1"; "count" -> u64 BE number of keys;
 *          "hist:" + u32 BE UTC hour (time / 3600) -> u64 BE keys new,
 *          u64 BE keys updated (merged) in that hour, counted by
 *          hkp_db_put() (HKP_PUT_UNCHANGED is not counted); hours older
 *          than HKP_HIST_KEEP_HOURS are pruned when a new hour starts;
 *          "recon:<host> <port>" -> reconsvc's last session (peer.h);
 *          "heartbeat" -> reconsvc's heartbeat, a fixed record: u64 BE
 *          Unix time of the last beat, u64 BE time reconsvc started
 *          (written every HKP_HEARTBEAT_SECS by `reconsvc run`);
 *          "selfsig-fill" -> the fill mark: self-signature records an
 *          import left for later (below: HKP_META_SELFSIG_FILL)
 *   ptree  SKS recon prefix tree nodes (ptree.h): every hash in keys but
 *          those in sksout, no other; a writer open builds it if it is
 *          empty while keys exist
 *   sksout ids of the stored keys the sks profile drops (-> empty): keys
 *          with a tail SKS refuses (key.h), stored only while another
 *          maintained profile keeps them (store_sksout.c)
 *   per other hash profile P (profile.h; store_profile.c):
 *   ptree.P  P's prefix tree: every hash in phash.P, no other
 *   phash.P  P's hash of a stored key (16 B) -> its SKS hash
 *   pkey.P   SKS hash -> P's hash; no entry when P drops the key (or its
 *            P hash is a sample point or already another key's)
 *   meta "profiles" -> the profiles maintained, "sks,hockeypuck" (absent =
 *          "sks"): hkp_db_put keeps the trees of each in step in its txn
 *   prefixlog  per UTC day, the first HKP_PREFIXLOG_PREFIX_LEN bytes of the
 *          fingerprint of every key hkp_db_put() stored new or merged that
 *          day (HKPv2's prefix log; store_prefixlog.c has the records and
 *          the bounds); absent in environments made before it, until a
 *          process that creates databases (reconsvc) opens them
 *   redact  user IDs hidden from every answer (store_redact.c): key = 1
 *          octet fingerprint length + primary fingerprint (20 or 32 B) +
 *          SHA-256 of the user ID packet body (serve.h); value = u64 BE
 *          Unix time of the redaction + the user ID text. The keys, their
 *          indexes and trees are not touched: recon still sees them.
 *   blocked  takedowns (store_block.h): blocked fingerprints, what the
 *            keys deleted for them were; hkp_db_put refuses those keys
 *
 * Every write goes through hkp_db_put(), in a write transaction: the
 * writer (writer.h) owns it and its batching; tests call hkp_db_put()
 * directly. Errors are codes (hkp_error.h): 0, an MDB_* code (or an errno
 * value), or an HKP_E* code; hkp_strerror() names each.
 *
 * Files: store.c (open, close, hkp_db_put, hkp_db_del), store_index.c
 * (index entries, hkp_db_find_id/words), store_meta.c (count and "hist:"
 * records), store_prefixlog.c (the prefix log), store_block.c (the
 * "blocked" database, store_block.h; store_block_text.c its text forms),
 * store_selfsig.c (the "selfsig" database), store_selfsig_fill.c (its
 * records written later: the fill mark, batches).
 */
#ifndef HKP_STORE_H
#define HKP_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>
#include "hkp_error.h"
#include "hkp_limits.h"
#include "key.h"
#include "profile.h"
#include "ptree.h"
#include "words.h"

#define HKP_SCHEMA_VERSION  "1"

#define HKP_DB_RDONLY  0x1   /* open read-only (nginx workers) */
#define HKP_DB_NOSYNC  0x2   /* writer: MDB_NOSYNC (offline bulk import only;
                                call hkp_db_sync() before closing) */
#define HKP_DB_NOMETASYNC 0x8 /* writer: MDB_NOMETASYNC (one fsync per
                                commit; a crash may undo the last commit,
                                never tear the database) */
#define HKP_DB_WRITEMAP 0x10 /* writer: MDB_WRITEMAP (with HKP_DB_NOSYNC, an
                                import into a database no other process
                                has open: no page copies, no pwrite; the
                                file is the map size, sparse, until
                                hkp_db_trim()) */
#define HKP_DB_NOCREATE 0x4  /* writer that needs an existing, initialised
                                environment (nginx workers): nothing is
                                created, and the open uses a read txn, so
                                it never waits for the writer lock */

/* meta key prefix of the per-hour put counts, and how long they are kept
 * (31 days: SKS-style stats show 7 days) */
#define HKP_META_HIST        "hist:"
#define HKP_META_HIST_LEN    (sizeof(HKP_META_HIST) - 1 + 4)
#define HKP_META_HIST_VAL_LEN 16   /* u64 BE keys new, u64 BE keys merged */
#define HKP_HIST_KEEP_HOURS  (31 * 24)

/* meta key of the maintained profile set, and its longest value */
#define HKP_META_PROFILES    "profiles"
#define HKP_PROFILES_STR_LEN 128

/* meta key of reconsvc's heartbeat, its record length, and the seconds
 * between two beats (readers call it stale past a few of these) */
#define HKP_META_HEARTBEAT   "heartbeat"
#define HKP_HEARTBEAT_LEN    16
#define HKP_HEARTBEAT_SECS   10

/* The prefix log (store_prefixlog.c): bytes of fingerprint logged per
 * changed key, the days kept (older ones are pruned as puts pass, at most
 * HKP_PREFIXLOG_PRUNE_STEP records per put), and the most prefixes one day
 * logs (a day past it is marked full and not served: a bulk import is
 * not a useful refresh hint) */
#define HKP_PREFIXLOG_PREFIX_LEN   4
#define HKP_PREFIXLOG_KEEP_DAYS    30
#define HKP_PREFIXLOG_PRUNE_STEP   16
#define HKP_PREFIXLOG_MAX_DAY      100000
#define HKP_PREFIXLOG_DAY_SECS     86400

/* One hash profile's databases. Index 0 (sks): tree = ptree, byhash =
 * keys, no ofkey. */
typedef struct {
    const hkp_profile_t *p;
    MDB_dbi              tree, byhash, ofkey;
    int                  have;      /* its databases exist (opened) */
} hkp_db_prof_t;

typedef struct {
    MDB_env      *env;
    MDB_dbi       keys, fpr, kid64, kid32, word, meta;
    MDB_dbi       ptree;     /* SKS prefix tree (ptree.h), kept in step
                                with keys by hkp_db_put() */
    MDB_dbi       prefixlog; /* the prefix log, if have_prefixlog */
    int           have_prefixlog;
    hkp_db_prof_t prof[HKP_PROFILE_MAX];  /* by profile index */
    MDB_dbi       redact;    /* redacted user IDs (store_redact.c) */
    int           have_redact; /* it exists (a read-only open of an
                                  environment made before it: no) */
    MDB_dbi       sksout;    /* stored keys the sks profile drops */
    int           have_sksout; /* it exists (an old env opened without
                                  create may lack it) */
    MDB_dbi       blocked;   /* takedowns (store_block.h) */
    int           have_blocked;  /* it exists (an old env opened without
                                    create may lack it) */
    MDB_dbi       selfsig;   /* self-signature records (selfsig.h) */
    int           have_selfsig;  /* it exists (an old env opened without
                                    create may lack it: keys are then
                                    served by verifying at lookup time) */
    hkp_words_t  *words;     /* tokenizer for the writer (NULL if RDONLY);
                                used only inside a write txn, which LMDB
                                serialises, so writer threads share it */
} hkp_db_t;

/*
 * Opens (creating the directory and databases unless RDONLY or NOCREATE) the
 * environment at `path` with MDB_NOTLS, HKP_DB_MAXREADERS readers and the
 * given map size (0 = HKP_DB_DEFAULT_MAPSIZE), clears stale reader slots,
 * and checks the schema version. 0, or a code (an errno value when the
 * directory or file is missing, an MDB_* code, HKP_ESCHEMA, HKP_EPROFILE,
 * HKP_EPTREE, HKP_ENOMEM) with a message naming the path and the cause in
 * err[errlen] (an open fails once, at startup: the message is what a
 * caller shows).
 */
int hkp_db_open(hkp_db_t *db, const char *path, unsigned flags,
    size_t mapsize, char *err, size_t errlen);
void hkp_db_close(hkp_db_t *db);

/* Flushes the environment to disk (mdb_env_sync force). 0 or a code. */
int hkp_db_sync(hkp_db_t *db);

/* What hkp_db_repack copied. */
typedef struct {
    size_t records;          /* key/value pairs, every database */
    size_t dbs;              /* named databases */
    size_t src_bytes;        /* pages in use in the source, as bytes */
    size_t dst_bytes;        /* the same of the copy */
} hkp_repack_stats_t;

/*
 * Writes every database of src, read in one read txn, into a new
 * single-file environment dst_file (an old one is removed first), each
 * page filled in key order (MDB_APPEND), without a free list; synced
 * before it returns (store_repack.c). src stays as it was. 0, or a code
 * with err[errlen] (dst_file is removed then).
 */
int hkp_db_repack(hkp_db_t *src, const char *dst_file,
    hkp_repack_stats_t *st, char *err, size_t errlen);
/* Moves the repacked file into place as dir/data.mdb (rename, then fsync
 * of dir). Only while no process has dir's environment open: one that has
 * keeps the old file. 0 or an errno value with err[errlen]. */
int hkp_db_repack_swap(const char *dir, const char *file, char *err,
    size_t errlen);

typedef enum {
    HKP_PUT_NEW = 0,        /* no key with this primary was stored */
    HKP_PUT_MERGED,         /* merged into a stored key; its hash changed */
    HKP_PUT_UNCHANGED       /* the stored key already had all of it */
} hkp_put_status_t;

typedef struct {
    hkp_put_status_t status;
    uint8_t          hash[HKP_HASH_LEN];      /* hash now stored */
    size_t           nremoved;                /* old hashes replaced */
    uint8_t          removed[4][HKP_HASH_LEN];/* the first few of them */
    char             reason[HKP_REASON_LEN];  /* on an error: why (for a
                                                 key code the key's own
                                                 reason, else
                                                 hkp_strerror()) */
} hkp_put_result_t;

/*
 * The put memo (store_memo.c): pairs (stored key hash, put key hash) whose
 * merge left the stored key unchanged under the limits in force. A put of
 * the same key onto the same stored key is then answered UNCHANGED without
 * decoding the stored key or merging again, so N copies of one key in a
 * batch cost one decode of the stored key (issue 13 D1). The result of a
 * merge depends only on the two keys' contents (their hashes) and the
 * limits: clear the memo when the limits change. Bounded: it starts again
 * empty when full. Owned by the caller (the writer).
 */
typedef struct hkp_put_memo hkp_put_memo_t;
hkp_put_memo_t *hkp_put_memo_new(void);
void hkp_put_memo_free(hkp_put_memo_t *m);
void hkp_put_memo_clear(hkp_put_memo_t *m);
int  hkp_put_memo_has(const hkp_put_memo_t *m,
    const uint8_t stored[HKP_HASH_LEN], const uint8_t put[HKP_HASH_LEN]);
void hkp_put_memo_add(hkp_put_memo_t *m, const uint8_t stored[HKP_HASH_LEN],
    const uint8_t put[HKP_HASH_LEN]);

/* What one hkp_db_put() call works with, owned by the caller (the writer,
 * writer.h), never by the shared handle. All 0 = the defaults. */
typedef struct {
    const hkp_limits_t *limits;      /* enforced on merged keys; NULL =
                                        the hkp_limits.h defaults */
    hkp_ptree_batch_t  *ptree_batch; /* NULL: the tree is updated at once;
                                        else its changes are recorded
                                        there, applied before the commit */
    int64_t             now;         /* clock of the "hist:" counts: 0 =
                                        time(NULL); tests set it */
    hkp_put_memo_t     *memo;        /* NULL: every merge is computed */
    size_t             *touch;       /* bytes of stored keys this put may
                                        still decode to merge into (a
                                        stored key larger than what is
                                        left: HKP_EBUDGET, nothing
                                        decoded); lowered by what it
                                        decodes. NULL = no bound */
    int                 selfsig_later; /* 1: the key stored gets no
                                        self-signature record now (nothing
                                        verified for it); the fill mark
                                        says one is pending (below). The
                                        record of a stored key it replaces
                                        is deleted as always */
} hkp_put_opts_t;

/*
 * Stores a canonical key: finds stored keys with the same primary key
 * packet, merges (SKS semantics), deletes the old versions and their index
 * entries, writes the merged key and all its index entries, and updates
 * the count and the current hour's new/updated count (meta "hist:"). A
 * key with a tail SKS refuses (key.h) is stored only when another
 * maintained profile keeps it and no stored key with its primary is in
 * the sks profile (SKS keeps that one as it is); else HKP_EKEY with SKS's
 * reason. All
 * inside `txn`; `opts` may be NULL (defaults). Returns 0, or an error
 * code with res->reason set: a key code (hkp_err_is_key(): HKP_EKEY,
 * HKP_ELIMIT, HKP_ESTORED, HKP_ESAMPLE) refuses this key alone, anything
 * else is about the database. After any error `txn` may hold part of the
 * key: abort it (or the nested txn it was put in).
 */
int hkp_db_put(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key,
    const hkp_put_opts_t *opts, hkp_put_result_t *res);

/*
 * Deletes the stored key with SKS hash `hash` as hkp_db_put() deletes an
 * old version: the key, its index entries, its entries in every
 * profile's tree and maps, the count. In txn; the trees are updated at
 * once. 0, 1 when no key has that hash, or a code (HKP_ESTORED when the
 * stored key does not decode) with reason[rlen] set.
 */
int hkp_db_del(hkp_db_t *db, MDB_txn *txn, const uint8_t hash[HKP_HASH_LEN],
    char *reason, size_t rlen);

/* Whether the stored key with id `hash` is one the sks profile drops
 * (sksout): 1 yes, 0 no, or an LMDB code. */
int hkp_db_sks_out(hkp_db_t *db, MDB_txn *txn,
    const uint8_t hash[HKP_HASH_LEN]);

/* `reconsvc check` of sksout: every stored key with a tail (key.h) is
 * marked there, no other, and every mark names a stored key. report(ctx,
 * line) per difference; *nout = the keys marked. The number of
 * differences, or -1. (store_sksout.c) */
long hkp_db_sksout_check(hkp_db_t *db, MDB_txn *txn,
    void (*report)(void *ctx, const char *line), void *ctx, size_t *nout);

/* The self-signature record (selfsig.h) of the stored key `hash`, in
 * *out (valid in txn). 0, MDB_NOTFOUND (none: a key stored before
 * records existed, or no "selfsig" database), or a code.
 * (store_selfsig.c) */
int hkp_db_selfsig_get(hkp_db_t *db, MDB_txn *txn,
    const uint8_t hash[HKP_HASH_LEN], MDB_val *out);

/* `reconsvc check` of the self-signature records: every record agrees
 * with its stored key (rebuilt and compared: this verifies every
 * self-signature) and names one. report(ctx, line) per difference;
 * *nmissing = stored keys without a record (not a difference: they are
 * served by verifying at lookup time). The number of differences, or
 * -1. */
long hkp_db_selfsig_check(hkp_db_t *db, MDB_txn *txn,
    void (*report)(void *ctx, const char *line), void *ctx,
    size_t *nmissing);

/* Writes the record of every stored key that has none (redo: also of
 * every one whose record disagrees with its key), in write txns of a
 * bounded number of keys each; *written = records written. A fill mark
 * (below) gets a new pass when it begins, and is deleted at the end when
 * no key was stored without its record meanwhile. 0 or a code
 * (HKP_ERDONLY without the "selfsig" database). */
int hkp_db_selfsig_fill(hkp_db_t *db, int redo, size_t *written);

/*
 * Records written later (store_selfsig_fill.c). A put with selfsig_later
 * stores a key without its record and leaves the fill mark, meta
 * HKP_META_SELFSIG_FILL, saying records are pending; a fill (`reconsvc
 * run` in the background, `reconsvc check --fill-selfsig` at once)
 * writes them and removes the mark. A fill walks the keys in hash order
 * in passes: a pass begins (pass set, passno + 1, no cursor), moves its
 * cursor forward as batches are written, and at the last key ends: with
 * `again` set (a key was stored without its record after the pass began,
 * perhaps behind the cursor) another pass begins, else the mark is
 * deleted. A batch moves the cursor only when the mark still shows the
 * pass and cursor it was scanned from, so two fills never skip keys.
 * Value (HKP_SELFSIG_MARK_LEN bytes): version 1, flags (1 pass, 2 again,
 * 4 cursor), u32 BE passno, the cursor (an SKS hash), u64 BE filled, u64
 * BE rate, u64 BE updated. Any other value reads as a mark with no pass
 * (a fill starts over).
 */
#define HKP_META_SELFSIG_FILL  "selfsig-fill"
#define HKP_SELFSIG_MARK_LEN   46

typedef struct {
    int       pass;        /* a pass over the keys has begun */
    int       again;       /* a key was stored without its record since
                              the pass began: another pass follows */
    uint32_t  passno;      /* passes begun */
    int       has_cursor;  /* the pass has done every key up to cursor */
    uint8_t   cursor[HKP_HASH_LEN];
    uint64_t  filled;      /* records the fills wrote under this mark */
    uint64_t  rate;        /* records/s of the fill, last measured */
    int64_t   updated;     /* Unix time a fill last wrote the mark, 0 */
} hkp_selfsig_mark_t;

/* The mark: 0 with *m, MDB_NOTFOUND (no records pending), or a code. */
int hkp_db_selfsig_mark_get(hkp_db_t *db, MDB_txn *txn,
    hkp_selfsig_mark_t *m);
int hkp_db_selfsig_mark_put(hkp_db_t *db, MDB_txn *txn,
    const hkp_selfsig_mark_t *m);
/* 0 (also when there is none) or a code. */
int hkp_db_selfsig_mark_del(hkp_db_t *db, MDB_txn *txn);
/* Begins a pass in *m (passno + 1, no cursor, again cleared) and writes
 * it. 0 or a code. */
int hkp_db_selfsig_pass_begin(hkp_db_t *db, MDB_txn *txn,
    hkp_selfsig_mark_t *m);
/* Stored keys without a record: the keys less the records (every record
 * names a stored key: check). 0 or a code. */
int hkp_db_selfsig_missing(hkp_db_t *db, MDB_txn *txn, size_t *n);

/* One key of a fill batch: its stored bytes when scanned (a copy), and
 * the record built from them (NULL until built, or when it cannot be). */
typedef struct {
    uint8_t   hash[HKP_HASH_LEN];
    uint8_t  *bytes;
    size_t    len;
    uint8_t  *rec;
    size_t    reclen;
} hkp_selfsig_item_t;

typedef struct {
    uint32_t             passno;      /* the pass it was scanned in */
    int                  from_cursor; /* scanned after `from` (else from
                                         the first key) */
    uint8_t              from[HKP_HASH_LEN];
    int                  have_last;   /* the last key it looked at */
    uint8_t              last[HKP_HASH_LEN];
    int                  end;         /* it reached the last stored key */
    hkp_selfsig_item_t  *items;
    size_t               n, cap;
    size_t               bytes;       /* of the copies */
    size_t               scanned;     /* stored keys looked at */
} hkp_selfsig_batch_t;

/* In a read txn: the stored keys after m's cursor (the first ones without
 * a cursor) that have no record, copied into b (emptied first): at most
 * max_keys of them and max_bytes of key bytes (one key at least), out of
 * at most max_scan stored keys looked at. 0 or a code. */
int  hkp_db_selfsig_batch_scan(hkp_db_t *db, MDB_txn *txn,
    const hkp_selfsig_mark_t *m, size_t max_keys, size_t max_bytes,
    size_t max_scan, hkp_selfsig_batch_t *b);
/* Builds the record of every key of b (verifying its self-signatures;
 * no database: for a thread of its own). */
void hkp_selfsig_batch_build(hkp_selfsig_batch_t *b);
/* In a write txn: the record of each key of b that is still stored with
 * the bytes it was built from and has none (*written); then the mark:
 * filled, rate and updated (now), and, when it still shows b's pass and
 * start, the cursor moved past b or, at the end of the keys, the pass
 * ended (another begun, or the mark deleted: *finished 1). *finished is
 * 1 also when there is no mark. 0 or a code. */
int  hkp_db_selfsig_batch_apply(hkp_db_t *db, MDB_txn *txn,
    const hkp_selfsig_batch_t *b, uint64_t rate, int64_t now,
    size_t *written, int *finished);
/* Frees the copies and records (b can be scanned into again). */
void hkp_selfsig_batch_clear(hkp_selfsig_batch_t *b);
void hkp_selfsig_batch_free(hkp_selfsig_batch_t *b);

/* Stored keys hkp_db_put() has decoded to merge into, in this process
 * (tests count them: issue 13). */
unsigned long hkp_db_stored_decodes(void);

/* Fetches the stored bytes of a key by hash. 0 found, MDB_NOTFOUND, or
 * another MDB_* code. `val` is valid until the txn ends. */
int hkp_db_get(hkp_db_t *db, MDB_txn *txn, const uint8_t hash[HKP_HASH_LEN],
    MDB_val *val);

/*
 * Hashes of keys whose primary key or a subkey has this ID: idlen 4
 * (32-bit ID), 8 (64-bit ID), 20 (v4 fingerprint) or 32 (v6 fingerprint).
 * Writes at most `max` hashes (deduplicated) and sets *n (0: none); returns
 * 0, HKP_EMORE if more than `max` matched (the first `max` are written),
 * HKP_EINVAL for another idlen, or an MDB_* code.
 */
int hkp_db_find_id(hkp_db_t *db, MDB_txn *txn, const uint8_t *id,
    size_t idlen, hkp_hash_t *hashes, size_t max, size_t *n);

/*
 * Hashes of keys whose user IDs contain every one of `words` (each folded
 * as hkp_words_split does, or a whole lower-cased e-mail address).
 * Returns 0 with *n set (0: none), HKP_EMORE if more than `max` keys
 * matched (the first `max` are written), HKP_ECANDIDATES if the rarest
 * word has more than `max_candidates` keys, or an MDB_* code.
 */
int hkp_db_find_words(hkp_db_t *db, MDB_txn *txn, const uint8_t **words,
    const size_t *lens, size_t nwords, size_t max_candidates,
    hkp_hash_t *hashes, size_t max, size_t *n);

/* Number of keys stored (meta "count"). */
uint64_t hkp_db_count(hkp_db_t *db, MDB_txn *txn);

/*
 * The per-hour counts of hkp_db_put() for the `nhours` UTC hours from
 * `first_hour` (time / 3600) on: counts[i][0] keys new and counts[i][1]
 * keys updated in hour first_hour + i, 0 where nothing was stored. One
 * cursor scan. 0 or an MDB_* code.
 */
int hkp_db_hist(hkp_db_t *db, MDB_txn *txn, uint32_t first_hour,
    size_t nhours, uint64_t (*counts)[2]);

/*
 * Hash profiles (store_profile.c). A mask has bit i for profile index i
 * (hkp_profile_at); bit 0 (sks) is always set.
 */
/* "sks,hockeypuck" -> mask. 0, or -1 with the unknown name in bad[]. */
int  hkp_db_profiles_parse(const char *list, unsigned *mask, char *bad,
    size_t badlen);
/* mask -> "sks,hockeypuck" (registry order). */
void hkp_db_profiles_str(unsigned mask, char *out, size_t len);
/* The maintained set (meta "profiles"). 0 or a code (HKP_EPROFILE, also
 * when it names a profile whose databases this handle has not open). */
int  hkp_db_profiles_get(hkp_db_t *db, MDB_txn *txn, unsigned *mask);
/* The same for reading: only the profiles whose databases are open. */
int  hkp_db_profiles_readable(hkp_db_t *db, MDB_txn *txn, unsigned *mask);
/* Opens the databases of profiles added to meta "profiles" since this
 * handle was opened (an old environment reconsvc has since given a
 * profile), in a read-only txn of its own: call it outside any write txn,
 * before one begins; a txn begun after it sees them. Without such a
 * profile it takes no txn. 1 when it opened some, 0 when none, or an
 * LMDB code. Safe from several threads. */
int  hkp_db_profiles_refresh(hkp_db_t *db);
/* Makes `mask` the maintained set: the trees of profiles no longer in it
 * are dropped, those new in it built from the keys (hkp_db_prof_rebuild),
 * all in txn. *changed = 1 when the set changed. 0 or a code, err set. */
int  hkp_db_profiles_set(hkp_db_t *db, MDB_txn *txn, unsigned mask,
    int *changed, char *err, size_t errlen);
/* Rebuilds profile i's maps and tree from every stored key (i >= 1).
 * 0 or a code, err set. */
int  hkp_db_prof_rebuild(hkp_db_t *db, MDB_txn *txn, size_t i, char *err,
    size_t errlen);
/* Verifies profile i's tree and maps against the keys (every key hashed
 * again); report(ctx, line) per difference. Returns the number of
 * differences, or -1. */
int  hkp_db_prof_check(hkp_db_t *db, MDB_txn *txn, size_t i,
    void (*report)(void *ctx, const char *line), void *ctx);
/* The SKS hash of the stored key whose profile-i hash is phash (i 0: the
 * same hash, if stored). 0 found, MDB_NOTFOUND (also for a profile not
 * maintained), HKP_EPTREE (a map value of the wrong size) or an MDB_*
 * code. */
int  hkp_db_prof_find(hkp_db_t *db, MDB_txn *txn, size_t i,
    const uint8_t phash[HKP_HASH_LEN], uint8_t sks[HKP_HASH_LEN]);
/* The bytes a peer gets for a hash it asks for (/pks/hashquery;
 * store_form.c): an SKS hash gives the stored key (val points into the
 * map, *owned NULL); another maintained profile's hash gives the form that
 * profile hashes of the stored key it names (profile.h), in a malloc'd
 * buffer *owned (= val->mv_data) the caller frees. 0 found, MDB_NOTFOUND,
 * or a code (LMDB's, HKP_EPTREE when the profile's map and the keys
 * disagree, HKP_ESTORED, HKP_ENOMEM). */
int  hkp_db_get_form(hkp_db_t *db, MDB_txn *txn,
    const uint8_t hash[HKP_HASH_LEN], MDB_val *val, uint8_t **owned);
/* Any maintained profile's hash -> the stored key's SKS hash, the sks
 * profile first. 0 found, MDB_NOTFOUND, or a code. */
int  hkp_db_find_any(hkp_db_t *db, MDB_txn *txn,
    const uint8_t hash[HKP_HASH_LEN], uint8_t sks[HKP_HASH_LEN]);

/* Writes the heartbeat record (meta "heartbeat") in txn: beat time `now`,
 * process start `started`. 0 or an LMDB code. */
int  hkp_db_heartbeat_put(hkp_db_t *db, MDB_txn *txn, int64_t now,
    int64_t started);
/* Reads it: 0 with *beat and *started, MDB_NOTFOUND when there is none
 * (or it has not the fixed length), or another MDB_* code. */
int  hkp_db_heartbeat_get(hkp_db_t *db, MDB_txn *txn, int64_t *beat,
    int64_t *started);

/*
 * The prefix log of UTC day `day` (time / HKP_PREFIXLOG_DAY_SECS): cb once
 * per logged prefix (HKP_PREFIXLOG_PREFIX_LEN bytes), in ascending order;
 * a non-zero return stops. `now` (0 = time(NULL)) says which days are
 * kept. Returns 0 (also for a kept day when nothing changed), 1 when the
 * log of that day is not kept (before the retention, in the future, or
 * the day passed HKP_PREFIXLOG_MAX_DAY), or an LMDB code.
 */
typedef int (*hkp_prefixlog_cb)(void *ctx, const uint8_t *prefix, size_t len);
int  hkp_db_prefixlog_get(hkp_db_t *db, MDB_txn *txn, uint32_t day,
    int64_t now, hkp_prefixlog_cb cb, void *ctx);
/* The UTC day number of `now` (0 = time(NULL)). */
uint32_t hkp_prefixlog_day(int64_t now);

/*
 * Redacted user IDs (store_redact.c). A redaction names a primary key
 * fingerprint (20 or 32 bytes) and the exact user ID text (packet body,
 * at most HKP_REDACT_MAX_UID bytes); it hides that user ID from every
 * answer under every serve policy.
 */
#define HKP_REDACT_MAX_UID     HKP_MAX_PACKET_LEN
/* A redaction names the user ID by the SHA-256 of its body (serve.h:
 * HKP_SERVE_DIGEST_LEN). */
#define HKP_REDACT_DIGEST_LEN  32
/* Redactions read for one key (more are ignored past it). */
#define HKP_REDACT_MAX_PER_KEY 256
/* In a write txn. Add: 0 added, 1 already there (the first add makes
 * the database in an environment made before it). Delete: 0 removed, 1
 * there was none. Or an LMDB code / HKP_ERDONLY / HKP_EKEY (bad
 * fingerprint or text length). */
int  hkp_db_redact_add(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr,
    size_t fprlen, const uint8_t *uid, size_t uidlen, int64_t now);
int  hkp_db_redact_del(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr,
    size_t fprlen, const uint8_t *uid, size_t uidlen);
/* 1 when this user ID of this key is redacted, 0 when not (or on an
 * error). */
int  hkp_db_redact_has(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr,
    size_t fprlen, const uint8_t *uid, size_t uidlen);
/* The user ID digests (serve.h) redacted for this fingerprint, at most
 * max (HKP_REDACT_MAX_PER_KEY is enough). 0 with *n, or an LMDB code. */
int  hkp_db_redact_get(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr,
    size_t fprlen, uint8_t (*digests)[HKP_REDACT_DIGEST_LEN], size_t max,
    size_t *n);
/* Every redaction in key order; cb returns non-zero to stop. 0 or a
 * code. Entries that do not parse are passed with uid NULL. */
typedef int (*hkp_redact_cb)(void *ctx, const uint8_t *fpr, size_t fprlen,
    const uint8_t *uid, size_t uidlen, int64_t when);
int  hkp_db_redact_each(hkp_db_t *db, MDB_txn *txn, hkp_redact_cb cb,
    void *ctx);

/*
 * The map size (store_map.c). LMDB remaps the environment when its size
 * changes, so that may happen only while this process has no txn active:
 * LMDB refuses while a write txn is open, and hkp_db_map_set() refuses
 * (HKP_EMAPBUSY) while the reader table shows an active read txn of this
 * process. Threads sharing the environment must in addition keep each
 * other from beginning a txn meanwhile (writer.h's hkp_map_guard_t).
 *
 * hkp_db_map_set: size 0 adopts the size the database was last committed
 * with by any process (MDB_MAP_RESIZED), never shrinking the map; another
 * size grows the map to it (a smaller one does nothing). 0 or a code.
 * hkp_db_map_next: the size to grow to after MDB_MAP_FULL (a bounded step,
 * hkp_limits.h), or HKP_EMAPMAX at HKP_DB_MAP_MAX.
 * hkp_db_map_readers: 1 when a read txn of this process is active.
 */
int hkp_db_map_set(hkp_db_t *db, size_t size);
int hkp_db_map_next(hkp_db_t *db, size_t *size);
int hkp_db_map_readers(hkp_db_t *db);

/* Begin a read txn, retrying once after MDB_MAP_RESIZED (adopting the new
 * size when no other txn of this process is active, else HKP_EMAPBUSY: a
 * process with one thread; the nginx module does this itself under its
 * guard, ngx_hkp_db.c). 0 or a code; *txn is NULL on error. */
int hkp_db_rtxn(hkp_db_t *db, MDB_txn **txn);

#endif
