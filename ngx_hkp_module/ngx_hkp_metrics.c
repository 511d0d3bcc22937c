/*
 * /metrics: Prometheus text exposition (format 0.0.4) of the module.
 *
 *     location = /metrics { hkp_metrics; }
 *
 * The request counters live in one shared memory zone
 * (NGX_HKP_METRICS_ZONE, "hkp_metrics_v<layout>", of
 * NGX_HKP_METRICS_ZONE_SIZE, a slab pool as ngx_http_limit_req_module's
 * zones are) that every worker adds to with atomic increments, so they
 * count the whole server and survive a reload. nginx hands a reloaded
 * configuration the old zone when name, size and owner (the module's
 * address) match, so the layout of the counters is in the name: a new
 * build with other counters gets a zone of its own (starting from zero)
 * instead of reading the old one at the wrong offsets, and the old zone
 * goes away with the old workers. (nginx loads modules RTLD_GLOBAL: the
 * module links with -Bsymbolic, see config, or a new copy loaded from
 * another path would run the old copy's functions and zone.) A log-phase
 * handler counts every request answered by a location with "hkp on" or
 * "hkp_metrics":
 *
 *   hkp_requests_total{op,code}            counter
 *   hkp_request_duration_seconds{op}       histogram (nginx's millisecond
 *                                          clock, NGX_HKP_METRICS_BUCKETS)
 *   hkp_uploads_total{outcome}             counter, per key of /pks/add:
 *                                          new, merged, unchanged, refused
 *
 * op is get, hget, index, vindex, stats (op=stats and /pks/stats), other
 * (another or no op of /pks/lookup, or an unknown path), health, add,
 * hashquery or metrics; code is the HTTP status sent (0: none was sent).
 * Read from the location's hkp_db when the page is made:
 *
 *   hkp_db_up                     1 when a read txn began, else 0 (and no
 *                                 other hkp_db_* / hkp_keys sample)
 *   hkp_keys                      keys stored (meta "count")
 *   hkp_db_size_bytes             size of data.mdb
 *   hkp_db_used_bytes             pages up to the last one used
 *   hkp_db_map_size_bytes         the map size
 *   hkp_db_free_pages             pages on LMDB's freelist (left out when
 *                                 it has more than NGX_HKP_METRICS_FREE_MAX
 *                                 records)
 *   hkp_db_readers                reader slots in use
 *   hkp_db_readers_max            reader slots
 *   hkp_reconsvc_heartbeat_timestamp_seconds  reconsvc's last heartbeat
 *                                 (meta "heartbeat"), when there is one
 *   hkp_recon_*                   per peer, from reconsvc's status records
 *                                 (ngx_hkp_metrics_recon.c)
 */
#include "ngx_hkp_module.h"
#include "ngx_hkp_add.h"


#define NGX_HKP_METRICS_ZONE_SIZE  (256 * 1024)
#define NGX_HKP_METRICS_CODES      600       /* status 0 .. 599 */
#define NGX_HKP_METRICS_FREE_MAX   100000    /* freelist records scanned */
#define NGX_HKP_METRICS_CT         "text/plain; version=0.0.4; charset=utf-8"


typedef enum {
    NGX_HKP_OP_GET = 0,
    NGX_HKP_OP_HGET,
    NGX_HKP_OP_INDEX,
    NGX_HKP_OP_VINDEX,
    NGX_HKP_OP_STATS,
    NGX_HKP_OP_OTHER,
    NGX_HKP_OP_HEALTH,
    NGX_HKP_OP_ADD,
    NGX_HKP_OP_HASHQUERY,
    NGX_HKP_OP_METRICS,
    NGX_HKP_NOPS
} ngx_hkp_metrics_op_e;

static const char  *ngx_hkp_op_names[NGX_HKP_NOPS] = {
    "get", "hget", "index", "vindex", "stats", "other", "health", "add",
    "hashquery", "metrics"
};

