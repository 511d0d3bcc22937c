/*
 * The key page: on an HTML op=vindex answer, each key starts with a plain
 * summary (this file), followed by SKS's signature listing
 * (ngx_hkp_index.c, unchanged so that scripts and the comparisons with SKS
 * keep reading it):
 *
 *   the primary user ID as the heading (ngx_hkp_primary_uid: SKS's choice),
 *   with "revoked" / "expired" marks;
 *   fingerprint, long key ID, algorithm and size, usage, created, expires
 *   (or "never"), status;
 *   a download link (op=get&options=mr: the armored key as a file);
 *   the user IDs, the primary first, each revoked or expired one marked;
 *   the subkeys with ID, algorithm, usage, dates and status.
 *
 * As everywhere on this server, revocations and expiry come from the
 * signatures served: verified ones under hkp_serve_policy clean, as stored
 * (SKS's rules) under full; the page says which.
 * Text from the key is escaped (ngx_hkp_out_html: also every control
 * character) and isolated in <bdi>, so a right-to-left user ID cannot
 * reorder the text around it.
 */
#include "ngx_hkp_module.h"
#include "openpgp.h"


/* The state of a subkey from its signatures by the primary key. */
typedef struct {
    uint32_t    expires;       /* absolute, 0 = never */
    ngx_uint_t  revoked;
    ngx_uint_t  has_flags;
    uint8_t     flags;
} ngx_hkp_web_sub_t;


static const char *
ngx_hkp_web_algo(int algo)
{
    switch (algo) {
    case HKP_PK_RSA:          return "RSA";
    case HKP_PK_RSA_E:        return "RSA (encrypt only)";
    case HKP_PK_RSA_S:        return "RSA (sign only)";
    case HKP_PK_ELGAMAL:      return "Elgamal";
    case HKP_PK_DSA:          return "DSA";
    case HKP_PK_ECDH:         return "ECDH";
    case HKP_PK_ECDSA:        return "ECDSA";
    case HKP_PK_ELGAMAL_OLD:  return "Elgamal (sign and encrypt)";
    case HKP_PK_EDDSA_LEG:    return "EdDSA";
    case HKP_PK_X25519:       return "X25519";
    case HKP_PK_X448:         return "X448";
    case HKP_PK_ED25519:      return "Ed25519";
    case HKP_PK_ED448:        return "Ed448";
    default:                  return NULL;
    }
}


static void
ngx_hkp_web_algo_out(ngx_hkp_out_t *o, const hkp_pubkey_t *pk)
{
    const char  *name;

    name = ngx_hkp_web_algo(pk->algo);
    if (name) {
        ngx_hkp_out_add(o, name, ngx_strlen(name));
    } else {
        ngx_hkp_out_printf(o, "algorithm %d", pk->algo);
    }

    if (pk->curve) {
        ngx_hkp_out_str(o, " ");
        ngx_hkp_out_html(o, (u_char *) pk->curve, ngx_strlen(pk->curve));
    }

    if (pk->bits) {
        ngx_hkp_out_printf(o, ", %ui bits", (ngx_uint_t) pk->bits);
    }
}


/* "certify, sign, encrypt, authenticate" from key flags (subpacket 27). */
static void
ngx_hkp_web_usage(ngx_hkp_out_t *o, ngx_uint_t has, uint8_t flags)
{
    ngx_uint_t   i, n;
    static struct {
        uint8_t      bits;
        const char  *name;
    } use[] = {
        { 0x01, "certify" },
        { HKP_KEYFLAG_SIGN, "sign" },
        { 0x04 | 0x08, "encrypt" },
        { 0x20, "authenticate" },
    };

    if (!has) {
        ngx_hkp_out_str(o, "not stated");
        return;
    }

    for (i = 0, n = 0; i < sizeof(use) / sizeof(use[0]); i++) {
        if (flags & use[i].bits) {
            if (n++) {
                ngx_hkp_out_str(o, ", ");
            }
            ngx_hkp_out_add(o, use[i].name, ngx_strlen(use[i].name));
        }
    }

    if (n == 0) {
        ngx_hkp_out_str(o, "none");
    }
}


