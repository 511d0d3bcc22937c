/*
 * The map size of an environment (store.h): adopting the size another
 * process grew the database to (MDB_MAP_RESIZED), and growing it when a
 * write does not fit (MDB_MAP_FULL).
 *
 * LMDB remaps the environment in mdb_env_set_mapsize(); "the caller is
 * responsible for making sure there are no active txns" in the process.
 * LMDB itself refuses while a write txn is open (EINVAL); for read txns
 * hkp_db_map_set() looks at the reader table: a slot of this process
 * whose txn id is set is an active read txn (a reset one has none), and
 * then nothing is remapped (HKP_EMAPBUSY). That is the whole rule for a
 * process with one thread. A process whose threads share the
 * environment must also keep other threads from beginning a txn while
 * the map changes: the writer calls through its hkp_map_guard_t
 * (writer.h), and the nginx module's guard (ngx_hkp_db.c) does that.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hkp_limits.h"
#include "store.h"

typedef struct {
    char    pid[sizeof("-2147483648")];   /* getpid() in decimal */
    size_t  pidlen;
    int     active;     /* an active read txn of this process was seen */
} readers_t;

/* mdb_reader_list() line: "%10d %zx %s\n" (pid, thread, txn id or "-") */
static int
reader_line(const char *msg, void *ctx)
{
    readers_t  *r = ctx;
    const char *p = msg, *e;

    while (*p == ' ')
        p++;
    if (strncmp(p, r->pid, r->pidlen) != 0 || p[r->pidlen] != ' ')
        return 0;
    e = msg + strlen(msg);
    while (e > msg && (e[-1] == '\n' || e[-1] == ' '))
        e--;
    /* the last field is the txn id, "-" when the slot holds no txn */
    if (e > msg && e[-1] != '-')
        r->active = 1;
    return 0;
}

int
hkp_db_map_readers(hkp_db_t *db)
{
    readers_t r;
    int       n;

    memset(&r, 0, sizeof(r));
    n = snprintf(r.pid, sizeof(r.pid), "%d", (int) getpid());
    r.pidlen = (size_t) n;
    if (mdb_reader_list(db->env, reader_line, &r) < 0)
        return 1;                   /* cannot tell: assume there is one */
    return r.active;
}

int
hkp_db_map_set(hkp_db_t *db, size_t size)
{
    MDB_envinfo before, after;
    int         rc;

    if (hkp_db_map_readers(db))
        return HKP_EMAPBUSY;
    if ((rc = mdb_env_info(db->env, &before)) != 0)
        return rc;
    if (size != 0 && size <= before.me_mapsize)
        return 0;
    /* size 0: the size the last writer committed with (at least what the
     * data needs), but never smaller than ours */
    if ((rc = mdb_env_set_mapsize(db->env, size)) != 0)
        return rc;
    if (size == 0 && (rc = mdb_env_info(db->env, &after)) == 0
        && after.me_mapsize < before.me_mapsize)
        rc = mdb_env_set_mapsize(db->env, before.me_mapsize);
    return rc;
}

int
hkp_db_map_next(hkp_db_t *db, size_t *size)
{
    MDB_envinfo info;
    size_t      cur, step;
    int         rc;

    if ((rc = mdb_env_info(db->env, &info)) != 0)
        return rc;
    cur = info.me_mapsize;
    if (cur >= HKP_DB_MAP_MAX)
        return HKP_EMAPMAX;
    /* the map's own size, within [HKP_DB_MAP_STEP_MIN, _MAX] */
    step = cur;
    if (step < HKP_DB_MAP_STEP_MIN)
        step = HKP_DB_MAP_STEP_MIN;
    if (step > HKP_DB_MAP_STEP_MAX)
        step = HKP_DB_MAP_STEP_MAX;
    *size = HKP_DB_MAP_MAX - cur < step ? HKP_DB_MAP_MAX : cur + step;
    return 0;
}
