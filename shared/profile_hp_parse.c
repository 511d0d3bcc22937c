/*
 * Which key and signature packets Hockeypuck 2.2 can read (see
 * profile_hp.h). Its OpenPGP library refuses, and Hockeypuck then drops:
 *
 *   keys        versions other than 2, 3 (RSA only), 4 and 6; an unknown
 *               algorithm, curve OID or ECDH KDF; an RSA exponent longer
 *               than 3 octets; an ECDSA point that is not an uncompressed
 *               point on its curve; legacy Curve25519/EdDSA points of the
 *               wrong size or prefix; truncated material
 *   signatures  versions other than 2, 3, 4 and 6; public-key algorithms
 *               other than RSA, DSA, ECDSA, EdDSA, Ed25519, Ed448 (v3: RSA
 *               and DSA); hashes other than SHA-1 (not in v6), SHA-2 and
 *               SHA-3 (v3 also MD5), so MD5 v4 and RIPEMD-160 signatures
 *               are unreadable; a missing hashed creation time; a hashed
 *               subpacket of a known type with a bad length or value, or
 *               an unknown one marked critical; a non-exportable
 *               certification; two embedded signatures or one that is not
 *               a 0x19; a v6 salt of the wrong size; truncated material;
 *               and no issuer key ID at all
 *
 * Octets after the material are ignored, as the library does.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "profile_hp.h"

/* Public-key algorithms (RFC 9580 section 9.1). */
enum {
    PK_RSA = 1, PK_RSA_E = 2, PK_RSA_S = 3, PK_ELGAMAL = 16, PK_DSA = 17,
    PK_ECDH = 18, PK_ECDSA = 19, PK_EDDSA = 22, PK_X25519 = 25,
    PK_X448 = 26, PK_ED25519 = 27, PK_ED448 = 28
};

/* Native key and signature sizes of RFC 9580 section 5.5.5. */
#define X25519_KEY_LEN      32
#define X448_KEY_LEN        56
#define ED25519_KEY_LEN     32
#define ED448_KEY_LEN       57
#define ED25519_SIG_LEN     64
#define ED448_SIG_LEN      114
/* Longest RSA exponent the library takes, in octets. */
#define RSA_MAX_E_LEN        3
/* Shortest v3 RSA modulus (its key ID is the low 8 octets). */
#define V3_MIN_N_LEN         8

/* Signature subpacket types the library knows (RFC 9580 5.2.3.7). */
enum {
    SP_CTIME = 2, SP_SIG_EXPIRE = 3, SP_EXPORTABLE = 4, SP_TRUST = 5,
    SP_REGEX = 6, SP_KEY_EXPIRE = 9, SP_PREF_SYM = 11, SP_ISSUER = 16,
    SP_NOTATION = 20, SP_PREF_HASH = 21, SP_PREF_COMP = 22,
    SP_KS_PREFS = 23, SP_PREF_KS = 24, SP_PRIMARY_UID = 25, SP_POLICY = 26,
    SP_KEY_FLAGS = 27, SP_SIGNER_UID = 28, SP_REASON = 29,
    SP_FEATURES = 30, SP_EMBEDDED = 32, SP_ISSUER_FPR = 33,
    SP_RECIPIENT = 35, SP_PREF_AEAD = 39
};

#define KEY_FLAG_SIGN  0x02

/* ------------------------------------------------------------------ */
/* A bounded reader over a packet body                                 */

typedef struct {
    const uint8_t *p;
    size_t         n;
} rd_t;

static const uint8_t *
rd_take(rd_t *r, size_t k)
{
    const uint8_t *p = r->p;

    if (k > r->n)
        return NULL;
    r->p += k;
    r->n -= k;
    return p;
}

/* An MPI: 2-octet bit count, then (bits + 7) / 8 octets as they are. */
static int
rd_mpi(rd_t *r, const uint8_t **b, size_t *len)
{
    const uint8_t *h = rd_take(r, 2);
    size_t         bits;

    if (h == NULL)
        return -1;
    bits = (size_t) h[0] << 8 | h[1];
    *len = (bits + 7) / 8;
    *b = rd_take(r, *len);
    return *b == NULL ? -1 : 0;
}

