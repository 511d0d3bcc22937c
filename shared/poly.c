/*
 * Solving one recon node (doc/recon.md 3.7): rational function interpolation
 * over Z/pZ by Gaussian elimination, reduction by the gcd, a check at the
 * spare sample point, the split test x^p == x mod F and Cantor-Zassenhaus
 * root finding. Degrees never exceed mbar, so polynomials are small fixed
 * arrays of mpz coefficients.
 */
#include <stdlib.h>
#include <string.h>

#include "poly.h"
#include "zp.h"

#define M_MAX    HKP_RECON_MBAR
/* Coefficients a polynomial may hold: products of two remainders modulo a
 * polynomial of degree <= mbar have degree <= 2 mbar - 2. */
#define PMAX     (2 * HKP_RECON_MBAR + 2)
/* Random splits tried per factor before giving up (each succeeds with
 * probability >= 1/2). */
#define SPLIT_TRIES  128

typedef struct {
    int   n;                    /* coefficients in use; degree n - 1 */
    mpz_t c[PMAX];              /* c[0] constant term */
} poly_t;

typedef struct {
    const mpz_t     *p;
    mpz_t            t, u;
    gmp_randstate_t  rnd;
} ctx_t;

static void
pinit(poly_t *a)
{
    a->n = 0;
    for (int i = 0; i < PMAX; i++)
        mpz_init(a->c[i]);
}

static void
pclear(poly_t *a)
{
    for (int i = 0; i < PMAX; i++)
        mpz_clear(a->c[i]);
}

static void
pnorm(poly_t *a)
{
    while (a->n > 0 && mpz_sgn(a->c[a->n - 1]) == 0)
        a->n--;
}

static void
pset(poly_t *r, const poly_t *a)
{
    if (r == a)
        return;
    for (int i = 0; i < a->n; i++)
        mpz_set(r->c[i], a->c[i]);
    r->n = a->n;
}

static int
pdeg(const poly_t *a)
{
    return a->n - 1;            /* -1 for the zero polynomial */
}

/* r = a * b mod p. -1 if the product does not fit (cannot happen for the
 * degrees used here). r may alias a or b. */
static int
pmul(ctx_t *cx, poly_t *r, const poly_t *a, const poly_t *b)
{
    poly_t t;
    int n;

    if (a->n == 0 || b->n == 0) {
        r->n = 0;
        return 0;
    }
    n = a->n + b->n - 1;
    if (n > PMAX)
        return -1;
    pinit(&t);
    for (int i = 0; i < n; i++)
        mpz_set_ui(t.c[i], 0);
    for (int i = 0; i < a->n; i++)
        for (int j = 0; j < b->n; j++)
            mpz_addmul(t.c[i + j], a->c[i], b->c[j]);
    for (int i = 0; i < n; i++)
        mpz_mod(t.c[i], t.c[i], *cx->p);
    t.n = n;
    pnorm(&t);
    pset(r, &t);
    pclear(&t);
    return 0;
}

/* q = a / b, r = a mod b (b non-zero); q or r may be NULL; no aliasing of
 * q/r with b. */
static void
pdivmod(ctx_t *cx, poly_t *q, poly_t *r, const poly_t *a, const poly_t *b)
{
    poly_t rem;
    int db = pdeg(b);

    pinit(&rem);
    pset(&rem, a);
    mpz_invert(cx->u, b->c[db], *cx->p);       /* 1 / lead(b) */
    if (q != NULL) {
        int nq = rem.n - db;
        q->n = nq > 0 ? nq : 0;
        for (int i = 0; i < q->n; i++)
            mpz_set_ui(q->c[i], 0);
    }
    while (rem.n > 0 && pdeg(&rem) >= db) {
        int shift = pdeg(&rem) - db;
        mpz_mul(cx->t, rem.c[rem.n - 1], cx->u);
        mpz_mod(cx->t, cx->t, *cx->p);          /* quotient coefficient */
        if (q != NULL)
            mpz_set(q->c[shift], cx->t);
        for (int i = 0; i <= db; i++) {
            mpz_submul(rem.c[shift + i], cx->t, b->c[i]);
            mpz_mod(rem.c[shift + i], rem.c[shift + i], *cx->p);
        }
        /* the leading coefficient is now 0 */
        rem.n--;
        pnorm(&rem);
    }
    if (q != NULL)
        pnorm(q);
    if (r != NULL)
        pset(r, &rem);
    pclear(&rem);
}

