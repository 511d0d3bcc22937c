/*
 * Which key packets Hockeypuck 2.2 can read (see profile_hp.h). Its
 * OpenPGP library refuses, and Hockeypuck then drops, keys of versions
 * other than 2, 3 (RSA only), 4 and 6; an unknown algorithm, curve OID or
 * ECDH KDF; an RSA exponent longer than 3 octets; an ECDSA point that is
 * not an uncompressed point on its curve; legacy Curve25519/EdDSA points
 * of the wrong size or prefix; truncated material. Octets after the
 * material are ignored, as the library does. Also the fingerprint.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "profile_hp.h"

/* Native key sizes of RFC 9580 section 5.5.5. */
#define X25519_KEY_LEN      32
#define X448_KEY_LEN        56
#define ED25519_KEY_LEN     32
#define ED448_KEY_LEN       57
/* Longest RSA exponent the library takes, in octets. */
#define RSA_MAX_E_LEN        3
/* Shortest v3 RSA modulus (its key ID is the low 8 octets). */
#define V3_MIN_N_LEN         8

/* ------------------------------------------------------------------ */
/* Curves                                                              */

/* What a curve can be used for in the library. */
#define CV_GENERIC   1     /* ECDSA and ECDH over a Weierstrass curve */
#define CV_X25519    2     /* ECDH, legacy Curve25519 */
#define CV_X448      3     /* ECDH, Curve448 */
#define CV_ED25519   4     /* EdDSA legacy, Ed25519 */
#define CV_ED448     5     /* EdDSA legacy, Ed448 */

typedef struct {
    uint8_t         oid[10];
    uint8_t         oidlen;
    uint8_t         kind;
    int             nid;        /* libcrypto curve, CV_GENERIC */
    size_t          coord_len;  /* octets of one coordinate, CV_GENERIC */
} curve_t;

static const curve_t curves[] = {
    { { 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 }, 8, CV_GENERIC,
      NID_X9_62_prime256v1, 32 },
    { { 0x2B, 0x81, 0x04, 0x00, 0x22 }, 5, CV_GENERIC, NID_secp384r1, 48 },
    { { 0x2B, 0x81, 0x04, 0x00, 0x23 }, 5, CV_GENERIC, NID_secp521r1, 66 },
    { { 0x2B, 0x81, 0x04, 0x00, 0x0A }, 5, CV_GENERIC, NID_secp256k1, 32 },
    { { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07 }, 9,
      CV_GENERIC, NID_brainpoolP256r1, 32 },
    { { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0B }, 9,
      CV_GENERIC, NID_brainpoolP384r1, 48 },
    { { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0D }, 9,
      CV_GENERIC, NID_brainpoolP512r1, 64 },
    { { 0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01 }, 10,
      CV_X25519, 0, 0 },
    { { 0x2B, 0x65, 0x6F }, 3, CV_X448, 0, 0 },
    { { 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01 }, 9,
      CV_ED25519, 0, 0 },
    { { 0x2B, 0x65, 0x71 }, 3, CV_ED448, 0, 0 },
};

#define NCURVES  (sizeof(curves) / sizeof(curves[0]))

static EC_GROUP       *groups[NCURVES];
static pthread_once_t  groups_once = PTHREAD_ONCE_INIT;

static void
groups_init(void)
{
    for (size_t i = 0; i < NCURVES; i++)
        if (curves[i].kind == CV_GENERIC)
            groups[i] = EC_GROUP_new_by_curve_name(curves[i].nid);
    ERR_clear_error();
}

static const curve_t *
curve_find(const uint8_t *oid, size_t len)
{
    for (size_t i = 0; i < NCURVES; i++)
        if (curves[i].oidlen == len && memcmp(curves[i].oid, oid, len) == 0)
            return &curves[i];
    return NULL;
}

