/*
 * Repacking copy of an environment (store.h, hkp_db_repack).
 *
 * A database grown by random inserts (SKS hashes, fingerprints and key IDs
 * are uniformly spread) has leaf pages about half full after their splits,
 * and its free list holds the pages the last commits copied. LMDB's own
 * compacting copy (mdb_env_copy2 MDB_CP_COMPACT) drops the free pages but
 * keeps every page as it is. This copy reads every database in key order
 * and writes the records into a new file with MDB_APPEND (MDB_APPENDDUP for
 * the further values of a dupsort key), so LMDB fills each page before it
 * starts the next one: the same records, each page full, no free list.
 *
 * It copies records, not keys: nothing is parsed, merged or indexed again
 * (the one write path of keys stays hkp_db_put). The source is read in one
 * read txn (a consistent snapshot); the copy commits every
 * HKP_REPACK_TXN_BYTES of records (LMDB bounds the dirty pages of a txn),
 * without fsync, and is synced once at the end. The file is private until
 * the caller moves it into place (MDB_NOLOCK: nothing else opens it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hkp_limits.h"
#include "store.h"

/* Record bytes (keys and values) one write txn of the copy holds. */
#define HKP_REPACK_TXN_BYTES  ((size_t) 64 * 1024 * 1024)
/* The longest database name copied (ours are at most ~20), and the
 * longest key LMDB stores (its default MDB_MAXKEYSIZE). */
#define HKP_REPACK_NAME_MAX   128
#define HKP_REPACK_KEY_MAX    511

typedef struct {
    MDB_env    *dst;
    MDB_txn    *wtxn;
    size_t      bytes;        /* record bytes in wtxn */
    hkp_repack_stats_t *st;
} repack_t;

/* Commits the copy's txn and begins the next one. */
static int
repack_step(repack_t *r)
{
    int rc = mdb_txn_commit(r->wtxn);
    r->wtxn = NULL;
    r->bytes = 0;
    if (rc != 0)
        return rc;
    return mdb_txn_begin(r->dst, NULL, 0, &r->wtxn);
}

/*
 * Copies database `name` (NULL: the main database's own records that are
 * no database) of src in order. The dst dbi is opened with the source's
 * flags.
 */
