/*
 * Replies: the headers every HKP answer carries (doc/hkp.md 1.3, 1.5 [R]),
 * sending a body with its Content-Length (never chunked, so HTTP/1.0
 * clients such as dirmngr work), error replies (one line of plain text, or
 * an HTML page for a browser: ngx_hkp_web_error.c), and OPTIONS.
 *
 * Every reply, errors included, has:
 *   Access-Control-Allow-Origin: *
 *   Cache-Control: no-cache, Pragma: no-cache, Expires: 0
 * Key downloads add Content-Disposition: attachment; filename=gpgkey.asc,
 * lookups add X-HKP-Results-Count.
 *
 * Errors are sent by the module itself rather than returned as a status to
 * nginx, so that they carry these headers and a one-line reason.
 */
#include "ngx_hkp_module.h"


#define NGX_HKP_TOO_MUCH_FMT                                                 \
    "Too much key material for one answer (over %uz bytes), "              \
    "refine the search"


ngx_int_t
ngx_hkp_add_header(ngx_http_request_t *r, const char *name, const char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);
    h->lowcase_key = NULL;

    return NGX_OK;
}


ngx_int_t
ngx_hkp_common_headers(ngx_http_request_t *r)
{
    if (ngx_hkp_add_header(r, "Access-Control-Allow-Origin", "*") != NGX_OK
        || ngx_hkp_add_header(r, "Cache-Control", "no-cache") != NGX_OK
        || ngx_hkp_add_header(r, "Pragma", "no-cache") != NGX_OK
        || ngx_hkp_add_header(r, "Expires", "0") != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Sends status, headers and body (a chain whose total length is len).
 * count >= 0 adds X-HKP-Results-Count. Returns what the content handler
 * returns.
 */
ngx_int_t
ngx_hkp_send(ngx_http_request_t *r, ngx_uint_t status, const char *ctype,
    ngx_chain_t *body, off_t len, ngx_int_t count, ngx_uint_t attachment)
{
    u_char       *p;
    ngx_int_t     rc;
    ngx_chain_t  *cl;

    if (ngx_hkp_common_headers(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (count >= 0) {
        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 1);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        *ngx_sprintf(p, "%i", count) = '\0';

        if (ngx_hkp_add_header(r, "X-HKP-Results-Count", (char *) p)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (attachment
        && ngx_hkp_add_header(r, "Content-Disposition",
                              "attachment; filename=gpgkey.asc")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_type.data = (u_char *) ctype;
    r->headers_out.content_type.len = ngx_strlen(ctype);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = len;

    if (len == 0 || body == NULL) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    for (cl = body; cl->next; cl = cl->next) { /* void */ }
    cl->buf->last_buf = (r == r->main) ? 1 : 0;
    cl->buf->last_in_chain = 1;

    return ngx_http_output_filter(r, body);
}


ngx_int_t
ngx_hkp_send_out(ngx_http_request_t *r, ngx_uint_t status, const char *ctype,
    ngx_hkp_out_t *o, ngx_int_t count, ngx_uint_t attachment)
{
    if (o->failed) {
        return ngx_hkp_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "Out of memory");
    }

    return ngx_hkp_send(r, status, ctype, o->first, o->len, count,
                        attachment);
}


/*
 * An error: the reason on one line (text/plain), or for a person with a
 * browser an HTML page with the same reason (ngx_hkp_web_error.c decides).
 */
ngx_int_t
ngx_hkp_error(ngx_http_request_t *r, ngx_uint_t status, const char *reason)
{
    size_t        n;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (ngx_hkp_web_for_person(r)) {
        return ngx_hkp_web_error(r, status, reason);
    }

    n = ngx_strlen(reason);

    b = ngx_create_temp_buf(r->pool, n + 1);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, reason, n);
    *b->last++ = '\n';

    out.buf = b;
    out.next = NULL;

    return ngx_hkp_send(r, status, NGX_HKP_CT_TEXT, &out, n + 1, -1, 0);
}


ngx_int_t
ngx_hkp_too_much(ngx_http_request_t *r, size_t max)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, sizeof(NGX_HKP_TOO_MUCH_FMT) + NGX_SIZE_T_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_sprintf(p, NGX_HKP_TOO_MUCH_FMT, max) = '\0';

    return ngx_hkp_error(r, NGX_HTTP_BAD_REQUEST, (const char *) p);
}


/* OPTIONS: 204 with Allow and the CORS preflight answer. */
ngx_int_t
ngx_hkp_options(ngx_http_request_t *r, const char *allow)
{
    if (ngx_hkp_add_header(r, "Allow", allow) != NGX_OK
        || ngx_hkp_add_header(r, "Access-Control-Allow-Methods",
                              "GET, POST, OPTIONS") != NGX_OK
        || ngx_hkp_add_header(r, "Access-Control-Allow-Headers",
                              "Content-Type") != NGX_OK
        || ngx_hkp_add_header(r, "Access-Control-Max-Age", "86400")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_hkp_send(r, NGX_HTTP_NO_CONTENT, NGX_HKP_CT_TEXT, NULL, 0, -1,
                        0);
}


/* 405 Method Not Allowed with Allow; the body (if any) is discarded. */
ngx_int_t
ngx_hkp_not_allowed(ngx_http_request_t *r, const char *allow)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_hkp_add_header(r, "Allow", allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_hkp_error(r, NGX_HTTP_NOT_ALLOWED, "Method not allowed");
}


/*
 * 413 before the body is read: like nginx's own client_max_body_size
 * check, no "100 Continue" is sent (so curl does not send the body), the
 * body is discarded and the connection is not kept alive.
 */
ngx_int_t
ngx_hkp_too_large(ngx_http_request_t *r, const char *reason)
{
    ngx_int_t  rc;

    r->expect_tested = 1;
    r->keepalive = 0;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_hkp_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, reason);
}
