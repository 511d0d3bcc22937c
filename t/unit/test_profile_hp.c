/*
 * Unit tests of the `hockeypuck` hash profile's rules one by one (the
 * vectors as a whole are t/25-profile-hockeypuck.t): which key and
 * signature packets Hockeypuck 2.2 can read (shared/profile_hp_key.c,
 * profile_hp_sig.c), the quick check of third-party signatures
 * (profile_hp_check.c) and the reading and binding rules of
 * profile_hockeypuck.c, on variants of the hostile vector 06-third-party
 * (Ed25519 primary, a user ID with its self-signature and a certification
 * by the vector's gpg-signer, an ECDH subkey with its binding).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "profile.h"
#include "profile_hp.h"
#include "tap.h"
#include "util.h"

#define MAX_PKTS      256
#define BIG           9000      /* a packet body over Hockeypuck's 8192 */
#define FILLER_UIDS   129       /* 8192-byte user IDs: over 1 MiB */
#define BUF_LEN       (FILLER_UIDS * 8192 + 65536)

/* The vector 06-third-party's packets and the hash Hockeypuck stored. */
#define K06_HASH      "9D2308A8A0955D6105B0F0A49A8FFD46"
enum { P_PK, P_UID, P_SELF, P_CERT, P_SUB, P_BIND, P_N };

static uint8_t *file_buf[4];
static int      nfiles;

static size_t
load(const char *rel, hkp_pkt_t *pkts, size_t max)
{
    char        path[1024];
    const char *dir = getenv("HKP_TEST_DATA");
    size_t      len, off = 0, used, n = 0;
    const char *err;
    uint8_t    *buf;

    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "t/data", rel);
    buf = read_file(path, &len);
    if (buf == NULL)
        return 0;
    file_buf[nfiles++] = buf;
    while (off < len && n < max) {
        if (hkp_pkt_read(buf + off, len - off, &pkts[n], &used, &err) != 0)
            return 0;
        off += used;
        n++;
    }
    return n;
}

static int
key_ok(const uint8_t *b, size_t len, int tag)
{
    hkp_pkt_t    p = { (uint8_t) tag, (uint32_t) len, b };
    hkp_hp_key_t k;
    const char  *why;

    return hkp_hp_key_read(&p, &k, &why) == 0;
}

static int
sig_ok(const uint8_t *b, size_t len, hkp_hp_sig_t *s)
{
    hkp_pkt_t    p = { HKP_TAG_SIG, (uint32_t) len, b };
    hkp_hp_sig_t tmp;
    const char  *why;

    return hkp_hp_sig_read(&p, s ? s : &tmp, &why) == 0;
}

/* Rebuilds a v4 signature: subpackets of type drop_h / drop_u (0 none)
 * removed from the hashed / unhashed area, add_h / add_u appended. */
static size_t
sig_edit(const hkp_pkt_t *in, int drop_h, const uint8_t *add_h, size_t ah,
    int drop_u, const uint8_t *add_u, size_t au, uint8_t *out)
{
    const uint8_t *b = in->body;
    size_t         off = 4, k = 4;

    memcpy(out, b, 4);
    for (int area = 0; area < 2; area++) {
        size_t         n = (size_t) b[off] << 8 | b[off + 1], i = 0, lenat = k;
        const uint8_t *p = b + off + 2, *add = area ? add_u : add_h;
        int            drop = area ? drop_u : drop_h;

        k += 2;
        while (i < n) {   /* 1-octet subpacket lengths only (as in 06) */
            size_t l = p[i];
            if ((p[i + 1] & 0x7F) != drop) {
                memcpy(out + k, p + i, l + 1);
                k += l + 1;
            }
            i += l + 1;
        }
        if (add != NULL) {
            memcpy(out + k, add, area ? au : ah);
            k += area ? au : ah;
        }
        out[lenat] = (uint8_t) ((k - lenat - 2) >> 8);
        out[lenat + 1] = (uint8_t) (k - lenat - 2);
        off += 2 + n;
    }
    memcpy(out + k, b + off, in->len - off);
    return k + in->len - off;
}

/* Offset of a v4 signature's left 16 bits. */
static size_t
left16_at(const uint8_t *b)
{
    size_t hl = (size_t) b[4] << 8 | b[5];
    size_t ul = (size_t) b[6 + hl] << 8 | b[7 + hl];

    return 8 + hl + ul;
}

