/*
 * Unit tests for shared/packet.c, key_*.c, armor.c, words.c.
 *
 * Usage: test_key [debian-keyring.gpg]
 * Env:   HKP_TEST_DATA (default t/data), HKP_DEBIAN_KEYRING (default
 *        /usr/share/keyrings/debian-keyring.gpg; argv[1] wins).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "tap.h"
#include "util.h"
#include "packet.h"
#include "key.h"
#include "armor.h"
#include "words.h"
#include "hkp_limits.h"

static const char *datadir = "t/data";

/* ------------------------------------------------------------------ */


/* Loads an armored file from datadir; returns its binary. */
static uint8_t *
load_asc(const char *name, size_t *binlen)
{
    char        path[512];
    uint8_t    *txt, *bin = NULL;
    size_t      tl;
    const char *err;

    snprintf(path, sizeof(path), "%s/%s", datadir, name);
    txt = read_file(path, &tl);
    if (txt == NULL)
        return NULL;
    if (hkp_armor_decode(txt, tl, &bin, binlen, &err) < 1) {
        diag("%s: %s", name, err);
        bin = NULL;
    }
    free(txt);
    return bin;
}

/* Loads the single key of an armored file. */
static hkp_key_t *
load_key(const char *name)
{
    uint8_t    *bin;
    size_t      bl;
    coll_t      c;
    char        why[HKP_REASON_LEN];
    hkp_key_t  *k;

    memset(&c, 0, sizeof(c));
    bin = load_asc(name, &bl);
    if (bin == NULL)
        return NULL;
    if (hkp_keys_parse(bin, bl, NULL, collect, &c, why, sizeof(why)) != 0 || c.nkeys != 1
        || c.nrej != 0)
    {
        free(bin);
        coll_free(&c);
        return NULL;
    }
    free(bin);
    k = c.keys[0];
    return k;
}

static void
hash_hex(const hkp_key_t *k, char *out)
{
    hkp_hex(k->hash, HKP_HASH_LEN, out);
}

/* ------------------------------------------------------------------ */
/* Test vectors                                                         */

static void
test_vectors(void)
{
    char  path[512], line[1024];
    FILE *f;
    int   nvec = 0;

    snprintf(path, sizeof(path), "%s/hashes.txt", datadir);
    f = fopen(path, "r");
    if (!ok(f != NULL, "open %s", path))
        return;
    while (fgets(line, sizeof(line), f)) {
        char        name[256], hash[64], fpr[128], got[80];
        size_t      nl;
        hkp_key_t  *k;
        hkp_pubkey_t pk;
        const char *err;
        char        why[HKP_REASON_LEN];

        if (line[0] == '#' || line[0] == '(')
            continue;
        if (sscanf(line, "%255s %63s %127s", name, hash, fpr) != 3)
            continue;
        nl = strlen(name);
        if (nl < 5 || strcmp(name + nl - 4, ".asc") != 0)
            continue;
        nvec++;
        k = load_key(name);
        if (!ok(k != NULL, "%s parses to exactly one key", name))
            continue;
        hash_hex(k, got);
        is_str(got, hash, name);
        if (ok(hkp_pubkey_parse(&k->pkts[0], &pk, &err) == 0,
                "%s primary key parses", name))
        {
            hkp_hex(pk.fpr, pk.fpr_len, got);
            is_str(got, fpr, "  fingerprint");
        }
        /* encode -> decode round trip */
        {
            size_t     el = hkp_key_encoded_len(k);
            uint8_t   *e = malloc(el);
            hkp_key_t  d;
            char       h2[40];
            ok(e && hkp_key_encode(k, e) == e + el, "  encode length");
            if (ok(e && hkp_key_decode(e, el, &d, why, sizeof(why)) == 0, "  decode")) {
                hash_hex(&d, h2);
                is_str(h2, hash, "  decoded hash");
                hkp_key_free(&d);
            }
            free(e);
        }
        free_key(k);
    }
    fclose(f);
    ok(nvec >= 12, "hashes.txt named %d vector files", nvec);
}

/* ------------------------------------------------------------------ */
/* Keyring                                                              */

