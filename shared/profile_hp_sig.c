/*
 * Which signature packets Hockeypuck 2.2 can read (see profile_hp.h). Its
 * OpenPGP library refuses, and Hockeypuck then drops, signatures of
 * versions other than 2, 3, 4 and 6; public-key algorithms other than
 * RSA, DSA, ECDSA, EdDSA, Ed25519, Ed448 (v3: RSA and DSA); hashes other
 * than SHA-1 (not in v6), SHA-2 and SHA-3 (v3 also MD5), so MD5 v4 and
 * RIPEMD-160 signatures are unreadable; a missing hashed creation time; a
 * hashed subpacket of a known type with a bad length or value, or an
 * unknown one marked critical; a non-exportable certification; two
 * embedded signatures or one that is not a 0x19; a v6 salt of the wrong
 * size; truncated material; and (Hockeypuck itself) no issuer key ID.
 * Octets after the material are ignored, as the library does.
 */
#include <string.h>

#include "profile_hp.h"
#include "sigverify_int.h"      /* hkp_sigv_v6_salt_len */

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
/* Signatures                                                          */

/* Hashes the library reads in a signature of this version. */
static int
sig_hash_known(int version, int id)
{
    switch (id) {
    case HKP_MD_SHA256: case HKP_MD_SHA384: case HKP_MD_SHA512:
    case HKP_MD_SHA224: case HKP_MD_SHA3_256: case HKP_MD_SHA3_512:
        return 1;
    case HKP_MD_SHA1:
        return version < 6;
    case HKP_MD_MD5:
        return version < 4;
    default:
        return 0;
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
    hkp_subpkt_t  sp;
    int           rc;

    while ((rc = hkp_subpkt_next(&p, &n, &sp)) == 1) {
        const uint8_t *c = sp.body;
        size_t         L = sp.len;
        int            type = sp.type, critical = sp.critical;

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
                memcpy(s->issuer, c, HKP_KEYID_LEN);
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
                memcpy(s->issuer, c[0] >= 5 ? c + 1 : c + 13, HKP_KEYID_LEN);
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
    if (rc == HKP_SUBPKT_EZERO) {
        *why = "zero-length signature subpacket";
        return -1;
    }
    if (rc != 0) {
        *why = "signature subpacket truncated";
        return -1;
    }
    if (!st->has_ctime) {
        *why = "no hashed signature creation time";
        return -1;
    }
    return 0;

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
    case HKP_PK_RSA: case HKP_PK_RSA_S:
        return rd_mpi(r, &b, &l);
    case HKP_PK_DSA: case HKP_PK_ECDSA: case HKP_PK_EDDSA_LEG:
        return rd_mpi(r, &b, &l) == 0 && rd_mpi(r, &b, &l) == 0 ? 0 : -1;
    case HKP_PK_ED25519:
        return rd_take(r, HKP_HP_ED25519_SIG_LEN) ? 0 : -1;
    case HKP_PK_ED448:
        return rd_take(r, HKP_HP_ED448_SIG_LEN) ? 0 : -1;
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
    case HKP_PK_RSA: case HKP_PK_RSA_S: case HKP_PK_DSA: case HKP_PK_ECDSA:
    case HKP_PK_EDDSA_LEG: case HKP_PK_ED25519: case HKP_PK_ED448:
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
        if (s->salt_len != hkp_sigv_v6_salt_len(s->hash_algo)) {
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
        const uint8_t *h = rd_take(&r, HKP_V3SIG_HDR_LEN);

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
        s->type = h[HKP_V3SIG_OFF_TYPE];
        memcpy(s->issuer, h + HKP_V3SIG_OFF_ISSUER, HKP_KEYID_LEN);
        s->pk_algo = h[HKP_V3SIG_OFF_PK_ALGO];
        s->hash_algo = h[HKP_V3SIG_OFF_HASH_ALGO];
        s->left16[0] = h[HKP_V3SIG_OFF_LEFT16];
        s->left16[1] = h[HKP_V3SIG_OFF_LEFT16 + 1];
        s->trailer = h + HKP_V3SIG_OFF_TYPE;
        s->trailer_len = 5;
        if (s->pk_algo != HKP_PK_RSA && s->pk_algo != HKP_PK_RSA_S
            && s->pk_algo != HKP_PK_DSA)
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
