/*
 * Keys: splitting a packet stream into keys, SKS canonicalisation
 * ("yminsky.dedup", doc/recon.md 1.2), the SKS key hash (doc/recon.md 1.3), merge
 * (doc/recon.md 1.4, doc/hkp.md 8), and the parsed fields the index shows.
 *
 * Ownership: a hkp_key_t owns `pkts` and `mem` (malloc). Bodies point into
 * `mem` when the key was built by hkp_key_canon()/hkp_key_merge()/
 * hkp_key_decode(), so a key never depends on its input buffer once built.
 * Free with hkp_key_free().
 */
#ifndef HKP_KEY_H
#define HKP_KEY_H

#include <stddef.h>
#include <stdint.h>
#include "openpgp.h"          /* HKP_FPR_*, HKP_KEYID_LEN */
#include "packet.h"
#include "recon_params.h"     /* HKP_HASH_LEN */

typedef struct {
    hkp_pkt_t  *pkts;       /* canonical order: PK, direct sigs,
                               (UID|UAT sigs*)*, (SUB sigs*)*, then the
                               tail (below) */
    size_t      npkts;
    /* 0, or the index of the first packet of the tail: what SKS's grammar
     * refuses (a user ID or user attribute after a subkey, or a marker
     * packet) and everything after it, kept as it came (trust packets
     * dropped). SKS refuses such a key whole, so the sks profile drops it
     * (hkp_key_sks_reason); another profile may keep it (store.h). */
    size_t      tail;
    uint8_t     hash[HKP_HASH_LEN];   /* SKS hash of pkts; with a tail,
                                         an id no SKS hash can equal
                                         (hkp_key_canon) */
    uint8_t    *mem;        /* owns every body in pkts */
} hkp_key_t;

/* Room for one reason: the functions below that can reject a key for
 * exceeding a limit write their reason into a buffer the caller owns,
 * err[errlen] (as hkp_db_open() does); HKP_REASON_LEN holds any of them. */
#define HKP_REASON_LEN  160

/* Called once per key found in a stream, in order. `key` is NULL when the
 * key was rejected; then `reason` says why: it is the err buffer the caller
 * of hkp_keys_parse() passed, valid until the next key is read (copy it to
 * keep it). The callback takes ownership of `key` (it must hkp_key_free()
 * it). Return non-zero to stop. `index` is the 0-based position of the key
 * in the stream. */
typedef int (*hkp_key_cb)(void *ctx, size_t index, hkp_key_t *key,
    const char *reason);

/*
 * Runtime limits (doc/hkp.md section 10). The compile-time constants of
 * hkp_limits.h are both the defaults and the hard ceilings: a field that
 * is 0 or above its ceiling is taken as the ceiling. A key over any limit
 * is rejected whole, with a one-line reason naming the limit and the
 * values, e.g. "user ID packet too large (70000 > 8192 bytes)", written
 * into the caller's err[errlen] (truncated to fit; HKP_REASON_LEN is
 * enough). `lim` NULL means the defaults.
 */
typedef struct {
    size_t  max_packet_len;    /* body bytes of any one packet */
    size_t  max_key_len;       /* serialised bytes of one key */
    size_t  max_packets;       /* packets in one key (after canonicalising) */
    size_t  max_uids;          /* user IDs + user attributes */
    size_t  max_sigs_per_uid;  /* sigs on one UID/UAT/subkey, and direct sigs */
    size_t  max_subkeys;
} hkp_limits_t;

/* ---- key_canon.c: limits, canonical form, SKS hash, hex -------------- */

/* Fills *l with the hkp_limits.h defaults (= the ceilings). */
void hkp_limits_default(hkp_limits_t *l);

/* Canonicalises one key given as packets (bodies may point anywhere; they
 * are copied into out->mem) under limits `lim` (NULL = defaults) and
 * computes its hash. Where SKS's grammar stops (a user ID after a subkey,
 * a marker packet) the rest is kept as it came, as the key's tail (the
 * limits count it too; any other refusal still refuses the key). 0, or -1
 * with the reason in err[errlen]. */
int hkp_key_canon(const hkp_pkt_t *pkts, size_t n, const hkp_limits_t *lim,
    hkp_key_t *out, char *err, size_t errlen);

/* Why SKS refuses `key` (a static string: "user ID after a subkey",
 * "unexpected packet in key"), or NULL when it has no tail. */
const char *hkp_key_sks_reason(const hkp_key_t *key);

/* Computes the SKS hash of a packet multiset. */
void hkp_key_hash(const hkp_pkt_t *pkts, size_t n, uint8_t hash[HKP_HASH_LEN]);

void hkp_key_free(hkp_key_t *key);

/* Hex helpers: 2*len upper-case digits + NUL into out. */
void hkp_hex(const uint8_t *in, size_t len, char *out);

/* ---- key_merge.c ----------------------------------------------------- */

/* Merges b into a (both canonical, same primary key packet) as SKS does:
 * direct sigs and the sigs of blocks present in both become duplicate-free
 * unions; blocks present in only one are kept as they are. Order: a's
 * order, then what only b has. Tails: a's, then b's, but only one of
 * them when it holds the other (packet for packet, in a row). Result
 * hashed. The limits `lim` (NULL =
 * defaults) apply to the merged result, so repeated uploads cannot grow a
 * stored key without bound. 0, or -1 with the reason in err[errlen] (e.g.
 * the primary key packets differ, or a limit is exceeded). */
int hkp_key_merge(const hkp_key_t *a, const hkp_key_t *b,
    const hkp_limits_t *lim, hkp_key_t *out, char *err, size_t errlen);

