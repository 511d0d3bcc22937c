/*
 * `reconsvc run`: the background fill of self-signature records (the
 * fill mark, store.h). While the mark says records are pending (an
 * import with --selfsig later), batches of stored keys without a record
 * are read in a read txn on the event loop, their records built by one
 * thread of its own (nice +FILL_NICE, no database there: selfsig.h), and
 * written on the event loop in a short write txn of at most
 * FILL_TXN_KEYS records, each only onto the key bytes it was built from
 * (store.h: hkp_db_selfsig_batch_apply). The mark's cursor is written
 * with each batch, so a restart (or kill -9) goes on where it was; the
 * last batch of a pass removes the mark. A log line every FILL_LOG_SECS
 * (written, rate, left); op=stats reads the same from the mark.
 */
#ifndef RECONSVC_SELFSIG_FILL_H
#define RECONSVC_SELFSIG_FILL_H

#include <pthread.h>
#include <stdint.h>

#include "ev.h"
#include "store.h"

#define FILL_TXN_KEYS     256           /* records per write txn */
#define FILL_BATCH_BYTES  (8u << 20)    /* key bytes copied per batch */
#define FILL_SCAN_KEYS    8192          /* stored keys looked at per read
                                           txn (most may have a record) */
#define FILL_POLL_MS      5000          /* idle: the mark looked for */
#define FILL_RETRY_MS     1000          /* after a database error */
#define FILL_LOG_SECS     5             /* a progress line this often */
#define FILL_NICE         10            /* the builder thread's nice */

typedef struct {
    hkp_db_t            *db;
    ev_loop_t           *el;
    /* called before each write txn (the fetcher's open batch: one
     * writer at a time in this thread) */
    void               (*flush)(void *arg);
    void                *arg;
    long long            timer;
    int                  efd;           /* eventfd: a batch is built */
    pthread_t            th;
    int                  have_th;
    pthread_mutex_t      mtx;
    pthread_cond_t       cv;
    int                  state;         /* FILL_* (selfsig_fill.c) */
    int                  stop;
    hkp_selfsig_batch_t  batch;         /* the worker's while built */
    int                  active;        /* a fill under way (logged) */
    double               t0, tlog;      /* its start, the last line */
    uint64_t             written;       /* records this process wrote */
} selfsig_fill_t;

/* Starts the filler on el: 0, or -1 (out of resources: logged, and run
 * goes on without it; `reconsvc check --fill-selfsig` still fills). */
int  selfsig_fill_start(selfsig_fill_t *f, hkp_db_t *db, ev_loop_t *el,
    void (*flush)(void *arg), void *arg);
/* Stops the thread (a batch being built is dropped: its keys are
 * scanned again next time) and leaves the loop. */
void selfsig_fill_stop(selfsig_fill_t *f);

#endif
