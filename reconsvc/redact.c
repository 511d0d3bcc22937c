/*
 * reconsvc redact / unredact / redacted (redact.h): user IDs hidden from
 * every answer on request (issue 10 item 4), kept in the database's
 * "redact" table (shared/store_redact.c), applied by the serve view.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "redact.h"
#include "serve.h"
#include "store_block.h"

/* Bytes of a listed line (the user ID escaped, audit_escape). */
#define LIST_LINE_MAX   (4 * AUDIT_VALUE_MAX + 256)

static void
redact_usage(const char *cmd)
{
    if (strcmp(cmd, "redacted") == 0)
        fprintf(stderr, "usage: reconsvc redacted --db DIR\n");
    else
        fprintf(stderr, "usage: reconsvc %s --db DIR [--audit FILE] FPR "
            "UIDTEXT\n  (--log FILE: the same as --audit FILE)\n", cmd);
}

/* Whether a key with this fingerprint is stored, and whether it has a
 * user ID with exactly this text: 0 none, 1 stored without it, 2 both. */
static int
key_has_uid(hkp_db_t *db, MDB_txn *txn, const uint8_t *fpr, size_t fl,
    const char *uid)
{
    uint8_t  hashes[4][HKP_HASH_LEN];
    size_t   n, ulen = strlen(uid);
    MDB_val  val;
    int      found = 0;

    if (hkp_db_find_id(db, txn, fpr, fl, hashes, 4, &n) < 0)
        return 0;
    for (size_t i = 0; i < n && found < 2; i++) {
        size_t off, used;

        if (hkp_db_get(db, txn, hashes[i], &val) != 0)
            continue;
        for (off = 0; off < val.mv_size; off += used) {
            hkp_pkt_t   p;
            const char *e;

            if (hkp_pkt_read((const uint8_t *) val.mv_data + off,
                    val.mv_size - off, &p, &used, &e) != 0)
                break;
            if (off == 0) {
                hkp_pubkey_t pk;
                if (hkp_pubkey_parse(&p, &pk, &e) != 0 || pk.fpr_len != fl
                    || memcmp(pk.fpr, fpr, fl) != 0)
                    break;      /* a subkey's fingerprint */
                found = 1;
            }
            if (p.tag == HKP_TAG_UID && p.len == ulen
                && memcmp(p.body, uid, ulen) == 0) {
                found = 2;
                break;
            }
        }
    }
    return found;
}

int
reconsvc_redact(int argc, char **argv)
{
    const char *cmd = argv[0], *dbdir = NULL, *logpath = NULL;
    const char *args[2];
    char        err[512], fhex[2 * HKP_FPR_MAX_LEN + 1],
                shown[4 * AUDIT_VALUE_MAX + 8];
    uint8_t     fpr[HKP_FPR_MAX_LEN];
    size_t      fl, nargs = 0;
    int         add = strcmp(cmd, "redact") == 0, rc, has;
    int64_t     now = (int64_t) time(NULL);
    hkp_db_t    db;
    MDB_txn    *txn;
    audit_t     audit;
    audit_line_t line;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            dbdir = argv[++i];
        else if ((strcmp(argv[i], "--audit") == 0
                  || strcmp(argv[i], "--log") == 0) && i + 1 < argc)
            logpath = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "reconsvc %s: unknown option %s\n", cmd, argv[i]);
            redact_usage(cmd);
            return 2;
        } else if (nargs < 2)
            args[nargs++] = argv[i];
        else {
            redact_usage(cmd);
            return 2;
        }
    }
    if (dbdir == NULL || nargs != 2) {
        redact_usage(cmd);
        return 2;
    }
    if (hkp_block_fpr_parse(args[0], fpr, &fl) != 0) {
        fprintf(stderr, "reconsvc %s: \"%s\" is not a primary key "
            "fingerprint (40 or 64 hex digits)\n", cmd, args[0]);
        return 2;
    }
    if (args[1][0] == '\0' || strlen(args[1]) > HKP_REDACT_MAX_UID) {
        fprintf(stderr, "reconsvc %s: the user ID text must be 1 to %d "
            "bytes\n", cmd, HKP_REDACT_MAX_UID);
        return 2;
    }
    if (audit_open(&audit, cmd, dbdir, logpath) != 0)
        return 1;
    if (hkp_db_open(&db, dbdir, HKP_DB_NOCREATE, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "reconsvc %s: %s\n", cmd, err);
        audit_close(&audit);
        return 1;
    }
    if ((rc = mdb_txn_begin(db.env, NULL, 0, &txn)) != 0) {
        fprintf(stderr, "reconsvc %s: mdb_txn_begin: %s\n", cmd,
            mdb_strerror(rc));
        hkp_db_close(&db);
        audit_close(&audit);
        return 1;
    }
    has = key_has_uid(&db, txn, fpr, fl, args[1]);
    rc = add ? hkp_db_redact_add(&db, txn, fpr, fl,
                                 (const uint8_t *) args[1], strlen(args[1]),
                                 now)
             : hkp_db_redact_del(&db, txn, fpr, fl,
                                 (const uint8_t *) args[1], strlen(args[1]));
    if (rc == HKP_ERDONLY && !add)
        rc = 1;                 /* no table: nothing was redacted */
    if (rc < 0 || rc > 1) {
        fprintf(stderr, "reconsvc %s: %s\n", cmd, hkp_strerror(rc));
        mdb_txn_abort(txn);
        hkp_db_close(&db);
        audit_close(&audit);
        return 1;
    }
    if (rc == 0 && (rc = mdb_txn_commit(txn)) != 0) {
        fprintf(stderr, "reconsvc %s: mdb_txn_commit: %s\n", cmd,
            mdb_strerror(rc));
        hkp_db_close(&db);
        audit_close(&audit);
        return 1;
    } else if (rc == 1) {
        mdb_txn_abort(txn);
        hkp_db_close(&db);
        audit_close(&audit);
        hkp_hex(fpr, fl, fhex);
        audit_escape(args[1], strlen(args[1]), shown, sizeof(shown));
        printf("%s: %s \"%s\"\n", add ? "already redacted" : "not redacted",
            fhex, shown);
        return 0;               /* nothing changed: no audit line */
    }
    hkp_db_close(&db);
    audit_escape(args[1], strlen(args[1]), shown, sizeof(shown));

    audit_begin(&line, &audit, now, cmd, fpr, fl);
    audit_str(&line, "uid", args[1], strlen(args[1]));
    rc = audit_write(&audit, &line);
    if (audit_close(&audit) != 0)
        rc = -1;
    hkp_hex(fpr, fl, fhex);
    printf("%s %s \"%s\"\n", add ? "redacted" : "unredacted", fhex, shown);
    if (has == 0)
        printf("note: no key with this fingerprint is stored yet; the "
            "redaction applies when it arrives\n");
    else if (has == 1)
        printf("note: the stored key has no user ID with exactly this "
            "text\n");
    return rc != 0 || fflush(stdout) != 0;
}

