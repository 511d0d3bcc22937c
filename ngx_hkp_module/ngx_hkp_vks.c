/*
 * The VKS API of keys.openpgp.org (Hagrid's /about/api) in a location with
 * "hkp_vks":
 *
 *   GET  /vks/v1/by-fingerprint/<FPR>   40 or 64 hex digits, no 0x; the
 *                                       primary key's or a subkey's
 *   GET  /vks/v1/by-keyid/<KEYID>       16 hex digits, no 0x
 *   GET  /vks/v1/by-email/<address>     exact address (case-insensitive)
 *   POST /vks/v1/upload                 {"keytext": ...} (ngx_hkp_v2_submit.c)
 *   POST /vks/v1/request-verify         501: this server does not verify
 *                                       e-mail addresses
 *
 * A lookup answers the armored keys (application/pgp-keys), 404 with a
 * plain-text reason when none matches (also for an identifier that cannot
 * name a key). Hagrid asks for upper-case hex; lower case is taken too.
 * Unlike Hagrid, every user ID is served as uploaded, under the serve
 * policy of the v1 lookups (no address is verified, so by-email finds any
 * key that names the address). POST errors are VKS's JSON {"error": ...}.
 */
#include "ngx_hkp_v2.h"


#define NGX_HKP_VKS_PREFIX  "/vks/v1/"

#define NGX_HKP_VKS_NO_VERIFY                                                \
    "This keyserver does not verify e-mail addresses: every key is "        \
    "published as uploaded, and no verification e-mail is sent"


typedef enum {
    NGX_HKP_VKS_FPR = 0,
    NGX_HKP_VKS_KEYID,
    NGX_HKP_VKS_EMAIL
} ngx_hkp_vks_by_e;


static const struct {
    ngx_str_t         name;
    ngx_hkp_vks_by_e  by;
} ngx_hkp_vks_paths[] = {
    { ngx_string("by-fingerprint/"), NGX_HKP_VKS_FPR },
    { ngx_string("by-keyid/"),       NGX_HKP_VKS_KEYID },
    { ngx_string("by-email/"),       NGX_HKP_VKS_EMAIL },
};


