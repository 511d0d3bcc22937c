/*
 * Request bodies of the POST paths (/pks/add, /pks/hashquery): the start
 * of such a request, the body's size limits, and the read body as pieces
 * or as one buffer.
 *
 * Two limits apply to a body, the smaller one first:
 *   client_max_body_size  nginx's own, checked by nginx: against
 *                         Content-Length before the location's handler
 *                         runs, and while a chunked body is read;
 *   hkp_add_max_body      the module's: against Content-Length before the
 *                         body is read (ngx_hkp_body_start), and while a
 *                         chunked body is read (the request body filter
 *                         below), so neither kind of body is stored past
 *                         it.
 * Either way the answer is the module's own 413: a one-line text/plain
 * reason with the headers of every HKP answer (CORS, no-cache). For
 * nginx's check this is done by a header and body filter that replace
 * nginx's HTML 413 page in locations with "hkp on" (an error_page 413 of
 * the operator still wins: nginx then redirects before any 413 is sent).
 */
#include "ngx_hkp_module.h"


/* The module's per-request state, used by the body limit filters only. */
typedef struct {
    off_t                received;    /* body bytes seen by the filter */
    off_t                over;        /* > 0: hkp_add_max_body refused the
                                         body at this limit */
    unsigned             replace:1;   /* nginx's 413 is being replaced */
    unsigned             sent:1;      /* our body of it went out */
    ngx_str_t            reason;
} ngx_hkp_body_ctx_t;


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;
static ngx_http_request_body_filter_pt   ngx_http_next_request_body_filter;


/* "Request body too large (N > M bytes)" or "(more than M bytes)". */
static u_char *
ngx_hkp_body_reason(ngx_pool_t *pool, off_t len, off_t limit, size_t *n)
{
    u_char  *p, *e;
    size_t   size;

    size = sizeof("Request body too large (more than  >  bytes)")
           + 2 * NGX_OFF_T_LEN;

    p = ngx_pnalloc(pool, size);
    if (p == NULL) {
        return NULL;
    }

    if (len > limit) {
        e = ngx_snprintf(p, size - 1, "Request body too large (%O > %O bytes)",
                         len, limit);
    } else {
        e = ngx_snprintf(p, size - 1,
                         "Request body too large (more than %O bytes)",
                         limit);
    }

    *e = '\0';
    *n = e - p;

    return p;
}


ngx_int_t
ngx_hkp_post(ngx_http_request_t *r, const char *forbidden,
    ngx_http_client_body_handler_pt handler)
{
    u_char              *reason;
    size_t               n;
    ngx_int_t            rc;
    ngx_hkp_loc_conf_t  *lcf;

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
        reason = ngx_hkp_body_reason(r->pool, r->headers_in.content_length_n,
                                     lcf->add_max_body, &n);
        if (reason == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return ngx_hkp_too_large(r, (const char *) reason);
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
    size_t               n;
    ngx_buf_t           *b;
    ngx_uint_t           nbufs;
    ngx_chain_t         *cl;
    ngx_hkp_body_seg_t  *seg;
    ngx_hkp_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    ngx_memzero(body, sizeof(ngx_hkp_body_t));

    nbufs = 0;
    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            nbufs++;
        }
    }

    if (nbufs > 0) {
        body->segs = ngx_pcalloc(r->pool,
                                 nbufs * sizeof(ngx_hkp_body_seg_t));
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

    /* the request body filter refuses such a body while it is read: this
     * is the last line of defence */
    if ((off_t) body->len > lcf->add_max_body) {
        p = ngx_hkp_body_reason(r->pool, 0, lcf->add_max_body, &n);
        *reason = p ? (const char *) p : "Request body too large";
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


static ngx_hkp_body_ctx_t *
ngx_hkp_body_ctx(ngx_http_request_t *r)
{
    ngx_hkp_body_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_hkp_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_hkp_body_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_hkp_module);

    return ctx;
}


/*
 * Request body filter: counts the body bytes of a request in an "hkp on"
 * location as they are read and refuses the body (413) once they pass
 * hkp_add_max_body, whatever client_max_body_size allows. Only a chunked
 * body can get here past the limit: a longer Content-Length was refused
 * before reading.
 */
static ngx_int_t
ngx_hkp_request_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t                n;
    ngx_chain_t         *cl;
    ngx_hkp_body_ctx_t  *ctx;
    ngx_hkp_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    if (r != r->main || lcf == NULL || lcf->enable != 1) {
        return ngx_http_next_request_body_filter(r, in);
    }

    n = 0;
    for (cl = in; cl; cl = cl->next) {
        n += ngx_buf_size(cl->buf);
    }

    if (n == 0) {
        return ngx_http_next_request_body_filter(r, in);
    }

    ctx = ngx_hkp_body_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->received += n;

    if (ctx->received > lcf->add_max_body) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "hkp: request body over hkp_add_max_body (%O bytes)",
                      lcf->add_max_body);
        ctx->over = lcf->add_max_body;
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    return ngx_http_next_request_body_filter(r, in);
}


/*
 * Header filter: nginx's own 413 (r->err_status is set only by nginx's
 * special responses; the module's replies set headers_out.status) in an
 * "hkp on" location becomes the module's: text/plain, one line naming the
 * limit, the common HKP headers. The body filter sends that line instead
 * of nginx's HTML page.
 */
static ngx_int_t
ngx_hkp_body_header_filter(ngx_http_request_t *r)
{
    off_t                      limit, len;
    ngx_hkp_body_ctx_t        *ctx;
    ngx_hkp_loc_conf_t        *lcf;
    ngx_http_core_loc_conf_t  *clcf;

    if (r != r->main
        || r->err_status != NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
        || r->headers_out.status != NGX_HTTP_REQUEST_ENTITY_TOO_LARGE)
    {
        return ngx_http_next_header_filter(r);
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);
    if (lcf == NULL || lcf->enable != 1) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_hkp_body_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->over) {
        limit = ctx->over;
        len = 0;

    } else {
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
        limit = clcf->client_max_body_size ? clcf->client_max_body_size
                                           : lcf->add_max_body;
        len = r->headers_in.content_length_n;
    }

    ctx->reason.data = ngx_hkp_body_reason(r->pool, len, limit,
                                           &ctx->reason.len);
    if (ctx->reason.data == NULL) {
        return NGX_ERROR;
    }
    ctx->reason.data[ctx->reason.len++] = '\n';   /* over the NUL */

    if (ngx_hkp_common_headers(r) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->replace = 1;

    r->headers_out.content_type_len = sizeof(NGX_HKP_CT_TEXT) - 1;
    ngx_str_set(&r->headers_out.content_type, NGX_HKP_CT_TEXT);
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = ctx->reason.len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_hkp_body_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t           *b;
    ngx_chain_t         *cl, out;
    ngx_hkp_body_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_hkp_module);

    if (ctx == NULL || !ctx->replace) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's page is dropped */
    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->sent) {
        return NGX_OK;
    }

    ctx->sent = 1;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->reason.data;
    b->last = ctx->reason.data + ctx->reason.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


ngx_int_t
ngx_hkp_body_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_hkp_body_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_hkp_body_body_filter;

    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_hkp_request_body_filter;

    return NGX_OK;
}