/* Upper bounds of the latency buckets, in milliseconds (then +Inf). */
static const ngx_msec_t  ngx_hkp_buckets[] = {
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

#define NGX_HKP_METRICS_BUCKETS                                              \
    (sizeof(ngx_hkp_buckets) / sizeof(ngx_hkp_buckets[0]))

static const char  *ngx_hkp_upload_names[4] = {
    "new", "merged", "unchanged", "refused"
};


typedef struct {
    ngx_atomic_t         requests[NGX_HKP_NOPS][NGX_HKP_METRICS_CODES];
    /* per bucket, not cumulative; the last is over every bound */
    ngx_atomic_t         latency[NGX_HKP_NOPS][NGX_HKP_METRICS_BUCKETS + 1];
    ngx_atomic_t         latency_ms[NGX_HKP_NOPS];
    ngx_atomic_t         uploads[4];          /* ngx_hkp_add_outcome_e */
} ngx_hkp_metrics_shm_t;

_Static_assert(sizeof(ngx_hkp_metrics_shm_t) * 2 < NGX_HKP_METRICS_ZONE_SIZE,
               "NGX_HKP_METRICS_ZONE_SIZE holds the counters");

/*
 * The layout of ngx_hkp_metrics_shm_t, in the zone's name. Any change of
 * the struct or of what sizes it (the ops, codes, buckets, outcomes) takes
 * a new NGX_HKP_METRICS_LAYOUT, and NGX_HKP_METRICS_LAYOUT_WORDS its new
 * number of counters: the assertion stops a build whose struct changed
 * size under the old layout name. (t/37-metrics.t reloads into a module
 * with another layout name and sees the counters start from zero.)
 */
#define NGX_HKP_METRICS_LAYOUT        "2"
#define NGX_HKP_METRICS_LAYOUT_WORDS  6144
#define NGX_HKP_METRICS_ZONE          "hkp_metrics_v" NGX_HKP_METRICS_LAYOUT

_Static_assert(sizeof(ngx_hkp_metrics_shm_t)
               == NGX_HKP_METRICS_LAYOUT_WORDS * sizeof(ngx_atomic_t),
               "the metrics counters changed: set a new "
               "NGX_HKP_METRICS_LAYOUT and NGX_HKP_METRICS_LAYOUT_WORDS");


/* The counters (set in every process once the zone is mapped). */
static ngx_hkp_metrics_shm_t  *ngx_hkp_metrics;


static ngx_int_t
ngx_hkp_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t        *shpool;
    ngx_hkp_metrics_shm_t  *m;

    if (data) {
        /* a reload: the previous cycle's counters go on */
        shm_zone->data = data;
        ngx_hkp_metrics = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        ngx_hkp_metrics = shpool->data;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_hkp_metrics_shm_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    shpool->data = m;
    shm_zone->data = m;
    ngx_hkp_metrics = m;

    return NGX_OK;
}


#define ngx_hkp_uri_is(r, path)                                              \
    ((r)->uri.len == sizeof(path) - 1                                        \
     && ngx_strncmp((r)->uri.data, path, sizeof(path) - 1) == 0)

#define ngx_hkp_str_is(s, lit)                                               \
    ((s)->len == sizeof(lit) - 1                                             \
     && ngx_strncasecmp((s)->data, (u_char *) lit, sizeof(lit) - 1) == 0)


static ngx_uint_t
ngx_hkp_metrics_op(ngx_http_request_t *r, ngx_hkp_loc_conf_t *lcf)
{
    ngx_str_t  op;

    if (lcf->metrics) {
        return NGX_HKP_OP_METRICS;
    }

    if (ngx_hkp_uri_is(r, "/pks/lookup")) {
        if (ngx_http_arg(r, (u_char *) "op", 2, &op) != NGX_OK) {
            return NGX_HKP_OP_OTHER;
        }
        if (ngx_hkp_str_is(&op, "get")) {
            return NGX_HKP_OP_GET;
        }
        if (ngx_hkp_str_is(&op, "hget")) {
            return NGX_HKP_OP_HGET;
        }
        if (ngx_hkp_str_is(&op, "index")) {
            return NGX_HKP_OP_INDEX;
        }
        if (ngx_hkp_str_is(&op, "vindex")) {
            return NGX_HKP_OP_VINDEX;
        }
        if (ngx_hkp_str_is(&op, "stats")) {
            return NGX_HKP_OP_STATS;
        }
        return NGX_HKP_OP_OTHER;
    }

    if (ngx_hkp_uri_is(r, "/pks/add")) {
        return NGX_HKP_OP_ADD;
    }
    if (ngx_hkp_uri_is(r, "/pks/hashquery")) {
        return NGX_HKP_OP_HASHQUERY;
    }
    if (ngx_hkp_uri_is(r, "/pks/health")) {
        return NGX_HKP_OP_HEALTH;
    }
    if (ngx_hkp_uri_is(r, "/pks/stats")) {
        return NGX_HKP_OP_STATS;
    }

    return NGX_HKP_OP_OTHER;
}


/* Log phase: one request of an hkp or hkp_metrics location. */
static ngx_int_t
ngx_hkp_metrics_log(ngx_http_request_t *r)
{
    ngx_uint_t           op, status, i;
    ngx_msec_int_t       ms;
    ngx_time_t          *tp;
    ngx_hkp_loc_conf_t  *lcf;

    if (ngx_hkp_metrics == NULL) {
        return NGX_OK;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);
    if (lcf == NULL || (lcf->enable != 1 && !lcf->metrics)) {
        return NGX_OK;
    }

    op = ngx_hkp_metrics_op(r, lcf);

    /* as the access log takes it */
    status = r->err_status ? r->err_status : r->headers_out.status;
    if (status >= NGX_HKP_METRICS_CODES) {
        status = 0;
    }

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    for (i = 0; i < NGX_HKP_METRICS_BUCKETS; i++) {
        if ((ngx_msec_t) ms <= ngx_hkp_buckets[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&ngx_hkp_metrics->requests[op][status], 1);
    (void) ngx_atomic_fetch_add(&ngx_hkp_metrics->latency[op][i], 1);
    (void) ngx_atomic_fetch_add(&ngx_hkp_metrics->latency_ms[op],
                                (ngx_atomic_int_t) ms);

    return NGX_OK;
}


void
ngx_hkp_metrics_uploads(const size_t count[4])
{
    ngx_uint_t  i;

    if (ngx_hkp_metrics == NULL) {
        return;
    }

    for (i = 0; i < 4; i++) {
        if (count[i]) {
            (void) ngx_atomic_fetch_add(&ngx_hkp_metrics->uploads[i],
                                        (ngx_atomic_int_t) count[i]);
        }
    }
}


/* ------------------------------------------------------------------ */
/* The page.                                                            */

static void
ngx_hkp_metrics_family(ngx_hkp_out_t *o, const char *name, const char *type,
    const char *help)
{
    ngx_hkp_out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                       type);
}


static void
ngx_hkp_metrics_requests(ngx_hkp_out_t *o, ngx_hkp_metrics_shm_t *m)
{
    ngx_uint_t         op, code, i;
    ngx_atomic_uint_t  n, cum, total;

    ngx_hkp_metrics_family(o, "hkp_requests_total", "counter",
                           "HKP requests answered, by op and HTTP status.");

    for (op = 0; op < NGX_HKP_NOPS; op++) {
        for (code = 0; code < NGX_HKP_METRICS_CODES; code++) {
            n = m->requests[op][code];
            if (n) {
                ngx_hkp_out_printf(o, "hkp_requests_total{op=\"%s\","
                                   "code=\"%ui\"} %uA\n",
                                   ngx_hkp_op_names[op], code, n);
            }
        }
    }

    ngx_hkp_metrics_family(o, "hkp_request_duration_seconds", "histogram",
                           "Time from the request line to the logged "
                           "answer, by op.");

    for (op = 0; op < NGX_HKP_NOPS; op++) {
        total = 0;
        for (i = 0; i <= NGX_HKP_METRICS_BUCKETS; i++) {
            total += m->latency[op][i];
        }
        if (total == 0) {
            continue;
        }

        cum = 0;
        for (i = 0; i < NGX_HKP_METRICS_BUCKETS; i++) {
            cum += m->latency[op][i];
            ngx_hkp_out_printf(o, "hkp_request_duration_seconds_bucket"
                               "{op=\"%s\",le=\"%M.%03M\"} %uA\n",
                               ngx_hkp_op_names[op],
                               ngx_hkp_buckets[i] / 1000,
                               ngx_hkp_buckets[i] % 1000, cum);
        }

        /* the +Inf bucket is the count: read once, so the two agree */
        ngx_hkp_out_printf(o, "hkp_request_duration_seconds_bucket"
                           "{op=\"%s\",le=\"+Inf\"} %uA\n",
                           ngx_hkp_op_names[op], total);
        n = m->latency_ms[op];
        ngx_hkp_out_printf(o, "hkp_request_duration_seconds_sum{op=\"%s\"} "
                           "%uA.%03uA\n", ngx_hkp_op_names[op], n / 1000,
                           n % 1000);
        ngx_hkp_out_printf(o, "hkp_request_duration_seconds_count"
                           "{op=\"%s\"} %uA\n", ngx_hkp_op_names[op], total);
    }

    ngx_hkp_metrics_family(o, "hkp_uploads_total", "counter",
                           "Keys uploaded to /pks/add, by outcome.");

    for (i = 0; i < 4; i++) {
        ngx_hkp_out_printf(o, "hkp_uploads_total{outcome=\"%s\"} %uA\n",
                           ngx_hkp_upload_names[i], m->uploads[i]);
    }
}


static int
ngx_hkp_metrics_reader(const char *msg, void *ctx)
{
    ngx_uint_t  *n = ctx;

    while (*msg == ' ') {
        msg++;
    }

    /* one line per reader ("pid thread txnid"), else the header line or
     * "(no active readers)" */
    if (*msg >= '0' && *msg <= '9') {
        (*n)++;
    }

    return 0;
}


/* Pages on the freelist (LMDB's FREE_DBI, dbi 0: per record an IDL whose
 * first word is its length), or -1 when past NGX_HKP_METRICS_FREE_MAX
 * records or on error. */
static int64_t
ngx_hkp_metrics_free_pages(MDB_txn *txn)
{
    size_t       recs;
    int64_t      pages;
    MDB_val      k, v;
    MDB_cursor  *c;

    if (mdb_cursor_open(txn, 0, &c) != MDB_SUCCESS) {
        return -1;
    }

    pages = 0;
    recs = 0;

    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == MDB_SUCCESS) {
        if (++recs > NGX_HKP_METRICS_FREE_MAX || v.mv_size < sizeof(size_t)) {
            pages = -1;
            break;
        }
        pages += (int64_t) *(size_t *) v.mv_data;
    }

    mdb_cursor_close(c);

    return pages;
}


static void
ngx_hkp_metrics_db(ngx_http_request_t *r, ngx_hkp_out_t *o, ngx_hkp_db_t *d)
{
    int64_t           nfree, beat, started;
    MDB_txn          *txn;
    MDB_stat          st;
    MDB_envinfo       info;
    ngx_uint_t        readers;
    ngx_file_info_t   fi;
    u_char            data[NGX_MAX_PATH];

    ngx_hkp_metrics_family(o, "hkp_db_up", "gauge",
                           "1 when the database opened and a read txn "
                           "began.");

    if (d == NULL || ngx_hkp_db_begin(r, d, &txn) != NGX_OK) {
        ngx_hkp_out_str(o, "hkp_db_up 0\n");
        return;
    }

    ngx_hkp_out_str(o, "hkp_db_up 1\n");

    ngx_hkp_metrics_family(o, "hkp_keys", "gauge", "Keys stored.");
    ngx_hkp_out_printf(o, "hkp_keys %uL\n",
                       (uint64_t) hkp_db_count(&d->db, txn));

    *ngx_slprintf(data, data + sizeof(data) - 1, "%s/data.mdb",
                  d->path.data) = '\0';
    if (ngx_file_info(data, &fi) != NGX_FILE_ERROR) {
        ngx_hkp_metrics_family(o, "hkp_db_size_bytes", "gauge",
                               "Size of data.mdb.");
        ngx_hkp_out_printf(o, "hkp_db_size_bytes %O\n", ngx_file_size(&fi));
    }

    if (mdb_env_info(d->db.env, &info) == MDB_SUCCESS
        && mdb_env_stat(d->db.env, &st) == MDB_SUCCESS)
    {
        ngx_hkp_metrics_family(o, "hkp_db_used_bytes", "gauge",
                               "Bytes of the pages up to the last one "
                               "used.");
        ngx_hkp_out_printf(o, "hkp_db_used_bytes %uL\n",
                           (uint64_t) (info.me_last_pgno + 1) * st.ms_psize);
        ngx_hkp_metrics_family(o, "hkp_db_map_size_bytes", "gauge",
                               "LMDB map size.");
        ngx_hkp_out_printf(o, "hkp_db_map_size_bytes %uz\n",
                           info.me_mapsize);
        ngx_hkp_metrics_family(o, "hkp_db_readers_max", "gauge",
                               "LMDB reader slots.");
        ngx_hkp_out_printf(o, "hkp_db_readers_max %ui\n",
                           (ngx_uint_t) info.me_maxreaders);
    }

    nfree = ngx_hkp_metrics_free_pages(txn);
    if (nfree >= 0) {
        ngx_hkp_metrics_family(o, "hkp_db_free_pages", "gauge",
                               "Pages on the LMDB freelist.");
        ngx_hkp_out_printf(o, "hkp_db_free_pages %L\n", nfree);
    }

    readers = 0;
    if (mdb_reader_list(d->db.env, ngx_hkp_metrics_reader, &readers) >= 0) {
        ngx_hkp_metrics_family(o, "hkp_db_readers", "gauge",
                               "LMDB reader slots in use.");
        ngx_hkp_out_printf(o, "hkp_db_readers %ui\n", readers);
    }

    if (hkp_db_heartbeat_get(&d->db, txn, &beat, &started) == 0) {
        ngx_hkp_metrics_family(o,
                               "hkp_reconsvc_heartbeat_timestamp_seconds",
                               "gauge", "Unix time of reconsvc's last "
                               "heartbeat.");
        ngx_hkp_out_printf(o, "hkp_reconsvc_heartbeat_timestamp_seconds %L\n",
                           beat);
    }

    ngx_hkp_metrics_recon(r, o, &d->db, txn);

    ngx_hkp_db_end(d);
}


static ngx_int_t
ngx_hkp_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_hkp_out_t        o;
    ngx_hkp_loc_conf_t  *lcf;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_hkp_not_allowed(r, "GET, HEAD");
    }

    if (ngx_hkp_metrics == NULL) {
        return ngx_hkp_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                             "Metrics zone not mapped");
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    ngx_hkp_out_init(&o, r->pool);
    ngx_hkp_metrics_requests(&o, ngx_hkp_metrics);
    ngx_hkp_metrics_db(r, &o, lcf->db);

    if (o.failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_hkp_send_out(r, NGX_HTTP_OK, NGX_HKP_METRICS_CT, &o, -1, 0);
}


/* hkp_metrics: this location answers /metrics */
char *
ngx_hkp_metrics_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_hkp_loc_conf_t  *hlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (hlcf->metrics) {
        return "is duplicate";
    }

    hlcf->metrics = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_hkp_metrics_handler;

    return NGX_CONF_OK;
}


/* postconfiguration: the zone and the log-phase counter. */
ngx_int_t
ngx_hkp_metrics_init(ngx_conf_t *cf)
{
    ngx_str_t                   name = ngx_string(NGX_HKP_METRICS_ZONE);
    ngx_shm_zone_t             *zone;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    zone = ngx_shared_memory_add(cf, &name, NGX_HKP_METRICS_ZONE_SIZE,
                                 &ngx_hkp_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_hkp_metrics_init_zone;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_hkp_metrics_log;

    return NGX_OK;
}
