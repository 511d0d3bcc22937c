/*
 * OpenPGP packet framing. See packet.h.
 */
#include <string.h>

#include "packet.h"
#include "bytes.h"
#include "hkp_limits.h"

/* The header at buf[0..avail): tag, body length and header length. No
 * check of the length against anything. 0 or -1 with *err. */
static int
pkt_header(const uint8_t *buf, size_t avail, uint8_t *tagp, uint64_t *lenp,
    size_t *hlp, const char **err)
{
    size_t   hl;
    uint64_t len;
    uint8_t  c, tag;

    if (avail < 1) {
        *err = "packet header past end of data";
        return -1;
    }
    c = buf[0];
    if (!(c & 0x80)) {
        *err = "invalid packet header (bit 7 clear)";
        return -1;
    }

    if (c & 0x40) {
        /* new format */
        tag = c & 0x3f;
        if (avail < 2) {
            *err = "packet header past end of data";
            return -1;
        }
        if (buf[1] < 192) {
            len = buf[1];
            hl = 2;
        } else if (buf[1] < 224) {
            if (avail < 3) {
                *err = "packet header past end of data";
                return -1;
            }
            len = ((uint64_t) (buf[1] - 192) << 8) + buf[2] + 192;
            hl = 3;
        } else if (buf[1] == 255) {
            if (avail < 6) {
                *err = "packet header past end of data";
                return -1;
            }
            len = ((uint64_t) buf[2] << 24) | ((uint64_t) buf[3] << 16)
                | ((uint64_t) buf[4] << 8) | buf[5];
            hl = 6;
        } else {
            *err = "partial body lengths are not supported";
            return -1;
        }
    } else {
        /* old format */
        tag = (c >> 2) & 0x0f;
        switch (c & 3) {
        case 0: hl = 2; break;
        case 1: hl = 3; break;
        case 2: hl = 5; break;
        default:
            *err = "indeterminate packet length is not supported";
            return -1;
        }
        if (avail < hl) {
            *err = "packet header past end of data";
            return -1;
        }
        len = 0;
        for (size_t i = 1; i < hl; i++)
            len = (len << 8) | buf[i];
    }

    if (tag == 0) {
        *err = "reserved packet tag 0";
        return -1;
    }
    *tagp = tag;
    *lenp = len;
    *hlp = hl;
    return 0;
}

/* The packet at buf; an over-size one is an error unless big_ok, when it is
 * framed anyway (1 returned) so that the caller can step over it. */
static int
pkt_frame(const uint8_t *buf, size_t avail, hkp_pkt_t *pkt,
    size_t *consumed, const char **err, int big_ok)
{
    size_t   hl;
    uint64_t len;
    uint8_t  tag;

    if (pkt_header(buf, avail, &tag, &len, &hl, err) != 0)
        return -1;
    if (len > HKP_MAX_PACKET_LEN && !big_ok) {
        *err = "packet too large";
        return -1;
    }
    /* the declared length is believed only when the bytes are there */
    if (len > avail - hl) {
        *err = "packet length past end of data";
        return -1;
    }

    pkt->tag = tag;
    pkt->len = (uint32_t) len;      /* 4 length bytes at most */
    pkt->body = buf + hl;
    *consumed = hl + (size_t) len;
    return len > HKP_MAX_PACKET_LEN ? 1 : 0;
}

int
hkp_pkt_read(const uint8_t *buf, size_t avail, hkp_pkt_t *pkt,
    size_t *consumed, const char **err)
{
    return pkt_frame(buf, avail, pkt, consumed, err, 0);
}

int
hkp_pkt_read_skip(const uint8_t *buf, size_t avail, hkp_pkt_t *pkt,
    size_t *consumed, const char **err)
{
    return pkt_frame(buf, avail, pkt, consumed, err, 1);
}

int
hkp_subpkt_next(const uint8_t **pp, size_t *np, hkp_subpkt_t *sp)
{
    const uint8_t *p = *pp;
    size_t         n = *np, len, hl;

    if (n == 0)
        return 0;
    if (p[0] < 192) {
        len = p[0];
        hl = 1;
    } else if (p[0] < 255) {
        if (n < 2)
            return HKP_SUBPKT_ETRUNC;
        len = ((size_t) (p[0] - 192) << 8) + p[1] + 192;
        hl = 2;
    } else {
        if (n < 5)
            return HKP_SUBPKT_ETRUNC;
        len = hkp_get_be32(p + 1);
        hl = 5;
    }
    if (len > n - hl)
        return HKP_SUBPKT_ETRUNC;
    if (len == 0)
        return HKP_SUBPKT_EZERO;
    sp->type = p[hl] & 0x7F;
    sp->critical = (p[hl] & 0x80) != 0;
    sp->body = p + hl + 1;
    sp->len = len - 1;
    *pp = p + hl + len;
    *np = n - hl - len;
    return 1;
}

size_t
hkp_pkt_encoded_len(const hkp_pkt_t *pkt)
{
    uint32_t len = pkt->len;

    if (pkt->tag < 16) {
        if (len < 256)
            return 2 + (size_t) len;
        if (len < 65536)
            return 3 + (size_t) len;
        return 5 + (size_t) len;
    }
    if (len < 192)
        return 2 + (size_t) len;
    if (len < 8384)
        return 3 + (size_t) len;
    return 6 + (size_t) len;
}

uint8_t *
hkp_pkt_write(uint8_t *p, const hkp_pkt_t *pkt)
{
    uint32_t len = pkt->len;

    if (pkt->tag < 16) {
        uint8_t ctb = 0x80 | (uint8_t) (pkt->tag << 2);
        if (len < 256) {
            *p++ = ctb;
            *p++ = (uint8_t) len;
        } else if (len < 65536) {
            *p++ = ctb | 1;
            *p++ = (uint8_t) (len >> 8);
            *p++ = (uint8_t) len;
        } else {
            *p++ = ctb | 2;
            *p++ = (uint8_t) (len >> 24);
            *p++ = (uint8_t) (len >> 16);
            *p++ = (uint8_t) (len >> 8);
            *p++ = (uint8_t) len;
        }
    } else {
        *p++ = 0xc0 | (pkt->tag & 0x3f);
        if (len < 192) {
            *p++ = (uint8_t) len;
        } else if (len < 8384) {
            uint32_t l = len - 192;
            *p++ = (uint8_t) ((l >> 8) + 192);
            *p++ = (uint8_t) l;
        } else {
            *p++ = 255;
            *p++ = (uint8_t) (len >> 24);
            *p++ = (uint8_t) (len >> 16);
            *p++ = (uint8_t) (len >> 8);
            *p++ = (uint8_t) len;
        }
    }
    if (len)
        memcpy(p, pkt->body, len);
    return p + len;
}

int
hkp_pkt_cmp(const hkp_pkt_t *a, const hkp_pkt_t *b)
{
    uint32_t n;
    int      r;

    if (a->tag != b->tag)
        return a->tag < b->tag ? -1 : 1;
    n = a->len < b->len ? a->len : b->len;
    if (n) {
        r = memcmp(a->body, b->body, n);
        if (r)
            return r < 0 ? -1 : 1;
    }
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return 0;
}

int
hkp_pkt_eq(const hkp_pkt_t *a, const hkp_pkt_t *b)
{
    return a->tag == b->tag && a->len == b->len
        && (a->len == 0 || memcmp(a->body, b->body, a->len) == 0);
}
