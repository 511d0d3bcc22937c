/*
 * Unit tests for reconsvc's peer list (reconsvc/members.c): names are
 * resolved when the file is read, a name that does not resolve is logged
 * and the others are kept, find_ip and pick use the addresses of the last
 * read, the file is re-read when it changes (not otherwise), names that
 * failed are retried after MEMBERS_RETRY_SEC, a missing file is no peers.
 *
 * Usage: test_recon_members
 * Env:   TMPDIR (default /tmp).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "members.h"
#include "tap.h"
#include "util.h"

static char tmpdir[4096], logpath[4200], mpath[4200];

static void
spew(const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fwrite(s, 1, n, f);
        fclose(f);
    }
}

/* Occurrences of s in the log so far. */
static int
logged(const char *s)
{
    size_t len;
    uint8_t *buf = read_file(logpath, &len);
    int n = 0;

    if (buf == NULL)
        return 0;
    for (const char *p = (const char *) buf, *end = p + len;
         (p = memmem(p, (size_t) (end - p), s, strlen(s))) != NULL; p++)
        n++;
    free(buf);
    return n;
}

static struct sockaddr_storage
ip(const char *s, unsigned port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(s, ':') != NULL) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *) &ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t) port);
        inet_pton(AF_INET6, s, &a->sin6_addr);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *) &ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t) port);
        inet_pton(AF_INET, s, &a->sin_addr);
    }
    return ss;
}

static unsigned
port_of(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6
        ? ntohs(((const struct sockaddr_in6 *) ss)->sin6_port)
        : ntohs(((const struct sockaddr_in *) ss)->sin_port);
}

static void
test_members(void)
{
    static const char file1[] =
        "# test\n127.0.0.1 11370\na\0b 1\n::1 11371  # v6\nbad line\n";
    members_t ms;
    struct sockaddr_storage a, self[1], out;
    socklen_t outlen;
    size_t idx;
    int allv6 = 1;

    spew(mpath, file1, sizeof(file1) - 1);
    is_int(members_init(&ms, mpath, 1000.0), 0, "init reads the file");
    is_int((long long) ms.n, 3, "3 members (the bad line skipped)");
    is_int((long long) ms.nfailed, 1, "1 name did not resolve");
    ok(ms.m[0].ai != NULL && ms.m[1].ai == NULL && ms.m[2].ai != NULL,
        "the addresses are there after the read, the others are kept");
    is_int(logged("cannot resolve a host name with a NUL byte"), 1,
        "the failed name is logged once");
    is_int(logged("not \"host port\"; line skipped"), 1,
        "the bad line is logged");
    is_int(logged("3 peer(s), 2 of them resolved"), 1, "the summary");

    a = ip("127.0.0.1", 5555);
    is_int(members_find_ip(&ms, (struct sockaddr *) &a), 0,
        "find_ip 127.0.0.1 (port ignored)");
    a = ip("::1", 1);
    is_int(members_find_ip(&ms, (struct sockaddr *) &a), 2, "find_ip ::1");
    a = ip("127.0.0.2", 11370);
    is_int(members_find_ip(&ms, (struct sockaddr *) &a), -1,
        "find_ip of a non-member: -1");
    is_int(logged("cannot resolve"), 1, "find_ip resolves nothing");

    self[0] = ip("127.0.0.1", 11370);
    for (int i = 0; i < 20; i++) {
        if (members_pick(&ms, self, 1, AF_UNSPEC, &out, &outlen, &idx) != 0
            || idx != 2 || out.ss_family != AF_INET6 || port_of(&out)
            != 11371)
            allv6 = 0;
    }
    ok(allv6, "pick: never ourselves, never the unresolved one");
    is_int(members_pick(&ms, self, 1, AF_INET, &out, &outlen, &idx), -1,
        "pick of family AF_INET without ourselves: none");
    is_int(members_pick(&ms, NULL, 0, AF_INET, &out, &outlen, &idx), 0,
        "pick of family AF_INET");
    ok(idx == 0 && port_of(&out) == 11370, "  127.0.0.1 11370");

    is_int(members_refresh(&ms, 1100.0), 0, "refresh, file unchanged");
    is_int(logged("peer(s)"), 1, "  not re-read");
    is_int(logged("cannot resolve"), 1, "  no retry before MEMBERS_RETRY_SEC");
    is_int(members_refresh(&ms, 1000.0 + MEMBERS_RETRY_SEC), 0,
        "refresh after MEMBERS_RETRY_SEC");
    is_int(logged("cannot resolve"), 2, "  the failed name tried again");
    is_int(logged("peer(s)"), 1, "  the file not re-read");
    ok(ms.m[0].ai != NULL && ms.m[2].ai != NULL, "  the others kept");

    spew(mpath, "127.0.0.1 11370\n", 16);      /* another size */
    is_int(members_refresh(&ms, 1400.0), 0, "refresh, file changed");
    ok(ms.n == 1 && ms.nfailed == 0 && ms.m[0].ai != NULL
        && strcmp(ms.m[0].port, "11370") == 0, "  re-read and resolved");
    is_int(logged("1 peer(s)\n"), 1, "  logged");
    a = ip("::1", 1);
    is_int(members_find_ip(&ms, (struct sockaddr *) &a), -1,
        "  ::1 no longer a member");

    unlink(mpath);
    is_int(members_refresh(&ms, 1500.0), 0, "refresh, file gone");
    is_int((long long) ms.n, 0, "  no members");
    ok(logged("; no peers") == 1, "  logged");
    members_free(&ms);
}

int
main(void)
{
    const char *td = getenv("TMPDIR");

    snprintf(tmpdir, sizeof(tmpdir), "%s/hkp-test-members.XXXXXX",
        td && *td ? td : "/tmp");
    if (!ok(mkdtemp(tmpdir) != NULL, "mkdtemp"))
        return tap_done();
    snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
    snprintf(mpath, sizeof(mpath), "%s/membership", tmpdir);
    if (ok(rlog_open(logpath) == 0, "log to %s", logpath)) {
        test_members();
        rlog_close();
    }
    rm_tree(tmpdir);
    ok(access(tmpdir, F_OK) != 0, "temp dir removed");
    return tap_done();
}
