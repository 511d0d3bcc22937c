/*
 * The hash profiles' trees in the store (store.h): each profile other than
 * sks has its prefix tree and two maps, derived from the stored keys in
 * the same write txn as the keys (hkp_db_put calls hkp_store_prof_add /
 * _del), so no tree can disagree with the keys.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hkp_error.h"
#include "ptree.h"
#include "store_int.h"

/* Longest database name ("ptree." + a profile name). */
#define PROF_DBNAME_LEN  64
/* Longest profile name in a "profiles" list. */
#define PROF_NAME_LEN    32

static const char *const prof_prefix[3] = { "ptree.", "phash.", "pkey." };

/* Serialises hkp_db_profiles_refresh(): LMDB allows one mdb_dbi_open()
 * at a time in a process, and nginx calls it from a worker's event loop
 * and from its thread pool. */
static pthread_mutex_t prof_refresh_mtx = PTHREAD_MUTEX_INITIALIZER;

/* Whether profile pr's databases are open. Set once (release) after its
 * handles are in the environment, read (acquire) from any thread. */
static int
prof_have(const hkp_db_prof_t *pr)
{
    return __atomic_load_n(&pr->have, __ATOMIC_ACQUIRE);
}

/* Opens profile pr's three databases in txn (MDB_CREATE when create). 0,
 * MDB_NOTFOUND when they were never made, or an LMDB code. */
static int
prof_dbis_open(MDB_txn *txn, hkp_db_prof_t *pr, int create)
{
    MDB_dbi *d[3] = { &pr->tree, &pr->byhash, &pr->ofkey };

    for (int j = 0; j < 3; j++) {
        char name[PROF_DBNAME_LEN];
        int  rc;
        snprintf(name, sizeof(name), "%s%s", prof_prefix[j], pr->p->name);
        if ((rc = mdb_dbi_open(txn, name, create ? MDB_CREATE : 0, d[j]))
            != 0)
            return rc;
    }
    return 0;
}

int
hkp_store_prof_open(hkp_db_t *db, MDB_txn *txn, int create)
{
    size_t n = hkp_profile_count();

    memset(db->prof, 0, sizeof(db->prof));
    db->prof[0].p = hkp_profile_at(0);
    db->prof[0].tree = db->ptree;
    db->prof[0].byhash = db->keys;
    db->prof[0].have = 1;
    for (size_t i = 1; i < n && i < HKP_PROFILE_MAX; i++) {
        hkp_db_prof_t *pr = &db->prof[i];
        int            rc;
        pr->p = hkp_profile_at(i);
        rc = prof_dbis_open(txn, pr, create);
        if (rc == MDB_NOTFOUND && !create)
            continue;           /* made before profiles: not maintained */
        if (rc != 0)
            return rc;
        pr->have = 1;
    }
    return 0;
}

/* Parses meta "profiles" into *mask (absent: sks only). 0 or a code. */
static int
profiles_read(hkp_db_t *db, MDB_txn *txn, unsigned *mask)
{
    MDB_val k = { sizeof(HKP_META_PROFILES) - 1, (void *) HKP_META_PROFILES };
    MDB_val v;
    char list[HKP_PROFILES_STR_LEN], bad[PROF_NAME_LEN];
    int rc = mdb_get(txn, db->meta, &k, &v);

    *mask = 1;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (v.mv_size >= sizeof(list))
        return HKP_EPROFILE;
    memcpy(list, v.mv_data, v.mv_size);
    list[v.mv_size] = '\0';
    if (hkp_db_profiles_parse(list, mask, bad, sizeof(bad)) != 0)
        return HKP_EPROFILE;
    return 0;
}

