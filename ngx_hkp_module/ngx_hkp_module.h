/*
 * ngx_hkp_module: HKP (OpenPGP keyserver protocol) lookups answered from
 * LMDB inside nginx workers. Declarations shared by the module's files.
 *
 * Files, one concern each:
 *   ngx_hkp_module.c   module, directives and their bounds, configuration
 *                      create/merge, content handler (URI and method
 *                      dispatch)
 *   ngx_hkp_body.c     request bodies of the POST paths: method and size
 *                      checks, the body limit filters (the module's own
 *                      413), the read body as pieces or one buffer
 *   ngx_hkp_db.c       the per-worker LMDB environment and read txn, the
 *                      hkp_db directives, worker init/exit
 *   ngx_hkp_args.c     query-string parsing
 *   ngx_hkp_out.c      response body builder and escaping helpers
 *   ngx_hkp_reply.c    common headers, sending bodies, error replies
 *   ngx_hkp_lookup.c   /pks/lookup: op dispatch, search classification,
 *                      LMDB reads (also the signer names of vindex)
 *   ngx_hkp_get.c      op=get / op=hget bodies (armor, HTML page)
 *   ngx_hkp_index.c    op=index / op=vindex bodies (mr, HTML), the primary
 *                      user ID; no database reads
 *   ngx_hkp_vindex.c   the HTML listing of one key on op=vindex, with the
 *                      components not served marked
 *   ngx_hkp_stats.c    op=stats: what it shows (ngx_hkp_stats.h), and
 *                      ngx_hkp_stats_out.c renders it (HTML and JSON)
 *   ngx_hkp_health.c   /pks/health: 200 only when the database reads,
 *                      503 with the reason; JSON with options=mr
 *   ngx_hkp_metrics.c  /metrics (hkp_metrics): Prometheus text from the
 *                      shared-memory counters and the database
 *   ngx_hkp_metrics_recon.c  its reconsvc samples, from the peers' status
 *                      records (shared/peer.h)
 *   ngx_hkp_add.c      /pks/add: body, key parsing in a thread-pool
 *                      task, per-key reply (HTML or JSON)
 *   ngx_hkp_add_queue.c /pks/add group commit through the writer
 *                      (ngx_hkp_add.h between the two)
 *   ngx_hkp_hashquery.c /pks/hashquery: keys by SKS hash for recon peers
 *   ngx_hkp_serve.c    the serve view of found keys (hkp_serve_policy,
 *                      redactions), for every answer showing key material
 *   ngx_hkp_web.c      the site layout of every HTML page (templates in
 *                      html/, compiled in), the search page "/" and the
 *                      submit page /pks/submit
 *   ngx_hkp_web_error.c error answers for people: HTML or one line
 *   ngx_hkp_web_key.c  the plain key summary of op=vindex pages
 *   ngx_hkp_web_stats.c the op=stats histograms as inline SVG
 *   ngx_hkp_v2*.c, ngx_hkp_vks.c  HKPv2 and VKS (ngx_hkp_v2.h lists them)
 *   ngx_hkp_block.c    takedowns: 410/404 for lookups naming a blocked key
 *                      (the not-found path of ngx_hkp_lookup.c)
 */
#ifndef NGX_HKP_MODULE_H
#define NGX_HKP_MODULE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <lmdb.h>

#if !(NGX_THREADS)
#error ngx_hkp_module needs nginx built with --with-threads
#endif

#include <pthread.h>

#include "hkp_limits.h"
#include "store.h"
#include "writer.h"
#include "key.h"
#include "words.h"
#include "armor.h"


#define NGX_HKP_VERSION     "0.1"
#define NGX_HKP_SOFTWARE    "ngx_hkp"

/* Seconds between attempts to open a database that could not be opened. */
#define NGX_HKP_DB_RETRY    1

/* hkp_vindex_signer_lookups: default and maximum signer keys read to name
 * the signers of one op=vindex page ... */
