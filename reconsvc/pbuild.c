/*
 * reconsvc pbuild: rebuild the SKS prefix tree from the stored keys.
 */
#include <stdio.h>
#include <string.h>

#include "ev.h"
#include "pbuild.h"
#include "ptree.h"
#include "store.h"

static void
pbuild_usage(void)
{
    fprintf(stderr, "usage: reconsvc pbuild --db DIR\n");
}

int
reconsvc_pbuild(int argc, char **argv)
{
    const char *dbdir = NULL, *perr = NULL;
    char err[512];
    hkp_db_t db;
    MDB_txn *txn = NULL;
    MDB_stat ks, ps;
    unsigned mask;
    size_t nprof = 0;
    double t0;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            dbdir = argv[++i];
        else {
            fprintf(stderr, "reconsvc pbuild: unknown argument %s\n",
                argv[i]);
            pbuild_usage();
            return 2;
        }
    }
    if (dbdir == NULL) {
        pbuild_usage();
        return 2;
    }
    /* NOCREATE: the database must exist (it is not created here). */
    if (hkp_db_open(&db, dbdir, HKP_DB_NOCREATE, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "reconsvc pbuild: %s\n", err);
        return 1;
    }
    t0 = ev_now();
    if ((rc = mdb_txn_begin(db.env, NULL, 0, &txn)) != 0) {
        fprintf(stderr, "reconsvc pbuild: mdb_txn_begin: %s\n",
            mdb_strerror(rc));
        hkp_db_close(&db);
        return 1;
    }
    if (hkp_ptree_rebuild(txn, db.ptree, db.keys,
        db.have_sksout ? &db.sksout : NULL, &perr) != 0) {
        fprintf(stderr, "reconsvc pbuild: %s\n", perr ? perr : "failed");
        mdb_txn_abort(txn);
        hkp_db_close(&db);
        return 1;
    }
    /* and every other profile the database keeps */
    if ((rc = hkp_db_profiles_get(&db, txn, &mask)) != 0) {
        fprintf(stderr, "reconsvc pbuild: %s\n", hkp_strerror(rc));
        mdb_txn_abort(txn);
        hkp_db_close(&db);
        return 1;
    }
    for (size_t i = 1; i < HKP_PROFILE_MAX; i++) {
        if (!(mask & (1u << i)))
            continue;
        if (hkp_db_prof_rebuild(&db, txn, i, err, sizeof(err)) != 0) {
            fprintf(stderr, "reconsvc pbuild: %s\n", err);
            mdb_txn_abort(txn);
            hkp_db_close(&db);
            return 1;
        }
        nprof++;
    }
    if (mdb_stat(txn, db.keys, &ks) != 0 || mdb_stat(txn, db.ptree, &ps) != 0)
    {
        ks.ms_entries = 0;
        ps.ms_entries = 0;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        fprintf(stderr, "reconsvc pbuild: mdb_txn_commit: %s\n",
            mdb_strerror(rc));
        hkp_db_close(&db);
        return 1;
    }
    hkp_db_close(&db);
    printf("prefix tree rebuilt: %zu keys, %zu nodes, %.2f s\n",
        (size_t) ks.ms_entries, (size_t) ps.ms_entries, ev_now() - t0);
    if (nprof > 0)
        printf("and the trees of %zu other profile%s\n", nprof,
            nprof == 1 ? "" : "s");
    return fflush(stdout) != 0;
}
