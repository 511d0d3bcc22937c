/*
 * `reconsvc run`: the daemon's wiring on the event core (loop.h, ev.h):
 * the listening socket, the recon sessions, the fetcher, the background
 * fill of self-signature records (selfsig_fill.h), signals, and the
 * timers (session timeouts, gossip, the LMDB reader check, the heartbeat
 * record nginx's /pks/health reads: store.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "ev.h"
#include "fetch.h"
#include "log.h"
#include "loop.h"
#include "members.h"
#include "peer.h"
#include "seen.h"
#include "session.h"
#include "store.h"
#include "zp.h"

#include "loop_int.h"


static const char *
role_name(int role)
{
    return role == SESS_INITIATOR ? "initiator" : "acceptor";
}

/* ------------------------------------------------------------ results */

/* Writes the per-peer status record (shared/peer.h) in its own write
 * txn: the session's result, the counters carried on from the previous
 * record, and, while its fetch runs (in_progress), how far it is. */
static void
write_status(loop_t *L, const fetch_job_t *j, double duration,
    int in_progress)
{
    char key[sizeof(RECON_META_PROF) + sizeof(j->member)];
    char outcome[sizeof(j->outcome) + 32];
    hkp_peer_t p, old;
    MDB_txn *txn;
    time_t now = time(NULL);
    size_t mlen = strlen(j->member);
    int rc;

    if (j->member[0] == '\0')
        return;
    fetcher_flush(&L->fetcher);     /* one write txn at a time */
    if ((rc = mdb_txn_begin(L->db.env, NULL, 0, &txn)) != 0) {
        rlog("status for %s not written: %s", j->member, mdb_strerror(rc));
        return;
    }
    memset(&p, 0, sizeof(p));
    if (hkp_db_peer_get(&L->db, txn, j->member, mlen, &old) == 0
        && (old.flags & HKP_PEER_HAS_COUNTS))
    {
        p.sessions_ok = old.sessions_ok;
        p.sessions_failed = old.sessions_failed;
        p.fetched_total = old.fetched_total;
        p.last_ok = old.last_ok;
    }
    p.time = now > 0 ? (uint64_t) now : 0;
    p.we_miss = j->we_miss;
    p.they_miss = j->they_miss;
    p.fetched = fetcher_job_fetched(&L->fetcher, j);
    p.duration_us = duration > 0 ? (uint64_t) (duration * 1e6 + 0.5) : 0;
    p.flags = HKP_PEER_HAS_ALL;
    if (in_progress) {
        double secs = ev_now() - j->t_fetch;
        p.flags |= HKP_PEER_HAS_FETCH;
        p.fetch_total = j->n;
        p.fetch_done = p.fetched;
        p.fetch_rate = secs > 0 ? (uint64_t) (p.fetched / secs + 0.5) : 0;
        p.fetch_queue = fetcher_queued(&L->fetcher);
        snprintf(outcome, sizeof(outcome), "%s; fetching", j->outcome);
    } else {
        if (j->ok) {
            p.sessions_ok++;
            p.last_ok = p.time;
        } else
            p.sessions_failed++;
        p.fetched_total += p.fetched;
        snprintf(outcome, sizeof(outcome), "%s", j->outcome);
    }
    hkp_peer_set_text(&p, role_name(j->role),
        hkp_profile_at((size_t) j->prof)->name, outcome);
    if ((rc = hkp_db_peer_put(&L->db, txn, j->member, mlen, &p)) != 0) {
        mdb_txn_abort(txn);
        rlog("status for %s not written: %s", j->member,
            hkp_strerror(rc));
        return;
    }
    if (j->ok && !in_progress) {
        /* the profile this peer used, announced first next time */
        const char *pn = hkp_profile_at((size_t) j->prof)->name;
        snprintf(key, sizeof(key), RECON_META_PROF "%s", j->member);
        MDB_val pk = { strlen(key), key }, pv = { strlen(pn), (void *) pn };
        if ((rc = mdb_put(txn, L->db.meta, &pk, &pv, 0)) != 0) {
            mdb_txn_abort(txn);
            rlog("profile for %s not written: %s", j->member,
                mdb_strerror(rc));
            return;
        }
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        rlog("status for %s not written: %s", j->member, mdb_strerror(rc));
}

/* A long fetch, every FETCH_PROGRESS_SECS: its peer's record says how far
 * it is (op=stats). */
static void
job_progress(void *arg, const fetch_job_t *j)
{
    write_status(arg, j, ev_now() - j->t_start, 1);
}

/* The seen-cache's reason for a hash of j (seen_why_fn). */
static const char *
job_why(const void *arg, const uint8_t *h)
{
    return fetch_job_why(arg, h);
}

/* The peer's name in the seen-cache: its membership line, else ip:port. */
static const char *
job_peer(const fetch_job_t *j)
{
    return j->member[0] != '\0' ? j->member : j->peer_str;
}

static void connect_peer(loop_t *L, const struct sockaddr *to,
    socklen_t tolen, const char *label, int prof, int retry, double now);

/* A session is completely over (fetches included): its one log line. */
static void
job_finished(void *arg, fetch_job_t *j)
{
    loop_t *L = arg;
    double dur = ev_now() - j->t_start;
    size_t vain = 0;
    int rc;

    /* hashes fetched in vain go to the seen-cache (only when every batch
     * was answered: a failed one proves nothing) */
    if (j->n > 0 && j->failed_batches == 0 && j->pos >= j->n) {
        fetcher_flush(&L->fetcher);     /* one write txn at a time */
        rc = seen_record(&L->db, L->seen, job_peer(j), j->prof,
            (const hkp_hash_t *) j->hashes, j->n, (int64_t) time(NULL),
            job_why, j, &vain);
        if (rc != 0)
            rlog("seen-cache for %s not written: %s", job_peer(j),
                hkp_strerror(rc));
    }
    rlog("session peer=%s%s%s%s role=%s we_miss=%zu they_miss=%zu "
        "fetched=%zu%s duration=%.2fs outcome=%s", j->peer_str,
        j->member[0] ? " (" : "", j->member, j->member[0] ? ")" : "",
        role_name(j->role), j->we_miss, j->they_miss, j->fetched,
        j->failed_batches ? " (some fetches failed)" : "", dur, j->outcome);
    rlog("profile peer=%s role=%s profile=%s%s", j->peer_str,
        role_name(j->role), hkp_profile_at((size_t) j->prof)->name,
        j->ok ? "" : " (session failed)");
    if (vain > 0)
        rlog("session peer=%s: %zu hashes fetched in vain (seen-cache)",
            job_peer(j), vain);
    write_status(L, j, dur, 0);
    fetch_job_free(j);
}

void
loop_session_over(loop_t *L, session_t *s, double now)
{
    fetch_job_t *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        rlog("session peer=%s: out of memory for its result", s->peer_str);
        return;
    }
    snprintf(j->peer_str, sizeof(j->peer_str), "%s", s->peer_str);
    snprintf(j->member, sizeof(j->member), "%s", s->member);
    snprintf(j->outcome, sizeof(j->outcome), "%s", s->outcome);
    j->role = s->role;
    j->prof = s->prof;
    j->ok = s->ok;
    j->they_miss = s->nsent;
    j->t_start = s->t_start;
    if (s->keep && s->nmissing > 0) {
        size_t before = s->nmissing;
        s->nmissing = seen_filter(&L->db, L->seen, s->member[0] ? s->member
            : s->peer_str, s->missing, s->nmissing, (int64_t) time(NULL));
        if (s->nmissing < before)
            rlog("session peer=%s: %zu hashes not asked for (seen-cache)",
                s->peer_str, before - s->nmissing);
    }
    /* the peer announced another profile of ours: once more with that */
    if (s->role == SESS_INITIATOR && !s->ok && s->prof_retry >= 0
        && !s->is_retry)
    {
        rlog("session peer=%s: filters of profile %s refused, trying %s",
            s->peer_str, hkp_profile_at((size_t) s->prof)->name,
            hkp_profile_at((size_t) s->prof_retry)->name);
        connect_peer(L, (struct sockaddr *) &s->peer, s->peerlen, s->member,
            s->prof_retry, 1, now);
    }
    if (s->keep && s->nmissing > 0 && s->have_http_port) {
        j->hashes = s->missing;
        j->n = s->nmissing;
        s->missing = NULL;
        s->nmissing = 0;
        memcpy(&j->addr, &s->peer, s->peerlen);
        j->addrlen = s->peerlen;
        addr_set_port((struct sockaddr *) &j->addr, s->peer_http_port);
        j->we_miss = j->n;
        int rc = fetcher_enqueue(&L->fetcher, j, now);
        if (rc == 0)
            return;
        snprintf(j->outcome + strlen(j->outcome),
            sizeof(j->outcome) - strlen(j->outcome), rc < 0
            ? "; fetch queue full, nothing fetched"
            : "; all being fetched from another peer");
    }
    job_finished(L, j);
}

