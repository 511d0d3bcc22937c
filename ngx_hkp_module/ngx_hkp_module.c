/*
 * ngx_hkp_module: the module definition, its directives (with their
 * bounds), configuration create/merge, and the content handler of the
 * /pks/ location (URI and method dispatch).
 *
 *     load_module modules/ngx_hkp_module.so;
 *     http {
 *         hkp_db /var/lib/hkp/db;
 *         server {
 *             listen 11371;
 *             location /pks/ { hkp on; client_max_body_size 8m; }
 *         }
 *     }
 *
 * Every directive is described where it is declared below, and in the
 * README's directive table. Out-of-range values are refused when the
 * configuration is read. The body limits of /pks/add and /pks/hashquery
 * (hkp_add_max_body and nginx's client_max_body_size, the smaller applies)
 * are explained in ngx_hkp_body.c.
 */
#include "ngx_hkp_module.h"
#include "ngx_hkp_v2.h"
#include "serve.h"


static void *ngx_hkp_create_main_conf(ngx_conf_t *cf);
_Static_assert(sizeof(ngx_int_t) == sizeof(size_t),
    "hkp_max_* count directives store ngx_int_t into size_t fields");

static char *ngx_hkp_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_hkp_create_loc_conf(ngx_conf_t *cf);
static char *ngx_hkp_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_hkp(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_hkp_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_uint_t ngx_hkp_loc_takes_bodies(ngx_http_core_loc_conf_t *clcf);
static ngx_int_t ngx_hkp_handler(ngx_http_request_t *r);
static ngx_int_t ngx_hkp_postconfiguration(ngx_conf_t *cf);


static ngx_conf_num_bounds_t  ngx_hkp_max_results_bounds = {
    ngx_conf_check_num_bounds, 1, 100000
};

static ngx_conf_num_bounds_t  ngx_hkp_max_candidates_bounds = {
    ngx_conf_check_num_bounds, 1, 10000000
};

static ngx_conf_num_bounds_t  ngx_hkp_port_bounds = {
    ngx_conf_check_num_bounds, 0, 65535
};

static ngx_conf_num_bounds_t  ngx_hkp_signer_lookups_bounds = {
    ngx_conf_check_num_bounds, 0, NGX_HKP_MAX_SIGNER_LOOKUPS
};

/* the longest value of a string directive */
typedef struct {
    ngx_conf_post_handler_pt  post_handler;
    size_t                    max;
} ngx_hkp_str_bounds_t;

static char *ngx_hkp_check_str_len(ngx_conf_t *cf, void *post, void *data);

static ngx_hkp_str_bounds_t  ngx_hkp_name_bounds = {
    ngx_hkp_check_str_len, NGX_HKP_MAX_NAME_LEN
};

static ngx_hkp_str_bounds_t  ngx_hkp_path_bounds = {
    ngx_hkp_check_str_len, NGX_MAX_PATH
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
NGX_HKP_SIZE_BOUNDS(ngx_hkp_max_reply_bounds, NGX_HKP_MIN_MAX_REPLY,
                    NGX_HKP_MAX_MAX_REPLY);
NGX_HKP_SIZE_BOUNDS(ngx_hkp_hq_bytes_bounds, 1024, 1024 * 1024 * 1024);

#define NGX_HKP_DEFAULT_HASHQUERY_BYTES  (64 * 1024 * 1024)

static ngx_conf_enum_t  ngx_hkp_serve_policies[] = {
    { ngx_string("full"),  HKP_SERVE_FULL },
    { ngx_string("clean"), HKP_SERVE_CLEAN },
    { ngx_null_string, 0 }
};

static ngx_conf_num_bounds_t  ngx_hkp_serve_certs_bounds = {
    ngx_conf_check_num_bounds, 0, HKP_SERVE_MAX_CERTS
};

NGX_HKP_SIZE_BOUNDS(ngx_hkp_serve_uat_bounds, 0, HKP_SERVE_MAX_MAX_UAT);

static ngx_conf_enum_t  ngx_hkp_blocked_status[] = {
    { ngx_string("410"), NGX_HKP_HTTP_GONE },
    { ngx_string("404"), NGX_HTTP_NOT_FOUND },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_hkp_commands[] = {

    /* hkp on|off: serve /pks/lookup (and /pks/stats, /pks/health,
     * /pks/add, /pks/hashquery, and the web pages "/" and /pks/submit)
     * in this location */
    { ngx_string("hkp"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_hkp,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    /* hkp_v2: this location answers HKPv2, /pks/v2/... (ngx_hkp_v2.c);
     * hkp_vks: it answers the VKS API, /vks/v1/... (ngx_hkp_vks.c). Like
     * "hkp on" otherwise (hkp_db, the upload settings and limits). */
    { ngx_string("hkp_v2"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_hkp_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      (void *) ngx_hkp_v2_handler },

    { ngx_string("hkp_vks"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_hkp_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      (void *) ngx_hkp_vks_handler },

    /* hkp_db PATH: the LMDB environment directory */
    { ngx_string("hkp_db"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_hkp_db_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    /* hkp_db_mapsize SIZE (k, m, g suffixes): LMDB map size of the readers;
     * the default is HKP_DB_DEFAULT_MAPSIZE; LMDB grows it to the data */
    { ngx_string("hkp_db_mapsize"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_hkp_db_mapsize,
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
      &ngx_hkp_name_bounds },

    /* hkp_nodename NAME: shown by op=stats (default: hkp_hostname) */
    { ngx_string("hkp_nodename"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, nodename),
      &ngx_hkp_name_bounds },

    /* hkp_contact KEYID: the operator's key, shown by op=stats */
    { ngx_string("hkp_contact"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, contact),
      &ngx_hkp_name_bounds },

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
      &ngx_hkp_path_bounds },

    /* hkp_vindex_signer_lookups N: signer keys looked up to name the
     * signers of one op=vindex page (0 .. NGX_HKP_MAX_SIGNER_LOOKUPS) */
    { ngx_string("hkp_vindex_signer_lookups"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, vindex_lookups),
      &ngx_hkp_signer_lookups_bounds },

    /* hkp_max_reply_size SIZE: the largest op=get/hget/index/vindex
     * answer (NGX_HKP_MIN_MAX_REPLY .. NGX_HKP_MAX_MAX_REPLY); a lookup
     * whose stored keys or answer would pass it gets 400 with a reason */
    { ngx_string("hkp_max_reply_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, max_reply),
      &ngx_hkp_max_reply_bounds },

    /* hkp_blocked_status 410|404: the answer to a lookup naming a blocked
     * key (ngx_hkp_block.c): 410 Gone with the block's public reason
     * (default), or 404 as for a key never stored */
    { ngx_string("hkp_blocked_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, blocked_status),
      &ngx_hkp_blocked_status },

    /* hkp_add on|off: accept keys at /pks/add (default on) */
    { ngx_string("hkp_add"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, add),
      NULL },

    /* hkp_add_max_body SIZE: request body limit of /pks/add and
     * /pks/hashquery (413 beyond); client_max_body_size is not changed */
    { ngx_string("hkp_add_max_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, add_max_body),
      &ngx_hkp_max_body_bounds },

    /* Limits of one uploaded key, and of the merged key that would be
     * stored; the hkp_limits.h ceilings are the defaults and the maxima:
     * hkp_max_key_size SIZE (serialised key), hkp_max_packet_size SIZE
     * (one packet body), hkp_max_packets N, hkp_max_uids N (user IDs and
     * attributes), hkp_max_sigs_per_uid N (per UID/subkey, and direct
     * sigs), hkp_max_subkeys N. */
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
      &ngx_hkp_name_bounds },

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

    /* hkp_serve_policy full|clean: what lookups show of a stored key
     * (shared/serve.h); full is SKS-exact, clean (the default) serves
     * only self-signed components and a bounded set of certifications.
     * Redacted user IDs are hidden under both. */
    { ngx_string("hkp_serve_policy"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, serve_policy),
      ngx_hkp_serve_policies },

    /* hkp_serve_certs N: clean policy, third-party certifications served
     * per user ID without an attestation, newest first (0 ..
     * HKP_SERVE_MAX_CERTS, default HKP_SERVE_DEFAULT_CERTS) */
    { ngx_string("hkp_serve_certs"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, serve_certs),
      &ngx_hkp_serve_certs_bounds },

    /* hkp_serve_max_uat SIZE: clean policy, larger user attributes (photo
     * IDs) are not served (0 .. HKP_SERVE_MAX_MAX_UAT, default
     * HKP_SERVE_DEFAULT_MAX_UAT) */
    { ngx_string("hkp_serve_max_uat"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_hkp_loc_conf_t, serve_max_uat),
      &ngx_hkp_serve_uat_bounds },

    /* hkp_metrics: this location answers /metrics (Prometheus text) */
    { ngx_string("hkp_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_hkp_metrics_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_hkp_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_hkp_postconfiguration,             /* postconfiguration */

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
    ngx_hkp_db_init_process,               /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_hkp_db_exit_process,               /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the body limit filters (ngx_hkp_body.c), the metrics zone and counter */
static ngx_int_t
ngx_hkp_postconfiguration(ngx_conf_t *cf)
{
    if (ngx_hkp_body_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_hkp_metrics_init(cf);
}


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
    conf->max_reply = NGX_CONF_UNSET_SIZE;
    conf->serve_policy = NGX_CONF_UNSET_UINT;
    conf->serve_certs = NGX_CONF_UNSET_UINT;
    conf->serve_max_uat = NGX_CONF_UNSET_SIZE;
    conf->blocked_status = NGX_CONF_UNSET_UINT;

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
                              NGX_HKP_DEFAULT_SIGNER_LOOKUPS);
    ngx_conf_merge_size_value(conf->max_reply, prev->max_reply,
                              NGX_HKP_DEFAULT_MAX_REPLY);
    ngx_conf_merge_uint_value(conf->serve_policy, prev->serve_policy,
                              HKP_SERVE_CLEAN);
    ngx_conf_merge_uint_value(conf->serve_certs, prev->serve_certs,
                              HKP_SERVE_DEFAULT_CERTS);
    ngx_conf_merge_size_value(conf->serve_max_uat, prev->serve_max_uat,
                              HKP_SERVE_DEFAULT_MAX_UAT);
    ngx_conf_merge_uint_value(conf->blocked_status, prev->blocked_status,
                              NGX_HKP_HTTP_GONE);

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
                           "\"hkp on\" (or hkp_v2, hkp_vks) needs an "
                           "\"hkp_db\" path");
        return NGX_CONF_ERROR;
    }

    if (conf->enable == 1) {
        /*
         * nginx refuses a body over client_max_body_size before the
         * module sees it (the module then answers its own 413, see
         * ngx_hkp_body.c): the smaller of the two limits applies. The
         * operator's setting is left as it is, and said.
         */
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        if (clcf->client_max_body_size != 0
            && clcf->client_max_body_size < conf->add_max_body
            && ngx_hkp_loc_takes_bodies(clcf))
        {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "client_max_body_size %O is below "
                               "hkp_add_max_body %O in an \"hkp on\" "
                               "location: bodies over %O bytes get 413",
                               clcf->client_max_body_size,
                               conf->add_max_body,
                               clcf->client_max_body_size);
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


/*
 * Whether requests with a body (/pks/add, /pks/hashquery) can reach the
 * location: not an exact-match location of another path (such as the
 * search page's "location = /").
 */
static ngx_uint_t
ngx_hkp_loc_takes_bodies(ngx_http_core_loc_conf_t *clcf)
{
    if (!clcf->exact_match) {
        return 1;
    }

    return (clcf->name.len == sizeof("/pks/add") - 1
            && ngx_strncmp(clcf->name.data, "/pks/add",
                           sizeof("/pks/add") - 1) == 0)
           || (clcf->name.len == sizeof("/pks/hashquery") - 1
               && ngx_strncmp(clcf->name.data, "/pks/hashquery",
                              sizeof("/pks/hashquery") - 1) == 0);
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


static char *
ngx_hkp_check_str_len(ngx_conf_t *cf, void *post, void *data)
{
    ngx_hkp_str_bounds_t  *bounds = post;
    ngx_str_t             *sp = data;

    if (sp->len <= bounds->max) {
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "value must be at most %uz bytes long", bounds->max);

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
        return hlcf->api ? "cannot be combined with hkp_v2 or hkp_vks"
                         : "is duplicate";
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


/* hkp_v2, hkp_vks: "hkp on" with the API's content handler (cmd->post) */
static char *
ngx_hkp_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_hkp_loc_conf_t *hlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (hlcf->enable != NGX_CONF_UNSET) {
        return hlcf->api ? "is duplicate"
                         : "cannot be combined with \"hkp\"";
    }

    hlcf->enable = 1;
    hlcf->api = (ngx_http_handler_pt) cmd->post;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = hlcf->api;

    return NGX_CONF_OK;
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

    /* the web pages: "/" and /pks/submit */
    rc = ngx_hkp_web_handler(r);
    if (rc != NGX_DECLINED) {
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

    if (health || stats) {
        rc = ngx_hkp_args_parse(r, &r->args, &args);
        if (rc != NGX_OK) {
            return ngx_hkp_error(r, rc, "Malformed query string");
        }
        return health ? ngx_hkp_health_handler(r, &args)
                      : ngx_hkp_stats_handler(r, &args);
    }

    return ngx_hkp_lookup_handler(r);
}
