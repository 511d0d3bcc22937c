/*
 * Unit tests for shared/serve.c (the serve policy) and the signature fields
 * it reads (shared/sigverify_attest.c), on the keys of t/data/serve (made
 * by sq and gpg, see mkfixtures.sh) and forged packets built here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "armor.h"
#include "key.h"
#include "openpgp.h"
#include "selfsig.h"
#include "serve.h"
#include "sigverify.h"
#include "tap.h"
#include "util.h"

static const char *datadir;

/* Most packets a test key gets. */
#define MAX_TEST_PKTS  256

static hkp_key_t *
load(const char *name)
{
    char        path[512], why[HKP_REASON_LEN];
    uint8_t    *txt, *bin = NULL;
    size_t      tl, bl;
    const char *err;
    hkp_pkt_t   pkts[MAX_TEST_PKTS];
    size_t      n = 0, off, used;
    hkp_key_t  *k;

    snprintf(path, sizeof(path), "%s/serve/%s", datadir, name);
    txt = read_file(path, &tl);
    if (txt == NULL || hkp_armor_decode(txt, tl, &bin, &bl, &err) < 1) {
        diag("%s: cannot read", path);
        free(txt);
        return NULL;
    }
    free(txt);
    for (off = 0; off < bl && n < MAX_TEST_PKTS; off += used)
        if (hkp_pkt_read(bin + off, bl - off, &pkts[n++], &used, &err) != 0)
            break;
    k = calloc(1, sizeof(*k));
    if (hkp_key_canon(pkts, n, NULL, k, why, sizeof(why)) != 0) {
        diag("%s: %s", name, why);
        free(k);
        k = NULL;
    }
    free(bin);
    return k;
}

static void
key_del(hkp_key_t *k)
{
    if (k != NULL) {
        hkp_key_free(k);
        free(k);
    }
}

/* The signer callback: the key packets of the "stored" keys. */
static hkp_key_t *stored[4];

static int
signer_cb(void *ctx, const uint8_t keyid[8], hkp_serve_signers_t *out)
{
    (void) ctx;
    out->n = 0;
    for (size_t s = 0; s < 4 && stored[s] != NULL; s++) {
        for (size_t i = 0; i < stored[s]->npkts; i++) {
            const hkp_pkt_t *p = &stored[s]->pkts[i];
            hkp_pubkey_t     pk;
            const char      *e;

            if ((p->tag == HKP_TAG_PUBKEY || p->tag == HKP_TAG_PUBSUB)
                && hkp_pubkey_parse(p, &pk, &e) == 0
                && memcmp(pk.keyid, keyid, 8) == 0
                && out->n < HKP_SERVE_SIGNER_KEYS)
                out->pkts[out->n++] = *p;
        }
    }
    return out->n ? 0 : 1;
}

/* A forged v4 EdDSA signature of `type` dated ctime by `issuer`: right
 * shape, junk material. Written to buf (at least 100 bytes). */
static hkp_pkt_t
forge(uint8_t *buf, uint8_t type, uint32_t ctime, const uint8_t issuer[8],
    uint32_t seed)
{
    size_t n = 0;

    buf[n++] = 4;
    buf[n++] = type;
    buf[n++] = HKP_PK_EDDSA_LEG;
    buf[n++] = HKP_MD_SHA256;
    buf[n++] = 0;
    buf[n++] = 16;                               /* hashed: 6 + 10 */
    buf[n++] = 5;
    buf[n++] = HKP_SUBPKT_SIG_CTIME;
    buf[n++] = (uint8_t) (ctime >> 24);
    buf[n++] = (uint8_t) (ctime >> 16);
    buf[n++] = (uint8_t) (ctime >> 8);
    buf[n++] = (uint8_t) ctime;
    buf[n++] = 9;
    buf[n++] = HKP_SUBPKT_ISSUER;
    memcpy(buf + n, issuer, 8);
    n += 8;
    buf[n++] = 0;
    buf[n++] = 0;                                /* no unhashed area */
    buf[n++] = (uint8_t) seed;
    buf[n++] = (uint8_t) (seed >> 8);            /* left 16 bits */
    for (int m = 0; m < 2; m++) {                /* two 256-bit MPIs */
        buf[n++] = 1;
        buf[n++] = 0;
        for (int i = 0; i < 32; i++)
            buf[n++] = (uint8_t) (0x80 | (seed * 31 + (uint32_t) i * 7 + m));
    }
    return (hkp_pkt_t) { HKP_TAG_SIG, (uint32_t) n, buf };
}

