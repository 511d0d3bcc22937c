/*
 * `reconsvc run`: the event loop (loop.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "log.h"
#include "loop.h"
#include "membership.h"
#include "session.h"
#include "store.h"
#include "zp.h"

#define MAX_SESSIONS        16      /* concurrent recon sessions */
#define TICK_MS             200
#define READER_CHECK_EVERY  60.0    /* s */

enum { TAG_LISTEN = 1, TAG_SIGNAL, TAG_SESSION, TAG_FETCH };

typedef struct slot {
    int             kind;           /* TAG_SESSION; first member */
    session_t      *s;
    uint32_t        ev;
    struct slot    *next;
} slot_t;

typedef struct {
    const run_opts_t       *o;
    hkp_db_t                db;
    recon_ctx_t             ctx;
    membership_t            ms;
    int                     epfd, lfd, sfd;
    int                     tag_listen, tag_signal, tag_fetch;
    struct sockaddr_storage self[8];
    size_t                  nself;
    struct sockaddr_storage bind_addr;
    socklen_t               bind_len;
    int                     family;
    slot_t                 *slots;
    size_t                  nslots;
    fetcher_t               fetcher;
    double                  next_gossip, next_reader_check;
    int                     stop;
} loop_t;

static double
mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static const char *
role_name(int role)
{
    return role == SESS_INITIATOR ? "initiator" : "acceptor";
}

/* ------------------------------------------------------------ results */

static void
json_str(char *out, size_t len, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < len; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char) c;
        } else if (c < 0x20 || c >= 0x7f)
            o += (size_t) snprintf(out + o, len - o, "\\u%04x", c);
        else
            out[o++] = (char) c;
    }
    out[o] = '\0';
}

/* Writes the per-peer status (format in loop.h) in its own write txn. */
static void
write_status(loop_t *L, const fetch_job_t *j, double duration)
{
    char key[320], val[700], oc[520];
    MDB_txn *txn;
    int rc;

    if (j->member[0] == '\0')
        return;
    snprintf(key, sizeof(key), RECON_META_PREFIX "%s", j->member);
    json_str(oc, sizeof(oc), j->outcome);
    snprintf(val, sizeof(val), "{\"time\":%lld,\"role\":\"%s\",\"outcome\":"
        "\"%s\",\"we_miss\":%zu,\"they_miss\":%zu,\"fetched\":%zu,"
        "\"duration\":%.2f}", (long long) time(NULL), role_name(j->role), oc,
        j->n, j->they_miss, j->fetched, duration);
    MDB_val k = { strlen(key), key }, v = { strlen(val), val };
    fetcher_flush(&L->fetcher);     /* one write txn at a time */
    if ((rc = mdb_txn_begin(L->db.env, NULL, 0, &txn)) != 0) {
        rlog("status for %s not written: %s", j->member, mdb_strerror(rc));
        return;
    }
    if ((rc = mdb_put(txn, L->db.meta, &k, &v, 0)) != 0) {
        mdb_txn_abort(txn);
        rlog("status for %s not written: %s", j->member, mdb_strerror(rc));
        return;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        rlog("status for %s not written: %s", j->member, mdb_strerror(rc));
}

/* A session is completely over (fetches included): its one log line. */
static void
job_finished(void *arg, fetch_job_t *j)
{
    loop_t *L = arg;
    double dur = mono() - j->t_start;
    rlog("session peer=%s%s%s%s role=%s we_miss=%zu they_miss=%zu "
        "fetched=%zu%s duration=%.2fs outcome=%s", j->peer_str,
        j->member[0] ? " (" : "", j->member, j->member[0] ? ")" : "",
        role_name(j->role), j->n, j->they_miss, j->fetched,
        j->failed_batches ? " (some fetches failed)" : "", dur, j->outcome);
    write_status(L, j, dur);
    fetch_job_free(j);
}

static void
session_over(loop_t *L, session_t *s, double now)
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
    j->they_miss = s->nsent;
    j->t_start = s->t_start;
    if (s->keep && s->nmissing > 0 && s->have_http_port) {
        j->hashes = s->missing;
        j->n = s->nmissing;
        s->missing = NULL;
        s->nmissing = 0;
        memcpy(&j->addr, &s->peer, s->peerlen);
        j->addrlen = s->peerlen;
        if (j->addr.ss_family == AF_INET)
            ((struct sockaddr_in *) &j->addr)->sin_port
                = htons((uint16_t) s->peer_http_port);
        else
            ((struct sockaddr_in6 *) &j->addr)->sin6_port
                = htons((uint16_t) s->peer_http_port);
        if (fetcher_enqueue(&L->fetcher, j, now) == 0)
            return;
        snprintf(j->outcome + strlen(j->outcome),
            sizeof(j->outcome) - strlen(j->outcome),
            "; fetch queue full, nothing fetched");
    }
    job_finished(L, j);
}

/* ------------------------------------------------------------ sessions */

static void
slot_remove(loop_t *L, slot_t *sl)
{
    for (slot_t **p = &L->slots; *p; p = &(*p)->next) {
        if (*p == sl) {
            *p = sl->next;
            break;
        }
    }
    L->nslots--;
    session_free(sl->s);
    free(sl);
}

