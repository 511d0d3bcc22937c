/*
 * One recon session (session.h): its life, the Config exchange, the
 * socket I/O and the timeouts; the reconciliation proper is in
 * session_recon.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "session.h"
#include "session_recon.h"

#define READ_CHUNK  65536

/* ------------------------------------------------------------ helpers */

/* Ends the session: closes the socket, sorts the missing set. */
void
sess_finish(session_t *s, int ok, int keep, const char *fmt, ...)
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
    sess_queue_free(&s->rq);
    sess_queue_free(&s->pend);
}

int
sess_out_fail(session_t *s)
{
    sess_finish(s, 0, 0, "cannot build message (out of memory)");
    return -1;
}

/* ------------------------------------------------------------ lifecycle */

int
session_default_prof(const recon_ctx_t *ctx)
{
    return ctx->nprofiles > 0 ? ctx->profiles[0] : 0;
}

int
session_prof_enabled(const recon_ctx_t *ctx, int p)
{
    if (ctx->nprofiles == 0)
        return p == 0;
    for (size_t i = 0; i < ctx->nprofiles; i++)
        if (ctx->profiles[i] == p)
            return 1;
    return 0;
}

/* Our Config, announcing the session's profile's filters. */
static int
enc_config(session_t *s)
{
    return recon_enc_config_f(&s->out, s->ctx->http_port,
        hkp_profile_at((size_t) s->prof)->filters);
}

session_t *
session_new(recon_ctx_t *ctx, int fd, sess_role_t role,
    const struct sockaddr *peer, socklen_t peerlen, int connecting,
    const char *member, double now)
{
    return session_new_prof(ctx, fd, role, peer, peerlen, connecting, member,
        now, -1);
}

