/*
 * SKS recon wire format: framing and the messages of a session (msg.h;
 * the Config exchange is in msg_config.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

/* p as 17 bytes little-endian (doc/recon.md 2.1). */
static const uint8_t P_LE[HKP_ELEM_LEN] = {
    0x1b, 0x43, 0xa5, 0x30, 0xd9, 0x85, 0x1f, 0xc9, 0xdf, 0x1f, 0x8b, 0x87,
    0xe4, 0x10, 0x1d, 0x8f, 0x01
};

/* ----------------------------------------------------------- encoders */

size_t
recon_frame_begin(rbuf_t *b, int type)
{
    size_t at = rbuf_avail(b);
    uint8_t t = (uint8_t) type;
    if (rbuf_put_u32(b, 0) != 0 || rbuf_put(b, &t, 1) != 0) {
        rbuf_truncate(b, at);
        return (size_t) -1;
    }
    return at;
}

int
recon_frame_end(rbuf_t *b, size_t at)
{
    size_t n = rbuf_avail(b) - at - 4;
    if (n > RECON_SET_FRAME_LEN(RECON_MAX_ELEMENTS_CEIL)) {
        rbuf_truncate(b, at);
        return -1;
    }
    hkp_put_be32(rbuf_at(b, at), (uint32_t) n);
    return 0;
}

static int
put_bitstring(rbuf_t *b, const uint8_t *prefix, unsigned nbits)
{
    uint8_t tmp[RECON_PREFIX_BYTES];
    size_t nbytes = (nbits + 7) / 8;
    if (nbits > RECON_MAX_PREFIX_BITS)
        return -1;
    if (nbytes > 0) {
        memcpy(tmp, prefix, nbytes);
        if (nbits % 8)      /* unused low bits of the last byte are 0 */
            tmp[nbytes - 1] &= (uint8_t) (0xff << (8 - nbits % 8));
    }
    if (rbuf_put_u32(b, nbits) != 0 || rbuf_put_u32(b, (uint32_t) nbytes) != 0
        || rbuf_put(b, tmp, nbytes) != 0)
        return -1;
    return 0;
}

static int
put_zset(rbuf_t *b, const hkp_hash_t *hashes, size_t n)
{
    static const uint8_t zero = 0;
    if (n > RECON_MAX_ELEMENTS_CEIL)
        return -1;
    if (rbuf_put_u32(b, (uint32_t) n) != 0
        || rbuf_reserve(b, n * HKP_ELEM_LEN) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (rbuf_put(b, hashes[i], HKP_HASH_LEN) != 0
            || rbuf_put(b, &zero, 1) != 0)
            return -1;
    }
    return 0;
}

int
recon_enc_poly(rbuf_t *b, const uint8_t *prefix, unsigned nbits,
    uint32_t size, const uint8_t sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN])
{
    size_t at = recon_frame_begin(b, RECON_MSG_POLY);
    if (at == (size_t) -1)
        return -1;
    if (put_bitstring(b, prefix, nbits) != 0
        || rbuf_put_u32(b, size) != 0
        || rbuf_put_u32(b, HKP_RECON_NSAMPLES) != 0
        || rbuf_put(b, sv, HKP_RECON_NSAMPLES * HKP_ELEM_LEN) != 0)
    {
        rbuf_truncate(b, at);
        return -1;
    }
    return recon_frame_end(b, at);
}

int
recon_enc_full(rbuf_t *b, const uint8_t *prefix, unsigned nbits,
    const hkp_hash_t *hashes, size_t n)
{
    size_t at = recon_frame_begin(b, RECON_MSG_FULL);
    if (at == (size_t) -1)
        return -1;
    if (put_bitstring(b, prefix, nbits) != 0
        || put_zset(b, hashes, n) != 0)
    {
        rbuf_truncate(b, at);
        return -1;
    }
    return recon_frame_end(b, at);
}

int
recon_enc_set(rbuf_t *b, int type, const hkp_hash_t *hashes, size_t n)
{
    size_t at = recon_frame_begin(b, type);
    if (at == (size_t) -1)
        return -1;
    if (put_zset(b, hashes, n) != 0) {
        rbuf_truncate(b, at);
        return -1;
    }
    return recon_frame_end(b, at);
}

int
recon_enc_empty(rbuf_t *b, int type)
{
    size_t at = recon_frame_begin(b, type);
    if (at == (size_t) -1)
        return -1;
    return recon_frame_end(b, at);
}

int
recon_enc_error(rbuf_t *b, const char *text)
{
    size_t at = recon_frame_begin(b, RECON_MSG_ERROR);
    if (at == (size_t) -1)
        return -1;
    if (rbuf_put_str(b, text, strlen(text)) != 0) {
        rbuf_truncate(b, at);
        return -1;
    }
    return recon_frame_end(b, at);
}

/* ----------------------------------------------------------- decoding */

int
recon_frame_check(const uint8_t *buf, size_t len, size_t *frame_len,
    const char **err)
{
    if (len < 4)
        return 0;
    uint32_t n = recon_get_u32(buf);
    if (n == 0) {
        *err = "empty frame (length 0)";
        return -1;
    }
    if (n > RECON_MAX_FRAME) {
        *err = "frame length over the limit";
        return -1;
    }
    if (len - 4 < n)
        return 0;
    *frame_len = 4 + (size_t) n;
    return 1;
}