static int
hp_hash(const hkp_pkt_t *pkts, size_t n, char *hex, const char **why)
{
    uint8_t h[HKP_HASH_LEN];
    int     r;

    *why = NULL;
    r = hkp_profile_hockeypuck.hash_pkts(&hkp_profile_hockeypuck, pkts, n, h,
        why);
    if (r == HKP_PROFILE_HASHED)
        hkp_hex(h, HKP_HASH_LEN, hex);
    else
        strcpy(hex, "DROPPED");
    return r;
}

/* SKS hash of the listed packets of k (indices, -1 terminated). */
static void
sks_of(const hkp_pkt_t *k, const int *ix, char *hex)
{
    hkp_pkt_t v[P_N];
    uint8_t   h[HKP_HASH_LEN];
    size_t    n = 0;

    for (; *ix >= 0; ix++)
        v[n++] = k[*ix];
    hkp_key_hash(v, n, h);
    hkp_hex(h, HKP_HASH_LEN, hex);
}

static void
test_registry(void)
{
    const hkp_profile_t *p = hkp_profile_find("hockeypuck");

    ok(p == &hkp_profile_hockeypuck, "profile hockeypuck is registered");
    is_str(p ? p->filters : NULL, "drop:UAT,drop:hardRevokedCruft,"
        "drop:implausible,drop:invalidSelfSig,drop:structuralMartian,"
        "drop:unbound,drop:unparseable,schema:application/pgp-keys,"
        "versions:34,yminsky.dedup,yminsky.merge",
        "its filter string is Hockeypuck 2.2's");
    ok(p && p->hash && p->hash_pkts, "it hashes stored keys and uploads");
    ok(hkp_profile_find("sks") && hkp_profile_find("sks")->hash_pkts == NULL,
        "sks hashes stored keys only");
    is_str(hkp_profile_names(), "sks,hockeypuck", "profile names");
    ok(hkp_profile_find("nosuch") == NULL, "unknown profile: NULL");
}

