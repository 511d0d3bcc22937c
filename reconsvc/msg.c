/*
 * SKS recon wire format: framing, message codec, Config, verdicts (msg.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

/* p as 17 bytes little-endian (doc/recon.md 2.1). */
static const uint8_t P_LE[HKP_ELEM_LEN] = {
    0x1b, 0x43, 0xa5, 0x30, 0xd9, 0x85, 0x1f, 0xc9, 0xdf, 0x1f, 0x8b, 0x87,
    0xe4, 0x10, 0x1d, 0x8f, 0x01
};

/* ------------------------------------------------------------ buffer */

void
rbuf_free(rbuf_t *b)
{
    free(b->d);
    b->d = NULL;
    b->len = b->off = b->cap = 0;
}

int
rbuf_reserve(rbuf_t *b, size_t n)
{
    if (b->off > 0 && (b->off == b->len || b->off >= b->cap / 2)) {
        memmove(b->d, b->d + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (n <= b->cap - b->len)
        return 0;
    if (n > SIZE_MAX / 2 - b->len)
        return -1;
    size_t want = b->len + n, cap = b->cap ? b->cap : 4096;
    while (cap < want)
        cap *= 2;
    uint8_t *d = realloc(b->d, cap);
    if (d == NULL)
        return -1;
    b->d = d;
    b->cap = cap;
    return 0;
}

int
rbuf_put(rbuf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (rbuf_reserve(b, n) != 0)
        return -1;
    memcpy(b->d + b->len, p, n);
    b->len += n;
    return 0;
}

int
rbuf_put_u32(rbuf_t *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t) (v >> 24), (uint8_t) (v >> 16),
        (uint8_t) (v >> 8), (uint8_t) v };
    return rbuf_put(b, x, 4);
}

void
rbuf_consume(rbuf_t *b, size_t n)
{
    if (n > b->len - b->off)
        n = b->len - b->off;
    b->off += n;
    if (b->off == b->len)
        b->off = b->len = 0;
}

uint32_t
recon_get_u32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
        | ((uint32_t) p[2] << 8) | p[3];
}

static void
set_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

/* ----------------------------------------------------------- encoders */

/* Starts a frame: reserves the length word and writes the type. Returns
 * the position of the length word relative to the unsent data (b->off),
 * which stays valid when a later put compacts the buffer, or (size_t) -1. */
static size_t
frame_begin(rbuf_t *b, int type)
{
    size_t at = b->len - b->off;
    uint8_t t = (uint8_t) type;
    if (rbuf_put_u32(b, 0) != 0 || rbuf_put(b, &t, 1) != 0)
        return (size_t) -1;
    return at;
}

/* Fills in the length word; -1 if the frame is over the cap (it is then
 * removed again). */
static int
frame_end(rbuf_t *b, size_t rel)
{
    size_t at = b->off + rel;
    size_t n = b->len - at - 4;
    if (n > RECON_MAX_FRAME) {
        b->len = at;
        return -1;
    }
    set_u32(b->d + at, (uint32_t) n);
    return 0;
}

static int
put_bitstring(rbuf_t *b, const uint8_t *prefix, unsigned nbits)
{
    uint8_t tmp[RECON_PREFIX_BYTES];
    size_t nbytes = (nbits + 7) / 8;
    if (nbits > RECON_MAX_PREFIX_BITS)
        return -1;
    if (nbytes > 0) {
        memcpy(tmp, prefix, nbytes);
        if (nbits % 8)      /* unused low bits of the last byte are 0 */
            tmp[nbytes - 1] &= (uint8_t) (0xff << (8 - nbits % 8));
    }
    if (rbuf_put_u32(b, nbits) != 0 || rbuf_put_u32(b, (uint32_t) nbytes) != 0
        || rbuf_put(b, tmp, nbytes) != 0)
        return -1;
    return 0;
}

static int
put_zset(rbuf_t *b, const uint8_t (*hashes)[16], size_t n)
{
    static const uint8_t zero = 0;
    if (n > RECON_MAX_SET)
        return -1;
    if (rbuf_put_u32(b, (uint32_t) n) != 0
        || rbuf_reserve(b, n * HKP_ELEM_LEN) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (rbuf_put(b, hashes[i], 16) != 0 || rbuf_put(b, &zero, 1) != 0)
            return -1;
    }
    return 0;
}

