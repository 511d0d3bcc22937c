/*
 * op=index and op=vindex bodies (doc/hkp.md 3.4).
 *
 * Machine-readable (options=mr, text/plain, LF line endings):
 *
 *   info:1:<number of pub records>
 *   pub:<fpr>:<algo>:<bits>:<ctime>:<exptime>:<flags>
 *   uid:<escaped user ID>:<ctime>:<exptime>:<flags>
 *   uat:::::
 *
 *   fpr      40 hex digits (v4), 64 (v6), or the 16-digit key ID (v3)
 *   exptime  absolute key expiry from the newest user-ID self-certification
 *            (SKS rule), empty if none
 *   flags    r  a revocation signature sits directly on the primary key
 *               (SKS rule; not verified)
 *            e  exptime is in the past (SKS never says so; gpg shows such a
 *               key as expired either way)
 *   uid ctime/exptime: creation and signature expiry of the newest
 *            self-certification; uid flag r when the primary key revoked
 *            that user ID (0x30) no earlier than its newest self-cert.
 *   Escaping: '%', ':', bytes < 0x20, 0x7F and >= 0x80 as %XX.
 *
 * HTML (index and vindex) follows SKS's layout loosely, inside the site
 * layout (ngx_hkp_web.c); vindex puts the plain summary of each key
 * (ngx_hkp_web_key.c) before its listing. Every link to a
 * key is /pks/lookup?op=get&search=0x<LONGID>. The key's primary user ID
 * (ngx_hkp_primary_uid, doc/hkp.md 3.4.4) heads it, the others follow in
 * stored order. vindex adds one line per signature with the signer's
 * primary user ID when ngx_hkp_lookup.c found that key (lk->signers,
 * gathered within hkp_vindex_signer_lookups): this file reads no database.
 *
 * The listing is checked against hkp_max_reply_size after each key, so a
 * worker holds at most that plus one key's lines before it answers 400
 * (ngx_hkp_lookup.c has already refused hits whose stored size passes it).
 */
#include "ngx_hkp_module.h"
#include "serve.h"
#include "openpgp.h"


static const char *
ngx_hkp_algo_letter(int algo)
{
    switch (algo) {
    case HKP_PK_RSA:          return "R";
    case HKP_PK_RSA_E:        return "r";
    case HKP_PK_RSA_S:        return "s";
    case HKP_PK_ELGAMAL:      return "g";
    case HKP_PK_DSA:          return "D";
    case HKP_PK_ECDH:         return "e";
    case HKP_PK_ECDSA:        return "E";
    case HKP_PK_ELGAMAL_OLD:  return "G";
    case HKP_PK_EDDSA_LEG:    return "E";
    case HKP_PK_X25519:       return "e";
    case HKP_PK_X448:         return "e";
    case HKP_PK_ED25519:      return "E";
    case HKP_PK_ED448:        return "E";
    default: return "?";
    }
}


static void
ngx_hkp_hexstr(const uint8_t *p, size_t n, char *out)
{
    hkp_hex(p, n, out);
}


/* The key's primary "handle" for mr output. */
static void
ngx_hkp_out_handle(ngx_hkp_out_t *o, const hkp_pubkey_t *pk)
{
    char  hex[2 * HKP_FPR_MAX_LEN + 1];

    if (pk->fpr_len == HKP_FPR_V4_LEN || pk->fpr_len == HKP_FPR_V6_LEN) {
        ngx_hkp_hexstr(pk->fpr, pk->fpr_len, hex);
    } else {
        ngx_hkp_hexstr(pk->keyid, HKP_KEYID_LEN, hex);
    }
    ngx_hkp_out_add(o, hex, ngx_strlen(hex));
}


uint32_t
ngx_hkp_key_exptime(const hkp_keyview_t *v)
{
    if (v->exptime) {
        return v->exptime;
    }
    if (v->pk.version == 3 && v->pk.v3_days) {
        return v->pk.ctime + v->pk.v3_days * 86400;
    }
    return 0;
}


