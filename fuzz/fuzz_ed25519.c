/*
 * Fuzz target "ed25519": shared/ed25519.c against libcrypto. The input is
 * a public key (32 bytes), a signature (64) and the message (the rest);
 * shorter inputs are padded with zeros. The seeds (fuzz/corpus/ed25519)
 * are valid signatures and the edge cases of t/data/ed25519-edge.txt, so
 * mutations stay near the interesting encodings.
 *
 * Invariant (abort on violation): hkp_ed25519_verify gives OpenSSL's
 * verdict (valid or not) for every input; a second variant flips the
 * top bit of S and of A's encoding, to reach S >= L and the sign of x.
 */
#include <string.h>

#include <openssl/evp.h>

#include "ed25519.h"
#include "fuzz.h"

static int
ossl_verify(const uint8_t *pub, const uint8_t *sig, const uint8_t *m,
    size_t len)
{
    EVP_PKEY   *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int         r = 0;

    FUZZ_CHECK(k != NULL && c != NULL, "libcrypto objects");
    if (EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1)
        r = EVP_DigestVerify(c, sig, 64, m, len) == 1;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(k);
    return r;
}

static void
one(const uint8_t *pub, const uint8_t *sig, const uint8_t *m, size_t len)
{
    FUZZ_CHECK(hkp_ed25519_verify(pub, sig, m, len) == ossl_verify(pub, sig,
        m, len), "the same verdict as OpenSSL");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t in[96];

    memset(in, 0, sizeof(in));
    memcpy(in, data, size < 96 ? size : 96);
    one(in, in + 32, size > 96 ? data + 96 : NULL, size > 96 ? size - 96 : 0);
    in[31] ^= 0x80;
    in[95] ^= 0xe0;
    one(in, in + 32, size > 96 ? data + 96 : NULL, size > 96 ? size - 96 : 0);
    return 0;
}