session_t *
session_new_prof(recon_ctx_t *ctx, int fd, sess_role_t role,
    const struct sockaddr *peer, socklen_t peerlen, int connecting,
    const char *member, double now, int prof)
{
    session_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->ctx = ctx;
    s->fd = fd;
    s->role = role;
    if (peerlen > sizeof(s->peer))
        peerlen = sizeof(s->peer);
    memcpy(&s->peer, peer, peerlen);
    s->peerlen = peerlen;
    addr_str(peer, s->peer_str, sizeof(s->peer_str));
    snprintf(s->member, sizeof(s->member), "%s", member ? member : "");
    s->t_start = s->t_rx = s->t_byte = now;
    s->state = connecting ? SESS_CONNECTING : SESS_CONFIG;
    s->prof = prof >= 0 && session_prof_enabled(ctx, prof) ? prof
        : session_default_prof(ctx);
    s->prof_retry = -1;
    /* the acceptor answers the peer's Config (on_config) */
    if (!connecting && role == SESS_INITIATOR && enc_config(s) != 0) {
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
    sess_txn_end(s);
    if (s->fd >= 0)
        close(s->fd);
    rbuf_free(&s->in);
    rbuf_free(&s->out);
    sess_queue_free(&s->rq);
    sess_queue_free(&s->pend);
    free(s->missing);
    free(s);
}

void
session_abort(session_t *s, const char *why)
{
    sess_finish(s, 0, 0, "%s", why);
}

int
session_events(const session_t *s)
{
    int mask = rbuf_avail(&s->out) > 0 ? EV_WRITABLE : EV_NONE;
    switch (s->state) {
    case SESS_DONE:
        return EV_NONE;
    case SESS_CONNECTING:
        return EV_WRITABLE;
    case SESS_CLOSING:
        return mask;
    case SESS_CONFIG:
    case SESS_VERDICT:
    case SESS_RUN:
        if (!s->eof && rbuf_avail(&s->out) <= RECON_MAX_OUTBUF)
            mask |= EV_READABLE;
        return mask;
    }
    return mask;
}

/* ------------------------------------------------------------ input */

/* SESS_CONFIG: the peer's Config, answered with our verdict. 0 to go on,
 * -1 to stop (more bytes needed, or the session is over). */
static int
on_config(session_t *s)
{
    const uint8_t *d = rbuf_data(&s->in);
    size_t avail = rbuf_avail(&s->in), flen;
    const char *err = NULL, *why;
    recon_config_t c;
    char reason[512];
    int rc;

    if (avail >= 4 && recon_get_u32(d) > RECON_MAX_CONFIG_FRAME) {
        sess_hostile(s, "Config frame of %u bytes", recon_get_u32(d));
        return -1;
    }
    rc = recon_frame_check(d, avail, &flen, &err);
    if (rc == 0)
        return -1;
    if (rc < 0) {
        sess_hostile(s, "bad Config frame: %s", err);
        return -1;
    }
    if (recon_config_parse(d, flen, &c, &err) != 0) {
        sess_hostile(s, "bad Config: %s", err);
        return -1;
    }
    rbuf_consume(&s->in, flen);
    s->have_http_port = c.has_http_port && c.http_port_ok
        && c.http_port > 0 && c.http_port <= ADDR_PORT_MAX;
    s->peer_http_port = c.http_port;
    if (s->role == SESS_ACCEPTOR) {
        /* the profile whose filters the peer announces, if we have one */
        for (size_t i = 0; i < s->ctx->nprofiles; i++) {
            int p = s->ctx->profiles[i];
            if (recon_filters_match(&c, hkp_profile_at((size_t) p)->filters))
            {
                s->prof = p;
                break;
            }
        }
        if (enc_config(s) != 0)
            return sess_out_fail(s);
    } else {
        for (size_t i = 0; i < s->ctx->nprofiles; i++) {
            int p = s->ctx->profiles[i];
            if (p != s->prof && recon_filters_match(&c,
                    hkp_profile_at((size_t) p)->filters))
                s->prof_retry = p;
        }
    }
    why = recon_config_check_f(&c, hkp_profile_at((size_t) s->prof)->filters,
        reason, sizeof(reason));
    if (recon_enc_verdict(&s->out, why) != 0)
        return sess_out_fail(s);
    if (why != NULL) {
        /* we close without reading the peer's verdict */
        snprintf(s->outcome, sizeof(s->outcome),
            "config rejected by us: %s", why);
        s->state = SESS_CLOSING;
        return -1;
    }
    s->state = SESS_VERDICT;
    return 0;
}

/* SESS_VERDICT: the peer's verdict on our Config; then the requester
 * starts the walk at the root. */
static int
on_verdict(session_t *s)
{
    const char *err = NULL;
    char reason[300];
    size_t used;
    int passed, rc;

    rc = recon_verdict_parse(rbuf_data(&s->in), rbuf_avail(&s->in), &used,
        &passed, reason, sizeof(reason), &err);
    if (rc == 0)
        return -1;
    if (rc < 0) {
        sess_hostile(s, "%s", err);
        return -1;
    }
    rbuf_consume(&s->in, used);
    if (!passed) {
        /* a filter mismatch: as initiator, the other profile next time */
        if (s->role == SESS_INITIATOR && s->prof_retry < 0
            && strstr(reason, "filter") != NULL)
        {
            for (size_t i = 0; i < s->ctx->nprofiles; i++)
                if (s->ctx->profiles[i] != s->prof) {
                    s->prof_retry = s->ctx->profiles[i];
                    break;
                }
        }
        sess_finish(s, 0, 0, "config rejected by peer: %s", reason);
        return -1;
    }
    if (!s->have_http_port) {
        sess_finish(s, 0, 0, "peer sent no valid \"http port\"");
        return -1;
    }
    s->state = SESS_RUN;
    s->t_run = s->t_byte;
    return sess_recon_start(s) != 0 ? -1 : 0;
}

/* SESS_RUN, streaming an Elements frame: the whole elements buffered so
 * far go to the missing set, RECON_STREAM_CHUNK at a time. 0, or -1 when
 * more bytes are needed or the session finished. */
static int
on_stream(session_t *s)
{
    uint8_t h[RECON_STREAM_CHUNK][HKP_HASH_LEN];
    const uint8_t *d = rbuf_data(&s->in);
    size_t n = rbuf_avail(&s->in) / HKP_ELEM_LEN;

    if (n > s->stream_left)
        n = s->stream_left;
    if (n > RECON_STREAM_CHUNK)
        n = RECON_STREAM_CHUNK;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = d + i * HKP_ELEM_LEN;
        if (e[HKP_HASH_LEN] != 0) {       /* not a key hash (>= 2^128) */
            sess_hostile(s, "bad message (type %d): set element is not a key "
                "hash", RECON_MSG_ELEMENTS);
            return -1;
        }
        memcpy(h[i], e, HKP_HASH_LEN);
    }
    rbuf_consume(&s->in, n * HKP_ELEM_LEN);
    s->stream_left -= (uint32_t) n;
    if (sess_recon_elements_add(s, (const hkp_hash_t *) h, n) != 0)
        return -1;
    if (s->stream_left > 0)
        return 0;
    s->streaming = 0;
    return sess_recon_elements_end(s);
}