int
recon_enc_poly(rbuf_t *b, const uint8_t *prefix, unsigned nbits,
    uint32_t size, const uint8_t sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN])
{
    size_t at = frame_begin(b, RECON_MSG_POLY);
    if (at == (size_t) -1 || put_bitstring(b, prefix, nbits) != 0
        || rbuf_put_u32(b, size) != 0
        || rbuf_put_u32(b, HKP_RECON_NSAMPLES) != 0
        || rbuf_put(b, sv, HKP_RECON_NSAMPLES * HKP_ELEM_LEN) != 0)
        return -1;
    return frame_end(b, at);
}

int
recon_enc_full(rbuf_t *b, const uint8_t *prefix, unsigned nbits,
    const uint8_t (*hashes)[16], size_t n)
{
    size_t at = frame_begin(b, RECON_MSG_FULL);
    if (at == (size_t) -1 || put_bitstring(b, prefix, nbits) != 0
        || put_zset(b, hashes, n) != 0)
        return -1;
    return frame_end(b, at);
}

int
recon_enc_set(rbuf_t *b, int type, const uint8_t (*hashes)[16], size_t n)
{
    size_t at = frame_begin(b, type);
    if (at == (size_t) -1 || put_zset(b, hashes, n) != 0)
        return -1;
    return frame_end(b, at);
}

int
recon_enc_empty(rbuf_t *b, int type)
{
    size_t at = frame_begin(b, type);
    if (at == (size_t) -1)
        return -1;
    return frame_end(b, at);
}

static int
put_str(rbuf_t *b, const void *s, size_t n)
{
    if (n > UINT32_MAX || rbuf_put_u32(b, (uint32_t) n) != 0
        || rbuf_put(b, s, n) != 0)
        return -1;
    return 0;
}

int
recon_enc_error(rbuf_t *b, const char *text)
{
    size_t at = frame_begin(b, RECON_MSG_ERROR);
    if (at == (size_t) -1 || put_str(b, text, strlen(text)) != 0)
        return -1;
    return frame_end(b, at);
}

