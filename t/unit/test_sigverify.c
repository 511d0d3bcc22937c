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
#define PK_IDS 64   /* public-key algorithm IDs tallied (mod PK_IDS) */
#define MD_IDS 16   /* hash algorithm IDs tallied (mod MD_IDS) */

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

    ok(pkts_load("sigverify/rfc9580-a1-v4-ed25519legacy.asc", &a1) == 0 && a1.n == 1,
        "RFC 9580 A.1 v4 Ed25519Legacy key loads");
    ok(load_hex_pkt("sigverify/rfc9580-a2-v4-ed25519legacy-sig.hex", sb1, sizeof(sb1),
        &s2) == 0, "RFC 9580 A.2 signature loads");
    is_int(hkp_sig_verify_data(&a1.p[0], &s2, (const uint8_t *) "OpenPGP", 7),
        HKP_SIG_OK, "A.2: v4 EdDSA legacy (SHA-256) over \"OpenPGP\" verifies");
    is_int(hkp_sig_verify_data(&a1.p[0], &s2, (const uint8_t *) "OpenPGp", 7),
        HKP_SIG_EBAD, "A.2: other data does not");
    is_int(hkp_sig_verify(&a1.p[0], &a1.p[0], NULL, &s2), HKP_SIG_ETYPE,
        "A.2: a document signature is no key signature (ETYPE)");

    ok(pkts_load("sigverify/rfc9580-a3-v6-cert.asc", &a3) == 0 && a3.n == 4,
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

    ok(load_hex_pkt("sigverify/rfc9580-a6-v6-text-sig.hex", sb2, sizeof(sb2), &s6) == 0,
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
/* Corrupted, truncated and random input                              */

#define MAX_SAMPLES  512
/* Random signatures and keys tried (each a few hundred octets). */
#define GARBAGE_TRIES  20000

typedef struct {
    walk_sig_t  ws[MAX_SAMPLES];
    int         result[MAX_SAMPLES];
    size_t      n;
    pkts_t      files[64];
    size_t      nfiles;
} samples_t;

static samples_t samples;

static void
sample_cb(void *ctx, const walk_sig_t *ws)
{
    samples_t *sm = ctx;

    if (ws->signer == NULL || sm->n >= MAX_SAMPLES)
        return;
    sm->ws[sm->n] = *ws;
    sm->result[sm->n] = hkp_sig_verify(ws->signer, ws->primary, ws->target,
        ws->sig);
    sm->n++;
}

/* Every signature of the hostile and generated files, with its verdict. */
static void
samples_load(void)
{
    static const char *extra[] = { "hockeypuck-2.2/hostile/00-gpg-signer.pgp",
        "hockeypuck-2.2/hostile/01-py-signer.pgp" };
    kidx_t ix;
    char   name[256];

    memset(&ix, 0, sizeof(ix));
    for (size_t i = 0; i < 2; i++)
        if (pkts_load(extra[i], &samples.files[samples.nfiles]) == 0)
            kidx_add(&ix, &samples.files[samples.nfiles++]);
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        snprintf(name, sizeof(name), "hockeypuck-2.2/hostile/%s", hostile[i].file);
        if (pkts_load(name, &samples.files[samples.nfiles]) == 0)
            walk_sigs(&samples.files[samples.nfiles++], &ix, sample_cb, &samples);
    }
    for (size_t i = 0; i < sizeof(genkeys) / sizeof(genkeys[0]); i++) {
        snprintf(name, sizeof(name), "sigverify/%s", genkeys[i].file);
        if (pkts_load(name, &samples.files[samples.nfiles]) == 0)
            walk_sigs(&samples.files[samples.nfiles++], NULL, sample_cb, &samples);
    }
    free(ix.e);
}

/* Where the parts of a signature body are: [0, hashed_end) hashed,
 * [hashed_end, left16) unhashed (with its length), left16 2 octets, then
 * the salt (v6) and the material. 0 or -1. */
static int
sig_layout(const hkp_pkt_t *p, size_t *hashed_beg, size_t *hashed_end,
    size_t *left16)
{
    const uint8_t *b = p->body;
    size_t         hl, ul;

    if (p->len < 1)
        return -1;
    if (b[0] == 3 || b[0] == 2) {
        *hashed_beg = 2;
        *hashed_end = 7;
        *left16 = 17;
        return p->len >= 19 ? 0 : -1;
    }
    if (b[0] == 4) {
        hl = (size_t) b[4] << 8 | b[5];
        ul = (size_t) b[6 + hl] << 8 | b[7 + hl];
        *hashed_beg = 0;
        *hashed_end = 6 + hl;
        *left16 = 8 + hl + ul;
        return 0;
    }
    if (b[0] == 6) {
        hl = (size_t) b[4] << 24 | (size_t) b[5] << 16 | (size_t) b[6] << 8 | b[7];
        ul = (size_t) b[8 + hl] << 24 | (size_t) b[9 + hl] << 16
            | (size_t) b[10 + hl] << 8 | b[11 + hl];
        *hashed_beg = 0;
        *hashed_end = 8 + hl;
        *left16 = 12 + hl + ul;
        return 0;
    }
    return -1;
}

static void
test_corrupt(void)
{
    unsigned long nsig = 0, flips = 0, flip_ok = 0, trunc = 0, trunc_bad = 0;
    unsigned long mat_bad = 0, tgt_bad = 0, ktrunc = 0, ktrunc_bad = 0;
    unsigned long salt_flips = 0;

    for (size_t i = 0; i < samples.n; i++) {
        const walk_sig_t *ws = &samples.ws[i];
        size_t            hb, he, l16, end;
        pktcopy_t         c;
        int               r;

        if (samples.result[i] != HKP_SIG_OK)
            continue;
        nsig++;
        if (sig_layout(ws->sig, &hb, &he, &l16) != 0) {
            ok(0, "sample %zu: layout", i);
            continue;
        }
        pkt_copy(&c, ws->sig);
        /* every octet of the hashed part, the quick check and the v6 salt
         * (the unhashed area is not covered by the signature) */
        end = l16 + 2;
        if (c.mem[0] == 6)
            end += 1 + (size_t) c.mem[l16 + 2];
        for (size_t off = hb; off < end; off++) {
            if (off >= he && off < l16)
                continue;
            c.mem[off] ^= 0x01;
            r = hkp_sig_verify(ws->signer, ws->primary, ws->target, &c.pkt);
            c.mem[off] ^= 0x01;
            flips++;
            salt_flips += off > l16 + 2;
            if (r == HKP_SIG_OK) {
                flip_ok++;
                diag("  sample %zu (%s pkt %zu): flip at %zu still verifies", i,
                    "", ws->index, off);
            }
        }
        /* the last octet of the signature material, and its 2nd value
         * octet (past an MPI's 2 length octets; inside R of native EdDSA) */
        c.mem[c.pkt.len - 1] ^= 0x01;
        mat_bad += hkp_sig_verify(ws->signer, ws->primary, ws->target, &c.pkt)
            == HKP_SIG_EBAD;
        c.mem[c.pkt.len - 1] ^= 0x01;
        c.mem[end + 3] ^= 0x10;
        r = hkp_sig_verify(ws->signer, ws->primary, ws->target, &c.pkt);
        mat_bad += r == HKP_SIG_EBAD;
        if (r != HKP_SIG_EBAD)
            diag("  sample %zu (pkt %zu, v%d algo %d): flip in the material gives %s", i,
                ws->index, c.mem[0], c.mem[0] == 3 ? c.mem[15] : c.mem[2],
                code_name(r));
        c.mem[end + 3] ^= 0x10;
        /* every truncation of the signature */
        for (uint32_t len = 0; len < ws->sig->len; len++) {
            c.pkt.len = len;
            trunc++;
            trunc_bad += hkp_sig_verify(ws->signer, ws->primary, ws->target,
                &c.pkt) == HKP_SIG_EMALFORMED;
        }
        free(c.mem);
        /* the target changed */
        if (ws->target != NULL) {
            pkt_copy(&c, ws->target);
            c.mem[c.pkt.len - 1] ^= 0x01;
            tgt_bad += hkp_sig_verify(ws->signer, ws->primary, &c.pkt, ws->sig)
                == HKP_SIG_EBAD;
            free(c.mem);
        } else {
            tgt_bad++;
        }
        /* every truncation of the signer (a copy; the primary stays) */
        pkt_copy(&c, ws->signer);
        for (uint32_t len = 0; len < ws->signer->len; len++) {
            c.pkt.len = len;
            ktrunc++;
            r = hkp_sig_verify(&c.pkt, ws->primary, ws->target, ws->sig);
            ktrunc_bad += r == HKP_SIG_EMALFORMED;
            if (r != HKP_SIG_EMALFORMED && dump)
                diag("  signer truncated to %u: %s", len, code_name(r));
        }
        free(c.mem);
    }
    ok(nsig > 80, "corruption: %lu good signatures as samples", nsig);
    ok(flip_ok == 0 && flips > nsig * 20,
        "corruption: %lu one-bit flips in hashed parts, quick checks and "
        "salts (%lu in salts): none verifies", flips, salt_flips);
    ok(salt_flips > 0, "corruption: v6 salts were among them");
    is_int((long long) mat_bad, (long long) (2 * nsig),
        "corruption: a bit flipped in the signature material is EBAD, every time");
    is_int((long long) tgt_bad, (long long) nsig,
        "corruption: a bit flipped in the UID/UAT/subkey is EBAD, every time");
    is_int((long long) trunc_bad, (long long) trunc,
        "truncation: every truncated signature is EMALFORMED");
    diag("  (%lu truncations)", trunc);
    is_int((long long) ktrunc_bad, (long long) ktrunc,
        "truncation: every truncated signer key is EMALFORMED");
    diag("  (%lu truncations)", ktrunc);
}

static void
test_garbage(void)
{
    static uint8_t buf[1024];
    unsigned long  nok = 0, nmal = 0;
    hkp_pkt_t      sig = { HKP_TAG_SIG, 0, buf }, key = { HKP_TAG_PUBKEY, 0, buf };
    const walk_sig_t *ws = samples.n ? &samples.ws[0] : NULL;

    if (ws == NULL) {
        ok(0, "garbage: samples");
        return;
    }
    rng_state = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < GARBAGE_TRIES; i++) {
        uint32_t len = (uint32_t) (rnd64() % sizeof(buf));
        int      r;
        for (uint32_t j = 0; j < len; j++)
            buf[j] = (uint8_t) rnd64();
        /* a plausible version octet sends it past the first checks */
        if (len > 0)
            buf[0] = (uint8_t[]) { 2, 3, 4, 6, 5 }[rnd64() % 5];
        if (len > 1 && buf[0] >= 4)
            buf[1] = (uint8_t[]) { 0x10, 0x13, 0x18, 0x1F, 0x20 }[rnd64() % 5];
        sig.len = len;
        key.len = len;
        if (i & 1)
            r = hkp_sig_verify(ws->signer, ws->primary, ws->target, &sig);
        else
            r = hkp_sig_verify(&key, ws->primary, ws->target, ws->sig);
        nok += r == HKP_SIG_OK;
        nmal += r == HKP_SIG_EMALFORMED;
    }
    is_int((long long) nok, 0, "garbage: no random signature or key verifies");
    diag("  %d tries, %lu EMALFORMED", GARBAGE_TRIES, nmal);
    ok(nmal > GARBAGE_TRIES / 4, "garbage: most are EMALFORMED");
}

