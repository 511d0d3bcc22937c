/*
 * The LMDB schema: open and close (see store.h), and the one write path,
 * hkp_db_put(). Index entries and lookups are store_index.c, the meta
 * records store_meta.c.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "hkp_error.h"
#include "hkp_limits.h"
#include "ptree.h"
#include "store_block.h"
#include "store_int.h"

static void
seterr(char *err, size_t errlen, const char *fmt, const char *a,
    const char *b)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, fmt, a, b);
}

static int
open_dbi(MDB_txn *txn, const char *name, unsigned flags, MDB_dbi *dbi,
    int create, char *err, size_t errlen)
{
    int rc = mdb_dbi_open(txn, name, flags | (create ? MDB_CREATE : 0), dbi);
    if (rc == MDB_NOTFOUND) {
        seterr(err, errlen, "database \"%s\" missing (%s): the environment "
            "was never initialised; run \"reconsvc import\" or start "
            "reconsvc first", name, mdb_strerror(rc));
        return rc;
    }
    if (rc != 0) {
        seterr(err, errlen, "mdb_dbi_open(%s): %s", name, mdb_strerror(rc));
        return rc;
    }
    return 0;
}

/* mkdir -p: creates path and its missing parents (mode 0755). */
static int
mkdir_parents(const char *path)
{
    char    buf[4096];
    size_t  len = strlen(path);

    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/*
 * EACCES/EPERM opening the environment: names the file of it this process
 * may not use and whose it is, e.g. ": /var/lib/hkp/db/lock.mdb belongs
 * to user hkp (uid 998), this process runs as www-data (uid 33)". Empty
 * when no file of it is the cause.
 */
static void
owner_hint(const char *path, int rdonly, char *buf, size_t len)
{
    static const char *files[] = { "lock.mdb", "data.mdb", NULL };
    char           p[4200];
    struct stat    st;
    struct passwd *pw;
    char           owner[64], me[64];

    buf[0] = '\0';
    for (int i = 0; files[i] != NULL; i++) {
        int mode = i == 0 || !rdonly ? R_OK | W_OK : R_OK;
        snprintf(p, sizeof(p), "%s/%s", path, files[i]);
        if (stat(p, &st) != 0 || access(p, mode) == 0
            || (errno != EACCES && errno != EPERM))
            continue;
        pw = getpwuid(st.st_uid);
        snprintf(owner, sizeof(owner), "%s", pw ? pw->pw_name : "?");
        pw = getpwuid(geteuid());
        snprintf(me, sizeof(me), "%s", pw ? pw->pw_name : "?");
        snprintf(buf, len, ": %.300s belongs to user %s (uid %u, mode %03o), "
            "this process runs as user %s (uid %u)", p, owner,
            (unsigned) st.st_uid, (unsigned) (st.st_mode & 0777), me,
            (unsigned) geteuid());
        return;
    }
}

/* hkp_db_open() returning the code of what failed. */
static int
open_env(hkp_db_t *db, const char *path, unsigned flags, size_t mapsize,
    char *err, size_t errlen)
{
    int rdonly = (flags & HKP_DB_RDONLY) != 0;
    int create = !rdonly && !(flags & HKP_DB_NOCREATE);
    unsigned envflags = MDB_NOTLS;
    MDB_txn *txn = NULL;
    struct stat st;
    int rc = 0, dead = 0;
    const char *werr = NULL;

    memset(db, 0, sizeof(*db));
    if (mapsize == 0)
        mapsize = HKP_DB_DEFAULT_MAPSIZE;

    if (!create) {
        char dpath[4096];
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            rc = errno;
            seterr(err, errlen, "no database directory at %s (%s)", path,
                strerror(rc));
            return rc;
        }
        snprintf(dpath, sizeof(dpath), "%s/data.mdb", path);
        if (stat(dpath, &st) != 0) {
            rc = errno;
            seterr(err, errlen, "no database at %s (%s); run \"reconsvc "
                "import\" or start reconsvc first", path, strerror(rc));
            return rc;
        }
        if (rdonly)
            envflags |= MDB_RDONLY;
    } else {
        if (mkdir_parents(path) != 0) {
            rc = errno;
            seterr(err, errlen, "mkdir %s: %s", path, strerror(rc));
            return rc;
        }
        if (flags & HKP_DB_NOSYNC)
            envflags |= MDB_NOSYNC;
        if (flags & HKP_DB_NOMETASYNC)
            envflags |= MDB_NOMETASYNC;
        if (flags & HKP_DB_WRITEMAP)
            envflags |= MDB_WRITEMAP;
    }

    if ((rc = mdb_env_create(&db->env)) != 0) {
        seterr(err, errlen, "mdb_env_create: %s%s", mdb_strerror(rc), "");
        db->env = NULL;
        return rc;
    }
    if ((rc = mdb_env_set_maxdbs(db->env, HKP_DB_MAXDBS)) != 0
        || (rc = mdb_env_set_maxreaders(db->env, HKP_DB_MAXREADERS)) != 0
        || (rc = mdb_env_set_mapsize(db->env, mapsize)) != 0)
    {
        seterr(err, errlen, "mdb_env_set_*: %s%s", mdb_strerror(rc), "");
        goto fail;
    }
    /* 0664: readers (nginx workers) need write access to lock.mdb even
     * with MDB_RDONLY; give the env directory to the workers' group. */
    if ((rc = mdb_env_open(db->env, path, envflags, 0664)) != 0) {
        char why[600], hint[512];
        hint[0] = '\0';
        if (rc == EACCES || rc == EPERM)
            owner_hint(path, rdonly, hint, sizeof(hint));
        snprintf(why, sizeof(why), "%s%s", mdb_strerror(rc), hint);
        seterr(err, errlen, "mdb_env_open(%s): %s", path, why);
        goto fail;
    }
    if ((rc = mdb_reader_check(db->env, &dead)) != 0) {
        seterr(err, errlen, "mdb_reader_check(%s): %s", path,
            mdb_strerror(rc));
        goto fail;
    }

    if ((rc = mdb_txn_begin(db->env, NULL, create ? 0 : MDB_RDONLY, &txn))
        != 0)
    {
        seterr(err, errlen, "mdb_txn_begin(%s): %s", path, mdb_strerror(rc));
        goto fail;
    }
    {
        unsigned ix = MDB_DUPSORT | MDB_DUPFIXED;
        int c = create;
        if ((rc = open_dbi(txn, "meta", 0, &db->meta, c, err, errlen)) != 0
            || (rc = open_dbi(txn, "keys", 0, &db->keys, c, err, errlen)) != 0
            || (rc = open_dbi(txn, "fpr", ix, &db->fpr, c, err, errlen)) != 0
            || (rc = open_dbi(txn, "kid64", ix, &db->kid64, c, err, errlen))
               != 0
            || (rc = open_dbi(txn, "kid32", ix, &db->kid32, c, err, errlen))
               != 0
            || (rc = open_dbi(txn, "word", ix, &db->word, c, err, errlen))
               != 0
            || (rc = open_dbi(txn, "ptree", 0, &db->ptree, c, err, errlen))
               != 0)
            goto fail;
    }
    /* the prefix log: created by a process that creates databases; an
     * older environment opened without that has none (nothing logged) */
    rc = mdb_dbi_open(txn, "prefixlog", create ? MDB_CREATE : 0,
        &db->prefixlog);
    if (rc == 0)
        db->have_prefixlog = 1;
    else if (rc != MDB_NOTFOUND) {
        seterr(err, errlen, "mdb_dbi_open(%s): %s", "prefixlog",
            mdb_strerror(rc));
        goto fail;
    }
    if ((rc = hkp_store_redact_open(db, txn, create)) != 0) {
        seterr(err, errlen, "mdb_dbi_open(redact): %s%s", mdb_strerror(rc),
            "");
        goto fail;
    }
    if ((rc = hkp_store_prof_open(db, txn, create)) != 0) {
        seterr(err, errlen, "opening the profile trees: %s%s",
            hkp_strerror(rc), "");
        goto fail;
    }
    if ((rc = hkp_store_sksout_open(db, txn, create)) != 0) {
        seterr(err, errlen, "mdb_dbi_open(sksout): %s%s", mdb_strerror(rc),
            "");
        goto fail;
    }
    if ((rc = hkp_store_selfsig_open(db, txn, create)) != 0) {
        seterr(err, errlen, "mdb_dbi_open(selfsig): %s%s", mdb_strerror(rc),
            "");
        goto fail;
    }
    if ((rc = hkp_block_open(db, txn, create)) != 0) {
        seterr(err, errlen, "opening the \"%s\" database: %s",
            HKP_BLOCK_DB, hkp_strerror(rc));
        goto fail;
    }

    /* An environment made before the prefix tree existed: build it. */
    if (create) {
        MDB_stat ks, ps;
        const char *perr = "prefix tree build failed";
        if ((rc = mdb_stat(txn, db->keys, &ks)) != 0
            || (rc = mdb_stat(txn, db->ptree, &ps)) != 0)
        {
            seterr(err, errlen, "mdb_stat: %s%s", mdb_strerror(rc), "");
            goto fail;
        }
        if (ps.ms_entries == 0 && ks.ms_entries > 0
            && hkp_ptree_rebuild(txn, db->ptree, db->keys,
                   db->have_sksout ? &db->sksout : NULL, &perr) != 0)
        {
            seterr(err, errlen, "building the prefix tree: %s%s", perr, "");
            rc = HKP_EPTREE;
            goto fail;
        }
    }

    /* Schema version. */
    {
        MDB_val k = { sizeof(HKP_META_SCHEMA) - 1, (void *) HKP_META_SCHEMA }, v;
        rc = mdb_get(txn, db->meta, &k, &v);
        if (rc == MDB_NOTFOUND && create) {
            MDB_val sv = { sizeof(HKP_SCHEMA_VERSION) - 1,
                           (void *) HKP_SCHEMA_VERSION };
            uint8_t zero[8];
            MDB_val ck = { sizeof(HKP_META_COUNT) - 1, (void *) HKP_META_COUNT };
            MDB_val cv = { 8, zero };
            hkp_store_put_u64be(zero, 0);
            if ((rc = mdb_put(txn, db->meta, &k, &sv, 0)) != 0
                || (rc = mdb_put(txn, db->meta, &ck, &cv, MDB_NOOVERWRITE))
                   != 0)
            {
                if (rc != MDB_KEYEXIST) {
                    seterr(err, errlen, "writing meta: %s%s",
                        mdb_strerror(rc), "");
                    goto fail;
                }
            }
        } else if (rc == MDB_NOTFOUND) {
            seterr(err, errlen, "database at %s has no schema version; "
                "%s", path, "it was never initialised");
            rc = HKP_ESCHEMA;
            goto fail;
        } else if (rc != 0) {
            seterr(err, errlen, "reading meta: %s%s", mdb_strerror(rc), "");
            goto fail;
        } else if (v.mv_size != sizeof(HKP_SCHEMA_VERSION) - 1
            || memcmp(v.mv_data, HKP_SCHEMA_VERSION, v.mv_size) != 0)
        {
            char got[32];
            size_t n = v.mv_size < sizeof(got) - 1 ? v.mv_size
                                                   : sizeof(got) - 1;
            memcpy(got, v.mv_data, n);
            got[n] = '\0';
            seterr(err, errlen, "database schema version \"%s\", this "
                "program needs \"%s\"", got, HKP_SCHEMA_VERSION);
            rc = HKP_ESCHEMA;
            goto fail;
        }
    }

    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        seterr(err, errlen, "mdb_txn_commit(%s): %s", path, mdb_strerror(rc));
        goto fail;
    }
    txn = NULL;

    if (!rdonly) {
        db->words = hkp_words_new(&werr);
        if (db->words == NULL) {
            seterr(err, errlen, "word tokenizer: %s%s",
                werr ? werr : "failed", "");
            rc = HKP_ENOMEM;
            goto fail;
        }
    }
    return 0;

