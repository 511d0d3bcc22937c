/*
 * reconsvc check: verify the SKS prefix tree against the stored keys, and
 * the tree and hash maps of every other profile the database keeps, the
 * sksout marks, the redactions, the self-signature records (a missing one
 * is counted, not a difference; records pending a background fill are
 * said so), the takedowns and the key count.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ptree.h"
#include "redact.h"
#include "store.h"
#include "store_block.h"

typedef struct {
    unsigned long printed, max;
} out_t;

static void
report(void *ctx, const char *line)
{
    out_t *o = ctx;
    if (o->printed < o->max)
        printf("%s\n", line);
    o->printed++;
}

static void
check_usage(void)
{
    fprintf(stderr, "usage: reconsvc check --db DIR [--max-lines N] "
        "[--node BITS] [--fill-selfsig]\n"
        "  --node BITS: only print one node (BITS = its prefix as 0/1\n"
        "  characters, \"\" or \"root\" for the root): count, kind, svalues\n"
        "  --fill-selfsig: first write the self-signature record of every\n"
        "  stored key that has none or a wrong one (verifying its\n"
        "  self-signatures), then check\n");
}

/* `--fill-selfsig`: the records written in a writable open. 0 or 1. */
static int
fill_selfsig(const char *dbdir)
{
    char     err[512];
    hkp_db_t db;
    size_t   written;
    int      rc;

    if (hkp_db_open(&db, dbdir, 0, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "reconsvc check: %s\n", err);
        return 1;
    }
    rc = hkp_db_selfsig_fill(&db, 1, &written);
    hkp_db_close(&db);
    if (rc != 0) {
        fprintf(stderr, "reconsvc check: writing the self-signature "
            "records: %s (%zu written)\n", hkp_strerror(rc), written);
        return 1;
    }
    printf("selfsig: %zu record%s written\n", written,
        written == 1 ? "" : "s");
    return 0;
}

/* `--node`: prints the node with prefix `bits` ("0110..."). */
static int
show_node(hkp_db_t *db, MDB_txn *txn, const char *bits)
{
    uint8_t prefix[HKP_HASH_LEN] = { 0 };
    size_t nbits = strcmp(bits, "root") == 0 ? 0 : strlen(bits);
    hkp_pnode_t n;
    int r;

    if (nbits > 128 || nbits % HKP_RECON_BITQUANTUM != 0) {
        fprintf(stderr, "reconsvc check: --node needs a multiple of %d "
            "bits (at most 128)\n", HKP_RECON_BITQUANTUM);
        return 2;
    }
    for (size_t j = 0; j < nbits; j++) {
        if (bits[j] != '0' && bits[j] != '1') {
            fprintf(stderr, "reconsvc check: --node takes 0/1 characters\n");
            return 2;
        }
        if (bits[j] == '1')
            prefix[j / 8] |= (uint8_t) (0x80 >> (j % 8));
    }
    r = hkp_ptree_get(txn, db->ptree, prefix, (unsigned) nbits, &n);
    if (r == 1) {
        printf("node %s: none (a leaf above it)\n", nbits ? bits : "(root)");
        return 1;
    }
    if (r != 0) {
        fprintf(stderr, "reconsvc check: reading the node failed\n");
        return 1;
    }
    printf("node %s: count %u, %s\n", nbits ? bits : "(root)", n.count,
        n.leaf ? "leaf" : "internal");
    for (unsigned i = 0; i < HKP_RECON_NSAMPLES; i++) {
        printf("svalue %u ", i);
        for (unsigned b = 0; b < HKP_ELEM_LEN; b++)
            printf("%02x", n.svalues[i][b]);
        printf("\n");
    }
    for (size_t i = 0; i < n.nelems; i++) {
        printf("element ");
        for (unsigned b = 0; b < HKP_HASH_LEN; b++)
            printf("%02X", n.elems[i * HKP_HASH_LEN + b]);
        printf("\n");
    }
    return 0;
}

