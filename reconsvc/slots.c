/*
 * The recon session slots of `reconsvc run` (loop_int.h): each running
 * session's slot on the event loop, its timeouts, and admission: at most
 * MAX_SESSIONS at once, MAX_SESSIONS_PER_PEER with one peer address, and
 * fair admission when every slot is taken.
 */
#include <stdio.h>
#include <stdlib.h>

#include "addr.h"
#include "log.h"
#include "loop_int.h"


static void
slot_remove(loop_t *L, slot_t *sl)
{
    for (slot_t **p = &L->slots; *p; p = &(*p)->next) {
        if (*p == sl) {
            *p = sl->next;
            break;
        }
    }
    L->nslots--;
    session_free(sl->s);
    free(sl);
}

/* The session has finished (its socket is closed): out of the event
 * loop first (a fetch may get the same fd number), then its result. */
void
slot_end(loop_t *L, slot_t *sl, double now)
{
    ev_file_del(L->el, sl->fd);
    loop_session_over(L, sl->s, now);
    slot_remove(L, sl);
}

static void on_session(ev_loop_t *el, int fd, void *arg, int mask);

/* After any activity: wait for what the session wants now, or finish. */
static void
slot_update(loop_t *L, slot_t *sl, int finished, double now)
{
    if (finished) {
        slot_end(L, sl, now);
        return;
    }
    if (ev_file_set(L->el, sl->fd, session_events(sl->s), on_session, sl)
        != 0)
    {
        session_abort(sl->s, "epoll_ctl failed");
        slot_end(L, sl, now);
    }
}

static void
on_session(ev_loop_t *el, int fd, void *arg, int mask)
{
    slot_t *sl = arg;
    double now = ev_time(el);

    (void) fd;
    slot_update(sl->L, sl, session_io(sl->s, mask, now), now);
}

int
slot_add(loop_t *L, session_t *s)
{
    slot_t *sl = calloc(1, sizeof(*sl));
    if (sl == NULL)
        return -1;
    sl->L = L;
    sl->s = s;
    sl->fd = s->fd;
    if (ev_file_set(L->el, s->fd, session_events(s), on_session, sl) != 0) {
        free(sl);
        return -1;
    }
    sl->next = L->slots;
    L->slots = sl;
    L->nslots++;
    return 0;
}

/* The session timeouts. */
long
slots_tick(ev_loop_t *el, long long id, void *arg)
{
    loop_t *L = arg;
    double now = ev_time(el);

    (void) id;
    for (slot_t *sl = L->slots, *nx; sl; sl = nx) {
        nx = sl->next;
        if (session_tick(sl->s, now))
            slot_update(L, sl, 1, now);
    }
    return SESSION_TICK_MS;
}

/* Sessions running with the peer at this IP address. */
static int
peer_sessions(const loop_t *L, const struct sockaddr *peer)
{
    int n = 0;
    for (const slot_t *sl = L->slots; sl; sl = sl->next)
        if (addr_same_ip((const struct sockaddr *) &sl->s->peer, peer))
            n++;
    return n;
}

/* The oldest session of the peer with the most sessions (ties: the one
 * with the oldest session), and that peer's count. */
static slot_t *
busiest_oldest(const loop_t *L, int *count)
{
    slot_t *best = NULL;
    int bestn = 0;

    for (slot_t *sl = L->slots; sl; sl = sl->next) {
        slot_t *old = sl;
        int n = 0;
        for (slot_t *o = L->slots; o; o = o->next) {
            if (!addr_same_ip((struct sockaddr *) &o->s->peer,
                    (struct sockaddr *) &sl->s->peer))
                continue;
            n++;
            if (o->s->t_start < old->s->t_start)
                old = o;
        }
        if (n > bestn || (n == bestn && best != NULL
            && old->s->t_start < best->s->t_start))
        {
            best = old;
            bestn = n;
        }
    }
    *count = bestn;
    return best;
}

int
slots_admit(loop_t *L, const struct sockaddr *peer, const char *ip,
    double now)
{
    int mine = peer_sessions(L, peer), most;
    slot_t *victim;

    if (mine >= MAX_SESSIONS_PER_PEER) {
        rlog("refused recon connection from %s: %d sessions with it "
            "running", ip, MAX_SESSIONS_PER_PEER);
        return -1;
    }
    if (L->nslots < MAX_SESSIONS)
        return 0;
    victim = busiest_oldest(L, &most);
    if (victim == NULL || most <= mine + SLOT_YIELD_MARGIN) {
        rlog("refused recon connection from %s: %d sessions running",
            ip, MAX_SESSIONS);
        return -1;
    }
    rlog("session peer=%s: yields its slot to %s (fair admission: every "
        "slot taken, its peer holds %d of %d)", victim->s->peer_str, ip,
        most, MAX_SESSIONS);
    {
        char why[200];
        snprintf(why, sizeof(why), "cut off: yielded its slot to %s (its "
            "peer held %d of %d slots)", ip, most, MAX_SESSIONS);
        session_abort(victim->s, why);
    }
    slot_end(L, victim, now);
    return 0;
}
