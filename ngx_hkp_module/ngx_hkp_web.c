/*
 * Web pages for people with a browser: the site layout every HTML answer
 * of the module is drawn in, the search page at "/" and the submit page at
 * /pks/submit. No external assets and no JavaScript: the style sheet is
 * inlined into each page, the forms are plain GET/POST forms.
 *
 * The templates are the files in html/ (page.html: the layout, style.css,
 * search.html, submit.html), compiled into the .so with .incbin (config
 * defines NGX_HKP_HTML_DIR as their absolute directory and lists them as
 * dependencies, so a changed template rebuilds the module). A template is
 * text with {{name}} slots:
 *
 *   page.html    {{title}} (escaped), {{style}} (style.css), {{software}},
 *                {{body}}: ngx_hkp_out_html_head() draws the layout up to
 *                {{body}}, ngx_hkp_out_html_tail() the rest
 *   search.html  {{search}} (the search= argument, escaped), {{host}} (the
 *                request's Host, escaped)
 *   submit.html  no slots
 *
 * A slot name that is not known is a build mistake: it is left out of the
 * page and logged by nothing (the templates are fixed at build time, and
 * t/48-web.t checks that no "{{" reaches a page).
 */
#include "ngx_hkp_module.h"


/*
 * sym[] .. sym_end[]: the bytes of html/<file>, followed by a NUL byte
 * (not counted). Hidden symbols in .rodata of the .so.
 */
#define NGX_HKP_INCBIN(sym, file)                                            \
    __asm__(".pushsection .rodata\n"                                         \
            ".global " #sym "\n"                                             \
            ".hidden " #sym "\n"                                             \
            ".type " #sym ", @object\n"                                      \
            #sym ":\n"                                                       \
            ".incbin \"" NGX_HKP_HTML_DIR "/" file "\"\n"                    \
            ".global " #sym "_end\n"                                         \
            ".hidden " #sym "_end\n"                                         \
            #sym "_end:\n"                                                   \
            ".byte 0\n"                                                      \
            ".popsection\n");                                                \
    extern const u_char sym[], sym##_end[]

NGX_HKP_INCBIN(ngx_hkp_tpl_page, "page.html");
NGX_HKP_INCBIN(ngx_hkp_tpl_style, "style.css");
NGX_HKP_INCBIN(ngx_hkp_tpl_search, "search.html");
NGX_HKP_INCBIN(ngx_hkp_tpl_submit, "submit.html");

#define ngx_hkp_tpl(sym)  sym, (size_t) (sym##_end - sym)


#define NGX_HKP_WEB_SOFTWARE  NGX_HKP_SOFTWARE " " NGX_HKP_VERSION
#define NGX_HKP_WEB_BODY      "{{body}}"
/* The longest slot name looked for. */
#define NGX_HKP_WEB_MAX_SLOT  32


typedef enum {
    NGX_HKP_WEB_TEXT = 0,         /* escaped for HTML */
    NGX_HKP_WEB_RAW               /* markup, copied */
} ngx_hkp_web_kind_e;

typedef struct {
    const char          *name;
    ngx_hkp_web_kind_e   kind;
    const u_char        *data;
    size_t               len;
} ngx_hkp_web_var_t;


/* Appends tpl[0 .. len) with each {{name}} replaced by its variable. */
static void
ngx_hkp_web_render(ngx_hkp_out_t *o, const u_char *tpl, size_t len,
    const ngx_hkp_web_var_t *vars, ngx_uint_t nvars)
{
    size_t         n;
    ngx_uint_t     i;
    const u_char  *p, *end, *open, *close;

    p = tpl;
    end = tpl + len;

    while (p < end) {
        open = ngx_strlcasestrn((u_char *) p, (u_char *) end,
                                (u_char *) "{{", 2 - 1);
        if (open == NULL) {
            break;
        }

        close = ngx_strlcasestrn((u_char *) open + 2, (u_char *) end,
                                 (u_char *) "}}", 2 - 1);
        if (close == NULL || close - open - 2 > NGX_HKP_WEB_MAX_SLOT) {
            /* not a slot: the braces are text */
            ngx_hkp_out_add(o, p, open + 2 - p);
            p = open + 2;
            continue;
        }

        ngx_hkp_out_add(o, p, open - p);

        n = close - open - 2;

        for (i = 0; i < nvars; i++) {
            if (ngx_strlen(vars[i].name) == n
                && ngx_strncmp(vars[i].name, open + 2, n) == 0)
            {
                if (vars[i].kind == NGX_HKP_WEB_RAW) {
                    ngx_hkp_out_add(o, vars[i].data, vars[i].len);
                } else {
                    ngx_hkp_out_html(o, vars[i].data, vars[i].len);
                }
                break;
            }
        }

        p = close + 2;
    }

    ngx_hkp_out_add(o, p, end - p);
}


/* Where {{body}} starts in the layout (its length if missing). */
static size_t
ngx_hkp_web_body_at(void)
{
    u_char  *at;
    size_t   len;

    len = ngx_hkp_tpl_page_end - ngx_hkp_tpl_page;

    at = ngx_strlcasestrn((u_char *) ngx_hkp_tpl_page,
                          (u_char *) ngx_hkp_tpl_page_end,
                          (u_char *) NGX_HKP_WEB_BODY,
                          sizeof(NGX_HKP_WEB_BODY) - 1 - 1);

    return at ? (size_t) (at - ngx_hkp_tpl_page) : len;
}


