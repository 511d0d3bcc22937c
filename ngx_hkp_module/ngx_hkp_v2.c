/*
 * HKPv2 (draft-ietf-openpgp-hkp-01) in a location with "hkp_v2":
 *
 *   GET  /pks/v2/certs/by-vfingerprint/<vfpr>   binary certificates
 *   GET  /pks/v2/certs/by-keyid/<16 hex>        (never newer than v4)
 *   GET  /pks/v2/certs/by-identity/<identity>   exact user ID, or e-mail
 *   GET  /pks/v2/index/<identity or fingerprint>  JSON index
 *   GET  /pks/v2/prefixlog/<YYYY-MM-DD>         fingerprint prefixes of the
 *                                               keys changed that UTC day
 *   POST /pks/v2/certs                          submission (JSON reply)
 *
 * <vfpr> is the draft's versioned fingerprint, the version octet and the
 * fingerprint in hex in one path component ("04" + 40 hex digits, "06" +
 * 64); Hockeypuck 2.4's form, version and fingerprint as two components
 * ("4/<40 hex>", "6/<64 hex>"), is taken as well. Hex digits are
 * case-insensitive; a fingerprint may be a subkey's.
 *
 * Answers: certificates as Content-Type application/pgp-keys;armor=no
 * (section 7.1), 404 when nothing matches (also for an identifier that
 * cannot name a certificate, e.g. a key ID with 0x), 403 for a lookup
 * category without an identifier, 501 for a category this server does not
 * have (any method, OPTIONS too), 405 for a method a category does not
 * take, OPTIONS 200 with Allow (and Accept on /pks/v2/certs), HEAD the
 * headers of GET. Every answer carries Access-Control-Allow-Origin: *
 * (ngx_hkp_send). Too many or too large results are v1's 400s.
 */
#include "ngx_hkp_v2.h"
#include "bytes.h"


#define NGX_HKP_V2_PREFIX   "/pks/v2/"

#define NGX_HKP_V2_GET_ALLOW   "GET, HEAD, OPTIONS"
#define NGX_HKP_V2_POST_ALLOW  "POST, OPTIONS"


typedef enum {
    NGX_HKP_V2_VFPR = 0,
    NGX_HKP_V2_KEYID,
    NGX_HKP_V2_IDENTITY,
    NGX_HKP_V2_INDEX,
    NGX_HKP_V2_PREFIXLOG,
    NGX_HKP_V2_CERTS
} ngx_hkp_v2_cat_e;


/* the categories, those with a longer name that shares a start first */
static const struct {
    ngx_str_t         name;
    ngx_hkp_v2_cat_e  cat;
} ngx_hkp_v2_cats[] = {
    { ngx_string("certs/by-vfingerprint"), NGX_HKP_V2_VFPR },
    { ngx_string("certs/by-keyid"),        NGX_HKP_V2_KEYID },
    { ngx_string("certs/by-identity"),     NGX_HKP_V2_IDENTITY },
    { ngx_string("certs"),                 NGX_HKP_V2_CERTS },
    { ngx_string("index"),                 NGX_HKP_V2_INDEX },
    { ngx_string("prefixlog"),             NGX_HKP_V2_PREFIXLOG },
};


