/*
 * The SKS membership file (membership.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "membership.h"

static int
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/*
 * One line p[0..n) (no '\n'). 1 with *m filled, 0 for a blank or comment
 * line, -1 for a line that is not "host port".
 */
static int
parse_line(const char *p, size_t n, hkp_member_t *m)
{
    const char *end = p + n, *host, *hend, *port, *pend, *hash;
    unsigned long pv = 0;

    if ((hash = memchr(p, '#', n)) != NULL)
        end = hash;
    while (p < end && is_blank(*p))
        p++;
    host = p;
    while (p < end && !is_blank(*p))
        p++;
    hend = p;
    while (p < end && is_blank(*p))
        p++;
    port = p;
    while (p < end && !is_blank(*p))
        p++;
    pend = p;

    if (host == hend)
        return 0;
    if (port < pend && *port == '+')
        port++;
    if (port == pend || (size_t) (hend - host) > HKP_MEMBERSHIP_MAX_HOST)
        return -1;
    for (const char *q = port; q < pend; q++) {
        if (*q < '0' || *q > '9')
            return -1;
        pv = pv * 10 + (unsigned long) (*q - '0');
        if (pv > HKP_MEMBERSHIP_MAX_PORT)
            return -1;
    }
    if (pv == 0)
        return -1;

    m->host_len = (size_t) (hend - host);
    memcpy(m->host, host, m->host_len);
    m->host[m->host_len] = '\0';
    m->port = (uint16_t) pv;
    return 1;
}

int
hkp_membership_parse(const char *buf, size_t len, hkp_membership_t *ms)
{
    size_t lineno = 0, cap = 0;

    memset(ms, 0, sizeof(*ms));
    if (len > HKP_MEMBERSHIP_MAX_SIZE || (buf == NULL && len > 0))
        return HKP_EINVAL;

    for (const char *p = buf, *end = buf + len; p < end; ) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        hkp_member_t m;
        int rc;

        if (nl == NULL)
            nl = end;
        lineno++;
        rc = parse_line(p, (size_t) (nl - p), &m);
        p = nl + 1;
        if (rc == 0)
            continue;
        if (rc < 0) {
            if (ms->nbad < HKP_MEMBERSHIP_MAX_BAD_NOTED)
                ms->bad_line[ms->nbad] = lineno;
            ms->nbad++;
            continue;
        }
        if (ms->n == HKP_MEMBERSHIP_MAX_PEERS) {
            ms->over = 1;
            break;
        }
        if (ms->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            hkp_member_t *nm;
            if (ncap > HKP_MEMBERSHIP_MAX_PEERS)
                ncap = HKP_MEMBERSHIP_MAX_PEERS;
            if ((nm = realloc(ms->m, ncap * sizeof(*nm))) == NULL)
                return HKP_ENOMEM;
            ms->m = nm;
            cap = ncap;
        }
        ms->m[ms->n++] = m;
    }
    return 0;
}

int
hkp_membership_read(const char *path, hkp_membership_t *ms)
{
    struct stat st;
    char *buf;
    size_t want, n = 0;
    int fd, rc, cut = 0;

    memset(ms, 0, sizeof(*ms));
    if (path == NULL)
        return HKP_EINVAL;
    /* O_NONBLOCK: a FIFO in its place must not hang the reader */
    if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
        return errno;
    if (fstat(fd, &st) != 0) {
        rc = errno;
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return HKP_ENOTFILE;
    }
    want = (size_t) st.st_size;
    if (st.st_size > HKP_MEMBERSHIP_MAX_SIZE) {
        want = HKP_MEMBERSHIP_MAX_SIZE;
        cut = 1;
    }
    if ((buf = malloc(want + 1)) == NULL) {
        close(fd);
        return HKP_ENOMEM;
    }
    while (n < want) {
        ssize_t got = read(fd, buf + n, want - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = errno;
            free(buf);
            close(fd);
            return rc;
        }
        if (got == 0)
            break;                      /* shrank meanwhile */
        n += (size_t) got;
    }
    close(fd);
    if (cut) {                          /* drop the partial last line */
        while (n > 0 && buf[n - 1] != '\n')
            n--;
    }
    rc = hkp_membership_parse(buf, n, ms);
    free(buf);
    ms->cut = cut;
    return rc;
}

void
hkp_membership_free(hkp_membership_t *ms)
{
    free(ms->m);
    memset(ms, 0, sizeof(*ms));
}
