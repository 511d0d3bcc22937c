/*
 * Unit tests for shared/form.c (/pks/add bodies, key material) and the
 * runtime limits of shared/key_canon.c (hashquery.c: test_hashquery.c).
 *
 * Env: HKP_TEST_DATA (default t/data).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util.h"
#include "packet.h"
#include "key.h"
#include "armor.h"
#include "form.h"
#include "hkp_limits.h"

static const char *datadir = "t/data";

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

static uint8_t *
load_data(const char *name, size_t *len)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", datadir, name);
    return read_file(path, len);
}

/* A growable byte string for building bodies. */
typedef struct {
    uint8_t *p;
    size_t   len, cap;
} str_t;

static void
s_add(str_t *s, const void *d, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t   nc = (s->len + n + 1) * 2;
        uint8_t *np = realloc(s->p, nc);
        if (np == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        s->p = np;
        s->cap = nc;
    }
    memcpy(s->p + s->len, d, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void
s_cat(str_t *s, const char *z)
{
    s_add(s, z, strlen(z));
}

/* Percent-encodes like dirmngr (everything but alphanumerics; '=' too) or
 * like sq (`raw_eq`: '=' left raw). */
static void
s_urlenc(str_t *s, const uint8_t *d, size_t n, int raw_eq)
{
    static const char hx[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        uint8_t c = d[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || (raw_eq && c == '='))
        {
            s_add(s, &c, 1);
        } else {
            char e[3] = { '%', hx[c >> 4], hx[c & 15] };
            s_add(s, e, 3);
        }
    }
}

/* hkp_form_keytext with the content type given as a C string */
static int
keytext(const str_t *b, const char *ct, uint8_t **out, size_t *outlen,
    const char **err)
{
    return hkp_form_keytext(b->p, b->len, ct, ct ? strlen(ct) : 0, out,
        outlen, err);
}


/* ------------------------------------------------------------------ */
/* Form bodies                                                          */

static void
test_urlencoded(const uint8_t *asc, size_t al)
{
    str_t       b = { 0 };
    uint8_t    *out = NULL;
    size_t      ol = 0;
    const char *err = NULL;
    int         r;

    /* gpg / dirmngr: everything escaped */
    s_cat(&b, "keytext=");
    s_urlenc(&b, asc, al, 0);
    ok(strstr((char *) b.p, "%3D") != NULL && strchr((char *) b.p + 8, '=')
        == NULL, "gpg-style body has only escaped '='");
    r = keytext(&b, "application/x-www-form-urlencoded", &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, asc, al), "gpg-style urlencoded keytext");
    free(out);
    ok(hkp_form_options_mr(b.p, b.len, "application/x-www-form-urlencoded",
        33) == 0, "gpg-style: no options=mr");

    /* OpenPGP.js: charset parameter on the content type */
    r = keytext(&b, "Application/X-WWW-Form-Urlencoded; charset=UTF-8", &out,
        &ol, &err);
    ok(r == 0 && mem_is(out, ol, asc, al), "content type with charset");
    free(out);

    /* no content type: parses as a form */
    r = keytext(&b, NULL, &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, asc, al), "no content type: form");
    free(out);

    /* sq: '=' raw */
    b.len = 0;
    s_cat(&b, "keytext=");
    s_urlenc(&b, asc, al, 1);
    ok(strchr((char *) b.p + 8, '=') != NULL, "sq-style body has raw '='");
    r = keytext(&b, "application/x-www-form-urlencoded", &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, asc, al), "sq-style urlencoded keytext");
    free(out);

    /* field order: options=mr first (SKS would 500) */
    b.len = 0;
    s_cat(&b, "options=mr&keytext=");
    s_urlenc(&b, asc, al, 1);
    r = keytext(&b, "application/x-www-form-urlencoded", &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, asc, al), "options=mr&keytext=...");
    free(out);
    ok(hkp_form_options_mr(b.p, b.len, "application/x-www-form-urlencoded",
        33) == 1, "options=mr detected");

    /* keytext first, other fields after, options list */
    b.len = 0;
    s_cat(&b, "keytext=");
    s_urlenc(&b, asc, al, 0);
    s_cat(&b, "&options=nm%2CMR&foo");
    r = keytext(&b, "application/x-www-form-urlencoded", &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, asc, al), "keytext=...&options=nm,MR&foo");
    free(out);
    ok(hkp_form_options_mr(b.p, b.len, NULL, 0) == 1,
        "options list nm,MR contains mr");
    b.len = 0;
    s_cat(&b, "keytext=x&options=mrx");
    ok(hkp_form_options_mr(b.p, b.len, NULL, 0) == 0, "options=mrx is not mr");

    /* '+' handling and percent edge cases */
    b.len = 0;
    s_cat(&b, "a=1&keytext=a+b%2Bc%zz%4%41%&x=2");
    r = keytext(&b, "application/x-www-form-urlencoded", &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, "a b+c%zz%4A%", 12),
        "'+' -> space, %%2B -> '+', invalid %%XX kept literally");
    free(out);

    /* raw '=' inside the value, split at the first '=' only */
    b.len = 0;
    s_cat(&b, "keytext==abc==&x=1");
    r = keytext(&b, NULL, &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, "=abc==", 6), "split at the first '='");
    free(out);

    /* percent-encoded field name */
    b.len = 0;
    s_cat(&b, "key%74ext=abc");
    r = keytext(&b, NULL, &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, "abc", 3), "percent-encoded field name");
    free(out);

    /* several keytext fields are joined with a newline */
    b.len = 0;
    s_cat(&b, "keytext=AAA&options=mr&keytext=BBB");
    r = keytext(&b, NULL, &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, "AAA\nBBB", 7), "two keytext fields joined");
    free(out);

    /* unencoded armor (curl --data "keytext=$(cat key.asc)"): '+' kept */
    b.len = 0;
    s_cat(&b, "keytext=");
    s_add(&b, asc, al);
    r = keytext(&b, "application/x-www-form-urlencoded", &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, asc, al), "unencoded armor value kept as is");
    free(out);

    /* raw armor body sent as a form (curl --data-binary @key.asc) */
    b.len = 0;
    s_add(&b, asc, al);
    r = keytext(&b, "application/x-www-form-urlencoded", &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, asc, al), "raw armor labelled as a form");
    free(out);

    /* missing / empty keytext */
    b.len = 0;
    s_cat(&b, "options=mr&keytex=abc&keytextx=1");
    err = NULL;
    r = keytext(&b, "application/x-www-form-urlencoded", &out, &ol, &err);
    ok(r == -1 && out == NULL, "missing keytext field fails");
    is_str(err, "no keytext field", "  reason");
    b.len = 0;
    s_cat(&b, "keytext=&options=mr");
    r = keytext(&b, NULL, &out, &ol, &err);
    ok(r == -1, "empty keytext field fails");
    is_str(err, "empty keytext field", "  reason");
    b.len = 0;
    r = keytext(&b, NULL, &out, &ol, &err);
    ok(r == -1, "empty body fails");
    is_str(err, "empty request body", "  reason");

    /* generic getter */
    b.len = 0;
    s_cat(&b, "op=x&search=a%20b+c&exact=on");
    r = hkp_form_field(b.p, b.len, NULL, 0, "search", &out, &ol, &err);
    ok(r == 1 && mem_is(out, ol, "a b c", 5) && out[ol] == '\0',
        "hkp_form_field search");
    free(out);
    r = hkp_form_field(b.p, b.len, NULL, 0, "nothere", &out, &ol, &err);
    ok(r == 0 && out == NULL, "hkp_form_field absent -> 0");
    r = hkp_form_field(b.p, b.len, "application/pgp-keys", 20, "search",
        &out, &ol, &err);
    ok(r == 0, "hkp_form_field on a raw body -> 0");

    free(b.p);
}

