/*
 * The one write path into the store: an hkp_writer owns the write
 * transaction and everything that goes with batching keys into it, so
 * /pks/add (ngx_hkp_add_queue.c), the recon fetcher (reconsvc/fetch.c) and
 * the bulk import (reconsvc/import.c) keep only their own policy.
 *
 * A writer owns:
 *   - the batch: one write txn, begun on the first put (or by
 *     hkp_writer_begin, which is where LMDB's writer lock is waited for)
 *     and committed when the policy says so, or by hkp_writer_commit;
 *   - the per-key step: with HKP_WRITER_NEST each put runs in a nested
 *     txn of its own, so a refused key aborts only that; without it, puts
 *     go straight into the batch (or into a caller's step, below) and a
 *     refused key makes the writer abort and replay the keys before it,
 *     which is far cheaper when refusals are rare (a nested txn copies
 *     every page it touches from its parent);
 *   - the prefix tree batch (HKP_WRITER_TREE_BATCH): tree changes are
 *     recorded and applied once, just before each commit (ptree.h);
 *   - the settings of hkp_db_put (limits, the "hist:" clock, the put
 *     memo that answers a repeated put of one key onto one stored key
 *     without decoding it again, whether self-signature records are
 *     written now or left to a fill: store.h);
 *   - what to do on MDB_TXN_FULL: commit what is done, go on in a new
 *     batch with the rest;
 *   - the map (store.h, store_map.c): on MDB_MAP_RESIZED at begin
 *     (another process grew the database past this process's map) adopt
 *     the new size and begin again (HKP_WRITER_ADOPT_MAP); on MDB_MAP_FULL
 *     (a put does not fit) commit what is done, grow the map by a bounded
 *     step (hkp_db_map_next: up to HKP_DB_MAP_MAX) and go on with the
 *     rest (HKP_WRITER_GROW_MAP). MAP_FULL at commit (the tree batch, the
 *     free list) grows the map too and replays the batch when the writer
 *     has all of it (no NEST, no steps); else the batch is lost
 *     (MDB_MAP_FULL) but the map is larger for the next one. At
 *     HKP_DB_MAP_MAX the put fails with HKP_EMAPMAX. The map changes
 *     only while this writer holds no txn, and only through the guard
 *     when the process has other threads using the environment (below).
 *
 * Replay: without HKP_WRITER_NEST, a key that changed the database must
 * stay valid (the caller keeps it) until the batch is committed or lost,
 * or, inside a step, until the step ends; the writer may put it again.
 * A put that left the database unchanged is not replayed: that key may
 * be freed at once. Every commit, also one the writer makes on its own,
 * is reported through the policy's on_commit callback, after which the
 * keys of that batch are no longer needed.
 *
 * Steps (hkp_writer_step_begin/commit/abort): a nested txn around a group
 * of puts (one /pks/hashquery reply of the fetcher). A refused key inside
 * a step is replayed within the step; the keys before it are then in the
 * batch already (the step is committed and a new one opened), so
 * step_abort drops only the keys put since. A batch uses steps or direct
 * puts, not both.
 *
 * Errors are codes (hkp_error.h). A key code (hkp_err_is_key()) from
 * hkp_writer_put means that key was refused and nothing else changed
 * (res->reason says why). Any other code means the batch is lost: the
 * writer has aborted it (nothing of it is stored) and is ready for the
 * next one.
 *
 * One writer per thread at a time; LMDB allows one write txn per
 * environment at a time anyway.
 */
#ifndef HKP_WRITER_H
#define HKP_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "hkp_error.h"
#include "key.h"
#include "ptree.h"
#include "store.h"

#define HKP_WRITER_NEST        0x1   /* a nested txn per put */
#define HKP_WRITER_TREE_BATCH  0x2   /* tree changes applied at commit */
#define HKP_WRITER_ADOPT_MAP   0x4   /* on MDB_MAP_RESIZED at begin, adopt
                                        the new map size and retry */
#define HKP_WRITER_GROW_MAP    0x8   /* on MDB_MAP_FULL, grow the map */
#define HKP_WRITER_SELFSIG_LATER 0x10 /* keys stored without their
                                        self-signature record, left to a
                                        fill (store.h: the fill mark) */

/*
 * How the writer changes the map in a process whose other threads use the
 * same environment (the nginx worker: ngx_hkp_db.c). LMDB remaps the
 * environment then, so no other thread may be inside a txn, or beginning
 * one. enter() is called before the writer begins its top-level txn (also
 * while it waits for LMDB's writer lock), leave() once that txn ended
 * (committed, aborted, or the begin failed); remap() is called only
 * between a leave() and the next enter(), and changes the map
 * (hkp_db_map_set(db, size)) once no other thread holds a txn, keeping
 * them from beginning one meanwhile. NULL (a process with one thread):
 * hkp_db_map_set() directly, which refuses while a read txn of this
 * process is active.
 */
typedef struct {
    void   (*enter)(void *arg);
    void   (*leave)(void *arg);
    int    (*remap)(void *arg, hkp_db_t *db, size_t size);
    void    *arg;
} hkp_map_guard_t;