fail:
    if (txn != NULL)
        mdb_txn_abort(txn);
    mdb_env_close(db->env);
    db->env = NULL;
    return rc != 0 ? rc : HKP_EPTREE;
}

int
hkp_db_open(hkp_db_t *db, const char *path, unsigned flags, size_t mapsize,
    char *err, size_t errlen)
{
    return open_env(db, path, flags, mapsize, err, errlen);
}

void
hkp_db_close(hkp_db_t *db)
{
    if (db->words != NULL)
        hkp_words_free(db->words);
    db->words = NULL;
    if (db->env != NULL)
        mdb_env_close(db->env);
    db->env = NULL;
}

int
hkp_db_sync(hkp_db_t *db)
{
    return mdb_env_sync(db->env, 1);
}

int
hkp_db_rtxn(hkp_db_t *db, MDB_txn **txn)
{
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED) {
        /* refused (HKP_EMAPBUSY) while another txn of ours is active */
        rc = hkp_db_map_set(db, 0);
        if (rc == 0)
            rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, txn);
    }
    if (rc != 0)
        *txn = NULL;
    return rc;
}

int
hkp_db_get(hkp_db_t *db, MDB_txn *txn, const uint8_t hash[HKP_HASH_LEN],
    MDB_val *val)
{
    MDB_val k = { HKP_HASH_LEN, (void *) hash };
    return mdb_get(txn, db->keys, &k, val);
}