/* ------------------------------------------------------------------ */
/* Cache                                                              */

#define CACHE_THREADS  4
#define CACHE_ROUNDS   8
#define JUNK_LEN       16     /* an unparsable signature body */

typedef struct {
    int            seed;
    unsigned long  wrong;
} thr_t;

static void *
cache_thread(void *arg)
{
    thr_t *t = arg;

    for (int round = 0; round < CACHE_ROUNDS; round++) {
        for (size_t k = 0; k < samples.n; k++) {
            size_t i = (k * 7 + (size_t) t->seed * 13 + (size_t) round) % samples.n;
            const walk_sig_t *ws = &samples.ws[i];
            if (hkp_sig_verify(ws->signer, ws->primary, ws->target, ws->sig)
                != samples.result[i])
                t->wrong++;
        }
        if (t->seed == 0 && round == CACHE_ROUNDS / 2)
            hkp_sig_cache_clear();
    }
    return NULL;
}

static void
test_cache(void)
{
    unsigned long      h0, m0, h1, m1;
    const walk_sig_t  *ws;
    pktcopy_t          c;
    pthread_t          th[CACHE_THREADS];
    thr_t              ta[CACHE_THREADS];
    static uint8_t     junk[JUNK_LEN];
    hkp_pkt_t          jp = { HKP_TAG_SIG, sizeof(junk), junk };
    unsigned long      wrong = 0;
    int                r1, r2;

    if (samples.n == 0) {
        ok(0, "cache: samples");
        return;
    }
    ws = &samples.ws[0];
    hkp_sig_cache_clear();
    hkp_sig_cache_stats(&h0, &m0);
    ok(h0 == 0 && m0 == 0, "cache: cleared stats are 0/0");
    r1 = hkp_sig_verify(ws->signer, ws->primary, ws->target, ws->sig);
    r2 = hkp_sig_verify(ws->signer, ws->primary, ws->target, ws->sig);
    hkp_sig_cache_stats(&h1, &m1);
    ok(r1 == HKP_SIG_OK && r2 == HKP_SIG_OK && h1 == 1 && m1 == 1,
        "cache: the second verification is a hit (hits %lu, misses %lu)", h1, m1);
    pkt_copy(&c, ws->sig);
    c.mem[c.pkt.len - 1] ^= 0x01;
    r1 = hkp_sig_verify(ws->signer, ws->primary, ws->target, &c.pkt);
    r2 = hkp_sig_verify(ws->signer, ws->primary, ws->target, &c.pkt);
    hkp_sig_cache_stats(&h1, &m1);
    ok(r1 == HKP_SIG_EBAD && r2 == HKP_SIG_EBAD && h1 == 2 && m1 == 2,
        "cache: a bad signature is cached as bad, not confused with the good one");
    c.mem[c.pkt.len - 1] ^= 0x01;
    r1 = hkp_sig_verify(ws->signer, ws->primary, ws->target, &c.pkt);
    hkp_sig_cache_stats(&h1, &m1);
    ok(r1 == HKP_SIG_OK && h1 == 3, "cache: same bytes in another buffer hit");
    free(c.mem);
    r1 = hkp_sig_verify(ws->signer, ws->primary, NULL, ws->sig);
    ok(r1 != HKP_SIG_OK, "cache: another target is another entry (%s)",
        code_name(r1));

    /* bounded: 3x the capacity of distinct entries evicts the first */
    hkp_sig_cache_clear();
    (void) hkp_sig_verify(ws->signer, ws->primary, ws->target, ws->sig);
    for (unsigned long i = 0; i < 3UL * HKP_SIG_CACHE_ENTRIES; i++) {
        memcpy(junk, &i, sizeof(i));
        (void) hkp_sig_verify(ws->signer, ws->primary, ws->target, &jp);
    }
    hkp_sig_cache_stats(&h0, &m0);
    (void) hkp_sig_verify(ws->signer, ws->primary, ws->target, ws->sig);
    hkp_sig_cache_stats(&h1, &m1);
    ok(m1 == m0 + 1 && h1 == h0,
        "cache: bounded to HKP_SIG_CACHE_ENTRIES (%d): after %lu others the "
        "first entry was replaced", HKP_SIG_CACHE_ENTRIES,
        3UL * HKP_SIG_CACHE_ENTRIES);

    hkp_sig_cache_clear();
    for (int t = 0; t < CACHE_THREADS; t++) {
        ta[t].seed = t;
        ta[t].wrong = 0;
        pthread_create(&th[t], NULL, cache_thread, &ta[t]);
    }
    for (int t = 0; t < CACHE_THREADS; t++) {
        pthread_join(th[t], NULL);
        wrong += ta[t].wrong;
    }
    hkp_sig_cache_stats(&h1, &m1);
    is_int((long long) wrong, 0, "cache: 4 threads verifying the same "
        "signatures (and one clearing the cache) get the uncached verdicts");
    ok(h1 > m1, "cache: threads mostly hit (hits %lu, misses %lu)", h1, m1);
}

/* ------------------------------------------------------------------ */
/* Debian's keyring                                                   */

typedef struct {
    tally_t          t;
    unsigned long    bytype_self[256][NCODES];
    /* verified (OK) sigs by public-key algorithm, hash, version */
    unsigned long    algo_hash[PK_IDS][MD_IDS];
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
            d->algo_hash[s.pk_algo % PK_IDS][s.hash_algo % MD_IDS]++;
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
    for (int a = 0; a < PK_IDS; a++)
        for (int h = 0; h < MD_IDS; h++)
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
    samples_load();
    test_corrupt();
    test_garbage();
    test_cache();
    test_debian();
    for (size_t i = 0; i < samples.nfiles; i++)
        pkts_free(&samples.files[i]);
    return tap_done();
}
