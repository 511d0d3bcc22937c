/*
 * One recon session (doc/recon.md 3): the state machine for both roles, driven
 * by the event loop through non-blocking reads and writes.
 *
 *   acceptor  (we accepted the TCP connection) = requester (3.5): walks the
 *             prefix tree, batches of up to RECON_BATCH requests then Flush
 *   initiator (we connected)                   = responder (3.6)
 *
 * Ownership: the session owns its socket (closed when it finishes), its
 * buffers and its "missing" set (taken with session_take_missing()).
 * Tree lookups run in a read transaction opened for one step (one call of
 * session_io) and aborted before it returns.
 */
#ifndef RECONSVC_SESSION_H
#define RECONSVC_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <lmdb.h>

#include "ev.h"
#include "msg.h"
#include "store.h"

/* Requests in flight before Flush (SKS's max_outstanding_recon_requests). */
#define RECON_BATCH            100
/* Hashes one session may find missing: recon_ctx_t.max_elements (0 =
 * RECON_MAX_ELEMENTS_DEFAULT, msg.h); more ends the session (what was
 * found is fetched, the next session finds the rest). 16 bytes each. */
/* Elements taken from the input per step while streaming an Elements
 * frame. */
#define RECON_STREAM_CHUNK     1024
/* Requests one session may send (the tree of 10M keys has ~300k nodes). */
#define RECON_MAX_REQUESTS     (1u << 20)
/* Buffered output before we stop reading the peer's requests. */
#define RECON_MAX_OUTBUF       (8u * 1024 * 1024)
/* The minimum-progress rule: after Config, a session may last
 * --progress-time (default SESS_PROGRESS_BASE_DEFAULT s) plus
 * SESS_PROGRESS_PER_DIFF_MS per difference found so far (hashes we lack
 * plus hashes we sent); longer, it is cut off ("too little progress").
 * An honest session runs at hundreds of differences a second; a peer
 * that sends one tiny message inside every idle timeout finds none. */
#define SESS_PROGRESS_BASE_DEFAULT  300
#define SESS_PROGRESS_PER_DIFF_MS   10
/* Largest frame while exchanging Config. */
#define RECON_MAX_CONFIG_FRAME (64u * 1024)

typedef struct {
    hkp_db_t   *db;
    MDB_dbi     ptree;              /* unused: each session walks the tree
                                       of its profile (db->prof[]) */
    /* --profiles: the hash profiles sessions may use (profile.h indexes),
     * in the order given; 0 of them = sks alone */
    int         profiles[HKP_PROFILE_MAX];
    size_t      nprofiles;
    uint32_t    http_port;          /* announced as "http port" */
    double      config_timeout;     /* connect + Config + verdicts, s */
    double      session_timeout;    /* whole session after Config, s */
    double      progress_time;      /* minimum progress: the session may
                                       last this long (s, 0 = the default)
                                       plus SESS_PROGRESS_PER_DIFF_MS per
                                       difference found */
    double      idle_timeout;       /* no complete message while waiting, s
                                       (bytes trickling in do not count) */
    size_t      max_elements;       /* --max-elements: an Elements frame, and
                                       the missing set (0 = default) */
} recon_ctx_t;

typedef enum { SESS_ACCEPTOR = 0, SESS_INITIATOR = 1 } sess_role_t;

typedef struct {
    uint8_t     nbits;
    uint8_t     kind;               /* pending: RECON_MSG_POLY / _FULL */
    uint8_t     prefix[RECON_PREFIX_BYTES];
} sess_node_t;

typedef struct {
    sess_node_t *v;
    size_t       head, len, cap;
} sess_queue_t;

typedef enum {
    SESS_CONNECTING,        /* initiator: connect() in progress */
    SESS_CONFIG,            /* our Config queued; waiting for the peer's */
    SESS_VERDICT,           /* our verdict sent; waiting for the peer's */
    SESS_RUN,               /* reconciling */
    SESS_CLOSING,           /* over: our last bytes go out, then DONE */
    SESS_DONE               /* socket closed; the result can be read */
} sess_state_t;

typedef struct session {
    recon_ctx_t            *ctx;
    int                     fd;
    sess_role_t             role;
    sess_state_t            state;
    struct sockaddr_storage peer;
    socklen_t               peerlen;
    char                    peer_str[80];      /* "ip:port" */
    char                    member[300];       /* "host port" or "" */
    rbuf_t                  in, out;
    int                     eof;
    double                  t_start, t_run;
    double                  t_rx;              /* last complete message (or
                                                  stream chunk) consumed */
    double                  t_byte;            /* last byte received */
    uint32_t                peer_http_port;
    int                     have_http_port;

    MDB_txn                *txn;               /* during one step only */

    /* hash profile (profile.h index): its filters are announced, its tree
     * walked; the acceptor takes the one whose filters the peer sent */
    int                     prof;
    int                     prof_retry;        /* initiator, the peer's
                                                  filters are another
                                                  profile of ours: that
                                                  index, else -1 */
    int                     is_retry;          /* a retry with another
                                                  profile: no more */

    /* result */
    hkp_hash_t               *missing;
    size_t                  nmissing, capmissing;
    size_t                  nsent;             /* elements we sent */
    int                     ok;                /* ended with Done */
    int                     keep;              /* fetch even if !ok */
    int                     hostile;           /* cut off for misbehaving */
    char                    outcome[256];

    /* requester */
    sess_queue_t            rq, pend;
    size_t                  nrequests;

    /* an Elements frame over RECON_MAX_FRAME being streamed in */
    int                     streaming;
    uint32_t                stream_left;       /* elements still to come */
} session_t;

/*
 * A session on a connected (connecting = 0) or connecting socket (set
 * O_NONBLOCK). Queues our Config unless still connecting. NULL on out of
 * memory (fd is then not closed).
 */
session_t *session_new(recon_ctx_t *ctx, int fd, sess_role_t role,
    const struct sockaddr *peer, socklen_t peerlen, int connecting,
    const char *member, double now);

/* session_new with hash profile `prof` (an index in ctx->profiles' set;
 * -1 = the first of them). An acceptor's profile is the one the peer's
 * Config names: it answers only then. */
session_t *session_new_prof(recon_ctx_t *ctx, int fd, sess_role_t role,
    const struct sockaddr *peer, socklen_t peerlen, int connecting,
    const char *member, double now, int prof);

/* The profile index of sessions' defaults: ctx->profiles[0], or sks. */
int  session_default_prof(const recon_ctx_t *ctx);
/* 1 when profile index p is one sessions may use. */
int  session_prof_enabled(const recon_ctx_t *ctx, int p);

/* Handles readiness (EV_READABLE / EV_WRITABLE, ev.h). Returns 1 when the
 * session has finished (socket closed; read the result, then
 * session_free). */
int  session_io(session_t *s, int mask, double now);

/* Checks the timeouts; 1 when the session finished now. */
int  session_tick(session_t *s, double now);

/* What the session waits for now: EV_READABLE / EV_WRITABLE. */
int  session_events(const session_t *s);

/* Ends the session at once (shutdown): outcome `why`, nothing fetched. */
void session_abort(session_t *s, const char *why);

void session_free(session_t *s);

/* Sorted, duplicate-free union of two sorted, duplicate-free arrays; the
 * difference a \ b. Results malloc'd (NULL when empty). 0 or -1. */
int  hashes_diff(const hkp_hash_t *a, size_t na, const hkp_hash_t *b,
    size_t nb, hkp_hash_t **out, size_t *nout);
/* Sorts and removes duplicates in place; returns the new count. */
size_t hashes_sort_unique(hkp_hash_t *h, size_t n);

#endif