/* ------------------------------------------------------------------ */
/* The write path                                                       */

/* A reason for a key code in res (storage the caller owns); returns code. */
static int
key_fail(hkp_put_result_t *res, int code, const char *why)
{
    snprintf(res->reason, sizeof(res->reason), "%s",
        why != NULL ? why : hkp_strerror(code));
    return code;
}

/* The tree update for one hash: deferred into the batch, or at once. */
static int
tree_update(hkp_db_t *db, MDB_txn *txn, const hkp_put_opts_t *o,
    const uint8_t hash[HKP_HASH_LEN], int add)
{
    if (o->ptree_batch != NULL)
        return hkp_ptree_batch_add(o->ptree_batch, hash, add);
    return add ? hkp_ptree_insert(txn, db->ptree, hash)
               : hkp_ptree_remove(txn, db->ptree, hash);
}

/* Deletes a stored key and all its index entries. */
static int
remove_key(hkp_db_t *db, MDB_txn *txn, const hkp_put_opts_t *o,
    const hkp_key_t *old, const uint8_t hash[HKP_HASH_LEN],
    hkp_put_result_t *res)
{
    MDB_val k = { HKP_HASH_LEN, (void *) hash };
    int rc, r;

    if ((rc = hkp_store_index_key(db, txn, old, hash, 0, res->reason,
            sizeof(res->reason))) != 0)
        return rc;
    rc = mdb_del(txn, db->keys, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0 && ((r = old->tail
                         ? hkp_store_sksout_mark(db, txn, hash, 0)
                         : tree_update(db, txn, o, hash, 0)) != 0
                    || (r = hkp_store_prof_del(db, txn, hash)) != 0
                    || (r = hkp_store_selfsig_del(db, txn, hash)) != 0))
        return r;
    return hkp_store_count_add(db, txn, rc == 0 ? -1 : 0);
}