/* A frame over RECON_MAX_FRAME: only an Elements frame of at most
 * sess_max_elements() elements, whose header (length, type, count) is
 * checked and consumed here; its elements are then streamed (on_stream).
 * 0, or -1 when more bytes are needed or the session finished. */
static int
stream_begin(session_t *s, const uint8_t *d, size_t avail)
{
    uint32_t len = recon_get_u32(d), count;
    size_t max = sess_max_elements(s);

    if (len > RECON_SET_FRAME_LEN(max)) {
        sess_hostile(s, "frame length over the limit (%u bytes; an Elements "
            "frame may hold %zu elements, --max-elements)", len, max);
        return -1;
    }
    if (avail < 9)
        return -1;
    if (d[4] != RECON_MSG_ELEMENTS) {
        sess_hostile(s, "frame length over the limit (%u bytes, type %u; "
            "only Elements may exceed %u)", len, d[4], RECON_MAX_FRAME);
        return -1;
    }
    count = recon_get_u32(d + 5);
    if ((size_t) len != RECON_SET_FRAME_LEN(count)) {
        sess_hostile(s, "bad message (type %d): %u bytes do not hold %u "
            "elements", RECON_MSG_ELEMENTS, len, count);
        return -1;
    }
    if (sess_recon_elements_begin(s) != 0)
        return -1;
    rbuf_consume(&s->in, 9);
    s->streaming = 1;
    s->stream_left = count;
    return 0;
}

/* SESS_RUN: one recon message (session_recon.c). */
static int
on_message(session_t *s)
{
    const uint8_t *d = rbuf_data(&s->in);
    const char *err = NULL;
    recon_msg_t m;
    size_t flen;
    int rc;

    if (rbuf_avail(&s->in) >= 4 && recon_get_u32(d) > RECON_MAX_FRAME)
        return stream_begin(s, d, rbuf_avail(&s->in));
    rc = recon_frame_check(d, rbuf_avail(&s->in), &flen, &err);
    if (rc == 0)
        return -1;
    if (rc < 0) {
        sess_hostile(s, "%s (%u bytes)", err, recon_get_u32(d));
        return -1;
    }
    if (recon_msg_parse(d, flen, &m, &err) != 0) {
        sess_hostile(s, "bad message (type %u): %s", d[4], err);
        return -1;
    }
    rbuf_consume(&s->in, flen);
    rc = sess_recon_message(s, &m);
    recon_msg_free(&m);
    return rc;
}

/* Handles everything complete in the input buffer (while the output is
 * under its cap). */
static void
process(session_t *s)
{
    while (rbuf_avail(&s->out) <= RECON_MAX_OUTBUF) {
        int rc = -1;
        switch (s->state) {
        case SESS_CONNECTING:
        case SESS_CLOSING:
        case SESS_DONE:
            return;
        case SESS_CONFIG:
            rc = on_config(s);
            break;
        case SESS_VERDICT:
            rc = on_verdict(s);
            break;
        case SESS_RUN:
            rc = s->streaming ? on_stream(s) : on_message(s);
            break;
        }
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
        ssize_t r = rbuf_recv(&s->in, s->fd, READ_CHUNK);
        if (r > 0)
            continue;
        if (r == 0) {
            s->eof = 1;
            return;
        }
        if (r == RBUF_ENOMEM) {
            sess_finish(s, 0, 1, "out of memory");
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        sess_finish(s, 0, 1, "receive error: %s", strerror(errno));
        return;
    }
}

static void
do_write(session_t *s)
{
    while (rbuf_avail(&s->out) > 0) {
        ssize_t w = rbuf_send(&s->out, s->fd);
        if (w > 0)
            continue;
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        sess_finish(s, 0, 1, "send error: %s", strerror(w < 0 ? errno : EIO));
        return;
    }
}

/* SESS_CONNECTING, the socket writable: connected, or failed. 0 or -1
 * (finished). */
static int
on_connected(session_t *s)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        sess_finish(s, 0, 0, "connect failed: %s", strerror(err));
        return -1;
    }
    if (enc_config(s) != 0)
        return sess_out_fail(s);
    s->state = SESS_CONFIG;
    return 0;
}

/* SESS_CLOSING and nothing more to send (or nobody to send it to): the
 * session ends with the outcome it has. */
static void
closed(session_t *s)
{
    char why[256];
    if (s->ok) {
        sess_finish(s, 1, 1, "ok");
        return;
    }
    snprintf(why, sizeof(why), "%s", s->outcome);
    sess_finish(s, 0, 0, "%s", why);
}

