/*
 * synth-keys: the C twin of bench/synth-keys.py, on every core.
 *
 * Writes the same bytes as `synth-keys.py N [--seed S] [--start I]
 * [--uids K] [--fprs FILE]` (binary output; --armor stays with the Python
 * tool): each key an Ed25519 primary with K user IDs self-certified (0x13)
 * and an X25519 subkey bound (0x18), every signature real. Ed25519
 * signatures are deterministic, so the output depends only on N, the seed,
 * the start and K. t/62-synth-keys.t compares both tools with cmp.
 *
 * Keys are made in rounds: each of --threads workers (default: the number
 * of online CPUs) builds one chunk of SYNTH_CHUNK_KEYS consecutive keys into
 * its own buffer, then the chunks are written in order.
 *
 * usage: synth-keys N [--seed TEXT] [--start I] [--uids K] [--fprs FILE]
 *                     [--threads T] > keys.pgp
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/* Keys per chunk: one worker's share of a round. */
#define SYNTH_CHUNK_KEYS 2048
/* The most workers and the most user IDs per key we accept. */
#define SYNTH_MAX_THREADS 64
#define SYNTH_MAX_UIDS 64
/* The longest seed, and the longest user ID (name + e-mail + index). */
#define SYNTH_MAX_SEED 256
#define SYNTH_MAX_UID 256
/* Upper bound of one key's bytes: packets of at most ~200 bytes each, two
 * per user ID plus four. */
#define SYNTH_KEY_MAX (256 * (2 * SYNTH_MAX_UIDS + 4))
/* 2020-01-01T00:00:00Z; key i is created EPOCH + (i * SPACING) % SPAN
 * seconds, so that the times of a million keys fit 32 bits. */
#define SYNTH_EPOCH 1577836800u
#define SYNTH_SPACING 3607u
#define SYNTH_SPAN ((UINT64_C(1) << 32) - SYNTH_EPOCH)

static const uint8_t OID_ED25519[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01};
static const uint8_t OID_CV25519[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01};

static const char *const GIVEN[] = {
    "Alice", "Bruno", "Carmen", "Deniz", "Elif", "Femi", "Greta", "Hamid", "Irene", "Jonas",
    "Keiko", "Luca", "Maren", "Nikos", "Oskar", "Pilar", "Rahul", "Sanna", "Teodor", "Ulla",
    "Viktor", "Wanda", "Yara", "Zeno"};
static const char *const FAMILY[] = {
    "Abbott", "Berger", "Castillo", "Dalton", "Eriksen", "Fontaine", "Gallo", "Holm",
    "Iqbal", "Jansen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Ortiz", "Petrov",
    "Quist", "Romano", "Sato", "Tanner", "Ueda", "Varga", "Weber", "Young"};
static const char *const DOMAINS[] = {
    "bench.example.org", "example.net", "keys.example.com", "lists.example.org"};
static const char *const COMMENTS[] = {"work", "home", "lists"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A growing byte buffer; every append checks the room left. */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf_t;

static void die(const char *msg)
{
    fprintf(stderr, "synth-keys: %s\n", msg);
    exit(1);
}

static void buf_reserve(buf_t *b, size_t more)
{
    if (b->cap - b->len >= more)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < more)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        die("out of memory");
    b->p = p;
    b->cap = cap;
}