/* key with `extra` packets inserted after packet `at`, canonicalised. */
static hkp_key_t *
with(const hkp_key_t *key, size_t at, const hkp_pkt_t *extra, size_t n)
{
    hkp_pkt_t *pk = malloc((key->npkts + n) * sizeof(hkp_pkt_t));
    hkp_key_t *out = calloc(1, sizeof(*out));
    char       why[HKP_REASON_LEN];
    size_t     k = 0;

    for (size_t i = 0; i < key->npkts; i++) {
        pk[k++] = key->pkts[i];
        if (i == at)
            for (size_t j = 0; j < n; j++)
                pk[k++] = extra[j];
    }
    if (hkp_key_canon(pk, k, NULL, out, why, sizeof(why)) != 0) {
        diag("canon: %s", why);
        free(out);
        out = NULL;
    }
    free(pk);
    return out;
}

/* The self-signature record view() passes (NULL: none). */
static const uint8_t *view_rec;
static size_t         view_rec_len;

typedef struct {
    uint8_t             keep[MAX_TEST_PKTS + 64];
    hkp_serve_result_t  res;
    hkp_serve_budget_t  bud;
} view_t;

static int
view(const hkp_key_t *key, int policy, size_t certs, view_t *v)
{
    hkp_serve_policy_t pol;
    const char        *err = NULL;

    memset(&pol, 0, sizeof(pol));
    pol.policy = policy;
    pol.max_certs = certs;
    pol.max_uat = HKP_SERVE_DEFAULT_MAX_UAT;
    pol.signer = signer_cb;
    pol.selfsig = view_rec;
    pol.selfsig_len = view_rec_len;
    if (v->bud.left == 0 && !v->bud.exhausted)
        v->bud.left = 100000;
    if (key->npkts > sizeof(v->keep))
        return -1;
    return hkp_serve_view(key, &pol, &v->bud, v->keep, &v->res, &err);
}

/* Served packets of a tag; of signatures of a type. */
static size_t
count(const hkp_key_t *key, const view_t *v, int tag, int sigtype)
{
    size_t n = 0;

    for (size_t i = 0; i < key->npkts; i++) {
        if (!v->keep[i] || key->pkts[i].tag != tag)
            continue;
        if (sigtype >= 0) {
            hkp_sig_t s;
            const char *e;
            if (hkp_sig_parse(&key->pkts[i], &s, &e) != 0
                || s.type != sigtype)
                continue;
        }
        n++;
    }
    return n;
}

static void
keyid_of(const hkp_key_t *k, uint8_t id[8])
{
    hkp_pubkey_t pk;
    const char  *e;

    memset(id, 0, 8);
    if (hkp_pubkey_parse(&k->pkts[0], &pk, &e) == 0)
        memcpy(id, pk.keyid, 8);
}

