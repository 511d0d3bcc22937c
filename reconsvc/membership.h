/*
 * The SKS membership file (doc/recon.md 5): one peer per line, "host port",
 * '#' starts a comment anywhere, extra tokens ignored, bad lines logged and
 * skipped. Re-read whenever its mtime (or size) changes; names resolved
 * with getaddrinfo each time they are used.
 */
#ifndef RECONSVC_MEMBERSHIP_H
#define RECONSVC_MEMBERSHIP_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#define MEMBERSHIP_MAX_LINES   1000
#define MEMBERSHIP_MAX_HOST    255

typedef struct {
    char    host[MEMBERSHIP_MAX_HOST + 1];
    char    port[8];
} member_t;

typedef struct {
    char            *path;       /* owned */
    int              loaded;
    struct timespec  mtime;
    off_t            size;
    member_t        *m;          /* owned */
    size_t           n;
} membership_t;

/* Copies path; reads the file (a missing file = no members, logged). */
int  membership_init(membership_t *ms, const char *path);
void membership_free(membership_t *ms);
/* Re-reads the file if its mtime or size changed. 0, or -1 when it could
 * not be read (the previous list stays). */
int  membership_refresh(membership_t *ms);

/* Index of the first member one of whose addresses has the IP of `sa`
 * (port ignored), or -1. */
int  membership_find_ip(const membership_t *ms, const struct sockaddr *sa);

/*
 * Picks a random member whose first address is not one of `self` (IP and
 * port compared), resolves it and picks one of its addresses of the family
 * `family` (AF_UNSPEC = any) at random. 0 with *out, *outlen, *idx, or -1
 * if no member qualifies.
 */
int  membership_pick(const membership_t *ms, const struct sockaddr_storage *self,
    size_t nself, int family, struct sockaddr_storage *out, socklen_t *outlen,
    size_t *idx);

/* "ip" / "[ip6]" text of an address (no port). */
void addr_ip_str(const struct sockaddr *sa, char *out, size_t len);
/* Same IP (port ignored)? */
int  addr_same_ip(const struct sockaddr *a, const struct sockaddr *b);
/* Same IP and port? */
int  addr_same(const struct sockaddr *a, const struct sockaddr *b);

#endif