static void
pmonic(ctx_t *cx, poly_t *a)
{
    if (a->n == 0)
        return;
    mpz_invert(cx->u, a->c[a->n - 1], *cx->p);
    for (int i = 0; i < a->n; i++) {
        mpz_mul(a->c[i], a->c[i], cx->u);
        mpz_mod(a->c[i], a->c[i], *cx->p);
    }
}

/* g = monic gcd(a, b). */
static void
pgcd(ctx_t *cx, poly_t *g, const poly_t *a, const poly_t *b)
{
    poly_t x, y, r;

    pinit(&x);
    pinit(&y);
    pinit(&r);
    pset(&x, a);
    pset(&y, b);
    while (y.n > 0) {
        pdivmod(cx, NULL, &r, &x, &y);
        pset(&x, &y);
        pset(&y, &r);
    }
    pmonic(cx, &x);
    pset(g, &x);
    pclear(&x);
    pclear(&y);
    pclear(&r);
}

/* r = base^e mod m (m of degree >= 1). */
static int
ppowmod(ctx_t *cx, poly_t *r, const poly_t *base, const mpz_t e,
    const poly_t *m)
{
    poly_t b, acc;
    int ret = 0;

    pinit(&b);
    pinit(&acc);
    pdivmod(cx, NULL, &b, base, m);
    acc.n = 1;
    mpz_set_ui(acc.c[0], 1);
    for (long i = (long) mpz_sizeinbase(e, 2) - 1; i >= 0; i--) {
        if (pmul(cx, &acc, &acc, &acc) != 0) {
            ret = -1;
            break;
        }
        pdivmod(cx, NULL, &acc, &acc, m);
        if (mpz_tstbit(e, (mp_bitcnt_t) i)) {
            if (pmul(cx, &acc, &acc, &b) != 0) {
                ret = -1;
                break;
            }
            pdivmod(cx, NULL, &acc, &acc, m);
        }
    }
    if (mpz_sgn(e) == 0)
        pdivmod(cx, NULL, &acc, &acc, m);
    pset(r, &acc);
    pclear(&b);
    pclear(&acc);
    return ret;
}

static void
peval(ctx_t *cx, mpz_t out, const poly_t *a, const mpz_t x)
{
    mpz_set_ui(out, 0);
    for (int i = a->n - 1; i >= 0; i--) {
        mpz_mul(out, out, x);
        mpz_add(out, out, a->c[i]);
        mpz_mod(out, out, *cx->p);
    }
}

/* Does monic f (degree >= 1) split into distinct linear factors, i.e.
 * x^p == x mod f? */
static int
splits(ctx_t *cx, const poly_t *f)
{
    poly_t x, r;
    int ok;

    if (pdeg(f) <= 1)
        return 1;
    pinit(&x);
    pinit(&r);
    x.n = 2;
    mpz_set_ui(x.c[0], 0);
    mpz_set_ui(x.c[1], 1);
    ok = ppowmod(cx, &r, &x, *cx->p, f) == 0
        && r.n == 2 && mpz_sgn(r.c[0]) == 0 && mpz_cmp_ui(r.c[1], 1) == 0;
    pclear(&x);
    pclear(&r);
    return ok;
}

/* Appends the roots of monic squarefree split f to roots[*n]. -1 if the
 * random splitting gives up (practically impossible). */
