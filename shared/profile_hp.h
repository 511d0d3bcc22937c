/*
 * Internals of the `hockeypuck` hash profile (profile_hockeypuck.c):
 * which packets Hockeypuck 2.2's OpenPGP library can read at all
 * (profile_hp_parse.c) and the plausibility check of third-party
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
    uint8_t         issuer[8];   /* always known for a readable one */
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
    uint8_t fpr[32]);

/* Whether the library's key can make signatures (its CanSign). */
int hkp_hp_key_can_sign(const hkp_hp_key_t *k);

/* Reads a signature packet as Hockeypuck does (including its demand for
 * an issuer key ID). 0 or -1 with *why. */
int hkp_hp_sig_read(const hkp_pkt_t *pkt, hkp_hp_sig_t *s, const char **why);

/* The quick check (left 16 bits of the hash) of a signature by someone
 * else over primary (+ target: a user ID or subkey packet, or NULL for a
 * direct-key signature): 1 plausible, 0 not. */
int hkp_hp_plausible(const hkp_pkt_t *primary, const hkp_hp_key_t *pk,
    const hkp_pkt_t *target, const hkp_hp_key_t *tk, const hkp_hp_sig_t *s);

#endif
