/*
 * Between the fetcher's HTTP side (fetch.c) and its storing side
 * (fetch_store.c): not for other callers.
 */
#ifndef RECONSVC_FETCH_INT_H
#define RECONSVC_FETCH_INT_H

#include "fetch.h"

/* fetch.c */
/* A request failed: log it, count it against the head job, free r. */
void fetch_batch_failed(fetcher_t *f, fetch_req_t *r, const char *fmt,
    const char *a);
/* The open batch is lost (aborted): its keys were not stored. */
void fetch_txn_lost(fetcher_t *f, const char *why);
/* Frees r's connection, buffers and store state: the slot is free. */
void fetch_req_close(fetcher_t *f, fetch_req_t *r);

/* fetch_store.c */
/* r holds a complete reply (its connection closed), the body at
 * [body_at, body_at + blen) of r->in: its framing is checked and it joins
 * the store queue. 0, or -1 with the reason in err[errlen] (nothing
 * queued). */
int  fetch_store_queue(fetcher_t *f, fetch_req_t *r, size_t body_at,
    size_t blen, char *err, size_t errlen);
/* Stores one slice of the reply at the store queue's head (fetch.h);
 * a reply done leaves the queue and frees its slot. 1 when more is
 * queued. */
int  fetch_store_slice(fetcher_t *f);
/* Frees r's store state (the slot leaves the queue). */
void fetch_store_drop(fetcher_t *f, fetch_req_t *r);

#endif
