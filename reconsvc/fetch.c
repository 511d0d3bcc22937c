/*
 * Fetching missing keys over /pks/hashquery (fetch.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "fetch_int.h"
#include "hashquery.h"
#include "key.h"
#include "log.h"
#include "membership.h"
#include "store.h"
#include "writer.h"

#define READ_CHUNK  65536

void
fetch_job_free(fetch_job_t *job)
{
    if (job == NULL)
        return;
    free(job->hashes);
    free(job->notes);
    free(job);
}

static int
note_cmp(const void *a, const void *b)
{
    return memcmp(((const fetch_note_t *) a)->hash,
        ((const fetch_note_t *) b)->hash, HKP_HASH_LEN);
}

/* Before done(): the notes sorted, for fetch_job_why(). */
static void
notes_sort(fetch_job_t *job)
{
    if (job->nnotes > 1)
        qsort(job->notes, job->nnotes, sizeof(*job->notes), note_cmp);
}

const char *
fetch_job_why(const fetch_job_t *job, const uint8_t *h)
{
    fetch_note_t key;
    const fetch_note_t *n;

    memcpy(key.hash, h, HKP_HASH_LEN);
    n = job->nnotes > 0 ? bsearch(&key, job->notes, job->nnotes,
        sizeof(*job->notes), note_cmp) : NULL;
    if (n != NULL)
        return n->why;
    return job->notes_lost ? "not returned by the peer (or one of more "
        "reasons than were kept: see the fetch lines)"
        : "not returned by the peer";
}

static long fetch_timer(ev_loop_t *el, long long id, void *arg);

/* ------------------------------------------------------------ storing */

/* The writer committed a batch: its keys count as fetched for the head
 * job (they are all the head job's). */
static void
batch_committed(void *arg, const hkp_writer_count_t *batch)
{
    fetcher_t *f = arg;

    if (f->head != NULL)
        f->head->fetched += batch->keys;
    f->txn_keys = f->txn_batches = 0;
}

int
fetcher_init(fetcher_t *f, recon_ctx_t *ctx, ev_loop_t *el)
{
    hkp_writer_policy_t policy;

    memset(f, 0, sizeof(*f));
    f->ctx = ctx;
    f->el = el;
    for (size_t i = 0; i < FETCH_PARALLEL; i++) {
        f->req[i].f = f;
        f->req[i].fd = -1;
    }
    f->timeout = 180;
    f->progress_secs = FETCH_PROGRESS_SECS;
    /* one batch spans replies: committed at FETCH_COMMIT_KEYS keys or
     * FETCH_COMMIT_SECS of age; tree changes applied at the commit */
    memset(&policy, 0, sizeof(policy));
    policy.max_keys = FETCH_COMMIT_KEYS;
    policy.max_secs = FETCH_COMMIT_SECS;
    policy.flags = HKP_WRITER_TREE_BATCH | HKP_WRITER_ADOPT_MAP
                   | HKP_WRITER_GROW_MAP;
    policy.on_commit = batch_committed;
    policy.arg = f;
    if (hkp_writer_open(&f->w, ctx->db, &policy) != 0)
        return -1;
    f->timer = ev_timer_add(el, FETCH_TICK_MS, fetch_timer, f);
    if (f->timer < 0) {
        hkp_writer_close(&f->w);
        return -1;
    }
    return 0;
}

int
fetcher_busy(const fetcher_t *f)
{
    return f->njobs > 0;
}

int
fetcher_full(const fetcher_t *f)
{
    return f->njobs >= FETCH_MAX_JOBS;
}

int
fetcher_fetching_from(const fetcher_t *f, const struct sockaddr *addr)
{
    for (const fetch_job_t *j = f->head; j != NULL; j = j->next)
        if (addr_same_ip((const struct sockaddr *) &j->addr, addr))
            return 1;
    return 0;
}

size_t
fetcher_job_fetched(const fetcher_t *f, const fetch_job_t *job)
{
    return job->fetched + (job == f->head ? f->txn_keys : 0);
}

size_t
fetcher_queued(const fetcher_t *f)
{
    size_t n = 0;
    for (const fetch_job_t *j = f->head; j != NULL; j = j->next)
        n += j->n - j->pos;
    return n;
}

/* Every FETCH_PROGRESS_SECS of a fetch: one line, and the callback. */
static void
progress(fetcher_t *f, double now)
{
    fetch_job_t *job = f->head;
    size_t got;

    if (job == NULL || job->t_fetch == 0
        || now - job->t_progress < f->progress_secs)
        return;
    job->t_progress = now;
    got = fetcher_job_fetched(f, job);
    rlog("fetch from %s: %zu of %zu keys fetched (%.0f keys/s), %zu hashes "
        "to go, %zu a request, %zu jobs queued", job->peer_str, got, job->n,
        got / (now - job->t_fetch), job->n - job->answered, job->batch,
        f->njobs - 1);
    if (f->progress != NULL)
        f->progress(f->done_arg, job);
}

