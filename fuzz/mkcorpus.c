/*
 * Writes the seed corpora fuzz/corpus/<target>/ (run from the repository
 * root; `make` builds it as build/mkcorpus). The key seeds come from the
 * armored test keys in t/data (dearmored with our own decoder), the recon
 * and hashquery seeds from our encoders, the form seeds are the request
 * shapes real clients send. Rerun after changing a codec:
 *
 *   build/mkcorpus [ROOT]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "armor.h"
#include "hashquery.h"
#include "msg.h"

static const char *root = ".";

static void
die(const char *what)
{
    fprintf(stderr, "mkcorpus: %s\n", what);
    exit(1);
}

static uint8_t *
slurp(const char *name, size_t *len)
{
    char path[1024];
    FILE *f;
    uint8_t *buf;

    snprintf(path, sizeof(path), "%s/t/data/%s", root, name);
    f = fopen(path, "rb");
    if (f == NULL)
        die(path);
    buf = malloc(1 << 20);
    if (buf == NULL)
        die("out of memory");
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void
put(const char *target, const char *name, const void *p, size_t n)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/fuzz/corpus", root);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/fuzz/corpus/%s", root, target);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/fuzz/corpus/%s/%s", root, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        die(path);
}

static void
put_rbuf(const char *target, const char *name, rbuf_t *b)
{
    put(target, name, rbuf_data(b), rbuf_avail(b));
    rbuf_free(b);
}

/* Binary of an armored test key (malloc). */
static uint8_t *
dearmor(const char *name, size_t *len)
{
    size_t al;
    uint8_t *a = slurp(name, &al), *bin = NULL;
    const char *err = NULL;

    if (hkp_armor_decode(a, al, &bin, len, &err) <= 0)
        die(err ? err : name);
    free(a);
    return bin;
}

static const char *const KEYS[] = {
    "k1-ed25519.asc", "k2-rsa2048.asc", "k3-dupsig.asc", "k3-ed25519.asc",
    "k4-repeated-blocks.asc", "k5-ed25519.asc",
    "debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE.asc"
};
#define NKEYS (sizeof(KEYS) / sizeof(KEYS[0]))

static void
keys_and_armor(void)
{
    uint8_t *bin[NKEYS], *cat;
    size_t len[NKEYS], cl;

    for (size_t i = 0; i < NKEYS; i++) {
        char name[256];
        size_t al;
        uint8_t *a = slurp(KEYS[i], &al);
        bin[i] = dearmor(KEYS[i], &len[i]);
        snprintf(name, sizeof(name), "%.*s.pgp",
            (int) (strlen(KEYS[i]) - 4), KEYS[i]);
        put("keys", name, bin[i], len[i]);
        put("armor", KEYS[i], a, al);
        free(a);
    }
    /* same primary twice (k3 and its duplicate-signature twin): merges */
    cl = len[2] + len[3];
    cat = malloc(cl);
    memcpy(cat, bin[2], len[2]);
    memcpy(cat + len[2], bin[3], len[3]);
    put("keys", "k3-dupsig+k3.pgp", cat, cl);
    /* a stream cut inside its last packet */
    put("keys", "k3-dupsig+k3-truncated.pgp", cat, cl - 7);
    free(cat);
    /* the armor of two keys in one text, with CRLF lines */
    {
        size_t l1, l2, o = 0;
        uint8_t *a1 = slurp(KEYS[0], &l1), *a2 = slurp(KEYS[1], &l2);
        uint8_t *crlf = malloc(2 * (l1 + l2) + 64);
        const char *mid = "some text between the blocks\n";
        for (size_t i = 0; i < l1; i++) {
            if (a1[i] == '\n')
                crlf[o++] = '\r';
            crlf[o++] = a1[i];
        }
        memcpy(crlf + o, mid, strlen(mid));
        o += strlen(mid);
        memcpy(crlf + o, a2, l2);
        o += l2;
        put("armor", "two-blocks-crlf.asc", crlf, o);
        free(crlf);
        free(a1);
        free(a2);
    }
    for (size_t i = 0; i < NKEYS; i++)
        free(bin[i]);
}