static void
test_victim(hkp_key_t *victim, hkp_key_t *signer)
{
    view_t     v;
    uint8_t    sid[8], vid[8], bufs[40][100];
    hkp_pkt_t  extra[40];
    hkp_sig_t  real = { 0 };
    const char *e;
    size_t     n = 0, uidsig = 0;
    hkp_key_t *forged;

    memset(&v, 0, sizeof(v));
    ok(view(victim, HKP_SERVE_FULL, 8, &v) == 0 && v.res.unchanged,
       "full: the victim unchanged");
    memset(&v, 0, sizeof(v));
    ok(view(victim, HKP_SERVE_CLEAN, 8, &v) == 0 && v.res.unchanged,
       "clean: a valid key with one stored signer's certification "
       "unchanged (%zu packets, %zu checks)", v.res.npkts, v.bud.spent);

    /* the real certification's time; forged ones around it */
    keyid_of(signer, sid);
    keyid_of(victim, vid);
    for (size_t i = 1; i < victim->npkts; i++) {
        hkp_sig_t s;
        if (victim->pkts[i].tag == HKP_TAG_UID)
            uidsig = i;
        if (victim->pkts[i].tag == HKP_TAG_SIG
            && hkp_sig_parse(&victim->pkts[i], &s, &e) == 0
            && memcmp(s.issuer, sid, 8) == 0)
            real = s;
    }
    /* 10 unknown signers newer than the real one, 10 older, 2 newest
     * "by the stored signer" (fail its check), 1 "self-signature" */
    for (uint32_t i = 0; i < 20; i++) {
        uint8_t id[8] = { 0xEE, 0x11, 0, 0, 0, 0, 0, (uint8_t) i };
        uint32_t t = i < 10 ? real.ctime + 100 + i : real.ctime - 100 - i;
        extra[n] = forge(bufs[n], HKP_SIGT_CERT_GENERIC, t, id, i + 1);
        n++;
    }
    for (uint32_t i = 0; i < 2; i++) {
        extra[n] = forge(bufs[n], HKP_SIGT_CERT_GENERIC, real.ctime + 500,
                         sid, 77 + i);
        n++;
    }
    extra[n] = forge(bufs[n], HKP_SIGT_CERT_POSITIVE, real.ctime + 900, vid,
                     99);
    n++;
    forged = with(victim, uidsig, extra, n);
    if (!ok(forged != NULL, "victim with %zu forged signatures", n))
        return;

    memset(&v, 0, sizeof(v));
    ok(view(forged, HKP_SERVE_CLEAN, 8, &v) == 0, "clean view of the forged");
    is_int((long long) count(forged, &v, HKP_TAG_SIG, HKP_SIGT_CERT_GENERIC),
           8, "at most hkp_serve_certs (8) certifications");
    is_int((long long) count(forged, &v, HKP_TAG_SIG, HKP_SIGT_CERT_POSITIVE),
           1, "the forged self-signature is not served (the real one is)");
    is_int((long long) v.res.sigs_dropped, 23 - 8 + 1,
           "the rest is dropped");
    ok(count(forged, &v, HKP_TAG_UID, -1) == 1
       && count(forged, &v, HKP_TAG_PUBSUB, -1) == 3,
       "the victim's own UID and subkeys are served");

    /* 11: the 10 newer unknown ones and the real one; the two forged by
     * the stored signer fail its check */
    memset(&v, 0, sizeof(v));
    ok(view(forged, HKP_SERVE_CLEAN, 11, &v) == 0, "hkp_serve_certs 11");
    is_int((long long) count(forged, &v, HKP_TAG_SIG, HKP_SIGT_CERT_GENERIC),
           11, "11 certifications");
    {
        size_t real_kept = 0, bad_kept = 0;
        for (size_t i = 0; i < forged->npkts; i++) {
            hkp_sig_t s;
            if (!v.keep[i] || forged->pkts[i].tag != HKP_TAG_SIG
                || hkp_sig_parse(&forged->pkts[i], &s, &e) != 0
                || memcmp(s.issuer, sid, 8) != 0)
                continue;
            if (s.ctime == real.ctime)
                real_kept++;
            else
                bad_kept++;
        }
        ok(real_kept == 1 && bad_kept == 0,
           "the stored signer's real certification is served, its forged "
           "ones are not");
    }

    memset(&v, 0, sizeof(v));
    ok(view(forged, HKP_SERVE_FULL, 8, &v) == 0 && v.res.unchanged,
       "full serves every forged signature");

    /* the budget: one check, not enough for the UID's self-signatures */
    memset(&v, 0, sizeof(v));
    v.bud.left = 1;
    ok(view(forged, HKP_SERVE_CLEAN, 8, &v) == 0 && v.bud.exhausted
       && v.res.no_uid,
       "past the check budget nothing unchecked is served (no UID left)");
    key_del(forged);
}

