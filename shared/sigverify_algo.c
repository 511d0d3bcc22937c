/*
 * Public-key algorithms of the signature verifier over libcrypto 3 EVP:
 * RSA (PKCS#1 v1.5), DSA, ECDSA (NIST P-256/384/521, brainpoolP256r1/
 * 384r1/512r1, secp256k1), EdDSA legacy (Ed25519 by OID, algorithm 22),
 * Ed25519 (27) and Ed448 (28) of RFC 9580 (sections 5.2.3, 5.5.5).
 *
 * Every length comes from the packet and is checked against the bytes
 * that remain before it is used.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "sigverify.h"
#include "ed25519.h"
#include "sigverify_int.h"

/* ------------------------------------------------------------------ */
/* MPIs                                                               */

int
hkp_sigv_mpi_read(const uint8_t **p, size_t *n, hkp_sigv_mpi_t *out)
{
    size_t bits, len;

    if (*n < 2)
        return -1;
    bits = (size_t) (*p)[0] << 8 | (*p)[1];
    len = (bits + 7) / 8;
    if (len > *n - 2 || len > HKP_SIGV_MAX_MPI_BYTES)
        return -1;
    out->p = *p + 2;
    out->len = len;
    *p += 2 + len;
    *n -= 2 + len;
    /* leading zero octets are not part of the value */
    while (out->len > 0 && out->p[0] == 0) {
        out->p++;
        out->len--;
    }
    return 0;
}

/* Reads exactly `count` MPIs from the whole of [p, p+n); trailing octets
 * after them are tolerated (as other implementations do). */
static int
mpis_read(const uint8_t *p, size_t n, hkp_sigv_mpi_t *out, int count)
{
    for (int i = 0; i < count; i++)
        if (hkp_sigv_mpi_read(&p, &n, &out[i]) != 0)
            return -1;
    return 0;
}

int
hkp_sigv_algo_can_sign(int algo)
{
    switch (algo) {
    case HKP_PK_RSA:
    case HKP_PK_RSA_S:
    case HKP_PK_DSA:
    case HKP_PK_ECDSA:
    case HKP_PK_EDDSA_LEG:
    case HKP_PK_ED25519:
    case HKP_PK_ED448:
        return 1;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* Curves by OID (the DER content octets, RFC 9580 section 9.2)       */

typedef struct {
    uint8_t      len;
    uint8_t      oid[10];
    const char  *group;    /* libcrypto group name; NULL = Ed25519 legacy */
} curve_t;

static const curve_t curves[] = {
    { 8, { 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 }, "P-256" },
    { 5, { 0x2B, 0x81, 0x04, 0x00, 0x22 }, "P-384" },
    { 5, { 0x2B, 0x81, 0x04, 0x00, 0x23 }, "P-521" },
    { 9, { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07 }, "brainpoolP256r1" },
    { 9, { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0B }, "brainpoolP384r1" },
    { 9, { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0D }, "brainpoolP512r1" },
    { 5, { 0x2B, 0x81, 0x04, 0x00, 0x0A }, "secp256k1" },
    { 9, { 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01 }, NULL },
};

#define CURVE_COUNT (sizeof(curves) / sizeof(curves[0]))

/* Splits curve key material: OID length octet, OID, MPI point. Returns
 * the curve or NULL (*rc says EMALFORMED or EUNSUPPORTED). */
static const curve_t *
curve_read(const uint8_t *m, size_t ml, hkp_sigv_mpi_t *point, int *rc)
{
    const uint8_t *p;
    size_t         n, olen;

    *rc = HKP_SIG_EMALFORMED;
    if (ml < 1)
        return NULL;
    olen = m[0];
    if (olen == 0 || olen == 0xFF || olen > ml - 1)
        return NULL;
    p = m + 1 + olen;
    n = ml - 1 - olen;
    if (hkp_sigv_mpi_read(&p, &n, point) != 0)
        return NULL;
    for (size_t i = 0; i < CURVE_COUNT; i++)
        if (curves[i].len == olen && memcmp(curves[i].oid, m + 1, olen) == 0)
            return &curves[i];
    *rc = HKP_SIG_EUNSUPPORTED;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* EVP_PKEY construction                                              */

/* EVP_PKEY of type `name` from BIGNUM parameters. */
static EVP_PKEY *
pkey_from_bns(const char *name, const char *const *keys,
    const hkp_sigv_mpi_t *vals, int count)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM     *params = NULL;
    EVP_PKEY_CTX   *ctx = NULL;
    EVP_PKEY       *pkey = NULL;
    BIGNUM         *bn[4] = { NULL, NULL, NULL, NULL };
    int             ok = bld != NULL && count <= 4;

    for (int i = 0; ok && i < count; i++) {
        bn[i] = BN_bin2bn(vals[i].p, (int) vals[i].len, NULL);
        ok = bn[i] != NULL && OSSL_PARAM_BLD_push_BN(bld, keys[i], bn[i]);
    }
    if (ok)
        ok = (params = OSSL_PARAM_BLD_to_param(bld)) != NULL
            && (ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL)) != NULL
            && EVP_PKEY_fromdata_init(ctx) > 0
            && EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0;
    if (!ok) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    for (int i = 0; i < 4; i++)
        BN_free(bn[i]);
    return pkey;
}

static EVP_PKEY *
pkey_ec(const char *group, const hkp_sigv_mpi_t *point)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM     *params = NULL;
    EVP_PKEY_CTX   *ctx = NULL;
    EVP_PKEY       *pkey = NULL;
    int             ok;

    ok = bld != NULL
        && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
            group, 0)
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
            point->p, point->len)
        && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL
        && (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) != NULL
        && EVP_PKEY_fromdata_init(ctx) > 0
        && EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0;
    if (!ok) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/* ------------------------------------------------------------------ */
