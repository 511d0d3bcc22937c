/*
 * The LMDB schema and the one write path (see store.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "fnv.h"
#include "hkp_limits.h"
#include "ptree.h"
#include "store.h"

#define META_SCHEMA  "schema"
#define META_COUNT   "count"

/* Longest whole e-mail address indexed (LMDB keys are at most 511 B). */
#define EMAIL_MAX    256

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
        return -1;
    }
    if (rc != 0) {
        seterr(err, errlen, "mdb_dbi_open(%s): %s", name, mdb_strerror(rc));
        return -1;
    }
    return 0;
}

static void
put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) v;
        v >>= 8;
    }
}

static uint64_t
get_u64be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
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

int
hkp_db_open(hkp_db_t *db, const char *path, unsigned flags, size_t mapsize,
    char *err, size_t errlen)
{
    int rdonly = (flags & HKP_DB_RDONLY) != 0;
    int create = !rdonly && !(flags & HKP_DB_NOCREATE);
    unsigned envflags = MDB_NOTLS;
    MDB_txn *txn = NULL;
    struct stat st;
    int rc, dead = 0;
    const char *werr = NULL;

    memset(db, 0, sizeof(*db));
    if (mapsize == 0)
        mapsize = HKP_DB_DEFAULT_MAPSIZE;

    if (!create) {
        char dpath[4096];
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            seterr(err, errlen, "no database directory at %s (%s)", path,
                strerror(errno));
            return -1;
        }
        snprintf(dpath, sizeof(dpath), "%s/data.mdb", path);
        if (stat(dpath, &st) != 0) {
            seterr(err, errlen, "no database at %s (%s); run \"reconsvc "
                "import\" or start reconsvc first", path, strerror(errno));
            return -1;
        }
        if (rdonly)
            envflags |= MDB_RDONLY;
    } else {
        if (mkdir_parents(path) != 0) {
            seterr(err, errlen, "mkdir %s: %s", path, strerror(errno));
            return -1;
        }
        if (flags & HKP_DB_NOSYNC)
            envflags |= MDB_NOSYNC;
    }

    if ((rc = mdb_env_create(&db->env)) != 0) {
        seterr(err, errlen, "mdb_env_create: %s%s", mdb_strerror(rc), "");
        db->env = NULL;
        return -1;
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
        seterr(err, errlen, "mdb_env_open(%s): %s", path, mdb_strerror(rc));
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
        if (open_dbi(txn, "meta", 0, &db->meta, c, err, errlen) != 0
            || open_dbi(txn, "keys", 0, &db->keys, c, err, errlen) != 0
            || open_dbi(txn, "fpr", ix, &db->fpr, c, err, errlen) != 0
            || open_dbi(txn, "kid64", ix, &db->kid64, c, err, errlen) != 0
            || open_dbi(txn, "kid32", ix, &db->kid32, c, err, errlen) != 0
            || open_dbi(txn, "word", ix, &db->word, c, err, errlen) != 0
            || open_dbi(txn, "ptree", 0, &db->ptree, c, err, errlen) != 0)
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
            && hkp_ptree_rebuild(txn, db->ptree, db->keys, &perr) != 0)
        {
            seterr(err, errlen, "building the prefix tree: %s%s", perr, "");
            goto fail;
        }
    }

    /* Schema version. */
    {
        MDB_val k = { sizeof(META_SCHEMA) - 1, (void *) META_SCHEMA }, v;
        rc = mdb_get(txn, db->meta, &k, &v);
        if (rc == MDB_NOTFOUND && create) {
            MDB_val sv = { sizeof(HKP_SCHEMA_VERSION) - 1,
                           (void *) HKP_SCHEMA_VERSION };
            uint8_t zero[8];
            MDB_val ck = { sizeof(META_COUNT) - 1, (void *) META_COUNT };
            MDB_val cv = { 8, zero };
            put_u64be(zero, 0);
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
            goto fail;
        }
    }
    return 0;

fail:
    if (txn != NULL)
        mdb_txn_abort(txn);
    mdb_env_close(db->env);
    db->env = NULL;
    return -1;
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
hkp_db_sync(hkp_db_t *db, const char **err)
{
    int rc = mdb_env_sync(db->env, 1);
    if (rc != 0) {
        *err = mdb_strerror(rc);
        return -1;
    }
    return 0;
}

