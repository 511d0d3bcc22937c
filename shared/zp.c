/*
 * Arithmetic in Z/pZ for SKS recon (see zp.h), on GMP.
 */
#include <pthread.h>
#include <string.h>

#include "zp.h"

#define P_DEC  "530512889551602322505127520352579437339"

static mpz_t           zp_p;
static mpz_t           zp_points[HKP_RECON_NSAMPLES];
static pthread_once_t  zp_once = PTHREAD_ONCE_INIT;

/*
 * Fast fixed-width arithmetic for the hot paths (tree updates): elements
 * as 3 little-endian 64-bit limbs, Montgomery multiplication with
 * R = 2^192. mont(a, b) = a b / R mod p, so multiplying a plain value by a
 * factor kept as f R mod p gives the plain product a f mod p directly.
 */
typedef unsigned __int128 u128;
typedef struct { uint64_t l[3]; } fe_t;

static fe_t      zp_pl;           /* p */
static fe_t      zp_r2;           /* R^2 mod p */
static uint64_t  zp_pinv;         /* -1 / p mod 2^64 */
static fe_t      zp_kl[HKP_RECON_NSAMPLES];   /* the points */

static void
fe_from_mpz(fe_t *r, const mpz_t x)
{
    uint8_t w[24] = { 0 };
    size_t n = 0;
    mpz_export(w, &n, -1, 1, 0, 0, x);
    for (int i = 0; i < 3; i++) {
        uint64_t v = 0;
        for (int j = 7; j >= 0; j--)
            v = (v << 8) | w[i * 8 + j];
        r->l[i] = v;
    }
}

static void
fe_from_wire(fe_t *r, const uint8_t in[HKP_ELEM_LEN])
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(r->l, in, HKP_HASH_LEN);
    r->l[2] = in[HKP_HASH_LEN];    /* the top byte */
    return;
#endif
    uint64_t v0 = 0, v1 = 0;
    for (int j = 7; j >= 0; j--) {
        v0 = (v0 << 8) | in[j];
        v1 = (v1 << 8) | in[8 + j];
    }
    r->l[0] = v0;
    r->l[1] = v1;
    r->l[2] = in[HKP_HASH_LEN];    /* the top byte */
}

static void
fe_from_hash(fe_t *r, const uint8_t h[HKP_HASH_LEN])
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(r->l, h, HKP_HASH_LEN);
    r->l[2] = 0;
    return;
#endif
    uint64_t v0 = 0, v1 = 0;
    for (int j = 7; j >= 0; j--) {
        v0 = (v0 << 8) | h[j];
        v1 = (v1 << 8) | h[8 + j];
    }
    r->l[0] = v0;
    r->l[1] = v1;
    r->l[2] = 0;
}

static void
fe_to_wire(const fe_t *a, uint8_t out[HKP_ELEM_LEN])
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(out, a->l, HKP_HASH_LEN);
    out[HKP_HASH_LEN] = (uint8_t) a->l[2];
    return;
#endif
    for (int j = 0; j < 8; j++) {
        out[j] = (uint8_t) (a->l[0] >> (8 * j));
        out[8 + j] = (uint8_t) (a->l[1] >> (8 * j));
    }
    out[HKP_HASH_LEN] = (uint8_t) a->l[2];
}

/* a >= b */
static int
fe_ge(const fe_t *a, const fe_t *b)
{
    for (int i = 2; i >= 0; i--)
        if (a->l[i] != b->l[i])
            return a->l[i] > b->l[i];
    return 1;
}

/* r = a - b (no borrow out expected) */
static void
fe_sub_raw(fe_t *r, const fe_t *a, const fe_t *b)
{
    u128 t;
    uint64_t borrow = 0;
    for (int i = 0; i < 3; i++) {
        t = (u128) a->l[i] - b->l[i] - borrow;
        r->l[i] = (uint64_t) t;
        borrow = (uint64_t) (t >> 64) & 1;
    }
}

/* r = a - b mod p, a and b < p */
static void
fe_submod(fe_t *r, const fe_t *a, const fe_t *b)
{
    if (fe_ge(a, b))
        fe_sub_raw(r, a, b);
    else {
        fe_t t;
        fe_sub_raw(&t, &zp_pl, b);          /* p - b > 0 */
        u128 c = 0;
        for (int i = 0; i < 3; i++) {
            c = (u128) a->l[i] + t.l[i] + (uint64_t) (c >> 64);
            r->l[i] = (uint64_t) c;
        }
    }
}

