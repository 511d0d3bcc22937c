/*
 * One recon session: the reconciliation itself (session_recon.h), both
 * roles: the requester's walk of the prefix tree (doc/recon.md 3.5) and the
 * responder's answers (3.6), with the tree lookups and the sets of hashes
 * found missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lnode.h"
#include "poly.h"
#include "ptree.h"
#include "session.h"
#include "session_recon.h"

/* ------------------------------------------------------------ helpers */

static int
hcmp(const void *a, const void *b)
{
    return memcmp(a, b, HKP_HASH_LEN);
}

size_t
hashes_sort_unique(hkp_hash_t *h, size_t n)
{
    size_t o = 0;
    if (n == 0)
        return 0;
    qsort(h, n, HKP_HASH_LEN, hcmp);
    for (size_t i = 1; i < n; i++) {
        if (memcmp(h[i], h[o], HKP_HASH_LEN) != 0) {
            o++;
            if (o != i)
                memcpy(h[o], h[i], HKP_HASH_LEN);
        }
    }
    return o + 1;
}

int
hashes_diff(const hkp_hash_t *a, size_t na, const hkp_hash_t *b,
    size_t nb, hkp_hash_t **out, size_t *nout)
{
    size_t i = 0, j = 0, o = 0;
    *out = NULL;
    *nout = 0;
    if (na == 0)
        return 0;
    if ((*out = malloc(na * HKP_HASH_LEN)) == NULL)
        return -1;
    while (i < na) {
        int c = j < nb ? memcmp(a[i], b[j], HKP_HASH_LEN) : -1;
        if (c < 0)
            memcpy((*out)[o++], a[i++], HKP_HASH_LEN);
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

void
sess_queue_free(sess_queue_t *q)
{
    free(q->v);
    memset(q, 0, sizeof(*q));
}

size_t
sess_max_elements(const session_t *s)
{
    size_t m = s->ctx->max_elements;
    return m == 0 ? RECON_MAX_ELEMENTS_DEFAULT
        : m > RECON_MAX_ELEMENTS_CEIL ? RECON_MAX_ELEMENTS_CEIL : m;
}

static int
add_missing(session_t *s, const hkp_hash_t *h, size_t n)
{
    size_t max = sess_max_elements(s);
    if (n == 0)
        return 0;
    if (n > max - s->nmissing) {
        size_t room = max - s->nmissing;
        if (room > 0)
            add_missing(s, h, room);
        sess_finish(s, 0, 1, "stopped: more than %zu differences (fetching "
            "those found; --max-elements)", max);
        return -1;
    }
    if (s->nmissing + n > s->capmissing) {
        size_t nc = s->capmissing ? s->capmissing : 256;
        while (nc < s->nmissing + n)
            nc *= 2;
        if (nc > max)
            nc = max;
        hkp_hash_t *m = realloc(s->missing, nc * HKP_HASH_LEN);
        if (m == NULL) {
            sess_finish(s, 0, 1, "out of memory");
            return -1;
        }
        s->missing = m;
        s->capmissing = nc;
    }
    memcpy(s->missing[s->nmissing], h, n * HKP_HASH_LEN);
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
            sess_finish(s, 0, 1, "database error: %s", mdb_strerror(rc));
            return NULL;
        }
    }
    return s->txn;
}

void
sess_txn_end(session_t *s)
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
    if (lnode_get(txn, s->ctx->db->prof[s->prof].tree, prefix, nbits, want, n, &err) != 0) {
        sess_finish(s, 0, 0, "local tree lookup failed: %s", err);
        return -1;
    }
    return 0;
}

/* Sends the peer the hashes it lacks (Elements) and records the ones we
 * lack; frees both sets. */
