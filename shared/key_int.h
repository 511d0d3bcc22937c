/*
 * Internal to the key code (key_canon.c, key_stream.c, key_merge.c,
 * key_fields.c, key_view.c): helpers more than one of them uses. Not part
 * of the library's interface; key.h is.
 */
#ifndef HKP_KEY_INT_H
#define HKP_KEY_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "key.h"
#include "openpgp.h"

/* key_canon.c */

/* Effective limits: the defaults, lowered by the non-zero fields of `in`
 * (NULL = the defaults). */
void hkp_key_lim_effective(const hkp_limits_t *in, hkp_limits_t *out);

/* Formats a reason into the caller's err[errlen] (truncated to fit;
 * nothing is written when errlen is 0). */
__attribute__((format(printf, 3, 4)))
void hkp_key_reasonf(char *err, size_t errlen, const char *fmt, ...);

/* Copies a fixed reason into the caller's err[errlen]. */
void hkp_key_reason(char *err, size_t errlen, const char *reason);

/* "<packet kind> too large (<len> > <max> bytes)" into err[errlen]. */
void hkp_key_too_large(char *err, size_t errlen, const hkp_pkt_t *p,
    size_t max);

/* key_fields.c */

/* Signature type of a signature packet body (any version), 0 if short. */
uint8_t hkp_sig_type_of(const hkp_pkt_t *p);

/* "unsupported key version N" (a static string). */
const char *hkp_key_version_reason(int v);

#endif
