/*
 * Helpers of test_sigverify: loading packet files (armored or binary),
 * an index of every (sub)key by key ID, and a walker that hands each
 * signature of a key to a callback with its signer (when known), the
 * primary and the packet it is on.
 */
#ifndef HKP_SIGV_WALK_H
#define HKP_SIGV_WALK_H

#include <stdlib.h>
#include <string.h>

#include "armor.h"
#include "key.h"
#include "packet.h"
#include "sigverify.h"
#include "util.h"

#define WALK_MAX_PKTS  2000000

typedef struct {
    uint8_t    *buf;     /* binary (owns the bodies) */
    size_t      len;
    hkp_pkt_t  *p;
    size_t      n;
} pkts_t;

static const char *
data_path(const char *name)
{
    static char  path[4096];
    const char  *d = getenv("HKP_TEST_DATA");

    if (name[0] == '/')
        return name;
    snprintf(path, sizeof(path), "%s/%s", d ? d : "t/data", name);
    return path;
}

/* Reads a file of packets: armored public key blocks or binary. */
__attribute__((unused))
static int
pkts_load(const char *name, pkts_t *out)
{
    size_t       len, off = 0, cap = 0;
    uint8_t     *raw = read_file(data_path(name), &len);
    const char  *err;

    memset(out, 0, sizeof(*out));
    if (raw == NULL)
        return -1;
    if (len > 0 && raw[0] < 0x80) {       /* text: armor */
        if (hkp_armor_decode(raw, len, &out->buf, &out->len, &err) <= 0) {
            free(raw);
            return -1;
        }
        free(raw);
    } else {
        out->buf = raw;
        out->len = len;
    }
    while (off < out->len && out->n < WALK_MAX_PKTS) {
        hkp_pkt_t pk;
        size_t    used;
        if (hkp_pkt_read(out->buf + off, out->len - off, &pk, &used, &err) != 0)
            break;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 256;
            out->p = realloc(out->p, cap * sizeof(*out->p));
        }
        out->p[out->n++] = pk;
        off += used;
    }
    return off == out->len ? 0 : -1;
}

__attribute__((unused))
static void
pkts_free(pkts_t *p)
{
    free(p->buf);
    free(p->p);
    memset(p, 0, sizeof(*p));
}

/* Key ID -> key packet. */
typedef struct {
    uint8_t          keyid[8];
    const hkp_pkt_t *pkt;
} kid_t;

typedef struct {
    kid_t   *e;
    size_t   n, cap;
} kidx_t;

static int
kid_cmp(const void *a, const void *b)
{
    return memcmp(((const kid_t *) a)->keyid, ((const kid_t *) b)->keyid, 8);
}

/* Adds every tag 6 / 14 packet of p; then sorts. */
__attribute__((unused))
static void
kidx_add(kidx_t *ix, const pkts_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        hkp_pubkey_t pk;
        const char  *err;
        if (p->p[i].tag != HKP_TAG_PUBKEY && p->p[i].tag != HKP_TAG_PUBSUB)
            continue;
        if (hkp_pubkey_parse(&p->p[i], &pk, &err) != 0)
            continue;
        if (ix->n == ix->cap) {
            ix->cap = ix->cap ? ix->cap * 2 : 1024;
            ix->e = realloc(ix->e, ix->cap * sizeof(*ix->e));
        }
        memcpy(ix->e[ix->n].keyid, pk.keyid, 8);
        ix->e[ix->n].pkt = &p->p[i];
        ix->n++;
    }
    qsort(ix->e, ix->n, sizeof(*ix->e), kid_cmp);
}

__attribute__((unused))
static const hkp_pkt_t *
kidx_find(const kidx_t *ix, const uint8_t keyid[8])
{
    kid_t  k, *f;

    memcpy(k.keyid, keyid, 8);
    f = ix->n ? bsearch(&k, ix->e, ix->n, sizeof(*ix->e), kid_cmp) : NULL;
    return f ? f->pkt : NULL;
}

/* One signature as the walker sees it. signer NULL: issuer not known. */
typedef struct {
    size_t           index;     /* packet index in the file */
    const hkp_pkt_t *signer;
    const hkp_pkt_t *primary;
    const hkp_pkt_t *target;
    const hkp_pkt_t *sig;
    int              self;      /* issuer is the primary */
    int              type;      /* -1 if the packet does not parse */
} walk_sig_t;

typedef void (*walk_cb)(void *ctx, const walk_sig_t *ws);

/*
 * Calls cb for every signature of every key of p (a key = a tag 6 packet
 * and what follows up to the next tag 6). The target is the last UID,
 * UAT or subkey before the signature (none right after the primary).
 * Self-signatures (issuer = primary key ID, or no issuer at all) get the
 * primary as signer; others the key found in ix, if any.
 */
__attribute__((unused))
static void
walk_sigs(const pkts_t *p, const kidx_t *ix, walk_cb cb, void *ctx)
{
    const hkp_pkt_t *primary = NULL, *target = NULL;
    hkp_pubkey_t     ppk;

    for (size_t i = 0; i < p->n; i++) {
        const hkp_pkt_t *pk = &p->p[i];
        const char      *err;
        walk_sig_t       ws;
        hkp_sig_t        s;

        switch (pk->tag) {
        case HKP_TAG_PUBKEY:
            primary = pk;
            target = NULL;
            if (hkp_pubkey_parse(pk, &ppk, &err) != 0)
                memset(&ppk, 0, sizeof(ppk));
            continue;
        case HKP_TAG_UID:
        case HKP_TAG_UAT:
        case HKP_TAG_PUBSUB:
            target = pk;
            continue;
        case HKP_TAG_SIG:
            break;
        default:
            continue;
        }
        if (primary == NULL)
            continue;
        memset(&ws, 0, sizeof(ws));
        ws.index = i;
        ws.primary = primary;
        ws.target = target;
        ws.sig = pk;
        ws.type = -1;
        if (hkp_sig_parse(pk, &s, &err) == 0) {
            ws.type = s.type;
            ws.self = !s.has_issuer || memcmp(s.issuer, ppk.keyid, 8) == 0;
            ws.signer = ws.self ? primary
                : ix != NULL ? kidx_find(ix, s.issuer) : NULL;
        } else {
            ws.self = 1;
            ws.signer = primary;
        }
        cb(ctx, &ws);
    }
}

#endif