static int
exchange(session_t *s, hkp_hash_t *mine, size_t nmine,
    hkp_hash_t *theirs, size_t ntheirs)
{
    int rc = recon_enc_set(&s->out, RECON_MSG_ELEMENTS,
        (const hkp_hash_t *) mine, nmine);
    s->nsent += nmine;
    free(mine);
    if (rc != 0) {
        free(theirs);
        return sess_out_fail(s);
    }
    rc = add_missing(s, (const hkp_hash_t *) theirs, ntheirs);
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
    hkp_hash_t *mine = NULL, *theirs = NULL;
    size_t nmine, ntheirs;

    if (node_get(s, prefix, nbits, LNODE_ELEMS_ALWAYS, &ln) != 0)
        return -1;
    m->nset = hashes_sort_unique(m->set, m->nset);
    if (hashes_diff((const hkp_hash_t *) ln.elems, ln.nelems,
            (const hkp_hash_t *) m->set, m->nset, &mine, &nmine) != 0
        || hashes_diff((const hkp_hash_t *) m->set, m->nset,
            (const hkp_hash_t *) ln.elems, ln.nelems, &theirs,
            &ntheirs) != 0)
    {
        lnode_free(&ln);
        free(mine);
        return sess_out_fail(s);
    }
    lnode_free(&ln);
    return exchange(s, mine, nmine, theirs, ntheirs);
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
            (const hkp_hash_t *) ln.elems, ln.nelems) != 0)
        {
            lnode_free(&ln);
            return sess_out_fail(s);
        }
    } else {
        n->kind = RECON_MSG_POLY;
        if (recon_enc_poly(&s->out, n->prefix, n->nbits, ln.count,
            (const uint8_t (*)[HKP_ELEM_LEN]) ln.sv) != 0)
        {
            lnode_free(&ln);
            return sess_out_fail(s);
        }
    }
    lnode_free(&ln);
    s->nrequests++;
    return q_push(&s->pend, n) == 0 ? 0 : sess_out_fail(s);
}

/* Sends the next batch (up to RECON_BATCH requests, then Flush), or Done
 * when the walk is over. */
static int
send_batch(session_t *s)
{
    if (s->rq.len == 0) {
        if (recon_enc_empty(&s->out, RECON_MSG_DONE) != 0)
            return sess_out_fail(s);
        s->state = SESS_CLOSING;
        s->ok = 1;
        return 0;
    }
    for (int i = 0; i < RECON_BATCH && s->rq.len > 0; i++) {
        sess_node_t n = q_pop(&s->rq);
        if (s->nrequests >= RECON_MAX_REQUESTS) {
            sess_finish(s, 0, 1, "stopped: more than %u requests", RECON_MAX_REQUESTS);
            return -1;
        }
        if (send_request(s, &n) != 0)
            return -1;
    }
    if (recon_enc_empty(&s->out, RECON_MSG_FLUSH) != 0)
        return sess_out_fail(s);
    return 0;
}

