/*
 * `reconsvc run`: the recon daemon's event loop (one epoll over the
 * listening socket, the recon sessions, the fetch client, signals and
 * timers).
 */
#ifndef RECONSVC_LOOP_H
#define RECONSVC_LOOP_H

#include <stdint.h>

typedef struct {
    const char *db_dir;
    int         create;      /* --create: make the database if missing */
    size_t      max_elements; /* --max-elements (session.h) */
    const char *listen;           /* ADDR:PORT, [ADDR6]:PORT */
    uint32_t    http_port;        /* announced "http port" */
    const char *membership;       /* file, or NULL */
    double      gossip;           /* seconds between outgoing sessions */
    const char *hostname;         /* own address for self-exclusion */
    const char *log;              /* log file, or NULL = stderr */
    const char *profiles;         /* --profiles LIST (RECON_PROFILES_DEFAULT) */
    double      config_timeout, session_timeout, idle_timeout,
                fetch_timeout, progress_time,
                fetch_progress;    /* --fetch-progress (fetch.h) */
} run_opts_t;

/* Runs until SIGTERM/SIGINT. Returns the exit code (0 clean stop, 1 error). */
int recon_loop_run(const run_opts_t *o);

/*
 * When a session's fetches are over, its result is stored as the peer's
 * status record (shared/peer.h: meta "recon:<host> <port>", the peer's
 * membership line), which the module's op=stats shows.
 */

/* The hash profiles sessions use unless --profiles says otherwise. */
#define RECON_PROFILES_DEFAULT "sks,hockeypuck"

/*
 * The profile a peer used in its last good session, in `meta`:
 *   key   "rprof:<host> <port>"   value  the profile's name ("sks")
 * As initiator we announce that one first (profile.h).
 */
#define RECON_META_PROF "rprof:"

#endif
