/*
 * The map guard of a worker's LMDB environment.
 *
 * LMDB remaps the environment when its map size changes
 * (mdb_env_set_mapsize: after another process grew the database past our
 * map, MDB_MAP_RESIZED, or when a write does not fit, MDB_MAP_FULL), and
 * no txn of the process may be active meanwhile: the remap moves the
 * memory every txn points into. In a worker two kinds of thread use one
 * environment: the event loop runs read txns (ngx_hkp_db_begin/end, each
 * within one handler call: never across an event), and one thread-pool
 * thread at a time runs the write txn of the upload group commit
 * (ngx_hkp_add_queue.c, through the writer, writer.h). The guard is a
 * mutex over two counts:
 *
 *   map_readers  read txns being begun or active (the event loop)
 *   map_writer   the writer is beginning its txn (also while it waits for
 *                LMDB's writer lock, which another process may hold for
 *                long) or holds it
 *
 * Every read txn is counted before it begins and uncounted after it is
 * reset; the writer is counted by the guard's enter/leave around its
 * top-level txn (nested txns live inside it). Nobody holds the mutex for
 * more than a few instructions, or a remap, so the event loop never waits
 * on the writer's work.
 *
 * Who remaps:
 *   - a read txn that fails with MDB_MAP_RESIZED adopts the new size
 *     itself when no write txn is counted (its own txn has ended; it is
 *     the only reader thread). When the writer is counted it cannot: the
 *     writer may be inside LMDB (waiting for the lock, or holding the txn),
 *     so the read answers 503 "retry" (map_busy), which lasts until the
 *     writer's own begin meets MDB_MAP_RESIZED (it will: the database it
 *     finds under the lock is at least as large) and adopts.
 *   - the writer remaps (adopt, or grow on MDB_MAP_FULL) only between its
 *     txns (writer.h: remap after leave), waiting under the mutex until no
 *     read txn is counted; a read that starts meanwhile waits the
 *     microseconds of the remap for the mutex.
 * hkp_db_map_set() checks LMDB's reader table for an active read txn of
 * this process too, as a last guard.
 */
#include "ngx_hkp_module.h"


/* Begins of one read txn: a renew, a fresh begin, one after adopting. */
#define NGX_HKP_DB_MAP_TRIES  3


static void
ngx_hkp_db_map_enter(void *arg)
{
    ngx_hkp_db_t *d = arg;

    pthread_mutex_lock(&d->map_mtx);
    d->map_writer = 1;
    pthread_mutex_unlock(&d->map_mtx);
}


static void
ngx_hkp_db_map_leave(void *arg)
{
    ngx_hkp_db_t *d = arg;

    pthread_mutex_lock(&d->map_mtx);
    d->map_writer = 0;
    pthread_mutex_unlock(&d->map_mtx);
}


/* the writer, between its txns: change the map once no read is counted */
static int
ngx_hkp_db_map_remap(void *arg, hkp_db_t *db, size_t size)
{
    ngx_hkp_db_t *d = arg;

    int  rc;

    pthread_mutex_lock(&d->map_mtx);

    while (d->map_readers > 0) {
        pthread_cond_wait(&d->map_idle, &d->map_mtx);
    }

    rc = hkp_db_map_set(db, size);
    if (rc == 0) {
        d->map_busy = 0;
    }

    pthread_mutex_unlock(&d->map_mtx);

    return rc;
}


void
ngx_hkp_db_map_init(ngx_hkp_db_t *d)
{
    (void) pthread_mutex_init(&d->map_mtx, NULL);
    (void) pthread_cond_init(&d->map_idle, NULL);
    d->map_readers = 0;
    d->map_writer = 0;
    d->map_busy = 0;

    d->guard.enter = ngx_hkp_db_map_enter;
    d->guard.leave = ngx_hkp_db_map_leave;
    d->guard.remap = ngx_hkp_db_map_remap;
    d->guard.arg = d;
}


static void
ngx_hkp_db_map_unread(ngx_hkp_db_t *d)
{
    pthread_mutex_lock(&d->map_mtx);
    if (d->map_readers > 0 && --d->map_readers == 0) {
        pthread_cond_broadcast(&d->map_idle);
    }
    pthread_mutex_unlock(&d->map_mtx);
}


/*
 * The event loop's read txn: d->txn renewed, or a new one. 0 with *txn
 * (counted until ngx_hkp_db_map_read_end), or an LMDB code; *busy is set
 * when the map must change and the writer holds it off (retry soon).
 */
int
ngx_hkp_db_map_read(ngx_hkp_db_t *d, MDB_txn **txn, ngx_uint_t *busy)
{
    int  rc, tries;

    *busy = 0;

    pthread_mutex_lock(&d->map_mtx);
    d->map_readers++;
    pthread_mutex_unlock(&d->map_mtx);

    rc = MDB_PANIC;

    for (tries = 0; tries < NGX_HKP_DB_MAP_TRIES; tries++) {

        if (d->txn) {
            rc = mdb_txn_renew(d->txn);
            if (rc == MDB_SUCCESS) {
                break;
            }

            /* start over with a fresh txn (after adopting the size, for
             * MDB_MAP_RESIZED) */
            mdb_txn_abort(d->txn);
            d->txn = NULL;
            if (rc != MDB_MAP_RESIZED) {
                continue;
            }

        } else {
            rc = mdb_txn_begin(d->db.env, NULL, MDB_RDONLY, &d->txn);
            if (rc == MDB_SUCCESS) {
                break;
            }

            d->txn = NULL;
            if (rc != MDB_MAP_RESIZED) {
                break;
            }
        }

        /* another process grew the database past our map: adopt its size,
         * unless the writer is in a txn (it adopts when it begins next) */
        pthread_mutex_lock(&d->map_mtx);
        if (d->map_writer) {
            d->map_busy = 1;
            *busy = 1;
        } else {
            rc = hkp_db_map_set(&d->db, 0);
            if (rc == HKP_EMAPBUSY) {
                *busy = 1;
            } else if (rc == 0) {
                d->map_busy = 0;
            }
        }
        pthread_mutex_unlock(&d->map_mtx);

        if (*busy) {
            rc = MDB_MAP_RESIZED;
            break;
        }

        if (rc != 0) {
            break;
        }

        rc = MDB_MAP_RESIZED;       /* unless the next begin succeeds */
    }

    if (rc != MDB_SUCCESS) {
        ngx_hkp_db_map_unread(d);
        return rc;
    }

    *txn = d->txn;

    return 0;
}


void
ngx_hkp_db_map_read_end(ngx_hkp_db_t *d)
{
    ngx_hkp_db_map_unread(d);
}
