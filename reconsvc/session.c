/*
 * One recon session, both roles (session.h).
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lnode.h"
#include "log.h"
#include "membership.h"
#include "poly.h"
#include "ptree.h"
#include "session.h"

#define READ_CHUNK  65536

/* ------------------------------------------------------------ helpers */

static int
hcmp(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

size_t
hashes_sort_unique(uint8_t (*h)[16], size_t n)
{
    size_t o = 0;
    if (n == 0)
        return 0;
    qsort(h, n, 16, hcmp);
    for (size_t i = 1; i < n; i++) {
        if (memcmp(h[i], h[o], 16) != 0) {
            o++;
            if (o != i)
                memcpy(h[o], h[i], 16);
        }
    }
    return o + 1;
}

int
hashes_diff(const uint8_t (*a)[16], size_t na, const uint8_t (*b)[16],
    size_t nb, uint8_t (**out)[16], size_t *nout)
{
    size_t i = 0, j = 0, o = 0;
    *out = NULL;
    *nout = 0;
    if (na == 0)
        return 0;
    if ((*out = malloc(na * 16)) == NULL)
        return -1;
    while (i < na) {
        int c = j < nb ? memcmp(a[i], b[j], 16) : -1;
        if (c < 0)
            memcpy((*out)[o++], a[i++], 16);
        else if (c == 0) {
            i++;
            j++;
        } else
            j++;
    }
    if (o == 0) {
        free(*out);
        *out = NULL;
    }
    *nout = o;
    return 0;
}

static int
q_push(sess_queue_t *q, const sess_node_t *n)
{
    if (q->len == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 64;
        sess_node_t *v = malloc(nc * sizeof(*v));
        if (v == NULL)
            return -1;
        for (size_t i = 0; i < q->len; i++)
            v[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = v;
        q->cap = nc;
        q->head = 0;
    }
    q->v[(q->head + q->len) % q->cap] = *n;
    q->len++;
    return 0;
}

static sess_node_t
q_pop(sess_queue_t *q)
{
    sess_node_t n = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return n;
}

static void
q_free(sess_queue_t *q)
{
    free(q->v);
    memset(q, 0, sizeof(*q));
}

/* Ends the session: closes the socket, sorts the missing set. */
static void
finish(session_t *s, int ok, int keep, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
finish(session_t *s, int ok, int keep, const char *fmt, ...)
{
    va_list ap;
    if (s->state == SESS_DONE)
        return;
    va_start(ap, fmt);
    vsnprintf(s->outcome, sizeof(s->outcome), fmt, ap);
    va_end(ap);
    s->ok = ok;
    s->keep = ok || keep;
    if (!s->keep) {
        free(s->missing);
        s->missing = NULL;
        s->nmissing = s->capmissing = 0;
    }
    s->nmissing = hashes_sort_unique(s->missing, s->nmissing);
    s->state = SESS_DONE;
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    rbuf_free(&s->in);
    rbuf_free(&s->out);
    q_free(&s->rq);
    q_free(&s->pend);
}

/* Cut off for misbehaving: what was found is dropped (SKS does the same
 * on protocol errors). */
#define hostile(s, ...) do { (s)->hostile = 1; \
        finish((s), 0, 0, "cut off: " __VA_ARGS__); } while (0)

static int
add_missing(session_t *s, const uint8_t (*h)[16], size_t n)
{
    if (n == 0)
        return 0;
    if (n > RECON_MAX_MISSING - s->nmissing) {
        size_t room = RECON_MAX_MISSING - s->nmissing;
        if (room > 0)
            add_missing(s, h, room);
        finish(s, 0, 1, "stopped: more than %d differences (fetching those "
            "found)", RECON_MAX_MISSING);
        return -1;
    }
    if (s->nmissing + n > s->capmissing) {
        size_t nc = s->capmissing ? s->capmissing : 256;
        while (nc < s->nmissing + n)
            nc *= 2;
        if (nc > RECON_MAX_MISSING)
            nc = RECON_MAX_MISSING;
        uint8_t (*m)[16] = realloc(s->missing, nc * 16);
        if (m == NULL) {
            finish(s, 0, 1, "out of memory");
            return -1;
        }
        s->missing = m;
        s->capmissing = nc;
    }
    memcpy(s->missing[s->nmissing], h, n * 16);
    s->nmissing += n;
    return 0;
}

/* The read txn of this step, opened on first use. */
static MDB_txn *
txn_get(session_t *s)
{
    if (s->txn == NULL) {
        int rc = hkp_db_rtxn(s->ctx->db, &s->txn);
        if (rc != 0) {
            finish(s, 0, 1, "database error: %s", mdb_strerror(rc));
            return NULL;
        }
    }
    return s->txn;
}

static void
txn_end(session_t *s)
{
    if (s->txn != NULL) {
        mdb_txn_abort(s->txn);
        s->txn = NULL;
    }
}

static int
node_get(session_t *s, const uint8_t *prefix, unsigned nbits, int want,
    lnode_t *n)
{
    const char *err = "?";
    MDB_txn *txn = txn_get(s);
    if (txn == NULL)
        return -1;
    if (lnode_get(txn, s->ctx->ptree, prefix, nbits, want, n, &err) != 0) {
        finish(s, 0, 0, "local tree lookup failed: %s", err);
        return -1;
    }
    return 0;
}

static int
out_fail(session_t *s)
{
    finish(s, 0, 0, "cannot build message (out of memory)");
    return -1;
}

/* Sends the peer the hashes it lacks (Elements) and records the ones we
 * lack; frees both sets. */
static int
exchange(session_t *s, uint8_t (*mine)[16], size_t nmine,
    uint8_t (*theirs)[16], size_t ntheirs)
{
    int rc = recon_enc_set(&s->out, RECON_MSG_ELEMENTS,
        (const uint8_t (*)[16]) mine, nmine);
    s->nsent += nmine;
    free(mine);
    if (rc != 0) {
        free(theirs);
        return out_fail(s);
    }
    rc = add_missing(s, (const uint8_t (*)[16]) theirs, ntheirs);
    free(theirs);
    return rc;
}

/* The peer's full set of a node (m->set) against ours: exchange the
 * differences. */
static int
exchange_full(session_t *s, const uint8_t *prefix, unsigned nbits,
    recon_msg_t *m)
{
    lnode_t ln;
    uint8_t (*mine)[16] = NULL, (*theirs)[16] = NULL;
    size_t nmine, ntheirs;

    if (node_get(s, prefix, nbits, LNODE_ELEMS_ALWAYS, &ln) != 0)
        return -1;
    m->nset = hashes_sort_unique(m->set, m->nset);
    if (hashes_diff((const uint8_t (*)[16]) ln.elems, ln.nelems,
            (const uint8_t (*)[16]) m->set, m->nset, &mine, &nmine) != 0
        || hashes_diff((const uint8_t (*)[16]) m->set, m->nset,
            (const uint8_t (*)[16]) ln.elems, ln.nelems, &theirs,
            &ntheirs) != 0)
    {
        lnode_free(&ln);
        free(mine);
        return out_fail(s);
    }
    lnode_free(&ln);
    return exchange(s, mine, nmine, theirs, ntheirs);
}

/* ------------------------------------------------------------ lifecycle */

session_t *
session_new(recon_ctx_t *ctx, int fd, sess_role_t role,
    const struct sockaddr *peer, socklen_t peerlen, int connecting,
    const char *member, double now)
{
    session_t *s = calloc(1, sizeof(*s));
    char ip[INET6_ADDRSTRLEN + 3];
    unsigned port = 0;

    if (s == NULL)
        return NULL;
    s->ctx = ctx;
    s->fd = fd;
    s->role = role;
    if (peerlen > sizeof(s->peer))
        peerlen = sizeof(s->peer);
    memcpy(&s->peer, peer, peerlen);
    s->peerlen = peerlen;
    addr_ip_str(peer, ip, sizeof(ip));
    if (peer->sa_family == AF_INET)
        port = ntohs(((const struct sockaddr_in *) peer)->sin_port);
    else if (peer->sa_family == AF_INET6)
        port = ntohs(((const struct sockaddr_in6 *) peer)->sin6_port);
    snprintf(s->peer_str, sizeof(s->peer_str), "%s:%u", ip, port);
    snprintf(s->member, sizeof(s->member), "%s", member ? member : "");
    s->t_start = s->t_rx = now;
    s->state = connecting ? SESS_CONNECTING : SESS_CONFIG;
    if (!connecting && recon_enc_config(&s->out, ctx->http_port) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

void
session_free(session_t *s)
{
    if (s == NULL)
        return;
    txn_end(s);
    if (s->fd >= 0)
        close(s->fd);
    rbuf_free(&s->in);
    rbuf_free(&s->out);
    q_free(&s->rq);
    q_free(&s->pend);
    free(s->missing);
    free(s);
}

void
session_abort(session_t *s, const char *why)
{
    finish(s, 0, 0, "%s", why);
}

uint32_t
session_events(const session_t *s)
{
    uint32_t ev = 0;
    if (s->state == SESS_DONE)
        return 0;
    if (s->state == SESS_CONNECTING)
        return EPOLLOUT;
    if (rbuf_avail(&s->out) > 0)
        ev |= EPOLLOUT;
    if (s->state != SESS_CLOSING && !s->eof
        && rbuf_avail(&s->out) <= RECON_MAX_OUTBUF)
        ev |= EPOLLIN;
    return ev;
}

/* ------------------------------------------------------------ requester */

static int
send_request(session_t *s, sess_node_t *n)
{
    lnode_t ln;
    if (node_get(s, n->prefix, n->nbits, LNODE_ELEMS_SMALL, &ln) != 0)
        return -1;
    if (ln.leaf || ln.count < HKP_RECON_FULL_BELOW) {
        n->kind = RECON_MSG_FULL;
        if (recon_enc_full(&s->out, n->prefix, n->nbits,
            (const uint8_t (*)[16]) ln.elems, ln.nelems) != 0)
        {
            lnode_free(&ln);
            return out_fail(s);
        }
    } else {
        n->kind = RECON_MSG_POLY;
        if (recon_enc_poly(&s->out, n->prefix, n->nbits, ln.count,
            (const uint8_t (*)[HKP_ELEM_LEN]) ln.sv) != 0)
        {
            lnode_free(&ln);
            return out_fail(s);
        }
    }
    lnode_free(&ln);
    s->nrequests++;
    return q_push(&s->pend, n) == 0 ? 0 : out_fail(s);
}

/* Sends the next batch (up to RECON_BATCH requests, then Flush), or Done
 * when the walk is over. */
static int
send_batch(session_t *s)
{
    if (s->rq.len == 0) {
        if (recon_enc_empty(&s->out, RECON_MSG_DONE) != 0)
            return out_fail(s);
        s->state = SESS_CLOSING;
        s->ok = 1;
        return 0;
    }
    for (int i = 0; i < RECON_BATCH && s->rq.len > 0; i++) {
        sess_node_t n = q_pop(&s->rq);
        if (s->nrequests >= RECON_MAX_REQUESTS) {
            finish(s, 0, 1, "stopped: more than %u requests", RECON_MAX_REQUESTS);
            return -1;
        }
        if (send_request(s, &n) != 0)
            return -1;
    }
    if (recon_enc_empty(&s->out, RECON_MSG_FLUSH) != 0)
        return out_fail(s);
    return 0;
}

static int
on_reply(session_t *s, recon_msg_t *m)
{
    sess_node_t n;
    if (s->pend.len == 0) {
        hostile(s, "reply without a request (type %d)", m->type);
        return -1;
    }
    n = q_pop(&s->pend);
    switch (m->type) {
    case RECON_MSG_SYNCFAIL:
        if (n.kind != RECON_MSG_POLY || n.nbits + HKP_RECON_BITQUANTUM > 128) {
            hostile(s, "SyncFail for a node we sent in full");
            return -1;
        }
        for (unsigned c = 0; c < HKP_RECON_CHILDREN; c++) {
            sess_node_t ch;
            memset(&ch, 0, sizeof(ch));
            hkp_ptree_child_prefix(n.prefix, n.nbits, c, ch.prefix);
            ch.nbits = (uint8_t) (n.nbits + HKP_RECON_BITQUANTUM);
            if (q_push(&s->rq, &ch) != 0)
                return out_fail(s);
        }
        return 0;
    case RECON_MSG_ELEMENTS:
        m->nset = hashes_sort_unique(m->set, m->nset);
        return add_missing(s, (const uint8_t (*)[16]) m->set, m->nset);
    case RECON_MSG_FULLELEMENTS:
        if (n.kind != RECON_MSG_POLY) {
            hostile(s, "FullElements in reply to ReconRqst_Full");
            return -1;
        }
        return exchange_full(s, n.prefix, n.nbits, m);
    case RECON_MSG_ERROR:
        finish(s, 0, 0, "peer sent Error: %.200s", m->text);
        return -1;
    default:
        hostile(s, "unexpected message type %d from the responder", m->type);
        return -1;
    }
}

/* ------------------------------------------------------------ responder */

static int
on_request(session_t *s, recon_msg_t *m)
{
    switch (m->type) {
    case RECON_MSG_POLY: {
        lnode_t ln;
        uint8_t (*remote_only)[16] = NULL, (*local_only)[16] = NULL;
        size_t nr = 0, nl = 0;
        int rc;
        if (m->nbits % HKP_RECON_BITQUANTUM != 0) {
            hostile(s, "prefix of %u bits", m->nbits);
            return -1;
        }
        if (node_get(s, m->prefix, m->nbits, LNODE_ELEMS_SMALL, &ln) != 0)
            return -1;
        rc = hkp_recon_solve((const uint8_t (*)[HKP_ELEM_LEN]) m->sv, m->size,
            (const uint8_t (*)[HKP_ELEM_LEN]) ln.sv, ln.count,
            &remote_only, &nr, &local_only, &nl);
        if (rc < 0) {
            lnode_free(&ln);
            hostile(s, "bad ReconRqst_Poly");
            return -1;
        }
        if (rc == 0) {
            lnode_free(&ln);
            return exchange(s, local_only, nl, remote_only, nr);
        }
        if (ln.leaf || ln.count < HKP_RECON_FULL_BELOW)
            rc = recon_enc_set(&s->out, RECON_MSG_FULLELEMENTS,
                (const uint8_t (*)[16]) ln.elems, ln.nelems);
        else
            rc = recon_enc_empty(&s->out, RECON_MSG_SYNCFAIL);
        lnode_free(&ln);
        return rc == 0 ? 0 : out_fail(s);
    }
    case RECON_MSG_FULL:
        if (m->nbits % HKP_RECON_BITQUANTUM != 0) {
            hostile(s, "prefix of %u bits", m->nbits);
            return -1;
        }
        return exchange_full(s, m->prefix, m->nbits, m);
    case RECON_MSG_ELEMENTS:
        m->nset = hashes_sort_unique(m->set, m->nset);
        return add_missing(s, (const uint8_t (*)[16]) m->set, m->nset);
    case RECON_MSG_FLUSH:
        return 0;              /* we write as we go */
    case RECON_MSG_DONE:
        s->state = SESS_CLOSING;
        s->ok = 1;
        return 0;
    default:
        hostile(s, "unexpected message type %d from the requester", m->type);
        return -1;
    }
}

/* ------------------------------------------------------------ input */

/* Handles everything complete in the input buffer. */
static void
process(session_t *s)
{
    const char *err = NULL;
    size_t flen, used;
    int rc;

    while (s->state != SESS_DONE && s->state != SESS_CLOSING
        && s->state != SESS_CONNECTING
        && rbuf_avail(&s->out) <= RECON_MAX_OUTBUF)
    {
        const uint8_t *d = rbuf_data(&s->in);
        size_t avail = rbuf_avail(&s->in);

        if (s->state == SESS_CONFIG) {
            recon_config_t c;
            char reason[512];
            const char *why;
            if (avail >= 4 && recon_get_u32(d) > RECON_MAX_CONFIG_FRAME) {
                hostile(s, "Config frame of %u bytes", recon_get_u32(d));
                return;
            }
            rc = recon_frame_check(d, avail, &flen, &err);
            if (rc == 0)
                return;
            if (rc < 0) {
                hostile(s, "bad Config frame: %s", err);
                return;
            }
            if (recon_config_parse(d, flen, &c, &err) != 0) {
                hostile(s, "bad Config: %s", err);
                return;
            }
            rbuf_consume(&s->in, flen);
            s->have_http_port = c.has_http_port && c.http_port_ok
                && c.http_port > 0 && c.http_port < 65536;
            s->peer_http_port = c.http_port;
            why = recon_config_check(&c, reason, sizeof(reason));
            if (recon_enc_verdict(&s->out, why) != 0) {
                out_fail(s);
                return;
            }
            if (why != NULL) {
                /* we close without reading the peer's verdict */
                snprintf(s->outcome, sizeof(s->outcome),
                    "config rejected by us: %s", why);
                s->state = SESS_CLOSING;
                return;
            }
            s->state = SESS_VERDICT;
            continue;
        }
        if (s->state == SESS_VERDICT) {
            int passed;
            char reason[300];
            rc = recon_verdict_parse(d, avail, &used, &passed, reason,
                sizeof(reason), &err);
            if (rc == 0)
                return;
            if (rc < 0) {
                hostile(s, "%s", err);
                return;
            }
            rbuf_consume(&s->in, used);
            if (!passed) {
                finish(s, 0, 0, "config rejected by peer: %s", reason);
                return;
            }
            if (!s->have_http_port) {
                finish(s, 0, 0, "peer sent no valid \"http port\"");
                return;
            }
            s->state = SESS_RUN;
            s->t_run = s->t_rx;
            if (s->role == SESS_ACCEPTOR) {
                sess_node_t root;
                memset(&root, 0, sizeof(root));
                if (q_push(&s->rq, &root) != 0) {
                    out_fail(s);
                    return;
                }
                if (send_batch(s) != 0)
                    return;
            }
            continue;
        }
        /* SESS_RUN */
        recon_msg_t m;
        rc = recon_frame_check(d, avail, &flen, &err);
        if (rc == 0)
            return;
        if (rc < 0) {
            hostile(s, "%s (%u bytes)", err, recon_get_u32(d));
            return;
        }
        if (recon_msg_parse(d, flen, &m, &err) != 0) {
            hostile(s, "bad message (type %u): %s", d[4], err);
            return;
        }
        rbuf_consume(&s->in, flen);
        if (s->role == SESS_ACCEPTOR) {
            rc = on_reply(s, &m);
            if (rc == 0 && s->state == SESS_RUN && s->pend.len == 0)
                rc = send_batch(s);
        } else
            rc = on_request(s, &m);
        recon_msg_free(&m);
        if (rc != 0)
            return;
    }
}

static void
do_read(session_t *s)
{
    size_t cap = (s->state == SESS_CONFIG ? RECON_MAX_CONFIG_FRAME
        : RECON_MAX_FRAME) + 4 + READ_CHUNK;
    for (;;) {
        if (rbuf_avail(&s->in) >= cap)
            return;         /* a full frame is buffered; process first */
        if (rbuf_reserve(&s->in, READ_CHUNK) != 0) {
            finish(s, 0, 1, "out of memory");
            return;
        }
        ssize_t r = recv(s->fd, s->in.d + s->in.len, READ_CHUNK, 0);
        if (r > 0) {
            s->in.len += (size_t) r;
            continue;
        }
        if (r == 0) {
            s->eof = 1;
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        finish(s, 0, 1, "receive error: %s", strerror(errno));
        return;
    }
}

static void
do_write(session_t *s)
{
    while (rbuf_avail(&s->out) > 0) {
        ssize_t w = send(s->fd, rbuf_data(&s->out), rbuf_avail(&s->out),
            MSG_NOSIGNAL);
        if (w > 0) {
            rbuf_consume(&s->out, (size_t) w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        finish(s, 0, 1, "send error: %s", strerror(w < 0 ? errno : EIO));
        return;
    }
}

int
session_io(session_t *s, uint32_t events, double now)
{
    if (s->state == SESS_DONE)
        return 1;
    if (s->state == SESS_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return 0;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0) {
            finish(s, 0, 0, "connect failed: %s", strerror(err));
            return 1;
        }
        if (recon_enc_config(&s->out, s->ctx->http_port) != 0) {
            out_fail(s);
            return 1;
        }
        s->state = SESS_CONFIG;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        size_t before = rbuf_avail(&s->in);
        do_read(s);
        if (s->state != SESS_DONE && (rbuf_avail(&s->in) != before || s->eof))
            s->t_rx = now;
    }
    if (s->state != SESS_DONE)
        process(s);
    txn_end(s);
    if (s->state != SESS_DONE)
        do_write(s);
    /* output drained below the cap: requests waiting in the buffer */
    if (s->state != SESS_DONE && s->state != SESS_CLOSING
        && rbuf_avail(&s->in) > 0 && rbuf_avail(&s->out) <= RECON_MAX_OUTBUF)
    {
        process(s);
        txn_end(s);
        if (s->state != SESS_DONE)
            do_write(s);
    }
    if (s->state == SESS_CLOSING && rbuf_avail(&s->out) == 0) {
        if (s->ok)
            finish(s, 1, 1, "ok");
        else {
            char why[256];
            snprintf(why, sizeof(why), "%s", s->outcome);
            finish(s, 0, 0, "%s", why);
        }
    }
    if (s->state != SESS_DONE && s->eof) {
        if (s->state == SESS_RUN)
            finish(s, 0, 1, "peer closed the connection mid-session "
                "(keeping %zu found)", s->nmissing);
        else if (s->state != SESS_CLOSING)
            finish(s, 0, 0, "peer closed the connection during config");
        else if (rbuf_avail(&s->out) > 0) {
            /* peer gone before our last bytes went out */
            if (s->ok)
                finish(s, 1, 1, "ok");
            else {
                char why[256];
                snprintf(why, sizeof(why), "%s", s->outcome);
                finish(s, 0, 0, "%s", why);
            }
        }
    }
    return s->state == SESS_DONE;
}

int
session_tick(session_t *s, double now)
{
    if (s->state == SESS_DONE)
        return 1;
    if (s->state == SESS_CONNECTING || s->state == SESS_CONFIG
        || s->state == SESS_VERDICT)
    {
        if (now - s->t_start > s->ctx->config_timeout) {
            s->hostile = s->state != SESS_CONNECTING;
            finish(s, 0, 0, "%s: config phase took longer than %.0f s",
                s->hostile ? "cut off" : "timeout", s->ctx->config_timeout);
            return 1;
        }
        return 0;
    }
    if (now - s->t_run > s->ctx->session_timeout) {
        s->hostile = 1;
        finish(s, 0, 1, "cut off: session took longer than %.0f s (keeping "
            "%zu found)", s->ctx->session_timeout, s->nmissing);
        return 1;
    }
    if (now - s->t_rx > s->ctx->idle_timeout) {
        s->hostile = 1;
        finish(s, 0, 1, "cut off: nothing received for %.0f s (keeping "
            "%zu found)", s->ctx->idle_timeout, s->nmissing);
        return 1;
    }
    return 0;
}