/* OPTIONS: 200 with Allow (and Accept), and the CORS preflight answer. */
static ngx_int_t
ngx_hkp_v2_options(ngx_http_request_t *r, const char *allow,
    const char *accept)
{
    if (ngx_hkp_add_header(r, "Allow", allow) != NGX_OK
        || (accept && ngx_hkp_add_header(r, "Accept", accept) != NGX_OK)
        || ngx_hkp_add_header(r, "Access-Control-Allow-Methods", allow)
           != NGX_OK
        || ngx_hkp_add_header(r, "Access-Control-Allow-Headers",
                              "Content-Type") != NGX_OK
        || ngx_hkp_add_header(r, "Access-Control-Max-Age", "86400")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_hkp_send(r, NGX_HTTP_OK, NGX_HKP_CT_TEXT, NULL, 0, -1, 0);
}


/*
 * A versioned fingerprint: "04"/"06" + hex in one component, or "4/",
 * "6/" (also "04/", "06/") + hex. NGX_OK with the fingerprint bytes.
 */
static ngx_int_t
ngx_hkp_v2_parse_vfpr(ngx_str_t *s, uint8_t *fpr, size_t *fpr_len)
{
    u_char     *p, *slash, *hex;
    size_t      vlen, hexlen;
    ngx_int_t   version;

    p = s->data;
    slash = ngx_strlchr(p, p + s->len, '/');

    if (slash) {
        vlen = slash - p;
        hex = slash + 1;
        hexlen = s->len - vlen - 1;
        if (vlen == 0 || vlen > 2) {
            return NGX_DECLINED;
        }
        version = ngx_atoi(p, vlen);

    } else {
        if (s->len < 2) {
            return NGX_DECLINED;
        }
        hex = p + 2;
        hexlen = s->len - 2;
        version = (hkp_hexval(p[0]) < 0 || hkp_hexval(p[1]) < 0)
                  ? NGX_ERROR
                  : hkp_hexval(p[0]) * 16 + hkp_hexval(p[1]);
    }

    /* the fingerprint lengths of the key versions stored here */
    if (!((version == 4 && hexlen == 2 * HKP_FPR_V4_LEN)
          || (version == 6 && hexlen == 2 * HKP_FPR_V6_LEN)))
    {
        return NGX_DECLINED;
    }

    *fpr_len = hexlen / 2;
    return ngx_hkp_v2_hex(hex, hexlen, fpr);
}


/* Sends the hits as a binary bundle (404 when there are none). */
static ngx_int_t
ngx_hkp_v2_send_certs(ngx_hkp_lookup_t *lk)
{
    size_t          len;
    ngx_buf_t      *b;
    ngx_chain_t     out;
    const uint8_t  *bin;

    if (lk->nhits == 0) {
        return ngx_hkp_error(lk->r, NGX_HTTP_NOT_FOUND,
                             "No certificates found");
    }

    if (ngx_hkp_v2_within_cap(lk, 0) != NGX_OK) {
        return ngx_hkp_too_much(lk->r, lk->lcf->max_reply);
    }

    /* a copy: the bytes go out as they are, maybe after the txn ended */
    if (ngx_hkp_hits_binary(lk, &bin, &len, 1) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(lk->r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b->pos = (u_char *) bin;
    b->last = (u_char *) bin + len;
    b->memory = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_hkp_send(lk->r, NGX_HTTP_OK, NGX_HKP_CT_V2_CERTS, &out, len,
                        (ngx_int_t) lk->nhits, 0);
}


/* The hits of a certs or index lookup: NGX_OK, or an HTTP status with
 * *reason. */
static ngx_int_t
ngx_hkp_v2_find(ngx_hkp_lookup_t *lk, ngx_hkp_v2_cat_e cat, ngx_str_t *id,
    const char **reason)
{
    size_t     len;
    uint8_t    bytes[HKP_FPR_MAX_LEN];
    ngx_int_t  hex;

    switch (cat) {

    case NGX_HKP_V2_VFPR:
        if (ngx_hkp_v2_parse_vfpr(id, bytes, &len) != NGX_OK) {
            *reason = "Not a versioned fingerprint of a v4 or v6 key: "
                      "04 + 40 or 06 + 64 hex digits";
            return NGX_HTTP_NOT_FOUND;
        }
        return ngx_hkp_v2_find_id(lk, bytes, len, reason);

    case NGX_HKP_V2_KEYID:
        if (id->len != 2 * HKP_KEYID_LEN
            || ngx_hkp_v2_hex(id->data, id->len, bytes) != NGX_OK)
        {
            *reason = "Not a key ID: 16 hex digits, without 0x";
            return NGX_HTTP_NOT_FOUND;
        }
        hex = ngx_hkp_v2_find_id(lk, bytes, HKP_KEYID_LEN, reason);
        if (hex != NGX_OK) {
            return hex;
        }
        /* section 5.1.3: no certificate newer than v4 by key ID */
        ngx_hkp_v2_keep_versions(lk, 4);
        return NGX_OK;

    case NGX_HKP_V2_INDEX:
        /* a fingerprint (bare or versioned), else an identity */
        hex = (id->len == 2 * HKP_FPR_V4_LEN || id->len == 2 * HKP_FPR_V6_LEN)
              ? ngx_hkp_v2_hex(id->data, id->len, bytes) : NGX_DECLINED;
        if (hex == NGX_OK) {
            return ngx_hkp_v2_find_id(lk, bytes, id->len / 2, reason);
        }
        if (ngx_hkp_v2_parse_vfpr(id, bytes, &len) == NGX_OK) {
            return ngx_hkp_v2_find_id(lk, bytes, len, reason);
        }
        return ngx_hkp_v2_find_identity(lk, id, reason);

    default:
        return ngx_hkp_v2_find_identity(lk, id, reason);
    }
}


static ngx_int_t
ngx_hkp_v2_lookup(ngx_http_request_t *r, ngx_hkp_v2_cat_e cat, ngx_str_t *id)
{
    ngx_int_t         rc;
    const char       *reason;
    ngx_hkp_out_t     o;
    ngx_hkp_lookup_t  lk;

    rc = ngx_hkp_v2_begin(r, &lk);
    if (rc != NGX_OK) {
        return ngx_hkp_error(r, rc, "Database not available");
    }

    lk.title = *id;
    reason = "Lookup failed";

    rc = ngx_hkp_v2_find(&lk, cat, id, &reason);
    if (rc != NGX_OK) {
        rc = ngx_hkp_error(r, rc, reason);
        goto done;
    }

    if (cat != NGX_HKP_V2_INDEX) {
        rc = ngx_hkp_v2_send_certs(&lk);
        goto done;
    }

    if (lk.nhits == 0) {
        rc = ngx_hkp_error(r, NGX_HTTP_NOT_FOUND, "No certificates found");
        goto done;
    }

    if (ngx_hkp_v2_within_cap(&lk, 0) != NGX_OK) {
        rc = ngx_hkp_too_much(r, lk.lcf->max_reply);
        goto done;
    }

    ngx_hkp_out_init(&o, r->pool);

    rc = ngx_hkp_v2_index(&lk, &o);
    if (rc == NGX_DECLINED) {
        rc = ngx_hkp_too_much(r, lk.lcf->max_reply);
        goto done;
    }
    if (rc != NGX_OK) {
        rc = ngx_hkp_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                           "Internal error");
        goto done;
    }

    rc = ngx_hkp_send_out(r, NGX_HTTP_OK, NGX_HKP_CT_JSON, &o,
                          (ngx_int_t) lk.nhits, 0);

done:

    ngx_hkp_db_end(lk.db);

    return rc;
}


/* "YYYY-MM-DD" -> days since 1970-01-01 (proleptic Gregorian, UTC);
 * NGX_ERROR when it is not a date. */
static ngx_int_t
ngx_hkp_v2_parse_date(ngx_str_t *s, uint32_t *day)
{
    u_char     *p;
    ngx_int_t   y, m, d, era, yoe, doy, doe, days;
    static const ngx_int_t  mdays[] = {
        31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    p = s->data;

    if (s->len != 10 || p[4] != '-' || p[7] != '-') {
        return NGX_ERROR;
    }

    y = ngx_atoi(p, 4);
    m = ngx_atoi(p + 5, 2);
    d = ngx_atoi(p + 8, 2);

    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1]
        || (m == 2 && d == 29
            && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)))
    {
        return NGX_ERROR;
    }

    /* days from civil: years start in March, so Feb 29 is last */
    if (m <= 2) {
        y--;
    }
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = era * 146097 + doe - 719468;

    *day = (uint32_t) days;
    return NGX_OK;
}