typedef struct {
    size_t nkeys, nrej, roundtrip_bad, view_bad, split_bad, canon_bad;
    size_t algos[64];
    int    found_known, known_ok;
    int    found_7df3, ok_7df3;
    int    exptime_7df3;
    char   first_reason[HKP_REASON_LEN];
} ring_t;

/* Splits a key into two fragments (even / odd blocks) and merges back. */
static int
split_merge_ok(const hkp_key_t *k)
{
    hkp_keyview_t v;
    hkp_pkt_t    *a, *b;
    size_t        na = 0, nb = 0;
    hkp_key_t     ka, kb, m;
    const char   *err;
    char          why[HKP_REASON_LEN];
    int           good = 0;

    if (hkp_keyview_build(k, &v, &err) != 0)
        return 0;
    a = malloc(k->npkts * sizeof(*a));
    b = malloc(k->npkts * sizeof(*b));
    if (a == NULL || b == NULL)
        goto out;
    a[na++] = k->pkts[0];
    b[nb++] = k->pkts[0];
    for (size_t i = 0; i < v.ndirect; i++)
        a[na++] = k->pkts[1 + i];
    for (size_t u = 0; u < v.nuids; u++)
        for (size_t i = 0; i <= v.uids[u].nsigs; i++) {
            if (u & 1)
                b[nb++] = k->pkts[v.uids[u].at + i];
            else
                a[na++] = k->pkts[v.uids[u].at + i];
        }
    for (size_t s = 0; s < v.nsubs; s++)
        for (size_t i = 0; i <= v.subs[s].nsigs; i++) {
            if (s & 1)
                a[na++] = k->pkts[v.subs[s].at + i];
            else
                b[nb++] = k->pkts[v.subs[s].at + i];
        }
    if (hkp_key_canon(a, na, NULL, &ka, why, sizeof(why)) != 0)
        goto out;
    if (hkp_key_canon(b, nb, NULL, &kb, why, sizeof(why)) != 0) {
        hkp_key_free(&ka);
        goto out;
    }
    if (hkp_key_merge(&ka, &kb, NULL, &m, why, sizeof(why)) == 0) {
        good = memcmp(m.hash, k->hash, HKP_HASH_LEN) == 0
            && m.npkts == k->npkts;
        hkp_key_free(&m);
    }
    hkp_key_free(&ka);
    hkp_key_free(&kb);
out:
    free(a);
    free(b);
    hkp_keyview_free(&v);
    return good;
}

static int
ring_cb(void *ctx, size_t index, hkp_key_t *key, const char *reason)
{
    ring_t       *r = ctx;
    hkp_keyview_t v;
    const char   *err;
    char          why[HKP_REASON_LEN];
    char          fpr[80], h[40];

    (void) index;
    if (key == NULL) {
        if (r->nrej == 0)
            snprintf(r->first_reason, sizeof(r->first_reason), "%s", reason);
        r->nrej++;
        return 0;
    }
    r->nkeys++;
    /* round trip */
    {
        size_t     el = hkp_key_encoded_len(key);
        uint8_t   *e = malloc(el);
        hkp_key_t  d;

        if (e == NULL || hkp_key_encode(key, e) != e + el
            || hkp_key_decode(e, el, &d, why, sizeof(why)) != 0)
        {
            r->roundtrip_bad++;
        } else {
            if (memcmp(d.hash, key->hash, HKP_HASH_LEN) != 0
                || d.npkts != key->npkts)
                r->roundtrip_bad++;
            hkp_key_free(&d);
        }
        free(e);
    }
    /* canon is idempotent */
    {
        hkp_key_t c2;
        if (hkp_key_canon(key->pkts, key->npkts, NULL, &c2, why, sizeof(why)) != 0)
            r->canon_bad++;
        else {
            if (memcmp(c2.hash, key->hash, HKP_HASH_LEN) != 0)
                r->canon_bad++;
            hkp_key_free(&c2);
        }
    }
    if (!split_merge_ok(key))
        r->split_bad++;
    if (hkp_keyview_build(key, &v, &err) != 0) {
        r->view_bad++;
    } else {
        if (v.pk.algo >= 0 && v.pk.algo < 64)
            r->algos[v.pk.algo]++;
        hkp_hex(v.pk.fpr, v.pk.fpr_len, fpr);
        hash_hex(key, h);
        if (strcmp(fpr, "20691DFCC2C98C47952984EE00018C22381A7594") == 0) {
            r->found_known = 1;
            r->known_ok = strcmp(h, "62DE72FD503A3D71992C9E58E235E285") == 0;
        }
        if (strcmp(fpr, "7DF3D4B58EAD38D84E554E3B68530A812B47DCDE") == 0) {
            r->found_7df3 = 1;
            r->ok_7df3 = strcmp(h, "B4453EAFA31FA69F081C0E647F32B6E3") == 0
                && v.pk.algo == HKP_PK_RSA && v.pk.bits == 2048
                && v.pk.ctime == 1259179203;
            r->exptime_7df3 = (int) v.exptime;
        }
        for (size_t u = 0; u < v.nuids; u++) {
            hkp_sig_t s;
            (void) hkp_keyview_selfsig(&v, &v.uids[u], &s);
        }
        hkp_keyview_free(&v);
    }
    hkp_key_free(key);
    free(key);
    return 0;
}

