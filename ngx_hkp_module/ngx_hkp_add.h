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

/*
 * The work bound of one upload (issue 13: no body under the limits holds
 * the writer for long). Keys with the same primary key are merged in
 * memory before the store: identical copies for free, at most
 * NGX_HKP_ADD_MAX_FOLD others per key (the rest refused); at most
 * NGX_HKP_ADD_MAX_STORE keys go to the store (the rest refused); the
 * store decodes at most NGX_HKP_ADD_TOUCH_MAX bytes of stored keys to
 * merge into (a key whose stored key does not fit in what is left is
 * refused: HKP_EBUDGET). Measured on this machine (README): decoding and
 * merging into a 4 MB stored key is 70-150 ms, storing a new small key
 * about 60 us, so one upload holds the writer well under a second.
 */
#define NGX_HKP_ADD_MAX_FOLD     8
#define NGX_HKP_ADD_MAX_STORE    2000
#define NGX_HKP_ADD_TOUCH_MAX    ((size_t) 8 * 1024 * 1024)

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
    size_t              fold;         /* merged into keys[fold - 1] before
                                         the store (0: not) */
    size_t              fpr_len;      /* 0 = unknown */
    uint8_t             fpr[HKP_FPR_MAX_LEN];
    uint8_t             hash[HKP_HASH_LEN];
    size_t              nremoved;
    uint8_t             removed[4][HKP_HASH_LEN];
    char                reason[NGX_HKP_ADD_REASON_LEN];
} ngx_hkp_add_key_t;


typedef struct ngx_hkp_add_task_s  ngx_hkp_add_task_t;


/* ---- hook (v2vks): the other upload endpoints, POST /pks/v2/certs and
 * POST /vks/v1/upload (ngx_hkp_v2_submit.c), run this same path with
 * their own key text extraction and reply. NULL members: /pks/add's. ---- */
typedef struct {
    /* pool thread (no pools, no log): the key material (armored or
     * binary) of the body, malloc'd; 0, or -1 with *err */
    int        (*keytext)(const u_char *body, size_t len, u_char **text,
                          size_t *textlen, const char **err);
    /* event loop, after the commit: the reply (what a content handler
     * returns) */
    ngx_int_t  (*reply)(ngx_http_request_t *r, ngx_hkp_add_task_t *t);
} ngx_hkp_add_hooks_t;

struct ngx_hkp_add_task_s {
    /* input, set on the event loop */
    const ngx_hkp_add_hooks_t *hooks; /* NULL: /pks/add */
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

/* The body handler of an upload endpoint with `hooks` (NULL = /pks/add):
 * posts the task, whose reply ends the request. (v2vks hook) */
void ngx_hkp_add_run(ngx_http_request_t *r, const ngx_hkp_add_hooks_t *hooks);

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
