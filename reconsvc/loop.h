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
                fetch_timeout;
} run_opts_t;

/* Runs until SIGTERM/SIGINT. Returns the exit code (0 clean stop, 1 error). */
int recon_loop_run(const run_opts_t *o);

/*
 * Per-peer status in the LMDB `meta` database, written when a session's
 * fetches are over:
 *   key   "recon:<host> <port>"   (the peer's membership line)
 *   value one JSON object on one line, e.g.
 *         {"time":1700000000,"role":"initiator","outcome":"ok",
 *          "we_miss":12,"they_miss":0,"fetched":12,"duration":0.84,
 *          "profile":"sks"}
 *   time = Unix time the session ended (after its fetches); role = ours
 *   (initiator: we connected; acceptor: the peer did); profile = the hash
 *   profile the session used (profile.h); outcome = "ok" or
 *   the reason the session failed; we_miss = hashes found missing here;
 *   they_miss = hashes we sent to the peer in Elements; fetched = keys
 *   received and stored; duration = seconds from connect to the end of
 *   the fetches.
 */
#define RECON_META_PREFIX "recon:"

/* The hash profiles sessions use unless --profiles says otherwise. */
#define RECON_PROFILES_DEFAULT "sks,hockeypuck"

/*
 * The profile a peer used in its last good session, in `meta`:
 *   key   "rprof:<host> <port>"   value  the profile's name ("sks")
 * As initiator we announce that one first (profile.h).
 */
#define RECON_META_PROF "rprof:"

#endif
