/*
 * op=stats / op=x-stats / /pks/stats (doc/hkp.md 3.6 [R]): what the page
 * shows, gathered per request; ngx_hkp_stats_out.c renders it.
 *
 * HTML (default): SKS's section headings and rows (Settings, Gossip
 * Peers, Outgoing Mailsync Peers, Statistics with "Total number of keys:
 * N", Daily/Hourly Histogram tables) so old scrapers keep working; the key
 * count is live (meta "count"), not a daily snapshot.
 * JSON (options=mr or options=json): Hockeypuck's field names.
 *
 * Gossip peers: the membership file of hkp_membership (SKS format, the
 * file reconsvc reads, parsed by the same shared/membership.c), read on
 * each stats request (a small file, capped; missing = no peers), and per
 * peer the status record of its last reconciliation that reconsvc stored
 * (shared/peer.h). A stored value that is not a valid record shows as
 * "never"; its strings are bytes, cleaned here. Records whose peer is no
 * longer in the file are not shown.
 *
 * Self-signature records: the stored keys without one (keys less
 * records), and, while an import's records wait for reconsvc run's
 * background fill, the fill mark's progress (shared/store.h).
 *
 * Histograms: hkp_db_put() counts, per UTC hour, the keys it stored new
 * and the keys it updated by a merge in meta "hist:<hour>" (store.h); one
 * cursor scan in the stats read txn reads the last 7 days. The Daily
 * Histogram shows today and the 6 days before (UTC, today so far), the
 * Hourly Histogram the current hour and the 23 before, both newest first
 * and with every day/hour in that range, zeros included (a fixed number
 * of rows: a quiet hour is a fact, not a gap). JSON "daily"/"hourly" hold
 * the same rows, newest first, as Hockeypuck's {"Time" (the start of the
 * day/hour, RFC 3339 UTC), "Inserted", "Updated", "Removed"}; keys are
 * never removed here, so "Removed" is always 0.
 */
#include "ngx_hkp_stats.h"


/* ---- untrusted text ---- */

/*
 * Copies p[0..n) replacing every byte that is not part of a well-formed
 * UTF-8 sequence (RFC 3629: no overlongs, surrogates or values past
 * U+10FFFF), and every control character, with '?'. dst has n bytes.
 */
static size_t
ngx_hkp_stats_clean_utf8(u_char *dst, const u_char *p, size_t n)
{
    u_char        *d;
    uint32_t       c, min;
    ngx_uint_t     i, len;
    const u_char  *end;

    d = dst;
    end = p + n;

    while (p < end) {
        c = *p;

        if (c < 0x80) {
            *d++ = (c < 0x20 || c == 0x7f) ? '?' : (u_char) c;
            p++;
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            len = 2; min = 0x80; c &= 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3; min = 0x800; c &= 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4; min = 0x10000; c &= 0x07;
        } else {
            *d++ = '?';
            p++;
            continue;
        }

        if ((size_t) (end - p) < len) {
            *d++ = '?';
            p++;
            continue;
        }

        for (i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                break;
            }
            c = (c << 6) | (p[i] & 0x3f);
        }

        if (i < len || c < min || c > 0x10ffff
            || (c >= 0xd800 && c <= 0xdfff))
        {
            *d++ = '?';
            p++;
            continue;
        }

        d = ngx_cpymem(d, p, len);
        p += len;
    }

    return d - dst;
}


