/*
 * Unit tests for shared/packet.c (framing and the key stream grammar),
 * armor.c and words.c (test_key.c has the key-level tests).
 *
 * Env: HKP_TEST_DATA (default t/data).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util.h"
#include "packet.h"
#include "key.h"
#include "armor.h"
#include "words.h"
#include "hkp_limits.h"

static const char *datadir = "t/data";

/* ------------------------------------------------------------------ */
/* Armor                                                                */

static void
test_armor(void)
{
    static const size_t lens[] = { 0, 1, 2, 3, 47, 48, 49, 100, 1000, 4099 };
    uint8_t    *bin = malloc(5000), *dec;
    size_t      dl;
    const char *err;
    int         rc;

    for (size_t i = 0; i < 5000; i++)
        bin[i] = (uint8_t) (i * 7 + (i >> 3));
    for (size_t t = 0; t < sizeof(lens) / sizeof(lens[0]); t++) {
        size_t   el = hkp_armor_encoded_len(lens[t]);
        uint8_t *e = malloc(el + 1), *end;
        int      widths_ok = 1;

        end = hkp_armor_encode(bin, lens[t], e);
        ok(end == e + el, "armor encoded length for %zu", lens[t]);
        for (size_t p = 0, col = 0; p < el; p++) {
            if (e[p] == '\n') col = 0;
            else if (++col > 64 && e[p] != '-') widths_ok = 0;
        }
        ok(widths_ok, "  lines at most 64 columns");
        rc = hkp_armor_decode(e, el, &dec, &dl, &err);
        ok(rc == 1 && dl == lens[t] && (dl == 0 || memcmp(dec, bin, dl) == 0),
            "  round trip");
        free(dec);
        free(e);
    }
    ok(hkp_crc24((const uint8_t *) "", 0) == 0xB704CE, "crc24 init");

    /* a real key file */
    {
        uint8_t *b2 = load_asc(datadir, "k2-rsa2048.asc", &dl);
        size_t   el, l2;
        uint8_t *a, *txt, *p;

        if (ok(b2 != NULL, "k2 armor decodes")) {
            el = hkp_armor_encoded_len(dl);
            a = malloc(el);
            hkp_armor_encode(b2, dl, a);

            /* bad CRC: change one CRC character */
            txt = malloc(el);
            memcpy(txt, a, el);
            p = (uint8_t *) strstr((char *) txt, "\n=");
            if (p) p[3] = p[3] == 'A' ? 'B' : 'A';
            ok(p && hkp_armor_decode(txt, el, &dec, &l2, &err) == -1,
                "bad CRC rejected (%s)", p ? err : "-");

            /* CRC-less */
            memcpy(txt, a, el);
            p = (uint8_t *) strstr((char *) txt, "\n=");
            {
                size_t off = (size_t) (p - txt) + 1, tl;
                memmove(txt + off, txt + off + 6, el - off - 6);
                tl = el - 6;
                rc = hkp_armor_decode(txt, tl, &dec, &l2, &err);
                ok(rc == 1 && l2 == dl && memcmp(dec, b2, dl) == 0,
                    "CRC-less block accepted");
                if (rc == 1) free(dec);
            }

            /* truncated: no END line; cut in the middle */
            ok(hkp_armor_decode(a, el - 36, &dec, &l2, &err) == -1,
                "missing END rejected (%s)", err);
            ok(hkp_armor_decode(a, el / 2, &dec, &l2, &err) == -1,
                "armor cut in half rejected (%s)", err);

            /* two blocks with text around them, CRLF, headers, width 76 */
            {
                size_t cap = el * 3 + 512, n = 0;
                uint8_t *m = malloc(cap);
                const char *pre = "some text\r\n";
                memcpy(m + n, pre, strlen(pre)); n += strlen(pre);
                for (size_t i = 0; i < el; i++) {
                    if (a[i] == '\n') { m[n++] = '\r'; m[n++] = '\n'; }
                    else m[n++] = a[i];
                }
                memcpy(m + n, "between\n", 8); n += 8;
                /* second block: header lines, 76-col base64 */
                {
                    const char *h = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n"
                        "Version: Test 1.0\nComment: hello: world\n\n";
                    uint8_t *body = (uint8_t *) strstr((char *) a, "\n\n") + 2;
                    uint8_t *crc = (uint8_t *) strstr((char *) a, "\n=") + 1;
                    size_t col = 0;
                    memcpy(m + n, h, strlen(h)); n += strlen(h);
                    for (uint8_t *q = body; q < crc; q++) {
                        if (*q == '\n') continue;
                        m[n++] = *q;
                        if (++col == 76) { m[n++] = ' '; m[n++] = '\n'; col = 0; }
                    }
                    if (col) m[n++] = '\n';
                    memcpy(m + n, crc, (size_t) (a + el - crc));
                    n += (size_t) (a + el - crc);
                }
                memcpy(m + n, "trailer\n", 8); n += 8;
                rc = hkp_armor_decode(m, n, &dec, &l2, &err);
                ok(rc == 2 && l2 == 2 * dl && memcmp(dec, b2, dl) == 0
                    && memcmp(dec + dl, b2, dl) == 0,
                    "two blocks (CRLF, headers, 76 columns) decoded (%d)", rc);
                if (rc > 0) free(dec);
                /* parse the two copies: two keys, same hash */
                free(m);
            }
            free(txt);
            free(a);
            free(b2);
        }
    }

    /* no block, private block, bad char */
    {
        const char *none = "hello\nworld\n";
        const char *priv = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxsBN\n"
            "-----END PGP PRIVATE KEY BLOCK-----\n";
        const char *bad = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxs*N\n"
            "-----END PGP PUBLIC KEY BLOCK-----\n";
        const char *one = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nx\n"
            "-----END PGP PUBLIC KEY BLOCK-----\n";
        ok(hkp_armor_decode((const uint8_t *) none, strlen(none), &dec, &dl,
            &err) == 0 && dec == NULL, "no block: 0");
        ok(hkp_armor_decode((const uint8_t *) priv, strlen(priv), &dec, &dl,
            &err) == -1, "private key block rejected (%s)", err);
        ok(hkp_armor_decode((const uint8_t *) bad, strlen(bad), &dec, &dl,
            &err) == -1, "bad base64 rejected (%s)", err);
        ok(hkp_armor_decode((const uint8_t *) one, strlen(one), &dec, &dl,
            &err) == -1, "dangling base64 char rejected");
    }
    free(bin);
}