static void
test_invalid(hkp_key_t *victim, hkp_key_t *other)
{
    view_t     v;
    uint8_t    vid[8], b1[100], b2[100];
    hkp_pkt_t  extra[4];
    hkp_pkt_t  uid = { HKP_TAG_UID, 26, (const uint8_t *)
                       "Forged <forged@example.org>" };
    size_t     sub = 0;
    hkp_key_t *k;

    keyid_of(victim, vid);
    for (size_t i = 1; i < other->npkts; i++)
        if (other->pkts[i].tag == HKP_TAG_PUBSUB) {
            sub = i;
            break;
        }
    uid.len = (uint32_t) strlen((const char *) uid.body);
    extra[0] = uid;
    extra[1] = forge(b1, HKP_SIGT_CERT_POSITIVE, 2000000000u, vid, 5);
    extra[2] = other->pkts[sub];
    extra[3] = forge(b2, HKP_SIGT_SUBKEY_BINDING, 2000000000u, vid, 6);
    {
        /* the UID after the first UID block, the subkey at the end */
        size_t     last = 0;
        hkp_key_t *k1;
        for (size_t i = 1; i < victim->npkts; i++) {
            if (victim->pkts[i].tag == HKP_TAG_PUBSUB)
                break;
            last = i;
        }
        k1 = with(victim, last, extra, 2);
        k = k1 ? with(k1, k1->npkts - 1, extra + 2, 2) : NULL;
        key_del(k1);
    }
    if (!ok(k != NULL, "victim + a forged UID + another key's subkey"))
        return;
    memset(&v, 0, sizeof(v));
    ok(view(k, HKP_SERVE_CLEAN, 8, &v) == 0, "clean view");
    ok(v.res.uids_dropped == 1 && count(k, &v, HKP_TAG_UID, -1) == 1,
       "the UID without a valid self-signature is not served");
    ok(v.res.subs_dropped == 1 && count(k, &v, HKP_TAG_PUBSUB, -1) == 3,
       "the subkey without a valid binding is not served");
    memset(&v, 0, sizeof(v));
    ok(view(k, HKP_SERVE_FULL, 8, &v) == 0 && v.res.unchanged,
       "full serves them");
    key_del(k);
}

static void
test_revoked(hkp_key_t *hard, hkp_key_t *soft)
{
    view_t v;

    is_int(hkp_sig_revocation_reason(&hard->pkts[1]), HKP_REVOKE_COMPROMISED,
           "hard: reason 2 (compromised)");
    is_int(hkp_sig_revocation_reason(&soft->pkts[1]), HKP_REVOKE_SUPERSEDED,
           "soft: reason 1 (superseded)");
    memset(&v, 0, sizeof(v));
    ok(view(hard, HKP_SERVE_CLEAN, 8, &v) == 0 && v.res.hard_revoked,
       "hard-revoked");
    ok(v.res.npkts == 4 && v.keep[0] && v.keep[1]
       && count(hard, &v, HKP_TAG_UID, -1) == 1
       && count(hard, &v, HKP_TAG_SIG, HKP_SIGT_CERT_POSITIVE) == 1
       && count(hard, &v, HKP_TAG_SIG, HKP_SIGT_KEY_REVOCATION) == 1,
       "hard: primary, revocation, the UID and its self-certification only "
       "(%zu packets)", v.res.npkts);
    ok(count(hard, &v, HKP_TAG_PUBSUB, -1) == 0
       && count(hard, &v, HKP_TAG_SIG, HKP_SIGT_CERT_GENERIC) == 0
       && count(hard, &v, HKP_TAG_SIG, HKP_SIGT_DIRECT_KEY) == 0,
       "hard: no subkeys, certifications or direct-key signatures");
    memset(&v, 0, sizeof(v));
    ok(view(soft, HKP_SERVE_CLEAN, 8, &v) == 0 && !v.res.hard_revoked
       && v.res.unchanged, "soft-revoked: served whole");
}

