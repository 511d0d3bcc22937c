/*
 * Fetching the keys a session found missing (doc/recon.md 4): POST
 * /pks/hashquery HTTP/1.0 to the peer's IP (as seen on the recon
 * connection) and its announced "http port", a batch of hashes per
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

/* Hashes per request: a job starts at FETCH_BATCH (SKS's
 * http_fetch_size), doubles after each good reply up to FETCH_BATCH_MAX
 * (our nginx's hkp_hashquery_max default; SKS takes request bodies up to
 * 5 MiB, ~260k hashes) and halves after each failed one (an error status
 * such as 413/400, a timeout, a reply too large), down to FETCH_BATCH_MIN. */
#define FETCH_BATCH        100
#define FETCH_BATCH_MIN    10
#define FETCH_BATCH_MAX    HKP_MAX_HASHQUERY
/* Growing stops where it stops paying: after FETCH_BATCH_PROBE good
 * replies at one size, its rate (hashes answered and stored per second)
 * must beat the best smaller size's by FETCH_BATCH_GAIN, else the job
 * goes back to that size and keeps it (SKS 1.1.6 answers 1000 hashes at
 * once more slowly than 10 x 100: bench/recon 50k took 53.9 s at 1000
 * against 37.8 s at 100, where our nginx gains from the larger size). */
#define FETCH_BATCH_PROBE  4
#define FETCH_BATCH_GAIN   1.1
/* A fetch lasting longer logs its progress this often (s; --fetch-progress
 * sets fetcher_t.progress_secs), and the peer record (shared/peer.h
 * HKP_PEER_HAS_FETCH) is written as often. */
#define FETCH_PROGRESS_SECS 5
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
/* Memory: at most FETCH_PARALLEL replies of FETCH_MAX_REPLY bytes (128
 * MiB) plus their key tables (16 bytes a key), and 16 bytes per queued
 * hash (at most FETCH_MAX_JOBS sessions of --max-elements each). */
_Static_assert(FETCH_BATCH_MAX <= FETCH_REPLY_MAX_KEYS,
    "a reply to the largest batch fits the reply table");

/* Why an asked hash gave no stored key, for the seen-cache's line (issue 8
 * item 4): at most FETCH_VAIN_NOTES per job (FETCH_NOTE_LEN bytes each;
 * ~0.9 MB), noted when the reason is not simply "not returned". */
#define FETCH_VAIN_NOTES   4096
#define FETCH_NOTE_LEN     200

typedef struct {
    uint8_t                 hash[HKP_HASH_LEN];
    char                    why[FETCH_NOTE_LEN];
} fetch_note_t;

typedef struct fetch_job {
    struct sockaddr_storage addr;      /* peer IP, port = its http port */
    socklen_t               addrlen;
    hkp_hash_t               *hashes;   /* owned, sorted */
    size_t                  n, pos;        /* pos: next hash to request */
    size_t                  we_miss;       /* hashes the session found */
    size_t                  batch;         /* hashes per request now */
    /* request size search (FETCH_BATCH_PROBE) */
    double                  size_t0;       /* this size began */
    size_t                  size_answered, size_replies;
    double                  best_rate;     /* hashes/s at best_batch */
    size_t                  best_batch;
    int                     size_fixed;    /* no more growing */
    size_t                  answered;      /* hashes of finished requests */
    double                  t_fetch;       /* first request, 0 = none yet */
    double                  t_progress;    /* last progress report */
    fetch_note_t           *notes;         /* sorted when the job is done */
    size_t                  nnotes, capnotes;
    int                     notes_lost;    /* over FETCH_VAIN_NOTES */
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
    char                    first_other[FETCH_NOTE_LEN];  /* the first
                                              key given for no asked hash */
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
    double                  progress_secs; /* FETCH_PROGRESS_SECS */
    void                  (*done)(void *arg, fetch_job_t *job);
    /* every FETCH_PROGRESS_SECS of a job's fetch (may be NULL) */
    void                  (*progress)(void *arg, const fetch_job_t *job);
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
/* A queued job fetches from the host at addr (any port). */
int  fetcher_fetching_from(const fetcher_t *f, const struct sockaddr *addr);
/* Keys of the head job fetched so far (committed or in the open batch). */
size_t fetcher_job_fetched(const fetcher_t *f, const fetch_job_t *job);
/* Hashes not yet asked for, over every queued job. */
size_t fetcher_queued(const fetcher_t *f);
/* Commits the open batch, if any (before another write txn may begin
 * in this thread: LMDB has one writer at a time). */
void fetcher_flush(fetcher_t *f);
/* Commits what is stored, then drops every job (shutdown); done() is
 * called for each. Leaves the event loop. */
void fetcher_shutdown(fetcher_t *f);
void fetch_job_free(fetch_job_t *job);
/* Why the job's hash h (asked, no key stored under it) came to nothing:
 * "not returned by the peer", or what came back instead. */
const char *fetch_job_why(const fetch_job_t *job, const uint8_t *h);

#endif