static void
member_label(const loop_t *L, int idx, char *out, size_t len)
{
    if (idx < 0 || (size_t) idx >= L->ms.n)
        out[0] = '\0';
    else
        snprintf(out, len, "%s %s", L->ms.m[idx].host, L->ms.m[idx].port);
}

static void
on_accept(ev_loop_t *el, int lfd, void *arg, int mask)
{
    loop_t *L = arg;
    double now = ev_time(el);

    (void) mask;
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        char ip[64], label[300];
        int fd = accept4(lfd, (struct sockaddr *) &peer, &plen,
            SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                rlog("accept: %s", strerror(errno));
            return;
        }
        addr_ip_str((struct sockaddr *) &peer, ip, sizeof(ip));
        members_refresh(&L->ms, now);
        int idx = members_find_ip(&L->ms, (struct sockaddr *) &peer);
        if (idx < 0) {
            rlog("refused recon connection from %s: not in the membership",
                ip);
            close(fd);
            continue;
        }
        if (fetcher_fetching_from(&L->fetcher, (struct sockaddr *) &peer)) {
            /* like SKS: a session would find the same keys again, and
             * keep the peer from serving our fetch */
            rlog("refused recon connection from %s: fetching keys from it",
                ip);
            close(fd);
            continue;
        }
        if (fetcher_full(&L->fetcher)) {
            /* a session that runs while keys are fetched may find some of
             * them too: the fetcher asks for each once (fetch.h) */
            rlog("refused recon connection from %s: fetch queue full", ip);
            close(fd);
            continue;
        }
        if (slots_admit(L, (struct sockaddr *) &peer, ip, now) != 0) {
            close(fd);
            continue;
        }
        member_label(L, idx, label, sizeof(label));
        session_t *s = session_new(&L->ctx, fd, SESS_ACCEPTOR,
            (struct sockaddr *) &peer, plen, 0, label, now);
        if (s == NULL || slot_add(L, s) != 0) {
            rlog("refused recon connection from %s: out of resources", ip);
            if (s != NULL)
                session_free(s);     /* closes fd */
            else
                close(fd);
        }
    }
}