/* Verification primitives                                            */

/* EVP_PKEY_verify over a digest: RSA PKCS#1 v1.5 (md names the
 * DigestInfo), DSA and ECDSA (md NULL: the digest is taken as it is and
 * truncated to the group order by libcrypto). */
static int
verify_digest(EVP_PKEY *pkey, int rsa, const EVP_MD *md,
    const uint8_t *sig, size_t siglen, const uint8_t *dig, size_t diglen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int           r = -1;

    if (ctx != NULL && EVP_PKEY_verify_init(ctx) > 0
        && (!rsa || (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0
                     && EVP_PKEY_CTX_set_signature_md(ctx, md) > 0)))
        r = EVP_PKEY_verify(ctx, sig, siglen, dig, diglen);
    EVP_PKEY_CTX_free(ctx);
    return r == 1 ? HKP_SIG_OK : HKP_SIG_EBAD;
}

/* Pure EdDSA over the digest as the message (RFC 9580 section 5.2.3.4).
 * Ed25519 is ours (shared/ed25519.c: OpenSSL's verdict, several times
 * faster than OpenSSL 3.0's); Ed448 is libcrypto's. */
static int
verify_eddsa(const char *name, const uint8_t *pub, size_t publen,
    const uint8_t *sig, size_t siglen, const uint8_t *dig, size_t diglen)
{
    EVP_PKEY   *pkey;
    EVP_MD_CTX *mctx = NULL;
    int         r = -1;

    if (strcmp(name, "ED25519") == 0 && publen == HKP_ED25519_KEY_LEN
        && siglen == HKP_ED25519_SIG_LEN)
        return hkp_ed25519_verify(pub, sig, dig, diglen) == 1
            ? HKP_SIG_OK : HKP_SIG_EBAD;
    pkey = EVP_PKEY_new_raw_public_key_ex(NULL, name, NULL, pub, publen);
    if (pkey == NULL)
        return HKP_SIG_EMALFORMED;
    mctx = EVP_MD_CTX_new();
    if (mctx != NULL
        && EVP_DigestVerifyInit_ex(mctx, NULL, NULL, NULL, NULL, pkey, NULL) > 0)
        r = EVP_DigestVerify(mctx, sig, siglen, dig, diglen);
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_free(pkey);
    return r == 1 ? HKP_SIG_OK : HKP_SIG_EBAD;
}