static int
store_key(hkp_db_t *db, MDB_txn *txn, const hkp_put_opts_t *o,
    const hkp_key_t *key, hkp_put_result_t *res)
{
    MDB_val k = { HKP_HASH_LEN, (void *) key->hash }, v;
    size_t len = hkp_key_encoded_len(key);
    int rc, existed;

    if (len == 0)
        return key_fail(res, HKP_EKEY, "empty key");
    /* Usually new: an insert that refuses to overwrite also tells whether
     * the key existed, in one lookup; if it did, overwrite it. */
    v.mv_size = len;
    v.mv_data = NULL;
    rc = mdb_put(txn, db->keys, &k, &v, MDB_RESERVE | MDB_NOOVERWRITE);
    existed = rc == MDB_KEYEXIST;
    if (existed) {
        v.mv_size = len;
        v.mv_data = NULL;
        rc = mdb_put(txn, db->keys, &k, &v, MDB_RESERVE);
    }
    if (rc != 0)
        return rc;
    if ((uint8_t *) hkp_key_encode(key, v.mv_data) - (uint8_t *) v.mv_data
        != (ptrdiff_t) len)
        return key_fail(res, HKP_EKEY, "key encoding length mismatch");
    if ((rc = hkp_store_index_key(db, txn, key, key->hash, 1, res->reason,
            sizeof(res->reason))) != 0)
        return rc;
    /* Same txn as the key: the tree never disagrees with the keys. A key
     * the sks profile drops is marked instead. */
    if (!existed && key->tail
        && (rc = hkp_store_sksout_mark(db, txn, key->hash, 1)) != 0)
        return rc;
    if (!existed && !key->tail
        && (rc = tree_update(db, txn, o, key->hash, 1)) != 0)
        return rc == HKP_ESAMPLE ? key_fail(res, rc, NULL) : rc;
    /* and every other profile's tree (store_profile.c) */
    if (!existed && (rc = hkp_store_prof_add(db, txn, key)) != 0)
        return rc;
    /* after the profiles: a self-signature one of them verified is a
     * cache hit here (sigverify.h) */
    if ((rc = hkp_store_selfsig_put(db, txn, key, o->selfsig_later)) != 0)
        return rc == HKP_EKEY ? key_fail(res, rc, "key has no primary")
                              : rc;
    return hkp_store_count_add(db, txn, existed ? 0 : 1);
}

