/*
 * Keys: splitting a binary packet stream into keys (each canonicalised,
 * refused keys reported with their reason), and the stored form of a key
 * (encode / decode). See key.h.
 */
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "key_int.h"
#include "hkp_limits.h"

/* ------------------------------------------------------------------ */
/* Stream splitting                                                     */

/* Why the key in progress is being skipped (hkp_keys_parse). */
enum { OVER_NONE, OVER_KEYLEN, OVER_PACKETS, OVER_PKTLEN, OVER_OOM };

int
hkp_keys_parse(const uint8_t *buf, size_t len, const hkp_limits_t *lim,
    hkp_key_cb cb, void *ctx, char *err, size_t errlen)
{
    hkp_limits_t L;
    hkp_pkt_t   *cur = NULL;
    size_t       ncur = 0, cap = 0, curbytes = 0, curpkts = 0, index = 0;
    size_t       pos = 0;
    int          over = OVER_NONE, rc = 0;
    hkp_pkt_t    big = { 0, 0, NULL };

    hkp_key_lim_effective(lim, &L);
    for (;;) {
        hkp_pkt_t   p = { 0, 0, NULL };
        size_t      used = 0;
        const char *e = NULL;
        int         at_end = (pos >= len), framing = 0, r = 0;

        /* A packet over the ceiling whose bytes are all there is skipped
         * with its key (r == 1: OVER_PKTLEN below); a length past the end
         * is a framing error. */
        if (!at_end
            && (r = hkp_pkt_read_skip(buf + pos, len - pos, &p, &used, &e))
               < 0)
            framing = 1;

        /* finish the key in progress */
        if ((at_end || framing || p.tag == HKP_TAG_PUBKEY)
            && (ncur > 0 || over != OVER_NONE || framing))
        {
            hkp_key_t  *key = NULL;

            if (index >= HKP_MAX_KEYS_PER_BLOB) {
                hkp_key_reason(err, errlen, "too many keys in one blob");
                rc = -1;
                break;
            }
            if (framing) {
                hkp_key_reason(err, errlen, e);
            } else if (over == OVER_KEYLEN) {
                hkp_key_reasonf(err, errlen, "key too large (%zu > %zu bytes)",
                    curbytes, L.max_key_len);
            } else if (over == OVER_PACKETS) {
                hkp_key_reasonf(err, errlen, "too many packets in key (%zu > %zu)",
                    curpkts, L.max_packets);
            } else if (over == OVER_PKTLEN) {
                hkp_key_too_large(err, errlen, &big, L.max_packet_len);
            } else if (over == OVER_OOM) {
                hkp_key_reason(err, errlen, "out of memory");
            } else {
                key = malloc(sizeof(*key));
                if (key == NULL) {
                    hkp_key_reason(err, errlen, "out of memory");
                } else if (hkp_key_canon(cur, ncur, &L, key, err, errlen)
                           != 0)
                {
                    free(key);
                    key = NULL;
                }
            }
            if (cb(ctx, index++, key, key ? NULL : err) != 0)
                break;
            ncur = 0;
            curbytes = 0;
            curpkts = 0;
            over = OVER_NONE;
        }
        if (framing) {
            hkp_key_reason(err, errlen, e);
            rc = -1;
            break;
        }
        if (at_end)
            break;
        pos += used;

        if (p.tag == HKP_TAG_TRUST)
            continue;
        curbytes += used;
        curpkts++;
        if (over != OVER_NONE)
            continue;
        if (r == 1 || p.len > L.max_packet_len) {
            over = OVER_PKTLEN;
            big.tag = p.tag;
            big.len = p.len;
            continue;
        }
        /* Memory bounds on the input as it comes (duplicates included):
         * the ceilings. The runtime limits apply to the canonical key. */
        if (curbytes > HKP_MAX_KEY_LEN) {
            over = OVER_KEYLEN;
            continue;
        }
        if (curpkts > HKP_MAX_PACKETS_PER_KEY) {
            over = OVER_PACKETS;
            continue;
        }
        if (ncur == cap) {
            size_t     nc = cap ? cap * 2 : 64;
            hkp_pkt_t *np;
            if (nc > HKP_MAX_PACKETS_PER_KEY)
                nc = HKP_MAX_PACKETS_PER_KEY;
            np = realloc(cur, nc * sizeof(*np));
            if (np == NULL) {
                over = OVER_OOM;
                continue;
            }
            cur = np;
            cap = nc;
        }
        cur[ncur++] = p;
    }
    free(cur);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Encode / decode                                                      */

size_t
hkp_key_encoded_len(const hkp_key_t *key)
{
    size_t n = 0;

    for (size_t i = 0; i < key->npkts; i++)
        n += hkp_pkt_encoded_len(&key->pkts[i]);
    return n;
}

uint8_t *
hkp_key_encode(const hkp_key_t *key, uint8_t *p)
{
    for (size_t i = 0; i < key->npkts; i++)
        p = hkp_pkt_write(p, &key->pkts[i]);
    return p;
}

int
hkp_key_decode(const uint8_t *buf, size_t len, hkp_key_t *out,
    char *err, size_t errlen)
{
    const char *e;
    hkp_pkt_t  stackv[32], *v = stackv;
    size_t     n = 0, pos = 0, used;
    hkp_pkt_t  p;
    int        r;

    memset(out, 0, sizeof(*out));
    if (len > HKP_MAX_KEY_LEN) {
        hkp_key_reason(err, errlen, "key too large");
        return -1;
    }
    while (pos < len) {
        if (hkp_pkt_read(buf + pos, len - pos, &p, &used, &e) != 0) {
            hkp_key_reason(err, errlen, e);
            return -1;
        }
        pos += used;
        n++;
        if (n > HKP_MAX_PACKETS_PER_KEY) {
            hkp_key_reason(err, errlen, "too many packets in key");
            return -1;
        }
    }
    if (n > 32) {
        v = malloc(n * sizeof(*v));
        if (v == NULL) {
            hkp_key_reason(err, errlen, "out of memory");
            return -1;
        }
    }
    for (size_t i = 0, q = 0; i < n; i++) {
        (void) hkp_pkt_read(buf + q, len - q, &v[i], &used, &e);
        q += used;
    }
    r = hkp_key_canon(v, n, NULL, out, err, errlen);
    if (v != stackv)
        free(v);
    return r;
}
