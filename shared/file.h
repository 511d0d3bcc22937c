/*
 * One capped file reader for the files the programs read whole: key files
 * (reconsvc import, hash), the SKS configuration (reconsvc migrate) and
 * the membership file (membership.c, both processes).
 *
 * Errors LMDB style: 0, an errno value (the file could not be opened,
 * examined, mapped or read), or a negative HKP_E* code of hkp_error.h
 * (HKP_EFBIG, HKP_ENOTFILE, HKP_ENOMEM, HKP_EINVAL); hkp_strerror() names
 * any of them.
 */
#ifndef HKP_FILE_H
#define HKP_FILE_H

#include <stddef.h>
#include <stdint.h>
#include "hkp_error.h"

#define HKP_FILE_STDIN    0x01  /* "-" is the standard input */
#define HKP_FILE_REGULAR  0x02  /* a regular file only (else HKP_ENOTFILE);
                                   opened O_NONBLOCK so that a FIFO in its
                                   place never hangs the reader */
#define HKP_FILE_PREFIX   0x04  /* a file longer than max: its first max
                                   bytes, with cut set (else HKP_EFBIG) */
#define HKP_FILE_MMAP     0x08  /* a non-empty regular file is mapped, not
                                   read */

/* First buffer for a file read in pieces (standard input, a pipe). */
#define HKP_FILE_CHUNK    ((size_t) 1 << 20)

typedef struct {
    uint8_t   *data;      /* owned: hkp_file_free(); never NULL after a
                             read; NUL-terminated after len unless
                             mapped */
    size_t     len;
    unsigned   mapped:1;  /* data is a private read-only mapping */
    unsigned   cut:1;     /* HKP_FILE_PREFIX: the file had more than max */
} hkp_file_t;

/*
 * Reads the whole file at path, at most max bytes, into *f (flags
 * HKP_FILE_*). A file of more than max bytes is HKP_EFBIG (or its start,
 * with HKP_FILE_PREFIX). *f is empty after an error, and is freed with
 * hkp_file_free() either way.
 */
int  hkp_file_read(const char *path, size_t max, unsigned flags,
    hkp_file_t *f);
void hkp_file_free(hkp_file_t *f);

#endif
