/*
 * OpenPGP signature verification: splitting key and signature packets,
 * hashing the material a signature covers (RFC 4880 section 5.2.4,
 * RFC 9580 section 5.2.4), the quick check, the embedded primary key
 * binding of signing subkeys, and the cached entry point. The public-key
 * arithmetic is in sigverify_algo.c, the cache in sigverify_cache.c.
 *
 * Hashed material, by signature version:
 *   v3  (salt none)  key: 0x99 len16 body   UID/UAT: body alone
 *       trailer: type, creation time (5 octets)
 *   v4               key: 0x99 len16 body (v6 key: 0x9B len32 body)
 *                    UID: 0xB4 len32 body   UAT: 0xD1 len32 body
 *       trailer: version .. hashed subpackets, 0x04 0xFF len32
 *   v6  salt first, then as v4 (keys are v6: 0x9B len32 body)
 *       trailer: version .. hashed subpackets, 0x06 0xFF len32
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "sigverify.h"
#include "bytes.h"
#include "sigverify_int.h"

const char *
hkp_sig_strerror(int code)
{
    switch (code) {
    case HKP_SIG_OK:           return "signature verifies";
    case HKP_SIG_EBAD:         return "signature does not verify";
    case HKP_SIG_EUNSUPPORTED: return "unsupported algorithm, curve, hash or version";
    case HKP_SIG_EMALFORMED:   return "malformed signature or key material";
    case HKP_SIG_ENOBACKSIG:   return "signing subkey without a valid primary key binding (0x19)";
    case HKP_SIG_ETYPE:        return "signature type does not fit what it is on";
    default:                   return "unknown signature verification result";
    }
}

/* ------------------------------------------------------------------ */
/* Packet splitting                                                   */

/* Key packet (tag 6 or 14). HKP_SIG_OK or EMALFORMED / EUNSUPPORTED. */
static int
key_split(const hkp_pkt_t *pkt, hkp_sigv_key_t *k)
{
    const uint8_t *b = pkt->body;
    size_t         n = pkt->len;

    if (pkt->tag != HKP_TAG_PUBKEY && pkt->tag != HKP_TAG_PUBSUB)
        return HKP_SIG_ETYPE;
    if (n < 1)
        return HKP_SIG_EMALFORMED;
    k->version = b[0];
    switch (k->version) {
    case 2:
    case 3:   /* version, ctime(4), validity days(2), algo */
        if (n < 8)
            return HKP_SIG_EMALFORMED;
        k->algo = b[7];
        k->mat = b + 8;
        k->matlen = n - 8;
        return HKP_SIG_OK;
    case 4:   /* version, ctime(4), algo */
        if (n < 6)
            return HKP_SIG_EMALFORMED;
        k->algo = b[5];
        k->mat = b + 6;
        k->matlen = n - 6;
        return HKP_SIG_OK;
    case 6:   /* version, ctime(4), algo, material length(4) */
        if (n < 10)
            return HKP_SIG_EMALFORMED;
        k->algo = b[5];
        k->mat = b + 10;
        k->matlen = hkp_get_be32(b + 6);
        if (k->matlen > n - 10)
            return HKP_SIG_EMALFORMED;
        return HKP_SIG_OK;
    default:
        return HKP_SIG_EUNSUPPORTED;
    }
}

/* Subpacket walker (sigverify_int.h). */
int
hkp_sigv_subpkts_walk(const uint8_t *p, size_t n,
    int (*cb)(void *ctx, int type, const uint8_t *body, size_t len), void *ctx)
{
    hkp_subpkt_t sp;
    int          rc, r;

    while ((rc = hkp_subpkt_next(&p, &n, &sp)) == 1)
        if (cb != NULL && (r = cb(ctx, sp.type, sp.body, sp.len)) != 0)
            return r;
    return rc == 0 ? 0 : -1;
}

size_t
hkp_sigv_v6_salt_len(int hash_algo)
{
    switch (hash_algo) {
    case HKP_MD_SHA256:   return 16;
    case HKP_MD_SHA384:   return 24;
    case HKP_MD_SHA512:   return 32;
    case HKP_MD_SHA224:   return 16;
    case HKP_MD_SHA3_256: return 16;
    case HKP_MD_SHA3_512: return 32;
    default: return 0;
    }
}

