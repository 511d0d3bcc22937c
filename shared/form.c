/*
 * /pks/add request bodies. See form.h and doc/hkp.md sections 5.1, 9.
 */
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "bytes.h"
#include "armor.h"
#include "packet.h"
#include "hkp_limits.h"

/* Longest multipart boundary accepted (RFC 2046 allows 70). */
#define FORM_MAX_BOUNDARY  256
/* Longest field name compared (longer names never match). */
#define FORM_MAX_NAME      64

enum { BODY_RAW, BODY_URLENC, BODY_MULTIPART };

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

static int
lc(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Case-insensitive equality of p[0..n) and the NUL-terminated s. */
static int
ci_eq(const uint8_t *p, size_t n, const char *s)
{
    size_t sl = strlen(s);

    if (n != sl)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lc(p[i]) != lc((unsigned char) s[i]))
            return 0;
    return 1;
}

static int
is_blank(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static int
is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const uint8_t *
find(const uint8_t *h, size_t hl, const char *needle)
{
    size_t         nl = strlen(needle);
    const uint8_t *p = h, *end = h + hl;

    if (nl == 0 || hl < nl)
        return NULL;
    while ((size_t) (end - p) >= nl) {
        p = memchr(p, needle[0], (size_t) (end - p) - nl + 1);
        if (p == NULL)
            return NULL;
        if (memcmp(p, needle, nl) == 0)
            return p;
        p++;
    }
    return NULL;
}

/* Percent-decodes in[0..n) into out (room for n). '+' becomes a space
 * when `plus`. An invalid %XX is kept literally. Returns the length. */
static size_t
pct_decode(const uint8_t *in, size_t n, uint8_t *out, int plus)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        if (in[i] == '%' && n - i >= 3) {
            int h = hkp_hexval(in[i + 1]), l = hkp_hexval(in[i + 2]);
            if (h >= 0 && l >= 0) {
                out[k++] = (uint8_t) (h << 4 | l);
                i += 2;
                continue;
            }
        }
        out[k++] = (plus && in[i] == '+') ? ' ' : in[i];
    }
    return k;
}

/* A growable output buffer; `cap` never exceeds what the caller sized. */
typedef struct {
    uint8_t *p;
    size_t   len;
    size_t   cap;
    int      found;
} obuf_t;

/* Makes room for `more` bytes plus a NUL. 0 or -1. */
static int
obuf_reserve(obuf_t *o, size_t more)
{
    size_t   need, nc;
    uint8_t *np;

    if (more > SIZE_MAX - o->len - 2)
        return -1;
    need = o->len + more + 2;
    if (need <= o->cap)
        return 0;
    nc = o->cap ? o->cap : 256;
    while (nc < need)
        nc = nc > SIZE_MAX / 2 ? need : nc * 2;
    np = realloc(o->p, nc);
    if (np == NULL)
        return -1;
    o->p = np;
    o->cap = nc;
    return 0;
}

