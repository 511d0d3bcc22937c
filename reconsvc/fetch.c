/*
 * Fetching missing keys over /pks/hashquery (fetch.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fetch.h"
#include "hashquery.h"
#include "key.h"
#include "log.h"
#include "membership.h"
#include "store.h"

#define READ_CHUNK  65536

void
fetch_job_free(fetch_job_t *job)
{
    if (job == NULL)
        return;
    free(job->hashes);
    free(job);
}

void
fetcher_init(fetcher_t *f, recon_ctx_t *ctx, int epfd, void *tag)
{
    memset(f, 0, sizeof(*f));
    f->ctx = ctx;
    f->epfd = epfd;
    f->tag = tag;
    f->fd = -1;
    f->timeout = 180;
}

int
fetcher_busy(const fetcher_t *f)
{
    return f->njobs > 0;
}

/* ------------------------------------------------------------ storing */

typedef struct {
    hkp_db_t   *db;
    MDB_txn    *txn;
    long        stored;
    int         fatal;
    char       *err;
    size_t      errlen;
    size_t      keyindex;
} store_ctx_t;

static int
key_cb(void *arg, size_t index, hkp_key_t *key, const char *reason)
{
    store_ctx_t *sc = arg;
    MDB_txn *child;
    hkp_put_result_t res;
    const char *err = NULL;
    int rc;

    (void) index;
    if (key == NULL) {
        rlog("fetch: key %zu of the reply rejected: %s", sc->keyindex,
            reason ? reason : "?");
        return 1;
    }
    rc = mdb_txn_begin(sc->db->env, sc->txn, 0, &child);
    if (rc != 0) {
        snprintf(sc->err, sc->errlen, "mdb_txn_begin (nested): %s",
            mdb_strerror(rc));
        sc->fatal = 1;
    } else if (hkp_db_put(sc->db, child, key, &res, &err) != 0) {
        mdb_txn_abort(child);
        rlog("fetch: key %zu of the reply not stored: %s", sc->keyindex,
            err ? err : "?");
    } else if ((rc = mdb_txn_commit(child)) != 0) {
        snprintf(sc->err, sc->errlen, "mdb_txn_commit (nested): %s",
            mdb_strerror(rc));
        sc->fatal = 1;
    } else
        sc->stored++;
    hkp_key_free(key);
    free(key);
    return 1;          /* like SKS: only the first key of each string */
}

static int
reply_cb(void *arg, size_t index, const uint8_t *key, size_t len)
{
    store_ctx_t *sc = arg;
    const char *err = NULL;
    sc->keyindex = index;
    if (hkp_keys_parse(key, len, key_cb, sc, &err) != 0)
        rlog("fetch: key %zu of the reply rejected: %s", index,
            err ? err : "?");
    return sc->fatal;
}

long
fetch_store_reply(hkp_db_t *db, const uint8_t *body, size_t len, char *err,
    size_t errlen)
{
    store_ctx_t sc;
    const char *perr = NULL;
    int rc;

    memset(&sc, 0, sizeof(sc));
    sc.db = db;
    sc.err = err;
    sc.errlen = errlen;
    rc = mdb_txn_begin(db->env, NULL, 0, &sc.txn);
    if (rc != 0) {
        snprintf(err, errlen, "mdb_txn_begin: %s", mdb_strerror(rc));
        return -1;
    }
    if (hkp_hashquery_reply_parse(body, len, FETCH_BATCH, 0, reply_cb, &sc,
        &perr) != 0)
    {
        mdb_txn_abort(sc.txn);
        snprintf(err, errlen, "bad hashquery reply: %s", perr ? perr : "?");
        return -1;
    }
    if (sc.fatal) {
        mdb_txn_abort(sc.txn);
        return -1;
    }
    rc = mdb_txn_commit(sc.txn);
    if (rc != 0) {
        snprintf(err, errlen, "mdb_txn_commit: %s", mdb_strerror(rc));
        return -1;
    }
    return sc.stored;
}

/* ------------------------------------------------------------ HTTP */

static void
close_req(fetcher_t *f)
{
    if (f->fd >= 0) {
        epoll_ctl(f->epfd, EPOLL_CTL_DEL, f->fd, NULL);
        close(f->fd);
        f->fd = -1;
    }
    rbuf_free(&f->out);
    rbuf_free(&f->in);
    f->connecting = 0;
}

static void start_next(fetcher_t *f, double now);

/* The current job is over: hand it back, go on with the next. */
static void
job_done(fetcher_t *f, double now)
{
    fetch_job_t *job = f->head;
    f->head = job->next;
    if (f->head == NULL)
        f->tail = NULL;
    f->njobs--;
    job->next = NULL;
    f->done(f->done_arg, job);
    start_next(f, now);
}

