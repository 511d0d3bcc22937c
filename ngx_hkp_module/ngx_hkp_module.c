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
 *
 * Directives of /pks/add and /pks/hashquery (location level unless noted):
 *   hkp_add on|off             accept keys (default on where "hkp on";
 *                              off makes a read-only mirror: 403)
 *   hkp_add_max_body SIZE      request body limit of /pks/add and
 *                              /pks/hashquery, 413 beyond (default 8m);
 *                              the location's client_max_body_size is
 *                              raised to it so nginx does not refuse first
 *   hkp_max_key_size SIZE      one key, serialised (default 4m = ceiling)
 *   hkp_max_packet_size SIZE   one packet body (default 1m = ceiling)
 *   hkp_max_packets N          packets in one key (default 20000)
 *   hkp_max_uids N             user IDs + attributes of one key (1000)
 *   hkp_max_sigs_per_uid N     sigs per UID/subkey, direct sigs (10000)
 *   hkp_max_subkeys N          subkeys of one key (1000)
 *     (the key limits apply to every uploaded key and to the merged key
 *     that would be stored; the defaults are the hkp_limits.h ceilings)
 *   hkp_thread_pool NAME       nginx thread pool running the write txns
 *                              (default "default": 32 threads unless a
 *                              "thread_pool default ...;" says otherwise)
 *   hkp_hashquery_max N        hashes per /pks/hashquery (default 1000)
 *   hkp_hashquery_max_bytes SIZE  reply size cap; keys that would exceed it
 *                              are left out, peers ask again (default 64m)
 */
#include "ngx_hkp_module.h"


static void *ngx_hkp_create_main_conf(ngx_conf_t *cf);
_Static_assert(sizeof(ngx_int_t) == sizeof(size_t),
    "hkp_max_* count directives store ngx_int_t into size_t fields");

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

/* bounds of size_t / counts (ngx_conf_check_num_bounds is for ngx_int_t) */
static char *ngx_hkp_check_size_bounds(ngx_conf_t *cf, void *post,
    void *data);

#define NGX_HKP_SIZE_BOUNDS(name, lo, hi)                                    \
    static ngx_conf_num_bounds_t  name = {                                   \
        ngx_hkp_check_size_bounds, lo, hi                                    \
    }

NGX_HKP_SIZE_BOUNDS(ngx_hkp_max_body_bounds, 1, 256 * 1024 * 1024);
NGX_HKP_SIZE_BOUNDS(ngx_hkp_key_size_bounds, 1, HKP_MAX_KEY_LEN);
NGX_HKP_SIZE_BOUNDS(ngx_hkp_packet_size_bounds, 1, HKP_MAX_PACKET_LEN);
NGX_HKP_SIZE_BOUNDS(ngx_hkp_packets_bounds, 1, HKP_MAX_PACKETS_PER_KEY);
NGX_HKP_SIZE_BOUNDS(ngx_hkp_uids_bounds, 1, HKP_MAX_UIDS_PER_KEY);
NGX_HKP_SIZE_BOUNDS(ngx_hkp_sigs_bounds, 1, HKP_MAX_SIGS_PER_UID);
NGX_HKP_SIZE_BOUNDS(ngx_hkp_subkeys_bounds, 1, HKP_MAX_SUBKEYS_PER_KEY);
NGX_HKP_SIZE_BOUNDS(ngx_hkp_hq_max_bounds, 1, 100000);
NGX_HKP_SIZE_BOUNDS(ngx_hkp_hq_bytes_bounds, 1024, 1024 * 1024 * 1024);