/* r = a b / R mod p (CIOS), a, b < p. r may alias a or b. */
static void
fe_mont(fe_t *r, const fe_t *a, const fe_t *b)
{
    uint64_t t[5] = { 0, 0, 0, 0, 0 };
    for (int i = 0; i < 3; i++) {
        u128 c = 0;
        for (int j = 0; j < 3; j++) {
            c = (u128) a->l[i] * b->l[j] + t[j] + (uint64_t) (c >> 64);
            t[j] = (uint64_t) c;
        }
        c = (u128) t[3] + (uint64_t) (c >> 64);
        t[3] = (uint64_t) c;
        t[4] = (uint64_t) (c >> 64);

        uint64_t m = t[0] * zp_pinv;
        c = (u128) m * zp_pl.l[0] + t[0];
        for (int j = 1; j < 3; j++) {
            c = (u128) m * zp_pl.l[j] + t[j] + (uint64_t) (c >> 64);
            t[j - 1] = (uint64_t) c;
        }
        c = (u128) t[3] + (uint64_t) (c >> 64);
        t[2] = (uint64_t) c;
        t[3] = t[4] + (uint64_t) (c >> 64);
        t[4] = 0;
    }
    fe_t res = { { t[0], t[1], t[2] } };
    if (t[3] != 0 || fe_ge(&res, &zp_pl))
        fe_sub_raw(&res, &res, &zp_pl);
    *r = res;
}

/* r = a b mod p */
static void
fe_mulmod(fe_t *r, const fe_t *a, const fe_t *b)
{
    fe_mont(r, a, b);
    fe_mont(r, r, &zp_r2);
}

/* f R mod p (Montgomery form) of a plain value */
static void
fe_to_mont(fe_t *r, const fe_t *a)
{
    fe_mont(r, a, &zp_r2);
}

static void
zp_init_once(void)
{
    mpz_init_set_str(zp_p, P_DEC, 10);
    /* k_i = ceil(i/2) * (+1 for even i, -1 for odd i), mod p:
     * [0, -1, 1, -2, 2, -3] for mbar 5 (doc/recon.md 2.2). */
    for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++) {
        long v = (long) ((i + 1) / 2);
        mpz_init_set_si(zp_points[i], (i & 1) ? -v : v);
        mpz_mod(zp_points[i], zp_points[i], zp_p);
    }
    {
        mpz_t r;
        uint64_t p0, inv;
        mpz_init(r);
        fe_from_mpz(&zp_pl, zp_p);
        mpz_setbit(r, 384);
        mpz_mod(r, r, zp_p);
        fe_from_mpz(&zp_r2, r);
        mpz_clear(r);
        /* Newton: inv = 1/p0 mod 2^64, then negate. */
        p0 = zp_pl.l[0];
        inv = 1;
        for (int i = 0; i < 7; i++)
            inv *= 2 - p0 * inv;
        zp_pinv = (uint64_t) 0 - inv;
        for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++)
            fe_from_mpz(&zp_kl[i], zp_points[i]);
    }
}

void
hkp_zp_init(void)
{
    pthread_once(&zp_once, zp_init_once);
}

const mpz_t *
hkp_zp_p(void)
{
    hkp_zp_init();
    return (const mpz_t *) &zp_p;
}

const mpz_t *
hkp_zp_point(unsigned i)
{
    hkp_zp_init();
    if (i >= HKP_RECON_NSAMPLES)
        return NULL;
    return (const mpz_t *) &zp_points[i];
}

void
hkp_zp_from_hash(mpz_t out, const uint8_t hash[HKP_HASH_LEN])
{
    mpz_import(out, HKP_HASH_LEN, -1, 1, 0, 0, hash);
}

void
hkp_zp_to_wire(const mpz_t x, uint8_t out[HKP_ELEM_LEN])
{
    size_t n = 0;

    memset(out, 0, HKP_ELEM_LEN);
    if (mpz_sgn(x) == 0)
        return;
    if (mpz_sizeinbase(x, 256) > HKP_ELEM_LEN) {
        /* Not a reduced field value; only the low bytes fit. */
        mpz_t t;
        mpz_init(t);
        mpz_fdiv_r_2exp(t, x, 8 * HKP_ELEM_LEN);
        mpz_export(out, &n, -1, 1, 0, 0, t);
        mpz_clear(t);
        return;
    }
    mpz_export(out, &n, -1, 1, 0, 0, x);
}

int
hkp_zp_from_wire(mpz_t out, const uint8_t in[HKP_ELEM_LEN])
{
    hkp_zp_init();
    mpz_import(out, HKP_ELEM_LEN, -1, 1, 0, 0, in);
    return mpz_cmp(out, zp_p) >= 0 ? -1 : 0;
}

int
hkp_zp_is_hash(const mpz_t x)
{
    return mpz_sgn(x) >= 0 && mpz_sizeinbase(x, 2) <= 128;
}

