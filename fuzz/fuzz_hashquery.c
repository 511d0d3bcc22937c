/*
 * Fuzz target "hashquery": the /pks/hashquery request and reply codecs
 * (shared/hashquery.c). The input is read both as a request body and as a
 * reply body.
 *
 * Invariants (abort on violation):
 *   - a parsed request re-built and parsed again gives the same hashes;
 *     when it had no repeated hash, re-building gives the input bytes;
 *   - a parsed reply re-written (whole, and with the incremental writer)
 *     is hkp_hashquery_reply_len bytes, both writers agree, and it parses
 *     back to the same keys; a reply ending in exactly "\r\n" is
 *     re-written byte for byte.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hashquery.h"

/* Small caps, so the limit paths are reached with small inputs. */
#define FUZZ_HQ_SMALL_MAX_HASHES  4
#define FUZZ_HQ_SMALL_MAX_KEYS    3
#define FUZZ_HQ_SMALL_MAX_KEY_LEN 64

typedef struct {
    const uint8_t **keys;
    size_t         *lens;
    size_t          n, cap;
} hq_keys_t;

static int
collect(void *vctx, size_t index, const uint8_t *key, size_t len)
{
    hq_keys_t *c = vctx;

    FUZZ_CHECK(index == c->n, "reply keys come in order");
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 16;
        c->keys = realloc(c->keys, nc * sizeof(*c->keys));
        c->lens = realloc(c->lens, nc * sizeof(*c->lens));
        FUZZ_CHECK(c->keys != NULL && c->lens != NULL, "out of memory");
        c->cap = nc;
    }
    c->keys[c->n] = key;
    c->lens[c->n++] = len;
    return 0;
}

static uint32_t
be32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
        | ((uint32_t) p[2] << 8) | p[3];
}

static void
request(const uint8_t *data, size_t size, size_t max)
{
    hkp_hash_t *h = NULL, *h2;
    size_t n = 0, n2 = 0, blen;
    uint8_t *b;
    const char *err = NULL;

    if (hkp_hashquery_parse(data, size, max, &h, &n, &err) != 0) {
        FUZZ_CHECK(err != NULL && h == NULL, "a refused request has a reason");
        return;
    }
    FUZZ_CHECK(size >= 4 && n <= be32(data), "no more hashes than counted");
    FUZZ_CHECK(n == 0 || h != NULL, "hashes returned");
    blen = hkp_hashquery_build((const hkp_hash_t *) h,
        n, NULL);
    FUZZ_CHECK(blen == 4 + 20 * n, "request size");
    b = malloc(blen);
    FUZZ_CHECK(b != NULL, "out of memory");
    FUZZ_CHECK(hkp_hashquery_build(
        (const hkp_hash_t *) h, n, b) == blen,
        "request size written");
    if (n == be32(data))
        FUZZ_CHECK(blen == size && memcmp(b, data, size) == 0,
            "a request without repeats is rebuilt byte for byte");
    FUZZ_CHECK(hkp_hashquery_parse(b, blen, max, &h2, &n2, &err) == 0,
        "a rebuilt request parses");
    FUZZ_CHECK(n2 == n && (n == 0 || memcmp(h, h2, n * sizeof(*h)) == 0),
        "a rebuilt request holds the same hashes");
    free(h2);
    free(b);
    free(h);
}

static void
reply(const uint8_t *data, size_t size, size_t max_keys, size_t max_len)
{
    hq_keys_t c = { NULL, NULL, 0, 0 }, c2 = { NULL, NULL, 0, 0 };
    size_t rlen;
    uint8_t *w1, *w2, *p;
    const char *err = NULL;

    if (hkp_hashquery_reply_parse(data, size, max_keys, max_len, collect, &c,
            &err) != 0)
    {
        FUZZ_CHECK(err != NULL && c.n == 0,
            "a refused reply has a reason and made no callback");
        return;
    }
    rlen = hkp_hashquery_reply_len(c.lens, c.n);
    FUZZ_CHECK(rlen >= 6, "reply size");
    w1 = malloc(rlen);
    w2 = malloc(rlen);
    FUZZ_CHECK(w1 != NULL && w2 != NULL, "out of memory");
    FUZZ_CHECK(hkp_hashquery_reply_write(c.keys, c.lens, c.n, w1) == rlen,
        "reply_write writes reply_len bytes");
    p = hkp_hashquery_reply_begin(w2, (uint32_t) c.n);
    for (size_t i = 0; i < c.n; i++) {
        if (i % 2) {
            p = hkp_hashquery_reply_key(p, c.keys[i], (uint32_t) c.lens[i]);
        } else {
            p = hkp_hashquery_reply_keyhdr(p, (uint32_t) c.lens[i]);
            if (c.lens[i])
                memcpy(p, c.keys[i], c.lens[i]);
            p += c.lens[i];
        }
    }
    p = hkp_hashquery_reply_end(p);
    FUZZ_CHECK((size_t) (p - w2) == rlen && memcmp(w1, w2, rlen) == 0,
        "the incremental writer writes what reply_write writes");
    if (size >= 2 && data[size - 2] == '\r' && data[size - 1] == '\n'
        && rlen == size)
        FUZZ_CHECK(memcmp(w1, data, size) == 0,
            "a reply ending in CRLF is rewritten byte for byte");
    FUZZ_CHECK(hkp_hashquery_reply_parse(w1, rlen, max_keys, max_len,
        collect, &c2, &err) == 0, "a rewritten reply parses");
    FUZZ_CHECK(c2.n == c.n, "a rewritten reply holds as many keys");
    for (size_t i = 0; i < c.n; i++)
        FUZZ_CHECK(c2.lens[i] == c.lens[i]
            && memcmp(c2.keys[i], c.keys[i], c.lens[i]) == 0,
            "a rewritten reply holds the same keys");
    free(c.keys);
    free(c.lens);
    free(c2.keys);
    free(c2.lens);
    free(w1);
    free(w2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    request(data, size, 0);
    request(data, size, FUZZ_HQ_SMALL_MAX_HASHES);
    reply(data, size, 0, 0);
    reply(data, size, FUZZ_HQ_SMALL_MAX_KEYS, FUZZ_HQ_SMALL_MAX_KEY_LEN);
    return 0;
}
