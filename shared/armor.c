/*
 * ASCII armor for public key blocks. See armor.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE              /* memmem */
#endif
#include <stdlib.h>
#include <string.h>

#include "armor.h"
#include "hkp_limits.h"

static const char BEGIN_PUB[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
static const char END_PUB[] = "-----END PGP PUBLIC KEY BLOCK-----";
static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

uint32_t
hkp_crc24(const uint8_t *p, size_t len)
{
    static uint32_t table[256];
    static int      init;
    uint32_t        crc = 0xB704CE;

    if (!init) {
        /* idempotent; a race only recomputes identical values */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i << 16;
            for (int j = 0; j < 8; j++) {
                c <<= 1;
                if (c & 0x1000000)
                    c ^= 0x1864CFB;
            }
            table[i] = c & 0xFFFFFF;
        }
        __atomic_store_n(&init, 1, __ATOMIC_RELEASE);
    }
    for (size_t i = 0; i < len; i++)
        crc = ((crc << 8) ^ table[((crc >> 16) ^ p[i]) & 0xFF]) & 0xFFFFFF;
    return crc;
}

/* ------------------------------------------------------------------ */

size_t
hkp_armor_encoded_len(size_t binlen)
{
    size_t b64 = (binlen + 2) / 3 * 4;
    size_t lines = (b64 + 63) / 64;

    return (sizeof(BEGIN_PUB) - 1) + 1 + 1   /* BEGIN\n\n */
        + b64 + lines                         /* data lines */
        + 6                                   /* =XXXX\n */
        + (sizeof(END_PUB) - 1) + 1;          /* END\n */
}

static uint8_t *
b64_quad(uint8_t *o, uint32_t v, int nbytes)
{
    o[0] = (uint8_t) B64[(v >> 18) & 63];
    o[1] = (uint8_t) B64[(v >> 12) & 63];
    o[2] = nbytes > 1 ? (uint8_t) B64[(v >> 6) & 63] : '=';
    o[3] = nbytes > 2 ? (uint8_t) B64[v & 63] : '=';
    return o + 4;
}

uint8_t *
hkp_armor_encode(const uint8_t *bin, size_t binlen, uint8_t *out)
{
    uint8_t *o = out;
    size_t   col = 0;
    uint32_t crc = hkp_crc24(bin, binlen);

    memcpy(o, BEGIN_PUB, sizeof(BEGIN_PUB) - 1);
    o += sizeof(BEGIN_PUB) - 1;
    *o++ = '\n';
    *o++ = '\n';
    for (size_t i = 0; i < binlen; i += 3) {
        size_t   r = binlen - i;
        uint32_t v = (uint32_t) bin[i] << 16;
        int      nb = r >= 3 ? 3 : (int) r;

        if (nb > 1)
            v |= (uint32_t) bin[i + 1] << 8;
        if (nb > 2)
            v |= bin[i + 2];
        o = b64_quad(o, v, nb);
        col += 4;
        if (col == 64) {
            *o++ = '\n';
            col = 0;
        }
    }
    if (col)
        *o++ = '\n';
    *o++ = '=';
    o = b64_quad(o, crc, 3);
    *o++ = '\n';
    memcpy(o, END_PUB, sizeof(END_PUB) - 1);
    o += sizeof(END_PUB) - 1;
    *o++ = '\n';
    return o;
}

/* ------------------------------------------------------------------ */

