/*
 * POST /pks/add (doc/hkp.md 4.3, 5, 8, 10): accept keys, merge them into the
 * store with SKS semantics, report every key's fate.
 *
 * Flow:
 *   1. Event loop: method and size checks (413 when Content-Length exceeds
 *      hkp_add_max_body), then ngx_http_read_client_request_body(). The
 *      body may end up in memory buffers, in a temp file, or both.
 *   2. Event loop, body read: the body's pieces (memory pointers and temp
 *      file ranges) and a copy of the request's settings go into ONE
 *      thread-pool task; the request is held with r->main->blocked and
 *      r->aio (the pattern of ngx_http_copy_thread_handler; the request
 *      body read already holds a reference that the final
 *      ngx_http_finalize_request() drops).
 *   3. Pool thread (no nginx pools, no log; malloc only): join the body,
 *      extract keytext (urlencoded in any order, multipart, raw armored or
 *      binary; hkp_form_keytext), decode the material (every armor block),
 *      split and canonicalise the keys with the operator's limits
 *      (hkp_keys_parse), then the write txn (group commit,
 *      ngx_hkp_add_queue.c): the writer (writer.h) puts each key in a
 *      nested txn, so a key that fails (e.g. the merged result would
 *      exceed a limit) is rejected alone and leaves nothing behind, while
 *      the others commit. Waiting for LMDB's writer
 *      lock happens here, never on the event loop. Decoding and parsing
 *      also run here: a large body takes tens of milliseconds to parse and
 *      the event loop keeps answering lookups meanwhile.
 *   4. Event loop (task->event.handler): reply, finalize.
 *
 * Work bound (ngx_hkp_add.h): before the store, keys of the upload with
 * the same primary key are merged in memory (identical copies free, at
 * most NGX_HKP_ADD_MAX_FOLD others; the rest refused with a reason) and
 * at most NGX_HKP_ADD_MAX_STORE keys are stored; the store itself decodes
 * at most NGX_HKP_ADD_TOUCH_MAX bytes of stored keys per upload. So N
 * varied copies of a key whose stored form is 4 MB cost one decode, not N.
 *
 * Group commit: ngx_hkp_add_queue.c.
 *
 * Status: 200 when at least one key was stored or was already stored
 * (gpg treats anything else as failure, and "nothing new" is success);
 * 400 for a body with no usable key material (no keytext, bad armor, bad
 * CRC, truncated data, packet lengths past the end, private key blocks);
 * 422 when key material parsed but every key was rejected; 413 for a body
 * over hkp_add_max_body; 403 with "hkp_add off"; 503 when the database is
 * not available or not writable; 500 on database errors (nothing of the
 * failed transaction is stored). A packet over the packet limit refuses
 * its key alone ("... packet too large (N > M bytes)"); the rest of the
 * body is read on. A framing error (a length past the end) ends the
 * stream there: the key it is in is refused with the reason, the keys
 * before it are stored; when none of them is usable the whole upload is
 * refused (400).
 *
 * Reply body (200): an HTML page by default, one line per key in upload
 * order, then a summary ("Key block added to key server database." only
 * when something changed). With options=mr (query string or form field)
 * it is JSON (Content-Type application/json); the same object is sent
 * with 422:
 *
 *   {
 *     "inserted":  [ {"index": 0, "fingerprint": "<hex>", "hash": "<hex>"} ],
 *     "updated":   [ {"index": 1, "fingerprint": "<hex>", "hash": "<hex>",
 *                     "replaced": ["<old hash hex>", ...]} ],
 *     "unchanged": [ {"index": 2, "fingerprint": "<hex>", "hash": "<hex>"} ],
 *     "invalid":   [ {"index": 3, "reason": "<text>"
 *                     [, "fingerprint": "<hex>"]} ]
 *   }
 *
 * index: 0-based position of the key in the upload (all blocks in order).
 * fingerprint: primary key fingerprint, upper-case hex (32 hex digits for
 * v3 keys, where it is the MD5 fingerprint). hash: the SKS hash of the key
 * now stored (for updated keys the merged key), as op=hget takes it.
 * replaced: the hashes the stored key had before (usually one). invalid
 * carries a fingerprint when the key parsed but was refused at store time.
 * X-HKP-Results-Count is the number of keys found in the upload.
 */
