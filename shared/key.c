/*
 * Keys: splitting, SKS canonicalisation ("dedup"), SKS hash, merge,
 * encode/decode, and the parsed fields the index shows. See key.h and
 * doc/recon.md section 1.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "key.h"
#include "hkp_limits.h"

/* ------------------------------------------------------------------ */
/* Digests (fetched once; OpenSSL 3 implicit fetches are slow).        */

static EVP_MD         *md_md5, *md_sha1, *md_sha256;
static pthread_once_t  md_once = PTHREAD_ONCE_INIT;

static void
md_init(void)
{
    md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *
get_md(int which)
{
    pthread_once(&md_once, md_init);
    switch (which) {
    case 0: return md_md5 ? md_md5 : EVP_md5();
    case 1: return md_sha1 ? md_sha1 : EVP_sha1();
    default: return md_sha256 ? md_sha256 : EVP_sha256();
    }
}

/* Digest of up to 3 parts. 0 or -1. */
static int
digest3(int which, const void *p1, size_t l1, const void *p2, size_t l2,
    const void *p3, size_t l3, uint8_t *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int         ok;

    if (ctx == NULL)
        return -1;
    ok = EVP_DigestInit_ex(ctx, get_md(which), NULL)
        && EVP_DigestUpdate(ctx, p1, l1)
        && (l2 == 0 || EVP_DigestUpdate(ctx, p2, l2))
        && (l3 == 0 || EVP_DigestUpdate(ctx, p3, l3))
        && EVP_DigestFinal_ex(ctx, out, NULL);
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

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
static void
lim_effective(const hkp_limits_t *in, hkp_limits_t *out)
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

/* Formats a reason into the caller's err[errlen] (see key.h). */
__attribute__((format(printf, 3, 4)))
static void
key_reasonf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list  ap;

    if (errlen == 0)
        return;
    va_start(ap, fmt);
    (void) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Copies a fixed reason into the caller's err[errlen]. */
static void
key_reason(char *err, size_t errlen, const char *reason)
{
    key_reasonf(err, errlen, "%s", reason);
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

static void
packet_too_large(char *err, size_t errlen, const hkp_pkt_t *p, size_t max)
{
    key_reasonf(err, errlen, "%s too large (%lu > %zu bytes)",
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
    ok = EVP_DigestInit_ex(ctx, get_md(0), NULL);
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

static uint8_t
sig_type_of(const hkp_pkt_t *p)
{
    if (p->len >= 3 && (p->body[0] == 2 || p->body[0] == 3))
        return p->body[2];
    if (p->len >= 2)
        return p->body[1];
    return 0;
}

static const char *
leading_reason(const hkp_pkt_t *pkts, size_t n, size_t first)
{
    for (size_t i = 0; i < n; i++)
        if (pkts[i].tag == HKP_TAG_SECKEY || pkts[i].tag == HKP_TAG_SECSUB)
            return "secret key material";
    if (pkts[first].tag == HKP_TAG_SIG && sig_type_of(&pkts[first]) == 0x20)
        return "stand-alone revocation certificate";
    return "packets before the first public key";
}

static const char *
unsupported_version(int v)
{
    static const char *msgs[] = {
        "unsupported key version 0", "unsupported key version 1",
        "unsupported key version 2", "unsupported key version 3",
        "unsupported key version 4", "unsupported key version 5",
        "unsupported key version 6", "unsupported key version 7",
        "unsupported key version 8", "unsupported key version 9",
    };
    if (v >= 0 && v < 10)
        return msgs[v];
    return "unsupported key version";
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
        key_reasonf(err, errlen, "too many %ss (%zu > %zu)", what, nrep,
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
            key_reasonf(err, errlen, "too many signatures on one %s (%zu > %zu)",
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

int
hkp_key_canon(const hkp_pkt_t *pkts, size_t n, const hkp_limits_t *lim,
    hkp_key_t *out, char *err, size_t errlen)
{
    hkp_limits_t     L;
    size_t           nw = 0, first = n, ndirect = 0, nuid = 0, nsub = 0;
    size_t           k, nrep, total, sz;
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
    lim_effective(lim, &L);

    for (size_t i = 0; i < n; i++)
        if (pkts[i].tag != HKP_TAG_TRUST) {
            first = i;
            break;
        }
    if (first == n) {
        key_reason(err, errlen,
            n ? "packets before the first public key" : "empty key");
        return -1;
    }
    if (pkts[first].tag != HKP_TAG_PUBKEY) {
        key_reason(err, errlen, leading_reason(pkts, n, first));
        return -1;
    }
    if (n > 2 * (size_t) HKP_MAX_PACKETS_PER_KEY) {
        key_reason(err, errlen, "too many packets in key");
        return -1;
    }
    if (pkts[first].len > L.max_packet_len) {
        packet_too_large(err, errlen, &pkts[first], L.max_packet_len);
        return -1;
    }
    if (pkts[first].len < 1) {
        key_reason(err, errlen, "malformed public key packet");
        return -1;
    }
    version = pkts[first].body[0];
    if (version != 2 && version != 3 && version != 4 && version != 6) {
        key_reason(err, errlen, unsupported_version(version));
        return -1;
    }
    if (hkp_pubkey_parse(&pkts[first], &pk, &e) != 0) {
        key_reason(err, errlen, e);
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
        key_reason(err, errlen, "out of memory");
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
            packet_too_large(err, errlen, p, L.max_packet_len);
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
            if (state == 2) {
                key_reason(err, errlen, "user ID after a subkey");
                goto fail;
            }
            state = 1;
            cur = &uids[nuid];
            cur->order = nuid++;
            break;
        case HKP_TAG_PUBSUB:
            if (version < 4) {
                key_reason(err, errlen, "subkey in a v3 key");
                goto fail;
            }
            {
                hkp_pubkey_t sk;
                const char  *e2;
                if (hkp_pubkey_parse(p, &sk, &e2) != 0) {
                    key_reason(err, errlen, "malformed subkey packet");
                    goto fail;
                }
            }
            state = 2;
            cur = &subs[nsub];
            cur->order = nsub++;
            break;
        case HKP_TAG_SECKEY:
        case HKP_TAG_SECSUB:
            key_reason(err, errlen, "secret key material");
            goto fail;
        case HKP_TAG_PUBKEY:
            key_reason(err, errlen, "more than one primary key packet");
            goto fail;
        default:
            key_reason(err, errlen, "unexpected packet in key");
            goto fail;
        }
        w[nw] = *p;
        cur->hdr = &w[nw];
        cur->first = nw + 1;
        cur->nsigs = 0;
        nw++;
    }

    /* emit: PK, direct sigs, UID blocks, subkey blocks */
    k = 0;
    outp[k++] = &w[0];
    for (size_t i = 0; i < ndirect; i++)
        scratch[i] = &w[1 + i];
    {
        size_t nd = dedup_ordered(scratch, ndirect, outp + k, tmp);
        if (nd > L.max_sigs_per_uid) {
            key_reasonf(err, errlen, "too many direct signatures (%zu > %zu)",
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
    r = emit_blocks(subs, sorted, nsub, w, gstart, gsize, scratch, tmp,
        outp + k, L.max_subkeys, L.max_sigs_per_uid, "subkey", &nrep, err,
        errlen);
    if (r < 0)
        goto fail;
    k += (size_t) r;

    if (k > L.max_packets) {
        key_reasonf(err, errlen, "too many packets in key (%zu > %zu)", k,
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
        key_reasonf(err, errlen, "key too large (%zu > %zu bytes)", sz,
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
        key_reason(err, errlen, "out of memory");
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

    lim_effective(lim, &L);
    for (;;) {
        hkp_pkt_t   p = { 0, 0, NULL };
        size_t      used = 0;
        const char *e = NULL;
        int         at_end = (pos >= len), framing = 0;

        if (!at_end && hkp_pkt_read(buf + pos, len - pos, &p, &used, &e) != 0)
            framing = 1;

        /* finish the key in progress */
        if ((at_end || framing || p.tag == HKP_TAG_PUBKEY)
            && (ncur > 0 || over != OVER_NONE || framing))
        {
            hkp_key_t  *key = NULL;

            if (index >= HKP_MAX_KEYS_PER_BLOB) {
                key_reason(err, errlen, "too many keys in one blob");
                rc = -1;
                break;
            }
            if (framing) {
                key_reason(err, errlen, e);
            } else if (over == OVER_KEYLEN) {
                key_reasonf(err, errlen, "key too large (%zu > %zu bytes)",
                    curbytes, L.max_key_len);
            } else if (over == OVER_PACKETS) {
                key_reasonf(err, errlen, "too many packets in key (%zu > %zu)",
                    curpkts, L.max_packets);
            } else if (over == OVER_PKTLEN) {
                packet_too_large(err, errlen, &big, L.max_packet_len);
            } else if (over == OVER_OOM) {
                key_reason(err, errlen, "out of memory");
            } else {
                key = malloc(sizeof(*key));
                if (key == NULL) {
                    key_reason(err, errlen, "out of memory");
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
            key_reason(err, errlen, e);
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
        if (p.len > L.max_packet_len) {
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
/* Merge                                                                */

int
hkp_key_merge(const hkp_key_t *a, const hkp_key_t *b,
    const hkp_limits_t *lim, hkp_key_t *out, char *err, size_t errlen)
{
    hkp_pkt_t *v;
    size_t     n = 0, ea, eb, sa, sb;
    int        r;

    memset(out, 0, sizeof(*out));
    if (a->npkts == 0 || b->npkts == 0
        || !hkp_pkt_eq(&a->pkts[0], &b->pkts[0]))
    {
        key_reason(err, errlen, "primary key packets differ");
        return -1;
    }
    if (memcmp(a->hash, b->hash, HKP_HASH_LEN) == 0)
        return hkp_key_canon(a->pkts, a->npkts, lim, out, err, errlen);

    /* end of direct sigs (ea/eb) and start of subkeys (sa/sb) */
    for (ea = 1; ea < a->npkts && a->pkts[ea].tag == HKP_TAG_SIG; ea++) {}
    for (eb = 1; eb < b->npkts && b->pkts[eb].tag == HKP_TAG_SIG; eb++) {}
    for (sa = ea; sa < a->npkts && a->pkts[sa].tag != HKP_TAG_PUBSUB; sa++) {}
    for (sb = eb; sb < b->npkts && b->pkts[sb].tag != HKP_TAG_PUBSUB; sb++) {}

    v = malloc((a->npkts + b->npkts) * sizeof(*v));
    if (v == NULL) {
        key_reason(err, errlen, "out of memory");
        return -1;
    }
    v[n++] = a->pkts[0];
#define CP(k, from, to) \
    for (size_t i = (from); i < (to); i++) v[n++] = (k)->pkts[i]
    CP(a, 1, ea);
    CP(b, 1, eb);
    CP(a, ea, sa);
    CP(b, eb, sb);
    CP(a, sa, a->npkts);
    CP(b, sb, b->npkts);
#undef CP
    r = hkp_key_canon(v, n, lim, out, err, errlen);
    free(v);
    return r;
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
        key_reason(err, errlen, "key too large");
        return -1;
    }
    while (pos < len) {
        if (hkp_pkt_read(buf + pos, len - pos, &p, &used, &e) != 0) {
            key_reason(err, errlen, e);
            return -1;
        }
        pos += used;
        n++;
        if (n > HKP_MAX_PACKETS_PER_KEY) {
            key_reason(err, errlen, "too many packets in key");
            return -1;
        }
    }
    if (n > 32) {
        v = malloc(n * sizeof(*v));
        if (v == NULL) {
            key_reason(err, errlen, "out of memory");
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

/* ------------------------------------------------------------------ */
/* Public key packets                                                   */

static uint32_t
be32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
        | ((uint32_t) p[2] << 8) | p[3];
}

/* Reads an MPI at *p (remaining *n). Returns 0 and sets data/bits. */
static int
read_mpi(const uint8_t **p, size_t *n, const uint8_t **data, size_t *dlen,
    unsigned *bits)
{
    unsigned b;
    size_t   l;

    if (*n < 2)
        return -1;
    b = ((unsigned) (*p)[0] << 8) | (*p)[1];
    l = (b + 7) / 8;
    if (l > *n - 2)
        return -1;
    *data = *p + 2;
    *dlen = l;
    *bits = b;
    *p += 2 + l;
    *n -= 2 + l;
    return 0;
}

static const struct {
    const char    *name;
    unsigned       bits;
    uint8_t        len;
    const uint8_t  oid[10];
} curves[] = {
    { "nistp256", 256, 8, { 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 } },
    { "nistp384", 384, 5, { 0x2B, 0x81, 0x04, 0x00, 0x22 } },
    { "nistp521", 521, 5, { 0x2B, 0x81, 0x04, 0x00, 0x23 } },
    { "brainpoolP256r1", 256, 9,
        { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07 } },
    { "brainpoolP384r1", 384, 9,
        { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0B } },
    { "brainpoolP512r1", 512, 9,
        { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0D } },
    { "secp256k1", 256, 5, { 0x2B, 0x81, 0x04, 0x00, 0x0A } },
    { "ed25519", 256, 9,
        { 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01 } },
    { "cv25519", 256, 10,
        { 0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01 } },
    { "ed25519", 256, 3, { 0x2B, 0x65, 0x70 } },
    { "cv25519", 256, 3, { 0x2B, 0x65, 0x6E } },
    { "ed448", 448, 3, { 0x2B, 0x65, 0x71 } },
    { "x448", 448, 3, { 0x2B, 0x65, 0x6F } },
};

/* Fills bits/curve from the algorithm-specific key material. Unknown
 * algorithms and unknown curve OIDs leave bits 0 and curve NULL. */
static int
parse_material(int algo, const uint8_t *m, size_t ml, hkp_pubkey_t *out,
    const uint8_t **n_data, size_t *n_len, const uint8_t **e_data,
    size_t *e_len)
{
    const uint8_t *d;
    size_t         dl;
    unsigned       bits;

    switch (algo) {
    case 1: case 2: case 3:
        if (read_mpi(&m, &ml, &d, &dl, &bits) != 0)
            return -1;
        out->bits = bits;
        if (n_data) {
            *n_data = d;
            *n_len = dl;
        }
        if (read_mpi(&m, &ml, &d, &dl, &bits) != 0)
            return -1;
        if (e_data) {
            *e_data = d;
            *e_len = dl;
        }
        return 0;
    case 16: case 17: case 20:
        if (read_mpi(&m, &ml, &d, &dl, &bits) != 0)
            return -1;
        out->bits = bits;
        if (n_data) {
            *n_data = d;
            *n_len = dl;
        }
        if (read_mpi(&m, &ml, &d, &dl, &bits) != 0)
            return -1;
        if (e_data) {
            *e_data = d;
            *e_len = dl;
        }
        return 0;
    case 18: case 19: case 22: {
        size_t ol;
        if (ml < 1)
            return -1;
        ol = m[0];
        if (ol == 0 || ol == 0xFF || ol > ml - 1)
            return -1;
        for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
            if (curves[i].len == ol && memcmp(curves[i].oid, m + 1, ol) == 0) {
                out->curve = curves[i].name;
                out->bits = curves[i].bits;
                break;
            }
        m += 1 + ol;
        ml -= 1 + ol;
        if (read_mpi(&m, &ml, &d, &dl, &bits) != 0)
            return -1;
        return 0;
    }
    case 25:
        if (ml < 32) return -1;
        out->curve = "cv25519"; out->bits = 256;
        return 0;
    case 26:
        if (ml < 56) return -1;
        out->curve = "x448"; out->bits = 448;
        return 0;
    case 27:
        if (ml < 32) return -1;
        out->curve = "ed25519"; out->bits = 256;
        return 0;
    case 28:
        if (ml < 57) return -1;
        out->curve = "ed448"; out->bits = 448;
        return 0;
    default:
        return 0;
    }
}

int
hkp_pubkey_parse(const hkp_pkt_t *pkt, hkp_pubkey_t *out, const char **err)
{
    const uint8_t *b = pkt->body;
    size_t         len = pkt->len;

    memset(out, 0, sizeof(*out));
    if (pkt->tag != HKP_TAG_PUBKEY && pkt->tag != HKP_TAG_PUBSUB
        && pkt->tag != HKP_TAG_SECKEY && pkt->tag != HKP_TAG_SECSUB)
    {
        *err = "not a public key packet";
        return -1;
    }
    if (len < 1) {
        *err = "malformed public key packet";
        return -1;
    }
    out->version = b[0];

    switch (b[0]) {
    case 2:
    case 3: {
        const uint8_t *nd = NULL, *ed = NULL;
        size_t         nl = 0, el = 0;

        if (len < 8) {
            *err = "malformed public key packet";
            return -1;
        }
        out->ctime = be32(b + 1);
        out->v3_days = ((uint32_t) b[5] << 8) | b[6];
        out->algo = b[7];
        if (parse_material(out->algo, b + 8, len - 8, out, &nd, &nl,
                &ed, &el) != 0 || nd == NULL)
        {
            *err = "malformed v3 key material";
            return -1;
        }
        if (digest3(0, nd, nl, ed, el, NULL, 0, out->fpr) != 0) {
            *err = "digest failed";
            return -1;
        }
        out->fpr_len = 16;
        /* key ID: low 64 bits of n */
        if (nl >= 8)
            memcpy(out->keyid, nd + nl - 8, 8);
        else
            memcpy(out->keyid + 8 - nl, nd, nl);
        return 0;
    }
    case 4: {
        uint8_t hdr[3];
        uint8_t md[EVP_MAX_MD_SIZE];

        if (len < 6) {
            *err = "malformed public key packet";
            return -1;
        }
        if (len > 0xFFFF) {
            *err = "v4 key packet too large";
            return -1;
        }
        out->ctime = be32(b + 1);
        out->algo = b[5];
        if (parse_material(out->algo, b + 6, len - 6, out, NULL, NULL,
                NULL, NULL) != 0)
        {
            *err = "malformed key material";
            return -1;
        }
        hdr[0] = 0x99;
        hdr[1] = (uint8_t) (len >> 8);
        hdr[2] = (uint8_t) len;
        if (digest3(1, hdr, 3, b, len, NULL, 0, md) != 0) {
            *err = "digest failed";
            return -1;
        }
        memcpy(out->fpr, md, 20);
        out->fpr_len = 20;
        memcpy(out->keyid, out->fpr + 12, 8);
        return 0;
    }
    case 6: {
        uint8_t  hdr[5];
        uint32_t ml;

        if (len < 10) {
            *err = "malformed public key packet";
            return -1;
        }
        out->ctime = be32(b + 1);
        out->algo = b[5];
        ml = be32(b + 6);
        if (ml > len - 10) {
            *err = "malformed key material";
            return -1;
        }
        if (parse_material(out->algo, b + 10, ml, out, NULL, NULL,
                NULL, NULL) != 0)
        {
            *err = "malformed key material";
            return -1;
        }
        hdr[0] = 0x9B;
        hdr[1] = (uint8_t) (len >> 24);
        hdr[2] = (uint8_t) (len >> 16);
        hdr[3] = (uint8_t) (len >> 8);
        hdr[4] = (uint8_t) len;
        if (digest3(2, hdr, 5, b, len, NULL, 0, out->fpr) != 0) {
            *err = "digest failed";
            return -1;
        }
        out->fpr_len = 32;
        memcpy(out->keyid, out->fpr, 8);
        return 0;
    }
    default:
        *err = unsupported_version(b[0]);
        return -1;
    }
}

/* ------------------------------------------------------------------ */
/* Signatures                                                           */

static int
parse_subpackets(const uint8_t *p, size_t n, int hashed, hkp_sig_t *out,
    int *have16)
{
    while (n > 0) {
        size_t l, hl;
        int    type;

        if (p[0] < 192) {
            l = p[0];
            hl = 1;
        } else if (p[0] < 255) {
            if (n < 2)
                return -1;
            l = ((size_t) (p[0] - 192) << 8) + p[1] + 192;
            hl = 2;
        } else {
            if (n < 5)
                return -1;
            l = be32(p + 1);
            hl = 5;
        }
        if (l == 0 || l > n - hl)
            return -1;
        p += hl;
        n -= hl;
        type = p[0] & 0x7f;
        {
            const uint8_t *d = p + 1;
            size_t         dl = l - 1;

            switch (type) {
            case 2:
                if (hashed && dl >= 4)
                    out->ctime = be32(d);
                break;
            case 3:
                if (hashed && dl >= 4)
                    out->sig_expire = be32(d);
                break;
            case 9:
                if (hashed && dl >= 4)
                    out->key_expire = be32(d);
                break;
            case 25:
                if (hashed && dl >= 1)
                    out->primary_uid = d[0] != 0;
                break;
            case 27:
                if (hashed && dl >= 1) {
                    out->has_key_flags = 1;
                    out->key_flags = d[0];
                }
                break;
            case 16:
                if (dl == 8 && !*have16) {
                    memcpy(out->issuer, d, 8);
                    *have16 = 1;
                }
                break;
            case 33:
                if (dl >= 2 && out->issuer_fpr_len == 0) {
                    size_t fl = dl - 1;
                    if (fl > 32)
                        fl = 32;
                    memcpy(out->issuer_fpr, d + 1, fl);
                    out->issuer_fpr_len = fl;
                }
                break;
            default:
                break;
            }
        }
        p += l;
        n -= l;
    }
    return 0;
}

int
hkp_sig_parse(const hkp_pkt_t *pkt, hkp_sig_t *out, const char **err)
{
    const uint8_t *b = pkt->body;
    size_t         len = pkt->len, hl, ul, off;
    int            have16 = 0;

    memset(out, 0, sizeof(*out));
    if (pkt->tag != HKP_TAG_SIG) {
        *err = "not a signature packet";
        return -1;
    }
    if (len < 1) {
        *err = "malformed signature packet";
        return -1;
    }
    out->version = b[0];
    switch (b[0]) {
    case 2:
    case 3:
        if (len < 19 || b[1] != 5) {
            *err = "malformed v3 signature packet";
            return -1;
        }
        out->type = b[2];
        out->ctime = be32(b + 3);
        memcpy(out->issuer, b + 7, 8);
        out->has_issuer = 1;
        out->pk_algo = b[15];
        out->hash_algo = b[16];
        return 0;
    case 4:
    case 6: {
        size_t lw = b[0] == 4 ? 2 : 4;

        if (len < 4 + lw) {
            *err = "malformed signature packet";
            return -1;
        }
        out->type = b[1];
        out->pk_algo = b[2];
        out->hash_algo = b[3];
        off = 4;
        hl = lw == 2 ? (((size_t) b[off] << 8) | b[off + 1]) : be32(b + off);
        off += lw;
        if (hl > len - off) {
            *err = "malformed signature packet";
            return -1;
        }
        if (parse_subpackets(b + off, hl, 1, out, &have16) != 0) {
            *err = "malformed signature subpacket";
            return -1;
        }
        off += hl;
        if (lw > len - off) {
            *err = "malformed signature packet";
            return -1;
        }
        ul = lw == 2 ? (((size_t) b[off] << 8) | b[off + 1]) : be32(b + off);
        off += lw;
        if (ul > len - off) {
            *err = "malformed signature packet";
            return -1;
        }
        if (parse_subpackets(b + off, ul, 0, out, &have16) != 0) {
            *err = "malformed signature subpacket";
            return -1;
        }
        if (have16) {
            out->has_issuer = 1;
        } else if (out->issuer_fpr_len == 20) {
            memcpy(out->issuer, out->issuer_fpr + 12, 8);
            out->has_issuer = 1;
        } else if (out->issuer_fpr_len == 32) {
            memcpy(out->issuer, out->issuer_fpr, 8);
            out->has_issuer = 1;
        }
        return 0;
    }
    default:
        *err = "unsupported signature version";
        return -1;
    }
}

/* ------------------------------------------------------------------ */
/* Key view                                                             */

int
hkp_keyview_build(const hkp_key_t *key, hkp_keyview_t *v, const char **err)
{
    size_t   i, nu = 0, ns = 0;
    uint32_t newest_ctime = 0;
    int      have_newest = 0;
    hkp_sig_t newest = { 0 };

    memset(v, 0, sizeof(*v));
    v->key = key;
    if (key->npkts == 0 || key->pkts[0].tag != HKP_TAG_PUBKEY) {
        *err = "not a key";
        return -1;
    }
    if (hkp_pubkey_parse(&key->pkts[0], &v->pk, err) != 0)
        return -1;

    for (i = 1; i < key->npkts && key->pkts[i].tag == HKP_TAG_SIG; i++) {
        uint8_t t = sig_type_of(&key->pkts[i]);
        if (t == 0x20 || t == 0x28 || t == 0x30)
            v->revoked = 1;
    }
    v->ndirect = i - 1;
    for (; i < key->npkts; i++) {
        uint8_t t = key->pkts[i].tag;
        if (t == HKP_TAG_UID || t == HKP_TAG_UAT)
            nu++;
        else if (t == HKP_TAG_PUBSUB)
            ns++;
    }
    if (nu) {
        v->uids = malloc(nu * sizeof(hkp_block_t));
        if (v->uids == NULL)
            goto oom;
    }
    if (ns) {
        v->subs = malloc(ns * sizeof(hkp_block_t));
        if (v->subs == NULL)
            goto oom;
    }
    for (i = 1 + v->ndirect; i < key->npkts; i++) {
        uint8_t      t = key->pkts[i].tag;
        hkp_block_t *b;

        if (t == HKP_TAG_UID || t == HKP_TAG_UAT)
            b = &v->uids[v->nuids++];
        else if (t == HKP_TAG_PUBSUB)
            b = &v->subs[v->nsubs++];
        else
            continue;
        b->at = i;
        b->nsigs = 0;
        while (i + 1 < key->npkts && key->pkts[i + 1].tag == HKP_TAG_SIG) {
            b->nsigs++;
            i++;
        }
    }

    if (v->pk.version < 4) {
        if (v->pk.v3_days) {
            uint64_t e = (uint64_t) v->pk.ctime + (uint64_t) v->pk.v3_days * 86400;
            v->exptime = e > UINT32_MAX ? UINT32_MAX : (uint32_t) e;
        }
    } else {
        for (i = 0; i < v->nuids; i++) {
            hkp_sig_t s;
            if (key->pkts[v->uids[i].at].tag != HKP_TAG_UID)
                continue;
            if (hkp_keyview_selfsig(v, &v->uids[i], &s) != 0)
                continue;
            if (!have_newest || s.ctime > newest_ctime) {
                newest = s;
                newest_ctime = s.ctime;
                have_newest = 1;
            }
        }
        if (have_newest && newest.key_expire) {
            uint64_t e = (uint64_t) v->pk.ctime + newest.key_expire;
            v->exptime = e > UINT32_MAX ? UINT32_MAX : (uint32_t) e;
        }
    }
    return 0;

oom:
    hkp_keyview_free(v);
    *err = "out of memory";
    return -1;
}

void
hkp_keyview_free(hkp_keyview_t *v)
{
    free(v->uids);
    free(v->subs);
    v->uids = NULL;
    v->subs = NULL;
    v->nuids = 0;
    v->nsubs = 0;
}

int
hkp_keyview_selfsig(const hkp_keyview_t *v, const hkp_block_t *b,
    hkp_sig_t *out)
{
    const hkp_key_t *key = v->key;
    int              found = 0;

    for (size_t i = 0; i < b->nsigs; i++) {
        hkp_sig_t   s;
        const char *e;

        if (b->at + 1 + i >= key->npkts)
            break;
        if (hkp_sig_parse(&key->pkts[b->at + 1 + i], &s, &e) != 0)
            continue;
        if (s.type < 0x10 || s.type > 0x13 || !s.has_issuer
            || memcmp(s.issuer, v->pk.keyid, 8) != 0)
            continue;
        if (!found || s.ctime > out->ctime) {
            *out = s;
            found = 1;
        }
    }
    return found ? 0 : -1;
}