int
hkp_db_del(hkp_db_t *db, MDB_txn *txn, const uint8_t hash[HKP_HASH_LEN],
    char *reason, size_t rlen)
{
    static const hkp_put_opts_t direct;  /* trees updated at once */
    hkp_put_result_t res;
    hkp_key_t old;
    MDB_val k = { HKP_HASH_LEN, (void *) hash }, v;
    int rc;

    if (db->words == NULL)
        return HKP_ERDONLY;
    if ((rc = mdb_get(txn, db->keys, &k, &v)) != 0)
        return rc == MDB_NOTFOUND ? 1 : rc;
    if (hkp_key_decode(v.mv_data, v.mv_size, &old, reason, rlen) != 0)
        return HKP_ESTORED;
    memset(&res, 0, sizeof(res));
    rc = remove_key(db, txn, &direct, &old, hash, &res);
    if (rc != 0)
        snprintf(reason, rlen, "%s", res.reason[0] ? res.reason
                                                   : hkp_strerror(rc));
    hkp_key_free(&old);
    return rc;
}

/* Decodes of stored keys made by hkp_db_put (see store.h). */
static _Atomic unsigned long stored_decodes;

unsigned long
hkp_db_stored_decodes(void)
{
    return stored_decodes;
}

/*
 * The put memo (store.h): when exactly one stored key starts with key's
 * primary key packet and the memo says merging key into it changed
 * nothing, *res is UNCHANGED with that key's hash. 0 (res->status left
 * HKP_PUT_NEW otherwise) or an LMDB code.
 */
static int
memo_hit(hkp_db_t *db, MDB_txn *txn, const hkp_put_memo_t *memo,
    const hkp_key_t *key, hkp_hash_t *cand, size_t ncand,
    hkp_put_result_t *res)
{
    const uint8_t *one = NULL;
    const char *err;

    for (size_t i = 0; i < ncand; i++) {
        MDB_val k = { HKP_HASH_LEN, cand[i] }, v;
        hkp_pkt_t first;
        size_t used;
        int rc = mdb_get(txn, db->keys, &k, &v);

        if (rc == MDB_NOTFOUND)
            continue;
        if (rc != 0)
            return rc;
        if (hkp_pkt_read(v.mv_data, v.mv_size, &first, &used, &err) != 0
            || !hkp_pkt_eq(&first, &key->pkts[0]))
            continue;
        if (one != NULL)
            return 0;           /* several: they are merged together */
        one = cand[i];
    }
    if (one != NULL && hkp_put_memo_has(memo, one, key->hash)) {
        res->status = HKP_PUT_UNCHANGED;
        memcpy(res->hash, one, HKP_HASH_LEN);
    }
    return 0;
}

/* A key to store with a tail SKS refuses (key.h): 0 when it may be
 * stored (another maintained profile keeps it, and none of the stored
 * keys it replaces is in the sks profile), else HKP_EKEY with SKS's
 * reason, or a database code. 0 for a key without a tail. */
static int
tail_allowed(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key,
    const hkp_key_t *olds, size_t nold, hkp_put_result_t *res)
{
    const char *why = hkp_key_sks_reason(key);
    int rc;

    if (why == NULL)
        return 0;
    for (size_t i = 0; i < nold; i++)
        if (olds[i].tail == 0) {
            snprintf(res->reason, sizeof(res->reason), "%s (SKS refuses "
                "it; the stored key, which SKS keeps, stays as it is)", why);
            return HKP_EKEY;
        }
    if (!hkp_store_sksout_have(db))
        return key_fail(res, HKP_EKEY, why);
    if ((rc = hkp_store_prof_keeps(db, txn, key)) < 0)
        return key_fail(res, rc, NULL);
    return rc == 1 ? 0 : key_fail(res, HKP_EKEY, why);
}

