/*
 * OpenPGP signature verification (RFC 4880, RFC 9580) with libcrypto EVP.
 *
 * This header is the contract between the verifier (shared/sigverify*.c)
 * and its users (the recon filter profiles, the serve policy). It works on
 * packets only, so it knows nothing of keys, stores or profiles.
 *
 *   signer   the public-key (tag 6) or public-subkey (tag 14) packet of the
 *            key that made the signature
 *   primary  the primary public-key packet (tag 6) of the key the
 *            signature is on
 *   target   what the signature binds besides the primary key: a user ID
 *            (tag 13), a user attribute (tag 17) or a subkey (tag 14);
 *            NULL for direct-key (0x1F) and key revocation (0x20)
 *            signatures
 *   sig      the signature packet (tag 2)
 *
 * Signature types and the material hashed: 0x10-0x13, 0x16 (attestation)
 * and 0x30 over primary + target (UID/UAT), 0x18 and 0x28 over primary + subkey (target),
 * 0x19 over primary + subkey made by the subkey, 0x1F and 0x20 over the
 * primary alone. For 0x18 with a signing-capable subkey (key flags 0x02,
 * or no key flags and a signing-capable algorithm) the embedded primary
 * key binding signature (0x19, subpacket 32, hashed or unhashed area) is
 * verified too.
 *
 * Checked: RSA (1, 3), DSA (17), ECDSA (19: NIST P-256/384/521,
 * brainpoolP256r1/384r1/512r1, secp256k1), EdDSA legacy (22, Ed25519 OID),
 * Ed25519 (27), Ed448 (28); hashes MD5, SHA-1, RIPEMD-160 (when libcrypto's
 * default provider has it), SHA-224/256/384/512, SHA3-256/512; v3 (and
 * v2), v4 and v6 signatures. Besides a failing public-key check, EBAD is:
 * a wrong quick check (left 16 bits), a v6 signature by a non-v6 key or the
 * reverse, a v3 signature by anything but RSA or DSA, EdDSA legacy in v6,
 * a sig algorithm that is not the key's, and a digest under 256 bits for
 * Ed25519 (27) or under 512 bits for Ed448 (28). Octets after the
 * signature material are ignored, as other implementations do.
 */
#ifndef HKP_SIGVERIFY_H
#define HKP_SIGVERIFY_H

#include "packet.h"

/* Results: 0 = the signature verifies. */
#define HKP_SIG_OK            0
#define HKP_SIG_EBAD        (-1)   /* well formed, does not verify (incl.
                                      a wrong quick-check / hash prefix) */
#define HKP_SIG_EUNSUPPORTED (-2)  /* algorithm, curve, hash or version we
                                      (or libcrypto) cannot check */
#define HKP_SIG_EMALFORMED  (-3)   /* unparseable signature or key material */
#define HKP_SIG_ENOBACKSIG  (-4)   /* 0x18 for a signing subkey without a
                                      valid embedded 0x19 */
#define HKP_SIG_ETYPE       (-5)   /* sig type does not fit the arguments */

/* One-line text for an HKP_SIG_* code (static storage). */
const char *hkp_sig_strerror(int code);

/* Verifies sig. Returns HKP_SIG_OK or a negative HKP_SIG_* code. Thread
 * safe; results are cached (see hkp_sig_cache_*), so verifying the same
 * (signer, primary, target, sig) again is a hash lookup. */
int hkp_sig_verify(const hkp_pkt_t *signer, const hkp_pkt_t *primary,
    const hkp_pkt_t *target, const hkp_pkt_t *sig);

/* Verifies a document signature (types 0x00 binary, 0x01 text) over
 * data[0..len), which for 0x01 the caller has already canonicalised (CRLF
 * line ends). Not cached. Returns HKP_SIG_OK or a negative HKP_SIG_* code
 * (HKP_SIG_ETYPE for any other signature type). */
int hkp_sig_verify_data(const hkp_pkt_t *signer, const hkp_pkt_t *sig,
    const uint8_t *data, size_t len);

/* ---- sigverify_attest.c: fields the serve policy reads (RFC 9580,
 * draft-ietf-openpgp-1pa3pc); none of these verifies anything. ---- */

/* The reason for revocation code (subpacket 29, hashed area only) of a
 * revocation signature: 0..255, or -1 when it has none (or the packet does
 * not parse). */
int hkp_sig_revocation_reason(const hkp_pkt_t *sig);

/* Longest digest an attestation lists (SHA-512). */
#define HKP_SIG_MAX_DIGEST  64

/* The Attested Certifications subpacket (37, hashed area) of an
 * attestation signature (0x16): *list points at the digests (n of them,
 * *dlen bytes each, the signature's hash algorithm). 0, or -1 when the
 * signature has none, its hash is unknown, or the list length is not a
 * multiple of the digest size. A second subpacket 37 is ignored. */
int hkp_sig_attested(const hkp_pkt_t *sig, const uint8_t **list, size_t *n,
    size_t *dlen);

/* The 1PA3PC digest of a certification `cert` under the hash of the
 * attestation `att`: 0x88, a four-octet length, then cert's body with its
 * unhashed subpacket area left out (its length field zero). 0 with
 * out[0..*dlen), or -1. */
int hkp_sig_attest_digest(const hkp_pkt_t *att, const hkp_pkt_t *cert,
    uint8_t out[HKP_SIG_MAX_DIGEST], size_t *dlen);

/* Most results the cache keeps; older entries are replaced. */
#define HKP_SIG_CACHE_ENTRIES  65536

/* Cache statistics (hits, misses) since start; and clearing, for tests. */
void hkp_sig_cache_stats(unsigned long *hits, unsigned long *misses);
void hkp_sig_cache_clear(void);

#endif