static int
have_initiator(const loop_t *L)
{
    for (const slot_t *sl = L->slots; sl; sl = sl->next)
        if (sl->s->role == SESS_INITIATOR)
            return 1;
    return 0;
}

static int peer_prof(loop_t *L, const char *label);

static void
gossip(loop_t *L, double now)
{
    struct sockaddr_storage to;
    socklen_t tolen;
    size_t idx;
    char label[300];

    if (fetcher_busy(&L->fetcher) || have_initiator(L)
        || L->nslots >= MAX_SESSIONS)
        return;
    members_refresh(&L->ms, now);
    if (members_pick(&L->ms, L->self, L->nself, L->family, &to, &tolen,
        &idx) != 0)
        return;
    member_label(L, (int) idx, label, sizeof(label));
    connect_peer(L, (struct sockaddr *) &to, tolen, label,
        peer_prof(L, label), 0, now);
}

/* The profile `label` used last (meta RECON_META_PROF), if still one of
 * ours; else our first. */
static int
peer_prof(loop_t *L, const char *label)
{
    char key[320], name[64];
    MDB_txn *txn;
    MDB_val k, v;
    int prof = session_default_prof(&L->ctx);

    snprintf(key, sizeof(key), RECON_META_PROF "%s", label);
    k.mv_size = strlen(key);
    k.mv_data = key;
    if (hkp_db_rtxn(&L->db, &txn) != 0)
        return prof;
    if (mdb_get(txn, L->db.meta, &k, &v) == 0 && v.mv_size < sizeof(name)) {
        memcpy(name, v.mv_data, v.mv_size);
        name[v.mv_size] = '\0';
        for (size_t i = 0; i < hkp_profile_count(); i++)
            if (strcmp(hkp_profile_at(i)->name, name) == 0
                && session_prof_enabled(&L->ctx, (int) i))
                prof = (int) i;
    }
    mdb_txn_abort(txn);
    return prof;
}

