/*
 * Unit tests for shared/zp.c and shared/poly.c: every value of
 * field-vectors.txt (p, sample points, element encodings, child indices,
 * svalues, the worked interpolation example, the svalue/element bytes of
 * the example frames), the fast arithmetic against plain GMP, and
 * randomized reconciliation: hkp_recon_solve recovers exactly the
 * symmetric difference within capacity and never returns a wrong answer
 * beyond it.
 *
 * Usage: test_zp
 * Env:   HKP_TEST_DATA (default t/data), HKP_ZP_TRIALS (per case, 25).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmp.h>

#include "tap.h"
#include "util.h"
#include "ref_zp.h"
#include "poly.h"
#include "key.h"
#include "ptree.h"
#include "zp.h"

#define NS  HKP_RECON_NSAMPLES
#define EL  HKP_ELEM_LEN

typedef uint8_t sv_t[NS][EL];

static const char *datadir = "t/data";

/* ------------------------------------------------------------------ */
/* helpers                                                              */

/* Value of a 17-byte wire string, as a decimal string (caller frees). */
static char *
wire_dec(const uint8_t w[EL])
{
    mpz_t x;
    char *s;
    mpz_init(x);
    mpz_import(x, EL, -1, 1, 0, 0, w);
    s = mpz_get_str(NULL, 10, x);
    mpz_clear(x);
    return s;
}

static int
dec_eq(const mpz_t x, const char *dec)
{
    mpz_t y;
    int r;
    mpz_init_set_str(y, dec, 10);
    r = mpz_cmp(x, y) == 0;
    mpz_clear(y);
    return r;
}


static int
cmp16(const void *a, const void *b)
{
    return memcmp(a, b, HKP_HASH_LEN);
}

/* ------------------------------------------------------------------ */
/* field-vectors.txt                                                    */

typedef struct {
    char     hex[33];
    uint8_t  hash[HKP_HASH_LEN];
    char     dec[64];
    uint8_t  wire[EL];
    int      child[8];
    int      have;
} kvec_t;

