/*
 * Helpers shared by the C unit tests: reading a whole file, hex to bytes,
 * removing a temporary directory, a seeded pseudo-random sequence.
 */
#ifndef HKP_TEST_UTIL_H
#define HKP_TEST_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recon_params.h"     /* HKP_HASH_LEN */
#include "bytes.h"          /* hkp_hexval */
#include "tap.h"            /* diag */

/* The whole file (malloc, caller frees), or NULL. */
__attribute__((unused))
static uint8_t *
read_file(const char *path, size_t *len)
{
    FILE    *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t   cap = 0, n = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        size_t r;
        if (n == cap) {
            uint8_t *nb;
            cap = cap ? cap * 2 : 65536;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

/*
 * Hex digit pairs of s into out, spaces between pairs skipped, until the
 * end of s or max bytes. Returns the byte count, or -1 for anything that
 * is not a pair of hex digits.
 */
__attribute__((unused))
static int
unhex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;

    while (*s && n < max) {
        int hi, lo;
        if (*s == ' ') {
            s++;
            continue;
        }
        hi = hkp_hexval(s[0]);
        lo = hi < 0 ? -1 : hkp_hexval(s[1]);
        if (lo < 0)
            return -1;
        out[n++] = (uint8_t) (hi << 4 | lo);
        s += 2;
    }
    return (int) n;
}

/* rm -r */
__attribute__((unused))
static void
rm_tree(const char *path)
{
    DIR           *d = opendir(path);
    struct dirent *e;
    char           p[8192];

    if (d == NULL) {
        unlink(path);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        if (unlink(p) != 0)
            rm_tree(p);
    }
    closedir(d);
    rmdir(path);
}

/* xorshift64; a test that uses it sets its own seed first. */
__attribute__((unused))
static uint64_t rng_state;

__attribute__((unused))
static uint64_t
rnd64(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

__attribute__((unused))
static void
rnd_hash(uint8_t h[HKP_HASH_LEN])
{
    uint64_t a = rnd64(), b = rnd64();
    memcpy(h, &a, 8);
    memcpy(h + 8, &b, 8);
}


/* Keys collected from hkp_keys_parse(): at most COLL_MAX kept (the rest
 * freed), rejection reasons copied (they are in the parse caller's err
 * buffer, which the next key overwrites) with their stream index. */
#include "key.h"
#include "armor.h"

#define COLL_MAX  16     /* keys and rejections kept */

typedef struct {
    hkp_key_t  *keys[COLL_MAX];
    size_t      nkeys;
    size_t      nrej;
    char        reasons[COLL_MAX][HKP_REASON_LEN];
    size_t      rej_index[COLL_MAX];
} coll_t;

__attribute__((unused))
static int
collect(void *ctx, size_t index, hkp_key_t *key, const char *reason)
{
    coll_t *c = ctx;

    if (key == NULL) {
        if (c->nrej < COLL_MAX) {
            snprintf(c->reasons[c->nrej], sizeof(c->reasons[0]), "%s",
                reason ? reason : "(null)");
            c->rej_index[c->nrej] = index;
        }
        c->nrej++;
        return 0;
    }
    if (c->nkeys < COLL_MAX) {
        c->keys[c->nkeys++] = key;
    } else {
        hkp_key_free(key);
        free(key);
    }
    return 0;
}

__attribute__((unused))
static void
coll_free(coll_t *c)
{
    for (size_t i = 0; i < c->nkeys; i++) {
        hkp_key_free(c->keys[i]);
        free(c->keys[i]);
    }
    memset(c, 0, sizeof(*c));
}

/* The report callback of the check functions (hkp_ptree_check, ...):
 * counts the lines in *(int *) ctx and shows the first five. */
__attribute__((unused))
static void
count_report(void *ctx, const char *line)
{
    int *n = ctx;

    if ((*n)++ < 5)
        diag("  check: %s", line);
}

/* Whether got[0..gl) (NULL: no) holds exactly want[0..wl). */
__attribute__((unused))
static int
mem_is(const uint8_t *got, size_t gl, const void *want, size_t wl)
{
    return got != NULL && gl == wl && memcmp(got, want, wl) == 0;
}

/* A parsed key, freed (NULL is fine). */
__attribute__((unused))
static void
free_key(hkp_key_t *k)
{
    if (k != NULL) {
        hkp_key_free(k);
        free(k);
    }
}

/* hkp_keys_parse() callback keeping the first key in *(hkp_key_t **) ctx. */
__attribute__((unused))
static int
take_first(void *ctx, size_t index, hkp_key_t *key, const char *reason)
{
    hkp_key_t **out = ctx;

    (void) index;
    (void) reason;
    if (key == NULL)
        return 0;
    if (*out == NULL)
        *out = key;
    else
        free_key(key);
    return 0;
}

/* The first key of the binary file <datadir>/hockeypuck-2.2/hostile/<name>,
 * or NULL (with a diag line). */
__attribute__((unused))
static hkp_key_t *
load_hostile(const char *datadir, const char *name)
{
    char       path[4200], why[HKP_REASON_LEN];
    uint8_t   *bin;
    size_t     len;
    hkp_key_t *k = NULL;

    snprintf(path, sizeof(path), "%s/hockeypuck-2.2/hostile/%s", datadir,
        name);
    if ((bin = read_file(path, &len)) == NULL) {
        diag("cannot read %s", path);
        return NULL;
    }
    if (hkp_keys_parse(bin, len, NULL, take_first, &k, why, sizeof(why)) != 0)
        diag("%s: %s", name, why);
    free(bin);
    return k;
}

/* The binary of the armored file <datadir>/<name> (malloc, caller frees),
 * or NULL (with a diag line). */
__attribute__((unused))
static uint8_t *
load_asc(const char *datadir, const char *name, size_t *binlen)
{
    char        path[4200];
    uint8_t    *txt, *bin = NULL;
    size_t      tl;
    const char *err = NULL;

    snprintf(path, sizeof(path), "%s/%s", datadir, name);
    if ((txt = read_file(path, &tl)) == NULL) {
        diag("cannot read %s", path);
        return NULL;
    }
    if (hkp_armor_decode(txt, tl, &bin, binlen, &err) < 1) {
        diag("%s: %s", name, err ? err : "no armor block");
        free(bin);
        bin = NULL;
    }
    free(txt);
    return bin;
}

/* The one key of the armored file <datadir>/<name>, or NULL (with a diag
 * line) when it holds anything else. */
__attribute__((unused))
static hkp_key_t *
load_key(const char *datadir, const char *name)
{
    uint8_t    *bin;
    size_t      bl;
    coll_t      c;
    char        why[HKP_REASON_LEN];

    memset(&c, 0, sizeof(c));
    if ((bin = load_asc(datadir, name, &bl)) == NULL)
        return NULL;
    if (hkp_keys_parse(bin, bl, NULL, collect, &c, why, sizeof(why)) != 0
        || c.nkeys != 1 || c.nrej != 0)
    {
        diag("%s: %zu keys, %zu rejected", name, c.nkeys, c.nrej);
        free(bin);
        coll_free(&c);
        return NULL;
    }
    free(bin);
    return c.keys[0];
}

#endif
