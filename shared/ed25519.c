/*
 * Ed25519 verification (ed25519.h), written from RFC 8032 and the curve's
 * arithmetic. p = 2^255 - 19; a field element is five 51-bit limbs,
 * value sum v[i] 2^(51 i), kept below 2^52 per limb between operations
 * ("carried"). The curve is -x^2 + y^2 = 1 + d x^2 y^2; points are
 * extended coordinates (X:Y:Z:T) with x = X/Z, y = Y/Z, xy = T/Z.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "digest.h"
#include "ed25519.h"
#include "openpgp.h"

typedef unsigned __int128 u128;

#define MASK51  ((((uint64_t) 1) << 51) - 1)

/* wNAF window widths: the public key's (odd multiples made per
 * verification) and the base point's (made once). */
#define W_A     5
#define W_B     8
#define NA      (1 << (W_A - 2))     /* A, 3A, ..., (2^(W_A-1) - 1) A */
#define NB      (1 << (W_B - 2))
/* Digits of a wNAF of a scalar below 2^256. */
#define NAF_LEN 257

typedef struct { uint64_t v[5]; } fe_t;
typedef struct { fe_t X, Y, Z, T; } pt_t;
/* A point ready to add: Y+X, Y-X, 2Z, 2dT; z1 when Z = 1. */
typedef struct { fe_t ypx, ymx, z2, t2d; int z1; } cpt_t;

/* ------------------------------------------------------------------ */
/* The field                                                            */

static uint64_t
load64(const uint8_t *s)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | s[i];
    return v;
}

/* The 255 low bits of s (little-endian), not reduced. */
static void
fe_frombytes(fe_t *h, const uint8_t s[32])
{
    h->v[0] = load64(s) & MASK51;
    h->v[1] = (load64(s + 6) >> 3) & MASK51;
    h->v[2] = (load64(s + 12) >> 6) & MASK51;
    h->v[3] = (load64(s + 19) >> 1) & MASK51;
    h->v[4] = (load64(s + 24) >> 12) & MASK51;
}

/* Limbs back below 2^51 (plus a little in v[0]). */
static inline __attribute__((always_inline)) void
fe_carry(fe_t *h)
{
    uint64_t c;
    for (int i = 0; i < 4; i++) {
        c = h->v[i] >> 51;
        h->v[i] &= MASK51;
        h->v[i + 1] += c;
    }
    c = h->v[4] >> 51;
    h->v[4] &= MASK51;
    h->v[0] += 19 * c;
    c = h->v[0] >> 51;
    h->v[0] &= MASK51;
    h->v[1] += c;
}

/* The canonical encoding (the value mod p, below p). */
static void
fe_tobytes(uint8_t s[32], const fe_t *f)
{
    fe_t     h = *f;
    uint64_t q;

    fe_carry(&h);
    fe_carry(&h);
    /* h < 2^255 + small: q = 1 exactly when h >= p */
    q = (h.v[0] + 19) >> 51;
    for (int i = 1; i < 5; i++)
        q = (h.v[i] + q) >> 51;
    h.v[0] += 19 * q;
    for (int i = 0; i < 4; i++) {
        h.v[i + 1] += h.v[i] >> 51;
        h.v[i] &= MASK51;
    }
    h.v[4] &= MASK51;
    {
        uint64_t w[4] = {
            h.v[0] | h.v[1] << 51, h.v[1] >> 13 | h.v[2] << 38,
            h.v[2] >> 26 | h.v[3] << 25, h.v[3] >> 39 | h.v[4] << 12
        };
        for (int i = 0; i < 4; i++)
            for (int b = 0; b < 8; b++)
                s[8 * i + b] = (uint8_t) (w[i] >> (8 * b));
    }
}

static void
fe_add(fe_t *h, const fe_t *f, const fe_t *g)
{
    for (int i = 0; i < 5; i++)
        h->v[i] = f->v[i] + g->v[i];
    fe_carry(h);
}

/* f - g + 4p (limbs of g below 2^53) */
static void
fe_sub(fe_t *h, const fe_t *f, const fe_t *g)
{
    static const uint64_t four_p[5] = {
        (MASK51 - 18) * 4, MASK51 * 4, MASK51 * 4, MASK51 * 4, MASK51 * 4
    };
    for (int i = 0; i < 5; i++)
        h->v[i] = f->v[i] + four_p[i] - g->v[i];
    fe_carry(h);
}

