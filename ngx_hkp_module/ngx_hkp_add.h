/*
 * /pks/add inside the module: the upload task that the request side
 * (ngx_hkp_add.c: body, parsing, reply) hands to the group commit queue
 * (ngx_hkp_add_queue.c), and what the two share.
 */
#ifndef NGX_HKP_ADD_H
#define NGX_HKP_ADD_H

#include "ngx_hkp_module.h"


/* Keys reported per upload; more fail the request (400). */
#define NGX_HKP_ADD_MAX_KEYS     100000
#define NGX_HKP_ADD_REASON_LEN   160

typedef enum {
    NGX_HKP_ADD_NEW = 0,
    NGX_HKP_ADD_MERGED,
    NGX_HKP_ADD_UNCHANGED,
    NGX_HKP_ADD_INVALID
} ngx_hkp_add_outcome_e;


typedef struct {
    size_t              index;
    hkp_key_t          *key;          /* thread only, freed there */
    ngx_uint_t          outcome;
    size_t              fpr_len;      /* 0 = unknown */
    uint8_t             fpr[HKP_FPR_MAX_LEN];
    uint8_t             hash[HKP_HASH_LEN];
    size_t              nremoved;
    uint8_t             removed[4][HKP_HASH_LEN];
    char                reason[NGX_HKP_ADD_REASON_LEN];
} ngx_hkp_add_key_t;


typedef struct ngx_hkp_add_task_s  ngx_hkp_add_task_t;

struct ngx_hkp_add_task_s {
    /* input, set on the event loop */
    hkp_db_t           *db;
    ngx_hkp_db_t       *ndb;          /* its worker state: the map guard */
    hkp_limits_t        limits;
    ngx_hkp_body_t      body;
    u_char             *ctype;
    size_t              ctype_len;

    /* output, set by the thread */
    ngx_uint_t          status;       /* 0 = per-key reply; else an error */
    char                reason[NGX_HKP_ADD_REASON_LEN];
    unsigned            mr:1;         /* options=mr in the form */
    ngx_hkp_add_key_t  *keys;         /* malloc; freed by a pool cleanup */
    size_t              nkeys;
    size_t              cap;
    size_t              count[4];     /* per outcome */

    /* group commit: guarded by ngx_hkp_add_queue.mtx */
    ngx_hkp_add_task_t *next;         /* in the queue */
    size_t              nstore;       /* keys left to store */
    ngx_uint_t          done;         /* committed (or failed) */
};



/* ngx_hkp_add.c */

/* what + reason into buf (NGX_HKP_ADD_REASON_LEN bytes), NUL-terminated */
void ngx_hkp_add_msg(char *buf, const char *what, const char *reason);
/* The upload fails as a whole with `status` and what + reason. */
void ngx_hkp_add_fail(ngx_hkp_add_task_t *t, ngx_uint_t status,
    const char *what, const char *reason);
/* Key k is refused, with reason (copied). */
void ngx_hkp_add_reason(ngx_hkp_add_key_t *k, const char *reason);

/* ngx_hkp_add_queue.c */

/* Stores upload t (t->nstore keys left to store), in a batch with other
 * uploads that are waiting, and returns once t is committed (or failed):
 * every key's outcome is in t->keys, or t->status is set. */
void ngx_hkp_add_commit(ngx_hkp_add_task_t *t);

#endif
