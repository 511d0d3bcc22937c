/*
 * GET /pks/v2/index/...: the JSON index of the found keys (draft section
 * 7.1.1: the version and fingerprint of all key material and the
 * uidString of every user ID are required; times are RFC 3339 UTC;
 * fingerprints hex without 0x). One array, one object per certificate:
 *
 *   { "version": 4, "fingerprint": "<hex>", "keyid": "<16 hex>",
 *     "algorithm": {"code": 22, "bitLength": 256, "curve": "ed25519"},
 *     "creation": "2019-01-22T11:56:25Z",
 *     "expiration": "...",                  only when it expires
 *     "revoked": false, "revocation": "...", the time only when revoked
 *     "flags": 3,                           key flags octet, when given
 *     "userIDs": [ {"uidString": "...", "creation": "...",
 *                   "primary": true, "revoked": false} ],
 *     "subkeys": [ {"version", "fingerprint", "keyid", "algorithm",
 *                   "creation", "expiration", "revoked", "revocation",
 *                   "flags"} ] }
 *
 * Hex is lower case. "creation" of a user ID is its newest
 * self-certification's; a user ID or subkey is revoked by a self-issued
 * revocation at least as new as its newest self-signature. As everywhere
 * in the index, signatures are parsed, not verified. User attributes
 * (photos) are not listed. No database reads here.
 */
#include "ngx_hkp_v2.h"


/* The newest self-issued signature of a block of type lo..hi, and of the
 * revocation type rev. */
typedef struct {
    hkp_sig_t    cert;
    hkp_sig_t    rev;
    ngx_uint_t   have_cert;
    ngx_uint_t   have_rev;
} ngx_hkp_v2_sigs_t;


static ngx_uint_t
ngx_hkp_v2_self(const hkp_keyview_t *v, const hkp_sig_t *s)
{
    if (s->issuer_fpr_len) {
        return s->issuer_fpr_len == v->pk.fpr_len
               && ngx_memcmp(s->issuer_fpr, v->pk.fpr, v->pk.fpr_len) == 0;
    }

    return s->has_issuer
           && ngx_memcmp(s->issuer, v->pk.keyid, HKP_KEYID_LEN) == 0;
}


static void
ngx_hkp_v2_scan(const hkp_keyview_t *v, size_t first, size_t nsigs,
    int lo, int hi, int rev, ngx_hkp_v2_sigs_t *out)
{
    size_t       i;
    hkp_sig_t    s;
    const char  *err;

    ngx_memzero(out, sizeof(ngx_hkp_v2_sigs_t));

    for (i = first; i < first + nsigs && i < v->key->npkts; i++) {
        if (v->key->pkts[i].tag != HKP_TAG_SIG
            || hkp_sig_parse(&v->key->pkts[i], &s, &err) != 0
            || !ngx_hkp_v2_self(v, &s))
        {
            continue;
        }

        if (s.type >= lo && s.type <= hi
            && (!out->have_cert || s.ctime > out->cert.ctime))
        {
            out->cert = s;
            out->have_cert = 1;
        }

        if (s.type == rev && (!out->have_rev || s.ctime > out->rev.ctime)) {
            out->rev = s;
            out->have_rev = 1;
        }
    }
}


static void
ngx_hkp_v2_key_fields(hkp_json_t *w, const hkp_pubkey_t *pk)
{
    hkp_json_key(w, "version");
    hkp_json_int(w, pk->version);
    hkp_json_key(w, "fingerprint");
    hkp_json_hex(w, pk->fpr, pk->fpr_len, 0);
    hkp_json_key(w, "keyid");
    hkp_json_hex(w, pk->keyid, HKP_KEYID_LEN, 0);
    hkp_json_key(w, "algorithm");
    hkp_json_obj(w);
    hkp_json_key(w, "code");
    hkp_json_int(w, pk->algo);
    if (pk->bits) {
        hkp_json_key(w, "bitLength");
        hkp_json_int(w, pk->bits);
    }
    if (pk->curve) {
        hkp_json_key(w, "curve");
        hkp_json_cstr(w, pk->curve);
    }
    hkp_json_end(w);
    hkp_json_key(w, "creation");
    hkp_json_time(w, pk->ctime);
}


