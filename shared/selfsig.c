/*
 * Self-signature records (selfsig.h).
 */
#include <string.h>

#include "openpgp.h"
#include "selfsig.h"
#include "sigverify.h"

size_t
hkp_selfsig_len(size_t npkts)
{
    return HKP_SELFSIG_HDR_LEN + 2 * ((npkts + 7) / 8);
}

/* Whether the serve policy verifies a signature of this type by the
 * primary in a component of this kind (tag: 0 direct, else the tag of
 * the UID, UAT or subkey packet). */
static int
checked_type(uint8_t tag, uint8_t type)
{
    if (tag == 0)
        return type == HKP_SIGT_DIRECT_KEY || type == HKP_SIGT_KEY_REVOCATION;
    if (tag == HKP_TAG_PUBSUB)
        return type == HKP_SIGT_SUBKEY_BINDING
            || type == HKP_SIGT_SUBKEY_REVOCATION;
    return (type >= HKP_SIGT_CERT_GENERIC && type <= HKP_SIGT_CERT_POSITIVE)
        || type == HKP_SIGT_CERT_REVOCATION || type == HKP_SIGT_ATTESTATION;
}

/* The n signatures at pkts[first..] of the component `target` (NULL:
 * direct). *left: checks still allowed. */
static void
build_block(const hkp_key_t *key, const hkp_keyview_t *v,
    const hkp_pkt_t *target, size_t first, size_t n, uint8_t *checked,
    uint8_t *ok, size_t *left)
{
    for (size_t i = first; i < first + n && i < key->npkts && *left > 0;
         i++) {
        hkp_sig_t   s;
        const char *e;

        if (hkp_sig_parse(&key->pkts[i], &s, &e) != 0 || !s.has_issuer
            || memcmp(s.issuer, v->pk.keyid, HKP_KEYID_LEN) != 0
            || !checked_type(target != NULL ? target->tag : 0, s.type))
            continue;
        (*left)--;
        checked[i / 8] |= (uint8_t) (1u << (i % 8));
        if (hkp_sig_verify(&key->pkts[0], &key->pkts[0], target,
                           &key->pkts[i]) == HKP_SIG_OK)
            ok[i / 8] |= (uint8_t) (1u << (i % 8));
    }
}

int
hkp_selfsig_build(const hkp_key_t *key, uint8_t *rec)
{
    hkp_keyview_t  v;
    const char    *err;
    size_t         nb = (key->npkts + 7) / 8, left = HKP_SELFSIG_MAX_CHECKS;
    uint8_t       *checked = rec + HKP_SELFSIG_HDR_LEN, *ok = checked + nb;

    memset(rec, 0, hkp_selfsig_len(key->npkts));
    rec[0] = HKP_SELFSIG_VERSION;
    rec[1] = (uint8_t) (key->npkts >> 24);
    rec[2] = (uint8_t) (key->npkts >> 16);
    rec[3] = (uint8_t) (key->npkts >> 8);
    rec[4] = (uint8_t) key->npkts;
    if (hkp_keyview_build(key, &v, &err) != 0)
        return -1;
    build_block(key, &v, NULL, 1, v.ndirect, checked, ok, &left);
    for (size_t i = 0; i < v.nuids; i++)
        build_block(key, &v, &key->pkts[v.uids[i].at], v.uids[i].at + 1,
                    v.uids[i].nsigs, checked, ok, &left);
    for (size_t i = 0; i < v.nsubs; i++)
        build_block(key, &v, &key->pkts[v.subs[i].at], v.subs[i].at + 1,
                    v.subs[i].nsigs, checked, ok, &left);
    hkp_keyview_free(&v);
    return 0;
}

int
hkp_selfsig_valid(const uint8_t *rec, size_t len, size_t npkts)
{
    uint32_t n;

    if (rec == NULL || len < HKP_SELFSIG_HDR_LEN
        || rec[0] != HKP_SELFSIG_VERSION)
        return 0;
    n = (uint32_t) rec[1] << 24 | (uint32_t) rec[2] << 16
        | (uint32_t) rec[3] << 8 | rec[4];
    return n == npkts && len == hkp_selfsig_len(npkts);
}

int
hkp_selfsig_result(const uint8_t *rec, size_t npkts, size_t idx)
{
    const uint8_t *checked = rec + HKP_SELFSIG_HDR_LEN;
    const uint8_t *ok = checked + (npkts + 7) / 8;
    uint8_t        bit = (uint8_t) (1u << (idx % 8));

    if (idx >= npkts || !(checked[idx / 8] & bit))
        return -1;
    return (ok[idx / 8] & bit) != 0;
}