/* A copy of p[0..n) in pool memory, cleaned (ngx_hkp_stats_clean_utf8). */
static ngx_int_t
ngx_hkp_stats_text(ngx_pool_t *pool, const char *p, size_t n, ngx_str_t *out)
{
    out->data = ngx_pnalloc(pool, n + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_hkp_stats_clean_utf8(out->data, (const u_char *) p, n);

    return NGX_OK;
}


/* ---- the membership file ---- */

/* Reads hkp_membership (shared/membership.c) into st->peers; a missing
 * file means no peers. */
static ngx_int_t
ngx_hkp_stats_membership(ngx_http_request_t *r, ngx_str_t *path,
    ngx_hkp_stats_t *st)
{
    int                rc;
    ngx_int_t          ret;
    ngx_uint_t         i;
    ngx_hkp_peer_t    *peer;
    hkp_membership_t   ms;

    if (path->len == 0) {
        return NGX_OK;
    }

    /* a small local file: read on the event loop (stats only) */
    rc = hkp_membership_read((const char *) path->data, &ms);

    if (rc == HKP_ENOMEM) {
        hkp_membership_free(&ms);
        return NGX_ERROR;
    }

    if (rc > 0 && rc != NGX_ENOENT && rc != NGX_ENOTDIR) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, (ngx_err_t) rc,
                      "hkp: stats: reading \"%V\" failed: no peers shown",
                      path);

    } else if (rc < 0) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "hkp: stats: \"%V\": %s: no peers shown", path,
                      hkp_strerror(rc));
    }

    if (rc != 0) {
        hkp_membership_free(&ms);
        return NGX_OK;
    }

    if (ms.cut) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "hkp: stats: \"%V\" is larger than %d bytes: only its "
                      "start is shown", path, HKP_MEMBERSHIP_MAX_SIZE);
    }

    if (ms.over) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "hkp: stats: \"%V\" lists more than %d peers: "
                      "the rest is not shown", path,
                      HKP_MEMBERSHIP_MAX_PEERS);
    }

    ret = NGX_OK;

    for (i = 0; i < ms.n; i++) {
        peer = ngx_array_push(&st->peers);
        if (peer == NULL) {
            ret = NGX_ERROR;
            break;
        }

        ngx_memzero(peer, sizeof(*peer));
        peer->port = ms.m[i].port;

        peer->raw.len = ms.m[i].host_len;
        peer->raw.data = ngx_pnalloc(r->pool, peer->raw.len + 1);
        if (peer->raw.data == NULL) {
            ret = NGX_ERROR;
            break;
        }
        ngx_memcpy(peer->raw.data, ms.m[i].host, peer->raw.len);

        if (ngx_hkp_stats_text(r->pool, ms.m[i].host, ms.m[i].host_len,
                               &peer->host)
            != NGX_OK)
        {
            ret = NGX_ERROR;
            break;
        }
    }

    hkp_membership_free(&ms);

    return ret;
}


/* ---- the peers' status records ---- */

/* Per peer of the file, its record (inside the caller's read txn). The
 * record is looked up by the host as in the file, not as cleaned. */
static ngx_int_t
ngx_hkp_stats_recon(ngx_http_request_t *r, hkp_db_t *db, MDB_txn *txn,
    ngx_hkp_stats_t *st)
{
    int                      rc;
    char                     name[HKP_PEER_NAME_MAX + 1];
    size_t                   len;
    ngx_uint_t               i;
    hkp_peer_t               rec;
    ngx_hkp_peer_t          *peer;
    ngx_hkp_recon_status_t  *l;

    peer = st->peers.elts;

    for (i = 0; i < st->peers.nelts; i++) {
        len = hkp_peer_name(name, (const char *) peer[i].raw.data,
                            peer[i].raw.len, (unsigned) peer[i].port);
        if (len == 0) {
            continue;
        }

        rc = hkp_db_peer_get(db, txn, name, len, &rec);
        if (rc != 0) {
            if (rc != MDB_NOTFOUND && rc != HKP_EPEERREC) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "hkp: stats: reading the status of \"%V\" "
                              "failed: %s", &peer[i].host,
                              hkp_strerror(rc));
            }
            continue;
        }

        l = &peer[i].last;
        l->time = (time_t) rec.time;
        l->we_miss = rec.we_miss;
        l->they_miss = rec.they_miss;
        l->fetched = rec.fetched;
        l->duration_us = rec.duration_us;
        l->sessions_ok = rec.sessions_ok;
        l->sessions_failed = rec.sessions_failed;
        l->fetched_total = rec.fetched_total;
        l->last_ok = (time_t) rec.last_ok;
        l->fetch_total = rec.fetch_total;
        l->fetch_done = rec.fetch_done;
        l->fetch_rate = rec.fetch_rate;
        l->fetch_queue = rec.fetch_queue;
        l->flags = rec.flags;

        if (ngx_hkp_stats_text(r->pool, rec.role, rec.role_len, &l->role)
            != NGX_OK
            || ngx_hkp_stats_text(r->pool, rec.profile, rec.profile_len,
                                  &l->profile)
               != NGX_OK
            || ngx_hkp_stats_text(r->pool, rec.outcome, rec.outcome_len,
                                  &l->outcome)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        l->valid = 1;
    }

    return NGX_OK;
}


