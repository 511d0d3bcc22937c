/*
 * `reconsvc run`: the background fill of self-signature records
 * (selfsig_fill.h). One batch at a time: the loop scans it (read txn),
 * the builder thread verifies (no txn), the loop writes it (write txn)
 * and scans the next one. Only the builder touches the batch while it
 * is FILL_QUEUED or FILL_BUSY; only the loop touches the database.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "selfsig_fill.h"

enum { FILL_IDLE, FILL_QUEUED, FILL_BUSY, FILL_BUILT };

static void *
builder(void *arg)
{
    selfsig_fill_t *f = arg;
    uint64_t        one = 1;

    /* background work: lookups, recon and uploads go first */
    (void) setpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid), FILL_NICE);
    pthread_mutex_lock(&f->mtx);
    for (;;) {
        while (!f->stop && f->state != FILL_QUEUED)
            pthread_cond_wait(&f->cv, &f->mtx);
        if (f->stop)
            break;
        f->state = FILL_BUSY;
        pthread_mutex_unlock(&f->mtx);
        hkp_selfsig_batch_build(&f->batch);
        pthread_mutex_lock(&f->mtx);
        f->state = FILL_BUILT;
        if (write(f->efd, &one, sizeof(one)) < 0) {
            /* cannot fail for a counter far from its maximum */
        }
    }
    pthread_mutex_unlock(&f->mtx);
    return NULL;
}

/* A write txn (after the flush), adopting a map another process grew.
 * 0 or a code. */
static int
wtxn_begin(selfsig_fill_t *f, MDB_txn **txn)
{
    int rc;

    if (f->flush != NULL)
        f->flush(f->arg);
    rc = mdb_txn_begin(f->db->env, NULL, 0, txn);
    if (rc == MDB_MAP_RESIZED && (rc = hkp_db_map_set(f->db, 0)) == 0)
        rc = mdb_txn_begin(f->db->env, NULL, 0, txn);
    if (rc != 0)
        *txn = NULL;
    return rc;
}

/* The stored keys still without a record (for the log), or 0. */
static size_t
missing(selfsig_fill_t *f)
{
    MDB_txn *txn;
    size_t   n = 0;

    if (hkp_db_rtxn(f->db, &txn) == 0) {
        (void) hkp_db_selfsig_missing(f->db, txn, &n);
        mdb_txn_abort(txn);
    }
    return n;
}

static void
log_progress(selfsig_fill_t *f, double now, int finished)
{
    double secs = now - f->t0;
    double rate = secs > 0 ? (double) f->written / secs : 0;

    if (finished) {
        rlog("selfsig fill: done: %llu records written in %.2f s (%.0f/s); "
            "%zu keys without one left", (unsigned long long) f->written,
            secs, rate, missing(f));
        f->active = 0;
        return;
    }
    if (now - f->tlog < FILL_LOG_SECS)
        return;
    f->tlog = now;
    rlog("selfsig fill: %llu records written, %.0f records/s, %zu keys "
        "without one left", (unsigned long long) f->written, rate,
        missing(f));
}

/* Writes the built (or empty) batch. 0 when the fill goes on (or is
 * over: *finished), else a code (the batch is dropped; scanned again). */
static int
apply(selfsig_fill_t *f, int *finished)
{
    double   now = ev_now(), secs = now - f->t0;
    uint64_t rate;
    MDB_txn *txn;
    size_t   written = 0;
    int      rc, grown = 0;

    rate = secs > 0 ? (uint64_t) ((double) f->written / secs + 0.5) : 0;
again:
    if ((rc = wtxn_begin(f, &txn)) != 0)
        return rc;
    rc = hkp_db_selfsig_batch_apply(f->db, txn, &f->batch, rate,
        (int64_t) time(NULL), &written, finished);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc == MDB_MAP_FULL && !grown) {
        size_t size;
        if ((rc = hkp_db_map_next(f->db, &size)) != 0
            || (rc = hkp_db_map_set(f->db, size)) != 0)
            return rc;
        grown = 1;
        goto again;
    }
    if (rc != 0)
        return rc;
    f->written += written;
    log_progress(f, now, *finished);
    return 0;
}

/* The next batch: the mark read (a pass begun if none has), the keys
 * scanned into f->batch (*have 1), or no fill pending (*have 0). 0 or a
 * code. */
static int
scan(selfsig_fill_t *f, int *have)
{
    hkp_selfsig_mark_t m;
    MDB_txn           *txn;
    size_t             left = 0;
    int                rc;

    *have = 0;
    if ((rc = hkp_db_rtxn(f->db, &txn)) != 0)
        return rc;
    rc = hkp_db_selfsig_mark_get(f->db, txn, &m);
    if (rc == 0 && !m.pass) {
        /* the first batch: a pass begins (a write of its own) */
        mdb_txn_abort(txn);
        if ((rc = wtxn_begin(f, &txn)) != 0)
            return rc;
        if ((rc = hkp_db_selfsig_mark_get(f->db, txn, &m)) == 0 && !m.pass)
            rc = hkp_db_selfsig_pass_begin(f->db, txn, &m);
        if (rc != 0) {
            mdb_txn_abort(txn);
            return rc == MDB_NOTFOUND ? 0 : rc;
        }
        if ((rc = mdb_txn_commit(txn)) != 0
            || (rc = hkp_db_rtxn(f->db, &txn)) != 0)
            return rc;
        rc = hkp_db_selfsig_mark_get(f->db, txn, &m);
    }
    if (rc == 0 && !f->active)
        rc = hkp_db_selfsig_missing(f->db, txn, &left);
    if (rc == 0)
        rc = hkp_db_selfsig_batch_scan(f->db, txn, &m, FILL_TXN_KEYS,
            FILL_BATCH_BYTES, FILL_SCAN_KEYS, &f->batch);
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (!f->active) {
        f->active = 1;
        f->t0 = f->tlog = ev_now();
        f->written = 0;
        rlog("selfsig fill: %zu stored keys without a self-signature "
            "record: writing them in the background (pass %u%s)", left,
            (unsigned) m.passno, m.has_cursor ? ", resumed" : "");
    }
    *have = 1;
    return 0;
}