/* The five column sums of a product (each below 2^115) carried into h;
 * the carry out of the top limb wraps around times 19 (2^255 = 19). */
static inline __attribute__((always_inline)) void
fe_reduce(fe_t *h, u128 r[5])
{
    uint64_t c;

    r[1] += (uint64_t) (r[0] >> 51);
    h->v[0] = (uint64_t) r[0] & MASK51;
    r[2] += (uint64_t) (r[1] >> 51);
    h->v[1] = (uint64_t) r[1] & MASK51;
    r[3] += (uint64_t) (r[2] >> 51);
    h->v[2] = (uint64_t) r[2] & MASK51;
    r[4] += (uint64_t) (r[3] >> 51);
    h->v[3] = (uint64_t) r[3] & MASK51;
    c = (uint64_t) (r[4] >> 51);
    h->v[4] = (uint64_t) r[4] & MASK51;
    h->v[0] += 19 * c;
    h->v[1] += h->v[0] >> 51;
    h->v[0] &= MASK51;
}

static inline __attribute__((always_inline)) void
fe_mul(fe_t *h, const fe_t *f, const fe_t *g)
{
    const uint64_t *a = f->v, *b = g->v;
    uint64_t b1 = 19 * b[1], b2 = 19 * b[2], b3 = 19 * b[3], b4 = 19 * b[4];
    u128 r[5];

    r[0] = (u128) a[0] * b[0] + (u128) a[1] * b4 + (u128) a[2] * b3
        + (u128) a[3] * b2 + (u128) a[4] * b1;
    r[1] = (u128) a[0] * b[1] + (u128) a[1] * b[0] + (u128) a[2] * b4
        + (u128) a[3] * b3 + (u128) a[4] * b2;
    r[2] = (u128) a[0] * b[2] + (u128) a[1] * b[1] + (u128) a[2] * b[0]
        + (u128) a[3] * b4 + (u128) a[4] * b3;
    r[3] = (u128) a[0] * b[3] + (u128) a[1] * b[2] + (u128) a[2] * b[1]
        + (u128) a[3] * b[0] + (u128) a[4] * b4;
    r[4] = (u128) a[0] * b[4] + (u128) a[1] * b[3] + (u128) a[2] * b[2]
        + (u128) a[3] * b[1] + (u128) a[4] * b[0];
    fe_reduce(h, r);
}

/* f^2: the products of fe_mul with the equal pairs taken once, doubled */
static inline __attribute__((always_inline)) void
fe_sq(fe_t *h, const fe_t *f)
{
    const uint64_t *a = f->v;
    uint64_t d0 = 2 * a[0], d1 = 2 * a[1], d2 = 2 * a[2], d3 = 2 * a[3];
    uint64_t a3_19 = 19 * a[3], a4_19 = 19 * a[4];
    u128 r[5];

    r[0] = (u128) a[0] * a[0] + (u128) d1 * a4_19 + (u128) d2 * a3_19;
    r[1] = (u128) d0 * a[1] + (u128) d2 * a4_19 + (u128) a[3] * a3_19;
    r[2] = (u128) d0 * a[2] + (u128) a[1] * a[1] + (u128) d3 * a4_19;
    r[3] = (u128) d0 * a[3] + (u128) d1 * a[2] + (u128) a[4] * a4_19;
    r[4] = (u128) d0 * a[4] + (u128) d1 * a[3] + (u128) a[2] * a[2];
    fe_reduce(h, r);
}

/* f^(2^k) */
static void
fe_sqn(fe_t *h, const fe_t *f, int k)
{
    fe_sq(h, f);
    while (--k > 0)
        fe_sq(h, h);
}