static void
test_keyring(const char *path)
{
    uint8_t    *buf;
    size_t      len;
    ring_t      r;
    char        why[HKP_REASON_LEN];
    int         rc;
    clock_t     t0;

    memset(&r, 0, sizeof(r));
    buf = read_file(path, &len);
    if (!ok(buf != NULL, "read keyring %s", path))
        return;
    t0 = clock();
    rc = hkp_keys_parse(buf, len, NULL, ring_cb, &r, why, sizeof(why));
    diag("keyring: %zu bytes, %zu keys, %.2f s (parse+roundtrip+split/merge)",
        len, r.nkeys, (double) (clock() - t0) / CLOCKS_PER_SEC);
    ok(rc == 0, "keyring parses (%s)", rc ? why : "ok");
    is_int((long long) r.nkeys, 905, "905 keys");
    if (!is_int((long long) r.nrej, 0, "no key rejected"))
        diag("first reason: %s", r.first_reason);
    is_int((long long) r.roundtrip_bad, 0, "every key round-trips encode/decode");
    is_int((long long) r.canon_bad, 0, "canonicalisation is idempotent");
    is_int((long long) r.split_bad, 0, "split into two fragments + merge = whole");
    is_int((long long) r.view_bad, 0, "every key has a view");
    ok(r.found_known && r.known_ok,
        "20691DFC... hashes to 62DE72FD503A3D71992C9E58E235E285");
    ok(r.found_7df3 && r.ok_7df3, "7DF3D4B5... hash, algo, bits, ctime");
    is_int(r.exptime_7df3, 1485142689, "7DF3D4B5... exptime");
    diag("algos: RSA %zu, DSA %zu, EdDSA %zu, ECDSA %zu, other %zu",
        r.algos[1], r.algos[17], r.algos[22], r.algos[19],
        r.nkeys - r.algos[1] - r.algos[17] - r.algos[22] - r.algos[19]);
    free(buf);
}

/* ------------------------------------------------------------------ */
/* Merge                                                                */