/* ------------------------------------------------------------ write txn */

/* A failure that counts against the head job like a failed batch; after
 * FETCH_MAX_FAILS in a row the hashes not yet requested are dropped. */
static void
count_failure(fetcher_t *f, size_t batches)
{
    fetch_job_t *job = f->head;
    job->failed_batches += batches;
    if (++job->fails_in_row >= FETCH_MAX_FAILS && job->pos < job->n) {
        rlog("fetch from %s: %d batches failed in a row; dropping the "
            "other %zu hashes", job->peer_str, FETCH_MAX_FAILS,
            job->n - job->pos);
        job->pos = job->n;
    }
}

void
fetch_txn_lost(fetcher_t *f, const char *why)
{
    hkp_writer_abort(&f->w);
    rlog("fetch from %s: %zu keys of %zu batches not stored: %s",
        f->head->peer_str, f->txn_keys, f->txn_batches, why);
    if (f->txn_batches > 0)
        count_failure(f, f->txn_batches);
    f->txn_keys = f->txn_batches = 0;
}

/* Commits the open batch (batch_committed counts its keys). */
static void
txn_commit(fetcher_t *f)
{
    char msg[300];
    int rc = hkp_writer_commit(&f->w);

    if (rc != 0) {
        snprintf(msg, sizeof(msg), "commit: %s", hkp_strerror(rc));
        fetch_txn_lost(f, msg);
    }
}

/* ------------------------------------------------------------ HTTP */

static void
close_conn(fetcher_t *f, fetch_req_t *r)
{
    if (r->fd >= 0) {
        ev_file_del(f->el, r->fd);
        close(r->fd);
        r->fd = -1;
    }
    r->connecting = 0;
}

void
fetch_req_close(fetcher_t *f, fetch_req_t *r)
{
    close_conn(f, r);
    fetch_store_drop(f, r);
    rbuf_free(&r->out);
    rbuf_free(&r->in);
    r->pos = r->n = 0;
}

/* A slot is busy while its request is in flight or its reply is stored. */
static int
req_busy(const fetch_req_t *r)
{
    return r->fd >= 0 || r->storing;
}

static size_t
nactive(const fetcher_t *f)
{
    size_t n = 0;
    for (size_t i = 0; i < FETCH_PARALLEL; i++)
        n += req_busy(&f->req[i]);
    return n;
}

void
fetch_batch_failed(fetcher_t *f, fetch_req_t *r, const char *fmt,
    const char *a)
{
    char msg[300];
    snprintf(msg, sizeof(msg), fmt, a);
    fetch_job_t *job = f->head;
    rlog("fetch from %s: batch of %zu failed: %s", job->peer_str, r->n,
        msg);
    job->answered += r->n;
    {
        /* smaller requests from now on */
        size_t half = r->n / 2 > FETCH_BATCH_MIN ? r->n / 2
            : FETCH_BATCH_MIN;
        if (half < job->batch) {
            job->batch = half;
            job->size_fixed = 1;        /* no growing back */
            rlog("fetch from %s: %zu hashes a request from now on",
                job->peer_str, job->batch);
        }
    }
    count_failure(f, 1);
    fetch_req_close(f, r);
}

static void req_ready(ev_loop_t *el, int fd, void *arg, int mask);

static int
set_events(fetcher_t *f, fetch_req_t *r, int mask)
{
    return ev_file_set(f->el, r->fd, mask, req_ready, r);
}

/* Starts the request for the next batch of the head job in free slot r
 * (on failure the slot stays free and the failure is counted). */
static void
issue(fetcher_t *f, fetch_req_t *r, double now)
{
    fetch_job_t *job = f->head;
    uint8_t *body = NULL;
    size_t blen;
    char hdr[128];

    if (job->batch == 0)
        job->batch = FETCH_BATCH;
    if (job->t_fetch == 0)
        job->t_fetch = job->t_progress = now;
    r->pos = job->pos;
    r->n = job->n - job->pos;
    if (r->n > job->batch)
        r->n = job->batch;
    job->pos += r->n;
    blen = hkp_hashquery_build(
        (const hkp_hash_t *) job->hashes + r->pos,
        r->n, NULL);
    if (blen == 0 || (body = malloc(blen)) == NULL) {
        fetch_batch_failed(f, r, "%s", "out of memory");
        return;
    }
    hkp_hashquery_build(
        (const hkp_hash_t *) job->hashes + r->pos,
        r->n, body);
    snprintf(hdr, sizeof(hdr), "POST /pks/hashquery HTTP/1.0\r\n"
        "content-length: %zu\r\n\r\n", blen);
    int rc = rbuf_put(&r->out, hdr, strlen(hdr));
    if (rc == 0)
        rc = rbuf_put(&r->out, body, blen);
    free(body);
    if (rc != 0) {
        fetch_batch_failed(f, r, "%s", "out of memory");
        return;
    }
    r->fd = socket(job->addr.ss_family,
        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->fd < 0) {
        fetch_batch_failed(f, r, "socket: %s", strerror(errno));
        return;
    }
    if (f->bind_len > 0 && f->bind_addr.ss_family == job->addr.ss_family
        && bind(r->fd, (struct sockaddr *) &f->bind_addr, f->bind_len) != 0)
    {
        fetch_batch_failed(f, r, "bind: %s", strerror(errno));
        return;
    }
    r->deadline = now + f->timeout;
    if (connect(r->fd, (struct sockaddr *) &job->addr, job->addrlen) != 0
        && errno != EINPROGRESS)
    {
        fetch_batch_failed(f, r, "connect: %s", strerror(errno));
        return;
    }
    r->connecting = 1;
    if (set_events(f, r, EV_WRITABLE) != 0)
        fetch_batch_failed(f, r, "epoll_ctl: %s", strerror(errno));
}

