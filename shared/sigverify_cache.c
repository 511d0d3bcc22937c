/*
 * Result cache of the signature verifier: a merge, a re-import or a
 * second filter profile looking at the same key does not verify the same
 * signature twice.
 *
 * Key: SHA-256 over (tag, 4-octet length, body) of signer, primary,
 * target and sig, so a cached result can only be found again by the same
 * four packets (a collision would need one of SHA-256). Results are
 * deterministic, so every result (bad and unsupported too) is kept.
 *
 * Shape: HKP_SIG_CACHE_ENTRIES entries in sets of CACHE_WAYS, replaced
 * round-robin within a set; a set is guarded by one of CACHE_LOCKS
 * mutexes. Memory is fixed (static), about 40 bytes per entry.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "sigverify.h"
#include "sigverify_int.h"

#define CACHE_WAYS   4
#define CACHE_SETS   (HKP_SIG_CACHE_ENTRIES / CACHE_WAYS)
#define CACHE_LOCKS  64

#if CACHE_SETS < 1 || (CACHE_SETS & (CACHE_SETS - 1)) != 0
#error "HKP_SIG_CACHE_ENTRIES / CACHE_WAYS must be a power of two"
#endif

typedef struct {
    uint8_t  key[HKP_SIGV_CACHE_KEY_LEN];
    int8_t   result;
    uint8_t  used;
} cache_entry_t;

typedef struct {
    cache_entry_t  e[CACHE_WAYS];
    uint8_t        next;          /* way to replace next */
} cache_set_t;

static cache_set_t      cache_sets[CACHE_SETS];
static pthread_mutex_t  cache_locks[CACHE_LOCKS] = {
    [0 ... CACHE_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER
};
static unsigned long    cache_hits, cache_misses;

static EVP_MD          *cache_md;
static pthread_once_t   cache_md_once = PTHREAD_ONCE_INIT;

static void
cache_md_init(void)
{
    cache_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    ERR_clear_error();
}

static int
hash_pkt(EVP_MD_CTX *ctx, const hkp_pkt_t *p)
{
    uint8_t h[5] = { 0, 0, 0, 0, 0 };

    if (p == NULL)
        return EVP_DigestUpdate(ctx, h, 5);
    h[0] = p->tag;
    h[1] = (uint8_t) (p->len >> 24);
    h[2] = (uint8_t) (p->len >> 16);
    h[3] = (uint8_t) (p->len >> 8);
    h[4] = (uint8_t) p->len;
    return EVP_DigestUpdate(ctx, h, 5)
        && (p->len == 0 || EVP_DigestUpdate(ctx, p->body, p->len));
}

int
hkp_sigv_cache_key(const hkp_pkt_t *signer, const hkp_pkt_t *primary,
    const hkp_pkt_t *target, const hkp_pkt_t *sig,
    uint8_t key[HKP_SIGV_CACHE_KEY_LEN])
{
    EVP_MD_CTX   *ctx;
    unsigned int  len = 0;
    int           ok;

    pthread_once(&cache_md_once, cache_md_init);
    if (cache_md == NULL || (ctx = EVP_MD_CTX_new()) == NULL)
        return -1;
    ok = EVP_DigestInit_ex(ctx, cache_md, NULL)
        && hash_pkt(ctx, signer) && hash_pkt(ctx, primary)
        && hash_pkt(ctx, target) && hash_pkt(ctx, sig)
        && EVP_DigestFinal_ex(ctx, key, &len)
        && len == HKP_SIGV_CACHE_KEY_LEN;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        ERR_clear_error();
    return ok ? 0 : -1;
}

static size_t
set_of(const uint8_t key[HKP_SIGV_CACHE_KEY_LEN])
{
    uint32_t v;

    memcpy(&v, key, sizeof(v));
    return v & (CACHE_SETS - 1);
}

int
hkp_sigv_cache_get(const uint8_t key[HKP_SIGV_CACHE_KEY_LEN], int *result)
{
    size_t       si = set_of(key);
    cache_set_t *set = &cache_sets[si];
    int          found = 0;

    pthread_mutex_lock(&cache_locks[si % CACHE_LOCKS]);
    for (int i = 0; i < CACHE_WAYS; i++) {
        if (set->e[i].used
            && memcmp(set->e[i].key, key, HKP_SIGV_CACHE_KEY_LEN) == 0) {
            *result = set->e[i].result;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&cache_locks[si % CACHE_LOCKS]);
    __atomic_fetch_add(found ? &cache_hits : &cache_misses, 1,
        __ATOMIC_RELAXED);
    return found;
}

void
hkp_sigv_cache_put(const uint8_t key[HKP_SIGV_CACHE_KEY_LEN], int result)
{
    size_t         si = set_of(key);
    cache_set_t   *set = &cache_sets[si];
    cache_entry_t *e = NULL;

    pthread_mutex_lock(&cache_locks[si % CACHE_LOCKS]);
    /* another thread may have put it meanwhile */
    for (int i = 0; i < CACHE_WAYS; i++)
        if (set->e[i].used
            && memcmp(set->e[i].key, key, HKP_SIGV_CACHE_KEY_LEN) == 0)
            e = &set->e[i];
    if (e == NULL) {
        e = &set->e[set->next];
        set->next = (uint8_t) ((set->next + 1) % CACHE_WAYS);
    }
    memcpy(e->key, key, HKP_SIGV_CACHE_KEY_LEN);
    e->result = (int8_t) result;
    e->used = 1;
    pthread_mutex_unlock(&cache_locks[si % CACHE_LOCKS]);
}

void
hkp_sig_cache_stats(unsigned long *hits, unsigned long *misses)
{
    if (hits != NULL)
        *hits = __atomic_load_n(&cache_hits, __ATOMIC_RELAXED);
    if (misses != NULL)
        *misses = __atomic_load_n(&cache_misses, __ATOMIC_RELAXED);
}

void
hkp_sig_cache_clear(void)
{
    for (int l = 0; l < CACHE_LOCKS; l++)
        pthread_mutex_lock(&cache_locks[l]);
    memset(cache_sets, 0, sizeof(cache_sets));
    for (int l = CACHE_LOCKS - 1; l >= 0; l--)
        pthread_mutex_unlock(&cache_locks[l]);
    __atomic_store_n(&cache_hits, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&cache_misses, 0, __ATOMIC_RELAXED);
}
