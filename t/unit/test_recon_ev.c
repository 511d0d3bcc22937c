/*
 * Unit tests for the daemon's event core (ev.c), byte buffer (buf.c) and
 * address helpers (addr.c).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "ev.h"
#include "tap.h"

#define ORDER_MAX  16     /* callback order letters kept */

/* ------------------------------------------------------------ addr */

static void
test_addr(void)
{
    char host[64];
    unsigned port = 0;

    ok(addr_parse_hostport("127.0.0.1:11370", host, sizeof(host), &port) == 0
        && strcmp(host, "127.0.0.1") == 0 && port == 11370,
        "addr: IPv4 host:port");
    ok(addr_parse_hostport("[::1]:1", host, sizeof(host), &port) == 0
        && strcmp(host, "::1") == 0 && port == 1, "addr: [IPv6]:port");
    ok(addr_parse_hostport(":65535", host, sizeof(host), &port) == 0
        && host[0] == '\0' && port == 65535, "addr: empty host, port 65535");
    ok(addr_parse_hostport("h:0", host, sizeof(host), &port) != 0,
        "addr: port 0 refused");
    ok(addr_parse_hostport("h:65536", host, sizeof(host), &port) != 0,
        "addr: port 65536 refused");
    ok(addr_parse_hostport("h:99999999999999999999", host, sizeof(host),
        &port) != 0, "addr: huge port refused");
    ok(addr_parse_hostport("h:12a", host, sizeof(host), &port) != 0
        && addr_parse_hostport("h:", host, sizeof(host), &port) != 0
        && addr_parse_hostport("h: 80", host, sizeof(host), &port) != 0
        && addr_parse_hostport("h:+80", host, sizeof(host), &port) != 0,
        "addr: non-digit ports refused");
    ok(addr_parse_hostport("noport", host, sizeof(host), &port) != 0
        && addr_parse_hostport("[::1]", host, sizeof(host), &port) != 0
        && addr_parse_hostport("[::1:80", host, sizeof(host), &port) != 0,
        "addr: no port / unclosed bracket refused");

    struct sockaddr_in a4, b4;
    struct sockaddr_in6 a6;
    char out[80];
    memset(&a4, 0, sizeof(a4));
    a4.sin_family = AF_INET;
    a4.sin_addr.s_addr = htonl(0x7f000001);
    addr_set_port((struct sockaddr *) &a4, 8080);
    addr_str((struct sockaddr *) &a4, out, sizeof(out));
    is_str(out, "127.0.0.1:8080", "addr: IPv4 formatted with its port");
    memset(&a6, 0, sizeof(a6));
    a6.sin6_family = AF_INET6;
    a6.sin6_addr.s6_addr[15] = 1;
    addr_set_port((struct sockaddr *) &a6, 11371);
    addr_str((struct sockaddr *) &a6, out, sizeof(out));
    is_str(out, "[::1]:11371", "addr: IPv6 formatted in brackets");
    ok(addr_port((struct sockaddr *) &a6) == 11371, "addr: port read back");
    b4 = a4;
    ok(addr_same((struct sockaddr *) &a4, (struct sockaddr *) &b4),
        "addr: same IP and port");
    addr_set_port((struct sockaddr *) &b4, 1);
    ok(!addr_same((struct sockaddr *) &a4, (struct sockaddr *) &b4)
        && addr_same_ip((struct sockaddr *) &a4, (struct sockaddr *) &b4),
        "addr: other port: same IP, not the same address");
    ok(!addr_same_ip((struct sockaddr *) &a4, (struct sockaddr *) &a6),
        "addr: families differ");
    ok(!addr_is_wildcard((struct sockaddr *) &a4), "addr: 127.0.0.1 is not "
        "the any-address");
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    memset(&a6.sin6_addr, 0, sizeof(a6.sin6_addr));
    ok(addr_is_wildcard((struct sockaddr *) &a4)
        && addr_is_wildcard((struct sockaddr *) &a6),
        "addr: 0.0.0.0 and :: are the any-address");
}

/* ------------------------------------------------------------ buf */

static void
test_buf(void)
{
    rbuf_t b = { 0 };
    rbuf_rd_t r;
    const uint8_t *p;
    uint32_t v;

    ok(rbuf_put_u32(&b, 0x01020304) == 0 && rbuf_put_str(&b, "abc", 3) == 0
        && rbuf_avail(&b) == 11, "buf: word and string appended");
    ok(memcmp(rbuf_data(&b), "\x01\x02\x03\x04\x00\x00\x00\x03" "abc", 11)
        == 0, "buf: big-endian bytes");
    r.p = rbuf_data(&b);
    r.left = rbuf_avail(&b);
    ok(rbuf_rd_u32(&r, &v) == 0 && v == 0x01020304
        && rbuf_rd_u32(&r, &v) == 0 && v == 3
        && rbuf_rd_bytes(&r, 3, &p) == 0 && memcmp(p, "abc", 3) == 0
        && r.left == 0, "buf: reader reads them back");
    ok(rbuf_rd_u32(&r, &v) != 0 && rbuf_rd_bytes(&r, 1, &p) != 0,
        "buf: reader stops at the end");
    rbuf_consume(&b, 4);
    ok(rbuf_avail(&b) == 7 && hkp_get_be32(rbuf_data(&b)) == 3,
        "buf: consumed from the front");
    rbuf_truncate(&b, 4);
    ok(rbuf_avail(&b) == 4, "buf: truncated at the back");
    hkp_put_be32(rbuf_at(&b, 0), 7);
    ok(hkp_get_be32(rbuf_data(&b)) == 7, "buf: word rewritten in place");
    rbuf_consume(&b, 100);
    ok(rbuf_avail(&b) == 0, "buf: consuming more than held empties it");
    rbuf_free(&b);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        ok(0, "buf: socketpair: %s", strerror(errno));
        return;
    }
    rbuf_put(&b, "hello", 5);
    ok(rbuf_send(&b, sv[0]) == 5 && rbuf_avail(&b) == 0,
        "buf: send consumes what went out");
    ok(rbuf_recv(&b, sv[1], 64) == 5 && rbuf_avail(&b) == 5
        && memcmp(rbuf_data(&b), "hello", 5) == 0,
        "buf: recv appends what came in");
    close(sv[0]);
    ok(rbuf_recv(&b, sv[1], 64) == 0, "buf: recv 0 at end of stream");
    close(sv[1]);
    rbuf_free(&b);
}