#include "ngx_hkp_module.h"
#include "ngx_hkp_add.h"
#include "form.h"


static void ngx_hkp_add_body_handler(ngx_http_request_t *r);
static void ngx_hkp_add_thread(void *data, ngx_log_t *log);
static void ngx_hkp_add_event_handler(ngx_event_t *ev);
static ngx_int_t ngx_hkp_add_reply(ngx_http_request_t *r,
    ngx_hkp_add_task_t *t, ngx_uint_t mr);


ngx_int_t
ngx_hkp_add_handler(ngx_http_request_t *r)
{
    ngx_hkp_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    return ngx_hkp_post(r, lcf->add ? NULL : "This keyserver does not accept "
                                             "keys (read-only mirror)",
                        ngx_hkp_add_body_handler);
}


static void
ngx_hkp_add_cleanup(void *data)
{
    ngx_hkp_add_task_t *t = data;

    free(t->keys);
    t->keys = NULL;
}


static void
ngx_hkp_add_body_handler(ngx_http_request_t *r)
{
    ngx_hkp_add_run(r, NULL);
}


void
ngx_hkp_add_run(ngx_http_request_t *r, const ngx_hkp_add_hooks_t *hooks)
{
    ngx_int_t             rc;
    ngx_table_elt_t      *ct;
    ngx_pool_cleanup_t   *cln;
    ngx_thread_task_t    *task;
    ngx_hkp_add_task_t   *t;
    ngx_hkp_loc_conf_t   *lcf;
    MDB_txn              *txn;
    const char           *reason;

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    if (r->connection->error) {
        ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);
        return;
    }

    /* the database must be open, and writable, before a task is posted */
    if (!lcf->db->open) {
        if (ngx_hkp_db_begin(r, lcf->db, &txn) != NGX_OK) {
            ngx_http_finalize_request(r,
                ngx_hkp_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                              "Database not available"));
            return;
        }
        ngx_hkp_db_end(lcf->db);
    }

    if (lcf->db->rdonly || lcf->db->db.words == NULL) {
        ngx_http_finalize_request(r,
            ngx_hkp_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                          "Database is read-only for this server"));
        return;
    }

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_hkp_add_task_t));
    if (task == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    t = task->ctx;
    ngx_memzero(t, sizeof(ngx_hkp_add_task_t));
    t->hooks = hooks;
    t->db = &lcf->db->db;
    t->ndb = lcf->db;
    t->limits = lcf->limits;

    reason = NULL;
    rc = ngx_hkp_body_pieces(r, &t->body, &reason);
    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, ngx_hkp_error(r, rc, reason));
        return;
    }

    ct = r->headers_in.content_type;
    if (ct && ct->value.len) {
        t->ctype = ngx_pnalloc(r->pool, ct->value.len + 1);
        if (t->ctype == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
        ngx_memcpy(t->ctype, ct->value.data, ct->value.len);
        t->ctype[ct->value.len] = '\0';
        t->ctype_len = ct->value.len;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    cln->handler = ngx_hkp_add_cleanup;
    cln->data = t;

    task->handler = ngx_hkp_add_thread;
    task->event.data = r;
    task->event.handler = ngx_hkp_add_event_handler;

    if (ngx_thread_task_post(lcf->thread_pool, task) != NGX_OK) {
        /* the queue is full (logged by nginx) */
        ngx_http_finalize_request(r,
            ngx_hkp_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                          "Server busy, try again later"));
        return;
    }

    r->main->blocked++;
    r->aio = 1;
}


/* ------------------------------------------------------------------ */
/* The pool thread: no nginx pools, no log.                             */

void
ngx_hkp_add_msg(char *buf, const char *what, const char *reason)
{
    ngx_snprintf((u_char *) buf, NGX_HKP_ADD_REASON_LEN - 1, "%s%s%Z",
                 what, reason);
    buf[NGX_HKP_ADD_REASON_LEN - 1] = '\0';
}


