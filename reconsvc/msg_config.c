/*
 * SKS recon wire format: the Config exchange that opens a session, Config
 * frames and the unframed verdicts (msg.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

/* ------------------------------------------------------------ encoders */

int
recon_enc_config_pairs(rbuf_t *b, size_t n, const char *const *keys,
    const uint8_t *const *vals, const size_t *vlens)
{
    size_t at = recon_frame_begin(b, RECON_MSG_CONFIG);
    if (at == (size_t) -1 || n > UINT32_MAX
        || rbuf_put_u32(b, (uint32_t) n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (rbuf_put_str(b, keys[i], strlen(keys[i])) != 0
            || rbuf_put_str(b, vals[i], vlens[i]) != 0)
            return -1;
    }
    return recon_frame_end(b, at);
}

int
recon_enc_config(rbuf_t *b, uint32_t http_port)
{
    return recon_enc_config_f(b, http_port, RECON_FILTERS);
}

int
recon_enc_config_f(rbuf_t *b, uint32_t http_port, const char *filters)
{
    uint8_t bq[4], hp[4], mb[4];
    hkp_put_be32(bq, HKP_RECON_BITQUANTUM);
    hkp_put_be32(hp, http_port);
    hkp_put_be32(mb, HKP_RECON_MBAR);
    const char *keys[] = { "bitquantum", "filters", "http port", "mbar",
        "version" };
    const uint8_t *vals[] = { bq, (const uint8_t *) filters, hp, mb,
        (const uint8_t *) RECON_VERSION };
    size_t lens[] = { 4, strlen(filters), 4, 4, strlen(RECON_VERSION) };
    return recon_enc_config_pairs(b, 5, keys, vals, lens);
}

int
recon_enc_verdict(rbuf_t *b, const char *reason)
{
    if (reason == NULL)
        return rbuf_put_str(b, "passed", 6);
    if (rbuf_put_str(b, "failed", 6) != 0
        || rbuf_put_str(b, reason, strlen(reason)) != 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------- parsing */

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
    rbuf_rd_t r;
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
    if (rbuf_rd_u32(&r, &npairs) != 0) {
        *err = "truncated Config";
        return -1;
    }
    if (npairs > RECON_MAX_CONFIG) {
        *err = "too many Config entries";
        return -1;
    }
    for (uint32_t i = 0; i < npairs; i++) {
        if (rbuf_rd_u32(&r, &kl) != 0 || kl > RECON_MAX_STR
            || rbuf_rd_bytes(&r, kl, &k) != 0 || rbuf_rd_u32(&r, &vl) != 0
            || vl > RECON_MAX_STR || rbuf_rd_bytes(&r, vl, &v) != 0)
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

/* Longest filters string of ours (a profile's). */
#define RECON_MAX_STR_FILTERS  512

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

int
recon_filters_match(const recon_config_t *c, const char *filters)
{
    char lbuf[RECON_MAX_STR_FILTERS], rbuf[sizeof(c->filters)];
    char *ln[RECON_MAX_FILTER_NAMES], *rn[RECON_MAX_FILTER_NAMES];
    size_t nl, nr;

    if (!c->has_filters || c->filters_len >= sizeof(c->filters)
        || strlen(filters) >= sizeof(lbuf))
        return 0;
    snprintf(lbuf, sizeof(lbuf), "%s", filters);
    memcpy(rbuf, c->filters, sizeof(rbuf));
    nl = split_filters(lbuf, ln, RECON_MAX_FILTER_NAMES);
    nr = split_filters(rbuf, rn, RECON_MAX_FILTER_NAMES);
    if (nl != nr)
        return 0;
    for (size_t i = 0; i < nl; i++)
        if (strcmp(ln[i], rn[i]) != 0)
            return 0;
    return 1;
}

const char *
recon_config_check(const recon_config_t *c, char *reason, size_t len)
{
    return recon_config_check_f(c, RECON_FILTERS, reason, len);
}

const char *
recon_config_check_f(const recon_config_t *c, const char *filters,
    char *reason, size_t len)
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
        char lbuf[RECON_MAX_STR_FILTERS], rbuf[sizeof(c->filters)];
        char *ln[RECON_MAX_FILTER_NAMES], *rn[RECON_MAX_FILTER_NAMES];
        size_t nl, nr, i;
        int same;
        snprintf(lbuf, sizeof(lbuf), "%s", filters);
        memcpy(rbuf, c->filters, sizeof(rbuf));
        nl = split_filters(lbuf, ln, RECON_MAX_FILTER_NAMES);
        nr = split_filters(rbuf, rn, RECON_MAX_FILTER_NAMES);
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
