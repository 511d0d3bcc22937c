/*
 * The SKS membership file (doc/recon.md 5), the one parser that reconsvc
 * (which connects to and accepts the peers it lists) and the nginx module
 * (which shows them on op=stats) both use.
 *
 * Format: one peer per line, "host port" (port 1-65535, an optional '+',
 * decimal digits); '#' starts a comment anywhere on a line; blanks are
 * space, tab and CR; tokens after the port are ignored; a line that is
 * not "host port" (no port, a bad port, a host longer than
 * HKP_MEMBERSHIP_MAX_HOST) is skipped and counted. At most
 * HKP_MEMBERSHIP_MAX_SIZE bytes of a file are read (a longer file: its
 * start, without the partial last line) and at most
 * HKP_MEMBERSHIP_MAX_PEERS peers are kept (the first ones).
 *
 * Nothing here resolves names: a host is the bytes of the file (not
 * checked as UTF-8; it may even hold a NUL byte, host_len says).
 *
 * Errors, LMDB style: 0, a positive errno value (the file could not be
 * opened, examined or read), or a negative HKP_E* code of hkp_error.h
 * (HKP_ENOTFILE, HKP_ENOMEM, HKP_EINVAL); hkp_strerror() names either.
 */
#ifndef HKP_MEMBERSHIP_H
#define HKP_MEMBERSHIP_H

#include <stddef.h>
#include <stdint.h>
#include "hkp_error.h"

#define HKP_MEMBERSHIP_MAX_SIZE   (64 * 1024)  /* bytes of the file read */
#define HKP_MEMBERSHIP_MAX_PEERS  1000         /* peers kept */
#define HKP_MEMBERSHIP_MAX_HOST   255          /* bytes of a host name */
#define HKP_MEMBERSHIP_MAX_PORT   65535
/* bad lines whose numbers are kept for the log (all are counted) */
#define HKP_MEMBERSHIP_MAX_BAD_NOTED  8


typedef struct {
    char       host[HKP_MEMBERSHIP_MAX_HOST + 1];  /* NUL-terminated too */
    size_t     host_len;
    uint16_t   port;                                /* 1-65535 */
} hkp_member_t;

typedef struct {
    hkp_member_t  *m;          /* owned (hkp_membership_free) */
    size_t         n;
    size_t         nbad;       /* lines skipped as not "host port" */
    size_t         bad_line[HKP_MEMBERSHIP_MAX_BAD_NOTED]; /* 1-based, the
                                  first min(nbad, MAX_BAD_NOTED) of them */
    unsigned       cut:1;      /* the file is over HKP_MEMBERSHIP_MAX_SIZE:
                                  only its start was parsed */
    unsigned       over:1;     /* more than HKP_MEMBERSHIP_MAX_PEERS peers:
                                  the rest was ignored */
} hkp_membership_t;

/*
 * Parses buf[0..len) (len <= HKP_MEMBERSHIP_MAX_SIZE, else EINVAL) into
 * *ms, which the caller then frees with hkp_membership_free() (also after
 * an error). 0, HKP_ENOMEM or HKP_EINVAL.
 */
int  hkp_membership_parse(const char *buf, size_t len, hkp_membership_t *ms);

/*
 * Reads the file at path (at most HKP_MEMBERSHIP_MAX_SIZE bytes; a longer
 * one sets ms->cut and loses its partial last line) and parses it. A
 * missing file is ENOENT (or ENOTDIR): callers treat that as no peers.
 * 0, an errno value, or a negative code; *ms is always to be freed.
 */
int  hkp_membership_read(const char *path, hkp_membership_t *ms);

void hkp_membership_free(hkp_membership_t *ms);

#endif
