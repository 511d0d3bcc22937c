/*
 * The writer (writer.h): batches, per-key steps, replay, tree batch and
 * commit policy in one place.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "writer.h"

/* First size of the replay log (it doubles). */
#define WRITER_LOG_MIN  256

static double
mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Memory a parsed key holds, roughly (hkp_writer_count_t.bytes). */
static size_t
key_bytes(const hkp_key_t *key)
{
    return sizeof(*key) + key->npkts * sizeof(hkp_pkt_t)
        + hkp_key_encoded_len(key);
}

static void
count_add(hkp_writer_count_t *c, const hkp_key_t *key, hkp_put_status_t st)
{
    c->keys++;
    switch (st) {
    case HKP_PUT_NEW:       c->nnew++; break;
    case HKP_PUT_MERGED:    c->nmerged++; break;
    case HKP_PUT_UNCHANGED: c->nunchanged++; return;
    }
    c->bytes += key_bytes(key);
}

static void
count_sum(hkp_writer_count_t *to, const hkp_writer_count_t *c)
{
    to->keys += c->keys;
    to->nnew += c->nnew;
    to->nmerged += c->nmerged;
    to->nunchanged += c->nunchanged;
    to->bytes += c->bytes;
}

/* The counts of the scope puts go to: the open step, else the batch. */
static hkp_writer_count_t *
scope_count(hkp_writer_t *w)
{
    return w->step != NULL ? &w->cur : &w->batch;
}

static size_t
tree_len(const hkp_writer_t *w)
{
    return w->opts.ptree_batch != NULL
        ? hkp_ptree_batch_len(w->opts.ptree_batch) : 0;
}

static void
tree_truncate(hkp_writer_t *w, size_t len)
{
    if (w->opts.ptree_batch != NULL)
        hkp_ptree_batch_truncate(w->opts.ptree_batch, len);
}

/* ------------------------------------------------------------------ */
/* The top-level txn and the map (writer.h: hkp_map_guard_t)            */

static void
guard_enter(hkp_writer_t *w)
{
    const hkp_map_guard_t *g = w->policy.guard;

    if (!w->entered && g != NULL && g->enter != NULL)
        g->enter(g->arg);
    w->entered = 1;
}

static void
guard_leave(hkp_writer_t *w)
{
    const hkp_map_guard_t *g = w->policy.guard;

    if (w->entered && g != NULL && g->leave != NULL)
        g->leave(g->arg);
    w->entered = 0;
}

/* Changes the map (size 0: adopt). No txn of this writer is open. */
static int
map_change(hkp_writer_t *w, size_t size)
{
    const hkp_map_guard_t *g = w->policy.guard;

    guard_leave(w);
    if (g != NULL && g->remap != NULL)
        return g->remap(g->arg, w->db, size);
    return hkp_db_map_set(w->db, size);
}

/* MDB_MAP_FULL: one bounded step larger (HKP_EMAPMAX at the maximum). */
static int
map_grow(hkp_writer_t *w)
{
    size_t size;
    int    rc;

    if ((rc = hkp_db_map_next(w->db, &size)) != 0
        || (rc = map_change(w, size)) != 0)
        return rc;
    w->ngrown++;
    return 0;
}

/* Begins the top-level txn (waiting for LMDB's writer lock); on
 * MDB_MAP_RESIZED adopts the new size and begins again. */
static int
top_begin(hkp_writer_t *w)
{
    int rc;

    guard_enter(w);
    rc = mdb_txn_begin(w->db->env, NULL, 0, &w->txn);
    if (rc == MDB_MAP_RESIZED && (w->policy.flags & HKP_WRITER_ADOPT_MAP)) {
        /* another process grew the database past our map */
        w->txn = NULL;
        if ((rc = map_change(w, 0)) == 0) {
            guard_enter(w);
            rc = mdb_txn_begin(w->db->env, NULL, 0, &w->txn);
        }
    }
    if (rc != 0) {
        w->txn = NULL;
        guard_leave(w);
    }
    return rc;
}

