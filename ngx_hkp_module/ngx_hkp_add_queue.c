/*
 * /pks/add group commit (ngx_hkp_add.h).
 *
 * Group commit (ngx_hkp_add_commit): a durable LMDB commit costs two
 * fsyncs, so uploads that are ready at the same time share one. Every
 * parsed upload goes into a per-process queue (mutex + condition
 * variable). One thread at a time is the committer: it takes LMDB's
 * writer lock (hkp_writer_begin), then takes up to
 * NGX_HKP_ADD_BATCH_UPLOADS queued uploads of the same database (and at
 * most about NGX_HKP_ADD_BATCH_KEYS keys) and stores them all in one
 * write txn through the writer (writer.h), each key in its own nested txn
 * (HKP_WRITER_NEST), with the limits of the upload's location; outcomes
 * go into each upload's own key table. On MDB_TXN_FULL the writer commits
 * what is done and goes on in a new txn. Uploads queued while it waits
 * for the lock or commits form the next batch. Every thread waits on the
 * condition variable until its own upload was committed (by itself or by
 * another thread), so its task, and with it the event handler that
 * replies, finishes only after the commit that made its keys durable. If
 * a batch of several uploads fails as a whole (a database error), each of
 * its uploads is stored again alone, so one upload's trouble never fails
 * another's. The map: MDB_MAP_RESIZED at begin (import or reconsvc grew
 * the database past this worker's map) is adopted at once, and
 * MDB_MAP_FULL grows the map by a bounded step up to HKP_DB_MAP_MAX
 * (writer.h), both through the worker's map guard (ngx_hkp_db_map.c);
 * a batch lost to MDB_MAP_FULL at commit is stored again once.
 * The queue is per process (each nginx worker has its own LMDB
 * environment); a thread pool of any size works, since any waiting
 * thread can become the committer.
 */
#include "ngx_hkp_add.h"
#include "writer.h"


/* Group commit: at most this many uploads in one write txn ... */
#define NGX_HKP_ADD_BATCH_UPLOADS  64
/* ... and no further upload once the batch has this many keys. */
#define NGX_HKP_ADD_BATCH_KEYS     2048


/* The group commit queue of this process (see the top of the file). */
static struct {
    pthread_mutex_t     mtx;
    pthread_cond_t      cond;         /* a batch finished */
    ngx_hkp_add_task_t *head;         /* uploads waiting, oldest first */
    ngx_uint_t          busy;         /* a thread is the committer */
} ngx_hkp_add_queue = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0
};



/*
 * Stores the keys of n uploads through the writer, each key in a nested
 * txn, and commits. 0, or a status with `reason` when the batch failed as
 * a whole (the writer has aborted it; the uploads' outcomes are
 * meaningless then). Keys stay allocated: the uploads may be stored again.
 */
