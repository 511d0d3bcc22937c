/*
 * Repacking a database: `reconsvc compact`, and the last step of an
 * import into a new database (import.c).
 *
 * hkp_db_repack (shared/store_repack.c) copies every record into a new
 * file with every page full and no free list; the copy replaces data.mdb
 * by a rename only while no other process has the environment open: a
 * process that has it mapped would go on with the old file (its writes
 * lost to the others). So compact refuses a database in use (stop nginx
 * and reconsvc run first), and an import whose new database was opened
 * meanwhile keeps it as it is.
 *
 * Crash safety: data.mdb is never written here. A kill -9 or a power loss
 * during the copy leaves the database as it was and a partial
 * repack.mdb, removed by the next repack; the rename is atomic, and the
 * copy is synced before it, the directory after it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compact.h"

int
reconsvc_others_open(int lockfd)
{
    struct flock fl;

    if (lockfd < 0)
        return 1;                   /* cannot tell: assume so */
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    if (fcntl(lockfd, F_GETLK, &fl) != 0)
        return 1;
    return fl.l_type != F_UNLCK;
}

int
reconsvc_lock_open(const char *dbdir)
{
    char lock[PATH_MAX + 16];

    if ((size_t) snprintf(lock, sizeof(lock), "%s/lock.mdb", dbdir)
        >= sizeof(lock))
        return -1;
    return open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0664);
}

/* fsync of dbdir/data.mdb (a database closed without its last sync). */
static int
sync_data(const char *dbdir)
{
    char data[PATH_MAX + 16];
    int fd, rc = 0;

    snprintf(data, sizeof(data), "%s/data.mdb", dbdir);
    if ((fd = open(data, O_RDWR | O_CLOEXEC)) < 0)
        return errno;
    if (fsync(fd) != 0)
        rc = errno;
    close(fd);
    return rc;
}

int
reconsvc_repack(hkp_db_t *db, const char *dbdir, int lockfd, const char *who)
{
    char file[PATH_MAX + 16], err[768];
    hkp_repack_stats_t st;
    int rc;

    if ((size_t) snprintf(file, sizeof(file), "%s/%s", dbdir,
            RECONSVC_REPACK_FILE) >= sizeof(file))
    {
        fprintf(stderr, "%s: %s: path too long\n", who, dbdir);
        (void) hkp_db_sync(db);
        hkp_db_close(db);
        return -1;
    }
    if (hkp_db_repack(db, file, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s (the database is kept as it was)\n", who,
            err);
        (void) hkp_db_sync(db);
        hkp_db_close(db);
        return -1;
    }
    if (reconsvc_others_open(lockfd)) {
        (void) unlink(file);
        fprintf(stderr, "%s: %s is open in another process: kept as it "
            "was, not repacked\n", who, dbdir);
        rc = hkp_db_sync(db);
        hkp_db_close(db);
        return rc == 0 ? 1 : -1;
    }
    hkp_db_close(db);
    /* opened between the check and the close: it maps data.mdb */
    if (reconsvc_others_open(lockfd)) {
        (void) unlink(file);
        fprintf(stderr, "%s: %s is open in another process: kept as it "
            "was, not repacked\n", who, dbdir);
        return sync_data(dbdir) == 0 ? 1 : -1;
    }
    if (hkp_db_repack_swap(dbdir, file, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", who, err);
        (void) unlink(file);
        (void) sync_data(dbdir);
        return -1;
    }
    fprintf(stderr, "%s: repacked %s: %zu records in %zu databases, %.1f MB "
        "of pages -> %.1f MB\n", who, dbdir, st.records, st.dbs,
        (double) st.src_bytes / 1e6, (double) st.dst_bytes / 1e6);
    return 0;
}

int
reconsvc_compact(int argc, char **argv)
{
    const char *dbdir = NULL;
    hkp_db_t db;
    char err[512];
    int lockfd, rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            dbdir = argv[++i];
        else {
            fprintf(stderr, "reconsvc compact: unknown argument %s\n"
                "usage: reconsvc compact --db DIR\n", argv[i]);
            return 2;
        }
    }
    if (dbdir == NULL) {
        fprintf(stderr, "usage: reconsvc compact --db DIR\n");
        return 2;
    }
    /* before the env is opened: only other processes hold its lock */
    if ((lockfd = reconsvc_lock_open(dbdir)) < 0) {
        fprintf(stderr, "reconsvc compact: %s/lock.mdb: %s\n", dbdir,
            strerror(errno));
        return 1;
    }
    if (reconsvc_others_open(lockfd)) {
        fprintf(stderr, "reconsvc compact: %s is open in another process "
            "(nginx or reconsvc run): stop them first; a database in use is "
            "not compacted\n", dbdir);
        close(lockfd);
        return 1;
    }
    if (hkp_db_open(&db, dbdir, HKP_DB_NOCREATE, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "reconsvc compact: %s\n", err);
        close(lockfd);
        return 1;
    }
    rc = reconsvc_repack(&db, dbdir, lockfd, "reconsvc compact");
    close(lockfd);                  /* after the env: see compact.h */
    return rc == 0 ? 0 : 1;
}
