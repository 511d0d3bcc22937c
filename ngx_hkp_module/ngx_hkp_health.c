/*
 * /pks/health: whether this location's database answers.
 *
 * 200 "OK" only when the environment is open (opened now if it was not:
 * at most one attempt per NGX_HKP_DB_RETRY seconds, ngx_hkp_db.c), its
 * data.mdb is still the file on disk at the hkp_db path, and a read txn
 * reads the schema record; else 503 with a one-line reason (no database
 * configured, cannot be opened and why, data.mdb gone or replaced, the
 * read failed).
 *
 * options=mr (or options=json, as op=stats) answers one JSON object with
 * the same HTTP status:
 *   status          "ok" or "unavailable"
 *   reason          why not (only when unavailable)
 *   keys            keys stored (meta "count"), null when unavailable
 *   db_age          seconds since data.mdb was last modified (any write:
 *                   keys, reconsvc's status and heartbeat records)
 *   keys_changed_age  seconds since the start of the newest UTC hour in
 *                   which keys were stored or merged (meta "hist:"), null
 *                   when none is recorded
 *   reconsvc        "alive", "stale" (no heartbeat for more than
 *                   NGX_HKP_HEARTBEAT_STALE seconds) or "absent" (never
 *                   written: reconsvc has not run on this database)
 *   heartbeat_age   seconds since reconsvc's last heartbeat (meta
 *                   "heartbeat", store.h), null when absent
 *   reconsvc_uptime seconds since that reconsvc started, null when absent
 * The reconsvc fields do not change the status: lookups are served
 * without it.
 */
#include "ngx_hkp_module.h"
#include "bytes.h"


/* A heartbeat older than this is "stale" (three missed beats). */
#define NGX_HKP_HEARTBEAT_STALE   (3 * HKP_HEARTBEAT_SECS)

/* Longest one-line reason. */
#define NGX_HKP_HEALTH_REASON_LEN  320


typedef struct {
    u_char               reason[NGX_HKP_HEALTH_REASON_LEN];
    ngx_uint_t           ok;
    uint64_t             keys;
    time_t               mtime;
    ngx_int_t            hist_hour;     /* -1: none */
    ngx_uint_t           have_beat;
    int64_t              beat, started;
} ngx_hkp_health_t;


/* The newest "hist:" hour (meta keys sort by hour, big-endian), or -1. */
static ngx_int_t
ngx_hkp_health_newest_hour(ngx_hkp_db_t *d, MDB_txn *txn)
{
    int          rc;
    u_char       end[HKP_META_HIST_LEN];
    MDB_val      k, v;
    MDB_cursor  *c;
    ngx_int_t    hour;

    if (mdb_cursor_open(txn, d->db.meta, &c) != MDB_SUCCESS) {
        return -1;
    }

    /* the first key past every "hist:" hour, then one back */
    ngx_memcpy(end, HKP_META_HIST, sizeof(HKP_META_HIST) - 1);
    ngx_memset(end + sizeof(HKP_META_HIST) - 1, 0xff, 4);
    k.mv_size = sizeof(end);
    k.mv_data = end;

    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_SUCCESS) {
        if (k.mv_size != sizeof(end) || ngx_memcmp(k.mv_data, end,
                                                   sizeof(end)) != 0)
        {
            rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
        }

    } else if (rc == MDB_NOTFOUND) {
        rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    }

    hour = -1;

    if (rc == MDB_SUCCESS
        && k.mv_size == HKP_META_HIST_LEN
        && ngx_memcmp(k.mv_data, HKP_META_HIST, sizeof(HKP_META_HIST) - 1)
           == 0)
    {
        u_char  *p = (u_char *) k.mv_data + sizeof(HKP_META_HIST) - 1;

        hour = (ngx_int_t) hkp_get_be32(p);
    }

    mdb_cursor_close(c);

    return hour;
}


