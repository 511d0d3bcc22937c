/*
 * Keys: the fields of public key and signature packets the index and the
 * store use (never verified cryptographically: sigverify.c does that),
 * fingerprints and key IDs, and the digests they need. See key.h.
 */
#include <string.h>

#include <openssl/evp.h>

#include "key.h"
#include "bytes.h"
#include "key_int.h"
#include "digest.h"

/* Digest of up to 3 parts. 0 or -1. */
static int
digest3(int hash_algo, const void *p1, size_t l1, const void *p2, size_t l2,
    const void *p3, size_t l3, uint8_t *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int         ok;

    if (ctx == NULL)
        return -1;
    ok = EVP_DigestInit_ex(ctx, hkp_md(hash_algo), NULL)
        && EVP_DigestUpdate(ctx, p1, l1)
        && (l2 == 0 || EVP_DigestUpdate(ctx, p2, l2))
        && (l3 == 0 || EVP_DigestUpdate(ctx, p3, l3))
        && EVP_DigestFinal_ex(ctx, out, NULL);
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

uint8_t
hkp_sig_type_of(const hkp_pkt_t *p)
{
    if (p->len >= 3 && (p->body[0] == 2 || p->body[0] == 3))
        return p->body[2];
    if (p->len >= 2)
        return p->body[1];
    return 0;
}

const char *
hkp_key_version_reason(int v)
{
    static const char *msgs[] = {
        "unsupported key version 0", "unsupported key version 1",
        "unsupported key version 2", "unsupported key version 3",
        "unsupported key version 4", "unsupported key version 5",
        "unsupported key version 6", "unsupported key version 7",
        "unsupported key version 8", "unsupported key version 9",
    };
    if (v >= 0 && v < 10)
        return msgs[v];
    return "unsupported key version";
}

/* ------------------------------------------------------------------ */
/* Public key packets                                                   */

/* The octet hashed before a key packet body for its fingerprint (RFC 9580
 * 5.5.4): v4 then a 2-octet length, v6 then a 4-octet length. */
#define FPR_V4_PREFIX  0x99
#define FPR_V6_PREFIX  0x9B

/* Reads an MPI at *p (remaining *n). Returns 0 and sets data/bits. */
static int
read_mpi(const uint8_t **p, size_t *n, const uint8_t **data, size_t *dlen,
    unsigned *bits)
{
    unsigned b;
    size_t   l;

    if (*n < 2)
        return -1;
    b = ((unsigned) (*p)[0] << 8) | (*p)[1];
    l = (b + 7) / 8;
    if (l > *n - 2)
        return -1;
    *data = *p + 2;
    *dlen = l;
    *bits = b;
    *p += 2 + l;
    *n -= 2 + l;
    return 0;
}

static const struct {
    const char    *name;
    unsigned       bits;
    uint8_t        len;
    const uint8_t  oid[10];
} curves[] = {
    { "nistp256", 256, 8, { 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 } },
    { "nistp384", 384, 5, { 0x2B, 0x81, 0x04, 0x00, 0x22 } },
    { "nistp521", 521, 5, { 0x2B, 0x81, 0x04, 0x00, 0x23 } },
    { "brainpoolP256r1", 256, 9,
        { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07 } },
    { "brainpoolP384r1", 384, 9,
        { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0B } },
    { "brainpoolP512r1", 512, 9,
        { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0D } },
    { "secp256k1", 256, 5, { 0x2B, 0x81, 0x04, 0x00, 0x0A } },
    { "ed25519", 256, 9,
        { 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01 } },
    { "cv25519", 256, 10,
        { 0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01 } },
    { "ed25519", 256, 3, { 0x2B, 0x65, 0x70 } },
    { "cv25519", 256, 3, { 0x2B, 0x65, 0x6E } },
    { "ed448", 448, 3, { 0x2B, 0x65, 0x71 } },
    { "x448", 448, 3, { 0x2B, 0x65, 0x6F } },
};

/* Keys of RFC 9580 section 5.5.5.7-10: algorithm, octets of the point. */
static const struct {
    int          algo;
    size_t       len;
    const char  *curve;
    unsigned     bits;
} native[] = {
    { HKP_PK_X25519,  32, "cv25519", 256 },
    { HKP_PK_X448,    56, "x448",    448 },
    { HKP_PK_ED25519, 32, "ed25519", 256 },
    { HKP_PK_ED448,   57, "ed448",   448 },
};

/* Fills bits/curve from the algorithm-specific key material. Unknown
 * algorithms and unknown curve OIDs leave bits 0 and curve NULL. */
static int
parse_material(int algo, const uint8_t *m, size_t ml, hkp_pubkey_t *out,
    const uint8_t **n_data, size_t *n_len, const uint8_t **e_data,
    size_t *e_len)
{
    const uint8_t *d;
    size_t         dl;
    unsigned       bits;

    switch (algo) {
    case HKP_PK_RSA: case HKP_PK_RSA_E: case HKP_PK_RSA_S:
    case HKP_PK_ELGAMAL: case HKP_PK_DSA: case HKP_PK_ELGAMAL_OLD:
        /* The first two MPIs (RSA n and e; DSA p and q, Elgamal p and g;
         * the rest is not read): the size is the first one's. */
        if (read_mpi(&m, &ml, &d, &dl, &bits) != 0)
            return -1;
        out->bits = bits;
        if (n_data) {
            *n_data = d;
            *n_len = dl;
        }
        if (read_mpi(&m, &ml, &d, &dl, &bits) != 0)
            return -1;
        if (e_data) {
            *e_data = d;
            *e_len = dl;
        }
        return 0;
    case HKP_PK_ECDH: case HKP_PK_ECDSA: case HKP_PK_EDDSA_LEG: {
        size_t ol;
        if (ml < 1)
            return -1;
        ol = m[0];
        if (ol == 0 || ol == 0xFF || ol > ml - 1)
            return -1;
        for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
            if (curves[i].len == ol && memcmp(curves[i].oid, m + 1, ol) == 0) {
                out->curve = curves[i].name;
                out->bits = curves[i].bits;
                break;
            }
        m += 1 + ol;
        ml -= 1 + ol;
        if (read_mpi(&m, &ml, &d, &dl, &bits) != 0)
            return -1;
        return 0;
    }
    default:
        /* RFC 9580's native-curve keys: a fixed-size point */
        for (size_t i = 0; i < sizeof(native) / sizeof(native[0]); i++)
            if (native[i].algo == algo) {
                if (ml < native[i].len)
                    return -1;
                out->curve = native[i].curve;
                out->bits = native[i].bits;
                break;
            }
        return 0;
    }
}

int
hkp_pubkey_parse(const hkp_pkt_t *pkt, hkp_pubkey_t *out, const char **err)
{
    const uint8_t *b = pkt->body;
    size_t         len = pkt->len;

    memset(out, 0, sizeof(*out));
    if (pkt->tag != HKP_TAG_PUBKEY && pkt->tag != HKP_TAG_PUBSUB
        && pkt->tag != HKP_TAG_SECKEY && pkt->tag != HKP_TAG_SECSUB)
    {
        *err = "not a public key packet";
        return -1;
    }
    if (len < 1) {
        *err = "malformed public key packet";
        return -1;
    }
    out->version = b[0];

    switch (b[0]) {
    case 2:
    case 3: {
        const uint8_t *nd = NULL, *ed = NULL;
        size_t         nl = 0, el = 0;

        if (len < 8) {
            *err = "malformed public key packet";
            return -1;
        }
        out->ctime = hkp_get_be32(b + 1);
        out->v3_days = ((uint32_t) b[5] << 8) | b[6];
        out->algo = b[7];
        if (parse_material(out->algo, b + 8, len - 8, out, &nd, &nl,
                &ed, &el) != 0 || nd == NULL)
        {
            *err = "malformed v3 key material";
            return -1;
        }
        if (digest3(HKP_MD_MD5, nd, nl, ed, el, NULL, 0, out->fpr) != 0) {
            *err = "digest failed";
            return -1;
        }
        out->fpr_len = HKP_FPR_V3_LEN;
        /* key ID: low 64 bits of n */
        if (nl >= HKP_KEYID_LEN)
            memcpy(out->keyid, nd + nl - HKP_KEYID_LEN, HKP_KEYID_LEN);
        else
            memcpy(out->keyid + HKP_KEYID_LEN - nl, nd, nl);
        return 0;
    }
    case 4: {
        uint8_t hdr[3];
        uint8_t md[EVP_MAX_MD_SIZE];

        if (len < 6) {
            *err = "malformed public key packet";
            return -1;
        }
        if (len > 0xFFFF) {
            *err = "v4 key packet too large";
            return -1;
        }
        out->ctime = hkp_get_be32(b + 1);
        out->algo = b[5];
        if (parse_material(out->algo, b + 6, len - 6, out, NULL, NULL,
                NULL, NULL) != 0)
        {
            *err = "malformed key material";
            return -1;
        }
        hdr[0] = FPR_V4_PREFIX;
        hdr[1] = (uint8_t) (len >> 8);
        hdr[2] = (uint8_t) len;
        if (digest3(HKP_MD_SHA1, hdr, 3, b, len, NULL, 0, md) != 0) {
            *err = "digest failed";
            return -1;
        }
        memcpy(out->fpr, md, HKP_FPR_V4_LEN);
        out->fpr_len = HKP_FPR_V4_LEN;
        hkp_fpr_keyid(out->fpr, out->fpr_len, out->keyid);
        return 0;
    }
    case 6: {
        uint8_t  hdr[5];
        uint32_t ml;

        if (len < 10) {
            *err = "malformed public key packet";
            return -1;
        }
        out->ctime = hkp_get_be32(b + 1);
        out->algo = b[5];
        ml = hkp_get_be32(b + 6);
        if (ml > len - 10) {
            *err = "malformed key material";
            return -1;
        }
        if (parse_material(out->algo, b + 10, ml, out, NULL, NULL,
                NULL, NULL) != 0)
        {
            *err = "malformed key material";
            return -1;
        }
        hdr[0] = FPR_V6_PREFIX;
        hdr[1] = (uint8_t) (len >> 24);
        hdr[2] = (uint8_t) (len >> 16);
        hdr[3] = (uint8_t) (len >> 8);
        hdr[4] = (uint8_t) len;
        if (digest3(HKP_MD_SHA256, hdr, 5, b, len, NULL, 0, out->fpr) != 0) {
            *err = "digest failed";
            return -1;
        }
        out->fpr_len = HKP_FPR_V6_LEN;
        hkp_fpr_keyid(out->fpr, out->fpr_len, out->keyid);
        return 0;
    }
    default:
        *err = hkp_key_version_reason(b[0]);
        return -1;
    }
}

/* ------------------------------------------------------------------ */
/* Signatures                                                           */

static int
parse_subpackets(const uint8_t *p, size_t n, int hashed, hkp_sig_t *out,
    int *have16)
{
    hkp_subpkt_t sp;
    int          rc;

    while ((rc = hkp_subpkt_next(&p, &n, &sp)) == 1) {
        const uint8_t *d = sp.body;
        size_t         dl = sp.len;

        switch (sp.type) {
        case HKP_SUBPKT_SIG_CTIME:
            if (hashed && dl >= 4)
                out->ctime = hkp_get_be32(d);
            break;
        case HKP_SUBPKT_SIG_EXPIRE:
            if (hashed && dl >= 4)
                out->sig_expire = hkp_get_be32(d);
            break;
        case HKP_SUBPKT_KEY_EXPIRE:
            if (hashed && dl >= 4)
                out->key_expire = hkp_get_be32(d);
            break;
        case HKP_SUBPKT_PRIMARY_UID:
            if (hashed && dl >= 1)
                out->primary_uid = d[0] != 0;
            break;
        case HKP_SUBPKT_KEY_FLAGS:
            if (hashed && dl >= 1) {
                out->has_key_flags = 1;
                out->key_flags = d[0];
            }
            break;
        case HKP_SUBPKT_ISSUER:
            if (dl == 8 && !*have16) {
                memcpy(out->issuer, d, HKP_KEYID_LEN);
                *have16 = 1;
            }
            break;
        case HKP_SUBPKT_ISSUER_FPR:
            if (dl >= 2 && out->issuer_fpr_len == 0) {
                size_t fl = dl - 1;
                if (fl > 32)
                    fl = 32;
                memcpy(out->issuer_fpr, d + 1, fl);
                out->issuer_fpr_len = fl;
            }
            break;
        default:
            break;
        }
    }
    return rc == 0 ? 0 : -1;
}

int
hkp_fpr_keyid(const uint8_t *fpr, size_t fpr_len, uint8_t id[HKP_KEYID_LEN])
{
    if (fpr_len == HKP_FPR_V4_LEN) {
        memcpy(id, fpr + HKP_FPR_V4_LEN - HKP_KEYID_LEN, HKP_KEYID_LEN);
        return 1;
    }
    if (fpr_len == HKP_FPR_V6_LEN) {
        memcpy(id, fpr, HKP_KEYID_LEN);
        return 1;
    }
    return 0;
}

int
hkp_sig_parse(const hkp_pkt_t *pkt, hkp_sig_t *out, const char **err)
{
    const uint8_t *b = pkt->body;
    size_t         len = pkt->len, hl, ul, off;
    int            have16 = 0;

    memset(out, 0, sizeof(*out));
    if (pkt->tag != HKP_TAG_SIG) {
        *err = "not a signature packet";
        return -1;
    }
    if (len < 1) {
        *err = "malformed signature packet";
        return -1;
    }
    out->version = b[0];
    switch (b[0]) {
    case 2:
    case 3:
        if (len < HKP_V3SIG_HDR_LEN || b[1] != 5) {
            *err = "malformed v3 signature packet";
            return -1;
        }
        out->type = b[HKP_V3SIG_OFF_TYPE];
        out->ctime = hkp_get_be32(b + HKP_V3SIG_OFF_CTIME);
        memcpy(out->issuer, b + HKP_V3SIG_OFF_ISSUER, HKP_KEYID_LEN);
        out->has_issuer = 1;
        out->pk_algo = b[HKP_V3SIG_OFF_PK_ALGO];
        out->hash_algo = b[HKP_V3SIG_OFF_HASH_ALGO];
        return 0;
    case 4:
    case 6: {
        size_t lw = b[0] == 4 ? 2 : 4;

        if (len < 4 + lw) {
            *err = "malformed signature packet";
            return -1;
        }
        out->type = b[1];
        out->pk_algo = b[2];
        out->hash_algo = b[3];
        off = 4;
        hl = lw == 2 ? (((size_t) b[off] << 8) | b[off + 1]) : hkp_get_be32(b + off);
        off += lw;
        if (hl > len - off) {
            *err = "malformed signature packet";
            return -1;
        }
        if (parse_subpackets(b + off, hl, 1, out, &have16) != 0) {
            *err = "malformed signature subpacket";
            return -1;
        }
        off += hl;
        if (lw > len - off) {
            *err = "malformed signature packet";
            return -1;
        }
        ul = lw == 2 ? (((size_t) b[off] << 8) | b[off + 1]) : hkp_get_be32(b + off);
        off += lw;
        if (ul > len - off) {
            *err = "malformed signature packet";
            return -1;
        }
        if (parse_subpackets(b + off, ul, 0, out, &have16) != 0) {
            *err = "malformed signature subpacket";
            return -1;
        }
        out->has_issuer = have16
            || hkp_fpr_keyid(out->issuer_fpr, out->issuer_fpr_len,
                out->issuer);
        return 0;
    }
    default:
        *err = "unsupported signature version";
        return -1;
    }
}
