/*
 * Keys: SKS canonicalisation ("dedup", doc/recon.md 1.2) under the runtime
 * limits, the SKS key hash (doc/recon.md 1.3), and the reasons a key is
 * refused with. See key.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "key.h"
#include "key_int.h"
#include "digest.h"
#include "hkp_limits.h"

/* ------------------------------------------------------------------ */
/* Limits and reasons                                                   */

void
hkp_limits_default(hkp_limits_t *l)
{
    l->max_packet_len = HKP_MAX_PACKET_LEN;
    l->max_key_len = HKP_MAX_KEY_LEN;
    l->max_packets = HKP_MAX_PACKETS_PER_KEY;
    l->max_uids = HKP_MAX_UIDS_PER_KEY;
    l->max_sigs_per_uid = HKP_MAX_SIGS_PER_UID;
    l->max_subkeys = HKP_MAX_SUBKEYS_PER_KEY;
}

/* Effective limits: defaults, lowered by the non-zero fields of `in`. */
void
hkp_key_lim_effective(const hkp_limits_t *in, hkp_limits_t *out)
{
    hkp_limits_default(out);
    if (in == NULL)
        return;
#define LOWER(f)  if (in->f != 0 && in->f < out->f) out->f = in->f
    LOWER(max_packet_len);
    LOWER(max_key_len);
    LOWER(max_packets);
    LOWER(max_uids);
    LOWER(max_sigs_per_uid);
    LOWER(max_subkeys);
#undef LOWER
}

void
hkp_key_reasonf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list  ap;

    if (errlen == 0)
        return;
    va_start(ap, fmt);
    (void) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Copies a fixed reason into the caller's err[errlen]. */
void
hkp_key_reason(char *err, size_t errlen, const char *reason)
{
    hkp_key_reasonf(err, errlen, "%s", reason);
}

static const char *
pkt_name(uint8_t tag)
{
    switch (tag) {
    case HKP_TAG_SIG:    return "signature packet";
    case HKP_TAG_SECKEY: return "secret key packet";
    case HKP_TAG_PUBKEY: return "public key packet";
    case HKP_TAG_SECSUB: return "secret subkey packet";
    case HKP_TAG_TRUST:  return "trust packet";
    case HKP_TAG_UID:    return "user ID packet";
    case HKP_TAG_PUBSUB: return "public subkey packet";
    case HKP_TAG_UAT:    return "user attribute packet";
    default:             return "packet";
    }
}

void
hkp_key_too_large(char *err, size_t errlen, const hkp_pkt_t *p, size_t max)
{
    hkp_key_reasonf(err, errlen, "%s too large (%lu > %zu bytes)",
        pkt_name(p->tag), (unsigned long) p->len, max);
}

/* ------------------------------------------------------------------ */
/* Hex                                                                  */

void
hkp_hex(const uint8_t *in, size_t len, char *out)
{
    static const char hx[] = "0123456789ABCDEF";

    for (size_t i = 0; i < len; i++) {
        *out++ = hx[in[i] >> 4];
        *out++ = hx[in[i] & 15];
    }
    *out = '\0';
}

/* ------------------------------------------------------------------ */
/* Hash                                                                 */

static int
pktp_cmp(const void *a, const void *b)
{
    return hkp_pkt_cmp(*(const hkp_pkt_t *const *) a,
        *(const hkp_pkt_t *const *) b);
}

