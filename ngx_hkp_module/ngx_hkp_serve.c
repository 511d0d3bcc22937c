/*
 * The serve view of found keys (shared/serve.h): ngx_hkp_serve_hits()
 * replaces each hit's stored key by what hkp_serve_policy,
 * hkp_serve_certs, hkp_serve_max_uat and the redactions of the database
 * allow, in request pool memory, or drops the hit. op=get, hget, index
 * and vindex call it before the reply cap check; /pks/hashquery and recon
 * never do (they need the stored keys).
 *
 * Under "full" a key without redactions is left as it is stored (the
 * same bytes). The signer of a certification is looked up by its 64-bit
 * key ID in the store. At most NGX_HKP_SERVE_MAX_VERIFY signature checks
 * are made for one request; past it every signature that would need a
 * check is taken as not verifying (serve.h), the rest of the answer goes
 * out as it is, and the request logs one warning.
 *
 * A text search found a key through the word index, which holds the words
 * of every stored user ID: when the view leaves out user IDs, the search
 * words are checked again against the served ones, and the hit is dropped
 * when a word is not among them. A key with no user ID to serve (no valid
 * self-signature, or all redacted) is dropped; when none is left the
 * lookup is 404 with that reason (gpg skips a key without a user ID).
 *
 * op=vindex (lk->listing) under clean: a hit becomes its listing instead
 * (ngx_hkp_serve_listing): the served view plus the user IDs, attributes
 * and subkeys that are not served, each marked with why (ngx_hkp_mark_t),
 * their signatures and every unserved signature only counted, so the page
 * stays as small as the served view; redacted user IDs are not listed.
 *
 * The signer names of an HTML vindex page come from other stored keys:
 * ngx_hkp_serve_uid_ok() keeps a redacted user ID (any policy) and, under
 * clean, one without a valid self-certification from being shown there.
 */
#include "ngx_hkp_module.h"
#include "openpgp.h"
#include "serve.h"
#include "sigverify.h"


/* Signature checks for one lookup (cache hits included). */
#define NGX_HKP_SERVE_MAX_VERIFY  10000
/* Under clean, found keys of up to this many times hkp_max_reply_size of
 * stored bytes are examined (their clean views may fit the cap when the
 * stored keys do not); more is refused before anything is copied, as the
 * stored keys over the cap are under full. */
#define NGX_HKP_SERVE_EXAMINE     4


typedef struct {
    ngx_hkp_lookup_t   *lk;
} ngx_hkp_signer_ctx_t;


typedef struct {
    const u_char       *word;
    size_t              len;
    ngx_uint_t          found;
} ngx_hkp_word_check_t;


/* The signer callback of hkp_serve_view: stored key packets with this
 * 64-bit key ID (bodies in the map, valid in the request's txn). */
static int
ngx_hkp_serve_signer(void *data, const uint8_t keyid[HKP_KEYID_LEN],
    hkp_serve_signers_t *out)
{
    ngx_hkp_signer_ctx_t *ctx = data;

    int             rc;
    size_t          n, i, off, consumed;
    uint8_t         hashes[HKP_SERVE_SIGNER_KEYS][HKP_HASH_LEN];
    MDB_val         val;
    hkp_pkt_t       pkt;
    const char     *err;
    hkp_pubkey_t    pk;
    ngx_hkp_lookup_t *lk;

    lk = ctx->lk;
    out->n = 0;

    rc = hkp_db_find_id(&lk->db->db, lk->txn, keyid, HKP_KEYID_LEN, hashes,
                        HKP_SERVE_SIGNER_KEYS, &n);
    if (rc < 0) {
        return -1;
    }

    for (i = 0; i < n && out->n < HKP_SERVE_SIGNER_KEYS; i++) {
        if (hkp_db_get(&lk->db->db, lk->txn, hashes[i], &val) != 0) {
            continue;
        }

        for (off = 0; off < val.mv_size && out->n < HKP_SERVE_SIGNER_KEYS;
             off += consumed)
        {
            if (hkp_pkt_read((const uint8_t *) val.mv_data + off,
                             val.mv_size - off, &pkt, &consumed, &err)
                != 0)
            {
                break;
            }

            if (pkt.tag != HKP_TAG_PUBKEY && pkt.tag != HKP_TAG_PUBSUB) {
                continue;
            }

            if (hkp_pubkey_parse(&pkt, &pk, &err) == 0
                && ngx_memcmp(pk.keyid, keyid, HKP_KEYID_LEN) == 0)
            {
                out->pkts[out->n++] = pkt;
            }
        }
    }

    return out->n ? 0 : 1;
}


