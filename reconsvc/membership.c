/*
 * The SKS membership file (membership.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "addr.h"
#include "log.h"
#include "membership.h"

static int
load(membership_t *ms, const struct stat *st)
{
    FILE *f = fopen(ms->path, "r");
    char line[1024];
    member_t *m = NULL;
    size_t n = 0, lineno = 0;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *hash, *save = NULL, *host, *port, *end;
        unsigned long pv;
        lineno++;
        if ((hash = strchr(line, '#')) != NULL)
            *hash = '\0';
        host = strtok_r(line, " \t\r\n", &save);
        if (host == NULL)
            continue;
        port = strtok_r(NULL, " \t\r\n", &save);
        errno = 0;
        pv = port != NULL ? strtoul(port, &end, 10) : 0;
        if (port == NULL || *end != '\0' || pv == 0 || pv > 65535
            || strlen(host) > MEMBERSHIP_MAX_HOST)
        {
            rlog("membership %s:%zu: not \"host port\"; line skipped",
                ms->path, lineno);
            continue;
        }
        if (n == MEMBERSHIP_MAX_LINES) {
            rlog("membership %s: more than %d peers; the rest ignored",
                ms->path, MEMBERSHIP_MAX_LINES);
            break;
        }
        member_t *nm = realloc(m, (n + 1) * sizeof(*m));
        if (nm == NULL) {
            free(m);
            fclose(f);
            return -1;
        }
        m = nm;
        snprintf(m[n].host, sizeof(m[n].host), "%s", host);
        snprintf(m[n].port, sizeof(m[n].port), "%lu", pv);
        n++;
    }
    if (ferror(f)) {
        free(m);
        fclose(f);
        return -1;
    }
    fclose(f);
    free(ms->m);
    ms->m = m;
    ms->n = n;
    ms->loaded = 1;
    ms->mtime = st->st_mtim;
    ms->size = st->st_size;
    rlog("membership %s: %zu peer(s)", ms->path, n);
    return 0;
}

int
membership_refresh(membership_t *ms)
{
    struct stat st;
    if (ms->path == NULL)
        return 0;
    if (stat(ms->path, &st) != 0) {
        if (!ms->loaded || ms->n > 0)
            rlog("membership %s: %s; no peers", ms->path, strerror(errno));
        free(ms->m);
        ms->m = NULL;
        ms->n = 0;
        ms->loaded = 1;
        memset(&ms->mtime, 0, sizeof(ms->mtime));
        ms->size = -1;
        return errno == ENOENT ? 0 : -1;
    }
    if (ms->loaded && st.st_mtim.tv_sec == ms->mtime.tv_sec
        && st.st_mtim.tv_nsec == ms->mtime.tv_nsec && st.st_size == ms->size)
        return 0;
    if (load(ms, &st) != 0) {
        rlog("membership %s: cannot read: %s", ms->path, strerror(errno));
        return -1;
    }
    return 0;
}

int
membership_init(membership_t *ms, const char *path)
{
    memset(ms, 0, sizeof(*ms));
    if (path != NULL && (ms->path = strdup(path)) == NULL)
        return -1;
    return membership_refresh(ms);
}

void
membership_free(membership_t *ms)
{
    free(ms->path);
    free(ms->m);
    memset(ms, 0, sizeof(*ms));
}

static int
resolve(const member_t *m, int family, struct addrinfo **res)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(m->host, m->port, &hints, res);
    if (rc != 0) {
        rlog("membership: cannot resolve %s: %s", m->host, gai_strerror(rc));
        return -1;
    }
    return 0;
}

int
membership_find_ip(const membership_t *ms, const struct sockaddr *sa)
{
    for (size_t i = 0; i < ms->n; i++) {
        struct addrinfo *res, *ai;
        if (resolve(&ms->m[i], AF_UNSPEC, &res) != 0)
            continue;
        for (ai = res; ai != NULL; ai = ai->ai_next) {
            if (addr_same_ip(ai->ai_addr, sa))
                break;
        }
        freeaddrinfo(res);
        if (ai != NULL)
            return (int) i;
    }
    return -1;
}

int
membership_pick(const membership_t *ms, const struct sockaddr_storage *self,
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
        struct addrinfo *res, *ai;
        size_t cnt = 0, pick;
        int is_self = 0;
        if (resolve(&ms->m[order[k]], AF_UNSPEC, &res) != 0)
            continue;
        for (size_t s = 0; s < nself; s++)
            if (addr_same(res->ai_addr, (const struct sockaddr *) &self[s]))
                is_self = 1;
        if (!is_self) {
            for (ai = res; ai != NULL; ai = ai->ai_next)
                if (family == AF_UNSPEC || ai->ai_family == family)
                    cnt++;
        }
        if (cnt > 0) {
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
            freeaddrinfo(res);
            free(order);
            return 0;
        }
        freeaddrinfo(res);
    }
    free(order);
    return -1;
}