#define NGX_HKP_DEFAULT_HASHQUERY_BYTES  (64 * 1024 * 1024)


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

    /* hkp_membership PATH: reconsvc's membership file (SKS format), read
     * by op=stats to list the gossip peers and their last reconciliation */
    { ngx_string("hkp_membership"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, membership),
      NULL },

    /* hkp_vindex_signer_lookups N: signer keys looked up per vindex page */
    { ngx_string("hkp_vindex_signer_lookups"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, vindex_lookups),
      NULL },

    /* hkp_add on|off: accept keys at /pks/add (default on) */
    { ngx_string("hkp_add"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, add),
      NULL },

    /* hkp_add_max_body SIZE: request body limit (413 beyond) */
    { ngx_string("hkp_add_max_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, add_max_body),
      &ngx_hkp_max_body_bounds },

    { ngx_string("hkp_max_key_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, limits.max_key_len),
      &ngx_hkp_key_size_bounds },

    { ngx_string("hkp_max_packet_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, limits.max_packet_len),
      &ngx_hkp_packet_size_bounds },

    /* The count limits are size_t fields of hkp_limits_t set through
     * ngx_conf_set_num_slot, which writes an ngx_int_t: the two have the
     * same width (asserted below), and the bounds keep values positive. */
    { ngx_string("hkp_max_packets"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, limits.max_packets),
      &ngx_hkp_packets_bounds },

    { ngx_string("hkp_max_uids"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, limits.max_uids),
      &ngx_hkp_uids_bounds },

    { ngx_string("hkp_max_sigs_per_uid"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, limits.max_sigs_per_uid),
      &ngx_hkp_sigs_bounds },

    { ngx_string("hkp_max_subkeys"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, limits.max_subkeys),
      &ngx_hkp_subkeys_bounds },

    /* hkp_thread_pool NAME: the pool that runs /pks/add write txns */
    { ngx_string("hkp_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, thread_pool_name),
      NULL },

    /* hkp_hashquery_max N: hashes in one /pks/hashquery request */
    { ngx_string("hkp_hashquery_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, hashquery_max),
      &ngx_hkp_hq_max_bounds },

    /* hkp_hashquery_max_bytes SIZE: cap on a /pks/hashquery reply */
    { ngx_string("hkp_hashquery_max_bytes"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, hashquery_max_bytes),
      &ngx_hkp_hq_bytes_bounds },

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
     *     conf->membership = { 0, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->db = NGX_CONF_UNSET_PTR;
    conf->max_results = NGX_CONF_UNSET_UINT;
    conf->max_candidates = NGX_CONF_UNSET_UINT;
    conf->recon_port = NGX_CONF_UNSET_UINT;
    conf->vindex_lookups = NGX_CONF_UNSET_UINT;

    conf->add = NGX_CONF_UNSET;
    conf->add_max_body = NGX_CONF_UNSET;
    conf->limits.max_packet_len = NGX_CONF_UNSET_SIZE;
    conf->limits.max_key_len = NGX_CONF_UNSET_SIZE;
    conf->limits.max_packets = NGX_CONF_UNSET_SIZE;
    conf->limits.max_uids = NGX_CONF_UNSET_SIZE;
    conf->limits.max_sigs_per_uid = NGX_CONF_UNSET_SIZE;
    conf->limits.max_subkeys = NGX_CONF_UNSET_SIZE;
    conf->hashquery_max = NGX_CONF_UNSET_UINT;
    conf->hashquery_max_bytes = NGX_CONF_UNSET_SIZE;

    return conf;
}


static char *
ngx_hkp_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_hkp_loc_conf_t *prev = parent;
    ngx_hkp_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

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
    ngx_conf_merge_str_value(conf->membership, prev->membership, "");

    /* relative to the configuration prefix, as include; an absolute path
     * (also an inherited one, already resolved) is left as it is */
    if (conf->membership.len
        && ngx_conf_full_name(cf->cycle, &conf->membership, 1) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }
    ngx_conf_merge_uint_value(conf->vindex_lookups, prev->vindex_lookups,
                              100);

    ngx_conf_merge_value(conf->add, prev->add, 1);
    ngx_conf_merge_off_value(conf->add_max_body, prev->add_max_body,
                             HKP_DEFAULT_MAX_BODY);
    ngx_conf_merge_size_value(conf->limits.max_packet_len,
                              prev->limits.max_packet_len,
                              HKP_MAX_PACKET_LEN);
    ngx_conf_merge_size_value(conf->limits.max_key_len,
                              prev->limits.max_key_len, HKP_MAX_KEY_LEN);
    ngx_conf_merge_size_value(conf->limits.max_packets,
                              prev->limits.max_packets,
                              HKP_MAX_PACKETS_PER_KEY);
    ngx_conf_merge_size_value(conf->limits.max_uids,
                              prev->limits.max_uids, HKP_MAX_UIDS_PER_KEY);
    ngx_conf_merge_size_value(conf->limits.max_sigs_per_uid,
                              prev->limits.max_sigs_per_uid,
                              HKP_MAX_SIGS_PER_UID);
    ngx_conf_merge_size_value(conf->limits.max_subkeys,
                              prev->limits.max_subkeys,
                              HKP_MAX_SUBKEYS_PER_KEY);
    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name,
                             "default");
    ngx_conf_merge_uint_value(conf->hashquery_max, prev->hashquery_max,
                              HKP_MAX_HASHQUERY);
    ngx_conf_merge_size_value(conf->hashquery_max_bytes,
                              prev->hashquery_max_bytes,
                              NGX_HKP_DEFAULT_HASHQUERY_BYTES);

    if (conf->enable == 1 && conf->db == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"hkp on\" needs an \"hkp_db\" path");
        return NGX_CONF_ERROR;
    }

    if (conf->enable == 1) {
        /*
         * nginx checks client_max_body_size before the content handler
         * runs (1m by default): raise it to our limit so that bodies up to
         * hkp_add_max_body reach the module, which enforces that limit
         * itself with a reason (nginx still refuses chunked bodies that
         * grow past it, with its own 413 page).
         */
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        if (clcf->client_max_body_size != 0
            && clcf->client_max_body_size < conf->add_max_body)
        {
            clcf->client_max_body_size = conf->add_max_body;
        }
    }

    if (conf->enable == 1 && conf->add == 1) {
        /* the pool is created (or checked to exist) at config time */
        conf->thread_pool = ngx_thread_pool_add(cf, &conf->thread_pool_name);
        if (conf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
        conf->db->write = 1;
    }

    return NGX_CONF_OK;
}


static char *
ngx_hkp_check_size_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_conf_num_bounds_t  *bounds = post;
    size_t                 *sp = data;   /* size_t, off_t or ngx_int_t */

    if (*sp >= (size_t) bounds->low && *sp <= (size_t) bounds->high) {
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "value must be between %i and %i",
                       bounds->low, bounds->high);

    return NGX_CONF_ERROR;
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


ngx_int_t
ngx_hkp_post(ngx_http_request_t *r, const char *forbidden,
    ngx_http_client_body_handler_pt handler)
{
    u_char              *p;
    ngx_int_t            rc;
    ngx_hkp_loc_conf_t  *lcf;
    char                 reason[128];

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    if (r->method == NGX_HTTP_OPTIONS) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
        return ngx_hkp_options(r, "POST, OPTIONS");
    }

    if (r->method != NGX_HTTP_POST) {
        return ngx_hkp_not_allowed(r, "POST, OPTIONS");
    }

    if (forbidden) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
        return ngx_hkp_error(r, NGX_HTTP_FORBIDDEN, forbidden);
    }

    if (r->headers_in.content_length_n > lcf->add_max_body) {
        p = ngx_snprintf((u_char *) reason, sizeof(reason) - 1,
                         "Request body too large (%O > %O bytes)",
                         r->headers_in.content_length_n, lcf->add_max_body);
        *p = '\0';
        return ngx_hkp_too_large(r, reason);
    }

    rc = ngx_http_read_client_request_body(r, handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


ngx_int_t
ngx_hkp_body_pieces(ngx_http_request_t *r, ngx_hkp_body_t *body,
    const char **reason)
{
    u_char              *p;
    ngx_buf_t           *b;
    ngx_uint_t           n;
    ngx_chain_t         *cl;
    ngx_hkp_body_seg_t  *seg;
    ngx_hkp_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    ngx_memzero(body, sizeof(ngx_hkp_body_t));

    n = 0;
    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            n++;
        }
    }

    if (n > 0) {
        body->segs = ngx_pcalloc(r->pool, n * sizeof(ngx_hkp_body_seg_t));
        if (body->segs == NULL) {
            *reason = "Out of memory";
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            b = cl->buf;
            seg = &body->segs[body->nsegs];

            if (b->in_file && b->file) {
                if (b->file_last <= b->file_pos) {
                    continue;
                }
                seg->fd = b->file->fd;
                seg->off = b->file_pos;
                seg->len = (size_t) (b->file_last - b->file_pos);

            } else if (ngx_buf_in_memory(b)) {
                if (b->last <= b->pos) {
                    continue;
                }
                seg->mem = b->pos;
                seg->fd = NGX_INVALID_FILE;
                seg->len = (size_t) (b->last - b->pos);

            } else {
                continue;
            }

            body->len += seg->len;
            body->nsegs++;
        }
    }

    if ((off_t) body->len > lcf->add_max_body) {
        p = ngx_pnalloc(r->pool, sizeof("Request body too large "
                                        "(more than  bytes)")
                                 + NGX_OFF_T_LEN);
        if (p == NULL) {
            *reason = "Out of memory";
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        *ngx_sprintf(p, "Request body too large (more than %O bytes)",
                     lcf->add_max_body) = '\0';
        *reason = (const char *) p;
        r->keepalive = 0;
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    if (body->len == 0) {
        *reason = "Empty request body";
        return NGX_HTTP_BAD_REQUEST;
    }

    return NGX_OK;
}


u_char *
ngx_hkp_body_join(const ngx_hkp_body_t *body, const char **err)
{
    u_char                    *buf, *p;
    size_t                     left;
    ssize_t                    n;
    ngx_uint_t                 i;
    const ngx_hkp_body_seg_t  *seg;

    buf = malloc(body->len);
    if (buf == NULL) {
        *err = "Out of memory";
        return NULL;
    }

    p = buf;
    for (i = 0; i < body->nsegs; i++) {
        seg = &body->segs[i];

        if (seg->mem) {
            p = ngx_cpymem(p, seg->mem, seg->len);
            continue;
        }

        left = seg->len;
        while (left > 0) {
            n = pread(seg->fd, p, left, seg->off + (off_t) (seg->len - left));
            if (n == -1 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                free(buf);
                *err = "Cannot read the request body";
                return NULL;
            }
            p += n;
            left -= (size_t) n;
        }
    }

    return buf;
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


#define ngx_hkp_uri_is(r, path)                                              \
    ((r)->uri.len == sizeof(path) - 1                                        \
     && ngx_strncmp((r)->uri.data, path, sizeof(path) - 1) == 0)


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

    /* the two paths that read a body */
    if (ngx_hkp_uri_is(r, "/pks/add")) {
        return ngx_hkp_add_handler(r);
    }

    if (ngx_hkp_uri_is(r, "/pks/hashquery")) {
        return ngx_hkp_hashquery_handler(r);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    lookup = ngx_hkp_uri_is(r, "/pks/lookup");
    stats = ngx_hkp_uri_is(r, "/pks/stats");
    health = ngx_hkp_uri_is(r, "/pks/health");

    if (!lookup && !stats && !health) {
        return ngx_hkp_error(r, NGX_HTTP_NOT_FOUND, "Page not found");
    }

    if (r->method == NGX_HTTP_OPTIONS) {
        return ngx_hkp_options(r, "GET, HEAD, OPTIONS");
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_hkp_not_allowed(r, "GET, HEAD, OPTIONS");
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