/* An initiator session with `to`, announcing profile prof. */
static void
connect_peer(loop_t *L, const struct sockaddr *to, socklen_t tolen,
    const char *label, int prof, int retry, double now)
{
    int fd = socket(to->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
        0);
    if (fd < 0) {
        rlog("gossip with %s: socket: %s", label, strerror(errno));
        return;
    }
    if (L->bind_len > 0 && L->bind_addr.ss_family == to->sa_family
        && bind(fd, (struct sockaddr *) &L->bind_addr, L->bind_len) != 0)
    {
        rlog("gossip with %s: bind: %s", label, strerror(errno));
        close(fd);
        return;
    }
    int rc = connect(fd, to, tolen);
    if (rc != 0 && errno != EINPROGRESS) {
        rlog("session peer=%s role=initiator outcome=connect failed: %s",
            label, strerror(errno));
        close(fd);
        return;
    }
    session_t *s = session_new_prof(&L->ctx, fd, SESS_INITIATOR, to, tolen,
        rc != 0, label, now, prof);
    if (s != NULL)
        s->is_retry = retry;
    if (s == NULL || slot_add(L, s) != 0) {
        rlog("gossip with %s: out of resources", label);
        if (s != NULL)
            session_free(s);
        else
            close(fd);
    }
}

static double
jitter(double base)
{
    /* uniform factor in [0.95, 1.05) like SKS */
    return base * (0.95 + 0.1 * ((double) random() / ((double) RAND_MAX + 1)));
}

/* Starts a session with a random member; runs again in about
 * --gossip seconds. */
static long
on_gossip(ev_loop_t *el, long long id, void *arg)
{
    loop_t *L = arg;
    (void) id;
    gossip(L, ev_time(el));
    return (long) (jitter(L->o->gossip) * 1000);
}

/* The heartbeat (meta HKP_META_HEARTBEAT) in its own write txn, after
 * the fetcher's open batch: one writer at a time. */