static int
on_reply(session_t *s, recon_msg_t *m)
{
    sess_node_t n;
    if (s->pend.len == 0) {
        sess_hostile(s, "reply without a request (type %d)", m->type);
        return -1;
    }
    n = q_pop(&s->pend);
    switch (m->type) {
    case RECON_MSG_SYNCFAIL:
        if (n.kind != RECON_MSG_POLY || n.nbits + HKP_RECON_BITQUANTUM > 128) {
            sess_hostile(s, "SyncFail for a node we sent in full");
            return -1;
        }
        for (unsigned c = 0; c < HKP_RECON_CHILDREN; c++) {
            sess_node_t ch;
            memset(&ch, 0, sizeof(ch));
            hkp_ptree_child_prefix(n.prefix, n.nbits, c, ch.prefix);
            ch.nbits = (uint8_t) (n.nbits + HKP_RECON_BITQUANTUM);
            if (q_push(&s->rq, &ch) != 0)
                return sess_out_fail(s);
        }
        return 0;
    case RECON_MSG_ELEMENTS:
        m->nset = hashes_sort_unique(m->set, m->nset);
        return add_missing(s, (const hkp_hash_t *) m->set, m->nset);
    case RECON_MSG_FULLELEMENTS:
        if (n.kind != RECON_MSG_POLY) {
            sess_hostile(s, "FullElements in reply to ReconRqst_Full");
            return -1;
        }
        return exchange_full(s, n.prefix, n.nbits, m);
    case RECON_MSG_ERROR:
        sess_finish(s, 0, 0, "peer sent Error: %.200s", m->text);
        return -1;
    default:
        sess_hostile(s, "unexpected message type %d from the responder", m->type);
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
        hkp_hash_t *remote_only = NULL, *local_only = NULL;
        size_t nr = 0, nl = 0;
        int rc;
        if (m->nbits % HKP_RECON_BITQUANTUM != 0) {
            sess_hostile(s, "prefix of %u bits", m->nbits);
            return -1;
        }
        if (node_get(s, m->prefix, m->nbits, LNODE_ELEMS_SMALL, &ln) != 0)
            return -1;
        rc = hkp_recon_solve((const uint8_t (*)[HKP_ELEM_LEN]) m->sv, m->size,
            (const uint8_t (*)[HKP_ELEM_LEN]) ln.sv, ln.count,
            &remote_only, &nr, &local_only, &nl);
        if (rc < 0) {
            lnode_free(&ln);
            sess_hostile(s, "bad ReconRqst_Poly");
            return -1;
        }
        if (rc == 0) {
            lnode_free(&ln);
            return exchange(s, local_only, nl, remote_only, nr);
        }
        if (ln.leaf || ln.count < HKP_RECON_FULL_BELOW)
            rc = recon_enc_set(&s->out, RECON_MSG_FULLELEMENTS,
                (const hkp_hash_t *) ln.elems, ln.nelems);
        else
            rc = recon_enc_empty(&s->out, RECON_MSG_SYNCFAIL);
        lnode_free(&ln);
        return rc == 0 ? 0 : sess_out_fail(s);
    }
    case RECON_MSG_FULL:
        if (m->nbits % HKP_RECON_BITQUANTUM != 0) {
            sess_hostile(s, "prefix of %u bits", m->nbits);
            return -1;
        }
        return exchange_full(s, m->prefix, m->nbits, m);
    case RECON_MSG_ELEMENTS:
        m->nset = hashes_sort_unique(m->set, m->nset);
        return add_missing(s, (const hkp_hash_t *) m->set, m->nset);
    case RECON_MSG_FLUSH:
        return 0;              /* we write as we go */
    case RECON_MSG_DONE:
        s->state = SESS_CLOSING;
        s->ok = 1;
        return 0;
    default:
        sess_hostile(s, "unexpected message type %d from the requester", m->type);
        return -1;
    }
}

/* ------------------------------------------------------------ entry */

int
sess_recon_start(session_t *s)
{
    sess_node_t root;
    if (s->role != SESS_ACCEPTOR)
        return 0;
    memset(&root, 0, sizeof(root));
    if (q_push(&s->rq, &root) != 0)
        return sess_out_fail(s);
    return send_batch(s);
}

int
sess_recon_elements_begin(session_t *s)
{
    if (s->role != SESS_ACCEPTOR)
        return 0;               /* the requester tells us what we lack */
    if (s->pend.len == 0) {
        sess_hostile(s, "reply without a request (type %d)",
            RECON_MSG_ELEMENTS);
        return -1;
    }
    (void) q_pop(&s->pend);
    return 0;
}

int
sess_recon_elements_add(session_t *s, const hkp_hash_t *h, size_t n)
{
    return add_missing(s, h, n);
}

int
sess_recon_elements_end(session_t *s)
{
    if (s->role == SESS_ACCEPTOR && s->state == SESS_RUN && s->pend.len == 0)
        return send_batch(s);
    return 0;
}

int
sess_recon_message(session_t *s, recon_msg_t *m)
{
    int rc;
    if (s->role != SESS_ACCEPTOR)
        return on_request(s, m);
    rc = on_reply(s, m);
    if (rc == 0 && s->state == SESS_RUN && s->pend.len == 0)
        rc = send_batch(s);
    return rc;
}
