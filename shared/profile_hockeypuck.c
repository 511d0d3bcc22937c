/*
 * The `hockeypuck` hash profile: the hash Hockeypuck 2.2 stores for a key
 * (and puts in its prefix tree), or that it drops the key. Its recon
 * filter string names the rules:
 *
 *   reading   a packet body over 8192 octets is skipped as if absent (the
 *             reader's maxPacketLength default); a key whose kept bodies
 *             add up to over 1 MiB is refused (maxKeyLength); a primary
 *             key it cannot read refuses the key; user attributes, trust
 *             packets and every other packet but user IDs, subkeys,
 *             signatures and markers are dropped, and so is every
 *             signature up to the next user ID or subkey (drop:UAT; a
 *             signature after a trust packet is "out of context"); marker
 *             packets are skipped; an unreadable subkey or signature is
 *             dropped, the subkey with its signatures (drop:unparseable,
 *             profile_hp_key.c, profile_hp_sig.c)
 *   self-signatures (issuer key ID = the last 8 octets of the primary
 *             fingerprint, as Hockeypuck decides it) must verify
 *             (drop:invalidSelfSig) and be of a type that fits where they
 *             are (drop:structuralMartian): on the primary 0x1F and 0x20,
 *             on a user ID 0x10-0x13 and 0x30, on a subkey 0x18 and 0x28
 *   other signatures must pass the quick check (drop:implausible) and be
 *             of a type that fits: on the primary 0x1F and 0x20, on a
 *             user ID 0x10-0x13 and 0x30, on a subkey 0x28
 *   binding   a user ID or subkey with no self-signature left is dropped
 *             with its signatures (drop:unbound); a key with no user ID,
 *             no subkey and no direct self-signature left is dropped
 *   hard revocation: a valid self key revocation (0x20) with no reason,
 *             reason 0 or reason 2 drops every user ID and every other
 *             signature on the key (drop:hardRevokedCruft)
 *   hash      the SKS key hash (MD5 over the sorted packets) of what is
 *             left; duplicates are kept as they came (a first upload is
 *             not deduplicated)
 *
 * hash_pkts works on a key's packets in upload order (what the trust
 * packets and repeated user IDs of an upload change is only visible
 * there); hash works on a stored key, whose SKS canonical form has
 * dropped trust packets and merged repeated blocks already.
 */
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "profile_hp.h"
#include "sigverify.h"

/* The filter string Hockeypuck 2.2 announces in its recon config. */
#define HKP_PROFILE_HP_FILTERS \
    "drop:UAT,drop:hardRevokedCruft,drop:implausible,drop:invalidSelfSig," \
    "drop:structuralMartian,drop:unbound,drop:unparseable," \
    "schema:application/pgp-keys,versions:34,yminsky.dedup,yminsky.merge"

/* Revocation reasons that make a key revocation hard (HIP-5). */
#define REASON_NONE         0
#define REASON_COMPROMISED  2

enum { NODE_PRIMARY, NODE_UID, NODE_SUB };

typedef struct {
    const hkp_pkt_t *pkt;
    int              kind;
    int              keep;
    hkp_hp_key_t     key;       /* NODE_PRIMARY, NODE_SUB */
} node_t;

typedef struct {
    const hkp_pkt_t *pkt;
    size_t           owner;     /* index in nodes */
    int              keep;
    hkp_hp_sig_t     s;
} sigent_t;

typedef struct {
    node_t          *nodes;
    size_t           nnodes;
    sigent_t        *sigs;
    size_t           nsigs;
    uint8_t          fpr[HKP_FPR_MAX_LEN];
    size_t           fpr_len;
} hpkey_t;

/* ------------------------------------------------------------------ */
/* Reading: which packets Hockeypuck keeps and what each sig is on     */

