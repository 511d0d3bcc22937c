/*
 * OpenPGP hash algorithm IDs to libcrypto digests. See digest.h.
 */
#include <pthread.h>

#include <openssl/err.h>

#include "digest.h"
#include "openpgp.h"

typedef struct {
    int          id;
    const char  *name;     /* libcrypto's name */
} hash_name_t;

static const hash_name_t hash_names[] = {
    { HKP_MD_MD5,       "MD5" },
    { HKP_MD_SHA1,      "SHA1" },
    { HKP_MD_RIPEMD160, "RIPEMD160" }, /* default provider, OpenSSL >= 3.0.7 */
    { HKP_MD_SHA256,    "SHA256" },
    { HKP_MD_SHA384,    "SHA384" },
    { HKP_MD_SHA512,    "SHA512" },
    { HKP_MD_SHA224,    "SHA224" },
    { HKP_MD_SHA3_256,  "SHA3-256" },
    { HKP_MD_SHA3_512,  "SHA3-512" },
};

#define HASH_COUNT (sizeof(hash_names) / sizeof(hash_names[0]))

static EVP_MD         *hash_md[HASH_COUNT];
static pthread_once_t  hash_once = PTHREAD_ONCE_INIT;

static void
hash_init(void)
{
    for (size_t i = 0; i < HASH_COUNT; i++)
        hash_md[i] = EVP_MD_fetch(NULL, hash_names[i].name, NULL);
    ERR_clear_error();
}

const EVP_MD *
hkp_md(int hash_algo)
{
    pthread_once(&hash_once, hash_init);
    for (size_t i = 0; i < HASH_COUNT; i++)
        if (hash_names[i].id == hash_algo)
            return hash_md[i];
    return NULL;
}
