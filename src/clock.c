/* clock.c - a monotonic clock and a sleep for the Lua layer.
 * Plain Lua has neither: retries need to wait between attempts (backoff) and to measure
 * elapsed time without being fooled by changes to the wall clock. */
#include <errno.h>
#include <time.h>

#include "compat.h"
#include "core.h"

/* core.monotonic() -> seconds (float) from an arbitrary start, never going backwards. */
static int global_monotonic(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* core.sleep(seconds): blocks the calling thread; resumes after a signal interrupts it. */
static int global_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    struct timespec req, rem;
    if (!(s >= 0 && s <= 86400))
        return luaL_argerror(L, 1, "seconds must be between 0 and 86400");
    req.tv_sec = (time_t)s; /* s >= 0: the cast truncates toward zero, i.e. floors */
    req.tv_nsec = (long)((s - (lua_Number)req.tv_sec) * 1e9);
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
    return 0;
}

void kd_clock_open(lua_State *L)
{
    static const luaL_Reg functions[] = {
        { "monotonic", global_monotonic },
        { "sleep", global_sleep },
        { NULL, NULL },
    };
    luaL_setfuncs(L, functions, 0);
}