/* After any activity: re-arm epoll, or finish. */
static void
slot_update(loop_t *L, slot_t *sl, int finished, double now)
{
    if (finished) {
        /* the session closed its socket: epoll forgot it */
        session_over(L, sl->s, now);
        slot_remove(L, sl);
        return;
    }
    uint32_t ev = session_events(sl->s);
    if (ev != sl->ev) {
        struct epoll_event e = { .events = ev, .data.ptr = sl };
        if (epoll_ctl(L->epfd, EPOLL_CTL_MOD, sl->s->fd, &e) != 0) {
            session_abort(sl->s, "epoll_ctl failed");
            session_over(L, sl->s, now);
            slot_remove(L, sl);
            return;
        }
        sl->ev = ev;
    }
}

static int
slot_add(loop_t *L, session_t *s)
{
    slot_t *sl = calloc(1, sizeof(*sl));
    if (sl == NULL)
        return -1;
    sl->kind = TAG_SESSION;
    sl->s = s;
    sl->ev = session_events(s);
    struct epoll_event e = { .events = sl->ev, .data.ptr = sl };
    if (epoll_ctl(L->epfd, EPOLL_CTL_ADD, s->fd, &e) != 0) {
        free(sl);
        return -1;
    }
    sl->next = L->slots;
    L->slots = sl;
    L->nslots++;
    return 0;
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
on_accept(loop_t *L, double now)
{
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        char ip[64], label[300];
        int fd = accept4(L->lfd, (struct sockaddr *) &peer, &plen,
            SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                rlog("accept: %s", strerror(errno));
            return;
        }
        addr_ip_str((struct sockaddr *) &peer, ip, sizeof(ip));
        membership_refresh(&L->ms);
        int idx = membership_find_ip(&L->ms, (struct sockaddr *) &peer);
        if (idx < 0) {
            rlog("refused recon connection from %s: not in the membership",
                ip);
            close(fd);
            continue;
        }
        if (fetcher_busy(&L->fetcher)) {
            /* like SKS: no recon while fetching (the session would find
             * the same keys again) */
            rlog("refused recon connection from %s: fetching keys", ip);
            close(fd);
            continue;
        }
        if (L->nslots >= MAX_SESSIONS) {
            rlog("refused recon connection from %s: %d sessions running",
                ip, MAX_SESSIONS);
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
    membership_refresh(&L->ms);
    if (membership_pick(&L->ms, L->self, L->nself, L->family, &to, &tolen,
        &idx) != 0)
        return;
    member_label(L, (int) idx, label, sizeof(label));
    int fd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
        0);
    if (fd < 0) {
        rlog("gossip with %s: socket: %s", label, strerror(errno));
        return;
    }
    if (L->bind_len > 0 && L->bind_addr.ss_family == to.ss_family
        && bind(fd, (struct sockaddr *) &L->bind_addr, L->bind_len) != 0)
    {
        rlog("gossip with %s: bind: %s", label, strerror(errno));
        close(fd);
        return;
    }
    int rc = connect(fd, (struct sockaddr *) &to, tolen);
    if (rc != 0 && errno != EINPROGRESS) {
        rlog("session peer=%s role=initiator outcome=connect failed: %s",
            label, strerror(errno));
        close(fd);
        return;
    }
    session_t *s = session_new(&L->ctx, fd, SESS_INITIATOR,
        (struct sockaddr *) &to, tolen, rc != 0, label, now);
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

/* ------------------------------------------------------------ set-up */

static int
parse_hostport(const char *s, char *host, size_t hlen, char *port,
    size_t plen)
{
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return -1;
        snprintf(host, hlen, "%.*s", (int) (end - s - 1), s + 1);
        snprintf(port, plen, "%s", end + 2);
        return 0;
    }
    if ((colon = strrchr(s, ':')) == NULL)
        return -1;
    snprintf(host, hlen, "%.*s", (int) (colon - s), s);
    snprintf(port, plen, "%s", colon + 1);
    return 0;
}

static int
is_wildcard(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *) sa)->sin_addr.s_addr
            == htonl(INADDR_ANY);
    if (sa->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *) sa)->sin6_addr,
            &in6addr_any, 16) == 0;
    return 0;
}

