/*
 * POST /pks/hashquery (doc/hkp.md 6): recon peers fetch keys by SKS hash
 * (the stored key), or by the hash of another profile the database keeps
 * (the form that profile hashes, hkp_db_get_form(): what a peer of that
 * profile stores under the hash it asked for).
 *
 *   request : u32 count, count x (u32 16, 16-byte hash)   (hashquery.h)
 *   reply   : 200, Content-Type pgp/keys, X-HKP-Results-Count: found,
 *             u32 found, found x (u32 len, key bytes), "\r\n"
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
    return ngx_hkp_post(r, NULL, ngx_hkp_hashquery_body_handler);
}


static void
ngx_hkp_hashquery_body_handler(ngx_http_request_t *r)
{
    ngx_http_finalize_request(r, ngx_hkp_hashquery_run(r));
}


static ngx_int_t
ngx_hkp_hashquery_run(ngx_http_request_t *r)
{
    int                  rv;
    u_char              *body, *countp, *d;
    size_t               n, i, total;
    MDB_txn             *txn;
    MDB_val              val;
    uint8_t             *owned;
    uint32_t             found;
    ngx_int_t            rc;
    const char          *err;
    ngx_hkp_out_t        o;
    ngx_hkp_body_t       rb;
    ngx_hkp_loc_conf_t  *lcf;
    hkp_hash_t            *hashes;

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    if (r->connection->error) {
        return NGX_HTTP_CLIENT_CLOSED_REQUEST;
    }

    err = NULL;
    rc = ngx_hkp_body_pieces(r, &rb, &err);
    if (rc != NGX_OK) {
        return ngx_hkp_error(r, rc, err);
    }

    body = ngx_hkp_body_join(&rb, &err);
    if (body == NULL) {
        return ngx_hkp_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR, err);
    }

    hashes = NULL;
    n = 0;
    err = NULL;
    rv = hkp_hashquery_parse(body, rb.len, lcf->hashquery_max, &hashes, &n,
                             &err);
    free(body);
    if (rv != 0) {
        return ngx_hkp_error(r, NGX_HTTP_BAD_REQUEST,
                             err ? err : "malformed hashquery request");
    }

    rc = ngx_hkp_db_begin(r, lcf->db, &txn);
    if (rc != NGX_OK) {
        free(hashes);
        return ngx_hkp_error(r, rc, "Database not available");
    }

    /* a profile reconsvc added since the env was opened (store.h): the
     * next txn sees its tree */
    if (hkp_db_profiles_refresh(&lcf->db->db) == 1) {
        ngx_hkp_db_end(lcf->db);
        rc = ngx_hkp_db_begin(r, lcf->db, &txn);
        if (rc != NGX_OK) {
            free(hashes);
            return ngx_hkp_error(r, rc, "Database not available");
        }
    }

    ngx_hkp_out_init(&o, r->pool);

    countp = ngx_hkp_out_reserve(&o, 4);
    ngx_hkp_out_commit(&o, countp ? countp + 4 : NULL);

    found = 0;
    total = 4 + 2;

    /* SKS answers in reverse request order */
    for (i = n; i-- > 0; ) {
        /* an SKS hash: the stored key; another profile's: the form that
         * profile hashes (store.h) */
        rv = hkp_db_get_form(&lcf->db->db, txn, hashes[i], &val, &owned);
        if (rv == MDB_NOTFOUND) {
            continue;
        }
        if (rv != 0) {
            ngx_hkp_db_end(lcf->db);
            free(hashes);
            return ngx_hkp_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "Database error");
        }

        if (val.mv_size > 0xffffffff
            || (found > 0
                && total + 4 + val.mv_size > lcf->hashquery_max_bytes))
        {
            /* the rest is left out; the peer asks again */
            free(owned);
            continue;
        }

        d = ngx_hkp_out_reserve(&o, 4);
        if (d == NULL) {
            free(owned);
            break;
        }
        ngx_hkp_out_commit(&o, hkp_hashquery_reply_keyhdr(d,
                                                 (uint32_t) val.mv_size));
        ngx_hkp_out_add(&o, val.mv_data, val.mv_size);
        free(owned);

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