#define NGX_HKP_DEFAULT_SIGNER_LOOKUPS  100
#define NGX_HKP_MAX_SIGNER_LOOKUPS      1000
/* ... and at most this many bytes of those keys decoded per page (a signer
 * past it is shown without a name, as one past the count is). */
#define NGX_HKP_SIGNER_BYTES            (16 * 1024 * 1024)

/* hkp_max_reply_size: default and range of the largest /pks/lookup answer
 * (op=get, hget, index, vindex); the stored keys are counted before the
 * answer is built, so one lookup holds at most about twice this in a
 * worker (op=get: the joined keys and their armor). */
#define NGX_HKP_DEFAULT_MAX_REPLY       (16 * 1024 * 1024)
#define NGX_HKP_MIN_MAX_REPLY           (4 * 1024)
#define NGX_HKP_MAX_MAX_REPLY           (1024 * 1024 * 1024)

/* 410 Gone (nginx names no constant for it): a blocked key
 * (hkp_blocked_status, ngx_hkp_block.c). */
#define NGX_HKP_HTTP_GONE               410

/* Longest hkp_hostname, hkp_nodename, hkp_contact, hkp_thread_pool. */
#define NGX_HKP_MAX_NAME_LEN            255

/* hkp_db_mapsize range. */
#define NGX_HKP_MIN_MAPSIZE             (1024 * 1024)
#define NGX_HKP_MAX_MAPSIZE             ((uint64_t) 4 << 40)


/* One LMDB environment (one per distinct hkp_db path). Opened per worker. */
typedef struct {
    ngx_str_t            path;        /* absolute, NUL-terminated */
    size_t               mapsize;     /* 0 = HKP_DB_DEFAULT_MAPSIZE */

    /* worker state */
    hkp_db_t             db;
    MDB_txn             *txn;         /* reusable read txn (reset when idle) */
    unsigned             open:1;
    unsigned             active:1;    /* txn is renewed (in use) */
    unsigned             logged:1;    /* the open failure was logged */
    unsigned             write:1;     /* a location accepts keys: open it
                                         read-write (HKP_DB_NOCREATE) */
    unsigned             rdonly:1;    /* opened read-only although write
                                         was wanted (no write permission) */
    time_t               last_try;
    time_t               block_try;   /* last look for its "blocked"
                                         database (ngx_hkp_block.c) */
    char                 err[256];

    /* the map guard (ngx_hkp_db_map.c): event-loop readers and the
     * thread-pool writer share the env */
    pthread_mutex_t      map_mtx;
    pthread_cond_t       map_idle;    /* map_readers fell to 0 */
    ngx_uint_t           map_readers; /* read txns begun or active */
    ngx_uint_t           map_writer;  /* a write txn begun or active */
    ngx_uint_t           map_busy;    /* reads refused: map owed */
    hkp_map_guard_t      guard;       /* for the writer (writer.h) */
} ngx_hkp_db_t;


typedef struct {
    ngx_array_t          dbs;         /* of ngx_hkp_db_t * */
    size_t               mapsize;     /* hkp_db_mapsize */

    /* worker state */
    hkp_words_t         *words;       /* query tokenizer */
    char                 words_err[128];
} ngx_hkp_main_conf_t;


