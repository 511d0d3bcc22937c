/*
 * Internals of the `hockeypuck` hash profile (profile_hockeypuck.c):
 * which packets Hockeypuck 2.2's OpenPGP library can read at all
 * (profile_hp_key.c, profile_hp_sig.c) and the plausibility check of third-party
 * signatures (profile_hp_check.c). Not for other users: they use
 * profile.h.
 *
 * "Readable" below means what the Go OpenPGP library Hockeypuck 2.2.3
 * builds with accepts; a packet it cannot read is dropped with the
 * signatures that follow it ("drop:unparseable"). Every length is checked
 * against the bytes that remain before it is used.
 */
#ifndef HKP_PROFILE_HP_H
#define HKP_PROFILE_HP_H

#include <stddef.h>
#include <stdint.h>

#include "openpgp.h"     /* HKP_PK_*, HKP_MD_* */
#include "packet.h"

/* Hockeypuck's reader defaults (its settings maxPacketLength and
 * maxKeyLength): a packet body over the first is skipped as if absent; a
 * key whose kept bodies add up to more than the second is refused. */
#define HKP_HP_MAX_PACKET_LEN    8192
#define HKP_HP_MAX_KEY_LEN       1048576

/* Embedded signatures inside embedded signatures are followed this deep;
 * a deeper one makes the signature unreadable (the 8192-byte packet limit
 * bounds the depth anyway). */
#define HKP_HP_MAX_EMBED_DEPTH   8

/* A readable public key or subkey packet. */
typedef struct {
    int             version;   /* 2, 3, 4 or 6 */
    int             algo;
    const uint8_t  *n;         /* v2/v3 RSA: modulus and exponent bytes */
    size_t          nlen;
    const uint8_t  *e;
    size_t          elen;
} hkp_hp_key_t;

/* A readable signature packet: what the profile's rules look at. */
typedef struct {
    int             version;     /* 2, 3, 4 or 6 */
    uint8_t         type;
    int             pk_algo;
    int             hash_algo;
    uint8_t         issuer[HKP_KEYID_LEN]; /* known for a readable one */
    int             has_reason;  /* hashed reason-for-revocation subpacket */
    uint8_t         reason;      /* its code (the last one) */
    int             flag_sign;   /* hashed key flags with "sign" (0x02) */
    const uint8_t  *trailer;     /* what the sig adds to the hash: v3 type +
                                    ctime (5), v4/v6 version .. end of the
                                    hashed subpackets */
    size_t          trailer_len;
    uint8_t         left16[2];
    const uint8_t  *salt;        /* v6 */
    size_t          salt_len;
} hkp_hp_sig_t;

/* Reads a tag 6 or 14 packet as Hockeypuck's library does. 0, or -1 when
 * it cannot (unknown algorithm or curve, an RSA exponent over 3 octets,
 * an EC point off its curve, a v5 key, truncated material, ...) with
 * *why set to a static reason. */
int hkp_hp_key_read(const hkp_pkt_t *pkt, hkp_hp_key_t *k, const char **why);

/* Fingerprint of a readable key: v3 MD5 (16), v4 SHA-1 (20), v6 SHA-256
 * (32). Returns its length, or 0 on a libcrypto failure. */
size_t hkp_hp_key_fpr(const hkp_pkt_t *pkt, const hkp_hp_key_t *k,
    uint8_t fpr[HKP_FPR_MAX_LEN]);

/* Whether the library's v4/v6 key can make signatures (its CanSign: all
 * but RSA encrypt-only, ElGamal and ECDH). */
int hkp_hp_key_can_sign(const hkp_hp_key_t *k);

/* Reads a signature packet as Hockeypuck does (including its demand for
 * an issuer key ID). 0 or -1 with *why. */
int hkp_hp_sig_read(const hkp_pkt_t *pkt, hkp_hp_sig_t *s, const char **why);

/* The quick check (left 16 bits of the hash) of a signature by someone
 * else over primary (+ target: a user ID or subkey packet, or NULL for a
 * direct-key signature): 1 plausible, 0 not. */
int hkp_hp_plausible(const hkp_pkt_t *primary, const hkp_hp_key_t *pk,
    const hkp_pkt_t *target, const hkp_hp_key_t *tk, const hkp_hp_sig_t *s);

/* Native Ed25519 / Ed448 signature sizes (RFC 9580 section 5.2.3). */
#define HKP_HP_ED25519_SIG_LEN   64
#define HKP_HP_ED448_SIG_LEN    114

/* ------------------------------------------------------------------ */
/* A bounded reader over a packet body (key and signature files)      */

typedef struct {
    const uint8_t *p;
    size_t         n;
} rd_t;

static inline const uint8_t *
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
static inline int
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
static inline int
rd_field(rd_t *r, const uint8_t **b, size_t *len)
{
    const uint8_t *h = rd_take(r, 1);

    if (h == NULL || h[0] == 0 || h[0] == 0xFF)
        return -1;
    *len = h[0];
    *b = rd_take(r, *len);
    return *b == NULL ? -1 : 0;
}

#endif