static void
top_abort(hkp_writer_t *w)
{
    if (w->txn != NULL)
        mdb_txn_abort(w->txn);
    w->txn = NULL;
    guard_leave(w);
}

/* Applies the tree batch and commits; the txn is ended either way. */
static int
top_commit(hkp_writer_t *w)
{
    int rc;

    if (w->opts.ptree_batch != NULL
        && (rc = hkp_ptree_batch_apply(w->opts.ptree_batch, w->txn,
                w->db->ptree)) != 0)
    {
        top_abort(w);
        return rc;
    }
    rc = mdb_txn_commit(w->txn);
    w->txn = NULL;
    guard_leave(w);
    return rc;
}

int
hkp_writer_open(hkp_writer_t *w, hkp_db_t *db,
    const hkp_writer_policy_t *policy)
{
    memset(w, 0, sizeof(*w));
    w->db = db;
    w->put = hkp_db_put;
    if (policy != NULL)
        w->policy = *policy;
    hkp_limits_default(&w->limits);
    w->opts.limits = &w->limits;
    w->opts.selfsig_later = (w->policy.flags & HKP_WRITER_SELFSIG_LATER) != 0;
    if ((w->opts.memo = hkp_put_memo_new()) == NULL) {
        hkp_writer_close(w);
        return HKP_ENOMEM;
    }
    if ((w->policy.flags & HKP_WRITER_TREE_BATCH)
        && (w->opts.ptree_batch = hkp_ptree_batch_new()) == NULL)
    {
        hkp_writer_close(w);
        return HKP_ENOMEM;
    }
    return 0;
}

void
hkp_writer_close(hkp_writer_t *w)
{
    hkp_writer_abort(w);
    hkp_ptree_batch_free(w->opts.ptree_batch);
    w->opts.ptree_batch = NULL;
    hkp_put_memo_free(w->opts.memo);
    w->opts.memo = NULL;
    free(w->log);
    w->log = NULL;
    w->nlog = w->caplog = 0;
}

void
hkp_writer_set_limits(hkp_writer_t *w, const hkp_limits_t *limits)
{
    hkp_limits_t l;

    if (limits != NULL)
        l = *limits;
    else
        hkp_limits_default(&l);
    /* merges remembered under other limits may not hold under these */
    if (memcmp(&l, &w->limits, sizeof(l)) != 0)
        hkp_put_memo_clear(w->opts.memo);
    w->limits = l;
}

void
hkp_writer_set_budget(hkp_writer_t *w, size_t bytes)
{
    w->touch = bytes;
    w->opts.touch = bytes > 0 ? &w->touch : NULL;
}

void
hkp_writer_set_now(hkp_writer_t *w, int64_t now)
{
    w->opts.now = now;
}

void
hkp_writer_abort(hkp_writer_t *w)
{
    if (w->step != NULL)
        mdb_txn_abort(w->step);
    w->step = NULL;
    top_abort(w);
    tree_truncate(w, 0);
    w->nlog = 0;
    w->stepped = 0;
    memset(&w->batch, 0, sizeof(w->batch));
    memset(&w->cur, 0, sizeof(w->cur));
}

int
hkp_writer_begin(hkp_writer_t *w)
{
    int rc;

    /* profiles added since the env was opened (store.h): a no-op unless
     * a profile's databases are not open; on failure the put below says
     * HKP_EPROFILE as it would have */
    if (w->txn == NULL)
        (void) hkp_db_profiles_refresh(w->db);

    if (w->txn != NULL)
        return 0;
    if ((rc = top_begin(w)) != 0)
        return rc;
    w->t0 = mono_now();
    w->nlog = 0;
    w->stepped = 0;
    memset(&w->batch, 0, sizeof(w->batch));
    return 0;
}

hkp_writer_count_t
hkp_writer_pending(const hkp_writer_t *w)
{
    hkp_writer_count_t c = w->batch;
    if (w->step != NULL)
        count_sum(&c, &w->cur);
    return c;
}