/* Signature packet (tag 2), sigverify_int.h. */
int
hkp_sigv_sig_split(const hkp_pkt_t *pkt, hkp_sigv_sig_t *s)
{
    const uint8_t *b = pkt->body;
    size_t         n = pkt->len, off, hl, ul, lenw;

    memset(s, 0, sizeof(*s));
    if (pkt->tag != HKP_TAG_SIG)
        return HKP_SIG_ETYPE;
    if (n < 1)
        return HKP_SIG_EMALFORMED;
    s->version = b[0];
    if (s->version == 2 || s->version == 3) {
        /* version, 5, type, ctime(4), issuer(8), pk, hash, left16(2) */
        if (n < HKP_V3SIG_HDR_LEN || b[1] != 5)
            return HKP_SIG_EMALFORMED;
        s->type = b[HKP_V3SIG_OFF_TYPE];
        s->hashed = b + HKP_V3SIG_OFF_TYPE;
        s->hashed_len = 5;
        s->pk_algo = b[HKP_V3SIG_OFF_PK_ALGO];
        s->hash_algo = b[HKP_V3SIG_OFF_HASH_ALGO];
        s->left16[0] = b[HKP_V3SIG_OFF_LEFT16];
        s->left16[1] = b[HKP_V3SIG_OFF_LEFT16 + 1];
        s->mat = b + HKP_V3SIG_HDR_LEN;
        s->matlen = n - HKP_V3SIG_HDR_LEN;
        return HKP_SIG_OK;
    }
    if (s->version != 4 && s->version != 6)
        return HKP_SIG_EUNSUPPORTED;

    /* version, type, pk, hash, hashed length (2 or 4), hashed area,
     * unhashed length, unhashed area, left16 */
    lenw = s->version == 4 ? 2 : 4;
    if (n < 4 + lenw)
        return HKP_SIG_EMALFORMED;
    s->type = b[1];
    s->pk_algo = b[2];
    s->hash_algo = b[3];
    hl = lenw == 2 ? (size_t) b[4] << 8 | b[5] : hkp_get_be32(b + 4);
    off = 4 + lenw;
    if (hl > n - off)
        return HKP_SIG_EMALFORMED;
    s->hsub = b + off;
    s->hsub_len = hl;
    off += hl;
    s->hashed = b;
    s->hashed_len = off;
    if (n - off < lenw)
        return HKP_SIG_EMALFORMED;
    ul = lenw == 2 ? (size_t) b[off] << 8 | b[off + 1] : hkp_get_be32(b + off);
    off += lenw;
    if (ul > n - off)
        return HKP_SIG_EMALFORMED;
    s->usub = b + off;
    s->usub_len = ul;
    off += ul;
    if (n - off < 2)
        return HKP_SIG_EMALFORMED;
    s->left16[0] = b[off];
    s->left16[1] = b[off + 1];
    off += 2;
    if (s->version == 6) {
        if (n - off < 1)
            return HKP_SIG_EMALFORMED;
        s->salt_len = b[off++];
        if (s->salt_len > n - off)
            return HKP_SIG_EMALFORMED;
        s->salt = b + off;
        off += s->salt_len;
    }
    s->mat = b + off;
    s->matlen = n - off;
    if (hkp_sigv_subpkts_walk(s->hsub, s->hsub_len, NULL, NULL) != 0
        || hkp_sigv_subpkts_walk(s->usub, s->usub_len, NULL, NULL) != 0)
        return HKP_SIG_EMALFORMED;
    return HKP_SIG_OK;
}

/* ------------------------------------------------------------------ */
/* Hashed material                                                    */

int
hkp_sigv_hash_key(EVP_MD_CTX *ctx, const hkp_pkt_t *pkt, int key_version)
{
    uint8_t h[5];

    if (key_version == 6) {
        h[0] = 0x9B;
        hkp_put_be32(h + 1, pkt->len);
        return EVP_DigestUpdate(ctx, h, 5)
            && EVP_DigestUpdate(ctx, pkt->body, pkt->len);
    }
    if (pkt->len > 0xFFFF)
        return 0;
    h[0] = 0x99;
    h[1] = (uint8_t) (pkt->len >> 8);
    h[2] = (uint8_t) pkt->len;
    return EVP_DigestUpdate(ctx, h, 3)
        && EVP_DigestUpdate(ctx, pkt->body, pkt->len);
}

