/*
 * reconsvc run's log: one line per event, prefixed with the UTC time, to
 * stderr or to the file given with --log (opened in append mode).
 */
#ifndef RECONSVC_LOG_H
#define RECONSVC_LOG_H

/* Sends the log to `path` (NULL = stderr). 0 or -1 (errno set). */
int  rlog_open(const char *path);
void rlog_close(void);
/* Opens the --log file again by name (after logrotate moved it; SIGHUP).
 * 0, or -1 with errno (the old file stays in use); 0 when logging to
 * stderr. */
int  rlog_reopen(void);

__attribute__((format(printf, 1, 2)))
void rlog(const char *fmt, ...);

#endif
