/* parts.c - curl.parts{...}: a bounded set of PUT / GET transfers of file byte ranges to
 * presigned URLs (koodrive-transfer-api.md sections 4 and 6.2) on its own multi handle.
 *
 * At most `concurrency` transfers run; the rest wait in a FIFO and hold no file descriptor
 * and no easy handle until they start. e:poll(seconds) moves everything forward and returns
 * the finished transfers as tables; Lua never runs inside libcurl (parts_io.c's callbacks
 * only record). progress() counts every body byte moved, in C: a failed or cancelled
 * transfer's bytes stay counted (they did cross the wire), a rewound upload's do not.
 *
 * After fork(): like multi.c, a child that uses or closes the engine abandons the parent's
 * multi and easy handles without cleanup and reports every transfer that was queued or
 * running as reason "forked" (the parent carries them on; the child must not send them too). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "core.h"
#include "handle.h"
#include "parts.h"

#define PARTS_MT "koodrive.parts"

static void list_push(kd_part **head, kd_part *p)
{
    p->prev = NULL;
    p->next = *head;
    if (*head != NULL)
        (*head)->prev = p;
    *head = p;
}

static void list_remove(kd_part **head, kd_part *p)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        *head = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

/* Frees a part; `abandon`: the easy handle is the parent's (after fork), not cleaned up. */
static void free_part(lua_State *L, kd_part *p, int abandon)
{
    kd_part_release(p);
    if (p->easy != NULL && !abandon)
        curl_easy_cleanup(p->easy);
    if (p->data_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, p->data_ref);
    free(p->url);
    free(p->path);
    free(p->body);
    free(p);
}

/* Moves a queued or running part to the done list (to be reported by poll). */
static void finish(kd_engine *e, kd_part *p)
{
    if (p->state == PART_QUEUED) {
        if (p == e->queued_tail) /* the tail is the oldest; the next oldest is before it */
            e->queued_tail = p->prev;
        list_remove(&e->queued, p);
        e->nqueued--;
    } else if (p->state == PART_RUNNING) {
        list_remove(&e->running, p);
        e->nrunning--;
    }
    kd_part_release(p);
    p->state = PART_DONE;
    list_push(&e->done, p);
}

static void forget_parent(kd_engine *e)
{
    kd_part *p;
    while ((p = e->running) != NULL) {
        p->easy = NULL; /* the parent's */
        p->reason = "forked";
        strcpy(p->message, "the process forked while the transfer was in flight");
        finish(e, p);
    }
    while ((p = e->queued_tail) != NULL) {
        p->reason = "forked";
        strcpy(p->message, "the process forked while the transfer was queued");
        finish(e, p);
    }
    kd_easy_drop(e, 1);
    e->multi = NULL; /* abandoned with its connections */
    e->pid = getpid();
}

static kd_engine *check_open(lua_State *L)
{
    kd_engine *e = luaL_checkudata(L, 1, PARTS_MT);
    if (!e->open)
        luaL_error(L, "attempt to use a closed parts engine");
    if (e->pid != getpid()) {
        forget_parent(e);
        e->multi = curl_multi_init();
        if (e->multi == NULL)
            luaL_error(L, "curl_multi_init failed");
    }
    return e;
}

/* Starts queued parts, oldest first, while fewer than `concurrency` run. */
static void start_queued(kd_engine *e)
{
    while (e->nrunning < (size_t)e->concurrency && e->queued_tail != NULL) {
        kd_part *p = e->queued_tail;
        e->queued_tail = p->prev;
        list_remove(&e->queued, p);
        e->nqueued--;
        p->easy = kd_easy_take(e);
        if (p->easy == NULL) {
            p->reason = "transport";
            strcpy(p->message, "could not create a libcurl easy handle");
        } else if (kd_part_start(p) && curl_multi_add_handle(e->multi, p->easy) == CURLM_OK) {
            p->state = PART_RUNNING;
            list_push(&e->running, p);
            e->nrunning++;
            continue;
        } else if (p->reason == NULL) {
            p->reason = "transport";
            strcpy(p->message, "curl_multi_add_handle failed");
        }
        kd_easy_give(e, &p->easy);
        p->state = PART_DONE;
        kd_part_release(p);
        list_push(&e->done, p);
    }
}

