/*
 * ngx_hkp_module: module definition, directives, configuration, worker
 * start/stop, and the content handler for the /pks/ location.
 *
 *     load_module modules/ngx_hkp_module.so;
 *     http {
 *         hkp_db /var/lib/hkp/db;
 *         server {
 *             listen 11371;
 *             location /pks/ { hkp on; }
 *         }
 *     }
 */
#include "ngx_hkp_module.h"


static void *ngx_hkp_create_main_conf(ngx_conf_t *cf);
static char *ngx_hkp_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_hkp_create_loc_conf(ngx_conf_t *cf);
static char *ngx_hkp_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_hkp(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_hkp_db(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_hkp_mapsize(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_hkp_init_process(ngx_cycle_t *cycle);
static void ngx_hkp_exit_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_hkp_handler(ngx_http_request_t *r);


static ngx_conf_num_bounds_t  ngx_hkp_max_results_bounds = {
    ngx_conf_check_num_bounds, 1, 100000
};

static ngx_conf_num_bounds_t  ngx_hkp_max_candidates_bounds = {
    ngx_conf_check_num_bounds, 1, 10000000
};

static ngx_conf_num_bounds_t  ngx_hkp_port_bounds = {
    ngx_conf_check_num_bounds, 0, 65535
};


static ngx_command_t  ngx_hkp_commands[] = {

    /* hkp on|off: serve /pks/lookup (and /pks/stats) in this location */
    { ngx_string("hkp"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_hkp,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    /* hkp_db PATH: the LMDB environment directory */
    { ngx_string("hkp_db"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_hkp_db,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    /* hkp_db_mapsize SIZE (k, m, g suffixes): LMDB map size of the readers;
     * the default is HKP_DB_DEFAULT_MAPSIZE; LMDB grows it to the data */
    { ngx_string("hkp_db_mapsize"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_hkp_mapsize,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_hkp_main_conf_t, mapsize),
      NULL },

    /* hkp_max_results N: more matching keys than this is an error */
    { ngx_string("hkp_max_results"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, max_results),
      &ngx_hkp_max_results_bounds },

    /* hkp_max_candidates N: keys of the rarest word examined per search */
    { ngx_string("hkp_max_candidates"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, max_candidates),
      &ngx_hkp_max_candidates_bounds },

    /* hkp_hostname NAME: shown by op=stats (default: the machine name) */
    { ngx_string("hkp_hostname"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, hostname),
      NULL },

    /* hkp_nodename NAME: shown by op=stats (default: hkp_hostname) */
    { ngx_string("hkp_nodename"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, nodename),
      NULL },

    /* hkp_contact KEYID: the operator's key, shown by op=stats */
    { ngx_string("hkp_contact"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, contact),
      NULL },

    /* hkp_recon_port N: the recon service's port, shown by op=stats */
    { ngx_string("hkp_recon_port"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, recon_port),
      &ngx_hkp_port_bounds },

    /* hkp_vindex_signer_lookups N: signer keys looked up per vindex page */
    { ngx_string("hkp_vindex_signer_lookups"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, vindex_lookups),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_hkp_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_hkp_create_main_conf,              /* create main configuration */
    ngx_hkp_init_main_conf,                /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_hkp_create_loc_conf,               /* create location configuration */
    ngx_hkp_merge_loc_conf                 /* merge location configuration */
};


ngx_module_t  ngx_hkp_module = {
    NGX_MODULE_V1,
    &ngx_hkp_module_ctx,                   /* module context */
    ngx_hkp_commands,                      /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_hkp_init_process,                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_hkp_exit_process,                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_hkp_create_main_conf(ngx_conf_t *cf)
{
    ngx_hkp_main_conf_t  *hmcf;

    hmcf = ngx_pcalloc(cf->pool, sizeof(ngx_hkp_main_conf_t));
    if (hmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&hmcf->dbs, cf->pool, 1, sizeof(ngx_hkp_db_t *))
        != NGX_OK)
    {
        return NULL;
    }

    hmcf->mapsize = NGX_CONF_UNSET_SIZE;

    return hmcf;
}


static char *
ngx_hkp_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_hkp_main_conf_t  *hmcf = conf;

    ngx_uint_t      i;
    ngx_hkp_db_t  **dbs;

    ngx_conf_init_size_value(hmcf->mapsize, 0);

    dbs = hmcf->dbs.elts;
    for (i = 0; i < hmcf->dbs.nelts; i++) {
        dbs[i]->mapsize = hmcf->mapsize;
    }

    return NGX_CONF_OK;
}


static void *
ngx_hkp_create_loc_conf(ngx_conf_t *cf)
{
    ngx_hkp_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_hkp_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->hostname = { 0, NULL };
     *     conf->nodename = { 0, NULL };
     *     conf->contact = { 0, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->db = NGX_CONF_UNSET_PTR;
    conf->max_results = NGX_CONF_UNSET_UINT;
    conf->max_candidates = NGX_CONF_UNSET_UINT;
    conf->recon_port = NGX_CONF_UNSET_UINT;
    conf->vindex_lookups = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_hkp_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_hkp_loc_conf_t *prev = parent;
    ngx_hkp_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_ptr_value(conf->db, prev->db, NULL);
    ngx_conf_merge_uint_value(conf->max_results, prev->max_results,
                              HKP_DEFAULT_MAX_RESULTS);
    ngx_conf_merge_uint_value(conf->max_candidates, prev->max_candidates,
                              HKP_DEFAULT_MAX_CANDIDATES);
    ngx_conf_merge_str_value(conf->hostname, prev->hostname, "");
    ngx_conf_merge_str_value(conf->nodename, prev->nodename, "");
    ngx_conf_merge_str_value(conf->contact, prev->contact, "");
    ngx_conf_merge_uint_value(conf->recon_port, prev->recon_port, 0);
    ngx_conf_merge_uint_value(conf->vindex_lookups, prev->vindex_lookups,
                              100);

    if (conf->enable == 1 && conf->db == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"hkp on\" needs an \"hkp_db\" path");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* hkp on|off */
static char *
ngx_hkp(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_hkp_loc_conf_t *hlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (hlcf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcasecmp(value[1].data, (u_char *) "on") == 0) {
        hlcf->enable = 1;

    } else if (ngx_strcasecmp(value[1].data, (u_char *) "off") == 0) {
        hlcf->enable = 0;
        return NGX_CONF_OK;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be \"on\" or \"off\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_hkp_handler;

    return NGX_CONF_OK;
}


/* hkp_db PATH: one environment per distinct path, shared by locations */
static char *
ngx_hkp_db(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
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
static char *
ngx_hkp_mapsize(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_hkp_main_conf_t *hmcf = conf;

    off_t       size;
    ngx_str_t  *value;

    if (hmcf->mapsize != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_offset(&value[1]);
    if (size <= 0 || (uint64_t) size > (uint64_t) NGX_MAX_SIZE_T_VALUE) {
        return "invalid value";
    }

    hmcf->mapsize = (size_t) size;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_hkp_init_process(ngx_cycle_t *cycle)
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


static void
ngx_hkp_exit_process(ngx_cycle_t *cycle)
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


static ngx_int_t
ngx_hkp_health_handler(ngx_http_request_t *r)
{
    ngx_buf_t    *b;
    ngx_chain_t   out;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = (u_char *) "OK\n";
    b->last = b->pos + 3;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_hkp_send(r, NGX_HTTP_OK, NGX_HKP_CT_TEXT, &out, 3, -1, 0);
}


/*
 * Content handler of a location with "hkp on". The path is matched
 * exactly (as SKS does); nginx has already decoded and normalised it.
 */
static ngx_int_t
ngx_hkp_handler(ngx_http_request_t *r)
{
    ngx_int_t       rc;
    ngx_uint_t      lookup, stats, health;
    ngx_hkp_args_t  args;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    lookup = (r->uri.len == sizeof("/pks/lookup") - 1
              && ngx_strncmp(r->uri.data, "/pks/lookup", r->uri.len) == 0);
    stats = (r->uri.len == sizeof("/pks/stats") - 1
             && ngx_strncmp(r->uri.data, "/pks/stats", r->uri.len) == 0);
    health = (r->uri.len == sizeof("/pks/health") - 1
              && ngx_strncmp(r->uri.data, "/pks/health", r->uri.len) == 0);

    if (!lookup && !stats && !health) {
        return ngx_hkp_error(r, NGX_HTTP_NOT_FOUND, "Page not found");
    }

    if (r->method == NGX_HTTP_OPTIONS) {
        return ngx_hkp_options(r, "GET, HEAD, OPTIONS");
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_hkp_add_header(r, "Allow", "GET, HEAD, OPTIONS") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return ngx_hkp_error(r, NGX_HTTP_NOT_ALLOWED, "Method not allowed");
    }

    if (health) {
        return ngx_hkp_health_handler(r);
    }

    if (stats) {
        rc = ngx_hkp_args_parse(r, &r->args, &args);
        if (rc != NGX_OK) {
            return ngx_hkp_error(r, rc, "Malformed query string");
        }
        return ngx_hkp_stats_handler(r, &args);
    }

    return ngx_hkp_lookup_handler(r);
}