int
recon_enc_config_pairs(rbuf_t *b, size_t n, const char *const *keys,
    const uint8_t *const *vals, const size_t *vlens)
{
    size_t at = frame_begin(b, RECON_MSG_CONFIG);
    if (at == (size_t) -1 || n > UINT32_MAX
        || rbuf_put_u32(b, (uint32_t) n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (put_str(b, keys[i], strlen(keys[i])) != 0
            || put_str(b, vals[i], vlens[i]) != 0)
            return -1;
    }
    return frame_end(b, at);
}

int
recon_enc_config(rbuf_t *b, uint32_t http_port)
{
    uint8_t bq[4], hp[4], mb[4];
    set_u32(bq, HKP_RECON_BITQUANTUM);
    set_u32(hp, http_port);
    set_u32(mb, HKP_RECON_MBAR);
    const char *keys[] = { "bitquantum", "filters", "http port", "mbar",
        "version" };
    const uint8_t *vals[] = { bq, (const uint8_t *) RECON_FILTERS, hp, mb,
        (const uint8_t *) RECON_VERSION };
    size_t lens[] = { 4, strlen(RECON_FILTERS), 4, 4, strlen(RECON_VERSION) };
    return recon_enc_config_pairs(b, 5, keys, vals, lens);
}

int
recon_enc_verdict(rbuf_t *b, const char *reason)
{
    if (reason == NULL)
        return put_str(b, "passed", 6);
    if (put_str(b, "failed", 6) != 0 || put_str(b, reason, strlen(reason)) != 0)
        return -1;
    return 0;
}

/* ----------------------------------------------------------- decoding */

int
recon_frame_check(const uint8_t *buf, size_t len, size_t *frame_len,
    const char **err)
{
    if (len < 4)
        return 0;
    uint32_t n = recon_get_u32(buf);
    if (n == 0) {
        *err = "empty frame (length 0)";
        return -1;
    }
    if (n > RECON_MAX_FRAME) {
        *err = "frame length over the limit";
        return -1;
    }
    if (len - 4 < n)
        return 0;
    *frame_len = 4 + (size_t) n;
    return 1;
}

typedef struct {
    const uint8_t  *p;
    size_t          left;
} rd_t;

static int
rd_u32(rd_t *r, uint32_t *v)
{
    if (r->left < 4)
        return -1;
    *v = recon_get_u32(r->p);
    r->p += 4;
    r->left -= 4;
    return 0;
}

static int
rd_bytes(rd_t *r, size_t n, const uint8_t **out)
{
    if (r->left < n)
        return -1;
    *out = r->p;
    r->p += n;
    r->left -= n;
    return 0;
}

/* 17-byte LE value < p? */
static int
below_p(const uint8_t *e)
{
    for (int i = HKP_ELEM_LEN - 1; i >= 0; i--) {
        if (e[i] != P_LE[i])
            return e[i] < P_LE[i];
    }
    return 0;
}

static int
rd_bitstring(rd_t *r, recon_msg_t *m, const char **err)
{
    uint32_t nbits, nbytes;
    const uint8_t *b;
    if (rd_u32(r, &nbits) != 0 || rd_u32(r, &nbytes) != 0) {
        *err = "truncated prefix";
        return -1;
    }
    if (nbits > RECON_MAX_PREFIX_BITS || nbytes != (nbits + 7) / 8) {
        *err = "bad prefix length";
        return -1;
    }
    if (rd_bytes(r, nbytes, &b) != 0) {
        *err = "truncated prefix";
        return -1;
    }
    memset(m->prefix, 0, sizeof(m->prefix));
    memcpy(m->prefix, b, nbytes);
    if (nbits % 8)
        m->prefix[nbytes - 1] &= (uint8_t) (0xff << (8 - nbits % 8));
    m->nbits = nbits;
    return 0;
}

static int
rd_zset(rd_t *r, recon_msg_t *m, const char **err)
{
    uint32_t n;
    const uint8_t *e;
    if (rd_u32(r, &n) != 0) {
        *err = "truncated set";
        return -1;
    }
    if (n > RECON_MAX_SET || (size_t) n * HKP_ELEM_LEN > r->left) {
        *err = n > RECON_MAX_SET ? "set too large" : "truncated set";
        return -1;
    }
    if (n > 0) {
        m->set = malloc((size_t) n * 16);
        if (m->set == NULL) {
            *err = "out of memory";
            return -1;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        if (rd_bytes(r, HKP_ELEM_LEN, &e) != 0) {
            *err = "truncated set";
            return -1;
        }
        if (e[16] != 0) {      /* not a key hash (>= 2^128; maybe >= p) */
            *err = "set element is not a key hash";
            return -1;
        }
        memcpy(m->set[i], e, 16);
    }
    m->nset = n;
    return 0;
}

void
recon_msg_free(recon_msg_t *m)
{
    free(m->set);
    free(m->text);
    m->set = NULL;
    m->text = NULL;
    m->nset = 0;
}

int
recon_msg_parse(const uint8_t *frame, size_t frame_len, recon_msg_t *m,
    const char **err)
{
    rd_t r;
    uint32_t n;
    const uint8_t *b;

    memset(m, 0, sizeof(*m));
    if (frame_len < 5 || recon_get_u32(frame) != frame_len - 4) {
        *err = "bad frame";
        return -1;
    }
    m->type = frame[4];
    r.p = frame + 5;
    r.left = frame_len - 5;
    switch (m->type) {
    case RECON_MSG_POLY:
        if (rd_bitstring(&r, m, err) != 0)
            goto fail;
        if (rd_u32(&r, &m->size) != 0 || rd_u32(&r, &n) != 0) {
            *err = "truncated ReconRqst_Poly";
            goto fail;
        }
        if (n != HKP_RECON_NSAMPLES) {
            *err = "ReconRqst_Poly: wrong number of sample values";
            goto fail;
        }
        for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++) {
            if (rd_bytes(&r, HKP_ELEM_LEN, &b) != 0) {
                *err = "truncated ReconRqst_Poly";
                goto fail;
            }
            if (!below_p(b)) {
                *err = "sample value >= p";
                goto fail;
            }
            memcpy(m->sv[i], b, HKP_ELEM_LEN);
        }
        break;
    case RECON_MSG_FULL:
        if (rd_bitstring(&r, m, err) != 0 || rd_zset(&r, m, err) != 0)
            goto fail;
        break;
    case RECON_MSG_ELEMENTS:
    case RECON_MSG_FULLELEMENTS:
        if (rd_zset(&r, m, err) != 0)
            goto fail;
        break;
    case RECON_MSG_SYNCFAIL:
    case RECON_MSG_DONE:
    case RECON_MSG_FLUSH:
        break;
    case RECON_MSG_ERROR:
        if (rd_u32(&r, &n) != 0 || n > RECON_MAX_STR
            || rd_bytes(&r, n, &b) != 0)
        {
            *err = "bad Error message";
            goto fail;
        }
        m->text = malloc((size_t) n + 1);
        if (m->text == NULL) {
            *err = "out of memory";
            goto fail;
        }
        memcpy(m->text, b, n);
        m->text[n] = '\0';
        break;
    case RECON_MSG_CONFIG:
        *err = "unexpected Config message";
        goto fail;
    case RECON_MSG_DBRQST:
    case RECON_MSG_DBREPL:
        *err = "DbRqst/DbRepl are not used in recon";
        goto fail;
    default:
        *err = "unknown message type";
        goto fail;
    }
    if (r.left != 0) {
        *err = "trailing bytes in message";
        goto fail;
    }
    return 0;
fail:
    recon_msg_free(m);
    return -1;
}

/* ------------------------------------------------------------- config */

static int
key_is(const uint8_t *k, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(k, s, n) == 0;
}

static void
copy_text(char *dst, size_t cap, const uint8_t *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void
set_int(const uint8_t *v, size_t n, int *has, int *ok, uint32_t *out)
{
    *has = 1;
    *ok = n == 4;
    *out = n == 4 ? recon_get_u32(v) : 0;
}

int
recon_config_parse(const uint8_t *frame, size_t frame_len,
    recon_config_t *c, const char **err)
{
    rd_t r;
    uint32_t npairs, kl, vl;
    const uint8_t *k, *v;

    memset(c, 0, sizeof(*c));
    if (frame_len < 5 || recon_get_u32(frame) != frame_len - 4) {
        *err = "bad frame";
        return -1;
    }
    if (frame[4] != RECON_MSG_CONFIG) {
        *err = "first message is not Config";
        return -1;
    }
    r.p = frame + 5;
    r.left = frame_len - 5;
    if (rd_u32(&r, &npairs) != 0) {
        *err = "truncated Config";
        return -1;
    }
    if (npairs > RECON_MAX_CONFIG) {
        *err = "too many Config entries";
        return -1;
    }
    for (uint32_t i = 0; i < npairs; i++) {
        if (rd_u32(&r, &kl) != 0 || kl > RECON_MAX_STR
            || rd_bytes(&r, kl, &k) != 0 || rd_u32(&r, &vl) != 0
            || vl > RECON_MAX_STR || rd_bytes(&r, vl, &v) != 0)
        {
            *err = "truncated or oversized Config entry";
            return -1;
        }
        /* duplicates: the later one wins */
        if (key_is(k, kl, "version")) {
            c->has_version = 1;
            c->version_len = vl;
            copy_text(c->version, sizeof(c->version), v, vl);
        } else if (key_is(k, kl, "filters")) {
            c->has_filters = 1;
            c->filters_len = vl;
            copy_text(c->filters, sizeof(c->filters), v, vl);
        } else if (key_is(k, kl, "bitquantum")) {
            set_int(v, vl, &c->has_bitquantum, &c->bitquantum_ok,
                &c->bitquantum);
        } else if (key_is(k, kl, "mbar")) {
            set_int(v, vl, &c->has_mbar, &c->mbar_ok, &c->mbar);
        } else if (key_is(k, kl, "http port")) {
            set_int(v, vl, &c->has_http_port, &c->http_port_ok,
                &c->http_port);
        }
        /* unknown keys are ignored */
    }
    if (r.left != 0) {
        *err = "trailing bytes in Config";
        return -1;
    }
    return 0;
}

/* "X.Y.Z" of decimal integers: 0 with v[3]; -1 fewer than three parts
 * (SKS: index out of bounds), -2 otherwise (SKS: int_of_string). */
static int
parse_version(const char *s, size_t len, unsigned long v[3])
{
    size_t parts = 1;
    if (len != strlen(s))       /* truncated copy or embedded NUL */
        return -2;
    for (size_t i = 0; i < len; i++)
        parts += s[i] == '.';
    if (parts < 3)
        return -1;
    if (parts > 3)
        return -2;
    for (size_t part = 0, i = 0; part < 3; part++, i++) {
        size_t digits = 0;
        v[part] = 0;
        for (; i < len && s[i] != '.'; i++) {
            if (s[i] < '0' || s[i] > '9' || ++digits > 9)
                return -2;
            v[part] = v[part] * 10 + (unsigned long) (s[i] - '0');
        }
        if (digits == 0)
            return -2;
    }
    return 0;
}

/* Splits a comma list into sorted unique names (pointers into buf, which
 * is modified). Returns the count (at most max). */
static size_t
split_filters(char *buf, char **names, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save))
    {
        size_t j;
        for (j = 0; j < n; j++)
            if (strcmp(names[j], t) == 0)
                break;
        if (j < n || n == max)
            continue;
        /* insertion sort */
        size_t k = n;
        while (k > 0 && strcmp(names[k - 1], t) > 0) {
            names[k] = names[k - 1];
            k--;
        }
        names[k] = t;
        n++;
    }
    return n;
}

