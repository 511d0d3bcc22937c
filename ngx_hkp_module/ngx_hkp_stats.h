/*
 * op=stats inside the module: what ngx_hkp_stats.c gathers (the
 * membership file, the peers' status records, the key count, the
 * self-signature records' fill, the histogram) and ngx_hkp_stats_out.c renders as HTML or JSON.
 */
#ifndef NGX_HKP_STATS_H
#define NGX_HKP_STATS_H

#include "ngx_hkp_module.h"
#include "membership.h"
#include "peer.h"


/* histogram rows: days (today and before), hours (this one and before) */
#define NGX_HKP_HIST_DAYS             7
#define NGX_HKP_HIST_HOURS            24
/* hours read: from the start of the oldest day shown to now */
#define NGX_HKP_HIST_SPAN             (NGX_HKP_HIST_DAYS * 24)


/* The last reconciliation with a peer, from its record (shared/peer.h);
 * the strings cleaned for output. */
typedef struct {
    time_t       time;
    ngx_str_t    role;
    ngx_str_t    profile;     /* hash profile used; len 0 = none */
    ngx_str_t    outcome;
    uint64_t     we_miss;
    uint64_t     they_miss;
    uint64_t     fetched;
    uint64_t     duration_us;
    /* HKP_PEER_HAS_COUNTS: over all sessions with the peer */
    uint64_t     sessions_ok, sessions_failed, fetched_total;
    time_t       last_ok;     /* 0 = never */
    /* HKP_PEER_HAS_FETCH: the fetch in progress */
    uint64_t     fetch_total, fetch_done, fetch_rate, fetch_queue;
    ngx_uint_t   flags;       /* HKP_PEER_HAS_* */
    unsigned     valid:1;     /* a record was read */
} ngx_hkp_recon_status_t;


typedef struct {
    ngx_str_t               host;    /* as in the file, UTF-8 cleaned */
    ngx_str_t               raw;     /* as in the file: the record's name */
    ngx_uint_t              port;
    ngx_hkp_recon_status_t  last;
} ngx_hkp_peer_t;


typedef struct {
    ngx_str_t    hostname;
    ngx_str_t    nodename;
    ngx_str_t    contact;
    ngx_uint_t   http_port;
    ngx_uint_t   recon_port;
    ngx_uint_t   serve_policy; /* hkp_serve_policy (HKP_SERVE_*) */
    ngx_uint_t   serve_certs;
    size_t       serve_max_uat;
    uint64_t     count;
    /* self-signature records (shared/store.h): keys without one, and the
     * fill mark an import left (records pending a background fill) */
    size_t       selfsig_missing;
    unsigned     selfsig_valid:1;    /* the counts were read */
    unsigned     selfsig_pending:1;  /* a mark is there */
    uint64_t     selfsig_filled, selfsig_rate;
    time_t       selfsig_updated;    /* the fill's last write, 0 */
    time_t       now;
    ngx_array_t  peers;       /* of ngx_hkp_peer_t */
    /* hist[i]: {new, updated} in UTC hour hist_first + i (hours since the
     * epoch); hist_n hours, up to the current one; 0 = none (no data) */
    uint32_t     hist_first;
    ngx_uint_t   hist_n;
    uint64_t     hist[NGX_HKP_HIST_SPAN][2];
} ngx_hkp_stats_t;


/* ngx_hkp_stats_out.c */
void ngx_hkp_stats_html(ngx_hkp_out_t *o, ngx_hkp_stats_t *st);
void ngx_hkp_stats_json(ngx_hkp_out_t *o, ngx_hkp_stats_t *st);
/* Row i (0 = newest) of the daily (day = 1) or hourly histogram: its start
 * time and counts. */
void ngx_hkp_stats_hist_row(ngx_hkp_stats_t *st, ngx_uint_t day,
    ngx_uint_t i, time_t *t, uint64_t *nnew, uint64_t *nupd);

/* ngx_hkp_web_stats.c: a histogram as an inline SVG bar chart */
void ngx_hkp_web_hist_svg(ngx_hkp_out_t *o, ngx_hkp_stats_t *st,
    ngx_uint_t day);

#endif