/* ---- key_stream.c: packet streams into keys; the stored form --------- */

/*
 * Splits a binary packet stream into keys at every public-key packet,
 * canonicalises each (dedup rules of doc/recon.md 1.2; trust packets are
 * dropped; secret keys, packets before the first public key, bad grammar,
 * unsupported key versions and anything over the limits reject that key
 * alone; limits `lim`, NULL = defaults) and calls cb, handing a rejected
 * key's reason in err[errlen] (errlen > 0). A packet over the ceiling
 * HKP_MAX_PACKET_LEN (or lim's max_packet_len) whose bytes are all there
 * is skipped: its key is rejected ("... packet too large (N > M bytes)")
 * and the stream goes on. A framing error (length past
 * the end, partial lengths) ends the stream: the key in progress is
 * rejected with the reason and -1 is returned with the reason in err.
 * Returns 0 when the whole stream was read (or cb asked to stop).
 */
int hkp_keys_parse(const uint8_t *buf, size_t len, const hkp_limits_t *lim,
    hkp_key_cb cb, void *ctx, char *err, size_t errlen);

/* Serialised size / serialisation of a key's packets (hkp_pkt_write). */
size_t hkp_key_encoded_len(const hkp_key_t *key);
uint8_t *hkp_key_encode(const hkp_key_t *key, uint8_t *p);

/* Parses one stored key (as written by hkp_key_encode) back. The hash is
 * recomputed. 0, or -1 with the reason in err[errlen]. */
int hkp_key_decode(const uint8_t *buf, size_t len, hkp_key_t *out,
    char *err, size_t errlen);

/* ---- key_fields.c: parsed fields for the index (never verified
 * cryptographically; sigverify.h does that) ---------------------------- */

typedef struct {
    int       version;       /* 2, 3, 4 or 6 */
    int       algo;          /* public-key algorithm number */
    unsigned  bits;          /* modulus / prime bits, or curve size */
    const char *curve;       /* "ed25519", "nistp256", ... or NULL */
    uint32_t  ctime;
    uint32_t  v3_days;       /* v3 validity in days, 0 = none */
    uint8_t   fpr[HKP_FPR_MAX_LEN];
    size_t    fpr_len;       /* 16 (v3), 20 (v4), 32 (v6) */
    uint8_t   keyid[HKP_KEYID_LEN]; /* v4: last 8 fpr bytes; v6: first 8;
                                       v3: low 64 bits of n */
} hkp_pubkey_t;

/* Parses a tag 6 or 14 packet body. 0 or -1 with *err. */
int hkp_pubkey_parse(const hkp_pkt_t *pkt, hkp_pubkey_t *out, const char **err);

/* The key ID of a v4 (last 8 bytes) or v6 (first 8) fingerprint of fpr_len
 * bytes into id: 1, or 0 for any other length. */
int hkp_fpr_keyid(const uint8_t *fpr, size_t fpr_len,
    uint8_t id[HKP_KEYID_LEN]);

typedef struct {
    int       version;       /* 3, 4 or 6 */
    uint8_t   type;          /* 0x10..0x13, 0x18, 0x19, 0x1F, 0x20, 0x28, 0x30, ... */
    int       pk_algo;
    int       hash_algo;
    uint32_t  ctime;
    uint32_t  sig_expire;    /* seconds after ctime, 0 = none */
    uint32_t  key_expire;    /* seconds after key ctime, 0 = none */
    int       has_issuer;    /* issuer key ID known (subpacket 16, or from 33) */
    uint8_t   issuer[HKP_KEYID_LEN];
    size_t    issuer_fpr_len;/* 0 if no issuer fingerprint subpacket */
    uint8_t   issuer_fpr[HKP_FPR_MAX_LEN];
    int       primary_uid;   /* subpacket 25 set */
    int       has_key_flags;
    uint8_t   key_flags;
} hkp_sig_t;

/* Parses a signature packet body (hashed and unhashed subpackets). */
int hkp_sig_parse(const hkp_pkt_t *pkt, hkp_sig_t *out, const char **err);

/* ---- key_view.c: a canonical key's blocks, revocation, expiry -------- */

/* One UID/UAT or subkey with its signatures: pkts[at], sigs at
 * pkts[at+1 .. at+nsigs]. */
typedef struct {
    size_t    at;
    size_t    nsigs;
} hkp_block_t;

typedef struct {
    const hkp_key_t *key;
    hkp_pubkey_t     pk;
    size_t           ndirect;     /* direct sigs at pkts[1 .. ndirect] */
    hkp_block_t     *uids;        /* UIDs and UATs in stored order (malloc) */
    size_t           nuids;
    hkp_block_t     *subs;        /* subkeys (malloc) */
    size_t           nsubs;
    int              revoked;     /* a direct sig of type 0x20 (SKS rule) */
    uint32_t         exptime;     /* absolute expiry from the newest UID
                                     self-cert's key-expire (SKS rule), 0 = none */
} hkp_keyview_t;

/* Builds the view of a canonical key. 0 or -1 with *err. Free with
 * hkp_keyview_free(). */
int hkp_keyview_build(const hkp_key_t *key, hkp_keyview_t *v, const char **err);
void hkp_keyview_free(hkp_keyview_t *v);

/* Self-certification of a block per SKS: newest sig of types 0x10..0x13
 * whose issuer equals the primary key ID. Returns 0 and fills *out, or -1
 * if none. */
int hkp_keyview_selfsig(const hkp_keyview_t *v, const hkp_block_t *b,
    hkp_sig_t *out);

#endif
