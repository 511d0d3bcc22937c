/*
 * Unit tests of shared/sigverify*.c: RFC 9580's sample keys and
 * signatures, the Hockeypuck 2.2 hostile vectors (verdicts must agree with
 * their index.tsv), every self-signature, binding and (where the signer is
 * in the keyring) certification of Debian's keyring, keys made for these
 * tests by t/data/sigverify/gen.py (every algorithm, curve, hash and
 * version), corrupted, truncated and random signatures, and the cache
 * (also from several threads).
 *
 * HKP_SIGV_DUMP=1 prints every signature's verdict.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigverify.h"
#include "tap.h"
#include "util.h"
#include "sigv_walk.h"

#define DEBIAN_KEYRING  "/usr/share/keyrings/debian-keyring.gpg"
/* Debian 12's debian-keyring 2022.12.24 has exactly this size; the exact
 * counts below are for it (another version gets ratio checks only). */
#define DEBIAN_KEYRING_SIZE  28549145L

#define NCODES 6    /* OK and the five errors */

static int dump;

static int
code_ix(int r)
{
    return r <= 0 && r >= -(NCODES - 1) ? -r : NCODES - 1;
}

static const char *
code_name(int r)
{
    static const char *names[] = { "OK", "EBAD", "EUNSUPPORTED", "EMALFORMED",
                                   "ENOBACKSIG", "ETYPE" };
    return r <= 0 && r >= -5 ? names[-r] : "?";
}

/* The packet at index i of a file, by tag and order: the n-th (0-based)
 * packet with that tag. */
static const hkp_pkt_t *
nth_tag(const pkts_t *p, int tag, int n)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->p[i].tag == tag && n-- == 0)
            return &p->p[i];
    return NULL;
}

/* A copy of a packet (body malloc'd) to mutate. */
typedef struct {
    hkp_pkt_t  pkt;
    uint8_t   *mem;
} pktcopy_t;

static void
pkt_copy(pktcopy_t *c, const hkp_pkt_t *p)
{
    c->mem = malloc(p->len ? p->len : 1);
    memcpy(c->mem, p->body, p->len);
    c->pkt = *p;
    c->pkt.body = c->mem;
}

/* ------------------------------------------------------------------ */
/* RFC 9580 Appendix A                                                */