static void
test_keys(const hkp_pkt_t *k06, const hkp_pkt_t *k15, const hkp_pkt_t *p256)
{
    uint8_t       b[600];
    hkp_hp_key_t  k;
    hkp_pubkey_t  pk;
    uint8_t       fpr[32];
    const char   *why, *err;
    size_t        fl, i;

    ok(hkp_hp_key_read(&k06[P_PK], &k, &why) == 0 && k.version == 4
        && k.algo == HKP_PK_EDDSA_LEG, "EdDSA legacy primary readable");
    fl = hkp_hp_key_fpr(&k06[P_PK], &k, fpr);
    ok(fl == 20 && hkp_pubkey_parse(&k06[P_PK], &pk, &err) == 0
        && memcmp(fpr, pk.fpr, 20) == 0, "v4 fingerprint");
    memcpy(b, k06[P_PK].body, k06[P_PK].len);
    b[18] = 0x41;
    ok(!key_ok(b, k06[P_PK].len, 6), "EdDSA point prefix not 0x40: unreadable");
    memcpy(b, k06[P_PK].body, k06[P_PK].len);
    b[15] ^= 1;
    ok(!key_ok(b, k06[P_PK].len, 6), "unknown curve OID: unreadable");
    ok(!key_ok(k06[P_PK].body, k06[P_PK].len - 1, 6), "truncated point: unreadable");
    memcpy(b, k06[P_PK].body, k06[P_PK].len);
    b[0] = 5;
    ok(!key_ok(b, k06[P_PK].len, 6), "v5 key: unreadable");
    b[0] = 6;
    ok(!key_ok(b, k06[P_PK].len, 6), "v6 key with legacy EdDSA: unreadable");
    memcpy(b, k06[P_PK].body, k06[P_PK].len);
    b[5] = 100;
    ok(!key_ok(b, k06[P_PK].len, 6), "algorithm 100: unreadable");

    /* ECDH subkey: ... 03 01 <hash> <cipher> at the end */
    ok(key_ok(k06[P_SUB].body, k06[P_SUB].len, 14), "ECDH cv25519 subkey readable");
    memcpy(b, k06[P_SUB].body, k06[P_SUB].len);
    b[k06[P_SUB].len - 2] = 2;
    ok(!key_ok(b, k06[P_SUB].len, 14), "ECDH KDF with SHA-1: unreadable");
    b[k06[P_SUB].len - 2] = 8;
    b[k06[P_SUB].len - 1] = 4;
    ok(!key_ok(b, k06[P_SUB].len, 14), "ECDH KDF with Blowfish: unreadable");
    ok(key_ok(k15[3].body, k15[3].len, 14), "native X25519 subkey readable");
    ok(!key_ok(k15[3].body, k15[3].len - 1, 14), "truncated X25519: unreadable");

    ok(key_ok(p256->body, p256->len, 6), "ECDSA P-256 readable");
    memcpy(b, p256->body, p256->len);
    b[p256->len - 1] ^= 1;
    ok(!key_ok(b, p256->len, 6), "ECDSA point off the curve: unreadable");
    memcpy(b, p256->body, p256->len);
    b[18] = 0x02;
    ok(!key_ok(b, p256->len, 6), "ECDSA point not uncompressed: unreadable");

    /* RSA: 04 ctime 01, n (1024 bits), e */
    memset(b, 0, sizeof(b));
    b[0] = 4;
    b[5] = 1;
    b[6] = 0x04;
    b[7] = 0x00;
    for (i = 0; i < 128; i++)
        b[8 + i] = (uint8_t) (0xC1 + i);
    memcpy(b + 136, "\x00\x11\x01\x00\x01", 5);
    ok(key_ok(b, 141, 6), "RSA, e = 65537: readable");
    memcpy(b + 136, "\x00\x19\x01\x00\x00\x01", 6);
    ok(!key_ok(b, 142, 6), "RSA, 25-bit e (4 octets): unreadable");
    ok(!key_ok(b, 100, 6), "RSA, truncated modulus: unreadable");
    /* v3: 03 ctime(4) days(2) algo, n, e */
    memmove(b + 8, b + 6, 136);
    b[0] = 3;
    b[7] = 1;
    memcpy(b + 138, "\x00\x11\x01\x00\x01", 5);
    {
        hkp_pkt_t p = { 6, 143, b };
        ok(hkp_hp_key_read(&p, &k, &why) == 0 && hkp_hp_key_fpr(&p, &k, fpr) == 16,
            "v3 RSA readable, MD5 fingerprint");
    }
    b[7] = 17;
    ok(!key_ok(b, 143, 6), "v3 DSA: unreadable");
}

