/*
 * Takedowns on the recon side (block.h): a blocked key a peer keeps
 * offering is fetched at most once. The fetcher notes the hashes of every
 * key its writer refused as blocked; seen.c writes them into the block
 * (block_note_flush, in its write txn after each session) and leaves out
 * every hash a block remembers (block_hash_blocked), for as long as the
 * block lasts: `reconsvc unblock` forgets them.
 */
#include <string.h>

#include "block.h"
#include "log.h"
#include "profile.h"
#include "store_block.h"

typedef struct {
    uint8_t  hash[HKP_HASH_LEN];
    uint8_t  fpr[32];
    size_t   fpr_len;
} note_t;

/* The fetcher and seen.c run in the event loop's one thread. */
static note_t notes[BLOCK_NOTE_MAX];
static size_t nnotes;

static void
note(const hkp_blockrec_t *rec, const uint8_t h[HKP_HASH_LEN])
{
    for (size_t i = 0; i < nnotes; i++)
        if (memcmp(notes[i].hash, h, HKP_HASH_LEN) == 0)
            return;
    if (nnotes == BLOCK_NOTE_MAX)
        return;                 /* the seen-cache's backoff covers it */
    memcpy(notes[nnotes].hash, h, HKP_HASH_LEN);
    memcpy(notes[nnotes].fpr, rec->fpr, rec->fpr_len);
    notes[nnotes].fpr_len = rec->fpr_len;
    nnotes++;
}

void
block_note_refused(hkp_writer_t *w, const hkp_key_t *key)
{
    MDB_txn *txn = w->step != NULL ? w->step : w->txn;
    hkp_blockrec_t rec;

    if (txn == NULL || hkp_block_key(w->db, txn, key, &rec) != 0)
        return;
    /* the hash a peer offers: the SKS hash, or another profile's */
    note(&rec, key->hash);
    for (size_t i = 1; i < hkp_profile_count() && i < HKP_PROFILE_MAX; i++) {
        const hkp_profile_t *p = hkp_profile_at(i);
        const char *why;
        uint8_t h[HKP_HASH_LEN];
        if (p->hash(p, key, h, &why) == HKP_PROFILE_HASHED)
            note(&rec, h);
    }
}

int
block_note_flush(hkp_db_t *db, MDB_txn *txn)
{
    size_t kept = 0;
    int rc = 0;

    for (size_t i = 0; i < nnotes && rc == 0; i++) {
        hkp_blockrec_t rec;
        int r = hkp_block_get(db, txn, notes[i].fpr, notes[i].fpr_len, &rec);
        if (r == MDB_NOTFOUND)
            continue;           /* unblocked since */
        if (r != 0) {
            rc = r;
            break;
        }
        rc = hkp_block_add_hash(db, txn, rec.fpr, rec.fpr_len,
            notes[i].hash);
        kept++;
    }
    if (rc == 0 && kept > 0)
        rlog("takedown: %zu hash%s of blocked keys remembered: not asked "
            "for again while the block lasts", kept, kept == 1 ? "" : "es");
    nnotes = 0;
    return rc;
}

int
block_hash_blocked(hkp_db_t *db, MDB_txn *txn, const uint8_t h[HKP_HASH_LEN])
{
    return hkp_block_find_hash(db, txn, h, NULL) == 0;
}
