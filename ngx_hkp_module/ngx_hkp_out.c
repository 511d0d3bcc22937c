/*
 * Response body builder: a chain of request-pool buffers that grows as
 * text is appended (no copying, one Content-Length at the end), and the
 * escaping rules of the output formats:
 *   mr index (doc/hkp.md 3.4.1 [R]): '%' -> %25, ':' -> %3A, bytes < 0x20,
 *     0x7F and >= 0x80 -> %XX (upper-case hex), everything else raw;
 *   HTML: & < > " ' as entities; every control character as \xNN (upper-
 *     case hex, as gpg lists them): C0, DEL, and C1 (UTF-8 C2 80 .. C2 9F,
 *     both bytes), so none reaches a page raw;
 *   JSON strings: " \ and control characters escaped, UTF-8 passed on.
 */
#include "ngx_hkp_module.h"


#define NGX_HKP_OUT_CHUNK  4096


void
ngx_hkp_out_init(ngx_hkp_out_t *o, ngx_pool_t *pool)
{
    ngx_memzero(o, sizeof(ngx_hkp_out_t));
    o->pool = pool;
    o->last = &o->first;
}


/* Room for n bytes at the returned pointer; NULL (and o->failed) on ENOMEM. */
u_char *
ngx_hkp_out_reserve(ngx_hkp_out_t *o, size_t n)
{
    size_t        size;
    ngx_chain_t  *cl;

    if (o->failed) {
        return NULL;
    }

    if (o->b && (size_t) (o->b->end - o->b->last) >= n) {
        return o->b->last;
    }

    size = n > NGX_HKP_OUT_CHUNK ? n : NGX_HKP_OUT_CHUNK;
    if (o->len > 4 * NGX_HKP_OUT_CHUNK && size < 4 * NGX_HKP_OUT_CHUNK) {
        size = 4 * NGX_HKP_OUT_CHUNK;
    }

    cl = ngx_alloc_chain_link(o->pool);
    if (cl == NULL) {
        o->failed = 1;
        return NULL;
    }

    cl->buf = ngx_create_temp_buf(o->pool, size);
    if (cl->buf == NULL) {
        o->failed = 1;
        return NULL;
    }

    cl->next = NULL;
    *o->last = cl;
    o->last = &cl->next;
    o->b = cl->buf;

    return o->b->last;
}


void
ngx_hkp_out_commit(ngx_hkp_out_t *o, u_char *end)
{
    if (o->failed || end == NULL) {
        return;
    }
    o->len += end - o->b->last;
    o->b->last = end;
}


void
ngx_hkp_out_add(ngx_hkp_out_t *o, const void *p, size_t n)
{
    u_char  *d;

    if (n == 0) {
        return;
    }

    d = ngx_hkp_out_reserve(o, n);
    if (d == NULL) {
        return;
    }
    ngx_hkp_out_commit(o, ngx_cpymem(d, p, n));
}


/* For bounded output only: numbers, IDs, short literals (< 512 bytes). */
void
ngx_hkp_out_printf(ngx_hkp_out_t *o, const char *fmt, ...)
{
    u_char   *d;
    va_list   ap;

    d = ngx_hkp_out_reserve(o, 512);
    if (d == NULL) {
        return;
    }

    va_start(ap, fmt);
    ngx_hkp_out_commit(o, ngx_vslprintf(d, d + 512, fmt, ap));
    va_end(ap);
}


void
ngx_hkp_out_html(ngx_hkp_out_t *o, const u_char *p, size_t n)
{
    u_char       *d;
    const u_char *end;
    static u_char hex[] = "0123456789ABCDEF";

    end = p + n;

    while (p < end) {
        /* the worst case is 6 bytes ("&quot;") per input byte */
        d = ngx_hkp_out_reserve(o, 6 * ngx_min((size_t) (end - p), 512));
        if (d == NULL) {
            return;
        }

        for (n = 0; n < 512 && p < end; n++, p++) {
            switch (*p) {
            case '&':
                d = ngx_cpymem(d, "&amp;", 5);
                break;
            case '<':
                d = ngx_cpymem(d, "&lt;", 4);
                break;
            case '>':
                d = ngx_cpymem(d, "&gt;", 4);
                break;
            case '"':
                d = ngx_cpymem(d, "&quot;", 6);
                break;
            case '\'':
                d = ngx_cpymem(d, "&#39;", 5);
                break;
            default:
                if (*p < 0x20 || *p == 0x7f
                    || (*p == 0xc2 && p + 1 < end
                        && p[1] >= 0x80 && p[1] <= 0x9f))
                {
                    /* \xNN, as gpg lists them; a C1 control (UTF-8
                     * C2 80 .. C2 9F) as its two bytes */
                    *d++ = '\\';
                    *d++ = 'x';
                    *d++ = hex[*p >> 4];
                    *d++ = hex[*p & 0xf];

                    if (*p == 0xc2) {
                        p++;
                        *d++ = '\\';
                        *d++ = 'x';
                        *d++ = hex[*p >> 4];
                        *d++ = hex[*p & 0xf];
                    }

                } else {
                    *d++ = *p;
                }
            }
        }

        ngx_hkp_out_commit(o, d);
    }
}


void
ngx_hkp_out_mr_escape(ngx_hkp_out_t *o, const u_char *p, size_t n)
{
    u_char       *d;
    const u_char *end;
    static u_char hex[] = "0123456789ABCDEF";

    end = p + n;

    while (p < end) {
        d = ngx_hkp_out_reserve(o, 3 * ngx_min((size_t) (end - p), 512));
        if (d == NULL) {
            return;
        }

        for (n = 0; n < 512 && p < end; n++, p++) {
            if (*p == '%' || *p == ':' || *p < 0x20 || *p >= 0x7f) {
                *d++ = '%';
                *d++ = hex[*p >> 4];
                *d++ = hex[*p & 0xf];
            } else {
                *d++ = *p;
            }
        }

        ngx_hkp_out_commit(o, d);
    }
}


void
ngx_hkp_out_json_str(ngx_hkp_out_t *o, const u_char *p, size_t n)
{
    u_char       *d;
    const u_char *end;
    static u_char hex[] = "0123456789abcdef";

    end = p + n;

    ngx_hkp_out_str(o, "\"");

    while (p < end) {
        d = ngx_hkp_out_reserve(o, 6 * ngx_min((size_t) (end - p), 512));
        if (d == NULL) {
            return;
        }

        for (n = 0; n < 512 && p < end; n++, p++) {
            if (*p == '"' || *p == '\\') {
                *d++ = '\\';
                *d++ = *p;
            } else if (*p < 0x20 || *p == 0x7f) {
                d = ngx_cpymem(d, "\\u00", 4);
                *d++ = hex[*p >> 4];
                *d++ = hex[*p & 0xf];
            } else {
                *d++ = *p;
            }
        }

        ngx_hkp_out_commit(o, d);
    }

    ngx_hkp_out_str(o, "\"");
}


/* YYYY-MM-DD (UTC) */
void
ngx_hkp_out_date(ngx_hkp_out_t *o, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);
    ngx_hkp_out_printf(o, "%04d-%02d-%02d",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday);
}
