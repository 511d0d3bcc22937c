/*
 * Unit tests for shared/membership.c: the membership file parser (lines,
 * comments, ports, host lengths, bad lines noted, the peer and size
 * caps, bad arguments) and the file reader (missing file, directory,
 * FIFO, a file over HKP_MEMBERSHIP_MAX_SIZE, strerror).
 *
 * Usage: test_membership
 * Env:   TMPDIR (default /tmp).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"
#include "membership.h"

static char tmpdir[4096];

static int
parse_str(const char *s, hkp_membership_t *ms)
{
    return hkp_membership_parse(s, strlen(s), ms);
}

static int
has(const hkp_membership_t *ms, size_t i, const char *host, unsigned port)
{
    return i < ms->n && ms->m[i].host_len == strlen(host)
        && strcmp(ms->m[i].host, host) == 0 && ms->m[i].port == port;
}

static void
test_lines(void)
{
    hkp_membership_t ms;
    const char *f =
        "# gossip peers, SKS format\n"
        "\n"
        "127.0.0.1 11371   # node A <a@example.org>\n"
        "keys.example.net\t11370 extra tokens # Jane\n"
        "bad.example.net 0\n"
        "bad.example.net 70000\n"
        "bad.example.net x11370\n"
        "lonely.example.net\n"
        "   \t  # only a comment\n"
        "crlf.example 1\r\n"
        "plus.example +2\n"
        "zeros.example 00011370\n"
        "max.example 65535\n"
        "over.example 65536\n"
        "neg.example -1\n"
        "hash.example#1 2\n"
        "glued.example 3#comment\n"
        "vt.example\v4\n"
        "last.example 5";            /* no newline at the end */

    is_int(parse_str(f, &ms), 0, "parse: a file with every kind of line");
    is_int((long long) ms.n, 8, "8 peers");
    ok(has(&ms, 0, "127.0.0.1", 11371), "peer 0: comment after the port");
    ok(has(&ms, 1, "keys.example.net", 11370), "peer 1: tab, extra tokens");
    ok(has(&ms, 2, "crlf.example", 1), "peer 2: CRLF");
    ok(has(&ms, 3, "plus.example", 2), "peer 3: +port");
    ok(has(&ms, 4, "zeros.example", 11370), "peer 4: leading zeros");
    ok(has(&ms, 5, "max.example", 65535), "peer 5: port 65535");
    ok(has(&ms, 6, "glued.example", 3), "peer 6: '#' right after the port");
    ok(has(&ms, 7, "last.example", 5), "peer 7: no final newline");
    is_int((long long) ms.nbad, 8, "8 bad lines counted");
    {
        static const size_t want[] = { 5, 6, 7, 8, 14, 15, 16, 18 };
        int same = 1;
        for (size_t i = 0; i < HKP_MEMBERSHIP_MAX_BAD_NOTED; i++)
            same &= ms.bad_line[i] == want[i];
        ok(same, "the first %d bad line numbers noted",
            HKP_MEMBERSHIP_MAX_BAD_NOTED);
    }
    ok(!ms.cut && !ms.over, "neither cut nor over");
    hkp_membership_free(&ms);
    ok(ms.m == NULL && ms.n == 0, "free clears");

    is_int(hkp_membership_parse(NULL, 0, &ms), 0, "empty input");
    is_int((long long) ms.n, 0, "no peers");
    hkp_membership_free(&ms);
    is_int(hkp_membership_parse(NULL, 1, &ms), HKP_EINVAL,
        "NULL with a length: EINVAL");
    hkp_membership_free(&ms);
}