static void
test_sigs(const hkp_pkt_t *k06)
{
    static const uint8_t crit_unknown[] = { 2, 0x80 | 100, 0 };
    static const uint8_t noncrit_unknown[] = { 2, 100, 0 };
    static const uint8_t exp0[] = { 2, 4, 0 }, exp1[] = { 2, 4, 1 };
    static const uint8_t reason[] = { 2, 29, 3 }, flags[] = { 2, 27, 0x03 };
    const hkp_pkt_t *self = &k06[P_SELF];
    uint8_t          b[1024], emb[600];
    hkp_hp_sig_t     s;
    hkp_pubkey_t     pk;
    const char      *err;
    size_t           n, e;

    ok(sig_ok(self->body, self->len, &s) && s.version == 4 && s.type == 0x13,
        "v4 self-signature readable");
    ok(hkp_pubkey_parse(&k06[P_PK], &pk, &err) == 0
        && memcmp(s.issuer, pk.fpr + 12, 8) == 0, "issuer = primary key ID");
    ok(!s.has_reason && s.flag_sign, "no reason; key flags certify + sign");
    memcpy(b, self->body, self->len);
    b[3] = 1;
    ok(!sig_ok(b, self->len, NULL), "v4 MD5: unreadable");
    b[3] = 3;
    ok(!sig_ok(b, self->len, NULL), "v4 RIPEMD-160: unreadable");
    b[3] = 2;
    ok(sig_ok(b, self->len, NULL), "v4 SHA-1: readable");
    b[3] = 8;
    b[0] = 5;
    ok(!sig_ok(b, self->len, NULL), "v5 signature: unreadable");
    b[0] = 4;
    b[2] = 18;
    ok(!sig_ok(b, self->len, NULL), "signature by ECDH: unreadable");
    ok(!sig_ok(self->body, self->len - 1, NULL), "truncated: unreadable");

    n = sig_edit(self, 0, crit_unknown, 3, 0, NULL, 0, b);
    ok(!sig_ok(b, n, NULL), "hashed critical unknown subpacket: unreadable");
    n = sig_edit(self, 0, noncrit_unknown, 3, 0, NULL, 0, b);
    ok(sig_ok(b, n, NULL), "hashed non-critical unknown subpacket: readable");
    n = sig_edit(self, 0, NULL, 0, 0, crit_unknown, 3, b);
    ok(sig_ok(b, n, NULL), "unhashed critical unknown subpacket: readable");
    n = sig_edit(self, 0, exp0, 3, 0, NULL, 0, b);
    ok(!sig_ok(b, n, NULL), "non-exportable: unreadable");
    n = sig_edit(self, 0, exp1, 3, 0, NULL, 0, b);
    ok(sig_ok(b, n, NULL), "exportable: readable");
    n = sig_edit(self, 2, NULL, 0, 0, NULL, 0, b);
    ok(!sig_ok(b, n, NULL), "no creation time: unreadable");
    n = sig_edit(self, 33, NULL, 0, 16, NULL, 0, b);
    ok(!sig_ok(b, n, NULL), "no issuer at all: unreadable");
    n = sig_edit(self, 0, NULL, 0, 16, NULL, 0, b);
    ok(sig_ok(b, n, &s) && memcmp(s.issuer, pk.fpr + 12, 8) == 0,
        "issuer fingerprint alone: key ID from its last 8 octets");
    n = sig_edit(self, 0, reason, 3, 0, NULL, 0, b);
    ok(sig_ok(b, n, &s) && s.has_reason && s.reason == 3, "hashed reason read");
    n = sig_edit(self, 0, NULL, 0, 0, reason, 3, b);
    ok(sig_ok(b, n, &s) && !s.has_reason, "unhashed reason ignored");
    n = sig_edit(self, 27, NULL, 0, 0, NULL, 0, b);
    ok(sig_ok(b, n, &s) && !s.flag_sign, "no key flags: no sign flag");
    n = sig_edit(self, 27, NULL, 0, 0, flags, 3, b);
    ok(sig_ok(b, n, &s) && !s.flag_sign, "unhashed key flags ignored");
    n = sig_edit(self, 27, flags, 3, 0, NULL, 0, b);
    ok(sig_ok(b, n, &s) && s.flag_sign, "hashed key flags: sign");

    /* embedded signatures: the self-signature itself (0x13), then as 0x19 */
    e = 0;
    emb[e++] = 255;
    emb[e++] = 0;
    emb[e++] = 0;
    emb[e++] = (uint8_t) ((self->len + 1) >> 8);
    emb[e++] = (uint8_t) (self->len + 1);
    emb[e++] = 32;
    memcpy(emb + e, self->body, self->len);
    e += self->len;
    n = sig_edit(self, 0, NULL, 0, 0, emb, e, b);
    ok(!sig_ok(b, n, NULL), "embedded signature of type 0x13: unreadable");
    emb[6 + 1] = 0x19;
    n = sig_edit(self, 0, NULL, 0, 0, emb, e, b);
    ok(sig_ok(b, n, NULL), "embedded 0x19: readable");
    memcpy(emb + e, emb, e);
    n = sig_edit(self, 0, NULL, 0, 0, emb, 2 * e, b);
    ok(!sig_ok(b, n, NULL), "two embedded signatures: unreadable");

    /* v3: 03 05 type ctime(4) issuer(8) pk hash left16(2) MPI */
    memcpy(b, "\x03\x05\x13\x5f\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08"
        "\x01\x01\xAB\xCD\x00\x08\x7F", 22);
    ok(sig_ok(b, 22, &s) && s.version == 3 && s.hash_algo == HKP_MD_MD5,
        "v3 MD5 signature: readable");
    b[HKP_V3SIG_OFF_HASH_ALGO] = HKP_MD_RIPEMD160;
    ok(!sig_ok(b, 22, NULL), "v3 RIPEMD-160: unreadable");
    b[HKP_V3SIG_OFF_HASH_ALGO] = HKP_MD_SHA1;
    b[HKP_V3SIG_OFF_PK_ALGO] = HKP_PK_EDDSA_LEG;
    ok(!sig_ok(b, 22, NULL), "v3 EdDSA: unreadable");
    b[HKP_V3SIG_OFF_PK_ALGO] = HKP_PK_RSA;
    b[1] = 6;
    ok(!sig_ok(b, 22, NULL), "v3 hashed length not 5: unreadable");
}

