/*
 * The serve policy: which packets of a stored (merged, canonical) key an
 * answer shows. The store keeps every packet (recon and /pks/hashquery see
 * the full key); lookups answer the served view (doc/design.md "Serve
 * policy"). Nothing here reads the store: the signer keys and the redacted
 * user IDs come through the policy.
 *
 * HKP_SERVE_FULL: every packet, as SKS serves it, except redacted user
 *   IDs (their blocks: the UID and its signatures).
 *
 * HKP_SERVE_CLEAN (the default), by component:
 *   primary key: always. Direct-key signatures (0x1F) and key revocations
 *     (0x20) by the key itself when they verify (at most
 *     HKP_SERVE_SELFSIGS of each kind, newest first); a key revocation by
 *     another key (a designated revoker) when that key is stored and it
 *     verifies. Anything else on the primary is not served.
 *   user IDs and attributes: served when one self-certification (0x10..
 *     0x13 by the primary) verifies; with their valid self-certifications
 *     and self-revocations (0x30) (each at most HKP_SERVE_SELFSIGS, newest
 *     first). A user attribute whose packet is over max_uat bytes is not
 *     served; neither is a redacted user ID.
 *   third-party certifications (0x10..0x13 and 0x30 by another key) of a
 *     served UID/UAT: when the newest valid attestation (0x16 by the
 *     primary, subpacket 37) exists, exactly the certifications whose
 *     1PA3PC digest it lists, plus the attestation itself (an older
 *     attestation is superseded and not served); without one, at most
 *     max_certs, newest first: one whose signer is stored (the `signer`
 *     callback) is served only if it verifies, one whose signer is not
 *     stored is served unchecked.
 *   subkeys: served when a binding signature (0x18 by the primary, with
 *     the embedded 0x19 of a signing subkey) verifies, with their valid
 *     bindings and revocations (0x28 by the primary).
 *   hard-revoked key (a valid key revocation by itself with no reason
 *     subpacket, or reason 0 "no reason", 2 "compromised", or any code
 *     that is not 1 "superseded", 3 "retired" or 32 "user ID no longer
 *     valid"): the primary key, its valid key revocations, and each user
 *     ID (not attribute) that has a valid self-certification made no later
 *     than the earliest hard revocation, with the newest such one only.
 *     No subkeys, attributes, direct-key signatures or third-party
 *     certifications: whoever held the compromised key could have made
 *     those, and gpg needs only a user ID and its self-certification to
 *     import the key and show it revoked. When no user ID qualifies, the
 *     primary key and its revocations are served (sq imports that; gpg
 *     adds the revocation to a key it already has).
 *
 * A self-signature the key's record (pol->selfsig, selfsig.h) has
 * checked is not verified again: the record's result is taken. A
 * record that does not fit the key (malformed, another packet count) is
 * ignored.
 *
 * Verifications are counted against the caller's budget (the cache of
 * sigverify.h and the record make repeated ones cheap, but they are
 * counted all the same, so the answer does not depend on them); once it is spent, a signature that would need checking is taken
 * as not verifying: a component without a checked self-signature is not
 * served and a certification from a stored signer is not served.
 */
#ifndef HKP_SERVE_H
#define HKP_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"

#define HKP_SERVE_FULL   0
#define HKP_SERVE_CLEAN  1

/* hkp_serve_certs: default, and the most that can be configured. */
#define HKP_SERVE_DEFAULT_CERTS     8
#define HKP_SERVE_MAX_CERTS         1000
/* hkp_serve_max_uat: default largest user attribute packet served
 * (bytes of its body), and the range. */
#define HKP_SERVE_DEFAULT_MAX_UAT   (64 * 1024)
#define HKP_SERVE_MAX_MAX_UAT       (1024 * 1024)
/* Valid self-signatures of one kind served per component. */
#define HKP_SERVE_SELFSIGS          16
/* Stored key packets tried as the signer of one certification. */
#define HKP_SERVE_SIGNER_KEYS       4
/* A redacted user ID is named by the SHA-256 of its packet body. */
#define HKP_SERVE_DIGEST_LEN        32

/* The stored key packets (primary or subkey, tag 6 or 14) whose 64-bit
 * key ID is `keyid`, at most HKP_SERVE_SIGNER_KEYS; bodies must stay
 * valid while the view is built. */
typedef struct {
    hkp_pkt_t    pkts[HKP_SERVE_SIGNER_KEYS];
    size_t       n;
} hkp_serve_signers_t;

/* 0 with out->n >= 1, 1 when no stored key has that ID, -1 on an error
 * (then the signer is taken as not stored). */
typedef int (*hkp_serve_signer_fn)(void *ctx,
    const uint8_t keyid[HKP_KEYID_LEN], hkp_serve_signers_t *out);

typedef struct {
    int                   policy;      /* HKP_SERVE_FULL or _CLEAN */
    size_t                max_certs;   /* third-party certs per UID/UAT */
    size_t                max_uat;     /* largest UAT packet body served */
    hkp_serve_signer_fn   signer;      /* NULL: no signer is stored */
    void                 *signer_ctx;
    const uint8_t       (*redacted)[HKP_SERVE_DIGEST_LEN]; /* UIDs hidden */
    size_t                nredacted;
    const uint8_t        *selfsig;     /* the key's self-signature record
                                          (selfsig.h), NULL: none */
    size_t                selfsig_len;
} hkp_serve_policy_t;

/* Verifications left for the caller's request (decremented), and what was
 * spent. */
typedef struct {
    size_t       left;
    size_t       spent;
    int          exhausted;   /* a signature went unchecked for lack of it */
} hkp_serve_budget_t;

typedef struct {
    size_t       npkts;       /* packets served */
    size_t       len;         /* their encoded length (hkp_serve_encode) */
    size_t       uids_dropped;    /* UIDs/UATs not served (any reason) */
    size_t       uids_redacted;   /* of which redacted */
    size_t       subs_dropped;
    size_t       sigs_dropped;    /* signatures not served */
    int          hard_revoked;
    int          unchanged;   /* every packet served */
    int          no_uid;      /* no UID/UAT served, and not hard-revoked */
} hkp_serve_result_t;

/* SHA-256 of a user ID body, as redactions name it. */
void hkp_serve_uid_digest(const uint8_t *uid, size_t len,
    uint8_t out[HKP_SERVE_DIGEST_LEN]);

/*
 * Decides the served view of `key` under `pol`: keep[i] = 1 for each
 * packet served (keep has key->npkts entries, owned by the caller), and
 * *res. The order of the stored key is kept. Returns 0, or -1 when the key
 * cannot be read (no primary key, out of memory) with *err.
 */
int hkp_serve_view(const hkp_key_t *key, const hkp_serve_policy_t *pol,
    hkp_serve_budget_t *budget, uint8_t *keep, hkp_serve_result_t *res,
    const char **err);

/* Writes the kept packets at p (res->len bytes), returns the end. */
uint8_t *hkp_serve_encode(const hkp_key_t *key, const uint8_t *keep,
    uint8_t *p);

/* "full" / "clean". */
const char *hkp_serve_policy_name(int policy);

#endif