static int
find_roots(ctx_t *cx, const poly_t *f, mpz_t *roots, int *n)
{
    poly_t xa, h, g, q;
    mpz_t e;
    int ret = -1;

    if (pdeg(f) <= 0)
        return 0;
    if (pdeg(f) == 1) {
        /* x + c: root -c (f is monic) */
        mpz_neg(roots[*n], f->c[0]);
        mpz_mod(roots[*n], roots[*n], *cx->p);
        (*n)++;
        return 0;
    }
    pinit(&xa);
    pinit(&h);
    pinit(&g);
    pinit(&q);
    mpz_init(e);
    mpz_sub_ui(e, *cx->p, 1);
    mpz_fdiv_q_2exp(e, e, 1);                   /* (p - 1) / 2 */
    for (int tries = 0; tries < SPLIT_TRIES; tries++) {
        xa.n = 2;
        mpz_urandomm(xa.c[0], cx->rnd, *cx->p);
        mpz_set_ui(xa.c[1], 1);
        if (ppowmod(cx, &h, &xa, e, f) != 0)
            break;
        /* h - 1 */
        if (h.n == 0) {
            h.n = 1;
            mpz_set_ui(h.c[0], 0);
        }
        mpz_sub_ui(h.c[0], h.c[0], 1);
        mpz_mod(h.c[0], h.c[0], *cx->p);
        pnorm(&h);
        if (h.n == 0)
            continue;
        pgcd(cx, &g, &h, f);
        if (pdeg(&g) <= 0 || pdeg(&g) >= pdeg(f))
            continue;
        pdivmod(cx, &q, NULL, f, &g);
        pmonic(cx, &q);
        if (find_roots(cx, &g, roots, n) == 0
            && find_roots(cx, &q, roots, n) == 0)
            ret = 0;
        break;
    }
    pclear(&xa);
    pclear(&h);
    pclear(&g);
    pclear(&q);
    mpz_clear(e);
    return ret;
}

/*
 * Solves the M x M system (rows of M+1 entries, the last the right-hand
 * side) in place by Gauss-Jordan elimination mod p; free variables are
 * set to 0. Returns 0, or 1 if inconsistent.
 */
static int
gauss(ctx_t *cx, mpz_t mat[M_MAX][M_MAX + 1], int M, mpz_t *sol)
{
    int pivcol[M_MAX];
    int row = 0;

    for (int col = 0; col < M && row < M; col++) {
        int piv = -1;
        for (int r = row; r < M; r++)
            if (mpz_sgn(mat[r][col]) != 0) {
                piv = r;
                break;
            }
        if (piv < 0)
            continue;
        if (piv != row)
            for (int c = 0; c <= M; c++)
                mpz_swap(mat[piv][c], mat[row][c]);
        mpz_invert(cx->u, mat[row][col], *cx->p);
        for (int c = 0; c <= M; c++) {
            mpz_mul(mat[row][c], mat[row][c], cx->u);
            mpz_mod(mat[row][c], mat[row][c], *cx->p);
        }
        for (int r = 0; r < M; r++) {
            if (r == row || mpz_sgn(mat[r][col]) == 0)
                continue;
            mpz_set(cx->t, mat[r][col]);
            for (int c = 0; c <= M; c++) {
                mpz_submul(mat[r][c], cx->t, mat[row][c]);
                mpz_mod(mat[r][c], mat[r][c], *cx->p);
            }
        }
        pivcol[row++] = col;
    }
    /* Rows without a pivot are all-zero on the left: consistent only if
     * their right-hand side is 0. */
    for (int r = row; r < M; r++)
        if (mpz_sgn(mat[r][M]) != 0)
            return 1;
    for (int c = 0; c < M; c++)
        mpz_set_ui(sol[c], 0);
    for (int r = 0; r < row; r++)
        mpz_set(sol[pivcol[r]], mat[r][M]);
    return 0;
}

static int
cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, HKP_HASH_LEN);
}

/* Converts roots to sorted hashes; -1 if one is not a hash (>= 2^128). */
static int
roots_to_hashes(mpz_t *roots, int n, hkp_hash_t **out, size_t *nout)
{
    hkp_hash_t *h = NULL;

    *out = NULL;
    *nout = 0;
    if (n <= 0 || n > M_MAX)
        return 0;
    for (int i = 0; i < n; i++)
        if (!hkp_zp_is_hash(roots[i]))
            return 1;
    h = malloc((size_t) n * HKP_HASH_LEN);
    if (h == NULL)
        return -1;
    for (int i = 0; i < n; i++)
        hkp_zp_to_hash(roots[i], h[i]);
    qsort(h, (size_t) n, HKP_HASH_LEN, cmp_hash);
    *out = h;
    *nout = (size_t) n;
    return 0;
}

