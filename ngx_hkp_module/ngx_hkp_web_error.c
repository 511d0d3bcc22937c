/*
 * Error answers for people: ngx_hkp_error() asks ngx_hkp_web_for_person()
 * which format a request gets, and draws an HTML page here when the answer
 * is for a browser.
 *
 * A request is answered for a person when all of these hold:
 *   - it asks for no machine format: no options=mr or options=json;
 *   - its path is not one that only programs use: /pks/hashquery (recon
 *     peers), /pks/health (monitors), /pks/v2/..., /vks/... (JSON APIs),
 *     a /metrics location;
 *   - it is from a browser: an Accept header that names text/html or
 *     application/xhtml+xml (browsers send it for pages and forms; gpg,
 *     dirmngr, sq, curl and the tests send none, or * / *).
 * Everything else keeps the one-line text/plain reason that gpg and
 * scripts read. The HTML page has the same status, the same headers and
 * the same reason (its own paragraph), and links back: to the search page
 * (with the search filled in, when there was one), or to the submit page
 * after a failed upload.
 */
#include "ngx_hkp_module.h"


/* Paths (prefixes) that are only for programs. */
static ngx_str_t  ngx_hkp_web_machine_paths[] = {
    ngx_string("/pks/hashquery"),
    ngx_string("/pks/health"),
    ngx_string("/pks/v2"),
    ngx_string("/vks/"),
    ngx_null_string
};


static ngx_uint_t
ngx_hkp_web_accepts_html(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("Accept") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                               sizeof("Accept") - 1) != 0)
        {
            continue;
        }

        if (ngx_strlcasestrn(h[i].value.data,
                             h[i].value.data + h[i].value.len,
                             (u_char *) "text/html",
                             sizeof("text/html") - 1 - 1)
            || ngx_strlcasestrn(h[i].value.data,
                                h[i].value.data + h[i].value.len,
                                (u_char *) "application/xhtml+xml",
                                sizeof("application/xhtml+xml") - 1 - 1))
        {
            return 1;
        }
    }

    return 0;
}


ngx_uint_t
ngx_hkp_web_for_person(ngx_http_request_t *r)
{
    ngx_str_t           *m;
    ngx_hkp_args_t       args;
    ngx_hkp_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);
    if (lcf == NULL || lcf->metrics) {
        return 0;
    }

    for (m = ngx_hkp_web_machine_paths; m->len; m++) {
        if (r->uri.len >= m->len
            && ngx_strncmp(r->uri.data, m->data, m->len) == 0)
        {
            return 0;
        }
    }

    if (!ngx_hkp_web_accepts_html(r)) {
        return 0;
    }

    /* a query string that does not parse says nothing about the format */
    if (ngx_hkp_args_parse(r, &r->args, &args) == NGX_OK
        && (args.mr || args.json))
    {
        return 0;
    }

    return 1;
}


static const char *
ngx_hkp_web_status_text(ngx_uint_t status)
{
    switch (status) {
    case NGX_HTTP_BAD_REQUEST:               return "Bad request";
    case NGX_HTTP_FORBIDDEN:                 return "Forbidden";
    case NGX_HTTP_NOT_FOUND:                 return "Not found";
    case NGX_HTTP_NOT_ALLOWED:               return "Method not allowed";
    case 410:                                return "Gone";
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:  return "Too large";
    case 422:                                return "Not accepted";
    case 429:                                return "Too many requests";
    case NGX_HTTP_INTERNAL_SERVER_ERROR:     return "Server error";
    case NGX_HTTP_NOT_IMPLEMENTED:           return "Not implemented";
    case NGX_HTTP_SERVICE_UNAVAILABLE:       return "Service unavailable";
    default:                                 return "Error";
    }
}


ngx_int_t
ngx_hkp_web_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *reason)
{
    u_char          *title, *p, *q;
    size_t           n;
    ngx_hkp_out_t    o;
    ngx_hkp_args_t   args;

    title = ngx_pnalloc(r->pool, 64);
    if (title == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    p = ngx_snprintf(title, 64, "%s (%ui)", ngx_hkp_web_status_text(status),
                     status);

    ngx_hkp_out_init(&o, r->pool);
    ngx_hkp_out_html_head(&o, title, p - title);

    ngx_hkp_out_str(&o, "<p class=\"reason\" role=\"alert\">");
    ngx_hkp_out_html(&o, (const u_char *) reason, ngx_strlen(reason));
    ngx_hkp_out_str(&o, "</p>\n<p>");

    if (r->uri.len == sizeof("/pks/add") - 1
        && ngx_strncmp(r->uri.data, "/pks/add", sizeof("/pks/add") - 1)
           == 0)
    {
        ngx_hkp_out_str(&o, "<a href=\"/pks/submit\">Back to the submit "
                            "page</a> &middot; ");
    }

    if (ngx_hkp_args_parse(r, &r->args, &args) == NGX_OK
        && args.has_search && args.search.len
        && args.search.len <= HKP_MAX_SEARCH_LEN)
    {
        /* /?search=<the search, escaped as a query value> */
        n = args.search.len
            + 2 * ngx_escape_uri(NULL, args.search.data, args.search.len,
                                 NGX_ESCAPE_ARGS);
        q = ngx_pnalloc(r->pool, n + 1);
        if (q != NULL) {
            (void) ngx_escape_uri(q, args.search.data, args.search.len,
                                  NGX_ESCAPE_ARGS);
            ngx_hkp_out_str(&o, "<a href=\"/?search=");
            ngx_hkp_out_html(&o, q, n);
            ngx_hkp_out_str(&o, "\">Change the search &ldquo;");
            ngx_hkp_out_html(&o, args.search.data, args.search.len);
            ngx_hkp_out_str(&o, "&rdquo;</a> &middot; ");
        }
    }

    ngx_hkp_out_str(&o, "<a href=\"/\">New search</a></p>\n");
    ngx_hkp_out_html_tail(&o);

    if (o.failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_hkp_send(r, status, NGX_HKP_CT_HTML, o.first, o.len, -1, 0);
}