/* The stored packets of a hit, pointing into the map. */
static ngx_int_t
ngx_hkp_serve_split(ngx_pool_t *pool, MDB_val *val, hkp_key_t *key)
{
    size_t       off, consumed, n;
    hkp_pkt_t    pkt;
    const char  *err;

    n = 0;
    for (off = 0; off < val->mv_size; off += consumed) {
        if (hkp_pkt_read((const uint8_t *) val->mv_data + off,
                         val->mv_size - off, &pkt, &consumed, &err)
            != 0)
        {
            return NGX_ERROR;
        }
        n++;
    }

    if (n == 0) {
        return NGX_ERROR;
    }

    ngx_memzero(key, sizeof(hkp_key_t));
    key->pkts = ngx_palloc(pool, n * sizeof(hkp_pkt_t));
    if (key->pkts == NULL) {
        return NGX_ERROR;
    }

    for (off = 0; off < val->mv_size; off += consumed) {
        (void) hkp_pkt_read((const uint8_t *) val->mv_data + off,
                            val->mv_size - off, &key->pkts[key->npkts],
                            &consumed, &err);
        key->npkts++;
    }

    return NGX_OK;
}


static int
ngx_hkp_serve_word_cb(void *data, const uint8_t *word, size_t len)
{
    ngx_hkp_word_check_t *wc = data;

    if (len == wc->len && ngx_memcmp(word, wc->word, len) == 0) {
        wc->found = 1;
        return 1;
    }

    return 0;
}


/* Whether every search word is a word (or the mailbox) of a served user
 * ID, as the word index derives them (shared/store_index.c). */
static ngx_uint_t
ngx_hkp_serve_words_ok(ngx_hkp_lookup_t *lk, const hkp_key_t *key,
    const uint8_t *keep)
{
    char                  email[HKP_MAX_WORD_LEN + 1];
    size_t                i, len, elen;
    ngx_uint_t            w;
    const hkp_pkt_t      *p;
    ngx_hkp_word_check_t  wc;

    for (w = 0; w < lk->nwords; w++) {
        wc.word = lk->words[w];
        wc.len = lk->wlens[w];
        wc.found = 0;

        for (i = 0; i < key->npkts && !wc.found; i++) {
            p = &key->pkts[i];
            if (!keep[i] || p->tag != HKP_TAG_UID) {
                continue;
            }

            len = ngx_min(p->len, HKP_MAX_UID_INDEX_LEN);

            (void) hkp_words_split(lk->hmcf->words, p->body, len,
                                   ngx_hkp_serve_word_cb, &wc, NULL);
            if (wc.found) {
                break;
            }

            elen = hkp_uid_email(p->body, len, email, sizeof(email));
            if (elen == wc.len && ngx_memcmp(email, wc.word, elen) == 0) {
                wc.found = 1;
            }
        }

        if (!wc.found) {
            return 0;
        }
    }

    return 1;
}


/* Why component packet p of a key is not served (res: its view). */
static uint8_t
ngx_hkp_serve_why(ngx_hkp_lookup_t *lk, const hkp_pkt_t *p,
    const hkp_serve_result_t *res)
{
    if (res->hard_revoked) {
        return NGX_HKP_UNSERVED_REVOKED;
    }

    if (p->tag == HKP_TAG_UAT && p->len > lk->lcf->serve_max_uat) {
        return NGX_HKP_UNSERVED_SIZE;
    }

    return NGX_HKP_UNSERVED_SELFSIG;
}


/*
 * op=vindex under clean: the hit becomes the listing of key (served
 * packets keep[], view res): the served view plus every component that
 * is not served (without its signatures, only counted), less the redacted
 * user IDs (not in the full view either), with its marks. NGX_OK or
 * NGX_ERROR.
 */