/* ------------------------------------------------------------ ev */

typedef struct {
    int     fired[4];           /* per timer */
    char    order[ORDER_MAX];
    size_t  norder;
    int     reads, writes, calls;
    int     wfd;
} ev_state_t;

static long
t_once(ev_loop_t *el, long long id, void *arg)
{
    ev_state_t *st = arg;
    (void) el;
    (void) id;
    st->fired[0]++;
    if (st->norder < sizeof(st->order) - 1)
        st->order[st->norder++] = 'a';
    return EV_TIMER_END;
}

static long
t_repeat(ev_loop_t *el, long long id, void *arg)
{
    ev_state_t *st = arg;
    (void) el;
    (void) id;
    if (st->norder < sizeof(st->order) - 1)
        st->order[st->norder++] = 'b';
    return ++st->fired[1] < 3 ? 1 : EV_TIMER_END;
}

static long
t_stop(ev_loop_t *el, long long id, void *arg)
{
    ev_state_t *st = arg;
    (void) id;
    st->fired[2]++;
    ev_stop(el);
    return EV_TIMER_END;
}

static void
on_fd(ev_loop_t *el, int fd, void *arg, int mask)
{
    ev_state_t *st = arg;
    char c;
    st->calls++;
    if (st->wfd < 0) {
        /* the hang-up check: both bits, whatever was asked for */
        if (mask == (EV_READABLE | EV_WRITABLE))
            st->reads++;
        ev_file_del(el, fd);
        return;
    }
    if (mask & EV_READABLE) {
        if (read(fd, &c, 1) == 1)
            st->reads++;
        ev_file_del(el, fd);
    }
    if (mask & EV_WRITABLE) {
        st->writes++;
        /* writable once is enough: now wait for the reply */
        ev_file_set(el, fd, EV_READABLE, on_fd, st);
        if (write(st->wfd, "x", 1) != 1)
            st->writes = -100;
    }
}

static void
test_ev(void)
{
    ev_state_t st;
    ev_loop_t *el = ev_create();
    double t0;
    int sv[2];

    memset(&st, 0, sizeof(st));
    if (!ok(el != NULL, "ev: loop created"))
        return;
    double a = ev_now(), b = ev_now();
    ok(b >= a && a > 0, "ev: monotonic clock");

    ev_timer_add(el, 5, t_once, &st);
    ev_timer_add(el, 1, t_repeat, &st);
    long long late = ev_timer_add(el, 10000, t_stop, &st);
    ok(late > 0, "ev: timers added");
    ok(ev_timer_within(el, late, 60) == 0, "ev: timer brought forward");
    ok(ev_timer_within(el, 99999, 1) != 0, "ev: no such timer");
    t0 = ev_now();
    ok(ev_run(el) == 0, "ev: runs until stopped");
    ok(ev_now() - t0 < 5, "ev: the brought-forward timer stopped it "
        "(%.3f s)", ev_now() - t0);
    ok(st.fired[0] == 1 && st.fired[1] == 3 && st.fired[2] == 1,
        "ev: one-shot ran once, repeating one three times, stop once "
        "(%d %d %d)", st.fired[0], st.fired[1], st.fired[2]);
    ok(strchr(st.order, 'a') != NULL && st.order[0] == 'b',
        "ev: timers ran in time order (%s)", st.order);

    /* fds: writable, then readable, then deleted */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) {
        ok(0, "ev: socketpair: %s", strerror(errno));
        ev_free(el);
        return;
    }
    st.wfd = sv[1];
    ok(ev_file_set(el, sv[0], EV_WRITABLE, on_fd, &st) == 0
        && ev_file_mask(el, sv[0]) == EV_WRITABLE, "ev: fd watched");
    ok(ev_file_set(el, -1, EV_READABLE, on_fd, &st) != 0,
        "ev: a negative fd is refused");
    ev_timer_add(el, 2000, t_stop, &st);
    ok(ev_run(el) == 0, "ev: runs again");
    ok(st.writes == 1 && st.reads == 1, "ev: writable once, then the "
        "byte read (writes %d reads %d)", st.writes, st.reads);
    ok(ev_file_mask(el, sv[0]) == EV_NONE, "ev: fd deleted by its callback");

    /* a hang-up is reported as readable and writable, even to a fd that
     * asked for neither */
    ok(ev_file_set(el, sv[0], EV_NONE, on_fd, &st) == 0,
        "ev: fd watched for errors only");
    close(sv[1]);
    st.reads = st.writes = st.calls = 0;
    st.wfd = -1;
    ev_timer_add(el, 2000, t_stop, &st);
    ev_run(el);
    ok(st.calls == 1 && st.reads == 1, "ev: hang-up reported with both "
        "bits (calls %d, both %d)", st.calls, st.reads);
    close(sv[0]);
    ev_free(el);
}

int
main(void)
{
    test_addr();
    test_buf();
    test_ev();
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}
