/*
 * The daemon's byte buffer (buf.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"

void
rbuf_free(rbuf_t *b)
{
    free(b->d);
    b->d = NULL;
    b->len = b->off = b->cap = 0;
}

int
rbuf_reserve(rbuf_t *b, size_t n)
{
    if (b->off > 0 && (b->off == b->len || b->off >= b->cap / 2)) {
        memmove(b->d, b->d + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (n <= b->cap - b->len)
        return 0;
    if (n > SIZE_MAX / 2 - b->len)
        return -1;
    size_t want = b->len + n, cap = b->cap ? b->cap : RBUF_INITIAL;
    while (cap < want)
        cap *= 2;
    uint8_t *d = realloc(b->d, cap);
    if (d == NULL)
        return -1;
    b->d = d;
    b->cap = cap;
    return 0;
}

int
rbuf_put(rbuf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (rbuf_reserve(b, n) != 0)
        return -1;
    memcpy(b->d + b->len, p, n);
    b->len += n;
    return 0;
}

int
rbuf_put_u32(rbuf_t *b, uint32_t v)
{
    uint8_t x[4];
    hkp_put_be32(x, v);
    return rbuf_put(b, x, 4);
}

int
rbuf_put_str(rbuf_t *b, const void *p, size_t n)
{
    if (n > UINT32_MAX || rbuf_put_u32(b, (uint32_t) n) != 0
        || rbuf_put(b, p, n) != 0)
        return -1;
    return 0;
}

void
rbuf_consume(rbuf_t *b, size_t n)
{
    if (n > b->len - b->off)
        n = b->len - b->off;
    b->off += n;
    if (b->off == b->len)
        b->off = b->len = 0;
}

void
rbuf_truncate(rbuf_t *b, size_t rel)
{
    if (rel < b->len - b->off)
        b->len = b->off + rel;
}

ssize_t
rbuf_recv(rbuf_t *b, int fd, size_t chunk)
{
    if (rbuf_reserve(b, chunk) != 0)
        return RBUF_ENOMEM;
    ssize_t r = recv(fd, b->d + b->len, chunk, 0);
    if (r > 0)
        b->len += (size_t) r;
    return r;
}

ssize_t
rbuf_send(rbuf_t *b, int fd)
{
    ssize_t w = send(fd, rbuf_data(b), rbuf_avail(b), MSG_NOSIGNAL);
    if (w > 0)
        rbuf_consume(b, (size_t) w);
    return w;
}

int
rbuf_rd_u32(rbuf_rd_t *r, uint32_t *v)
{
    if (r->left < 4)
        return -1;
    *v = hkp_get_be32(r->p);
    r->p += 4;
    r->left -= 4;
    return 0;
}

int
rbuf_rd_bytes(rbuf_rd_t *r, size_t n, const uint8_t **out)
{
    if (r->left < n)
        return -1;
    *out = r->p;
    r->p += n;
    r->left -= n;
    return 0;
}
