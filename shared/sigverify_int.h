/*
 * Internals of the signature verifier, shared by sigverify.c (packet
 * parsing, hashed material), sigverify_algo.c (public-key algorithms over
 * EVP) and sigverify_cache.c (the result cache), and by the Hockeypuck
 * profile's signature reader and quick check (profile_hp_sig.c,
 * profile_hp_check.c: the same hashing, so written once). Other users
 * use sigverify.h.
 */
#ifndef HKP_SIGVERIFY_INT_H
#define HKP_SIGVERIFY_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "openpgp.h"       /* algorithm, hash, signature type numbers */
#include "packet.h"
#include "digest.h"         /* hkp_md */

/* Largest MPI we accept, in bytes (a 16384-bit RSA modulus; libcrypto
 * refuses more anyway). */
#define HKP_SIGV_MAX_MPI_BYTES  2048

/* Public key packet, split (tag 6 or 14 body). */
typedef struct {
    int             version;   /* 2, 3, 4 or 6 */
    int             algo;
    const uint8_t  *mat;       /* algorithm-specific public key material */
    size_t          matlen;
} hkp_sigv_key_t;

/* Signature packet, split (tag 2 body). */
typedef struct {
    int             version;   /* 3 (also 2) , 4 or 6 */
    uint8_t         type;
    int             pk_algo;
    int             hash_algo;
    /* The signature's own part of the hashed data: v3 the 5 octets type +
     * creation time; v4/v6 version .. end of the hashed subpackets. */
    const uint8_t  *hashed;
    size_t          hashed_len;
    const uint8_t  *hsub;      /* hashed subpacket area (v4/v6) */
    size_t          hsub_len;
    const uint8_t  *usub;      /* unhashed subpacket area (v4/v6) */
    size_t          usub_len;
    uint8_t         left16[2];
    const uint8_t  *salt;      /* v6 only */
    size_t          salt_len;
    const uint8_t  *mat;       /* algorithm-specific signature material */
    size_t          matlen;
} hkp_sigv_sig_t;

/* Splits a signature packet (tag 2). HKP_SIG_OK, or EMALFORMED /
 * EUNSUPPORTED / ETYPE. (sigverify.c) */
int hkp_sigv_sig_split(const hkp_pkt_t *pkt, hkp_sigv_sig_t *s);

/* Walks a subpacket area; calls cb for each (type without the critical
 * bit). -1 on a framing error, else 0 or cb's non-zero value, which stops
 * the walk. (sigverify.c) */
int hkp_sigv_subpkts_walk(const uint8_t *p, size_t n,
    int (*cb)(void *ctx, int type, const uint8_t *body, size_t len),
    void *ctx);

/* One MPI: magnitude bytes without leading zeros. */
typedef struct {
    const uint8_t  *p;
    size_t          len;
} hkp_sigv_mpi_t;

/* Reads one MPI at *p (n bytes left), advancing. 0, or -1 if it does not
 * fit or is over HKP_SIGV_MAX_MPI_BYTES. */
int hkp_sigv_mpi_read(const uint8_t **p, size_t *n, hkp_sigv_mpi_t *out);

/* Salt size of a v6 signature's hash (RFC 9580 section 9.5); 0 = the hash
 * is not allowed in v6 signatures. */
size_t hkp_sigv_v6_salt_len(int hash_algo);

/* The signed data (RFC 9580 5.2.4), a piece at a time; 1, or 0 on a
 * libcrypto failure. A key packet: 0x99 + 2-octet length for v2-v4 keys
 * (0 for a body over 65535 octets), 0x9B + 4-octet length for v6 keys.
 * The trailer: the signature's hashed part (v3: type + creation time;
 * v4/v6: version .. hashed subpackets), then for v4/v6 the version, 0xFF
 * and the 4-octet length of that part. */
int hkp_sigv_hash_key(EVP_MD_CTX *ctx, const hkp_pkt_t *pkt,
    int key_version);
int hkp_sigv_hash_trailer(EVP_MD_CTX *ctx, int sig_version,
    const uint8_t *hashed, size_t hashed_len);

/* Whether a public-key algorithm can make signatures. */
int hkp_sigv_algo_can_sign(int algo);

/* Checks the signature material of a sig made with `algo` by `key` over
 * the digest dig[0..diglen) of hash `md`. HKP_SIG_OK or a negative code. */
int hkp_sigv_algo_verify(const hkp_sigv_key_t *key, int algo,
    const EVP_MD *md, const uint8_t *dig, size_t diglen,
    const uint8_t *sig, size_t siglen);

/* Cache: key = SHA-256 over the four packets (tag, length, body); a NULL
 * packet is hashed as absent. */
#define HKP_SIGV_CACHE_KEY_LEN  32

int hkp_sigv_cache_key(const hkp_pkt_t *signer, const hkp_pkt_t *primary,
    const hkp_pkt_t *target, const hkp_pkt_t *sig,
    uint8_t key[HKP_SIGV_CACHE_KEY_LEN]);
/* 1 and *result if cached, else 0. */
int hkp_sigv_cache_get(const uint8_t key[HKP_SIGV_CACHE_KEY_LEN], int *result);
void hkp_sigv_cache_put(const uint8_t key[HKP_SIGV_CACHE_KEY_LEN], int result);

#endif
