/*
 * Error codes of the shared library, LMDB style: functions return 0, an
 * LMDB code (MDB_*, or an errno value LMDB passes on), or one of the
 * negative HKP_E* codes below; hkp_strerror() names any of them. The
 * HKP_E* range sits just above LMDB's own (MDB_KEYEXIST = -30799 ..
 * MDB_LAST_ERRCODE), so the three kinds never collide.
 */
#ifndef HKP_ERROR_H
#define HKP_ERROR_H

#define HKP_E_FIRST    (-30600)
/* Codes about the key being stored: that key is refused, nothing else is
 * wrong (hkp_err_is_key() is 1). A reason in storage the caller owns
 * (hkp_put_result_t.reason) says more. */
#define HKP_EKEY       (-30600)   /* malformed or not storable */
#define HKP_ELIMIT     (-30599)   /* merged with the stored key it would
                                     exceed a limit */
#define HKP_ESTORED    (-30598)   /* a stored key with the same primary
                                     does not decode */
#define HKP_ESAMPLE    (-30597)   /* its hash is a prefix tree sample
                                     point (SKS refuses those) */
/* Codes about the database (the batch they happen in is lost). */
#define HKP_ENOMEM     (-30596)   /* out of memory */
#define HKP_ERDONLY    (-30595)   /* database opened read-only */
#define HKP_EPTREE     (-30594)   /* prefix tree disagrees with the keys */
#define HKP_EREPLAY    (-30593)   /* a replayed key did not store as it
                                     did before */
#define HKP_ESCHEMA    (-30592)   /* no or another schema version */
#define HKP_EPROFILE   (-30591)   /* the database's profile set (meta
                                     "profiles") names an unknown profile
                                     or one whose databases are missing */
#define HKP_EMAPBUSY   (-30590)   /* the map cannot change now: a txn
                                     of this process is active */
#define HKP_EMAPMAX    (-30589)   /* the map is at HKP_DB_MAP_MAX and the
                                     write does not fit */
/* Codes of the read side (lookups) and of the files both processes read. */
#define HKP_EMORE      (-30588)   /* more keys match than were asked for
                                     (the first ones are written) */
#define HKP_ECANDIDATES (-30587)  /* a search's rarest word names more
                                     keys than the candidate limit */
#define HKP_EINVAL     (-30586)   /* invalid argument */
#define HKP_ENOTFILE   (-30585)   /* not a regular file */
#define HKP_EPEERREC   (-30584)   /* a stored peer status is not a record
                                     of this version (peer.h) */
#define HKP_EBUDGET    (-30583)   /* a key code: the work budget of the
                                     upload is spent (hkp_put_opts_t) */
/* A key code again (hkp_err_is_key() is 1): the key, or one of its
 * subkeys, is blocked by the operator (store_block.h); the reason names
 * the block's public reason. */
#define HKP_EBLOCKED   (-30582)
#define HKP_EFBIG      (-30581)   /* a file is larger than its limit */
#define HKP_E_LAST     HKP_EFBIG

/* Text for 0, an HKP_E* code, an MDB_* code or an errno value ("unknown
 * error" for any other negative number). Static. */
const char *hkp_strerror(int code);

/* 1 when `code` is about one key (it alone is refused), 0 for 0 and for
 * every database, memory or system error. */
int hkp_err_is_key(int code);

#endif
