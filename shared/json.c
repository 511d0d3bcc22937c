/*
 * A small JSON writer, and the "keytext" reader of VKS uploads (json.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

/* ------------------------------------------------------------------ */
/* Writer                                                               */

void
hkp_json_init(hkp_json_t *w, hkp_json_sink sink, void *ctx)
{
    memset(w, 0, sizeof(*w));
    w->sink = sink;
    w->ctx = ctx;
}

static void
out(hkp_json_t *w, const void *p, size_t n)
{
    if (!w->err && n > 0)
        w->sink(w->ctx, p, n);
}

/* Before any value: the comma, and the checks. 0 or -1 (w->err set). */
static int
value_start(hkp_json_t *w)
{
    if (w->err)
        return -1;
    if (w->depth > 0) {
        int d = w->depth - 1;
        if (w->obj[d]) {
            if (!w->keyed) {
                w->err = 1;    /* a member needs its key first */
                return -1;
            }
            w->keyed = 0;
            return 0;
        }
        if (w->count[d])
            out(w, ",", 1);
        w->count[d] = 1;
    }
    return 0;
}

static void
open_level(hkp_json_t *w, int obj)
{
    if (value_start(w) != 0)
        return;
    if (w->depth == HKP_JSON_MAX_DEPTH) {
        w->err = 1;
        return;
    }
    out(w, obj ? "{" : "[", 1);
    w->obj[w->depth] = (uint8_t) obj;
    w->count[w->depth] = 0;
    w->depth++;
}

void
hkp_json_obj(hkp_json_t *w)
{
    open_level(w, 1);
}

void
hkp_json_arr(hkp_json_t *w)
{
    open_level(w, 0);
}

void
hkp_json_end(hkp_json_t *w)
{
    if (w->err)
        return;
    if (w->depth == 0 || w->keyed) {
        w->err = 1;
        return;
    }
    w->depth--;
    out(w, w->obj[w->depth] ? "}" : "]", 1);
}

/* Length of the valid UTF-8 sequence at p[0 .. n) (RFC 3629: no
 * overlongs, no surrogates, at most U+10FFFF), 0 if there is none. */
static size_t
utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len, i;
    uint32_t cp, min;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2; cp = c & 0x1F; min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3; cp = c & 0x0F; min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4; cp = c & 0x07; min = 0x10000;
    } else
        return 0;
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static void
write_string(hkp_json_t *w, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, run = 0, l;
    char esc[6];

    out(w, "\"", 1);
    while (i < n) {
        uint8_t c = p[i];
        const char *rep = NULL;
        size_t replen = 2;

        if (c == '"')
            rep = "\\\"";
        else if (c == '\\')
            rep = "\\\\";
        else if (c == '\n')
            rep = "\\n";
        else if (c == '\r')
            rep = "\\r";
        else if (c == '\t')
            rep = "\\t";
        else if (c < 0x20 || c == 0x7F) {
            esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 0xF];
            rep = esc;
            replen = 6;
        } else if (c >= 0x80) {
            l = utf8_len(p + i, n - i);
            if (l == 0) {
                rep = "\xEF\xBF\xBD";      /* U+FFFD for a bad byte */
                replen = 3;
            } else {
                run += l;
                i += l;
                continue;
            }
        } else {
            run++;
            i++;
            continue;
        }
        out(w, p + i - run, run);
        run = 0;
        out(w, rep, replen);
        i++;
    }
    out(w, p + i - run, run);
    out(w, "\"", 1);
}

void
hkp_json_key(hkp_json_t *w, const char *name)
{
    int d;

    if (w->err)
        return;
    d = w->depth - 1;
    if (w->depth == 0 || !w->obj[d] || w->keyed) {
        w->err = 1;
        return;
    }
    if (w->count[d])
        out(w, ",", 1);
    w->count[d] = 1;
    write_string(w, (const uint8_t *) name, strlen(name));
    out(w, ":", 1);
    w->keyed = 1;
}

void
hkp_json_str(hkp_json_t *w, const uint8_t *p, size_t n)
{
    if (value_start(w) == 0)
        write_string(w, p, n);
}

void
hkp_json_cstr(hkp_json_t *w, const char *s)
{
    hkp_json_str(w, (const uint8_t *) s, strlen(s));
}

