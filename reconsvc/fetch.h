/*
 * Fetching the keys a session found missing (doc/recon.md 4): POST
 * /pks/hashquery HTTP/1.0 to the peer's IP (as seen on the recon
 * connection) and its announced "http port", FETCH_BATCH hashes per
 * request, each with a timeout, from a bounded queue of jobs (one job per
 * session). Non-blocking, in the event loop. FETCH_PARALLEL requests of
 * the current job are in flight at a time, so the peer serves the next
 * batch while we store the last one (SKS serves one request at a time;
 * the second connection waits in its backlog).
 *
 * A reply may only carry keys whose hash (under the session's profile) was
 * asked for in that request, each once: other keys are dropped, counted
 * and logged in one line per reply, never stored (fetch_store.c).
 *
 * Replies are stored in slices, so the event loop keeps serving the other
 * sessions while a big or slow-to-merge reply is stored: a slice parses
 * and stores at most FETCH_SLICE_KEYS keys, FETCH_SLICE_BYTES bytes of
 * the reply or FETCH_SLICE_MS of time (whichever comes first; one key's
 * own cost is bounded by the store's limits), the rest is continued from
 * the fetch timer after the loop's next poll. Complete replies wait their
 * turn in arrival order (at most FETCH_PARALLEL of them, each at most
 * FETCH_MAX_REPLY bytes: the memory bound). Each slice is one step
 * (nested txn) of the writer (writer.h) (a key whose put fails is logged
 * and skipped: the writer stores the slice's other keys again without
 * it), into one batch that spans several slices and replies (write_status and the like
 * flush it first: one writer per thread); the writer's policy commits it
 * when it holds FETCH_COMMIT_KEYS keys or is FETCH_COMMIT_SECS old, and
 * it is always committed before the job is reported (its keys count as
 * fetched once committed). Its prefix tree updates are batched (ptree.h)
 * and applied just before the commit.
 */
#ifndef RECONSVC_FETCH_H
#define RECONSVC_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "hkp_limits.h"
#include "ev.h"
#include "session.h"
#include "store.h"
#include "writer.h"

#define FETCH_BATCH        100                 /* SKS's http_fetch_size */
#define FETCH_MAX_JOBS     16                  /* queued sessions */
#define FETCH_MAX_REPLY    (64u * 1024 * 1024) /* one HTTP reply */
/* Consecutive failed batches after which the rest of a job is dropped. */
#define FETCH_MAX_FAILS    3
#define FETCH_PARALLEL     2                   /* requests in flight */
/* The write txn is committed at this many keys or this age (s), which
 * bounds the keys held uncommitted and the time the LMDB writer lock is
 * held (nginx's /pks/add waits for it). */
#define FETCH_COMMIT_KEYS  2000
#define FETCH_COMMIT_SECS  0.25
/* How often request deadlines (and the commit age) are checked, ms. */
#define FETCH_TICK_MS      200
/* One slice of storing a reply (see above). */
#define FETCH_SLICE_KEYS   64
#define FETCH_SLICE_BYTES  (1024u * 1024)
#define FETCH_SLICE_MS     20
/* Keys a reply's framing may hold (each asked hash once; more are
 * dropped); a reply holding more is refused whole. */
#define FETCH_REPLY_MAX_KEYS  HKP_MAX_HASHQUERY

typedef struct fetch_job {
    struct sockaddr_storage addr;      /* peer IP, port = its http port */
    socklen_t               addrlen;
    hkp_hash_t               *hashes;   /* owned, sorted */
    size_t                  n, pos;        /* pos: next hash to request */
    size_t                  we_miss;       /* hashes the session found */
    /* the session, for the log line and the per-peer status */
    char                    peer_str[80];
    char                    member[300];
    int                     role;
    int                     prof;          /* the session's profile */
    int                     ok;            /* the session ended well */
    size_t                  they_miss;
    double                  t_start;
    char                    outcome[256];
    size_t                  fetched;       /* stored and committed */
    size_t                  failed_batches, fails_in_row;
    struct fetch_job       *next;
} fetch_job_t;

/* What storing one reply did (fetch_store.c). */
typedef struct {
    size_t                  keys;          /* in the reply's framing */
    size_t                  stored;        /* put (new, merged or same) */
    size_t                  refused;       /* put refused by the store */
    size_t                  rejected;      /* refused by our parser */
    size_t                  unasked;       /* hash not asked for: dropped */
    size_t                  dup;           /* asked hash already given */
    size_t                  pdropped;      /* the profile drops the key */
    size_t                  slices;
    char                    first_reason[HKP_REASON_LEN]; /* a refusal */
    char                    first_unasked[33 + 1 + 64];   /* hash, fpr */
} fetch_reply_count_t;

/* One key of a reply: where it is in rbuf in. */
typedef struct {
    size_t                  off, len;
} fetch_ent_t;

/* One HTTP request: hashes [pos, pos + n) of the job at the queue head. */
typedef struct fetch_req {
    struct fetcher         *f;             /* the owner */
    int                     fd;            /* -1 = no connection */
    int                     connecting;
    rbuf_t                  out, in;
    double                  deadline;
    size_t                  pos, n;
    /* a complete reply waiting to be stored, or being stored */
    int                     storing;       /* the slot is busy till done */
    fetch_ent_t            *ent;           /* its keys */
    size_t                  nent, next;    /* next: next key to store */
    uint8_t                *taken;         /* per asked hash: given */
    fetch_reply_count_t     cnt;
    struct fetch_req       *snext;         /* store queue */
} fetch_req_t;

typedef struct fetcher {
    recon_ctx_t            *ctx;
    ev_loop_t              *el;
    long long               timer;         /* deadlines and commit age */
    struct sockaddr_storage bind_addr;     /* source IP (port 0) */
    socklen_t               bind_len;      /* 0 = do not bind */
    double                  timeout;       /* per batch, s */
    void                  (*done)(void *arg, fetch_job_t *job);
    void                   *done_arg;

    fetch_job_t            *head, *tail;
    size_t                  njobs;

    fetch_req_t             req[FETCH_PARALLEL];
    fetch_req_t            *sq_head, *sq_tail;   /* replies to store */

    hkp_writer_t            w;             /* the open batch, its policy */
    size_t                  txn_keys;      /* keys stored in the batch */
    size_t                  txn_batches;   /* replies stored in it */
} fetcher_t;

/* Sets f up on the event loop el (its sockets and its timer) and on the
 * database ctx->db (its writer). 0, or -1 (out of memory). */
int  fetcher_init(fetcher_t *f, recon_ctx_t *ctx, ev_loop_t *el);
/* Takes ownership of job, less the hashes other queued jobs ask for
 * already. -1 when the queue is full, 1 when nothing was left to fetch
 * (job not taken either way). */
int  fetcher_enqueue(fetcher_t *f, fetch_job_t *job, double now);
int  fetcher_busy(const fetcher_t *f);
/* No room for another job. */
int  fetcher_full(const fetcher_t *f);
/* Commits the open batch, if any (before another write txn may begin
 * in this thread: LMDB has one writer at a time). */
void fetcher_flush(fetcher_t *f);
/* Commits what is stored, then drops every job (shutdown); done() is
 * called for each. Leaves the event loop. */
void fetcher_shutdown(fetcher_t *f);
void fetch_job_free(fetch_job_t *job);

#endif
