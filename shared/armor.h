/*
 * ASCII armor (RFC 4880 section 6 / RFC 9580 section 6) for public key
 * blocks.
 */
#ifndef HKP_ARMOR_H
#define HKP_ARMOR_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes every "-----BEGIN PGP PUBLIC KEY BLOCK-----" block in `in`
 * (text before, between and after blocks is ignored; header lines are
 * skipped; CRLF and trailing blanks are accepted; any line width). The CRC
 * line is optional but must match when present. The binary of all blocks
 * is concatenated into *out (malloc, caller frees). Returns the number of
 * blocks decoded (0 = none found), or -1 with *err on a broken block
 * (bad base64, bad CRC, missing END, private key block, over
 * HKP_MAX_BLOB_LEN).
 */
int hkp_armor_decode(const uint8_t *in, size_t len, uint8_t **out,
    size_t *outlen, const char **err);

/* 1 when a file's bytes are armored text: they do not start like an
 * OpenPGP packet (bit 7 set) and hold an armor header line ("-----BEGIN
 * PGP"); 0 for binary packets. */
int hkp_armor_sniff(const uint8_t *buf, size_t len);

/* Bytes hkp_armor_encode() writes for `binlen` bytes of binary. */
size_t hkp_armor_encoded_len(size_t binlen);

/*
 * Writes one armored public key block: BEGIN line, empty line, base64 in
 * 64-column lines, "=" CRC-24 line, END line, each ending in LF. Returns
 * the end pointer.
 */
uint8_t *hkp_armor_encode(const uint8_t *bin, size_t binlen, uint8_t *out);

/* CRC-24 of RFC 4880 6.1. */
uint32_t hkp_crc24(const uint8_t *p, size_t len);

#endif