const char *
recon_config_check(const recon_config_t *c, char *reason, size_t len)
{
    unsigned long v[3];
    int rc;

    if (!c->has_version || !c->has_filters || !c->has_bitquantum
        || !c->has_mbar)
    {
        snprintf(reason, len, "Missing entry in configdata");
        return reason;
    }
    rc = parse_version(c->version, c->version_len, v);
    if (rc == -1) {
        snprintf(reason, len, "Error parsing configdata: "
            "Invalid_argument(\"index out of bounds\")");
        return reason;
    }
    if (rc != 0) {
        snprintf(reason, len, "Error parsing configdata: "
            "Failure(\"int_of_string\")");
        return reason;
    }
    if ((v[0] == 0 && (v[1] < 1 || (v[1] == 1 && v[2] < 5)))) {
        snprintf(reason, len, "Requires version at least 0.1.5.  %s provided ",
            c->version);
        return reason;
    }
    {
        char lbuf[] = RECON_FILTERS, rbuf[sizeof(c->filters)];
        char *ln[8], *rn[32];
        size_t nl, nr, i;
        int same;
        memcpy(rbuf, c->filters, sizeof(rbuf));
        nl = split_filters(lbuf, ln, 8);
        nr = split_filters(rbuf, rn, 32);
        same = nl == nr && c->filters_len < sizeof(c->filters);
        for (i = 0; same && i < nl; i++)
            same = strcmp(ln[i], rn[i]) == 0;
        if (!same) {
            size_t o = 0;
            o += (size_t) snprintf(reason + o, len - o,
                "filters do not match.\n\tlocal filters: [ ");
            for (i = 0; i < nl && o < len; i++)
                o += (size_t) snprintf(reason + o, len - o, "%s ", ln[i]);
            if (o < len)
                o += (size_t) snprintf(reason + o, len - o,
                    "]\n\tremote filters: [ ");
            for (i = 0; i < nr && o < len; i++)
                o += (size_t) snprintf(reason + o, len - o, "%s ", rn[i]);
            if (o < len)
                snprintf(reason + o, len - o, "]");
            return reason;
        }
    }
    if (!c->bitquantum_ok || !c->mbar_ok) {
        snprintf(reason, len, "Error parsing configdata: End_of_file");
        return reason;
    }
    if (c->bitquantum != HKP_RECON_BITQUANTUM) {
        snprintf(reason, len, "bitquantum values do not match");
        return reason;
    }
    if (c->mbar != HKP_RECON_MBAR) {
        snprintf(reason, len, "mbar values do not match");
        return reason;
    }
    return NULL;
}