void
hkp_json_hex(hkp_json_t *w, const uint8_t *p, size_t n, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char buf[64];
    size_t i, k = 0;

    if (value_start(w) != 0)
        return;
    out(w, "\"", 1);
    for (i = 0; i < n; i++) {
        buf[k++] = digits[p[i] >> 4];
        buf[k++] = digits[p[i] & 0xF];
        if (k == sizeof(buf)) {
            out(w, buf, k);
            k = 0;
        }
    }
    out(w, buf, k);
    out(w, "\"", 1);
}

void
hkp_json_int(hkp_json_t *w, int64_t v)
{
    char buf[24], *e = buf + sizeof(buf), *p = e;
    uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

    if (value_start(w) != 0)
        return;
    do {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    out(w, p, (size_t) (e - p));
}

void
hkp_json_bool(hkp_json_t *w, int v)
{
    if (value_start(w) == 0)
        out(w, v ? "true" : "false", v ? 4 : 5);
}

void
hkp_json_null(hkp_json_t *w)
{
    if (value_start(w) == 0)
        out(w, "null", 4);
}

void
hkp_rfc3339(int64_t t, char out_[HKP_RFC3339_LEN + 1])
{
    struct tm tm;
    time_t tt = (time_t) t;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(out_, HKP_RFC3339_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm)
           != HKP_RFC3339_LEN)
        memcpy(out_, "1970-01-01T00:00:00Z", HKP_RFC3339_LEN + 1);
}

void
hkp_json_time(hkp_json_t *w, int64_t t)
{
    char buf[HKP_RFC3339_LEN + 1];

    hkp_rfc3339(t, buf);
    hkp_json_str(w, (const uint8_t *) buf, HKP_RFC3339_LEN);
}

/* ------------------------------------------------------------------ */
/* Reader: the "keytext" member                                         */

typedef struct {
    const uint8_t *p, *end;
    const char    *err;
    uint8_t       *text;        /* keytext, once found */
    size_t         textlen;
} rd_t;

static int parse_value(rd_t *r, int depth);

static void
ws(rd_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n'
                             || *r->p == '\r'))
        r->p++;
}

static int
fail(rd_t *r, const char *why)
{
    if (r->err == NULL)
        r->err = why;
    return -1;
}

static int
hex4(const uint8_t *p, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        *v <<= 4;
        if (c >= '0' && c <= '9')
            *v |= (uint32_t) (c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            *v |= (uint32_t) ((c | 0x20) - 'a' + 10);
        else
            return -1;
    }
    return 0;
}

static size_t
put_utf8(uint8_t *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (uint8_t) cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (uint8_t) (0xC0 | cp >> 6);
        d[1] = (uint8_t) (0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (uint8_t) (0xE0 | cp >> 12);
        d[1] = (uint8_t) (0x80 | (cp >> 6 & 0x3F));
        d[2] = (uint8_t) (0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (uint8_t) (0xF0 | cp >> 18);
    d[1] = (uint8_t) (0x80 | (cp >> 12 & 0x3F));
    d[2] = (uint8_t) (0x80 | (cp >> 6 & 0x3F));
    d[3] = (uint8_t) (0x80 | (cp & 0x3F));
    return 4;
}

/*
 * A string at r->p (the opening quote). With dst (room for the raw length
 * of the string), its decoded bytes go there and *dlen is set; without,
 * it is only checked. 0 or -1.
 */
static int
parse_string(rd_t *r, uint8_t *dst, size_t *dlen)
{
    size_t k = 0;
    uint32_t cp, lo;

    r->p++;
    while (r->p < r->end) {
        uint8_t c = *r->p;

        if (c == '"') {
            r->p++;
            if (dlen != NULL)
                *dlen = k;
            return 0;
        }
        if (c < 0x20)
            return fail(r, "control character in a JSON string");
        if (c != '\\') {
            if (dst != NULL)
                dst[k++] = c;
            r->p++;
            continue;
        }
        if (r->end - r->p < 2)
            break;
        c = r->p[1];
        r->p += 2;
        switch (c) {
        case '"': case '\\': case '/':
            cp = c; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (r->end - r->p < 4 || hex4(r->p, &cp) != 0)
                return fail(r, "bad \\u escape in a JSON string");
            r->p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail(r, "lone low surrogate in a JSON string");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u'
                    || hex4(r->p + 2, &lo) != 0 || lo < 0xDC00
                    || lo > 0xDFFF)
                    return fail(r, "lone high surrogate in a JSON string");
                r->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            break;
        default:
            return fail(r, "bad escape in a JSON string");
        }
        if (dst != NULL)
            k += put_utf8(dst + k, cp);
    }
    return fail(r, "unterminated JSON string");
}

static int
digits(rd_t *r)
{
    const uint8_t *s = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return r->p > s ? 0 : -1;
}

static int
parse_number(rd_t *r)
{
    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p < r->end && *r->p == '0')
        r->p++;
    else if (digits(r) != 0)
        return fail(r, "bad JSON number");
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (digits(r) != 0)
            return fail(r, "bad JSON number");
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (digits(r) != 0)
            return fail(r, "bad JSON number");
    }
    return 0;
}

