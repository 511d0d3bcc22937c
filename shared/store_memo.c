/*
 * The put memo (store.h): pairs (stored key hash, put key hash) whose
 * merge left the stored key as it was. Open addressing over a fixed table;
 * when it is three quarters full it starts again empty, so it stays
 * bounded (HKP_PUT_MEMO_SLOTS) whatever is put.
 */
#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "store.h"

/* Slots of one memo (a power of two): 32 bytes each plus a flag. */
#define HKP_PUT_MEMO_SLOTS  4096

struct hkp_put_memo {
    uint8_t   pair[HKP_PUT_MEMO_SLOTS][2 * HKP_HASH_LEN];
    uint8_t   used[HKP_PUT_MEMO_SLOTS];
    size_t    n;
};

hkp_put_memo_t *
hkp_put_memo_new(void)
{
    return calloc(1, sizeof(hkp_put_memo_t));
}

void
hkp_put_memo_free(hkp_put_memo_t *m)
{
    free(m);
}

void
hkp_put_memo_clear(hkp_put_memo_t *m)
{
    if (m == NULL)
        return;
    memset(m->used, 0, sizeof(m->used));
    m->n = 0;
}

/* The slot holding the pair, or the empty slot where it would go. */
static size_t
memo_slot(const hkp_put_memo_t *m, const uint8_t *pair)
{
    size_t j = hkp_fnv1a(pair, 2 * HKP_HASH_LEN) & (HKP_PUT_MEMO_SLOTS - 1);

    while (m->used[j] && memcmp(m->pair[j], pair, 2 * HKP_HASH_LEN) != 0)
        j = (j + 1) & (HKP_PUT_MEMO_SLOTS - 1);
    return j;
}

int
hkp_put_memo_has(const hkp_put_memo_t *m, const uint8_t stored[HKP_HASH_LEN],
    const uint8_t put[HKP_HASH_LEN])
{
    uint8_t pair[2 * HKP_HASH_LEN];

    if (m == NULL || m->n == 0)
        return 0;
    memcpy(pair, stored, HKP_HASH_LEN);
    memcpy(pair + HKP_HASH_LEN, put, HKP_HASH_LEN);
    return m->used[memo_slot(m, pair)];
}

void
hkp_put_memo_add(hkp_put_memo_t *m, const uint8_t stored[HKP_HASH_LEN],
    const uint8_t put[HKP_HASH_LEN])
{
    uint8_t pair[2 * HKP_HASH_LEN];
    size_t j;

    if (m == NULL)
        return;
    if ((m->n + 1) * 4 > HKP_PUT_MEMO_SLOTS * 3)
        hkp_put_memo_clear(m);
    memcpy(pair, stored, HKP_HASH_LEN);
    memcpy(pair + HKP_HASH_LEN, put, HKP_HASH_LEN);
    j = memo_slot(m, pair);
    if (!m->used[j]) {
        memcpy(m->pair[j], pair, sizeof(pair));
        m->used[j] = 1;
        m->n++;
    }
}