/* Keeps the requests going: fills free slots with the head job's next
 * batches; when a job has nothing requested or in flight any more, commits
 * its keys and hands it back, then goes on with the next job. */
static void
pump(fetcher_t *f, double now)
{
    fetch_job_t *job;

    while ((job = f->head) != NULL) {
        for (size_t i = 0; i < FETCH_PARALLEL && job->pos < job->n; i++)
            if (!req_busy(&f->req[i]))
                issue(f, &f->req[i], now);
        if (job->pos < job->n || nactive(f) > 0)
            return;
        txn_commit(f);
        f->head = job->next;
        if (f->head == NULL)
            f->tail = NULL;
        f->njobs--;
        job->next = NULL;
        notes_sort(job);
        f->done(f->done_arg, job);
    }
}

/* Leaves out of job the hashes another queued job asks for (a session
 * that ran while those were fetched found them too). Both sorted. */
static void
drop_queued(const fetcher_t *f, fetch_job_t *job)
{
    uint8_t *dup;
    size_t out = 0;

    if (f->head == NULL || job->n == 0
        || (dup = calloc(job->n, 1)) == NULL)
        return;                         /* fetched twice at worst */
    for (const fetch_job_t *q = f->head; q != NULL; q = q->next) {
        size_t i = 0, k = 0;
        while (i < job->n && k < q->n) {
            int c = memcmp(job->hashes[i], q->hashes[k], HKP_HASH_LEN);
            if (c == 0)
                dup[i] = 1;
            i += c <= 0;
            k += c >= 0;
        }
    }
    for (size_t i = 0; i < job->n; i++)
        if (!dup[i]) {
            if (out != i)
                memcpy(job->hashes[out], job->hashes[i], HKP_HASH_LEN);
            out++;
        }
    free(dup);
    if (out < job->n)
        rlog("fetch from %s: %zu of %zu hashes are being fetched from "
            "another peer already: not asked twice", job->peer_str,
            job->n - out, job->n);
    job->n = out;
}

int
fetcher_enqueue(fetcher_t *f, fetch_job_t *job, double now)
{
    if (f->njobs >= FETCH_MAX_JOBS)
        return -1;
    drop_queued(f, job);
    if (job->n == 0)
        return 1;
    job->next = NULL;
    if (f->tail)
        f->tail->next = job;
    else
        f->head = job;
    f->tail = job;
    f->njobs++;
    if (f->head == job)
        pump(f, now);
    return 0;
}

/* A complete reply (at EOF): check the status, queue its keys to be
 * stored (fetch_store.c); the slot stays busy until they are. */
static void
handle_reply(fetcher_t *f, fetch_req_t *r)
{
    const uint8_t *d = rbuf_data(&r->in);
    size_t len = rbuf_avail(&r->in), i, line_start, body_at = 0;
    long clen = -1;
    char err[300];

    if (len < 12 || memcmp(d, "HTTP/", 5) != 0) {
        fetch_batch_failed(f, r, "%s", "not an HTTP response");
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
            fetch_batch_failed(f, r, "status \"%s\"", st);
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
        fetch_batch_failed(f, r, "%s", "truncated HTTP header");
        return;
    }
    size_t blen = len - body_at;
    if (clen >= 0 && (size_t) clen < blen)
        blen = (size_t) clen;
    if (clen >= 0 && (size_t) clen > blen) {
        fetch_batch_failed(f, r, "%s",
            "reply shorter than its content-length");
        return;
    }
    close_conn(f, r);
    if (fetch_store_queue(f, r, body_at, blen, err, sizeof(err)) != 0)
        fetch_batch_failed(f, r, "%s", err);
    /* stored from the timer, in slices */
    ev_timer_within(f->el, f->timer, 0);
}