static void
write_heartbeat(loop_t *L)
{
    MDB_txn *txn;
    int rc;

    if (L->fetcher_ready)
        fetcher_flush(&L->fetcher);
    if ((rc = mdb_txn_begin(L->db.env, NULL, 0, &txn)) != 0) {
        rlog("heartbeat not written: %s", mdb_strerror(rc));
        return;
    }
    if ((rc = hkp_db_heartbeat_put(&L->db, txn, (int64_t) time(NULL),
            L->started)) != 0)
    {
        mdb_txn_abort(txn);
        rlog("heartbeat not written: %s", mdb_strerror(rc));
        return;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        rlog("heartbeat not written: %s", mdb_strerror(rc));
}

/* Before the filler's write txns: the fetcher's open batch committed. */
static void
fill_flush(void *arg)
{
    loop_t *L = arg;

    if (L->fetcher_ready)
        fetcher_flush(&L->fetcher);
}

static long
on_heartbeat(ev_loop_t *el, long long id, void *arg)
{
    (void) el;
    (void) id;
    write_heartbeat(arg);
    return HKP_HEARTBEAT_SECS * 1000L;
}

static long
on_reader_check(ev_loop_t *el, long long id, void *arg)
{
    loop_t *L = arg;
    int dead = 0;
    (void) el;
    (void) id;
    if (mdb_reader_check(L->db.env, &dead) == 0 && dead > 0)
        rlog("stale LMDB readers cleared: %d", dead);
    return READER_CHECK_MS;
}

static void
on_signal(ev_loop_t *el, int fd, void *arg, int mask)
{
    struct signalfd_siginfo si;
    (void) arg;
    (void) mask;
    while (read(fd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            int e = rlog_reopen() == 0 ? 0 : errno;
            if (e == 0)
                rlog("signal %u (HUP): log reopened", si.ssi_signo);
            else
                rlog("signal %u (HUP): log not reopened: %s", si.ssi_signo,
                    strerror(e));
            continue;
        }
        rlog("signal %u: stopping", si.ssi_signo);
        ev_stop(el);
    }
}

/* ------------------------------------------------------------ set-up */

static int
setup_listen(loop_t *L)
{
    char host[ADDR_HOST_LEN], port[ADDR_PORT_LEN];
    struct addrinfo hints, *res;
    unsigned portno;
    int one = 1, rc;

    if (addr_parse_hostport(L->o->listen, host, sizeof(host), &portno) != 0)
    {
        fprintf(stderr, "reconsvc run: --listen wants ADDR:PORT\n");
        return -1;
    }
    snprintf(port, sizeof(port), "%u", portno);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "reconsvc run: --listen %s: %s\n", L->o->listen,
            gai_strerror(rc));
        return -1;
    }
    L->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK
        | SOCK_CLOEXEC, 0);
    if (L->lfd < 0
        || setsockopt(L->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))
        || bind(L->lfd, res->ai_addr, res->ai_addrlen) != 0
        || listen(L->lfd, LISTEN_BACKLOG) != 0)
    {
        fprintf(stderr, "reconsvc run: listen on %s: %s\n", L->o->listen,
            strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    L->family = res->ai_family;
    memcpy(&L->self[L->nself++], res->ai_addr, res->ai_addrlen);
    if (!addr_is_wildcard(res->ai_addr)) {
        memcpy(&L->bind_addr, res->ai_addr, res->ai_addrlen);
        L->bind_len = res->ai_addrlen;
        addr_set_port((struct sockaddr *) &L->bind_addr, 0);
    } else
        L->family = AF_UNSPEC;
    freeaddrinfo(res);

    /* own name (self-exclusion), with the recon port */
    if (L->o->hostname != NULL) {
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        if (getaddrinfo(L->o->hostname, port, &hints, &res) == 0) {
            for (struct addrinfo *ai = res; ai && L->nself < MAX_SELF;
                 ai = ai->ai_next)
                memcpy(&L->self[L->nself++], ai->ai_addr, ai->ai_addrlen);
            freeaddrinfo(res);
        } else
            rlog("cannot resolve --hostname %s", L->o->hostname);
    }
    return 0;
}

static int
setup_signals(loop_t *L)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);    /* reopen the log (logrotate) */
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    L->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return L->sfd < 0 ? -1 : 0;
}

/* --profiles: the sessions' profiles, in order; the database keeps the
 * trees of these (and sks's), built now if new; the seen-cache. */
static int
setup_profiles(loop_t *L)
{
    const char *p = L->o->profiles != NULL ? L->o->profiles
        : RECON_PROFILES_DEFAULT;
    unsigned mask = 1;
    char err[512], list[HKP_PROFILES_STR_LEN];
    MDB_txn *txn;
    int rc, changed = 0;

    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        for (size_t i = 0; i < hkp_profile_count(); i++) {
            const char *n = hkp_profile_at(i)->name;
            if (strlen(n) == len && memcmp(n, p, len) == 0
                && !(mask & (1u << i) && (i > 0 || L->ctx.nprofiles > 0))
                && L->ctx.nprofiles < HKP_PROFILE_MAX)
            {
                L->ctx.profiles[L->ctx.nprofiles++] = (int) i;
                mask |= 1u << i;
            }
        }
        p += len;
        if (*p == ',')
            p++;
    }
    if ((rc = mdb_txn_begin(L->db.env, NULL, 0, &txn)) != 0) {
        fprintf(stderr, "reconsvc run: %s\n", mdb_strerror(rc));
        return -1;
    }
    if ((rc = hkp_db_profiles_set(&L->db, txn, mask, &changed, err,
            sizeof(err))) != 0 || (rc = mdb_txn_commit(txn)) != 0)
    {
        if (rc != 0 && err[0] == '\0')
            snprintf(err, sizeof(err), "%s", hkp_strerror(rc));
        mdb_txn_abort(txn);
        fprintf(stderr, "reconsvc run: profiles: %s\n", err);
        return -1;
    }
    if ((rc = seen_open(&L->db, &L->seen)) != 0) {
        fprintf(stderr, "reconsvc run: seen-cache: %s\n", hkp_strerror(rc));
        return -1;
    }
    hkp_db_profiles_str(mask, list, sizeof(list));
    rlog("profiles: %s%s", list, changed ? " (trees built)" : "");
    return 0;
}