static int
ngx_hkp_v2_prefix_cb(void *ctx, const uint8_t *prefix, size_t len)
{
    u_char         *d;
    size_t          i;
    ngx_hkp_out_t  *o = ctx;
    static u_char   hex[] = "0123456789abcdef";

    d = ngx_hkp_out_reserve(o, 2 * len + 2);
    if (d == NULL) {
        return 1;
    }

    for (i = 0; i < len; i++) {
        *d++ = hex[prefix[i] >> 4];
        *d++ = hex[prefix[i] & 0xf];
    }
    *d++ = '\r';
    *d++ = '\n';

    ngx_hkp_out_commit(o, d);
    return 0;
}


#define NGX_HKP_STR_(x)  #x
#define NGX_HKP_STR(x)   NGX_HKP_STR_(x)

/* The prefix log of a day: one lower-case hex prefix per line (CRLF). */
static ngx_int_t
ngx_hkp_v2_prefixlog(ngx_http_request_t *r, ngx_str_t *date)
{
    int               rc;
    uint32_t          day;
    ngx_int_t         st;
    ngx_hkp_out_t     o;
    ngx_hkp_lookup_t  lk;

    if (ngx_hkp_v2_parse_date(date, &day) != NGX_OK) {
        return ngx_hkp_error(r, NGX_HTTP_BAD_REQUEST,
                             "Not a date: use YYYY-MM-DD (UTC)");
    }

    st = ngx_hkp_v2_begin(r, &lk);
    if (st != NGX_OK) {
        return ngx_hkp_error(r, st, "Database not available");
    }

    ngx_hkp_out_init(&o, r->pool);

    rc = hkp_db_prefixlog_get(&lk.db->db, lk.txn, day, 0,
                              ngx_hkp_v2_prefix_cb, &o);

    ngx_hkp_db_end(lk.db);

    if (rc == 1) {
        return ngx_hkp_error(r, NGX_HTTP_NOT_FOUND,
                             "No prefix log is kept for that day (the last "
                             NGX_HKP_STR(HKP_PREFIXLOG_KEEP_DAYS) " days "
                             "are, unless over "
                             NGX_HKP_STR(HKP_PREFIXLOG_MAX_DAY)
                             " keys changed)");
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "hkp: reading the prefix log of \"%s\" failed: %s",
                      lk.db->path.data, hkp_strerror(rc));
        return ngx_hkp_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "Database error");
    }

    return ngx_hkp_send_out(r, NGX_HTTP_OK, NGX_HKP_CT_TEXT, &o, -1, 0);
}