/* HKP_EBLOCKED with the block's reason when key or one of its subkeys is
 * blocked (store_block.h); 0 when not; a database code. */
static int
hkp_db_put_blocked(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key,
    hkp_put_result_t *res)
{
    hkp_blockrec_t rec;
    int rc = hkp_block_key(db, txn, key, &rec);

    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return key_fail(res, rc, NULL);
    hkp_block_reason_str(&rec, res->reason, sizeof(res->reason));
    return HKP_EBLOCKED;
}

int
hkp_store_dbi_optional(MDB_txn *txn, const char *name, int create,
    MDB_dbi *dbi, int *have)
{
    int rc = mdb_dbi_open(txn, name, create ? MDB_CREATE : 0, dbi);

    *have = rc == 0;
    return rc == MDB_NOTFOUND && !create ? 0 : rc;
}

long
hkp_store_report_key(void (*report)(void *ctx, const char *line), void *ctx,
    const char *what, const uint8_t hash[HKP_HASH_LEN], const char *why)
{
    char line[200], hex[2 * HKP_HASH_LEN + 1];

    hkp_hex(hash, HKP_HASH_LEN, hex);
    snprintf(line, sizeof(line), "%s: key %s %s", what, hex, why);
    report(ctx, line);
    return 1;
}

int
hkp_db_put(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key,
    const hkp_put_opts_t *opts, hkp_put_result_t *res)
{
    static const hkp_put_opts_t defaults;
    const hkp_put_opts_t *o = opts != NULL ? opts : &defaults;
    hkp_pubkey_t pk;
    hkp_hash_t *cand = NULL;
    size_t ncand = 0, nold = 0;
    hkp_key_t *olds = NULL;
    hkp_hash_t *oldh = NULL;
    hkp_key_t acc, tmp;
    int have_acc = 0, ret, rc;
    const char *err = NULL;
    MDB_val k, v;

    memset(res, 0, sizeof(*res));
    memset(&acc, 0, sizeof(acc));

    if (db->words == NULL)
        return key_fail(res, HKP_ERDONLY, NULL);
    if (key->npkts == 0 || key->pkts[0].tag != HKP_TAG_PUBKEY)
        return key_fail(res, HKP_EKEY,
            "key does not start with a public key packet");
    if (hkp_pubkey_parse(&key->pkts[0], &pk, &err) != 0)
        return key_fail(res, HKP_EKEY, err);

    /* takedown (store_block.h): a blocked primary or subkey is refused */
    if ((rc = hkp_db_put_blocked(db, txn, key, res)) != 0)
        return rc;

    /* Already stored as it is. */
    k.mv_size = HKP_HASH_LEN;
    k.mv_data = (void *) key->hash;
    rc = mdb_get(txn, db->keys, &k, &v);
    if (rc == 0) {
        res->status = HKP_PUT_UNCHANGED;
        memcpy(res->hash, key->hash, HKP_HASH_LEN);
        return 0;
    }
    if (rc != MDB_NOTFOUND)
        return key_fail(res, rc, NULL);

    /* Stored keys with the same primary key packet: candidates by
     * fingerprint (v4/v6) or 64-bit key ID (v3), then compare the primary
     * key packet byte for byte. */
    if (pk.fpr_len == HKP_FPR_V4_LEN || pk.fpr_len == HKP_FPR_V6_LEN)
        rc = hkp_store_collect_dups(txn, db->fpr, pk.fpr, pk.fpr_len, &cand,
            &ncand);
    else
        rc = hkp_store_collect_dups(txn, db->kid64, pk.keyid, 8, &cand,
            &ncand);
    if (rc != 0)
        return key_fail(res, rc, NULL);

    if (ncand > 0) {
        olds = calloc(ncand, sizeof(*olds));
        oldh = malloc(ncand * HKP_HASH_LEN);
        if (olds == NULL || oldh == NULL) {
            ret = HKP_ENOMEM;
            goto out;
        }
    }
    /* This key merged into the one stored key with its primary before and
     * changed nothing: no decode, no merge. */
    if (o->memo != NULL) {
        if ((ret = memo_hit(db, txn, o->memo, key, cand, ncand, res)) != 0)
            goto out;
        if (res->status == HKP_PUT_UNCHANGED)
            goto out;
    }
    for (size_t i = 0; i < ncand; i++) {
        hkp_pkt_t first;
        size_t used;

        k.mv_size = HKP_HASH_LEN;
        k.mv_data = cand[i];
        rc = mdb_get(txn, db->keys, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;           /* dangling index entry */
        if (rc != 0) {
            ret = rc;
            goto out;
        }
        /* Cheap filter before decoding the whole key. */
        if (hkp_pkt_read(v.mv_data, v.mv_size, &first, &used, &err) != 0
            || !hkp_pkt_eq(&first, &key->pkts[0]))
            continue;
        if (o->touch != NULL) {
            if (v.mv_size > *o->touch) {
                snprintf(res->reason, sizeof(res->reason), "the work budget "
                    "of this upload is spent (the stored key is %zu bytes, "
                    "%zu left to decode): send this key in another upload",
                    v.mv_size, *o->touch);
                ret = HKP_EBUDGET;
                goto out;
            }
            *o->touch -= v.mv_size;
        }
        stored_decodes++;
        if (hkp_key_decode(v.mv_data, v.mv_size, &olds[nold], res->reason,
                sizeof(res->reason)) != 0) {
            ret = key_fail(res, HKP_ESTORED, NULL);
            goto out;
        }
        if (!hkp_pkt_eq(&olds[nold].pkts[0], &key->pkts[0])) {
            hkp_key_free(&olds[nold]);
            continue;
        }
        memcpy(oldh[nold], cand[i], HKP_HASH_LEN);
        nold++;
    }

    if (nold == 0) {
        if ((ret = tail_allowed(db, txn, key, NULL, 0, res)) != 0
            || (ret = store_key(db, txn, o, key, res)) != 0
            || (ret = hkp_store_hist_add(db, txn, 0, o->now)) != 0
            || (ret = hkp_store_prefixlog_add(db, txn, pk.fpr, pk.fpr_len,
                    o->now)) != 0)
            goto out;
        res->status = HKP_PUT_NEW;
        memcpy(res->hash, key->hash, HKP_HASH_LEN);
        goto out;
    }

    /* Merge: the stored keys first (their order is kept), then the new
     * one. */
    for (size_t i = 1; i <= nold; i++) {
        const hkp_key_t *a = have_acc ? &acc : &olds[0];
        const hkp_key_t *b = i < nold ? &olds[i] : key;
        if (hkp_key_merge(a, b, o->limits, &tmp, res->reason,
                sizeof(res->reason)) != 0) {
            /* the key code names out of memory with this one text */
            ret = strcmp(res->reason, "out of memory") == 0
                ? HKP_ENOMEM : HKP_ELIMIT;
            goto out;
        }
        if (have_acc)
            hkp_key_free(&acc);
        acc = tmp;
        have_acc = 1;
    }

    if ((ret = tail_allowed(db, txn, &acc, olds, nold, res)) != 0)
        goto out;
    if (nold == 1 && memcmp(acc.hash, oldh[0], HKP_HASH_LEN) == 0) {
        hkp_put_memo_add(o->memo, oldh[0], key->hash);
        res->status = HKP_PUT_UNCHANGED;
        memcpy(res->hash, acc.hash, HKP_HASH_LEN);
        ret = 0;
        goto out;
    }

    for (size_t i = 0; i < nold; i++) {
        if ((ret = remove_key(db, txn, o, &olds[i], oldh[i], res)) != 0)
            goto out;
        if (res->nremoved < 4)
            memcpy(res->removed[res->nremoved], oldh[i], HKP_HASH_LEN);
        res->nremoved++;
    }
    if ((ret = store_key(db, txn, o, &acc, res)) != 0
        || (ret = hkp_store_hist_add(db, txn, 1, o->now)) != 0
        || (ret = hkp_store_prefixlog_add(db, txn, pk.fpr, pk.fpr_len,
                o->now)) != 0)
        goto out;
    res->status = HKP_PUT_MERGED;
    memcpy(res->hash, acc.hash, HKP_HASH_LEN);
    ret = 0;

out:
    if (ret != 0 && !hkp_err_is_key(ret))
        (void) key_fail(res, ret, NULL);
    if (have_acc)
        hkp_key_free(&acc);
    for (size_t i = 0; i < nold; i++)
        hkp_key_free(&olds[i]);
    free(olds);
    free(oldh);
    free(cand);
    return ret;
}