int
session_io(session_t *s, int mask, double now)
{
    switch (s->state) {
    case SESS_DONE:
        return 1;
    case SESS_CONNECTING:
        if (!(mask & EV_WRITABLE))
            return 0;
        if (on_connected(s) != 0)
            return 1;
        break;
    case SESS_CONFIG:
    case SESS_VERDICT:
    case SESS_RUN:
    case SESS_CLOSING:
        break;
    }
    size_t after_read = rbuf_avail(&s->in);
    if (mask & EV_READABLE) {
        size_t before = after_read;
        do_read(s);
        after_read = rbuf_avail(&s->in);
        if (s->state != SESS_DONE && (after_read != before || s->eof))
            s->t_byte = now;
    }
    if (s->state != SESS_DONE)
        process(s);
    /* progress is a message consumed, not a byte read: a peer that
     * trickles a frame one byte at a time does not hold its slot */
    if (s->state != SESS_DONE && (rbuf_avail(&s->in) < after_read || s->eof))
        s->t_rx = now;
    sess_txn_end(s);
    if (s->state != SESS_DONE)
        do_write(s);
    /* output drained below the cap: requests waiting in the buffer */
    if (s->state != SESS_DONE && s->state != SESS_CLOSING
        && rbuf_avail(&s->in) > 0 && rbuf_avail(&s->out) <= RECON_MAX_OUTBUF)
    {
        process(s);
        sess_txn_end(s);
        if (s->state != SESS_DONE)
            do_write(s);
    }
    if (s->state == SESS_CLOSING && rbuf_avail(&s->out) == 0)
        closed(s);
    if (s->eof) {
        switch (s->state) {
        case SESS_DONE:
            break;
        case SESS_RUN:
            sess_finish(s, 0, 1, "peer closed the connection mid-session "
                "(keeping %zu found)", s->nmissing);
            break;
        case SESS_CONNECTING:
        case SESS_CONFIG:
        case SESS_VERDICT:
            sess_finish(s, 0, 0, "peer closed the connection during config");
            break;
        case SESS_CLOSING:
            /* peer gone before our last bytes went out */
            if (rbuf_avail(&s->out) > 0)
                closed(s);
            break;
        }
    }
    return s->state == SESS_DONE;
}

int
session_tick(session_t *s, double now)
{
    switch (s->state) {
    case SESS_DONE:
        return 1;
    case SESS_CONNECTING:
    case SESS_CONFIG:
    case SESS_VERDICT:
        if (now - s->t_start > s->ctx->config_timeout) {
            s->hostile = s->state != SESS_CONNECTING;
            sess_finish(s, 0, 0, "%s: config phase took longer than %.0f s",
                s->hostile ? "cut off" : "timeout", s->ctx->config_timeout);
            return 1;
        }
        return 0;
    case SESS_RUN:
    case SESS_CLOSING:
        break;
    }
    if (now - s->t_run > s->ctx->session_timeout) {
        s->hostile = 1;
        sess_finish(s, 0, 1, "cut off: session took longer than %.0f s (keeping "
            "%zu found)", s->ctx->session_timeout, s->nmissing);
        return 1;
    }
    {
        double base = s->ctx->progress_time > 0 ? s->ctx->progress_time
            : SESS_PROGRESS_BASE_DEFAULT;
        size_t diffs = s->nmissing + s->nsent;
        if (now - s->t_run > base + diffs * (SESS_PROGRESS_PER_DIFF_MS / 1e3)) {
            s->hostile = 1;
            sess_finish(s, 0, 1, "cut off: too little progress: %zu "
                "differences in %.0f s (allowed: %.0f s + %d ms per "
                "difference; keeping %zu found)", diffs, now - s->t_run,
                base, SESS_PROGRESS_PER_DIFF_MS, s->nmissing);
            return 1;
        }
    }
    if (now - s->t_rx > s->ctx->idle_timeout) {
        s->hostile = 1;
        if (s->t_byte > s->t_rx)
            sess_finish(s, 0, 1, "cut off: no complete message for %.0f s, "
                "bytes trickling in (keeping %zu found)", s->ctx->idle_timeout,
                s->nmissing);
        else
            sess_finish(s, 0, 1, "cut off: nothing received for %.0f s "
                "(keeping %zu found)", s->ctx->idle_timeout, s->nmissing);
        return 1;
    }
    return 0;
}
