/* handle.h - the Lua class of a handle userdata (koodrive.http in http.c, koodrive.multi in
 * multi.c): one place that says what a handle's metatable holds. */
#ifndef KOODRIVE_HANDLE_H
#define KOODRIVE_HANDLE_H

#include <lua.h>
#include <lauxlib.h>

/* Registers the metatable `name` of a handle userdata: `methods` as its __index, `close` as
 * __gc and __close (so no handle outlives an unwinding error), and `tostring` as __tostring.
 * Leaves the stack as it was. */
void kd_handle_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close,
                     lua_CFunction tostring);

#endif