/* Fills h; h->ok says whether the database answers, else h->reason. */
static void
ngx_hkp_health_check(ngx_http_request_t *r, ngx_hkp_db_t *d,
    ngx_hkp_health_t *h)
{
    int               rc, fd;
    u_char           *end;
    MDB_val           k, v;
    MDB_txn          *txn;
    ngx_file_info_t   fi, ofi;
    u_char            data[NGX_MAX_PATH];

    h->ok = 0;
    h->hist_hour = -1;
    end = h->reason + sizeof(h->reason) - 1;

    if (d == NULL) {
        *ngx_slprintf(h->reason, end, "No database configured") = '\0';
        return;
    }

    if (ngx_hkp_db_begin(r, d, &txn) != NGX_OK) {
        if (!d->open) {
            *ngx_slprintf(h->reason, end, "Database cannot be opened: %s",
                          d->err[0] ? d->err : "unknown error") = '\0';
        } else {
            *ngx_slprintf(h->reason, end, "Database read txn failed") = '\0';
        }
        return;
    }

    /* the open env keeps a removed or renamed file mapped: look at the
     * path, as the next start of nginx or reconsvc will */
    *ngx_slprintf(data, data + sizeof(data) - 1, "%s/data.mdb",
                  d->path.data) = '\0';

    if (ngx_file_info(data, &fi) == NGX_FILE_ERROR) {
        *ngx_slprintf(h->reason, end, "Database missing: data.mdb: %s",
                      strerror(ngx_errno)) = '\0';
        goto done;
    }

    if (mdb_env_get_fd(d->db.env, &fd) == MDB_SUCCESS
        && fstat(fd, &ofi) == 0
        && (ofi.st_ino != fi.st_ino || ofi.st_dev != fi.st_dev))
    {
        *ngx_slprintf(h->reason, end, "Database replaced on disk since it "
                      "was opened (reload nginx)") = '\0';
        goto done;
    }

    k.mv_size = sizeof("schema") - 1;
    k.mv_data = "schema";
    rc = mdb_get(txn, d->db.meta, &k, &v);
    if (rc != MDB_SUCCESS) {
        *ngx_slprintf(h->reason, end, "Database read failed: %s",
                      rc == MDB_NOTFOUND ? "no schema record"
                                         : mdb_strerror(rc)) = '\0';
        goto done;
    }

    h->ok = 1;
    h->keys = hkp_db_count(&d->db, txn);
    h->mtime = ngx_file_mtime(&fi);
    h->hist_hour = ngx_hkp_health_newest_hour(d, txn);
    h->have_beat = hkp_db_heartbeat_get(&d->db, txn, &h->beat, &h->started)
                   == 0;

done:

    ngx_hkp_db_end(d);
}


/* A JSON age (seconds, never negative) or null. */
static void
ngx_hkp_health_age(ngx_hkp_out_t *o, const char *name, ngx_uint_t have,
    int64_t then, time_t now)
{
    if (!have) {
        ngx_hkp_out_printf(o, ",\"%s\":null", name);
        return;
    }

    ngx_hkp_out_printf(o, ",\"%s\":%L", name,
                       (int64_t) now > then ? (int64_t) now - then
                                            : (int64_t) 0);
}


ngx_int_t
ngx_hkp_health_handler(ngx_http_request_t *r, ngx_hkp_args_t *args)
{
    time_t               now;
    ngx_uint_t           status;
    const char          *rs;
    ngx_hkp_out_t        o;
    ngx_hkp_health_t     h;
    ngx_hkp_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    ngx_memzero(&h, sizeof(h));
    ngx_hkp_health_check(r, lcf->db, &h);

    status = h.ok ? NGX_HTTP_OK : NGX_HTTP_SERVICE_UNAVAILABLE;

    if (!args->mr && !args->json) {
        return ngx_hkp_error(r, status, h.ok ? "OK" : (char *) h.reason);
    }

    now = ngx_time();
    ngx_hkp_out_init(&o, r->pool);

    if (!h.ok) {
        ngx_hkp_out_str(&o, "{\"status\":\"unavailable\",\"reason\":");
        ngx_hkp_out_json_str(&o, h.reason, ngx_strlen(h.reason));
        ngx_hkp_out_str(&o, ",\"keys\":null,\"db_age\":null,"
                        "\"keys_changed_age\":null,\"reconsvc\":null,"
                        "\"heartbeat_age\":null,\"reconsvc_uptime\":null}\n");

    } else {
        ngx_hkp_out_printf(&o, "{\"status\":\"ok\",\"keys\":%uL",
                           (uint64_t) h.keys);
        ngx_hkp_health_age(&o, "db_age", 1, (int64_t) h.mtime, now);
        ngx_hkp_health_age(&o, "keys_changed_age", h.hist_hour >= 0,
                           (int64_t) h.hist_hour * 3600, now);

        if (!h.have_beat) {
            rs = "absent";
        } else if ((int64_t) now - h.beat > NGX_HKP_HEARTBEAT_STALE) {
            rs = "stale";
        } else {
            rs = "alive";
        }

        ngx_hkp_out_printf(&o, ",\"reconsvc\":\"%s\"", rs);
        ngx_hkp_health_age(&o, "heartbeat_age", h.have_beat, h.beat, now);
        ngx_hkp_health_age(&o, "reconsvc_uptime", h.have_beat, h.started,
                           now);
        ngx_hkp_out_str(&o, "}\n");
    }

    if (o.failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_hkp_send_out(r, status, NGX_HKP_CT_JSON, &o, -1, 0);
}
