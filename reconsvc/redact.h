#ifndef RECONSVC_REDACT_H
#define RECONSVC_REDACT_H

#include "store.h"

/*
 * `reconsvc redact --db DIR [--audit FILE] FPR UIDTEXT`,
 * `reconsvc unredact --db DIR [--audit FILE] FPR UIDTEXT`: argv[0] is the
 * command (--log FILE is the same as --audit FILE). Hides (shows again)
 * the user ID whose text is exactly UIDTEXT on the key with primary
 * fingerprint FPR (40 or 64 hex digits, spaces and a 0x allowed) in every
 * answer; the stored key and its hashes are not changed. One audit line
 * per change (audit.h: action redact / unredact, field uid="...") goes to
 * FILE (default DIR/audit.log) and stderr; nothing is changed when FILE
 * cannot be opened. 0, 1 on an error, 2 usage.
 */
int reconsvc_redact(int argc, char **argv);

/* `reconsvc redacted --db DIR`: lists the redactions, one per line:
 * fingerprint, UTC time, the user ID text (C-escaped), and "(key not
 * stored)" when no key has that fingerprint. */
int reconsvc_redacted(int argc, char **argv);

/* For reconsvc check: every redaction entry must parse; prints a summary
 * line. Returns the number of bad entries (each reported), or -1. */
int reconsvc_redact_check(hkp_db_t *db, MDB_txn *txn,
    void (*report)(void *ctx, const char *line), void *ctx);

#endif