/* Builds a multipart body exactly as curl 7.88.1 -F sends it. */
static void
curl_multipart(str_t *b, const char *bnd, const uint8_t *asc, size_t al,
    int with_filename, int with_options)
{
    s_cat(b, "--");
    s_cat(b, bnd);
    s_cat(b, "\r\n");
    if (with_filename)
        s_cat(b, "Content-Disposition: form-data; name=\"keytext\"; "
            "filename=\"k1-ed25519.asc\"\r\n"
            "Content-Type: application/octet-stream\r\n");
    else
        s_cat(b, "Content-Disposition: form-data; name=\"keytext\"\r\n");
    s_cat(b, "\r\n");
    s_add(b, asc, al);
    s_cat(b, "\r\n");
    if (with_options) {
        s_cat(b, "--");
        s_cat(b, bnd);
        s_cat(b, "\r\nContent-Disposition: form-data; name=\"options\"\r\n"
            "\r\nmr\r\n");
    }
    s_cat(b, "--");
    s_cat(b, bnd);
    s_cat(b, "--\r\n");
}

static void
test_multipart(const uint8_t *asc, size_t al)
{
    static const char bnd[] = "------------------------1997f94455c0488c";
    char              ct[128];
    str_t             b = { 0 };
    uint8_t          *out = NULL;
    size_t            ol = 0;
    const char       *err = NULL;
    int               r;

    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", bnd);

    /* curl -F keytext=@k1-ed25519.asc (captured: 861 bytes) */
    curl_multipart(&b, bnd, asc, al, 1, 0);
    is_int((long long) b.len, 861, "curl -F keytext=@file body size as captured");
    r = keytext(&b, ct, &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, asc, al), "multipart keytext=@file");
    if (r != 0)
        diag("  err %s", err);
    free(out);

    /* quoted boundary parameter, other parameter first */
    {
        char ct2[160];
        snprintf(ct2, sizeof(ct2),
            "Multipart/Form-Data; charset=x; boundary=\"%s\"", bnd);
        r = keytext(&b, ct2, &out, &ol, &err);
        ok(r == 0 && mem_is(out, ol, asc, al), "quoted boundary parameter");
        free(out);
    }

    /* boundary sniffed: no parameter, and no content type at all */
    r = keytext(&b, "multipart/form-data", &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, asc, al), "boundary sniffed from the body");
    free(out);
    r = keytext(&b, NULL, &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, asc, al), "multipart without content type");
    free(out);

    /* curl -F 'keytext=<file' -F options=mr (captured: 892 bytes) */
    b.len = 0;
    curl_multipart(&b, "------------------------c445f7f2931563bc", asc, al, 0,
        1);
    is_int((long long) b.len, 892, "curl -F keytext=<file body size as captured");
    r = keytext(&b,
        "multipart/form-data; boundary=------------------------c445f7f2931563bc",
        &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, asc, al), "multipart keytext=<file + options");
    free(out);
    ok(hkp_form_options_mr(b.p, b.len, "multipart/form-data", 19) == 1,
        "multipart options=mr detected");

    /* a preamble and LF-only line ends */
    b.len = 0;
    s_cat(&b, "preamble\n--XyZ\nContent-Disposition: form-data; name=options\n"
        "\nmr\n--XyZ\ncontent-disposition: form-data; filename=\"a\"; "
        "name=\"keytext\"\n\nHELLO\n--XyZ--");
    r = keytext(&b, "multipart/form-data; boundary=XyZ", &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, "HELLO", 5), "preamble, LF line ends");
    free(out);

    /* a line starting with the boundary text but longer is content */
    b.len = 0;
    s_cat(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"keytext\"\r\n"
        "\r\nA\r\n--XyZW\r\nB\r\n--XyZ--\r\n");
    r = keytext(&b, "multipart/form-data; boundary=XyZ", &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, "A\r\n--XyZW\r\nB", 12),
        "boundary prefix inside content is content");
    free(out);

    /* bad bodies */
    b.len = 0;
    curl_multipart(&b, bnd, asc, al, 1, 0);
    b.len -= strlen(bnd) + 6;            /* drop the close delimiter */
    r = keytext(&b, ct, &out, &ol, &err);
    ok(r == -1 && out == NULL, "multipart without closing boundary fails");
    ok(err && strncmp(err, "malformed multipart body", 24) == 0, "  reason: %s",
        err ? err : "(null)");

    b.len = 0;
    s_cat(&b, "keytext=abc");
    r = keytext(&b, ct, &out, &ol, &err);
    ok(r == -1 && err && strncmp(err, "malformed multipart body", 24) == 0,
        "multipart type, form body: malformed (%s)", err ? err : "");

    b.len = 0;
    s_cat(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"keytext\"\r\n"
        "no blank line, ends here");
    r = keytext(&b, "multipart/form-data; boundary=XyZ", &out, &ol, &err);
    ok(r == -1 && err && strncmp(err, "malformed multipart body", 24) == 0,
        "unterminated part headers (%s)", err ? err : "");

    b.len = 0;
    s_cat(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n"
        "\r\nA\r\n--XyZ--\r\n");
    r = keytext(&b, "multipart/form-data; boundary=XyZ", &out, &ol, &err);
    ok(r == -1, "multipart without keytext part fails");
    is_str(err, "no keytext field", "  reason");

    b.len = 0;
    s_cat(&b, "--XyZ junk\r\n");
    r = keytext(&b, "multipart/form-data; boundary=XyZ", &out, &ol, &err);
    ok(r == -1, "junk after the delimiter fails (%s)", err ? err : "");

    free(b.p);
}

