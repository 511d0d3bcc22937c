/*
 * Fuzz target "keys": the packet framing, key splitting, SKS
 * canonicalisation, hash, merge, encode/decode and the parsed fields
 * (shared/packet.c, shared/key_*.c). The input is a binary packet stream.
 *
 * Invariants (abort on violation), for every key the parser accepts, under
 * the default limits and under tight ones:
 *   - its hash is the SKS hash of its packets, unless it has a tail SKS
 *     refuses (key.h; then it is not);
 *   - canonicalising it again changes nothing (same packets, bytes, hash);
 *   - merging it with itself changes nothing;
 *   - decode(encode(k)) == k, and encode writes hkp_key_encoded_len bytes;
 *   - for two keys a, b with the same primary key packet, a successful
 *     merge m is canonical, has the hash of merge(b, a), and absorbs each
 *     input k: merge(merge(m, k), k) == merge(m, k), which is m itself
 *     unless k repeats a signature inside one block (SKS keeps such
 *     repeats in a block that occurs once, doc/recon.md 1.2, and a merge
 *     collapses them).
 * The whole input is also decoded as one stored key (hkp_key_decode),
 * whose result must satisfy the same invariants.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "key.h"
#include "packet.h"

/* Keys of one input that take part in the pairwise merge checks. */
#define FUZZ_KEYS_MAX_MERGE  8

typedef struct {
    const hkp_limits_t *lim;
    hkp_key_t          *keys[FUZZ_KEYS_MAX_MERGE];
    size_t              nkeys;
} keys_ctx_t;

/* Same packets (tag and body bytes), same hash, same encoding. */
static void
same_key(const hkp_key_t *a, const hkp_key_t *b, const char *what)
{
    size_t la = hkp_key_encoded_len(a), lb = hkp_key_encoded_len(b);
    uint8_t *ea, *eb;

    FUZZ_CHECK(a->npkts == b->npkts, what);
    for (size_t i = 0; i < a->npkts; i++)
        FUZZ_CHECK(hkp_pkt_eq(&a->pkts[i], &b->pkts[i]), what);
    FUZZ_CHECK(memcmp(a->hash, b->hash, HKP_HASH_LEN) == 0, what);
    FUZZ_CHECK(la == lb, what);
    ea = malloc(la + 1);
    eb = malloc(lb + 1);
    FUZZ_CHECK(ea != NULL && eb != NULL, "out of memory");
    FUZZ_CHECK(hkp_key_encode(a, ea) == ea + la, "encode writes encoded_len");
    FUZZ_CHECK(hkp_key_encode(b, eb) == eb + lb, "encode writes encoded_len");
    FUZZ_CHECK(memcmp(ea, eb, la) == 0, what);
    free(ea);
    free(eb);
}

/* The parsed fields: no invariant beyond "no crash, no leak". */
static void
exercise_fields(const hkp_key_t *k)
{
    hkp_keyview_t v;
    const char *err = NULL;

    for (size_t i = 0; i < k->npkts; i++) {
        hkp_pubkey_t pk;
        hkp_sig_t sig;
        if (k->pkts[i].tag == HKP_TAG_PUBKEY
            || k->pkts[i].tag == HKP_TAG_PUBSUB)
            (void) hkp_pubkey_parse(&k->pkts[i], &pk, &err);
        else if (k->pkts[i].tag == HKP_TAG_SIG)
            (void) hkp_sig_parse(&k->pkts[i], &sig, &err);
    }
    if (hkp_keyview_build(k, &v, &err) == 0) {
        hkp_sig_t sig;
        FUZZ_CHECK(v.key == k, "view of the key");
        for (size_t i = 0; i < v.nuids; i++) {
            FUZZ_CHECK(v.uids[i].at + v.uids[i].nsigs < k->npkts,
                "UID block inside the key");
            (void) hkp_keyview_selfsig(&v, &v.uids[i], &sig);
        }
        for (size_t i = 0; i < v.nsubs; i++) {
            FUZZ_CHECK(v.subs[i].at + v.subs[i].nsigs < k->npkts,
                "subkey block inside the key");
            (void) hkp_keyview_selfsig(&v, &v.subs[i], &sig);
        }
        hkp_keyview_free(&v);
    }
}

static void
check_canonical(const hkp_key_t *k, const hkp_limits_t *lim)
{
    hkp_key_t c, m, d;
    uint8_t h[HKP_HASH_LEN], *enc;
    size_t elen;
    char why[HKP_REASON_LEN];

    FUZZ_CHECK(k->npkts > 0 && k->pkts[0].tag == HKP_TAG_PUBKEY,
        "a key starts with its primary key packet");
    hkp_key_hash(k->pkts, k->npkts, h);
    FUZZ_CHECK((memcmp(h, k->hash, HKP_HASH_LEN) == 0) == (k->tail == 0),
        "the key's hash is the SKS hash of its packets (with a tail: not)");
    FUZZ_CHECK((k->tail == 0) == (hkp_key_sks_reason(k) == NULL),
        "SKS refuses a key exactly when it has a tail");

    FUZZ_CHECK(hkp_key_canon(k->pkts, k->npkts, lim, &c, why, sizeof(why)) == 0,
        "a canonical key canonicalises again");
    same_key(k, &c, "canonicalising a canonical key changes nothing");
    hkp_key_free(&c);

    FUZZ_CHECK(hkp_key_merge(k, k, lim, &m, why, sizeof(why)) == 0,
        "a key merges with itself");
    same_key(k, &m, "merging a key with itself changes nothing");
    hkp_key_free(&m);

    elen = hkp_key_encoded_len(k);
    enc = malloc(elen + 1);
    FUZZ_CHECK(enc != NULL, "out of memory");
    FUZZ_CHECK(hkp_key_encode(k, enc) == enc + elen,
        "encode writes encoded_len bytes");
    FUZZ_CHECK(hkp_key_decode(enc, elen, &d, why, sizeof(why)) == 0,
        "an encoded key decodes");
    same_key(k, &d, "decode(encode(k)) == k");
    hkp_key_free(&d);
    free(enc);

    exercise_fields(k);
}

