/*
 * Storing the fetcher's replies (fetch.h): only keys asked for, in
 * bounded slices.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "bytes.h"
#include "fetch_int.h"
#include "hashquery.h"
#include "key.h"
#include "log.h"
#include "profile.h"
#include "writer.h"

typedef struct {
    fetcher_t          *f;
    fetch_req_t        *r;
    hkp_key_t          *keys[FETCH_SLICE_KEYS]; /* put, kept until the
                                                  step ends (the writer
                                                  may replay them) */
    size_t              nkeys;
    size_t              keyindex;
    int                 got;           /* key_cb ran for this string */
    int                 rc;            /* a database error, or 0 */
} slice_ctx_t;

/* ------------------------------------------------------------ framing */

typedef struct {
    const uint8_t      *base;
    fetch_ent_t        *ent;
    size_t              n;
} frame_ctx_t;

static int
frame_cb(void *arg, size_t index, const uint8_t *key, size_t len)
{
    frame_ctx_t *fc = arg;
    (void) index;
    fc->ent[fc->n].off = (size_t) (key - fc->base);
    fc->ent[fc->n].len = len;
    fc->n++;
    return 0;
}

/* Key count of a reply body (its first u32), for the entry table. */
static size_t
reply_count(const uint8_t *b, size_t len)
{
    if (len < 4)
        return 0;
    return hkp_get_be32(b);
}