static void
hp_read(hpkey_t *k, const hkp_pkt_t *pkts, size_t n)
{
    size_t      signable = 0;     /* node index; SIZE_MAX = none */
    const char *why;

    for (size_t i = 1; i < n; i++) {
        const hkp_pkt_t *p = &pkts[i];
        node_t          *nd;
        sigent_t        *se;

        if (p->len > HKP_HP_MAX_PACKET_LEN)
            continue;
        switch (p->tag) {
        case HKP_TAG_PUBSUB:
        case HKP_TAG_UID:
            signable = SIZE_MAX;
            nd = &k->nodes[k->nnodes];
            memset(nd, 0, sizeof(*nd));
            nd->pkt = p;
            nd->kind = p->tag == HKP_TAG_UID ? NODE_UID : NODE_SUB;
            if (nd->kind == NODE_SUB && hkp_hp_key_read(p, &nd->key, &why) != 0)
                break;
            signable = k->nnodes++;
            break;
        case HKP_TAG_SIG:
            if (signable == SIZE_MAX)
                break;
            se = &k->sigs[k->nsigs];
            memset(se, 0, sizeof(*se));
            se->pkt = p;
            se->owner = signable;
            if (hkp_hp_sig_read(p, &se->s, &why) == 0)
                k->nsigs++;
            break;
        case HKP_TAG_MARKER:   /* skipped, changes nothing */
            break;
        default:
            signable = SIZE_MAX;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Signature rules                                                     */

static int
is_self(const hpkey_t *k, const hkp_hp_sig_t *s)
{
    return k->fpr_len >= 8
        && memcmp(k->fpr + k->fpr_len - HKP_KEYID_LEN, s->issuer,
            HKP_KEYID_LEN) == 0;
}

/* Whether Hockeypuck looks at a signature of this version and type on
 * this node at all (its library's key and signature kinds must match),
 * and whether it keeps it once it verifies (self) or is plausible. */
static int
fits(const hpkey_t *k, const node_t *nd, const hkp_hp_sig_t *s, int self)
{
    int pv = k->nodes[0].key.version, t = s->type;

    switch (nd->kind) {
    case NODE_PRIMARY:
        if (t != 0x20 && t != 0x1F)
            return 0;
        if (pv >= 4)
            return s->version >= 4 || (pv == 4 && t == 0x20);
        return s->version < 4 && t == 0x20;
    case NODE_UID:
        if (!((t >= 0x10 && t <= 0x13) || t == 0x30))
            return 0;
        return pv >= 4 || s->version < 4;
    default:
        if (t != 0x28 && !(self && t == 0x18))
            return 0;
        if (pv < 4)
            return nd->key.version < 4 && s->version < 4;
        if (nd->key.version < 4)
            return 0;
        return s->version >= 4 || nd->key.version == 4;
    }
}

/* A self-signature verifies as Hockeypuck's library sees it. */
static int
self_verifies(const hpkey_t *k, const node_t *nd, const sigent_t *se)
{
    const hkp_pkt_t *primary = k->nodes[0].pkt;
    const hkp_pkt_t *target = nd->kind == NODE_PRIMARY ? NULL : nd->pkt;
    int              r;

    /* a v4 primary's v3 binding or revocation of a subkey that can sign
     * is refused */
    if (nd->kind == NODE_SUB && se->s.version < 4
        && k->nodes[0].key.version >= 4 && hkp_hp_key_can_sign(&nd->key))
        return 0;
    r = hkp_sig_verify(primary, primary, target, se->pkt);
    if (r == HKP_SIG_OK)
        return 1;
    /* the library asks for the embedded 0x19 only when the binding's
     * hashed key flags say "sign", not for a signing algorithm alone */
    return r == HKP_SIG_ENOBACKSIG && se->s.version >= 4 && !se->s.flag_sign;
}

static int
sig_passes(const hpkey_t *k, sigent_t *se, int *self)
{
    const node_t *nd = &k->nodes[se->owner];

    *self = is_self(k, &se->s);
    if (!fits(k, nd, &se->s, *self))
        return 0;
    if (*self)
        return self_verifies(k, nd, se);
    return hkp_hp_plausible(k->nodes[0].pkt, &k->nodes[0].key,
        nd->kind == NODE_PRIMARY ? NULL : nd->pkt,
        nd->kind == NODE_SUB ? &nd->key : NULL, &se->s);
}

/* Marks what survives. Returns 0, or -1 when the key evaporates. */
static int
hp_filter(hpkey_t *k)
{
    int    hard = 0, self;
    size_t direct_self = 0, bound = 0;

    /* per node: whether it has a self-signature left */
    for (size_t i = 0; i < k->nsigs; i++) {
        sigent_t *se = &k->sigs[i];

        se->keep = sig_passes(k, se, &self) ? (self ? 2 : 1) : 0;
        if (se->keep == 2) {
            if (se->owner == 0) {
                direct_self++;
                if (se->s.type == 0x20
                    && (!se->s.has_reason || se->s.reason == REASON_NONE
                        || se->s.reason == REASON_COMPROMISED))
                    hard = 1;
            } else
                k->nodes[se->owner].keep = 1;
        }
    }
    k->nodes[0].keep = 1;
    for (size_t i = 1; i < k->nnodes; i++) {
        if (hard && k->nodes[i].kind == NODE_UID)
            k->nodes[i].keep = 0;
        bound += k->nodes[i].keep;
    }
    for (size_t i = 0; i < k->nsigs; i++) {
        sigent_t *se = &k->sigs[i];

        if (!k->nodes[se->owner].keep || (hard && se->keep == 1))
            se->keep = 0;
    }
    return bound == 0 && direct_self == 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* The profile                                                         */

/* What Hockeypuck keeps of a key given as packets: into out[] (room for
 * n) in key order, the primary key and its signatures, then each user ID
 * or subkey with its signatures, *nout set. HKP_PROFILE_HASHED (kept),
 * _DROPPED or _ERROR with *reason. */
static int
hp_keep(const hkp_pkt_t *pkts, size_t n, hkp_pkt_t *out, size_t *nout,
    const char **reason)
{
    hpkey_t     k;
    size_t      total = 0, si = 0;
    const char *why;
    int         ret = HKP_PROFILE_DROPPED;

    *nout = 0;
    if (n == 0 || pkts[0].tag != HKP_TAG_PUBKEY) {
        *reason = "no primary key packet first";
        return HKP_PROFILE_DROPPED;
    }
    if (pkts[0].len > HKP_HP_MAX_PACKET_LEN) {
        *reason = "primary key packet over 8192 bytes (maxPacketLength)";
        return HKP_PROFILE_DROPPED;
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && pkts[i].tag == HKP_TAG_PUBKEY) {
            *reason = "more than one primary key packet";
            return HKP_PROFILE_DROPPED;
        }
        if (pkts[i].len <= HKP_HP_MAX_PACKET_LEN)
            total += pkts[i].len;
        if (total > HKP_HP_MAX_KEY_LEN) {
            *reason = "key over 1 MiB (maxKeyLength)";
            return HKP_PROFILE_DROPPED;
        }
    }

    memset(&k, 0, sizeof(k));
    k.nodes = calloc(n, sizeof(*k.nodes));
    k.sigs = calloc(n, sizeof(*k.sigs));
    if (k.nodes == NULL || k.sigs == NULL) {
        *reason = "out of memory";
        ret = HKP_PROFILE_ERROR;
        goto done;
    }
    k.nodes[0].pkt = &pkts[0];
    k.nodes[0].kind = NODE_PRIMARY;
    if (hkp_hp_key_read(&pkts[0], &k.nodes[0].key, &why) != 0) {
        *reason = "primary key unreadable by Hockeypuck (drop:unparseable)";
        goto done;
    }
    k.fpr_len = hkp_hp_key_fpr(&pkts[0], &k.nodes[0].key, k.fpr);
    if (k.fpr_len == 0) {
        *reason = "fingerprint digest failed";
        ret = HKP_PROFILE_ERROR;
        goto done;
    }
    k.nnodes = 1;
    hp_read(&k, pkts, n);
    if (hp_filter(&k) != 0) {
        *reason = "no valid self-signature left "
            "(drop:invalidSelfSig, drop:unbound)";
        goto done;
    }
    /* signatures were read in order, each on the node last read before
     * it, so their owners never decrease: one pass puts each node's
     * signatures after it */
    for (size_t i = 0; i < k.nnodes; i++) {
        int keep = k.nodes[i].keep;
        if (keep)
            out[(*nout)++] = *k.nodes[i].pkt;
        for (; si < k.nsigs && k.sigs[si].owner == i; si++)
            if (keep && k.sigs[si].keep)
                out[(*nout)++] = *k.sigs[si].pkt;
    }
    ret = HKP_PROFILE_HASHED;
done:
    free(k.nodes);
    free(k.sigs);
    return ret;
}

static int
hp_hash_pkts(const hkp_profile_t *p, const hkp_pkt_t *pkts, size_t n,
    uint8_t hash[HKP_HASH_LEN], const char **reason)
{
    hkp_pkt_t *out;
    size_t     nout;
    int        ret;

    (void) p;
    if ((out = calloc(n > 0 ? n : 1, sizeof(*out))) == NULL) {
        *reason = "out of memory";
        return HKP_PROFILE_ERROR;
    }
    ret = hp_keep(pkts, n, out, &nout, reason);
    if (ret == HKP_PROFILE_HASHED)
        hkp_key_hash(out, nout, hash);
    free(out);
    return ret;
}

static int
hp_hash(const hkp_profile_t *p, const hkp_key_t *key,
    uint8_t hash[HKP_HASH_LEN], const char **reason)
{
    return hp_hash_pkts(p, key->pkts, key->npkts, hash, reason);
}

static int
hp_form(const hkp_profile_t *p, const hkp_key_t *key, hkp_pkt_t **out,
    size_t *nout, const char **reason)
{
    int ret;

    (void) p;
    *nout = 0;
    if ((*out = calloc(key->npkts > 0 ? key->npkts : 1, sizeof(**out)))
        == NULL)
    {
        *reason = "out of memory";
        return HKP_PROFILE_ERROR;
    }
    ret = hp_keep(key->pkts, key->npkts, *out, nout, reason);
    if (ret != HKP_PROFILE_HASHED) {
        free(*out);
        *out = NULL;
        *nout = 0;
    }
    return ret;
}

const hkp_profile_t hkp_profile_hockeypuck = {
    "hockeypuck", HKP_PROFILE_HP_FILTERS, hp_hash, hp_hash_pkts, hp_form, 1
};