ngx_int_t
ngx_hkp_v2_handler(ngx_http_request_t *r)
{
    size_t            n;
    ngx_int_t         rc;
    ngx_str_t         rest, id;
    ngx_uint_t        i;
    ngx_hkp_v2_cat_e  cat;

    if (r->uri.len < sizeof(NGX_HKP_V2_PREFIX) - 1
        || ngx_strncmp(r->uri.data, NGX_HKP_V2_PREFIX,
                       sizeof(NGX_HKP_V2_PREFIX) - 1) != 0)
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
        return ngx_hkp_error(r, NGX_HTTP_NOT_FOUND, "Page not found");
    }

    rest.data = r->uri.data + sizeof(NGX_HKP_V2_PREFIX) - 1;
    rest.len = r->uri.len - (sizeof(NGX_HKP_V2_PREFIX) - 1);

    for (i = 0; i < sizeof(ngx_hkp_v2_cats) / sizeof(ngx_hkp_v2_cats[0]);
         i++)
    {
        n = ngx_hkp_v2_cats[i].name.len;
        if (rest.len >= n
            && ngx_strncmp(rest.data, ngx_hkp_v2_cats[i].name.data, n) == 0
            && (rest.len == n || rest.data[n] == '/'))
        {
            break;
        }
    }

    if (i == sizeof(ngx_hkp_v2_cats) / sizeof(ngx_hkp_v2_cats[0])) {
        goto unsupported;
    }

    cat = ngx_hkp_v2_cats[i].cat;
    id.data = rest.data + n + (rest.len > n ? 1 : 0);
    id.len = rest.len - n - (rest.len > n ? 1 : 0);

    if (cat == NGX_HKP_V2_CERTS) {
        /* the submission category; certs/<other> is no category here */
        if (id.len) {
            goto unsupported;
        }

        if (r->method == NGX_HTTP_OPTIONS) {
            rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) {
                return rc;
            }
            return ngx_hkp_v2_options(r, NGX_HKP_V2_POST_ALLOW,
                                      NGX_HKP_V2_ACCEPT);
        }

        if (r->method != NGX_HTTP_POST) {
            return ngx_hkp_not_allowed(r, NGX_HKP_V2_POST_ALLOW);
        }

        return ngx_hkp_v2_submit(r);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_OPTIONS))) {
        return ngx_hkp_not_allowed(r, NGX_HKP_V2_GET_ALLOW);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (r->method == NGX_HTTP_OPTIONS) {
        return ngx_hkp_v2_options(r, NGX_HKP_V2_GET_ALLOW, NULL);
    }

    if (id.len == 0) {
        return ngx_hkp_error(r, NGX_HTTP_FORBIDDEN,
                             "A v2 lookup needs an identifier after the "
                             "category");
    }

    if (id.len > NGX_HKP_V2_MAX_IDENT) {
        return ngx_hkp_error(r, NGX_HTTP_NOT_FOUND, "Identifier too long");
    }

    if (cat == NGX_HKP_V2_PREFIXLOG) {
        return ngx_hkp_v2_prefixlog(r, &id);
    }

    return ngx_hkp_v2_lookup(r, cat, &id);

unsupported:

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_hkp_error(r, NGX_HTTP_NOT_IMPLEMENTED,
                         "Unsupported category: this server has "
                         "certs/by-vfingerprint, certs/by-keyid, "
                         "certs/by-identity, index, prefixlog and certs");
}