/* A curve OID or ECDH KDF field: 1 length octet (0 and 0xFF reserved). */
static int
rd_field(rd_t *r, const uint8_t **b, size_t *len)
{
    const uint8_t *h = rd_take(r, 1);

    if (h == NULL || h[0] == 0 || h[0] == 0xFF)
        return -1;
    *len = h[0];
    *b = rd_take(r, *len);
    return *b == NULL ? -1 : 0;
}

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
    case PK_RSA: case PK_RSA_E: case PK_RSA_S:
        if (rd_mpi(r, &a, &al) != 0 || rd_mpi(r, &b, &bl) != 0)
            break;
        if (bl > RSA_MAX_E_LEN) {
            *why = "RSA public exponent over 3 octets";
            return -1;
        }
        return 0;
    case PK_DSA: case PK_ELGAMAL:
        for (i = k->algo == PK_DSA ? 4 : 3; i > 0; i--)
            if (rd_mpi(r, &a, &al) != 0)
                break;
        if (i > 0)
            break;
        return 0;
    case PK_ECDSA: case PK_ECDH: case PK_EDDSA:
        if (k->algo == PK_EDDSA && k->version == 6) {
            *why = "v6 key with legacy EdDSA";
            return -1;
        }
        if (rd_field(r, &a, &al) != 0)
            break;
        if ((c = curve_find(a, al)) == NULL) {
            *why = "unknown curve OID";
            return -1;
        }
        if ((k->algo == PK_ECDSA && c->kind != CV_GENERIC)
            || (k->algo == PK_ECDH && c->kind != CV_GENERIC
                && c->kind != CV_X25519 && c->kind != CV_X448)
            || (k->algo == PK_EDDSA && c->kind != CV_ED25519
                && c->kind != CV_ED448)
            || (k->algo == PK_ECDH && k->version == 6 && c->kind == CV_X25519))
        {
            *why = "curve not usable with the key's algorithm";
            return -1;
        }
        if (rd_mpi(r, &b, &bl) != 0)
            break;
        if (k->algo == PK_ECDH) {
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
        if ((k->algo == PK_ECDSA && !point_on_curve(c, b, bl))
            || (c->kind == CV_X25519 && bl != 1 + X25519_KEY_LEN)
            || (c->kind == CV_X448 && bl != 1 + X448_KEY_LEN)
            || (k->algo == PK_EDDSA && (bl == 0 || b[0] != 0x40))
            || (c->kind == CV_ED25519 && bl != 1 + ED25519_KEY_LEN)
            || (c->kind == CV_ED448 && bl != 1 + ED448_KEY_LEN))
        {
            *why = "bad elliptic curve point";
            return -1;
        }
        return 0;
    case PK_X25519:
        return rd_take(r, X25519_KEY_LEN) ? 0 : (*why = "truncated key", -1);
    case PK_X448:
        return rd_take(r, X448_KEY_LEN) ? 0 : (*why = "truncated key", -1);
    case PK_ED25519:
        return rd_take(r, ED25519_KEY_LEN) ? 0 : (*why = "truncated key", -1);
    case PK_ED448:
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
        if (k->algo != PK_RSA && k->algo != PK_RSA_E && k->algo != PK_RSA_S) {
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
    return k->algo != PK_RSA_E && k->algo != PK_ELGAMAL && k->algo != PK_ECDH
        && k->algo != PK_X25519 && k->algo != PK_X448;
}

size_t
hkp_hp_key_fpr(const hkp_pkt_t *pkt, const hkp_hp_key_t *k, uint8_t fpr[32])
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

/* ------------------------------------------------------------------ */
/* Signatures                                                          */

/* Hashes the library reads in a signature of this version. */
static int
sig_hash_known(int version, int id)
{
    switch (id) {
    case 8: case 9: case 10: case 11: case 12: case 14:
        return 1;
    case 2:
        return version < 6;
    case 1:
        return version < 4;
    default:
        return 0;
    }
}

/* v6 salt size per hash (RFC 9580 section 9.5). */
static size_t
v6_salt_len(int id)
{
    switch (id) {
    case 8: case 11: case 12: return 16;
    case 9:                   return 24;
    case 10: case 14:         return 32;
    default:                  return 0;
    }
}

typedef struct {
    hkp_hp_sig_t *s;
    int           has_ctime;
    int           has_issuer;
    int           has_embedded;
} sig_state_t;

static int sig_read_v4(const uint8_t *b, size_t n, sig_state_t *st,
    int depth, const char **why);

/* One subpacket area. 0 or -1 with *why. */
static int
subpackets(const uint8_t *p, size_t n, int hashed, sig_state_t *st,
    int depth, const char **why)
{
    hkp_hp_sig_t *s = st->s;

    while (n > 0) {
        size_t         len, hl, L;
        const uint8_t *c;
        int            type, critical;

        if (p[0] < 192) {
            len = p[0];
            hl = 1;
        } else if (p[0] < 255) {
            if (n < 2)
                goto truncated;
            len = ((size_t) (p[0] - 192) << 8) + p[1] + 192;
            hl = 2;
        } else {
            if (n < 5)
                goto truncated;
            len = (size_t) p[1] << 24 | (size_t) p[2] << 16
                | (size_t) p[3] << 8 | p[4];
            hl = 5;
        }
        if (len > n - hl)
            goto truncated;
        if (len == 0) {
            *why = "zero-length signature subpacket";
            return -1;
        }
        type = p[hl] & 0x7F;
        critical = (p[hl] & 0x80) != 0;
        c = p + hl + 1;
        L = len - 1;
        p += hl + len;
        n -= hl + len;
        if (!hashed && type != SP_ISSUER && type != SP_ISSUER_FPR
            && type != SP_EMBEDDED)
            continue;
        switch (type) {
        case SP_CTIME:
            if (L != 4)
                goto bad;
            st->has_ctime = 1;
            break;
        case SP_SIG_EXPIRE: case SP_KEY_EXPIRE:
            if (L != 4)
                goto bad;
            break;
        case SP_EXPORTABLE:
            if (L == 0 || c[0] == 0) {
                *why = "non-exportable certification";
                return -1;
            }
            break;
        case SP_TRUST:
            if (L != 2)
                goto bad;
            break;
        case SP_REGEX:
            if (L == 0 || c[L - 1] != 0)
                goto bad;
            break;
        case SP_ISSUER:
            if ((s->version > 4 && hashed) || L != 8)
                goto bad;
            if (s->version <= 4) {
                memcpy(s->issuer, c, 8);
                st->has_issuer = 1;
            }
            break;
        case SP_NOTATION:
            if (L < 8 || L != 8 + ((size_t) c[4] << 8 | c[5])
                                + ((size_t) c[6] << 8 | c[7]))
                goto bad;
            break;
        case SP_PRIMARY_UID:
            if (L != 1)
                goto bad;
            break;
        case SP_KEY_FLAGS:
            if (L > 0 && (c[0] & KEY_FLAG_SIGN))
                s->flag_sign = 1;
            break;
        case SP_REASON:
            if (L == 0)
                goto bad;
            s->has_reason = 1;
            s->reason = c[0];
            break;
        case SP_EMBEDDED: {
            hkp_hp_sig_t inner;
            sig_state_t  ist;

            if (st->has_embedded) {
                *why = "more than one embedded signature";
                return -1;
            }
            if (depth >= HKP_HP_MAX_EMBED_DEPTH) {
                *why = "embedded signatures nested too deep";
                return -1;
            }
            st->has_embedded = 1;
            memset(&inner, 0, sizeof(inner));
            memset(&ist, 0, sizeof(ist));
            ist.s = &inner;
            if (sig_read_v4(c, L, &ist, depth + 1, why) != 0)
                return -1;
            if (inner.type != 0x19) {
                *why = "embedded signature is not a primary key binding";
                return -1;
            }
            break;
        }
        case SP_ISSUER_FPR:
        case SP_RECIPIENT:
            if (L == 0 || (c[0] >= 5 ? L - 1 != 32 : L - 1 != 20))
                goto bad;
            if (type == SP_ISSUER_FPR) {
                memcpy(s->issuer, c[0] >= 5 ? c + 1 : c + 13, 8);
                st->has_issuer = 1;
            }
            break;
        case SP_PREF_AEAD:
            if (L % 2 != 0)
                goto bad;
            break;
        case SP_PREF_SYM: case SP_PREF_HASH: case SP_PREF_COMP:
        case SP_KS_PREFS: case SP_PREF_KS: case SP_POLICY:
        case SP_SIGNER_UID: case SP_FEATURES:
            break;
        default:
            if (critical) {
                *why = "unknown critical signature subpacket";
                return -1;
            }
        }
    }
    if (!st->has_ctime) {
        *why = "no hashed signature creation time";
        return -1;
    }
    return 0;

truncated:
    *why = "signature subpacket truncated";
    return -1;
bad:
    *why = "signature subpacket with a bad length or value";
    return -1;
}

/* Signature material after the quick check (and the v6 salt). */
static int
sig_material(rd_t *r, int algo)
{
    const uint8_t *b;
    size_t         l;

    switch (algo) {
    case PK_RSA: case PK_RSA_S:
        return rd_mpi(r, &b, &l);
    case PK_DSA: case PK_ECDSA: case PK_EDDSA:
        return rd_mpi(r, &b, &l) == 0 && rd_mpi(r, &b, &l) == 0 ? 0 : -1;
    case PK_ED25519:
        return rd_take(r, ED25519_SIG_LEN) ? 0 : -1;
    case PK_ED448:
        return rd_take(r, ED448_SIG_LEN) ? 0 : -1;
    default:
        return -1;
    }
}

/* A v4/v6 signature body b[0..n) (also an embedded one). */
static int
sig_read_v4(const uint8_t *b, size_t n, sig_state_t *st, int depth,
    const char **why)
{
    hkp_hp_sig_t  *s = st->s;
    rd_t           r = { b, n };
    const uint8_t *h, *area;
    size_t         lenw, hl, ul;

    if ((h = rd_take(&r, 1)) == NULL) {
        *why = "empty signature packet";
        return -1;
    }
    s->version = h[0];
    if (s->version != 4 && s->version != 6) {
        *why = "unsupported signature version";
        return -1;
    }
    lenw = s->version == 6 ? 4 : 2;
    if ((h = rd_take(&r, 3 + lenw)) == NULL)
        goto truncated;
    s->type = h[0];
    s->pk_algo = h[1];
    s->hash_algo = h[2];
    switch (s->pk_algo) {
    case PK_RSA: case PK_RSA_S: case PK_DSA: case PK_ECDSA: case PK_EDDSA:
    case PK_ED25519: case PK_ED448:
        break;
    default:
        *why = "unsupported signature algorithm";
        return -1;
    }
    if (!sig_hash_known(s->version, s->hash_algo)) {
        *why = "unsupported signature hash";
        return -1;
    }
    hl = lenw == 2 ? (size_t) h[3] << 8 | h[4]
        : (size_t) h[3] << 24 | (size_t) h[4] << 16 | (size_t) h[5] << 8 | h[6];
    if ((area = rd_take(&r, hl)) == NULL)
        goto truncated;
    s->trailer = b;
    s->trailer_len = (size_t) (r.p - b);
    if (subpackets(area, hl, 1, st, depth, why) != 0)
        return -1;
    if ((h = rd_take(&r, lenw)) == NULL)
        goto truncated;
    ul = lenw == 2 ? (size_t) h[0] << 8 | h[1]
        : (size_t) h[0] << 24 | (size_t) h[1] << 16 | (size_t) h[2] << 8 | h[3];
    if ((area = rd_take(&r, ul)) == NULL)
        goto truncated;
    if (subpackets(area, ul, 0, st, depth, why) != 0)
        return -1;
    if ((h = rd_take(&r, 2)) == NULL)
        goto truncated;
    s->left16[0] = h[0];
    s->left16[1] = h[1];
    if (s->version == 6) {
        if ((h = rd_take(&r, 1)) == NULL)
            goto truncated;
        s->salt_len = h[0];
        if (s->salt_len != v6_salt_len(s->hash_algo)) {
            *why = "v6 salt of the wrong size";
            return -1;
        }
        if ((s->salt = rd_take(&r, s->salt_len)) == NULL)
            goto truncated;
    }
    if (sig_material(&r, s->pk_algo) != 0)
        goto truncated;
    return 0;

truncated:
    *why = "truncated signature";
    return -1;
}

int
hkp_hp_sig_read(const hkp_pkt_t *pkt, hkp_hp_sig_t *s, const char **why)
{
    const uint8_t *b = pkt->body;
    sig_state_t    st;

    memset(s, 0, sizeof(*s));
    memset(&st, 0, sizeof(st));
    st.s = s;
    if (pkt->len < 1) {
        *why = "empty signature packet";
        return -1;
    }
    if (b[0] >= 4) {
        if (sig_read_v4(b, pkt->len, &st, 0, why) != 0)
            return -1;
        if (!st.has_issuer) {
            *why = "signature without an issuer key ID";
            return -1;
        }
        return 0;
    }
    /* v2/v3: version, 5, type, ctime(4), issuer(8), pk, hash, left16(2),
     * material */
    {
        rd_t           r = { b, pkt->len };
        const uint8_t *h = rd_take(&r, 19);

        if (b[0] < 2) {
            *why = "unsupported signature version";
            return -1;
        }
        if (h == NULL) {
            *why = "truncated signature";
            return -1;
        }
        if (h[1] != 5) {
            *why = "v3 signature hashed length is not 5";
            return -1;
        }
        s->version = h[0];
        s->type = h[2];
        memcpy(s->issuer, h + 7, 8);
        s->pk_algo = h[15];
        s->hash_algo = h[16];
        s->left16[0] = h[17];
        s->left16[1] = h[18];
        s->trailer = h + 2;
        s->trailer_len = 5;
        if (s->pk_algo != PK_RSA && s->pk_algo != PK_RSA_S
            && s->pk_algo != PK_DSA)
        {
            *why = "unsupported signature algorithm";
            return -1;
        }
        if (!sig_hash_known(s->version, s->hash_algo)) {
            *why = "unsupported signature hash";
            return -1;
        }
        if (sig_material(&r, s->pk_algo) != 0) {
            *why = "truncated signature";
            return -1;
        }
        return 0;
    }
}
