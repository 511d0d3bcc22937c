/*
 * The serve policy (serve.h): the served view of a stored key.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "openpgp.h"
#include "selfsig.h"
#include "serve.h"
#include "sigverify.h"

/* One signature of a component, parsed once. */
typedef struct {
    size_t       idx;         /* in key->pkts */
    uint32_t     ctime;
    uint8_t      type;
    uint8_t      self;        /* issuer is the primary key */
    uint8_t      has_issuer;
    uint8_t      issuer[HKP_KEYID_LEN];
} meta_t;

typedef struct {
    const hkp_key_t          *key;
    const hkp_serve_policy_t *pol;
    hkp_serve_budget_t       *bud;
    hkp_keyview_t             v;
    uint8_t                  *keep;
    hkp_serve_result_t       *res;
    meta_t                   *m;       /* scratch, sized for the largest
                                          component */
    const uint8_t            *rec;     /* pol->selfsig if it fits, or NULL */
} ctx_t;

/* A signature that needed checking but found no budget left. */
#define UNCHECKED  (-100)

void
hkp_serve_uid_digest(const uint8_t *uid, size_t len,
    uint8_t out[HKP_SERVE_DIGEST_LEN])
{
    unsigned int n = HKP_SERVE_DIGEST_LEN;

    if (EVP_Digest(uid, len, out, &n, EVP_sha256(), NULL) != 1)
        memset(out, 0, HKP_SERVE_DIGEST_LEN);
}

const char *
hkp_serve_policy_name(int policy)
{
    return policy == HKP_SERVE_FULL ? "full" : "clean";
}

static int
redacted(const ctx_t *c, const hkp_pkt_t *uid)
{
    uint8_t d[HKP_SERVE_DIGEST_LEN];

    if (uid->tag != HKP_TAG_UID || c->pol->nredacted == 0)
        return 0;
    hkp_serve_uid_digest(uid->body, uid->len, d);
    for (size_t i = 0; i < c->pol->nredacted; i++)
        if (memcmp(c->pol->redacted[i], d, HKP_SERVE_DIGEST_LEN) == 0)
            return 1;
    return 0;
}

/* Newest first; equal times in stored order. */
static int
meta_cmp(const void *one, const void *two)
{
    const meta_t *a = one, *b = two;

    if (a->ctime != b->ctime)
        return a->ctime < b->ctime ? 1 : -1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The n signatures at pkts[first..], parsed and sorted newest first into
 * c->m. Unparseable ones get type 0 (never served by clean). */
static void
sigs_sorted(ctx_t *c, size_t first, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        meta_t     *m = &c->m[i];
        hkp_sig_t   s;
        const char *e;

        memset(m, 0, sizeof(*m));
        m->idx = first + i;
        if (hkp_sig_parse(&c->key->pkts[first + i], &s, &e) != 0)
            continue;
        m->ctime = s.ctime;
        m->type = s.type;
        m->has_issuer = (uint8_t) s.has_issuer;
        memcpy(m->issuer, s.issuer, HKP_KEYID_LEN);
        m->self = s.has_issuer
                  && memcmp(s.issuer, c->v.pk.keyid, HKP_KEYID_LEN) == 0;
    }
    if (n > 1)
        qsort(c->m, n, sizeof(meta_t), meta_cmp);
}

/* A self-signature (signer: the primary) over target: from the record
 * when it has checked it. */
static int
verify_self(ctx_t *c, const hkp_pkt_t *target, size_t idx)
{
    int known;

    if (c->bud->left == 0) {
        c->bud->exhausted = 1;
        return UNCHECKED;
    }
    c->bud->left--;
    c->bud->spent++;
    known = c->rec != NULL ? hkp_selfsig_result(c->rec, c->key->npkts, idx)
                           : -1;
    if (known >= 0)
        return known ? HKP_SIG_OK : HKP_SIG_EBAD;
    return hkp_sig_verify(&c->key->pkts[0], &c->key->pkts[0], target,
                          &c->key->pkts[idx]);
}

static int
is_cert(uint8_t t)
{
    return t >= HKP_SIGT_CERT_GENERIC && t <= HKP_SIGT_CERT_POSITIVE;
}

