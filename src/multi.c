/* multi.c - the non-blocking HTTP handle: many transfers in flight on one libcurl multi
 * handle, driven by the host's own loop.
 *
 * A game loop or any single-threaded host calls m:perform(timeout) once per frame: it waits
 * at most `timeout` seconds (0: not at all), moves every transfer forward, and returns the ids
 * of the transfers that finished. m:take(id) then turns one of them into Lua values; the Lua
 * layer takes them one by one within its time budget, so a burst of answers is not turned
 * into Lua tables all in one frame. Lua never runs inside libcurl.
 *
 * Transfers share the multi handle's connection cache (keep-alive across calls) and their
 * easy handles are pooled for reuse. The userdata owns everything: __gc / __close / close()
 * abort what is still in flight and free it.
 *
 * Connections are bounded (core.multi{ max_connections = N }, default 32): libcurl queues the
 * transfers past the bound until a connection is free, so thousands of tasks on one loop
 * neither run out of file descriptors nor leave as many idle sockets behind.
 *
 * After fork(): the multi handle, its connection cache and every easy handle (in flight,
 * finished or pooled) are the parent's. Used or closed in another process, the handle abandons
 * them all without cleanup (curl_multi_cleanup / curl_easy_cleanup would close the parent's
 * sockets and send TLS close_notify on them) and starts a fresh multi handle; transfers that
 * were in flight end in the child with reason "forked". The abandoned handles leak in the
 * child, once per fork. */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "compat.h"
#include "core.h"
#include "handle.h"
#include "multi_events.h"
#include "transfer.h"

#define MULTI_MT "koodrive.multi"
#define POOL_MAX 64
#define DEFAULT_MAX_CONNECTIONS 32
#define MAX_MAX_CONNECTIONS 1024

/* finished[] states of an active transfer. */
enum { IN_FLIGHT = 0, FINISHED = 1, FORKED_UNREPORTED = 2 };

typedef struct {
    CURLM *multi;
    pid_t pid;            /* the process whose connections the handles hold */
    long max_connections; /* CURLMOPT_MAX_TOTAL_CONNECTIONS and CURLMOPT_MAXCONNECTS */
    kd_transfer **active; /* transfers owned by this handle and not yet taken */
    CURLcode *results;    /* per active transfer: its result once finished */
    char *finished;       /* per active transfer: finished, waiting for take() */
    size_t nactive, cap;
    kd_transfer *pool[POOL_MAX];
    size_t npool;
    long long next_id;
    kd_events events; /* for a host's event loop: m:fd(), m:timeout() */
    int driven;       /* m:fd() was asked for: perform() runs the socket_action way */
    int open;
} multi_handle;

static CURLM *new_multi(long max_connections, kd_events *events)
{
    CURLM *multi = curl_multi_init();
    if (multi != NULL) {
        curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_connections);
        curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, max_connections);
        kd_events_attach(events, multi);
    }
    return multi;
}

/* In a forked child: lets go of everything the parent's libcurl handles hold, without touching
 * their sockets. Pooled transfers are dropped; active ones are kept only for take(): those in
 * flight end with KD_RESULT_FORKED, reported once by the next perform(). */
static void forget_parent(multi_handle *m)
{
    size_t i;
    for (i = 0; i < m->npool; i++) {
        kd_transfer_abandon(m->pool[i]);
        free(m->pool[i]);
    }
    m->npool = 0;
    for (i = 0; i < m->nactive; i++) {
        m->active[i]->inherited = 1;
        if (m->finished[i] == IN_FLIGHT) {
            m->finished[i] = FORKED_UNREPORTED;
            m->results[i] = KD_RESULT_FORKED;
        }
    }
    m->multi = NULL;             /* abandoned with its connection cache */
    kd_events_close(&m->events); /* this process's copy of the set; the parent keeps its own */
    m->pid = getpid();
}

static multi_handle *check_open(lua_State *L)
{
    multi_handle *m = luaL_checkudata(L, 1, MULTI_MT);
    if (!m->open)
        luaL_error(L, "attempt to use a closed multi handle");
    if (m->pid != getpid()) {
        forget_parent(m);
        m->multi = new_multi(m->max_connections, &m->events);
        if (m->multi == NULL)
            luaL_error(L, "curl_multi_init failed");
    }
    return m;
}

/* Frees a transfer's memory; the parent's easy handles are abandoned, not cleaned up. */
static void drop(kd_transfer *t)
{
    if (t->inherited)
        kd_transfer_abandon(t);
    else
        kd_transfer_free(t);
    free(t);
}

