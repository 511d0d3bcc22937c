/*
 * Uploads of HKPv2 and VKS through the /pks/add writer path (the same
 * body checks, pool-thread parsing, limits and group commit: the
 * ngx_hkp_add_hooks_t of ngx_hkp_add.h), with their own replies.
 *
 * POST /pks/v2/certs (draft section 5.2): a binary certificate bundle
 * (application/pgp-keys;armor=no), armored text, or multipart/form-data
 * with a "keytext" part. Reply 200, application/json:
 *
 *   {"inserted": [{"version": 4, "fingerprint": "<hex>"}],
 *    "updated": [...], "deleted": [],
 *    "ignored": [{"version", "fingerprint", "comment": "..."}],
 *    "invalid": [{"version", "fingerprint", "comment": "<reason>"}]}
 *
 * (section 7.2). "deleted" is always empty (a submission never deletes
 * here); "ignored" are keys already stored with all of it. An invalid key
 * whose primary key did not even parse has no version and fingerprint.
 * A submission that is not well formed (no key material, bad armor,
 * framing errors) is 422 with a one-line reason; one whose every key was
 * refused is 422 with the JSON above. 413, 403 (hkp_add off), 503, 500 as
 * /pks/add.
 *
 * POST /vks/v1/upload (keys.openpgp.org's API): a JSON body
 * {"keytext": "<armored key, or bare base64>"}. Reply 200,
 * application/json, for the first key accepted:
 *
 *   {"key_fpr": "<FINGERPRINT>", "status": {"<address>": "published"},
 *    "token": "<hash>"}
 *
 * status lists the e-mail addresses of the key as it is now served (the
 * stored key, merged with what was there): "published" (this server does
 * not verify addresses: every user ID is served as uploaded), or
 * "revoked" for a self-revoked user ID. token is the SKS hash of the
 * stored key (hex): GET /pks/lookup?op=hget&search=<token> fetches it;
 * there is no request-verify. Errors are {"error": "<reason>"} with the
 * status (VKS's shape): 400 for a body that is not such JSON or has no
 * key material, 422 when every key was refused.
 */
#include "ngx_hkp_v2.h"
#include "ngx_hkp_add.h"


/* The armor lines around a bare-base64 keytext. */
#define NGX_HKP_VKS_ARMOR_BEGIN  "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
#define NGX_HKP_VKS_ARMOR_END    "\n-----END PGP PUBLIC KEY BLOCK-----\n"


static void ngx_hkp_v2_submit_body(ngx_http_request_t *r);
static void ngx_hkp_vks_upload_body(ngx_http_request_t *r);
static ngx_int_t ngx_hkp_v2_submit_reply(ngx_http_request_t *r,
    ngx_hkp_add_task_t *t);
static ngx_int_t ngx_hkp_vks_upload_reply(ngx_http_request_t *r,
    ngx_hkp_add_task_t *t);
static int ngx_hkp_vks_keytext(const u_char *body, size_t len, u_char **text,
    size_t *textlen, const char **err);


static const ngx_hkp_add_hooks_t  ngx_hkp_v2_submit_hooks = {
    NULL,                              /* keytext: /pks/add's */
    ngx_hkp_v2_submit_reply
};

static const ngx_hkp_add_hooks_t  ngx_hkp_vks_upload_hooks = {
    ngx_hkp_vks_keytext,
    ngx_hkp_vks_upload_reply
};


#define NGX_HKP_READ_ONLY  "This keyserver does not accept keys " \
                           "(read-only mirror)"


ngx_int_t
ngx_hkp_v2_submit(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_hkp_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    /* an empty submission is not well formed either (422, not /pks/add's
     * 400 for an empty body) */
    if (lcf->add && r->headers_in.content_length_n == 0) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
        return ngx_hkp_error(r, 422, "Empty submission");
    }

    return ngx_hkp_post(r, lcf->add ? NULL : NGX_HKP_READ_ONLY,
                        ngx_hkp_v2_submit_body);
}


ngx_int_t
ngx_hkp_vks_upload(ngx_http_request_t *r)
{
    ngx_hkp_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    return ngx_hkp_post(r, lcf->add ? NULL : NGX_HKP_READ_ONLY,
                        ngx_hkp_vks_upload_body);
}


static void
ngx_hkp_v2_submit_body(ngx_http_request_t *r)
{
    ngx_hkp_add_run(r, &ngx_hkp_v2_submit_hooks);
}


static void
ngx_hkp_vks_upload_body(ngx_http_request_t *r)
{
    ngx_hkp_add_run(r, &ngx_hkp_vks_upload_hooks);
}


/* The key version a fingerprint length means (0: unknown). */
static int
ngx_hkp_v2_fpr_version(size_t fpr_len)
{
    switch (fpr_len) {
    case HKP_FPR_V3_LEN: return 3;
    case HKP_FPR_V4_LEN: return 4;
    case HKP_FPR_V6_LEN: return 6;
    default:             return 0;
    }
}