int
hkp_db_profiles_refresh(hkp_db_t *db)
{
    MDB_txn *txn;
    unsigned mask;
    int      rc, opened = 0, missing = 0;

    for (size_t i = 1; i < HKP_PROFILE_MAX; i++) {
        missing |= db->prof[i].p != NULL && !prof_have(&db->prof[i]);
        /* sksout comes with the profiles (reconsvc makes both) */
        missing |= prof_have(&db->prof[i]) && !hkp_store_sksout_have(db);
    }
    if (!missing)
        return 0;               /* the usual case: no txn at all */
    pthread_mutex_lock(&prof_refresh_mtx);
    if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != 0) {
        pthread_mutex_unlock(&prof_refresh_mtx);
        return rc;
    }
    rc = profiles_read(db, txn, &mask);
    for (size_t i = 1; rc == 0 && i < HKP_PROFILE_MAX; i++) {
        hkp_db_prof_t *pr = &db->prof[i];
        hkp_db_prof_t  tmp;
        if (!(mask & (1u << i)) || pr->p == NULL || prof_have(pr))
            continue;
        tmp = *pr;
        rc = prof_dbis_open(txn, &tmp, 0);
        if (rc == MDB_NOTFOUND) {
            rc = 0;             /* named but not made: hkp_db_profiles_get
                                   says so */
            continue;
        }
        if (rc == 0) {
            pr->tree = tmp.tree;
            pr->byhash = tmp.byhash;
            pr->ofkey = tmp.ofkey;
            opened |= 1 << i;
        }
    }
    if (rc == 0 && !hkp_store_sksout_have(db))
        rc = hkp_store_sksout_refresh(db, txn);
    /* a read-only txn's commit keeps the handles it opened */
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc == 0)
        for (size_t i = 1; i < HKP_PROFILE_MAX; i++)
            if (opened & (1 << i))
                __atomic_store_n(&db->prof[i].have, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&prof_refresh_mtx);
    return rc != 0 ? rc : opened != 0;
}

int
hkp_db_profiles_readable(hkp_db_t *db, MDB_txn *txn, unsigned *mask)
{
    int rc = profiles_read(db, txn, mask);

    for (size_t i = 1; rc == 0 && i < HKP_PROFILE_MAX; i++)
        if (!prof_have(&db->prof[i]))
            *mask &= ~(1u << i);
    return rc;
}

/* ------------------------------------------------------------ the set */