void
ngx_hkp_add_fail(ngx_hkp_add_task_t *t, ngx_uint_t status, const char *what,
    const char *reason)
{
    t->status = status;
    ngx_hkp_add_msg(t->reason, what, reason);
}


static ngx_hkp_add_key_t *
ngx_hkp_add_slot(ngx_hkp_add_task_t *t)
{
    size_t              cap;
    ngx_hkp_add_key_t  *k;

    if (t->nkeys == t->cap) {
        cap = t->cap ? t->cap * 2 : 16;
        k = realloc(t->keys, cap * sizeof(ngx_hkp_add_key_t));
        if (k == NULL) {
            return NULL;
        }
        t->keys = k;
        t->cap = cap;
    }

    k = &t->keys[t->nkeys++];
    ngx_memzero(k, sizeof(ngx_hkp_add_key_t));

    return k;
}


void
ngx_hkp_add_reason(ngx_hkp_add_key_t *k, const char *reason)
{
    k->outcome = NGX_HKP_ADD_INVALID;
    ngx_cpystrn((u_char *) k->reason,
                (u_char *) (reason ? reason : "rejected"), sizeof(k->reason));
}


static int
ngx_hkp_add_key_cb(void *ctx, size_t index, hkp_key_t *key,
    const char *reason)
{
    ngx_hkp_add_task_t *t = ctx;

    ngx_hkp_add_key_t  *k;
    hkp_pubkey_t        pk;
    const char         *err;

    if (t->nkeys >= NGX_HKP_ADD_MAX_KEYS) {
        if (key) {
            hkp_key_free(key);
            free(key);
        }
        ngx_hkp_add_fail(t, NGX_HTTP_BAD_REQUEST,
                         "Too many keys in one upload", "");
        return 1;
    }

    k = ngx_hkp_add_slot(t);
    if (k == NULL) {
        if (key) {
            hkp_key_free(key);
            free(key);
        }
        ngx_hkp_add_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR,
                         "Out of memory", "");
        return 1;
    }

    k->index = index;

    if (key == NULL) {
        /* the reason may be thread-local storage: copied now */
        ngx_hkp_add_reason(k, reason);
        return 0;
    }

    k->key = key;
    ngx_memcpy(k->hash, key->hash, HKP_HASH_LEN);

    if (key->npkts > 0 && hkp_pubkey_parse(&key->pkts[0], &pk, &err) == 0
        && pk.fpr_len <= sizeof(k->fpr))
    {
        ngx_memcpy(k->fpr, pk.fpr, pk.fpr_len);
        k->fpr_len = pk.fpr_len;
    }

    return 0;
}


/* 1 when a key of the upload parsed (it goes on to the store) */
static ngx_uint_t
ngx_hkp_add_usable(ngx_hkp_add_task_t *t)
{
    size_t  i;

    for (i = 0; i < t->nkeys; i++) {
        if (t->keys[i].key) {
            return 1;
        }
    }

    return 0;
}


static void
ngx_hkp_add_free_keys(ngx_hkp_add_task_t *t)
{
    size_t  i;

    for (i = 0; i < t->nkeys; i++) {
        if (t->keys[i].key) {
            hkp_key_free(t->keys[i].key);
            free(t->keys[i].key);
            t->keys[i].key = NULL;
        }
    }
}


/*
 * The work bound of one upload, before the store (see the top of the
 * file): keys with the same primary key packet are merged here, in
 * memory, into the first of them, so the store decodes and merges the
 * stored key once per upload, not once per copy. Identical copies (same
 * hash) cost nothing; at most NGX_HKP_ADD_MAX_FOLD other copies of one key
 * are merged, the rest are refused. The folded copies get the outcome of
 * the key they were merged into. Then at most NGX_HKP_ADD_MAX_STORE keys
 * go to the store; the rest are refused.
 */