int
recon_verdict_parse(const uint8_t *buf, size_t len, size_t *used,
    int *passed, char *reason, size_t rlen, const char **err)
{
    uint32_t n, m;
    if (len < 4)
        return 0;
    n = recon_get_u32(buf);
    if (n != 6) {
        *err = "bad config verdict";
        return -1;
    }
    if (len < 10)
        return 0;
    if (memcmp(buf + 4, "passed", 6) == 0) {
        *passed = 1;
        *used = 10;
        if (rlen > 0)
            reason[0] = '\0';
        return 1;
    }
    if (memcmp(buf + 4, "failed", 6) != 0) {
        *err = "bad config verdict";
        return -1;
    }
    if (len < 14)
        return 0;
    m = recon_get_u32(buf + 10);
    if (m > RECON_MAX_STR) {
        *err = "config failure reason too long";
        return -1;
    }
    if (len - 14 < m)
        return 0;
    *passed = 0;
    *used = 14 + (size_t) m;
    if (rlen > 0) {
        size_t k = m < rlen - 1 ? m : rlen - 1;
        for (size_t i = 0; i < k; i++) {      /* printable for the log */
            uint8_t ch = buf[14 + i];
            reason[i] = (ch >= 0x20 && ch < 0x7f) ? (char) ch : ' ';
        }
        reason[k] = '\0';
    }
    return 1;
}

void
recon_prefix_str(const uint8_t *prefix, unsigned nbits, char *out)
{
    for (unsigned j = 0; j < nbits; j++)
        out[j] = (prefix[j / 8] & (0x80 >> (j % 8))) ? '1' : '0';
    out[nbits] = '\0';
}