typedef struct {
    ngx_flag_t           enable;      /* hkp on|off (also set by hkp_v2,
                                         hkp_vks) */
    ngx_http_handler_pt  api;         /* hkp_v2/hkp_vks: its handler (this
                                         location only, not merged) */
    ngx_hkp_db_t        *db;          /* hkp_db */
    ngx_uint_t           max_results; /* hkp_max_results */
    ngx_uint_t           max_candidates; /* hkp_max_candidates */
    ngx_str_t            hostname;    /* hkp_hostname */
    ngx_str_t            nodename;    /* hkp_nodename */
    ngx_str_t            contact;     /* hkp_contact */
    ngx_uint_t           recon_port;  /* hkp_recon_port, 0 = not shown */
    ngx_str_t            membership;  /* hkp_membership: reconsvc's peer
                                         file, shown by op=stats; full
                                         path, NUL-terminated; len 0 = none */
    ngx_uint_t           vindex_lookups; /* hkp_vindex_signer_lookups */
    size_t               max_reply;   /* hkp_max_reply_size */
    ngx_flag_t           metrics;     /* hkp_metrics: answers /metrics
                                         (this location only) */
    ngx_uint_t           serve_policy; /* hkp_serve_policy: HKP_SERVE_* */
    ngx_uint_t           serve_certs; /* hkp_serve_certs */
    size_t               serve_max_uat; /* hkp_serve_max_uat */
    ngx_uint_t           blocked_status; /* hkp_blocked_status 410|404 */

    /* /pks/add */
    ngx_flag_t           add;         /* hkp_add on|off */
    off_t                add_max_body; /* hkp_add_max_body */
    hkp_limits_t         limits;      /* hkp_max_key_size, ... */
    ngx_str_t            thread_pool_name; /* hkp_thread_pool */
    ngx_thread_pool_t   *thread_pool;

    /* /pks/hashquery */
    ngx_uint_t           hashquery_max;       /* hkp_hashquery_max */
    size_t               hashquery_max_bytes; /* hkp_hashquery_max_bytes */
} ngx_hkp_loc_conf_t;


/* ---- query arguments (ngx_hkp_args.c) ---- */

typedef struct {
    ngx_str_t            op;          /* decoded; empty = not given */
    ngx_str_t            search;      /* decoded and trimmed */
    unsigned             has_op:1;
    unsigned             has_search:1;
    unsigned             mr:1;        /* options=mr */
    unsigned             json:1;      /* options=json */
    unsigned             fingerprint:1;
    unsigned             exact:1;
    unsigned             hash:1;      /* hash=on / x-hash=on */
} ngx_hkp_args_t;

ngx_int_t ngx_hkp_args_parse(ngx_http_request_t *r, ngx_str_t *args,
    ngx_hkp_args_t *a);


/* ---- response body builder (ngx_hkp_out.c) ---- */

typedef struct {
    ngx_pool_t          *pool;
    ngx_chain_t         *first;
    ngx_chain_t        **last;
    ngx_buf_t           *b;
    off_t                len;
    ngx_uint_t           failed;
} ngx_hkp_out_t;

void ngx_hkp_out_init(ngx_hkp_out_t *o, ngx_pool_t *pool);
u_char *ngx_hkp_out_reserve(ngx_hkp_out_t *o, size_t n);
void ngx_hkp_out_commit(ngx_hkp_out_t *o, u_char *end);
void ngx_hkp_out_add(ngx_hkp_out_t *o, const void *p, size_t n);
#define ngx_hkp_out_str(o, s)  ngx_hkp_out_add(o, s, sizeof(s) - 1)
void ngx_hkp_out_printf(ngx_hkp_out_t *o, const char *fmt, ...);
void ngx_hkp_out_html(ngx_hkp_out_t *o, const u_char *p, size_t n);
void ngx_hkp_out_mr_escape(ngx_hkp_out_t *o, const u_char *p, size_t n);
void ngx_hkp_out_json_str(ngx_hkp_out_t *o, const u_char *p, size_t n);
void ngx_hkp_out_date(ngx_hkp_out_t *o, time_t t);
/* The site layout around an HTML page (ngx_hkp_web.c): everything up to
 * the body (with <h1>title</h1>), and everything after it. */
void ngx_hkp_out_html_head(ngx_hkp_out_t *o, const u_char *title,
    size_t len);
void ngx_hkp_out_html_tail(ngx_hkp_out_t *o);


/* ---- replies (ngx_hkp_reply.c) ---- */

#define NGX_HKP_CT_KEYS   "application/pgp-keys"
#define NGX_HKP_CT_TEXT   "text/plain; charset=utf-8"
#define NGX_HKP_CT_HTML   "text/html; charset=utf-8"
#define NGX_HKP_CT_JSON   "application/json"

