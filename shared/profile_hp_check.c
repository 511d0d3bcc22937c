/*
 * The quick check Hockeypuck applies to signatures made by other keys
 * ("drop:implausible"): it cannot verify them (it does not have the
 * signer), so it hashes what the signature covers and compares the left
 * 16 bits with the ones the signature carries (RFC 9580 section 5.2.4):
 *
 *   v6 salt, then the primary key (v2-v4: 0x99 len16 body; v6: 0x9B
 *   len32 body), then the user ID (v4/v6 signature: 0xB4 len32 body; v3:
 *   the body alone) or the subkey (as a key), then the signature's
 *   trailer (v3: type + creation time; v4/v6: version .. hashed
 *   subpackets, then version, 0xFF, len32).
 */
#include <openssl/err.h>
#include <openssl/evp.h>

#include "profile_hp.h"
#include "sigverify_int.h"      /* hkp_md, hkp_sigv_hash_* */

/* A user ID as the quick check hashes it: v4/v6 signatures 0xB4 and a
 * 4-octet length, then the body (v3: the body alone). Unlike the verifier
 * (sigverify.c, 0xD1 for a user attribute) it always writes 0xB4, as the
 * quick check it stands for does. */
static int
hash_uid(EVP_MD_CTX *ctx, const hkp_pkt_t *uid, int sig_version)
{
    uint8_t h[5];

    if (sig_version >= 4) {
        h[0] = 0xB4;
        h[1] = (uint8_t) (uid->len >> 24);
        h[2] = (uint8_t) (uid->len >> 16);
        h[3] = (uint8_t) (uid->len >> 8);
        h[4] = (uint8_t) uid->len;
        if (!EVP_DigestUpdate(ctx, h, 5))
            return 0;
    }
    return EVP_DigestUpdate(ctx, uid->body, uid->len);
}

int
hkp_hp_plausible(const hkp_pkt_t *primary, const hkp_hp_key_t *pk,
    const hkp_pkt_t *target, const hkp_hp_key_t *tk, const hkp_hp_sig_t *s)
{
    const EVP_MD *md = hkp_md(s->hash_algo);
    EVP_MD_CTX   *ctx;
    uint8_t       dig[EVP_MAX_MD_SIZE];
    unsigned int  dl = 0;
    int           ok;

    if (md == NULL || (target != NULL && target->tag == HKP_TAG_PUBSUB
                       && tk == NULL))
        return 0;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return 0;
    ok = EVP_DigestInit_ex(ctx, md, NULL)
        && (s->salt_len == 0 || EVP_DigestUpdate(ctx, s->salt, s->salt_len))
        && hkp_sigv_hash_key(ctx, primary, pk->version);
    if (ok && target != NULL) {
        if (target->tag == HKP_TAG_PUBSUB)
            ok = hkp_sigv_hash_key(ctx, target, tk->version);
        else
            ok = hash_uid(ctx, target, s->version);
    }
    ok = ok && hkp_sigv_hash_trailer(ctx, s->version, s->trailer,
            s->trailer_len)
        && EVP_DigestFinal_ex(ctx, dig, &dl);
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return 0;
    }
    return dl >= 2 && dig[0] == s->left16[0] && dig[1] == s->left16[1];
}