double
hkp_writer_age(const hkp_writer_t *w)
{
    return w->txn != NULL ? mono_now() - w->t0 : -1;
}

int
hkp_writer_due(const hkp_writer_t *w)
{
    const hkp_writer_policy_t *p = &w->policy;
    hkp_writer_count_t c;

    if (w->txn == NULL)
        return 0;
    c = hkp_writer_pending(w);
    return (p->max_keys > 0 && c.keys >= p->max_keys)
        || (p->max_bytes > 0 && c.bytes >= p->max_bytes)
        || (p->max_secs > 0 && mono_now() - w->t0 >= p->max_secs);
}

static int replay(hkp_writer_t *w, size_t n);

int
hkp_writer_commit(hkp_writer_t *w)
{
    hkp_writer_count_t c;
    size_t n;
    int rc;

    if (w->txn == NULL)
        return 0;
    if (w->step != NULL) {
        /* a step must be ended first: the caller's mistake, lose it */
        hkp_writer_abort(w);
        return EINVAL;
    }
    /* The batch's prefix tree changes go into the same commit. */
    n = w->nlog;
    rc = top_commit(w);
    if (rc == MDB_MAP_FULL && (w->policy.flags & HKP_WRITER_GROW_MAP)) {
        /* The batch is lost; grow the map, and when the writer has all of
         * the batch (every put logged: no NEST, no steps) store it again. */
        tree_truncate(w, 0);
        if ((rc = map_grow(w)) == 0) {
            if ((w->policy.flags & HKP_WRITER_NEST) || w->stepped)
                rc = MDB_MAP_FULL;
            else if ((rc = top_begin(w)) == 0 && (rc = replay(w, n)) == 0)
                rc = top_commit(w);
        }
    }
    if (rc != 0) {
        hkp_writer_abort(w);
        return rc;
    }
    c = w->batch;
    w->nlog = 0;
    w->stepped = 0;
    memset(&w->batch, 0, sizeof(w->batch));
    if (w->policy.on_commit != NULL)
        w->policy.on_commit(w->policy.arg, &c);
    return 0;
}

static int
log_push(hkp_writer_t *w, const hkp_key_t *key)
{
    if (w->nlog == w->caplog) {
        size_t nc = w->caplog ? w->caplog * 2 : WRITER_LOG_MIN;
        const hkp_key_t **l = realloc(w->log, nc * sizeof(*l));
        if (l == NULL)
            return HKP_ENOMEM;
        w->log = l;
        w->caplog = nc;
    }
    w->log[w->nlog++] = key;
    return 0;
}

/* hkp_db_put into the scope txn (the step, else the batch), counted and
 * logged for replay. */
static int
put_logged(hkp_writer_t *w, const hkp_key_t *key, hkp_put_result_t *res)
{
    MDB_txn *txn = w->step != NULL ? w->step : w->txn;
    int rc = w->put(w->db, txn, key, &w->opts, res);

    if (rc != 0)
        return rc;
    if (res->status != HKP_PUT_UNCHANGED && (rc = log_push(w, key)) != 0)
        return rc;
    count_add(scope_count(w), key, res->status);
    return 0;
}

/*
 * Puts the first n logged keys again into the (new) scope txn. They all
 * changed the database before, in the same order from the same state, so
 * anything else now is a database error (HKP_EREPLAY or the code).
 * Unchanged keys of the scope stay counted.
 */
static int
replay(hkp_writer_t *w, size_t n)
{
    hkp_writer_count_t *c = scope_count(w);
    size_t unchanged = c->nunchanged, *touch = w->opts.touch;
    hkp_put_result_t res;
    int rc = 0;

    memset(c, 0, sizeof(*c));
    c->nunchanged = unchanged;
    c->keys = unchanged;
    w->nlog = 0;
    w->opts.touch = NULL;           /* paid for already */
    for (size_t i = 0; i < n; i++) {
        if ((rc = put_logged(w, w->log[i], &res)) != 0)
            break;
        if (res.status == HKP_PUT_UNCHANGED) {
            rc = HKP_EREPLAY;
            break;
        }
    }
    w->opts.touch = touch;
    return rc;
}