/* ------------------------------------------------------------------ */
/* Packets and stream grammar                                           */

static int
keys_of(const uint8_t *b, size_t n, coll_t *c, const char **err)
{
    static char why[HKP_REASON_LEN];   /* *err points here after an error */
    int         r;

    memset(c, 0, sizeof(*c));
    r = hkp_keys_parse(b, n, NULL, collect, c, why, sizeof(why));
    if (r != 0)
        *err = why;
    return r;
}

static void
test_packets(void)
{
    hkp_pkt_t   p;
    size_t      used;
    const char *err = NULL;

    {
        const uint8_t b[] = { 0xB4, 10, 'a', 'b', 'c' };
        ok(hkp_pkt_read(b, sizeof(b), &p, &used, &err) == -1,
            "old length past end (%s)", err);
    }
    {
        const uint8_t b[] = { 0xCD, 0xFF, 0, 0, 0, 50, 'x' };
        ok(hkp_pkt_read(b, sizeof(b), &p, &used, &err) == -1,
            "new 5-byte length past end (%s)", err);
    }
    {
        const uint8_t b[] = { 0xCD, 0xC5, 'x' };
        ok(hkp_pkt_read(b, sizeof(b), &p, &used, &err) == -1,
            "new 2-byte length past end (%s)", err);
    }
    {
        const uint8_t b[] = { 0xCD, 0xE1, 'a', 'b' };
        ok(hkp_pkt_read(b, sizeof(b), &p, &used, &err) == -1
            && strstr(err, "partial"), "partial length rejected (%s)", err);
    }
    {
        const uint8_t b[] = { 0xB7, 'a', 'b' };
        ok(hkp_pkt_read(b, sizeof(b), &p, &used, &err) == -1
            && strstr(err, "indeterminate"), "indeterminate length rejected (%s)", err);
    }
    {
        uint32_t l = HKP_MAX_PACKET_LEN + 1;
        const uint8_t b[] = { 0xCD, 0xFF, (uint8_t) (l >> 24), (uint8_t) (l >> 16),
            (uint8_t) (l >> 8), (uint8_t) l };
        const uint8_t c[] = { 0xB6, (uint8_t) (l >> 24), (uint8_t) (l >> 16),
            (uint8_t) (l >> 8), (uint8_t) l };
        ok(hkp_pkt_read(b, sizeof(b), &p, &used, &err) == -1
            && strstr(err, "too large"), "oversize packet rejected (%s)", err);
        ok(hkp_pkt_read(c, sizeof(c), &p, &used, &err) == -1
            && strstr(err, "too large"), "oversize old packet rejected (%s)", err);
    }
    {
        /* hkp_pkt_read_skip: an oversized packet that is all there can be
         * skipped (1); one whose length runs past the end cannot (-1) */
        size_t   l = HKP_MAX_PACKET_LEN + 1;
        uint8_t *b = calloc(1, l + 6 + 2);
        if (b != NULL) {
            b[0] = 0xCD; b[1] = 0xFF;
            b[2] = (uint8_t) (l >> 24); b[3] = (uint8_t) (l >> 16);
            b[4] = (uint8_t) (l >> 8); b[5] = (uint8_t) l;
            b[6 + l] = 0xB4; b[6 + l + 1] = 0;
            ok(hkp_pkt_read_skip(b, l + 8, &p, &used, &err) == 1
                && p.tag == 13 && p.len == l && used == l + 6,
                "oversize packet wholly present: skippable");
            ok(hkp_pkt_read_skip(b + used, 2, &p, &used, &err) == 0
                && p.tag == 13 && p.len == 0, "the packet after it reads");
            ok(hkp_pkt_read_skip(b, l + 5, &p, &used, &err) == -1
                && strstr(err, "past end"),
                "oversize packet cut short: length past end (%s)", err);
            free(b);
        }
    }
    {
        const uint8_t b[] = { 0x35, 1, 2 };
        ok(hkp_pkt_read(b, sizeof(b), &p, &used, &err) == -1, "bit 7 clear rejected");
        ok(hkp_pkt_read(b, 0, &p, &used, &err) == -1, "empty input rejected");
        const uint8_t c[] = { 0x99 };
        ok(hkp_pkt_read(c, 1, &p, &used, &err) == -1, "truncated header rejected");
        const uint8_t d[] = { 0xC0, 0 };
        ok(hkp_pkt_read(d, 2, &p, &used, &err) == -1, "tag 0 rejected");
    }
    {
        const uint8_t b[] = { 0xB4, 3, 'a', 'b', 'c', 0xD1, 1, 'z' };
        ok(hkp_pkt_read(b, sizeof(b), &p, &used, &err) == 0 && p.tag == 13
            && p.len == 3 && used == 5 && p.body == b + 2, "old format read");
        ok(hkp_pkt_read(b + 5, 3, &p, &used, &err) == 0 && p.tag == 17
            && p.len == 1 && used == 3, "new format read");
    }

    /* write/read round trips at the length boundaries */
    {
        static const uint32_t lens[] = { 0, 1, 191, 192, 255, 256, 8383, 8384,
            65535, 65536, 200000 };
        static const uint8_t tags[] = { 2, 13, 14, 17, 20 };
        uint8_t *body = calloc(1, 200000), *buf = malloc(200016);
        int      good = 1;

        for (size_t i = 0; i < 200000; i++)
            body[i] = (uint8_t) i;
        for (size_t t = 0; t < sizeof(tags); t++)
            for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
                hkp_pkt_t q = { tags[t], lens[i], body }, r;
                size_t    el = hkp_pkt_encoded_len(&q);
                uint8_t  *e = hkp_pkt_write(buf, &q);
                size_t    hl;

                if ((size_t) (e - buf) != el) good = 0;
                if (hkp_pkt_read(buf, el, &r, &used, &err) != 0 || used != el
                    || !hkp_pkt_eq(&q, &r))
                    good = 0;
                hl = el - lens[i];
                if (tags[t] < 16) {
                    if ((buf[0] & 0x40) || hl != (lens[i] < 256 ? 2u
                            : lens[i] < 65536 ? 3u : 5u))
                        good = 0;
                } else {
                    if (!(buf[0] & 0x40) || hl != (lens[i] < 192 ? 2u
                            : lens[i] < 8384 ? 3u : 6u))
                        good = 0;
                }
            }
        ok(good, "pkt write/read round trip with minimal headers");
        free(body);
        free(buf);
    }
    {
        hkp_pkt_t a = { 13, 2, (const uint8_t *) "ab" };
        hkp_pkt_t b = { 13, 3, (const uint8_t *) "abc" };
        hkp_pkt_t c = { 2, 5, (const uint8_t *) "zzzzz" };
        ok(hkp_pkt_cmp(&a, &b) < 0 && hkp_pkt_cmp(&b, &a) > 0
            && hkp_pkt_cmp(&c, &a) < 0 && hkp_pkt_cmp(&a, &a) == 0,
            "pkt_cmp order: tag, bytes, shorter first");
    }

    /* stream grammar */
    {
        uint8_t    *k1b;
        size_t      k1l;
        coll_t      c;
        uint8_t    *s;
        size_t      n;
        hkp_key_t  *k1 = load_key(datadir, "k1-ed25519.asc");

        k1b = load_asc(datadir, "k1-ed25519.asc", &k1l);
        if (!ok(k1b && k1, "k1 loaded"))
            return;
        s = malloc(k1l * 4 + 4096);

        /* leading UID then k1 */
        n = 0;
        s[n++] = 0xB4; s[n++] = 3; memcpy(s + n, "abc", 3); n += 3;
        memcpy(s + n, k1b, k1l); n += k1l;
        ok(keys_of(s, n, &c, &err) == 0 && c.nkeys == 1 && c.nrej == 1
            && strcmp(c.reasons[0], "packets before the first public key") == 0
            && c.rej_index[0] == 0,
            "leading UID rejected alone (%s)", c.nrej ? c.reasons[0] : "-");
        coll_free(&c);

        /* stand-alone revocation */
        n = 0;
        s[n++] = 0x88; s[n++] = 4; s[n++] = 4; s[n++] = 0x20; s[n++] = 22; s[n++] = 8;
        ok(keys_of(s, n, &c, &err) == 0 && c.nkeys == 0 && c.nrej == 1
            && strcmp(c.reasons[0], "stand-alone revocation certificate") == 0,
            "stand-alone revocation rejected");
        coll_free(&c);

        /* trust packets are dropped: k1 with trust after every packet */
        {
            size_t pos = 0;
            n = 0;
            while (pos < k1l) {
                hkp_pkt_read(k1b + pos, k1l - pos, &p, &used, &err);
                memcpy(s + n, k1b + pos, used);
                n += used;
                pos += used;
                s[n++] = 0xB0; s[n++] = 2; s[n++] = 0; s[n++] = 0;
            }
            if (ok(keys_of(s, n, &c, &err) == 0 && c.nkeys == 1 && c.nrej == 0,
                    "k1 with trust packets accepted"))
                ok(memcmp(c.keys[0]->hash, k1->hash, 16) == 0, "  same hash as k1");
            coll_free(&c);
        }

        /* k1, garbage secret key packet key, k1 */
        n = 0;
        memcpy(s + n, k1b, k1l); n += k1l;
        memcpy(s + n, k1b, k1l); s[n] = 0x94; n += k1l;  /* tag 5 first */
        memcpy(s + n, k1b, k1l); n += k1l;
        /* the secret key packet is not a key start: it and what follows
         * belong to the first key, which is rejected */
        ok(keys_of(s, n, &c, &err) == 0 && c.nkeys == 1 && c.nrej == 1
            && c.rej_index[0] == 0
            && strcmp(c.reasons[0], "secret key material") == 0,
            "secret key packets rejected (%s)", c.nrej ? c.reasons[0] : "-");
        coll_free(&c);

        /* secret subkey inside a key */
        {
            size_t pos = 0;
            n = 0;
            while (pos < k1l) {
                hkp_pkt_read(k1b + pos, k1l - pos, &p, &used, &err);
                memcpy(s + n, k1b + pos, used);
                if (p.tag == 14)
                    s[n] = 0x9C;    /* tag 7, 2-byte length */
                n += used;
                pos += used;
            }
            ok(keys_of(s, n, &c, &err) == 0 && c.nkeys == 0 && c.nrej == 1
                && strcmp(c.reasons[0], "secret key material") == 0,
                "secret subkey rejects the key");
            coll_free(&c);
        }

        /* unsupported version 5 */
        {
            const uint8_t v5[] = { 0x98, 6, 5, 0, 0, 0, 0, 22 };
            memcpy(s, v5, sizeof(v5));
            memcpy(s + sizeof(v5), k1b, k1l);
            ok(keys_of(s, sizeof(v5) + k1l, &c, &err) == 0 && c.nkeys == 1
                && c.nrej == 1
                && strcmp(c.reasons[0], "unsupported key version 5") == 0,
                "v5 key rejected, next key kept (%s)", c.nrej ? c.reasons[0] : "-");
            coll_free(&c);
        }

        /* UID after subkey: k1 packets + a trailing UID */
        n = 0;
        memcpy(s, k1b, k1l); n = k1l;
        s[n++] = 0xB4; s[n++] = 1; s[n++] = 'x';
        ok(keys_of(s, n, &c, &err) == 0 && c.nkeys == 1 && c.nrej == 0
            && c.keys[0]->tail == c.keys[0]->npkts - 1
            && strcmp(hkp_key_sks_reason(c.keys[0]), "user ID after a subkey")
               == 0, "UID after subkey: kept as the key's tail, which SKS "
            "refuses");
        coll_free(&c);

        /* unknown tag inside a key */
        n = 0;
        memcpy(s, k1b, k1l); n = k1l;
        s[n++] = 0xAC; s[n++] = 1; s[n++] = 'x';   /* tag 11 literal */
        ok(keys_of(s, n, &c, &err) == 0 && c.nkeys == 0 && c.nrej == 1,
            "unknown packet tag rejects key (%s)", c.nrej ? c.reasons[0] : "-");
        coll_free(&c);

        /* framing error at the end: key in progress rejected, -1 */
        n = 0;
        memcpy(s, k1b, k1l); n = k1l;
        memcpy(s + n, k1b, k1l); n += k1l;
        s[n++] = 0xB4; s[n++] = 50; s[n++] = 'x';
        ok(keys_of(s, n, &c, &err) == -1 && c.nkeys == 1 && c.nrej == 1
            && c.rej_index[0] == 1, "framing error: -1, key in progress rejected (%s)", err);
        coll_free(&c);

        /* empty stream */
        ok(keys_of(s, 0, &c, &err) == 0 && c.nkeys == 0 && c.nrej == 0,
            "empty stream: no keys");

        /* mutation fuzz: never crash */
        {
            uint32_t seed = 12345;
            size_t   acc = 0, rej = 0;
            for (int it = 0; it < 3000; it++) {
                memcpy(s, k1b, k1l);
                n = k1l;
                for (int f = 0; f < 1 + it % 4; f++) {
                    seed = seed * 1103515245 + 12345;
                    s[(seed >> 8) % n] ^= (uint8_t) (1u << ((seed >> 4) & 7));
                }
                seed = seed * 1103515245 + 12345;
                if (it % 5 == 0)
                    n = (seed >> 8) % n;
                keys_of(s, n, &c, &err);
                acc += c.nkeys;
                rej += c.nrej;
                for (size_t i = 0; i < c.nkeys; i++) {
                    hkp_keyview_t v;
                    if (hkp_keyview_build(c.keys[i], &v, &err) == 0) {
                        for (size_t u = 0; u < v.nuids; u++) {
                            hkp_sig_t sg;
                            (void) hkp_keyview_selfsig(&v, &v.uids[u], &sg);
                        }
                        hkp_keyview_free(&v);
                    }
                }
                coll_free(&c);
            }
            ok(1, "mutation fuzz survived (%zu kept, %zu rejected)", acc, rej);
        }
        free(s);
        free(k1b);
        free_key(k1);
    }
}

