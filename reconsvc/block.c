/*
 * reconsvc block / unblock / blocked (block.h): takedowns that stay down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "block.h"
#include "seen.h"
#include "store_block.h"

typedef struct {
    hkp_blockrec_t  rec;        /* asked for; after blocking, in force */
    unsigned long   line;       /* in the file, 0 = command line */
    uint8_t         fpr[HKP_FPR_MAX_LEN];   /* the entry's fingerprint */
    size_t          fpr_len;
    size_t          deleted;    /* keys deleted */
    int             outcome;    /* OUT_* */
} entry_t;

typedef struct {
    const char     *cmd;        /* "block", "unblock", "blocked" */
    const char     *dbdir, *audit, *file, *reason, *fpr;
    int             have_reason, update;
} opts_t;

static void
usage(const char *cmd)
{
    if (strcmp(cmd, "block") == 0)
        fprintf(stderr, "usage: reconsvc block --db DIR [--reason TEXT] "
            "[--update-reason] [--audit FILE] FPR\n"
            "       reconsvc block --db DIR --file FILE [--update-reason] "
            "[--audit FILE]\n"
            "  TEXT: \"public reason | private note\" (only the public "
            "part is served)\n"
            "  FILE: one \"FPR [reason]\" per line, # comments (\"-\" = "
            "stdin)\n"
            "  --update-reason: a fingerprint blocked already gets this "
            "reason\n"
            "    (without it, its block is left as it is)\n");
    else if (strcmp(cmd, "unblock") == 0)
        fprintf(stderr, "usage: reconsvc unblock --db DIR [--audit FILE] "
            "FPR\n");
    else
        fprintf(stderr, "usage: reconsvc blocked --db DIR\n");
}

static int
parse_opts(int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->cmd = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (strcmp(a, "--db") == 0 && more)
            o->dbdir = argv[++i];
        else if (strcmp(a, "--audit") == 0 && more
            && strcmp(o->cmd, "blocked") != 0)
            o->audit = argv[++i];
        else if (strcmp(a, "--reason") == 0 && more
            && strcmp(o->cmd, "block") == 0)
        {
            o->reason = argv[++i];
            o->have_reason = 1;
        } else if (strcmp(a, "--file") == 0 && more
            && strcmp(o->cmd, "block") == 0)
            o->file = argv[++i];
        else if (strcmp(a, "--update-reason") == 0
            && strcmp(o->cmd, "block") == 0)
            o->update = 1;
        else if (a[0] != '-' && o->fpr == NULL
            && strcmp(o->cmd, "blocked") != 0)
            o->fpr = a;
        else {
            fprintf(stderr, "reconsvc %s: unknown argument %s\n", o->cmd, a);
            usage(o->cmd);
            return -1;
        }
    }
    if (o->dbdir == NULL
        || (strcmp(o->cmd, "unblock") == 0 && o->fpr == NULL)
        || (strcmp(o->cmd, "block") == 0
            && (o->fpr == NULL) == (o->file == NULL))
        || (o->file != NULL && o->have_reason))
    {
        usage(o->cmd);
        return -1;
    }
    return 0;
}

/* Opens the database for writing (it must exist) with the "blocked"
 * database in a write txn. 0 or -1 (message printed). */