/* An uncompressed point (0x04 || x || y) on a Weierstrass curve. */
static int
point_on_curve(const curve_t *c, const uint8_t *p, size_t len)
{
    const EC_GROUP *g;
    EC_POINT       *pt;
    int             ok;

    if (len != 1 + 2 * c->coord_len || p[0] != 0x04)
        return 0;
    pthread_once(&groups_once, groups_init);
    g = groups[c - curves];
    if (g == NULL)
        return 0;
    pt = EC_POINT_new(g);
    if (pt == NULL)
        return 0;
    ok = EC_POINT_oct2point(g, pt, p, len, NULL) == 1;
    EC_POINT_free(pt);
    ERR_clear_error();
    return ok;
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */

/* Known hashes and ciphers of an ECDH KDF field (the library's maps). */
static int
kdf_hash_known(uint8_t id)
{
    return id == 8 || id == 9 || id == 10 || id == 11 || id == 12 || id == 14;
}

static int
kdf_cipher_known(uint8_t id)
{
    return id == 2 || id == 3 || id == 7 || id == 8 || id == 9;
}

static int
key_material(rd_t *r, hkp_hp_key_t *k, const char **why)
{
    const uint8_t *a, *b;
    const curve_t *c;
    size_t         al, bl;
    int            i;

    switch (k->algo) {
    case HKP_PK_RSA: case HKP_PK_RSA_E: case HKP_PK_RSA_S:
        if (rd_mpi(r, &a, &al) != 0 || rd_mpi(r, &b, &bl) != 0)
            break;
        if (bl > RSA_MAX_E_LEN) {
            *why = "RSA public exponent over 3 octets";
            return -1;
        }
        return 0;
    case HKP_PK_DSA: case HKP_PK_ELGAMAL:
        for (i = k->algo == HKP_PK_DSA ? 4 : 3; i > 0; i--)
            if (rd_mpi(r, &a, &al) != 0)
                break;
        if (i > 0)
            break;
        return 0;
    case HKP_PK_ECDSA: case HKP_PK_ECDH: case HKP_PK_EDDSA_LEG:
        if (k->algo == HKP_PK_EDDSA_LEG && k->version == 6) {
            *why = "v6 key with legacy EdDSA";
            return -1;
        }
        if (rd_field(r, &a, &al) != 0)
            break;
        if ((c = curve_find(a, al)) == NULL) {
            *why = "unknown curve OID";
            return -1;
        }
        if ((k->algo == HKP_PK_ECDSA && c->kind != CV_GENERIC)
            || (k->algo == HKP_PK_ECDH && c->kind != CV_GENERIC
                && c->kind != CV_X25519 && c->kind != CV_X448)
            || (k->algo == HKP_PK_EDDSA_LEG && c->kind != CV_ED25519
                && c->kind != CV_ED448)
            || (k->algo == HKP_PK_ECDH && k->version == 6
                && c->kind == CV_X25519))
        {
            *why = "curve not usable with the key's algorithm";
            return -1;
        }
        if (rd_mpi(r, &b, &bl) != 0)
            break;
        if (k->algo == HKP_PK_ECDH) {
            const uint8_t *kdf;
            size_t         kl;
            if (rd_field(r, &kdf, &kl) != 0)
                break;
            if (kl < 3 || kdf[0] != 0x01 || !kdf_hash_known(kdf[1])
                || !kdf_cipher_known(kdf[2]))
            {
                *why = "unsupported ECDH KDF parameters";
                return -1;
            }
        }
        if ((k->algo == HKP_PK_ECDSA && !point_on_curve(c, b, bl))
            || (c->kind == CV_X25519 && bl != 1 + X25519_KEY_LEN)
            || (c->kind == CV_X448 && bl != 1 + X448_KEY_LEN)
            || (k->algo == HKP_PK_EDDSA_LEG && (bl == 0 || b[0] != 0x40))
            || (c->kind == CV_ED25519 && bl != 1 + ED25519_KEY_LEN)
            || (c->kind == CV_ED448 && bl != 1 + ED448_KEY_LEN))
        {
            *why = "bad elliptic curve point";
            return -1;
        }
        return 0;
    case HKP_PK_X25519:
        return rd_take(r, X25519_KEY_LEN) ? 0 : (*why = "truncated key", -1);
    case HKP_PK_X448:
        return rd_take(r, X448_KEY_LEN) ? 0 : (*why = "truncated key", -1);
    case HKP_PK_ED25519:
        return rd_take(r, ED25519_KEY_LEN) ? 0 : (*why = "truncated key", -1);
    case HKP_PK_ED448:
        return rd_take(r, ED448_KEY_LEN) ? 0 : (*why = "truncated key", -1);
    default:
        *why = "unknown public-key algorithm";
        return -1;
    }
    *why = "truncated key material";
    return -1;
}

int
hkp_hp_key_read(const hkp_pkt_t *pkt, hkp_hp_key_t *k, const char **why)
{
    rd_t           r = { pkt->body, pkt->len };
    const uint8_t *h;

    memset(k, 0, sizeof(*k));
    if (pkt->len < 1) {
        *why = "empty key packet";
        return -1;
    }
    k->version = pkt->body[0];
    if (k->version < 4) {
        /* version, ctime(4), validity days(2), algorithm; RSA only */
        if ((h = rd_take(&r, 8)) == NULL || k->version < 2) {
            *why = h == NULL ? "truncated key" : "unsupported key version";
            return -1;
        }
        k->algo = h[7];
        if (k->algo != HKP_PK_RSA && k->algo != HKP_PK_RSA_E
            && k->algo != HKP_PK_RSA_S)
        {
            *why = "v3 key with an algorithm other than RSA";
            return -1;
        }
        if (rd_mpi(&r, &k->n, &k->nlen) != 0
            || rd_mpi(&r, &k->e, &k->elen) != 0)
        {
            *why = "truncated key material";
            return -1;
        }
        if (k->nlen < V3_MIN_N_LEN) {
            *why = "v3 RSA modulus under 8 octets";
            return -1;
        }
        if (k->elen > RSA_MAX_E_LEN) {
            *why = "RSA public exponent over 3 octets";
            return -1;
        }
        return 0;
    }
    if (k->version != 4 && k->version != 6) {
        *why = "unsupported key version";
        return -1;
    }
    /* version, ctime(4), algorithm; v6: 4-octet material length */
    if ((h = rd_take(&r, 6)) == NULL
        || (k->version == 6 && rd_take(&r, 4) == NULL))
    {
        *why = "truncated key";
        return -1;
    }
    k->algo = h[5];
    return key_material(&r, k, why);
}

int
hkp_hp_key_can_sign(const hkp_hp_key_t *k)
{
    /* the library's CanSign: only these three are refused (a native
     * X25519 or X448 key "can sign" there) */
    return k->algo != HKP_PK_RSA_E && k->algo != HKP_PK_ELGAMAL
        && k->algo != HKP_PK_ECDH;
}

size_t
hkp_hp_key_fpr(const hkp_pkt_t *pkt, const hkp_hp_key_t *k,
    uint8_t fpr[HKP_FPR_MAX_LEN])
{
    EVP_MD_CTX   *ctx = EVP_MD_CTX_new();
    uint8_t       h[5];
    unsigned int  len = 0;
    int           ok;

    if (ctx == NULL)
        return 0;
    if (k->version < 4) {
        ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL)
            && EVP_DigestUpdate(ctx, k->n, k->nlen)
            && EVP_DigestUpdate(ctx, k->e, k->elen);
    } else if (k->version == 6) {
        h[0] = 0x9B;
        h[1] = (uint8_t) (pkt->len >> 24);
        h[2] = (uint8_t) (pkt->len >> 16);
        h[3] = (uint8_t) (pkt->len >> 8);
        h[4] = (uint8_t) pkt->len;
        ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)
            && EVP_DigestUpdate(ctx, h, 5)
            && EVP_DigestUpdate(ctx, pkt->body, pkt->len);
    } else {
        h[0] = 0x99;
        h[1] = (uint8_t) (pkt->len >> 8);
        h[2] = (uint8_t) pkt->len;
        ok = pkt->len <= 0xFFFF
            && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL)
            && EVP_DigestUpdate(ctx, h, 3)
            && EVP_DigestUpdate(ctx, pkt->body, pkt->len);
    }
    ok = ok && EVP_DigestFinal_ex(ctx, fpr, &len);
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return 0;
    }
    return len;
}