static void
test_vectors(void)
{
    char path[4096], line[4096];
    FILE *f;
    kvec_t k[5];
    int cur = 0, svmode = 0, npoints = 0, nsv1 = 0, nsv4 = 0, nf = 0;
    char pdec[64] = "", phex[64] = "";
    char sv1dec[NS][128], sv4dec[NS][128], fdec[NS][128];
    uint8_t sv1w[NS][EL], sv4w[NS][EL];
    char acoef[8][64], bcoef[8][64], rootsA[8][33], rootsB[8][33];
    int na = 0, nb = 0, nra = 0, nrb = 0;
    uint8_t poly_frame[512], full_frame[512], elem_frame[512];
    int npoly = 0, nfull = 0, nelem = 0;
    int pending = 0;        /* 1 poly, 2 full, 3 elements: next line */

    memset(k, 0, sizeof(k));
    snprintf(path, sizeof(path), "%s/field-vectors.txt", datadir);
    f = fopen(path, "r");
    if (!ok(f != NULL, "open %s", path))
        return;

    while (fgets(line, sizeof(line), f) != NULL) {
        char *p;
        unsigned u;
        char a[128], b[128];

        line[strcspn(line, "\r\n")] = '\0';
        if (pending) {
            const char *h = line + strspn(line, " ");
            if (pending == 1)
                npoly = unhex(h, poly_frame, sizeof(poly_frame));
            else if (pending == 2)
                nfull = unhex(h, full_frame, sizeof(full_frame));
            else
                nelem = unhex(h, elem_frame, sizeof(elem_frame));
            pending = 0;
            continue;
        }
        if (sscanf(line, "p.dec = %63s", pdec) == 1)
            continue;
        if (sscanf(line, "p.hex = %63s", phex) == 1)
            continue;
        if (sscanf(line, "point[%u] = %127s", &u, a) == 2 && u < NS
            && (p = strstr(line, "wire17 = ")) != NULL)
        {
            mpz_t x;
            uint8_t w[EL], w2[EL];
            int wl = unhex(p + 9, w, sizeof(w));
            mpz_init(x);
            ok(dec_eq(*hkp_zp_point(u), a), "point[%u] = %s", u, a);
            hkp_zp_to_wire(*hkp_zp_point(u), w2);
            ok(wl == EL && memcmp(w, w2, EL) == 0, "point[%u] wire17", u);
            ok(hkp_zp_from_wire(x, w) == 0
                && mpz_cmp(x, *hkp_zp_point(u)) == 0,
                "point[%u] from wire", u);
            mpz_clear(x);
            npoints++;
            continue;
        }
        if (sscanf(line, "k%u hash(MD5) = %32s", &u, a) == 2 && u >= 1
            && u <= 4)
        {
            cur = (int) u;
            memcpy(k[cur].hex, a, 33);
            unhex(a, k[cur].hash, 16);
            k[cur].have = 1;
            continue;
        }
        if (cur && (p = strstr(line, "element (little-endian integer) dec = "))
            != NULL)
        {
            snprintf(k[cur].dec, sizeof(k[cur].dec), "%s", p + 38);
            continue;
        }
        if (cur && (p = strstr(line, "element on the wire (17 bytes)")) != NULL
            && (p = strstr(p, "= ")) != NULL)
        {
            unhex(p + 2, k[cur].wire, EL);
            continue;
        }
        if (cur && (p = strstr(line, "child index at depth 0..7")) != NULL
            && (p = strchr(p, '[')) != NULL)
        {
            sscanf(p, "[%d, %d, %d, %d, %d, %d, %d, %d]", &k[cur].child[0],
                &k[cur].child[1], &k[cur].child[2], &k[cur].child[3],
                &k[cur].child[4], &k[cur].child[5], &k[cur].child[6],
                &k[cur].child[7]);
            continue;
        }
        if (strncmp(line, "svalues({k1})", 13) == 0) {
            svmode = 1;
            continue;
        }
        if (strncmp(line, "svalues({k1,k2,k3,k4})", 22) == 0) {
            svmode = 4;
            continue;
        }
        if (svmode && sscanf(line, " [%u] dec=%127s wire17=%127s", &u, a, b)
            == 3 && u < NS)
        {
            if (svmode == 1) {
                snprintf(sv1dec[u], 128, "%s", a);
                unhex(b, sv1w[u], EL);
                nsv1++;
            } else {
                snprintf(sv4dec[u], 128, "%s", a);
                unhex(b, sv4w[u], EL);
                nsv4++;
            }
            continue;
        }
        if (strncmp(line, "svalues(empty) = [1,1,1,1,1,1]", 30) == 0) {
            sv_t e;
            int all = 1;
            hkp_zp_svalues_empty(e);
            for (unsigned i = 0; i < NS; i++) {
                char *d = wire_dec(e[i]);
                all &= strcmp(d, "1") == 0;
                free(d);
            }
            ok(all, "svalues(empty) = [1,1,1,1,1,1]");
            continue;
        }
        if (sscanf(line, " f[%u] = remote_sv/local_sv = %127s", &u, a) == 2
            && u < NS)
        {
            snprintf(fdec[u], 128, "%s", a);
            nf++;
            continue;
        }
        if ((p = strstr(line, "A coeffs (low->high) = [")) != NULL) {
            char *t = strtok(p + 24, ", ]");
            while (t != NULL && na < 8) {
                snprintf(acoef[na++], 64, "%s", t);
                t = strtok(NULL, ", ]");
            }
            continue;
        }
        if ((p = strstr(line, "B coeffs (low->high) = [")) != NULL) {
            char *t = strtok(p + 24, ", ]");
            while (t != NULL && nb < 8) {
                snprintf(bcoef[nb++], 64, "%s", t);
                t = strtok(NULL, ", ]");
            }
            continue;
        }
        if ((p = strstr(line, "roots(A) = remote-only = [")) != NULL
            || (p = strstr(line, "roots(B) = local-only  = [")) != NULL)
        {
            int isA = strstr(line, "roots(A)") != NULL;
            char *q = strchr(p, '[');
            while ((q = strchr(q, '\'')) != NULL) {
                char *e = strchr(q + 1, '\'');
                if (e == NULL || e - q - 1 != 32)
                    break;
                if (isA && nra < 8)
                    memcpy(rootsA[nra++], q + 1, 32), rootsA[nra - 1][32] = 0;
                else if (!isA && nrb < 8)
                    memcpy(rootsB[nrb++], q + 1, 32), rootsB[nrb - 1][32] = 0;
                q = e + 1;
            }
            continue;
        }
        if (strncmp(line, "frame ReconRqst_Poly(", 21) == 0)
            pending = 1;
        else if (strncmp(line, "frame ReconRqst_Full(", 21) == 0)
            pending = 2;
        else if (strncmp(line, "frame Elements({k4}) =", 22) == 0)
            pending = 3;
    }
    fclose(f);

    /* p */
    {
        char *s = mpz_get_str(NULL, 10, *hkp_zp_p());
        char *h = mpz_get_str(NULL, 16, *hkp_zp_p());
        char want[70];
        for (char *c = h; *c; c++)
            if (*c >= 'a' && *c <= 'f')
                *c = (char) (*c - 'a' + 'A');
        snprintf(want, sizeof(want), "0x%s", h);
        is_str(s, pdec, "p decimal");
        is_str(want, phex, "p hex");
        ok(mpz_sizeinbase(*hkp_zp_p(), 2) == 129, "p has 129 bits");
        ok(mpz_probab_prime_p(*hkp_zp_p(), 30) > 0, "p is prime");
        free(s);
        free(h);
    }
    is_int(npoints, NS, "all 6 points in the vectors");

    /* elements */
    for (int i = 1; i <= 4; i++) {
        mpz_t x, y;
        uint8_t w[EL], h[HKP_HASH_LEN], child[17], pfx[17];
        int cok = 1, pok = 1;

        if (!ok(k[i].have, "k%d in the vectors", i))
            continue;
        mpz_init(x);
        mpz_init(y);
        hkp_zp_from_hash(x, k[i].hash);
        ok(dec_eq(x, k[i].dec), "k%d element decimal", i);
        hkp_zp_to_wire(x, w);
        ok(memcmp(w, k[i].wire, EL) == 0, "k%d element wire17", i);
        ok(hkp_zp_from_wire(y, k[i].wire) == 0 && mpz_cmp(x, y) == 0,
            "k%d from wire", i);
        ok(hkp_zp_is_hash(x), "k%d is a hash value", i);
        hkp_zp_to_hash(y, h);
        ok(memcmp(h, k[i].hash, HKP_HASH_LEN) == 0, "k%d wire -> hash = first 16 "
            "bytes", i);
        /* child indices, and the child prefixes agree with the hash */
        memset(pfx, 0, sizeof(pfx));
        for (unsigned d = 0; d < 8; d++) {
            unsigned c = hkp_ptree_child_index(k[i].hash, d);
            if ((int) c != k[i].child[d])
                cok = 0;
            hkp_ptree_child_prefix(pfx, 2 * d, c, child);
            memcpy(pfx, child, (2 * d + 2 + 7) / 8);
            {
                unsigned nb2 = 2 * d + 2, full = nb2 / 8;
                if (memcmp(pfx, k[i].hash, full) != 0
                    || (nb2 % 8 && (pfx[full] ^ k[i].hash[full])
                        & (uint8_t) (0xFF << (8 - nb2 % 8))))
                    pok = 0;
                if (nb2 % 8 && (pfx[full] & (uint8_t) ~(0xFF << (8 - nb2 % 8))))
                    pok = 0;    /* unused bits must be 0 */
            }
        }
        ok(cok, "k%d child indices at depth 0..7", i);
        ok(pok, "k%d child prefixes follow the hash bits", i);
        mpz_clear(x);
        mpz_clear(y);
    }

    /* svalues */
    if (ok(nsv1 == NS && nsv4 == NS, "svalue vectors present")) {
        sv_t s1, s4, s;
        const uint8_t hs[4][HKP_HASH_LEN];
        int dok = 1;
        memcpy((void *) hs[0], k[1].hash, HKP_HASH_LEN);
        memcpy((void *) hs[1], k[2].hash, HKP_HASH_LEN);
        memcpy((void *) hs[2], k[3].hash, HKP_HASH_LEN);
        memcpy((void *) hs[3], k[4].hash, HKP_HASH_LEN);

        hkp_zp_svalues_empty(s1);
        ok(hkp_zp_svalues_update(s1, k[1].hash, 1) == 0, "update +k1");
        ok(memcmp(s1, sv1w, sizeof(s1)) == 0, "svalues({k1}) wire17");
        for (unsigned i = 0; i < NS; i++) {
            char *d = wire_dec(s1[i]);
            dok &= strcmp(d, sv1dec[i]) == 0;
            free(d);
        }
        ok(dok, "svalues({k1}) decimal");
        hkp_zp_svalues_of(s, hs, 1);
        ok(memcmp(s, sv1w, sizeof(s)) == 0, "svalues_of({k1})");

        memcpy(s4, s1, sizeof(s4));
        for (int i = 2; i <= 4; i++)
            hkp_zp_svalues_update(s4, k[i].hash, 1);
        ok(memcmp(s4, sv4w, sizeof(s4)) == 0, "svalues({k1..k4}) wire17 by "
            "updates");
        dok = 1;
        for (unsigned i = 0; i < NS; i++) {
            char *d = wire_dec(s4[i]);
            dok &= strcmp(d, sv4dec[i]) == 0;
            free(d);
        }
        ok(dok, "svalues({k1..k4}) decimal");
        hkp_zp_svalues_of(s, hs, 4);
        ok(memcmp(s, sv4w, sizeof(s)) == 0, "svalues_of({k1..k4})");
        ref_svalues(s, hs, 4);
        ok(memcmp(s, sv4w, sizeof(s)) == 0, "GMP reference agrees");
        /* svalues of a disjoint union */
        hkp_zp_svalues_of(s, hs, 2);
        {
            sv_t t;
            hkp_zp_svalues_of(t, hs + 2, 2);
            hkp_zp_svalues_mul(s, (const uint8_t (*)[EL]) t);
        }
        ok(memcmp(s, sv4w, sizeof(s)) == 0, "svalues_mul({k1,k2},{k3,k4})");
        /* and back */
        for (int i = 4; i >= 2; i--)
            hkp_zp_svalues_update(s4, k[i].hash, 0);
        ok(memcmp(s4, sv1w, sizeof(s4)) == 0, "removing k4,k3,k2 gives "
            "svalues({k1})");
        hkp_zp_svalues_update(s4, k[1].hash, 0);
        hkp_zp_svalues_empty(s);
        ok(memcmp(s4, s, sizeof(s)) == 0, "removing k1 gives the empty "
            "svalues");

        /* frames: the svalues and elements inside them */
        if (ok(npoly == 4 + 1 + 8 + 4 + 4 + NS * EL, "Poly frame parsed")) {
            ok(poly_frame[4] == 0, "Poly frame type 0");
            ok(memcmp(poly_frame + 13, "\0\0\0\4", 4) == 0, "Poly size 4");
            ok(memcmp(poly_frame + 17, "\0\0\0\6", 4) == 0, "Poly 6 svalues");
            ok(memcmp(poly_frame + 21, sv4w, NS * EL) == 0,
                "Poly frame carries svalues({k1..k4})");
        }
        if (ok(nfull == 4 + 1 + 8 + 1 + 4 + 2 * EL, "Full frame parsed")) {
            uint8_t w[EL];
            mpz_t x;
            mpz_init(x);
            hkp_zp_from_hash(x, k[1].hash);
            hkp_zp_to_wire(x, w);
            ok(memcmp(full_frame + 18, w, EL) == 0, "Full frame elem k1");
            hkp_zp_from_hash(x, k[3].hash);
            hkp_zp_to_wire(x, w);
            ok(memcmp(full_frame + 18 + EL, w, EL) == 0, "Full frame elem k3");
            ok(full_frame[13] == 0x40, "Full frame prefix '01' = 0x40");
            {
                uint8_t child[1];
                hkp_ptree_child_prefix(NULL, 0, 1, child);
                ok(child[0] == 0x40, "child_prefix(root, 1) = 0x40");
            }
            mpz_clear(x);
        }
        if (ok(nelem == 4 + 1 + 4 + EL, "Elements frame parsed")) {
            uint8_t w[EL];
            mpz_t x;
            mpz_init(x);
            hkp_zp_from_hash(x, k[4].hash);
            hkp_zp_to_wire(x, w);
            ok(memcmp(elem_frame + 9, w, EL) == 0, "Elements frame elem k4");
            mpz_clear(x);
        }

        /* the worked example: local {k1,k2}, remote {k1,k3,k4} */
        {
            sv_t L, R;
            uint8_t A[HKP_RECON_MBAR + 1][EL], B[HKP_RECON_MBAR + 1][EL];
            int adeg, bdeg, fok = 1, r;
            const uint8_t loc[2][HKP_HASH_LEN], rem[3][HKP_HASH_LEN];
            hkp_hash_t *ro, *lo;
            size_t nro, nlo;
            mpz_t x, y;

            memcpy((void *) loc[0], k[1].hash, HKP_HASH_LEN);
            memcpy((void *) loc[1], k[2].hash, HKP_HASH_LEN);
            memcpy((void *) rem[0], k[1].hash, HKP_HASH_LEN);
            memcpy((void *) rem[1], k[3].hash, HKP_HASH_LEN);
            memcpy((void *) rem[2], k[4].hash, HKP_HASH_LEN);
            hkp_zp_svalues_of(L, loc, 2);
            hkp_zp_svalues_of(R, rem, 3);
            mpz_init(x);
            mpz_init(y);
            ok(nf == NS, "f values present");
            for (unsigned i = 0; i < NS; i++) {
                hkp_zp_from_wire(x, R[i]);
                hkp_zp_from_wire(y, L[i]);
                mpz_invert(y, y, *hkp_zp_p());
                mpz_mul(x, x, y);
                mpz_mod(x, x, *hkp_zp_p());
                fok &= dec_eq(x, fdec[i]);
            }
            ok(fok, "f_i = R_i / L_i (6 values)");
            r = hkp_recon_interpolate((const uint8_t (*)[EL]) R, 3,
                (const uint8_t (*)[EL]) L, 2, A, &adeg, B, &bdeg);
            ok(r == 0, "interpolation succeeds");
            ok(adeg == 2 && bdeg == 1 && na == 3 && nb == 2,
                "deg A = 2, deg B = 1");
            fok = 1;
            for (int i = 0; r == 0 && i < na && i <= adeg; i++) {
                char *d = wire_dec(A[i]);
                fok &= strcmp(d, acoef[i]) == 0;
                free(d);
            }
            for (int i = 0; r == 0 && i < nb && i <= bdeg; i++) {
                char *d = wire_dec(B[i]);
                fok &= strcmp(d, bcoef[i]) == 0;
                free(d);
            }
            ok(fok, "A and B coefficients");
            r = hkp_recon_solve((const uint8_t (*)[EL]) R, 3,
                (const uint8_t (*)[EL]) L, 2, &ro, &nro, &lo, &nlo);
            ok(r == 0, "solve succeeds");
            if (r == 0 && ok(nro == (size_t) nra && nlo == (size_t) nrb
                    && nra == 2 && nrb == 1, "2 remote-only, 1 local-only"))
            {
                char hx[33];
                int rok = 1;
                for (size_t i = 0; i < nro; i++) {
                    hkp_hex(ro[i], 16, hx);
                    rok &= strcmp(hx, rootsA[i]) == 0;
                }
                ok(rok, "remote-only = k3, k4");
                hkp_hex(lo[0], 16, hx);
                is_str(hx, rootsB[0], "local-only = k2");
            }
            if (r == 0) {
                free(ro);
                free(lo);
            }
            /* the same from the other side */
            r = hkp_recon_solve((const uint8_t (*)[EL]) L, 2,
                (const uint8_t (*)[EL]) R, 3, &ro, &nro, &lo, &nlo);
            ok(r == 0 && nro == 1 && nlo == 2
                && memcmp(ro[0], k[2].hash, HKP_HASH_LEN) == 0,
                "swapped roles: remote-only = k2");
            if (r == 0) {
                free(ro);
                free(lo);
            }
            mpz_clear(x);
            mpz_clear(y);
        }
    }
}