static void
test_host_bytes(void)
{
    hkp_membership_t ms;
    char line[HKP_MEMBERSHIP_MAX_HOST + 32];
    static const char nul[] = "a\0b 7\n";

    memset(line, 'h', HKP_MEMBERSHIP_MAX_HOST);
    snprintf(line + HKP_MEMBERSHIP_MAX_HOST, 32, " 11370\n");
    is_int(parse_str(line, &ms), 0, "host of HKP_MEMBERSHIP_MAX_HOST bytes");
    ok(ms.n == 1 && ms.m[0].host_len == HKP_MEMBERSHIP_MAX_HOST
        && ms.m[0].host[HKP_MEMBERSHIP_MAX_HOST] == '\0', "kept whole");
    hkp_membership_free(&ms);

    memset(line, 'h', HKP_MEMBERSHIP_MAX_HOST + 1);
    snprintf(line + HKP_MEMBERSHIP_MAX_HOST + 1, 30, " 11370\n");
    is_int(parse_str(line, &ms), 0, "host one byte longer");
    ok(ms.n == 0 && ms.nbad == 1, "a bad line");
    hkp_membership_free(&ms);

    is_int(hkp_membership_parse(nul, sizeof(nul) - 1, &ms), 0,
        "a NUL byte in a host");
    ok(ms.n == 1 && ms.m[0].host_len == 3 && memcmp(ms.m[0].host, "a\0b", 4)
        == 0 && ms.m[0].port == 7, "kept, with its length");
    hkp_membership_free(&ms);

    is_int(parse_str("h\xc3\xa9\xff<x> 12\n", &ms), 0, "non-UTF-8 host");
    ok(ms.n == 1 && strcmp(ms.m[0].host, "h\xc3\xa9\xff<x>") == 0,
        "its bytes as they are (cleaning is the reader's)");
    hkp_membership_free(&ms);
}

static void
test_caps(void)
{
    hkp_membership_t ms;
    size_t cap = HKP_MEMBERSHIP_MAX_SIZE + 64, n = 0;
    char *buf = malloc(cap + 1);
    int i;

    if (!ok(buf != NULL, "malloc"))
        return;
    for (i = 1; n + 40 < HKP_MEMBERSHIP_MAX_SIZE; i++)
        n += (size_t) snprintf(buf + n, cap - n, "p%d.example 11370\n", i);
    ok(hkp_membership_parse(buf, n, &ms) == 0, "a file of %d lines", i - 1);
    is_int((long long) ms.n, HKP_MEMBERSHIP_MAX_PEERS,
        "HKP_MEMBERSHIP_MAX_PEERS peers kept");
    ok(ms.over, "over set");
    ok(has(&ms, HKP_MEMBERSHIP_MAX_PEERS - 1, "p1000.example", 11370),
        "the first ones");
    hkp_membership_free(&ms);

    n = 0;
    for (i = 0; i < 20; i++)
        n += (size_t) snprintf(buf + n, cap - n, "bad%d\n", i);
    is_int(hkp_membership_parse(buf, n, &ms), 0, "20 bad lines");
    ok(ms.nbad == 20 && ms.bad_line[HKP_MEMBERSHIP_MAX_BAD_NOTED - 1]
        == HKP_MEMBERSHIP_MAX_BAD_NOTED, "all counted, the first noted");
    hkp_membership_free(&ms);

    memset(buf, '#', cap);
    is_int(hkp_membership_parse(buf, HKP_MEMBERSHIP_MAX_SIZE, &ms), 0,
        "HKP_MEMBERSHIP_MAX_SIZE bytes: parsed");
    hkp_membership_free(&ms);
    is_int(hkp_membership_parse(buf, HKP_MEMBERSHIP_MAX_SIZE + 1, &ms),
        HKP_EINVAL, "one byte more: EINVAL");
    hkp_membership_free(&ms);
    free(buf);
}

static void
spew(const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fwrite(s, 1, n, f);
        fclose(f);
    }
}

