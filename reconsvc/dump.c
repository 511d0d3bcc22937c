/*
 * reconsvc dump: writes every stored key to numbered keydump files, SKS
 * style (binary OpenPGP, keys concatenated), plus an md5sum-format checksum
 * list, all from one LMDB read transaction, so the dump is a consistent
 * snapshot while nginx keeps serving and accepting keys.
 *
 * Files are written as NAME.tmp, fsync'ed and renamed, so a dump directory
 * never holds a half-written file under its final name.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "store.h"
#include "dump.h"

typedef struct {
    const char  *outdir;
    unsigned     fileno;
    FILE        *f;
    EVP_MD_CTX  *md;
    FILE        *sums;
    char         tmp[PATH_MAX];
    char         final[PATH_MAX];
    char         name[64];
} dump_out_t;

static int
dump_open_file(dump_out_t *o)
{
    snprintf(o->name, sizeof(o->name), RECONSVC_DUMP_NAME, o->fileno);
    if (snprintf(o->final, sizeof(o->final), "%s/%s", o->outdir, o->name)
            >= (int) sizeof(o->final)
        || snprintf(o->tmp, sizeof(o->tmp), "%s.tmp", o->final)
            >= (int) sizeof(o->tmp))
    {
        fprintf(stderr, "reconsvc dump: output path too long\n");
        return -1;
    }
    o->f = fopen(o->tmp, "wb");
    if (o->f == NULL) {
        fprintf(stderr, "reconsvc dump: %s: %s\n", o->tmp, strerror(errno));
        return -1;
    }
    if (EVP_DigestInit_ex(o->md, EVP_md5(), NULL) != 1) {
        fprintf(stderr, "reconsvc dump: MD5 init failed\n");
        return -1;
    }
    return 0;
}

static int
dump_close_file(dump_out_t *o)
{
    unsigned char  d[EVP_MAX_MD_SIZE];
    unsigned int   dl = 0;
    char           hex[2 * EVP_MAX_MD_SIZE + 1];
    int            rc = 0;

    if (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0) {
        fprintf(stderr, "reconsvc dump: %s: %s\n", o->tmp, strerror(errno));
        rc = -1;
    }
    if (fclose(o->f) != 0 && rc == 0) {
        fprintf(stderr, "reconsvc dump: %s: %s\n", o->tmp, strerror(errno));
        rc = -1;
    }
    o->f = NULL;
    if (rc != 0)
        return -1;
    if (rename(o->tmp, o->final) != 0) {
        fprintf(stderr, "reconsvc dump: rename %s: %s\n", o->tmp,
            strerror(errno));
        return -1;
    }
    if (EVP_DigestFinal_ex(o->md, d, &dl) != 1) {
        fprintf(stderr, "reconsvc dump: MD5 failed\n");
        return -1;
    }
    for (unsigned int i = 0; i < dl; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    if (fprintf(o->sums, "%s  %s\n", hex, o->name) < 0) {
        fprintf(stderr, "reconsvc dump: writing checksums: %s\n",
            strerror(errno));
        return -1;
    }
    o->fileno++;
    return 0;
}

static void
dump_usage(void)
{
    fprintf(stderr,
        "usage: reconsvc dump --db DIR [--keys-per-file N] OUTDIR\n");
}

int
reconsvc_dump(int argc, char **argv)
{
    const char    *dbpath = NULL, *outdir = NULL;
    unsigned long  per_file = RECONSVC_DUMP_KEYS_PER_FILE;
    hkp_db_t       db;
    MDB_txn       *txn = NULL;
    MDB_cursor    *cur = NULL;
    MDB_val        k, v;
    dump_out_t     o;
    char           err[256], sums_tmp[PATH_MAX], sums_final[PATH_MAX];
    unsigned long  nkeys = 0, in_file = 0;
    int            rc, ret = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            dbpath = argv[++i];
        } else if (strcmp(argv[i], "--keys-per-file") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            per_file = strtoul(argv[++i], &end, 10);
            if (errno || *end || per_file == 0 || per_file > 10000000) {
                fprintf(stderr, "reconsvc dump: bad --keys-per-file\n");
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            dump_usage();
            return 2;
        } else if (outdir == NULL) {
            outdir = argv[i];
        } else {
            dump_usage();
            return 2;
        }
    }
    if (dbpath == NULL || outdir == NULL) {
        dump_usage();
        return 2;
    }
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "reconsvc dump: %s: %s\n", outdir, strerror(errno));
        return 1;
    }
    if (snprintf(sums_final, sizeof(sums_final), "%s/%s", outdir,
            RECONSVC_DUMP_SUMS) >= (int) sizeof(sums_final)
        || snprintf(sums_tmp, sizeof(sums_tmp), "%s.tmp", sums_final)
            >= (int) sizeof(sums_tmp))
    {
        fprintf(stderr, "reconsvc dump: output path too long\n");
        return 1;
    }

    if (hkp_db_open(&db, dbpath, HKP_DB_RDONLY, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "reconsvc dump: %s\n", err);
        return 1;
    }

    memset(&o, 0, sizeof(o));
    o.outdir = outdir;
    o.md = EVP_MD_CTX_new();
    o.sums = fopen(sums_tmp, "w");
    if (o.md == NULL || o.sums == NULL) {
        fprintf(stderr, "reconsvc dump: %s: %s\n", sums_tmp, strerror(errno));
        goto done;
    }

    if (hkp_db_rtxn(&db, &txn) != 0) {
        fprintf(stderr, "reconsvc dump: cannot begin a read transaction\n");
        goto done;
    }
    rc = mdb_cursor_open(txn, db.keys, &cur);
    if (rc != 0) {
        fprintf(stderr, "reconsvc dump: %s\n", mdb_strerror(rc));
        goto done;
    }

    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        if (o.f == NULL && dump_open_file(&o) != 0)
            goto done;
        if (fwrite(v.mv_data, 1, v.mv_size, o.f) != v.mv_size) {
            fprintf(stderr, "reconsvc dump: %s: %s\n", o.tmp,
                strerror(errno));
            goto done;
        }
        if (EVP_DigestUpdate(o.md, v.mv_data, v.mv_size) != 1) {
            fprintf(stderr, "reconsvc dump: MD5 failed\n");
            goto done;
        }
        nkeys++;
        if (++in_file == per_file) {
            if (dump_close_file(&o) != 0)
                goto done;
            in_file = 0;
        }
    }
    if (rc != MDB_NOTFOUND) {
        fprintf(stderr, "reconsvc dump: reading keys: %s\n", mdb_strerror(rc));
        goto done;
    }
    if (o.f != NULL && dump_close_file(&o) != 0)
        goto done;

    if (fflush(o.sums) != 0 || fsync(fileno(o.sums)) != 0) {
        fprintf(stderr, "reconsvc dump: %s: %s\n", sums_tmp, strerror(errno));
        goto done;
    }
    if (fclose(o.sums) != 0) {
        o.sums = NULL;
        fprintf(stderr, "reconsvc dump: %s: %s\n", sums_tmp, strerror(errno));
        goto done;
    }
    o.sums = NULL;
    if (rename(sums_tmp, sums_final) != 0) {
        fprintf(stderr, "reconsvc dump: rename %s: %s\n", sums_tmp,
            strerror(errno));
        goto done;
    }
    printf("dumped %lu keys into %u files in %s\n", nkeys, o.fileno, outdir);
    ret = 0;

done:
    if (o.f != NULL) {
        fclose(o.f);
        unlink(o.tmp);
    }
    if (o.sums != NULL) {
        fclose(o.sums);
        unlink(sums_tmp);
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    EVP_MD_CTX_free(o.md);
    hkp_db_close(&db);
    return ret;
}