static void
test_raw_types(const uint8_t *asc, size_t al, const uint8_t *bin, size_t bl)
{
    static const char *types[] = { "application/pgp-keys", "application/pgp",
        "application/octet-stream; x=y" };
    str_t       b = { 0 };
    uint8_t    *out = NULL;
    size_t      ol = 0;
    const char *err = NULL;
    int         r;

    for (size_t i = 0; i < 3; i++) {
        b.len = 0;
        s_add(&b, asc, al);
        r = keytext(&b, types[i], &out, &ol, &err);
        ok(r == 0 && mem_is(out, ol, asc, al), "%s armored body", types[i]);
        free(out);
        b.len = 0;
        s_add(&b, bin, bl);
        r = keytext(&b, types[i], &out, &ol, &err);
        ok(r == 0 && mem_is(out, ol, bin, bl), "%s binary body", types[i]);
        free(out);
    }
    /* unknown types sniff raw material */
    b.len = 0;
    s_add(&b, bin, bl);
    r = keytext(&b, "text/plain", &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, bin, bl), "unknown type, binary body");
    free(out);
    b.len = 0;
    s_cat(&b, "\r\n");
    s_add(&b, asc, al);
    r = keytext(&b, NULL, &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, b.p, b.len), "no type, armored body");
    free(out);
    free(b.p);
}