/* One step on the loop: scan a batch and hand it to the builder (or
 * write it at once when it holds no key). Milliseconds to the next. */
static long
step(selfsig_fill_t *f)
{
    int rc, have, finished = 0;

    if ((rc = scan(f, &have)) != 0) {
        rlog("selfsig fill: reading the keys failed: %s", hkp_strerror(rc));
        return FILL_RETRY_MS;
    }
    if (!have) {
        if (f->active)                  /* another fill removed the mark */
            log_progress(f, ev_now(), 1);
        return FILL_POLL_MS;
    }
    if (f->batch.n == 0) {
        /* only keys with records: the cursor moves, or the pass ends */
        rc = apply(f, &finished);
        hkp_selfsig_batch_clear(&f->batch);
        if (rc != 0) {
            rlog("selfsig fill: writing failed: %s", hkp_strerror(rc));
            return FILL_RETRY_MS;
        }
        return finished ? FILL_POLL_MS : 0;     /* next, after events */
    }
    pthread_mutex_lock(&f->mtx);
    f->state = FILL_QUEUED;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mtx);
    return FILL_POLL_MS;                /* on_built brings it forward */
}

static long
on_tick(ev_loop_t *el, long long id, void *arg)
{
    selfsig_fill_t *f = arg;
    int             state;

    (void) el;
    (void) id;
    pthread_mutex_lock(&f->mtx);
    state = f->state;
    pthread_mutex_unlock(&f->mtx);
    if (state != FILL_IDLE)
        return FILL_POLL_MS;            /* the builder has the batch */
    return step(f);
}

static void
on_built(ev_loop_t *el, int fd, void *arg, int mask)
{
    selfsig_fill_t *f = arg;
    uint64_t        n;
    int             built, rc, finished = 0;

    (void) mask;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        rlog("selfsig fill: eventfd: %s", strerror(errno));
    pthread_mutex_lock(&f->mtx);
    built = f->state == FILL_BUILT;
    if (built)
        f->state = FILL_IDLE;
    pthread_mutex_unlock(&f->mtx);
    if (!built)
        return;
    if ((rc = apply(f, &finished)) != 0) {
        rlog("selfsig fill: writing %zu records failed: %s", f->batch.n,
            hkp_strerror(rc));
        hkp_selfsig_batch_clear(&f->batch);
        (void) ev_timer_within(el, f->timer, FILL_RETRY_MS);
        return;
    }
    hkp_selfsig_batch_clear(&f->batch);
    (void) ev_timer_within(el, f->timer, finished ? FILL_POLL_MS : 0);
}

int
selfsig_fill_start(selfsig_fill_t *f, hkp_db_t *db, ev_loop_t *el,
    void (*flush)(void *arg), void *arg)
{
    memset(f, 0, sizeof(*f));
    f->db = db;
    f->el = el;
    f->flush = flush;
    f->arg = arg;
    f->timer = -1;
    f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (f->efd < 0) {
        rlog("selfsig fill: not started: eventfd: %s", strerror(errno));
        return -1;
    }
    if (pthread_mutex_init(&f->mtx, NULL) != 0) {
        close(f->efd);
        f->efd = -1;
        rlog("selfsig fill: not started: out of resources");
        return -1;
    }
    if (pthread_cond_init(&f->cv, NULL) != 0
        || pthread_create(&f->th, NULL, builder, f) != 0)
    {
        rlog("selfsig fill: not started: no thread");
        selfsig_fill_stop(f);
        return -1;
    }
    f->have_th = 1;
    if (ev_file_set(el, f->efd, EV_READABLE, on_built, f) != 0
        || (f->timer = ev_timer_add(el, 0, on_tick, f)) < 0)
    {
        rlog("selfsig fill: not started: out of memory");
        selfsig_fill_stop(f);
        return -1;
    }
    return 0;
}

void
selfsig_fill_stop(selfsig_fill_t *f)
{
    if (f->db == NULL)
        return;
    if (f->have_th) {
        pthread_mutex_lock(&f->mtx);
        f->stop = 1;
        pthread_cond_signal(&f->cv);
        pthread_mutex_unlock(&f->mtx);
        pthread_join(f->th, NULL);
        f->have_th = 0;
        pthread_cond_destroy(&f->cv);
    }
    if (f->timer > 0)
        ev_timer_del(f->el, f->timer);
    if (f->efd >= 0) {
        ev_file_del(f->el, f->efd);
        close(f->efd);
        pthread_mutex_destroy(&f->mtx);
    }
    hkp_selfsig_batch_free(&f->batch);
    f->db = NULL;
}