/* A user ID or attribute: v4/v6 with 0xB4 / 0xD1 + 4-octet length, v3
 * the body alone. */
static int
hash_uid(EVP_MD_CTX *ctx, const hkp_pkt_t *pkt, int sig_version)
{
    uint8_t h[5];

    if (sig_version >= 4) {
        h[0] = pkt->tag == HKP_TAG_UID ? 0xB4 : 0xD1;
        hkp_put_be32(h + 1, pkt->len);
        if (!EVP_DigestUpdate(ctx, h, 5))
            return 0;
    }
    return EVP_DigestUpdate(ctx, pkt->body, pkt->len);
}

int
hkp_sigv_hash_trailer(EVP_MD_CTX *ctx, int sig_version,
    const uint8_t *hashed, size_t hashed_len)
{
    uint8_t t[6];

    if (!EVP_DigestUpdate(ctx, hashed, hashed_len))
        return 0;
    if (sig_version < 4)
        return 1;
    t[0] = (uint8_t) sig_version;
    t[1] = 0xFF;
    hkp_put_be32(t + 2, (uint32_t) hashed_len);
    return EVP_DigestUpdate(ctx, t, 6);
}

/* What a signature type needs as its target: 'u' a UID/UAT, 's' a
 * subkey, 'n' nothing, 'd' a document, 0 a type we do not check. */