void
hkp_zp_to_hash(const mpz_t x, uint8_t out[HKP_HASH_LEN])
{
    uint8_t w[HKP_ELEM_LEN];
    hkp_zp_to_wire(x, w);
    memcpy(out, w, HKP_HASH_LEN);
}

void
hkp_zp_svalues_empty(uint8_t sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN])
{
    memset(sv, 0, HKP_RECON_NSAMPLES * HKP_ELEM_LEN);
    for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++)
        sv[i][0] = 1;
}

void
hkp_zp_factors_init(hkp_zp_factors_t *f)
{
    hkp_zp_init();
    memset(f->fm, 0, sizeof(f->fm));
    mpz_init(f->t);
}

void
hkp_zp_factors_clear(hkp_zp_factors_t *f)
{
    mpz_clear(f->t);
}

int
hkp_zp_factors_set(hkp_zp_factors_t *f, const uint8_t hash[HKP_HASH_LEN],
    int add)
{
    fe_t x, d, m;

    hkp_zp_init();
    fe_from_hash(&x, hash);
    if (fe_ge(&x, &zp_pl))
        return -1;                      /* cannot happen: x < 2^128 */
    for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++) {
        fe_submod(&d, &zp_kl[i], &x);
        if ((d.l[0] | d.l[1] | d.l[2]) == 0)
            return -1;                  /* x is a sample point */
        if (!add) {
            uint8_t w[HKP_ELEM_LEN];
            fe_to_wire(&d, w);
            mpz_import(f->t, HKP_ELEM_LEN, -1, 1, 0, 0, w);
            if (mpz_invert(f->t, f->t, zp_p) == 0)
                return -1;
            fe_from_mpz(&d, f->t);
        }
        fe_to_mont(&m, &d);
        memcpy(f->fm[i], m.l, sizeof(m.l));
    }
    return 0;
}

void
hkp_zp_factors_apply(hkp_zp_factors_t *f,
    uint8_t sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN])
{
    for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++) {
        fe_t a, b;
        fe_from_wire(&a, sv[i]);
        memcpy(b.l, f->fm[i], sizeof(b.l));
        if (fe_ge(&a, &zp_pl))          /* not reduced: reduce first */
            fe_sub_raw(&a, &a, &zp_pl);
        fe_mont(&a, &a, &b);            /* a f R / R = a f */
        fe_to_wire(&a, sv[i]);
    }
}

int
hkp_zp_svalues_update(uint8_t sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN],
    const uint8_t hash[HKP_HASH_LEN], int add)
{
    hkp_zp_factors_t f;
    int r;

    hkp_zp_factors_init(&f);
    r = hkp_zp_factors_set(&f, hash, add);
    if (r == 0)
        hkp_zp_factors_apply(&f, sv);
    hkp_zp_factors_clear(&f);
    return r;
}

int
hkp_zp_svalues_of(uint8_t sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN],
    const hkp_hash_t *hashes, size_t n)
{
    fe_t acc[HKP_RECON_NSAMPLES], x, d;
    int ret = 0;

    hkp_zp_init();
    /* acc in Montgomery form: starts at R mod p (= mont(1, R^2)). */
    for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++) {
        fe_t one = { { 1, 0, 0 } };
        fe_to_mont(&acc[i], &one);
    }
    for (size_t j = 0; j < n; j++) {
        fe_from_hash(&x, hashes[j]);
        for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++) {
            fe_submod(&d, &zp_kl[i], &x);
            if ((d.l[0] | d.l[1] | d.l[2]) == 0)
                ret = -1;
            fe_to_mont(&d, &d);                 /* d R */
            fe_mont(&acc[i], &acc[i], &d);      /* (aR) (dR) / R = (ad) R */
        }
    }
    for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++) {
        fe_t one = { { 1, 0, 0 } };
        fe_mont(&acc[i], &acc[i], &one);        /* out of Montgomery form */
        fe_to_wire(&acc[i], sv[i]);
    }
    return ret;
}

void
hkp_zp_svalues_mul(uint8_t dst[HKP_RECON_NSAMPLES][HKP_ELEM_LEN],
    const uint8_t src[HKP_RECON_NSAMPLES][HKP_ELEM_LEN])
{
    hkp_zp_init();
    for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++) {
        fe_t a, b;
        fe_from_wire(&a, dst[i]);
        fe_from_wire(&b, src[i]);
        if (fe_ge(&a, &zp_pl))
            fe_sub_raw(&a, &a, &zp_pl);
        if (fe_ge(&b, &zp_pl))
            fe_sub_raw(&b, &b, &zp_pl);
        fe_mulmod(&a, &a, &b);
        fe_to_wire(&a, dst[i]);
    }
}
