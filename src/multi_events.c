/* multi_events.c - what a host's event loop needs from a multi handle: one descriptor that
 * becomes readable when libcurl has work (an epoll set holding the sockets libcurl waits on,
 * kept up to date by CURLMOPT_SOCKETFUNCTION), and when libcurl's next timer is due
 * (CURLMOPT_TIMERFUNCTION). A host watches the descriptor - uv.new_poll, cqueues' pollable
 * protocol, its own select or epoll - and calls perform(0) when it is readable or the timer
 * is due; it never polls at a fixed rate.
 *
 * The set is level-triggered: it stays readable while a socket has what libcurl waits for,
 * and perform() is what consumes it. Both callbacks only record; neither calls Lua. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "multi_events.h"

#ifdef __linux__
#include <sys/epoll.h>
#define KD_HAVE_EPOLL 1
#endif

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#ifdef KD_HAVE_EPOLL
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    kd_events *ev = userp;
    struct epoll_event e;
    (void)easy;
    (void)socketp;
    if (ev->epfd < 0)
        return 0;
    if (what == CURL_POLL_REMOVE) {
        /* (the socket may already be closed, and then it has left the set by itself) */
        epoll_ctl(ev->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    memset(&e, 0, sizeof e);
    e.data.fd = s;
    e.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
    if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, s, &e) != 0 && errno == ENOENT)
        epoll_ctl(ev->epfd, EPOLL_CTL_ADD, s, &e);
    return 0;
}
#endif

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    kd_events *ev = userp;
    (void)multi;
    if (timeout_ms < 0) {
        ev->has_due = 0;
    } else {
        ev->has_due = 1;
        ev->due = now_seconds() + (double)timeout_ms / 1000.0;
    }
    return 0;
}

void kd_events_attach(kd_events *ev, CURLM *multi)
{
    ev->has_due = 0;
    ev->due = 0;
#ifdef KD_HAVE_EPOLL
    ev->epfd = epoll_create1(EPOLL_CLOEXEC);
    ev->err = ev->epfd < 0 ? errno : 0;
    if (ev->epfd >= 0) {
        curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, ev);
    }
#else
    ev->epfd = -1;
    ev->err = 0;
#endif
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, ev);
}

void kd_events_close(kd_events *ev)
{
    if (ev->epfd >= 0)
        close(ev->epfd);
    ev->epfd = -1;
    ev->has_due = 0;
}

#define MAX_EVENTS 64

int kd_events_drive(kd_events *ev, CURLM *multi, double wait)
{
#ifdef KD_HAVE_EPOLL
    struct epoll_event evs[MAX_EVENTS];
    int n, i, running = 0, wait_ms = 0;
    if (ev->epfd < 0)
        return -1;
    if (wait > 0) {
        double ms = wait * 1000.0;
        if (ev->has_due) {
            double due_ms = (ev->due - now_seconds()) * 1000.0;
            if (due_ms < ms)
                ms = due_ms > 0 ? due_ms + 0.999 : 0; /* (rounded up: wake once it is due) */
        }
        wait_ms = (int)ms;
    }
    n = epoll_wait(ev->epfd, evs, MAX_EVENTS, wait_ms);
    for (i = 0; i < n; i++) {
        int mask = 0;
        if (evs[i].events & EPOLLIN)
            mask |= CURL_CSELECT_IN;
        if (evs[i].events & EPOLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (evs[i].events & (EPOLLERR | EPOLLHUP))
            mask |= CURL_CSELECT_ERR;
        curl_multi_socket_action(multi, evs[i].data.fd, mask, &running);
    }
    if (ev->has_due && ev->due <= now_seconds()) {
        ev->has_due = 0;
        curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    return 0;
#else
    (void)ev;
    (void)multi;
    (void)wait;
    return -1;
#endif
}

int kd_events_push_fd(lua_State *L, const kd_events *ev)
{
    if (ev->epfd < 0) {
        lua_pushnil(L);
#ifdef KD_HAVE_EPOLL
        lua_pushstring(L, strerror(ev->err));
#else
        lua_pushliteral(L, "no event descriptor on this system (epoll is Linux's)");
#endif
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)ev->epfd);
    return 1;
}

int kd_events_push_timeout(lua_State *L, const kd_events *ev)
{
    double left;
    if (!ev->has_due) {
        lua_pushnil(L);
        return 1;
    }
    left = ev->due - now_seconds();
    lua_pushnumber(L, (lua_Number)(left > 0 ? left : 0));
    return 1;
}