/* ------------------------------------------------------------------ */
/* Material                                                             */

static void
test_material(const uint8_t *asc, size_t al, const uint8_t *bin, size_t bl)
{
    str_t       b = { 0 };
    uint8_t    *out = NULL;
    size_t      ol = 0;
    const char *err = NULL;
    int         r;

    r = hkp_material_decode(asc, al, &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, bin, bl), "armored material");
    free(out);

    r = hkp_material_decode(bin, bl, &out, &ol, &err);
    ok(r == 0 && mem_is(out, ol, bin, bl), "binary material");
    free(out);

    /* BOM + leading text + two blocks */
    s_cat(&b, "\xEF\xBB\xBFHere is my key:\r\n");
    s_add(&b, asc, al);
    s_cat(&b, "and again\n");
    s_add(&b, asc, al);
    r = hkp_material_decode(b.p, b.len, &out, &ol, &err);
    ok(r == 0 && ol == 2 * bl && memcmp(out, bin, bl) == 0
        && memcmp(out + bl, bin, bl) == 0, "BOM, text, two armor blocks");
    free(out);

    r = hkp_material_decode((const uint8_t *) "hello world", 11, &out, &ol,
        &err);
    ok(r == -1 && out == NULL, "garbage fails");
    is_str(err, "no OpenPGP key material found", "  reason");
    r = hkp_material_decode((const uint8_t *) "", 0, &out, &ol, &err);
    ok(r == -1, "empty material fails");

    r = hkp_material_decode((const uint8_t *)
        "-----BEGIN PGP MESSAGE-----\n\nabcd\n-----END PGP MESSAGE-----\n",
        61, &out, &ol, &err);
    ok(r == -1, "PGP MESSAGE block fails (%s)", err ? err : "");

    /* bad CRC: change one CRC character */
    b.len = 0;
    s_add(&b, asc, al);
    {
        char *crc = strstr((char *) b.p, "\n=");
        ok(crc != NULL, "armor has a CRC line");
        if (crc)
            crc[2] = crc[2] == 'A' ? 'B' : 'A';
    }
    err = NULL;
    r = hkp_material_decode(b.p, b.len, &out, &ol, &err);
    ok(r == -1 && out == NULL, "bad CRC fails");
    is_str(err, "armor CRC mismatch", "  reason");

    /* truncated armor: cut in the middle of the base64 */
    r = hkp_material_decode(asc, al / 2, &out, &ol, &err);
    ok(r == -1 && out == NULL, "truncated armor fails (%s)", err ? err : "");

    /* private key block */
    r = hkp_material_decode((const uint8_t *)
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nabcd\n", 44, &out, &ol, &err);
    ok(r == -1, "private key block fails");
    is_str(err, "private key block", "  reason");

    /* truncated binary is passed on (the packet parser reports it) */
    r = hkp_material_decode(bin, bl - 3, &out, &ol, &err);
    ok(r == 0 && ol == bl - 3, "truncated binary passed on");
    free(out);

    /* binary whose UID contains armor text is still binary */
    {
        hkp_pkt_t pk, uid;
        size_t    used;
        uint8_t   buf[1024], *p;
        const char *u = "x -----BEGIN PGP PUBLIC KEY BLOCK----- y";

        ok(hkp_pkt_read(bin, bl, &pk, &used, &err) == 0, "read k1 key packet");
        uid.tag = HKP_TAG_UID;
        uid.len = (uint32_t) strlen(u);
        uid.body = (const uint8_t *) u;
        p = hkp_pkt_write(buf, &pk);
        p = hkp_pkt_write(p, &uid);
        r = hkp_material_decode(buf, (size_t) (p - buf), &out, &ol, &err);
        ok(r == 0 && mem_is(out, ol, buf, (size_t) (p - buf)),
            "binary with armor text in a UID stays binary");
        free(out);
    }
    free(b.p);
}

