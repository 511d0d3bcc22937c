/*
 * The daemon's event core (ev.h): epoll, per-fd callbacks, timers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"

/* First size of the fd table (grown by doubling to the highest fd). */
#define EV_FILES_INITIAL  64
/* Longest single wait (keeps the millisecond count in an int). */
#define EV_MAX_WAIT_MS    (24 * 3600 * 1000)

typedef struct {
    int             mask;           /* EV_READABLE | EV_WRITABLE */
    int             registered;     /* in the epoll set */
    ev_file_fn     *fn;
    void           *arg;
} ev_file_t;

typedef struct ev_timer {
    long long           id;
    double              when;       /* ev_now() seconds */
    ev_timer_fn        *fn;
    void               *arg;
    int                 deleted;    /* freed by the next sweep */
    struct ev_timer    *next;
} ev_timer_t;

struct ev_loop {
    int             epfd;
    ev_file_t      *files;          /* indexed by fd */
    size_t          nfiles;
    ev_timer_t     *timers;
    long long       next_id;
    double          now;
    int             stop;
};

double
ev_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

ev_loop_t *
ev_create(void)
{
    ev_loop_t *el = calloc(1, sizeof(*el));
    if (el == NULL)
        return NULL;
    el->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (el->epfd < 0) {
        int e = errno;
        free(el);
        errno = e;
        return NULL;
    }
    el->next_id = 1;
    el->now = ev_now();
    return el;
}

void
ev_free(ev_loop_t *el)
{
    if (el == NULL)
        return;
    while (el->timers != NULL) {
        ev_timer_t *t = el->timers;
        el->timers = t->next;
        free(t);
    }
    free(el->files);
    close(el->epfd);
    free(el);
}

double
ev_time(const ev_loop_t *el)
{
    return el->now;
}

void
ev_stop(ev_loop_t *el)
{
    el->stop = 1;
}

/* ------------------------------------------------------------ files */

