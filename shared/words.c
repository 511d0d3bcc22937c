/*
 * Word index text rules. See words.h.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include <pcre2.h>

#include "words.h"
#include "hkp_limits.h"

struct hkp_words_s {
    pcre2_code       *code;
    pcre2_match_data *md;
    locale_t          loc;     /* (locale_t) 0 if no UTF-8 locale exists */
};

hkp_words_t *
hkp_words_new(const char **err)
{
    static const char *locs[] = { "C.UTF-8", "C.utf8", "en_US.UTF-8" };
    hkp_words_t       *w;
    int                ec;
    PCRE2_SIZE         eo;

    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        *err = "out of memory";
        return NULL;
    }
    w->code = pcre2_compile((PCRE2_SPTR) "[\\p{L}\\p{M}\\p{N}]+",
        PCRE2_ZERO_TERMINATED,
        PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
    if (w->code == NULL) {
        *err = "cannot compile the word pattern";
        free(w);
        return NULL;
    }
    (void) pcre2_jit_compile(w->code, PCRE2_JIT_COMPLETE);
    w->md = pcre2_match_data_create_from_pattern(w->code, NULL);
    if (w->md == NULL) {
        pcre2_code_free(w->code);
        free(w);
        *err = "out of memory";
        return NULL;
    }
    for (size_t i = 0; i < sizeof(locs) / sizeof(locs[0]); i++) {
        w->loc = newlocale(LC_CTYPE_MASK, locs[i], (locale_t) 0);
        if (w->loc != (locale_t) 0)
            break;
    }
    return w;
}

void
hkp_words_free(hkp_words_t *w)
{
    if (w == NULL)
        return;
    pcre2_match_data_free(w->md);
    pcre2_code_free(w->code);
    if (w->loc != (locale_t) 0)
        freelocale(w->loc);
    free(w);
}

/* Decodes one code point from valid UTF-8 (PCRE2 only matches valid
 * sequences). Returns bytes used. */
static size_t
utf8_dec(const uint8_t *p, size_t n, uint32_t *cp)
{
    if (p[0] < 0x80 || n < 2) {
        *cp = p[0];
        return 1;
    }
    if ((p[0] & 0xE0) == 0xC0) {
        *cp = ((uint32_t) (p[0] & 0x1F) << 6) | (p[1] & 0x3F);
        return 2;
    }
    if ((p[0] & 0xF0) == 0xE0 && n >= 3) {
        *cp = ((uint32_t) (p[0] & 0x0F) << 12) | ((uint32_t) (p[1] & 0x3F) << 6)
            | (p[2] & 0x3F);
        return 3;
    }
    if ((p[0] & 0xF8) == 0xF0 && n >= 4) {
        *cp = ((uint32_t) (p[0] & 0x07) << 18) | ((uint32_t) (p[1] & 0x3F) << 12)
            | ((uint32_t) (p[2] & 0x3F) << 6) | (p[3] & 0x3F);
        return 4;
    }
    *cp = p[0];
    return 1;
}

static size_t
utf8_enc(uint32_t cp, uint8_t *o)
{
    if (cp < 0x80) {
        o[0] = (uint8_t) cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t) (0xC0 | (cp >> 6));
        o[1] = (uint8_t) (0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t) (0xE0 | (cp >> 12));
        o[1] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t) (0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t) (0xF0 | (cp >> 18));
    o[1] = (uint8_t) (0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t) (0x80 | (cp & 0x3F));
    return 4;
}

/* Folds s[0..n) into o (room for HKP_MAX_WORD_LEN). Returns the length,
 * or 0 if the folded word is too long. */
static size_t
fold(const hkp_words_t *w, const uint8_t *s, size_t n, uint8_t *o)
{
    size_t k = 0;

    while (n > 0) {
        uint32_t cp;
        size_t   u = utf8_dec(s, n, &cp);
        uint8_t  e[4];
        size_t   el;

        s += u;
        n -= u;
        if (cp < 0x80) {
            if (cp >= 'A' && cp <= 'Z')
                cp += 'a' - 'A';
        } else if (w->loc != (locale_t) 0) {
            wint_t lc = towlower_l((wint_t) cp, w->loc);
            if (lc != WEOF && lc <= 0x10FFFF && (lc < 0xD800 || lc > 0xDFFF))
                cp = (uint32_t) lc;
        }
        el = utf8_enc(cp, e);
        if (k + el > HKP_MAX_WORD_LEN)
            return 0;
        memcpy(o + k, e, el);
        k += el;
    }
    return k;
}

int
hkp_words_split(hkp_words_t *w, const uint8_t *text, size_t len,
    hkp_word_cb cb, void *ctx, size_t *skipped)
{
    PCRE2_SIZE  off = 0;
    PCRE2_SIZE *ov;
    uint8_t     buf[HKP_MAX_WORD_LEN];

    if (skipped != NULL)
        *skipped = 0;
    if (len == 0)
        return 0;
    ov = pcre2_get_ovector_pointer(w->md);
    while (off < len) {
        int    rc;
        size_t s, e, k;

        rc = pcre2_match(w->code, (PCRE2_SPTR) text, len, off, 0, w->md,
            NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            return -1;
        s = ov[0];
        e = ov[1];
        if (e <= s)   /* cannot happen with "+", but be safe */
            break;
        off = e;
        /* a fold shrinks a code point by at most 2 bytes of 3 */
        k = e - s > 3 * (size_t) HKP_MAX_WORD_LEN ? 0
            : fold(w, text + s, e - s, buf);
        if (k == 0) {
            if (skipped != NULL)
                (*skipped)++;
            continue;
        }
        rc = cb(ctx, buf, k);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int
addr_ok(const uint8_t *p, size_t n)
{
    int at = 0;

    if (n < 3)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] <= 0x20 || p[i] == 0x7F || p[i] == '<' || p[i] == '>')
            return 0;
        if (p[i] == '@')
            at++;
    }
    return at == 1 && p[0] != '@' && p[n - 1] != '@';
}

size_t
hkp_uid_email(const uint8_t *uid, size_t len, char *out, size_t outsz)
{
    const uint8_t *p = NULL, *lt = NULL;
    size_t         n = 0;

    for (size_t i = len; i > 0; i--)
        if (uid[i - 1] == '<') {
            lt = uid + i - 1;
            break;
        }
    if (lt != NULL) {
        const uint8_t *gt = memchr(lt + 1, '>', len - (size_t) (lt + 1 - uid));
        if (gt != NULL && memchr(lt + 1, '@', (size_t) (gt - lt - 1)) != NULL) {
            p = lt + 1;
            n = (size_t) (gt - p);
        }
    }
    if (p == NULL) {
        p = uid;
        n = len;
        while (n && (p[0] == ' ' || p[0] == '\t')) {
            p++;
            n--;
        }
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
    }
    if (!addr_ok(p, n) || n + 1 > outsz)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (char) ((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
    out[n] = '\0';
    return n;
}
