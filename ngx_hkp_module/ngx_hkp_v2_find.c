/*
 * The lookups of HKPv2 and VKS (ngx_hkp_v2.h): by fingerprint or 64-bit
 * key ID (the ID indexes, as v1's 0x searches), by exact identity or
 * e-mail address (the word index as v1's exact=on search finds the
 * candidates, then every candidate's user IDs are compared whole). The
 * keys are fetched by ngx_hkp_fetch_hits(), the v1 machinery, so whatever
 * the v1 lookups apply to found keys applies here: every v2 and VKS answer
 * that returns or describes keys gets its hits from ngx_hkp_v2_hits().
 */
#include "ngx_hkp_v2.h"
#include "bytes.h"


/* ID lookups rarely match more keys than this (stack room first). */
#define NGX_HKP_V2_ID_STACK  16


ngx_int_t
ngx_hkp_v2_begin(ngx_http_request_t *r, ngx_hkp_lookup_t *lk)
{
    ngx_int_t  rc;

    ngx_memzero(lk, sizeof(ngx_hkp_lookup_t));
    lk->r = r;
    lk->lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);
    lk->hmcf = ngx_http_get_module_main_conf(r, ngx_hkp_module);
    lk->db = lk->lcf->db;

    rc = ngx_hkp_db_begin(r, lk->db, &lk->txn);
    if (rc != NGX_OK) {
        return rc;
    }

    return NGX_OK;
}


/* The one place the v2 and VKS lookups turn found hashes into hits: the
 * stored keys, then their served views (ngx_hkp_serve_hits(), the serve
 * policy of the v1 lookups). NGX_OK or an HTTP status with *reason. */
static ngx_int_t
ngx_hkp_v2_hits(ngx_hkp_lookup_t *lk, hkp_hash_t *hashes, size_t n,
    ngx_uint_t sort, const char **reason)
{
    ngx_int_t  rc;

    rc = ngx_hkp_fetch_hits(lk, hashes, n, sort);
    if (rc != NGX_OK) {
        *reason = "Database error";
        return rc;
    }

    rc = ngx_hkp_serve_hits(lk);
    if (rc == NGX_DECLINED) {
        *reason = "Too much key material for one answer, refine the search";
        return NGX_HTTP_BAD_REQUEST;
    }
    if (rc != NGX_OK) {
        *reason = "Internal error";
    }

    return rc;
}