/* Steps 1-8. With aco != NULL, stops after step 6 and exports A and B
 * instead of finding roots. */
static int
solve(const uint8_t rsv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN], uint32_t rsize,
    const uint8_t lsv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN], uint32_t lsize,
    hkp_hash_t **remote_only, size_t *nremote,
    hkp_hash_t **local_only, size_t *nlocal,
    uint8_t (*aco)[HKP_ELEM_LEN], int *adeg,
    uint8_t (*bco)[HKP_ELEM_LEN], int *bdeg)
{
    const int m = HKP_RECON_MBAR;
    ctx_t cx;
    mpz_t f[HKP_RECON_NSAMPLES], r, l;
    mpz_t mat[M_MAX][M_MAX + 1], sol[M_MAX];
    mpz_t rootsA[M_MAX], rootsB[M_MAX];
    poly_t A, B, g;
    int64_t d = (int64_t) rsize - (int64_t) lsize;
    int M, ma, mb, na = 0, nb = 0, ret = 1;

    *remote_only = NULL;
    *local_only = NULL;
    *nremote = 0;
    *nlocal = 0;

    hkp_zp_init();
    cx.p = hkp_zp_p();
    mpz_init(cx.t);
    mpz_init(cx.u);
    /* Deterministic per call: results and timing are repeatable. */
    gmp_randinit_default(cx.rnd);
    gmp_randseed_ui(cx.rnd, 0x5eed5eedUL);
    mpz_init(r);
    mpz_init(l);
    for (int i = 0; i < HKP_RECON_NSAMPLES; i++)
        mpz_init(f[i]);
    for (int i = 0; i < M_MAX; i++) {
        for (int j = 0; j <= M_MAX; j++)
            mpz_init(mat[i][j]);
        mpz_init(sol[i]);
        mpz_init(rootsA[i]);
        mpz_init(rootsB[i]);
    }
    pinit(&A);
    pinit(&B);
    pinit(&g);

    /* 1. f_i = R_i / L_i */
    for (int i = 0; i < HKP_RECON_NSAMPLES; i++) {
        if (hkp_zp_from_wire(r, rsv[i]) != 0
            || hkp_zp_from_wire(l, lsv[i]) != 0)
        {
            ret = -1;
            goto out;
        }
        if (mpz_invert(l, l, *cx.p) == 0)
            goto out;           /* L_i = 0: not the svalues of a set */
        mpz_mul(f[i], r, l);
        mpz_mod(f[i], f[i], *cx.p);
    }

    /* 3. degrees */
    if (d > m || d < -m)
        goto out;
    M = m;
    if (((M + d) & 1) != 0)
        M--;
    ma = (int) ((M + d) / 2);
    mb = (int) ((M - d) / 2);

    /* 4. one equation per point j < M:
     *    sum_{t<ma} a_t k^t - f sum_{t<mb} b_t k^t = f k^mb - k^ma */
    for (int j = 0; j < M; j++) {
        const mpz_t *k = hkp_zp_point((unsigned) j);
        mpz_set_ui(r, 1);                       /* k^t */
        for (int t = 0; t <= (ma > mb ? ma : mb); t++) {
            if (t < ma)
                mpz_set(mat[j][t], r);
            if (t < mb) {
                mpz_mul(l, f[j], r);
                mpz_neg(l, l);
                mpz_mod(mat[j][ma + t], l, *cx.p);
            }
            if (t == ma)
                mpz_sub(mat[j][M], mat[j][M], r);
            if (t == mb) {
                mpz_mul(l, f[j], r);
                mpz_add(mat[j][M], mat[j][M], l);
            }
            mpz_mul(r, r, *k);
            mpz_mod(r, r, *cx.p);
        }
        mpz_mod(mat[j][M], mat[j][M], *cx.p);
    }
    if (gauss(&cx, mat, M, sol) != 0)
        goto out;
    A.n = ma + 1;
    for (int t = 0; t < ma; t++)
        mpz_set(A.c[t], sol[t]);
    mpz_set_ui(A.c[ma], 1);
    B.n = mb + 1;
    for (int t = 0; t < mb; t++)
        mpz_set(B.c[t], sol[ma + t]);
    mpz_set_ui(B.c[mb], 1);

    /* 5. cancel the common factor */
    pgcd(&cx, &g, &A, &B);
    if (pdeg(&g) > 0) {
        pdivmod(&cx, &A, NULL, &A, &g);
        pdivmod(&cx, &B, NULL, &B, &g);
    }
    /* A monic times monic g divided by monic g stays monic. */

    /* A correct answer never has more remote-only elements than the remote
     * has, nor more local-only ones than we have. */
    if (pdeg(&A) > (int64_t) rsize || pdeg(&B) > (int64_t) lsize)
        goto out;

    /* 6. check at the spare point k_m */
    {
        const mpz_t *k = hkp_zp_point((unsigned) m);
        peval(&cx, l, &B, *k);
        if (mpz_sgn(l) == 0)
            goto out;
        peval(&cx, r, &A, *k);
        mpz_invert(l, l, *cx.p);
        mpz_mul(r, r, l);
        mpz_mod(r, r, *cx.p);
        if (mpz_cmp(r, f[m]) != 0)
            goto out;
    }

    if (aco != NULL) {
        *adeg = pdeg(&A);
        *bdeg = pdeg(&B);
        for (int i = 0; i < A.n; i++)
            hkp_zp_to_wire(A.c[i], aco[i]);
        for (int i = 0; i < B.n; i++)
            hkp_zp_to_wire(B.c[i], bco[i]);
        ret = 0;
        goto out;
    }

    /* 7. both split into distinct linear factors */
    if (!splits(&cx, &A) || !splits(&cx, &B))
        goto out;

    /* 8. roots */
    if (find_roots(&cx, &A, rootsA, &na) != 0
        || find_roots(&cx, &B, rootsB, &nb) != 0
        || na != pdeg(&A) || nb != pdeg(&B))
        goto out;
    {
        int r1 = roots_to_hashes(rootsA, na, remote_only, nremote);
        int r2 = r1 == 0 ? roots_to_hashes(rootsB, nb, local_only, nlocal)
                         : r1;
        if (r1 != 0 || r2 != 0) {
            free(*remote_only);
            free(*local_only);
            *remote_only = NULL;
            *local_only = NULL;
            *nremote = 0;
            *nlocal = 0;
            /* -1 from malloc failure is an error; a root >= 2^128 means
             * the difference was not recovered. */
            ret = (r1 < 0 || r2 < 0) ? -1 : 1;
            goto out;
        }
    }
    ret = 0;

out:
    pclear(&A);
    pclear(&B);
    pclear(&g);
    for (int i = 0; i < M_MAX; i++) {
        for (int j = 0; j <= M_MAX; j++)
            mpz_clear(mat[i][j]);
        mpz_clear(sol[i]);
        mpz_clear(rootsA[i]);
        mpz_clear(rootsB[i]);
    }
    for (int i = 0; i < HKP_RECON_NSAMPLES; i++)
        mpz_clear(f[i]);
    mpz_clear(r);
    mpz_clear(l);
    mpz_clear(cx.t);
    mpz_clear(cx.u);
    gmp_randclear(cx.rnd);
    return ret;
}

int
hkp_recon_solve(
    const uint8_t rsv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN], uint32_t rsize,
    const uint8_t lsv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN], uint32_t lsize,
    hkp_hash_t **remote_only, size_t *nremote,
    hkp_hash_t **local_only, size_t *nlocal)
{
    return solve(rsv, rsize, lsv, lsize, remote_only, nremote, local_only,
        nlocal, NULL, NULL, NULL, NULL);
}

int
hkp_recon_interpolate(
    const uint8_t rsv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN], uint32_t rsize,
    const uint8_t lsv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN], uint32_t lsize,
    uint8_t a[HKP_RECON_MBAR + 1][HKP_ELEM_LEN], int *adeg,
    uint8_t b[HKP_RECON_MBAR + 1][HKP_ELEM_LEN], int *bdeg)
{
    hkp_hash_t *ro, *lo;
    size_t nr, nl;

    *adeg = *bdeg = -1;
    return solve(rsv, rsize, lsv, lsize, &ro, &nr, &lo, &nl, a, adeg, b,
        bdeg);
}