/* The scope txn failed part-way: abort it, begin it again, replay. */
static int
rewind_scope(hkp_writer_t *w)
{
    size_t n = w->nlog;
    int rc;

    if (w->step != NULL) {
        mdb_txn_abort(w->step);
        w->step = NULL;
        tree_truncate(w, w->step_tree);
        if ((rc = mdb_txn_begin(w->db->env, w->txn, 0, &w->step)) != 0) {
            w->step = NULL;
            return rc;
        }
    } else {
        if (w->stepped)
            return HKP_EREPLAY;     /* the steps' keys are not logged */
        top_abort(w);
        tree_truncate(w, 0);
        if ((rc = top_begin(w)) != 0)
            return rc;
    }
    return replay(w, n);
}

/* Ends the replay scope after a refused key, so the next refusal replays
 * only what comes after it: the batch is committed; a step is committed
 * into the batch and a new step opened. */
static int
close_scope(hkp_writer_t *w)
{
    int rc;

    if (w->step == NULL)
        return hkp_writer_commit(w);
    if ((rc = hkp_writer_step_commit(w)) != 0)
        return rc;
    return hkp_writer_step_begin(w);
}

/*
 * MDB_TXN_FULL (and MDB_MAP_FULL, with grow: the map grows between the
 * commit and the new batch): commits what is done and goes on in a new
 * batch with the rest. Outside a step, the batch txn is unusable: it is
 * rewound to the keys before this one and committed. In a step, the batch
 * (without the step) is committed and the step's keys replayed in a new
 * batch.
 */
static int
txn_full(hkp_writer_t *w, int grow)
{
    size_t n = w->nlog, unchanged = w->cur.nunchanged;
    int rc;

    if (w->step == NULL) {
        if ((rc = rewind_scope(w)) != 0 || (rc = hkp_writer_commit(w)) != 0
            || (grow && (rc = map_grow(w)) != 0))
            return rc;
        return hkp_writer_begin(w);
    }
    mdb_txn_abort(w->step);
    w->step = NULL;
    tree_truncate(w, w->step_tree);
    /* commit the batch without touching the step's log */
    w->nlog = 0;
    if ((rc = hkp_writer_commit(w)) != 0
        || (grow && (rc = map_grow(w)) != 0)
        || (rc = hkp_writer_begin(w)) != 0
        || (rc = hkp_writer_step_begin(w)) != 0)
        return rc;
    w->cur.nunchanged = unchanged;
    return replay(w, n);
}

/* Whether a put that failed with rc can succeed once the batch is
 * committed (MDB_TXN_FULL, when the txn holds other work: done) or the
 * map grown (MDB_MAP_FULL, when the policy allows it). */
static int
room_helps(const hkp_writer_t *w, int rc, int done)
{
    return (rc == MDB_TXN_FULL && done)
        || (rc == MDB_MAP_FULL && (w->policy.flags & HKP_WRITER_GROW_MAP));
}

/* A put without a nested txn of its own (see writer.h). */
static int
put_direct(hkp_writer_t *w, const hkp_key_t *key, hkp_put_result_t *res)
{
    char reason[HKP_REASON_LEN];
    int rc, rc2, retried = 0;

again:
    if ((rc = put_logged(w, key, res)) == 0)
        return 0;
    memcpy(reason, res->reason, sizeof(reason));
    if (hkp_err_is_key(rc)) {
        /* this key alone: the others again, without it */
        if ((rc2 = rewind_scope(w)) != 0 || (rc2 = close_scope(w)) != 0) {
            hkp_writer_abort(w);
            return rc2;
        }
        memcpy(res->reason, reason, sizeof(reason));
        return rc;
    }
    if (!retried && room_helps(w, rc, w->nlog > 0 || w->batch.keys > 0)) {
        if ((rc2 = txn_full(w, rc == MDB_MAP_FULL)) != 0) {
            hkp_writer_abort(w);
            return rc2;
        }
        retried = 1;
        goto again;
    }
    hkp_writer_abort(w);
    return rc;
}