/* Collects what libcurl finished into the done list. */
static void collect(kd_engine *e)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
        kd_part *p = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
        curl_multi_remove_handle(e->multi, msg->easy_handle);
        if (p == NULL)
            continue;
        p->rc = msg->data.result;
        curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &p->status);
        kd_easy_give(e, &p->easy);
        finish(e, p);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* e:poll(seconds) -> array of finished transfers (maybe empty). Waits at most `seconds`
 * (0: never), returning as soon as one transfer has finished. */
static int meth_poll(lua_State *L)
{
    kd_engine *e = check_open(L);
    lua_Number seconds = luaL_optnumber(L, 2, 0);
    double deadline;
    int running, count = 0;
    if (!(seconds >= 0 && seconds <= 86400))
        return luaL_argerror(L, 2, "seconds must be between 0 and 86400");
    deadline = now() + seconds;
    for (;;) {
        double left;
        start_queued(e);
        curl_multi_perform(e->multi, &running);
        collect(e);
        start_queued(e);
        if (e->done != NULL || e->nrunning == 0)
            break;
        left = deadline - now();
        if (left <= 0)
            break;
        curl_multi_poll(e->multi, NULL, 0, (int)(left * 1000.0) + 1, NULL);
    }
    if (e->nrunning > 0)
        curl_multi_perform(e->multi, &running); /* sends the first bytes of what just started */
    lua_newtable(L);
    while (e->done != NULL) {
        kd_part *p = e->done;
        list_remove(&e->done, p);
        kd_part_push_result(L, p);
        lua_rawseti(L, -2, ++count);
        free_part(L, p, 0);
    }
    return 1;
}

/* e:add{ id, method = "PUT"|"GET", url, path | data, offset, size, range } -> true */
static int meth_add(lua_State *L)
{
    kd_engine *e = check_open(L);
    kd_part *p = kd_part_from_table(L, e);
    list_push(&e->queued, p);
    if (e->queued_tail == NULL)
        e->queued_tail = p;
    e->nqueued++;
    if (p->url == NULL || (p->data == NULL && p->path == NULL)) {
        p->reason = "transport";
        strcpy(p->message, "out of memory");
        finish(e, p);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int meth_pending(lua_State *L)
{
    kd_engine *e = check_open(L);
    lua_pushinteger(L, (lua_Integer)(e->nqueued + e->nrunning));
    return 1;
}

static int meth_running(lua_State *L)
{
    kd_engine *e = check_open(L);
    lua_pushinteger(L, (lua_Integer)e->nrunning);
    return 1;
}

static kd_part *find(kd_part *head, long long id)
{
    for (; head != NULL; head = head->next)
        if (head->id == id)
            return head;
    return NULL;
}

/* e:progress() -> body bytes moved by every transfer; e:progress(id) -> those of a running
 * transfer so far (a GET's: written from its offset on, without a gap), nil when not running */
static int meth_progress(lua_State *L)
{
    kd_engine *e = check_open(L);
    uint64_t n = e->progress;
    if (!lua_isnoneornil(L, 2)) {
        kd_part *p = find(e->running, (long long)luaL_checknumber(L, 2));
        if (p == NULL)
            return 0;
        n = p->done;
    }
#if LUA_VERSION_NUM >= 503
    lua_pushinteger(L, (lua_Integer)n);
#else
    lua_pushnumber(L, (lua_Number)n);
#endif
    return 1;
}

/* e:cancel(id) -> true if a queued, running or unreported transfer was dropped */
static int meth_cancel(lua_State *L)
{
    kd_engine *e = check_open(L);
    long long id = (long long)luaL_checknumber(L, 2);
    kd_part *p;
    if ((p = find(e->queued, id)) != NULL) {
        finish(e, p);
    } else if ((p = find(e->running, id)) != NULL) {
        curl_multi_remove_handle(e->multi, p->easy);
        kd_easy_give(e, &p->easy);
        finish(e, p);
    } else if ((p = find(e->done, id)) == NULL) {
        lua_pushboolean(L, 0);
        return 1;
    }
    list_remove(&e->done, p);
    free_part(L, p, 0);
    lua_pushboolean(L, 1);
    return 1;
}

static void free_list(lua_State *L, kd_engine *e, kd_part *head, int abandon)
{
    while (head != NULL) {
        kd_part *next = head->next;
        if (!abandon && head->easy != NULL && head->state == PART_RUNNING)
            curl_multi_remove_handle(e->multi, head->easy);
        free_part(L, head, abandon);
        head = next;
    }
}

/* Aborts what is in flight and frees everything; safe to call more than once. */
static int meth_close(lua_State *L)
{
    kd_engine *e = luaL_checkudata(L, 1, PARTS_MT);
    int forked;
    if (!e->open)
        return 0;
    e->open = 0;
    forked = e->pid != getpid();
    free_list(L, e, e->running, forked);
    free_list(L, e, e->queued, forked);
    free_list(L, e, e->done, forked);
    e->running = e->queued = e->queued_tail = e->done = NULL;
    e->nrunning = e->nqueued = 0;
    kd_easy_drop(e, forked);
    if (e->multi != NULL && !forked)
        curl_multi_cleanup(e->multi);
    e->multi = NULL;
    free(e->ca_file);
    e->ca_file = NULL;
    return 0;
}

static int meth_tostring(lua_State *L)
{
    kd_engine *e = luaL_checkudata(L, 1, PARTS_MT);
    if (e->open)
        lua_pushfstring(L, "koodrive.parts (%d running, %d queued)", (int)e->nrunning,
                        (int)e->nqueued);
    else
        lua_pushliteral(L, "koodrive.parts (closed)");
    return 1;
}

/* Optional seconds field of the options table as milliseconds; `dflt` when absent. */
static long opt_ms(lua_State *L, const char *k, long dflt)
{
    lua_Number s;
    lua_getfield(L, 1, k);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return dflt;
    }
    s = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(s >= 0 && s <= 86400))
        luaL_error(L, "parts: option '%s' must be between 0 and 86400 seconds", k);
    lua_pop(L, 1);
    return (long)(s * 1000.0 + 0.5);
}

