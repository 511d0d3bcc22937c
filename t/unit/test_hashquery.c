/*
 * Unit tests for shared/hashquery.c: the /pks/hashquery request and
 * response wire format (framing, limits, duplicates, trailing data).
 *
 * Env: HKP_TEST_DATA (default t/data).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util.h"
#include "armor.h"
#include "hashquery.h"
#include "hkp_limits.h"

/* ------------------------------------------------------------------ */
/* Hashquery                                                            */

typedef struct {
    size_t         n;
    const uint8_t *key[8];
    size_t         len[8];
    size_t         stop_after;
} rcoll_t;

static int
rcollect(void *ctx, size_t index, const uint8_t *key, size_t len)
{
    rcoll_t *c = ctx;

    if (c->n < 8 && index == c->n) {
        c->key[c->n] = key;
        c->len[c->n] = len;
    }
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static void
test_hashquery(const uint8_t *bin, size_t bl)
{
    uint8_t     req[256], want[HKP_HASH_LEN];
    hkp_hash_t *h = NULL;
    size_t      n = 0, sz;
    const char *err = NULL;
    int         l, r;

    /* the captured request of doc/hkp.md section 6 */
    l = unhex("00000001 00000010 b635ec3ca5cfec51ed290af52877b095", req,
        sizeof(req));
    unhex("b635ec3ca5cfec51ed290af52877b095", want, 16);
    r = hkp_hashquery_parse(req, (size_t) l, 100, &h, &n, &err);
    ok(r == 0 && n == 1 && h && memcmp(h[0], want, 16) == 0,
        "captured hashquery request parses");
    free(h);

    /* build round trip */
    {
        uint8_t hs[3][HKP_HASH_LEN], out[128];

        memset(hs, 0, sizeof(hs));
        memcpy(hs[0], want, 16);
        hs[1][0] = 1;
        hs[2][15] = 2;
        sz = hkp_hashquery_build((const hkp_hash_t *) hs, 3, NULL);
        is_int((long long) sz, 64, "build size 4 + 20*3");
        ok(hkp_hashquery_build((const hkp_hash_t *) hs, 3, out) == 64
            && memcmp(out, req, 4 + 20 - 16) != 0, "build writes");
        ok(hkp_hashquery_build((const hkp_hash_t *) hs, 1, out) == 24
            && memcmp(out, req, 24) == 0, "build of one hash = captured bytes");
        sz = hkp_hashquery_build((const hkp_hash_t *) hs, 3, out);
        r = hkp_hashquery_parse(out, sz, 0, &h, &n, &err);
        ok(r == 0 && n == 3 && memcmp(h, hs, sizeof(hs)) == 0,
            "build/parse round trip");
        free(h);

        /* duplicates removed, order kept: hs0 hs1 hs0 hs2 hs1 */
        {
            uint8_t dup[5][HKP_HASH_LEN], want3[3][HKP_HASH_LEN];
            memcpy(dup[0], hs[0], 16);
            memcpy(dup[1], hs[1], 16);
            memcpy(dup[2], hs[0], 16);
            memcpy(dup[3], hs[2], 16);
            memcpy(dup[4], hs[1], 16);
            memcpy(want3, hs, sizeof(hs));
            sz = hkp_hashquery_build((const hkp_hash_t *) dup, 5, out);
            r = hkp_hashquery_parse(out, sz, 5, &h, &n, &err);
            ok(r == 0 && n == 3 && memcmp(h, want3, sizeof(want3)) == 0,
                "duplicates removed, first occurrence order kept");
            free(h);
            r = hkp_hashquery_parse(out, sz, 4, &h, &n, &err);
            ok(r == -1 && h == NULL, "count 5 > max 4 fails");
            is_str(err, "too many hashes", "  reason");
        }
    }

    /* zero hashes */
    memset(req, 0, 4);
    r = hkp_hashquery_parse(req, 4, 10, &h, &n, &err);
    ok(r == 0 && n == 0 && h == NULL, "count 0 -> no hashes");

    /* oversize count (no allocation attempted) */
    l = unhex("ffffffff", req, sizeof(req));
    r = hkp_hashquery_parse(req, (size_t) l, 1000, &h, &n, &err);
    ok(r == -1, "count 0xffffffff fails");
    is_str(err, "too many hashes", "  reason");
    l = unhex("000003e8", req, sizeof(req));
    r = hkp_hashquery_parse(req, (size_t) l, 1000, &h, &n, &err);
    ok(r == -1, "count 1000 with no data fails");
    is_str(err, "truncated hashquery request", "  reason");

    /* bad length */
    l = unhex("00000001 00000014 b635ec3ca5cfec51ed290af52877b09500000000",
        req, sizeof(req));
    r = hkp_hashquery_parse(req, (size_t) l, 100, &h, &n, &err);
    ok(r == -1, "length 20 fails");
    is_str(err, "hash length is not 16", "  reason");

    /* truncated */
    l = unhex("00000001 00000010 b635ec3ca5cfec51ed290af52877b0", req,
        sizeof(req));
    r = hkp_hashquery_parse(req, (size_t) l, 100, &h, &n, &err);
    ok(r == -1, "truncated hash fails");
    is_str(err, "truncated hashquery request", "  reason");
    r = hkp_hashquery_parse(req, 3, 100, &h, &n, &err);
    ok(r == -1, "3-byte body fails");
    r = hkp_hashquery_parse(req, 6, 100, &h, &n, &err);
    ok(r == -1, "truncated length fails");

    /* trailing data */
    l = unhex("00000001 00000010 b635ec3ca5cfec51ed290af52877b095 00", req,
        sizeof(req));
    r = hkp_hashquery_parse(req, (size_t) l, 100, &h, &n, &err);
    ok(r == -1, "trailing byte fails");
    is_str(err, "trailing data after hashes", "  reason");

    /* reply round trip */
    {
        const uint8_t *keys[3] = { bin, (const uint8_t *) "", bin + 2 };
        size_t         lens[3] = { bl, 0, 7 };
        uint8_t       *out;
        size_t         want_len = 4 + (4 + bl) + 4 + (4 + 7) + 2, w;
        rcoll_t        rc;

        sz = hkp_hashquery_reply_len(lens, 3);
        is_int((long long) sz, (long long) want_len, "reply length");
        out = malloc(sz);
        if (out == NULL)
            return;
        w = hkp_hashquery_reply_write(keys, lens, 3, out);
        ok(w == sz && out[sz - 2] == '\r' && out[sz - 1] == '\n'
            && out[3] == 3, "reply written with count and CRLF");

        memset(&rc, 0, sizeof(rc));
        r = hkp_hashquery_reply_parse(out, sz, 10, 0, rcollect, &rc, &err);
        ok(r == 0 && rc.n == 3 && mem_is(rc.key[0], rc.len[0], bin, bl)
            && rc.len[1] == 0 && mem_is(rc.key[2], rc.len[2], bin + 2, 7),
            "reply parse round trip");

        /* incremental writer gives the same bytes */
        {
            uint8_t *o2 = malloc(sz), *p;
            if (o2) {
                p = hkp_hashquery_reply_begin(o2, 3);
                p = hkp_hashquery_reply_key(p, bin, (uint32_t) bl);
                p = hkp_hashquery_reply_keyhdr(p, 0);
                p = hkp_hashquery_reply_keyhdr(p, 7);
                memcpy(p, bin + 2, 7);
                p = hkp_hashquery_reply_end(p + 7);
                ok((size_t) (p - o2) == sz && memcmp(o2, out, sz) == 0,
                    "incremental writer");
                free(o2);
            }
        }

        memset(&rc, 0, sizeof(rc));
        r = hkp_hashquery_reply_parse(out, sz - 2, 10, 0, rcollect, &rc, &err);
        ok(r == 0 && rc.n == 3, "reply without CRLF accepted");
        memset(&rc, 0, sizeof(rc));
        rc.stop_after = 1;
        r = hkp_hashquery_reply_parse(out, sz, 10, 0, rcollect, &rc, &err);
        ok(r == 0 && rc.n == 1, "callback can stop");

        memset(&rc, 0, sizeof(rc));
        r = hkp_hashquery_reply_parse(out, sz, 2, 0, rcollect, &rc, &err);
        ok(r == -1 && rc.n == 0, "count over max_keys fails, no callback");
        r = hkp_hashquery_reply_parse(out, sz, 10, bl - 1, rcollect, &rc,
            &err);
        ok(r == -1 && rc.n == 0, "key over max_key_len fails (%s)",
            err ? err : "");
        r = hkp_hashquery_reply_parse(out, sz - 3, 10, 0, rcollect, &rc, &err);
        ok(r == -1 && rc.n == 0, "truncated reply fails, no callback");
        is_str(err, "truncated hashquery response", "  reason");
        out[sz - 1] = 'x';
        r = hkp_hashquery_reply_parse(out, sz, 10, 0, rcollect, &rc, &err);
        ok(r == -1 && rc.n == 0, "garbage after keys fails");
        r = hkp_hashquery_reply_parse(out, 2, 10, 0, rcollect, &rc, &err);
        ok(r == -1, "2-byte reply fails");
        free(out);

        /* an empty reply as SKS sends it */
        l = unhex("00000000 0d0a", req, sizeof(req));
        memset(&rc, 0, sizeof(rc));
        r = hkp_hashquery_reply_parse(req, (size_t) l, 10, 0, rcollect, &rc,
            &err);
        ok(r == 0 && rc.n == 0, "empty reply with CRLF");
        is_int((long long) hkp_hashquery_reply_len(NULL, 0), 6,
            "empty reply length 6");
    }
}

/* ------------------------------------------------------------------ */

int
main(void)
{
    const char *dd = getenv("HKP_TEST_DATA");
    uint8_t    *bin;
    size_t      bl = 0;

    bin = load_asc(dd != NULL && *dd ? dd : "t/data", "k1-ed25519.asc", &bl);
    if (!ok(bin != NULL, "read and decode k1-ed25519.asc"))
        return tap_done();
    test_hashquery(bin, bl);
    free(bin);
    return tap_done();
}
