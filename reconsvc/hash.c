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
#include "key.h"
#include "profile.h"
#include "hash.h"

/* Read chunk when slurping a file or stdin. */
#define HASH_READ_CHUNK  65536

typedef struct {
    const hkp_profile_t *prof;
} hash_ctx_t;

static int
slurp(const char *name, uint8_t **out, size_t *outlen)
{
    FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
    uint8_t *buf = NULL, *nb;
    size_t len = 0, cap = 0, n;

    if (f == NULL)
        return -1;
    for (;;) {
        if (cap - len < HASH_READ_CHUNK) {
            cap = cap ? cap * 2 : HASH_READ_CHUNK * 4;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                if (f != stdin)
                    fclose(f);
                errno = ENOMEM;
                return -1;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        if (f != stdin)
            fclose(f);
        return -1;
    }
    if (f != stdin)
        fclose(f);
    *out = buf;
    *outlen = len;
    return 0;
}

static int
hash_key_cb(void *vctx, size_t index, hkp_key_t *key, const char *reason)
{
    hash_ctx_t *ctx = vctx;
    hkp_pubkey_t pk;
    const char *err = NULL, *why = NULL;
    char fhex[2 * sizeof(pk.fpr) + 1], hhex[2 * HKP_HASH_LEN + 1];
    uint8_t hash[HKP_HASH_LEN];

    (void) index;
    if (key == NULL) {
        printf("DROPPED - %s\n", reason ? reason : "rejected");
        return 0;
    }
    if (key->npkts > 0 && hkp_pubkey_parse(&key->pkts[0], &pk, &err) == 0)
        hkp_hex(pk.fpr, pk.fpr_len, fhex);
    else
        strcpy(fhex, "-");
    if (ctx->prof->hash(ctx->prof, key, hash, &why) == HKP_PROFILE_HASHED) {
        hkp_hex(hash, HKP_HASH_LEN, hhex);
        printf("%s %s\n", hhex, fhex);
    } else
        printf("DROPPED %s %s\n", fhex, why ? why : "dropped");
    hkp_key_free(key);
    free(key);
    return 0;
}

static int
hash_file(hash_ctx_t *ctx, const char *name)
{
    uint8_t *buf, *bin = NULL;
    size_t len, binlen = 0;
    const char *err = NULL;
    int ret = 0;

    if (slurp(name, &buf, &len) != 0) {
        fprintf(stderr, "reconsvc hash: %s: %s\n", name, strerror(errno));
        return -1;
    }
    if (len > 0 && (buf[0] & 0x80) == 0
        && memmem(buf, len, "-----BEGIN PGP", 14) != NULL)
    {
        int r = hkp_armor_decode(buf, len, &bin, &binlen, &err);
        if (r < 0) {
            fprintf(stderr, "reconsvc hash: %s: %s\n", name,
                err ? err : "armor error");
            free(buf);
            return -1;
        }
        free(buf);
        buf = bin;
        len = r == 0 ? 0 : binlen;
    }
    char perr[HKP_REASON_LEN];
    if (hkp_keys_parse(buf, len, NULL, hash_key_cb, ctx, perr, sizeof(perr))
        != 0) {
        fprintf(stderr, "reconsvc hash: %s: %s\n", name, perr);
        ret = -1;
    }
    free(buf);
    return ret;
}

int
reconsvc_hash(int argc, char **argv)
{
    hash_ctx_t ctx;
    int i, ret = 0;

    ctx.prof = &hkp_profile_sks;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc) {
            ctx.prof = hkp_profile_find(argv[++i]);
            if (ctx.prof == NULL) {
                fprintf(stderr, "reconsvc hash: unknown profile %s "
                    "(known: %s)\n", argv[i], hkp_profile_names());
                return 2;
            }
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
    if (fflush(stdout) != 0)
        ret = 1;
    return ret;

usage:
    fprintf(stderr, "usage: reconsvc hash [--profile NAME] FILE...\n"
        "profiles: %s\n", hkp_profile_names());
    return 2;
}