ngx_int_t ngx_hkp_add_header(ngx_http_request_t *r, const char *name,
    const char *value);
ngx_int_t ngx_hkp_common_headers(ngx_http_request_t *r);
ngx_int_t ngx_hkp_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *ctype, ngx_chain_t *body, off_t len, ngx_int_t count,
    ngx_uint_t attachment);
ngx_int_t ngx_hkp_send_out(ngx_http_request_t *r, ngx_uint_t status,
    const char *ctype, ngx_hkp_out_t *o, ngx_int_t count,
    ngx_uint_t attachment);
ngx_int_t ngx_hkp_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *reason);
ngx_int_t ngx_hkp_options(ngx_http_request_t *r, const char *allow);
/* 405 with Allow (the request body is discarded). */
ngx_int_t ngx_hkp_not_allowed(ngx_http_request_t *r, const char *allow);
/* 400 "Too much key material for one answer (over max bytes), refine the
 * search": a lookup whose answer would pass hkp_max_reply_size. */
ngx_int_t ngx_hkp_too_much(ngx_http_request_t *r, size_t max);
/* 413 with a reason, without reading the body (as nginx does itself). */
ngx_int_t ngx_hkp_too_large(ngx_http_request_t *r, const char *reason);


/* ---- database (ngx_hkp_db.c) ---- */

ngx_int_t ngx_hkp_db_open_all(ngx_cycle_t *cycle, ngx_hkp_main_conf_t *hmcf);
void ngx_hkp_db_close_all(ngx_cycle_t *cycle, ngx_hkp_main_conf_t *hmcf);
/* NGX_OK with *txn, or an HTTP status (503, 500) after logging. */
ngx_int_t ngx_hkp_db_begin(ngx_http_request_t *r, ngx_hkp_db_t *d,
    MDB_txn **txn);
void ngx_hkp_db_end(ngx_hkp_db_t *d);
/* The hkp_db and hkp_db_mapsize directives. */
/* ngx_hkp_db_map.c */
void ngx_hkp_db_map_init(ngx_hkp_db_t *d);
int ngx_hkp_db_map_read(ngx_hkp_db_t *d, MDB_txn **txn, ngx_uint_t *busy);
void ngx_hkp_db_map_read_end(ngx_hkp_db_t *d);