ngx_int_t
ngx_hkp_v2_find_id(ngx_hkp_lookup_t *lk, const uint8_t *id, size_t idlen,
    const char **reason)
{
    int          rc;
    size_t       n, max;
    ngx_int_t    st;
    hkp_hash_t   stack[NGX_HKP_V2_ID_STACK];
    hkp_hash_t  *hashes;

    max = lk->lcf->max_results;
    hashes = stack;

    rc = hkp_db_find_id(&lk->db->db, lk->txn, id, idlen, hashes,
                        NGX_HKP_V2_ID_STACK, &n);

    if (rc == HKP_EMORE && max > NGX_HKP_V2_ID_STACK) {
        hashes = ngx_palloc(lk->r->pool, max * HKP_HASH_LEN);
        if (hashes == NULL) {
            *reason = "Out of memory";
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        rc = hkp_db_find_id(&lk->db->db, lk->txn, id, idlen, hashes, max,
                            &n);
    }

    if (rc == 0 && n > max) {
        rc = HKP_EMORE;
    }

    if (rc == HKP_EMORE) {
        *reason = "Too many responses, refine the search";
        return NGX_HTTP_BAD_REQUEST;
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, lk->r->connection->log, 0,
                      "hkp: ID lookup in \"%s\" failed", lk->db->path.data);
        *reason = "Database error";
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* takedown: nothing stored, but a blocked key had this ID */
    if (n == 0) {
        st = ngx_hkp_block_named(lk, NGX_HKP_BLOCK_BY_ID, id, idlen,
                                 reason);
        if (st != NGX_DECLINED) {
            return st;
        }
    }

    return ngx_hkp_v2_hits(lk, hashes, n, 0, reason);
}


/* Whether the stored key val has a user ID matching: its mailbox equals
 * email (when email is set), else its whole text equals ident, ASCII
 * case-insensitively. */
static ngx_uint_t
ngx_hkp_v2_key_has(const MDB_val *val, ngx_str_t *ident, const char *email,
    size_t elen, char *buf, size_t bufsz)
{
    size_t          off, consumed;
    hkp_pkt_t       pkt;
    const char     *err;
    const uint8_t  *data = val->mv_data;

    for (off = 0; off < val->mv_size; off += consumed) {
        if (hkp_pkt_read(data + off, val->mv_size - off, &pkt, &consumed,
                         &err)
            != 0)
        {
            break;
        }

        if (pkt.tag != HKP_TAG_UID) {
            continue;
        }

        if (elen) {
            if (hkp_uid_email(pkt.body, pkt.len, buf, bufsz) == elen
                && ngx_memcmp(buf, email, elen) == 0)
            {
                return 1;
            }

        } else if (pkt.len == ident->len
                   && ngx_strncasecmp((u_char *) pkt.body, ident->data,
                                      ident->len)
                      == 0)
        {
            return 1;
        }
    }

    return 0;
}


ngx_int_t
ngx_hkp_v2_find_identity(ngx_hkp_lookup_t *lk, ngx_str_t *ident,
    const char **reason)
{
    char        *email, *buf;
    size_t       n, elen;
    ngx_int_t    st;
    ngx_uint_t   i, k;
    hkp_hash_t  *hashes;

    if (ident->len == 0 || ident->len > NGX_HKP_V2_MAX_IDENT) {
        *reason = "The identity is empty or too long";
        return NGX_HTTP_NOT_FOUND;
    }

    email = ngx_pnalloc(lk->r->pool, HKP_MAX_WORD_LEN + 1);
    buf = ngx_pnalloc(lk->r->pool, HKP_MAX_WORD_LEN + 1);
    if (email == NULL || buf == NULL) {
        *reason = "Out of memory";
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    elen = ngx_hkp_search_email(ident, email, HKP_MAX_WORD_LEN + 1);

    /* the candidates: v1's search, as exact=on for an address */
    lk->args.search = *ident;
    lk->args.exact = elen ? 1 : 0;

    st = ngx_hkp_find_text(lk, &hashes, &n, reason);
    if (st != NGX_OK) {
        return st;
    }

    st = ngx_hkp_v2_hits(lk, hashes, n, 1, reason);
    if (st != NGX_OK) {
        return st;
    }

    for (i = 0, k = 0; i < lk->nhits; i++) {
        if (ngx_hkp_v2_key_has(&lk->hits[i].val, ident, email, elen, buf,
                               HKP_MAX_WORD_LEN + 1))
        {
            lk->hits[k++] = lk->hits[i];
        }
    }
    lk->nhits = k;

    /* takedown: no stored key has it, but a blocked key had the address
     * (a blocked key is deleted, so it never is among the hits) */
    if (k == 0) {
        if (elen == 0) {
            elen = hkp_uid_email(ident->data, ident->len, email,
                                 HKP_MAX_WORD_LEN + 1);
        }
        st = elen ? ngx_hkp_block_named(lk, NGX_HKP_BLOCK_BY_EMAIL, email,
                                       elen, reason)
                  : NGX_DECLINED;
        if (st != NGX_DECLINED) {
            return st;
        }
    }

    return NGX_OK;
}


void
ngx_hkp_v2_keep_versions(ngx_hkp_lookup_t *lk, int max_version)
{
    size_t        consumed;
    hkp_pkt_t     pkt;
    ngx_uint_t    i, k;
    const char   *err;
    hkp_pubkey_t  pk;

    for (i = 0, k = 0; i < lk->nhits; i++) {
        if (hkp_pkt_read(lk->hits[i].val.mv_data, lk->hits[i].val.mv_size,
                         &pkt, &consumed, &err)
               == 0
            && hkp_pubkey_parse(&pkt, &pk, &err) == 0
            && pk.version <= max_version)
        {
            lk->hits[k++] = lk->hits[i];
        }
    }
    lk->nhits = k;
}


ngx_int_t
ngx_hkp_v2_within_cap(ngx_hkp_lookup_t *lk, size_t extra)
{
    size_t      stored;
    ngx_uint_t  i;

    stored = extra;
    for (i = 0; i < lk->nhits; i++) {
        stored += lk->hits[i].val.mv_size;
    }

    return stored > lk->lcf->max_reply ? NGX_DECLINED : NGX_OK;
}


ngx_int_t
ngx_hkp_v2_hex(const u_char *p, size_t len, uint8_t *out)
{
    size_t     i;
    ngx_int_t  hi, lo;

    if (len % 2) {
        return NGX_DECLINED;
    }

    for (i = 0; i < len; i += 2) {
        hi = hkp_hexval(p[i]);
        lo = hkp_hexval(p[i + 1]);
        if (hi < 0 || lo < 0) {
            return NGX_DECLINED;
        }
        out[i / 2] = (uint8_t) (hi << 4 | lo);
    }

    return NGX_OK;
}


void
ngx_hkp_v2_json_sink(void *ctx, const void *p, size_t n)
{
    ngx_hkp_out_add(ctx, p, n);
}
