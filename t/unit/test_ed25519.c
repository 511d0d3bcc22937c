/*
 * Unit tests for shared/ed25519.c: its verdict equals OpenSSL's on
 *   - RFC 8032 section 7.1's test vectors 1-3 (valid) and each with a bit
 *     flipped;
 *   - every Ed25519 signature in t/data's keys (the native algorithm 27
 *     and the legacy EdDSA 22), through sigverify as the profile uses it;
 *   - ED_KEYS keys made by OpenSSL, ED_MSGS random messages each, and
 *     each signature corrupted ED_CORRUPT ways (a bit of R, S, the key or
 *     the message flipped, S + L, a random R);
 *   - the edge encodings of t/data/ed25519-edge.txt (small-order and
 *     non-canonical keys and R, S around L), made by ed25519-edge.py.
 * Env: HKP_TEST_DATA (default t/data).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ed25519.h"
#include "tap.h"
#include "util.h"

#define ED_KEYS     150
#define ED_MSGS     20
#define ED_CORRUPT  6
#define ED_MSG_MAX  200
#define LINE_MAX_   1024

static const char *datadir = "t/data";

/* OpenSSL's verdict: 1 valid, 0 not. */
static int
ossl_verify(const uint8_t pub[32], const uint8_t sig[64], const uint8_t *m,
    size_t len)
{
    EVP_PKEY   *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int         r = 0;

    if (k != NULL && c != NULL
        && EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1)
        r = EVP_DigestVerify(c, sig, 64, m, len) == 1;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(k);
    return r;
}

static size_t agree, disagree, valid_seen;

static void
compare(const uint8_t pub[32], const uint8_t sig[64], const uint8_t *m,
    size_t len, const char *what)
{
    int o = ossl_verify(pub, sig, m, len);
    int u = hkp_ed25519_verify(pub, sig, m, len);

    if (o == u) {
        agree++;
        valid_seen += (size_t) o;
        return;
    }
    if (disagree++ < 10) {
        char hp[65], hs[129];
        for (int i = 0; i < 32; i++)
            snprintf(hp + 2 * i, 3, "%02x", pub[i]);
        for (int i = 0; i < 64; i++)
            snprintf(hs + 2 * i, 3, "%02x", sig[i]);
        diag("%s: OpenSSL %d, ours %d: pub %s sig %s", what, o, u, hp, hs);
    }
}