/* Sends, then reads to EOF. 1 when the request is over (slot free). */
static int
req_io(fetcher_t *f, fetch_req_t *r, int mask)
{
    if (r->connecting) {
        int err = 0;
        socklen_t l = sizeof(err);
        if (!(mask & EV_WRITABLE))
            return 0;
        if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
            err = errno;
        if (err != 0) {
            fetch_batch_failed(f, r, "connect: %s", strerror(err));
            return 1;
        }
        r->connecting = 0;
    }
    while (rbuf_avail(&r->out) > 0) {
        ssize_t w = rbuf_send(&r->out, r->fd);
        if (w > 0)
            continue;
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (set_events(f, r, EV_WRITABLE) != 0) {
                fetch_batch_failed(f, r, "epoll_ctl: %s", strerror(errno));
                return 1;
            }
            return 0;
        }
        fetch_batch_failed(f, r, "send: %s",
            w == 0 ? "nothing written" : strerror(errno));
        return 1;
    }
    for (;;) {
        if (rbuf_avail(&r->in) > FETCH_MAX_REPLY) {
            fetch_batch_failed(f, r, "%s", "reply too large");
            return 1;
        }
        ssize_t n = rbuf_recv(&r->in, r->fd, READ_CHUNK);
        if (n == RBUF_ENOMEM) {
            fetch_batch_failed(f, r, "%s", "out of memory");
            return 1;
        }
        if (n > 0)
            continue;
        if (n == 0) {
            handle_reply(f, r);
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (set_events(f, r, EV_READABLE) != 0) {
                fetch_batch_failed(f, r, "epoll_ctl: %s", strerror(errno));
                return 1;
            }
            return 0;
        }
        fetch_batch_failed(f, r, "recv: %s", strerror(errno));
        return 1;
    }
}

static int fetcher_wait_ms(const fetcher_t *f, int max_ms);

/* A request's socket is ready. */
static void
req_ready(ev_loop_t *el, int fd, void *arg, int mask)
{
    fetch_req_t *r = arg;
    fetcher_t *f = r->f;

    (void) fd;
    if (r->fd < 0 || r->storing)
        return;
    if (req_io(f, r, mask))
        pump(f, ev_time(el));
    /* a reply may have opened the write txn: commit it on time */
    ev_timer_within(el, f->timer, fetcher_wait_ms(f, FETCH_TICK_MS));
}

static void
fetcher_tick(fetcher_t *f, double now)
{
    int over = 0;

    for (size_t i = 0; i < FETCH_PARALLEL; i++) {
        if (f->req[i].fd >= 0 && now > f->req[i].deadline) {
            fetch_batch_failed(f, &f->req[i], "%s", "timed out");
            over = 1;
        }
    }
    if (f->sq_head != NULL) {
        fetch_store_slice(f);
        over = 1;
    }
    if (hkp_writer_due(&f->w))
        txn_commit(f);
    if (over)
        pump(f, now);
    progress(f, now);
}

void
fetcher_flush(fetcher_t *f)
{
    txn_commit(f);
}

/* Milliseconds until fetcher_tick() has something to do (the pending
 * commit), at most max_ms. */
static int
fetcher_wait_ms(const fetcher_t *f, int max_ms)
{
    double age = hkp_writer_age(&f->w);
    if (f->sq_head != NULL)
        return 0;               /* the next slice after the next poll */
    if (age < 0)
        return max_ms;
    double left = (FETCH_COMMIT_SECS - age) * 1000;
    if (left <= 0)
        return 0;
    return left < max_ms ? (int) left + 1 : max_ms;
}

/* Request deadlines and the commit age; runs again when the next thing
 * is due. */
static long
fetch_timer(ev_loop_t *el, long long id, void *arg)
{
    fetcher_t *f = arg;
    (void) id;
    fetcher_tick(f, ev_time(el));
    return fetcher_wait_ms(f, FETCH_TICK_MS);
}

void
fetcher_shutdown(fetcher_t *f)
{
    int interrupted = nactive(f) > 0;

    for (size_t i = 0; i < FETCH_PARALLEL; i++)
        fetch_req_close(f, &f->req[i]);
    if (f->head != NULL)
        txn_commit(f);        /* what arrived is kept */
    while (f->head != NULL) {
        fetch_job_t *job = f->head;
        f->head = job->next;
        f->njobs--;
        job->next = NULL;
        if (job->pos < job->n || interrupted)
            snprintf(job->outcome + strlen(job->outcome),
                sizeof(job->outcome) - strlen(job->outcome),
                "; fetch interrupted");
        interrupted = 0;
        notes_sort(job);
        f->done(f->done_arg, job);
    }
    f->tail = NULL;
    ev_timer_del(f->el, f->timer);
    hkp_writer_close(&f->w);
}