/* Newest self-cert of a user ID block and whether it was revoked. */
ngx_int_t
ngx_hkp_uid_state(const hkp_keyview_t *v, const hkp_block_t *b,
    hkp_sig_t *self, ngx_uint_t *revoked)
{
    size_t       i;
    ngx_int_t    has_self;
    hkp_sig_t    sig;
    const char  *err;

    has_self = (hkp_keyview_selfsig(v, b, self) == 0);
    *revoked = 0;

    for (i = 1; i <= b->nsigs; i++) {
        if (hkp_sig_parse(&v->key->pkts[b->at + i], &sig, &err) != 0) {
            continue;
        }
        if (sig.type == 0x30 && sig.has_issuer
            && ngx_memcmp(sig.issuer, v->pk.keyid, HKP_KEYID_LEN) == 0
            && (!has_self || sig.ctime >= self->ctime))
        {
            *revoked = 1;
        }
    }

    return has_self ? NGX_OK : NGX_DECLINED;
}


ngx_uint_t
ngx_hkp_sig_issuer(const hkp_sig_t *sig, uint8_t id[HKP_KEYID_LEN])
{
    if (sig->has_issuer) {
        ngx_memcpy(id, sig->issuer, HKP_KEYID_LEN);
        return 1;
    }

    return hkp_fpr_keyid(sig->issuer_fpr, sig->issuer_fpr_len, id);
}


/*
 * Whether a user ID block carries a self-certification (0x10..0x13 by the
 * key itself) with the primary-user-ID flag, and the creation time of its
 * newest self-certification.
 */
static ngx_uint_t
ngx_hkp_uid_flagged(const hkp_keyview_t *v, const hkp_block_t *b,
    uint32_t *newest)
{
    size_t       i;
    uint8_t      id[HKP_KEYID_LEN];
    hkp_sig_t    sig;
    ngx_uint_t   flagged;
    const char  *err;

    flagged = 0;
    *newest = 0;

    for (i = 1; i <= b->nsigs; i++) {
        if (hkp_sig_parse(&v->key->pkts[b->at + i], &sig, &err) != 0
            || sig.type < 0x10 || sig.type > 0x13
            || !ngx_hkp_sig_issuer(&sig, id)
            || ngx_memcmp(id, v->pk.keyid, HKP_KEYID_LEN) != 0)
        {
            continue;
        }

        if (sig.primary_uid) {
            flagged = 1;
        }

        if (sig.ctime > *newest) {
            *newest = sig.ctime;
        }
    }

    return flagged;
}


/*
 * SKS shows first the user IDs (not attributes) with a primary-flagged
 * self-signature, the one with the newest self-signature first, then the
 * rest in stored order. The same here, except that a revoked user ID never
 * heads the key while one that is not revoked exists.
 */
ngx_int_t
ngx_hkp_primary_uid(const hkp_keyview_t *v, size_t *at)
{
    size_t       i;
    uint32_t     t;
    hkp_sig_t    self;
    ngx_uint_t   revoked, flagged, rank, best_rank;
    uint32_t     best_t;

    if (v->nuids == 0) {
        return NGX_DECLINED;
    }

    /* rank: 4 flagged, 3 not flagged (neither revoked), 2 flagged but
     * revoked, 1 revoked, 0 an attribute */
    *at = 0;
    best_rank = 0;
    best_t = 0;

    for (i = 0; i < v->nuids; i++) {
        if (v->key->pkts[v->uids[i].at].tag != HKP_TAG_UID) {
            continue;
        }

        flagged = ngx_hkp_uid_flagged(v, &v->uids[i], &t);
        (void) ngx_hkp_uid_state(v, &v->uids[i], &self, &revoked);

        rank = revoked ? (flagged ? 2 : 1) : (flagged ? 4 : 3);

        if (rank > best_rank
            || (rank == best_rank && (rank == 4 || rank == 2) && t > best_t))
        {
            *at = i;
            best_rank = rank;
            best_t = t;
        }
    }

    return NGX_OK;
}


/* The name found for a signer (lk->signers is sorted by ID), or NULL. */
ngx_str_t *
ngx_hkp_index_signer(ngx_hkp_lookup_t *lk, const uint8_t id[HKP_KEYID_LEN])
{
    ngx_int_t   c;
    ngx_uint_t  lo, hi, mid;

    lo = 0;
    hi = lk->nsigners;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = ngx_memcmp(lk->signers[mid].id, id, HKP_KEYID_LEN);

        if (c == 0) {
            return lk->signers[mid].uid.len ? &lk->signers[mid].uid : NULL;
        }

        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }

    return NULL;
}