/* One batch is over (ok or not): next batch or next job. */
static void
batch_over(fetcher_t *f, double now)
{
    close_req(f);
    fetch_job_t *job = f->head;
    job->pos += f->batch_n;
    f->batch_n = 0;
    if (job->pos >= job->n)
        job_done(f, now);
    else
        start_next(f, now);
}

static void
batch_failed(fetcher_t *f, double now, const char *fmt, const char *a)
{
    char msg[300];
    fetch_job_t *job = f->head;
    snprintf(msg, sizeof(msg), fmt, a);
    job->failed_batches++;
    rlog("fetch from %s: batch of %zu failed: %s", job->peer_str, f->batch_n,
        msg);
    if (++job->fails_in_row >= FETCH_MAX_FAILS && job->pos + f->batch_n
        < job->n)
    {
        rlog("fetch from %s: %d batches failed in a row; dropping the "
            "other %zu hashes", job->peer_str, FETCH_MAX_FAILS,
            job->n - job->pos - f->batch_n);
        f->batch_n = job->n - job->pos;
    }
    batch_over(f, now);
}

static int
set_events(fetcher_t *f, uint32_t ev, int add)
{
    struct epoll_event e;
    memset(&e, 0, sizeof(e));
    e.events = ev;
    e.data.ptr = f->tag;
    return epoll_ctl(f->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, f->fd, &e);
}