/* Whether a hard reason: none, 0, 2 or unknown. */
static int
hard_reason(const hkp_pkt_t *sig)
{
    int r = hkp_sig_revocation_reason(sig);

    return !(r == HKP_REVOKE_SUPERSEDED || r == HKP_REVOKE_RETIRED
             || r == HKP_REVOKE_UID_INVALID);
}

/*
 * Keeps the valid self-signatures of type `type` (the primary's) among
 * the n sorted in c->m, at most HKP_SERVE_SELFSIGS, newest first, whose
 * creation time is not after `until` (0 = any). Returns how many were
 * kept; *newest the index of the newest kept one.
 */
static size_t
keep_self(ctx_t *c, size_t n, uint8_t type, const hkp_pkt_t *target,
    uint32_t until, size_t max, size_t *newest)
{
    size_t kept = 0;

    for (size_t i = 0; i < n && kept < max; i++) {
        meta_t *m = &c->m[i];
        int     ok;

        if (!m->self || (type == HKP_SIGT_CERT_GENERIC ? !is_cert(m->type)
                                                       : m->type != type))
            continue;
        if (until && m->ctime > until)
            continue;
        ok = verify_self(c, target, m->idx);
        if (ok != HKP_SIG_OK)
            continue;
        if (kept == 0 && newest != NULL)
            *newest = m->idx;
        c->keep[m->idx] = 1;
        kept++;
    }
    return kept;
}

/* Whether a third-party signature is served: its signer stored and it
 * verifies, or its signer not stored (unchecked). */
static int
third_ok(ctx_t *c, const meta_t *m, const hkp_pkt_t *target)
{
    hkp_serve_signers_t s;

    if (!m->has_issuer || c->pol->signer == NULL)
        return 1;
    s.n = 0;
    if (c->pol->signer(c->pol->signer_ctx, m->issuer, &s) != 0 || s.n == 0)
        return 1;
    for (size_t k = 0; k < s.n && k < HKP_SERVE_SIGNER_KEYS; k++) {
        /* the signer is a stored key: the certification is on our key,
         * so it is checked over our primary and target */
        if (c->bud->left == 0) {
            c->bud->exhausted = 1;
            return 0;
        }
        c->bud->left--;
        c->bud->spent++;
        if (hkp_sig_verify(&s.pkts[k], &c->key->pkts[0], target,
                           &c->key->pkts[m->idx])
            == HKP_SIG_OK)
            return 1;
    }
    return 0;
}

/* Direct signatures. Sets *hard_time to the earliest hard revocation (0:
 * none). */
static void
serve_direct(ctx_t *c, uint32_t *hard_time, int *hard)
{
    size_t n = c->v.ndirect, x, third = 0;

    *hard = 0;
    *hard_time = 0;
    sigs_sorted(c, 1, n);

    (void) keep_self(c, n, HKP_SIGT_KEY_REVOCATION, NULL, 0,
                     HKP_SERVE_SELFSIGS, &x);
    for (size_t i = 0; i < n; i++) {
        meta_t *m = &c->m[i];

        if (c->keep[m->idx] && hard_reason(&c->key->pkts[m->idx])) {
            if (!*hard || m->ctime < *hard_time)
                *hard_time = m->ctime;
            *hard = 1;
        }
    }
    if (*hard)
        return;

    (void) keep_self(c, n, HKP_SIGT_DIRECT_KEY, NULL, 0, HKP_SERVE_SELFSIGS,
                     &x);

    /* designated revokers: only a stored one that verifies */
    for (size_t i = 0; i < n && third < HKP_SERVE_SELFSIGS; i++) {
        meta_t             *m = &c->m[i];
        hkp_serve_signers_t s;

        if (m->self || m->type != HKP_SIGT_KEY_REVOCATION || !m->has_issuer
            || c->pol->signer == NULL)
            continue;
        s.n = 0;
        if (c->pol->signer(c->pol->signer_ctx, m->issuer, &s) != 0)
            continue;
        for (size_t k = 0; k < s.n && k < HKP_SERVE_SIGNER_KEYS; k++) {
            if (c->bud->left == 0) {
                c->bud->exhausted = 1;
                break;
            }
            c->bud->left--;
            c->bud->spent++;
            if (hkp_sig_verify(&s.pkts[k], &c->key->pkts[0], NULL,
                               &c->key->pkts[m->idx])
                == HKP_SIG_OK)
            {
                c->keep[m->idx] = 1;
                third++;
                break;
            }
        }
    }
}