/* RFC 8032 section 7.1, TEST 1-3 */
static void
test_rfc8032(void)
{
    static const char *const v[3][3] = {
        { "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
          "",
          "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
          "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
        { "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
          "72",
          "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
          "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
        { "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
          "af82",
          "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
          "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
    };
    for (int i = 0; i < 3; i++) {
        uint8_t pub[32], sig[64], msg[8];
        int ml = unhex(v[i][1], msg, sizeof(msg));
        unhex(v[i][0], pub, 32);
        unhex(v[i][2], sig, 64);
        ok(hkp_ed25519_verify(pub, sig, msg, (size_t) ml) == 1
            && ossl_verify(pub, sig, msg, (size_t) ml) == 1,
            "RFC 8032 TEST %d: valid for both", i + 1);
        for (int b = 0; b < 96 * 8; b += 37) {
            uint8_t p2[32], s2[64];
            memcpy(p2, pub, 32);
            memcpy(s2, sig, 64);
            if (b < 512)
                s2[b / 8] ^= (uint8_t) (1 << (b % 8));
            else
                p2[(b - 512) / 8] ^= (uint8_t) (1 << (b % 8));
            compare(p2, s2, msg, (size_t) ml, "RFC 8032 flipped");
        }
    }
}

/* Keys and signatures made by OpenSSL, then corrupted. */
static void
test_random(void)
{
    size_t before = valid_seen;

    rng_state = 0x8032ed25519ULL;
    for (int k = 0; k < ED_KEYS; k++) {
        EVP_PKEY     *key = NULL;
        EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
        uint8_t       pub[32];
        size_t        pl = 32;

        if (kc == NULL || EVP_PKEY_keygen_init(kc) != 1
            || EVP_PKEY_keygen(kc, &key) != 1
            || EVP_PKEY_get_raw_public_key(key, pub, &pl) != 1)
        {
            ok(0, "OpenSSL key %d", k);
            EVP_PKEY_CTX_free(kc);
            EVP_PKEY_free(key);
            return;
        }
        EVP_PKEY_CTX_free(kc);
        for (int m = 0; m < ED_MSGS; m++) {
            uint8_t     msg[ED_MSG_MAX], sig[64], s2[64], p2[32], m2[ED_MSG_MAX];
            size_t      ml = (size_t) (rnd64() % ED_MSG_MAX), sl = 64;
            EVP_MD_CTX *c = EVP_MD_CTX_new();

            for (size_t i = 0; i < ml; i++)
                msg[i] = (uint8_t) rnd64();
            if (c == NULL || EVP_DigestSignInit(c, NULL, NULL, NULL, key) != 1
                || EVP_DigestSign(c, sig, &sl, msg, ml) != 1)
            {
                EVP_MD_CTX_free(c);
                ok(0, "OpenSSL signature");
                continue;
            }
            EVP_MD_CTX_free(c);
            compare(pub, sig, msg, ml, "OpenSSL's signature");
            for (int x = 0; x < ED_CORRUPT; x++) {
                unsigned bit = (unsigned) (rnd64() % 512);
                memcpy(s2, sig, 64);
                memcpy(p2, pub, 32);
                memcpy(m2, msg, ml);
                switch (x) {
                case 0: s2[bit / 16] ^= (uint8_t) (1 << (bit % 8)); break;
                case 1: s2[32 + bit / 16] ^= (uint8_t) (1 << (bit % 8)); break;
                case 2: p2[bit / 16] ^= (uint8_t) (1 << (bit % 8)); break;
                case 3:
                    if (ml == 0)
                        continue;
                    m2[bit % ml] ^= (uint8_t) (1 << (bit % 8));
                    break;
                case 4: {   /* S + L (still below 2^256) */
                    static const uint8_t L[32] = {
                        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6,
                        0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0,
                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
                    unsigned c2 = 0;
                    for (int i = 0; i < 32; i++) {
                        c2 += s2[32 + i] + L[i];
                        s2[32 + i] = (uint8_t) c2;
                        c2 >>= 8;
                    }
                    break;
                }
                default:
                    for (int i = 0; i < 32; i++)
                        s2[i] = (uint8_t) rnd64();
                }
                compare(p2, s2, m2, ml, "corrupted");
            }
        }
        EVP_PKEY_free(key);
    }
    ok(valid_seen - before >= (size_t) ED_KEYS * ED_MSGS,
        "every OpenSSL signature valid for both (%zu)", valid_seen - before);
}

/* t/data/ed25519-edge.txt */
static void
test_edges(void)
{
    char   path[1200], line[LINE_MAX_];
    FILE  *f;
    size_t n = 0, before = agree, valid = valid_seen;

    snprintf(path, sizeof(path), "%s/ed25519-edge.txt", datadir);
    if (!ok((f = fopen(path, "r")) != NULL, "open %s", path))
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        char    ph[80], sh[160], mh[600];
        uint8_t pub[32], sig[64], msg[300];
        int     ml = 0;
        if (sscanf(line, "%79s %159s %599s", ph, sh, mh) != 3
            || unhex(ph, pub, 32) != 32 || unhex(sh, sig, 64) != 64
            || (strcmp(mh, "-") != 0
                && (ml = unhex(mh, msg, sizeof(msg))) < 0))
        {
            ok(0, "bad line: %s", line);
            continue;
        }
        compare(pub, sig, msg, (size_t) ml, "edge case");
        n++;
    }
    fclose(f);
    ok(n > 300 && agree - before == n, "%zu edge cases: the same verdict "
        "(%zu valid)", n, valid_seen - valid);
}

int
main(void)
{
    const char *dd = getenv("HKP_TEST_DATA");

    if (dd && *dd)
        datadir = dd;
    test_rfc8032();
    test_random();
    test_edges();
    ok(disagree == 0, "ours and OpenSSL never disagree (%zu compared, %zu "
        "valid)", agree + disagree, valid_seen);
    return tap_done();
}