/* z^(2^250 - 1) into *r, z^11 into *z11 */
static void
fe_pow250(fe_t *r, fe_t *z11, const fe_t *z)
{
    fe_t z2, z9, t, a5, a10, a20, a50, a100;

    fe_sq(&z2, z);
    fe_sqn(&t, &z2, 2);             /* z^8 */
    fe_mul(&z9, &t, z);
    fe_mul(z11, &z9, &z2);
    fe_sq(&t, z11);                 /* z^22 */
    fe_mul(&a5, &t, &z9);           /* z^(2^5 - 1) */
    fe_sqn(&t, &a5, 5);
    fe_mul(&a10, &t, &a5);          /* 2^10 - 1 */
    fe_sqn(&t, &a10, 10);
    fe_mul(&a20, &t, &a10);
    fe_sqn(&t, &a20, 20);
    fe_mul(&t, &t, &a20);           /* 2^40 - 1 */
    fe_sqn(&t, &t, 10);
    fe_mul(&a50, &t, &a10);
    fe_sqn(&t, &a50, 50);
    fe_mul(&a100, &t, &a50);
    fe_sqn(&t, &a100, 100);
    fe_mul(&t, &t, &a100);          /* 2^200 - 1 */
    fe_sqn(&t, &t, 50);
    fe_mul(r, &t, &a50);            /* 2^250 - 1 */
}

/* z^(p - 2) = z^(2^255 - 21): 1/z */
static void
fe_invert(fe_t *h, const fe_t *z)
{
    fe_t t, z11;

    fe_pow250(&t, &z11, z);
    fe_sqn(&t, &t, 5);
    fe_mul(h, &t, &z11);
}

/* z^((p - 5) / 8) = z^(2^252 - 3) */
static void
fe_pow22523(fe_t *h, const fe_t *z)
{
    fe_t t, z11;

    fe_pow250(&t, &z11, z);
    fe_sqn(&t, &t, 2);
    fe_mul(h, &t, z);
}

static int
fe_iszero(const fe_t *f)
{
    uint8_t s[32], acc = 0;
    fe_tobytes(s, f);
    for (int i = 0; i < 32; i++)
        acc |= s[i];
    return acc == 0;
}

static int
fe_isneg(const fe_t *f)
{
    uint8_t s[32];
    fe_tobytes(s, f);
    return s[0] & 1;
}

static const fe_t fe_zero = { { 0, 0, 0, 0, 0 } };
static const fe_t fe_one = { { 1, 0, 0, 0, 0 } };

/* ------------------------------------------------------------------ */
/* Constants (little-endian encodings; t/unit/test_ed25519.c checks     */
/* d * 121666 = -121665, sqrtm1^2 = -1, and B's order)                  */

/* d = -121665 / 121666 */
static const uint8_t d_bytes[32] = {
    0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75, 0xab, 0xd8, 0x41, 0x41,
    0x4d, 0x0a, 0x70, 0x00, 0x98, 0xe8, 0x79, 0x77, 0x79, 0x40, 0xc7, 0x8c,
    0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52
};
/* sqrt(-1) = 2^((p - 1) / 4) */
static const uint8_t sqrtm1_bytes[32] = {
    0xb0, 0xa0, 0x0e, 0x4a, 0x27, 0x1b, 0xee, 0xc4, 0x78, 0xe4, 0x2f, 0xad,
    0x06, 0x18, 0x43, 0x2f, 0xa7, 0xd7, 0xfb, 0x3d, 0x99, 0x00, 0x4d, 0x2b,
    0x0b, 0xdf, 0xc1, 0x4f, 0x80, 0x24, 0x83, 0x2b
};
/* B: y = 4/5, x even (RFC 8032 section 5.1) */
static const uint8_t base_bytes[32] = {
    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66
};
/* L = 2^252 + 27742317777372353535851937790883648493, 64-bit limbs */
static const uint64_t L_limbs[4] = {
    0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL
};
/* floor(2^512 / L), for Barrett reduction */
static const uint64_t mu_limbs[5] = {
    0xed9ce5a30a2c131bULL, 0x2106215d086329a7ULL, 0xffffffffffffffebULL,
    0xffffffffffffffffULL, 0xf
};

static fe_t     fe_d, fe_d2, fe_sqrtm1;
static cpt_t    base_tab[NB];       /* B, 3B, ..., (2^(W_B-1) - 1) B */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* ------------------------------------------------------------------ */
/* Points                                                               */

static void
pt_identity(pt_t *p)
{
    p->X = fe_zero;
    p->Y = fe_one;
    p->Z = fe_one;
    p->T = fe_zero;
}