/* What a batch held (or holds). */
typedef struct {
    size_t  keys;        /* puts stored, unchanged ones too */
    size_t  nnew, nmerged, nunchanged;
    size_t  bytes;       /* memory of the keys that changed the database
                            (struct, packet table, encoded bytes): what
                            the caller keeps for replay */
} hkp_writer_count_t;

typedef struct {
    /* The batch is committed once it holds max_keys keys or max_bytes
     * bytes (after a put outside a step, or a step commit), or when it is
     * max_secs old (checked there and by hkp_writer_due). 0 = no bound. */
    size_t     max_keys;
    size_t     max_bytes;
    double     max_secs;
    unsigned   flags;                  /* HKP_WRITER_* */
    const hkp_map_guard_t *guard;      /* NULL: one thread (see above) */
    /* Called after every commit with what the batch held. May be NULL. */
    void     (*on_commit)(void *arg, const hkp_writer_count_t *batch);
    void      *arg;
} hkp_writer_policy_t;

typedef struct {
    hkp_db_t             *db;
    hkp_writer_policy_t   policy;
    hkp_limits_t          limits;
    hkp_put_opts_t        opts;        /* for hkp_db_put: limits, tree
                                          batch, clock */
    MDB_txn              *txn;         /* the batch, or NULL */
    MDB_txn              *step;        /* the open step, or NULL */
    double                t0;          /* when the batch began (monotonic) */
    int                   stepped;     /* a step was committed into it */
    int                   entered;     /* guard entered (a top txn) */
    size_t                ngrown;      /* map grown on MDB_MAP_FULL */
    size_t                touch;       /* the budget left (opts.touch) */
    hkp_writer_count_t    batch;       /* committed into txn so far */
    hkp_writer_count_t    cur;         /* the open step, else unused */
    size_t                step_tree;   /* tree batch length at step begin */
    /* replay log: keys put (and changed something) since the scope (the
     * step, else the batch) began */
    const hkp_key_t     **log;
    size_t                nlog, caplog;
    /* hkp_db_put, set by hkp_writer_open; the unit tests put a wrapper
     * here to inject failures (t/unit/test_writer.c) */
    int                 (*put)(hkp_db_t *db, MDB_txn *txn,
                            const hkp_key_t *key, const hkp_put_opts_t *opts,
                            hkp_put_result_t *res);
} hkp_writer_t;

/* Sets w up on db (opened for writing) with a copy of the policy (NULL =
 * all 0). No txn is begun. 0 or HKP_ENOMEM (nothing to close then). */
int  hkp_writer_open(hkp_writer_t *w, hkp_db_t *db,
    const hkp_writer_policy_t *policy);
/* Aborts what is not committed and frees the writer's memory. */
void hkp_writer_close(hkp_writer_t *w);

/* Limits enforced on merged keys from now on (NULL = the defaults);
 * copied. Other limits than before clear the put memo. */
void hkp_writer_set_limits(hkp_writer_t *w, const hkp_limits_t *limits);
/* The work budget from now on: bytes of stored keys the puts may decode
 * to merge into (0 = no bound). A put whose stored key is larger than
 * what is left is refused with HKP_EBUDGET (a key code), nothing decoded.
 * Replays are not charged (they redo work already paid for). */
void hkp_writer_set_budget(hkp_writer_t *w, size_t bytes);
/* Clock of the per-hour counts (0 = time(NULL)). */
void hkp_writer_set_now(hkp_writer_t *w, int64_t now);

/* Begins the batch txn if none is open (waits for LMDB's writer lock).
 * 0 or a code. */
int  hkp_writer_begin(hkp_writer_t *w);

/* Stores one key (hkp_db_put, with the writer's settings). 0 with *res;
 * a key code: the key was refused (res->reason), the batch goes on; any
 * other code: the batch is lost (see above). May commit (on_commit). */
int  hkp_writer_put(hkp_writer_t *w, const hkp_key_t *key,
    hkp_put_result_t *res);

int  hkp_writer_step_begin(hkp_writer_t *w);
/* Puts the step's keys into the batch (which may then be committed, per
 * the policy). 0 or a code (the batch is lost). */
int  hkp_writer_step_commit(hkp_writer_t *w);
/* Drops the step's keys put since it began (or since a refused key). */
void hkp_writer_step_abort(hkp_writer_t *w);

/* Applies the tree batch and commits. 0 (also when nothing is open) or a
 * code: the batch is lost. */
int  hkp_writer_commit(hkp_writer_t *w);
/* Drops the batch (and a step). */
void hkp_writer_abort(hkp_writer_t *w);

/* 1 when a batch is open and the policy says to commit it now. */
int  hkp_writer_due(const hkp_writer_t *w);
/* Seconds since the batch began, or -1 when none is open. */
double hkp_writer_age(const hkp_writer_t *w);
/* What the open batch holds (an open step included). */
hkp_writer_count_t hkp_writer_pending(const hkp_writer_t *w);

#endif
