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
#endif

#if !defined(LUA_VERSION_NUM) || LUA_VERSION_NUM == 501
#define lua_rawlen(L, i) lua_objlen((L), (i))
#endif

/* Export only luaopen_* from the shared object. */
#define KD_EXPORT __attribute__((visibility("default")))

#endif
