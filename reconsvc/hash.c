/*
 * reconsvc hash: the key hash each key of some files has under a hash
 * profile (shared/profile.h), for comparing with other keyservers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "armor.h"
#include "file.h"
#include "import.h"              /* RECONSVC_MAX_IMPORT_FILE */
#include "key.h"
#include "profile.h"
#include "hash.h"

/* Packets of one key read as uploaded (profiles with hash_pkts); more
 * and the key is reported dropped. */
#define HASH_RAW_MAX_PACKETS  (1024 * 1024)
/* First size of the packet array of one key. */
#define HASH_RAW_INIT_PACKETS 64

typedef struct {
    const hkp_profile_t *prof;
    int                  stored;   /* --stored: hash the stored form */
    int                  failed;   /* a key could not be hashed */
} hash_ctx_t;

/* Primary fingerprint in hex, or "-". */
static void
fpr_hex(const hkp_pkt_t *primary, char *out)
{
    hkp_pubkey_t pk;
    const char  *err = NULL;

    if (primary != NULL && hkp_pubkey_parse(primary, &pk, &err) == 0)
        hkp_hex(pk.fpr, pk.fpr_len, out);
    else
        strcpy(out, "-");
}

/* The line for one key: "HASH FPR", "DROPPED FPR why", or the error on
 * stderr. r is the profile's answer (hash, why) for the key whose primary
 * key packet is `primary`. -1 on an error. */
static int
hash_line(int r, const uint8_t hash[HKP_HASH_LEN], const char *why,
    const hkp_pkt_t *primary)
{
    char fhex[2 * HKP_FPR_MAX_LEN + 1], hhex[2 * HKP_HASH_LEN + 1];

    fpr_hex(primary, fhex);
    if (r == HKP_PROFILE_HASHED) {
        hkp_hex(hash, HKP_HASH_LEN, hhex);
        printf("%s %s\n", hhex, fhex);
    } else if (r == HKP_PROFILE_DROPPED)
        printf("DROPPED %s %s\n", fhex, why ? why : "dropped");
    else {
        fprintf(stderr, "reconsvc hash: %s: %s\n", fhex, why ? why : "error");
        return -1;
    }
    return 0;
}

/* One line for a key read as uploaded. -1 on an internal error. */
static int
hash_raw_key(hash_ctx_t *ctx, const hkp_pkt_t *pkts, size_t n)
{
    uint8_t     hash[HKP_HASH_LEN];
    const char *why = NULL;
    int         r = ctx->prof->hash_pkts(ctx->prof, pkts, n, hash, &why);

    return hash_line(r, hash, why, &pkts[0]);
}

/* Splits a packet stream at every primary key packet, as a keyserver
 * reading an upload does, and hashes each key's packets as they came. */
static int
hash_raw(hash_ctx_t *ctx, const uint8_t *buf, size_t len, const char **err)
{
    hkp_pkt_t *pkts = NULL, *np;
    size_t     n = 0, cap = 0, off = 0, used;
    int        leading = 0, over = 0, ret = 0;
    hkp_pkt_t  pkt;

    while (off < len) {
        if (hkp_pkt_read(buf + off, len - off, &pkt, &used, err) != 0) {
            if (n > 0)
                printf("DROPPED - %s\n", *err);
            ret = -1;
            goto out;
        }
        off += used;
        if (pkt.tag == HKP_TAG_PUBKEY && n > 0) {
            if (over)
                printf("DROPPED - too many packets in one key\n");
            else if (hash_raw_key(ctx, pkts, n) != 0) {
                ret = -1;
                goto out;
            }
            n = 0;
            over = 0;
        }
        if (n == 0 && pkt.tag != HKP_TAG_PUBKEY) {
            if (!leading)
                printf("DROPPED - packets before the first public key\n");
            leading = 1;
            continue;
        }
        if (n == HASH_RAW_MAX_PACKETS) {
            over = 1;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : HASH_RAW_INIT_PACKETS;
            np = realloc(pkts, cap * sizeof(*pkts));
            if (np == NULL) {
                *err = "out of memory";
                ret = -1;
                goto out;
            }
            pkts = np;
        }
        pkts[n++] = pkt;
    }
    if (n > 0) {
        if (over)
            printf("DROPPED - too many packets in one key\n");
        else if (hash_raw_key(ctx, pkts, n) != 0)
            ret = -1;
    }
out:
    free(pkts);
    return ret;
}