static void
test_plausible(const hkp_pkt_t *k06)
{
    hkp_hp_key_t pk, sk;
    hkp_hp_sig_t s;
    const char  *why;
    uint8_t      b[512];
    hkp_pkt_t    bad;

    hkp_hp_key_read(&k06[P_PK], &pk, &why);
    hkp_hp_key_read(&k06[P_SUB], &sk, &why);
    hkp_hp_sig_read(&k06[P_CERT], &s, &why);
    ok(hkp_hp_plausible(&k06[P_PK], &pk, &k06[P_UID], NULL, &s),
        "third-party certification: plausible");
    ok(!hkp_hp_plausible(&k06[P_PK], &pk, &k06[P_SUB], &sk, &s),
        "the same over the subkey: implausible");
    memcpy(b, k06[P_CERT].body, k06[P_CERT].len);
    bad = k06[P_CERT];
    bad.body = b;
    b[left16_at(b)] ^= 0xFF;
    hkp_hp_sig_read(&bad, &s, &why);
    ok(!hkp_hp_plausible(&k06[P_PK], &pk, &k06[P_UID], NULL, &s),
        "wrong left 16 bits: implausible");
    hkp_hp_sig_read(&k06[P_BIND], &s, &why);
    ok(hkp_hp_plausible(&k06[P_PK], &pk, &k06[P_SUB], &sk, &s),
        "subkey binding's quick check over primary + subkey");
}