static void
test_attested(hkp_key_t *att)
{
    view_t      v;
    size_t      a = 0, n, dlen;
    const uint8_t *list;
    hkp_pkt_t  *pk;
    hkp_key_t   noatt;
    char        why[HKP_REASON_LEN];

    for (size_t i = 1; i < att->npkts; i++)
        if (att->pkts[i].tag == HKP_TAG_SIG
            && att->pkts[i].body[1] == HKP_SIGT_ATTESTATION)
            a = i;
    if (!ok(a != 0, "att.pgp has an attestation signature"))
        return;
    ok(hkp_sig_attested(&att->pkts[a], &list, &n, &dlen) == 0 && n == 1
       && dlen == 64, "it lists one SHA-512 digest");

    memset(&v, 0, sizeof(v));
    ok(view(att, HKP_SERVE_CLEAN, 8, &v) == 0, "clean view");
    ok(v.keep[a], "the attestation is served (it verifies)");
    is_int((long long) count(att, &v, HKP_TAG_SIG, HKP_SIGT_CERT_GENERIC), 1,
           "exactly the attested certification");
    {
        /* the one served is the one whose digest is listed */
        int good = 0;
        for (size_t i = 1; i < att->npkts; i++) {
            uint8_t d[HKP_SIG_MAX_DIGEST];
            size_t  dl;
            if (!v.keep[i] || att->pkts[i].tag != HKP_TAG_SIG
                || att->pkts[i].body[1] != HKP_SIGT_CERT_GENERIC)
                continue;
            good = hkp_sig_attest_digest(&att->pkts[a], &att->pkts[i], d,
                                         &dl) == 0
                && dl == dlen && memcmp(d, list, dl) == 0;
        }
        ok(good, "its 1PA3PC digest is the listed one");
    }

    /* without the attestation both are served (N = 8) */
    pk = malloc(att->npkts * sizeof(hkp_pkt_t));
    memcpy(pk, att->pkts, a * sizeof(hkp_pkt_t));
    memcpy(pk + a, att->pkts + a + 1, (att->npkts - a - 1) * sizeof(hkp_pkt_t));
    if (hkp_key_canon(pk, att->npkts - 1, NULL, &noatt, why, sizeof(why))
        == 0)
    {
        memset(&v, 0, sizeof(v));
        ok(view(&noatt, HKP_SERVE_CLEAN, 8, &v) == 0
           && count(&noatt, &v, HKP_TAG_SIG, HKP_SIGT_CERT_GENERIC) == 2,
           "without the attestation both certifications are served");
        hkp_key_free(&noatt);
    } else {
        ok(0, "key without the attestation: %s", why);
    }
    free(pk);
}

static void
test_redact_uat(hkp_key_t *alice)
{
    view_t              v;
    hkp_serve_policy_t  pol;
    const char         *hidden = "Alice Hidden <hidden-alias@example.org>";
    const char         *err;
    uint8_t             d[1][HKP_SERVE_DIGEST_LEN];
    size_t              at = 0;

    for (size_t i = 1; i < alice->npkts; i++)
        if (alice->pkts[i].tag == HKP_TAG_UID
            && alice->pkts[i].len == strlen(hidden)
            && memcmp(alice->pkts[i].body, hidden, strlen(hidden)) == 0)
            at = i;
    if (!ok(at != 0, "alice has the hidden UID"))
        return;
    hkp_serve_uid_digest((const uint8_t *) hidden, strlen(hidden), d[0]);

    for (int policy = HKP_SERVE_FULL; policy <= HKP_SERVE_CLEAN; policy++) {
        memset(&v, 0, sizeof(v));
        memset(&pol, 0, sizeof(pol));
        pol.policy = policy;
        pol.max_certs = 8;
        pol.max_uat = HKP_SERVE_DEFAULT_MAX_UAT;
        pol.redacted = (const uint8_t (*)[HKP_SERVE_DIGEST_LEN]) d;
        pol.nredacted = 1;
        v.bud.left = 1000;
        ok(hkp_serve_view(alice, &pol, &v.bud, v.keep, &v.res, &err) == 0
           && !v.keep[at] && !v.keep[at + 1] && v.res.uids_redacted == 1
           && count(alice, &v, HKP_TAG_UID, -1) == 1
           && count(alice, &v, HKP_TAG_UAT, -1) == 1,
           "%s: the redacted UID and its signature are not served, the "
           "rest is", hkp_serve_policy_name(policy));
    }

    memset(&v, 0, sizeof(v));
    memset(&pol, 0, sizeof(pol));
    pol.policy = HKP_SERVE_CLEAN;
    pol.max_certs = 8;
    pol.max_uat = 1024;
    v.bud.left = 1000;
    ok(hkp_serve_view(alice, &pol, &v.bud, v.keep, &v.res, &err) == 0
       && count(alice, &v, HKP_TAG_UAT, -1) == 0
       && count(alice, &v, HKP_TAG_UID, -1) == 2,
       "a photo ID over hkp_serve_max_uat (1024) is not served");
}

