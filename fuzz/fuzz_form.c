/*
 * Fuzz target "form": the /pks/add body parsers and the /pks/lookup query
 * fields (shared/form.c), the search word splitter (shared/words.c) and
 * the key material decoder. Input: the first line is the Content-Type
 * (may be empty), the rest is the body; the body is also read as a
 * lookup query string.
 *
 * Invariants (abort on violation):
 *   - a found field is NUL-terminated at its length; found key material
 *     is not empty; a refusal has a reason;
 *   - any field value v, sent again percent-encoded in a urlencoded form
 *     or as the content of a multipart/form-data part, reads back as v;
 *   - decoded material is not empty; search words are 1..HKP_MAX_WORD_LEN
 *     bytes; an extracted mailbox is NUL-terminated at its length.
 */
#define _GNU_SOURCE            /* memmem */
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "fuzz.h"
#include "hkp_limits.h"
#include "key.h"
#include "words.h"

/* Longest Content-Type line taken from an input. */
#define FUZZ_FORM_MAX_CTYPE  256

static const char URLENC[] = "application/x-www-form-urlencoded";

/* Builds name=%XX%XX... of v and checks it reads back as v. */
static void
urlenc_roundtrip(const uint8_t *v, size_t vl)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t blen = 8 + 3 * vl, ol = 0;
    uint8_t *body = malloc(blen), *p, *out = NULL;
    const char *err = NULL;

    FUZZ_CHECK(body != NULL, "out of memory");
    memcpy(body, "keytext=", 8);
    p = body + 8;
    for (size_t i = 0; i < vl; i++) {
        *p++ = '%';
        *p++ = (uint8_t) hex[v[i] >> 4];
        *p++ = (uint8_t) hex[v[i] & 15];
    }
    FUZZ_CHECK(hkp_form_field(body, blen, URLENC, sizeof(URLENC) - 1,
        "keytext", &out, &ol, &err) == 1, "an encoded field is found");
    FUZZ_CHECK(ol == vl && memcmp(out, v, vl) == 0,
        "a percent-encoded value reads back as itself");
    free(out);
    free(body);
}

/* Sends v as the one part of a multipart body and reads it back. */
static void
multipart_roundtrip(const uint8_t *v, size_t vl)
{
    static const char head[] =
        "\r\nContent-Disposition: form-data; name=\"keytext\"\r\n\r\n";
    char bnd[32], ctype[64];
    unsigned k = 0;
    size_t bl, blen, ol = 0;
    uint8_t *body, *p, *out = NULL;
    const char *err = NULL;

    do {                        /* a boundary that v does not contain */
        bl = (size_t) snprintf(bnd, sizeof(bnd), "fuzzbnd%u", k++);
    } while (vl >= bl && memmem(v, vl, bnd, bl) != NULL);
    snprintf(ctype, sizeof(ctype), "multipart/form-data; boundary=%s", bnd);
    blen = 2 + bl + sizeof(head) - 1 + vl + 4 + bl + 4;
    body = malloc(blen);
    FUZZ_CHECK(body != NULL, "out of memory");
    p = body;
    memcpy(p, "--", 2), p += 2;
    memcpy(p, bnd, bl), p += bl;
    memcpy(p, head, sizeof(head) - 1), p += sizeof(head) - 1;
    if (vl)
        memcpy(p, v, vl), p += vl;
    memcpy(p, "\r\n--", 4), p += 4;
    memcpy(p, bnd, bl), p += bl;
    memcpy(p, "--\r\n", 4), p += 4;
    FUZZ_CHECK((size_t) (p - body) == blen, "multipart body size");
    FUZZ_CHECK(hkp_form_field(body, blen, ctype, strlen(ctype), "keytext",
        &out, &ol, &err) == 1, "a multipart part is found");
    FUZZ_CHECK(ol == vl && (vl == 0 || memcmp(out, v, vl) == 0),
        "a multipart part's content reads back as itself");
    free(out);
    free(body);
}

static void
field(const uint8_t *body, size_t len, const char *ct, size_t ctl,
    const char *name, int roundtrip)
{
    uint8_t *v = NULL;
    size_t vl = 0;
    const char *err = NULL;
    int r = hkp_form_field(body, len, ct, ctl, name, &v, &vl, &err);

    if (r < 0) {
        FUZZ_CHECK(err != NULL && v == NULL, "a malformed body has a reason");
        return;
    }
    if (r == 0) {
        FUZZ_CHECK(v == NULL, "an absent field has no value");
        return;
    }
    FUZZ_CHECK(v != NULL && v[vl] == '\0', "a field is NUL-terminated");
    if (roundtrip) {
        urlenc_roundtrip(v, vl);
        multipart_roundtrip(v, vl);
    }
    free(v);
}