static void
test_rules(const hkp_pkt_t *k06)
{
    static uint8_t big[BUF_LEN];
    static const uint8_t marker[] = { 'P', 'G', 'P' }, trust[] = { 0, 0 };
    hkp_pkt_t   v[FILLER_UIDS + 16], cert;
    char        got[40], want[40];
    const char *why;
    uint8_t     b[512];
    size_t      n;
    hkp_key_t   canon;
    char        err[HKP_REASON_LEN];
    uint8_t     h[HKP_HASH_LEN];

    memset(big, 'x', sizeof(big));
    hp_hash(k06, P_N, got, &why);
    is_str(got, K06_HASH, "06-third-party: Hockeypuck's hash");
    ok(hkp_key_canon(k06, P_N, NULL, &canon, err, sizeof(err)) == 0
        && hkp_profile_hockeypuck.hash(&hkp_profile_hockeypuck, &canon, h, &why)
           == HKP_PROFILE_HASHED, "its stored form hashes");
    hkp_hex(h, HKP_HASH_LEN, got);
    is_str(got, K06_HASH, "its stored form: the same hash");
    hkp_key_free(&canon);

    /* a trust packet before the certification: dropped "out of context" */
    memcpy(v, k06, 3 * sizeof(*v));
    v[3] = (hkp_pkt_t) { HKP_TAG_TRUST, 2, trust };
    memcpy(v + 4, k06 + 3, 3 * sizeof(*v));
    hp_hash(v, 7, got, &why);
    sks_of(k06, (const int[]) { P_PK, P_UID, P_SELF, P_SUB, P_BIND, -1 }, want);
    is_str(got, want, "signature after a trust packet: dropped");
    /* a marker there: skipped, nothing else changes */
    v[3] = (hkp_pkt_t) { 10, 3, marker };
    hp_hash(v, 7, got, &why);
    is_str(got, K06_HASH, "marker packet: skipped");
    /* a user attribute with a copy of the self-signature: both dropped */
    memcpy(v, k06, 4 * sizeof(*v));
    v[4] = (hkp_pkt_t) { HKP_TAG_UAT, 3, marker };
    v[5] = k06[P_SELF];
    memcpy(v + 6, k06 + 4, 2 * sizeof(*v));
    hp_hash(v, 8, got, &why);
    is_str(got, K06_HASH, "user attribute and its signature: dropped");
    /* a 9000-byte user ID between the user ID and its signatures */
    memcpy(v, k06, 2 * sizeof(*v));
    v[2] = (hkp_pkt_t) { HKP_TAG_UID, BIG, big };
    memcpy(v + 3, k06 + 2, 4 * sizeof(*v));
    hp_hash(v, 7, got, &why);
    is_str(got, K06_HASH, "packet over 8192 bytes: skipped as if absent");
    /* bodies over 1 MiB in all */
    memcpy(v, k06, P_N * sizeof(*v));
    for (n = 0; n < FILLER_UIDS; n++)
        v[P_N + n] = (hkp_pkt_t) { HKP_TAG_UID, 8192, big + n * 8192 };
    ok(hp_hash(v, P_N + FILLER_UIDS, got, &why) == HKP_PROFILE_DROPPED
        && why && strstr(why, "maxKeyLength"), "key over 1 MiB: dropped (%s)",
        why ? why : "");
    ok(hp_hash(v, P_N + FILLER_UIDS - 2, got, &why) == HKP_PROFILE_HASHED,
        "just under 1 MiB: hashed");

    /* the certification's quick check wrong: dropped */
    memcpy(b, k06[P_CERT].body, k06[P_CERT].len);
    cert = k06[P_CERT];
    cert.body = b;
    b[left16_at(b)] ^= 0xFF;
    memcpy(v, k06, P_N * sizeof(*v));
    v[P_CERT] = cert;
    hp_hash(v, P_N, got, &why);
    sks_of(k06, (const int[]) { P_PK, P_UID, P_SELF, P_SUB, P_BIND, -1 }, want);
    is_str(got, want, "implausible certification: dropped");
    /* its type made 0x18 (a binding under a user ID): dropped */
    memcpy(b, k06[P_CERT].body, k06[P_CERT].len);
    b[1] = 0x18;
    hp_hash(v, P_N, got, &why);
    is_str(got, want, "third-party 0x18 under a user ID: dropped");
    /* the self-signature's MPI broken: the user ID goes, the subkey stays */
    memcpy(b, k06[P_SELF].body, k06[P_SELF].len);
    cert = k06[P_SELF];
    cert.body = b;
    b[cert.len - 1] ^= 0x01;
    memcpy(v, k06, P_N * sizeof(*v));
    v[P_SELF] = cert;
    hp_hash(v, P_N, got, &why);
    sks_of(k06, (const int[]) { P_PK, P_SUB, P_BIND, -1 }, want);
    is_str(got, want, "user ID whose self-signature fails: dropped with its certification");
    /* and without the subkey binding too: the key evaporates */
    ok(hp_hash(v, P_BIND, got, &why) == HKP_PROFILE_DROPPED
        && why && strstr(why, "self-signature"), "no valid self-signature left: dropped");
    /* subkey without binding: dropped */
    hp_hash(k06, P_BIND, got, &why);
    sks_of(k06, (const int[]) { P_PK, P_UID, P_SELF, P_CERT, -1 }, want);
    is_str(got, want, "subkey without binding: dropped");
    /* unreadable primary; a second primary; nothing */
    memcpy(b, k06[P_PK].body, k06[P_PK].len);
    v[0] = (hkp_pkt_t) { HKP_TAG_PUBKEY, k06[P_PK].len, b };
    b[5] = 100;
    memcpy(v + 1, k06 + 1, (P_N - 1) * sizeof(*v));
    ok(hp_hash(v, P_N, got, &why) == HKP_PROFILE_DROPPED, "unreadable primary: dropped");
    memcpy(v, k06, P_N * sizeof(*v));
    v[P_N] = k06[P_PK];
    ok(hp_hash(v, P_N + 1, got, &why) == HKP_PROFILE_DROPPED, "two primaries: dropped");
    ok(hp_hash(k06 + 1, P_N - 1, got, &why) == HKP_PROFILE_DROPPED, "no primary first: dropped");
    ok(hp_hash(k06, 0, got, &why) == HKP_PROFILE_DROPPED, "no packets: dropped");
}

/* The form the profile hashes (profile.h form), for each hostile key our
 * store keeps: in key order (primary first, each signature after the
 * packet it is on), hashing to the key's hockeypuck hash both as an SKS
 * hash (nothing else in it) and under the profile again (it keeps all of
 * it); hostile 02's photo ID is not in it. */
typedef struct {
    int      n, ordered, same, whole, uat;
} form_ctx_t;