/* ------------------------------------------------------------------ */
/* edge cases of the field code                                         */

static void
test_edges(void)
{
    uint8_t w[EL], h[HKP_HASH_LEN];
    sv_t sv;
    mpz_t x;

    mpz_init(x);
    hkp_zp_to_wire(*hkp_zp_p(), w);
    ok(hkp_zp_from_wire(x, w) == -1, "from_wire(p) = -1");
    mpz_sub_ui(x, *hkp_zp_p(), 1);
    hkp_zp_to_wire(x, w);
    ok(hkp_zp_from_wire(x, w) == 0, "from_wire(p - 1) = 0");
    memset(w, 0xFF, EL);
    ok(hkp_zp_from_wire(x, w) == -1, "from_wire(2^136 - 1) = -1");
    memset(w, 0, EL);
    ok(hkp_zp_from_wire(x, w) == 0 && mpz_sgn(x) == 0, "from_wire(0) = 0");

    for (int v = 0; v < 4; v++) {
        memset(h, 0, 16);
        h[0] = (uint8_t) v;
        hkp_zp_svalues_empty(sv);
        ok(hkp_zp_svalues_update(sv, h, 1) == (v <= 2 ? -1 : 0),
            "svalues_update(hash = %d) %s", v, v <= 2 ? "refused (sample "
            "point)" : "accepted");
        ok(hkp_ptree_is_sample(h) == (v <= 2), "is_sample(%d)", v);
    }
    memset(h, 0, 16);
    h[15] = 1;
    ok(!hkp_ptree_is_sample(h), "is_sample(2^120) = 0");

    /* bad input to solve */
    {
        sv_t a, b;
        hkp_hash_t *ro, *lo;
        size_t nro, nlo;
        hkp_zp_svalues_empty(a);
        hkp_zp_svalues_empty(b);
        hkp_zp_to_wire(*hkp_zp_p(), a[3]);
        ok(hkp_recon_solve((const uint8_t (*)[EL]) a, 0,
            (const uint8_t (*)[EL]) b, 0, &ro, &nro, &lo, &nlo) == -1,
            "solve: value >= p is bad input (-1)");
        hkp_zp_svalues_empty(a);
        ok(hkp_recon_solve((const uint8_t (*)[EL]) a, 0,
            (const uint8_t (*)[EL]) b, 0, &ro, &nro, &lo, &nlo) == 0
            && nro == 0 && nlo == 0, "solve: two empty sets");
        ok(hkp_recon_solve((const uint8_t (*)[EL]) a, 6,
            (const uint8_t (*)[EL]) b, 0, &ro, &nro, &lo, &nlo) == 1,
            "solve: |d| = 6 > mbar fails (1)");
        memset(b[2], 0, EL);
        ok(hkp_recon_solve((const uint8_t (*)[EL]) a, 0,
            (const uint8_t (*)[EL]) b, 0, &ro, &nro, &lo, &nlo) == 1,
            "solve: local svalue 0 fails (1)");
    }
    mpz_clear(x);
}