/* curl.parts{ concurrency, connect_timeout, timeout, low_speed_time, ca_file, insecure,
 * max_error_body } -> engine */
static int global_parts(lua_State *L)
{
    kd_engine *e;
    lua_Number c, max_body;
    const char *ca = NULL;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "concurrency");
    c = lua_isnil(L, -1) ? 4 : lua_tonumber(L, -1);
    if (!(c >= 1 && c <= KD_PARTS_MAX_CONCURRENCY) || c != (lua_Number)(long)c)
        return luaL_error(L, "parts: concurrency must be a whole number 1..256");
    lua_getfield(L, 1, "max_error_body");
    max_body = lua_isnil(L, -1) ? 65536 : lua_tonumber(L, -1);
    if (!(max_body >= 0 && max_body <= 16777216))
        return luaL_error(L, "parts: max_error_body must be 0..16 MiB");
    lua_getfield(L, 1, "ca_file");
    if (!lua_isnil(L, -1) && (ca = lua_tostring(L, -1)) == NULL)
        return luaL_error(L, "parts: ca_file must be a string");
    lua_getfield(L, 1, "insecure");
    e = kd_newuserdata(L, sizeof *e);
    memset(e, 0, sizeof *e);
    e->concurrency = (long)c;
    e->max_error_body = (size_t)max_body;
    e->insecure = lua_toboolean(L, -2);
    e->connect_ms = opt_ms(L, "connect_timeout", -1);
    e->timeout_ms = opt_ms(L, "timeout", -1);
    e->low_speed_s = (opt_ms(L, "low_speed_time", 60000) + 999) / 1000;
    e->pid = getpid();
    luaL_getmetatable(L, PARTS_MT);
    lua_setmetatable(L, -2);
    if (ca != NULL && (e->ca_file = kd_part_copy(ca, strlen(ca))) == NULL)
        return luaL_error(L, "out of memory");
    e->multi = curl_multi_init();
    if (e->multi == NULL)
        return luaL_error(L, "curl_multi_init failed");
    e->open = 1;
    return 1;
}

/* curl.parts_reason(code) -> the engine's reason for a libcurl code (for the specs). */
static int global_parts_reason(lua_State *L)
{
    lua_pushstring(L, kd_part_reason((CURLcode)luaL_checkinteger(L, 1)));
    return 1;
}

void kd_parts_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "add", meth_add },           { "poll", meth_poll },
        { "pending", meth_pending },   { "running", meth_running },
        { "progress", meth_progress }, { "cancel", meth_cancel },
        { "close", meth_close },       { NULL, NULL },
    };
    static const luaL_Reg functions[] = {
        { "parts", global_parts },
        { "parts_reason", global_parts_reason },
        { NULL, NULL },
    };
    kd_handle_class(L, PARTS_MT, methods, meth_close, meth_tostring);
    luaL_setfuncs(L, functions, 0);
}
