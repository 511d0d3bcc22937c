/*
 * hkp_file_read(): the capped whole-file reader (file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

/* Reads fd to its end or to max + 1 bytes (one more than may be kept, to
 * tell a file of exactly max from a longer one). */
static int
read_all(int fd, size_t max, size_t first, hkp_file_t *f)
{
    uint8_t *b = NULL, *nb;
    size_t   n = 0, cap = 0, want = max + 1;   /* data bytes room */
    int      rc;

    if (max >= SIZE_MAX - 1)
        return HKP_EINVAL;
    for (;;) {
        ssize_t r;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : first;
            if (cap == want)
                break;                  /* max + 1 bytes read: too long */
            if (nc > want || nc < cap || nc == 0)
                nc = want;
            if ((nb = realloc(b, nc + 1)) == NULL) {
                free(b);
                return HKP_ENOMEM;
            }
            b = nb;
            cap = nc;
        }
        r = read(fd, b + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = errno;
            free(b);
            return rc;
        }
        if (r == 0)
            break;
        n += (size_t) r;
    }
    if (n > max)
        f->cut = 1;
    f->data = b;
    f->len = n > max ? max : n;
    b[f->len] = '\0';
    return 0;
}

int
hkp_file_read(const char *path, size_t max, unsigned flags, hkp_file_t *f)
{
    struct stat st;
    int         fd, rc, in, oflags = O_RDONLY | O_CLOEXEC;

    memset(f, 0, sizeof(*f));
    if (path == NULL)
        return HKP_EINVAL;
    in = (flags & HKP_FILE_STDIN) && strcmp(path, "-") == 0;
    if (flags & HKP_FILE_REGULAR)
        oflags |= O_NONBLOCK;
    if (in)
        fd = STDIN_FILENO;
    else if ((fd = open(path, oflags)) < 0)
        return errno;
    if (fstat(fd, &st) != 0) {
        rc = errno;
        goto out;
    }
    if ((flags & HKP_FILE_REGULAR) && !S_ISREG(st.st_mode)) {
        rc = HKP_ENOTFILE;
        goto out;
    }
    if (S_ISREG(st.st_mode) && (uint64_t) st.st_size > max
        && !(flags & HKP_FILE_PREFIX))
    {
        rc = HKP_EFBIG;
        goto out;
    }
    if ((flags & HKP_FILE_MMAP) && S_ISREG(st.st_mode) && st.st_size > 0
        && (uint64_t) st.st_size <= max)
    {
        void *m = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE,
            fd, 0);
        if (m == MAP_FAILED) {
            rc = errno;
            goto out;
        }
        (void) madvise(m, (size_t) st.st_size, MADV_SEQUENTIAL);
        f->data = m;
        f->len = (size_t) st.st_size;
        f->mapped = 1;
        rc = 0;
        goto out;
    }
    rc = read_all(fd, max, S_ISREG(st.st_mode)
        && (uint64_t) st.st_size < max ? (size_t) st.st_size + 1
        : max < HKP_FILE_CHUNK ? max + 1 : HKP_FILE_CHUNK, f);
    if (rc == 0 && f->cut && !(flags & HKP_FILE_PREFIX)) {
        hkp_file_free(f);
        rc = HKP_EFBIG;
    }
out:
    if (!in)
        close(fd);
    return rc;
}

void
hkp_file_free(hkp_file_t *f)
{
    if (f->mapped)
        munmap(f->data, f->len);
    else
        free(f->data);
    memset(f, 0, sizeof(*f));
}
