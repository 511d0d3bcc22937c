/*
 * /pks/hashquery wire format (doc/hkp.md section 6, doc/recon.md section 4).
 * All integers are 32-bit big-endian.
 *
 *   request : u32 count, count x (u32 len = 16, 16-byte MD5 SKS hash)
 *   response: u32 n, n x (u32 len, len bytes of binary key), "\r\n"
 */
#ifndef HKP_HASHQUERY_H
#define HKP_HASHQUERY_H

#include <stddef.h>
#include <stdint.h>
#include "recon_params.h"     /* HKP_HASH_LEN */

/* ----------------------------- request ---------------------------- */

/*
 * Parses a request body. Every length must be 16, count <= max_hashes
 * (0 = HKP_MAX_HASHQUERY), and nothing may follow the last hash. Repeated
 * hashes are removed (first occurrence kept, order kept). Returns 0 with
 * *hashes (malloc, caller frees; NULL when *n is 0) and *n, or -1 with a
 * static *err ("truncated hashquery request", "too many hashes", "hash
 * length is not 16", "trailing data after hashes", "out of memory").
 */
int hkp_hashquery_parse(const uint8_t *body, size_t len, size_t max_hashes,
    hkp_hash_t **hashes, size_t *n, const char **err);

/*
 * Writes a request body for n hashes into out (when out is not NULL) and
 * returns its size, 4 + 20 n (0 if n does not fit a u32 or the size would
 * overflow).
 */
size_t hkp_hashquery_build(const hkp_hash_t *hashes,
    size_t n, uint8_t *out);

/* ----------------------------- response --------------------------- */

/* Size of a response carrying n keys of the given lengths (count, length
 * headers, keys and the trailing CRLF); 0 on overflow. */
size_t hkp_hashquery_reply_len(const size_t *keylens, size_t n);

/* Incremental writer: begin (the count), then per key either _key() or
 * _keyhdr() followed by the caller writing the len key bytes, then _end()
 * (CRLF). Each returns the new end. */
uint8_t *hkp_hashquery_reply_begin(uint8_t *p, uint32_t count);
uint8_t *hkp_hashquery_reply_keyhdr(uint8_t *p, uint32_t len);
uint8_t *hkp_hashquery_reply_key(uint8_t *p, const uint8_t *key, uint32_t len);
uint8_t *hkp_hashquery_reply_end(uint8_t *p);

/* Whole response at once into out (hkp_hashquery_reply_len() bytes);
 * returns the bytes written. */
size_t hkp_hashquery_reply_write(const uint8_t *const *keys,
    const size_t *keylens, size_t n, uint8_t *out);

/* Called per key of a response, in order; return non-zero to stop. */
typedef int (*hkp_hashquery_key_cb)(void *ctx, size_t index,
    const uint8_t *key, size_t len);

/*
 * Parses a response body. The whole framing is checked before the first
 * callback: count <= max_keys (0 = HKP_MAX_HASHQUERY), each length <=
 * max_key_len (0 = HKP_MAX_KEY_LEN) and inside the body, and after the
 * last key only CR, LF, space or tab (SKS/Hockeypuck send "\r\n").
 * Returns 0 (also when cb stopped early), or -1 with a static *err and no
 * callback made.
 */
int hkp_hashquery_reply_parse(const uint8_t *body, size_t len,
    size_t max_keys, size_t max_key_len, hkp_hashquery_key_cb cb, void *ctx,
    const char **err);

#endif
