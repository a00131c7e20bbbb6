/* multi_events.h - a multi handle's sockets and timer, for a host's own event loop. */
#ifndef KD_MULTI_EVENTS_H
#define KD_MULTI_EVENTS_H

#include <curl/curl.h>

#include "compat.h"

typedef struct {
    int epfd;    /* an epoll set of libcurl's sockets, or -1 */
    int has_due; /* whether libcurl asked for a timer */
    double due;  /* when (CLOCK_MONOTONIC seconds) */
    int err;     /* errno of a set that could not be made */
} kd_events;

/* Makes the set and tells libcurl to keep it (CURLMOPT_SOCKETFUNCTION, _TIMERFUNCTION). */
void kd_events_attach(kd_events *ev, CURLM *multi);
/* Closes the set (also the copy a forked child inherited: the parent's stays open). */
void kd_events_close(kd_events *ev);
/* Moves the transfers forward the socket_action way: waits at most `wait` seconds (bounded
 * by libcurl's timer) for a socket in the set, hands each ready socket to libcurl, and runs
 * libcurl's timer when it is due. Returns 0, or -1 when there is no set (use perform). */
int kd_events_drive(kd_events *ev, CURLM *multi, double wait);
/* Pushes the set's descriptor, or nil and why. */
int kd_events_push_fd(lua_State *L, const kd_events *ev);
/* Pushes the seconds until libcurl's timer is due (0 when overdue), or nil when none. */
int kd_events_push_timeout(lua_State *L, const kd_events *ev);

#endif