int
fetch_store_queue(fetcher_t *f, fetch_req_t *r, size_t body_at, size_t blen,
    char *err, size_t errlen)
{
    const uint8_t *d = rbuf_data(&r->in);
    frame_ctx_t fc;
    const char *perr = NULL;
    size_t n = reply_count(d + body_at, blen);

    memset(&r->cnt, 0, sizeof(r->cnt));
    if (n > FETCH_REPLY_MAX_KEYS) {
        snprintf(err, errlen, "bad hashquery reply: %zu keys (at most %u "
            "taken)", n, (unsigned) FETCH_REPLY_MAX_KEYS);
        return -1;
    }
    r->ent = calloc(n > 0 ? n : 1, sizeof(*r->ent));
    r->taken = calloc(r->n > 0 ? r->n : 1, 1);
    if (r->ent == NULL || r->taken == NULL) {
        fetch_store_drop(f, r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    fc.base = d;
    fc.ent = r->ent;
    fc.n = 0;
    if (hkp_hashquery_reply_parse(d + body_at, blen, FETCH_REPLY_MAX_KEYS, 0,
            frame_cb, &fc, &perr) != 0)
    {
        fetch_store_drop(f, r);
        snprintf(err, errlen, "bad hashquery reply: %s", perr ? perr : "?");
        return -1;
    }
    r->nent = fc.n;
    r->cnt.keys = fc.n;
    r->next = 0;
    r->storing = 1;
    r->snext = NULL;
    if (f->sq_tail != NULL)
        f->sq_tail->snext = r;
    else
        f->sq_head = r;
    f->sq_tail = r;
    return 0;
}

void
fetch_store_drop(fetcher_t *f, fetch_req_t *r)
{
    if (r->storing) {
        for (fetch_req_t **p = &f->sq_head; *p != NULL; p = &(*p)->snext) {
            if (*p == r) {
                *p = r->snext;
                break;
            }
        }
        f->sq_tail = NULL;
        for (fetch_req_t *q = f->sq_head; q != NULL; q = q->snext)
            f->sq_tail = q;
    }
    free(r->ent);
    free(r->taken);
    r->ent = NULL;
    r->taken = NULL;
    r->nent = r->next = 0;
    r->storing = 0;
    r->snext = NULL;
}

/* ------------------------------------------------------------ keys */

/* Index in the request's hashes of h, or -1: the job's hashes are
 * sorted and a request asks for a contiguous run of them. */
static long
asked_index(const fetch_job_t *job, const fetch_req_t *r, const uint8_t *h)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(job->hashes[r->pos + mid], h, HKP_HASH_LEN);
        if (c == 0)
            return (long) mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* A note for asked hash h of the head job (fetch_job_why). */
static void
job_note(fetcher_t *f, const uint8_t *h, const char *fmt, const char *a,
    const char *b)
{
    fetch_job_t *job = f->head;

    if (job->nnotes >= FETCH_VAIN_NOTES) {
        job->notes_lost = 1;
        return;
    }
    if (job->nnotes == job->capnotes) {
        size_t cap = job->capnotes ? job->capnotes * 2 : 16;
        fetch_note_t *n = realloc(job->notes, cap * sizeof(*n));
        if (n == NULL) {
            job->notes_lost = 1;
            return;
        }
        job->notes = n;
        job->capnotes = cap;
    }
    memcpy(job->notes[job->nnotes].hash, h, HKP_HASH_LEN);
    snprintf(job->notes[job->nnotes].why, FETCH_NOTE_LEN, fmt, a, b);
    job->nnotes++;
}

static void
note_other(fetch_req_t *r, const char *fmt, const char *a, const char *b)
{
    if (r->cnt.first_other[0] == '\0')
        snprintf(r->cnt.first_other, sizeof(r->cnt.first_other), fmt, a, b);
}

static void
note_unasked(fetcher_t *f, fetch_req_t *r, const uint8_t *h,
    const hkp_key_t *key)
{
    hkp_pubkey_t pk;
    const char *e;
    char hex[33], fpr[65] = "?";

    if (r->cnt.first_unasked[0] != '\0')
        return;
    hkp_hex(h, HKP_HASH_LEN, hex);
    if (key->npkts > 0 && hkp_pubkey_parse(&key->pkts[0], &pk, &e) == 0)
        hkp_hex(pk.fpr, pk.fpr_len, fpr);
    snprintf(r->cnt.first_unasked, sizeof(r->cnt.first_unasked), "%s %s",
        hex, fpr);
    snprintf(r->cnt.first_other, sizeof(r->cnt.first_other), "it returned "
        "a key whose %s hash here is %s (fingerprint %s)",
        hkp_profile_at((size_t) f->head->prof)->name, hex, fpr);
}

static void
note_reason(fetch_req_t *r, const char *why)
{
    if (r->cnt.first_reason[0] == '\0')
        snprintf(r->cnt.first_reason, sizeof(r->cnt.first_reason), "%s",
            why != NULL ? why : "?");
}

static int
key_cb(void *arg, size_t index, hkp_key_t *key, const char *reason)
{
    slice_ctx_t *sc = arg;
    fetch_req_t *r = sc->r;
    fetch_job_t *job = sc->f->head;
    const hkp_profile_t *p = hkp_profile_at((size_t) job->prof);
    uint8_t h[HKP_HASH_LEN];
    const char *why = NULL;
    hkp_put_result_t res;
    long at;
    int rc;

    (void) index;
    sc->got = 1;
    if (key == NULL) {
        r->cnt.rejected++;
        note_reason(r, reason);
        note_other(r, "it returned a key our parser refused: %s%s",
            reason ? reason : "?", "");
        return 1;
    }
    /* the hash the peer would have offered for this key */
    if (job->prof == 0)
        memcpy(h, key->hash, HKP_HASH_LEN);
    else if ((rc = p->hash(p, key, h, &why)) != HKP_PROFILE_HASHED) {
        if (rc == HKP_PROFILE_DROPPED)
            r->cnt.pdropped++;
        else
            r->cnt.rejected++;
        note_reason(r, why);
        note_other(r, "it returned a key that profile %s drops: %s",
            p->name, why ? why : "?");
        goto drop;
    }
    if ((at = asked_index(job, r, h)) < 0) {
        r->cnt.unasked++;
        note_unasked(sc->f, r, h, key);
        goto drop;
    }
    if (r->taken[at]) {
        r->cnt.dup++;
        goto drop;
    }
    r->taken[at] = 1;
    rc = hkp_writer_put(&sc->f->w, key, &res);
    if (rc == 0) {
        r->cnt.stored++;
        sc->keys[sc->nkeys++] = key;
        if (res.status == HKP_PUT_MERGED
            && memcmp(res.hash, h, HKP_HASH_LEN) != 0)
        {
            char hex[33];
            hkp_hex(res.hash, HKP_HASH_LEN, hex);
            job_note(sc->f, h, "its key was merged into the stored key "
                "with the same primary key (sks hash now %s)%s", hex, "");
        }
        return 1;
    }
    if (hkp_err_is_key(rc)) {
        r->cnt.refused++;
        rlog("fetch from %s: key %zu of the reply not stored: %s",
            job->peer_str, sc->keyindex, res.reason);
        job_note(sc->f, h, "it returned its key, refused here: %s%s",
            res.reason, "");
        if (rc == HKP_EBLOCKED)     /* takedown (block.h): not again */
            block_note_refused(&sc->f->w, key);
    } else
        sc->rc = rc;
drop:
    hkp_key_free(key);
    free(key);
    return 1;          /* like SKS: only the first key of each string */
}

/* ------------------------------------------------------------ slices */

/* A good reply to n hashes: after FETCH_BATCH_PROBE of them at the
 * current size, grow it while that pays (fetch.h). */
static void
size_search(fetch_job_t *job, size_t n)
{
    double now = ev_now(), rate;

    if (job->size_fixed || n < job->batch)
        return;
    if (job->size_t0 == 0)
        job->size_t0 = job->t_fetch;
    job->size_answered += n;
    if (++job->size_replies < FETCH_BATCH_PROBE || now <= job->size_t0)
        return;
    rate = job->size_answered / (now - job->size_t0);
    if (job->best_batch != 0 && rate < job->best_rate * FETCH_BATCH_GAIN) {
        rlog("fetch from %s: %zu hashes a request: %.0f hashes/s, not more "
            "than %.0f at %zu: %zu from now on", job->peer_str, job->batch,
            rate, job->best_rate, job->best_batch, job->best_batch);
        job->batch = job->best_batch;
        job->size_fixed = 1;
        return;
    }
    job->best_rate = rate;
    job->best_batch = job->batch;
    if (job->batch >= FETCH_BATCH_MAX) {
        job->size_fixed = 1;
        return;
    }
    job->batch = job->batch * 2 < FETCH_BATCH_MAX ? job->batch * 2
        : FETCH_BATCH_MAX;
    rlog("fetch from %s: %zu hashes a request: %.0f hashes/s; trying %zu",
        job->peer_str, job->best_batch, rate, job->batch);
    job->size_t0 = now;
    job->size_answered = job->size_replies = 0;
}

/* The reply is stored: its summary line when something was left out or
 * it took more than one slice. */
static void
reply_done(fetcher_t *f, fetch_req_t *r)
{
    const fetch_reply_count_t *c = &r->cnt;
    char line[1024];
    size_t o = 0;

#define PART(...) do { if (o < sizeof(line)) o += (size_t) snprintf(  \
        line + o, sizeof(line) - o, __VA_ARGS__); } while (0)
    if (c->unasked + c->dup > 0) {
        PART("; dropped %zu not asked for", c->unasked);
        if (c->first_unasked[0] != '\0')
            PART(" (first: hash %s)", c->first_unasked);
        PART(" and %zu repeats of a key already given", c->dup);
    }
    if (c->rejected + c->pdropped > 0)
        PART("; %zu refused by our parser, %zu dropped by profile %s "
            "(first: %s)", c->rejected, c->pdropped,
            hkp_profile_at((size_t) f->head->prof)->name, c->first_reason);
    if (c->refused > 0)
        PART("; %zu refused by the store", c->refused);
    if (o > 0 || c->slices > 1)
        rlog("fetch from %s: reply to %zu hashes held %zu keys: %zu stored "
            "in %zu slices%s", f->head->peer_str, r->n, c->keys, c->stored,
            c->slices, line);
#undef PART
    /* asked hashes nothing came for, while keys for no asked hash did */
    if (c->unasked + c->rejected + c->pdropped > 0) {
        size_t untaken = 0, others = c->unasked + c->rejected + c->pdropped;
        char n[32];
        for (size_t i = 0; i < r->n; i++)
            untaken += !r->taken[i];
        snprintf(n, sizeof(n), "%zu", others);
        for (size_t i = 0; i < r->n; i++) {
            if (r->taken[i])
                continue;
            if (untaken == 1 && others == 1)
                job_note(f, f->head->hashes[r->pos + i], "%s%s",
                    c->first_other, "");
            else
                job_note(f, f->head->hashes[r->pos + i], "not returned "
                    "under that hash; the reply held %s keys for no hash "
                    "asked (first: %s)", n, c->first_other);
        }
    }
    f->head->fails_in_row = 0;
    f->head->answered += r->n;
    size_search(f->head, r->n);
    fetch_req_close(f, r);
}

