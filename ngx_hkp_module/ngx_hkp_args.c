/*
 * Query-string parsing for /pks/lookup (doc/hkp.md 2.2, 2.3).
 *
 * The string is split on '&', each piece at its first '='. Pieces without
 * '=' and empty pieces are ignored. Only values are percent-decoded ('+'
 * is a space; an invalid escape is kept literally) and then trimmed of
 * spaces. Names and keyword values are matched case-insensitively; the
 * last occurrence of a parameter wins; unknown parameters are ignored.
 */
#include "ngx_hkp_module.h"
#include "bytes.h"


/* Decodes src into dst (at least src->len bytes) and trims spaces. */
static void
ngx_hkp_decode_value(u_char *src, size_t len, ngx_str_t *dst)
{
    u_char     *d, *s, *end;
    ngx_int_t   hi, lo;

    d = dst->data;
    s = src;
    end = src + len;

    while (s < end) {
        if (*s == '+') {
            *d++ = ' ';
            s++;

        } else if (*s == '%' && end - s >= 3
                   && (hi = hkp_hexval(s[1])) >= 0
                   && (lo = hkp_hexval(s[2])) >= 0)
        {
            *d++ = (u_char) (hi * 16 + lo);
            s += 3;

        } else {
            *d++ = *s++;
        }
    }

    s = dst->data;
    while (s < d && (*s == ' ' || *s == '\t')) {
        s++;
    }
    while (d > s && (d[-1] == ' ' || d[-1] == '\t')) {
        d--;
    }

    dst->data = s;
    dst->len = d - s;
}


static ngx_uint_t
ngx_hkp_name_is(u_char *name, size_t len, const char *want)
{
    size_t  n;

    n = ngx_strlen(want);
    return len == n && ngx_strncasecmp(name, (u_char *) want, n) == 0;
}


static ngx_uint_t
ngx_hkp_is_on(ngx_str_t *v)
{
    return v->len == 2 && ngx_strncasecmp(v->data, (u_char *) "on", 2) == 0;
}


/* options: a comma-separated list; "mr" and "json" are recognised. */
static void
ngx_hkp_parse_options(ngx_str_t *v, ngx_hkp_args_t *a)
{
    u_char  *p, *end, *w, *we;

    a->mr = 0;
    a->json = 0;

    p = v->data;
    end = p + v->len;

    while (p < end) {
        w = p;
        while (p < end && *p != ',') {
            p++;
        }
        we = p;
        if (p < end) {
            p++;
        }

        while (w < we && *w == ' ') {
            w++;
        }
        while (we > w && we[-1] == ' ') {
            we--;
        }

        if (ngx_hkp_name_is(w, we - w, "mr")) {
            a->mr = 1;

        } else if (ngx_hkp_name_is(w, we - w, "json")) {
            a->json = 1;
        }
    }
}


ngx_int_t
ngx_hkp_args_parse(ngx_http_request_t *r, ngx_str_t *args, ngx_hkp_args_t *a)
{
    u_char     *p, *end, *piece, *eq, *pend, *buf;
    size_t      nlen;
    ngx_str_t   v;

    ngx_memzero(a, sizeof(ngx_hkp_args_t));

    if (args->len == 0) {
        return NGX_OK;
    }

    /* decoded values are never longer than the raw string */
    buf = ngx_pnalloc(r->pool, args->len);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = args->data;
    end = p + args->len;

    while (p < end) {
        piece = p;
        while (p < end && *p != '&') {
            p++;
        }
        pend = p;
        if (p < end) {
            p++;
        }

        eq = ngx_strlchr(piece, pend, '=');
        if (eq == NULL) {
            continue;
        }

        nlen = eq - piece;

        v.data = buf;
        ngx_hkp_decode_value(eq + 1, pend - eq - 1, &v);
        buf += pend - eq - 1;

        if (ngx_hkp_name_is(piece, nlen, "op")) {
            a->op = v;
            a->has_op = 1;

        } else if (ngx_hkp_name_is(piece, nlen, "search")) {
            a->search = v;
            a->has_search = 1;

        } else if (ngx_hkp_name_is(piece, nlen, "options")) {
            ngx_hkp_parse_options(&v, a);

        } else if (ngx_hkp_name_is(piece, nlen, "fingerprint")) {
            a->fingerprint = ngx_hkp_is_on(&v);

        } else if (ngx_hkp_name_is(piece, nlen, "exact")) {
            a->exact = ngx_hkp_is_on(&v);

        } else if (ngx_hkp_name_is(piece, nlen, "hash")
                   || ngx_hkp_name_is(piece, nlen, "x-hash"))
        {
            a->hash = ngx_hkp_is_on(&v);
        }
    }

    return NGX_OK;
}