/* A signature repeated inside one block (direct sigs, or one UID/UAT/
 * subkey block): canonical keys keep those when the block occurs once
 * (the SKS quirk of doc/recon.md 1.2), and a merge where the block meets
 * itself collapses them. */
static int
has_repeated_sig(const hkp_key_t *k)
{
    size_t start = 1;

    for (size_t i = 1; i <= k->npkts; i++) {
        if (i < k->npkts && k->pkts[i].tag == HKP_TAG_SIG)
            continue;
        for (size_t x = start; x < i; x++)
            for (size_t y = x + 1; y < i; y++)
                if (hkp_pkt_eq(&k->pkts[x], &k->pkts[y]))
                    return 1;
        start = i + 1;
    }
    return 0;
}

/* merge(merge(m, k), k) == merge(m, k), and == m when k has no repeated
 * signature in a block and m already holds all of k (m is a merge result
 * with k as one input). */
static void
check_absorbs(const hkp_key_t *m, const hkp_key_t *k, const hkp_limits_t *lim)
{
    hkp_key_t once, twice;
    char why[HKP_REASON_LEN];

    if (hkp_key_merge(m, k, lim, &once, why, sizeof(why)) != 0) {
        /* collapsing only shrinks m, so a limit cannot be the reason */
        FUZZ_CHECK(0, "a merge result merges with one of its inputs");
    }
    if (!has_repeated_sig(k))
        same_key(m, &once, "merge(merge(a, b), a) == merge(a, b)");
    FUZZ_CHECK(hkp_key_merge(&once, k, lim, &twice, why, sizeof(why)) == 0,
        "merging the same key again");
    same_key(&once, &twice, "merging the same key twice changes nothing");
    hkp_key_free(&twice);
    hkp_key_free(&once);
}

/* a and b share their primary key packet. */
static void
check_merge(const hkp_key_t *a, const hkp_key_t *b, const hkp_limits_t *lim)
{
    hkp_key_t ab, ba;
    char why[HKP_REASON_LEN];

    if (hkp_key_merge(a, b, lim, &ab, why, sizeof(why)) != 0)
        return;                 /* over a limit: a refusal, not a bug */
    check_canonical(&ab, lim);
    check_absorbs(&ab, a, lim);
    check_absorbs(&ab, b, lim);
    FUZZ_CHECK(hkp_key_merge(b, a, lim, &ba, why, sizeof(why)) == 0,
        "merging the other way round fits the same limits");
    FUZZ_CHECK(memcmp(ab.hash, ba.hash, HKP_HASH_LEN) == 0,
        "merge(a, b) and merge(b, a) hold the same packets");
    hkp_key_free(&ba);
    hkp_key_free(&ab);
}

static int
on_key(void *vctx, size_t index, hkp_key_t *key, const char *reason)
{
    keys_ctx_t *ctx = vctx;

    (void) index;
    if (key == NULL) {
        FUZZ_CHECK(reason != NULL && reason[0] != '\0',
            "a refused key has a reason");
        return 0;
    }
    check_canonical(key, ctx->lim);
    if (ctx->nkeys < FUZZ_KEYS_MAX_MERGE) {
        ctx->keys[ctx->nkeys++] = key;
    } else {
        hkp_key_free(key);
        free(key);
    }
    return 0;
}

static void
run_stream(const uint8_t *data, size_t size, const hkp_limits_t *lim)
{
    keys_ctx_t ctx;
    char why[HKP_REASON_LEN];

    memset(&ctx, 0, sizeof(ctx));
    ctx.lim = lim;
    if (hkp_keys_parse(data, size, lim, on_key, &ctx, why, sizeof(why)) != 0)
        FUZZ_CHECK(why[0] != '\0', "a framing error has a reason");
    for (size_t i = 0; i < ctx.nkeys; i++)
        for (size_t j = i + 1; j < ctx.nkeys; j++)
            if (hkp_pkt_eq(&ctx.keys[i]->pkts[0], &ctx.keys[j]->pkts[0]))
                check_merge(ctx.keys[i], ctx.keys[j], lim);
    for (size_t i = 0; i < ctx.nkeys; i++) {
        hkp_key_free(ctx.keys[i]);
        free(ctx.keys[i]);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Tight limits, so the fuzzer reaches every refusal path with small
     * inputs. */
    static const hkp_limits_t tight = {
        .max_packet_len = 256, .max_key_len = 2048, .max_packets = 12,
        .max_uids = 2, .max_sigs_per_uid = 2, .max_subkeys = 2
    };
    hkp_key_t k;
    char why[HKP_REASON_LEN];

    run_stream(data, size, NULL);
    run_stream(data, size, &tight);

    if (hkp_key_decode(data, size, &k, why, sizeof(why)) == 0) {
        check_canonical(&k, NULL);
        hkp_key_free(&k);
    }
    return 0;
}