static int
form_cb(void *vctx, size_t index, hkp_key_t *key, const char *reason)
{
    form_ctx_t      *c = vctx;
    const hkp_profile_t *p = &hkp_profile_hockeypuck;
    hkp_pkt_t       *f = NULL;
    size_t           nf = 0;
    uint8_t          h[HKP_HASH_LEN], hf[HKP_HASH_LEN], hs[HKP_HASH_LEN];
    const char      *why;

    (void) index;
    (void) reason;
    if (key == NULL)
        return 0;
    if (p->hash(p, key, h, &why) == HKP_PROFILE_HASHED
        && p->form(p, key, &f, &nf, &why) == HKP_PROFILE_HASHED)
    {
        int ord = nf > 0 && f[0].tag == HKP_TAG_PUBKEY;
        for (size_t i = 1; i < nf; i++)
            ord &= f[i].tag == HKP_TAG_SIG || f[i].tag == HKP_TAG_UID
                || f[i].tag == HKP_TAG_PUBSUB;
        for (size_t i = 0; i < nf; i++)
            c->uat += f[i].tag == HKP_TAG_UAT;
        hkp_key_hash(f, nf, hs);
        c->n++;
        c->ordered += ord;
        c->same += memcmp(hs, h, HKP_HASH_LEN) == 0;
        c->whole += p->hash_pkts(p, f, nf, hf, &why) == HKP_PROFILE_HASHED
            && memcmp(hf, h, HKP_HASH_LEN) == 0;
        free(f);
    }
    hkp_key_free(key);
    free(key);
    return 0;
}

static void
test_form(void)
{
    static const char *const files[] = {
        "02-photo", "03-hard-revoked", "06-third-party", "07-subkey-no-binding",
        "08-uid-badsig-rsa", "14-subkey-unknown-algo", "16-martian-sig",
        "17-implausible-cert", "18-oversized-sig", "19-uid-no-selfsig",
        "20-subkey-bad-binding", "21-revoked-no-reason"
    };
    const size_t nfile = sizeof(files) / sizeof(files[0]);
    form_ctx_t   c = { 0, 0, 0, 0, 0 };
    hkp_pkt_t    f0, *f = &f0;
    size_t       nf = 1;
    const char  *why = NULL;

    for (size_t i = 0; i < nfile; i++) {
        char        path[1024], err[HKP_REASON_LEN];
        const char *dir = getenv("HKP_TEST_DATA");
        size_t      len;
        uint8_t    *buf;

        snprintf(path, sizeof(path), "%s/hockeypuck-2.2/hostile/%s.pgp",
            dir ? dir : "t/data", files[i]);
        if ((buf = read_file(path, &len)) == NULL)
            continue;
        (void) hkp_keys_parse(buf, len, NULL, form_cb, &c, err, sizeof(err));
        free(buf);
    }
    ok(c.n == (int) nfile, "form: every key kept by the profile has one");
    ok(c.ordered == c.n, "form: primary first, user IDs, subkeys, signatures");
    ok(c.same == c.n, "form: its SKS hash is the profile's hash");
    ok(c.whole == c.n, "form: the profile keeps all of it again");
    ok(c.uat == 0, "form: hostile 02's photo ID is not in it");
    ok(hkp_profile_sks.form == NULL, "sks: no form (the stored key as it is)");
    {
        hkp_key_t bare;
        memset(&bare, 0, sizeof(bare));
        ok(hkp_profile_hockeypuck.form(&hkp_profile_hockeypuck, &bare, &f,
            &nf, &why) == HKP_PROFILE_DROPPED && f == NULL && nf == 0
            && why != NULL, "form of no packets: dropped, nothing allocated");
    }
}

int
main(void)
{
    hkp_pkt_t k06[MAX_PKTS], k15[MAX_PKTS], p256[MAX_PKTS];
    size_t    n06, n15, np;

    n06 = load("hockeypuck-2.2/hostile/06-third-party.pgp", k06, MAX_PKTS);
    n15 = load("hockeypuck-2.2/hostile/15-subkey-x25519-native.pgp", k15, MAX_PKTS);
    np = load("sigverify/v4-ecdsa-p256.pgp", p256, MAX_PKTS);
    if (!ok(n06 == P_N && n15 == 5 && np >= 1, "test keys loaded"))
        return tap_done();
    test_registry();
    test_keys(k06, k15, &p256[0]);
    test_sigs(k06);
    test_plausible(k06);
    test_rules(k06);
    test_form();
    for (int i = 0; i < nfiles; i++)
        free(file_buf[i]);
    return tap_done();
}