/* Starts a new value: a '\n' separates it from the previous one. */
static int
obuf_next(obuf_t *o, size_t more)
{
    if (obuf_reserve(o, more + 1) != 0)
        return -1;
    if (o->found)
        o->p[o->len++] = '\n';
    o->found = 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Content type                                                         */

/*
 * Classifies the body. For multipart, copies the boundary into bnd
 * (FORM_MAX_BOUNDARY + 1 bytes) and sets *bndlen (0 = not given).
 */
static int
body_kind(const uint8_t *body, size_t len, const char *ctype,
    size_t ctype_len, char *bnd, size_t *bndlen)
{
    const uint8_t *c, *end, *mt;
    size_t         mtl;
    size_t         i = 0;

    *bndlen = 0;
    if (ctype == NULL) {
        ctype = "";
        ctype_len = 0;
    }
    c = (const uint8_t *) ctype;
    end = c + ctype_len;
    while (c < end && is_blank(*c))
        c++;
    mt = c;
    while (c < end && *c != ';' && !is_space(*c))
        c++;
    mtl = (size_t) (c - mt);

    if (mtl > 0 && ci_eq(mt, mtl, "multipart/form-data")) {
        /* parameters: ; name=value or ; name="value" */
        while (c < end) {
            const uint8_t *pn, *pv;
            size_t         pnl, pvl;

            while (c < end && (*c == ';' || is_space(*c)))
                c++;
            pn = c;
            while (c < end && *c != '=' && *c != ';' && !is_space(*c))
                c++;
            pnl = (size_t) (c - pn);
            while (c < end && is_blank(*c))
                c++;
            if (c >= end || *c != '=')
                continue;
            c++;
            while (c < end && is_blank(*c))
                c++;
            if (c < end && *c == '"') {
                pv = ++c;
                while (c < end && *c != '"')
                    c++;
                pvl = (size_t) (c - pv);
                if (c < end)
                    c++;
            } else {
                pv = c;
                while (c < end && *c != ';' && !is_space(*c))
                    c++;
                pvl = (size_t) (c - pv);
            }
            if (ci_eq(pn, pnl, "boundary") && pvl > 0
                && pvl <= FORM_MAX_BOUNDARY)
            {
                memcpy(bnd, pv, pvl);
                bnd[pvl] = '\0';
                *bndlen = pvl;
            }
        }
        return BODY_MULTIPART;
    }
    if (mtl > 0 && ci_eq(mt, mtl, "application/x-www-form-urlencoded"))
        return BODY_URLENC;
    if (mtl > 0 && (ci_eq(mt, mtl, "application/pgp-keys")
            || ci_eq(mt, mtl, "application/pgp")
            || ci_eq(mt, mtl, "application/octet-stream")))
        return BODY_RAW;

    /* unknown or none: sniff */
    while (i < len && is_space(body[i]))
        i++;
    if (i < len && ((body[i] & 0x80) || (len - i >= 14
            && memcmp(body + i, "-----BEGIN PGP", 14) == 0)))
        return BODY_RAW;
    if (len >= 2 && body[0] == '-' && body[1] == '-')
        return BODY_MULTIPART;
    return BODY_URLENC;
}

/* Raw key material rather than a form: armor or binary at the start. */
static int
looks_raw(const uint8_t *body, size_t len)
{
    size_t i = 0;

    if (len >= 3 && body[0] == 0xEF && body[1] == 0xBB && body[2] == 0xBF)
        i = 3;
    while (i < len && is_space(body[i]))
        i++;
    return i < len && ((body[i] & 0x80) || (len - i >= 14
            && memcmp(body + i, "-----BEGIN PGP", 14) == 0));
}

/* ------------------------------------------------------------------ */
/* application/x-www-form-urlencoded                                    */

static int
urlenc_field(const uint8_t *body, size_t len, const char *name, obuf_t *o)
{
    const uint8_t *p = body, *end = body + len;

    while (p < end) {
        const uint8_t *f = p, *fe, *eq;
        uint8_t        nb[3 * FORM_MAX_NAME];
        size_t         nl;

        fe = memchr(p, '&', (size_t) (end - p));
        if (fe == NULL)
            fe = end;
        p = fe < end ? fe + 1 : end;
        if (fe == f)
            continue;
        eq = memchr(f, '=', (size_t) (fe - f));
        if (eq == NULL)
            eq = fe;
        /* a name decodes to at most its raw length */
        if ((size_t) (eq - f) > sizeof(nb))
            continue;
        nl = pct_decode(f, (size_t) (eq - f), nb, 1);
        if (nl != strlen(name) || memcmp(nb, name, nl) != 0)
            continue;
        {
            const uint8_t *v = eq < fe ? eq + 1 : fe;
            size_t         vl = (size_t) (fe - v);
            size_t         tl = vl;
            int            plus;

            /* raw line breaks inside (not just at the end): not encoded */
            while (tl > 0 && is_space(v[tl - 1]))
                tl--;
            plus = memchr(v, '\n', tl) == NULL && memchr(v, '\r', tl) == NULL;

            if (obuf_next(o, vl) != 0)
                return -1;
            o->len += pct_decode(v, vl, o->p + o->len, plus);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* multipart/form-data                                                  */

/* Finds "--bnd" at the start of a line in [p, end), starting at p (which
 * is itself a line start when `at_line_start`). Returns the position of
 * the line break before it (or p), NULL when absent. */
/* What may follow "--B" on a delimiter line. */
static int
delim_end_ok(const uint8_t *a, const uint8_t *end)
{
    return a == end || *a == '\r' || *a == '\n' || is_blank(*a)
        || (end - a >= 2 && a[0] == '-' && a[1] == '-');
}

static const uint8_t *
find_delim(const uint8_t *p, const uint8_t *end, const char *bnd,
    size_t bl, int at_line_start, const uint8_t **after)
{
    const uint8_t *q = p;

    if (at_line_start && (size_t) (end - q) >= bl + 2 && q[0] == '-'
        && q[1] == '-' && memcmp(q + 2, bnd, bl) == 0
        && delim_end_ok(q + 2 + bl, end))
    {
        *after = q + 2 + bl;
        return q;
    }
    while (q < end) {
        const uint8_t *nl = memchr(q, '\n', (size_t) (end - q)), *s;

        if (nl == NULL)
            return NULL;
        s = nl + 1;
        if ((size_t) (end - s) >= bl + 2 && s[0] == '-' && s[1] == '-'
            && memcmp(s + 2, bnd, bl) == 0
            && delim_end_ok(s + 2 + bl, end))
        {
            *after = s + 2 + bl;
            return (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
        }
        q = s;
    }
    return NULL;
}

/* Is the Content-Disposition value [v, e) a form-data part named `name`? */
static int
disposition_named(const uint8_t *v, const uint8_t *e, const char *name)
{
    const uint8_t *c = v;

    /* skip the disposition type */
    while (c < e && *c != ';')
        c++;
    while (c < e) {
        const uint8_t *pn, *pv;
        size_t         pnl, pvl;

        while (c < e && (*c == ';' || is_space(*c)))
            c++;
        pn = c;
        while (c < e && *c != '=' && *c != ';' && !is_space(*c))
            c++;
        pnl = (size_t) (c - pn);
        while (c < e && is_blank(*c))
            c++;
        if (c >= e || *c != '=')
            continue;
        c++;
        while (c < e && is_blank(*c))
            c++;
        if (c < e && *c == '"') {
            pv = ++c;
            while (c < e && *c != '"') {
                if (*c == '\\' && c + 1 < e)
                    c++;
                c++;
            }
            pvl = (size_t) (c - pv);
            if (c < e)
                c++;
        } else {
            pv = c;
            while (c < e && *c != ';' && !is_space(*c))
                c++;
            pvl = (size_t) (c - pv);
        }
        if (ci_eq(pn, pnl, "name"))
            return pvl == strlen(name) && memcmp(pv, name, pvl) == 0;
    }
    return 0;
}

static int
multipart_field(const uint8_t *body, size_t len, const char *bnd, size_t bl,
    const char *name, obuf_t *o, const char **err)
{
    const uint8_t *end = body + len, *p, *after;
    char           sniff[FORM_MAX_BOUNDARY + 1];

    if (bl == 0) {
        /* no boundary parameter: take it from a leading "--B" line */
        const uint8_t *nl;
        size_t         l;

        if (len < 3 || body[0] != '-' || body[1] != '-') {
            *err = "malformed multipart body (no boundary)";
            return -1;
        }
        nl = memchr(body, '\n', len);
        if (nl == NULL) {
            *err = "malformed multipart body (no boundary)";
            return -1;
        }
        l = (size_t) (nl - body) - 2;
        if (l > 0 && body[2 + l - 1] == '\r')
            l--;
        while (l > 0 && is_blank(body[2 + l - 1]))
            l--;
        if (l == 0 || l > FORM_MAX_BOUNDARY) {
            *err = "malformed multipart body (bad boundary)";
            return -1;
        }
        memcpy(sniff, body + 2, l);
        sniff[l] = '\0';
        bnd = sniff;
        bl = l;
    }
    if (memchr(bnd, '\r', bl) != NULL || memchr(bnd, '\n', bl) != NULL) {
        *err = "malformed multipart body (bad boundary)";
        return -1;
    }

    if (find_delim(body, end, bnd, bl, 1, &after) == NULL) {
        *err = "malformed multipart body (no boundary line)";
        return -1;
    }
    for (;;) {
        const uint8_t *content, *cend, *next_after;
        int            match = 0;

        p = after;
        if ((size_t) (end - p) >= 2 && p[0] == '-' && p[1] == '-')
            return 0;                         /* close delimiter */
        while (p < end && is_blank(*p))
            p++;
        if (p < end && *p == '\r')
            p++;
        if (p >= end || *p != '\n') {
            *err = "malformed multipart body (bad delimiter line)";
            return -1;
        }
        p++;

        /* headers up to an empty line */
        for (;;) {
            const uint8_t *nl = memchr(p, '\n', (size_t) (end - p)), *le;

            if (nl == NULL) {
                *err = "malformed multipart body (unterminated part headers)";
                return -1;
            }
            le = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
            if (le == p) {
                p = nl + 1;
                break;
            }
            {
                const uint8_t *colon = memchr(p, ':', (size_t) (le - p));
                if (colon != NULL
                    && ci_eq(p, (size_t) (colon - p), "content-disposition")
                    && disposition_named(colon + 1, le, name))
                    match = 1;
            }
            p = nl + 1;
        }

        content = p;
        cend = find_delim(content, end, bnd, bl, 1, &next_after);
        if (cend == NULL) {
            *err = "malformed multipart body (missing closing boundary)";
            return -1;
        }
        if (match) {
            size_t cl = (size_t) (cend - content);
            if (obuf_next(o, cl) != 0) {
                *err = "out of memory";
                return -1;
            }
            if (cl)
                memcpy(o->p + o->len, content, cl);
            o->len += cl;
        }
        after = next_after;
    }
}

/* ------------------------------------------------------------------ */
/* API                                                                  */

static int
get_field(const uint8_t *body, size_t len, int kind, const char *bnd,
    size_t bl, const char *name, uint8_t **out, size_t *outlen,
    const char **err)
{
    obuf_t o = { NULL, 0, 0, 0 };

    *out = NULL;
    *outlen = 0;
    if (kind == BODY_URLENC) {
        if (urlenc_field(body, len, name, &o) != 0) {
            free(o.p);
            *err = "out of memory";
            return -1;
        }
    } else if (kind == BODY_MULTIPART) {
        if (multipart_field(body, len, bnd, bl, name, &o, err) != 0) {
            free(o.p);
            return -1;
        }
    }
    if (!o.found)
        return 0;
    o.p[o.len] = '\0';
    *out = o.p;
    *outlen = o.len;
    return 1;
}

int
hkp_form_field(const uint8_t *body, size_t len, const char *ctype,
    size_t ctype_len, const char *name, uint8_t **out, size_t *outlen,
    const char **err)
{
    char   bnd[FORM_MAX_BOUNDARY + 1];
    size_t bl;
    int    kind = body_kind(body, len, ctype, ctype_len, bnd, &bl);

    return get_field(body, len, kind, bnd, bl, name, out, outlen, err);
}

int
hkp_form_keytext(const uint8_t *body, size_t len, const char *ctype,
    size_t ctype_len, uint8_t **out, size_t *outlen, const char **err)
{
    char   bnd[FORM_MAX_BOUNDARY + 1];
    size_t bl;
    int    kind, r;

    *out = NULL;
    *outlen = 0;
    if (len == 0) {
        *err = "empty request body";
        return -1;
    }
    kind = body_kind(body, len, ctype, ctype_len, bnd, &bl);
    /* a raw armored/binary body sent as a form (curl --data-binary @f) */
    if (kind == BODY_URLENC && looks_raw(body, len))
        kind = BODY_RAW;
    if (kind == BODY_RAW) {
        *out = malloc(len + 1);
        if (*out == NULL) {
            *err = "out of memory";
            return -1;
        }
        memcpy(*out, body, len);
        (*out)[len] = '\0';
        *outlen = len;
        return 0;
    }
    r = get_field(body, len, kind, bnd, bl, "keytext", out, outlen, err);
    if (r < 0)
        return -1;
    if (r == 0) {
        *err = "no keytext field";
        return -1;
    }
    for (size_t i = 0; i < *outlen; i++)
        if (!is_space((*out)[i]))
            return 0;
    free(*out);
    *out = NULL;
    *outlen = 0;
    *err = "empty keytext field";
    return -1;
}

int
hkp_form_options_mr(const uint8_t *body, size_t len, const char *ctype,
    size_t ctype_len)
{
    uint8_t    *v;
    size_t      vl, i = 0;
    const char *e;
    int         mr = 0;

    if (hkp_form_field(body, len, ctype, ctype_len, "options", &v, &vl, &e)
        != 1)
        return 0;
    while (i < vl && !mr) {
        size_t s, t;

        while (i < vl && (v[i] == ',' || is_space(v[i])))
            i++;
        s = i;
        while (i < vl && v[i] != ',' && !is_space(v[i]))
            i++;
        t = i;
        if (ci_eq(v + s, t - s, "mr"))
            mr = 1;
    }
    free(v);
    return mr;
}

int
hkp_material_decode(const uint8_t *in, size_t len, uint8_t **bin,
    size_t *binlen, const char **err)
{
    size_t   i = 0;
    int      isbin = 0;

    *bin = NULL;
    *binlen = 0;
    if (len >= 3 && in[0] == 0xEF && in[1] == 0xBB && in[2] == 0xBF)
        i = 3;
    while (i < len && is_space(in[i]))
        i++;
    if (i < len && (in[i] & 0x80)) {
        hkp_pkt_t   p;
        size_t      used;
        const char *e;

        isbin = 1;
        if (hkp_pkt_read(in + i, len - i, &p, &used, &e) == 0)
            goto binary;
    }
    if (find(in + i, len - i, "-----BEGIN PGP") != NULL) {
        int r = hkp_armor_decode(in + i, len - i, bin, binlen, err);

        if (r < 0) {
            *bin = NULL;
            *binlen = 0;
            return -1;
        }
        if (r == 0 || *binlen == 0) {
            free(*bin);
            *bin = NULL;
            *binlen = 0;
            *err = "no public key block found";
            return -1;
        }
        return 0;
    }
    if (!isbin) {
        *err = "no OpenPGP key material found";
        return -1;
    }

binary:
    if (len - i > HKP_MAX_BLOB_LEN) {
        *err = "key material too large";
        return -1;
    }
    *bin = malloc(len - i);
    if (*bin == NULL) {
        *err = "out of memory";
        return -1;
    }
    memcpy(*bin, in + i, len - i);
    *binlen = len - i;
    return 0;
}