/* A fingerprint in groups of four hex digits, two spaces in the middle. */
static void
ngx_hkp_web_fpr(ngx_hkp_out_t *o, const hkp_pubkey_t *pk)
{
    char    hex[2 * HKP_FPR_MAX_LEN + 1];
    size_t  i, n;

    if (pk->fpr_len != HKP_FPR_V4_LEN && pk->fpr_len != HKP_FPR_V6_LEN) {
        ngx_hkp_out_str(o, "(none: a version 3 key)");
        return;
    }

    hkp_hex(pk->fpr, pk->fpr_len, hex);
    n = pk->fpr_len * 2;

    for (i = 0; i < n; i += 4) {
        if (i == n / 2) {
            ngx_hkp_out_str(o, "&nbsp; ");
        } else if (i) {
            ngx_hkp_out_str(o, " ");
        }
        ngx_hkp_out_add(o, hex + i, 4);
    }
}


/* "0x" and the handle that op=get finds the key by: the fingerprint, or
 * the long key ID of a v3 key. */
static void
ngx_hkp_web_handle(ngx_hkp_out_t *o, const hkp_pubkey_t *pk)
{
    char  hex[2 * HKP_FPR_MAX_LEN + 1];

    if (pk->fpr_len == HKP_FPR_V4_LEN || pk->fpr_len == HKP_FPR_V6_LEN) {
        hkp_hex(pk->fpr, pk->fpr_len, hex);
    } else {
        hkp_hex(pk->keyid, HKP_KEYID_LEN, hex);
    }

    ngx_hkp_out_str(o, "0x");
    ngx_hkp_out_add(o, hex, ngx_strlen(hex));
}


static void
ngx_hkp_web_expiry(ngx_hkp_out_t *o, uint32_t expires, time_t now)
{
    if (expires == 0) {
        ngx_hkp_out_str(o, "never");
        return;
    }

    ngx_hkp_out_date(o, expires);

    if ((time_t) expires <= now) {
        ngx_hkp_out_str(o, " <span class=\"badge bad\">expired</span>");
    }
}


static void
ngx_hkp_web_status(ngx_hkp_out_t *o, ngx_uint_t revoked, uint32_t expires,
    time_t now)
{
    if (revoked) {
        ngx_hkp_out_str(o, "<span class=\"badge bad\">revoked</span>");
    }

    if (expires && (time_t) expires <= now) {
        ngx_hkp_out_str(o, "<span class=\"badge bad\">expired</span>");
    }

    if (!revoked && !(expires && (time_t) expires <= now)) {
        ngx_hkp_out_str(o, "<span class=\"badge ok\">valid</span>");
    }
}


/* A subkey's expiry, usage and revocation from the primary key's newest
 * binding signature and its revocations (no earlier than that binding). */
static void
ngx_hkp_web_sub_state(const hkp_keyview_t *v, const hkp_block_t *b,
    const hkp_pubkey_t *sub, ngx_hkp_web_sub_t *st)
{
    size_t       i;
    uint8_t      id[HKP_KEYID_LEN];
    uint32_t     bound, revoked_at;
    hkp_sig_t    sig;
    ngx_uint_t   has_rev;
    const char  *err;

    ngx_memzero(st, sizeof(ngx_hkp_web_sub_t));
    bound = 0;
    revoked_at = 0;
    has_rev = 0;

    for (i = 1; i <= b->nsigs; i++) {
        if (hkp_sig_parse(&v->key->pkts[b->at + i], &sig, &err) != 0
            || !ngx_hkp_sig_issuer(&sig, id)
            || ngx_memcmp(id, v->pk.keyid, HKP_KEYID_LEN) != 0)
        {
            continue;
        }

        if (sig.type == HKP_SIGT_SUBKEY_BINDING && sig.ctime >= bound) {
            bound = sig.ctime;
            st->expires = sig.key_expire ? sub->ctime + sig.key_expire : 0;
            st->has_flags = sig.has_key_flags;
            st->flags = sig.key_flags;

        } else if (sig.type == HKP_SIGT_SUBKEY_REVOCATION) {
            has_rev = 1;
            revoked_at = ngx_max(revoked_at, sig.ctime);
        }
    }

    st->revoked = has_rev && revoked_at >= bound;
}