static int
hash_key_cb(void *vctx, size_t index, hkp_key_t *key, const char *reason)
{
    hash_ctx_t *ctx = vctx;
    const char *why = NULL;
    uint8_t     hash[HKP_HASH_LEN];
    int         r;

    (void) index;
    if (key == NULL) {
        printf("DROPPED - %s\n", reason ? reason : "rejected");
        return 0;
    }
    r = ctx->prof->hash(ctx->prof, key, hash, &why);
    if (hash_line(r, hash, why, key->npkts > 0 ? &key->pkts[0] : NULL) != 0)
        ctx->failed = 1;
    hkp_key_free(key);
    free(key);
    return 0;
}

static int
hash_file(hash_ctx_t *ctx, const char *name)
{
    hkp_file_t  f;
    uint8_t    *buf, *bin = NULL;
    size_t      len, binlen = 0;
    const char *err = NULL;
    int         ret = 0, rc;

    rc = hkp_file_read(name, RECONSVC_MAX_IMPORT_FILE,
        HKP_FILE_STDIN | HKP_FILE_MMAP, &f);
    if (rc != 0) {
        if (rc == HKP_EFBIG)
            fprintf(stderr, "reconsvc hash: %s: larger than %zu bytes\n",
                name, RECONSVC_MAX_IMPORT_FILE);
        else
            fprintf(stderr, "reconsvc hash: %s: %s\n", name,
                hkp_strerror(rc));
        return -1;
    }
    buf = f.data;
    len = f.len;
    if (hkp_armor_sniff(buf, len)) {
        int r = hkp_armor_decode(buf, len, &bin, &binlen, &err);
        if (r < 0) {
            fprintf(stderr, "reconsvc hash: %s: %s\n", name,
                err ? err : "armor error");
            hkp_file_free(&f);
            return -1;
        }
        buf = bin;
        len = r == 0 ? 0 : binlen;
    }
    err = NULL;
    char perr[HKP_REASON_LEN];
    if (ctx->prof->hash_pkts != NULL && !ctx->stored) {
        if (hash_raw(ctx, buf, len, &err) != 0) {
            fprintf(stderr, "reconsvc hash: %s: %s\n", name,
                err ? err : "parse error");
            ret = -1;
        }
    } else if (hkp_keys_parse(buf, len, NULL, hash_key_cb, ctx, perr,
                   sizeof(perr)) != 0) {
        fprintf(stderr, "reconsvc hash: %s: %s\n", name, perr);
        ret = -1;
    }
    free(bin);
    hkp_file_free(&f);
    return ret;
}

int
reconsvc_hash(int argc, char **argv)
{
    hash_ctx_t ctx;
    int i, ret = 0;

    ctx.prof = &hkp_profile_sks;
    ctx.stored = 0;
    ctx.failed = 0;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc) {
            ctx.prof = hkp_profile_find(argv[++i]);
            if (ctx.prof == NULL) {
                fprintf(stderr, "reconsvc hash: unknown profile %s "
                    "(known: %s)\n", argv[i], hkp_profile_names());
                return 2;
            }
        } else if (strcmp(argv[i], "--stored") == 0) {
            ctx.stored = 1;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0')
            goto usage;
        else
            break;
    }
    if (i >= argc)
        goto usage;
    for (; i < argc; i++)
        if (hash_file(&ctx, argv[i]) != 0)
            ret = 1;
    if (fflush(stdout) != 0 || ctx.failed)
        ret = 1;
    return ret;

usage:
    fprintf(stderr, "usage: reconsvc hash [--profile NAME] [--stored] FILE...\n"
        "profiles: %s\n", hkp_profile_names());
    return 2;
}