/* 2p (a = -1): A = X^2, B = Y^2, C = 2 Z^2, E = (X+Y)^2 - A - B,
 * G = B - A, F = G - C, H = -(A + B); X = E F, Y = G H, T = E H, Z = F G
 * (T only when want_t: doubling does not read it, adding does) */
static void
pt_dbl(pt_t *r, const pt_t *p, int want_t)
{
    fe_t a, b, c, e, f, g, h, t;

    fe_sq(&a, &p->X);
    fe_sq(&b, &p->Y);
    fe_sq(&c, &p->Z);
    fe_add(&c, &c, &c);
    fe_add(&t, &p->X, &p->Y);
    fe_sq(&e, &t);
    fe_add(&h, &a, &b);
    fe_sub(&e, &e, &h);
    fe_sub(&h, &fe_zero, &h);
    fe_sub(&g, &b, &a);
    fe_sub(&f, &g, &c);
    fe_mul(&r->X, &e, &f);
    fe_mul(&r->Y, &g, &h);
    if (want_t)
        fe_mul(&r->T, &e, &h);
    fe_mul(&r->Z, &f, &g);
}

/* p + q (neg: p - q): A = (Y1-X1)(Y2-X2), B = (Y1+X1)(Y2+X2),
 * C = T1 2d T2, D = Z1 2 Z2, E = B - A, F = D - C, G = D + C, H = B + A;
 * X = E F, Y = G H, T = E H, Z = F G. -q swaps Y+X, Y-X and negates T. */
static void
pt_add(pt_t *r, const pt_t *p, const cpt_t *q, int neg)
{
    fe_t a, b, c, d, e, f, g, h, t;

    fe_sub(&t, &p->Y, &p->X);
    fe_mul(&a, &t, neg ? &q->ypx : &q->ymx);
    fe_add(&t, &p->Y, &p->X);
    fe_mul(&b, &t, neg ? &q->ymx : &q->ypx);
    fe_mul(&c, &p->T, &q->t2d);
    if (q->z1)
        fe_add(&d, &p->Z, &p->Z);
    else
        fe_mul(&d, &p->Z, &q->z2);
    fe_sub(&e, &b, &a);
    fe_add(&h, &b, &a);
    if (neg) {
        fe_add(&f, &d, &c);
        fe_sub(&g, &d, &c);
    } else {
        fe_sub(&f, &d, &c);
        fe_add(&g, &d, &c);
    }
    fe_mul(&r->X, &e, &f);
    fe_mul(&r->Y, &g, &h);
    fe_mul(&r->T, &e, &h);
    fe_mul(&r->Z, &f, &g);
}

static void
pt_cache(cpt_t *c, const pt_t *p)
{
    fe_add(&c->ypx, &p->Y, &p->X);
    fe_sub(&c->ymx, &p->Y, &p->X);
    fe_add(&c->z2, &p->Z, &p->Z);
    fe_mul(&c->t2d, &p->T, &fe_d2);
    c->z1 = 0;
}

/* The same point with Z = 1 (fewer multiplications per add). */
static void
pt_normalize(pt_t *p)
{
    fe_t zi;

    fe_invert(&zi, &p->Z);
    fe_mul(&p->X, &p->X, &zi);
    fe_mul(&p->Y, &p->Y, &zi);
    fe_mul(&p->T, &p->T, &zi);
    p->Z = fe_one;
}

/* Decodes a point as OpenSSL and Go do (ed25519.h): 0, or -1 when no x
 * fits y. */
static int
pt_decode(pt_t *p, const uint8_t s[32])
{
    fe_t u, v, v3, vxx, chk, t;

    fe_frombytes(&p->Y, s);
    p->Z = fe_one;
    fe_sq(&u, &p->Y);
    fe_mul(&v, &u, &fe_d);
    fe_sub(&u, &u, &fe_one);            /* y^2 - 1 */
    fe_add(&v, &v, &fe_one);            /* d y^2 + 1 */
    fe_sq(&v3, &v);
    fe_mul(&v3, &v3, &v);               /* v^3 */
    fe_sq(&t, &v3);
    fe_mul(&t, &t, &v);
    fe_mul(&t, &t, &u);                 /* u v^7 */
    fe_pow22523(&t, &t);
    fe_mul(&t, &t, &v3);
    fe_mul(&p->X, &t, &u);              /* u v^3 (u v^7)^((p-5)/8) */
    fe_sq(&vxx, &p->X);
    fe_mul(&vxx, &vxx, &v);
    fe_sub(&chk, &vxx, &u);
    if (!fe_iszero(&chk)) {
        fe_add(&chk, &vxx, &u);
        if (!fe_iszero(&chk))
            return -1;
        fe_mul(&p->X, &p->X, &fe_sqrtm1);
    }
    if (fe_isneg(&p->X) != (s[31] >> 7))
        fe_sub(&p->X, &fe_zero, &p->X);
    fe_mul(&p->T, &p->X, &p->Y);
    return 0;
}

