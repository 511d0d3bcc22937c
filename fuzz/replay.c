/*
 * A plain main() for the fuzz harnesses: replays corpus files through
 * LLVMFuzzerTestOneInput without libFuzzer, so every harness also builds
 * with gcc under -Wall -Wextra -Werror and its corpus runs as a unit test
 * (t/10-unit.t runs the binaries from build/t/ and build/asan/t/).
 *
 *   fuzz_<target> [FILE|DIR]...   default: fuzz/corpus/<target>
 *
 * Prints TAP: one "ok" line per input replayed. An invariant violation
 * aborts the process (the unit test then fails).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the harness"
#endif

/* Paths replayed at most (a seed corpus is small). */
#define REPLAY_MAX_FILES  4096
/* Bytes of one replayed input at most. */
#define REPLAY_MAX_LEN    (16 * 1024 * 1024)

static char   *files[REPLAY_MAX_FILES];
static size_t  nfiles;

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
add_path(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: cannot stat %s\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (nfiles == REPLAY_MAX_FILES) {
            fprintf(stderr, "replay: more than %d files\n", REPLAY_MAX_FILES);
            return -1;
        }
        files[nfiles] = strdup(path);
        return files[nfiles++] == NULL ? -1 : 0;
    }
    d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        char sub[4096];
        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        if (add_path(sub) != 0) {
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    return 0;
}

static uint8_t *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (f == NULL)
        return NULL;
    buf = malloc(REPLAY_MAX_LEN);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }
    n = fread(buf, 1, REPLAY_MAX_LEN, f);
    fclose(f);
    *len = n;
    return buf;
}

int
main(int argc, char **argv)
{
    int rc = 0;

    if (argc < 2) {
        if (add_path("fuzz/corpus/" FUZZ_TARGET) != 0)
            return 1;
    }
    for (int i = 1; i < argc; i++)
        if (add_path(argv[i]) != 0)
            return 1;
    if (nfiles == 0) {
        fprintf(stderr, "replay: no inputs\n");
        return 1;
    }
    qsort(files, nfiles, sizeof(files[0]), cmp_str);
    printf("1..%zu\n", nfiles);
    for (size_t i = 0; i < nfiles; i++) {
        size_t len = 0;
        uint8_t *buf = slurp(files[i], &len);
        if (buf == NULL) {
            printf("not ok %zu - %s (unreadable)\n", i + 1, files[i]);
            rc = 1;
        } else {
            /* an exact-size copy, so ASan sees reads past the input */
            uint8_t *in = malloc(len ? len : 1);
            if (in == NULL)
                return 1;
            memcpy(in, buf, len);
            free(buf);
            (void) LLVMFuzzerTestOneInput(in, len);
            free(in);
            printf("ok %zu - %s: %s\n", i + 1, FUZZ_TARGET, files[i]);
        }
        fflush(stdout);
        free(files[i]);
    }
    return rc;
}