/* Takes a pooled transfer or makes one, and records it as active (owned by m). */
static kd_transfer *acquire(lua_State *L, multi_handle *m)
{
    kd_transfer *t;
    if (m->nactive == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        kd_transfer **grown = realloc(m->active, cap * sizeof *grown);
        CURLcode *results;
        char *finished;
        if (grown == NULL)
            luaL_error(L, "out of memory");
        m->active = grown;
        results = realloc(m->results, cap * sizeof *results);
        if (results == NULL)
            luaL_error(L, "out of memory");
        m->results = results;
        finished = realloc(m->finished, cap * sizeof *finished);
        if (finished == NULL)
            luaL_error(L, "out of memory");
        m->finished = finished;
        m->cap = cap;
    }
    if (m->npool > 0) {
        t = m->pool[--m->npool];
    } else {
        t = malloc(sizeof *t);
        if (t == NULL || !kd_transfer_init(t)) {
            free(t);
            luaL_error(L, "could not create a libcurl easy handle");
        }
    }
    t->inherited = 0;
    m->finished[m->nactive] = IN_FLIGHT;
    m->active[m->nactive++] = t;
    return t;
}

/* Takes t out of the active list and keeps it for reuse (or frees it when the pool is full). */
static void release(multi_handle *m, kd_transfer *t)
{
    size_t i;
    for (i = 0; i < m->nactive; i++) {
        if (m->active[i] == t) {
            m->nactive--;
            m->active[i] = m->active[m->nactive];
            m->results[i] = m->results[m->nactive];
            m->finished[i] = m->finished[m->nactive];
            break;
        }
    }
    if (m->npool < POOL_MAX && !t->inherited)
        m->pool[m->npool++] = t;
    else
        drop(t);
}

/* m:add(request) -> id | nil, kind, message, code. The request table is read now; the body
 * is copied, so the transfer does not depend on the table afterwards. */
static int meth_add(lua_State *L)
{
    multi_handle *m = check_open(L);
    kd_transfer *t = acquire(L, m);
    int n = kd_transfer_setup(L, 2, t, 1);
    CURLMcode mc;
    if (n > 0) {
        release(m, t);
        return n;
    }
    mc = curl_multi_add_handle(m->multi, t->easy);
    if (mc != CURLM_OK) {
        release(m, t);
        lua_pushnil(L);
        lua_pushliteral(L, "transport");
        lua_pushstring(L, curl_multi_strerror(mc));
        lua_pushinteger(L, (lua_Integer)mc);
        return 4;
    }
    t->id = ++m->next_id;
    lua_pushnumber(L, (lua_Number)t->id);
    return 1;
}

/* m:perform([timeout]) -> array of ids of the transfers that finished. Waits at most
 * `timeout` seconds for activity (never when nothing is in flight), then moves every
 * transfer forward. */
static int meth_perform(lua_State *L)
{
    multi_handle *m = check_open(L);
    lua_Number timeout = luaL_optnumber(L, 2, 0);
    int running = 0, queued, count = 0;
    CURLMsg *msg;
    if (!(timeout >= 0 && timeout <= 86400))
        return luaL_argerror(L, 2, "timeout must be between 0 and 86400 seconds");
    if (timeout > 0) {
        size_t i, in_flight = 0;
        for (i = 0; i < m->nactive; i++)
            in_flight += m->finished[i] == IN_FLIGHT;
        if (in_flight == 0)
            timeout = 0;
    }
    /* libcurl's sockets are in the event set only when it is driven with socket_action,
     * which costs more per event than one curl_multi_perform over many transfers (64 in
     * flight: ~35% fewer calls/s here); so only a handle whose fd() a host watches is. */
    if (!m->driven || kd_events_drive(&m->events, m->multi, timeout) != 0) {
        if (timeout > 0)
            curl_multi_poll(m->multi, NULL, 0, (int)(timeout * 1000.0 + 0.5), NULL);
        curl_multi_perform(m->multi, &running);
    }
    lua_newtable(L);
    {
        size_t i;
        for (i = 0; i < m->nactive; i++) {
            if (m->finished[i] == FORKED_UNREPORTED) {
                m->finished[i] = FINISHED;
                lua_pushnumber(L, (lua_Number)m->active[i]->id);
                lua_rawseti(L, -2, ++count);
            }
        }
    }
    while ((msg = curl_multi_info_read(m->multi, &queued)) != NULL) {
        kd_transfer *t = NULL;
        size_t i;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        curl_multi_remove_handle(m->multi, msg->easy_handle);
        for (i = 0; t != NULL && i < m->nactive; i++) {
            if (m->active[i] == t) {
                m->finished[i] = FINISHED;
                m->results[i] = msg->data.result;
                lua_pushnumber(L, (lua_Number)t->id);
                lua_rawseti(L, -2, ++count);
                break;
            }
        }
    }
    return 1;
}