static int
ngx_hkp_add_primary_cmp(const void *a, const void *b)
{
    const ngx_hkp_add_key_t *ka = *(ngx_hkp_add_key_t * const *) a;
    const ngx_hkp_add_key_t *kb = *(ngx_hkp_add_key_t * const *) b;

    int  r;

    r = hkp_pkt_cmp(&ka->key->pkts[0], &kb->key->pkts[0]);
    if (r) {
        return r;
    }

    /* the first in the upload first */
    return (ka->index > kb->index) - (ka->index < kb->index);
}


static void
ngx_hkp_add_drop(ngx_hkp_add_key_t *k, const char *reason)
{
    hkp_key_free(k->key);
    free(k->key);
    k->key = NULL;

    if (reason) {
        ngx_hkp_add_reason(k, reason);
    }
}


static ngx_int_t
ngx_hkp_add_fold(ngx_hkp_add_task_t *t)
{
    size_t               i, n, run, merged, nstore;
    hkp_key_t           *out;
    ngx_hkp_add_key_t  **v, *rep, *k;
    char                 why[HKP_REASON_LEN];

    n = 0;
    for (i = 0; i < t->nkeys; i++) {
        if (t->keys[i].key) {
            n++;
        }
    }

    if (n < 2) {
        return NGX_OK;
    }

    v = malloc(n * sizeof(ngx_hkp_add_key_t *));
    if (v == NULL) {
        return NGX_ERROR;
    }

    n = 0;
    for (i = 0; i < t->nkeys; i++) {
        if (t->keys[i].key) {
            v[n++] = &t->keys[i];
        }
    }

    qsort(v, n, sizeof(ngx_hkp_add_key_t *), ngx_hkp_add_primary_cmp);

    for (run = 0; run < n; /* void */) {
        rep = v[run];
        merged = 0;

        for (i = run + 1;
             i < n && hkp_pkt_eq(&v[i]->key->pkts[0], &rep->key->pkts[0]);
             i++)
        {
            k = v[i];
            k->fold = (size_t) (rep - t->keys) + 1;

            if (ngx_memcmp(k->key->hash, rep->key->hash, HKP_HASH_LEN) == 0) {
                /* identical: nothing to do */
                ngx_hkp_add_drop(k, NULL);
                continue;
            }

            if (merged == NGX_HKP_ADD_MAX_FOLD) {
                k->fold = 0;
                ngx_snprintf((u_char *) why, sizeof(why) - 1,
                             "more than %d different copies of one key in "
                             "one upload: send the rest in another upload%Z",
                             NGX_HKP_ADD_MAX_FOLD);
                ngx_hkp_add_drop(k, why);
                continue;
            }

            merged++;

            out = malloc(sizeof(hkp_key_t));
            if (out == NULL
                || hkp_key_merge(rep->key, k->key, &t->limits, out, why,
                                 sizeof(why))
                   != 0)
            {
                free(out);
                k->fold = 0;
                ngx_hkp_add_drop(k, out ? why : "out of memory");
                continue;
            }

            hkp_key_free(rep->key);
            free(rep->key);
            rep->key = out;
            ngx_hkp_add_drop(k, NULL);
        }

        run = i;
    }

    free(v);

    /* the store's share of the bound: keys in upload order */
    nstore = 0;
    for (i = 0; i < t->nkeys; i++) {
        k = &t->keys[i];
        if (k->key == NULL) {
            continue;
        }

        if (nstore == NGX_HKP_ADD_MAX_STORE) {
            ngx_snprintf((u_char *) why, sizeof(why) - 1,
                         "more than %d keys to store in one upload: send "
                         "the rest in another upload%Z",
                         NGX_HKP_ADD_MAX_STORE);
            ngx_hkp_add_drop(k, why);
            continue;
        }

        nstore++;
    }

    return NGX_OK;
}


