#ifndef RECONSVC_COMPACT_H
#define RECONSVC_COMPACT_H

#include "store.h"

/* The repacked copy is written beside data.mdb under this name. */
#define RECONSVC_REPACK_FILE  "repack.mdb"

/* 1 when a process other than this one has the environment whose
 * lock.mdb is open as lockfd (-1: cannot tell, so 1). LMDB holds a shared
 * fcntl lock on byte 0 of lock.mdb for every open environment; F_GETLK
 * for a write lock there reports another process's. Close lockfd only
 * after this process's environment: closing any fd of lock.mdb drops this
 * process's LMDB locks. */
int reconsvc_others_open(int lockfd);

/* lock.mdb of dbdir, opened (created) for reconsvc_others_open; -1 on
 * failure. */
int reconsvc_lock_open(const char *dbdir);

/*
 * Repacks db (open on dbdir, nothing else of this process using it) into
 * dbdir/RECONSVC_REPACK_FILE (hkp_db_repack) and, if no other process has
 * the environment open, moves it into place. db is closed on return, and
 * what it holds is on disk either way. Says what it did on stderr, as
 * `who`. 0 repacked, 1 kept as it was (another process has it open), -1
 * an error (reported; the database is as it was).
 */
int reconsvc_repack(hkp_db_t *db, const char *dbdir, int lockfd,
    const char *who);

/* `reconsvc compact --db DIR`: exit code (0, 1 error or in use, 2 usage). */
int reconsvc_compact(int argc, char **argv);

#endif
