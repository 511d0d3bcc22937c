/*
 * reconsvc block / unblock / blocked (block.h): takedowns that stay down.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "block.h"
#include "seen.h"
#include "store_block.h"

/* Longest path of the audit file. */
#define BLOCK_PATH_MAX  4096

typedef struct {
    hkp_blockrec_t  rec;
    unsigned long   line;       /* in the file, 0 = command line */
} entry_t;

typedef struct {
    const char     *cmd;        /* "block", "unblock", "blocked" */
    const char     *dbdir, *audit, *file, *reason, *fpr;
    int             have_reason;
} opts_t;

static void
usage(const char *cmd)
{
    if (strcmp(cmd, "block") == 0)
        fprintf(stderr, "usage: reconsvc block --db DIR [--reason TEXT] "
            "[--audit FILE] FPR\n"
            "       reconsvc block --db DIR --file FILE [--audit FILE]\n"
            "  TEXT: \"public reason | private note\" (only the public "
            "part is served)\n"
            "  FILE: one \"FPR [reason]\" per line, # comments (\"-\" = "
            "stdin)\n");
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

/* Who runs this: "name (uid N)", and the sudo caller if any. */
static void
who(char *out, size_t len)
{
    const struct passwd *pw = getpwuid(getuid());
    const char *sudo = getenv("SUDO_USER");
    char name[64];
    int n;

    if (pw != NULL)
        snprintf(name, sizeof(name), "%s", pw->pw_name);
    else
        snprintf(name, sizeof(name), "uid%lu", (unsigned long) getuid());
    if (sudo != NULL && sudo[0] != '\0')
        n = snprintf(out, len, "%s (uid %lu) via sudo from %.40s", name,
            (unsigned long) getuid(), sudo);
    else
        n = snprintf(out, len, "%s (uid %lu)", name,
            (unsigned long) getuid());
    if (n < 0 || (size_t) n >= len)
        out[len - 1] = '\0';       /* truncated: still a string */
}

static void
iso_time(int64_t t, char *out, size_t len)
{
    time_t tt = (time_t) t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* s with '"' and '\' escaped, into f. */
static void
put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void
audit_line(FILE *f, const char *what, const hkp_blockrec_t *rec,
    int64_t now, const char *user, size_t deleted)
{
    char t[32], hex[65];

    iso_time(now, t, sizeof(t));
    hkp_hex(rec->fpr, rec->fpr_len, hex);
    fprintf(f, "%s %s %s by ", t, what, hex);
    put_quoted(f, user);
    if (strcmp(what, "block") == 0)
        fprintf(f, " deleted=%zu", deleted);
    fprintf(f, " reason=");
    put_quoted(f, rec->pub);
    fprintf(f, " note=");
    put_quoted(f, rec->note);
    fputc('\n', f);
}

/* The audit file, opened for appending before anything is changed (a
 * takedown that cannot be logged is not made). NULL with a message. */
static FILE *
audit_open(const opts_t *o, char *path, size_t len)
{
    FILE *f;

    if (o->audit != NULL)
        snprintf(path, len, "%s", o->audit);
    else
        snprintf(path, len, "%s/%s", o->dbdir, BLOCK_AUDIT_NAME);
    if ((f = fopen(path, "a")) == NULL)
        fprintf(stderr, "reconsvc %s: audit file %s: %s\n", o->cmd, path,
            strerror(errno));
    return f;
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

int
reconsvc_block(int argc, char **argv)
{
    opts_t o;
    entry_t one, *e = NULL;
    size_t n = 0, *deleted = NULL, total = 0, skipped = 0;
    char user[HKP_BLOCK_USER_MAX + 1], path[BLOCK_PATH_MAX], err[512];
    int64_t now = (int64_t) time(NULL);
    hkp_db_t db;
    MDB_txn *txn = NULL;
    FILE *audit;
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
    who(user, sizeof(user));
    if ((deleted = calloc(n ? n : 1, sizeof(*deleted))) == NULL) {
        fprintf(stderr, "reconsvc block: out of memory\n");
        goto out;
    }
    if ((audit = audit_open(&o, path, sizeof(path))) == NULL)
        goto out;
    if (open_write(&o, &db, &txn) != 0) {
        fclose(audit);
        goto out;
    }

    /* all entries in one transaction */
    for (size_t i = 0; i < n; i++) {
        hkp_blockrec_t by;
        char hex[65], bhex[65];

        e[i].rec.when = now;
        snprintf(e[i].rec.user, sizeof(e[i].rec.user), "%s", user);
        hkp_hex(e[i].rec.fpr, e[i].rec.fpr_len, hex);
        rc = hkp_db_block(&db, txn, &e[i].rec, &deleted[i], print_deleted,
            NULL, &by, err, sizeof(err));
        if (rc == 1) {
            hkp_hex(by.fpr, by.fpr_len, bhex);
            fprintf(stderr, "reconsvc block: %s is already blocked as part "
                "of the key blocked by %s; left as it is\n", hex, bhex);
            deleted[i] = SIZE_MAX;
            skipped++;
            rc = 0;
            continue;
        }
        if (rc != 0) {
            if (e[i].line > 0)
                fprintf(stderr, "reconsvc block: %s:%lu: %s: %s; nothing "
                    "blocked\n", o.file, e[i].line, hex, err);
            else
                fprintf(stderr, "reconsvc block: %s: %s\n", hex, err);
            break;
        }
        total += deleted[i];
    }
    if (rc == 0 && (rc = mdb_txn_commit(txn)) != 0)
        fprintf(stderr, "reconsvc block: commit: %s; nothing blocked\n",
            hkp_strerror(rc));
    else if (rc != 0)
        mdb_txn_abort(txn);
    txn = NULL;
    hkp_db_close(&db);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            if (deleted[i] == SIZE_MAX)
                continue;
            audit_line(stderr, "block", &e[i].rec, now, user, deleted[i]);
            audit_line(audit, "block", &e[i].rec, now, user, deleted[i]);
        }
        printf("blocked %zu fingerprint%s, %zu key%s deleted%s\n",
            n - skipped, n - skipped == 1 ? "" : "s", total,
            total == 1 ? "" : "s", skipped ? " (some already covered)" : "");
        ret = 0;
    }
    if (fclose(audit) != 0 && rc == 0) {
        fprintf(stderr, "reconsvc block: audit file %s: %s\n", path,
            strerror(errno));
        ret = 1;
    }
out:
    free(deleted);
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
    char user[HKP_BLOCK_USER_MAX + 1], path[BLOCK_PATH_MAX], hex[65];
    uint8_t fpr[32];
    size_t len;
    hkp_db_t db;
    MDB_txn *txn = NULL;
    FILE *audit;
    int rc;

    memset(&u, 0, sizeof(u));
    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    if (hkp_block_fpr_parse(o.fpr, fpr, &len) != 0) {
        fprintf(stderr, "reconsvc unblock: \"%s\" is not a v4 or v6 "
            "fingerprint (40 or 64 hex digits)\n", o.fpr);
        return 2;
    }
    hkp_hex(fpr, len, hex);
    who(user, sizeof(user));
    if ((audit = audit_open(&o, path, sizeof(path))) == NULL)
        return 1;
    if (open_write(&o, &db, &txn) != 0) {
        fclose(audit);
        return 1;
    }
    rc = hkp_block_get(&db, txn, fpr, len, &by);
    if (rc == 0 && (by.fpr_len != len || memcmp(by.fpr, fpr, len) != 0)) {
        char bhex[65];
        hkp_hex(by.fpr, by.fpr_len, bhex);
        fprintf(stderr, "reconsvc unblock: %s is not blocked itself: it "
            "belongs to the key blocked by %s (unblock that)\n", hex, bhex);
        rc = 1;
    } else if (rc == 1)
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
    if (rc == 0) {
        int64_t now = (int64_t) time(NULL);
        audit_line(stderr, "unblock", &rec, now, user, 0);
        audit_line(audit, "unblock", &rec, now, user, 0);
        printf("unblocked %s (%zu remembered hash%s forgotten)\n", hex,
            u.nhashes, u.nhashes == 1 ? "" : "es");
    }
    if (fclose(audit) != 0 && rc == 0) {
        fprintf(stderr, "reconsvc unblock: audit file %s: %s\n", path,
            strerror(errno));
        return 1;
    }
    return rc == 0 ? 0 : 1;
}

/* ------------------------------------------------------------ blocked */

static int
list_cb(void *ctx, const hkp_blockrec_t *rec)
{
    char t[32], hex[65];

    (void) ctx;
    iso_time(rec->when, t, sizeof(t));
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
