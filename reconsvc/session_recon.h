/*
 * The two halves of a recon session and what they share (session.h is
 * the interface to the rest of the daemon; this header is for
 * session.c and session_recon.c only):
 *
 *   session.c        life, Config exchange, socket I/O, timeouts
 *   session_recon.c  the reconciliation: the requester's walk, the
 *                    responder's answers, the missing set
 */
#ifndef RECONSVC_SESSION_RECON_H
#define RECONSVC_SESSION_RECON_H

#include "msg.h"
#include "session.h"

/* ------------------------------------------------------ in session.c */

/* Ends the session (once): outcome from fmt; ok = ended with Done; keep =
 * fetch what was found even if not ok. Closes the socket, frees the
 * buffers and queues, sorts the missing set; state SESS_DONE. */
void sess_finish(session_t *s, int ok, int keep, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Cut off for misbehaving: what was found is dropped (SKS does the same
 * on protocol errors). */
#define sess_hostile(s, ...) do { (s)->hostile = 1; \
        sess_finish((s), 0, 0, "cut off: " __VA_ARGS__); } while (0)

/* A message could not be built (out of memory): ends the session, -1. */
int  sess_out_fail(session_t *s);

/* ------------------------------------------------ in session_recon.c */

/* Config is agreed (SESS_RUN): the requester sends its first batch (the
 * root); the responder waits. 0, or -1 when the session finished. */
int  sess_recon_start(session_t *s);
/* One message received in SESS_RUN, handled by role. 0, or -1 when the
 * session finished. */
int  sess_recon_message(session_t *s, recon_msg_t *m);

/* A streamed Elements frame (session.c): _begin when its header is read
 * (a requester pairs it with its pending request), _add for each run of
 * elements, _end after the last. 0, or -1 when the session finished. */
int  sess_recon_elements_begin(session_t *s);
int  sess_recon_elements_add(session_t *s, const hkp_hash_t *h, size_t n);
int  sess_recon_elements_end(session_t *s);
/* The bound on one Elements frame and on the missing set. */
size_t sess_max_elements(const session_t *s);

/* Ends the read txn of this step (tree lookups open it on first use). */
void sess_txn_end(session_t *s);
void sess_queue_free(sess_queue_t *q);

#endif
