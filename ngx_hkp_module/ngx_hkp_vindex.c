/*
 * The HTML listing of one key on an op=vindex page (ngx_hkp_index.c
 * draws the page around it): the plain summary of the served key
 * (ngx_hkp_web_key.c), then SKS's listing, one line per signature with
 * the signer's name when ngx_hkp_lookup.c found it.
 *
 * Under hkp_serve_policy clean the key is its listing (ngx_hkp_serve.c,
 * ctx->marks): a user ID, attribute or subkey that is not served is
 * listed all the same, marked "[not served: <why>]" in the warning style,
 * without its signatures; the signatures of a component that are not
 * served (forged or surplus certifications, invalid self-signatures) are
 * one line "[N signatures not served]". The summary and the primary user
 * ID come from the served packets only. Redacted user IDs are never in a
 * listing.
 */
#include "ngx_hkp_module.h"
#include "openpgp.h"
#include "serve.h"


static const char *
ngx_hkp_sig_label(uint8_t type, char *buf)
{
    switch (type) {
    case 0x10: return " sig ";
    case 0x11: return "sig1 ";
    case 0x12: return "sig2 ";
    case 0x13: return "sig3 ";
    case 0x18: return "sbind";
    case 0x19: return "pbind";
    case 0x1f: return "dirct";
    default:
        ngx_sprintf((u_char *) buf, " 0x%02xd", (int) type);
        buf[5] = '\0';
        return buf;
    }
}


/* One "sig" line of vindex; base_ctime is the signed key's creation. */
static void
ngx_hkp_html_sig(ngx_hkp_index_ctx_t *ctx, const hkp_pkt_t *pkt,
    uint32_t base_ctime)
{
    char            label[8], hex[2 * HKP_KEYID_LEN + 1];
    uint8_t         id[HKP_KEYID_LEN];
    ngx_str_t      *uid;
    hkp_sig_t       sig;
    ngx_uint_t      has_id;
    const char     *err;
    ngx_hkp_out_t  *o;

    o = ctx->o;

    if (hkp_sig_parse(pkt, &sig, &err) != 0) {
        ngx_hkp_out_str(o, "sig [unparseable signature]\n");
        return;
    }

    has_id = ngx_hkp_sig_issuer(&sig, id);

    if (sig.type == 0x20 || sig.type == 0x28 || sig.type == 0x30) {
        /* revocations stand out, as on SKS's pages */
        ngx_hkp_out_str(o, "sig <span class=\"warn\">revok</span> ");

    } else {
        ngx_hkp_out_printf(o, "sig %s ", ngx_hkp_sig_label(sig.type, label));
    }

    if (has_id) {
        hkp_hex(id, 8, hex);
        ngx_hkp_out_printf(o, "<a href=\"/pks/lookup?op=get&amp;"
                           "search=0x%s\">%s</a> ", hex, hex + 8);
    } else {
        ngx_hkp_out_str(o, "________ ");
    }

    ngx_hkp_out_date(o, sig.ctime);
    ngx_hkp_out_str(o, " ");

    if (sig.sig_expire) {
        ngx_hkp_out_date(o, (time_t) sig.ctime + sig.sig_expire);
    } else {
        ngx_hkp_out_str(o, "__________");
    }
    ngx_hkp_out_str(o, " ");

    if (sig.key_expire) {
        ngx_hkp_out_date(o, (time_t) base_ctime + sig.key_expire);
    } else {
        ngx_hkp_out_str(o, "__________");
    }
    ngx_hkp_out_str(o, " ");

    if (has_id && ngx_memcmp(id, ctx->v->pk.keyid, HKP_KEYID_LEN) == 0) {
        ngx_hkp_out_str(o, "[selfsig]");

    } else if (has_id && (uid = ngx_hkp_index_signer(ctx->lk, id)) != NULL) {
        ngx_hkp_out_printf(o, "<a href=\"/pks/lookup?op=vindex&amp;"
                           "search=0x%s\">", hex);
        ngx_hkp_out_html(o, uid->data, uid->len);
        ngx_hkp_out_str(o, "</a>");

    } else {
        ngx_hkp_out_str(o, "[]");
    }

    ngx_hkp_out_str(o, "\n");
}