int
hkp_db_profiles_parse(const char *list, unsigned *mask, char *bad,
    size_t badlen)
{
    const char *p = list;

    *mask = 1;
    while (*p != '\0') {
        const char *e = strchr(p, ',');
        size_t len = e != NULL ? (size_t) (e - p) : strlen(p);
        char name[PROF_NAME_LEN];
        size_t i, n = hkp_profile_count();

        if (len == 0 || len >= sizeof(name)) {
            snprintf(bad, badlen, "%.*s", (int) len, p);
            return -1;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        for (i = 0; i < n; i++)
            if (strcmp(hkp_profile_at(i)->name, name) == 0)
                break;
        if (i == n) {
            snprintf(bad, badlen, "%s", name);
            return -1;
        }
        *mask |= 1u << i;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

void
hkp_db_profiles_str(unsigned mask, char *out, size_t len)
{
    size_t o = 0, n = hkp_profile_count();

    out[0] = '\0';
    mask |= 1;
    for (size_t i = 0; i < n && o < len; i++)
        if (mask & (1u << i))
            o += (size_t) snprintf(out + o, len - o, "%s%s", o ? "," : "",
                hkp_profile_at(i)->name);
}

int
hkp_db_profiles_get(hkp_db_t *db, MDB_txn *txn, unsigned *mask)
{
    int rc = profiles_read(db, txn, mask);

    if (rc != 0)
        return rc;
    for (size_t i = 1; i < HKP_PROFILE_MAX; i++)
        if ((*mask & (1u << i)) && !prof_have(&db->prof[i]))
            return HKP_EPROFILE;
    return 0;
}

static int
prof_clear(MDB_txn *txn, hkp_db_prof_t *pr)
{
    int rc;
    if ((rc = mdb_drop(txn, pr->tree, 0)) != 0
        || (rc = mdb_drop(txn, pr->byhash, 0)) != 0
        || (rc = mdb_drop(txn, pr->ofkey, 0)) != 0)
        return rc;
    return 0;
}

int
hkp_db_profiles_set(hkp_db_t *db, MDB_txn *txn, unsigned mask, int *changed,
    char *err, size_t errlen)
{
    MDB_val k = { sizeof(HKP_META_PROFILES) - 1, (void *) HKP_META_PROFILES };
    MDB_val v;
    char list[HKP_PROFILES_STR_LEN];
    unsigned old;
    int rc;

    *changed = 0;
    mask |= 1;
    if ((rc = hkp_db_profiles_get(db, txn, &old)) != 0) {
        snprintf(err, errlen, "reading meta \"profiles\": %s",
            hkp_strerror(rc));
        return rc;
    }
    for (size_t i = 1; i < HKP_PROFILE_MAX; i++) {
        unsigned bit = 1u << i;
        if ((mask & bit) && !db->prof[i].have) {
            snprintf(err, errlen, "profile %s: its databases are missing "
                "(open the database for writing first)", db->prof[i].p->name);
            return HKP_EPROFILE;
        }
        if ((old & bit) && !(mask & bit)
            && (rc = prof_clear(txn, &db->prof[i])) != 0)
        {
            snprintf(err, errlen, "dropping the %s tree: %s",
                db->prof[i].p->name, hkp_strerror(rc));
            return rc;
        }
        if (!(old & bit) && (mask & bit)
            && (rc = hkp_db_prof_rebuild(db, txn, i, err, errlen)) != 0)
            return rc;
    }
    if (old == mask)
        return 0;
    hkp_db_profiles_str(mask, list, sizeof(list));
    v.mv_size = strlen(list);
    v.mv_data = list;
    if ((rc = mdb_put(txn, db->meta, &k, &v, 0)) != 0) {
        snprintf(err, errlen, "writing meta \"profiles\": %s",
            hkp_strerror(rc));
        return rc;
    }
    *changed = 1;
    return 0;
}

/* ------------------------------------------------------------ per key */

/* Profile i's entry for the stored key `sks` with profile hash h: both
 * maps and, unless deferred (tree 0), the tree. A hash that is a sample
 * point, or already another key's, gets no entry (1). 0, 1 or a code. */
static int
entry_add(MDB_txn *txn, hkp_db_prof_t *pr, const uint8_t sks[HKP_HASH_LEN],
    const uint8_t h[HKP_HASH_LEN], int tree)
{
    MDB_val hk = { HKP_HASH_LEN, (void *) h };
    MDB_val sk = { HKP_HASH_LEN, (void *) sks };
    int rc;

    if (hkp_ptree_is_sample(h))
        return 1;
    rc = mdb_put(txn, pr->byhash, &hk, &sk, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST)
        return 1;
    if (rc != 0)
        return rc;
    if ((rc = mdb_put(txn, pr->ofkey, &sk, &hk, 0)) != 0)
        return rc;
    return tree ? hkp_ptree_insert(txn, pr->tree, h) : 0;
}

/* Profile i's hash of a key: 0 hashed, 1 dropped, or a code. */
static int
prof_hash(const hkp_db_prof_t *pr, const hkp_key_t *key,
    uint8_t h[HKP_HASH_LEN])
{
    const char *why = NULL;
    int r = pr->p->hash(pr->p, key, h, &why);

    if (r == HKP_PROFILE_HASHED)
        return 0;
    if (r == HKP_PROFILE_DROPPED)
        return 1;
    return HKP_ENOMEM;          /* out of memory or a libcrypto failure */
}

/* Each maintained profile but sks over a key just stored under
 * key->hash: with add, its entry (0 when done); without, whether one
 * keeps the key (1 at the first, 0 when none). Or a code. */
static int
prof_walk(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key, int add)
{
    unsigned mask;
    int rc;

    if ((rc = hkp_db_profiles_get(db, txn, &mask)) != 0)
        return rc;
    for (size_t i = 1; i < HKP_PROFILE_MAX; i++) {
        uint8_t h[HKP_HASH_LEN];
        if (!(mask & (1u << i)))
            continue;
        rc = prof_hash(&db->prof[i], key, h);
        if (rc == 0 && !add)
            return 1;
        if (rc == 0)
            rc = entry_add(txn, &db->prof[i], key->hash, h, 1);
        if (rc < 0 || rc > 1)
            return rc;
    }
    return 0;
}

int
hkp_store_prof_add(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key)
{
    return prof_walk(db, txn, key, 1);
}

int
hkp_store_prof_keeps(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key)
{
    return prof_walk(db, txn, key, 0);
}

int
hkp_store_prof_del(hkp_db_t *db, MDB_txn *txn,
    const uint8_t hash[HKP_HASH_LEN])
{
    unsigned mask;
    int rc;

    if ((rc = hkp_db_profiles_get(db, txn, &mask)) != 0)
        return rc;
    for (size_t i = 1; i < HKP_PROFILE_MAX; i++) {
        hkp_db_prof_t *pr = &db->prof[i];
        MDB_val sk = { HKP_HASH_LEN, (void *) hash }, hv;
        uint8_t h[HKP_HASH_LEN];
        if (!(mask & (1u << i)))
            continue;
        rc = mdb_get(txn, pr->ofkey, &sk, &hv);
        if (rc == MDB_NOTFOUND)
            continue;           /* dropped by the profile */
        if (rc != 0)
            return rc;
        if (hv.mv_size != HKP_HASH_LEN)
            return HKP_EPTREE;
        memcpy(h, hv.mv_data, HKP_HASH_LEN);
        MDB_val hk = { HKP_HASH_LEN, h };
        if ((rc = mdb_del(txn, pr->ofkey, &sk, NULL)) != 0
            || (rc = mdb_del(txn, pr->byhash, &hk, NULL)) != 0)
            return rc == MDB_NOTFOUND ? HKP_EPTREE : rc;
        if ((rc = hkp_ptree_remove(txn, pr->tree, h)) != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ whole */

int
hkp_db_prof_rebuild(hkp_db_t *db, MDB_txn *txn, size_t i, char *err,
    size_t errlen)
{
    hkp_db_prof_t *pr = &db->prof[i];
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    const char *perr = NULL;
    int rc;

    if (i == 0 || i >= HKP_PROFILE_MAX || !pr->have) {
        snprintf(err, errlen, "no such profile tree");
        return HKP_EPROFILE;
    }
    if ((rc = prof_clear(txn, pr)) != 0
        || (rc = mdb_cursor_open(txn, db->keys, &cur)) != 0)
    {
        snprintf(err, errlen, "%s tree: %s", pr->p->name, hkp_strerror(rc));
        return rc;
    }
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        hkp_key_t key;
        uint8_t h[HKP_HASH_LEN];
        char kerr[HKP_REASON_LEN];

        if (k.mv_size != HKP_HASH_LEN
            || hkp_key_decode(v.mv_data, v.mv_size, &key, kerr, sizeof(kerr))
               != 0)
        {
            rc = HKP_ESTORED;
            break;
        }
        rc = prof_hash(pr, &key, h);
        if (rc == 0)
            rc = entry_add(txn, pr, k.mv_data, h, 0);
        hkp_key_free(&key);
        if (rc < 0 || rc > 1)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
        snprintf(err, errlen, "%s tree: %s", pr->p->name, hkp_strerror(rc));
        return rc;
    }
    if (hkp_ptree_rebuild(txn, pr->tree, pr->byhash, NULL, &perr) != 0) {
        snprintf(err, errlen, "%s tree: %s", pr->p->name,
            perr != NULL ? perr : "rebuild failed");
        return HKP_EPTREE;
    }
    return 0;
}

static void
hexhash(const uint8_t *h, char out[2 * HKP_HASH_LEN + 1])
{
    for (int j = 0; j < HKP_HASH_LEN; j++)
        snprintf(out + 2 * j, 3, "%02X", h[j]);
}

/* Both maps are each other's inverse, and name stored keys. Differences
 * or -1. */
static long
check_maps(hkp_db_t *db, MDB_txn *txn, hkp_db_prof_t *pr,
    void (*report)(void *ctx, const char *line), void *ctx)
{
    MDB_cursor *cur;
    MDB_val k, v, w;
    char line[256], a[2 * HKP_HASH_LEN + 1];
    long diffs = 0;
    int rc;

    for (int dir = 0; dir < 2; dir++) {
        MDB_dbi from = dir == 0 ? pr->byhash : pr->ofkey;
        MDB_dbi to = dir == 0 ? pr->ofkey : pr->byhash;
        if (mdb_cursor_open(txn, from, &cur) != 0)
            return -1;
        while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
            MDB_val back = v;
            int bad = k.mv_size != HKP_HASH_LEN || v.mv_size != HKP_HASH_LEN
                || mdb_get(txn, to, &back, &w) != 0
                || w.mv_size != k.mv_size
                || memcmp(w.mv_data, k.mv_data, k.mv_size) != 0;
            if (!bad && dir == 1) {
                MDB_val kk = k;
                bad = mdb_get(txn, db->keys, &kk, &w) != 0;
            }
            if (bad) {
                hexhash(k.mv_data, a);
                snprintf(line, sizeof(line), "profile %s: %s entry %s has "
                    "no matching %s entry%s", pr->p->name,
                    dir == 0 ? "phash" : "pkey", a,
                    dir == 0 ? "pkey" : "phash or stored key", "");
                report(ctx, line);
                diffs++;
            }
        }
        mdb_cursor_close(cur);
        if (rc != MDB_NOTFOUND)
            return -1;
    }
    return diffs;
}

int
hkp_db_prof_check(hkp_db_t *db, MDB_txn *txn, size_t i,
    void (*report)(void *ctx, const char *line), void *ctx)
{
    hkp_db_prof_t *pr = &db->prof[i];
    MDB_cursor *cur;
    MDB_val k, v, w;
    char line[256], a[2 * HKP_HASH_LEN + 1];
    long diffs, d;
    int rc;

    if (i == 0 || i >= HKP_PROFILE_MAX || !pr->have)
        return -1;
    if ((d = hkp_ptree_check(txn, pr->tree, pr->byhash, NULL, report, ctx)) < 0)
        return -1;
    diffs = d;
    if ((d = check_maps(db, txn, pr, report, ctx)) < 0)
        return -1;
    diffs += d;
    /* every key hashed again */
    if (mdb_cursor_open(txn, db->keys, &cur) != 0)
        return -1;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        hkp_key_t key;
        uint8_t h[HKP_HASH_LEN];
        const char *why = "";
        char kerr[HKP_REASON_LEN];
        MDB_val kk = k;
        int r, has;

        if (k.mv_size != HKP_HASH_LEN
            || hkp_key_decode(v.mv_data, v.mv_size, &key, kerr, sizeof(kerr))
               != 0)
        {
            mdb_cursor_close(cur);
            return -1;
        }
        r = prof_hash(pr, &key, h);
        hkp_key_free(&key);
        if (r < 0 || r > 1) {
            mdb_cursor_close(cur);
            return -1;
        }
        has = mdb_get(txn, pr->ofkey, &kk, &w) == 0;
        if (r == 1 && has)
            why = "dropped by the profile but in its tree";
        else if (r == 0 && has && (w.mv_size != HKP_HASH_LEN
                 || memcmp(w.mv_data, h, HKP_HASH_LEN) != 0))
            why = "in the tree under another hash";
        else if (r == 0 && !has && !hkp_ptree_is_sample(h)) {
            MDB_val hk = { HKP_HASH_LEN, h };
            if (mdb_get(txn, pr->byhash, &hk, &w) != 0)
                why = "missing from the tree";
        }
        if (*why != '\0') {
            hexhash(k.mv_data, a);
            snprintf(line, sizeof(line), "profile %s: key %s %s",
                pr->p->name, a, why);
            report(ctx, line);
            diffs++;
        }
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return -1;
    return (int) diffs;
}

int
hkp_db_prof_find(hkp_db_t *db, MDB_txn *txn, size_t i,
    const uint8_t phash[HKP_HASH_LEN], uint8_t sks[HKP_HASH_LEN])
{
    MDB_val k = { HKP_HASH_LEN, (void *) phash }, v;
    int rc;

    if (i >= HKP_PROFILE_MAX || !db->prof[i].have)
        return MDB_NOTFOUND;
    if ((rc = mdb_get(txn, db->prof[i].byhash, &k, &v)) != 0)
        return rc;
    if (i == 0 && (rc = hkp_db_sks_out(db, txn, phash)) != 0)
        return rc == 1 ? MDB_NOTFOUND : rc;   /* the sks profile drops it */
    if (i == 0)
        memcpy(sks, phash, HKP_HASH_LEN);
    else if (v.mv_size != HKP_HASH_LEN)
        return HKP_EPTREE;
    else
        memcpy(sks, v.mv_data, HKP_HASH_LEN);
    return 0;
}

int
hkp_db_find_any(hkp_db_t *db, MDB_txn *txn, const uint8_t hash[HKP_HASH_LEN],
    uint8_t sks[HKP_HASH_LEN])
{
    unsigned mask;
    int      r;

    if ((r = hkp_db_profiles_get(db, txn, &mask)) != 0)
        return r;
    for (size_t i = 0; i < HKP_PROFILE_MAX; i++) {
        if (!(mask & (1u << i)))
            continue;
        if ((r = hkp_db_prof_find(db, txn, i, hash, sks)) != MDB_NOTFOUND)
            return r;
    }
    return MDB_NOTFOUND;
}