/* The fast (Montgomery) paths against plain GMP on random sets. */
static void
test_arith(void)
{
    int ok1 = 1, ok2 = 1, ok3 = 1;
    hkp_hash_t *h = malloc(80 * HKP_HASH_LEN);

    for (int trial = 0; trial < 200; trial++) {
        size_t n = (size_t) (rnd64() % 80);
        sv_t a, b, c;
        for (size_t i = 0; i < n; i++)
            rnd_hash(h[i]);
        if (trial % 7 == 0 && n > 0) {
            memset(h[0], 0xFF, 16);     /* the largest hash */
            if (n > 1) {
                memset(h[1], 0, 16);
                h[1][0] = 3;            /* the smallest allowed */
            }
        }
        hkp_zp_svalues_of(a, (const hkp_hash_t *) h, n);
        ref_svalues(b, (const hkp_hash_t *) h, n);
        if (memcmp(a, b, sizeof(a)) != 0)
            ok1 = 0;
        hkp_zp_svalues_empty(c);
        for (size_t i = 0; i < n; i++)
            hkp_zp_svalues_update(c, h[i], 1);
        if (memcmp(c, b, sizeof(c)) != 0)
            ok2 = 0;
        for (size_t i = 0; i < n; i++)
            hkp_zp_svalues_update(c, h[n - 1 - i], 0);
        hkp_zp_svalues_empty(a);
        if (memcmp(c, a, sizeof(c)) != 0)
            ok3 = 0;
    }
    ok(ok1, "svalues_of = GMP reference (200 random sets)");
    ok(ok2, "incremental svalues = GMP reference");
    ok(ok3, "removing every element restores the empty svalues");
    free(h);
}