static ngx_int_t
ngx_hkp_v2_submit_reply(ngx_http_request_t *r, ngx_hkp_add_task_t *t)
{
    size_t              i;
    ngx_uint_t          status, outcome;
    hkp_json_t          w;
    ngx_hkp_out_t       o;
    ngx_hkp_add_key_t  *k;
    static const struct {
        const char  *name;
        ngx_int_t    outcome;     /* -1: none */
        const char  *comment;
    } arrays[] = {
        { "inserted", NGX_HKP_ADD_NEW, NULL },
        { "updated", NGX_HKP_ADD_MERGED, NULL },
        { "deleted", -1, NULL },
        { "ignored", NGX_HKP_ADD_UNCHANGED,
          "already stored, nothing new" },
        { "invalid", NGX_HKP_ADD_INVALID, NULL },
    };

    if (t->status == 0 || t->status == 422) {
        ngx_hkp_metrics_uploads(t->count);
    }

    /* not well formed: 422 (section 4.2) */
    if (t->status == NGX_HTTP_BAD_REQUEST) {
        return ngx_hkp_error(r, 422, t->reason);
    }

    if (t->status != 0 && t->status != 422) {
        return ngx_hkp_error(r, t->status, t->reason);
    }

    status = t->status ? t->status : NGX_HTTP_OK;

    ngx_hkp_out_init(&o, r->pool);
    hkp_json_init(&w, ngx_hkp_v2_json_sink, &o);
    hkp_json_obj(&w);

    for (outcome = 0; outcome < sizeof(arrays) / sizeof(arrays[0]);
         outcome++)
    {
        hkp_json_key(&w, arrays[outcome].name);
        hkp_json_arr(&w);

        for (i = 0; i < t->nkeys; i++) {
            k = &t->keys[i];
            if ((ngx_int_t) k->outcome != arrays[outcome].outcome) {
                continue;
            }

            hkp_json_obj(&w);
            if (k->fpr_len && ngx_hkp_v2_fpr_version(k->fpr_len)) {
                hkp_json_key(&w, "version");
                hkp_json_int(&w, ngx_hkp_v2_fpr_version(k->fpr_len));
                hkp_json_key(&w, "fingerprint");
                hkp_json_hex(&w, k->fpr, k->fpr_len, 0);
            }
            if (k->outcome == NGX_HKP_ADD_INVALID) {
                hkp_json_key(&w, "comment");
                hkp_json_cstr(&w, k->reason);
            } else if (arrays[outcome].comment) {
                hkp_json_key(&w, "comment");
                hkp_json_cstr(&w, arrays[outcome].comment);
            }
            hkp_json_end(&w);
        }

        hkp_json_end(&w);
    }

    hkp_json_end(&w);
    ngx_hkp_out_str(&o, "\n");

    if (w.err) {
        return ngx_hkp_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                             "JSON writer error");
    }

    return ngx_hkp_send_out(r, status, NGX_HKP_CT_JSON, &o,
                            (ngx_int_t) t->nkeys, 0);
}


/* ------------------------------------------------------------------ */
/* VKS                                                                  */

/*
 * Pool thread: the keytext of {"keytext": ...}. Bare base64 (no armor
 * line) is wrapped in armor lines so that the armor decoder reads it.
 */
static int
ngx_hkp_vks_keytext(const u_char *body, size_t len, u_char **text,
    size_t *textlen, const char **err)
{
    u_char  *kt, *w;
    size_t   n, i;

    if (hkp_json_keytext(body, len, &kt, &n, err) != 0) {
        return -1;
    }

    if (n == 0) {
        free(kt);
        *err = "empty keytext";
        return -1;
    }

    for (i = 0; i < n && (kt[i] == ' ' || kt[i] == '\t' || kt[i] == '\r'
                          || kt[i] == '\n'); i++) { /* void */ }

    if (n - i >= 5 && ngx_strncmp(kt + i, "-----", 5) == 0) {
        *text = kt;
        *textlen = n;
        return 0;
    }

    w = malloc(sizeof(NGX_HKP_VKS_ARMOR_BEGIN) - 1 + n
               + sizeof(NGX_HKP_VKS_ARMOR_END));
    if (w == NULL) {
        free(kt);
        *err = "out of memory";
        return -1;
    }

    *text = w;
    w = ngx_cpymem(w, NGX_HKP_VKS_ARMOR_BEGIN,
                   sizeof(NGX_HKP_VKS_ARMOR_BEGIN) - 1);
    w = ngx_cpymem(w, kt, n);
    w = ngx_cpymem(w, NGX_HKP_VKS_ARMOR_END,
                   sizeof(NGX_HKP_VKS_ARMOR_END) - 1);
    *textlen = w - *text;

    free(kt);
    return 0;
}