int
reconsvc_check(int argc, char **argv)
{
    const char *dbdir = NULL, *node = NULL;
    char err[512];
    hkp_db_t db;
    MDB_txn *txn = NULL;
    MDB_stat ks, ps;
    out_t o = { 0, RECONSVC_CHECK_MAX_LINES };
    uint64_t count;
    int rc, diffs, fill = 0;
    unsigned mask;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            dbdir = argv[++i];
        else if (strcmp(argv[i], "--node") == 0 && i + 1 < argc)
            node = argv[++i];
        else if (strcmp(argv[i], "--fill-selfsig") == 0)
            fill = 1;
        else if (strcmp(argv[i], "--max-lines") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            o.max = strtoul(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0' || argv[i][0] == '\0') {
                fprintf(stderr, "reconsvc check: bad --max-lines\n");
                return 2;
            }
        } else {
            fprintf(stderr, "reconsvc check: unknown argument %s\n", argv[i]);
            check_usage();
            return 2;
        }
    }
    if (dbdir == NULL) {
        check_usage();
        return 2;
    }
    if (fill && fill_selfsig(dbdir) != 0)
        return 1;
    if (hkp_db_open(&db, dbdir, HKP_DB_RDONLY, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "reconsvc check: %s\n", err);
        return 1;
    }
    if ((rc = hkp_db_rtxn(&db, &txn)) != 0) {
        fprintf(stderr, "reconsvc check: read txn: %s\n", mdb_strerror(rc));
        hkp_db_close(&db);
        return 1;
    }
    if (node != NULL) {
        rc = show_node(&db, txn, node);
        mdb_txn_abort(txn);
        hkp_db_close(&db);
        return fflush(stdout) != 0 ? 1 : rc;
    }
    diffs = hkp_ptree_check(txn, db.ptree, db.keys,
        db.have_sksout ? &db.sksout : NULL, report, &o);
    if (diffs < 0) {
        fprintf(stderr, "reconsvc check: reading the database failed\n");
        mdb_txn_abort(txn);
        hkp_db_close(&db);
        return 1;
    }
    if (mdb_stat(txn, db.keys, &ks) != 0 || mdb_stat(txn, db.ptree, &ps) != 0)
    {
        fprintf(stderr, "reconsvc check: mdb_stat failed\n");
        mdb_txn_abort(txn);
        hkp_db_close(&db);
        return 1;
    }
    /* the keys the sks profile drops (key.h: a tail SKS refuses) */
    {
        size_t nout;
        long d = hkp_db_sksout_check(&db, txn, report, &o, &nout);
        if (d < 0) {
            fprintf(stderr, "reconsvc check: reading sksout failed\n");
            mdb_txn_abort(txn);
            hkp_db_close(&db);
            return 1;
        }
        printf("profile sks: %zu keys in its tree, %zu stored keys it "
            "drops, %ld difference%s\n", (size_t) ks.ms_entries - nout, nout,
            d, d == 1 ? "" : "s");
        diffs += (int) d;
    }
    /* every other profile the database keeps */
    if (hkp_db_profiles_get(&db, txn, &mask) != 0) {
        fprintf(stderr, "reconsvc check: meta \"profiles\" unreadable\n");
        mdb_txn_abort(txn);
        hkp_db_close(&db);
        return 1;
    }
    for (size_t i = 1; i < HKP_PROFILE_MAX; i++) {
        MDB_stat hs, ts;
        int d;
        if (!(mask & (1u << i)))
            continue;
        d = hkp_db_prof_check(&db, txn, i, report, &o);
        if (d < 0 || mdb_stat(txn, db.prof[i].byhash, &hs) != 0
            || mdb_stat(txn, db.prof[i].tree, &ts) != 0)
        {
            fprintf(stderr, "reconsvc check: reading the %s tree failed\n",
                db.prof[i].p->name);
            mdb_txn_abort(txn);
            hkp_db_close(&db);
            return 1;
        }
        printf("profile %s: %zu keys in its tree, %zu tree nodes, %d "
            "difference%s\n", db.prof[i].p->name, (size_t) hs.ms_entries,
            (size_t) ts.ms_entries, d, d == 1 ? "" : "s");
        diffs += d;
    }
    /* the redactions (read by the serve view) */
    {
        int d = reconsvc_redact_check(&db, txn, report, &o);
        if (d < 0) {
            fprintf(stderr, "reconsvc check: reading the redactions "
                "failed\n");
            mdb_txn_abort(txn);
            hkp_db_close(&db);
            return 1;
        }
        diffs += d;
    }
    /* the self-signature records (read by the serve view) */
    {
        size_t missing;
        long d = hkp_db_selfsig_check(&db, txn, report, &o, &missing);
        if (d < 0) {
            fprintf(stderr, "reconsvc check: reading the self-signature "
                "records failed\n");
            mdb_txn_abort(txn);
            hkp_db_close(&db);
            return 1;
        }
        printf("selfsig: %zu keys without a record (verified at lookup "
            "time), %ld difference%s\n", missing, d, d == 1 ? "" : "s");
        diffs += (int) d;
        /* records left by an import to the background fill (store.h) */
        {
            hkp_selfsig_mark_t m;
            if (hkp_db_selfsig_mark_get(&db, txn, &m) == 0)
                printf("selfsig: records pending (an import left them to "
                    "reconsvc run, which writes them in the background); "
                    "%llu written so far%s\n",
                    (unsigned long long) m.filled,
                    m.pass ? "" : ", not begun");
        }
    }
    /* takedowns: no blocked key is stored (store_block.h) */
    {
        int b = hkp_block_check(&db, txn, report, &o);
        if (b < 0) {
            fprintf(stderr, "reconsvc check: reading the \"%s\" database "
                "failed\n", HKP_BLOCK_DB);
            mdb_txn_abort(txn);
            hkp_db_close(&db);
            return 1;
        }
        printf("blocked: %zu block%s, %d difference%s\n",
            hkp_block_count(&db, txn), hkp_block_count(&db, txn) == 1 ? ""
            : "s", b, b == 1 ? "" : "s");
        diffs += b;
    }
    count = hkp_db_count(&db, txn);
    if (count != ks.ms_entries) {
        char line[128];
        snprintf(line, sizeof(line), "meta count %" PRIu64 ", keys %zu",
            count, (size_t) ks.ms_entries);
        report(&o, line);
        diffs++;
    }
    mdb_txn_abort(txn);
    hkp_db_close(&db);
    if (o.printed > o.max)
        printf("... %lu more difference lines not shown\n",
            o.printed - o.max);
    printf("%s: %zu keys, %zu tree nodes, %d difference%s\n",
        diffs == 0 ? "ok" : "FAILED", (size_t) ks.ms_entries,
        (size_t) ps.ms_entries, diffs, diffs == 1 ? "" : "s");
    if (fflush(stdout) != 0)
        return 1;
    return diffs == 0 ? 0 : 1;
}
