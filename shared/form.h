/*
 * /pks/add request bodies (doc/hkp.md sections 5.1 and 9): extracting the key
 * material from an urlencoded form, a multipart/form-data body or a raw
 * application/pgp-keys body, and turning that material (armored or binary)
 * into a binary packet stream for hkp_keys_parse().
 *
 * Nothing here trusts a length; every result is malloc'd and owned by the
 * caller; errors are static one-line strings.
 */
#ifndef HKP_FORM_H
#define HKP_FORM_H

#include <stddef.h>
#include <stdint.h>

/*
 * How a body is read, from its Content-Type (ctype may be NULL / empty;
 * parameters and case are handled):
 *   application/x-www-form-urlencoded  form fields
 *   multipart/form-data; boundary=B    form parts (boundary sniffed from
 *                                      the body when the parameter is absent)
 *   application/pgp-keys, application/pgp, application/octet-stream
 *                                      the body is the key material itself
 *   anything else / none               raw material if the body starts
 *                                      (after blanks) with "-----BEGIN PGP"
 *                                      or a byte with bit 7 set, multipart
 *                                      if it starts with "--" and a CRLF-ended
 *                                      delimiter line, else a urlencoded form
 *
 * Urlencoded forms: fields split on '&' (empty fields ignored), each field
 * split at its FIRST '=' (so sq's raw '=' padding and "=CRC" line survive),
 * names and values percent-decoded ('+' -> space; an invalid %XX is kept
 * literally). A value that contains a raw CR or LF byte was evidently not
 * urlencoded (curl --data "keytext=$(cat key.asc)"): its '+' are kept.
 * Multipart: the content of each part whose Content-Disposition name
 * matches, as is.
 */

/*
 * The value(s) of field `name`: several occurrences are joined with '\n'.
 * Returns 1 with *out (malloc, NUL-terminated for convenience; *outlen
 * excludes the NUL) when found, 0 when absent (also for raw bodies), -1
 * with *err on a malformed multipart body or out of memory.
 */
int hkp_form_field(const uint8_t *body, size_t len, const char *ctype,
    size_t ctype_len, const char *name, uint8_t **out, size_t *outlen,
    const char **err);

/*
 * The key material of a /pks/add body: the `keytext` field(s) of a form,
 * or the whole body for raw types. 0 with *out (malloc, caller frees;
 * *outlen > 0), or -1 with *err ("empty request body", "no keytext
 * field", "empty keytext field", "malformed multipart body", ...).
 */
int hkp_form_keytext(const uint8_t *body, size_t len, const char *ctype,
    size_t ctype_len, uint8_t **out, size_t *outlen, const char **err);

/*
 * 1 if the body is a form with an `options` field whose comma-separated
 * list contains "mr" (case-insensitive), else 0 (also on errors).
 */
int hkp_form_options_mr(const uint8_t *body, size_t len, const char *ctype,
    size_t ctype_len);

/*
 * Key material to binary packets. A leading UTF-8 BOM and blanks are
 * skipped. Binary (first byte has bit 7 set and is a valid packet header)
 * is copied; otherwise text containing "-----BEGIN PGP" is armor-decoded
 * (every public key block; bad CRC, truncation, private key blocks -> -1);
 * otherwise a first byte with bit 7 set is still passed on as binary (the
 * packet parser reports the framing error). 0 with *bin (malloc, caller
 * frees; *binlen > 0) or -1 with *err ("no OpenPGP key material found",
 * "no public key block found", armor errors, "key material too large").
 */
int hkp_material_decode(const uint8_t *in, size_t len, uint8_t **bin,
    size_t *binlen, const char **err);

#endif