static void
test_read(void)
{
    hkp_membership_t ms;
    char path[4200], *big;
    size_t n = 0, cap = 2 * HKP_MEMBERSHIP_MAX_SIZE;
    int i, rc;

    snprintf(path, sizeof(path), "%s/missing", tmpdir);
    is_int(hkp_membership_read(path, &ms), ENOENT, "missing file: ENOENT");
    hkp_membership_free(&ms);
    is_int(hkp_membership_read(NULL, &ms), HKP_EINVAL,
        "NULL path: EINVAL");
    hkp_membership_free(&ms);

    is_int(hkp_membership_read(tmpdir, &ms), HKP_ENOTFILE,
        "a directory: ENOTFILE");
    hkp_membership_free(&ms);

    snprintf(path, sizeof(path), "%s/fifo", tmpdir);
    if (ok(mkfifo(path, 0600) == 0, "mkfifo")) {
        is_int(hkp_membership_read(path, &ms), HKP_ENOTFILE,
            "a FIFO: ENOTFILE, without waiting for a writer");
        hkp_membership_free(&ms);
    }

    snprintf(path, sizeof(path), "%s/membership", tmpdir);
    spew(path, "a.example 1\n# c\nb.example 2\n", 28);
    is_int(hkp_membership_read(path, &ms), 0, "read a small file");
    ok(ms.n == 2 && has(&ms, 1, "b.example", 2) && !ms.cut, "its 2 peers");
    hkp_membership_free(&ms);

    if (!ok((big = malloc(cap)) != NULL, "malloc"))
        return;
    for (i = 1; n + 64 < cap; i++)
        n += (size_t) snprintf(big + n, cap - n, "%d.example 1 # %s\n", i,
            "xxxxxxxxxxxxxxxxxxxxxxxx");
    spew(path, big, n);
    rc = hkp_membership_read(path, &ms);
    ok(rc == 0, "read a file of %zu bytes", n);
    ok(ms.cut && ms.over, "cut and over");
    hkp_membership_free(&ms);

    /* just over the cap, 200 short lines: the partial last one dropped */
    n = 0;
    for (i = 1; i <= 200; i++)
        n += (size_t) snprintf(big + n, cap - n, "h%d.example 1\n", i);
    memset(big + n, '#', HKP_MEMBERSHIP_MAX_SIZE - n);
    n = HKP_MEMBERSHIP_MAX_SIZE;
    memcpy(big + n - 20, "\ncut.example 77", 15);  /* then '#' to the cap */
    memcpy(big + n, "7\n", 2);                      /* past the cap */
    spew(path, big, n + 2);
    is_int(hkp_membership_read(path, &ms), 0, "a file 2 bytes over the cap");
    ok(ms.cut && ms.n == 200 && has(&ms, 199, "h200.example", 1),
        "cut: the line across the cap is not read");
    hkp_membership_free(&ms);
    spew(path, big, n);
    is_int(hkp_membership_read(path, &ms), 0, "a file of exactly the cap");
    ok(!ms.cut && ms.n == 201 && ms.m[200].port == 77,
        "not cut: its last line read");
    hkp_membership_free(&ms);
    free(big);
}

static void
test_strerror(void)
{
    is_str(hkp_strerror(0), "success", "strerror 0");
    is_str(hkp_strerror(HKP_ENOTFILE),
        "not a regular file", "strerror ENOTFILE");
    is_str(hkp_strerror(HKP_ENOMEM), "out of memory",
        "strerror ENOMEM");
    is_str(hkp_strerror(ENOENT), strerror(ENOENT),
        "strerror of an errno");
    is_str(hkp_strerror(-1), "unknown error", "strerror -1");
}

int
main(void)
{
    const char *td = getenv("TMPDIR");

    snprintf(tmpdir, sizeof(tmpdir), "%s/hkp-test-membership.XXXXXX",
        td && *td ? td : "/tmp");
    test_lines();
    test_host_bytes();
    test_caps();
    if (ok(mkdtemp(tmpdir) != NULL, "mkdtemp")) {
        test_read();
        rm_tree(tmpdir);
        ok(access(tmpdir, F_OK) != 0, "temp dir removed");
    }
    test_strerror();
    return tap_done();
}