static int
on_word(void *ctx, const uint8_t *word, size_t len)
{
    (void) ctx;
    (void) word;
    FUZZ_CHECK(len > 0 && len <= HKP_MAX_WORD_LEN, "a word's length");
    return 0;
}

static int
on_key(void *ctx, size_t index, hkp_key_t *key, const char *reason)
{
    (void) ctx;
    (void) index;
    FUZZ_CHECK(key != NULL || reason != NULL, "a refused key has a reason");
    if (key != NULL) {
        hkp_key_free(key);
        free(key);
    }
    return 0;
}

/* The /pks/lookup side: the query string's fields, search words. */
static void
lookup_query(const uint8_t *q, size_t len)
{
    static hkp_words_t *words;
    uint8_t *s = NULL;
    size_t sl = 0;
    const char *err = NULL;
    char mail[HKP_MAX_UID_INDEX_LEN + 1];

    field(q, len, URLENC, sizeof(URLENC) - 1, "op", 0);
    field(q, len, URLENC, sizeof(URLENC) - 1, "options", 0);
    field(q, len, URLENC, sizeof(URLENC) - 1, "fingerprint", 0);
    field(q, len, URLENC, sizeof(URLENC) - 1, "exact", 0);
    if (hkp_form_field(q, len, URLENC, sizeof(URLENC) - 1, "search", &s, &sl,
            &err) != 1)
        return;
    if (words == NULL)
        words = hkp_words_new(&err);
    FUZZ_CHECK(words != NULL, "the word patterns compile");
    if (sl > HKP_MAX_SEARCH_LEN)
        sl = HKP_MAX_SEARCH_LEN;
    {
        size_t skipped = 0;
        FUZZ_CHECK(hkp_words_split(words, s, sl, on_word, NULL, &skipped)
            == 0, "splitting a search string");
        FUZZ_CHECK(skipped <= sl / (HKP_MAX_WORD_LEN + 1),
            "a skipped word is longer than HKP_MAX_WORD_LEN");
    }
    {
        size_t ml = hkp_uid_email(s, sl, mail, sizeof(mail));
        FUZZ_CHECK(ml < sizeof(mail) && (ml == 0 || strlen(mail) == ml),
            "a mailbox is NUL-terminated at its length");
    }
    free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < FUZZ_FORM_MAX_CTYPE
        ? size : FUZZ_FORM_MAX_CTYPE);
    char ctype[FUZZ_FORM_MAX_CTYPE + 1];
    size_t ctl = 0, blen;
    const uint8_t *body;
    uint8_t *kt = NULL, *bin = NULL;
    size_t ktl = 0, binl = 0;
    const char *err = NULL;
    char why[HKP_REASON_LEN];

    if (nl != NULL) {
        ctl = (size_t) (nl - data);
        memcpy(ctype, data, ctl);
        body = nl + 1;
    } else {
        body = data;
    }
    ctype[ctl] = '\0';
    blen = size - (size_t) (body - data);

    /* /pks/add: what the module does with a body */
    (void) hkp_form_options_mr(body, blen, ctype, ctl);
    field(body, blen, ctype, ctl, "keytext", 1);
    field(body, blen, ctype, ctl, "options", 1);
    if (hkp_form_keytext(body, blen, ctype, ctl, &kt, &ktl, &err) == 0) {
        FUZZ_CHECK(kt != NULL && ktl > 0, "key material is not empty");
        if (hkp_material_decode(kt, ktl, &bin, &binl, &err) == 0) {
            FUZZ_CHECK(bin != NULL && binl > 0, "decoded material");
            (void) hkp_keys_parse(bin, binl, NULL, on_key, NULL, why, sizeof(why));
            free(bin);
        } else {
            FUZZ_CHECK(err != NULL && bin == NULL, "refused material");
        }
        free(kt);
    } else {
        FUZZ_CHECK(err != NULL && kt == NULL, "a refused body has a reason");
    }
    /* the same bytes straight as material (a raw body) */
    if (hkp_material_decode(body, blen, &bin, &binl, &err) == 0)
        free(bin);

    /* /pks/lookup: the whole input as a query string */
    lookup_query(data, size);
    return 0;
}
