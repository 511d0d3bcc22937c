/*
 * The text forms of a takedown (store_block.h): fingerprints as operators
 * write them, "public reason | private note", and the refusal reason.
 */
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "store_block.h"

int
hkp_block_fpr_parse(const char *s, uint8_t fpr[32], size_t *len)
{
    size_t digits = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    for (; *s != '\0'; s++) {
        int v = hkp_hexval((unsigned char) *s);
        if (*s == ' ')
            continue;
        if (v < 0 || digits >= 64)
            return -1;
        if (digits % 2 == 0)
            fpr[digits / 2] = (uint8_t) (v << 4);
        else
            fpr[digits / 2] |= (uint8_t) v;
        digits++;
    }
    if (digits != 40 && digits != 64)
        return -1;
    *len = digits / 2;
    return 0;
}

/* Copies p[0..n) trimmed into out[max + 1]; -1 when too long or it holds
 * a control character. */
static int
copy_trimmed(const char *p, size_t n, char *out, size_t max,
    const char *what, char *err, size_t errlen)
{
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n > max) {
        snprintf(err, errlen, "the %s is too long (%zu > %zu bytes)", what,
            n, max);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) p[i];
        if (c < 0x20 || c == 0x7f) {
            snprintf(err, errlen, "the %s holds a control character", what);
            return -1;
        }
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int
hkp_block_reason_parse(const char *text, hkp_blockrec_t *rec, char *err,
    size_t errlen)
{
    const char *bar = strchr(text, '|');
    size_t publen = bar != NULL ? (size_t) (bar - text) : strlen(text);

    if (copy_trimmed(text, publen, rec->pub, HKP_BLOCK_PUBLIC_MAX,
            "public reason", err, errlen) != 0)
        return -1;
    rec->note[0] = '\0';
    if (bar != NULL && copy_trimmed(bar + 1, strlen(bar + 1), rec->note,
            HKP_BLOCK_NOTE_MAX, "private note", err, errlen) != 0)
        return -1;
    return 0;
}

void
hkp_block_reason_str(const hkp_blockrec_t *rec, char *buf, size_t len)
{
    if (rec->pub[0] != '\0')
        snprintf(buf, len, "%s: %s", HKP_BLOCK_REFUSAL, rec->pub);
    else
        snprintf(buf, len, "%s", HKP_BLOCK_REFUSAL);
}
