/*
 * Self-signature records: which signatures of a stored key verify when
 * their signer is the key's own primary (self-certifications and their
 * revocations, attestations, subkey bindings and revocations, direct-key
 * signatures and key revocations). They depend on the key's bytes alone,
 * so the writer computes them once, when it stores the key, and the serve
 * policy (serve.h) reads them instead of verifying at lookup time.
 *
 * Record (HKP_SELFSIG_VERSION 1), for a key of n packets:
 *   octet 0        version
 *   octets 1..4    n, big-endian
 *   ceil(n/8)      "checked": bit i (octet i/8, bit i%8) set when packet i
 *                  was verified with signer = primary and target = the
 *                  component it belongs to (none for direct signatures)
 *   ceil(n/8)      "ok": bit i set when that verification succeeded
 * A packet that is not checked (not a signature by the primary of a kind
 * the serve policy verifies, or past HKP_SELFSIG_MAX_CHECKS) is verified
 * at lookup time as before. The store keeps one record per stored key
 * (store.h: hkp_db_selfsig_get); a key without one is served the same,
 * only slower.
 */
#ifndef HKP_SELFSIG_H
#define HKP_SELFSIG_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

#define HKP_SELFSIG_VERSION     1
#define HKP_SELFSIG_HDR_LEN     5
/* Self-signatures verified per key when it is written; the rest of a key
 * with more (anyone can add forged ones) is left to lookup time. */
#define HKP_SELFSIG_MAX_CHECKS  1024

/* Bytes of the record of a key with npkts packets. */
size_t hkp_selfsig_len(size_t npkts);

/* Builds the record of key into rec (hkp_selfsig_len(key->npkts) bytes,
 * the caller's), verifying (hkp_sig_verify) each self-signature it
 * covers. 0, or -1 when the key cannot be read (no primary). */
int hkp_selfsig_build(const hkp_key_t *key, uint8_t *rec);

/* Whether rec[0..len) is a well-formed record for a key of npkts
 * packets. */
int hkp_selfsig_valid(const uint8_t *rec, size_t len, size_t npkts);

/* Packet idx in a valid record: 1 verified, 0 checked and does not
 * verify, -1 not checked. */
int hkp_selfsig_result(const uint8_t *rec, size_t npkts, size_t idx);

#endif