/* The end of an mr record: ":<why>" for a component not served. */
static void
ngx_hkp_mr_why(ngx_hkp_out_t *o, ngx_uint_t why)
{
    if (why != NGX_HKP_SERVED) {
        ngx_hkp_out_printf(o, ":%s", ngx_hkp_unserved_word(why));
    }
    ngx_hkp_out_str(o, "\n");
}


static void
ngx_hkp_mr_key(ngx_hkp_index_ctx_t *ctx)
{
    size_t           i;
    uint32_t         exp;
    hkp_sig_t        self;
    ngx_uint_t       revoked, why;
    const char      *err;
    hkp_pubkey_t     sub;
    ngx_hkp_out_t   *o;
    hkp_keyview_t   *v;
    const hkp_pkt_t *pkt;

    o = ctx->o;
    v = ctx->v;

    ngx_hkp_out_str(o, "pub:");
    ngx_hkp_out_handle(o, &v->pk);
    ngx_hkp_out_printf(o, ":%d:%ui:%uD:", v->pk.algo, (ngx_uint_t) v->pk.bits,
                       v->pk.ctime);

    exp = ngx_hkp_key_exptime(v);
    if (exp) {
        ngx_hkp_out_printf(o, "%uD", exp);
    }
    ngx_hkp_out_str(o, ":");
    if (v->revoked) {
        ngx_hkp_out_str(o, "r");
    }
    if (exp && (time_t) exp <= ctx->now) {
        ngx_hkp_out_str(o, "e");
    }
    ngx_hkp_out_str(o, "\n");

    for (i = 0; i < v->nuids; i++) {
        pkt = &v->key->pkts[v->uids[i].at];

        /* vindex: a component not served is an x record, with why */
        why = ctx->marks != NULL ? ctx->marks[v->uids[i].at].why
                                 : NGX_HKP_SERVED;
        if (why != NGX_HKP_SERVED) {
            ngx_hkp_out_str(o, "x");
        }

        if (pkt->tag != HKP_TAG_UID) {
            ngx_hkp_out_str(o, "uat:::::");
            ngx_hkp_mr_why(o, why);
            continue;
        }

        ngx_hkp_out_str(o, "uid:");
        ngx_hkp_out_mr_escape(o, pkt->body, pkt->len);
        ngx_hkp_out_str(o, ":");

        if (ngx_hkp_uid_state(v, &v->uids[i], &self, &revoked) == NGX_OK) {
            ngx_hkp_out_printf(o, "%uD:", self.ctime);
            if (self.sig_expire) {
                ngx_hkp_out_printf(o, "%uD", self.ctime + self.sig_expire);
            }
        } else {
            ngx_hkp_out_str(o, ":");
        }

        ngx_hkp_out_str(o, ":");
        if (revoked) {
            ngx_hkp_out_str(o, "r");
        }
        ngx_hkp_mr_why(o, why);
    }

    for (i = 0; ctx->marks != NULL && i < v->nsubs; i++) {
        why = ctx->marks[v->subs[i].at].why;
        if (why == NGX_HKP_SERVED
            || hkp_pubkey_parse(&v->key->pkts[v->subs[i].at], &sub, &err)
               != 0)
        {
            continue;
        }
        ngx_hkp_out_str(o, "xsub:");
        ngx_hkp_out_handle(o, &sub);
        ngx_hkp_out_printf(o, ":%d:%ui:%uD::", sub.algo,
                           (ngx_uint_t) sub.bits, sub.ctime);
        ngx_hkp_mr_why(o, why);
    }
}


