/*
 * The LMDB environment inside a worker.
 *
 * Each worker opens every configured environment in its init_process
 * hook (never in the master: an env must not cross a fork): read-write
 * when a location accepts keys (hkp_add on), else read-only. The
 * read-write open (HKP_DB_NOCREATE) creates nothing and takes no write
 * txn, so a worker never waits for the writer lock and a missing database
 * still answers 503 until reconsvc creates it. When the worker may not
 * write data.mdb, the env is opened read-only and /pks/add answers 503.
 * Write txns run only in thread-pool tasks (ngx_hkp_add.c).
 * hkp_db_open() uses MDB_NOTLS and clears stale reader slots. A worker
 * keeps one read txn per env: renewed at the start of a request, reset at
 * the end, so it owns one reader slot and pins no snapshot while idle.
 *
 * If an env cannot be opened (not created yet, permissions), the failure
 * is logged once with its reason, requests answer 503, and opening is
 * retried at most once every NGX_HKP_DB_RETRY seconds from requests.
 *
 * Also here: the hkp_db and hkp_db_mapsize directives (one environment per
 * distinct path), and the worker's init/exit process hooks (the
 * environments and the query tokenizer).
 */
#include "ngx_hkp_module.h"


static ngx_int_t
ngx_hkp_db_try_open(ngx_log_t *log, ngx_hkp_db_t *d)
{
    char      err[sizeof(d->err)];
    char      data[NGX_MAX_PATH];
    unsigned  flags;

    d->last_try = ngx_time();

    flags = HKP_DB_RDONLY;
    d->rdonly = 0;

    if (d->write) {
        flags = HKP_DB_NOCREATE;
        ngx_snprintf((u_char *) data, sizeof(data), "%s/data.mdb%Z",
                     d->path.data);
        data[sizeof(data) - 1] = '\0';
        if (access(data, F_OK) == 0 && access(data, W_OK) != 0) {
            ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                          "hkp: database \"%s\" is not writable by this "
                          "worker: opened read-only, /pks/add answers 503",
                          d->path.data);
            flags = HKP_DB_RDONLY;
            d->rdonly = 1;
        }
    }

    err[0] = '\0';
    if (hkp_db_open(&d->db, (const char *) d->path.data, flags,
                    d->mapsize, err, sizeof(err))
        != 0)
    {
        if (!d->logged || ngx_strcmp(err, d->err) != 0) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "hkp: cannot open database \"%s\": %s "
                          "(answering 503, retrying every %ds)",
                          d->path.data, err[0] ? err : "unknown error",
                          NGX_HKP_DB_RETRY);
            ngx_memcpy(d->err, err, sizeof(err));
            d->logged = 1;
        }
        return NGX_ERROR;
    }

    if (d->logged) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "hkp: database \"%s\" is available now", d->path.data);
        d->logged = 0;
    }

    d->open = 1;
    d->txn = NULL;
    d->active = 0;

    return NGX_OK;
}


ngx_int_t
ngx_hkp_db_open_all(ngx_cycle_t *cycle, ngx_hkp_main_conf_t *hmcf)
{
    ngx_int_t       rc;
    ngx_uint_t      i;
    ngx_hkp_db_t  **dbs;

    rc = NGX_OK;
    dbs = hmcf->dbs.elts;

    for (i = 0; i < hmcf->dbs.nelts; i++) {
        if (!dbs[i]->open
            && ngx_hkp_db_try_open(cycle->log, dbs[i]) != NGX_OK)
        {
            rc = NGX_ERROR;
        }
    }

    return rc;
}


void
ngx_hkp_db_close_all(ngx_cycle_t *cycle, ngx_hkp_main_conf_t *hmcf)
{
    ngx_uint_t      i;
    ngx_hkp_db_t  **dbs, *d;

    dbs = hmcf->dbs.elts;

    for (i = 0; i < hmcf->dbs.nelts; i++) {
        d = dbs[i];
        if (!d->open) {
            continue;
        }
        if (d->txn) {
            /* frees the reader slot */
            mdb_txn_abort(d->txn);
            d->txn = NULL;
        }
        hkp_db_close(&d->db);
        d->open = 0;
        d->active = 0;
    }
}


ngx_int_t
ngx_hkp_db_begin(ngx_http_request_t *r, ngx_hkp_db_t *d, MDB_txn **txn)
{
    int         rc;
    ngx_uint_t  level, busy;

    if (d->active) {
        /* a request in this worker did not end its txn: never share it */
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "hkp: read txn of \"%s\" still active", d->path.data);
        ngx_hkp_db_end(d);
    }

    if (!d->open) {
        if (ngx_time() - d->last_try < NGX_HKP_DB_RETRY
            || ngx_hkp_db_try_open(r->connection->log, d) != NGX_OK)
        {
            return NGX_HTTP_SERVICE_UNAVAILABLE;
        }
    }

    rc = ngx_hkp_db_map_read(d, txn, &busy);
    if (rc != 0) {
        level = busy ? NGX_LOG_INFO : NGX_LOG_ERR;
        ngx_log_error(level, r->connection->log, 0,
                      "hkp: cannot begin a read txn on \"%s\": %s%s",
                      d->path.data, hkp_strerror(rc),
                      busy ? " (the map is adopted when this worker's "
                             "upload txn ends)" : "");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    /* takedowns: a "blocked" database made since the open */
    ngx_hkp_block_refresh(r->connection->log, d);

    d->active = 1;

    return NGX_OK;
}


