/*
 * reconsvc's peer list (members.h).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "addr.h"
#include "log.h"
#include "members.h"

static void
free_list(member_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].ai != NULL)
            freeaddrinfo(m[i].ai);
    free(m);
}

/* The addresses of one member, or NULL (logged). */
static struct addrinfo *
resolve(const char *path, const member_t *m)
{
    struct addrinfo hints, *res;
    int rc;

    if (memchr(m->host, '\0', m->host_len) != NULL) {
        rlog("membership %s: cannot resolve a host name with a NUL byte",
            path);
        return NULL;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if ((rc = getaddrinfo(m->host, m->port, &hints, &res)) != 0) {
        rlog("membership %s: cannot resolve %s: %s; that peer is left out, "
            "tried again in %.0f s", path, m->host, gai_strerror(rc),
            MEMBERS_RETRY_SEC);
        return NULL;
    }
    return res;
}

/* Reads, parses and resolves the file; 0, or -1 with errno set. */
static int
load(members_t *ms, const struct stat *st, double now)
{
    hkp_membership_t f;
    member_t *m = NULL;
    size_t nres = 0;
    int rc = hkp_membership_read(ms->path, &f);

    if (rc != 0) {
        rlog("membership %s: cannot read: %s", ms->path,
            hkp_strerror(rc));
        hkp_membership_free(&f);
        errno = rc > 0 ? rc : EIO;
        return -1;
    }
    for (size_t i = 0; i < f.nbad && i < HKP_MEMBERSHIP_MAX_BAD_NOTED; i++)
        rlog("membership %s:%zu: not \"host port\"; line skipped", ms->path,
            f.bad_line[i]);
    if (f.nbad > HKP_MEMBERSHIP_MAX_BAD_NOTED)
        rlog("membership %s: %zu more lines skipped", ms->path,
            f.nbad - HKP_MEMBERSHIP_MAX_BAD_NOTED);
    if (f.cut)
        rlog("membership %s: larger than %d bytes; only its start is read",
            ms->path, HKP_MEMBERSHIP_MAX_SIZE);
    if (f.over)
        rlog("membership %s: more than %d peers; the rest ignored",
            ms->path, HKP_MEMBERSHIP_MAX_PEERS);
    if (f.n > 0 && (m = calloc(f.n, sizeof(*m))) == NULL) {
        hkp_membership_free(&f);
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < f.n; i++) {
        memcpy(m[i].host, f.m[i].host, f.m[i].host_len + 1);
        m[i].host_len = f.m[i].host_len;
        snprintf(m[i].port, sizeof(m[i].port), "%u", f.m[i].port);
        if ((m[i].ai = resolve(ms->path, &m[i])) != NULL)
            nres++;
    }
    free_list(ms->m, ms->n);
    ms->m = m;
    ms->n = f.n;
    ms->nfailed = f.n - nres;
    ms->resolved_at = now;
    ms->loaded = 1;
    ms->mtime = st->st_mtim;
    ms->size = st->st_size;
    if (nres == f.n)
        rlog("membership %s: %zu peer(s)", ms->path, f.n);
    else
        rlog("membership %s: %zu peer(s), %zu of them resolved", ms->path,
            f.n, nres);
    hkp_membership_free(&f);
    return 0;
}

/* The names that did not resolve, once more. */
static void
retry(members_t *ms, double now)
{
    size_t before = ms->nfailed;

    for (size_t i = 0; i < ms->n; i++) {
        if (ms->m[i].ai == NULL
            && (ms->m[i].ai = resolve(ms->path, &ms->m[i])) != NULL)
            ms->nfailed--;
    }
    ms->resolved_at = now;
    if (ms->nfailed < before)
        rlog("membership %s: %zu more peer(s) resolved, %zu not", ms->path,
            before - ms->nfailed, ms->nfailed);
}

int
members_refresh(members_t *ms, double now)
{
    struct stat st;
    if (ms->path == NULL)
        return 0;
    if (stat(ms->path, &st) != 0) {
        int err = errno;
        if (!ms->loaded || ms->n > 0)
            rlog("membership %s: %s; no peers", ms->path, strerror(err));
        free_list(ms->m, ms->n);
        ms->m = NULL;
        ms->n = 0;
        ms->nfailed = 0;
        ms->loaded = 1;
        memset(&ms->mtime, 0, sizeof(ms->mtime));
        ms->size = -1;
        return err == ENOENT ? 0 : -1;
    }
    if (ms->loaded && st.st_mtim.tv_sec == ms->mtime.tv_sec
        && st.st_mtim.tv_nsec == ms->mtime.tv_nsec && st.st_size == ms->size)
    {
        if (ms->nfailed > 0 && now - ms->resolved_at >= MEMBERS_RETRY_SEC)
            retry(ms, now);
        return 0;
    }
    return load(ms, &st, now);
}

int
members_init(members_t *ms, const char *path, double now)
{
    memset(ms, 0, sizeof(*ms));
    if (path != NULL && (ms->path = strdup(path)) == NULL)
        return -1;
    return members_refresh(ms, now);
}

void
members_free(members_t *ms)
{
    free(ms->path);
    free_list(ms->m, ms->n);
    memset(ms, 0, sizeof(*ms));
}

int
members_find_ip(const members_t *ms, const struct sockaddr *sa)
{
    for (size_t i = 0; i < ms->n; i++)
        for (const struct addrinfo *ai = ms->m[i].ai; ai; ai = ai->ai_next)
            if (addr_same_ip(ai->ai_addr, sa))
                return (int) i;
    return -1;
}

int
members_pick(const members_t *ms, const struct sockaddr_storage *self,
    size_t nself, int family, struct sockaddr_storage *out, socklen_t *outlen,
    size_t *idx)
{
    size_t *order, n = ms->n;
    if (n == 0)
        return -1;
    if ((order = malloc(n * sizeof(*order))) == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n - 1; i > 0; i--) {        /* random order */
        size_t j = (size_t) random() % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t k = 0; k < n; k++) {
        const struct addrinfo *res = ms->m[order[k]].ai, *ai;
        size_t cnt = 0, pick;
        int is_self = 0;
        if (res == NULL)
            continue;
        for (size_t s = 0; s < nself; s++)
            if (addr_same(res->ai_addr, (const struct sockaddr *) &self[s]))
                is_self = 1;
        if (is_self)
            continue;
        for (ai = res; ai != NULL; ai = ai->ai_next)
            if (family == AF_UNSPEC || ai->ai_family == family)
                cnt++;
        if (cnt == 0)
            continue;
        pick = (size_t) random() % cnt;
        for (ai = res; ai != NULL; ai = ai->ai_next) {
            if (family != AF_UNSPEC && ai->ai_family != family)
                continue;
            if (pick-- == 0)
                break;
        }
        memcpy(out, ai->ai_addr, ai->ai_addrlen);
        *outlen = ai->ai_addrlen;
        *idx = order[k];
        free(order);
        return 0;
    }
    free(order);
    return -1;
}