char *ngx_hkp_db_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_hkp_db_mapsize(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
/* init/exit process hooks: the environments and the query tokenizer. */
ngx_int_t ngx_hkp_db_init_process(ngx_cycle_t *cycle);
void ngx_hkp_db_exit_process(ngx_cycle_t *cycle);


/* ---- lookup (ngx_hkp_lookup.c) ---- */

/* Why a component of an op=vindex listing is not served (ngx_hkp_mark_t). */
typedef enum {
    NGX_HKP_SERVED = 0,
    NGX_HKP_UNSERVED_SELFSIG,   /* no valid self-signature / binding */
    NGX_HKP_UNSERVED_SIZE,      /* a user attribute over hkp_serve_max_uat */
    NGX_HKP_UNSERVED_REVOKED    /* left out of a hard-revoked key */
} ngx_hkp_unserved_e;

/* op=vindex (lk->listing): one per packet of a hit's listing. A primary
 * key, user ID, attribute or subkey says whether it is served and how
 * many of its signatures are not (those are not in the listing); any
 * other packet listed is served. */
typedef struct {
    uint32_t             hidden;      /* signatures not served */
    uint8_t              why;         /* ngx_hkp_unserved_e */
} ngx_hkp_mark_t;

/* One key found by a lookup; val points into the map (valid in the txn),
 * or, after ngx_hkp_serve_hits(), at the served view (pool). */
typedef struct {
    uint8_t              hash[HKP_HASH_LEN];
    MDB_val              val;
    uint32_t             ctime;
    ngx_hkp_mark_t      *marks;       /* op=vindex: NULL when all of val is
                                         served, else one per packet of
                                         val, the listing: the served view
                                         and the components not served */
    size_t               nmarks;
} ngx_hkp_hit_t;

/* A signer named on a vindex page: its 64-bit key ID and primary user ID
 * (uid.len 0: not stored, or not looked up within the bounds). */
typedef struct {
    uint8_t              id[HKP_KEYID_LEN];
    ngx_str_t            uid;
} ngx_hkp_signer_t;

typedef struct {
    ngx_http_request_t  *r;
    ngx_hkp_loc_conf_t  *lcf;
    ngx_hkp_main_conf_t *hmcf;
    ngx_hkp_args_t       args;
    ngx_hkp_db_t        *db;
    MDB_txn             *txn;
    ngx_hkp_hit_t       *hits;
    ngx_uint_t           nhits;
    ngx_str_t            title;       /* what was searched, for HTML titles */
    ngx_hkp_signer_t    *signers;     /* HTML vindex: sorted by id */
    ngx_uint_t           nsigners;
    u_char             **words;       /* a text search's folded words */
    size_t              *wlens;
    ngx_uint_t           nwords;      /* 0: not a text search */
    const char          *dropped;     /* why the serve view dropped a hit */
    ngx_uint_t           listing;     /* op=vindex: ngx_hkp_serve_hits()
                                         keeps the unserved components,
                                         marked (ngx_hkp_hit_t.marks) */
} ngx_hkp_lookup_t;

ngx_int_t ngx_hkp_lookup_handler(ngx_http_request_t *r);
/* The text search of lk->args.search (exact: an e-mail address as a whole
 * mailbox): NGX_OK with *n hashes (request pool), or an HTTP status with
 * *reason. */
ngx_int_t ngx_hkp_find_text(ngx_hkp_lookup_t *lk, hkp_hash_t **hashes,
    size_t *n, const char **reason);
size_t ngx_hkp_search_email(ngx_str_t *s, char *out, size_t outsz);
/* The stored keys of n hashes into lk->hits (newest primary first when
 * sort is set); NGX_OK or an HTTP status. */
ngx_int_t ngx_hkp_fetch_hits(ngx_hkp_lookup_t *lk, hkp_hash_t *hashes,
    size_t n, ngx_uint_t sort);


/* ---- the serve view (ngx_hkp_serve.c) ---- */

/* Replaces each hit's stored key by its served view (request pool), or
 * drops the hit. NGX_OK; NGX_DECLINED when the found keys are too large
 * to examine (the caller answers ngx_hkp_too_much()); or an HTTP status. */
ngx_int_t ngx_hkp_serve_hits(ngx_hkp_lookup_t *lk);
/* The 404 when the serve view dropped every hit: with the reason when
 * `say` (a search by ID or hash), else the plain one (a text search must
 * not tell that a key matched through a user ID that is not served). */
ngx_int_t ngx_hkp_serve_none(ngx_hkp_lookup_t *lk, ngx_uint_t say);
/* Whether user ID v->uids[at] of a stored key may be shown (as a signer's
 * name): not redacted, and under clean self-certified validly. */
ngx_uint_t ngx_hkp_serve_uid_ok(ngx_hkp_lookup_t *lk, const hkp_keyview_t *v,
    size_t at);
/* ---- takedowns (ngx_hkp_block.c) ---- */

typedef enum {
    NGX_HKP_BLOCK_BY_ID = 0,    /* 4, 8, 20 or 32 bytes: key ID, fingerprint */
    NGX_HKP_BLOCK_BY_HASH,      /* a recon hash (HKP_HASH_LEN bytes) */
    NGX_HKP_BLOCK_BY_EMAIL      /* a lower-cased address (hkp_uid_email) */
} ngx_hkp_block_by_e;

/* For a lookup that found nothing: whether `name` (len bytes, of kind by)
 * names a blocked key. NGX_HKP_HTTP_GONE with *reason ("Key blocked by
 * the operator: <public reason>", pool memory) to answer in the error
 * format of the endpoint; NGX_DECLINED when nothing blocked has it, under
 * hkp_blocked_status 404, or when the read failed (logged): the caller
 * answers its own not-found then. */
ngx_int_t ngx_hkp_block_named(ngx_hkp_lookup_t *lk, ngx_hkp_block_by_e by,
    const void *name, size_t len, const char **reason);
/* Looks for the "blocked" database again if the environment had none
 * (ngx_hkp_db_begin). */
void ngx_hkp_block_refresh(ngx_log_t *log, ngx_hkp_db_t *d);


/* ---- op=get / op=hget bodies (ngx_hkp_get.c) ---- */

ngx_int_t ngx_hkp_get_reply(ngx_hkp_lookup_t *lk);
/* The hits' stored packets as one binary run: a single hit in place (in
 * the map: good only while the read txn lives) unless `copy`, otherwise
 * concatenated in request-pool memory. */
ngx_int_t ngx_hkp_hits_binary(ngx_hkp_lookup_t *lk, const uint8_t **bin,
    size_t *len, ngx_uint_t copy);


/* ---- op=index / op=vindex bodies (ngx_hkp_index.c) ---- */

/* The reply; vindex names signers from lk->signers only (no db reads). */
ngx_int_t ngx_hkp_index_reply(ngx_hkp_lookup_t *lk, ngx_uint_t verbose);
/*
 * The user ID shown first (SKS's choice, doc/hkp.md 3.4.4): the index in
 * v->uids, or NGX_DECLINED when the key has no user ID or attribute.
 */
ngx_int_t ngx_hkp_primary_uid(const hkp_keyview_t *v, size_t *at);
/* The newest self-certification of a user ID block (NGX_OK, or
 * NGX_DECLINED without one) and whether the key revoked that user ID no
 * earlier than it. */
ngx_int_t ngx_hkp_uid_state(const hkp_keyview_t *v, const hkp_block_t *b,
    hkp_sig_t *self, ngx_uint_t *revoked);
/* The 64-bit key ID of a signature's issuer (subpacket 16 or 33): 1, or 0
 * when the signature names none. */
ngx_uint_t ngx_hkp_sig_issuer(const hkp_sig_t *sig, uint8_t id[HKP_KEYID_LEN]);

/* One key of an index or vindex reply. */
typedef struct {
    ngx_hkp_lookup_t     *lk;
    ngx_hkp_out_t        *o;
    hkp_keyview_t        *v;
    const hkp_key_t      *key;
    size_t                primary;    /* v->uids index shown first */
    time_t                now;
    const ngx_hkp_mark_t *marks;      /* vindex: the listing's marks (one
                                         per packet of key), or NULL */
} ngx_hkp_index_ctx_t;

/* Absolute key expiry (SKS rule, v3 validity), 0 = none. */
uint32_t ngx_hkp_key_exptime(const hkp_keyview_t *v);
/* The name found for a signer (lk->signers), or NULL. */
ngx_str_t *ngx_hkp_index_signer(ngx_hkp_lookup_t *lk,
    const uint8_t id[HKP_KEYID_LEN]);
/* "\t Fingerprint=XXXX XXXX ..." (v4/v6 only) and "256E/<a>SHORTID</a>
 * date" of a key packet. */
void ngx_hkp_html_fpr(ngx_hkp_out_t *o, const hkp_pubkey_t *pk);
void ngx_hkp_html_keyref(ngx_hkp_out_t *o, const hkp_pubkey_t *pk);

/* ngx_hkp_vindex.c: the key summary and SKS's listing of ctx's key. */
ngx_int_t ngx_hkp_vindex_key(ngx_hkp_index_ctx_t *ctx);
/* Why a component is not served: for a person (subkey: 1 for a subkey),
 * and the word of the machine-readable xuid/xuat/xsub records. */
const char *ngx_hkp_unserved_text(ngx_uint_t why, ngx_uint_t subkey);
const char *ngx_hkp_unserved_word(ngx_uint_t why);


/* ---- op=stats (ngx_hkp_stats.c) ---- */

ngx_int_t ngx_hkp_stats_handler(ngx_http_request_t *r, ngx_hkp_args_t *args);


/* ---- /pks/health (ngx_hkp_health.c) ---- */

ngx_int_t ngx_hkp_health_handler(ngx_http_request_t *r,
    ngx_hkp_args_t *args);


/* ---- /metrics (ngx_hkp_metrics.c) ---- */

/* The hkp_metrics directive. */
char *ngx_hkp_metrics_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
/* postconfiguration: the shared zone and the log-phase counter. */
ngx_int_t ngx_hkp_metrics_init(ngx_conf_t *cf);
/* Keys of one /pks/add by outcome (ngx_hkp_add_outcome_e order). */
void ngx_hkp_metrics_uploads(const size_t count[4]);
/* ngx_hkp_metrics_recon.c: reconsvc's samples, in the caller's read txn. */
void ngx_hkp_metrics_recon(ngx_http_request_t *r, ngx_hkp_out_t *o,
    hkp_db_t *db, MDB_txn *txn);


/* ---- web pages (ngx_hkp_web*.c) ---- */

/* "/" and /pks/submit; NGX_DECLINED for another path. */
ngx_int_t ngx_hkp_web_handler(ngx_http_request_t *r);
/* Whether an error for r is drawn as an HTML page (a browser asking, no
 * machine format): ngx_hkp_web_error.c. */
ngx_uint_t ngx_hkp_web_for_person(ngx_http_request_t *r);
ngx_int_t ngx_hkp_web_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *reason);
/* The plain summary of one key on an op=vindex page: primary user ID,
 * fingerprint, algorithm, dates, status, user IDs and subkeys; `verified`
 * says the served self-signatures were verified (hkp_serve_policy clean). */