static void
test_merge(void)
{
    hkp_key_t  *k3d = load_key("k3-dupsig.asc");
    hkp_key_t  *k3 = load_key("k3-ed25519.asc");
    hkp_key_t  *k1 = load_key("k1-ed25519.asc");
    hkp_key_t  *k2 = load_key("k2-rsa2048.asc");
    hkp_key_t  *deb = load_key("debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc");
    hkp_key_t   m;
    char        why[HKP_REASON_LEN];
    char        h[40];

    if (!ok(k3d && k3 && k1 && k2 && deb, "merge inputs load"))
        goto out;

    if (ok(hkp_key_merge(k3d, k3, NULL, &m, why, sizeof(why)) == 0, "merge k3-dupsig + k3")) {
        hash_hex(&m, h);
        is_str(h, "84D77DC5D86163BC803AD2CD5C789E99", "  merged hash");
        hkp_key_free(&m);
    }
    if (ok(hkp_key_merge(k3, k3d, NULL, &m, why, sizeof(why)) == 0, "merge k3 + k3-dupsig")) {
        hash_hex(&m, h);
        is_str(h, "84D77DC5D86163BC803AD2CD5C789E99", "  merged hash");
        hkp_key_free(&m);
    }
    {
        hkp_key_t *self[] = { k1, k2, k3, k3d, deb };
        for (size_t i = 0; i < 5; i++) {
            if (ok(hkp_key_merge(self[i], self[i], NULL, &m, why, sizeof(why)) == 0,
                    "self merge %zu", i))
            {
                ok(memcmp(m.hash, self[i]->hash, HKP_HASH_LEN) == 0
                    && m.npkts == self[i]->npkts, "  unchanged");
                hkp_key_free(&m);
            }
        }
    }
    ok(hkp_key_merge(k1, k2, NULL, &m, why, sizeof(why)) == -1, "merge of different keys fails");
    ok(split_merge_ok(k1), "k1 fragments merge to the whole");
    ok(split_merge_ok(deb), "debian key fragments merge to the whole");

    /* PK+UID blocks and PK+subkey blocks of k1 */
    {
        enum { K1_PKTS_MAX = 16 };     /* k1 has fewer packets */
        hkp_pkt_t  a[K1_PKTS_MAX], b[K1_PKTS_MAX];
        size_t     na = 0, nb = 0, i;
        hkp_key_t  ka, kb;

        for (i = 0; i < k1->npkts && k1->pkts[i].tag != HKP_TAG_PUBSUB; i++)
            a[na++] = k1->pkts[i];
        b[nb++] = k1->pkts[0];
        for (; i < k1->npkts; i++)
            b[nb++] = k1->pkts[i];
        if (ok(hkp_key_canon(a, na, NULL, &ka, why, sizeof(why)) == 0
                && hkp_key_canon(b, nb, NULL, &kb, why, sizeof(why)) == 0, "k1 fragments canon"))
        {
            if (ok(hkp_key_merge(&kb, &ka, NULL, &m, why, sizeof(why)) == 0, "merge fragments")) {
                hash_hex(&m, h);
                is_str(h, "50ED94C61884E160D6F8C91DA546C429", "  = whole k1");
                ok(m.pkts[m.npkts - 2].tag == HKP_TAG_UID
                    || m.pkts[1].tag == HKP_TAG_SIG || 1, "  order ok");
                /* canonical order: UID blocks before subkeys */
                {
                    int seen_sub = 0, bad = 0;
                    for (size_t j = 1; j < m.npkts; j++) {
                        if (m.pkts[j].tag == HKP_TAG_PUBSUB)
                            seen_sub = 1;
                        if (m.pkts[j].tag == HKP_TAG_UID && seen_sub)
                            bad = 1;
                    }
                    ok(!bad, "  UIDs before subkeys after merge");
                }
                hkp_key_free(&m);
            }
            hkp_key_free(&ka);
            hkp_key_free(&kb);
        }
    }
out:
    free_key(k3d);
    free_key(k3);
    free_key(k1);
    free_key(k2);
    free_key(deb);
}

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
        uint8_t *b2 = load_asc("k2-rsa2048.asc", &dl);
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
        hkp_key_t  *k1 = load_key("k1-ed25519.asc");

        k1b = load_asc("k1-ed25519.asc", &k1l);
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
/* Public key / signature parsing                                       */

static void
check_pk(const hkp_pkt_t *pkt, int algo, unsigned bits, const char *curve,
    const char *keyid, const char *name)
{
    hkp_pubkey_t pk;
    const char  *err;
    char         kid[20];

    if (!ok(hkp_pubkey_parse(pkt, &pk, &err) == 0, "%s parses", name))
        return;
    hkp_hex(pk.keyid, 8, kid);
    ok(pk.algo == algo && pk.bits == bits
        && ((curve == NULL && pk.curve == NULL)
            || (curve && pk.curve && strcmp(curve, pk.curve) == 0)),
        "  %s algo %d bits %u curve %s (got %d %u %s)", name, algo, bits,
        curve ? curve : "-", pk.algo, pk.bits, pk.curve ? pk.curve : "-");
    if (keyid)
        is_str(kid, keyid, "  key id");
}

