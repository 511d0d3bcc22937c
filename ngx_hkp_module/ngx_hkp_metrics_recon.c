/*
 * /metrics, reconsvc's part: read from the peers' status records
 * (shared/peer.h, meta "recon:<host> <port>", a fixed binary record that
 * reconsvc writes when a session and its fetches are over, and every few
 * seconds during a long fetch), in the caller's read txn:
 *
 *   hkp_recon_sessions_total{peer,outcome}        counter: ok, failed
 *   hkp_recon_keys_fetched_total{peer}            counter
 *   hkp_recon_last_session_timestamp_seconds{peer}  gauge
 *   hkp_recon_last_success_timestamp_seconds{peer}  gauge (when there was one)
 *   hkp_recon_fetch_queue_hashes                  gauge: hashes still to ask,
 *       from the newest record: 0 unless a fetch was in progress then
 *
 * peer is the record's name ("host port", as in the membership file), its
 * bytes outside printable ASCII shown as '?'. Records of version 1 (no
 * counters) give only the timestamp. At most NGX_HKP_METRICS_PEERS_MAX
 * records are read.
 */
#include "ngx_hkp_module.h"
#include "peer.h"


#define NGX_HKP_METRICS_PEERS_MAX  1000


typedef struct {
    ngx_str_t    name;        /* label value, escaped */
    hkp_peer_t   rec;
} ngx_hkp_metrics_peer_t;


typedef struct {
    ngx_pool_t   *pool;
    ngx_array_t   peers;      /* of ngx_hkp_metrics_peer_t */
    ngx_uint_t    failed;
} ngx_hkp_metrics_walk_t;


/* The label value of name[0..len): \ and " escaped, other bytes outside
 * printable ASCII as '?'. */
static ngx_int_t
ngx_hkp_metrics_label(ngx_pool_t *pool, const char *name, size_t len,
    ngx_str_t *out)
{
    u_char  *p;
    size_t   i;

    p = ngx_pnalloc(pool, 2 * len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    for (i = 0; i < len; i++) {
        u_char  c = (u_char) name[i];

        if (c == '\\' || c == '"') {
            *p++ = '\\';
            *p++ = c;
        } else if (c < 0x20 || c >= 0x7f) {
            *p++ = '?';
        } else {
            *p++ = c;
        }
    }

    out->len = p - out->data;
    return NGX_OK;
}


static int
ngx_hkp_metrics_peer(void *arg, const char *name, size_t len,
    const hkp_peer_t *p)
{
    ngx_hkp_metrics_walk_t  *w = arg;
    ngx_hkp_metrics_peer_t  *mp;

    if (p == NULL) {
        return 0;                       /* not a record: left out */
    }

    if (w->peers.nelts >= NGX_HKP_METRICS_PEERS_MAX) {
        return 1;
    }

    mp = ngx_array_push(&w->peers);
    if (mp == NULL
        || ngx_hkp_metrics_label(w->pool, name, len, &mp->name) != NGX_OK)
    {
        w->failed = 1;
        return 1;
    }

    mp->rec = *p;
    return 0;
}


static void
ngx_hkp_metrics_recon_family(ngx_hkp_out_t *o, const char *name,
    const char *type, const char *help)
{
    ngx_hkp_out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                       type);
}


void
ngx_hkp_metrics_recon(ngx_http_request_t *r, ngx_hkp_out_t *o, hkp_db_t *db,
    MDB_txn *txn)
{
    ngx_uint_t               i, newest;
    ngx_hkp_metrics_peer_t  *mp;
    ngx_hkp_metrics_walk_t   w;

    w.pool = r->pool;
    w.failed = 0;

    if (ngx_array_init(&w.peers, r->pool, 8, sizeof(ngx_hkp_metrics_peer_t))
        != NGX_OK)
    {
        o->failed = 1;
        return;
    }

    if (hkp_db_peer_each(db, txn, ngx_hkp_metrics_peer, &w) != 0
        && w.failed)
    {
        o->failed = 1;
        return;
    }

    mp = w.peers.elts;

    ngx_hkp_metrics_recon_family(o, "hkp_recon_sessions_total", "counter",
        "Recon sessions with a peer, by outcome (with their fetches).");
    for (i = 0; i < w.peers.nelts; i++) {
        if (!(mp[i].rec.flags & HKP_PEER_HAS_COUNTS)) {
            continue;
        }
        ngx_hkp_out_printf(o, "hkp_recon_sessions_total{peer=\"%V\","
                           "outcome=\"ok\"} %uL\n", &mp[i].name,
                           mp[i].rec.sessions_ok);
        ngx_hkp_out_printf(o, "hkp_recon_sessions_total{peer=\"%V\","
                           "outcome=\"failed\"} %uL\n", &mp[i].name,
                           mp[i].rec.sessions_failed);
    }

    ngx_hkp_metrics_recon_family(o, "hkp_recon_keys_fetched_total",
        "counter", "Keys fetched from a peer and stored.");
    for (i = 0; i < w.peers.nelts; i++) {
        if (mp[i].rec.flags & HKP_PEER_HAS_COUNTS) {
            ngx_hkp_out_printf(o, "hkp_recon_keys_fetched_total{peer=\"%V\"}"
                               " %uL\n", &mp[i].name,
                               mp[i].rec.fetched_total);
        }
    }

    ngx_hkp_metrics_recon_family(o,
        "hkp_recon_last_session_timestamp_seconds", "gauge",
        "Unix time the last session with a peer ended (or its fetch last "
        "reported progress).");
    for (i = 0; i < w.peers.nelts; i++) {
        ngx_hkp_out_printf(o, "hkp_recon_last_session_timestamp_seconds"
                           "{peer=\"%V\"} %uL\n", &mp[i].name,
                           mp[i].rec.time);
    }

    ngx_hkp_metrics_recon_family(o,
        "hkp_recon_last_success_timestamp_seconds", "gauge",
        "Unix time the last good session with a peer ended.");
    for (i = 0; i < w.peers.nelts; i++) {
        if ((mp[i].rec.flags & HKP_PEER_HAS_COUNTS) && mp[i].rec.last_ok) {
            ngx_hkp_out_printf(o, "hkp_recon_last_success_timestamp_seconds"
                               "{peer=\"%V\"} %uL\n", &mp[i].name,
                               mp[i].rec.last_ok);
        }
    }

    /* the queue as the newest record saw it */
    newest = w.peers.nelts;
    for (i = 0; i < w.peers.nelts; i++) {
        if (newest == w.peers.nelts || mp[i].rec.time > mp[newest].rec.time) {
            newest = i;
        }
    }

    ngx_hkp_metrics_recon_family(o, "hkp_recon_fetch_queue_hashes", "gauge",
        "Hashes reconsvc still had to ask its peers for, as of its newest "
        "status record.");
    ngx_hkp_out_printf(o, "hkp_recon_fetch_queue_hashes %uL\n",
                       newest < w.peers.nelts
                       && (mp[newest].rec.flags & HKP_PEER_HAS_FETCH)
                       ? mp[newest].rec.fetch_queue : (uint64_t) 0);
}