static int
literal(rd_t *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t) (r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return fail(r, "not JSON");
    r->p += n;
    return 0;
}

/* The members of an object at r->p ('{'); top: look for "keytext". */
static int
parse_object(rd_t *r, int depth, int top)
{
    r->p++;
    ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return 0;
    }
    for (;;) {
        const uint8_t *kstart;
        int is_keytext;

        ws(r);
        if (r->p >= r->end || *r->p != '"')
            return fail(r, "JSON object member without a string name");
        kstart = r->p;
        if (parse_string(r, NULL, NULL) != 0)
            return -1;
        is_keytext = top && r->p - kstart == 9
            && memcmp(kstart, "\"keytext\"", 9) == 0;
        ws(r);
        if (r->p >= r->end || *r->p != ':')
            return fail(r, "JSON object member without ':'");
        r->p++;
        ws(r);
        if (is_keytext) {
            const uint8_t *vstart = r->p;
            if (r->p >= r->end || *r->p != '"')
                return fail(r, "\"keytext\" is not a string");
            if (r->text != NULL)
                return fail(r, "\"keytext\" is given twice");
            if (parse_string(r, NULL, NULL) != 0)
                return -1;
            r->text = malloc((size_t) (r->p - vstart));
            if (r->text == NULL)
                return fail(r, "out of memory");
            r->p = vstart;
            if (parse_string(r, r->text, &r->textlen) != 0)
                return -1;
        } else if (parse_value(r, depth + 1) != 0)
            return -1;
        ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == '}') {
            r->p++;
            return 0;
        }
        return fail(r, "JSON object not closed");
    }
}

static int
parse_array(rd_t *r, int depth)
{
    r->p++;
    ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return 0;
    }
    for (;;) {
        if (parse_value(r, depth + 1) != 0)
            return -1;
        ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == ']') {
            r->p++;
            return 0;
        }
        return fail(r, "JSON array not closed");
    }
}

static int
parse_value(rd_t *r, int depth)
{
    if (depth >= HKP_JSON_MAX_DEPTH)
        return fail(r, "JSON nested too deeply");
    ws(r);
    if (r->p >= r->end)
        return fail(r, "JSON value missing");
    switch (*r->p) {
    case '{': return parse_object(r, depth, 0);
    case '[': return parse_array(r, depth);
    case '"': return parse_string(r, NULL, NULL);
    case 't': return literal(r, "true");
    case 'f': return literal(r, "false");
    case 'n': return literal(r, "null");
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
            return parse_number(r);
        return fail(r, "not JSON");
    }
}

int
hkp_json_keytext(const uint8_t *buf, size_t len, uint8_t **out_,
    size_t *outlen, const char **err)
{
    rd_t r;

    memset(&r, 0, sizeof(r));
    r.p = buf;
    r.end = buf + len;

    if (len > HKP_JSON_MAX_INPUT) {
        *err = "JSON body too large";
        return -1;
    }
    ws(&r);
    if (r.p >= r.end || *r.p != '{') {
        *err = "the body is not a JSON object";
        return -1;
    }
    if (parse_object(&r, 0, 1) == 0) {
        ws(&r);
        if (r.p != r.end)
            (void) fail(&r, "data after the JSON object");
        else if (r.text == NULL)
            (void) fail(&r, "no \"keytext\" member in the JSON object");
    }
    if (r.err != NULL) {
        free(r.text);
        *err = r.err;
        return -1;
    }
    *out_ = r.text;
    *outlen = r.textlen;
    return 0;
}