void
ngx_hkp_db_end(ngx_hkp_db_t *d)
{
    if (d->active) {
        if (d->txn) {
            mdb_txn_reset(d->txn);
        }
        ngx_hkp_db_map_read_end(d);
    }
    d->active = 0;
}


/* ------------------------------------------------------------------ */
/* Configuration and worker start/stop.                                 */

/* hkp_db PATH: one environment per distinct path, shared by locations */
char *
ngx_hkp_db_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_hkp_loc_conf_t *hlcf = conf;

    ngx_str_t             *value, path;
    ngx_uint_t             i;
    ngx_hkp_db_t          *d, **dbs, **dp;
    ngx_hkp_main_conf_t   *hmcf;

    if (hlcf->db != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (path.len == 0) {
        return "needs a path";
    }

    if (ngx_conf_full_name(cf->cycle, &path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    while (path.len > 1 && path.data[path.len - 1] == '/') {
        path.len--;
    }

    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_hkp_module);

    dbs = hmcf->dbs.elts;
    for (i = 0; i < hmcf->dbs.nelts; i++) {
        if (dbs[i]->path.len == path.len
            && ngx_strncmp(dbs[i]->path.data, path.data, path.len) == 0)
        {
            hlcf->db = dbs[i];
            return NGX_CONF_OK;
        }
    }

    d = ngx_pcalloc(cf->pool, sizeof(ngx_hkp_db_t));
    if (d == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_hkp_db_map_init(d);

    d->path.data = ngx_pnalloc(cf->pool, path.len + 1);
    if (d->path.data == NULL) {
        return NGX_CONF_ERROR;
    }
    ngx_memcpy(d->path.data, path.data, path.len);
    d->path.data[path.len] = '\0';
    d->path.len = path.len;

    dp = ngx_array_push(&hmcf->dbs);
    if (dp == NULL) {
        return NGX_CONF_ERROR;
    }
    *dp = d;

    hlcf->db = d;

    return NGX_CONF_OK;
}


/* hkp_db_mapsize: like ngx_conf_set_size_slot, but "g" is accepted too */
char *
ngx_hkp_db_mapsize(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_hkp_main_conf_t *hmcf = conf;

    off_t       size;
    ngx_str_t  *value;

    if (hmcf->mapsize != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_offset(&value[1]);
    if (size == NGX_ERROR) {
        return "invalid value";
    }

    if (size < NGX_HKP_MIN_MAPSIZE
        || (uint64_t) size > NGX_HKP_MAX_MAPSIZE
        || (uint64_t) size > (uint64_t) NGX_MAX_SIZE_T_VALUE)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "value must be between %O and %O bytes",
                           (off_t) NGX_HKP_MIN_MAPSIZE,
                           (off_t) ngx_min(NGX_HKP_MAX_MAPSIZE,
                                           (uint64_t) NGX_MAX_SIZE_T_VALUE));
        return NGX_CONF_ERROR;
    }

    hmcf->mapsize = (size_t) size;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_hkp_db_init_process(ngx_cycle_t *cycle)
{
    const char           *err;
    ngx_hkp_main_conf_t  *hmcf;

    /* the env must not cross a fork: workers (or single mode) only */
    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_hkp_module);
    if (hmcf == NULL || hmcf->dbs.nelts == 0) {
        return NGX_OK;
    }

    err = NULL;
    hmcf->words = hkp_words_new(&err);
    if (hmcf->words == NULL) {
        /* text searches answer 503; never fail the worker */
        ngx_cpystrn((u_char *) hmcf->words_err,
                    (u_char *) (err ? err : "unknown error"),
                    sizeof(hmcf->words_err));
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "hkp: cannot set up the word tokenizer: %s",
                      hmcf->words_err);
    }

    (void) ngx_hkp_db_open_all(cycle, hmcf);

    return NGX_OK;
}


void
ngx_hkp_db_exit_process(ngx_cycle_t *cycle)
{
    ngx_hkp_main_conf_t  *hmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return;
    }

    hmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_hkp_module);
    if (hmcf == NULL) {
        return;
    }

    ngx_hkp_db_close_all(cycle, hmcf);

    if (hmcf->words) {
        hkp_words_free(hmcf->words);
        hmcf->words = NULL;
    }
}