/* m:take(id) -> the finished transfer's response table, or nil, kind, message, code; the
 * transfer goes back to the pool. Raises for an id that has not finished. */
static int meth_take(lua_State *L)
{
    multi_handle *m = check_open(L);
    long long id = (long long)luaL_checknumber(L, 2);
    size_t i;
    for (i = 0; i < m->nactive; i++) {
        kd_transfer *t = m->active[i];
        if (t->id == id && m->finished[i] == FINISHED) {
            CURLcode rc = m->results[i];
            int n = kd_transfer_result(L, t, rc);
            release(m, t);
            return n;
        }
    }
    return luaL_argerror(L, 2, "no finished transfer with this id");
}

/* m:pending() -> how many transfers are in flight or finished and not taken. */
static int meth_pending(lua_State *L)
{
    multi_handle *m = check_open(L);
    lua_pushinteger(L, (lua_Integer)m->nactive);
    return 1;
}

/* Aborts what is in flight and frees everything; safe to call more than once. */
static int meth_close(lua_State *L)
{
    multi_handle *m = luaL_checkudata(L, 1, MULTI_MT);
    size_t i;
    if (!m->open)
        return 0;
    m->open = 0;
    if (m->pid != getpid())
        forget_parent(m);
    for (i = 0; i < m->nactive; i++) {
        if (!m->active[i]->inherited)
            curl_multi_remove_handle(m->multi, m->active[i]->easy);
        drop(m->active[i]);
    }
    for (i = 0; i < m->npool; i++)
        drop(m->pool[i]);
    free(m->active);
    free(m->results);
    free(m->finished);
    m->active = NULL;
    m->results = NULL;
    m->finished = NULL;
    m->nactive = m->npool = m->cap = 0;
    if (m->multi != NULL)
        curl_multi_cleanup(m->multi);
    m->multi = NULL;
    kd_events_close(&m->events);
    return 0;
}

/* m:fd() -> a descriptor that is readable when libcurl has work (then call perform(0)), or
 * nil and why. The same descriptor for the handle's life (a new one after fork()). Asking
 * for it switches the handle to socket_action; ask before adding transfers (a transfer
 * already in flight joins the set at its next timer, within a second). */
static int meth_fd(lua_State *L)
{
    multi_handle *m = check_open(L);
    m->driven = m->events.epfd >= 0;
    return kd_events_push_fd(L, &m->events);
}

/* m:timeout() -> seconds until libcurl wants perform() called even without socket activity
 * (0: now), or nil when it has no timer. */
static int meth_timeout(lua_State *L)
{
    multi_handle *m = check_open(L);
    return kd_events_push_timeout(L, &m->events);
}

static int meth_tostring(lua_State *L)
{
    multi_handle *m = luaL_checkudata(L, 1, MULTI_MT);
    if (m->open)
        lua_pushfstring(L, "koodrive.multi (%d in flight, at most %d connections)", (int)m->nactive,
                        (int)m->max_connections);
    else
        lua_pushliteral(L, "koodrive.multi (closed)");
    return 1;
}

/* core.multi([{ max_connections = N }]) -> a new multi handle. max_connections (1..1024,
 * default 32) bounds the connections open at once, idle ones in the cache included. */
static int global_multi(lua_State *L)
{
    multi_handle *m;
    long max_connections = DEFAULT_MAX_CONNECTIONS;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_getfield(L, 1, "max_connections");
        if (!lua_isnil(L, -1)) {
            lua_Number n = lua_tonumber(L, -1);
            if (lua_type(L, -1) != LUA_TNUMBER || !(n >= 1 && n <= MAX_MAX_CONNECTIONS) ||
                n != (lua_Number)(long)n)
                return luaL_argerror(L, 1, "max_connections must be a whole number 1..1024");
            max_connections = (long)n;
        }
        lua_pop(L, 1);
    }
    m = kd_newuserdata(L, sizeof *m);
    memset(m, 0, sizeof *m);
    luaL_getmetatable(L, MULTI_MT);
    lua_setmetatable(L, -2);
    m->max_connections = max_connections;
    m->pid = getpid();
    m->events.epfd = -1;
    m->multi = new_multi(max_connections, &m->events);
    if (m->multi == NULL)
        return luaL_error(L, "curl_multi_init failed");
    m->open = 1;
    return 1;
}

void kd_multi_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "add", meth_add },         { "perform", meth_perform },
        { "take", meth_take },       { "pending", meth_pending },
        { "close", meth_close },     { "fd", meth_fd },
        { "timeout", meth_timeout }, { NULL, NULL },
    };
    static const luaL_Reg functions[] = {
        { "multi", global_multi },
        { NULL, NULL },
    };
    kd_handle_class(L, MULTI_MT, methods, meth_close, meth_tostring);
    luaL_setfuncs(L, functions, 0);
}
