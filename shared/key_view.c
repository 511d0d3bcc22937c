/*
 * Keys: the view of a canonical key the index shows (primary key, UID and
 * subkey blocks, revocation, expiry as SKS computes them). See key.h.
 */
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "key_int.h"

/* ------------------------------------------------------------------ */
/* Key view                                                             */

int
hkp_keyview_build(const hkp_key_t *key, hkp_keyview_t *v, const char **err)
{
    size_t   i, nu = 0, ns = 0;
    uint32_t newest_ctime = 0;
    int      have_newest = 0;
    hkp_sig_t newest = { 0 };

    memset(v, 0, sizeof(*v));
    v->key = key;
    if (key->npkts == 0 || key->pkts[0].tag != HKP_TAG_PUBKEY) {
        *err = "not a key";
        return -1;
    }
    if (hkp_pubkey_parse(&key->pkts[0], &v->pk, err) != 0)
        return -1;

    for (i = 1; i < key->npkts && key->pkts[i].tag == HKP_TAG_SIG; i++) {
        uint8_t t = hkp_sig_type_of(&key->pkts[i]);
        if (t == HKP_SIGT_KEY_REVOCATION || t == HKP_SIGT_SUBKEY_REVOCATION
            || t == HKP_SIGT_CERT_REVOCATION)
            v->revoked = 1;
    }
    v->ndirect = i - 1;
    for (; i < key->npkts; i++) {
        uint8_t t = key->pkts[i].tag;
        if (t == HKP_TAG_UID || t == HKP_TAG_UAT)
            nu++;
        else if (t == HKP_TAG_PUBSUB)
            ns++;
    }
    if (nu) {
        v->uids = malloc(nu * sizeof(hkp_block_t));
        if (v->uids == NULL)
            goto oom;
    }
    if (ns) {
        v->subs = malloc(ns * sizeof(hkp_block_t));
        if (v->subs == NULL)
            goto oom;
    }
    for (i = 1 + v->ndirect; i < key->npkts; i++) {
        uint8_t      t = key->pkts[i].tag;
        hkp_block_t *b;

        if (t == HKP_TAG_UID || t == HKP_TAG_UAT)
            b = &v->uids[v->nuids++];
        else if (t == HKP_TAG_PUBSUB)
            b = &v->subs[v->nsubs++];
        else
            continue;
        b->at = i;
        b->nsigs = 0;
        while (i + 1 < key->npkts && key->pkts[i + 1].tag == HKP_TAG_SIG) {
            b->nsigs++;
            i++;
        }
    }

    if (v->pk.version < 4) {
        if (v->pk.v3_days) {
            uint64_t e = (uint64_t) v->pk.ctime + (uint64_t) v->pk.v3_days * 86400;
            v->exptime = e > UINT32_MAX ? UINT32_MAX : (uint32_t) e;
        }
    } else {
        for (i = 0; i < v->nuids; i++) {
            hkp_sig_t s;
            if (key->pkts[v->uids[i].at].tag != HKP_TAG_UID)
                continue;
            if (hkp_keyview_selfsig(v, &v->uids[i], &s) != 0)
                continue;
            if (!have_newest || s.ctime > newest_ctime) {
                newest = s;
                newest_ctime = s.ctime;
                have_newest = 1;
            }
        }
        if (have_newest && newest.key_expire) {
            uint64_t e = (uint64_t) v->pk.ctime + newest.key_expire;
            v->exptime = e > UINT32_MAX ? UINT32_MAX : (uint32_t) e;
        }
    }
    return 0;

oom:
    hkp_keyview_free(v);
    *err = "out of memory";
    return -1;
}

void
hkp_keyview_free(hkp_keyview_t *v)
{
    free(v->uids);
    free(v->subs);
    v->uids = NULL;
    v->subs = NULL;
    v->nuids = 0;
    v->nsubs = 0;
}

int
hkp_keyview_selfsig(const hkp_keyview_t *v, const hkp_block_t *b,
    hkp_sig_t *out)
{
    const hkp_key_t *key = v->key;
    int              found = 0;

    for (size_t i = 0; i < b->nsigs; i++) {
        hkp_sig_t   s;
        const char *e;

        if (b->at + 1 + i >= key->npkts)
            break;
        if (hkp_sig_parse(&key->pkts[b->at + 1 + i], &s, &e) != 0)
            continue;
        if (s.type < HKP_SIGT_CERT_GENERIC || s.type > HKP_SIGT_CERT_POSITIVE
            || !s.has_issuer
            || memcmp(s.issuer, v->pk.keyid, HKP_KEYID_LEN) != 0)
            continue;
        if (!found || s.ctime > out->ctime) {
            *out = s;
            found = 1;
        }
    }
    return found ? 0 : -1;
}
