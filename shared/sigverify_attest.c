/*
 * Signature fields the serve policy reads (sigverify.h): the reason for
 * revocation, and the 1PA3PC attested certifications (the Attested
 * Certifications subpacket of an attestation key signature, type 0x16,
 * and the digest of a certification it lists; draft-ietf-openpgp-1pa3pc,
 * as in rfc4880bis-10 sections 5.2.1 and 5.2.3.30).
 */
#include <string.h>

#include <openssl/err.h>

#include "sigverify.h"
#include "sigverify_int.h"

typedef struct {
    int             want;       /* subpacket type */
    const uint8_t  *body;
    size_t          len;
    int             found;
} find_t;

static int
find_cb(void *ctx, int type, const uint8_t *body, size_t len)
{
    find_t *f = ctx;

    if (type == f->want) {
        f->body = body;
        f->len = len;
        f->found = 1;
        return 1;               /* the first one */
    }
    return 0;
}

/* The first hashed subpacket of type `type`. 0 or -1. */
static int
hashed_find(const hkp_pkt_t *pkt, int type, hkp_sigv_sig_t *s, find_t *f)
{
    memset(f, 0, sizeof(*f));
    f->want = type;
    if (hkp_sigv_sig_split(pkt, s) != HKP_SIG_OK || s->version < 4)
        return -1;
    (void) hkp_sigv_subpkts_walk(s->hsub, s->hsub_len, find_cb, f);
    return f->found ? 0 : -1;
}

int
hkp_sig_revocation_reason(const hkp_pkt_t *sig)
{
    hkp_sigv_sig_t s;
    find_t         f;

    if (hashed_find(sig, HKP_SUBPKT_REVOCATION_REASON, &s, &f) != 0
        || f.len < 1)
        return -1;
    return f.body[0];
}

int
hkp_sig_attested(const hkp_pkt_t *sig, const uint8_t **list, size_t *n,
    size_t *dlen)
{
    hkp_sigv_sig_t s;
    find_t         f;
    const EVP_MD  *md;
    int            size;

    if (hashed_find(sig, HKP_SUBPKT_ATTESTED_CERTS, &s, &f) != 0)
        return -1;
    md = hkp_md(s.hash_algo);
    if (md == NULL)
        return -1;
    size = EVP_MD_get_size(md);
    if (size <= 0 || size > HKP_SIG_MAX_DIGEST || f.len % (size_t) size != 0)
        return -1;
    *list = f.body;
    *dlen = (size_t) size;
    *n = f.len / (size_t) size;
    return 0;
}

int
hkp_sig_attest_digest(const hkp_pkt_t *att, const hkp_pkt_t *cert,
    uint8_t out[HKP_SIG_MAX_DIGEST], size_t *dlen)
{
    static const uint8_t zero[4];
    hkp_sigv_sig_t a, c;
    const EVP_MD  *md;
    EVP_MD_CTX    *ctx;
    uint8_t        hdr[5];
    size_t         head, tail_off, lenw, total;
    unsigned int   len = 0;
    int            ok;

    if (hkp_sigv_sig_split(att, &a) != HKP_SIG_OK
        || hkp_sigv_sig_split(cert, &c) != HKP_SIG_OK)
        return -1;
    md = hkp_md(a.hash_algo);
    if (md == NULL)
        return -1;

    if (c.version >= 4) {
        /* version .. hashed area, a zero unhashed length, and what
         * follows the unhashed area (left 16 bits, salt, material) */
        lenw = c.version == 4 ? 2 : 4;
        head = c.hashed_len;
        tail_off = (size_t) (c.usub - cert->body) + c.usub_len;
    } else {
        lenw = 0;
        head = cert->len;
        tail_off = cert->len;
    }
    total = head + lenw + (cert->len - tail_off);
    if (total > UINT32_MAX)
        return -1;

    hdr[0] = 0x88;
    hdr[1] = (uint8_t) (total >> 24);
    hdr[2] = (uint8_t) (total >> 16);
    hdr[3] = (uint8_t) (total >> 8);
    hdr[4] = (uint8_t) total;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return -1;
    ok = EVP_DigestInit_ex(ctx, md, NULL)
        && EVP_DigestUpdate(ctx, hdr, sizeof(hdr))
        && EVP_DigestUpdate(ctx, cert->body, head)
        && (lenw == 0 || EVP_DigestUpdate(ctx, zero, lenw))
        && (cert->len == tail_off
            || EVP_DigestUpdate(ctx, cert->body + tail_off,
                                cert->len - tail_off))
        && EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
    if (!ok || len > HKP_SIG_MAX_DIGEST) {
        ERR_clear_error();
        return -1;
    }
    *dlen = len;
    return 0;
}