static int
setup_listen(loop_t *L)
{
    char host[256], port[16];
    struct addrinfo hints, *res;
    int one = 1, rc;

    if (parse_hostport(L->o->listen, host, sizeof(host), port,
        sizeof(port)) != 0)
    {
        fprintf(stderr, "reconsvc run: --listen wants ADDR:PORT\n");
        return -1;
    }
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
        || listen(L->lfd, 64) != 0)
    {
        fprintf(stderr, "reconsvc run: listen on %s: %s\n", L->o->listen,
            strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    L->family = res->ai_family;
    memcpy(&L->self[L->nself++], res->ai_addr, res->ai_addrlen);
    if (!is_wildcard(res->ai_addr)) {
        memcpy(&L->bind_addr, res->ai_addr, res->ai_addrlen);
        L->bind_len = res->ai_addrlen;
        if (L->bind_addr.ss_family == AF_INET)
            ((struct sockaddr_in *) &L->bind_addr)->sin_port = 0;
        else
            ((struct sockaddr_in6 *) &L->bind_addr)->sin6_port = 0;
    } else
        L->family = AF_UNSPEC;
    freeaddrinfo(res);

    /* own name (self-exclusion), with the recon port */
    if (L->o->hostname != NULL) {
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        if (getaddrinfo(L->o->hostname, port, &hints, &res) == 0) {
            for (struct addrinfo *ai = res; ai && L->nself < 8;
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
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    L->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return L->sfd < 0 ? -1 : 0;
}

static int
ep_add(loop_t *L, int fd, void *tag)
{
    struct epoll_event e = { .events = EPOLLIN, .data.ptr = tag };
    return epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &e);
}

int
recon_loop_run(const run_opts_t *o)
{
    loop_t L;
    char err[512];
    int rc = 1;

    memset(&L, 0, sizeof(L));
    L.o = o;
    L.lfd = L.sfd = L.epfd = -1;
    L.tag_listen = TAG_LISTEN;
    L.tag_signal = TAG_SIGNAL;
    L.tag_fetch = TAG_FETCH;
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
    L.ctx.http_port = o->http_port;
    L.ctx.config_timeout = o->config_timeout;
    L.ctx.session_timeout = o->session_timeout;
    L.ctx.idle_timeout = o->idle_timeout;

    if (setup_listen(&L) != 0 || setup_signals(&L) != 0)
        goto out;
    if ((L.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0
        || ep_add(&L, L.lfd, &L.tag_listen) != 0
        || ep_add(&L, L.sfd, &L.tag_signal) != 0)
    {
        fprintf(stderr, "reconsvc run: epoll: %s\n", strerror(errno));
        goto out;
    }
    if (membership_init(&L.ms, o->membership) != 0)
        rlog("membership %s: could not be read yet", o->membership);
    fetcher_init(&L.fetcher, &L.ctx, L.epfd, &L.tag_fetch);
    L.fetcher.timeout = o->fetch_timeout;
    L.fetcher.done = job_finished;
    L.fetcher.done_arg = &L;
    memcpy(&L.fetcher.bind_addr, &L.bind_addr, sizeof(L.bind_addr));
    L.fetcher.bind_len = L.bind_len;

    double now = mono();
    L.next_gossip = now + jitter(o->gossip);
    L.next_reader_check = now + READER_CHECK_EVERY;
    rlog("listening on %s, http port %u, gossip every %.1f s, database %s",
        o->listen, o->http_port, o->gossip, o->db_dir);

    while (!L.stop) {
        struct epoll_event evs[64];
        int n = epoll_wait(L.epfd, evs, 64,
            fetcher_wait_ms(&L.fetcher, TICK_MS));
        if (n < 0 && errno != EINTR) {
            rlog("epoll_wait: %s", strerror(errno));
            break;
        }
        now = mono();
        for (int i = 0; i < n; i++) {
            int kind = *(int *) evs[i].data.ptr;
            if (kind == TAG_LISTEN)
                on_accept(&L, now);
            else if (kind == TAG_SIGNAL) {
                struct signalfd_siginfo si;
                while (read(L.sfd, &si, sizeof(si)) == sizeof(si)) {
                    rlog("signal %u: stopping", si.ssi_signo);
                    L.stop = 1;
                }
            } else if (kind == TAG_FETCH)
                fetcher_io(&L.fetcher, evs[i].data.ptr, evs[i].events,
                    now);
            else if (kind == TAG_SESSION) {
                slot_t *sl = evs[i].data.ptr;
                int fin = session_io(sl->s, evs[i].events, now);
                slot_update(&L, sl, fin, now);   /* may free sl */
            }
        }
        /* timers */
        for (slot_t *sl = L.slots, *nx; sl; sl = nx) {
            nx = sl->next;
            if (session_tick(sl->s, now))
                slot_update(&L, sl, 1, now);
        }
        fetcher_tick(&L.fetcher, now);
        if (now >= L.next_gossip) {
            L.next_gossip = now + jitter(o->gossip);
            gossip(&L, now);
        }
        if (now >= L.next_reader_check) {
            int dead = 0;
            L.next_reader_check = now + READER_CHECK_EVERY;
            if (mdb_reader_check(L.db.env, &dead) == 0 && dead > 0)
                rlog("stale LMDB readers cleared: %d", dead);
        }
    }
    rc = 0;
    /* shutdown: every session ends, queued fetches are dropped */
    while (L.slots != NULL) {
        slot_t *sl = L.slots;
        session_abort(sl->s, "stopped (shutdown)");
        session_over(&L, sl->s, now);
        slot_remove(&L, sl);
    }
    fetcher_shutdown(&L.fetcher);
    rlog("stopped");
out:
    membership_free(&L.ms);
    if (L.epfd >= 0)
        close(L.epfd);
    if (L.lfd >= 0)
        close(L.lfd);
    if (L.sfd >= 0)
        close(L.sfd);
    hkp_db_close(&L.db);
    rlog_close();
    return rc;
}