/* ------------------------------------------------------------------ */
/* Words                                                                */

typedef struct {
    char   words[32][160];
    size_t n;
} wl_t;

static int
word_cb(void *ctx, const uint8_t *w, size_t len)
{
    wl_t *l = ctx;
    if (l->n < 32 && len < 160) {
        memcpy(l->words[l->n], w, len);
        l->words[l->n][len] = '\0';
        l->n++;
    }
    return 0;
}

static int
split_is(hkp_words_t *w, const char *text, const char **want, size_t nwant)
{
    wl_t l;
    memset(&l, 0, sizeof(l));
    if (hkp_words_split(w, (const uint8_t *) text, strlen(text), word_cb, &l, NULL) != 0)
        return 0;
    if (l.n != nwant) {
        diag("got %zu words", l.n);
        for (size_t i = 0; i < l.n; i++)
            diag("  '%s'", l.words[i]);
        return 0;
    }
    for (size_t i = 0; i < nwant; i++)
        if (strcmp(l.words[i], want[i]) != 0) {
            diag("word %zu: '%s' != '%s'", i, l.words[i], want[i]);
            return 0;
        }
    return 1;
}

static void
test_words(void)
{
    const char  *err;
    hkp_words_t *w = hkp_words_new(&err);
    char         em[256];

    if (!ok(w != NULL, "words compile"))
        return;
    {
        const char *want[] = { "jürgen", "müller", "juergen", "example", "org" };
        ok(split_is(w, "Jürgen Müller <juergen@example.org>", want, 5),
            "Jürgen Müller split and folded");
    }
    {
        const char *want[] = { "äöü", "école", "straße", "ωμέγα", "42" };
        ok(split_is(w, "ÄÖÜ ÉCOLE, STRAßE; ΩΜΈΓΑ (42)", want, 5),
            "non-ASCII upper case folded");
    }
    {
        const char *want[] = { "zoë", "ærø", "日本語" };
        ok(split_is(w, "Zoë Ærø 日本語", want, 3), "CJK run is a word");
    }
    {
        wl_t l;
        const char *cjk = "中文测试 テキスト 한국어 <用户@例子.中国>";
        memset(&l, 0, sizeof(l));
        ok(hkp_words_split(w, (const uint8_t *) cjk, strlen(cjk), word_cb, &l, NULL) == 0
            && l.n == 6, "CJK text tokenises (%zu words)", l.n);
    }
    {
        const char *want[] = { "ab", "cd", "é" };
        ok(split_is(w, "AB\xff\xfe" "cd\xc3 \xc3\xa9\xe6\x97", want, 3),
            "invalid UTF-8 separates words");
    }
    {
        char  big[400];
        const char *want[] = { "x" };
        memset(big, 'a', 300);
        strcpy(big + 300, " X");
        ok(split_is(w, big, want, 1), "over-long word skipped");
    }
    {
        uint8_t  rnd[4096];
        uint32_t seed = 99;
        wl_t     l;
        int      good = 1;
        for (int it = 0; it < 200; it++) {
            for (size_t i = 0; i < sizeof(rnd); i++) {
                seed = seed * 1103515245 + 12345;
                rnd[i] = (uint8_t) (seed >> 16);
            }
            memset(&l, 0, sizeof(l));
            if (hkp_words_split(w, rnd, sizeof(rnd), word_cb, &l, NULL) != 0)
                good = 0;
        }
        ok(good, "random bytes do not fail");
    }
    ok(hkp_words_split(w, (const uint8_t *) "", 0, word_cb, NULL, NULL) == 0, "empty text");
    {
        /* words over HKP_MAX_WORD_LEN are skipped, and counted */
        char   text[3 * HKP_MAX_WORD_LEN];
        size_t skipped = 99;
        wl_t   l;
        memset(&l, 0, sizeof(l));
        snprintf(text, sizeof(text), "alice %0*d bob %0*d", HKP_MAX_WORD_LEN + 1, 0,
            HKP_MAX_WORD_LEN, 0);
        ok(hkp_words_split(w, (const uint8_t *) text, strlen(text), word_cb, &l,
            &skipped) == 0 && l.n == 3 && skipped == 1,
            "a word of %d bytes is skipped and counted, one of %d kept (%zu words, %zu skipped)",
            HKP_MAX_WORD_LEN + 1, HKP_MAX_WORD_LEN, l.n, skipped);
        ok(hkp_words_split(w, (const uint8_t *) "alice", 5, word_cb, &l, &skipped) == 0
            && skipped == 0, "nothing skipped: the count is reset to 0");
    }

    ok(hkp_uid_email((const uint8_t *) "Jürgen Müller <juergen@example.org>",
        strlen("Jürgen Müller <juergen@example.org>"), em, sizeof(em)) > 0
        && strcmp(em, "juergen@example.org") == 0, "email in <>");
    ok(hkp_uid_email((const uint8_t *) "Foo <a@b> <Bar@Example.COM>", 27, em,
        sizeof(em)) > 0 && strcmp(em, "bar@example.com") == 0,
        "last <> wins, lower-cased (%s)", em);
    ok(hkp_uid_email((const uint8_t *) "  Plain@Addr.org ", 17, em, sizeof(em)) > 0
        && strcmp(em, "plain@addr.org") == 0, "bare address");
    ok(hkp_uid_email((const uint8_t *) "No Email Here", 13, em, sizeof(em)) == 0,
        "no address");
    ok(hkp_uid_email((const uint8_t *) "a b@c", 5, em, sizeof(em)) == 0,
        "address with space refused");
    ok(hkp_uid_email((const uint8_t *) "Name <nomail>", 13, em, sizeof(em)) == 0,
        "<> without @ refused");
    ok(hkp_uid_email((const uint8_t *) "X <abc@example.org>", 19, em, 5) == 0,
        "too small buffer refused");
    ok(hkp_uid_email((const uint8_t *) "X <abc@example.org", 18, em, sizeof(em)) == 0,
        "unclosed < refused");
    hkp_words_free(w);
}

/* ------------------------------------------------------------------ */

int
main(void)
{
    const char *dd = getenv("HKP_TEST_DATA");

    if (dd && *dd)
        datadir = dd;
    test_packets();
    test_armor();
    test_words();
    return tap_done();
}