/* A put in a nested txn of its own (HKP_WRITER_NEST). */
static int
put_nested(hkp_writer_t *w, const hkp_key_t *key, hkp_put_result_t *res)
{
    MDB_txn *parent, *child;
    size_t mark;
    int rc, retried = 0;

again:
    parent = w->step != NULL ? w->step : w->txn;
    mark = tree_len(w);
    if ((rc = mdb_txn_begin(w->db->env, parent, 0, &child)) != 0) {
        hkp_writer_abort(w);
        return rc;
    }
    rc = w->put(w->db, child, key, &w->opts, res);
    if (rc != 0) {
        mdb_txn_abort(child);
        tree_truncate(w, mark);
        if (hkp_err_is_key(rc))
            return rc;              /* this key alone */
        if (!retried && w->step == NULL
            && room_helps(w, rc, w->batch.keys > 0))
        {
            /* too much for one txn, or for the map: commit what is done
             * (the parent is intact), grow the map, go on */
            int rc2;
            if ((rc2 = hkp_writer_commit(w)) != 0
                || (rc == MDB_MAP_FULL && (rc2 = map_grow(w)) != 0)
                || (rc2 = hkp_writer_begin(w)) != 0)
            {
                hkp_writer_abort(w);
                return rc2;
            }
            retried = 1;
            goto again;
        }
        hkp_writer_abort(w);
        return rc;
    }
    if ((rc = mdb_txn_commit(child)) != 0) {
        hkp_writer_abort(w);
        return rc;
    }
    count_add(scope_count(w), key, res->status);
    return 0;
}

int
hkp_writer_put(hkp_writer_t *w, const hkp_key_t *key, hkp_put_result_t *res)
{
    int rc;

    if (w->txn == NULL && (rc = hkp_writer_begin(w)) != 0) {
        memset(res, 0, sizeof(*res));
        return rc;
    }
    rc = w->policy.flags & HKP_WRITER_NEST ? put_nested(w, key, res)
                                           : put_direct(w, key, res);
    if (rc == 0 && w->step == NULL && hkp_writer_due(w)) {
        int rc2 = hkp_writer_commit(w);
        if (rc2 != 0)
            return rc2;
    }
    return rc;
}

int
hkp_writer_step_begin(hkp_writer_t *w)
{
    int rc;

    if (w->step != NULL || w->nlog != 0)
        return EINVAL;          /* one step at a time; no direct puts */
    if (w->txn == NULL && (rc = hkp_writer_begin(w)) != 0)
        return rc;
    if ((rc = mdb_txn_begin(w->db->env, w->txn, 0, &w->step)) != 0) {
        w->step = NULL;
        hkp_writer_abort(w);
        return rc;
    }
    w->step_tree = tree_len(w);
    memset(&w->cur, 0, sizeof(w->cur));
    return 0;
}

int
hkp_writer_step_commit(hkp_writer_t *w)
{
    int rc;

    if (w->step == NULL)
        return 0;
    rc = mdb_txn_commit(w->step);
    w->step = NULL;
    w->nlog = 0;
    if (rc != 0) {
        hkp_writer_abort(w);
        return rc;
    }
    count_sum(&w->batch, &w->cur);
    memset(&w->cur, 0, sizeof(w->cur));
    w->stepped = 1;
    return hkp_writer_due(w) ? hkp_writer_commit(w) : 0;
}

void
hkp_writer_step_abort(hkp_writer_t *w)
{
    if (w->step == NULL)
        return;
    mdb_txn_abort(w->step);
    w->step = NULL;
    tree_truncate(w, w->step_tree);
    w->nlog = 0;
    memset(&w->cur, 0, sizeof(w->cur));
}
