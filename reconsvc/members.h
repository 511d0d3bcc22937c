/*
 * reconsvc's peer list: the membership file (parsed by
 * shared/membership.c), re-read whenever its mtime or size changes, each
 * host name resolved once per read (getaddrinfo), not per connection; a
 * name that does not resolve is logged and left out of connecting and
 * accepting, the others are used; such names are tried again at most
 * every MEMBERS_RETRY_SEC (from members_refresh()).
 */
#ifndef RECONSVC_MEMBERS_H
#define RECONSVC_MEMBERS_H

#include <netdb.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "membership.h"

#define MEMBERS_RETRY_SEC  300.0   /* names that did not resolve: retried */

typedef struct {
    char             host[HKP_MEMBERSHIP_MAX_HOST + 1];
    size_t           host_len;   /* may hold a NUL: never resolves */
    char             port[8];
    struct addrinfo *ai;         /* owned; NULL = did not resolve */
} member_t;

typedef struct {
    char            *path;       /* owned */
    int              loaded;
    struct timespec  mtime;
    off_t            size;
    member_t        *m;          /* owned */
    size_t           n;
    size_t           nfailed;    /* members whose name did not resolve */
    double           resolved_at; /* ev_now() of the last resolving */
} members_t;

/* Copies path; reads the file (a missing file = no members, logged). now
 * is ev_now(). */
int  members_init(members_t *ms, const char *path, double now);
void members_free(members_t *ms);
/* Re-reads (and resolves) the file if its mtime or size changed, else
 * retries the names that did not resolve if MEMBERS_RETRY_SEC have passed.
 * 0, or -1 when it could not be read (the previous list stays). */
int  members_refresh(members_t *ms, double now);

/* Index of the first member one of whose addresses has the IP of `sa`
 * (port ignored), or -1. */
int  members_find_ip(const members_t *ms, const struct sockaddr *sa);

/*
 * Picks a random member whose first address is not one of `self` (IP and
 * port compared) and one of its addresses of the family `family`
 * (AF_UNSPEC = any) at random. 0 with *out, *outlen, *idx, or -1 if no
 * member qualifies.
 */
int  members_pick(const members_t *ms, const struct sockaddr_storage *self,
    size_t nself, int family, struct sockaddr_storage *out, socklen_t *outlen,
    size_t *idx);

#endif