/* "expiration" (when it expires), "revoked", "revocation", "flags". */
static void
ngx_hkp_v2_state(hkp_json_t *w, uint64_t expires, ngx_uint_t revoked,
    uint32_t revoked_at, const ngx_hkp_v2_sigs_t *sigs)
{
    if (expires) {
        hkp_json_key(w, "expiration");
        hkp_json_time(w, (int64_t) expires);
    }

    hkp_json_key(w, "revoked");
    hkp_json_bool(w, revoked != 0);
    if (revoked && revoked_at) {
        hkp_json_key(w, "revocation");
        hkp_json_time(w, revoked_at);
    }

    if (sigs && sigs->have_cert && sigs->cert.has_key_flags) {
        hkp_json_key(w, "flags");
        hkp_json_int(w, sigs->cert.key_flags);
    }
}


ngx_uint_t
ngx_hkp_v2_uid_revoked(const hkp_keyview_t *v, size_t i)
{
    ngx_hkp_v2_sigs_t  sigs;

    ngx_hkp_v2_scan(v, v->uids[i].at + 1, v->uids[i].nsigs,
                    HKP_SIGT_CERT_GENERIC, HKP_SIGT_CERT_POSITIVE,
                    HKP_SIGT_CERT_REVOCATION, &sigs);

    return sigs.have_rev
           && (!sigs.have_cert || sigs.rev.ctime >= sigs.cert.ctime);
}


static void
ngx_hkp_v2_uids(hkp_json_t *w, const hkp_keyview_t *v, size_t primary,
    ngx_uint_t have_primary, ngx_hkp_v2_sigs_t *flags_from)
{
    size_t              i;
    ngx_uint_t          revoked;
    const hkp_pkt_t    *pkt;
    ngx_hkp_v2_sigs_t   sigs;

    hkp_json_key(w, "userIDs");
    hkp_json_arr(w);

    for (i = 0; i < v->nuids; i++) {
        pkt = &v->key->pkts[v->uids[i].at];
        if (pkt->tag != HKP_TAG_UID) {
            continue;
        }

        ngx_hkp_v2_scan(v, v->uids[i].at + 1, v->uids[i].nsigs,
                        HKP_SIGT_CERT_GENERIC, HKP_SIGT_CERT_POSITIVE,
                        HKP_SIGT_CERT_REVOCATION, &sigs);

        revoked = ngx_hkp_v2_uid_revoked(v, i);

        if (have_primary && i == primary) {
            *flags_from = sigs;
        }

        hkp_json_obj(w);
        hkp_json_key(w, "uidString");
        hkp_json_str(w, pkt->body, pkt->len);
        if (sigs.have_cert) {
            hkp_json_key(w, "creation");
            hkp_json_time(w, sigs.cert.ctime);
        }
        hkp_json_key(w, "primary");
        hkp_json_bool(w, have_primary && i == primary);
        hkp_json_key(w, "revoked");
        hkp_json_bool(w, revoked);
        hkp_json_end(w);
    }

    hkp_json_end(w);
}