/* the copies folded into another key get its outcome */
static void
ngx_hkp_add_unfold(ngx_hkp_add_task_t *t)
{
    size_t              i;
    ngx_hkp_add_key_t  *k, *rep;

    for (i = 0; i < t->nkeys; i++) {
        k = &t->keys[i];
        if (k->fold == 0) {
            continue;
        }

        rep = &t->keys[k->fold - 1];
        k->outcome = rep->outcome;
        ngx_memcpy(k->hash, rep->hash, HKP_HASH_LEN);
        k->nremoved = rep->nremoved;
        ngx_memcpy(k->removed, rep->removed, sizeof(k->removed));
        ngx_memcpy(k->reason, rep->reason, sizeof(k->reason));
    }
}


static void
ngx_hkp_add_thread(void *data, ngx_log_t *log)
{
    ngx_hkp_add_task_t *t = data;

    u_char       *body, *text, *bin;
    size_t        i, textlen, binlen;
    const char   *err;
    char          why[HKP_REASON_LEN];

    body = NULL;
    text = NULL;
    bin = NULL;

    /* 1. the body in one piece */
    err = NULL;
    body = ngx_hkp_body_join(&t->body, &err);
    if (body == NULL) {
        ngx_hkp_add_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR, err, "");
        goto done;
    }

    /* 2. the key material */
    t->mr = hkp_form_options_mr(body, t->body.len, (const char *) t->ctype,
                                t->ctype_len) ? 1 : 0;

    err = NULL;
    /* v2vks hook: an endpoint's own key text extraction */
    if ((t->hooks && t->hooks->keytext)
        ? t->hooks->keytext(body, t->body.len, &text, &textlen, &err) != 0
        : hkp_form_keytext(body, t->body.len, (const char *) t->ctype,
                           t->ctype_len, &text, &textlen, &err)
          != 0)
    {
        ngx_hkp_add_fail(t, NGX_HTTP_BAD_REQUEST, "Malformed request: ",
                         err ? err : "no key material");
        goto done;
    }

    free(body);
    body = NULL;

    err = NULL;
    if (hkp_material_decode(text, textlen, &bin, &binlen, &err) != 0) {
        ngx_hkp_add_fail(t, NGX_HTTP_BAD_REQUEST, "Malformed key material: ",
                         err ? err : "cannot decode");
        goto done;
    }

    free(text);
    text = NULL;

    /*
     * 3. keys, with the operator's limits. An oversized packet refuses
     * only its key. A framing error (a length past the end) ends the
     * stream and refuses the key it is in; the keys before it are stored
     * when at least one of them is usable, else the body is malformed
     * (400).
     */
    if (hkp_keys_parse(bin, binlen, &t->limits, ngx_hkp_add_key_cb, t,
                       why, sizeof(why))
        != 0
        && t->status == 0 && !ngx_hkp_add_usable(t))
    {
        ngx_hkp_add_fail(t, NGX_HTTP_BAD_REQUEST, "Malformed key material: ",
                         why);
        goto done;
    }

    if (t->status) {
        goto done;
    }

    if (t->nkeys == 0) {
        ngx_hkp_add_fail(t, NGX_HTTP_BAD_REQUEST,
                         "No key found in the key material", "");
        goto done;
    }

    free(bin);
    bin = NULL;

    /* 4. the work bound: copies of one key merged, at most so many keys */
    if (ngx_hkp_add_fold(t) != NGX_OK) {
        ngx_hkp_add_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR, "Out of memory",
                         "");
        goto done;
    }

    /* 5. store (unless every key was refused already) */
    t->nstore = 0;
    for (i = 0; i < t->nkeys; i++) {
        if (t->keys[i].key) {
            t->nstore++;
        }
    }

    if (t->nstore) {
        ngx_hkp_add_commit(t);
    }

    ngx_hkp_add_unfold(t);

done:

    ngx_hkp_add_free_keys(t);

    if (t->status == 0) {
        for (i = 0; i < t->nkeys; i++) {
            t->count[t->keys[i].outcome]++;
        }

        if (t->count[NGX_HKP_ADD_NEW] + t->count[NGX_HKP_ADD_MERGED]
            + t->count[NGX_HKP_ADD_UNCHANGED] == 0)
        {
            t->status = 422;
            ngx_snprintf((u_char *) t->reason, sizeof(t->reason) - 1,
                         "No key was accepted: key %uz: %s%Z",
                         t->keys[0].index, t->keys[0].reason);
            t->reason[sizeof(t->reason) - 1] = '\0';
        }
    }

    free(body);
    free(text);
    free(bin);
}


