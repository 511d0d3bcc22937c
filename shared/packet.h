/*
 * OpenPGP packet framing (RFC 4880 / RFC 9580 section 4.2).
 *
 * A packet is (tag, body). Header form and length encoding are not kept:
 * the SKS hash does not depend on them, and we re-encode on output.
 * Parsing never trusts a length: every length is checked against the bytes
 * that remain and against HKP_MAX_PACKET_LEN.
 */
#ifndef HKP_PACKET_H
#define HKP_PACKET_H

#include <stddef.h>
#include <stdint.h>

#define HKP_TAG_SIG      2
#define HKP_TAG_SECKEY   5
#define HKP_TAG_PUBKEY   6
#define HKP_TAG_SECSUB   7
#define HKP_TAG_MARKER  10
#define HKP_TAG_TRUST   12
#define HKP_TAG_UID     13
#define HKP_TAG_PUBSUB  14
#define HKP_TAG_UAT     17

typedef struct {
    uint8_t         tag;
    uint32_t        len;    /* body length */
    const uint8_t  *body;   /* points into a buffer owned by someone else */
} hkp_pkt_t;

/*
 * Reads one packet header at buf[0..avail). On success fills *pkt (body
 * pointing into buf) and *consumed (header + body) and returns 0. On error
 * returns -1 and sets *err to a static one-line reason. Partial body
 * lengths and old-format indeterminate lengths are rejected.
 */
int hkp_pkt_read(const uint8_t *buf, size_t avail, hkp_pkt_t *pkt,
    size_t *consumed, const char **err);

/*
 * hkp_pkt_read(), except for a packet over HKP_MAX_PACKET_LEN whose body
 * is wholly inside buf[0..avail): that is no error but returns 1 with
 * *pkt and *consumed filled, so the caller can skip the packet (and
 * refuse the key it belongs to) and read on. The body must not be used.
 * A length past the end of the data is still -1.
 */
int hkp_pkt_read_skip(const uint8_t *buf, size_t avail, hkp_pkt_t *pkt,
    size_t *consumed, const char **err);

/* One signature subpacket (RFC 9580 section 5.2.3.7), pointing into the
 * signature's buffer. */
typedef struct {
    uint8_t         type;       /* without the critical bit */
    uint8_t         critical;
    const uint8_t  *body;       /* after the type octet */
    size_t          len;        /* of body */
} hkp_subpkt_t;

#define HKP_SUBPKT_ETRUNC  (-1)     /* a length past the area's end */
#define HKP_SUBPKT_EZERO   (-2)     /* a zero length (no type octet) */

/*
 * Reads the next subpacket of the area *p[0..*n) and steps past it: 1 with
 * *sp filled, 0 at the area's end, HKP_SUBPKT_ETRUNC or HKP_SUBPKT_EZERO.
 */
int hkp_subpkt_next(const uint8_t **p, size_t *n, hkp_subpkt_t *sp);

/* Bytes hkp_pkt_write() will produce for this packet. */
size_t hkp_pkt_encoded_len(const hkp_pkt_t *pkt);

/*
 * Writes header + body at p, returns the end. Tags < 16 use the old format
 * with the smallest length type; tags >= 16 use the new format with the
 * smallest length encoding.
 */
uint8_t *hkp_pkt_write(uint8_t *p, const hkp_pkt_t *pkt);

/* Total order used by the SKS hash: tag, then body bytes (memcmp on the
 * common length, shorter first). */
int hkp_pkt_cmp(const hkp_pkt_t *a, const hkp_pkt_t *b);

/* Byte equality of tag and body. */
int hkp_pkt_eq(const hkp_pkt_t *a, const hkp_pkt_t *b);

#endif