/* ------------------------------------------------------------------ */
/* randomized reconciliation                                            */

typedef struct {
    hkp_hash_t *a;
    size_t n;
} set_t;

/* Runs one trial: common part of size c, a elements only remote, b only
 * local. Returns 0 solved correctly, 1 solver said "cannot", 2 wrong. */
static int
trial(size_t c, size_t a, size_t b)
{
    size_t nr = c + a, nl = c + b;
    hkp_hash_t *r = malloc((nr + 1) * HKP_HASH_LEN), *l = malloc((nl + 1) * HKP_HASH_LEN);
    hkp_hash_t *ro, *lo;
    size_t nro, nlo;
    sv_t rsv, lsv;
    int res;

    for (size_t i = 0; i < c; i++) {
        rnd_hash(r[i]);
        memcpy(l[i], r[i], HKP_HASH_LEN);
    }
    for (size_t i = 0; i < a; i++)
        rnd_hash(r[c + i]);
    for (size_t i = 0; i < b; i++)
        rnd_hash(l[c + i]);
    hkp_zp_svalues_of(rsv, (const hkp_hash_t *) r, nr);
    hkp_zp_svalues_of(lsv, (const hkp_hash_t *) l, nl);
    res = hkp_recon_solve((const uint8_t (*)[EL]) rsv, (uint32_t) nr,
        (const uint8_t (*)[EL]) lsv, (uint32_t) nl, &ro, &nro, &lo, &nlo);
    if (res == 0) {
        qsort(r + c, a, HKP_HASH_LEN, cmp16);
        qsort(l + c, b, HKP_HASH_LEN, cmp16);
        if (nro != a || nlo != b
            || (a > 0 && memcmp(ro, r + c, a * 16) != 0)
            || (b > 0 && memcmp(lo, l + c, b * 16) != 0))
            res = 2;
        free(ro);
        free(lo);
    } else if (res != 1)
        res = 2;
    free(r);
    free(l);
    return res;
}