static int
repack_db(repack_t *r, MDB_txn *rtxn, const char *name)
{
    MDB_dbi sdbi, ddbi;
    MDB_cursor *sc = NULL, *dc = NULL;
    MDB_val k, v, last = { 0, NULL };
    unsigned flags;
    uint8_t lastbuf[HKP_REPACK_KEY_MAX];
    int rc, op, dup;

    if ((rc = mdb_dbi_open(rtxn, name, 0, &sdbi)) != 0
        || (rc = mdb_dbi_flags(rtxn, sdbi, &flags)) != 0)
        return rc;
    dup = (flags & MDB_DUPSORT) != 0;
    if ((rc = mdb_dbi_open(r->wtxn, name, flags | MDB_CREATE, &ddbi))
        != 0)
        return rc;
    if ((rc = mdb_cursor_open(rtxn, sdbi, &sc)) != 0)
        return rc;
    for (op = MDB_FIRST; (rc = mdb_cursor_get(sc, &k, &v, op)) == 0;
         op = MDB_NEXT)
    {
        unsigned pf = MDB_APPEND;
        if (name == NULL) {
            /* the main database: a named database is copied on its own */
            MDB_dbi probe;
            char sub[HKP_REPACK_NAME_MAX];
            if (k.mv_size < sizeof(sub) && memchr(k.mv_data, 0, k.mv_size)
                == NULL)
            {
                memcpy(sub, k.mv_data, k.mv_size);
                sub[k.mv_size] = '\0';
                if (mdb_dbi_open(rtxn, sub, 0, &probe) == 0)
                    continue;
            }
        }
        if (dup && last.mv_data != NULL && k.mv_size == last.mv_size
            && memcmp(k.mv_data, last.mv_data, k.mv_size) == 0)
            pf = MDB_APPENDDUP;
        if (dc == NULL && (rc = mdb_cursor_open(r->wtxn, ddbi, &dc)) != 0)
            break;
        if ((rc = mdb_cursor_put(dc, &k, &v, pf)) != 0)
            break;
        r->st->records++;
        r->bytes += k.mv_size + v.mv_size;
        if (dup) {
            if (k.mv_size > sizeof(lastbuf)) {
                rc = MDB_BAD_VALSIZE;   /* not from LMDB, then */
                break;
            }
            memcpy(lastbuf, k.mv_data, k.mv_size);
            last.mv_data = lastbuf;
            last.mv_size = k.mv_size;
        }
        if (r->bytes >= HKP_REPACK_TXN_BYTES) {
            mdb_cursor_close(dc);
            dc = NULL;
            if ((rc = repack_step(r)) != 0)
                break;
        }
    }
    if (dc != NULL)
        mdb_cursor_close(dc);
    mdb_cursor_close(sc);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
hkp_db_repack(hkp_db_t *src, const char *dst_file, hkp_repack_stats_t *st,
    char *err, size_t errlen)
{
    repack_t r;
    MDB_txn *rtxn = NULL;
    MDB_cursor *mc = NULL;
    MDB_envinfo info;
    MDB_stat mst;
    MDB_val k, v;
    MDB_dbi maindbi;
    int rc, op;
    const char *what = "mdb_env_create";

    memset(&r, 0, sizeof(r));
    memset(st, 0, sizeof(*st));
    r.st = st;
    if (unlink(dst_file) != 0 && errno != ENOENT) {
        rc = errno;
        snprintf(err, errlen, "removing %s: %s", dst_file, strerror(rc));
        return rc;
    }
    if ((rc = mdb_env_info(src->env, &info)) != 0
        || (rc = mdb_env_stat(src->env, &mst)) != 0)
        goto fail;
    st->src_bytes = (info.me_last_pgno + 1) * (size_t) mst.ms_psize;
    if ((rc = mdb_env_create(&r.dst)) != 0)
        goto fail;
    what = "mdb_env_open";
    if ((rc = mdb_env_set_maxdbs(r.dst, HKP_DB_MAXDBS)) != 0
        || (rc = mdb_env_set_mapsize(r.dst, info.me_mapsize)) != 0
        || (rc = mdb_env_open(r.dst, dst_file, MDB_NOSUBDIR | MDB_NOSYNC
                | MDB_NOLOCK | MDB_NOTLS, 0664)) != 0)
        goto fail;
    what = "copying the records";
    if ((rc = mdb_txn_begin(src->env, NULL, MDB_RDONLY, &rtxn)) != 0
        || (rc = mdb_txn_begin(r.dst, NULL, 0, &r.wtxn)) != 0
        || (rc = repack_db(&r, rtxn, NULL)) != 0
        || (rc = mdb_dbi_open(rtxn, NULL, 0, &maindbi)) != 0
        || (rc = mdb_cursor_open(rtxn, maindbi, &mc)) != 0)
        goto fail;
    /* every named database: the keys of the main one that open as one */
    for (op = MDB_FIRST; (rc = mdb_cursor_get(mc, &k, &v, op)) == 0;
         op = MDB_NEXT)
    {
        char name[HKP_REPACK_NAME_MAX];
        MDB_dbi probe;
        if (k.mv_size >= sizeof(name) || memchr(k.mv_data, 0, k.mv_size))
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        if (mdb_dbi_open(rtxn, name, 0, &probe) != 0)
            continue;               /* a plain record: copied above */
        if ((rc = repack_db(&r, rtxn, name)) != 0)
            goto fail;
        st->dbs++;
    }
    if (rc != MDB_NOTFOUND)
        goto fail;
    mdb_cursor_close(mc);
    mc = NULL;
    mdb_txn_abort(rtxn);
    rtxn = NULL;
    rc = mdb_txn_commit(r.wtxn);
    r.wtxn = NULL;
    if (rc != 0)
        goto fail;
    what = "syncing the copy";
    if ((rc = mdb_env_sync(r.dst, 1)) != 0
        || (rc = mdb_env_info(r.dst, &info)) != 0)
        goto fail;
    st->dst_bytes = (info.me_last_pgno + 1) * (size_t) mst.ms_psize;
    mdb_env_close(r.dst);
    return 0;

fail:
    snprintf(err, errlen, "repacking into %s: %s: %s", dst_file, what,
        hkp_strerror(rc));
    if (mc != NULL)
        mdb_cursor_close(mc);
    if (rtxn != NULL)
        mdb_txn_abort(rtxn);
    if (r.wtxn != NULL)
        mdb_txn_abort(r.wtxn);
    if (r.dst != NULL)
        mdb_env_close(r.dst);
    (void) unlink(dst_file);
    return rc;
}

int
hkp_db_repack_swap(const char *dir, const char *file, char *err,
    size_t errlen)
{
    char data[4096];
    int fd, rc = 0;

    if ((size_t) snprintf(data, sizeof(data), "%s/data.mdb", dir)
        >= sizeof(data))
    {
        snprintf(err, errlen, "%s: path too long", dir);
        return ENAMETOOLONG;
    }
    if (rename(file, data) != 0) {
        rc = errno;
        snprintf(err, errlen, "rename %s to %s: %s", file, data,
            strerror(rc));
        return rc;
    }
    /* the rename itself reaches the disk */
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0
        || fsync(fd) != 0)
    {
        rc = errno;
        snprintf(err, errlen, "fsync %s: %s", dir, strerror(rc));
    }
    if (fd >= 0)
        close(fd);
    return rc;
}
