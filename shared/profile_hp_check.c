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
#include <pthread.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "profile_hp.h"

typedef struct {
    int          id;
    const char  *name;
} md_name_t;

/* The hashes a readable signature can use (profile_hp_sig.c). */
static const md_name_t md_names[] = {
    { 1, "MD5" }, { 2, "SHA1" }, { 8, "SHA256" }, { 9, "SHA384" },
    { 10, "SHA512" }, { 11, "SHA224" }, { 12, "SHA3-256" },
    { 14, "SHA3-512" },
};

#define NMD  (sizeof(md_names) / sizeof(md_names[0]))

static EVP_MD         *mds[NMD];
static pthread_once_t  mds_once = PTHREAD_ONCE_INIT;

static void
mds_init(void)
{
    for (size_t i = 0; i < NMD; i++)
        mds[i] = EVP_MD_fetch(NULL, md_names[i].name, NULL);
    ERR_clear_error();
}

static const EVP_MD *
md_for(int id)
{
    pthread_once(&mds_once, mds_init);
    for (size_t i = 0; i < NMD; i++)
        if (md_names[i].id == id)
            return mds[i];
    return NULL;
}

static int
put_len32(EVP_MD_CTX *ctx, uint8_t lead, size_t len)
{
    uint8_t h[5];

    h[0] = lead;
    h[1] = (uint8_t) (len >> 24);
    h[2] = (uint8_t) (len >> 16);
    h[3] = (uint8_t) (len >> 8);
    h[4] = (uint8_t) len;
    return EVP_DigestUpdate(ctx, h, 5);
}

static int
hash_key(EVP_MD_CTX *ctx, const hkp_pkt_t *pkt, const hkp_hp_key_t *k)
{
    uint8_t h[3];

    if (k->version == 6)
        return put_len32(ctx, 0x9B, pkt->len)
            && EVP_DigestUpdate(ctx, pkt->body, pkt->len);
    if (pkt->len > 0xFFFF)
        return 0;
    h[0] = 0x99;
    h[1] = (uint8_t) (pkt->len >> 8);
    h[2] = (uint8_t) pkt->len;
    return EVP_DigestUpdate(ctx, h, 3)
        && EVP_DigestUpdate(ctx, pkt->body, pkt->len);
}

int
hkp_hp_plausible(const hkp_pkt_t *primary, const hkp_hp_key_t *pk,
    const hkp_pkt_t *target, const hkp_hp_key_t *tk, const hkp_hp_sig_t *s)
{
    const EVP_MD *md = md_for(s->hash_algo);
    EVP_MD_CTX   *ctx;
    uint8_t       dig[EVP_MAX_MD_SIZE], t[6];
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
        && hash_key(ctx, primary, pk);
    if (ok && target != NULL) {
        if (target->tag == HKP_TAG_PUBSUB)
            ok = hash_key(ctx, target, tk);
        else
            ok = (s->version < 4 || put_len32(ctx, 0xB4, target->len))
                && EVP_DigestUpdate(ctx, target->body, target->len);
    }
    ok = ok && EVP_DigestUpdate(ctx, s->trailer, s->trailer_len);
    if (ok && s->version >= 4) {
        t[0] = (uint8_t) s->version;
        t[1] = 0xFF;
        t[2] = (uint8_t) (s->trailer_len >> 24);
        t[3] = (uint8_t) (s->trailer_len >> 16);
        t[4] = (uint8_t) (s->trailer_len >> 8);
        t[5] = (uint8_t) s->trailer_len;
        ok = EVP_DigestUpdate(ctx, t, 6);
    }
    ok = ok && EVP_DigestFinal_ex(ctx, dig, &dl);
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return 0;
    }
    return dl >= 2 && dig[0] == s->left16[0] && dig[1] == s->left16[1];
}