static void
test_random(int trials)
{
    const int m = HKP_RECON_MBAR;
    int within_bad = 0, within_n = 0, beyond_wrong = 0, beyond_solved = 0;
    int beyond_n = 0;

    for (int a = 0; a <= 12; a++) {
        for (int b = 0; b <= 12; b++) {
            int d = a - b, t = a + b;
            int M = ((m + d) & 1) ? m - 1 : m;
            int cap = (d <= m && d >= -m && t <= M);
            if (t > 12)
                continue;
            for (int i = 0; i < trials; i++) {
                size_t c = (size_t) (rnd64() % 4 == 0 ? 0 : rnd64() % 400);
                int r = trial(c, (size_t) a, (size_t) b);
                if (cap) {
                    within_n++;
                    if (r != 0) {
                        within_bad++;
                        if (within_bad < 5)
                            diag("within capacity a=%d b=%d c=%zu: %s", a, b,
                                c, r == 1 ? "not solved" : "WRONG");
                    }
                } else {
                    beyond_n++;
                    if (r == 2) {
                        beyond_wrong++;
                        diag("beyond capacity a=%d b=%d c=%zu: WRONG", a, b,
                            c);
                    } else if (r == 0)
                        beyond_solved++;
                }
            }
        }
    }
    ok(within_bad == 0, "within capacity (|d| <= 5, total <= M): %d trials "
        "all recovered exactly (%d failures)", within_n, within_bad);
    ok(beyond_wrong == 0 && beyond_solved == 0, "beyond capacity: %d trials "
        "all refused (wrong %d, solved %d)", beyond_n, beyond_wrong,
        beyond_solved);
}

int
main(void)
{
    const char *e = getenv("HKP_TEST_DATA");
    const char *t = getenv("HKP_ZP_TRIALS");
    int trials = t != NULL ? atoi(t) : 25;

    rng_state = 0x9E3779B97F4A7C15ULL;
    if (e != NULL && *e != '\0')
        datadir = e;
    if (trials < 1)
        trials = 1;
    hkp_zp_init();
    test_vectors();
    test_edges();
    test_arith();
    test_random(trials);
    return tap_done();
}
