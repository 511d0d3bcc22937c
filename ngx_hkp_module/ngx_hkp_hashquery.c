/*
 * POST /pks/hashquery (hkp.md 6): recon peers fetch keys by SKS hash.
 *
 *   request : u32 count, count x (u32 16, 16-byte hash)   (hashquery.h)
 *   reply   : 200, Content-Type pgp/keys, X-HKP-Results-Count: found,
 *             u32 found, found x (u32 len, stored key bytes), "\r\n"
 *
 * As SKS: keys in reverse request order, unknown hashes left out, the
 * trailing CRLF kept. Repeated hashes are asked once. At most
 * hkp_hashquery_max hashes per request (400 beyond); the reply stops
 * growing at hkp_hashquery_max_bytes (the keys left out are simply not
 * sent, and a peer asks for them again; the first key found is always
 * sent). Bad framing -> 400; a body over hkp_add_max_body -> 413; GET ->
 * 405. The body is small (20 bytes per hash) and is read on the event
 * loop; the keys are copied out of one read txn.
 */
#include "ngx_hkp_module.h"
#include "hashquery.h"


static void ngx_hkp_hashquery_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_hkp_hashquery_run(ngx_http_request_t *r);


ngx_int_t
ngx_hkp_hashquery_handler(ngx_http_request_t *r)
{
    u_char              *p;
    ngx_int_t            rc;
    ngx_hkp_loc_conf_t  *lcf;
    char                 reason[128];

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

    if (r->headers_in.content_length_n > lcf->add_max_body) {
        p = ngx_snprintf((u_char *) reason, sizeof(reason) - 1,
                         "Request body too large (%O > %O bytes)",
                         r->headers_in.content_length_n, lcf->add_max_body);
        *p = '\0';
        return ngx_hkp_too_large(r, reason);
    }

    rc = ngx_http_read_client_request_body(r, ngx_hkp_hashquery_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_hkp_hashquery_body_handler(ngx_http_request_t *r)
{
    ngx_http_finalize_request(r, ngx_hkp_hashquery_run(r));
}


/*
 * The whole request body in one pool buffer (memory buffers and the temp
 * file). NGX_OK, or an HTTP status with *reason.
 */
static ngx_int_t
ngx_hkp_hashquery_body(ngx_http_request_t *r, off_t max, u_char **body,
    size_t *len, const char **reason)
{
    u_char       *p;
    off_t         total;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    *body = NULL;
    *len = 0;

    if (r->request_body == NULL) {
        return NGX_OK;
    }

    total = 0;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        if (b->in_file && b->file) {
            total += b->file_last - b->file_pos;
        } else if (ngx_buf_in_memory(b)) {
            total += b->last - b->pos;
        }
    }

    if (total > max) {
        *reason = "Request body too large";
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    if (total == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, (size_t) total);
    if (p == NULL) {
        *reason = "Out of memory";
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *body = p;
    *len = (size_t) total;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file && b->file) {
            if (b->file_last > b->file_pos) {
                n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                                  b->file_pos);
                if (n != b->file_last - b->file_pos) {
                    *reason = "Cannot read the request body";
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }
                p += n;
            }

        } else if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_hkp_hashquery_run(ngx_http_request_t *r)
{
    int                  rv;
    u_char              *body, *countp, *d;
    size_t               len, n, i, total;
    MDB_txn             *txn;
    MDB_val              val;
    uint32_t             found;
    ngx_int_t            rc;
    const char          *err;
    ngx_hkp_out_t        o;
    ngx_hkp_loc_conf_t  *lcf;
    uint8_t            (*hashes)[HKP_HASHQUERY_HASH_LEN];

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    if (r->connection->error) {
        return NGX_HTTP_CLIENT_CLOSED_REQUEST;
    }

    err = NULL;
    rc = ngx_hkp_hashquery_body(r, lcf->add_max_body, &body, &len, &err);
    if (rc != NGX_OK) {
        return ngx_hkp_error(r, rc, err);
    }

    if (len == 0) {
        return ngx_hkp_error(r, NGX_HTTP_BAD_REQUEST, "Empty request body");
    }

    hashes = NULL;
    n = 0;
    err = NULL;
    if (hkp_hashquery_parse(body, len, lcf->hashquery_max, &hashes, &n, &err)
        != 0)
    {
        return ngx_hkp_error(r, NGX_HTTP_BAD_REQUEST,
                             err ? err : "malformed hashquery request");
    }

    rc = ngx_hkp_db_begin(r, lcf->db, &txn);
    if (rc != NGX_OK) {
        free(hashes);
        return ngx_hkp_error(r, rc, "Database not available");
    }

    ngx_hkp_out_init(&o, r->pool);

    countp = ngx_hkp_out_reserve(&o, 4);
    ngx_hkp_out_commit(&o, countp ? countp + 4 : NULL);

    found = 0;
    total = 4 + 2;

    /* SKS answers in reverse request order */
    for (i = n; i-- > 0; ) {
        rv = hkp_db_get(&lcf->db->db, txn, hashes[i], &val);
        if (rv == 1) {
            continue;
        }
        if (rv != 0) {
            ngx_hkp_db_end(lcf->db);
            free(hashes);
            return ngx_hkp_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "Database error");
        }

        if (val.mv_size > 0xffffffff) {
            continue;
        }

        if (found > 0 && total + 4 + val.mv_size > lcf->hashquery_max_bytes) {
            /* the rest is left out; the peer asks again */
            continue;
        }

        d = ngx_hkp_out_reserve(&o, 4);
        if (d == NULL) {
            break;
        }
        ngx_hkp_out_commit(&o, hkp_hashquery_reply_keyhdr(d,
                                                 (uint32_t) val.mv_size));
        ngx_hkp_out_add(&o, val.mv_data, val.mv_size);

        total += 4 + val.mv_size;
        found++;
    }

    ngx_hkp_db_end(lcf->db);
    free(hashes);

    if (o.failed) {
        return ngx_hkp_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "Out of memory");
    }

    (void) hkp_hashquery_reply_begin(countp, found);

    d = ngx_hkp_out_reserve(&o, 2);
    ngx_hkp_out_commit(&o, d ? hkp_hashquery_reply_end(d) : NULL);

    return ngx_hkp_send_out(r, NGX_HTTP_OK, "pgp/keys", &o, found, 0);
}
