/*
 * Unit tests for shared/key_*.c: the SKS hash vectors, public key and
 * signature fields, merge, and every key of debian-keyring (packet framing,
 * armor and words are test_packet.c's).
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
        k = load_key(datadir, name);
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
    hkp_key_t  *k3d = load_key(datadir, "k3-dupsig.asc");
    hkp_key_t  *k3 = load_key(datadir, "k3-ed25519.asc");
    hkp_key_t  *k1 = load_key(datadir, "k1-ed25519.asc");
    hkp_key_t  *k2 = load_key(datadir, "k2-rsa2048.asc");
    hkp_key_t  *deb = load_key(datadir, "debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc");
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
    hkp_key_t   *k1 = load_key(datadir, "k1-ed25519.asc");
    hkp_key_t   *k2 = load_key(datadir, "k2-rsa2048.asc");
    hkp_key_t   *deb = load_key(datadir, "debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc");
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

    test_vectors();
    test_pubkeys();
    test_merge();
    test_keyring(ring);
    return tap_done();
}