/* ------------------------------------------------------------------ */
/* Back in the event loop.                                              */

static void
ngx_hkp_add_event_handler(ngx_event_t *ev)
{
    ngx_int_t            rc;
    ngx_hkp_args_t       args;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_thread_task_t   *task;
    ngx_hkp_add_task_t  *t;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;
    r->aio = 0;

    /* the task is the event's container */
    task = (ngx_thread_task_t *) ((u_char *) ev
                                  - offsetof(ngx_thread_task_t, event));
    t = task->ctx;

    if (t->status >= NGX_HTTP_INTERNAL_SERVER_ERROR
        || t->status == NGX_HTTP_SERVICE_UNAVAILABLE)
    {
        ngx_log_error(NGX_LOG_ERR, c->log, 0, "hkp: /pks/add: %s",
                      t->reason);
    }

    if (c->error || r->done) {
        ngx_http_finalize_request(r, NGX_ERROR);
        ngx_http_run_posted_requests(c);
        return;
    }

    ngx_memzero(&args, sizeof(args));
    if (r->args.len) {
        (void) ngx_hkp_args_parse(r, &r->args, &args);
    }

    /* v2vks hook: the other upload endpoints' replies */
    if (t->hooks && t->hooks->reply) {
        rc = t->hooks->reply(r, t);
    } else {
        rc = ngx_hkp_add_reply(r, t, args.mr || t->mr);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_hkp_add_hex(ngx_hkp_out_t *o, const uint8_t *p, size_t n)
{
    u_char  *d;
    size_t   i;
    static u_char hex[] = "0123456789ABCDEF";

    d = ngx_hkp_out_reserve(o, 2 * n);
    if (d == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        *d++ = hex[p[i] >> 4];
        *d++ = hex[p[i] & 0xf];
    }

    ngx_hkp_out_commit(o, d);
}


static void
ngx_hkp_add_json(ngx_hkp_out_t *o, ngx_hkp_add_task_t *t)
{
    size_t              i, j;
    ngx_uint_t          outcome, first;
    ngx_hkp_add_key_t  *k;
    static const char  *names[] = {
        "inserted", "updated", "unchanged", "invalid"
    };

    ngx_hkp_out_str(o, "{");

    for (outcome = 0; outcome < 4; outcome++) {
        ngx_hkp_out_printf(o, "%s\"%s\":[", outcome ? "," : "",
                           names[outcome]);
        first = 1;

        for (i = 0; i < t->nkeys; i++) {
            k = &t->keys[i];
            if (k->outcome != outcome) {
                continue;
            }

            ngx_hkp_out_printf(o, "%s{\"index\":%uz", first ? "" : ",",
                               k->index);
            first = 0;

            if (k->fpr_len) {
                ngx_hkp_out_str(o, ",\"fingerprint\":\"");
                ngx_hkp_add_hex(o, k->fpr, k->fpr_len);
                ngx_hkp_out_str(o, "\"");
            }

            if (outcome == NGX_HKP_ADD_INVALID) {
                ngx_hkp_out_str(o, ",\"reason\":");
                ngx_hkp_out_json_str(o, (u_char *) k->reason,
                                     ngx_strlen(k->reason));

            } else {
                ngx_hkp_out_str(o, ",\"hash\":\"");
                ngx_hkp_add_hex(o, k->hash, HKP_HASH_LEN);
                ngx_hkp_out_str(o, "\"");
            }

            if (outcome == NGX_HKP_ADD_MERGED) {
                ngx_hkp_out_str(o, ",\"replaced\":[");
                for (j = 0; j < k->nremoved; j++) {
                    if (j) {
                        ngx_hkp_out_str(o, ",");
                    }
                    ngx_hkp_out_str(o, "\"");
                    ngx_hkp_add_hex(o, k->removed[j], HKP_HASH_LEN);
                    ngx_hkp_out_str(o, "\"");
                }
                ngx_hkp_out_str(o, "]");
            }

            ngx_hkp_out_str(o, "}");
        }

        ngx_hkp_out_str(o, "]");
    }

    ngx_hkp_out_str(o, "}\n");
}


static void
ngx_hkp_add_html(ngx_hkp_out_t *o, ngx_hkp_add_task_t *t)
{
    size_t              i, changed;
    ngx_hkp_add_key_t  *k;
    static u_char       title[] = "Key upload";

    ngx_hkp_out_html_head(o, title, sizeof(title) - 1);
    ngx_hkp_out_str(o, "<p>\n");

    for (i = 0; i < t->nkeys; i++) {
        k = &t->keys[i];

        ngx_hkp_out_printf(o, "Key %uz", k->index + 1);
        if (k->fpr_len) {
            ngx_hkp_out_str(o, " (");
            ngx_hkp_add_hex(o, k->fpr, k->fpr_len);
            ngx_hkp_out_str(o, ")");
        }

        switch (k->outcome) {

        case NGX_HKP_ADD_NEW:
            ngx_hkp_out_str(o, ": added as a new key, hash ");
            ngx_hkp_add_hex(o, k->hash, HKP_HASH_LEN);
            break;

        case NGX_HKP_ADD_MERGED:
            ngx_hkp_out_str(o, ": merged into the stored key, hash ");
            ngx_hkp_add_hex(o, k->hash, HKP_HASH_LEN);
            if (k->nremoved) {
                ngx_hkp_out_str(o, " (was ");
                ngx_hkp_add_hex(o, k->removed[0], HKP_HASH_LEN);
                ngx_hkp_out_str(o, ")");
            }
            break;

        case NGX_HKP_ADD_UNCHANGED:
            ngx_hkp_out_str(o, ": already stored, nothing new, hash ");
            ngx_hkp_add_hex(o, k->hash, HKP_HASH_LEN);
            break;

        default:
            ngx_hkp_out_str(o, ": Add failed: ");
            ngx_hkp_out_html(o, (u_char *) k->reason, ngx_strlen(k->reason));
        }

        ngx_hkp_out_str(o, "<br>\n");
    }

    ngx_hkp_out_str(o, "</p>\n<p>");

    changed = t->count[NGX_HKP_ADD_NEW] + t->count[NGX_HKP_ADD_MERGED];
    if (changed) {
        ngx_hkp_out_str(o, "Key block added to key server database.<br>\n");
    } else {
        ngx_hkp_out_str(o, "Nothing new: the key server database already "
                           "had all of it.<br>\n");
    }

    ngx_hkp_out_printf(o, "%uz new, %uz updated, %uz unchanged, "
                       "%uz failed.</p>\n",
                       t->count[NGX_HKP_ADD_NEW],
                       t->count[NGX_HKP_ADD_MERGED],
                       t->count[NGX_HKP_ADD_UNCHANGED],
                       t->count[NGX_HKP_ADD_INVALID]);

    ngx_hkp_out_html_tail(o);
}


static ngx_int_t
ngx_hkp_add_reply(ngx_http_request_t *r, ngx_hkp_add_task_t *t, ngx_uint_t mr)
{
    ngx_hkp_out_t  o;

    if (t->status == 0 || t->status == 422) {
        /* the keys had their outcomes */
        ngx_hkp_metrics_uploads(t->count);
    }

    if (t->status != 0 && !(t->status == 422 && mr)) {
        return ngx_hkp_error(r, t->status, t->reason);
    }

    ngx_hkp_out_init(&o, r->pool);

    if (mr) {
        ngx_hkp_add_json(&o, t);
        return ngx_hkp_send_out(r, t->status ? t->status : NGX_HTTP_OK,
                                NGX_HKP_CT_JSON, &o, (ngx_int_t) t->nkeys, 0);
    }

    ngx_hkp_add_html(&o, t);

    return ngx_hkp_send_out(r, NGX_HTTP_OK, NGX_HKP_CT_HTML, &o,
                            (ngx_int_t) t->nkeys, 0);
}