/* Percent-encodes every byte that is not unreserved. */
static size_t
pct(const uint8_t *in, size_t n, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')
        {
            out[o++] = (char) c;
        } else if (c == ' ') {
            out[o++] = '+';
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    return o;
}

static void
form(void)
{
    size_t al, o;
    uint8_t *a = slurp("k1-ed25519.asc", &al);
    char *buf = malloc(4 * al + 1024);
    static const char *const queries[] = {
        "\nop=get&search=0x50ED94C61884E160&options=mr",
        "\nop=index&search=alice+example.org&exact=on&options=mr",
        "\nop=vindex&fingerprint=on&search=7DF3D4B58EAD38D84E554E3B68530A812B47DCDE",
        "\nop=get&search=%3Calice%40example.org%3E",
        "\nop=stats&options=mr&&=&search=%zz%4",
        "\nsearch=Dani%C3%ABl+M%C3%BCller+%E6%97%A5%E6%9C%AC&op=index",
    };

    o = (size_t) sprintf(buf, "application/x-www-form-urlencoded\nkeytext=");
    o += pct(a, al, buf + o);
    o += (size_t) sprintf(buf + o, "&options=mr");
    put("form", "add-urlencoded", buf, o);

    o = (size_t) sprintf(buf, "application/x-www-form-urlencoded\nkeytext=");
    memcpy(buf + o, a, al);         /* curl --data "keytext=$(cat key.asc)" */
    o += al;
    put("form", "add-urlencoded-raw-newlines", buf, o);

    o = (size_t) sprintf(buf, "multipart/form-data; boundary=\"XyZ123\"\n"
        "--XyZ123\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n"
        "mr\r\n--XyZ123\r\nContent-Disposition: form-data; name=\"keytext\";"
        " filename=\"k.asc\"\r\nContent-Type: application/pgp-keys\r\n\r\n");
    memcpy(buf + o, a, al);
    o += al;
    o += (size_t) sprintf(buf + o, "\r\n--XyZ123--\r\n");
    put("form", "add-multipart", buf, o);

    o = (size_t) sprintf(buf, "\n--sniffed\r\nContent-Disposition: form-data;"
        " name=keytext\r\n\r\n");
    memcpy(buf + o, a, al);
    o += al;
    o += (size_t) sprintf(buf + o, "\r\n--sniffed--\r\n");
    put("form", "add-multipart-no-ctype", buf, o);

    o = (size_t) sprintf(buf, "application/pgp-keys\n\xEF\xBB\xBF  ");
    memcpy(buf + o, a, al);
    o += al;
    put("form", "add-raw", buf, o);

    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "lookup-%zu", i + 1);
        put("form", name, queries[i], strlen(queries[i]));
    }
    free(buf);
    free(a);
}

static const uint8_t H[4][HKP_HASH_LEN] = {
    { 0x50, 0xED, 0x94, 0xC6, 0x18, 0x84, 0xE1, 0x60,
      0xD6, 0xF8, 0xC9, 0x1D, 0xA5, 0x46, 0xC4, 0x29 },
    { 0xB0, 0x1D, 0xB9, 0xA4, 0x6C, 0xE7, 0x26, 0x4D,
      0x3D, 0xCD, 0x64, 0x47, 0x90, 0x10, 0xD3, 0x35 },
    { 0x84, 0xD7, 0x7D, 0xC5, 0xD8, 0x61, 0x63, 0xBC,
      0x80, 0x3A, 0xD2, 0xCD, 0x5C, 0x78, 0x9E, 0x99 },
    { 0xD6, 0x09, 0x8F, 0x23, 0xD2, 0x9F, 0x7D, 0x3D,
      0x77, 0x68, 0x92, 0x77, 0x5A, 0xDD, 0xBE, 0x3C },
};

