/*
 * OpenPGP numbers read from packets (RFC 9580 section 9, and RFC 4880 for
 * the retired ones): public-key algorithms, hash algorithms, signature
 * types and signature subpacket types, in one place for the key code
 * (key_*.c) and the signature verifier (sigverify*.c). Packet tags are in
 * packet.h.
 */
#ifndef HKP_OPENPGP_H
#define HKP_OPENPGP_H

/* Public-key algorithms (RFC 9580 9.1). */
#define HKP_PK_RSA             1
#define HKP_PK_RSA_E           2    /* RSA encrypt-only (deprecated) */
#define HKP_PK_RSA_S           3    /* RSA sign-only (deprecated) */
#define HKP_PK_ELGAMAL        16    /* Elgamal, encrypt-only */
#define HKP_PK_DSA            17
#define HKP_PK_ECDH           18
#define HKP_PK_ECDSA          19
#define HKP_PK_ELGAMAL_OLD    20    /* formerly Elgamal encrypt or sign */
#define HKP_PK_EDDSA_LEG      22    /* EdDSALegacy */
#define HKP_PK_X25519         25
#define HKP_PK_X448           26
#define HKP_PK_ED25519        27
#define HKP_PK_ED448          28

/* Hash algorithms (RFC 9580 9.5). */
#define HKP_MD_MD5             1
#define HKP_MD_SHA1            2
#define HKP_MD_RIPEMD160       3
#define HKP_MD_SHA256          8
#define HKP_MD_SHA384          9
#define HKP_MD_SHA512         10
#define HKP_MD_SHA224         11
#define HKP_MD_SHA3_256       12
#define HKP_MD_SHA3_512       14

/* Signature types (RFC 9580 5.2.1). */
#define HKP_SIGT_BINARY             0x00
#define HKP_SIGT_TEXT               0x01
#define HKP_SIGT_CERT_GENERIC       0x10    /* 0x10..0x13: certifications */
#define HKP_SIGT_CERT_PERSONA       0x11
#define HKP_SIGT_CERT_CASUAL        0x12
#define HKP_SIGT_CERT_POSITIVE      0x13
#define HKP_SIGT_ATTESTATION        0x16    /* attested certifications
                                               (1PA3PC), over primary +
                                               UID/UAT, by the primary */
#define HKP_SIGT_SUBKEY_BINDING     0x18
#define HKP_SIGT_PRIMARY_BINDING    0x19
#define HKP_SIGT_DIRECT_KEY         0x1F
#define HKP_SIGT_KEY_REVOCATION     0x20
#define HKP_SIGT_SUBKEY_REVOCATION  0x28
#define HKP_SIGT_CERT_REVOCATION    0x30

/* Signature subpacket types (RFC 9580 5.2.3.7). */
#define HKP_SUBPKT_SIG_CTIME         2
#define HKP_SUBPKT_SIG_EXPIRE        3
#define HKP_SUBPKT_KEY_EXPIRE        9
#define HKP_SUBPKT_ISSUER           16
#define HKP_SUBPKT_PRIMARY_UID      25
#define HKP_SUBPKT_REVOCATION_REASON 29
#define HKP_SUBPKT_KEY_FLAGS        27
#define HKP_SUBPKT_EMBEDDED_SIG     32
#define HKP_SUBPKT_ISSUER_FPR       33
#define HKP_SUBPKT_ATTESTED_CERTS   37    /* digests of attested
                                             certifications (1PA3PC) */

/* Reasons for revocation (subpacket 29, RFC 9580 5.2.3.31). */
#define HKP_REVOKE_NO_REASON         0
#define HKP_REVOKE_SUPERSEDED        1
#define HKP_REVOKE_COMPROMISED       2
#define HKP_REVOKE_RETIRED           3
#define HKP_REVOKE_UID_INVALID      32

/* Key identifier sizes in bytes (RFC 9580 5.5.4). */
#define HKP_KEYID32_LEN        4    /* short key ID: low 32 bits */
#define HKP_KEYID_LEN          8    /* key ID */
#define HKP_FPR_V3_LEN        16    /* v3: MD5 of n and e */
#define HKP_FPR_V4_LEN        20    /* v4: SHA-1 */
#define HKP_FPR_V6_LEN        32    /* v6: SHA-256 */
#define HKP_FPR_MAX_LEN       HKP_FPR_V6_LEN

/* A v3 signature packet body (RFC 4880 5.2.2): version, hashed length
 * (always 5), type, creation time (4), issuer key ID (8), public-key
 * algorithm, hash algorithm, left 16 bits of the hash (2), then the MPIs. */
#define HKP_V3SIG_OFF_TYPE      2
#define HKP_V3SIG_OFF_CTIME     3
#define HKP_V3SIG_OFF_ISSUER    7
#define HKP_V3SIG_OFF_PK_ALGO  15
#define HKP_V3SIG_OFF_HASH_ALGO 16
#define HKP_V3SIG_OFF_LEFT16   17
#define HKP_V3SIG_HDR_LEN      19

/* Key flags (subpacket 27, first octet). */
#define HKP_KEYFLAG_SIGN          0x02

#endif