void
hkp_key_hash(const hkp_pkt_t *pkts, size_t n, uint8_t hash[HKP_HASH_LEN])
{
    const hkp_pkt_t  *stackv[64];
    const hkp_pkt_t **v = stackv;
    EVP_MD_CTX       *ctx;
    int               ok = 1;

    memset(hash, 0, HKP_HASH_LEN);
    if (n > 64) {
        v = malloc(n * sizeof(*v));
        if (v == NULL)
            return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = &pkts[i];
    qsort(v, n, sizeof(*v), pktp_cmp);

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        goto out;
    ok = EVP_DigestInit_ex(ctx, hkp_md(HKP_MD_MD5), NULL);
    for (size_t i = 0; ok && i < n; i++) {
        uint8_t  h[8];
        uint32_t t = v[i]->tag, l = v[i]->len;

        h[0] = (uint8_t) (t >> 24); h[1] = (uint8_t) (t >> 16);
        h[2] = (uint8_t) (t >> 8);  h[3] = (uint8_t) t;
        h[4] = (uint8_t) (l >> 24); h[5] = (uint8_t) (l >> 16);
        h[6] = (uint8_t) (l >> 8);  h[7] = (uint8_t) l;
        ok = EVP_DigestUpdate(ctx, h, 8)
            && (l == 0 || EVP_DigestUpdate(ctx, v[i]->body, l));
    }
    if (ok) {
        uint8_t md[EVP_MAX_MD_SIZE];
        if (EVP_DigestFinal_ex(ctx, md, NULL))
            memcpy(hash, md, HKP_HASH_LEN);
    }
    EVP_MD_CTX_free(ctx);
out:
    if (v != stackv)
        free(v);
}

/* ------------------------------------------------------------------ */
/* Canonicalisation                                                     */

typedef struct {
    const hkp_pkt_t *p;
    size_t           pos;
} ent_t;

static int
ent_cmp(const void *a, const void *b)
{
    const ent_t *x = a, *y = b;
    int          r = hkp_pkt_cmp(x->p, y->p);

    if (r)
        return r;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

typedef struct {
    const hkp_pkt_t *hdr;
    size_t           first;   /* index of first sig in the filtered array */
    size_t           nsigs;
    size_t           order;   /* position among blocks of its kind */
} blk_t;

static int
blk_cmp(const void *a, const void *b)
{
    const blk_t *x = a, *y = b;
    int          r = hkp_pkt_cmp(x->hdr, y->hdr);

    if (r)
        return r;
    return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Removes duplicates from in[0..n) keeping the first occurrence, in order.
 * Appends the survivors to out, returns how many. tmp has room for n.
 */
static size_t
dedup_ordered(const hkp_pkt_t **in, size_t n, const hkp_pkt_t **out,
    ent_t *tmp)
{
    size_t k = 0;

    if (n == 0)
        return 0;
    if (n == 1) {
        out[0] = in[0];
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        tmp[i].p = in[i];
        tmp[i].pos = i;
    }
    qsort(tmp, n, sizeof(*tmp), ent_cmp);
    for (size_t i = 1; i < n; i++)
        if (hkp_pkt_eq(tmp[i].p, tmp[i - 1].p))
            in[tmp[i].pos] = NULL;
    for (size_t i = 0; i < n; i++)
        if (in[i] != NULL)
            out[k++] = in[i];
    return k;
}

static const char *
leading_reason(const hkp_pkt_t *pkts, size_t n, size_t first)
{
    for (size_t i = 0; i < n; i++)
        if (pkts[i].tag == HKP_TAG_SECKEY || pkts[i].tag == HKP_TAG_SECSUB)
            return "secret key material";
    if (pkts[first].tag == HKP_TAG_SIG && hkp_sig_type_of(&pkts[first])
        == HKP_SIGT_KEY_REVOCATION)
        return "stand-alone revocation certificate";
    return "packets before the first public key";
}

#define ALIGN16(x)  (((x) + 15) & ~(size_t) 15)

/* Groups blocks with identical headers and emits them in order of first
 * appearance. Returns the number of packets appended to outp, or -1. */
static long
emit_blocks(blk_t *blks, blk_t *sorted, size_t nb, const hkp_pkt_t *w,
    size_t *gstart, size_t *gsize, const hkp_pkt_t **scratch, ent_t *tmp,
    const hkp_pkt_t **outp, size_t max_blocks, size_t max_sigs,
    const char *what, size_t *nblocks_out, char *err, size_t errlen)
{
    size_t k = 0, nrep = 0;

    if (nb == 0) {
        *nblocks_out = 0;
        return 0;
    }
    memcpy(sorted, blks, nb * sizeof(*blks));
    qsort(sorted, nb, sizeof(*sorted), blk_cmp);
    for (size_t i = 0; i < nb; i++)
        gsize[i] = 0;
    for (size_t i = 0; i < nb; ) {
        size_t j = i + 1;
        while (j < nb && hkp_pkt_eq(sorted[j].hdr, sorted[i].hdr))
            j++;
        /* sorted[i] has the lowest order of its group: the representative */
        gstart[sorted[i].order] = i;
        gsize[sorted[i].order] = j - i;
        nrep++;
        i = j;
    }
    if (nrep > max_blocks) {
        hkp_key_reasonf(err, errlen, "too many %ss (%zu > %zu)", what, nrep,
            max_blocks);
        return -1;
    }
    for (size_t b = 0; b < nb; b++) {
        size_t gs = gsize[b], ns;

        if (gs == 0)
            continue;
        outp[k++] = blks[b].hdr;
        if (gs == 1) {
            ns = blks[b].nsigs;
            for (size_t s = 0; s < ns; s++)
                outp[k + s] = &w[blks[b].first + s];
        } else {
            size_t m = 0;
            for (size_t g = gstart[b]; g < gstart[b] + gs; g++)
                for (size_t s = 0; s < sorted[g].nsigs; s++)
                    scratch[m++] = &w[sorted[g].first + s];
            ns = dedup_ordered(scratch, m, outp + k, tmp);
        }
        if (ns > max_sigs) {
            hkp_key_reasonf(err, errlen, "too many signatures on one %s (%zu > %zu)",
                blks[b].hdr->tag == HKP_TAG_PUBSUB ? "subkey"
                : blks[b].hdr->tag == HKP_TAG_UAT ? "user attribute"
                : "user ID", ns, max_sigs);
            return -1;
        }
        k += ns;
    }
    *nblocks_out = nrep;
    return (long) k;
}

/* The tail of a key (key.h) after its canonical head: the packets from
 * where SKS's grammar stops, as they came, trust packets dropped, under
 * the limits (nu user IDs and ns subkeys in the head already). Appended
 * to outp at *k. 0, or -1 with the reason in err[errlen]. */
static int
tail_append(const hkp_pkt_t *t, size_t nt, int version,
    const hkp_limits_t *L, size_t nu, size_t ns, const hkp_pkt_t **outp,
    size_t *k, char *err, size_t errlen)
{
    size_t sigs = 0, kept = 0;

    for (size_t i = 0; i < nt; i++) {
        const hkp_pkt_t *p = &t[i];
        hkp_pubkey_t     sk;
        const char      *e;

        if (p->tag == HKP_TAG_TRUST)
            continue;
        if (++kept > HKP_MAX_TAIL_PACKETS) {
            hkp_key_reasonf(err, errlen, "too many packets after where SKS "
                "stops reading (%zu > %d)", kept, HKP_MAX_TAIL_PACKETS);
            return -1;
        }
        if (p->len > L->max_packet_len) {
            hkp_key_too_large(err, errlen, p, L->max_packet_len);
            return -1;
        }
        switch (p->tag) {
        case HKP_TAG_SIG:
            if (++sigs > L->max_sigs_per_uid) {
                hkp_key_reasonf(err, errlen, "too many signatures in a row "
                    "(%zu > %zu)", sigs, L->max_sigs_per_uid);
                return -1;
            }
            break;
        case HKP_TAG_UID:
        case HKP_TAG_UAT:
            if (++nu > L->max_uids) {
                hkp_key_reasonf(err, errlen, "too many user IDs (%zu > %zu)",
                    nu, L->max_uids);
                return -1;
            }
            sigs = 0;
            break;
        case HKP_TAG_PUBSUB:
            if (version < 4) {
                hkp_key_reason(err, errlen, "subkey in a v3 key");
                return -1;
            }
            if (hkp_pubkey_parse(p, &sk, &e) != 0) {
                hkp_key_reason(err, errlen, "malformed subkey packet");
                return -1;
            }
            if (++ns > L->max_subkeys) {
                hkp_key_reasonf(err, errlen, "too many subkeys (%zu > %zu)",
                    ns, L->max_subkeys);
                return -1;
            }
            sigs = 0;
            break;
        case HKP_TAG_MARKER:
            break;
        case HKP_TAG_SECKEY:
        case HKP_TAG_SECSUB:
            hkp_key_reason(err, errlen, "secret key material");
            return -1;
        case HKP_TAG_PUBKEY:
            hkp_key_reason(err, errlen, "more than one primary key packet");
            return -1;
        default:
            hkp_key_reason(err, errlen, "unexpected packet in key");
            return -1;
        }
        outp[(*k)++] = p;
    }
    return 0;
}

/* The id of a key with a tail: MD5 over a label and its packets' SKS
 * hash, so that it never equals the SKS hash of a key SKS keeps (the
 * same packets in SKS's order would have that one). */
static void
tail_id(uint8_t hash[HKP_HASH_LEN])
{
    static const char label[] = "hkp key with a tail SKS refuses";
    uint8_t           md[EVP_MAX_MD_SIZE];
    EVP_MD_CTX       *ctx = EVP_MD_CTX_new();

    if (ctx != NULL && EVP_DigestInit_ex(ctx, hkp_md(HKP_MD_MD5), NULL)
        && EVP_DigestUpdate(ctx, label, sizeof(label) - 1)
        && EVP_DigestUpdate(ctx, hash, HKP_HASH_LEN)
        && EVP_DigestFinal_ex(ctx, md, NULL))
        memcpy(hash, md, HKP_HASH_LEN);
    else
        memset(hash, 0, HKP_HASH_LEN);
    EVP_MD_CTX_free(ctx);
}

const char *
hkp_key_sks_reason(const hkp_key_t *key)
{
    if (key->tail == 0 || key->tail >= key->npkts)
        return NULL;
    return key->pkts[key->tail].tag == HKP_TAG_MARKER
        ? "unexpected packet in key" : "user ID after a subkey";
}

int
hkp_key_canon(const hkp_pkt_t *pkts, size_t n, const hkp_limits_t *lim,
    hkp_key_t *out, char *err, size_t errlen)
{
    hkp_limits_t     L;
    size_t           nw = 0, first = n, ndirect = 0, nuid = 0, nsub = 0;
    size_t           k, nrep, nrep_u, nrep_s, total, sz, head;
    size_t           tail_from = n;
    int              state = 0, version;
    uint8_t         *arena, *a;
    hkp_pkt_t       *w;
    const hkp_pkt_t **outp, **scratch;
    ent_t           *tmp;
    blk_t           *uids, *subs, *sorted;
    size_t          *gstart, *gsize;
    hkp_pubkey_t     pk;
    const char      *e;
    long             r;

    memset(out, 0, sizeof(*out));
    hkp_key_lim_effective(lim, &L);

    for (size_t i = 0; i < n; i++)
        if (pkts[i].tag != HKP_TAG_TRUST) {
            first = i;
            break;
        }
    if (first == n) {
        hkp_key_reason(err, errlen,
            n ? "packets before the first public key" : "empty key");
        return -1;
    }
    if (pkts[first].tag != HKP_TAG_PUBKEY) {
        hkp_key_reason(err, errlen, leading_reason(pkts, n, first));
        return -1;
    }
    if (n > 2 * (size_t) HKP_MAX_PACKETS_PER_KEY) {
        hkp_key_reason(err, errlen, "too many packets in key");
        return -1;
    }
    if (pkts[first].len > L.max_packet_len) {
        hkp_key_too_large(err, errlen, &pkts[first], L.max_packet_len);
        return -1;
    }
    if (pkts[first].len < 1) {
        hkp_key_reason(err, errlen, "malformed public key packet");
        return -1;
    }
    version = pkts[first].body[0];
    if (version != 2 && version != 3 && version != 4 && version != 6) {
        hkp_key_reason(err, errlen, hkp_key_version_reason(version));
        return -1;
    }
    if (hkp_pubkey_parse(&pkts[first], &pk, &e) != 0) {
        hkp_key_reason(err, errlen, e);
        return -1;
    }

    /* one scratch arena for everything */
    sz = ALIGN16(n * sizeof(hkp_pkt_t))          /* w */
        + ALIGN16(n * sizeof(hkp_pkt_t *)) * 2   /* outp, scratch */
        + ALIGN16(n * sizeof(ent_t))             /* tmp */
        + ALIGN16(n * sizeof(blk_t)) * 3         /* uids, subs, sorted */
        + ALIGN16(n * sizeof(size_t)) * 2;       /* gstart, gsize */
    arena = malloc(sz);
    if (arena == NULL) {
        hkp_key_reason(err, errlen, "out of memory");
        return -1;
    }
    a = arena;
    w = (hkp_pkt_t *) a;           a += ALIGN16(n * sizeof(hkp_pkt_t));
    outp = (const hkp_pkt_t **) a; a += ALIGN16(n * sizeof(hkp_pkt_t *));
    scratch = (const hkp_pkt_t **) a; a += ALIGN16(n * sizeof(hkp_pkt_t *));
    tmp = (ent_t *) a;             a += ALIGN16(n * sizeof(ent_t));
    uids = (blk_t *) a;            a += ALIGN16(n * sizeof(blk_t));
    subs = (blk_t *) a;            a += ALIGN16(n * sizeof(blk_t));
    sorted = (blk_t *) a;          a += ALIGN16(n * sizeof(blk_t));
    gstart = (size_t *) a;         a += ALIGN16(n * sizeof(size_t));
    gsize = (size_t *) a;

    /* grammar: PK SIG* ((UID|UAT) SIG*)* (SUB SIG*)*, trust dropped */
    w[nw++] = pkts[first];
    for (size_t i = first + 1; i < n; i++) {
        const hkp_pkt_t *p = &pkts[i];
        blk_t           *cur;

        if (p->tag != HKP_TAG_TRUST && p->len > L.max_packet_len) {
            hkp_key_too_large(err, errlen, p, L.max_packet_len);
            goto fail;
        }
        switch (p->tag) {
        case HKP_TAG_TRUST:
            continue;
        case HKP_TAG_SIG:
            if (state == 0)
                ndirect++;
            else if (state == 1)
                uids[nuid - 1].nsigs++;
            else
                subs[nsub - 1].nsigs++;
            w[nw++] = *p;
            continue;
        case HKP_TAG_UID:
        case HKP_TAG_UAT:
            if (state == 2) {       /* SKS stops here: the tail */
                tail_from = i;
                goto head_done;
            }
            state = 1;
            cur = &uids[nuid];
            cur->order = nuid++;
            break;
        case HKP_TAG_PUBSUB:
            if (version < 4) {
                hkp_key_reason(err, errlen, "subkey in a v3 key");
                goto fail;
            }
            {
                hkp_pubkey_t sk;
                const char  *e2;
                if (hkp_pubkey_parse(p, &sk, &e2) != 0) {
                    hkp_key_reason(err, errlen, "malformed subkey packet");
                    goto fail;
                }
            }
            state = 2;
            cur = &subs[nsub];
            cur->order = nsub++;
            break;
        case HKP_TAG_SECKEY:
        case HKP_TAG_SECSUB:
            hkp_key_reason(err, errlen, "secret key material");
            goto fail;
        case HKP_TAG_PUBKEY:
            hkp_key_reason(err, errlen, "more than one primary key packet");
            goto fail;
        case HKP_TAG_MARKER:        /* SKS stops here: the tail */
            tail_from = i;
            goto head_done;
        default:
            hkp_key_reason(err, errlen, "unexpected packet in key");
            goto fail;
        }
        w[nw] = *p;
        cur->hdr = &w[nw];
        cur->first = nw + 1;
        cur->nsigs = 0;
        nw++;
    }
head_done:

    /* emit: PK, direct sigs, UID blocks, subkey blocks */
    k = 0;
    outp[k++] = &w[0];
    for (size_t i = 0; i < ndirect; i++)
        scratch[i] = &w[1 + i];
    {
        size_t nd = dedup_ordered(scratch, ndirect, outp + k, tmp);
        if (nd > L.max_sigs_per_uid) {
            hkp_key_reasonf(err, errlen, "too many direct signatures (%zu > %zu)",
                nd, L.max_sigs_per_uid);
            goto fail;
        }
        k += nd;
    }
    r = emit_blocks(uids, sorted, nuid, w, gstart, gsize, scratch, tmp,
        outp + k, L.max_uids, L.max_sigs_per_uid, "user ID", &nrep, err,
        errlen);
    if (r < 0)
        goto fail;
    k += (size_t) r;
    nrep_u = nrep;
    r = emit_blocks(subs, sorted, nsub, w, gstart, gsize, scratch, tmp,
        outp + k, L.max_subkeys, L.max_sigs_per_uid, "subkey", &nrep, err,
        errlen);
    if (r < 0)
        goto fail;
    k += (size_t) r;
    nrep_s = nrep;
    head = k;
    if (tail_from < n
        && tail_append(pkts + tail_from, n - tail_from, version, &L,
               nrep_u, nrep_s, outp, &k, err, errlen) != 0)
        goto fail;

    if (k > L.max_packets) {
        hkp_key_reasonf(err, errlen, "too many packets in key (%zu > %zu)", k,
            L.max_packets);
        goto fail;
    }
    total = 0;
    sz = 0;
    for (size_t i = 0; i < k; i++) {
        total += outp[i]->len;
        sz += hkp_pkt_encoded_len(outp[i]);
    }
    if (sz > L.max_key_len) {
        hkp_key_reasonf(err, errlen, "key too large (%zu > %zu bytes)", sz,
            L.max_key_len);
        goto fail;
    }

    out->pkts = malloc(k * sizeof(hkp_pkt_t));
    out->mem = malloc(total ? total : 1);
    if (out->pkts == NULL || out->mem == NULL) {
        free(out->pkts);
        free(out->mem);
        out->pkts = NULL;
        out->mem = NULL;
        hkp_key_reason(err, errlen, "out of memory");
        goto fail;
    }
    a = out->mem;
    for (size_t i = 0; i < k; i++) {
        out->pkts[i].tag = outp[i]->tag;
        out->pkts[i].len = outp[i]->len;
        out->pkts[i].body = a;
        if (outp[i]->len)
            memcpy(a, outp[i]->body, outp[i]->len);
        a += outp[i]->len;
    }
    out->npkts = k;
    free(arena);
    hkp_key_hash(out->pkts, out->npkts, out->hash);
    if (head < k) {
        out->tail = head;
        tail_id(out->hash);
    }
    return 0;

fail:
    free(arena);
    return -1;
}

void
hkp_key_free(hkp_key_t *key)
{
    if (key == NULL)
        return;
    free(key->pkts);
    free(key->mem);
    key->pkts = NULL;
    key->mem = NULL;
    key->npkts = 0;
}