/* Whether digest d is among the n listed. */
static int
listed(const uint8_t *list, size_t n, size_t dlen, const uint8_t *d)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(list + i * dlen, d, dlen) == 0)
            return 1;
    return 0;
}

/* The third-party signatures of a served UID/UAT block (sorted in c->m). */
static void
serve_thirdparty(ctx_t *c, size_t n, const hkp_pkt_t *target, size_t att)
{
    const uint8_t *list = NULL;
    size_t         nlist = 0, dlen = 0, kept = 0;
    uint8_t        d[HKP_SIG_MAX_DIGEST], 
                   issuers[HKP_SERVE_MAX_CERTS][HKP_KEYID_LEN];
    size_t         nissuers = 0;

    if (att != 0
        && hkp_sig_attested(&c->key->pkts[att], &list, &nlist, &dlen) != 0)
    {
        nlist = 0;
    }

    if (att != 0) {
        /* exactly the attested certifications ... */
        for (size_t i = 0; i < n; i++) {
            meta_t *m = &c->m[i];
            size_t  dl;

            if (m->self || !is_cert(m->type) || nlist == 0)
                continue;
            if (hkp_sig_attest_digest(&c->key->pkts[att],
                                      &c->key->pkts[m->idx], d, &dl) == 0
                && dl == dlen && listed(list, nlist, dlen, d))
            {
                c->keep[m->idx] = 1;
                if (m->has_issuer && nissuers < HKP_SERVE_MAX_CERTS)
                    memcpy(issuers[nissuers++], m->issuer, HKP_KEYID_LEN);
            }
        }
        /* ... and their signers' revocations of certifications, at most
         * max_certs, verified when the signer is stored */
        for (size_t i = 0; i < n && kept < c->pol->max_certs; i++) {
            meta_t *m = &c->m[i];
            size_t  k;

            if (m->self || m->type != HKP_SIGT_CERT_REVOCATION
                || !m->has_issuer)
                continue;
            for (k = 0; k < nissuers; k++)
                if (memcmp(issuers[k], m->issuer, HKP_KEYID_LEN) == 0)
                    break;
            if (k == nissuers || !third_ok(c, m, target))
                continue;
            c->keep[m->idx] = 1;
            kept++;
        }
        return;
    }

    for (size_t i = 0; i < n && kept < c->pol->max_certs; i++) {
        meta_t *m = &c->m[i];

        if (m->self || (!is_cert(m->type)
                        && m->type != HKP_SIGT_CERT_REVOCATION))
            continue;
        if (!third_ok(c, m, target))
            continue;
        c->keep[m->idx] = 1;
        kept++;
    }
}

/* One UID/UAT block, not hard-revoked. */
static void
serve_uid(ctx_t *c, const hkp_block_t *b)
{
    const hkp_pkt_t *target = &c->key->pkts[b->at];
    size_t           att = 0;

    if (redacted(c, target)) {
        c->res->uids_redacted++;
        return;
    }
    if (target->tag == HKP_TAG_UAT && target->len > c->pol->max_uat)
        return;

    sigs_sorted(c, b->at + 1, b->nsigs);
    if (keep_self(c, b->nsigs, HKP_SIGT_CERT_GENERIC, target, 0,
                  HKP_SERVE_SELFSIGS, NULL) == 0)
        return;
    c->keep[b->at] = 1;
    (void) keep_self(c, b->nsigs, HKP_SIGT_CERT_REVOCATION, target, 0,
                     HKP_SERVE_SELFSIGS, NULL);
    /* the newest valid attestation only */
    (void) keep_self(c, b->nsigs, HKP_SIGT_ATTESTATION, target, 0, 1, &att);
    serve_thirdparty(c, b->nsigs, target, att);
}

static void
serve_sub(ctx_t *c, const hkp_block_t *b)
{
    const hkp_pkt_t *target = &c->key->pkts[b->at];

    sigs_sorted(c, b->at + 1, b->nsigs);
    if (keep_self(c, b->nsigs, HKP_SIGT_SUBKEY_BINDING, target, 0,
                  HKP_SERVE_SELFSIGS, NULL) == 0)
        return;
    c->keep[b->at] = 1;
    (void) keep_self(c, b->nsigs, HKP_SIGT_SUBKEY_REVOCATION, target, 0,
                     HKP_SERVE_SELFSIGS, NULL);
}