static ngx_int_t
ngx_hkp_serve_listing(ngx_hkp_lookup_t *lk, ngx_hkp_hit_t *hit,
    const hkp_key_t *key, const uint8_t *keep, const hkp_serve_result_t *res,
    const hkp_serve_policy_t *pol, hkp_serve_budget_t *bud)
{
    u_char              *p;
    size_t               i, n, cur, len;
    uint8_t             *list;
    ngx_uint_t           component;
    const char          *err;
    ngx_hkp_mark_t      *m;
    hkp_serve_policy_t   full;
    hkp_serve_result_t   fres;

    list = ngx_pnalloc(lk->r->pool, key->npkts);
    m = ngx_pcalloc(lk->r->pool, key->npkts * sizeof(ngx_hkp_mark_t));
    if (list == NULL || m == NULL) {
        return NGX_ERROR;
    }

    full = *pol;
    full.policy = HKP_SERVE_FULL;

    if (hkp_serve_view(key, &full, bud, list, &fres, &err) != 0) {
        return NGX_ERROR;
    }

    n = 0;
    cur = 0;
    len = 0;

    for (i = 0; i < key->npkts; i++) {
        if (!list[i]) {
            continue;                   /* redacted */
        }

        component = (i == 0 || key->pkts[i].tag == HKP_TAG_UID
                     || key->pkts[i].tag == HKP_TAG_UAT
                     || key->pkts[i].tag == HKP_TAG_PUBSUB);

        if (component) {
            cur = n;
            m[n].why = keep[i] ? NGX_HKP_SERVED
                               : ngx_hkp_serve_why(lk, &key->pkts[i], res);

        } else if (!keep[i]) {
            list[i] = 0;
            m[cur].hidden++;
            continue;
        }

        len += hkp_pkt_encoded_len(&key->pkts[i]);
        n++;
    }

    p = ngx_pnalloc(lk->r->pool, len ? len : 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    hit->val.mv_size = hkp_serve_encode(key, list, p) - p;
    hit->val.mv_data = p;
    hit->marks = m;
    hit->nmarks = n;

    ngx_pfree(lk->r->pool, list);

    return NGX_OK;
}


/* NGX_OK (hit kept, val replaced), NGX_DECLINED (dropped, *why), or
 * NGX_ERROR. */
static ngx_int_t
ngx_hkp_serve_hit(ngx_hkp_lookup_t *lk, ngx_hkp_hit_t *hit,
    hkp_serve_policy_t *pol, hkp_serve_budget_t *bud,
    uint8_t (*digests)[HKP_SERVE_DIGEST_LEN], const char **why)
{
    int                  rc;
    u_char              *p;
    size_t               n, consumed;
    uint8_t             *keep;
    hkp_key_t            key;
    hkp_pkt_t            pkt;
    const char          *err;
    hkp_pubkey_t         pk;
    hkp_serve_result_t   res;

    hit->marks = NULL;
    hit->nmarks = 0;

    /* the primary key's fingerprint names its redactions */
    if (hkp_pkt_read(hit->val.mv_data, hit->val.mv_size, &pkt, &consumed,
                     &err)
        != 0
        || hkp_pubkey_parse(&pkt, &pk, &err) != 0)
    {
        /* (every stored key's primary parses: the index needs it) */
        if (pol->policy == HKP_SERVE_FULL) {
            return NGX_OK;
        }
        *why = "the stored key cannot be read";
        return NGX_DECLINED;
    }

    n = 0;

    if (digests != NULL) {
        rc = hkp_db_redact_get(&lk->db->db, lk->txn, pk.fpr, pk.fpr_len,
                               digests, HKP_REDACT_MAX_PER_KEY, &n);
        if (rc != 0) {
            ngx_log_error(NGX_LOG_ERR, lk->r->connection->log, 0,
                          "hkp: reading redactions from \"%s\" failed: %s",
                          lk->db->path.data, hkp_strerror(rc));
            return NGX_ERROR;
        }
    }

    if (pol->policy == HKP_SERVE_FULL && n == 0) {
        return NGX_OK;
    }

    pol->redacted = (const uint8_t (*)[HKP_SERVE_DIGEST_LEN]) digests;
    pol->nredacted = n;

    if (ngx_hkp_serve_split(lk->r->pool, &hit->val, &key) != NGX_OK) {
        *why = "the stored key cannot be read";
        return NGX_DECLINED;
    }

    keep = ngx_pnalloc(lk->r->pool, key.npkts);
    if (keep == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_OK;

    if (hkp_serve_view(&key, pol, bud, keep, &res, &err) != 0) {
        ngx_log_error(NGX_LOG_WARN, lk->r->connection->log, 0,
                      "hkp: serve view failed: %s", err);
        *why = "the stored key cannot be read";
        rc = NGX_DECLINED;

    } else if (res.no_uid) {
        *why = res.uids_redacted ? "its user IDs are redacted"
                                 : "it has no user ID with a valid "
                                   "self-signature";
        rc = NGX_DECLINED;

    } else if (lk->nwords && res.uids_dropped
               && !ngx_hkp_serve_words_ok(lk, &key, keep))
    {
        *why = "the search matches only user IDs that are not served";
        rc = NGX_DECLINED;

    } else if (!res.unchanged && lk->listing
               && pol->policy != HKP_SERVE_FULL)
    {
        if (ngx_hkp_serve_listing(lk, hit, &key, keep, &res, pol, bud)
            != NGX_OK)
        {
            rc = NGX_ERROR;
        }

    } else if (!res.unchanged) {
        p = ngx_pnalloc(lk->r->pool, res.len ? res.len : 1);
        if (p == NULL) {
            rc = NGX_ERROR;

        } else {
            hit->val.mv_size = hkp_serve_encode(&key, keep, p) - p;
            hit->val.mv_data = p;
        }
    }

    /* large blocks of the pool go back at once: only the views stay */
    ngx_pfree(lk->r->pool, keep);
    ngx_pfree(lk->r->pool, key.pkts);

    return rc;
}


ngx_int_t
ngx_hkp_serve_hits(ngx_hkp_lookup_t *lk)
{
    size_t                stored, limit;
    uint8_t             (*digests)[HKP_SERVE_DIGEST_LEN];
    ngx_int_t             rc;
    ngx_uint_t            i, k;
    const char           *why;
    hkp_serve_budget_t    bud;
    hkp_serve_policy_t    pol;
    ngx_hkp_signer_ctx_t  sctx;

    ngx_memzero(&pol, sizeof(pol));
    pol.policy = (int) lk->lcf->serve_policy;
    pol.max_certs = lk->lcf->serve_certs;
    pol.max_uat = lk->lcf->serve_max_uat;
    pol.signer = ngx_hkp_serve_signer;
    sctx.lk = lk;
    pol.signer_ctx = &sctx;

    ngx_memzero(&bud, sizeof(bud));
    bud.left = NGX_HKP_SERVE_MAX_VERIFY;

    /* the hits still point into the map: nothing is copied yet */
    limit = lk->lcf->max_reply;
    if (pol.policy != HKP_SERVE_FULL) {
        limit *= NGX_HKP_SERVE_EXAMINE;
    }

    for (i = 0, stored = 0; i < lk->nhits; i++) {
        stored += lk->hits[i].val.mv_size;
    }

    if (stored > limit) {
        return NGX_DECLINED;
    }

    /* one buffer for the redactions of each key in turn */
    pol.redacted = NULL;
    digests = NULL;
    if (lk->db->db.have_redact) {
        digests = ngx_palloc(lk->r->pool,
                             HKP_REDACT_MAX_PER_KEY * HKP_SERVE_DIGEST_LEN);
        if (digests == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    lk->dropped = NULL;

    for (i = 0, k = 0; i < lk->nhits; i++) {
        why = NULL;
        rc = ngx_hkp_serve_hit(lk, &lk->hits[i], &pol, &bud, digests, &why);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            lk->dropped = why;
            continue;
        }

        if (k != i) {
            lk->hits[k] = lk->hits[i];
        }
        k++;
    }

    lk->nhits = k;

    if (bud.exhausted) {
        ngx_log_error(NGX_LOG_WARN, lk->r->connection->log, 0,
                      "hkp: lookup \"%V\" spent its %d signature checks: "
                      "signatures past them were not served",
                      &lk->args.search, NGX_HKP_SERVE_MAX_VERIFY);
    }

    return NGX_OK;
}


ngx_int_t
ngx_hkp_serve_none(ngx_hkp_lookup_t *lk, ngx_uint_t say)
{
    u_char  *p;
    size_t   len;

    if (!say || lk->dropped == NULL) {
        return ngx_hkp_error(lk->r, NGX_HTTP_NOT_FOUND, "No keys found");
    }

    len = sizeof("No keys found: the key is not served: ")
          + ngx_strlen(lk->dropped);

    p = ngx_pnalloc(lk->r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_sprintf(p, "No keys found: the key is not served: %s%Z",
                       lk->dropped);

    return ngx_hkp_error(lk->r, NGX_HTTP_NOT_FOUND, (const char *) p);
}


ngx_uint_t
ngx_hkp_serve_uid_ok(ngx_hkp_lookup_t *lk, const hkp_keyview_t *v, size_t at)
{
    size_t              i, checked;
    hkp_sig_t           s;
    const char         *err;
    const hkp_pkt_t    *uid, *sig;
    const hkp_key_t    *key;
    const hkp_block_t  *b;

    key = v->key;
    b = &v->uids[at];
    uid = &key->pkts[b->at];

    if (hkp_db_redact_has(&lk->db->db, lk->txn, v->pk.fpr, v->pk.fpr_len,
                          uid->body, uid->len))
    {
        return 0;
    }

    if (lk->lcf->serve_policy == HKP_SERVE_FULL) {
        return 1;
    }

    /* clean: one of its self-certifications verifies (a bounded number
     * is tried: anyone can add forged ones) */
    for (i = 0, checked = 0; i < b->nsigs && checked < HKP_SERVE_SELFSIGS;
         i++)
    {
        sig = &key->pkts[b->at + 1 + i];

        if (hkp_sig_parse(sig, &s, &err) != 0
            || s.type < HKP_SIGT_CERT_GENERIC
            || s.type > HKP_SIGT_CERT_POSITIVE
            || !s.has_issuer
            || ngx_memcmp(s.issuer, v->pk.keyid, HKP_KEYID_LEN) != 0)
        {
            continue;
        }

        checked++;

        if (hkp_sig_verify(&key->pkts[0], &key->pkts[0], uid, sig)
            == HKP_SIG_OK)
        {
            return 1;
        }
    }

    return 0;
}