static void
start_next(fetcher_t *f, double now)
{
    fetch_job_t *job;
    uint8_t *body = NULL;
    size_t blen;
    char hdr[128];

    while ((job = f->head) != NULL) {
        if (job->pos >= job->n) {
            job_done(f, now);
            return;
        }
        f->batch_n = job->n - job->pos;
        if (f->batch_n > FETCH_BATCH)
            f->batch_n = FETCH_BATCH;
        blen = hkp_hashquery_build(
            (const uint8_t (*)[HKP_HASHQUERY_HASH_LEN]) job->hashes + job->pos,
            f->batch_n, NULL);
        if (blen == 0 || (body = malloc(blen)) == NULL) {
            batch_failed(f, now, "%s", "out of memory");
            return;
        }
        hkp_hashquery_build(
            (const uint8_t (*)[HKP_HASHQUERY_HASH_LEN]) job->hashes + job->pos,
            f->batch_n, body);
        snprintf(hdr, sizeof(hdr), "POST /pks/hashquery HTTP/1.0\r\n"
            "content-length: %zu\r\n\r\n", blen);
        int rc = rbuf_put(&f->out, hdr, strlen(hdr));
        if (rc == 0)
            rc = rbuf_put(&f->out, body, blen);
        free(body);
        if (rc != 0) {
            batch_failed(f, now, "%s", "out of memory");
            return;
        }
        f->fd = socket(job->addr.ss_family,
            SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (f->fd < 0) {
            batch_failed(f, now, "socket: %s", strerror(errno));
            return;
        }
        if (f->bind_len > 0 && f->bind_addr.ss_family == job->addr.ss_family
            && bind(f->fd, (struct sockaddr *) &f->bind_addr, f->bind_len) != 0)
        {
            batch_failed(f, now, "bind: %s", strerror(errno));
            return;
        }
        f->deadline = now + f->timeout;
        if (connect(f->fd, (struct sockaddr *) &job->addr, job->addrlen) != 0
            && errno != EINPROGRESS)
        {
            batch_failed(f, now, "connect: %s", strerror(errno));
            return;
        }
        f->connecting = 1;
        if (set_events(f, EPOLLOUT, 1) != 0) {
            batch_failed(f, now, "epoll_ctl: %s", strerror(errno));
            return;
        }
        return;
    }
}

int
fetcher_enqueue(fetcher_t *f, fetch_job_t *job, double now)
{
    if (f->njobs >= FETCH_MAX_JOBS)
        return -1;
    job->next = NULL;
    if (f->tail)
        f->tail->next = job;
    else
        f->head = job;
    f->tail = job;
    f->njobs++;
    if (f->fd < 0 && f->head == job)
        start_next(f, now);
    return 0;
}

/* A complete reply (at EOF): check the status, store the keys. */
static void
handle_reply(fetcher_t *f, double now)
{
    const uint8_t *d = rbuf_data(&f->in);
    size_t len = rbuf_avail(&f->in), i, line_start, body_at = 0;
    long clen = -1;
    char err[300];
    fetch_job_t *job = f->head;

    if (len < 12 || memcmp(d, "HTTP/", 5) != 0) {
        batch_failed(f, now, "%s", "not an HTTP response");
        return;
    }
    {
        const uint8_t *sp = memchr(d, ' ', len < 16 ? len : 16);
        if (sp == NULL || (size_t) (sp - d) + 4 > len || sp[1] != '2') {
            char st[40];
            size_t k;
            for (k = 0; k < len && k < sizeof(st) - 1 && d[k] != '\r'
                && d[k] != '\n'; k++)
                st[k] = (char) d[k];
            st[k] = '\0';
            batch_failed(f, now, "status \"%s\"", st);
            return;
        }
    }
    /* headers up to an empty line */
    for (i = 0, line_start = 0; i < len; i++) {
        if (d[i] != '\n')
            continue;
        size_t ll = i - line_start;
        if (ll > 0 && d[i - 1] == '\r')
            ll--;
        if (ll == 0 && line_start > 0) {
            body_at = i + 1;
            break;
        }
        if (ll > 15 && strncasecmp((const char *) d + line_start,
            "content-length:", 15) == 0)
        {
            char num[24];
            size_t k = 0, p = line_start + 15;
            while (p < line_start + ll && (d[p] == ' ' || d[p] == '\t'))
                p++;
            while (p < line_start + ll && k < sizeof(num) - 1)
                num[k++] = (char) d[p++];
            num[k] = '\0';
            clen = strtol(num, NULL, 10);
        }
        line_start = i + 1;
    }
    if (body_at == 0) {
        batch_failed(f, now, "%s", "truncated HTTP header");
        return;
    }
    size_t blen = len - body_at;
    if (clen >= 0 && (size_t) clen < blen)
        blen = (size_t) clen;
    if (clen >= 0 && (size_t) clen > blen) {
        batch_failed(f, now, "%s", "reply shorter than its content-length");
        return;
    }
    long n = fetch_store_reply(f->ctx->db, d + body_at, blen, err,
        sizeof(err));
    if (n < 0) {
        batch_failed(f, now, "%s", err);
        return;
    }
    job->fetched += (size_t) n;
    job->fails_in_row = 0;
    batch_over(f, now);
}

void
fetcher_io(fetcher_t *f, uint32_t events, double now)
{
    if (f->fd < 0)
        return;
    if (f->connecting) {
        int err = 0;
        socklen_t l = sizeof(err);
        if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
            err = errno;
        if (err != 0) {
            batch_failed(f, now, "connect: %s", strerror(err));
            return;
        }
        f->connecting = 0;
    }
    (void) events;
    while (rbuf_avail(&f->out) > 0) {
        ssize_t w = send(f->fd, rbuf_data(&f->out), rbuf_avail(&f->out),
            MSG_NOSIGNAL);
        if (w > 0) {
            rbuf_consume(&f->out, (size_t) w);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (set_events(f, EPOLLOUT, 0) != 0)
                batch_failed(f, now, "epoll_ctl: %s", strerror(errno));
            return;
        }
        batch_failed(f, now, "send: %s", w == 0 ? "nothing written" : strerror(errno));
        return;
    }
    for (;;) {
        if (rbuf_avail(&f->in) > FETCH_MAX_REPLY) {
            batch_failed(f, now, "%s", "reply too large");
            return;
        }
        if (rbuf_reserve(&f->in, READ_CHUNK) != 0) {
            batch_failed(f, now, "%s", "out of memory");
            return;
        }
        ssize_t r = recv(f->fd, f->in.d + f->in.len, READ_CHUNK, 0);
        if (r > 0) {
            f->in.len += (size_t) r;
            continue;
        }
        if (r == 0) {
            handle_reply(f, now);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (set_events(f, EPOLLIN, 0) != 0)
                batch_failed(f, now, "epoll_ctl: %s", strerror(errno));
            return;
        }
        batch_failed(f, now, "recv: %s", strerror(errno));
        return;
    }
}

void
fetcher_tick(fetcher_t *f, double now)
{
    if (f->fd >= 0 && now > f->deadline)
        batch_failed(f, now, "%s", "timed out");
}

void
fetcher_shutdown(fetcher_t *f)
{
    close_req(f);
    while (f->head != NULL) {
        fetch_job_t *job = f->head;
        f->head = job->next;
        f->njobs--;
        job->next = NULL;
        if (job->pos < job->n)
            snprintf(job->outcome + strlen(job->outcome),
                sizeof(job->outcome) - strlen(job->outcome),
                "; fetch interrupted");
        f->done(f->done_arg, job);
    }
    f->tail = NULL;
}