static int
open_write(const opts_t *o, hkp_db_t *db, MDB_txn **txn)
{
    char err[512];
    int rc;

    if (hkp_db_open(db, o->dbdir, HKP_DB_NOCREATE, 0, err, sizeof(err))
        != 0)
    {
        fprintf(stderr, "reconsvc %s: %s\n", o->cmd, err);
        return -1;
    }
    if ((rc = mdb_txn_begin(db->env, NULL, 0, txn)) != 0
        || (!db->have_blocked && (rc = hkp_block_open(db, *txn, 1)) != 0))
    {
        fprintf(stderr, "reconsvc %s: write txn: %s\n", o->cmd,
            hkp_strerror(rc));
        if (*txn != NULL)
            mdb_txn_abort(*txn);
        hkp_db_close(db);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ parsing */

/* One line of a blocklist: 1 entry, 0 comment or blank, -1 malformed
 * (message in err). */
static int
parse_line(char *line, hkp_blockrec_t *rec, char *err, size_t errlen)
{
    char *p = line, *tok;
    size_t n = strlen(line);

    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    tok = p;
    while (*p != '\0' && *p != ' ' && *p != '\t')
        p++;
    if (*p != '\0')
        *p++ = '\0';
    memset(rec, 0, sizeof(*rec));
    if (hkp_block_fpr_parse(tok, rec->fpr, &rec->fpr_len) != 0) {
        snprintf(err, errlen, "\"%.80s\" is not a v4 or v6 fingerprint "
            "(40 or 64 hex digits)", tok);
        return -1;
    }
    return hkp_block_reason_parse(p, rec, err, errlen) == 0 ? 1 : -1;
}

/* Every entry of the file into *out (malloc'd). 0 or -1 (message
 * printed; nothing is blocked then). */
static int
read_file(const char *cmd, const char *path, entry_t **out, size_t *nout)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL, err[256];
    size_t cap = 0, lcap = 0, n = 0;
    unsigned long lno = 0;
    entry_t *e = NULL;
    ssize_t got;
    int bad = 0;

    *out = NULL;
    *nout = 0;
    if (f == NULL) {
        fprintf(stderr, "reconsvc %s: %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    while ((got = getline(&line, &lcap, f)) >= 0) {
        hkp_blockrec_t rec;
        int r;

        lno++;
        if ((size_t) got > BLOCK_LINE_MAX) {
            fprintf(stderr, "reconsvc %s: %s:%lu: line longer than %d "
                "bytes\n", cmd, path, lno, BLOCK_LINE_MAX);
            bad++;
            continue;
        }
        r = parse_line(line, &rec, err, sizeof(err));
        if (r < 0) {
            fprintf(stderr, "reconsvc %s: %s:%lu: %s\n", cmd, path, lno,
                err);
            bad++;
            continue;
        }
        if (r == 0)
            continue;
        if (n == BLOCK_FILE_MAX) {
            fprintf(stderr, "reconsvc %s: %s: more than %d entries\n", cmd,
                path, BLOCK_FILE_MAX);
            bad++;
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            entry_t *ne = realloc(e, nc * sizeof(*e));
            if (ne == NULL) {
                fprintf(stderr, "reconsvc %s: out of memory\n", cmd);
                bad++;
                break;
            }
            e = ne;
            cap = nc;
        }
        e[n].rec = rec;
        e[n].line = lno;
        n++;
    }
    if (ferror(f)) {
        fprintf(stderr, "reconsvc %s: %s: %s\n", cmd, path, strerror(errno));
        bad++;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    if (bad > 0) {
        fprintf(stderr, "reconsvc %s: %s: %d bad line%s, nothing blocked\n",
            cmd, path, bad, bad == 1 ? "" : "s");
        free(e);
        return -1;
    }
    *out = e;
    *nout = n;
    return 0;
}

/* ------------------------------------------------------------ block */

static void
print_deleted(void *ctx, const uint8_t *fpr, size_t len)
{
    char hex[65];
    (void) ctx;
    hkp_hex(fpr, len < 32 ? len : 32, hex);
    printf("  deleted key %s\n", hex);
}

/* What became of one entry. */
enum { OUT_NEW = 0, OUT_KEPT, OUT_UPDATED, OUT_COVERED };

/* The audit line of entry e (its rec is the block as it is now). */
static int
audit_entry(audit_t *a, const entry_t *e, int64_t now)
{
    static const char *const action[] = { "block", "reblock",
        "reblock-update", "reblock" };
    audit_line_t l;
    char t[32];

    audit_begin(&l, a, now, action[e->outcome], e->fpr, e->fpr_len);
    if (e->outcome == OUT_COVERED) {
        char hex[2 * HKP_FPR_MAX_LEN + 1];
        hkp_hex(e->rec.fpr, e->rec.fpr_len, hex);
        audit_str(&l, "covered-by", hex, strlen(hex));
        return audit_write(a, &l);
    }
    audit_num(&l, "deleted", e->deleted);
    audit_str(&l, "reason", e->rec.pub, strlen(e->rec.pub));
    audit_str(&l, "note", e->rec.note, strlen(e->rec.note));
    if (e->outcome != OUT_NEW) {
        audit_time(e->rec.when, t, sizeof(t));
        audit_str(&l, "since", t, strlen(t));
    }
    return audit_write(a, &l);
}

/* Blocks entry e in txn: 0 (e->outcome, e->deleted, e->rec the block now
 * in force), or a code (message printed). */
static int
block_entry(const opts_t *o, hkp_db_t *db, MDB_txn *txn, entry_t *e)
{
    hkp_blockrec_t by;
    char hex[2 * HKP_FPR_MAX_LEN + 1], bhex[2 * HKP_FPR_MAX_LEN + 1], t[32];
    char err[512];
    int rc;

    memcpy(e->fpr, e->rec.fpr, e->rec.fpr_len);
    e->fpr_len = e->rec.fpr_len;
    hkp_hex(e->fpr, e->fpr_len, hex);
    rc = hkp_db_block(db, txn, &e->rec, o->update ? HKP_BLOCK_UPDATE : 0,
        &e->deleted, print_deleted, NULL, &by, err, sizeof(err));
    if (rc == 0) {
        e->outcome = OUT_NEW;
        return 0;
    }
    if (rc != MDB_KEYEXIST) {
        if (e->line > 0)
            fprintf(stderr, "reconsvc block: %s:%lu: %s: %s; nothing "
                "blocked\n", o->file, e->line, hex, err);
        else
            fprintf(stderr, "reconsvc block: %s: %s\n", hex, err);
        return rc;
    }
    hkp_hex(by.fpr, by.fpr_len, bhex);
    audit_time(by.when, t, sizeof(t));
    if (by.fpr_len != e->fpr_len || memcmp(by.fpr, e->fpr, e->fpr_len) != 0)
    {
        fprintf(stderr, "reconsvc block: %s is already blocked as part of "
            "the key blocked by %s; left as it is\n", hex, bhex);
        e->outcome = OUT_COVERED;
    } else if (o->update) {
        fprintf(stderr, "reconsvc block: %s is blocked since %s: its "
            "reason is replaced\n", hex, t);
        e->outcome = OUT_UPDATED;
    } else {
        fprintf(stderr, "reconsvc block: %s is already blocked since %s by "
            "%s (reason \"%s\"); left as it is (--update-reason replaces "
            "the reason)\n", hex, t, by.user, by.pub);
        e->outcome = OUT_KEPT;
    }
    e->rec = by;
    return 0;
}

int
reconsvc_block(int argc, char **argv)
{
    opts_t o;
    entry_t one, *e = NULL;
    size_t n = 0, count[4] = { 0, 0, 0, 0 }, total = 0;
    char err[512];
    int64_t now = (int64_t) time(NULL);
    hkp_db_t db;
    MDB_txn *txn = NULL;
    audit_t audit;
    int rc = 0, ret = 1;

    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    if (o.file != NULL) {
        if (read_file(o.cmd, o.file, &e, &n) != 0)
            return 1;
    } else {
        memset(&one, 0, sizeof(one));
        if (hkp_block_fpr_parse(o.fpr, one.rec.fpr, &one.rec.fpr_len) != 0) {
            fprintf(stderr, "reconsvc block: \"%s\" is not a v4 or v6 "
                "fingerprint (40 or 64 hex digits)\n", o.fpr);
            return 2;
        }
        if (o.reason != NULL && hkp_block_reason_parse(o.reason, &one.rec,
                err, sizeof(err)) != 0)
        {
            fprintf(stderr, "reconsvc block: --reason: %s\n", err);
            return 2;
        }
        e = &one;
        n = 1;
    }
    if (audit_open(&audit, o.cmd, o.dbdir, o.audit) != 0)
        goto out;
    if (open_write(&o, &db, &txn) != 0) {
        audit_close(&audit);
        goto out;
    }

    /* all entries in one transaction */
    for (size_t i = 0; i < n && rc == 0; i++) {
        e[i].rec.when = now;
        snprintf(e[i].rec.user, sizeof(e[i].rec.user), "%s", audit.who);
        if ((rc = block_entry(&o, &db, txn, &e[i])) == 0) {
            count[e[i].outcome]++;
            total += e[i].deleted;
        }
    }
    if (rc == 0 && (rc = mdb_txn_commit(txn)) != 0)
        fprintf(stderr, "reconsvc block: commit: %s; nothing blocked\n",
            hkp_strerror(rc));
    else if (rc != 0)
        mdb_txn_abort(txn);
    txn = NULL;
    hkp_db_close(&db);
    if (rc == 0) {
        ret = 0;
        for (size_t i = 0; i < n; i++)
            if (audit_entry(&audit, &e[i], now) != 0)
                ret = 1;
        printf("blocked %zu fingerprint%s, %zu key%s deleted",
            count[OUT_NEW], count[OUT_NEW] == 1 ? "" : "s", total,
            total == 1 ? "" : "s");
        if (count[OUT_KEPT] > 0)
            printf(", %zu already blocked (left as they were)",
                count[OUT_KEPT]);
        if (count[OUT_UPDATED] > 0)
            printf(", %zu reason%s replaced", count[OUT_UPDATED],
                count[OUT_UPDATED] == 1 ? "" : "s");
        if (count[OUT_COVERED] > 0)
            printf(", %zu covered by another block", count[OUT_COVERED]);
        printf("\n");
    }
    if (audit_close(&audit) != 0)
        ret = 1;
out:
    if (e != &one)
        free(e);
    return ret;
}

/* ------------------------------------------------------------ unblock */

typedef struct {
    MDB_txn  *txn;
    MDB_dbi   seen;
    int       have_seen, rc;
    size_t    nhashes;
} unblock_ctx_t;

/* A hash the block remembered: its seen-cache entries go too, so the
 * next session asks for it again. */
static void
forget_seen(void *arg, const uint8_t h[HKP_HASH_LEN])
{
    unblock_ctx_t *u = arg;
    uint8_t (*keys)[SEEN_PEER_LEN + 16] = NULL;
    size_t *lens = NULL, n = 0;
    MDB_cursor *cur;
    MDB_val k = { HKP_HASH_LEN, (void *) h }, v;
    int rc;

    u->nhashes++;
    if (!u->have_seen || u->rc != 0
        || mdb_cursor_open(u->txn, u->seen, &cur) != 0)
        return;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        void *a, *b;
        if (k.mv_size < HKP_HASH_LEN || k.mv_size > SEEN_PEER_LEN + 16
            || memcmp(k.mv_data, h, HKP_HASH_LEN) != 0)
            break;
        a = realloc(keys, (n + 1) * sizeof(*keys));
        if (a == NULL) {
            u->rc = HKP_ENOMEM;
            break;
        }
        keys = a;
        b = realloc(lens, (n + 1) * sizeof(*lens));
        if (b == NULL) {
            u->rc = HKP_ENOMEM;
            break;
        }
        lens = b;
        memcpy(keys[n], k.mv_data, k.mv_size);
        lens[n++] = k.mv_size;
    }
    mdb_cursor_close(cur);
    for (size_t i = 0; i < n && u->rc == 0; i++) {
        MDB_val dk = { lens[i], keys[i] };
        if ((rc = mdb_del(u->txn, u->seen, &dk, NULL)) != 0
            && rc != MDB_NOTFOUND)
            u->rc = rc;
    }
    free(keys);
    free(lens);
}

int
reconsvc_unblock(int argc, char **argv)
{
    opts_t o;
    hkp_blockrec_t rec, by;
    unblock_ctx_t u;
    char hex[2 * HKP_FPR_MAX_LEN + 1];
    uint8_t fpr[HKP_FPR_MAX_LEN];
    size_t len;
    hkp_db_t db;
    MDB_txn *txn = NULL;
    audit_t audit;
    int rc, ret;

    memset(&u, 0, sizeof(u));
    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    if (hkp_block_fpr_parse(o.fpr, fpr, &len) != 0) {
        fprintf(stderr, "reconsvc unblock: \"%s\" is not a v4 or v6 "
            "fingerprint (40 or 64 hex digits)\n", o.fpr);
        return 2;
    }
    hkp_hex(fpr, len, hex);
    if (audit_open(&audit, o.cmd, o.dbdir, o.audit) != 0)
        return 1;
    if (open_write(&o, &db, &txn) != 0) {
        audit_close(&audit);
        return 1;
    }
    rc = hkp_block_get(&db, txn, fpr, len, &by);
    if (rc == 0 && (by.fpr_len != len || memcmp(by.fpr, fpr, len) != 0)) {
        char bhex[65];
        hkp_hex(by.fpr, by.fpr_len, bhex);
        fprintf(stderr, "reconsvc unblock: %s is not blocked itself: it "
            "belongs to the key blocked by %s (unblock that)\n", hex, bhex);
        rc = MDB_NOTFOUND;
    } else if (rc == MDB_NOTFOUND)
        fprintf(stderr, "reconsvc unblock: %s is not blocked\n", hex);
    if (rc == 0) {
        rec = by;
        u.txn = txn;
        u.have_seen = mdb_dbi_open(txn, SEEN_DB, 0, &u.seen) == 0;
        rc = hkp_block_del(&db, txn, fpr, len, forget_seen, &u);
        if (rc == 0)
            rc = u.rc;
        if (rc != 0)
            fprintf(stderr, "reconsvc unblock: %s: %s\n", hex,
                hkp_strerror(rc));
    }
    if (rc == 0 && (rc = mdb_txn_commit(txn)) != 0)
        fprintf(stderr, "reconsvc unblock: commit: %s\n", hkp_strerror(rc));
    else if (rc != 0)
        mdb_txn_abort(txn);
    hkp_db_close(&db);
    ret = rc == 0 ? 0 : 1;
    if (rc == 0) {
        audit_line_t l;
        char t[32];
        audit_begin(&l, &audit, (int64_t) time(NULL), "unblock", fpr, len);
        audit_str(&l, "reason", rec.pub, strlen(rec.pub));
        audit_str(&l, "note", rec.note, strlen(rec.note));
        audit_time(rec.when, t, sizeof(t));
        audit_str(&l, "since", t, strlen(t));
        if (audit_write(&audit, &l) != 0)
            ret = 1;
        printf("unblocked %s (%zu remembered hash%s forgotten)\n", hex,
            u.nhashes, u.nhashes == 1 ? "" : "es");
    }
    if (audit_close(&audit) != 0)
        ret = 1;
    return ret;
}

/* ------------------------------------------------------------ blocked */

static int
list_cb(void *ctx, const hkp_blockrec_t *rec)
{
    char t[32], hex[65];

    (void) ctx;
    audit_time(rec->when, t, sizeof(t));
    hkp_hex(rec->fpr, rec->fpr_len, hex);
    printf("# %s by %s\n%s", t, rec->user, hex);
    if (rec->pub[0] != '\0')
        printf(" %s", rec->pub);
    if (rec->note[0] != '\0')
        printf(" | %s", rec->note);
    printf("\n");
    return 0;
}

int
reconsvc_blocked(int argc, char **argv)
{
    opts_t o;
    char err[512];
    hkp_db_t db;
    MDB_txn *txn;
    int rc;

    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    if (hkp_db_open(&db, o.dbdir, HKP_DB_RDONLY, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "reconsvc blocked: %s\n", err);
        return 1;
    }
    if ((rc = hkp_db_rtxn(&db, &txn)) != 0) {
        fprintf(stderr, "reconsvc blocked: read txn: %s\n", mdb_strerror(rc));
        hkp_db_close(&db);
        return 1;
    }
    printf("# reconsvc blocked: %zu block%s (reconsvc block --file reads "
        "this back)\n", hkp_block_count(&db, txn),
        hkp_block_count(&db, txn) == 1 ? "" : "s");
    rc = hkp_block_list(&db, txn, list_cb, NULL);
    mdb_txn_abort(txn);
    hkp_db_close(&db);
    if (rc != 0) {
        fprintf(stderr, "reconsvc blocked: %s\n", hkp_strerror(rc));
        return 1;
    }
    return fflush(stdout) != 0 ? 1 : 0;
}
