/*
 * HKPv2 (draft-ietf-openpgp-hkp-01) and VKS v1 (keys.openpgp.org's API)
 * inside the module: what their files share.
 *
 *   ngx_hkp_v2.c        /pks/v2/: categories, methods, status codes,
 *                       OPTIONS, certs lookups, prefixlog
 *   ngx_hkp_v2_find.c   the lookups both APIs make (fingerprint, key ID,
 *                       exact identity, e-mail) through the v1 lookup
 *                       machinery, and the binary answer
 *   ngx_hkp_v2_index.c  GET /pks/v2/index/...: the JSON index
 *   ngx_hkp_v2_submit.c POST /pks/v2/certs and POST /vks/v1/upload through
 *                       the /pks/add writer path (ngx_hkp_add.h's hooks)
 *   ngx_hkp_vks.c       /vks/v1/: by-fingerprint, by-keyid, by-email,
 *                       upload, request-verify (501: no e-mail
 *                       verification here)
 */
#ifndef NGX_HKP_V2_H
#define NGX_HKP_V2_H

#include "ngx_hkp_module.h"
#include "json.h"
#include "openpgp.h"


/* The media type of v2 certificate answers (draft section 7.1: binary
 * bundles, never armored). */
#define NGX_HKP_CT_V2_CERTS   "application/pgp-keys;armor=no"
/* What POST /pks/v2/certs takes (OPTIONS answers it as Accept). */
#define NGX_HKP_V2_ACCEPT     "application/pgp-keys;armor=no, " \
                              "application/pgp-keys, multipart/form-data"

/* Longest identifier path component of a v2 or VKS lookup. */
#define NGX_HKP_V2_MAX_IDENT  HKP_MAX_SEARCH_LEN


/* ---- ngx_hkp_v2_find.c ---- */

/* Sets up lk for request r (configuration, database read txn). NGX_OK,
 * or an HTTP status to answer (nothing sent yet). End with
 * ngx_hkp_db_end(lk->db). */
ngx_int_t ngx_hkp_v2_begin(ngx_http_request_t *r, ngx_hkp_lookup_t *lk);

/* Keys whose primary key or a subkey has this fingerprint (20 or 32
 * bytes) or 64-bit key ID (8 bytes) into lk->hits. NGX_OK (maybe no
 * hits) or an HTTP status with *reason. */
ngx_int_t ngx_hkp_v2_find_id(ngx_hkp_lookup_t *lk, const uint8_t *id,
    size_t idlen, const char **reason);

/* Keys with a user ID that is exactly `ident` (ASCII case-insensitive),
 * or, when ident is an e-mail address (bare or in <>), a user ID whose
 * mailbox is that address (case-insensitive). NGX_OK or a status. */
ngx_int_t ngx_hkp_v2_find_identity(ngx_hkp_lookup_t *lk, ngx_str_t *ident,
    const char **reason);

/* Drops the hits whose primary key version is above max_version. */
void ngx_hkp_v2_keep_versions(ngx_hkp_lookup_t *lk, int max_version);

/* NGX_OK when the hits' stored size is within hkp_max_reply_size. */
ngx_int_t ngx_hkp_v2_within_cap(ngx_hkp_lookup_t *lk, size_t extra);

/* Parses exactly len hex digits (either case) into out; NGX_OK or
 * NGX_DECLINED. */
ngx_int_t ngx_hkp_v2_hex(const u_char *p, size_t len, uint8_t *out);

/* hkp_json_t sink writing into an ngx_hkp_out_t. */
void ngx_hkp_v2_json_sink(void *ctx, const void *p, size_t n);


/* ---- ngx_hkp_v2_index.c ---- */

/* The JSON index of lk->hits (hkp_json_t into o): NGX_OK, NGX_DECLINED
 * when it passes hkp_max_reply_size, NGX_ERROR (logged). Sends nothing. */
ngx_int_t ngx_hkp_v2_index(ngx_hkp_lookup_t *lk, ngx_hkp_out_t *o);


/* Whether user ID v->uids[i] is revoked by a self-issued revocation at
 * least as new as its newest self-certification. */
ngx_uint_t ngx_hkp_v2_uid_revoked(const hkp_keyview_t *v, size_t i);


/* ---- ngx_hkp_v2_submit.c ---- */

ngx_int_t ngx_hkp_v2_submit(ngx_http_request_t *r);
ngx_int_t ngx_hkp_vks_upload(ngx_http_request_t *r);
/* {"error": reason} with status: VKS's error answer to a POST. */
ngx_int_t ngx_hkp_vks_json_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *reason);


/* ---- content handlers (hkp_v2, hkp_vks locations) ---- */

ngx_int_t ngx_hkp_v2_handler(ngx_http_request_t *r);
ngx_int_t ngx_hkp_vks_handler(ngx_http_request_t *r);

#endif
