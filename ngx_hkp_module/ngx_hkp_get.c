/*
 * op=get and op=hget bodies (doc/hkp.md 3.3, 3.5): all matching keys in ONE
 * armored public key block. With options=mr the body is the armor alone
 * (application/pgp-keys, attachment); without it an HTML page with the
 * armor in <pre> (gpg and sq import that as well).
 *
 * The stored value of a key is its binary packets, so a single key is
 * armored straight from the memory map into one exactly-sized buffer.
 * The armored size follows from the stored sizes, so an answer over
 * hkp_max_reply_size is refused (400 with the reason) before any copy.
 */
#include "ngx_hkp_module.h"


#define NGX_HKP_GET_TITLE  "Public Key Server -- Get "


ngx_int_t
ngx_hkp_hits_binary(ngx_hkp_lookup_t *lk, const uint8_t **bin, size_t *len,
    ngx_uint_t copy)
{
    u_char      *p;
    size_t       total;
    ngx_uint_t   i;

    if (lk->nhits == 1 && !copy) {
        *bin = lk->hits[0].val.mv_data;
        *len = lk->hits[0].val.mv_size;
        return NGX_OK;
    }

    total = 0;
    for (i = 0; i < lk->nhits; i++) {
        total += lk->hits[i].val.mv_size;
    }

    p = ngx_pnalloc(lk->r->pool, total ? total : 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *bin = p;
    *len = total;

    for (i = 0; i < lk->nhits; i++) {
        p = ngx_cpymem(p, lk->hits[i].val.mv_data, lk->hits[i].val.mv_size);
    }

    return NGX_OK;
}


ngx_int_t
ngx_hkp_get_reply(ngx_hkp_lookup_t *lk)
{
    u_char              *p;
    size_t               len, alen, tlen;
    ngx_buf_t           *b;
    ngx_uint_t           i;
    ngx_chain_t          out;
    ngx_hkp_out_t        o;
    const uint8_t       *bin;
    ngx_http_request_t  *r;

    r = lk->r;

    /* the armored size is known from the stored sizes: an answer over
     * hkp_max_reply_size is refused before anything is copied */
    len = 0;
    for (i = 0; i < lk->nhits; i++) {
        len += lk->hits[i].val.mv_size;
    }

    alen = hkp_armor_encoded_len(len);

    if (alen > lk->lcf->max_reply) {
        return ngx_hkp_too_much(r, lk->lcf->max_reply);
    }

    if (ngx_hkp_hits_binary(lk, &bin, &len, 0) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (lk->args.mr) {
        b = ngx_create_temp_buf(r->pool, alen);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->last = hkp_armor_encode(bin, len, b->pos);

        out.buf = b;
        out.next = NULL;

        return ngx_hkp_send(r, NGX_HTTP_OK, NGX_HKP_CT_KEYS, &out,
                            b->last - b->pos, lk->nhits, 1);
    }

    ngx_hkp_out_init(&o, r->pool);

    /* Public Key Server -- Get "<search>", in the site layout */
    p = ngx_pnalloc(r->pool,
                    sizeof(NGX_HKP_GET_TITLE "\"\"") + lk->title.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    tlen = ngx_sprintf(p, NGX_HKP_GET_TITLE "\"%V\"", &lk->title) - p;
    ngx_hkp_out_html_head(&o, p, tlen);
    ngx_hkp_out_str(&o, "<pre>\n");

    p = ngx_hkp_out_reserve(&o, alen);
    if (p != NULL) {
        ngx_hkp_out_commit(&o, hkp_armor_encode(bin, len, p));
    }

    ngx_hkp_out_str(&o, "</pre>\n");
    ngx_hkp_out_html_tail(&o);

    /* the page around the armor (its title escaped) may tip it over */
    if ((size_t) o.len > lk->lcf->max_reply) {
        return ngx_hkp_too_much(r, lk->lcf->max_reply);
    }

    return ngx_hkp_send_out(r, NGX_HTTP_OK, NGX_HKP_CT_HTML, &o, lk->nhits,
                            0);
}