/* The layout up to the page body: head, style, navigation, <h1>title. */
void
ngx_hkp_out_html_head(ngx_hkp_out_t *o, const u_char *title, size_t len)
{
    ngx_hkp_web_var_t  vars[3];

    vars[0].name = "title";
    vars[0].kind = NGX_HKP_WEB_TEXT;
    vars[0].data = title;
    vars[0].len = len;

    vars[1].name = "style";
    vars[1].kind = NGX_HKP_WEB_RAW;
    vars[1].data = ngx_hkp_tpl_style;
    vars[1].len = ngx_hkp_tpl_style_end - ngx_hkp_tpl_style;

    vars[2].name = "software";
    vars[2].kind = NGX_HKP_WEB_TEXT;
    vars[2].data = (u_char *) NGX_HKP_WEB_SOFTWARE;
    vars[2].len = sizeof(NGX_HKP_WEB_SOFTWARE) - 1;

    ngx_hkp_web_render(o, ngx_hkp_tpl_page, ngx_hkp_web_body_at(), vars, 3);
}


/* The layout after the page body: footer, end of the document. */
void
ngx_hkp_out_html_tail(ngx_hkp_out_t *o)
{
    size_t             at, len;
    ngx_hkp_web_var_t  var;

    var.name = "software";
    var.kind = NGX_HKP_WEB_TEXT;
    var.data = (u_char *) NGX_HKP_WEB_SOFTWARE;
    var.len = sizeof(NGX_HKP_WEB_SOFTWARE) - 1;

    len = ngx_hkp_tpl_page_end - ngx_hkp_tpl_page;
    at = ngx_hkp_web_body_at();
    at = ngx_min(at + sizeof(NGX_HKP_WEB_BODY) - 1, len);

    ngx_hkp_web_render(o, ngx_hkp_tpl_page + at, len - at, &var, 1);
}


/* The search page: the form, prefilled with search= when it is given. */
static ngx_int_t
ngx_hkp_web_search(ngx_http_request_t *r)
{
    ngx_int_t           rc;
    ngx_str_t           host;
    ngx_hkp_out_t       o;
    ngx_hkp_args_t      args;
    ngx_hkp_web_var_t   vars[2];
    static u_char       title[] = "Search for OpenPGP keys";

    rc = ngx_hkp_args_parse(r, &r->args, &args);
    if (rc != NGX_OK) {
        return ngx_hkp_error(r, rc, "Malformed query string");
    }

    if (r->headers_in.host && r->headers_in.host->value.len) {
        host = r->headers_in.host->value;
    } else {
        ngx_str_set(&host, "this-server");
    }

    vars[0].name = "search";
    vars[0].kind = NGX_HKP_WEB_TEXT;
    vars[0].data = args.search.data;
    vars[0].len = args.has_search ? args.search.len : 0;

    vars[1].name = "host";
    vars[1].kind = NGX_HKP_WEB_TEXT;
    vars[1].data = host.data;
    vars[1].len = ngx_min(host.len, NGX_HKP_MAX_NAME_LEN);

    ngx_hkp_out_init(&o, r->pool);
    ngx_hkp_out_html_head(&o, title, sizeof(title) - 1);
    ngx_hkp_web_render(&o, ngx_hkp_tpl(ngx_hkp_tpl_search), vars, 2);
    ngx_hkp_out_html_tail(&o);

    return ngx_hkp_send_out(r, NGX_HTTP_OK, NGX_HKP_CT_HTML, &o, -1, 0);
}


/* The submit page: a form posting keytext= to /pks/add. */
static ngx_int_t
ngx_hkp_web_submit(ngx_http_request_t *r)
{
    ngx_hkp_out_t        o;
    ngx_hkp_loc_conf_t  *lcf;
    static u_char        title[] = "Submit a public key";

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    ngx_hkp_out_init(&o, r->pool);
    ngx_hkp_out_html_head(&o, title, sizeof(title) - 1);

    if (lcf->add) {
        ngx_hkp_web_render(&o, ngx_hkp_tpl(ngx_hkp_tpl_submit), NULL, 0);

    } else {
        ngx_hkp_out_str(&o, "<p class=\"reason\">This keyserver is a "
                            "read-only mirror: it does not accept keys.</p>\n"
                            "<p><a href=\"/\">Back to the search page</a>"
                            "</p>\n");
    }

    ngx_hkp_out_html_tail(&o);

    return ngx_hkp_send_out(r, NGX_HTTP_OK, NGX_HKP_CT_HTML, &o, -1, 0);
}


/*
 * "/" (the search page) and /pks/submit, GET and HEAD; NGX_DECLINED for
 * any other path.
 */
ngx_int_t
ngx_hkp_web_handler(ngx_http_request_t *r)
{
    ngx_uint_t  search;

    search = (r->uri.len == 1 && r->uri.data[0] == '/');

    if (!search
        && !(r->uri.len == sizeof("/pks/submit") - 1
             && ngx_strncmp(r->uri.data, "/pks/submit",
                            sizeof("/pks/submit") - 1) == 0))
    {
        return NGX_DECLINED;
    }

    if (r->method == NGX_HTTP_OPTIONS) {
        return ngx_hkp_options(r, "GET, HEAD, OPTIONS");
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_hkp_not_allowed(r, "GET, HEAD, OPTIONS");
    }

    return search ? ngx_hkp_web_search(r) : ngx_hkp_web_submit(r);
}