void
ngx_hkp_html_fpr(ngx_hkp_out_t *o, const hkp_pubkey_t *pk)
{
    char    hex[65];
    size_t  i, n;

    if (pk->fpr_len != HKP_FPR_V4_LEN && pk->fpr_len != HKP_FPR_V6_LEN) {
        return;
    }

    ngx_hkp_hexstr(pk->fpr, pk->fpr_len, hex);
    n = pk->fpr_len * 2;

    ngx_hkp_out_str(o, "\t Fingerprint=");
    for (i = 0; i < n; i += 4) {
        ngx_hkp_out_add(o, hex + i, 4);
        ngx_hkp_out_str(o, " ");
        if (i + 4 == n / 2) {
            ngx_hkp_out_str(o, " ");
        }
    }
    ngx_hkp_out_str(o, "\n");
}


/* "256E/<a href=get>SHORTID</a>" */
void
ngx_hkp_html_keyref(ngx_hkp_out_t *o, const hkp_pubkey_t *pk)
{
    char  hex[2 * HKP_KEYID_LEN + 1];

    ngx_hkp_hexstr(pk->keyid, HKP_KEYID_LEN, hex);

    ngx_hkp_out_printf(o, "%4ui%s/<a href=\"/pks/lookup?op=get&amp;"
                       "search=0x%s\">%s</a> ",
                       (ngx_uint_t) pk->bits, ngx_hkp_algo_letter(pk->algo),
                       hex, hex + 8);
    ngx_hkp_out_date(o, pk->ctime);
}


static void
ngx_hkp_html_uid_text(ngx_hkp_out_t *o, const hkp_pkt_t *pkt)
{
    if (pkt->tag == HKP_TAG_UID) {
        ngx_hkp_out_html(o, pkt->body, pkt->len);
    } else {
        ngx_hkp_out_str(o, "[user attribute packet]");
    }
}


static void
ngx_hkp_html_key(ngx_hkp_index_ctx_t *ctx)
{
    char            hex[33];
    size_t          i;
    ngx_hkp_out_t  *o;
    hkp_keyview_t  *v;

    o = ctx->o;
    v = ctx->v;

    ngx_hkp_out_str(o, "</pre><hr /><pre>\npub ");
    ngx_hkp_html_keyref(o, &v->pk);
    ngx_hkp_out_str(o, " ");

    ngx_hkp_hexstr(v->pk.keyid, 8, hex);

    if (v->nuids) {
        ngx_hkp_out_printf(o, "<a href=\"/pks/lookup?op=vindex&amp;"
                           "search=0x%s\">", hex);
        ngx_hkp_html_uid_text(o, &v->key->pkts[v->uids[ctx->primary].at]);
        ngx_hkp_out_str(o, "</a>");
    }
    ngx_hkp_out_str(o, "\n");

    if (v->revoked) {
        ngx_hkp_out_str(o, "                                 "
                           "*** KEY REVOKED *** [not verified]\n");
    }

    if (ctx->lk->args.fingerprint) {
        ngx_hkp_html_fpr(o, &v->pk);
    }

    if (ctx->lk->args.hash) {
        ngx_hkp_hexstr(v->key->hash, HKP_HASH_LEN, hex);
        ngx_hkp_out_printf(o, "\t Hash=<a href=\"/pks/lookup?op=hget&amp;"
                           "search=%s\">%s</a>\n", hex, hex);
    }

    for (i = 0; i < v->nuids; i++) {
        if (i == ctx->primary) {
            continue;
        }
        ngx_hkp_out_str(o, "                               ");
        ngx_hkp_html_uid_text(o, &v->key->pkts[v->uids[i].at]);
        ngx_hkp_out_str(o, "\n");
    }
}