/* DER SEQUENCE { INTEGER r, INTEGER s } of two MPIs (DSA, ECDSA). */
static int
der_sig(const hkp_sigv_mpi_t *r, const hkp_sigv_mpi_t *s, uint8_t **der,
    int *derlen)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM    *br = BN_bin2bn(r->p, (int) r->len, NULL);
    BIGNUM    *bs = BN_bin2bn(s->p, (int) s->len, NULL);

    *der = NULL;
    if (es == NULL || br == NULL || bs == NULL || !ECDSA_SIG_set0(es, br, bs)) {
        ECDSA_SIG_free(es);
        BN_free(br);
        BN_free(bs);
        return -1;
    }
    *derlen = i2d_ECDSA_SIG(es, der);
    ECDSA_SIG_free(es);
    return *derlen > 0 ? 0 : -1;
}

static int
verify_rsa(const hkp_sigv_key_t *key, const EVP_MD *md, const uint8_t *dig,
    size_t diglen, const uint8_t *sm, size_t sl)
{
    static const char *const names[] = { OSSL_PKEY_PARAM_RSA_N,
                                         OSSL_PKEY_PARAM_RSA_E };
    hkp_sigv_mpi_t k[2], s;
    uint8_t        padded[HKP_SIGV_MAX_MPI_BYTES];
    EVP_PKEY      *pkey;
    int            r;

    if (mpis_read(key->mat, key->matlen, k, 2) != 0 || k[0].len == 0
        || k[1].len == 0)
        return HKP_SIG_EMALFORMED;
    if (mpis_read(sm, sl, &s, 1) != 0)
        return HKP_SIG_EMALFORMED;
    if (s.len > k[0].len)
        return HKP_SIG_EBAD;
    /* the MPI drops leading zeros; PKCS#1 wants the modulus length */
    memset(padded, 0, k[0].len - s.len);
    memcpy(padded + k[0].len - s.len, s.p, s.len);
    pkey = pkey_from_bns("RSA", names, k, 2);
    if (pkey == NULL)
        return HKP_SIG_EMALFORMED;
    r = verify_digest(pkey, 1, md, padded, k[0].len, dig, diglen);
    EVP_PKEY_free(pkey);
    return r;
}

static int
verify_dsa(const hkp_sigv_key_t *key, const uint8_t *dig, size_t diglen,
    const uint8_t *sm, size_t sl)
{
    static const char *const names[] = { OSSL_PKEY_PARAM_FFC_P,
        OSSL_PKEY_PARAM_FFC_Q, OSSL_PKEY_PARAM_FFC_G, OSSL_PKEY_PARAM_PUB_KEY };
    hkp_sigv_mpi_t k[4], s[2];
    EVP_PKEY      *pkey;
    uint8_t       *der;
    int            derlen, r;

    if (mpis_read(key->mat, key->matlen, k, 4) != 0)
        return HKP_SIG_EMALFORMED;
    for (int i = 0; i < 4; i++)
        if (k[i].len == 0)
            return HKP_SIG_EMALFORMED;
    if (mpis_read(sm, sl, s, 2) != 0)
        return HKP_SIG_EMALFORMED;
    if (der_sig(&s[0], &s[1], &der, &derlen) != 0)
        return HKP_SIG_EMALFORMED;
    pkey = pkey_from_bns("DSA", names, k, 4);
    if (pkey == NULL) {
        OPENSSL_free(der);
        return HKP_SIG_EMALFORMED;
    }
    r = verify_digest(pkey, 0, NULL, der, (size_t) derlen, dig, diglen);
    EVP_PKEY_free(pkey);
    OPENSSL_free(der);
    return r;
}

static int
verify_ecdsa(const hkp_sigv_key_t *key, const uint8_t *dig, size_t diglen,
    const uint8_t *sm, size_t sl)
{
    const curve_t  *c;
    hkp_sigv_mpi_t  point, s[2];
    EVP_PKEY       *pkey;
    uint8_t        *der;
    int             derlen, rc, r;

    c = curve_read(key->mat, key->matlen, &point, &rc);
    if (c == NULL)
        return rc;
    if (c->group == NULL)             /* Ed25519 OID under ECDSA */
        return HKP_SIG_EUNSUPPORTED;
    if (mpis_read(sm, sl, s, 2) != 0)
        return HKP_SIG_EMALFORMED;
    pkey = pkey_ec(c->group, &point);
    if (pkey == NULL) {
        ERR_clear_error();
        /* libcrypto builds without the curve, or a point off the curve */
        return EC_curve_nist2nid(c->group) == NID_undef
            && OBJ_sn2nid(c->group) == NID_undef
            ? HKP_SIG_EUNSUPPORTED : HKP_SIG_EMALFORMED;
    }
    if (der_sig(&s[0], &s[1], &der, &derlen) != 0) {
        EVP_PKEY_free(pkey);
        return HKP_SIG_EMALFORMED;
    }
    r = verify_digest(pkey, 0, NULL, der, (size_t) derlen, dig, diglen);
    EVP_PKEY_free(pkey);
    OPENSSL_free(der);
    return r;
}

