/*
 * Hashing ahead of a bulk load (profile_warm.h).
 *
 * The window is a ring of HKP_WARM_DEPTH slots numbered by sequence: head
 * is the oldest key held, tail the next free number. A worker takes the
 * newest key nobody has taken (so it works where the caller will not be
 * for a while), hashes it under every profile, verifies what its
 * self-signature record needs (selfsig.h; unless the store leaves the
 * records to a fill) and marks it done. The
 * caller, taking the oldest key back, waits for a worker still on it, and
 * takes a key no worker reached as it is (its store verifies it then).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile_warm.h"
#include "selfsig.h"

enum { SLOT_QUEUED, SLOT_BUSY, SLOT_DONE, SLOT_TAKEN };

typedef struct {
    hkp_key_t *key;
    int        state;
} slot_t;

struct hkp_warm_s {
    pthread_mutex_t      mtx;
    pthread_cond_t       work;      /* a key queued, or stop */
    pthread_cond_t       done;      /* a worker finished a key */
    slot_t               slot[HKP_WARM_DEPTH];
    size_t               head, tail;
    int                  stop;
    const hkp_profile_t *const *profs;
    size_t               nprofs;
    int                  selfsig;   /* the records' verifications too */
    pthread_t            th[HKP_WARM_MAX_THREADS];
    unsigned             nth;
};

#define SLOT(w, seq)  (&(w)->slot[(seq) % HKP_WARM_DEPTH])

/* The newest queued key's sequence, or tail when there is none. */
static size_t
newest_queued(const hkp_warm_t *w)
{
    for (size_t s = w->tail; s-- > w->head; )
        if (w->slot[s % HKP_WARM_DEPTH].state == SLOT_QUEUED)
            return s;
    return w->tail;
}

static void *
worker(void *arg)
{
    hkp_warm_t *w = arg;

    pthread_mutex_lock(&w->mtx);
    for (;;) {
        size_t  s;
        slot_t *sl;

        while (!w->stop && (s = newest_queued(w)) == w->tail)
            pthread_cond_wait(&w->work, &w->mtx);
        if (w->stop)
            break;
        sl = SLOT(w, s);
        sl->state = SLOT_BUSY;
        pthread_mutex_unlock(&w->mtx);
        for (size_t i = 0; i < w->nprofs; i++) {
            uint8_t     h[HKP_HASH_LEN];
            const char *why;
            (void) w->profs[i]->hash(w->profs[i], sl->key, h, &why);
        }
        /* the store writes the key's self-signature record (selfsig.h):
         * the same verifications, now cache hits there */
        if (w->selfsig) {
            uint8_t *rec = malloc(hkp_selfsig_len(sl->key->npkts));
            if (rec != NULL)
                (void) hkp_selfsig_build(sl->key, rec);
            free(rec);
        }
        pthread_mutex_lock(&w->mtx);
        sl->state = SLOT_DONE;
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->mtx);
    return NULL;
}

unsigned
hkp_warm_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n <= 1)
        return 0;
    return n - 1 > HKP_WARM_MAX_THREADS ? HKP_WARM_MAX_THREADS
                                        : (unsigned) (n - 1);
}

hkp_warm_t *
hkp_warm_new(const hkp_profile_t *const *profs, size_t nprofs,
    int selfsig, unsigned nthreads)
{
    hkp_warm_t *w;

    if (nthreads == 0 || (nprofs == 0 && !selfsig))
        return NULL;
    if (nthreads > HKP_WARM_MAX_THREADS)
        nthreads = HKP_WARM_MAX_THREADS;
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return NULL;
    w->profs = profs;
    w->nprofs = nprofs;
    w->selfsig = selfsig;
    if (pthread_mutex_init(&w->mtx, NULL) != 0) {
        free(w);
        return NULL;
    }
    if (pthread_cond_init(&w->work, NULL) != 0) {
        pthread_mutex_destroy(&w->mtx);
        free(w);
        return NULL;
    }
    if (pthread_cond_init(&w->done, NULL) != 0) {
        pthread_cond_destroy(&w->work);
        pthread_mutex_destroy(&w->mtx);
        free(w);
        return NULL;
    }
    for (unsigned i = 0; i < nthreads; i++)
        if (pthread_create(&w->th[w->nth], NULL, worker, w) == 0)
            w->nth++;
    if (w->nth == 0) {
        hkp_warm_free(w);
        return NULL;
    }
    return w;
}

/* Takes the oldest key out (w->mtx held, head < tail). */
static hkp_key_t *
take_oldest(hkp_warm_t *w)
{
    slot_t    *sl = SLOT(w, w->head);
    hkp_key_t *key;

    if (sl->state == SLOT_QUEUED)
        sl->state = SLOT_TAKEN;     /* no worker reached it */
    while (sl->state == SLOT_BUSY)
        pthread_cond_wait(&w->done, &w->mtx);
    key = sl->key;
    sl->key = NULL;
    w->head++;
    return key;
}

hkp_key_t *
hkp_warm_push(hkp_warm_t *w, hkp_key_t *key)
{
    hkp_key_t *old = NULL;

    pthread_mutex_lock(&w->mtx);
    if (w->tail - w->head == HKP_WARM_DEPTH)
        old = take_oldest(w);
    SLOT(w, w->tail)->key = key;
    SLOT(w, w->tail)->state = SLOT_QUEUED;
    w->tail++;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mtx);
    return old;
}

hkp_key_t *
hkp_warm_pop(hkp_warm_t *w)
{
    hkp_key_t *key = NULL;

    pthread_mutex_lock(&w->mtx);
    if (w->head < w->tail)
        key = take_oldest(w);
    pthread_mutex_unlock(&w->mtx);
    return key;
}

void
hkp_warm_free(hkp_warm_t *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mtx);
    w->stop = 1;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->mtx);
    for (unsigned i = 0; i < w->nth; i++)
        pthread_join(w->th[i], NULL);
    /* workers have stopped: nothing is busy any more */
    for (size_t s = w->head; s < w->tail; s++) {
        hkp_key_t *k = SLOT(w, s)->key;
        if (k != NULL) {
            hkp_key_free(k);
            free(k);
        }
    }
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->mtx);
    free(w);
}