const char *
ngx_hkp_unserved_text(ngx_uint_t why, ngx_uint_t subkey)
{
    switch (why) {
    case NGX_HKP_UNSERVED_SIZE:
        return "not served: larger than this server serves";
    case NGX_HKP_UNSERVED_REVOKED:
        return "not served: the key is revoked (compromised or no reason)";
    default:
        return subkey ? "not served: no valid binding signature"
                      : "not served: no valid self-signature";
    }
}


const char *
ngx_hkp_unserved_word(ngx_uint_t why)
{
    switch (why) {
    case NGX_HKP_UNSERVED_SIZE:
        return "too-large";
    case NGX_HKP_UNSERVED_REVOKED:
        return "key-revoked";
    default:
        return "no-valid-self-signature";
    }
}


/* The marks of a component packet at `at` (a served one without marks). */
static void
ngx_hkp_vindex_mark(ngx_hkp_index_ctx_t *ctx, size_t at, ngx_uint_t subkey)
{
    if (ctx->marks == NULL || ctx->marks[at].why == NGX_HKP_SERVED) {
        return;
    }

    ngx_hkp_out_printf(ctx->o, " <span class=\"warn\">[%s]</span>",
                       ngx_hkp_unserved_text(ctx->marks[at].why, subkey));
}


/* "[N signatures not served]" after the signatures of the component at
 * `at`. */
static void
ngx_hkp_vindex_hidden(ngx_hkp_index_ctx_t *ctx, size_t at)
{
    uint32_t  n;

    if (ctx->marks == NULL || (n = ctx->marks[at].hidden) == 0) {
        return;
    }

    ngx_hkp_out_printf(ctx->o, "    <span class=\"warn\">[%uD signature%s "
                       "not served]</span>\n", n, n == 1 ? "" : "s");
}


/*
 * The served view of the listing (its packets marked served: the
 * components not served have no signatures in it), into sv; *sprimary:
 * its primary user ID, ctx->primary: the same in the listing. NGX_OK,
 * NGX_DECLINED when it cannot be built (then the listing is shown as
 * served), NGX_ERROR.
 */