static void
ngx_hkp_v2_subkeys(hkp_json_t *w, const hkp_keyview_t *v)
{
    size_t              i;
    uint64_t            expires;
    ngx_uint_t          revoked;
    const char         *err;
    hkp_pubkey_t        sub;
    ngx_hkp_v2_sigs_t   sigs;

    hkp_json_key(w, "subkeys");
    hkp_json_arr(w);

    for (i = 0; i < v->nsubs; i++) {
        if (hkp_pubkey_parse(&v->key->pkts[v->subs[i].at], &sub, &err)
            != 0)
        {
            continue;
        }

        ngx_hkp_v2_scan(v, v->subs[i].at + 1, v->subs[i].nsigs,
                        HKP_SIGT_SUBKEY_BINDING, HKP_SIGT_SUBKEY_BINDING,
                        HKP_SIGT_SUBKEY_REVOCATION, &sigs);

        revoked = sigs.have_rev
                  && (!sigs.have_cert || sigs.rev.ctime >= sigs.cert.ctime);
        expires = sigs.have_cert && sigs.cert.key_expire
                  ? (uint64_t) sub.ctime + sigs.cert.key_expire : 0;

        hkp_json_obj(w);
        ngx_hkp_v2_key_fields(w, &sub);
        ngx_hkp_v2_state(w, expires, revoked,
                         revoked ? sigs.rev.ctime : 0, &sigs);
        hkp_json_end(w);
    }

    hkp_json_end(w);
}


/* One certificate object; NGX_DECLINED when the stored key cannot be
 * read (it is left out, and logged). */
static ngx_int_t
ngx_hkp_v2_cert(ngx_hkp_lookup_t *lk, hkp_json_t *w, const MDB_val *val)
{
    size_t              primary;
    hkp_key_t           key;
    ngx_int_t           have_primary;
    const char         *err;
    char                why[HKP_REASON_LEN];
    hkp_keyview_t       v;
    ngx_hkp_v2_sigs_t   direct, uid;

    if (hkp_key_decode(val->mv_data, val->mv_size, &key, why, sizeof(why))
        != 0)
    {
        ngx_log_error(NGX_LOG_WARN, lk->r->connection->log, 0,
                      "hkp: v2 index: a stored key does not decode: %s", why);
        return NGX_DECLINED;
    }

    if (hkp_keyview_build(&key, &v, &err) != 0) {
        ngx_log_error(NGX_LOG_WARN, lk->r->connection->log, 0,
                      "hkp: v2 index: a stored key has no view: %s", err);
        hkp_key_free(&key);
        return NGX_DECLINED;
    }

    have_primary = ngx_hkp_primary_uid(&v, &primary) == NGX_OK;

    /* the primary key's own signatures: direct key sigs and revocations */
    ngx_hkp_v2_scan(&v, 1, v.ndirect, HKP_SIGT_DIRECT_KEY,
                    HKP_SIGT_DIRECT_KEY, HKP_SIGT_KEY_REVOCATION, &direct);
    ngx_memzero(&uid, sizeof(uid));

    hkp_json_obj(w);
    ngx_hkp_v2_key_fields(w, &v.pk);
    ngx_hkp_v2_uids(w, &v, primary, have_primary, &uid);

    /* key flags: a direct key signature's, else the primary user ID's */
    ngx_hkp_v2_state(w, v.exptime, v.revoked,
                     direct.have_rev ? direct.rev.ctime : 0,
                     direct.have_cert && direct.cert.has_key_flags
                     ? &direct : &uid);
    ngx_hkp_v2_subkeys(w, &v);
    hkp_json_end(w);

    hkp_keyview_free(&v);
    hkp_key_free(&key);

    return NGX_OK;
}


ngx_int_t
ngx_hkp_v2_index(ngx_hkp_lookup_t *lk, ngx_hkp_out_t *o)
{
    ngx_uint_t  i;
    hkp_json_t  w;

    hkp_json_init(&w, ngx_hkp_v2_json_sink, o);
    hkp_json_arr(&w);

    for (i = 0; i < lk->nhits; i++) {
        (void) ngx_hkp_v2_cert(lk, &w, &lk->hits[i].val);

        /* checked per key, as the v1 index does */
        if ((size_t) o->len > lk->lcf->max_reply) {
            return NGX_DECLINED;
        }
    }

    hkp_json_end(&w);
    ngx_hkp_out_str(o, "\n");

    if (w.err) {
        ngx_log_error(NGX_LOG_ALERT, lk->r->connection->log, 0,
                      "hkp: v2 index: JSON writer misuse");
        return NGX_ERROR;
    }

    return NGX_OK;
}