static void
ngx_hkp_web_uids(ngx_hkp_out_t *o, const hkp_keyview_t *v, size_t primary,
    time_t now)
{
    size_t            i, n;
    hkp_sig_t         self;
    ngx_uint_t        revoked, expired, has_self;
    const hkp_pkt_t  *pkt;

    ngx_hkp_out_printf(o, "<h3>User IDs (%uz)</h3>\n<ul class=\"uids\">\n",
                       v->nuids);

    for (n = 0; n < v->nuids; n++) {
        /* the primary user ID first, then the others in stored order */
        i = (n == 0) ? primary : (n <= primary ? n - 1 : n);
        pkt = &v->key->pkts[v->uids[i].at];

        has_self = (ngx_hkp_uid_state(v, &v->uids[i], &self, &revoked)
                    == NGX_OK);
        expired = has_self && self.sig_expire
                  && (time_t) self.ctime + self.sig_expire <= now;

        if (revoked || expired) {
            ngx_hkp_out_str(o, "<li class=\"gone\">");
        } else {
            ngx_hkp_out_str(o, "<li>");
        }

        if (pkt->tag == HKP_TAG_UID) {
            ngx_hkp_out_str(o, "<bdi>");
            ngx_hkp_out_html(o, pkt->body, pkt->len);
            ngx_hkp_out_str(o, "</bdi>");
        } else {
            ngx_hkp_out_str(o, "[a photo or other attribute]");
        }

        if (n == 0) {
            ngx_hkp_out_str(o, " <span class=\"badge ok\">primary</span>");
        }
        if (revoked) {
            ngx_hkp_out_str(o, " <span class=\"badge bad\">revoked</span>");
        }
        if (expired) {
            ngx_hkp_out_str(o, " <span class=\"badge bad\">expired</span>");
        }
        if (!has_self) {
            ngx_hkp_out_str(o, " <span class=\"badge\">no "
                               "self-signature</span>");
        }

        ngx_hkp_out_str(o, "</li>\n");
    }

    ngx_hkp_out_str(o, "</ul>\n");
}


static void
ngx_hkp_web_subs(ngx_hkp_out_t *o, const hkp_keyview_t *v, time_t now)
{
    char               hex[2 * HKP_KEYID_LEN + 1];
    size_t             i;
    const char        *err;
    hkp_pubkey_t       sub;
    ngx_hkp_web_sub_t  st;

    ngx_hkp_out_printf(o, "<h3>Subkeys (%uz)</h3>\n", v->nsubs);

    if (v->nsubs == 0) {
        ngx_hkp_out_str(o, "<p>None.</p>\n");
        return;
    }

    ngx_hkp_out_str(o, "<div class=\"scroll\"><table class=\"stack\">\n"
                       "<thead><tr>"
                       "<th scope=\"col\">Key ID</th>"
                       "<th scope=\"col\">Algorithm</th>"
                       "<th scope=\"col\">Usage</th>"
                       "<th scope=\"col\">Created</th>"
                       "<th scope=\"col\">Expires</th>"
                       "<th scope=\"col\">Status</th></tr></thead>\n"
                       "<tbody>\n");

    for (i = 0; i < v->nsubs; i++) {
        if (hkp_pubkey_parse(&v->key->pkts[v->subs[i].at], &sub, &err) != 0)
        {
            ngx_hkp_out_str(o, "<tr><td colspan=\"6\">[a subkey that cannot "
                               "be read]</td></tr>\n");
            continue;
        }

        ngx_hkp_web_sub_state(v, &v->subs[i], &sub, &st);
        hkp_hex(sub.keyid, HKP_KEYID_LEN, hex);

        /* data-label: the column's name, shown beside each cell when the
         * table is stacked on a narrow screen (style.css) */
        ngx_hkp_out_printf(o, "<tr><td data-label=\"Key ID\"><code>0x%s"
                           "</code></td><td data-label=\"Algorithm\">", hex);
        ngx_hkp_web_algo_out(o, &sub);
        ngx_hkp_out_str(o, "</td><td data-label=\"Usage\">");
        ngx_hkp_web_usage(o, st.has_flags, st.flags);
        ngx_hkp_out_str(o, "</td><td data-label=\"Created\">");
        ngx_hkp_out_date(o, sub.ctime);
        ngx_hkp_out_str(o, "</td><td data-label=\"Expires\">");
        ngx_hkp_web_expiry(o, st.expires, now);
        ngx_hkp_out_str(o, "</td><td data-label=\"Status\">");
        ngx_hkp_web_status(o, st.revoked, st.expires, now);
        ngx_hkp_out_str(o, "</td></tr>\n");
    }

    ngx_hkp_out_str(o, "</tbody>\n</table></div>\n");
}