static void
hashquery(void)
{
    uint8_t rq[4 + 20 * 5], *rp;
    uint8_t dup[5][HKP_HASH_LEN];
    size_t l1, l2, kl[2], n;
    uint8_t *k1 = dearmor(KEYS[0], &l1), *k2 = dearmor(KEYS[1], &l2);
    const uint8_t *ks[2] = { k1, k2 };

    n = hkp_hashquery_build(H, 4, rq);
    put("hashquery", "request-4", rq, n);
    memcpy(dup, H, sizeof(H));
    memcpy(dup[4], H[1], HKP_HASH_LEN);
    n = hkp_hashquery_build((const hkp_hash_t *) dup, 5, rq);
    put("hashquery", "request-repeated", rq, n);
    n = hkp_hashquery_build(NULL, 0, rq);
    put("hashquery", "request-empty", rq, n);

    kl[0] = l1;
    kl[1] = l2;
    n = hkp_hashquery_reply_len(kl, 2);
    rp = malloc(n);
    hkp_hashquery_reply_write(ks, kl, 2, rp);
    put("hashquery", "reply-2", rp, n);
    free(rp);
    n = hkp_hashquery_reply_len(kl, 0);
    rp = malloc(n);
    hkp_hashquery_reply_write(ks, kl, 0, rp);
    put("hashquery", "reply-empty", rp, n);
    free(rp);
    free(k1);
    free(k2);
}

static void
recon(void)
{
    rbuf_t b = { 0 };
    uint8_t sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN];
    uint8_t pfx[2] = { 0xA0, 0x00 };

    memset(sv, 0, sizeof(sv));
    for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++)
        memcpy(sv[i], H[i % 4], HKP_HASH_LEN);

    recon_enc_config(&b, 11371);
    put_rbuf("recon_msg", "config", &b);
    recon_enc_poly(&b, NULL, 0, 4, (const uint8_t (*)[HKP_ELEM_LEN]) sv);
    put_rbuf("recon_msg", "poly-root", &b);
    recon_enc_poly(&b, pfx, 3, 2, (const uint8_t (*)[HKP_ELEM_LEN]) sv);
    put_rbuf("recon_msg", "poly-prefix3", &b);
    recon_enc_full(&b, pfx, 2, H, 2);
    put_rbuf("recon_msg", "full", &b);
    recon_enc_set(&b, RECON_MSG_ELEMENTS, H, 4);
    put_rbuf("recon_msg", "elements", &b);
    recon_enc_set(&b, RECON_MSG_FULLELEMENTS, H + 1, 1);
    put_rbuf("recon_msg", "fullelements", &b);
    recon_enc_empty(&b, RECON_MSG_SYNCFAIL);
    put_rbuf("recon_msg", "syncfail", &b);
    recon_enc_error(&b, "Error: read_string: too long");
    put_rbuf("recon_msg", "error", &b);
    /* a whole conversation: Config, Poly, Elements, Flush, Done */
    recon_enc_config(&b, 11371);
    recon_enc_poly(&b, NULL, 0, 4, (const uint8_t (*)[HKP_ELEM_LEN]) sv);
    recon_enc_set(&b, RECON_MSG_ELEMENTS, H, 2);
    recon_enc_empty(&b, RECON_MSG_FLUSH);
    recon_enc_empty(&b, RECON_MSG_DONE);
    put_rbuf("recon_msg", "session", &b);
    recon_enc_verdict(&b, NULL);
    put_rbuf("recon_msg", "verdict-passed", &b);
    recon_enc_verdict(&b, "bitquantum values do not match");
    put_rbuf("recon_msg", "verdict-failed", &b);
}

int
main(int argc, char **argv)
{
    if (argc > 1)
        root = argv[1];
    keys_and_armor();
    form();
    hashquery();
    recon();
    return 0;
}