static int
b64_val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static int
is_blank(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int
line_is(const uint8_t *l, size_t n, const char *s)
{
    size_t sl = strlen(s);
    return n == sl && memcmp(l, s, sl) == 0;
}

static int
line_starts(const uint8_t *l, size_t n, const char *s)
{
    size_t sl = strlen(s);
    return n >= sl && memcmp(l, s, sl) == 0;
}

int
hkp_armor_decode(const uint8_t *in, size_t len, uint8_t **out,
    size_t *outlen, const char **err)
{
    enum { OUTSIDE, HEADERS, BODY, AFTER_CRC } st = OUTSIDE;
    uint8_t *buf = NULL;
    size_t   cap, n = 0, blk_start = 0, pos = 0;
    uint32_t acc = 0, crc_read = 0;
    int      nacc = 0, pad = 0, have_crc = 0, blocks = 0;

    *out = NULL;
    *outlen = 0;
    cap = len / 4 * 3 + 3;
    if (cap > (size_t) HKP_MAX_BLOB_LEN + 3)
        cap = (size_t) HKP_MAX_BLOB_LEN + 3;

    while (pos < len) {
        const uint8_t *l = in + pos, *nl;
        size_t         ll;

        nl = memchr(l, '\n', len - pos);
        ll = nl ? (size_t) (nl - l) : len - pos;
        pos += ll + (nl ? 1 : 0);
        /* trim */
        while (ll && is_blank(l[ll - 1]))
            ll--;
        while (ll && is_blank(l[0])) {
            l++;
            ll--;
        }

        switch (st) {
        case OUTSIDE:
            if (line_is(l, ll, BEGIN_PUB)) {
                st = HEADERS;
                blk_start = n;
                acc = 0;
                nacc = 0;
                pad = 0;
                have_crc = 0;
                if (buf == NULL) {
                    buf = malloc(cap ? cap : 1);
                    if (buf == NULL) {
                        *err = "out of memory";
                        return -1;
                    }
                }
            } else if (line_starts(l, ll, "-----BEGIN PGP PRIVATE KEY BLOCK")
                || line_starts(l, ll, "-----BEGIN PGP SECRET KEY BLOCK"))
            {
                *err = "private key block";
                goto fail;
            }
            continue;

        case HEADERS:
            if (ll == 0) {
                st = BODY;
                continue;
            }
            if (memchr(l, ':', ll) != NULL)
                continue;
            /* no empty line after BEGIN: this is already data */
            st = BODY;
            /* fall through */
        case BODY:
            if (ll == 0)
                continue;
            if (line_is(l, ll, END_PUB))
                goto end_block;
            if (line_starts(l, ll, "-----")) {
                *err = "armor END line missing";
                goto fail;
            }
            if (l[0] == '=' && ll == 5 && b64_val(l[1]) >= 0) {
                uint32_t v = 0;
                for (int i = 1; i < 5; i++) {
                    int d = b64_val(l[i]);
                    if (d < 0) {
                        *err = "invalid armor CRC line";
                        goto fail;
                    }
                    v = (v << 6) | (uint32_t) d;
                }
                crc_read = v;
                have_crc = 1;
                st = AFTER_CRC;
                continue;
            }
            for (size_t i = 0; i < ll; i++) {
                int d;

                if (is_blank(l[i]))
                    continue;
                if (l[i] == '=') {
                    /* padding: allowed only after 2 or 3 data chars */
                    if (nacc == 2 && pad == 0) {
                        pad = 1;
                        continue;
                    }
                    if (nacc == 2 && pad == 1) {
                        pad = 2;
                        continue;
                    }
                    if (nacc == 3 && pad == 0) {
                        pad = 1;
                        continue;
                    }
                    *err = "invalid base64 padding";
                    goto fail;
                }
                d = b64_val(l[i]);
                if (d < 0) {
                    *err = "invalid base64 character";
                    goto fail;
                }
                if (pad) {
                    *err = "base64 data after padding";
                    goto fail;
                }
                acc = (acc << 6) | (uint32_t) d;
                if (++nacc == 4) {
                    if (n + 3 > (size_t) HKP_MAX_BLOB_LEN || n + 3 > cap) {
                        *err = "armored data too large";
                        goto fail;
                    }
                    buf[n++] = (uint8_t) (acc >> 16);
                    buf[n++] = (uint8_t) (acc >> 8);
                    buf[n++] = (uint8_t) acc;
                    acc = 0;
                    nacc = 0;
                }
            }
            continue;

        case AFTER_CRC:
            if (ll == 0)
                continue;
            if (line_is(l, ll, END_PUB))
                goto end_block;
            *err = "armor END line missing after CRC";
            goto fail;
        }
        continue;

end_block:
        /* flush a final partial group (padded or not) */
        if (nacc == 1) {
            *err = "truncated base64 data";
            goto fail;
        }
        if (nacc >= 2) {
            if (n + 2 > (size_t) HKP_MAX_BLOB_LEN || n + 2 > cap) {
                *err = "armored data too large";
                goto fail;
            }
            if (nacc == 2) {
                buf[n++] = (uint8_t) (acc >> 4);
            } else {
                buf[n++] = (uint8_t) (acc >> 10);
                buf[n++] = (uint8_t) (acc >> 2);
            }
            acc = 0;
            nacc = 0;
        }
        if (have_crc && hkp_crc24(buf + blk_start, n - blk_start) != crc_read) {
            *err = "armor CRC mismatch";
            goto fail;
        }
        blocks++;
        st = OUTSIDE;
    }

    if (st != OUTSIDE) {
        *err = "armor END line missing";
        goto fail;
    }
    if (blocks == 0) {
        free(buf);
        return 0;
    }
    *out = buf;
    *outlen = n;
    return blocks;

fail:
    free(buf);
    return -1;
}

int
hkp_armor_sniff(const uint8_t *buf, size_t len)
{
    static const char hdr[] = "-----BEGIN PGP";

    return len > 0 && (buf[0] & 0x80) == 0
        && memmem(buf, len, hdr, sizeof(hdr) - 1) != NULL;
}
