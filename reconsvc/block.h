/*
 * Takedowns, the operator's side (issue 10 item 3; the database is
 * shared/store_block.h):
 *
 *   reconsvc block --db DIR [--reason TEXT] [--update-reason]
 *                  [--audit FILE] FPR
 *   reconsvc block --db DIR --file FILE [--update-reason] [--audit FILE]
 *   reconsvc unblock --db DIR [--audit FILE] FPR
 *   reconsvc blocked --db DIR
 *
 * A blocklist file (and what `blocked` prints): one entry per line,
 *   FPR [public reason] [| private note]
 * FPR is 40 (v4) or 64 (v6) hex digits, "0x" allowed; blank lines and
 * lines whose first non-blank character is '#' are comments. `block
 * --file` loads every entry in one transaction, or nothing when a line is
 * malformed.
 *
 * A fingerprint blocked already keeps its block as it is (first time,
 * who, reason): `block` says so on stderr and the audit line's action is
 * "reblock"; with --update-reason its reason (public and private) is
 * replaced, first time and who kept ("reblock-update"). A fingerprint of
 * a key that another block covers is left to that block.
 *
 * Audit (audit.h): every block, re-block and unblock is one line, to
 * stderr and appended to the audit file (default DIR/audit.log):
 *   <UTC time> block <FPR> by "<user> (uid N)[ via sudo from X]"
 *   deleted=N reason="<public>" note="<private>"
 *
 * The recon side (block_recon.c): the fetcher notes the hashes of keys a
 * peer sent that were refused as blocked; seen.c writes them into the
 * block (so they are never asked for again while the block lasts) and
 * leaves out every hash a block remembers.
 */
#ifndef RECONSVC_BLOCK_H
#define RECONSVC_BLOCK_H

#include <stdint.h>
#include <lmdb.h>

#include "key.h"
#include "store.h"
#include "writer.h"

/* A blocklist file: longest line, most entries. */
#define BLOCK_LINE_MAX     2048
#define BLOCK_FILE_MAX     100000
/* Hashes of refused keys noted between two flushes (more are left to the
 * seen-cache's backoff). */
#define BLOCK_NOTE_MAX     1024

int reconsvc_block(int argc, char **argv);
int reconsvc_unblock(int argc, char **argv);
int reconsvc_blocked(int argc, char **argv);

/* The fetcher's writer refused `key` as blocked (HKP_EBLOCKED): notes the
 * key's hash under every profile, with its block. */
void block_note_refused(hkp_writer_t *w, const hkp_key_t *key);
/* Writes the noted hashes into their blocks (those still blocked), in
 * txn (a write txn). 0 or a code. */
int  block_note_flush(hkp_db_t *db, MDB_txn *txn);
/* 1 when a block remembers hash h (never ask a peer for it). */
int  block_hash_blocked(hkp_db_t *db, MDB_txn *txn, const uint8_t h[HKP_HASH_LEN]);

#endif