void ngx_hkp_web_key(ngx_hkp_out_t *o, const hkp_keyview_t *v,
    size_t primary, time_t now, ngx_uint_t verified);


/* ---- /pks/add (ngx_hkp_add.c), /pks/hashquery (ngx_hkp_hashquery.c) ---- */

ngx_int_t ngx_hkp_add_handler(ngx_http_request_t *r);
ngx_int_t ngx_hkp_hashquery_handler(ngx_http_request_t *r);


/* ---- request bodies of the POST paths (ngx_hkp_body.c) ---- */

/* One piece of a read request body: memory, or a range of the temp file. */
typedef struct {
    const u_char        *mem;
    ngx_fd_t             fd;
    off_t                off;
    size_t               len;
} ngx_hkp_body_seg_t;

typedef struct {
    ngx_hkp_body_seg_t  *segs;
    ngx_uint_t           nsegs;
    size_t               len;
} ngx_hkp_body_t;

/*
 * The start of a POST path: OPTIONS, 405 for other methods, 403 with the
 * reason `forbidden` when it is not NULL, 413 when Content-Length exceeds
 * hkp_add_max_body (without reading the body); else the body is read and
 * `handler` runs once it is in. A chunked body is refused (413) while it
 * is read once it passes hkp_add_max_body.
 */
ngx_int_t ngx_hkp_post(ngx_http_request_t *r, const char *forbidden,
    ngx_http_client_body_handler_pt handler);
/*
 * The pieces of the read body (empty ones left out). NGX_OK, or an HTTP
 * status with *reason: 413 over hkp_add_max_body, 400 for an empty body.
 */
ngx_int_t ngx_hkp_body_pieces(ngx_http_request_t *r, ngx_hkp_body_t *body,
    const char **reason);
/*
 * The body in one malloc'd buffer (the caller frees it), or NULL with
 * *err. Uses no pool and no log, so a pool thread may call it.
 */
u_char *ngx_hkp_body_join(const ngx_hkp_body_t *body, const char **err);
/* postconfiguration: installs the body limit and 413 filters. */
ngx_int_t ngx_hkp_body_init(ngx_conf_t *cf);


extern ngx_module_t  ngx_hkp_module;

#endif