/* A hard-revoked key's user IDs (serve.h). */
static void
serve_revoked_uid(ctx_t *c, const hkp_block_t *b, uint32_t until)
{
    const hkp_pkt_t *target = &c->key->pkts[b->at];
    size_t           x;

    if (target->tag != HKP_TAG_UID || redacted(c, target))
        return;
    sigs_sorted(c, b->at + 1, b->nsigs);
    if (keep_self(c, b->nsigs, HKP_SIGT_CERT_GENERIC, target, until, 1, &x)
        == 1)
        c->keep[b->at] = 1;
}

static void
serve_clean(ctx_t *c)
{
    uint32_t until;
    int      hard;
    size_t   i, served = 0;

    serve_direct(c, &until, &hard);
    c->res->hard_revoked = hard;

    for (i = 0; i < c->v.nuids; i++) {
        if (hard) {
            /* a self-certification of the same second as the revocation
             * counts as before it */
            serve_revoked_uid(c, &c->v.uids[i], until ? until : 1);
        } else {
            serve_uid(c, &c->v.uids[i]);
        }
        served += c->keep[c->v.uids[i].at];
    }
    for (i = 0; !hard && i < c->v.nsubs; i++)
        serve_sub(c, &c->v.subs[i]);

    c->res->no_uid = !hard && served == 0;
}

static void
serve_full(ctx_t *c)
{
    size_t i, j;

    memset(c->keep, 1, c->key->npkts);
    for (i = 0; i < c->v.nuids; i++) {
        const hkp_block_t *b = &c->v.uids[i];

        if (!redacted(c, &c->key->pkts[b->at]))
            continue;
        c->res->uids_redacted++;
        for (j = 0; j <= b->nsigs; j++)
            c->keep[b->at + j] = 0;
    }
    c->res->no_uid = c->v.nuids > 0 && c->res->uids_redacted == c->v.nuids;
}

int
hkp_serve_view(const hkp_key_t *key, const hkp_serve_policy_t *pol,
    hkp_serve_budget_t *budget, uint8_t *keep, hkp_serve_result_t *res,
    const char **err)
{
    ctx_t   c;
    size_t  i, most;

    memset(res, 0, sizeof(*res));
    memset(&c, 0, sizeof(c));
    c.key = key;
    c.pol = pol;
    c.bud = budget;
    c.keep = keep;
    c.res = res;
    if (hkp_selfsig_valid(pol->selfsig, pol->selfsig_len, key->npkts))
        c.rec = pol->selfsig;

    if (hkp_keyview_build(key, &c.v, err) != 0)
        return -1;

    memset(keep, 0, key->npkts);

    if (pol->policy == HKP_SERVE_FULL) {
        serve_full(&c);

    } else {
        most = c.v.ndirect;
        for (i = 0; i < c.v.nuids; i++)
            if (c.v.uids[i].nsigs > most)
                most = c.v.uids[i].nsigs;
        for (i = 0; i < c.v.nsubs; i++)
            if (c.v.subs[i].nsigs > most)
                most = c.v.subs[i].nsigs;
        c.m = malloc((most ? most : 1) * sizeof(meta_t));
        if (c.m == NULL) {
            hkp_keyview_free(&c.v);
            *err = "out of memory";
            return -1;
        }
        keep[0] = 1;
        serve_clean(&c);
        free(c.m);
    }

    for (i = 0; i < c.v.nuids; i++)
        if (!keep[c.v.uids[i].at])
            res->uids_dropped++;
    for (i = 0; i < c.v.nsubs; i++)
        if (!keep[c.v.subs[i].at])
            res->subs_dropped++;
    for (i = 0; i < key->npkts; i++) {
        if (keep[i]) {
            res->npkts++;
            res->len += hkp_pkt_encoded_len(&key->pkts[i]);
        } else if (key->pkts[i].tag == HKP_TAG_SIG) {
            res->sigs_dropped++;
        }
    }
    res->unchanged = res->npkts == key->npkts;

    hkp_keyview_free(&c.v);
    return 0;
}

uint8_t *
hkp_serve_encode(const hkp_key_t *key, const uint8_t *keep, uint8_t *p)
{
    for (size_t i = 0; i < key->npkts; i++)
        if (keep[i])
            p = hkp_pkt_write(p, &key->pkts[i]);
    return p;
}
