/*
 * Unit tests for shared/file.c (hkp_file_read: the cap, exactly the cap,
 * a prefix, regular files only, a FIFO never waited for, a mapping, an
 * empty file, standard input, missing files) and armor.c's
 * hkp_armor_sniff().
 *
 * Usage: test_file
 * Env:   TMPDIR (default /tmp).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"
#include "armor.h"
#include "file.h"

#define BIG_LEN  (3 * HKP_FILE_CHUNK + 17)   /* read in several pieces */

static char tmpdir[4096];

static void
spew(const char *path, const void *s, size_t n)
{
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fwrite(s, 1, n, f);
        fclose(f);
    }
}

static void
test_small(void)
{
    char       path[4200];
    hkp_file_t f;

    snprintf(path, sizeof(path), "%s/small", tmpdir);
    spew(path, "hello\n", 6);
    is_int(hkp_file_read(path, 6, 0, &f), 0, "a file of exactly max bytes");
    ok(f.len == 6 && memcmp(f.data, "hello\n", 6) == 0 && f.data[6] == '\0'
        && !f.cut && !f.mapped, "  its bytes, NUL-terminated, not cut");
    hkp_file_free(&f);
    ok(f.data == NULL && f.len == 0, "  freed: empty");

    is_int(hkp_file_read(path, 5, 0, &f), HKP_EFBIG,
        "one byte over max: HKP_EFBIG");
    ok(f.data == NULL && f.len == 0, "  nothing kept");
    hkp_file_free(&f);

    is_int(hkp_file_read(path, 5, HKP_FILE_PREFIX, &f), 0,
        "one byte over max with HKP_FILE_PREFIX");
    ok(f.len == 5 && f.cut && memcmp(f.data, "hello", 5) == 0
        && f.data[5] == '\0', "  its first max bytes, cut");
    hkp_file_free(&f);

    is_int(hkp_file_read(path, 6, HKP_FILE_MMAP, &f), 0, "mapped");
    ok(f.mapped && f.len == 6 && memcmp(f.data, "hello\n", 6) == 0,
        "  the mapping holds the bytes");
    hkp_file_free(&f);
    is_int(hkp_file_read(path, 5, HKP_FILE_MMAP, &f), HKP_EFBIG,
        "mapped, over max: HKP_EFBIG");
    hkp_file_free(&f);

    snprintf(path, sizeof(path), "%s/empty", tmpdir);
    spew(path, "", 0);
    is_int(hkp_file_read(path, 6, HKP_FILE_MMAP, &f), 0, "an empty file");
    ok(f.len == 0 && f.data != NULL && !f.mapped, "  a buffer, not mapped");
    hkp_file_free(&f);
}

static void
test_kinds(void)
{
    char       path[4200];
    hkp_file_t f;
    int        fd, saved;

    snprintf(path, sizeof(path), "%s/missing", tmpdir);
    is_int(hkp_file_read(path, 10, 0, &f), ENOENT, "missing: ENOENT");
    hkp_file_free(&f);
    is_int(hkp_file_read(NULL, 10, 0, &f), HKP_EINVAL, "NULL path: EINVAL");
    is_int(hkp_file_read(tmpdir, 10, HKP_FILE_REGULAR, &f), HKP_ENOTFILE,
        "a directory, regular only: HKP_ENOTFILE");
    snprintf(path, sizeof(path), "%s/fifo", tmpdir);
    if (ok(mkfifo(path, 0600) == 0, "mkfifo"))
        is_int(hkp_file_read(path, 10, HKP_FILE_REGULAR, &f), HKP_ENOTFILE,
            "a FIFO, regular only: HKP_ENOTFILE without waiting");

    /* "-" is a file name unless HKP_FILE_STDIN; with it, standard input. */
    snprintf(path, sizeof(path), "%s/in", tmpdir);
    spew(path, "from stdin", 10);
    saved = dup(STDIN_FILENO);
    fd = open(path, O_RDONLY);
    if (ok(saved >= 0 && fd >= 0 && dup2(fd, STDIN_FILENO) == STDIN_FILENO,
            "stdin redirected"))
    {
        is_int(hkp_file_read("-", 100, HKP_FILE_STDIN, &f), 0,
            "\"-\" with HKP_FILE_STDIN");
        ok(f.len == 10 && memcmp(f.data, "from stdin", 10) == 0,
            "  reads standard input");
        hkp_file_free(&f);
        ok(fcntl(STDIN_FILENO, F_GETFD) != -1, "  and leaves it open");
        is_int(hkp_file_read("-", 100, 0, &f), ENOENT,
            "\"-\" without it: a (missing) file");
        dup2(saved, STDIN_FILENO);
    }
    if (fd >= 0)
        close(fd);
    if (saved >= 0)
        close(saved);
}

static void
test_pipe(void)
{
    int        p[2], saved;
    uint8_t   *big = malloc(BIG_LEN);
    hkp_file_t f;
    pid_t      pid;

    if (!ok(big != NULL && pipe(p) == 0, "pipe"))
        return;
    for (size_t i = 0; i < BIG_LEN; i++)
        big[i] = (uint8_t) (i * 7);
    pid = fork();
    if (pid == 0) {
        size_t off = 0;
        close(p[0]);
        while (off < BIG_LEN) {
            ssize_t w = write(p[1], big + off, BIG_LEN - off);
            if (w <= 0)
                _exit(1);
            off += (size_t) w;
        }
        _exit(0);
    }
    close(p[1]);
    saved = dup(STDIN_FILENO);
    dup2(p[0], STDIN_FILENO);
    is_int(hkp_file_read("-", BIG_LEN, HKP_FILE_STDIN | HKP_FILE_MMAP, &f),
        0, "a pipe of exactly max bytes, in pieces");
    ok(f.len == BIG_LEN && !f.mapped && memcmp(f.data, big, BIG_LEN) == 0,
        "  every byte");
    hkp_file_free(&f);
    dup2(saved, STDIN_FILENO);
    close(saved);
    close(p[0]);
    waitpid(pid, NULL, 0);
    free(big);
}

static void
test_sniff(void)
{
    static const uint8_t bin[] = { 0x99, 0x00, 0x01 };
    static const char    arm[] = "x\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n";
    static const char    txt[] = "-----BEGIN PG";

    ok(hkp_armor_sniff((const uint8_t *) arm, sizeof(arm) - 1),
        "sniff: armored text");
    ok(!hkp_armor_sniff(bin, sizeof(bin)), "sniff: binary packets");
    ok(!hkp_armor_sniff((const uint8_t *) txt, sizeof(txt) - 1),
        "sniff: text without a header line");
    ok(!hkp_armor_sniff(bin, 0), "sniff: nothing");
}

int
main(void)
{
    const char *td = getenv("TMPDIR");

    snprintf(tmpdir, sizeof(tmpdir), "%s/hkp-test-file.XXXXXX",
        td && *td ? td : "/tmp");
    if (ok(mkdtemp(tmpdir) != NULL, "mkdtemp")) {
        test_small();
        test_kinds();
        test_pipe();
        rm_tree(tmpdir);
        ok(access(tmpdir, F_OK) != 0, "temp dir removed");
    }
    test_sniff();
    return tap_done();
}