/* ------------------------------------------------------------------ */
/* Limits                                                               */

/* Writes pk, then UIDs named uid<i> (uidlen bytes each, 0 = short),
 * `extra` big-UID bytes for the first when > 0. */
static uint8_t *
build_key(const hkp_pkt_t *pk, size_t nuids, size_t first_uid_len,
    size_t nsigs_on_first, const hkp_pkt_t *sig, size_t *outlen)
{
    size_t   cap = 64 + pk->len + first_uid_len + nuids * 64
        + nsigs_on_first * (sig ? sig->len + 16 : 0);
    uint8_t *buf = malloc(cap), *p = buf;
    uint8_t *big = NULL;

    if (buf == NULL)
        return NULL;
    p = hkp_pkt_write(p, pk);
    for (size_t i = 0; i < nuids; i++) {
        hkp_pkt_t u;
        char      name[80];

        u.tag = HKP_TAG_UID;
        if (i == 0 && first_uid_len) {
            big = malloc(first_uid_len);
            if (big == NULL) {
                free(buf);
                return NULL;
            }
            memset(big, 'A', first_uid_len);
            u.body = big;
            u.len = (uint32_t) first_uid_len;
        } else {
            snprintf(name, sizeof(name), "User %zu <u%zu@example.invalid>", i,
                i);
            u.body = (const uint8_t *) name;
            u.len = (uint32_t) strlen(name);
        }
        p = hkp_pkt_write(p, &u);
        if (i == 0 && sig) {
            for (size_t s = 0; s < nsigs_on_first; s++) {
                /* distinct signatures: vary the last byte */
                uint8_t   sb[512];
                hkp_pkt_t sp = *sig;
                if (sig->len > sizeof(sb))
                    break;
                memcpy(sb, sig->body, sig->len);
                sb[sig->len - 1] = (uint8_t) s;
                sp.body = sb;
                p = hkp_pkt_write(p, &sp);
            }
        }
    }
    free(big);
    *outlen = (size_t) (p - buf);
    return buf;
}