typedef struct {
    hkp_db_t  *db;
    MDB_txn   *txn;
    size_t     n, bad, absent;
    void     (*report)(void *ctx, const char *line);
    void      *rctx;
} list_t;

static int
list_cb(void *ctx, const uint8_t *fpr, size_t fl, const uint8_t *uid,
    size_t ulen, int64_t when)
{
    list_t  *l = ctx;
    char     fhex[2 * HKP_FPR_MAX_LEN + 1], shown[4 * AUDIT_VALUE_MAX + 8];
    char     t[32], line[LIST_LINE_MAX];
    uint8_t  h[1][HKP_HASH_LEN];
    size_t   n = 0;

    if (uid == NULL || (fl != HKP_FPR_V4_LEN && fl != HKP_FPR_V6_LEN)) {
        l->bad++;
        if (l->report != NULL) {
            l->report(l->rctx, "redact: an entry that does not parse");
        }
        return 0;
    }
    l->n++;
    if (hkp_db_find_id(l->db, l->txn, fpr, fl, h, 1, &n) < 0)
        n = 0;
    if (n == 0)
        l->absent++;
    if (l->report != NULL)
        return 0;
    hkp_hex(fpr, fl, fhex);
    audit_escape(uid, ulen, shown, sizeof(shown));
    audit_time(when, t, sizeof(t));
    snprintf(line, sizeof(line), "%s %s \"%s\"%s\n", fhex, t, shown,
        n == 0 ? " (key not stored)" : "");
    fputs(line, stdout);
    return 0;
}

int
reconsvc_redact_check(hkp_db_t *db, MDB_txn *txn,
    void (*report)(void *ctx, const char *line), void *ctx)
{
    list_t l = { db, txn, 0, 0, 0, report, ctx };

    if (hkp_db_redact_each(db, txn, list_cb, &l) != 0)
        return -1;
    printf("redactions: %zu user ID%s hidden (%zu for keys not stored)%s\n",
        l.n, l.n == 1 ? "" : "s", l.absent,
        db->have_redact ? "" : ", no redact table yet");
    return (int) l.bad;
}

int
reconsvc_redacted(int argc, char **argv)
{
    const char *dbdir = NULL;
    char        err[512];
    hkp_db_t    db;
    MDB_txn    *txn;
    list_t      l;
    int         rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            dbdir = argv[++i];
        else {
            redact_usage("redacted");
            return 2;
        }
    }
    if (dbdir == NULL) {
        redact_usage("redacted");
        return 2;
    }
    if (hkp_db_open(&db, dbdir, HKP_DB_RDONLY, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "reconsvc redacted: %s\n", err);
        return 1;
    }
    if ((rc = hkp_db_rtxn(&db, &txn)) != 0) {
        fprintf(stderr, "reconsvc redacted: read txn: %s\n",
            mdb_strerror(rc));
        hkp_db_close(&db);
        return 1;
    }
    memset(&l, 0, sizeof(l));
    l.db = &db;
    l.txn = txn;
    rc = hkp_db_redact_each(&db, txn, list_cb, &l);
    mdb_txn_abort(txn);
    hkp_db_close(&db);
    if (rc != 0) {
        fprintf(stderr, "reconsvc redacted: %s\n", hkp_strerror(rc));
        return 1;
    }
    printf("%zu redaction%s\n", l.n, l.n == 1 ? "" : "s");
    return fflush(stdout) != 0;
}