void
ngx_hkp_web_key(ngx_hkp_out_t *o, const hkp_keyview_t *v, size_t primary,
    time_t now, ngx_uint_t verified)
{
    char              hex[2 * HKP_KEYID_LEN + 1];
    uint32_t          expires;
    hkp_sig_t         self;
    ngx_uint_t        revoked, has_self, expired;
    const hkp_pkt_t  *pkt;

    hkp_hex(v->pk.keyid, HKP_KEYID_LEN, hex);

    expires = v->exptime;
    if (expires == 0 && v->pk.version == 3 && v->pk.v3_days) {
        expires = v->pk.ctime + v->pk.v3_days * 86400;
    }
    expired = expires && (time_t) expires <= now;

    ngx_hkp_out_printf(o, "<section class=\"key\" aria-labelledby=\"key-%s\">"
                       "\n<h2 id=\"key-%s\">", hex, hex);

    if (v->nuids && v->key->pkts[v->uids[primary].at].tag == HKP_TAG_UID) {
        pkt = &v->key->pkts[v->uids[primary].at];
        ngx_hkp_out_str(o, "<bdi>");
        ngx_hkp_out_html(o, pkt->body, pkt->len);
        ngx_hkp_out_str(o, "</bdi>");
    } else {
        ngx_hkp_out_printf(o, "Key 0x%s", hex);
    }

    if (v->revoked) {
        ngx_hkp_out_str(o, " <span class=\"badge bad\">revoked</span>");
    }
    if (expired) {
        ngx_hkp_out_str(o, " <span class=\"badge bad\">expired</span>");
    }

    ngx_hkp_out_str(o, "</h2>\n<dl class=\"facts\">\n"
                       "<dt>Fingerprint</dt><dd class=\"fpr\">");
    ngx_hkp_web_fpr(o, &v->pk);
    ngx_hkp_out_printf(o, "</dd>\n<dt>Key ID</dt><dd><code>0x%s</code></dd>\n"
                       "<dt>Algorithm</dt><dd>", hex);
    ngx_hkp_web_algo_out(o, &v->pk);

    /* the primary key's usage, from its primary user ID's self-signature */
    has_self = v->nuids
               && ngx_hkp_uid_state(v, &v->uids[primary], &self, &revoked)
                  == NGX_OK;
    ngx_hkp_out_str(o, "</dd>\n<dt>Usage</dt><dd>");
    ngx_hkp_web_usage(o, has_self && self.has_key_flags, self.key_flags);
    ngx_hkp_out_str(o, "</dd>\n<dt>Created</dt><dd>");
    ngx_hkp_out_date(o, v->pk.ctime);
    ngx_hkp_out_str(o, "</dd>\n<dt>Expires</dt><dd>");
    ngx_hkp_web_expiry(o, expires, now);
    ngx_hkp_out_str(o, "</dd>\n<dt>Status</dt><dd>");
    ngx_hkp_web_status(o, v->revoked, expires, now);
    if (verified) {
        /* hkp_serve_policy clean: only self-signatures that verified are
         * served, so the status comes from verified signatures */
        ngx_hkp_out_str(o, " <small>(from the self-signatures this server "
                           "verified)</small></dd>\n</dl>\n");
    } else {
        ngx_hkp_out_str(o, " <small>(from the signatures as stored, not "
                           "verified by this server)</small></dd>\n</dl>\n");
    }

    ngx_hkp_out_str(o, "<p><a href=\"/pks/lookup?op=get&amp;options=mr&amp;"
                       "search=");
    ngx_hkp_web_handle(o, &v->pk);
    ngx_hkp_out_str(o, "\" download=\"");
    ngx_hkp_out_add(o, hex, 2 * HKP_KEYID_LEN);
    ngx_hkp_out_str(o, ".asc\">Download the key</a> (ASCII armor) &middot; "
                       "<a href=\"/pks/lookup?op=get&amp;search=");
    ngx_hkp_web_handle(o, &v->pk);
    ngx_hkp_out_str(o, "\">show it</a></p>\n");

    ngx_hkp_web_uids(o, v, primary, now);
    ngx_hkp_web_subs(o, v, now);

    ngx_hkp_out_str(o, "<h3>Signatures</h3>\n");
}
