/*
 * The audit file of the operator's commands that change what is served:
 * block, unblock (block.c), redact, unredact (redact.c). One file, by
 * default DIR/audit.log next to the database (AUDIT_NAME; it goes with the
 * database, no logrotate rule matches it), or the --audit FILE of the
 * command. One line per change, also printed on standard error:
 *
 *   <UTC time> <action> <FPR> by "<user> (uid N)[ via sudo from X]"[ name=value]...
 *
 * action: block, reblock (already blocked: the record is kept), reblock-
 * update (its reason replaced), unblock, redact, unredact. A value is a
 * number, or a string in double quotes with '"' and '\' escaped by '\' and
 * control bytes (and 0x7F) as \xNN, cut at AUDIT_VALUE_MAX bytes ("...").
 *
 * The file is opened (created, appending) before anything is changed: a
 * change that cannot be logged is not made.
 */
#ifndef RECONSVC_AUDIT_H
#define RECONSVC_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define AUDIT_NAME       "audit.log"
/* Longest audit file path, "who" text, shown value, line. */
#define AUDIT_PATH_MAX   4096
#define AUDIT_WHO_MAX    128
#define AUDIT_VALUE_MAX  400
#define AUDIT_LINE_MAX   4096

typedef struct {
    FILE  *f;
    char   path[AUDIT_PATH_MAX];
    char   who[AUDIT_WHO_MAX + 1];  /* who runs this command */
    const char *cmd;                /* for messages */
} audit_t;

typedef struct {
    char    buf[AUDIT_LINE_MAX];
    size_t  n;
} audit_line_t;

/* Opens `file`, or DIR/AUDIT_NAME when file is NULL, for appending, and
 * finds out who runs this. 0, or -1 with a message on stderr. */
int  audit_open(audit_t *a, const char *cmd, const char *dbdir,
    const char *file);

/* A line: "<when> <action> <FPR> by "<who>"", then fields. */
void audit_begin(audit_line_t *l, const audit_t *a, int64_t when,
    const char *action, const uint8_t *fpr, size_t fpr_len);
void audit_str(audit_line_t *l, const char *name, const void *s, size_t len);
void audit_num(audit_line_t *l, const char *name, size_t v);
/* Appends the line to the file and to stderr. 0, or -1 (message). */
int  audit_write(audit_t *a, const audit_line_t *l);
/* Closes the file. 0, or -1 when a write failed (message). */
int  audit_close(audit_t *a);

/* "YYYY-MM-DDTHH:MM:SSZ" of Unix time t into out[len]. */
void audit_time(int64_t t, char *out, size_t len);
/* s[0..len) escaped as an audit value (without quotes) into out[outsz],
 * cut at AUDIT_VALUE_MAX bytes of s. */
void audit_escape(const void *s, size_t len, char *out, size_t outsz);

#endif