/* The armored keys of lk's hits (404 when there are none). */
static ngx_int_t
ngx_hkp_vks_send(ngx_hkp_lookup_t *lk)
{
    size_t          len, alen;
    ngx_buf_t      *b;
    ngx_uint_t      i;
    ngx_chain_t     out;
    const uint8_t  *bin;

    if (lk->nhits == 0) {
        return ngx_hkp_error(lk->r, NGX_HTTP_NOT_FOUND, "No key found");
    }

    /* the armored size follows from the stored sizes: checked first */
    if (ngx_hkp_v2_within_cap(lk, 0) != NGX_OK) {
        return ngx_hkp_too_much(lk->r, lk->lcf->max_reply);
    }

    for (i = 0, len = 0; i < lk->nhits; i++) {
        len += lk->hits[i].val.mv_size;
    }

    alen = hkp_armor_encoded_len(len);
    if (alen > lk->lcf->max_reply) {
        return ngx_hkp_too_much(lk->r, lk->lcf->max_reply);
    }

    if (ngx_hkp_hits_binary(lk, &bin, &len, 0) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_create_temp_buf(lk->r->pool, alen);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b->last = hkp_armor_encode(bin, len, b->pos);

    out.buf = b;
    out.next = NULL;

    return ngx_hkp_send(lk->r, NGX_HTTP_OK, NGX_HKP_CT_KEYS, &out,
                        b->last - b->pos, (ngx_int_t) lk->nhits, 0);
}


static ngx_int_t
ngx_hkp_vks_lookup(ngx_http_request_t *r, ngx_hkp_vks_by_e by, ngx_str_t *id)
{
    ngx_int_t         rc;
    uint8_t           bytes[HKP_FPR_MAX_LEN];
    const char       *reason;
    ngx_hkp_lookup_t  lk;

    /* what cannot name a key is 404 before the database is touched */
    switch (by) {

    case NGX_HKP_VKS_FPR:
        if ((id->len != 2 * HKP_FPR_V4_LEN && id->len != 2 * HKP_FPR_V6_LEN)
            || ngx_hkp_v2_hex(id->data, id->len, bytes) != NGX_OK)
        {
            return ngx_hkp_error(r, NGX_HTTP_NOT_FOUND,
                                 "Not a fingerprint: 40 or 64 hex digits, "
                                 "without 0x");
        }
        break;

    case NGX_HKP_VKS_KEYID:
        if (id->len != 2 * HKP_KEYID_LEN
            || ngx_hkp_v2_hex(id->data, id->len, bytes) != NGX_OK)
        {
            return ngx_hkp_error(r, NGX_HTTP_NOT_FOUND,
                                 "Not a key ID: 16 hex digits, without 0x");
        }
        break;

    default:
        if (id->len == 0 || id->len > NGX_HKP_V2_MAX_IDENT
            || ngx_strlchr(id->data, id->data + id->len, '@') == NULL)
        {
            return ngx_hkp_error(r, NGX_HTTP_NOT_FOUND,
                                 "Not an e-mail address");
        }
    }

    rc = ngx_hkp_v2_begin(r, &lk);
    if (rc != NGX_OK) {
        return ngx_hkp_error(r, rc, "Database not available");
    }

    lk.title = *id;
    reason = "Lookup failed";

    if (by == NGX_HKP_VKS_EMAIL) {
        rc = ngx_hkp_v2_find_identity(&lk, id, &reason);
    } else {
        rc = ngx_hkp_v2_find_id(&lk, bytes, id->len / 2, &reason);
    }

    rc = rc == NGX_OK ? ngx_hkp_vks_send(&lk) : ngx_hkp_error(r, rc, reason);

    ngx_hkp_db_end(lk.db);

    return rc;
}


ngx_int_t
ngx_hkp_vks_handler(ngx_http_request_t *r)
{
    size_t      n;
    ngx_int_t   rc;
    ngx_str_t   rest, id;
    ngx_uint_t  i;

    ngx_str_null(&rest);
    if (r->uri.len >= sizeof(NGX_HKP_VKS_PREFIX) - 1
        && ngx_strncmp(r->uri.data, NGX_HKP_VKS_PREFIX,
                       sizeof(NGX_HKP_VKS_PREFIX) - 1) == 0)
    {
        rest.data = r->uri.data + sizeof(NGX_HKP_VKS_PREFIX) - 1;
        rest.len = r->uri.len - (sizeof(NGX_HKP_VKS_PREFIX) - 1);
    }

#define ngx_hkp_vks_is(s, path)                                              \
    ((s).len == sizeof(path) - 1                                             \
     && ngx_strncmp((s).data, path, sizeof(path) - 1) == 0)

    if (ngx_hkp_vks_is(rest, "upload")) {
        /* OPTIONS and 405 as every POST path (ngx_hkp_post) */
        return ngx_hkp_vks_upload(r);
    }

    if (ngx_hkp_vks_is(rest, "request-verify")) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
        return ngx_hkp_vks_json_error(r, NGX_HTTP_NOT_IMPLEMENTED,
                                      NGX_HKP_VKS_NO_VERIFY);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    for (i = 0; i < sizeof(ngx_hkp_vks_paths) / sizeof(ngx_hkp_vks_paths[0]);
         i++)
    {
        n = ngx_hkp_vks_paths[i].name.len;
        if (rest.len >= n
            && ngx_strncmp(rest.data, ngx_hkp_vks_paths[i].name.data, n)
               == 0)
        {
            break;
        }
    }

    if (i == sizeof(ngx_hkp_vks_paths) / sizeof(ngx_hkp_vks_paths[0])) {
        return ngx_hkp_error(r, NGX_HTTP_NOT_FOUND, "Page not found");
    }

    if (r->method == NGX_HTTP_OPTIONS) {
        return ngx_hkp_options(r, "GET, HEAD, OPTIONS");
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_hkp_not_allowed(r, "GET, HEAD, OPTIONS");
    }

    id.data = rest.data + n;
    id.len = rest.len - n;

    return ngx_hkp_vks_lookup(r, ngx_hkp_vks_paths[i].by, &id);
}
