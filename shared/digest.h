/*
 * The OpenPGP hash algorithms (RFC 9580 section 9.5) as libcrypto digests,
 * fetched once per process (OpenSSL 3's implicit fetches are slow).
 */
#ifndef HKP_DIGEST_H
#define HKP_DIGEST_H

#include <openssl/evp.h>

/* The digest of OpenPGP hash algorithm hash_algo (HKP_MD_*, openpgp.h),
 * or NULL when it is unknown or libcrypto lacks it. Thread-safe. */
const EVP_MD *hkp_md(int hash_algo);

#endif
