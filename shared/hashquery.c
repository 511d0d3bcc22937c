/*
 * /pks/hashquery wire format. See hashquery.h.
 */
#include <stdlib.h>
#include <string.h>

#include "hashquery.h"
#include "bytes.h"
#include "hkp_limits.h"

static uint8_t *
wr32(uint8_t *p, uint32_t v)
{
    hkp_put_be32(p, v);
    return p + 4;
}

/* ------------------------------------------------------------------ */
/* Framing shared by request and response: a u32 count, then count items
 * each a u32 length and that many bytes.                               */

typedef struct {
    const char *truncated, *too_many, *bad_item;
} hq_words_t;

static const hq_words_t hq_req = {
    "truncated hashquery request", "too many hashes",
    "hash length is not 16"
};
static const hq_words_t hq_reply = {
    "truncated hashquery response", "too many keys in hashquery response",
    "key too large in hashquery response"
};

/* Checks the framing of body[0..len) before anything is allocated: at
 * most max_count items of min_item..max_item bytes. 0 with *count and
 * *end (where the items stop), or -1 with *err from words. */
static int
hq_frame(const uint8_t *body, size_t len, size_t max_count, size_t min_item,
    size_t max_item, const hq_words_t *words, uint32_t *count, size_t *end,
    const char **err)
{
    size_t pos = 4;

    if (len < 4) {
        *err = words->truncated;
        return -1;
    }
    *count = hkp_get_be32(body);
    if (*count > max_count) {
        *err = words->too_many;
        return -1;
    }
    for (uint32_t i = 0; i < *count; i++) {
        uint32_t l;

        if (len - pos < 4) {
            *err = words->truncated;
            return -1;
        }
        l = hkp_get_be32(body + pos);
        pos += 4;
        if (l < min_item || l > max_item) {
            *err = words->bad_item;
            return -1;
        }
        if (l > len - pos) {
            *err = words->truncated;
            return -1;
        }
        pos += l;
    }
    *end = pos;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Request                                                              */

/* The i-th hash of a request whose framing was checked. */
static const uint8_t *
hq_req_hash(const uint8_t *body, size_t i)
{
    return body + 4 + i * (4 + HKP_HASH_LEN) + 4;
}

typedef struct {
    const uint8_t *h;
    size_t         pos;
} hq_ent_t;

static int
hq_ent_cmp(const void *a, const void *b)
{
    const hq_ent_t *x = a, *y = b;
    int             r = memcmp(x->h, y->h, HKP_HASH_LEN);

    if (r)
        return r;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int
hkp_hashquery_parse(const uint8_t *body, size_t len, size_t max_hashes,
    hkp_hash_t **hashes, size_t *n, const char **err)
{
    hkp_hash_t  *v;
    uint8_t   *keep;
    hq_ent_t  *ents;
    uint32_t   count;
    size_t     pos, k = 0;

    *hashes = NULL;
    *n = 0;
    if (max_hashes == 0)
        max_hashes = HKP_MAX_HASHQUERY;
    if (hq_frame(body, len, max_hashes, HKP_HASH_LEN, HKP_HASH_LEN, &hq_req,
            &count, &pos, err) != 0)
        return -1;
    if (pos != len) {
        *err = "trailing data after hashes";
        return -1;
    }
    if (count == 0)
        return 0;

    v = malloc(count * sizeof(*v));
    ents = malloc(count * sizeof(*ents));
    keep = malloc(count);
    if (v == NULL || ents == NULL || keep == NULL) {
        free(v);
        free(ents);
        free(keep);
        *err = "out of memory";
        return -1;
    }
    for (uint32_t i = 0; i < count; i++) {
        ents[i].h = hq_req_hash(body, i);
        ents[i].pos = i;
        keep[i] = 1;
    }
    qsort(ents, count, sizeof(*ents), hq_ent_cmp);
    for (uint32_t i = 1; i < count; i++)
        if (memcmp(ents[i].h, ents[i - 1].h, HKP_HASH_LEN) == 0)
            keep[ents[i].pos] = 0;
    for (uint32_t i = 0; i < count; i++)
        if (keep[i])
            memcpy(v[k++], hq_req_hash(body, i), HKP_HASH_LEN);
    free(ents);
    free(keep);
    *hashes = v;
    *n = k;
    return 0;
}

size_t
hkp_hashquery_build(const hkp_hash_t *hashes,
    size_t n, uint8_t *out)
{
    size_t sz;

    if (n > UINT32_MAX || n > (SIZE_MAX - 4) / (4 + HKP_HASH_LEN))
        return 0;
    sz = 4 + n * (4 + HKP_HASH_LEN);
    if (out == NULL)
        return sz;
    out = wr32(out, (uint32_t) n);
    for (size_t i = 0; i < n; i++) {
        out = wr32(out, HKP_HASH_LEN);
        memcpy(out, hashes[i], HKP_HASH_LEN);
        out += HKP_HASH_LEN;
    }
    return sz;
}

/* ------------------------------------------------------------------ */
/* Response                                                             */

size_t
hkp_hashquery_reply_len(const size_t *keylens, size_t n)
{
    size_t sz = 4 + 2;

    for (size_t i = 0; i < n; i++) {
        if (keylens[i] > UINT32_MAX || keylens[i] > SIZE_MAX - 4 - sz)
            return 0;
        sz += 4 + keylens[i];
    }
    return sz;
}

uint8_t *
hkp_hashquery_reply_begin(uint8_t *p, uint32_t count)
{
    return wr32(p, count);
}

uint8_t *
hkp_hashquery_reply_keyhdr(uint8_t *p, uint32_t len)
{
    return wr32(p, len);
}

uint8_t *
hkp_hashquery_reply_key(uint8_t *p, const uint8_t *key, uint32_t len)
{
    p = wr32(p, len);
    if (len)
        memcpy(p, key, len);
    return p + len;
}

uint8_t *
hkp_hashquery_reply_end(uint8_t *p)
{
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

size_t
hkp_hashquery_reply_write(const uint8_t *const *keys, const size_t *keylens,
    size_t n, uint8_t *out)
{
    uint8_t *p = hkp_hashquery_reply_begin(out, (uint32_t) n);

    for (size_t i = 0; i < n; i++)
        p = hkp_hashquery_reply_key(p, keys[i], (uint32_t) keylens[i]);
    p = hkp_hashquery_reply_end(p);
    return (size_t) (p - out);
}

int
hkp_hashquery_reply_parse(const uint8_t *body, size_t len, size_t max_keys,
    size_t max_key_len, hkp_hashquery_key_cb cb, void *ctx,
    const char **err)
{
    uint32_t count;
    size_t   pos;

    if (max_keys == 0)
        max_keys = HKP_MAX_HASHQUERY;
    if (max_key_len == 0)
        max_key_len = HKP_MAX_KEY_LEN;
    if (hq_frame(body, len, max_keys, 0, max_key_len, &hq_reply, &count, &pos,
            err) != 0)
        return -1;
    for (size_t i = pos; i < len; i++)
        if (body[i] != '\r' && body[i] != '\n' && body[i] != ' '
            && body[i] != '\t')
        {
            *err = "trailing data after keys in hashquery response";
            return -1;
        }

    pos = 4;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t l = hkp_get_be32(body + pos);

        pos += 4;
        if (cb(ctx, i, body + pos, l) != 0)
            break;
        pos += l;
    }
    return 0;
}