int
recon_loop_run(const run_opts_t *o)
{
    loop_t L;
    char err[512];
    int rc = 1;

    memset(&L, 0, sizeof(L));
    L.o = o;
    L.lfd = L.sfd = -1;
    srandom((unsigned) (time(NULL) ^ getpid()));
    hkp_zp_init();

    if (rlog_open(o->log) != 0) {
        fprintf(stderr, "reconsvc run: --log %s: %s\n", o->log,
            strerror(errno));
        return 1;
    }
    if (hkp_db_open(&L.db, o->db_dir, 0, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "reconsvc run: %s\n", err);
        rlog_close();
        return 1;
    }
    L.ctx.db = &L.db;
    L.ctx.ptree = L.db.ptree;
    if (setup_profiles(&L) != 0) {
        hkp_db_close(&L.db);
        rlog_close();
        return 1;
    }
    L.ctx.http_port = o->http_port;
    L.ctx.config_timeout = o->config_timeout;
    L.ctx.session_timeout = o->session_timeout;
    L.ctx.progress_time = o->progress_time;
    L.ctx.idle_timeout = o->idle_timeout;
    L.ctx.max_elements = o->max_elements;

    if (setup_listen(&L) != 0 || setup_signals(&L) != 0)
        goto out;
    if ((L.el = ev_create()) == NULL
        || ev_file_set(L.el, L.lfd, EV_READABLE, on_accept, &L) != 0
        || ev_file_set(L.el, L.sfd, EV_READABLE, on_signal, &L) != 0)
    {
        fprintf(stderr, "reconsvc run: epoll: %s\n", strerror(errno));
        goto out;
    }
    if (members_init(&L.ms, o->membership, ev_now()) != 0)
        rlog("membership %s: could not be read yet", o->membership);
    L.fetcher_ready = fetcher_init(&L.fetcher, &L.ctx, L.el) == 0;
    if (!L.fetcher_ready
        || ev_timer_add(L.el, SESSION_TICK_MS, slots_tick, &L) < 0
        || ev_timer_add(L.el, (long) (jitter(o->gossip) * 1000), on_gossip,
            &L) < 0
        || ev_timer_add(L.el, READER_CHECK_MS, on_reader_check, &L) < 0
        || ev_timer_add(L.el, HKP_HEARTBEAT_SECS * 1000L, on_heartbeat, &L)
           < 0)
    {
        fprintf(stderr, "reconsvc run: out of memory\n");
        goto out;
    }
    L.fetcher.timeout = o->fetch_timeout;
    if (o->fetch_progress > 0)
        L.fetcher.progress_secs = o->fetch_progress;
    L.fetcher.done = job_finished;
    L.fetcher.progress = job_progress;
    L.fetcher.done_arg = &L;
    memcpy(&L.fetcher.bind_addr, &L.bind_addr, sizeof(L.bind_addr));
    L.fetcher.bind_len = L.bind_len;
    L.started = (int64_t) time(NULL);
    write_heartbeat(&L);
    (void) selfsig_fill_start(&L.fill, &L.db, L.el, fill_flush, &L);

    rlog("listening on %s, http port %u, gossip every %.1f s, database %s",
        o->listen, o->http_port, o->gossip, o->db_dir);

    if (ev_run(L.el) != 0)
        rlog("epoll_wait: %s", strerror(errno));
    rc = 0;
    /* shutdown: every session ends, queued fetches are dropped */
    double now = ev_now();
    while (L.slots != NULL) {
        slot_t *sl = L.slots;
        session_abort(sl->s, "stopped (shutdown)");
        slot_end(&L, sl, now);
    }
    selfsig_fill_stop(&L.fill);
    fetcher_shutdown(&L.fetcher);
    L.fetcher_ready = 0;
    rlog("stopped");
out:
    selfsig_fill_stop(&L.fill);
    if (L.fetcher_ready)
        fetcher_shutdown(&L.fetcher);
    members_free(&L.ms);
    ev_free(L.el);
    if (L.lfd >= 0)
        close(L.lfd);
    if (L.sfd >= 0)
        close(L.sfd);
    hkp_db_close(&L.db);
    rlog_close();
    return rc;
}