static ngx_uint_t
ngx_hkp_add_store(hkp_writer_t *w, ngx_hkp_add_task_t **up, ngx_uint_t n,
    char *reason)
{
    int                 rc;
    size_t              i;
    ngx_uint_t          u;
    hkp_put_result_t    res;
    ngx_hkp_add_key_t  *k;
    ngx_hkp_add_task_t *t;

    for (u = 0; u < n; u++) {
        t = up[u];

        /* the merge limits of this upload's location, and its budget of
         * stored key bytes to decode (ngx_hkp_add.h) */
        hkp_writer_set_limits(w, &t->limits);
        hkp_writer_set_budget(w, NGX_HKP_ADD_TOUCH_MAX);

        for (i = 0; i < t->nkeys; i++) {
            k = &t->keys[i];
            if (k->key == NULL) {
                continue;
            }

            rc = hkp_writer_put(w, k->key, &res);

            if (rc != 0) {
                if (hkp_err_is_key(rc)) {
                    /* this key alone (e.g. the merged key would exceed a
                     * limit) */
                    ngx_hkp_add_reason(k, res.reason);
                    continue;
                }

                ngx_hkp_add_msg(reason, "Database error: ", hkp_strerror(rc));
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_memcpy(k->hash, res.hash, HKP_HASH_LEN);
            k->nremoved = 0;

            switch (res.status) {
            case HKP_PUT_NEW:
                k->outcome = NGX_HKP_ADD_NEW;
                break;
            case HKP_PUT_MERGED:
                k->outcome = NGX_HKP_ADD_MERGED;
                k->nremoved = ngx_min(res.nremoved, 4);
                ngx_memcpy(k->removed, res.removed,
                           k->nremoved * HKP_HASH_LEN);
                break;
            default:
                k->outcome = NGX_HKP_ADD_UNCHANGED;
            }
        }
    }

    rc = hkp_writer_commit(w);
    if (rc != 0) {
        ngx_hkp_add_msg(reason, "Database error: ", hkp_strerror(rc));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return 0;
}


void
ngx_hkp_add_commit(ngx_hkp_add_task_t *t)
{
    int                   rc;
    size_t                nk, grown;
    hkp_db_t             *db;
    hkp_writer_t          w;
    ngx_uint_t            n, u, status;
    ngx_hkp_add_task_t   *b, **pp, *up[NGX_HKP_ADD_BATCH_UPLOADS];
    char                  reason[NGX_HKP_ADD_REASON_LEN];

    db = t->db;

    /* a nested txn per key; no bound of its own: the batch is chosen
     * below. The map: adopted when another process grew the database,
     * grown by a bounded step when a key does not fit, both through the
     * worker's map guard (ngx_hkp_db_map.c), since the event loop reads
     * the same environment. */
    if (hkp_writer_open(&w, db, &(hkp_writer_policy_t) {
                                   .flags = HKP_WRITER_NEST
                                            | HKP_WRITER_ADOPT_MAP
                                            | HKP_WRITER_GROW_MAP,
                                   .guard = &t->ndb->guard })
        != 0)
    {
        ngx_hkp_add_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR, "Out of memory",
                         "");
        return;
    }

    pthread_mutex_lock(&ngx_hkp_add_queue.mtx);

    t->next = NULL;
    t->done = 0;
    for (pp = &ngx_hkp_add_queue.head; *pp; pp = &(*pp)->next) {
        /* void */
    }
    *pp = t;

    while (!t->done) {

        if (ngx_hkp_add_queue.busy) {
            pthread_cond_wait(&ngx_hkp_add_queue.cond,
                              &ngx_hkp_add_queue.mtx);
            continue;
        }

        /* this thread commits the next batch */
        ngx_hkp_add_queue.busy = 1;
        pthread_mutex_unlock(&ngx_hkp_add_queue.mtx);

        /* LMDB's writer lock: uploads queued meanwhile join the batch */
        rc = hkp_writer_begin(&w);

        pthread_mutex_lock(&ngx_hkp_add_queue.mtx);

        if (rc != MDB_SUCCESS) {
            /* t fails alone; the others try for themselves */
            for (pp = &ngx_hkp_add_queue.head; *pp != t; pp = &(*pp)->next) {
                /* void */
            }
            *pp = t->next;
            ngx_hkp_add_fail(t, NGX_HTTP_SERVICE_UNAVAILABLE,
                             "Database error: ", hkp_strerror(rc));
            t->done = 1;
            ngx_hkp_add_queue.busy = 0;
            pthread_cond_broadcast(&ngx_hkp_add_queue.cond);
            break;
        }

        /* the batch: this database's uploads, oldest first (t is one) */
        n = 0;
        nk = 0;
        pp = &ngx_hkp_add_queue.head;
        while (*pp && n < NGX_HKP_ADD_BATCH_UPLOADS
               && nk < NGX_HKP_ADD_BATCH_KEYS)
        {
            b = *pp;
            if (b->db != db) {
                pp = &b->next;
                continue;
            }
            *pp = b->next;
            b->next = NULL;
            up[n++] = b;
            nk += b->nstore;
        }

        pthread_mutex_unlock(&ngx_hkp_add_queue.mtx);

        grown = w.ngrown;
        status = ngx_hkp_add_store(&w, up, n, reason);

        if (status != 0 && w.ngrown != grown
            && hkp_writer_begin(&w) == MDB_SUCCESS)
        {
            /* lost to MDB_MAP_FULL at commit: the map is larger now */
            status = ngx_hkp_add_store(&w, up, n, reason);
        }

        if (status != 0 && n == 1) {
            ngx_hkp_add_fail(up[0], status, reason, "");

        } else if (status != 0) {
            /* the batch failed as a whole: each upload again, alone */
            for (u = 0; u < n; u++) {
                rc = hkp_writer_begin(&w);
                if (rc != MDB_SUCCESS) {
                    ngx_hkp_add_fail(up[u], NGX_HTTP_SERVICE_UNAVAILABLE,
                                     "Database error: ", hkp_strerror(rc));
                    continue;
                }

                status = ngx_hkp_add_store(&w, &up[u], 1, reason);
                if (status != 0) {
                    ngx_hkp_add_fail(up[u], status, reason, "");
                }
            }
        }

        pthread_mutex_lock(&ngx_hkp_add_queue.mtx);

        for (u = 0; u < n; u++) {
            up[u]->done = 1;
        }

        ngx_hkp_add_queue.busy = 0;
        pthread_cond_broadcast(&ngx_hkp_add_queue.cond);
    }

    pthread_mutex_unlock(&ngx_hkp_add_queue.mtx);

    hkp_writer_close(&w);
}