static int
type_target(uint8_t type)
{
    switch (type) {
    case HKP_SIGT_BINARY: case HKP_SIGT_TEXT:
        return 'd';
    case HKP_SIGT_CERT_GENERIC: case HKP_SIGT_CERT_PERSONA:
    case HKP_SIGT_CERT_CASUAL: case HKP_SIGT_CERT_POSITIVE:
    case HKP_SIGT_CERT_REVOCATION: case HKP_SIGT_ATTESTATION:
        return 'u';
    case HKP_SIGT_SUBKEY_BINDING: case HKP_SIGT_PRIMARY_BINDING:
    case HKP_SIGT_SUBKEY_REVOCATION:
        return 's';
    case HKP_SIGT_DIRECT_KEY: case HKP_SIGT_KEY_REVOCATION:
        return 'n';
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* Verification                                                       */

typedef struct {
    const hkp_pkt_t *primary;
    const hkp_pkt_t *target;      /* UID/UAT/subkey or NULL */
    const uint8_t   *data;        /* document (types 0x00, 0x01) */
    size_t           datalen;
} material_t;

/* Digest of everything the signature covers, the quick check and the
 * public-key check. */
static int
verify_split(const hkp_sigv_key_t *signer, const hkp_sigv_sig_t *s,
    const material_t *m)
{
    const EVP_MD  *md;
    EVP_MD_CTX    *ctx;
    hkp_sigv_key_t pk, sub;
    uint8_t        dig[EVP_MAX_MD_SIZE];
    unsigned int   diglen = 0;
    int            ok, r;

    /* RFC 9580 section 5.2.3: v6 keys make v6 signatures, and only they */
    if ((signer->version == 6) != (s->version == 6))
        return HKP_SIG_EBAD;
    if (!hkp_sigv_algo_can_sign(s->pk_algo)
        || !hkp_sigv_algo_can_sign(signer->algo))
        return HKP_SIG_EUNSUPPORTED;
    /* v3 signatures are RSA or DSA only; EdDSA legacy is not for v6
     * (RFC 9580 section 5.2.3) */
    if (s->version < 4 && s->pk_algo != HKP_PK_RSA && s->pk_algo != HKP_PK_RSA_S
        && s->pk_algo != HKP_PK_DSA)
        return HKP_SIG_EBAD;
    if (s->version == 6 && s->pk_algo == HKP_PK_EDDSA_LEG)
        return HKP_SIG_EBAD;
    md = hkp_md(s->hash_algo);
    if (md == NULL)
        return HKP_SIG_EUNSUPPORTED;
    if (s->version == 6) {
        size_t want = hkp_sigv_v6_salt_len(s->hash_algo);
        if (want == 0)
            return HKP_SIG_EUNSUPPORTED;   /* MD5, SHA-1, RIPEMD-160 */
        if (s->salt_len != want)
            return HKP_SIG_EMALFORMED;
    }
    if (m->primary != NULL && (r = key_split(m->primary, &pk)) != HKP_SIG_OK)
        return r;
    if (m->target != NULL && m->target->tag == HKP_TAG_PUBSUB
        && (r = key_split(m->target, &sub)) != HKP_SIG_OK)
        return r;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return HKP_SIG_EUNSUPPORTED;
    ok = EVP_DigestInit_ex(ctx, md, NULL)
        && (s->salt_len == 0 || EVP_DigestUpdate(ctx, s->salt, s->salt_len));
    if (ok && m->primary != NULL)
        ok = hkp_sigv_hash_key(ctx, m->primary, pk.version);
    if (ok && m->target != NULL)
        ok = m->target->tag == HKP_TAG_PUBSUB
            ? hkp_sigv_hash_key(ctx, m->target, sub.version)
            : hash_uid(ctx, m->target, s->version);
    if (ok && m->data != NULL)
        ok = m->datalen == 0 || EVP_DigestUpdate(ctx, m->data, m->datalen);
    ok = ok
        && hkp_sigv_hash_trailer(ctx, s->version, s->hashed, s->hashed_len)
        && EVP_DigestFinal_ex(ctx, dig, &diglen);
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return HKP_SIG_EMALFORMED;
    }
    if (diglen < 2 || dig[0] != s->left16[0] || dig[1] != s->left16[1])
        return HKP_SIG_EBAD;
    return hkp_sigv_algo_verify(signer, s->pk_algo, md, dig, diglen, s->mat,
        s->matlen);
}

/* Subpacket callbacks for the 0x18 checks. */
typedef struct {
    int            has_flags;
    uint8_t        flags;
    const uint8_t *embedded;
    size_t         embedded_len;
} sub_scan_t;

static int
scan_flags(void *ctx, int type, const uint8_t *body, size_t len)
{
    sub_scan_t *sc = ctx;

    if (type == HKP_SUBPKT_KEY_FLAGS && !sc->has_flags) {
        sc->has_flags = 1;
        sc->flags = len > 0 ? body[0] : 0;
    }
    return 0;
}

static int
scan_embedded(void *ctx, int type, const uint8_t *body, size_t len)
{
    sub_scan_t *sc = ctx;

    if (type == HKP_SUBPKT_EMBEDDED_SIG && sc->embedded == NULL) {
        sc->embedded = body;
        sc->embedded_len = len;
    }
    return 0;
}

static int verify_core(const hkp_pkt_t *signer, const hkp_pkt_t *primary,
    const hkp_pkt_t *target, const hkp_pkt_t *sig, int depth);

/* A verified 0x18: if the subkey can sign, its embedded 0x19 (made by the
 * subkey over primary + subkey) must verify too. */
static int
check_backsig(const hkp_sigv_sig_t *s, const hkp_pkt_t *primary,
    const hkp_pkt_t *subkey, int depth)
{
    sub_scan_t     sc;
    hkp_sigv_key_t sub;
    hkp_pkt_t      emb;
    hkp_sigv_sig_t es;

    memset(&sc, 0, sizeof(sc));
    (void) hkp_sigv_subpkts_walk(s->hsub, s->hsub_len, scan_flags, &sc);
    if (key_split(subkey, &sub) != HKP_SIG_OK)
        return HKP_SIG_EMALFORMED;
    if (sc.has_flags ? !(sc.flags & HKP_KEYFLAG_SIGN)
                     : !hkp_sigv_algo_can_sign(sub.algo))
        return HKP_SIG_OK;
    (void) hkp_sigv_subpkts_walk(s->hsub, s->hsub_len, scan_embedded, &sc);
    if (sc.embedded == NULL)
        (void) hkp_sigv_subpkts_walk(s->usub, s->usub_len, scan_embedded, &sc);
    if (sc.embedded == NULL || sc.embedded_len > UINT32_MAX)
        return HKP_SIG_ENOBACKSIG;
    emb.tag = HKP_TAG_SIG;
    emb.len = (uint32_t) sc.embedded_len;
    emb.body = sc.embedded;
    if (hkp_sigv_sig_split(&emb, &es) != HKP_SIG_OK
        || es.type != HKP_SIGT_PRIMARY_BINDING)
        return HKP_SIG_ENOBACKSIG;
    return verify_core(subkey, primary, subkey, &emb, depth + 1) == HKP_SIG_OK
        ? HKP_SIG_OK : HKP_SIG_ENOBACKSIG;
}

static int
verify_core(const hkp_pkt_t *signer, const hkp_pkt_t *primary,
    const hkp_pkt_t *target, const hkp_pkt_t *sig, int depth)
{
    hkp_sigv_key_t sk;
    hkp_sigv_sig_t s;
    material_t     m;
    int            want, r;

    if (signer == NULL || primary == NULL || sig == NULL
        || primary->tag != HKP_TAG_PUBKEY || sig->tag != HKP_TAG_SIG
        || (signer->tag != HKP_TAG_PUBKEY && signer->tag != HKP_TAG_PUBSUB))
        return HKP_SIG_ETYPE;
    if ((r = hkp_sigv_sig_split(sig, &s)) != HKP_SIG_OK)
        return r;
    want = type_target(s.type);
    if (want == 0 || want == 'd')
        return HKP_SIG_ETYPE;
    if (want == 'n' ? target != NULL
        : target == NULL
          || (want == 'u' && target->tag != HKP_TAG_UID
              && target->tag != HKP_TAG_UAT)
          || (want == 's' && target->tag != HKP_TAG_PUBSUB))
        return HKP_SIG_ETYPE;
    /* an embedded signature inside an embedded signature is not one we
     * follow: only a 0x18's own 0x19 is checked */
    if (depth > 0 && s.type != HKP_SIGT_PRIMARY_BINDING)
        return HKP_SIG_ETYPE;
    if ((r = key_split(signer, &sk)) != HKP_SIG_OK)
        return r;
    m.primary = primary;
    m.target = target;
    m.data = NULL;
    m.datalen = 0;
    r = verify_split(&sk, &s, &m);
    if (r == HKP_SIG_OK && s.type == HKP_SIGT_SUBKEY_BINDING
        && depth == 0)
        r = check_backsig(&s, primary, target, depth);
    return r;
}

int
hkp_sig_verify(const hkp_pkt_t *signer, const hkp_pkt_t *primary,
    const hkp_pkt_t *target, const hkp_pkt_t *sig)
{
    uint8_t key[HKP_SIGV_CACHE_KEY_LEN];
    int     r, keyed;

    keyed = hkp_sigv_cache_key(signer, primary, target, sig, key) == 0;
    if (keyed && hkp_sigv_cache_get(key, &r))
        return r;
    r = verify_core(signer, primary, target, sig, 0);
    if (keyed)
        hkp_sigv_cache_put(key, r);
    return r;
}

int
hkp_sig_verify_data(const hkp_pkt_t *signer, const hkp_pkt_t *sig,
    const uint8_t *data, size_t len)
{
    hkp_sigv_key_t sk;
    hkp_sigv_sig_t s;
    material_t     m;
    int            r;

    if (signer == NULL || sig == NULL
        || (signer->tag != HKP_TAG_PUBKEY && signer->tag != HKP_TAG_PUBSUB))
        return HKP_SIG_ETYPE;
    if ((r = hkp_sigv_sig_split(sig, &s)) != HKP_SIG_OK)
        return r;
    if (type_target(s.type) != 'd')
        return HKP_SIG_ETYPE;
    if ((r = key_split(signer, &sk)) != HKP_SIG_OK)
        return r;
    m.primary = NULL;
    m.target = NULL;
    m.data = data;
    m.datalen = len;
    return verify_split(&sk, &s, &m);
}