static void
pt_encode(uint8_t s[32], const pt_t *p)
{
    fe_t zi, x, y;

    fe_invert(&zi, &p->Z);
    fe_mul(&x, &p->X, &zi);
    fe_mul(&y, &p->Y, &zi);
    fe_tobytes(s, &y);
    s[31] |= (uint8_t) (fe_isneg(&x) << 7);
}

/* Odd multiples p, 3p, ..., (2n - 1) p into tab[0..n). */
static void
pt_odd_multiples(cpt_t *tab, const pt_t *p, size_t n)
{
    pt_t  cur = *p, p2;
    cpt_t c2;

    pt_dbl(&p2, p, 1);
    pt_cache(&c2, &p2);
    pt_cache(&tab[0], &cur);
    for (size_t i = 1; i < n; i++) {
        pt_add(&cur, &cur, &c2, 0);
        pt_cache(&tab[i], &cur);
    }
}

static void
init_tables(void)
{
    pt_t  b, m;

    fe_frombytes(&fe_d, d_bytes);
    fe_add(&fe_d2, &fe_d, &fe_d);
    fe_frombytes(&fe_sqrtm1, sqrtm1_bytes);
    (void) pt_decode(&b, base_bytes);
    /* odd multiples of B with Z = 1 */
    pt_dbl(&m, &b, 1);
    pt_normalize(&m);
    {
        cpt_t c2;
        pt_t  cur = b;
        pt_cache(&c2, &m);
        for (size_t i = 0; i < NB; i++) {
            if (i > 0)
                pt_add(&cur, &cur, &c2, 0);
            pt_normalize(&cur);
            pt_cache(&base_tab[i], &cur);
            base_tab[i].z1 = 1;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Scalars mod L                                                        */

/* x (64 little-endian bytes) mod L into out[32]: Barrett with b = 2^64. */
static void
sc_reduce512(uint8_t out[32], const uint8_t in[64])
{
    uint64_t x[8], q2[10], r[5], ql[5], borrow;

    for (int i = 0; i < 8; i++)
        x[i] = load64(in + 8 * i);
    /* q2 = floor(x / 2^192) * mu */
    memset(q2, 0, sizeof(q2));
    for (int i = 0; i < 5; i++) {
        u128 c = 0;
        for (int j = 0; j < 5; j++) {
            c += (u128) x[3 + i] * mu_limbs[j] + q2[i + j];
            q2[i + j] = (uint64_t) c;
            c >>= 64;
        }
        q2[i + 5] = (uint64_t) c;
    }
    /* q3 = q2 / 2^320 (q2[5..9]); ql = q3 * L mod 2^320 */
    memset(ql, 0, sizeof(ql));
    for (int i = 0; i < 5; i++) {
        u128 c = 0;
        for (int j = 0; i + j < 5; j++) {
            c += (u128) q2[5 + i] * (j < 4 ? L_limbs[j] : 0) + ql[i + j];
            ql[i + j] = (uint64_t) c;
            c >>= 64;
        }
    }
    /* r = x mod 2^320 - ql (mod 2^320), then below L */
    borrow = 0;
    for (int i = 0; i < 5; i++) {
        u128 d = (u128) x[i] - ql[i] - borrow;
        r[i] = (uint64_t) d;
        borrow = (uint64_t) (d >> 64) & 1;
    }
    for (;;) {
        uint64_t t[5];
        u128     d;
        borrow = 0;
        for (int i = 0; i < 5; i++) {
            d = (u128) r[i] - (i < 4 ? L_limbs[i] : 0) - borrow;
            t[i] = (uint64_t) d;
            borrow = (uint64_t) (d >> 64) & 1;
        }
        if (borrow)
            break;              /* r < L */
        memcpy(r, t, sizeof(r));
    }
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 8; b++)
            out[8 * i + b] = (uint8_t) (r[i] >> (8 * b));
}

/* s (32 little-endian bytes) < L */
static int
sc_canonical(const uint8_t s[32])
{
    for (int i = 3; i >= 0; i--) {
        uint64_t w = load64(s + 8 * i);
        if (w != L_limbs[i])
            return w < L_limbs[i];
    }
    return 0;                   /* s == L */
}

/* Width-w NAF of a 256-bit scalar: naf[i] odd or 0, |naf[i]| < 2^(w-1),
 * sum naf[i] 2^i = the scalar. */
static void
sc_wnaf(int8_t naf[NAF_LEN], const uint8_t s[32], int w)
{
    int bits[NAF_LEN + 8];
    int half = 1 << (w - 1), full = 1 << w;

    for (int i = 0; i < 256; i++)
        bits[i] = (s[i >> 3] >> (i & 7)) & 1;
    for (int i = 256; i < NAF_LEN + 8; i++)
        bits[i] = 0;
    memset(naf, 0, NAF_LEN);
    for (int i = 0; i < NAF_LEN; i++) {
        int v;
        if (!bits[i])
            continue;
        v = 0;
        for (int j = 0; j < w && i + j < NAF_LEN + 8; j++)
            v |= bits[i + j] << j;
        if (v >= half)
            v -= full;
        naf[i] = (int8_t) v;
        /* subtract v at bit i: clear the window, carry when v < 0 */
        for (int j = 0; j < w; j++)
            bits[i + j] = 0;
        if (v < 0) {
            int k = i + w;
            while (bits[k]) {
                bits[k] = 0;
                k++;
            }
            bits[k] = 1;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Verification                                                         */

int
hkp_ed25519_verify(const uint8_t pub[HKP_ED25519_KEY_LEN],
    const uint8_t sig[HKP_ED25519_SIG_LEN], const uint8_t *msg, size_t len)
{
    uint8_t      h[64], k[32], check[32];
    unsigned int hl = 0;
    int8_t       nk[NAF_LEN], ns[NAF_LEN];
    pt_t         a, r;
    cpt_t        atab[NA];
    EVP_MD_CTX  *ctx;
    int          ok, top;

    pthread_once(&init_once, init_tables);
    if (!sc_canonical(sig + 32))
        return 0;
    if (pt_decode(&a, pub) != 0)
        return 0;
    /* -A */
    fe_sub(&a.X, &fe_zero, &a.X);
    fe_sub(&a.T, &fe_zero, &a.T);

    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL && EVP_DigestInit_ex(ctx, hkp_md(HKP_MD_SHA512), NULL)
        && EVP_DigestUpdate(ctx, sig, 32)
        && EVP_DigestUpdate(ctx, pub, 32)
        && (len == 0 || EVP_DigestUpdate(ctx, msg, len))
        && EVP_DigestFinal_ex(ctx, h, &hl) && hl == 64;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    sc_reduce512(k, h);

    /* [S]B + [k](-A) */
    sc_wnaf(nk, k, W_A);
    sc_wnaf(ns, sig + 32, W_B);
    pt_odd_multiples(atab, &a, NA);
    for (top = NAF_LEN - 1; top >= 0 && nk[top] == 0 && ns[top] == 0; top--) {}
    pt_identity(&r);
    for (int i = top; i >= 0; i--) {
        pt_dbl(&r, &r, nk[i] != 0 || ns[i] != 0);
        if (nk[i] > 0)
            pt_add(&r, &r, &atab[nk[i] / 2], 0);
        else if (nk[i] < 0)
            pt_add(&r, &r, &atab[-nk[i] / 2], 1);
        if (ns[i] > 0)
            pt_add(&r, &r, &base_tab[ns[i] / 2], 0);
        else if (ns[i] < 0)
            pt_add(&r, &r, &base_tab[-ns[i] / 2], 1);
    }
    pt_encode(check, &r);
    return memcmp(check, sig, 32) == 0;
}
