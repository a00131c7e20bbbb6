/* compat.h - the one place where Lua 5.1/5.2/5.3/5.4 and LuaJIT differences are bridged.
 * Shims are guarded by the feature they provide, not by version number alone:
 * LuaJIT reports 501 but already defines luaL_newlib and luaL_setfuncs. */
#ifndef KOODRIVE_COMPAT_H
#define KOODRIVE_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#ifndef luaL_newlib
static inline void kd_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name != NULL; l++) {
        int i;
        for (i = 0; i < nup; i++)
            lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#define luaL_setfuncs(L, l, n) kd_compat_setfuncs((L), (l), (n))
#define luaL_newlibtable(L, l) lua_createtable((L), 0, sizeof(l) / sizeof((l)[0]) - 1)
#define luaL_newlib(L, l) (luaL_newlibtable(L, l), luaL_setfuncs(L, l, 0))

/* The rest of the Lua 5.2 auxiliary library that comes with luaL_newlib (LuaJIT has it too). */
static inline void kd_compat_setmetatable(lua_State *L, const char *tname)
{
    luaL_getmetatable(L, tname);
    lua_setmetatable(L, -2);
}
#define luaL_setmetatable(L, t) kd_compat_setmetatable((L), (t))

static inline void *kd_compat_testudata(lua_State *L, int ud, const char *tname)
{
    void *p = lua_touserdata(L, ud);
    int same = 0;
    if (p != NULL && lua_getmetatable(L, ud)) {
        luaL_getmetatable(L, tname);
        same = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    return same ? p : NULL;
}
#define luaL_testudata(L, i, t) kd_compat_testudata((L), (i), (t))
#endif

/* lua_objlen was renamed lua_rawlen in 5.2; LuaJIT 2.1 (which reports 501) only has the old
 * name. lua_rawlen is a function, not a macro, so the version number is the only guard. */
#if !defined(LUA_VERSION_NUM) || LUA_VERSION_NUM == 501
#ifndef lua_rawlen
#define lua_rawlen(L, i) lua_objlen((L), (i))
#endif
#endif

/* Userdata without user values. Lua 5.4 gives each userdata n user values and defines
 * lua_newuserdata as a macro over lua_newuserdatauv (with one of them); before 5.4 it is a
 * plain function and there is no count to give. */
#ifdef lua_newuserdata
#define kd_newuserdata(L, n) lua_newuserdatauv((L), (n), 0)
#else
#define kd_newuserdata(L, n) lua_newuserdata((L), (n))
#endif

/* Export only luaopen_* from the shared object. */
#define KD_EXPORT __attribute__((visibility("default")))

#endif
