/*
 * The daemon's event core, in the manner of redis's ae: one epoll set, a
 * callback per file descriptor (called when it is readable and/or
 * writable), and timers. This is the one place that calls epoll_ctl.
 *
 * Also the daemon's one clock: ev_now(), monotonic seconds.
 *
 * Ownership: the loop owns its epoll fd and its timers; it never closes a
 * registered fd (its owner does, after ev_file_del()).
 */
#ifndef RECONSVC_EV_H
#define RECONSVC_EV_H

#include <stdint.h>

#define EV_NONE         0
#define EV_READABLE     1
#define EV_WRITABLE     2

/* A timer callback's return value for "do not run again". */
#define EV_TIMER_END    (-1L)

/* Events taken from the kernel per wait. */
#define EV_MAX_FIRED    64

typedef struct ev_loop ev_loop_t;

/*
 * Called with the mask of what happened: EV_READABLE and/or EV_WRITABLE
 * for what was asked; an error or hang-up on the fd reports both, whatever
 * was asked (the owner finds out by reading or by SO_ERROR).
 */
typedef void ev_file_fn(ev_loop_t *el, int fd, void *arg, int mask);

/* Returns the milliseconds until it runs again, or EV_TIMER_END (the
 * timer is then deleted). */
typedef long ev_timer_fn(ev_loop_t *el, long long id, void *arg);

/* Monotonic seconds. */
double ev_now(void);

/* NULL with errno on failure. */
ev_loop_t *ev_create(void);
/* Frees the timers and closes the epoll fd (not the registered fds). */
void ev_free(ev_loop_t *el);

/*
 * Watches fd for mask (EV_NONE keeps it registered for errors only),
 * calling fn(el, fd, arg, fired). Adds fd or changes what it waits for.
 * 0, or -1 with errno.
 */
int  ev_file_set(ev_loop_t *el, int fd, int mask, ev_file_fn *fn, void *arg);
/* Stops watching fd (call before closing it; a closed fd whose number was
 * not reused yet may be passed too). */
void ev_file_del(ev_loop_t *el, int fd);
/* What fd waits for now (EV_NONE when not registered). */
int  ev_file_mask(const ev_loop_t *el, int fd);

/* A timer that first runs in ms milliseconds. Its id (> 0), or -1 (out of
 * memory). */
long long ev_timer_add(ev_loop_t *el, long ms, ev_timer_fn *fn, void *arg);
/* Brings a timer forward to run in at most ms milliseconds (one due
 * sooner is left alone). 0, or -1 when there is no such timer. */
int  ev_timer_within(ev_loop_t *el, long long id, long ms);
void ev_timer_del(ev_loop_t *el, long long id);

/* The time (ev_now()) taken when the last wait returned: the "now" of the
 * callbacks that run for it. */
double ev_time(const ev_loop_t *el);

/* Dispatches events and timers until ev_stop(). 0, or -1 when epoll_wait
 * failed (errno). */
int  ev_run(ev_loop_t *el);
/* ev_run() returns after the callbacks of the current round. */
void ev_stop(ev_loop_t *el);

#endif