static int
files_grow(ev_loop_t *el, int fd)
{
    size_t n = el->nfiles ? el->nfiles : EV_FILES_INITIAL;
    ev_file_t *f;

    while (n <= (size_t) fd)
        n *= 2;
    if (n == el->nfiles)
        return 0;
    if ((f = realloc(el->files, n * sizeof(*f))) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    memset(f + el->nfiles, 0, (n - el->nfiles) * sizeof(*f));
    el->files = f;
    el->nfiles = n;
    return 0;
}

static uint32_t
epoll_bits(int mask)
{
    return (mask & EV_READABLE ? EPOLLIN : 0)
        | (mask & EV_WRITABLE ? EPOLLOUT : 0);
}

int
ev_file_set(ev_loop_t *el, int fd, int mask, ev_file_fn *fn, void *arg)
{
    struct epoll_event e;
    ev_file_t *f;

    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if ((size_t) fd >= el->nfiles && files_grow(el, fd) != 0)
        return -1;
    f = &el->files[fd];
    if (!f->registered || f->mask != mask) {
        memset(&e, 0, sizeof(e));
        e.events = epoll_bits(mask);
        e.data.fd = fd;
        int rc = epoll_ctl(el->epfd, f->registered ? EPOLL_CTL_MOD
            : EPOLL_CTL_ADD, fd, &e);
        if (rc != 0 && f->registered && errno == ENOENT)
            /* its old number was closed without ev_file_del() */
            rc = epoll_ctl(el->epfd, EPOLL_CTL_ADD, fd, &e);
        if (rc != 0)
            return -1;
    }
    f->registered = 1;
    f->mask = mask;
    f->fn = fn;
    f->arg = arg;
    return 0;
}

void
ev_file_del(ev_loop_t *el, int fd)
{
    if (fd < 0 || (size_t) fd >= el->nfiles || !el->files[fd].registered)
        return;
    /* fails harmlessly (EBADF) when the fd is already closed */
    epoll_ctl(el->epfd, EPOLL_CTL_DEL, fd, NULL);
    memset(&el->files[fd], 0, sizeof(el->files[fd]));
}

int
ev_file_mask(const ev_loop_t *el, int fd)
{
    if (fd < 0 || (size_t) fd >= el->nfiles || !el->files[fd].registered)
        return EV_NONE;
    return el->files[fd].mask;
}

/* ------------------------------------------------------------ timers */

long long
ev_timer_add(ev_loop_t *el, long ms, ev_timer_fn *fn, void *arg)
{
    ev_timer_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -1;
    t->id = el->next_id++;
    t->when = ev_now() + (double) ms / 1000;
    t->fn = fn;
    t->arg = arg;
    t->next = el->timers;
    el->timers = t;
    return t->id;
}

static ev_timer_t *
timer_find(ev_loop_t *el, long long id)
{
    for (ev_timer_t *t = el->timers; t != NULL; t = t->next)
        if (t->id == id && !t->deleted)
            return t;
    return NULL;
}

int
ev_timer_within(ev_loop_t *el, long long id, long ms)
{
    ev_timer_t *t = timer_find(el, id);
    double when = ev_now() + (double) ms / 1000;
    if (t == NULL)
        return -1;
    if (when < t->when)
        t->when = when;
    return 0;
}

void
ev_timer_del(ev_loop_t *el, long long id)
{
    ev_timer_t *t = timer_find(el, id);
    if (t != NULL)
        t->deleted = 1;         /* a running pass may hold it */
}

/* Milliseconds until the nearest timer (0 when one is due), -1 none. */
static int
timers_wait_ms(const ev_loop_t *el)
{
    const ev_timer_t *near = NULL;
    for (const ev_timer_t *t = el->timers; t != NULL; t = t->next)
        if (!t->deleted && (near == NULL || t->when < near->when))
            near = t;
    if (near == NULL)
        return -1;
    double ms = (near->when - ev_now()) * 1000;
    if (ms <= 0)
        return 0;
    return ms >= EV_MAX_WAIT_MS ? EV_MAX_WAIT_MS : (int) ms + 1;
}

/* Runs the due timers; those added while running wait for the next
 * round. Then frees the deleted ones. */
static void
timers_run(ev_loop_t *el)
{
    long long last = el->next_id - 1;

    for (ev_timer_t *t = el->timers; t != NULL; t = t->next) {
        if (t->deleted || t->id > last || t->when > el->now)
            continue;
        long ms = t->fn(el, t->id, t->arg);
        if (t->deleted)
            continue;
        if (ms == EV_TIMER_END)
            t->deleted = 1;
        else
            t->when = el->now + (double) ms / 1000;
    }
    for (ev_timer_t **p = &el->timers; *p != NULL;) {
        ev_timer_t *t = *p;
        if (t->deleted) {
            *p = t->next;
            free(t);
        } else
            p = &t->next;
    }
}

/* ------------------------------------------------------------ loop */

int
ev_run(ev_loop_t *el)
{
    struct epoll_event evs[EV_MAX_FIRED];

    el->stop = 0;
    while (!el->stop) {
        int n = epoll_wait(el->epfd, evs, EV_MAX_FIRED, timers_wait_ms(el));
        if (n < 0 && errno != EINTR)
            return -1;
        el->now = ev_now();
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd, mask = 0;
            uint32_t e = evs[i].events;
            /* dropped (or replaced) by an earlier callback of this round */
            if ((size_t) fd >= el->nfiles || !el->files[fd].registered)
                continue;
            if (e & EPOLLIN)
                mask |= EV_READABLE;
            if (e & EPOLLOUT)
                mask |= EV_WRITABLE;
            if (e & (EPOLLERR | EPOLLHUP))
                mask |= EV_READABLE | EV_WRITABLE;
            ev_file_t *f = &el->files[fd];
            f->fn(el, fd, f->arg, mask);
        }
        timers_run(el);
    }
    return 0;
}