/* The clean view of key with its record (selfsig.h) is the view without
 * one; a record is what decides (a record saying no self-signature
 * verifies leaves no UID), and one that does not fit the key is
 * ignored. */
static void
test_record(const char *name, const hkp_key_t *key)
{
    size_t   len = hkp_selfsig_len(key->npkts), nb = (key->npkts + 7) / 8;
    uint8_t *rec = malloc(len);
    view_t   without, with_rec, denied, unfit;
    size_t   checked = 0;

    memset(&without, 0, sizeof(without));
    memset(&with_rec, 0, sizeof(with_rec));
    memset(&denied, 0, sizeof(denied));
    memset(&unfit, 0, sizeof(unfit));
    if (!ok(rec != NULL && hkp_selfsig_build(key, rec) == 0
            && hkp_selfsig_valid(rec, len, key->npkts),
            "%s: record built", name)) {
        free(rec);
        return;
    }
    for (size_t i = 0; i < key->npkts; i++)
        checked += hkp_selfsig_result(rec, key->npkts, i) >= 0;
    ok(checked > 0 && hkp_selfsig_result(rec, key->npkts, 0) == -1,
       "%s: %zu self-signatures recorded, the primary is not", name,
       checked);

    view_rec = NULL;
    ok(view(key, HKP_SERVE_CLEAN, 8, &without) == 0, "%s: view", name);
    view_rec = rec;
    view_rec_len = len;
    ok(view(key, HKP_SERVE_CLEAN, 8, &with_rec) == 0
       && memcmp(without.keep, with_rec.keep, key->npkts) == 0
       && memcmp(&without.res, &with_rec.res, sizeof(without.res)) == 0
       && without.bud.spent == with_rec.bud.spent,
       "%s: the view with the record is the view without", name);

    view_rec_len = len - 1;
    ok(view(key, HKP_SERVE_CLEAN, 8, &unfit) == 0
       && memcmp(without.keep, unfit.keep, key->npkts) == 0,
       "%s: a record of the wrong length is ignored", name);

    memset(rec + HKP_SELFSIG_HDR_LEN + nb, 0, nb);       /* no "ok" bit */
    view_rec_len = len;
    ok(view(key, HKP_SERVE_CLEAN, 8, &denied) == 0 && denied.res.no_uid
       && count(key, &denied, HKP_TAG_UID, -1) == 0,
       "%s: a record saying nothing verifies serves no UID", name);

    view_rec = NULL;
    view_rec_len = 0;
    free(rec);
}

int
main(void)
{
    hkp_key_t *signer, *other, *victim, *hard, *soft, *att, *alice;

    datadir = getenv("HKP_TEST_DATA");
    if (datadir == NULL)
        datadir = "t/data";

    signer = load("signer.pgp");
    other = load("other.pgp");
    victim = load("victim.pgp");
    hard = load("hard.pgp");
    soft = load("soft.pgp");
    att = load("att.pgp");
    alice = load("alice.pgp");
    if (!ok(signer && other && victim && hard && soft && att && alice,
            "fixtures load"))
        return tap_done();
    stored[0] = signer;
    stored[1] = other;

    test_victim(victim, signer);
    test_invalid(victim, other);
    test_revoked(hard, soft);
    test_attested(att);
    test_redact_uat(alice);
    test_record("victim", victim);
    test_record("soft", soft);
    test_record("att", att);
    test_record("alice", alice);

    key_del(signer);
    key_del(other);
    key_del(victim);
    key_del(hard);
    key_del(soft);
    key_del(att);
    key_del(alice);
    return tap_done();
}