/* Algorithm 22: OID + MPI 0x40 || 32-octet point; signature r, s as two
 * MPIs of up to 32 octets each (RFC 9580 section 5.5.5.5 and 5.2.3.3). */
static int
verify_eddsa_legacy(const hkp_sigv_key_t *key, const uint8_t *dig,
    size_t diglen, const uint8_t *sm, size_t sl)
{
    const curve_t  *c;
    hkp_sigv_mpi_t  point, s[2];
    uint8_t         rs[64];
    int             rc;

    c = curve_read(key->mat, key->matlen, &point, &rc);
    if (c == NULL)
        return rc;
    if (c->group != NULL)
        return HKP_SIG_EUNSUPPORTED;  /* only Ed25519 is defined for 22 */
    if (point.len != 33 || point.p[0] != 0x40)
        return HKP_SIG_EMALFORMED;
    if (mpis_read(sm, sl, s, 2) != 0)
        return HKP_SIG_EMALFORMED;
    if (s[0].len > 32 || s[1].len > 32)
        return HKP_SIG_EBAD;
    memset(rs, 0, sizeof(rs));
    memcpy(rs + 32 - s[0].len, s[0].p, s[0].len);
    memcpy(rs + 64 - s[1].len, s[1].p, s[1].len);
    return verify_eddsa("ED25519", point.p + 1, 32, rs, 64, dig, diglen);
}

/* ------------------------------------------------------------------ */

int
hkp_sigv_algo_verify(const hkp_sigv_key_t *key, int algo, const EVP_MD *md,
    const uint8_t *dig, size_t diglen, const uint8_t *sig, size_t siglen)
{
    int rsa_key = key->algo == HKP_PK_RSA || key->algo == HKP_PK_RSA_S;
    int r;

    if (!hkp_sigv_algo_can_sign(algo) || !hkp_sigv_algo_can_sign(key->algo))
        return HKP_SIG_EUNSUPPORTED;
    /* the signature's algorithm must be the key's (RSA 1 and 3 are one) */
    if (algo != key->algo
        && !(rsa_key && (algo == HKP_PK_RSA || algo == HKP_PK_RSA_S)))
        return HKP_SIG_EBAD;

    switch (key->algo) {
    case HKP_PK_RSA:
    case HKP_PK_RSA_S:
        r = verify_rsa(key, md, dig, diglen, sig, siglen);
        break;
    case HKP_PK_DSA:
        r = verify_dsa(key, dig, diglen, sig, siglen);
        break;
    case HKP_PK_ECDSA:
        r = verify_ecdsa(key, dig, diglen, sig, siglen);
        break;
    case HKP_PK_EDDSA_LEG:
        r = verify_eddsa_legacy(key, dig, diglen, sig, siglen);
        break;
    /* RFC 9580 sections 5.2.3.4-5: native Ed25519 needs a digest of at
     * least 256 bits, Ed448 of at least 512 bits */
    case HKP_PK_ED25519:
        if (key->matlen < 32 || siglen < 64)
            return HKP_SIG_EMALFORMED;
        if (diglen < 32)
            return HKP_SIG_EBAD;
        r = verify_eddsa("ED25519", key->mat, 32, sig, 64, dig, diglen);
        break;
    case HKP_PK_ED448:
        if (key->matlen < 57 || siglen < 114)
            return HKP_SIG_EMALFORMED;
        if (diglen < 64)
            return HKP_SIG_EBAD;
        r = verify_eddsa("ED448", key->mat, 57, sig, 114, dig, diglen);
        break;
    default:
        r = HKP_SIG_EUNSUPPORTED;
    }
    /* libcrypto's error queue is per thread; leave nothing behind for
     * the next user (nginx logs it) */
    ERR_clear_error();
    return r;
}