/* ---- the self-signature records ---- */

/* Keys without a record, and the fill mark reconsvc works through (in
 * the caller's read txn); on an error nothing is shown. */
static void
ngx_hkp_stats_selfsig(ngx_http_request_t *r, hkp_db_t *db, MDB_txn *txn,
    ngx_hkp_stats_t *st)
{
    int                 rc;
    hkp_selfsig_mark_t  m;

    if (hkp_db_selfsig_missing(db, txn, &st->selfsig_missing) != 0) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "hkp: stats: counting the self-signature records "
                      "failed");
        return;
    }

    rc = hkp_db_selfsig_mark_get(db, txn, &m);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "hkp: stats: reading the fill mark failed: %s",
                      hkp_strerror(rc));
        return;
    }

    st->selfsig_valid = 1;

    if (rc == 0) {
        st->selfsig_pending = 1;
        st->selfsig_filled = m.filled;
        st->selfsig_rate = m.rate;
        st->selfsig_updated = (time_t) m.updated;
    }
}


/* ---- the histogram ---- */

/* The per-hour counts of the last NGX_HKP_HIST_DAYS UTC days (in the
 * caller's read txn); on an error the tables stay empty. */
static void
ngx_hkp_stats_hist(ngx_http_request_t *r, hkp_db_t *db, MDB_txn *txn,
    ngx_hkp_stats_t *st)
{
    uint32_t  hour, first;

    if (st->now < (time_t) NGX_HKP_HIST_DAYS * 86400) {
        return;                 /* a clock at the epoch */
    }

    hour = (uint32_t) (st->now / 3600);
    first = (uint32_t) (st->now / 86400) * 24
            - (NGX_HKP_HIST_DAYS - 1) * 24;

    if (hkp_db_hist(db, txn, first, hour - first + 1, st->hist) != 0) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "hkp: stats: reading the histogram failed");
        return;
    }

    st->hist_first = first;
    st->hist_n = hour - first + 1;
}


/* ---- the handler ---- */

ngx_int_t
ngx_hkp_stats_handler(ngx_http_request_t *r, ngx_hkp_args_t *args)
{
    MDB_txn             *txn;
    ngx_int_t            rc;
    ngx_hkp_out_t        o;
    ngx_hkp_stats_t      st;
    ngx_hkp_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    ngx_memzero(&st, sizeof(st));

    if (ngx_array_init(&st.peers, r->pool, 4, sizeof(ngx_hkp_peer_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the file first: no read txn is held during file I/O */
    if (ngx_hkp_stats_membership(r, &lcf->membership, &st) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st.now = ngx_time();

    rc = ngx_hkp_db_begin(r, lcf->db, &txn);
    if (rc != NGX_OK) {
        return ngx_hkp_error(r, rc, "Database not available");
    }

    st.count = hkp_db_count(&lcf->db->db, txn);
    rc = ngx_hkp_stats_recon(r, &lcf->db->db, txn, &st);
    if (rc == NGX_OK) {
        ngx_hkp_stats_selfsig(r, &lcf->db->db, txn, &st);
        ngx_hkp_stats_hist(r, &lcf->db->db, txn, &st);
    }

    ngx_hkp_db_end(lcf->db);

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st.hostname = lcf->hostname;
    if (st.hostname.len == 0) {
        st.hostname = ngx_cycle->hostname;
    }
    st.nodename = lcf->nodename.len ? lcf->nodename : st.hostname;
    st.contact = lcf->contact;
    st.recon_port = lcf->recon_port;
    st.serve_policy = lcf->serve_policy;
    st.serve_certs = lcf->serve_certs;
    st.serve_max_uat = lcf->serve_max_uat;

    if (ngx_connection_local_sockaddr(r->connection, NULL, 0) == NGX_OK) {
        st.http_port = ngx_inet_get_port(r->connection->local_sockaddr);
    }

    ngx_hkp_out_init(&o, r->pool);

    if (args->mr || args->json) {
        ngx_hkp_stats_json(&o, &st);
        return ngx_hkp_send_out(r, NGX_HTTP_OK, NGX_HKP_CT_JSON, &o, -1, 0);
    }

    ngx_hkp_stats_html(&o, &st);
    return ngx_hkp_send_out(r, NGX_HTTP_OK, NGX_HKP_CT_HTML, &o, -1, 0);
}