static ngx_int_t
ngx_hkp_vindex_served(ngx_hkp_index_ctx_t *ctx, hkp_key_t *skey,
    hkp_keyview_t *sv, size_t *sprimary)
{
    size_t              i, n;
    const char         *err;
    const hkp_key_t    *key;
    hkp_keyview_t      *v;

    key = ctx->key;
    v = ctx->v;

    ngx_memzero(skey, sizeof(hkp_key_t));
    skey->pkts = ngx_palloc(ctx->lk->r->pool, key->npkts * sizeof(hkp_pkt_t));
    if (skey->pkts == NULL) {
        return NGX_ERROR;
    }

    for (i = 0, n = 0; i < key->npkts; i++) {
        if (ctx->marks[i].why == NGX_HKP_SERVED) {
            skey->pkts[n++] = key->pkts[i];
        }
    }
    skey->npkts = n;
    ngx_memcpy(skey->hash, key->hash, HKP_HASH_LEN);

    if (hkp_keyview_build(skey, sv, &err) != 0) {
        return NGX_DECLINED;
    }

    ctx->primary = 0;
    if (ngx_hkp_primary_uid(sv, sprimary) != NGX_OK) {
        *sprimary = 0;
        return NGX_OK;
    }

    /* the same packet (body) in the listing */
    for (i = 0; i < v->nuids; i++) {
        if (key->pkts[v->uids[i].at].body
            == sv->key->pkts[sv->uids[*sprimary].at].body)
        {
            ctx->primary = i;
            break;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_hkp_vindex_key(ngx_hkp_index_ctx_t *ctx)
{
    size_t           i, k, n;
    uint32_t         exp;
    hkp_key_t        skey;
    ngx_int_t        rc;
    const char      *err;
    hkp_pubkey_t     sub;
    ngx_hkp_out_t   *o;
    hkp_keyview_t   *v, sv;
    const hkp_pkt_t *pkts;

    o = ctx->o;
    v = ctx->v;
    pkts = v->key->pkts;

    /* the plain summary (ngx_hkp_web_key.c) of what is served */
    rc = NGX_DECLINED;
    if (ctx->marks != NULL) {
        rc = ngx_hkp_vindex_served(ctx, &skey, &sv, &k);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    if (rc == NGX_OK) {
        ngx_hkp_web_key(o, &sv, k, ctx->now, 1);
        hkp_keyview_free(&sv);

    } else {
        ctx->marks = NULL;
        ngx_hkp_web_key(o, v, ctx->primary, ctx->now,
                        ctx->lk->lcf->serve_policy != HKP_SERVE_FULL);
    }

    /* then SKS's listing */
    ngx_hkp_out_str(o, "<pre>\nType bits/keyID     cr. time   exp time   "
                       "key expir\n\n<strong>pub</strong> ");
    ngx_hkp_html_keyref(o, &v->pk);
    ngx_hkp_out_str(o, " ");
    exp = ngx_hkp_key_exptime(v);
    if (exp) {
        ngx_hkp_out_date(o, exp);
    } else {
        ngx_hkp_out_str(o, "__________");
    }
    ngx_hkp_out_str(o, "\n");

    if (v->revoked) {
        ngx_hkp_out_str(o, "                                 "
                           "*** KEY REVOKED *** [not verified]\n");
    }

    ngx_hkp_html_fpr(o, &v->pk);

    for (i = 1; i <= v->ndirect; i++) {
        ngx_hkp_html_sig(ctx, &pkts[i], v->pk.ctime);
    }
    ngx_hkp_vindex_hidden(ctx, 0);

    for (n = 0; n < v->nuids; n++) {
        /* the primary user ID first, then the others in stored order */
        i = (n == 0) ? ctx->primary : (n <= ctx->primary ? n - 1 : n);

        ngx_hkp_out_str(o, "\n");
        if (pkts[v->uids[i].at].tag == HKP_TAG_UID) {
            ngx_hkp_out_str(o, "<strong>uid</strong> <span class=\"uid\">");
            ngx_hkp_out_html(o, pkts[v->uids[i].at].body,
                             pkts[v->uids[i].at].len);
            ngx_hkp_out_str(o, "</span>");
        } else {
            ngx_hkp_out_str(o, "<strong>uat</strong> [contents omitted]");
        }
        ngx_hkp_vindex_mark(ctx, v->uids[i].at, 0);
        ngx_hkp_out_str(o, "\n");

        for (k = 1; k <= v->uids[i].nsigs; k++) {
            ngx_hkp_html_sig(ctx, &pkts[v->uids[i].at + k], v->pk.ctime);
        }
        ngx_hkp_vindex_hidden(ctx, v->uids[i].at);
    }

    for (i = 0; i < v->nsubs; i++) {
        ngx_hkp_out_str(o, "\n<strong>sub</strong> ");
        if (hkp_pubkey_parse(&pkts[v->subs[i].at], &sub, &err) != 0) {
            ngx_hkp_out_str(o, "[unparseable subkey]\n");
            continue;
        }
        ngx_hkp_html_keyref(o, &sub);
        ngx_hkp_vindex_mark(ctx, v->subs[i].at, 1);
        ngx_hkp_out_str(o, "\n");
        ngx_hkp_html_fpr(o, &sub);

        for (k = 1; k <= v->subs[i].nsigs; k++) {
            ngx_hkp_html_sig(ctx, &pkts[v->subs[i].at + k], sub.ctime);
        }
        ngx_hkp_vindex_hidden(ctx, v->subs[i].at);
    }

    ngx_hkp_out_str(o, "</pre>\n</section>\n");

    return NGX_OK;
}