int
hkp_db_rtxn(hkp_db_t *db, MDB_txn **txn)
{
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED) {
        rc = mdb_env_set_mapsize(db->env, 0);
        if (rc == 0)
            rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, txn);
    }
    if (rc != 0)
        *txn = NULL;
    return rc;
}

uint64_t
hkp_db_count(hkp_db_t *db, MDB_txn *txn)
{
    MDB_val k = { sizeof(META_COUNT) - 1, (void *) META_COUNT }, v;
    if (mdb_get(txn, db->meta, &k, &v) != 0 || v.mv_size != 8)
        return 0;
    return get_u64be(v.mv_data);
}

static int
count_add(hkp_db_t *db, MDB_txn *txn, int64_t delta, const char **err)
{
    MDB_val k = { sizeof(META_COUNT) - 1, (void *) META_COUNT }, v;
    uint8_t buf[8];
    uint64_t c = 0;
    int rc;

    if (delta == 0)
        return 0;
    rc = mdb_get(txn, db->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        c = get_u64be(v.mv_data);
    else if (rc != 0 && rc != MDB_NOTFOUND) {
        *err = mdb_strerror(rc);
        return -1;
    }
    if (delta < 0 && c < (uint64_t) -delta)
        c = 0;
    else
        c += (uint64_t) delta;
    put_u64be(buf, c);
    v.mv_size = 8;
    v.mv_data = buf;
    if ((rc = mdb_put(txn, db->meta, &k, &v, 0)) != 0) {
        *err = mdb_strerror(rc);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Per-hour put counts (meta "hist:", store.h)                          */

/* Most stale hours deleted when a new hour starts: one is enough to keep
 * up (an hour starts at most once per hour); more catches up after a gap
 * or a clock change, still bounded. */
#define HIST_PRUNE_MAX  64

static void
hist_key(uint8_t kb[HKP_META_HIST_LEN], uint32_t hour)
{
    memcpy(kb, HKP_META_HIST, sizeof(HKP_META_HIST) - 1);
    kb[5] = (uint8_t) (hour >> 24);
    kb[6] = (uint8_t) (hour >> 16);
    kb[7] = (uint8_t) (hour >> 8);
    kb[8] = (uint8_t) hour;
}

static uint32_t
hist_hour(const uint8_t *kb)
{
    return (uint32_t) kb[5] << 24 | (uint32_t) kb[6] << 16
        | (uint32_t) kb[7] << 8 | kb[8];
}

static int
is_hist_key(const MDB_val *k)
{
    return k->mv_size >= sizeof(HKP_META_HIST) - 1
        && memcmp(k->mv_data, HKP_META_HIST, sizeof(HKP_META_HIST) - 1) == 0;
}

/* Deletes at most HIST_PRUNE_MAX hours before `hour` -
 * HKP_HIST_KEEP_HOURS (they sort first: big-endian hour numbers). */
static int
hist_prune(hkp_db_t *db, MDB_txn *txn, uint32_t hour, const char **err)
{
    MDB_cursor *cur;
    uint8_t kb[HKP_META_HIST_LEN];
    MDB_val k = { sizeof(kb), kb }, v;
    int rc, n = 0;

    if (hour <= HKP_HIST_KEEP_HOURS)
        return 0;
    if ((rc = mdb_cursor_open(txn, db->meta, &cur)) != 0) {
        *err = mdb_strerror(rc);
        return -1;
    }
    hist_key(kb, 0);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && is_hist_key(&k) && n++ < HIST_PRUNE_MAX) {
        if (k.mv_size == HKP_META_HIST_LEN) {
            if (hist_hour(k.mv_data) >= hour - HKP_HIST_KEEP_HOURS)
                break;
            /* after a delete, MDB_NEXT gives the key that followed */
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        *err = mdb_strerror(rc);
        return -1;
    }
    return 0;
}

/* Counts one key stored by hkp_db_put() in the current hour: one get and
 * one put in meta (plus a bounded prune when the hour is new). */
static int
hist_add(hkp_db_t *db, MDB_txn *txn, int merged, const char **err)
{
    int64_t now = db->now != 0 ? db->now : (int64_t) time(NULL);
    uint32_t hour = now > 0 ? (uint32_t) (now / 3600) : 0;
    uint8_t kb[HKP_META_HIST_LEN], vb[16];
    MDB_val k = { sizeof(kb), kb }, v;
    uint64_t c[2] = { 0, 0 };
    int rc, fresh;

    hist_key(kb, hour);
    rc = mdb_get(txn, db->meta, &k, &v);
    fresh = rc == MDB_NOTFOUND;
    if (rc == 0 && v.mv_size == sizeof(vb)) {
        c[0] = get_u64be(v.mv_data);
        c[1] = get_u64be((const uint8_t *) v.mv_data + 8);
    } else if (rc != 0 && !fresh) {
        *err = mdb_strerror(rc);
        return -1;
    }
    c[merged ? 1 : 0]++;
    put_u64be(vb, c[0]);
    put_u64be(vb + 8, c[1]);
    v.mv_size = sizeof(vb);
    v.mv_data = vb;
    if ((rc = mdb_put(txn, db->meta, &k, &v, 0)) != 0) {
        *err = mdb_strerror(rc);
        return -1;
    }
    return fresh ? hist_prune(db, txn, hour, err) : 0;
}

int
hkp_db_hist(hkp_db_t *db, MDB_txn *txn, uint32_t first_hour, size_t nhours,
    uint64_t (*counts)[2])
{
    MDB_cursor *cur;
    uint8_t kb[HKP_META_HIST_LEN];
    MDB_val k = { sizeof(kb), kb }, v;
    int rc;

    memset(counts, 0, nhours * sizeof(*counts));
    if (nhours == 0)
        return 0;
    if (mdb_cursor_open(txn, db->meta, &cur) != 0)
        return -1;
    hist_key(kb, first_hour);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && is_hist_key(&k)) {
        if (k.mv_size == HKP_META_HIST_LEN && v.mv_size == 16) {
            uint32_t h = hist_hour(k.mv_data);
            if (h < first_hour)
                ;               /* cannot happen: sorted from first_hour */
            else if (h - first_hour >= nhours)
                break;
            else {
                counts[h - first_hour][0] = get_u64be(v.mv_data);
                counts[h - first_hour][1] =
                    get_u64be((const uint8_t *) v.mv_data + 8);
            }
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

int
hkp_db_get(hkp_db_t *db, MDB_txn *txn, const uint8_t hash[HKP_HASH_LEN],
    MDB_val *val)
{
    MDB_val k = { HKP_HASH_LEN, (void *) hash };
    int rc = mdb_get(txn, db->keys, &k, val);
    if (rc == 0)
        return 0;
    if (rc == MDB_NOTFOUND)
        return 1;
    return -1;
}

/* ------------------------------------------------------------------ */
/* Index entries                                                        */

/* A set of distinct words (open addressing over offsets into buf). */
typedef struct {
    uint8_t   *buf;          /* words, each prefixed by a length byte */
    size_t     used, cap;
    uint32_t  *slot;         /* offset+1 into buf, 0 = empty */
    size_t     nslot;        /* power of two */
    size_t     n;            /* words stored */
    int        oom;
} wordset_t;


static int
wordset_grow(wordset_t *s)
{
    size_t nslot = s->nslot ? s->nslot * 2 : 256;
    uint32_t *slot = calloc(nslot, sizeof(*slot));
    if (slot == NULL)
        return -1;
    for (size_t i = 0; i < s->nslot; i++) {
        uint32_t o = s->slot[i];
        if (o == 0)
            continue;
        const uint8_t *w = s->buf + o - 1;
        size_t j = hkp_fnv1a(w + 1, w[0]) & (nslot - 1);
        while (slot[j] != 0)
            j = (j + 1) & (nslot - 1);
        slot[j] = o;
    }
    free(s->slot);
    s->slot = slot;
    s->nslot = nslot;
    return 0;
}

/* 0 added or already present, 1 set full, -1 out of memory. */
static int
wordset_add(wordset_t *s, const uint8_t *w, size_t len)
{
    size_t j;

    if (len == 0 || len > HKP_MAX_WORD_LEN || len > 255)
        return 0;
    if ((s->n + 1) * 2 > s->nslot && wordset_grow(s) != 0)
        return -1;
    j = hkp_fnv1a(w, len) & (s->nslot - 1);
    while (s->slot[j] != 0) {
        const uint8_t *x = s->buf + s->slot[j] - 1;
        if (x[0] == len && memcmp(x + 1, w, len) == 0)
            return 0;
        j = (j + 1) & (s->nslot - 1);
    }
    if (s->n >= HKP_MAX_WORDS_PER_KEY)
        return 1;
    if (s->used + 1 + len > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->used + 1 + len)
            cap *= 2;
        uint8_t *b = realloc(s->buf, cap);
        if (b == NULL)
            return -1;
        s->buf = b;
        s->cap = cap;
    }
    s->buf[s->used] = (uint8_t) len;
    memcpy(s->buf + s->used + 1, w, len);
    s->slot[j] = (uint32_t) s->used + 1;
    s->used += 1 + len;
    s->n++;
    return 0;
}

static int
wordset_cb(void *ctx, const uint8_t *word, size_t len)
{
    wordset_t *s = ctx;
    int r = wordset_add(s, word, len);
    if (r < 0) {
        s->oom = 1;
        return 2;
    }
    return r;   /* 1 = full: stop */
}

static void
wordset_free(wordset_t *s)
{
    free(s->buf);
    free(s->slot);
}

/* Adds (add=1) or deletes one dup entry. Duplicates on add and missing
 * entries on delete are fine (two subkeys may share a key ID). */
static int
index_op(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
    const uint8_t hash[HKP_HASH_LEN], int add, const char **err)
{
    MDB_val key = { klen, (void *) k }, val = { HKP_HASH_LEN, (void *) hash };
    int rc;

    if (add) {
        rc = mdb_put(txn, dbi, &key, &val, MDB_NODUPDATA);
        if (rc == MDB_KEYEXIST)
            rc = 0;
    } else {
        rc = mdb_del(txn, dbi, &key, &val);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc != 0) {
        *err = mdb_strerror(rc);
        return -1;
    }
    return 0;
}

static int
index_pubkey(hkp_db_t *db, MDB_txn *txn, const hkp_pubkey_t *pk,
    const uint8_t hash[HKP_HASH_LEN], int add, const char **err)
{
    if ((pk->fpr_len == 20 || pk->fpr_len == 32)
        && index_op(txn, db->fpr, pk->fpr, pk->fpr_len, hash, add, err) != 0)
        return -1;
    if (index_op(txn, db->kid64, pk->keyid, 8, hash, add, err) != 0
        || index_op(txn, db->kid32, pk->keyid + 4, 4, hash, add, err) != 0)
        return -1;
    return 0;
}

/*
 * Enumerates every index entry of `key` (stored under `hash`) and adds or
 * deletes it. The same function serves both directions, so a delete
 * removes exactly what the add wrote.
 */
static int
index_key(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key,
    const uint8_t hash[HKP_HASH_LEN], int add, const char **err)
{
    wordset_t ws;
    int full = 0, ret = -1;
    hkp_pubkey_t pk;

    memset(&ws, 0, sizeof(ws));
    if (key->npkts == 0 || key->pkts[0].tag != HKP_TAG_PUBKEY) {
        *err = "key does not start with a public key packet";
        return -1;
    }
    if (hkp_pubkey_parse(&key->pkts[0], &pk, err) != 0)
        return -1;
    if (index_pubkey(db, txn, &pk, hash, add, err) != 0)
        return -1;

    for (size_t i = 1; i < key->npkts; i++) {
        const hkp_pkt_t *p = &key->pkts[i];
        if (p->tag == HKP_TAG_PUBSUB) {
            const char *e2;
            if (hkp_pubkey_parse(p, &pk, &e2) != 0)
                continue;       /* unparseable subkeys are not indexed */
            if (index_pubkey(db, txn, &pk, hash, add, err) != 0)
                goto out;
        } else if (p->tag == HKP_TAG_UID && !full) {
            size_t len = p->len < HKP_MAX_UID_INDEX_LEN ? p->len
                                                        : HKP_MAX_UID_INDEX_LEN;
            char email[EMAIL_MAX];
            size_t elen;
            int r = hkp_words_split(db->words, p->body, len, wordset_cb, &ws, NULL);
            if (ws.oom) {
                *err = "out of memory";
                goto out;
            }
            if (r == 1) {
                full = 1;
                continue;
            }
            if (r != 0) {
                *err = "word tokenizer failed";
                goto out;
            }
            elen = hkp_uid_email(p->body, len, email, sizeof(email));
            if (elen > 0) {
                r = wordset_add(&ws, (const uint8_t *) email, elen);
                if (r < 0) {
                    *err = "out of memory";
                    goto out;
                }
                if (r == 1)
                    full = 1;
            }
        }
    }

    for (size_t o = 0; o < ws.used; o += 1 + ws.buf[o]) {
        if (index_op(txn, db->word, ws.buf + o + 1, ws.buf[o], hash, add,
                err) != 0)
            goto out;
    }
    ret = 0;
out:
    wordset_free(&ws);
    return ret;
}

/* ------------------------------------------------------------------ */
/* The write path                                                       */

/* Collects the dup values (hashes) of `k` in `dbi` into a malloc array. */
static int
collect_dups(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
    uint8_t (**out)[HKP_HASH_LEN], size_t *n, const char **err)
{
    MDB_cursor *cur;
    MDB_val key = { klen, (void *) k }, val;
    uint8_t (*arr)[HKP_HASH_LEN] = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
        *err = mdb_strerror(rc);
        return -1;
    }
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);
    while (rc == 0) {
        if (val.mv_size == HKP_HASH_LEN) {
            if (cnt == cap) {
                size_t nc = cap ? cap * 2 : 4;
                void *a = realloc(arr, nc * HKP_HASH_LEN);
                if (a == NULL) {
                    free(arr);
                    mdb_cursor_close(cur);
                    *err = "out of memory";
                    return -1;
                }
                arr = a;
                cap = nc;
            }
            memcpy(arr[cnt++], val.mv_data, HKP_HASH_LEN);
        }
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
        free(arr);
        *err = mdb_strerror(rc);
        return -1;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

/* Deletes a stored key and all its index entries. */
static int
remove_key(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *old,
    const uint8_t hash[HKP_HASH_LEN], const char **err)
{
    MDB_val k = { HKP_HASH_LEN, (void *) hash };
    int rc;

    if (index_key(db, txn, old, hash, 0, err) != 0)
        return -1;
    rc = mdb_del(txn, db->keys, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        *err = mdb_strerror(rc);
        return -1;
    }
    if (rc == 0 && (db->ptree_batch != NULL
            ? hkp_ptree_batch_add(db->ptree_batch, hash, 0, err)
            : hkp_ptree_remove(txn, db->ptree, hash, err)) != 0)
        return -1;
    return count_add(db, txn, rc == 0 ? -1 : 0, err);
}

static int
store_key(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key, const char **err)
{
    MDB_val k = { HKP_HASH_LEN, (void *) key->hash }, v;
    size_t len = hkp_key_encoded_len(key);
    int rc, existed;

    if (len == 0) {
        *err = "empty key";
        return -1;
    }
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
    if (rc != 0) {
        *err = mdb_strerror(rc);
        return -1;
    }
    if ((uint8_t *) hkp_key_encode(key, v.mv_data) - (uint8_t *) v.mv_data
        != (ptrdiff_t) len)
    {
        *err = "key encoding length mismatch";
        return -1;
    }
    if (index_key(db, txn, key, key->hash, 1, err) != 0)
        return -1;
    /* Same txn as the key: the tree never disagrees with the keys. */
    if (!existed && (db->ptree_batch != NULL
            ? hkp_ptree_batch_add(db->ptree_batch, key->hash, 1, err)
            : hkp_ptree_insert(txn, db->ptree, key->hash, err)) != 0)
        return -1;
    return count_add(db, txn, existed ? 0 : 1, err);
}

int
hkp_db_put(hkp_db_t *db, MDB_txn *txn, const hkp_key_t *key,
    hkp_put_result_t *res, const char **err)
{
    hkp_pubkey_t pk;
    uint8_t (*cand)[HKP_HASH_LEN] = NULL;
    size_t ncand = 0, nold = 0;
    hkp_key_t *olds = NULL;
    uint8_t (*oldh)[HKP_HASH_LEN] = NULL;
    hkp_key_t acc, tmp;
    int have_acc = 0, ret = -1, rc;
    MDB_val k, v;

    memset(res, 0, sizeof(*res));
    memset(&acc, 0, sizeof(acc));

    if (db->words == NULL) {
        *err = "database opened read-only";
        return -1;
    }
    if (key->npkts == 0 || key->pkts[0].tag != HKP_TAG_PUBKEY) {
        *err = "key does not start with a public key packet";
        return -1;
    }
    if (hkp_pubkey_parse(&key->pkts[0], &pk, err) != 0)
        return -1;

    /* Already stored as it is. */
    k.mv_size = HKP_HASH_LEN;
    k.mv_data = (void *) key->hash;
    rc = mdb_get(txn, db->keys, &k, &v);
    if (rc == 0) {
        res->status = HKP_PUT_UNCHANGED;
        memcpy(res->hash, key->hash, HKP_HASH_LEN);
        return 0;
    }
    if (rc != MDB_NOTFOUND) {
        *err = mdb_strerror(rc);
        return -1;
    }

    /* Stored keys with the same primary key packet: candidates by
     * fingerprint (v4/v6) or 64-bit key ID (v3), then compare the primary
     * key packet byte for byte. */
    if (pk.fpr_len == 20 || pk.fpr_len == 32)
        rc = collect_dups(txn, db->fpr, pk.fpr, pk.fpr_len, &cand, &ncand,
            err);
    else
        rc = collect_dups(txn, db->kid64, pk.keyid, 8, &cand, &ncand, err);
    if (rc != 0)
        return -1;

    if (ncand > 0) {
        olds = calloc(ncand, sizeof(*olds));
        oldh = malloc(ncand * HKP_HASH_LEN);
        if (olds == NULL || oldh == NULL) {
            *err = "out of memory";
            goto out;
        }
    }
    for (size_t i = 0; i < ncand; i++) {
        hkp_pkt_t first;
        size_t used;
        const char *e2;

        k.mv_size = HKP_HASH_LEN;
        k.mv_data = cand[i];
        rc = mdb_get(txn, db->keys, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;           /* dangling index entry */
        if (rc != 0) {
            *err = mdb_strerror(rc);
            goto out;
        }
        /* Cheap filter before decoding the whole key. */
        if (hkp_pkt_read(v.mv_data, v.mv_size, &first, &used, &e2) != 0
            || !hkp_pkt_eq(&first, &key->pkts[0]))
            continue;
        if (hkp_key_decode(v.mv_data, v.mv_size, &olds[nold], res->reason,
                sizeof(res->reason)) != 0) {
            *err = "stored key does not decode";
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
        if (store_key(db, txn, key, err) != 0
            || hist_add(db, txn, 0, err) != 0)
            goto out;
        res->status = HKP_PUT_NEW;
        memcpy(res->hash, key->hash, HKP_HASH_LEN);
        ret = 0;
        goto out;
    }

    /* Merge: the stored keys first (their order is kept), then the new
     * one. */
    for (size_t i = 1; i <= nold; i++) {
        const hkp_key_t *a = have_acc ? &acc : &olds[0];
        const hkp_key_t *b = i < nold ? &olds[i] : key;
        if (hkp_key_merge(a, b, &db->limits, &tmp, res->reason,
                sizeof(res->reason)) != 0) {
            *err = res->reason;
            goto out;
        }
        if (have_acc)
            hkp_key_free(&acc);
        acc = tmp;
        have_acc = 1;
    }

    if (nold == 1 && memcmp(acc.hash, oldh[0], HKP_HASH_LEN) == 0) {
        res->status = HKP_PUT_UNCHANGED;
        memcpy(res->hash, acc.hash, HKP_HASH_LEN);
        ret = 0;
        goto out;
    }

    for (size_t i = 0; i < nold; i++) {
        if (remove_key(db, txn, &olds[i], oldh[i], err) != 0)
            goto out;
        if (res->nremoved < 4)
            memcpy(res->removed[res->nremoved], oldh[i], HKP_HASH_LEN);
        res->nremoved++;
    }
    if (store_key(db, txn, &acc, err) != 0
        || hist_add(db, txn, 1, err) != 0)
        goto out;
    res->status = HKP_PUT_MERGED;
    memcpy(res->hash, acc.hash, HKP_HASH_LEN);
    ret = 0;

out:
    if (have_acc)
        hkp_key_free(&acc);
    for (size_t i = 0; i < nold; i++)
        hkp_key_free(&olds[i]);
    free(olds);
    free(oldh);
    free(cand);
    return ret;
}

/* ------------------------------------------------------------------ */
/* Lookups                                                              */

int
hkp_db_find_id(hkp_db_t *db, MDB_txn *txn, const uint8_t *id, size_t idlen,
    uint8_t (*hashes)[HKP_HASH_LEN], size_t max, size_t *n)
{
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k = { idlen, (void *) id }, v;
    int rc, ret = 0;

    *n = 0;
    switch (idlen) {
    case 4:  dbi = db->kid32; break;
    case 8:  dbi = db->kid64; break;
    case 20:
    case 32: dbi = db->fpr; break;
    default: return -1;
    }
    if (mdb_cursor_open(txn, dbi, &cur) != 0)
        return -1;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    while (rc == 0) {
        /* Dup values of one key are a sorted set: no duplicates. */
        if (v.mv_size == HKP_HASH_LEN) {
            if (*n >= max) {
                ret = 1;
                break;
            }
            memcpy(hashes[(*n)++], v.mv_data, HKP_HASH_LEN);
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    if (ret == 0 && rc != MDB_NOTFOUND)
        return -1;
    return ret;
}

int
hkp_db_find_words(hkp_db_t *db, MDB_txn *txn, const uint8_t **words,
    const size_t *lens, size_t nwords, size_t max_candidates,
    uint8_t (*hashes)[HKP_HASH_LEN], size_t max, size_t *n)
{
    MDB_cursor *cur = NULL, *chk = NULL;
    size_t rarest = 0, best = 0;
    MDB_val k, v;
    int rc, ret = -1;

    *n = 0;
    if (nwords == 0)
        return 0;
    for (size_t i = 0; i < nwords; i++) {
        /* Nothing longer than an indexable word or e-mail is stored. */
        if (lens[i] == 0 || lens[i] >= EMAIL_MAX)
            return 0;
    }
    if (mdb_cursor_open(txn, db->word, &cur) != 0)
        return -1;
    for (size_t i = 0; i < nwords; i++) {
        size_t cnt;
        k.mv_size = lens[i];
        k.mv_data = (void *) words[i];
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
        if (rc == MDB_NOTFOUND) {
            ret = 0;
            goto out;
        }
        if (rc != 0 || (rc = mdb_cursor_count(cur, &cnt)) != 0)
            goto out;
        if (i == 0 || cnt < best) {
            best = cnt;
            rarest = i;
        }
    }
    if (best > max_candidates) {
        ret = 2;
        goto out;
    }
    if (nwords > 1 && mdb_cursor_open(txn, db->word, &chk) != 0)
        goto out;

    k.mv_size = lens[rarest];
    k.mv_data = (void *) words[rarest];
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    while (rc == 0) {
        int all = v.mv_size == HKP_HASH_LEN;
        for (size_t i = 0; all && i < nwords; i++) {
            MDB_val k2, v2;
            int r2;
            if (i == rarest)
                continue;
            k2.mv_size = lens[i];
            k2.mv_data = (void *) words[i];
            v2 = v;
            r2 = mdb_cursor_get(chk, &k2, &v2, MDB_GET_BOTH);
            if (r2 == MDB_NOTFOUND)
                all = 0;
            else if (r2 != 0)
                goto out;
        }
        if (all) {
            if (*n >= max) {
                ret = 1;
                goto out;
            }
            memcpy(hashes[(*n)++], v.mv_data, HKP_HASH_LEN);
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    if (rc != MDB_NOTFOUND)
        goto out;
    ret = 0;
out:
    if (chk != NULL)
        mdb_cursor_close(chk);
    mdb_cursor_close(cur);
    return ret;
}
