/*
 * Fetching the keys a session found missing (recon.md 4): POST
 * /pks/hashquery HTTP/1.0 to the peer's IP (as seen on the recon
 * connection) and its announced "http port", FETCH_BATCH hashes per
 * request, one request at a time, each with a timeout, from a bounded
 * queue of jobs (one job per session). Non-blocking, in the event loop.
 * Each reply is stored in one write transaction (a nested one per key: a
 * bad key is logged and skipped), through hkp_db_put().
 */
#ifndef RECONSVC_FETCH_H
#define RECONSVC_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "msg.h"
#include "session.h"

#define FETCH_BATCH        100                 /* SKS's http_fetch_size */
#define FETCH_MAX_JOBS     16                  /* queued sessions */
#define FETCH_MAX_REPLY    (64u * 1024 * 1024) /* one HTTP reply */
/* Consecutive failed batches after which the rest of a job is dropped. */
#define FETCH_MAX_FAILS    3

typedef struct fetch_job {
    struct sockaddr_storage addr;      /* peer IP, port = its http port */
    socklen_t               addrlen;
    uint8_t               (*hashes)[16];   /* owned, sorted */
    size_t                  n, pos;
    /* the session, for the log line and the per-peer status */
    char                    peer_str[80];
    char                    member[300];
    int                     role;
    size_t                  they_miss;
    double                  t_start;
    char                    outcome[256];
    size_t                  fetched, failed_batches, fails_in_row;
    struct fetch_job       *next;
} fetch_job_t;

typedef struct {
    recon_ctx_t            *ctx;
    int                     epfd;
    void                   *tag;           /* epoll data.ptr for our fd */
    struct sockaddr_storage bind_addr;     /* source IP (port 0) */
    socklen_t               bind_len;      /* 0 = do not bind */
    double                  timeout;       /* per batch, s */
    void                  (*done)(void *arg, fetch_job_t *job);
    void                   *done_arg;

    fetch_job_t            *head, *tail;
    size_t                  njobs;

    int                     fd;            /* current request, or -1 */
    int                     connecting;
    rbuf_t                  out, in;
    double                  deadline;
    size_t                  batch_n;
} fetcher_t;

void fetcher_init(fetcher_t *f, recon_ctx_t *ctx, int epfd, void *tag);
/* Takes ownership of job. -1 when the queue is full (job not taken). */
int  fetcher_enqueue(fetcher_t *f, fetch_job_t *job, double now);
int  fetcher_busy(const fetcher_t *f);
void fetcher_io(fetcher_t *f, uint32_t events, double now);
void fetcher_tick(fetcher_t *f, double now);
/* Drops every job (shutdown); done() is called for each. */
void fetcher_shutdown(fetcher_t *f);
void fetch_job_free(fetch_job_t *job);

/* Stores the keys of one /pks/hashquery reply body in one write txn.
 * Returns the number of keys stored, or -1 (database error, nothing
 * stored) with a message in err[errlen]. */
long fetch_store_reply(hkp_db_t *db, const uint8_t *body, size_t len,
    char *err, size_t errlen);

#endif