int
fetch_store_slice(fetcher_t *f)
{
    fetch_req_t *r = f->sq_head;
    slice_ctx_t sc;
    char err[HKP_REASON_LEN], msg[300];
    const uint8_t *d;
    double t0 = ev_now();
    size_t k, bytes = 0;
    int rc;

    if (r == NULL)
        return 0;
    d = rbuf_data(&r->in);
    memset(&sc, 0, sizeof(sc));
    sc.f = f;
    sc.r = r;
    if ((rc = hkp_writer_step_begin(&f->w)) != 0) {
        snprintf(msg, sizeof(msg), "write txn: %s", hkp_strerror(rc));
        fetch_txn_lost(f, msg);
        fetch_batch_failed(f, r, "%s", msg);
        return f->sq_head != NULL;
    }
    if (r->cnt.slices++ == 0)
        f->txn_batches++;
    for (k = 0; r->next < r->nent && k < FETCH_SLICE_KEYS
         && bytes < FETCH_SLICE_BYTES
         && (ev_now() - t0) * 1000 < FETCH_SLICE_MS && sc.rc == 0; k++)
    {
        const fetch_ent_t *e = &r->ent[r->next];
        sc.keyindex = r->next++;
        sc.got = 0;
        bytes += e->len;
        err[0] = '\0';
        int prc = hkp_keys_parse(d + e->off, e->len, NULL, key_cb, &sc, err,
            sizeof(err));
        if (!sc.got && sc.rc == 0) {
            /* no key in the string at all */
            r->cnt.rejected++;
            note_reason(r, prc != 0 && err[0] != '\0' ? err
                : "no public key in the string");
            note_other(r, "it returned a key our parser refused: %s%s",
                r->cnt.first_reason, "");
        }
    }
    rc = sc.rc != 0 ? sc.rc : hkp_writer_step_commit(&f->w);
    for (size_t i = 0; i < sc.nkeys; i++) {
        hkp_key_free(sc.keys[i]);
        free(sc.keys[i]);
    }
    if (rc != 0) {
        /* the writer has dropped the batch (writer.h) */
        snprintf(msg, sizeof(msg), "storing: %s", hkp_strerror(rc));
        fetch_txn_lost(f, msg);
        fetch_batch_failed(f, r, "%s", msg);
        return f->sq_head != NULL;
    }
    f->txn_keys = hkp_writer_pending(&f->w).keys;
    if (r->next >= r->nent)
        reply_done(f, r);
    return f->sq_head != NULL;
}