static void put(buf_t *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put8(buf_t *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    put(b, &c, 1);
}

static void put16(buf_t *b, unsigned v)
{
    put8(b, v >> 8);
    put8(b, v);
}

static void put32(buf_t *b, uint32_t v)
{
    put16(b, v >> 16);
    put16(b, v & 0xffff);
}

/* An MPI of the big-endian number DATA[0..N) without its leading zeros. */
static void put_mpi(buf_t *b, const uint8_t *data, size_t n)
{
    while (n > 1 && data[0] == 0) {
        data++;
        n--;
    }
    unsigned top = 0;
    for (unsigned v = data[0]; v; v >>= 1)
        top++;
    put16(b, (unsigned)((n - 1) * 8 + top));
    put(b, data, n);
}

/* A packet with a new-format header (RFC 4880 section 4.2.2). */
static void put_pkt(buf_t *b, unsigned tag, const uint8_t *body, size_t n)
{
    put8(b, 0xC0 | tag);
    if (n < 192) {
        put8(b, (unsigned)n);
    } else if (n < 8384) {
        put8(b, (unsigned)(((n - 192) >> 8) + 192));
        put8(b, (unsigned)((n - 192) & 0xFF));
    } else {
        put8(b, 0xff);
        put32(b, (uint32_t)n);
    }
    put(b, body, n);
}

static void put_sub(buf_t *b, unsigned kind, const void *data, size_t n)
{
    put8(b, (unsigned)(n + 1));
    put8(b, kind);
    put(b, data, n);
}

/* 0x99, two-octet length, key body: how a key is hashed. */
static void put_key_hashed(buf_t *b, const buf_t *key)
{
    put8(b, 0x99);
    put16(b, (unsigned)key->len);
    put(b, key->p, key->len);
}

/* A version 4 public key body: time, algorithm, curve OID, point. */
static void put_pubkey(buf_t *b, const uint8_t ts[4], unsigned algo, const uint8_t *oid,
                       size_t oidlen, const uint8_t *point, size_t n)
{
    put8(b, 4);
    put(b, ts, 4);
    put8(b, algo);
    put8(b, (unsigned)oidlen);
    put(b, oid, oidlen);
    put_mpi(b, point, n);
}

typedef struct {
    EVP_PKEY *sign_key;
    uint8_t fpr[SHA_DIGEST_LENGTH];
    buf_t primary, subkey;
    buf_t scratch, body, hashed;   /* reused by sign() */
} cert_t;

static EVP_PKEY *raw_key(int type, const uint8_t seed[SHA256_DIGEST_LENGTH], uint8_t pub[32])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(type, NULL, seed, SHA256_DIGEST_LENGTH);
    size_t n = 32;
    if (!k || EVP_PKEY_get_raw_public_key(k, pub, &n) != 1 || n != 32)
        die("libcrypto could not make a 25519 key");
    return k;
}

/* Appends one version 4 signature packet of SIGTYPE over SIGNED. */
static void sign(cert_t *c, buf_t *out, unsigned sigtype, const buf_t *signed_data,
                 const buf_t *hashed)
{
    buf_t *head = &c->body, *msg = &c->scratch;
    head->len = 0;
    put8(head, 4);
    put8(head, sigtype);
    put8(head, 22);
    put8(head, 8);
    put16(head, (unsigned)hashed->len);
    put(head, hashed->p, hashed->len);
    size_t head_len = head->len;

    msg->len = 0;
    put(msg, signed_data->p, signed_data->len);
    put(msg, head->p, head_len);
    put8(msg, 4);
    put8(msg, 0xff);
    put32(msg, (uint32_t)head_len);
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(msg->p, msg->len, digest);

    uint8_t sig[64];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, c->sign_key) != 1
        || EVP_DigestSign(ctx, sig, &siglen, digest, sizeof digest) != 1 || siglen != 64)
        die("Ed25519 signing failed");
    EVP_MD_CTX_free(ctx);

    uint8_t unhashed[10];
    unhashed[0] = 9;
    unhashed[1] = 16;
    memcpy(unhashed + 2, c->fpr + SHA_DIGEST_LENGTH - 8, 8);
    put16(head, sizeof unhashed);
    put(head, unhashed, sizeof unhashed);
    put(head, digest, 2);
    put_mpi(head, sig, 32);
    put_mpi(head, sig + 32, 32);
    put_pkt(out, 2, head->p, head->len);
}