static int
load_hex_pkt(const char *name, uint8_t *buf, size_t max, hkp_pkt_t *pkt)
{
    size_t       len, used;
    uint8_t     *txt = read_file(data_path(name), &len);
    char        *hex, *line, *save = NULL;
    size_t       hl = 0;
    int          n;
    const char  *err;

    if (txt == NULL)
        return -1;
    hex = calloc(1, len + 1);
    txt = realloc(txt, len + 1);
    txt[len] = 0;
    for (line = strtok_r((char *) txt, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        if (line[0] != '#') {
            memcpy(hex + hl, line, strlen(line));
            hl += strlen(line);
        }
    n = unhex(hex, buf, max);
    free(hex);
    free(txt);
    if (n <= 0)
        return -1;
    return hkp_pkt_read(buf, (size_t) n, pkt, &used, &err) == 0
        && used == (size_t) n ? 0 : -1;
}

static void
test_rfc9580(void)
{
    static const char text[] = "What we need from the grocery store:\r\n\r\n"
        "- tofu\r\n- vegetables\r\n- noodles\r\n";
    pkts_t     a1, a3;
    uint8_t    sb1[512], sb2[512];
    hkp_pkt_t  s2, s6;
    pktcopy_t  c;
    const hkp_pkt_t *pk, *dk, *sub, *bind;

    ok(pkts_load("rfc9580-a1-v4-ed25519legacy.asc", &a1) == 0 && a1.n == 1,
        "RFC 9580 A.1 v4 Ed25519Legacy key loads");
    ok(load_hex_pkt("rfc9580-a2-v4-ed25519legacy-sig.hex", sb1, sizeof(sb1),
        &s2) == 0, "RFC 9580 A.2 signature loads");
    is_int(hkp_sig_verify_data(&a1.p[0], &s2, (const uint8_t *) "OpenPGP", 7),
        HKP_SIG_OK, "A.2: v4 EdDSA legacy (SHA-256) over \"OpenPGP\" verifies");
    is_int(hkp_sig_verify_data(&a1.p[0], &s2, (const uint8_t *) "OpenPGp", 7),
        HKP_SIG_EBAD, "A.2: other data does not");
    is_int(hkp_sig_verify(&a1.p[0], &a1.p[0], NULL, &s2), HKP_SIG_ETYPE,
        "A.2: a document signature is no key signature (ETYPE)");

    ok(pkts_load("rfc9580-a3-v6-cert.asc", &a3) == 0 && a3.n == 4,
        "RFC 9580 A.3 v6 certificate loads (key, 0x1F, subkey, 0x18)");
    pk = nth_tag(&a3, HKP_TAG_PUBKEY, 0);
    dk = nth_tag(&a3, HKP_TAG_SIG, 0);
    sub = nth_tag(&a3, HKP_TAG_PUBSUB, 0);
    bind = nth_tag(&a3, HKP_TAG_SIG, 1);
    if (pk == NULL || dk == NULL || sub == NULL || bind == NULL) {
        ok(0, "A.3 has its four packets");
        return;
    }
    is_int(hkp_sig_verify(pk, pk, NULL, dk), HKP_SIG_OK,
        "A.3: v6 Ed25519 direct-key signature (0x1F, salted SHA-512) verifies");
    is_int(hkp_sig_verify(pk, pk, sub, bind), HKP_SIG_OK,
        "A.3: v6 subkey binding (0x18) of the X25519 subkey verifies");
    is_int(hkp_sig_verify(pk, pk, sub, dk), HKP_SIG_ETYPE,
        "A.3: 0x1F with a subkey target is ETYPE");
    is_int(hkp_sig_verify(pk, pk, NULL, bind), HKP_SIG_ETYPE,
        "A.3: 0x18 without a subkey is ETYPE");
    is_int(hkp_sig_verify(sub, pk, NULL, dk), HKP_SIG_EUNSUPPORTED,
        "A.3: the X25519 subkey as signer is EUNSUPPORTED (cannot sign)");

    /* salt flipped: the digest changes */
    pkt_copy(&c, dk);
    for (size_t i = 0; i + 1 < c.pkt.len; i++) {
        /* the salt follows the 0x20 (32) salt length after left16 */
        if (c.mem[i] == 0x20 && i > 10) {
            c.mem[i + 1] ^= 0x01;
            break;
        }
    }
    is_int(hkp_sig_verify(pk, pk, NULL, &c.pkt), HKP_SIG_EBAD,
        "A.3: 0x1F with one salt bit flipped is EBAD");
    free(c.mem);
    /* primary key material changed */
    pkt_copy(&c, pk);
    c.mem[c.pkt.len - 1] ^= 0x80;
    is_int(hkp_sig_verify(pk, &c.pkt, NULL, dk), HKP_SIG_EBAD,
        "A.3: 0x1F over another primary is EBAD");
    free(c.mem);

    ok(load_hex_pkt("rfc9580-a6-v6-text-sig.hex", sb2, sizeof(sb2), &s6) == 0,
        "RFC 9580 A.6 signature loads");
    is_int(hkp_sig_verify_data(pk, &s6, (const uint8_t *) text,
        sizeof(text) - 1), HKP_SIG_OK,
        "A.6: v6 Ed25519 text signature (0x01) over the canonical text verifies");
    is_int(hkp_sig_verify_data(pk, &s6, (const uint8_t *) text,
        sizeof(text) - 3), HKP_SIG_EBAD,
        "A.6: without the last line end it does not");
    is_int(hkp_sig_verify_data(&a1.p[0], &s6, (const uint8_t *) text,
        sizeof(text) - 1), HKP_SIG_EBAD,
        "A.6: v6 signature with a v4 key as signer is EBAD");
    pkts_free(&a1);
    pkts_free(&a3);
}

/* ------------------------------------------------------------------ */
/* Walking files                                                      */

typedef struct {
    const char     *file;
    unsigned long   self[NCODES], third[NCODES];
    unsigned long   no_signer;
    /* the non-OK verdicts, as "index:type:code" (first few) */
    char            bad[512];
    size_t          badlen;
    int             bad_per_line;
} tally_t;

static void
tally_cb(void *ctx, const walk_sig_t *ws)
{
    tally_t *t = ctx;
    int      r;

    if (ws->signer == NULL) {
        t->no_signer++;
        return;
    }
    r = hkp_sig_verify(ws->signer, ws->primary, ws->target, ws->sig);
    (ws->self ? t->self : t->third)[code_ix(r)]++;
    if (dump)
        printf("# %s pkt %zu type 0x%02x %s: %s\n", t->file, ws->index,
            ws->type & 0xFF, ws->self ? "self" : "third", code_name(r));
    if (r != HKP_SIG_OK && t->badlen + 40 < sizeof(t->bad))
        t->badlen += (size_t) snprintf(t->bad + t->badlen,
            sizeof(t->bad) - t->badlen, "%s%zu:%02x:%s",
            t->badlen ? " " : "", ws->index, ws->type & 0xFF, code_name(r));
}

/* ------------------------------------------------------------------ */
/* Hockeypuck 2.2 hostile vectors                                     */

typedef struct {
    const char *file;
    const char *bad;     /* expected non-OK verdicts, tally_t.bad format */
    const char *why;
} hostile_t;

static const hostile_t hostile[] = {
    { "00-gpg-signer.pgp", "", "Ed25519 key, all sigs good" },
    { "01-py-signer.pgp", "", "Ed25519 key, all sigs good" },
    { "02-photo.pgp", "", "UID and UAT (0xD1 prefix) self-sigs good" },
    { "03-hard-revoked.pgp", "", "0x20 revocation and certs good" },
    { "04-soft-revoked.pgp", "", "0x20 revocation and certs good" },
    { "05-expired.pgp", "", "expired, but the sigs verify" },
    { "06-third-party.pgp", "", "0x10 by gpg-signer verifies" },
    { "07-subkey-no-binding.pgp", "", "nothing to verify for the unbound subkey" },
    { "08-uid-badsig-rsa.pgp", "2:13:EBAD", "the \"(corrupted)\" UID's self-sig, RSA MPI byte flipped" },
    { "09-uid-badsig-eddsa.pgp", "2:13:EBAD", "the \"(corrupted)\" UID's self-sig, EdDSA S flipped" },
    { "10-dup-sig.pgp", "", "same good sig twice" },
    { "11-dup-uid.pgp", "", "UID repeated after the subkey" },
    { "12-trust-packets.pgp", "", "trust packets skipped" },
    { "13-marker.pgp", "", "marker packet skipped" },
    { "14-subkey-unknown-algo.pgp", "", "binding of an algo-100 subkey verifies" },
    { "15-subkey-x25519-native.pgp", "", "binding of an X25519 (25) subkey verifies" },
    { "16-martian-sig.pgp", "3:18:ETYPE", "0x18 under the UID" },
    { "17-implausible-cert.pgp", "4:10:EBAD", "cert with a wrong quick check" },
    { "18-oversized-sig.pgp", "", "9000-byte notation, still verifies" },
    { "19-uid-no-selfsig.pgp", "", "nothing to verify for the 2nd UID" },
    { "20-subkey-bad-binding.pgp", "4:18:EBAD", "0x18 with S flipped" },
    { "21-revoked-no-reason.pgp", "", "0x20 without reason verifies" },
    { "22-only-uid-badsig.pgp", "2:13:EBAD", "the only UID self-sig, S flipped" },
    { "23-primary-unknown-algo.pgp", "2:13:EUNSUPPORTED", "algorithm 100 cannot be checked" },
    { "24-v3-rsa.pgp", "", "v3 RSA key, v3 MD5 0x10 self-sig (UID without prefix)" },
};

static void
test_hostile(void)
{
    pkts_t  signers[2], k;
    kidx_t  ix;
    char    name[256];
    size_t  nh = sizeof(hostile) / sizeof(hostile[0]);

    memset(&ix, 0, sizeof(ix));
    ok(pkts_load("hockeypuck-2.2/hostile/00-gpg-signer.pgp", &signers[0]) == 0
        && pkts_load("hockeypuck-2.2/hostile/01-py-signer.pgp", &signers[1]) == 0,
        "hostile: the two third-party signers load");
    kidx_add(&ix, &signers[0]);
    kidx_add(&ix, &signers[1]);
    for (size_t i = 0; i < nh; i++) {
        tally_t t;
        unsigned long nself = 0, nthird = 0;
        memset(&t, 0, sizeof(t));
        t.file = hostile[i].file;
        snprintf(name, sizeof(name), "hockeypuck-2.2/hostile/%s",
            hostile[i].file);
        if (pkts_load(name, &k) != 0) {
            ok(0, "hostile %s loads", hostile[i].file);
            continue;
        }
        walk_sigs(&k, &ix, tally_cb, &t);
        for (int c = 0; c < NCODES; c++) {
            nself += t.self[c];
            nthird += t.third[c];
        }
        ok(strcmp(t.bad, hostile[i].bad) == 0 && nself + nthird > 0
            && t.no_signer == 0,
            "hostile %s: %lu self, %lu third-party sigs; non-OK [%s] (%s)",
            hostile[i].file, nself, nthird, t.bad, hostile[i].why);
        if (strcmp(t.bad, hostile[i].bad) != 0)
            diag("  expected [%s]", hostile[i].bad);
        pkts_free(&k);
    }
    pkts_free(&signers[0]);
    pkts_free(&signers[1]);
    free(ix.e);
}

/* ------------------------------------------------------------------ */
/* Keys made by t/data/sigverify/gen.py                               */

typedef struct {
    const char *file;
    int         nok;     /* self-sigs that verify */
    const char *bad;     /* the others, tally_t.bad format */
    const char *what;
} genkey_t;

static const genkey_t genkeys[] = {
    { "v4-rsa.pgp", 17, "", "RSA: 0x13 with MD5, SHA-1, SHA-2 (224-512), "
      "SHA3-256/512; 0x10-0x12, 0x30, 0x1F, 0x20; 0x18 + 0x19, 0x18, 0x28" },
    { "v4-dsa2048.pgp", 2, "", "DSA 2048/256 with SHA-256 and SHA-512 (truncated)" },
    { "v4-dsa1024.pgp", 2, "", "DSA 1024/160 with SHA-1 and SHA-256 (truncated)" },
    { "v4-ecdsa-p256.pgp", 3, "", "ECDSA NIST P-256, SHA-256/512, signing subkey" },
    { "v4-ecdsa-p384.pgp", 3, "", "ECDSA NIST P-384, SHA-384/512, signing subkey" },
    { "v4-ecdsa-p521.pgp", 3, "", "ECDSA NIST P-521, SHA-512, SHA3-512, signing subkey" },
    { "v4-ecdsa-bp256.pgp", 3, "", "ECDSA brainpoolP256r1, signing subkey" },
    { "v4-ecdsa-bp384.pgp", 3, "", "ECDSA brainpoolP384r1, signing subkey" },
    { "v4-ecdsa-bp512.pgp", 3, "", "ECDSA brainpoolP512r1, signing subkey" },
    { "v4-ecdsa-k256.pgp", 3, "", "ECDSA secp256k1, signing subkey" },
    { "v4-eddsa-backsig.pgp", 4,
      "8:18:ENOBACKSIG 10:18:ENOBACKSIG 12:18:ENOBACKSIG",
      "EdDSA legacy signing subkeys: 0x19 hashed, 0x19 unhashed, none, "
      "corrupted, no key flags (algorithm can sign) and none, encrypt-only" },
    { "v4-ed25519.pgp", 3, "", "Ed25519 (27) in a v4 key, SHA-512/SHA3-512" },
    { "v4-ed448.pgp", 3, "", "Ed448 (28) in a v4 key, SHA-512/SHA3-512" },
    { "v6-ed25519.pgp", 6, "7:13:EBAD", "v6 Ed25519, salted SHA-2/SHA3; "
      "SHA-224 is too short for Ed25519" },
    { "v6-ed448.pgp", 4, "5:13:EBAD", "v6 Ed448, salted SHA-512/SHA3-512; "
      "SHA-256 is too short for Ed448" },
    { "v6-rsa.pgp", 7, "", "v6 RSA-3072, salted SHA-2/SHA3" },
    { "v6-p384.pgp", 7, "", "v6 ECDSA P-384, salted SHA-2/SHA3" },
};

static void
test_genkeys(void)
{
    char   name[256];
    size_t ng = sizeof(genkeys) / sizeof(genkeys[0]);

    for (size_t i = 0; i < ng; i++) {
        tally_t t;
        pkts_t  k;
        memset(&t, 0, sizeof(t));
        t.file = genkeys[i].file;
        snprintf(name, sizeof(name), "sigverify/%s", genkeys[i].file);
        if (pkts_load(name, &k) != 0) {
            ok(0, "%s loads", genkeys[i].file);
            continue;
        }
        walk_sigs(&k, NULL, tally_cb, &t);
        ok(t.self[0] == (unsigned long) genkeys[i].nok
            && strcmp(t.bad, genkeys[i].bad) == 0,
            "%s: %lu verify, non-OK [%s] (%s)", genkeys[i].file, t.self[0],
            t.bad, genkeys[i].what);
        if (strcmp(t.bad, genkeys[i].bad) != 0 || t.self[0] != (unsigned long) genkeys[i].nok)
            diag("  expected %d OK, [%s]", genkeys[i].nok, genkeys[i].bad);
        pkts_free(&k);
    }
}

/* ------------------------------------------------------------------ */
/* Debian's keyring                                                   */

typedef struct {
    tally_t          t;
    unsigned long    bytype_self[256][NCODES];
    /* verified (OK) sigs by public-key algorithm, hash, version */
    unsigned long    algo_hash[64][16];
    unsigned long    by_version[8];
} deb_t;

static void
deb_cb(void *ctx, const walk_sig_t *ws)
{
    deb_t *d = ctx;
    int    r;

    if (ws->signer == NULL) {
        d->t.no_signer++;
        return;
    }
    r = hkp_sig_verify(ws->signer, ws->primary, ws->target, ws->sig);
    (ws->self ? d->t.self : d->t.third)[code_ix(r)]++;
    if (ws->self && ws->type >= 0)
        d->bytype_self[ws->type][code_ix(r)]++;
    if (r == HKP_SIG_OK) {
        hkp_sig_t   s;
        const char *err;
        if (hkp_sig_parse(ws->sig, &s, &err) == 0) {
            d->algo_hash[s.pk_algo & 63][s.hash_algo & 15]++;
            d->by_version[s.version & 7]++;
        }
    }
    if (r != HKP_SIG_OK && (ws->self || dump)) {
        hkp_pubkey_t pk;
        hkp_sig_t    s;
        const char  *err;
        char         fpr[65];
        int          hv = -1, pa = -1, sv = -1;
        if (hkp_pubkey_parse(ws->primary, &pk, &err) != 0)
            pk.fpr_len = 0;
        hkp_hex(pk.fpr, pk.fpr_len, fpr);
        if (hkp_sig_parse(ws->sig, &s, &err) == 0) {
            hv = s.hash_algo;
            pa = s.pk_algo;
            sv = s.version;
        }
        printf("# debian: %s sig pkt %zu on %s: type 0x%02x v%d pk %d hash %d: %s\n",
            ws->self ? "self" : "third", ws->index, fpr, ws->type & 0xFF, sv,
            pa, hv, code_name(r));
    }
}

static void
test_debian(void)
{
    static deb_t  d;
    pkts_t        p;
    kidx_t        ix;
    unsigned long nself = 0, nthird = 0, nkeys = 0;
    FILE         *f;
    long          size = -1;

    memset(&ix, 0, sizeof(ix));
    if ((f = fopen(DEBIAN_KEYRING, "rb")) != NULL) {
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fclose(f);
    }
    if (!ok(pkts_load(DEBIAN_KEYRING, &p) == 0,
            "debian-keyring loads (%s, %ld bytes; package debian-keyring)",
            DEBIAN_KEYRING, size))
        return;
    for (size_t i = 0; i < p.n; i++)
        nkeys += p.p[i].tag == HKP_TAG_PUBKEY;
    kidx_add(&ix, &p);
    d.t.file = "debian";
    walk_sigs(&p, &ix, deb_cb, &d);
    for (int c = 0; c < NCODES; c++) {
        nself += d.t.self[c];
        nthird += d.t.third[c];
    }
    diag("debian-keyring: %lu keys, %lu self-sigs/bindings, %lu "
        "certifications by keys in the keyring, %lu by others (not checked)",
        nkeys, nself, nthird, d.t.no_signer);
    for (int c = 0; c < NCODES; c++)
        diag("  %-12s self %6lu  third-party %6lu", code_name(-c),
            d.t.self[c], d.t.third[c]);
    for (int ty = 0; ty < 256; ty++) {
        unsigned long n = 0;
        for (int c = 0; c < NCODES; c++)
            n += d.bytype_self[ty][c];
        if (n)
            diag("  self type 0x%02x: %lu, OK %lu", ty, n,
                d.bytype_self[ty][0]);
    }
    for (int a = 0; a < 64; a++)
        for (int h = 0; h < 16; h++)
            if (d.algo_hash[a][h])
                diag("  verified with public-key algorithm %d, hash %d: %lu",
                    a, h, d.algo_hash[a][h]);
    for (int v = 0; v < 8; v++)
        if (d.by_version[v])
            diag("  verified v%d signatures: %lu", v, d.by_version[v]);
    if (size == DEBIAN_KEYRING_SIZE) {
        /* Debian 12's keyring: everything verifies */
        is_int((long long) nkeys, 905, "debian: 905 keys");
        is_int((long long) d.t.self[0], 6560,
            "debian: all 6560 self-signatures and bindings verify");
        is_int((long long) nself, 6560, "debian: no self-signature fails");
        is_int((long long) d.t.third[0], 34431,
            "debian: all 34431 certifications by keyring keys verify");
        is_int((long long) nthird, 34431, "debian: no certification fails");
    } else {
        ok(nkeys > 100 && nself > 1000 && d.t.self[0] * 100 >= nself * 99,
            "debian (other version): >= 99%% of %lu self-sigs verify", nself);
        ok(d.t.third[0] * 100 >= nthird * 99,
            "debian (other version): >= 99%% of %lu certifications verify",
            nthird);
    }
    pkts_free(&p);
    free(ix.e);
}

/* ------------------------------------------------------------------ */

int
main(void)
{
    dump = getenv("HKP_SIGV_DUMP") != NULL;
    test_rfc9580();
    test_hostile();
    test_genkeys();
    test_debian();
    return tap_done();
}
