/*
 * Keys: merging two versions of one key as SKS does (doc/recon.md 1.4,
 * doc/hkp.md 8), under the runtime limits. See key.h.
 */
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "key_int.h"

/* ------------------------------------------------------------------ */
/* Merge                                                                */

/* Whether t[0..nt) holds u[0..nu) packet for packet, in a row (an empty
 * u: yes). */
static int
holds(const hkp_pkt_t *t, size_t nt, const hkp_pkt_t *u, size_t nu)
{
    for (size_t i = 0; i + nu <= nt; i++) {
        size_t j = 0;
        while (j < nu && hkp_pkt_eq(&t[i + j], &u[j]))
            j++;
        if (j == nu)
            return 1;
    }
    return 0;
}

int
hkp_key_merge(const hkp_key_t *a, const hkp_key_t *b,
    const hkp_limits_t *lim, hkp_key_t *out, char *err, size_t errlen)
{
    hkp_pkt_t *v;
    size_t     n = 0, ea, eb, sa, sb, ha, hb;
    int        r;

    memset(out, 0, sizeof(*out));
    if (a->npkts == 0 || b->npkts == 0
        || !hkp_pkt_eq(&a->pkts[0], &b->pkts[0]))
    {
        hkp_key_reason(err, errlen, "primary key packets differ");
        return -1;
    }
    if (memcmp(a->hash, b->hash, HKP_HASH_LEN) == 0)
        return hkp_key_canon(a->pkts, a->npkts, lim, out, err, errlen);

    /* end of the heads (ha/hb), of direct sigs (ea/eb), start of subkeys
     * (sa/sb) */
    ha = a->tail ? a->tail : a->npkts;
    hb = b->tail ? b->tail : b->npkts;
    for (ea = 1; ea < ha && a->pkts[ea].tag == HKP_TAG_SIG; ea++) {}
    for (eb = 1; eb < hb && b->pkts[eb].tag == HKP_TAG_SIG; eb++) {}
    for (sa = ea; sa < ha && a->pkts[sa].tag != HKP_TAG_PUBSUB; sa++) {}
    for (sb = eb; sb < hb && b->pkts[sb].tag != HKP_TAG_PUBSUB; sb++) {}

    v = malloc((a->npkts + b->npkts) * sizeof(*v));
    if (v == NULL) {
        hkp_key_reason(err, errlen, "out of memory");
        return -1;
    }
    v[n++] = a->pkts[0];
#define CP(k, from, to) \
    for (size_t i = (from); i < (to); i++) v[n++] = (k)->pkts[i]
    CP(a, 1, ea);
    CP(b, 1, eb);
    CP(a, ea, sa);
    CP(b, eb, sb);
    CP(a, sa, ha);
    CP(b, sb, hb);
    /* tails: one that holds the other alone, else both (either way
     * round the same packets) */
    if (!holds(b->pkts + hb, b->npkts - hb, a->pkts + ha, a->npkts - ha)
        || holds(a->pkts + ha, a->npkts - ha, b->pkts + hb, b->npkts - hb))
        CP(a, ha, a->npkts);
    if (!holds(a->pkts + ha, a->npkts - ha, b->pkts + hb, b->npkts - hb))
        CP(b, hb, b->npkts);
#undef CP
    r = hkp_key_canon(v, n, lim, out, err, errlen);
    free(v);
    return r;
}