/* 17-byte LE value < p? */
static int
below_p(const uint8_t *e)
{
    for (int i = HKP_ELEM_LEN - 1; i >= 0; i--) {
        if (e[i] != P_LE[i])
            return e[i] < P_LE[i];
    }
    return 0;
}

static int
rd_bitstring(rbuf_rd_t *r, recon_msg_t *m, const char **err)
{
    uint32_t nbits, nbytes;
    const uint8_t *b;
    if (rbuf_rd_u32(r, &nbits) != 0 || rbuf_rd_u32(r, &nbytes) != 0) {
        *err = "truncated prefix";
        return -1;
    }
    if (nbits > RECON_MAX_PREFIX_BITS || nbytes != (nbits + 7) / 8) {
        *err = "bad prefix length";
        return -1;
    }
    if (rbuf_rd_bytes(r, nbytes, &b) != 0) {
        *err = "truncated prefix";
        return -1;
    }
    memset(m->prefix, 0, sizeof(m->prefix));
    memcpy(m->prefix, b, nbytes);
    if (nbits % 8)
        m->prefix[nbytes - 1] &= (uint8_t) (0xff << (8 - nbits % 8));
    m->nbits = nbits;
    return 0;
}

static int
rd_zset(rbuf_rd_t *r, recon_msg_t *m, const char **err)
{
    uint32_t n;
    const uint8_t *e;
    if (rbuf_rd_u32(r, &n) != 0) {
        *err = "truncated set";
        return -1;
    }
    if (n > RECON_MAX_SET || (size_t) n * HKP_ELEM_LEN > r->left) {
        *err = n > RECON_MAX_SET ? "set too large" : "truncated set";
        return -1;
    }
    if (n > 0) {
        m->set = malloc((size_t) n * HKP_HASH_LEN);
        if (m->set == NULL) {
            *err = "out of memory";
            return -1;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        if (rbuf_rd_bytes(r, HKP_ELEM_LEN, &e) != 0) {
            *err = "truncated set";
            return -1;
        }
        if (e[HKP_HASH_LEN] != 0) { /* not a key hash (>= 2^128; maybe >= p) */
            *err = "set element is not a key hash";
            return -1;
        }
        memcpy(m->set[i], e, HKP_HASH_LEN);
    }
    m->nset = n;
    return 0;
}

void
recon_msg_free(recon_msg_t *m)
{
    free(m->set);
    free(m->text);
    m->set = NULL;
    m->text = NULL;
    m->nset = 0;
}

int
recon_msg_parse(const uint8_t *frame, size_t frame_len, recon_msg_t *m,
    const char **err)
{
    rbuf_rd_t r;
    uint32_t n;
    const uint8_t *b;

    memset(m, 0, sizeof(*m));
    if (frame_len < 5 || recon_get_u32(frame) != frame_len - 4) {
        *err = "bad frame";
        return -1;
    }
    m->type = frame[4];
    r.p = frame + 5;
    r.left = frame_len - 5;
    switch (m->type) {
    case RECON_MSG_POLY:
        if (rd_bitstring(&r, m, err) != 0)
            goto fail;
        if (rbuf_rd_u32(&r, &m->size) != 0 || rbuf_rd_u32(&r, &n) != 0) {
            *err = "truncated ReconRqst_Poly";
            goto fail;
        }
        if (n != HKP_RECON_NSAMPLES) {
            *err = "ReconRqst_Poly: wrong number of sample values";
            goto fail;
        }
        for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++) {
            if (rbuf_rd_bytes(&r, HKP_ELEM_LEN, &b) != 0) {
                *err = "truncated ReconRqst_Poly";
                goto fail;
            }
            if (!below_p(b)) {
                *err = "sample value >= p";
                goto fail;
            }
            memcpy(m->sv[i], b, HKP_ELEM_LEN);
        }
        break;
    case RECON_MSG_FULL:
        if (rd_bitstring(&r, m, err) != 0 || rd_zset(&r, m, err) != 0)
            goto fail;
        break;
    case RECON_MSG_ELEMENTS:
    case RECON_MSG_FULLELEMENTS:
        if (rd_zset(&r, m, err) != 0)
            goto fail;
        break;
    case RECON_MSG_SYNCFAIL:
    case RECON_MSG_DONE:
    case RECON_MSG_FLUSH:
        break;
    case RECON_MSG_ERROR:
        if (rbuf_rd_u32(&r, &n) != 0 || n > RECON_MAX_STR
            || rbuf_rd_bytes(&r, n, &b) != 0)
        {
            *err = "bad Error message";
            goto fail;
        }
        m->text = malloc((size_t) n + 1);
        if (m->text == NULL) {
            *err = "out of memory";
            goto fail;
        }
        memcpy(m->text, b, n);
        m->text[n] = '\0';
        break;
    case RECON_MSG_CONFIG:
        *err = "unexpected Config message";
        goto fail;
    case RECON_MSG_DBRQST:
    case RECON_MSG_DBREPL:
        *err = "DbRqst/DbRepl are not used in recon";
        goto fail;
    default:
        *err = "unknown message type";
        goto fail;
    }
    if (r.left != 0) {
        *err = "trailing bytes in message";
        goto fail;
    }
    return 0;
fail:
    recon_msg_free(m);
    return -1;
}

void
recon_prefix_str(const uint8_t *prefix, unsigned nbits, char *out)
{
    for (unsigned j = 0; j < nbits; j++)
        out[j] = (prefix[j / 8] & (0x80 >> (j % 8))) ? '1' : '0';
    out[nbits] = '\0';
}