/* {"error": reason} with status (VKS's error shape for POST requests). */
ngx_int_t
ngx_hkp_vks_json_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *reason)
{
    hkp_json_t     w;
    ngx_hkp_out_t  o;

    ngx_hkp_out_init(&o, r->pool);
    hkp_json_init(&w, ngx_hkp_v2_json_sink, &o);
    hkp_json_obj(&w);
    hkp_json_key(&w, "error");
    hkp_json_cstr(&w, reason);
    hkp_json_end(&w);
    ngx_hkp_out_str(&o, "\n");

    return ngx_hkp_send_out(r, status, NGX_HKP_CT_JSON, &o, -1, 0);
}


/* "status": the e-mail addresses of the stored key with this
 * fingerprint, as it is served. */
static ngx_int_t
ngx_hkp_vks_status(ngx_http_request_t *r, hkp_json_t *w,
    const ngx_hkp_add_key_t *k)
{
    char             *email, **seen;
    size_t            elen, j, nseen, s;
    ngx_int_t         rc;
    hkp_key_t         key;
    ngx_uint_t        i;
    const char       *reason, *err;
    char              why[HKP_REASON_LEN];
    hkp_keyview_t     v;
    const hkp_pkt_t  *pkt;
    ngx_hkp_lookup_t  lk;

    seen = ngx_palloc(r->pool, HKP_MAX_UIDS_PER_KEY * sizeof(char *));
    if (seen == NULL) {
        return NGX_ERROR;
    }
    nseen = 0;

    rc = ngx_hkp_v2_begin(r, &lk);
    if (rc != NGX_OK) {
        return rc;
    }

    hkp_json_key(w, "status");
    hkp_json_obj(w);

    reason = NULL;
    rc = ngx_hkp_v2_find_id(&lk, k->fpr, k->fpr_len, &reason);

    for (i = 0; rc == NGX_OK && i < lk.nhits; i++) {
        if (hkp_key_decode(lk.hits[i].val.mv_data, lk.hits[i].val.mv_size,
                           &key, why, sizeof(why))
            != 0)
        {
            continue;
        }

        if (hkp_keyview_build(&key, &v, &err) == 0) {
            for (j = 0; j < v.nuids; j++) {
                pkt = &key.pkts[v.uids[j].at];
                if (pkt->tag != HKP_TAG_UID) {
                    continue;
                }

                email = ngx_pnalloc(r->pool, HKP_MAX_WORD_LEN + 1);
                if (email == NULL) {
                    break;
                }

                elen = hkp_uid_email(pkt->body, pkt->len, email,
                                     HKP_MAX_WORD_LEN + 1);
                if (elen == 0) {
                    continue;
                }

                /* one member per address (several user IDs may have it) */
                for (s = 0; s < nseen; s++) {
                    if (ngx_strcmp(seen[s], email) == 0) {
                        break;
                    }
                }
                if (s < nseen || nseen == HKP_MAX_UIDS_PER_KEY) {
                    continue;
                }
                seen[nseen++] = email;

                hkp_json_key(w, email);
                hkp_json_cstr(w, ngx_hkp_v2_uid_revoked(&v, j)
                                 ? "revoked" : "published");
            }
            hkp_keyview_free(&v);
        }

        hkp_key_free(&key);
    }

    hkp_json_end(w);

    ngx_hkp_db_end(lk.db);

    return rc == NGX_OK ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_hkp_vks_upload_reply(ngx_http_request_t *r, ngx_hkp_add_task_t *t)
{
    size_t              i;
    ngx_int_t           rc;
    hkp_json_t          w;
    ngx_hkp_out_t       o;
    ngx_hkp_add_key_t  *k;

    if (t->status == 0 || t->status == 422) {
        ngx_hkp_metrics_uploads(t->count);
    }

    if (t->status != 0) {
        return ngx_hkp_vks_json_error(r, t->status, t->reason);
    }

    k = NULL;
    for (i = 0; i < t->nkeys; i++) {
        if (t->keys[i].outcome != NGX_HKP_ADD_INVALID
            && t->keys[i].fpr_len)
        {
            k = &t->keys[i];
            break;
        }
    }

    if (k == NULL) {
        return ngx_hkp_vks_json_error(r, 422, "No key was accepted");
    }

    ngx_hkp_out_init(&o, r->pool);
    hkp_json_init(&w, ngx_hkp_v2_json_sink, &o);
    hkp_json_obj(&w);
    hkp_json_key(&w, "key_fpr");
    hkp_json_hex(&w, k->fpr, k->fpr_len, 1);

    rc = ngx_hkp_vks_status(r, &w, k);
    if (rc != NGX_OK) {
        return ngx_hkp_vks_json_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "Reading the stored key failed");
    }

    hkp_json_key(&w, "token");
    hkp_json_hex(&w, k->hash, HKP_HASH_LEN, 1);
    hkp_json_end(&w);
    ngx_hkp_out_str(&o, "\n");

    if (w.err) {
        return ngx_hkp_vks_json_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "JSON writer error");
    }

    return ngx_hkp_send_out(r, NGX_HTTP_OK, NGX_HKP_CT_JSON, &o, -1, 0);
}