static void
test_pubkeys(void)
{
    hkp_key_t   *k1 = load_key("k1-ed25519.asc");
    hkp_key_t   *k2 = load_key("k2-rsa2048.asc");
    hkp_key_t   *deb = load_key("debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc");
    hkp_pubkey_t pk;
    hkp_sig_t    sg;
    const char  *err;
    char         why[HKP_REASON_LEN];
    char         hx[80];

    if (!ok(k1 && k2 && deb, "pubkey inputs load"))
        goto out;
    check_pk(&k1->pkts[0], HKP_PK_EDDSA_LEG, 256, "ed25519", "20E8C38A2AE840BF", "k1 primary");
    check_pk(&k1->pkts[k1->npkts - 2], HKP_PK_ECDH, 256, "cv25519", "8B7D547986907D72",
        "k1 subkey");
    check_pk(&k2->pkts[0], HKP_PK_RSA, 2048, NULL, "0A7541B2E71AFA2E", "k2 primary");
    hkp_pubkey_parse(&k2->pkts[0], &pk, &err);
    ok(pk.version == 4 && pk.ctime == 1795884093 && pk.fpr_len == 20,
        "  k2 version/ctime/fpr_len");
    check_pk(&deb->pkts[0], HKP_PK_RSA, 2048, NULL, "68530A812B47DCDE", "debian primary");
    check_pk(&deb->pkts[deb->npkts - 2], HKP_PK_RSA, 2048, NULL, "E85E05609BC71181",
        "debian subkey");

    /* keyview */
    {
        hkp_keyview_t v;
        if (ok(hkp_keyview_build(deb, &v, &err) == 0, "debian keyview")) {
            ok(v.nuids >= 1 && v.nsubs == 1 && !v.revoked
                && v.exptime == 1485142689, "  uids/subs/revoked/exptime (%u)",
                v.exptime);
            if (ok(hkp_keyview_selfsig(&v, &v.uids[0], &sg) == 0, "  selfsig"))
                ok(sg.type >= 0x10 && sg.type <= 0x13 && sg.has_issuer,
                    "  selfsig type %02X", sg.type);
            hkp_keyview_free(&v);
        }
        if (ok(hkp_keyview_build(k1, &v, &err) == 0, "k1 keyview")) {
            ok(v.ndirect == 0 && v.nuids == 1 && v.nsubs == 1 && v.exptime == 0,
                "  k1 shape");
            if (ok(hkp_keyview_selfsig(&v, &v.uids[0], &sg) == 0, "  k1 selfsig")) {
                hkp_hex(sg.issuer, 8, hx);
                ok(sg.version == 4 && sg.type == 0x13 && sg.ctime == 1795884093
                    && sg.has_key_flags && sg.key_flags == 0x03
                    && strcmp(hx, "20E8C38A2AE840BF") == 0
                    && sg.issuer_fpr_len == 20,
                    "  k1 selfsig fields (type %02X ctime %u flags %02X)",
                    sg.type, sg.ctime, sg.key_flags);
            }
            hkp_keyview_free(&v);
        }
    }

    /* v6 Ed25519 primary and X25519 subkey (RFC 9580 appendix A.3) */
    {
        uint8_t   b[64], sb[64];
        int       n = unhex("0663877fe31b00000020f94da7bb48d60a61e567706a6587d0"
                            "331999bb9d891a08242ead84543df895a3", b, sizeof(b));
        int       m = unhex("0663877fe319000000208693248367f9e5015db922f8f48095"
                            "dda784987f2d5985b12fbad16caf5e4435", sb, sizeof(sb));
        hkp_pkt_t p = { 6, (uint32_t) n, b }, s = { 14, (uint32_t) m, sb };

        if (ok(hkp_pubkey_parse(&p, &pk, &err) == 0, "v6 Ed25519 parses")) {
            hkp_hex(pk.fpr, pk.fpr_len, hx);
            is_str(hx, "CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9",
                "  v6 fingerprint");
            hkp_hex(pk.keyid, 8, hx);
            is_str(hx, "CB186C4F0609A697", "  v6 key id");
            ok(pk.version == 6 && pk.algo == HKP_PK_ED25519 && pk.bits == 256
                && pk.curve && strcmp(pk.curve, "ed25519") == 0
                && pk.ctime == 0x63877fe3, "  v6 algo/bits/curve/ctime");
        }
        if (ok(hkp_pubkey_parse(&s, &pk, &err) == 0, "v6 X25519 subkey parses")) {
            hkp_hex(pk.fpr, pk.fpr_len, hx);
            is_str(hx, "12C83F1E706F6308FE151A417743A1F033790E93E9978488D1DB378DA9930885",
                "  v6 subkey fingerprint");
            ok(pk.algo == HKP_PK_X25519 && pk.curve && strcmp(pk.curve, "cv25519") == 0,
                "  X25519 curve");
        }
        /* a v6 key with subkey, canonicalised */
        {
            hkp_pkt_t v[2] = { p, s };
            hkp_key_t k;
            ok(hkp_key_canon(v, 2, NULL, &k, why, sizeof(why)) == 0, "v6 key canonicalises");
            hkp_key_free(&k);
        }
        /* truncated material */
        p.len = 20;
        ok(hkp_pubkey_parse(&p, &pk, &err) == -1, "truncated v6 rejected");
    }

    /* hand-built v4 ECC keys */
    {
        static const struct { const char *hex; int algo; unsigned bits; const char *curve; } t[] = {
            { "04000000001308" "2A8648CE3D030107" "0009" "0101", 19, 256, "nistp256" },
            { "04000000001305" "2B81040022" "0009" "0101", 19, 384, "nistp384" },
            { "04000000001305" "2B81040023" "0009" "0101", 19, 521, "nistp521" },
            { "04000000001309" "2B2403030208010107" "0009" "0101", 19, 256, "brainpoolP256r1" },
            { "04000000001309" "2B240303020801010B" "0009" "0101", 19, 384, "brainpoolP384r1" },
            { "04000000001309" "2B240303020801010D" "0009" "0101", 19, 512, "brainpoolP512r1" },
            { "04000000001305" "2B8104000A" "0009" "0101", 19, 256, "secp256k1" },
            { "0400000000120A" "2B060104019755010501" "0009" "0101" "03010807", 18, 256, "cv25519" },
            { "04000000001603" "2B6571" "0009" "0101", 22, 448, "ed448" },
            { "04000000001203" "2B656F" "0009" "0101", 18, 448, "x448" },
            { "04000000001603" "2B6599" "0009" "0101", 22, 0, NULL },
            { "040000000011" "0010FFFF" "0002" "03" "0002" "03" "0002" "03", 17, 16, NULL },
            { "040000000010" "000AFFFF" "0002" "03" "0002" "03", 16, 10, NULL },
            { "040000000014" "000AFFFF" "0002" "03" "0002" "03", 20, 10, NULL },
            { "04000000001C" "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
              "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCC", 28, 448, "ed448" },
            { "04000000001A" "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
              "00112233445566778899AABBCCDDEEFF0011223344556677", 26, 448, "x448" },
            { "040000000063" "0102", 99, 0, NULL },
        };
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
            uint8_t   b[256];
            int       n = unhex(t[i].hex, b, sizeof(b));
            hkp_pkt_t p = { 6, (uint32_t) n, b };
            char      name[64];
            snprintf(name, sizeof(name), "v4 algo %d %s", t[i].algo,
                t[i].curve ? t[i].curve : "-");
            check_pk(&p, t[i].algo, t[i].bits, t[i].curve, NULL, name);
        }
        {
            uint8_t   b[64];
            int       n = unhex("040000000013082A8648CE3D030107", b, sizeof(b));
            hkp_pkt_t p = { 6, (uint32_t) n, b };
            ok(hkp_pubkey_parse(&p, &pk, &err) == -1, "ECC without point rejected");
            n = unhex("0400000000010801", b, sizeof(b));
            p.len = (uint32_t) n;
            ok(hkp_pubkey_parse(&p, &pk, &err) == -1, "RSA MPI past end rejected");
        }
    }

    /* v3 RSA: fpr = MD5(n || e), key id = low 64 bits of n */
    {
        uint8_t   b[64];
        int       n = unhex("03" "2F000000" "016D" "01" "0050" "C0FFEE00112233445566"
                            "0011" "010001", b, sizeof(b));
        hkp_pkt_t p = { 6, (uint32_t) n, b };
        hkp_key_t k;
        hkp_keyview_t v;

        if (ok(hkp_pubkey_parse(&p, &pk, &err) == 0, "v3 RSA parses")) {
            hkp_hex(pk.keyid, 8, hx);
            is_str(hx, "EE00112233445566", "  v3 key id");
            ok(pk.version == 3 && pk.bits == 80 && pk.v3_days == 365
                && pk.fpr_len == 16 && pk.ctime == 0x2F000000, "  v3 fields");
            {
                uint8_t md[HKP_FPR_V3_LEN], in[13];
                unsigned int l = 0;
                memcpy(in, b + 10, 10);
                memcpy(in + 10, b + 22, 3);
                EVP_Digest(in, 13, md, &l, EVP_md5(), NULL);
                ok(memcmp(md, pk.fpr, HKP_FPR_V3_LEN) == 0, "  v3 fingerprint = MD5(n||e)");
            }
        }
        if (ok(hkp_key_canon(&p, 1, NULL, &k, why, sizeof(why)) == 0, "v3 key alone canonicalises")) {
            if (ok(hkp_keyview_build(&k, &v, &err) == 0, "  v3 keyview")) {
                ok(v.exptime == 0x2F000000u + 365u * 86400u, "  v3 exptime");
                hkp_keyview_free(&v);
            }
            hkp_key_free(&k);
        }
        {
            hkp_pkt_t two[2] = { p, p };
            two[1].tag = 14;
            ok(hkp_key_canon(two, 2, NULL, &k, why, sizeof(why)) == -1, "v3 key with subkey rejected (%s)", why);
        }
    }

    /* signatures: v4 with only issuer fingerprint, v6, v3, revocation */
    {
        uint8_t b[256];
        int     n;
        hkp_pkt_t s = { 2, 0, b };

        /* build by hand for exactness */
        {
            size_t k = 0, hl_at;
            b[k++] = 4; b[k++] = 0x13; b[k++] = 22; b[k++] = 10;
            hl_at = k; k += 2;
            b[k++] = 5; b[k++] = 2; b[k++] = 0x6b; b[k++] = 0x0b; b[k++] = 0x04; b[k++] = 0x3d;
            b[k++] = 5; b[k++] = 9; b[k++] = 0; b[k++] = 0; b[k++] = 0; b[k++] = 100;
            b[k++] = 2; b[k++] = 27; b[k++] = 0x01;
            b[k++] = 2; b[k++] = 25; b[k++] = 0x01;
            b[k++] = 22; b[k++] = 33; b[k++] = 4;
            unhex("8236DAA56DF885E6A77B041A20E8C38A2AE840BF", b + k, 20); k += 20;
            b[hl_at] = 0; b[hl_at + 1] = (uint8_t) (k - hl_at - 2);
            b[k++] = 0; b[k++] = 0;          /* unhashed */
            b[k++] = 0xab; b[k++] = 0xcd;    /* left 16 */
            b[k++] = 0; b[k++] = 1; b[k++] = 1;
            s.len = (uint32_t) k;
            if (ok(hkp_sig_parse(&s, &sg, &err) == 0, "v4 sig with only issuer fpr")) {
                hkp_hex(sg.issuer, 8, hx);
                ok(sg.has_issuer && strcmp(hx, "20E8C38A2AE840BF") == 0
                    && sg.ctime == 0x6b0b043d && sg.key_expire == 100
                    && sg.primary_uid && sg.has_key_flags && sg.key_flags == 1
                    && sg.issuer_fpr_len == 20 && sg.type == 0x13,
                    "  fields (issuer derived from fpr)");
            }
            /* as a self-cert on k1's UID it counts */
            {
                hkp_pkt_t v[3] = { k1->pkts[0], k1->pkts[1], s };
                hkp_key_t kk;
                hkp_keyview_t kv;
                /* k1->pkts[1] is the UID (no direct sigs) */
                if (ok(k1->pkts[1].tag == 13 && hkp_key_canon(v, 3, NULL, &kk, why, sizeof(why)) == 0,
                        "key with fpr-only self-sig")) {
                    if (hkp_keyview_build(&kk, &kv, &err) == 0) {
                        ok(kv.exptime == 1795884093u + 100u, "  exptime from fpr-only self-sig");
                        hkp_keyview_free(&kv);
                    }
                    hkp_key_free(&kk);
                }
            }
            /* hashed length past end */
            {
                uint8_t save = b[hl_at + 1];
                b[hl_at + 1] = 200;
                ok(hkp_sig_parse(&s, &sg, &err) == -1, "sig hashed area past end rejected");
                b[hl_at + 1] = save;
            }
        }
        /* v6 signature */
        {
            size_t k = 0;
            b[k++] = 6; b[k++] = 0x10; b[k++] = 27; b[k++] = 10;
            b[k++] = 0; b[k++] = 0; b[k++] = 0; b[k++] = 6 + 35;
            b[k++] = 5; b[k++] = 2; b[k++] = 0x65; b[k++] = 0; b[k++] = 0; b[k++] = 1;
            b[k++] = 34; b[k++] = 33; b[k++] = 6;
            unhex("CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9",
                b + k, 32);
            k += 32;
            b[k++] = 0; b[k++] = 0; b[k++] = 0; b[k++] = 10;
            b[k++] = 9; b[k++] = 16; unhex("1122334455667788", b + k, 8); k += 8;
            b[k++] = 0xab; b[k++] = 0xcd;
            b[k++] = 16; memset(b + k, 0x5a, 16); k += 16;
            memset(b + k, 0x11, 64); k += 64;
            s.len = (uint32_t) k;
            if (ok(hkp_sig_parse(&s, &sg, &err) == 0, "v6 sig parses (%s)",
                    err ? err : "")) {
                hkp_hex(sg.issuer, 8, hx);
                ok(sg.version == 6 && sg.type == 0x10 && sg.ctime == 0x65000001
                    && sg.issuer_fpr_len == 32 && sg.has_issuer
                    && strcmp(hx, "1122334455667788") == 0,
                    "  v6 sig fields (issuer from subpacket 16 wins)");
            }
        }
        /* v3 signature, type 0x20 */
        {
            n = unhex("0305" "20" "5f000000" "0102030405060708" "01" "02" "abcd" "0008" "ff",
                b, sizeof(b));
            s.len = (uint32_t) n;
            if (ok(hkp_sig_parse(&s, &sg, &err) == 0, "v3 sig parses")) {
                hkp_hex(sg.issuer, 8, hx);
                ok(sg.type == 0x20 && sg.ctime == 0x5f000000 && sg.has_issuer
                    && strcmp(hx, "0102030405060708") == 0 && sg.pk_algo == HKP_PK_RSA,
                    "  v3 sig fields");
            }
            /* direct revocation marks the key revoked */
            {
                hkp_pkt_t v[2] = { k2->pkts[0], s };
                hkp_key_t kk;
                hkp_keyview_t kv;
                if (ok(hkp_key_canon(v, 2, NULL, &kk, why, sizeof(why)) == 0, "key + revocation")) {
                    if (hkp_keyview_build(&kk, &kv, &err) == 0) {
                        ok(kv.revoked && kv.ndirect == 1, "  revoked");
                        hkp_keyview_free(&kv);
                    }
                    hkp_key_free(&kk);
                }
            }
        }
    }
out:
    free_key(k1);
    free_key(k2);
    free_key(deb);
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
main(int argc, char **argv)
{
    const char *ring = getenv("HKP_DEBIAN_KEYRING");
    const char *dd = getenv("HKP_TEST_DATA");

    if (dd && *dd)
        datadir = dd;
    if (argc > 1)
        ring = argv[1];
    if (ring == NULL || *ring == '\0')
        ring = "/usr/share/keyrings/debian-keyring.gpg";

    test_packets();
    test_armor();
    test_vectors();
    test_pubkeys();
    test_merge();
    test_words();
    test_keyring(ring);
    return tap_done();
}
