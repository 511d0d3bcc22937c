/*
 * Takedowns on the serving side (shared/store_block.h). A blocked key is
 * deleted from the store, so a lookup never finds it; on the not-found
 * path, a search that names one (its v4/v6 fingerprint, 64-bit or 32-bit
 * key ID, of the primary key or a subkey; op=hget: one of its recon
 * hashes; the v2 and VKS lookups: those, and an e-mail address or
 * identity whose address a deleted key had) answers hkp_blocked_status:
 *   410 (default): "Key blocked by the operator: <public reason>", in the
 *        error format of the endpoint
 *   404: the usual not-found answer, as if the key had never been stored.
 * The private note of a block is never read here. v1 text searches just do
 * not find a blocked key.
 *
 * An environment that was opened before its "blocked" database existed
 * (made by a newer reconsvc since) is looked at again, at most once every
 * NGX_HKP_DB_RETRY seconds, from the request path.
 */
#include "ngx_hkp_module.h"
#include "store_block.h"


#define NGX_HKP_BLOCK_PREFIX  "Key "


ngx_int_t
ngx_hkp_block_named(ngx_hkp_lookup_t *lk, ngx_hkp_block_by_e by,
    const void *name, size_t len, const char **reason)
{
    int              rc;
    u_char          *p;
    char             text[HKP_REASON_LEN];
    hkp_db_t        *db;
    hkp_blockrec_t   rec;

    db = &lk->db->db;

    switch (by) {
    case NGX_HKP_BLOCK_BY_HASH:
        rc = hkp_block_find_hash(db, lk->txn, name, &rec);
        break;
    case NGX_HKP_BLOCK_BY_EMAIL:
        rc = hkp_block_find_email(db, lk->txn, name, len, &rec);
        break;
    default:
        rc = hkp_block_find_id(db, lk->txn, name, len, &rec);
    }

    if (rc == MDB_NOTFOUND) {
        return NGX_DECLINED;
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, lk->r->connection->log, 0,
                      "hkp: reading the blocked keys of \"%s\" failed: %s",
                      lk->db->path.data, hkp_strerror(rc));
        return NGX_DECLINED;
    }

    if (lk->lcf->blocked_status == NGX_HTTP_NOT_FOUND) {
        return NGX_DECLINED;
    }

    hkp_block_reason_str(&rec, text, sizeof(text));

    p = ngx_pnalloc(lk->r->pool,
                    sizeof(NGX_HKP_BLOCK_PREFIX) + ngx_strlen(text));
    if (p == NULL) {
        *reason = "Out of memory";
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_sprintf(p, NGX_HKP_BLOCK_PREFIX "%s", text) = '\0';
    *reason = (const char *) p;

    return NGX_HKP_HTTP_GONE;
}


void
ngx_hkp_block_refresh(ngx_log_t *log, ngx_hkp_db_t *d)
{
    int       rc;
    MDB_txn  *txn;

    if (d->db.have_blocked || ngx_time() - d->block_try < NGX_HKP_DB_RETRY) {
        return;
    }

    d->block_try = ngx_time();

    /* a handle opened in a read txn is kept only when that txn commits;
     * a plain begin (the request's txn is live, so the map is current):
     * a failure just means another try later */
    if (mdb_txn_begin(d->db.env, NULL, MDB_RDONLY, &txn) != 0) {
        return;
    }

    rc = hkp_block_open(&d->db, txn, 0);

    if (rc != 0 || mdb_txn_commit(txn) != 0) {
        if (rc != 0) {
            mdb_txn_abort(txn);
        }
        d->db.have_blocked = 0;
        return;
    }

    if (d->db.have_blocked) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "hkp: database \"%s\": its \"%s\" database is "
                      "available now", d->path.data, HKP_BLOCK_DB);
    }
}