ngx_int_t
ngx_hkp_index_reply(ngx_hkp_lookup_t *lk, ngx_uint_t verbose)
{
    u_char               hex[2 * HKP_HASH_LEN + 1];
    ngx_buf_t           *b;
    ngx_uint_t           i, npub;
    hkp_key_t            key;
    const char          *err;
    char                 why[HKP_REASON_LEN];
    ngx_chain_t         *head;
    hkp_keyview_t        v;
    ngx_hkp_out_t        o;
    ngx_http_request_t  *r;
    ngx_hkp_index_ctx_t  ctx;

    r = lk->r;

    ngx_hkp_out_init(&o, r->pool);

    ngx_memzero(&ctx, sizeof(ctx));
    ctx.lk = lk;
    ctx.o = &o;
    ctx.now = ngx_time();

    /* vindex: each key is a section with its own listing */
    if (!lk->args.mr && !verbose) {
        ngx_hkp_out_str(&o, "<pre>\n");
        ngx_hkp_out_str(&o, "Type bits/keyID     Date       User ID\n");
    }

    npub = 0;

    for (i = 0; i < lk->nhits; i++) {
        if (hkp_key_decode(lk->hits[i].val.mv_data, lk->hits[i].val.mv_size,
                           &key, why, sizeof(why))
            != 0)
        {
            hkp_hex(lk->hits[i].hash, HKP_HASH_LEN, (char *) hex);
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "hkp: stored key %s cannot be decoded: %s",
                          hex, why);
            continue;
        }

        if (hkp_keyview_build(&key, &v, &err) != 0) {
            hkp_hex(lk->hits[i].hash, HKP_HASH_LEN, (char *) hex);
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "hkp: stored key %s is not listed: %s",
                          hex, err ? err : "?");
            hkp_key_free(&key);
            continue;
        }

        ctx.v = &v;
        ctx.key = &key;
        ctx.primary = 0;
        if (!lk->args.mr && ngx_hkp_primary_uid(&v, &ctx.primary) != NGX_OK) {
            ctx.primary = 0;
        }

        /* vindex under clean: the listing's marks (ngx_hkp_serve.c) */
        ctx.marks = lk->hits[i].marks;
        if (ctx.marks != NULL && lk->hits[i].nmarks != key.npkts) {
            ctx.marks = NULL;       /* (the listing is what was marked) */
        }

        if (lk->args.mr) {
            ngx_hkp_mr_key(&ctx);
        } else if (verbose) {
            if (ngx_hkp_vindex_key(&ctx) != NGX_OK) {
                hkp_keyview_free(&v);
                hkp_key_free(&key);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        } else {
            ngx_hkp_html_key(&ctx);
        }

        npub++;

        hkp_keyview_free(&v);
        hkp_key_free(&key);

        if ((size_t) o.len > lk->lcf->max_reply) {
            return ngx_hkp_too_much(r, lk->lcf->max_reply);
        }
    }

    if (npub == 0) {
        return ngx_hkp_error(r, NGX_HTTP_NOT_FOUND, "No keys found");
    }

    if (o.failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (lk->args.mr) {
        b = ngx_create_temp_buf(r->pool, sizeof("info:1:\n") + NGX_INT_T_LEN);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        b->last = ngx_sprintf(b->last, "info:1:%ui\n", npub);

        head = ngx_alloc_chain_link(r->pool);
        if (head == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        head->buf = b;
        head->next = o.first;

        if ((size_t) (o.len + (b->last - b->pos)) > lk->lcf->max_reply) {
            return ngx_hkp_too_much(r, lk->lcf->max_reply);
        }

        return ngx_hkp_send(r, NGX_HTTP_OK, NGX_HKP_CT_TEXT, head,
                            o.len + (b->last - b->pos), npub, 0);
    }

    if (!verbose) {
        ngx_hkp_out_str(&o, "</pre>\n");
    }
    ngx_hkp_out_html_tail(&o);

    /* the page head goes in front of the listing */
    {
        ngx_hkp_out_t  h;
        u_char        *t;
        size_t         tl;

        ngx_hkp_out_init(&h, r->pool);

        tl = sizeof("Search results for ''") - 1 + lk->title.len;
        t = ngx_pnalloc(r->pool, tl);
        if (t == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_sprintf(t, "Search results for '%V'", &lk->title);

        ngx_hkp_out_html_head(&h, t, tl);
        ngx_hkp_out_printf(&h, "<p>%ui key%s found. %s</p>\n", npub,
                           npub == 1 ? "" : "s",
                           verbose ? "Each with its details, then its "
                                     "signatures."
                                   : "A user ID opens the key's page, a key "
                                     "ID the key itself.");
        if (h.failed || o.failed) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *h.last = o.first;
        h.len += o.len;

        if ((size_t) h.len > lk->lcf->max_reply) {
            return ngx_hkp_too_much(r, lk->lcf->max_reply);
        }

        return ngx_hkp_send_out(r, NGX_HTTP_OK, NGX_HKP_CT_HTML, &h, npub, 0);
    }
}
