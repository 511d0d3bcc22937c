/*
 * Inside `reconsvc run` (loop.c, slots.c): the daemon's state. Not for
 * other callers.
 */
#ifndef RECONSVC_LOOP_INT_H
#define RECONSVC_LOOP_INT_H

#include <stdint.h>
#include <sys/socket.h>

#include "ev.h"
#include "fetch.h"
#include "loop.h"
#include "members.h"
#include "selfsig_fill.h"
#include "session.h"
#include "store.h"

#define MAX_SESSIONS        16      /* concurrent recon sessions */
/* Sessions with one peer address at a time: one each way is what SKS and
 * Hockeypuck do; a member opening more cannot take every slot. */
#define MAX_SESSIONS_PER_PEER 2
/* Fair admission: when every slot is taken, a peer with fewer sessions
 * than the busiest peer less this margin takes the busiest peer's oldest
 * session's slot (that session ends: "yielded its slot"). */
#define SLOT_YIELD_MARGIN   1
#define SESSION_TICK_MS     200     /* session timeouts are checked */
#define READER_CHECK_MS     60000   /* stale LMDB readers are cleared */
#define LISTEN_BACKLOG      64
#define MAX_SELF            8       /* own addresses (self-exclusion) */

typedef struct loop loop_t;

typedef struct slot {
    loop_t         *L;
    session_t      *s;
    int             fd;             /* s->fd while the session runs */
    struct slot    *next;
} slot_t;

struct loop {
    const run_opts_t       *o;
    hkp_db_t                db;
    recon_ctx_t             ctx;
    members_t               ms;
    ev_loop_t              *el;
    int                     lfd, sfd;
    struct sockaddr_storage self[MAX_SELF];
    size_t                  nself;
    struct sockaddr_storage bind_addr;
    socklen_t               bind_len;
    int                     family;
    slot_t                 *slots;
    size_t                  nslots;
    fetcher_t               fetcher;
    int                     fetcher_ready;
    MDB_dbi                 seen;           /* seen.h */
    int64_t                 started;        /* Unix time of the start */
    selfsig_fill_t          fill;           /* selfsig_fill.h */
};

/* loop.c: a session is over (its socket closed): its result. */
void loop_session_over(loop_t *L, session_t *s, double now);

/* slots.c */
/* A session in a new slot, on the event loop. 0 or -1. */
int  slot_add(loop_t *L, session_t *s);
/* The session has finished: out of the loop, its result, the slot freed. */
void slot_end(loop_t *L, slot_t *sl, double now);
/* May a new session with `peer` (address text ip) start? 0 yes (another
 * peer's session may have yielded its slot for it), -1 no (logged). */
int  slots_admit(loop_t *L, const struct sockaddr *peer, const char *ip,
    double now);
/* The session timeouts (an ev timer, every SESSION_TICK_MS). */
long slots_tick(ev_loop_t *el, long long id, void *arg);

#endif