/* The name and e-mail of user ID U of key INDEX, as synth-keys.py makes them. */
static size_t uid_text(char *out, size_t cap, const uint8_t h[SHA256_DIGEST_LENGTH],
                       uint64_t index, unsigned u)
{
    const char *g = GIVEN[h[0] % NELEM(GIVEN)], *f = FAMILY[h[1] % NELEM(FAMILY)];
    const char *dom = DOMAINS[(h[2] + u) % NELEM(DOMAINS)];
    char local[SYNTH_MAX_UID];
    int n;
    if (u == 0)
        n = snprintf(local, sizeof local, "%s.%s.%" PRIu64, g, f, index);
    else
        n = snprintf(local, sizeof local, "%c%s%" PRIu64 "-%u", g[0], f, index, u);
    if (n < 0 || (size_t)n >= sizeof local)
        die("user ID too long");
    for (char *p = local; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (u == 0)
        n = snprintf(out, cap, "%s %s <%s@%s>", g, f, local, dom);
    else
        n = snprintf(out, cap, "%s %s (%s) <%s@%s>", g, f, COMMENTS[u % 3], local, dom);
    if (n < 0 || (size_t)n >= cap)
        die("user ID too long");
    return (size_t)n;
}

/* Appends key INDEX with NUIDS user IDs to OUT; its fingerprint to FPR. */
static void cert_make(cert_t *c, buf_t *out, const char *seed, uint64_t index, unsigned nuids)
{
    char tag[SYNTH_MAX_SEED + 32];
    int tn = snprintf(tag, sizeof tag, "%s/%" PRIu64, seed, index);
    if (tn < 0 || (size_t)tn >= sizeof tag - 3)
        die("seed too long");
    uint8_t ed_seed[SHA256_DIGEST_LENGTH], x_seed[SHA256_DIGEST_LENGTH], h[SHA256_DIGEST_LENGTH];
    memcpy(tag + tn, "/ed", 3);
    SHA256((const uint8_t *)tag, (size_t)tn + 3, ed_seed);
    memcpy(tag + tn, "/x", 2);
    SHA256((const uint8_t *)tag, (size_t)tn + 2, x_seed);
    SHA256((const uint8_t *)tag, (size_t)tn, h);

    uint8_t ed_pub[33], x_pub[33];
    ed_pub[0] = x_pub[0] = 0x40;
    c->sign_key = raw_key(EVP_PKEY_ED25519, ed_seed, ed_pub + 1);
    EVP_PKEY_free(raw_key(EVP_PKEY_X25519, x_seed, x_pub + 1));

    uint32_t created = SYNTH_EPOCH + (uint32_t)(index * SYNTH_SPACING % SYNTH_SPAN);
    uint8_t ts[4] = {created >> 24, created >> 16, created >> 8, created};
    buf_t *pri = &c->primary, *subk = &c->subkey;
    pri->len = subk->len = 0;
    put_pubkey(pri, ts, 22, OID_ED25519, sizeof OID_ED25519, ed_pub, sizeof ed_pub);
    put_pubkey(subk, ts, 18, OID_CV25519, sizeof OID_CV25519, x_pub, sizeof x_pub);
    put(subk, "\x03\x01\x08\x07", 4);   /* KDF: SHA-256, AES-128 */

    buf_t kh = {0};
    put_key_hashed(&kh, pri);
    SHA1(kh.p, kh.len, c->fpr);
    uint8_t issuer_fpr[1 + SHA_DIGEST_LENGTH];
    issuer_fpr[0] = 4;
    memcpy(issuer_fpr + 1, c->fpr, SHA_DIGEST_LENGTH);

    put_pkt(out, 6, pri->p, pri->len);
    buf_t signed_data = {0};
    for (unsigned u = 0; u < nuids; u++) {
        char uid[SYNTH_MAX_UID];
        size_t ulen = uid_text(uid, sizeof uid, h, index, u);
        buf_t *hs = &c->hashed;
        hs->len = 0;
        put_sub(hs, 2, ts, 4);
        put_sub(hs, 27, "\x03", 1);
        put_sub(hs, 11, "\x09\x08\x07", 3);
        put_sub(hs, 21, "\x08\x0a", 2);
        put_sub(hs, 22, "\x02\x01\x00", 3);
        put_sub(hs, 30, "\x01", 1);
        put_sub(hs, 33, issuer_fpr, sizeof issuer_fpr);
        if (u == 0)
            put_sub(hs, 25, "\x01", 1);   /* primary user ID */
        signed_data.len = 0;
        put(&signed_data, kh.p, kh.len);
        put8(&signed_data, 0xb4);
        put32(&signed_data, (uint32_t)ulen);
        put(&signed_data, uid, ulen);
        put_pkt(out, 13, (const uint8_t *)uid, ulen);
        sign(c, out, 0x13, &signed_data, hs);
    }
    put_pkt(out, 14, subk->p, subk->len);
    buf_t *hs = &c->hashed;
    hs->len = 0;
    put_sub(hs, 2, ts, 4);
    put_sub(hs, 27, "\x0c", 1);
    put_sub(hs, 33, issuer_fpr, sizeof issuer_fpr);
    signed_data.len = 0;
    put(&signed_data, kh.p, kh.len);
    put_key_hashed(&signed_data, subk);
    sign(c, out, 0x18, &signed_data, hs);
    free(kh.p);
    free(signed_data.p);
    EVP_PKEY_free(c->sign_key);
    c->sign_key = NULL;
}

typedef struct {
    pthread_t tid;
    const char *seed;
    uint64_t first, count;
    unsigned uids;
    buf_t out;                        /* this chunk's keys */
    char (*fprs)[2 * SHA_DIGEST_LENGTH + 1];   /* this chunk's fingerprints */
    cert_t cert;
} worker_t;

static void *worker_run(void *arg)
{
    worker_t *w = arg;
    static const char hex[] = "0123456789ABCDEF";
    w->out.len = 0;
    for (uint64_t i = 0; i < w->count; i++) {
        uint64_t index = w->first + i;
        unsigned nuids = w->uids > 1 ? 1 + (unsigned)(index % w->uids) : 1;
        cert_make(&w->cert, &w->out, w->seed, index, nuids);
        for (int j = 0; j < SHA_DIGEST_LENGTH; j++) {
            w->fprs[i][2 * j] = hex[w->cert.fpr[j] >> 4];
            w->fprs[i][2 * j + 1] = hex[w->cert.fpr[j] & 15];
        }
        w->fprs[i][2 * SHA_DIGEST_LENGTH] = '\n';
    }
    return NULL;
}

static uint64_t parse_num(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        fprintf(stderr, "synth-keys: %s must be a number >= 0\n", what), exit(2);
    return v;
}

static void write_all(FILE *f, const void *p, size_t n, const char *what)
{
    if (n && fwrite(p, 1, n, f) != n)
        fprintf(stderr, "synth-keys: writing %s: %s\n", what, strerror(errno)), exit(1);
}

int main(int argc, char **argv)
{
    const char *seed = "hkp-bench", *fprs_path = NULL;
    uint64_t n = 0, start = 0, uids = 1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t threads = ncpu > 0 ? (uint64_t)ncpu : 1;
    int have_n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && !strcmp(a, "--seed"))
            seed = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--start"))
            start = parse_num(argv[++i], "--start");
        else if (i + 1 < argc && !strcmp(a, "--uids"))
            uids = parse_num(argv[++i], "--uids");
        else if (i + 1 < argc && !strcmp(a, "--fprs"))
            fprs_path = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--threads"))
            threads = parse_num(argv[++i], "--threads");
        else if (!have_n && a[0] != '-') {
            n = parse_num(a, "N");
            have_n = 1;
        } else {
            fprintf(stderr, "usage: synth-keys N [--seed TEXT] [--start I] [--uids K] "
                            "[--fprs FILE] [--threads T]\n");
            return 2;
        }
    }
    if (!have_n)
        die("usage: synth-keys N [--seed TEXT] [--start I] [--uids K] [--fprs FILE] [--threads T]");
    if (uids < 1 || uids > SYNTH_MAX_UIDS)
        die("--uids must be 1..64");
    if (threads < 1 || threads > SYNTH_MAX_THREADS)
        die("--threads must be 1..64");
    if (strlen(seed) > SYNTH_MAX_SEED)
        die("--seed is longer than 256 bytes");
    FILE *ff = NULL;
    if (fprs_path && !(ff = fopen(fprs_path, "w")))
        fprintf(stderr, "synth-keys: %s: %s\n", fprs_path, strerror(errno)), exit(1);

    worker_t *w = calloc(threads, sizeof *w);
    if (!w)
        die("out of memory");
    for (uint64_t t = 0; t < threads; t++) {
        w[t].seed = seed;
        w[t].uids = (unsigned)uids;
        w[t].fprs = malloc(SYNTH_CHUNK_KEYS * sizeof *w[t].fprs);
        if (!w[t].fprs)
            die("out of memory");
        buf_reserve(&w[t].out, (size_t)SYNTH_CHUNK_KEYS * SYNTH_KEY_MAX / 8);
    }
    for (uint64_t next = start, end = start + n; next < end;) {
        uint64_t used = 0;
        for (; used < threads && next < end; used++) {
            w[used].first = next;
            w[used].count = end - next < SYNTH_CHUNK_KEYS ? end - next : SYNTH_CHUNK_KEYS;
            next += w[used].count;
            if (pthread_create(&w[used].tid, NULL, worker_run, &w[used]))
                die("cannot start a thread");
        }
        for (uint64_t t = 0; t < used; t++) {
            pthread_join(w[t].tid, NULL);
            write_all(stdout, w[t].out.p, w[t].out.len, "the keys");
            if (ff)
                write_all(ff, w[t].fprs, w[t].count * sizeof *w[t].fprs, fprs_path);
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        die("writing the keys failed");
    if (ff && fclose(ff) != 0)
        die("writing the fingerprints failed");
    for (uint64_t t = 0; t < threads; t++) {
        free(w[t].out.p);
        free(w[t].fprs);
        free(w[t].cert.primary.p);
        free(w[t].cert.subkey.p);
        free(w[t].cert.scratch.p);
        free(w[t].cert.body.p);
        free(w[t].cert.hashed.p);
    }
    free(w);
    return 0;
}
