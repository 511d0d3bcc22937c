/*
 * The daemon's byte buffer: a growable queue of bytes (appended at the
 * back, consumed from the front) for socket input and output and for
 * building recon frames; big-endian words; a bounded reader over bytes
 * received.
 *
 * Ownership: a zeroed rbuf_t is empty; rbuf_free() releases its memory.
 */
#ifndef RECONSVC_BUF_H
#define RECONSVC_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bytes.h"   /* hkp_get_be32/hkp_put_be32 for the wire's words */

/* First allocation of a buffer (then doubled as needed). */
#define RBUF_INITIAL   4096
/* rbuf_recv(): out of memory (recv() was not called). */
#define RBUF_ENOMEM    (-2)

typedef struct {
    uint8_t  *d;
    size_t    len;     /* bytes held, from d[off] */
    size_t    off;     /* consumed bytes at the front */
    size_t    cap;
} rbuf_t;

void    rbuf_free(rbuf_t *b);
/* Makes room for n more bytes; 0 or -1 (out of memory). */
int     rbuf_reserve(rbuf_t *b, size_t n);
int     rbuf_put(rbuf_t *b, const void *p, size_t n);
/* A big-endian 32-bit word. */
int     rbuf_put_u32(rbuf_t *b, uint32_t v);
/* n as a big-endian 32-bit word, then the n bytes (-1 too, n > 2^32-1). */
int     rbuf_put_str(rbuf_t *b, const void *p, size_t n);
/* Unconsumed bytes. */
static inline const uint8_t *
rbuf_data(const rbuf_t *b)
{
    return b->d + b->off;
}

static inline size_t
rbuf_avail(const rbuf_t *b)
{
    return b->len - b->off;
}

/* Writable pointer to unconsumed byte rel (rel < rbuf_avail()). */
static inline uint8_t *
rbuf_at(rbuf_t *b, size_t rel)
{
    return b->d + b->off + rel;
}

/* Drops n bytes from the front (compacting now and then). */
void    rbuf_consume(rbuf_t *b, size_t n);
/* Keeps the first rel unconsumed bytes, drops the rest at the back. */
void    rbuf_truncate(rbuf_t *b, size_t rel);

/* One recv() of up to chunk bytes onto the back of b: what recv()
 * returned (bytes, 0 at end of stream, -1 with errno), or RBUF_ENOMEM. */
ssize_t rbuf_recv(rbuf_t *b, int fd, size_t chunk);
/* One send() from the front of b (no SIGPIPE); what is sent is consumed.
 * What send() returned. */
ssize_t rbuf_send(rbuf_t *b, int fd);

/* Reads fields off received bytes without going past their end. */
typedef struct {
    const uint8_t  *p;
    size_t          left;
} rbuf_rd_t;

/* 0, or -1 when fewer bytes are left (nothing consumed). */
int rbuf_rd_u32(rbuf_rd_t *r, uint32_t *v);
/* *out points at the next n bytes. */
int rbuf_rd_bytes(rbuf_rd_t *r, size_t n, const uint8_t **out);

#endif
