/*
 * Ed25519 signature verification (RFC 8032 section 5.1.7), our own code:
 * field elements in radix 2^51 (unsigned __int128 products), extended
 * twisted Edwards coordinates, a precomputed table of odd multiples of
 * the base point and a wNAF double-scalar multiplication, all variable
 * time (every input is public).
 *
 * The verdict is OpenSSL 3.0's (and Go's crypto/ed25519's, which
 * Hockeypuck uses) for every input, so that a hash profile that verifies
 * self-signatures gives the same hash whichever of them checked:
 *   - S must be below L (S >= L: invalid);
 *   - A is decoded as they decode it: the 255 low bits are y, taken mod p
 *     (an encoding of y >= p is accepted), the top bit picks the sign of
 *     x, also when x = 0; no subgroup check (small-order A is accepted);
 *     a y with no x on the curve makes the signature invalid;
 *   - k = SHA-512(R || A || M) over the bytes as given, reduced mod L;
 *   - valid exactly when the canonical encoding of [S]B - [k]A equals the
 *     32 bytes of R (no cofactor; a non-canonical R never matches).
 * t/unit/test_ed25519.c compares it with OpenSSL on RFC 8032's vectors,
 * every Ed25519 signature in t/data, random and corrupted signatures and
 * the edge encodings above; fuzz/fuzz_ed25519.c does the same on fuzzed
 * input.
 */
#ifndef HKP_ED25519_H
#define HKP_ED25519_H

#include <stddef.h>
#include <stdint.h>

#define HKP_ED25519_KEY_LEN  32
#define HKP_ED25519_SIG_LEN  64

/* 1 when sig[64] is a valid signature of msg[0..len) by the public key
 * pub[32], 0 when not, -1 when SHA-512 failed (libcrypto). Thread-safe
 * (the base point table is built once, under pthread_once). */
int hkp_ed25519_verify(const uint8_t pub[HKP_ED25519_KEY_LEN],
    const uint8_t sig[HKP_ED25519_SIG_LEN], const uint8_t *msg, size_t len);

#endif