static void
test_limits(const uint8_t *bin, size_t bl)
{
    hkp_limits_t L, D;
    hkp_pkt_t    pk, sig = { 0, 0, NULL };
    size_t       used, pos, kl;
    uint8_t     *k;
    coll_t       c;
    const char  *err = NULL;
    char         why[HKP_REASON_LEN];
    int          r;

    hkp_limits_default(&D);
    ok(D.max_packet_len == HKP_MAX_PACKET_LEN && D.max_key_len ==
        HKP_MAX_KEY_LEN && D.max_packets == HKP_MAX_PACKETS_PER_KEY
        && D.max_uids == HKP_MAX_UIDS_PER_KEY && D.max_sigs_per_uid ==
        HKP_MAX_SIGS_PER_UID && D.max_subkeys == HKP_MAX_SUBKEYS_PER_KEY,
        "hkp_limits_default = hkp_limits.h");

    ok(hkp_pkt_read(bin, bl, &pk, &used, &err) == 0
        && pk.tag == HKP_TAG_PUBKEY, "k1 key packet");
    for (pos = 0; pos < bl; pos += used) {
        hkp_pkt_t p;
        if (hkp_pkt_read(bin + pos, bl - pos, &p, &used, &err) != 0)
            break;
        if (p.tag == HKP_TAG_SIG && sig.body == NULL)
            sig = p;
    }
    ok(sig.body != NULL, "k1 has a signature packet");

    /* a 70000-byte UID: accepted by default, rejected at 8192 */
    k = build_key(&pk, 1, 70000, 0, NULL, &kl);
    memset(&c, 0, sizeof(c));
    r = hkp_keys_parse(k, kl, NULL, collect, &c, why, sizeof(why));
    ok(r == 0 && c.nkeys == 1 && c.nrej == 0,
        "70000-byte UID accepted with default limits");
    coll_free(&c);
    L = D;
    L.max_packet_len = 8192;
    r = hkp_keys_parse(k, kl, &L, collect, &c, why, sizeof(why));
    ok(r == 0 && c.nkeys == 0 && c.nrej == 1, "70000-byte UID rejected at 8192");
    is_str(c.reasons[0], "user ID packet too large (70000 > 8192 bytes)",
        "  reason names the limit and the value");
    coll_free(&c);

    /* the same through hkp_key_canon with limits, and a stream of [big, k1] */
    {
        uint8_t *two = malloc(kl + bl);
        if (two) {
            memcpy(two, k, kl);
            memcpy(two + kl, bin, bl);
            r = hkp_keys_parse(two, kl + bl, &L, collect, &c, why, sizeof(why));
            ok(r == 0 && c.nrej == 1 && c.nkeys == 1,
                "[big-UID key, k1]: first rejected, second accepted");
            coll_free(&c);
            free(two);
        }
    }
    free(k);

    /* too many UIDs */
    k = build_key(&pk, 5, 0, 0, NULL, &kl);
    L = D;
    L.max_uids = 3;
    r = hkp_keys_parse(k, kl, &L, collect, &c, why, sizeof(why));
    ok(r == 0 && c.nrej == 1 && c.nkeys == 0, "5 UIDs rejected at max_uids 3");
    is_str(c.reasons[0], "too many user IDs (5 > 3)", "  reason");
    coll_free(&c);
    r = hkp_keys_parse(k, kl, NULL, collect, &c, why, sizeof(why));
    ok(r == 0 && c.nkeys == 1, "5 UIDs accepted with NULL (default) limits");
    coll_free(&c);
    /* 0 and values above the ceiling mean the default */
    memset(&L, 0, sizeof(L));
    L.max_uids = (size_t) 1 << 40;
    r = hkp_keys_parse(k, kl, &L, collect, &c, why, sizeof(why));
    ok(r == 0 && c.nkeys == 1, "zero / over-ceiling limits = defaults");
    coll_free(&c);
    /* too many packets */
    L = D;
    L.max_packets = 4;
    r = hkp_keys_parse(k, kl, &L, collect, &c, why, sizeof(why));
    ok(r == 0 && c.nrej == 1, "6 packets rejected at max_packets 4");
    is_str(c.reasons[0], "too many packets in key (6 > 4)", "  reason");
    coll_free(&c);
    /* key size */
    L = D;
    L.max_key_len = 100;
    r = hkp_keys_parse(k, kl, &L, collect, &c, why, sizeof(why));
    ok(r == 0 && c.nrej == 1 && strncmp(c.reasons[0], "key too large (", 15)
        == 0 && strstr(c.reasons[0], " > 100 bytes)") != NULL,
        "key over max_key_len rejected: %s", c.reasons[0]);
    coll_free(&c);
    free(k);

    /* too many signatures on one UID */
    k = build_key(&pk, 1, 0, 5, &sig, &kl);
    L = D;
    L.max_sigs_per_uid = 4;
    r = hkp_keys_parse(k, kl, &L, collect, &c, why, sizeof(why));
    ok(r == 0 && c.nrej == 1, "5 sigs rejected at max_sigs_per_uid 4");
    is_str(c.reasons[0], "too many signatures on one user ID (5 > 4)",
        "  reason");
    coll_free(&c);
    L.max_sigs_per_uid = 5;
    r = hkp_keys_parse(k, kl, &L, collect, &c, why, sizeof(why));
    ok(r == 0 && c.nkeys == 1, "5 sigs accepted at max_sigs_per_uid 5");
    coll_free(&c);
    free(k);

    /* merge limits: {pk, u0, u1} + {pk, u0, u2, u3} = 4 UIDs */
    {
        hkp_key_t a, bk, m;
        hkp_pkt_t pa[3], pb[4];
        char      n[4][sizeof("uid -2147483648")]; /* "uid %d" */

        for (int i = 0; i < 4; i++)
            snprintf(n[i], sizeof(n[i]), "uid %d", i);
        pa[0] = pk;
        pb[0] = pk;
        for (int i = 0; i < 2; i++) {
            pa[1 + i].tag = HKP_TAG_UID;
            pa[1 + i].body = (const uint8_t *) n[i];
            pa[1 + i].len = (uint32_t) strlen(n[i]);
        }
        pb[1] = pa[1];
        for (int i = 0; i < 2; i++) {
            pb[2 + i].tag = HKP_TAG_UID;
            pb[2 + i].body = (const uint8_t *) n[2 + i];
            pb[2 + i].len = (uint32_t) strlen(n[2 + i]);
        }
        ok(hkp_key_canon(pa, 3, NULL, &a, why, sizeof(why)) == 0
            && hkp_key_canon(pb, 4, NULL, &bk, why, sizeof(why)) == 0, "merge inputs built");
        L = D;
        L.max_uids = 3;
        ok(hkp_key_canon(pa, 3, &L, &m, why, sizeof(why)) == 0, "a within 3 UIDs");
        hkp_key_free(&m);
        ok(hkp_key_canon(pb, 4, &L, &m, why, sizeof(why)) == 0, "b within 3 UIDs");
        hkp_key_free(&m);
        why[0] = '\0';
        err = why;
        r = hkp_key_merge(&a, &bk, &L, &m, why, sizeof(why));
        ok(r == -1 && m.pkts == NULL && m.mem == NULL,
            "merge exceeding max_uids fails");
        is_str(err, "too many user IDs (4 > 3)", "  reason");
        r = hkp_key_merge(&a, &bk, NULL, &m, why, sizeof(why));
        ok(r == 0 && m.npkts == 5, "merge with default limits: 4 UIDs");
        hkp_key_free(&m);
        L.max_uids = 4;
        r = hkp_key_merge(&a, &bk, &L, &m, why, sizeof(why));
        ok(r == 0 && m.npkts == 5, "merge at max_uids 4 succeeds");
        hkp_key_free(&m);
        L = D;
        L.max_key_len = 80;
        r = hkp_key_merge(&a, &bk, &L, &m, why, sizeof(why));
        ok(r == -1 && err && strncmp(err, "key too large (", 15) == 0,
            "merge exceeding max_key_len fails: %s", err ? err : "");
        hkp_key_free(&a);
        hkp_key_free(&bk);
    }
}

/* ------------------------------------------------------------------ */

int
main(void)
{
    const char *dd = getenv("HKP_TEST_DATA");
    uint8_t    *asc, *bin = NULL;
    size_t      al, bl = 0;
    const char *err;

    if (dd != NULL && *dd)
        datadir = dd;
    asc = load_data("k1-ed25519.asc", &al);
    if (!ok(asc != NULL, "read k1-ed25519.asc"))
        return tap_done();
    if (!ok(hkp_armor_decode(asc, al, &bin, &bl, &err) == 1, "decode k1"))
        return tap_done();

    test_urlencoded(asc, al);
    test_multipart(asc, al);
    test_raw_types(asc, al, bin, bl);
    test_material(asc, al, bin, bl);
    test_limits(bin, bl);

    free(asc);
    free(bin);
    return tap_done();
}
