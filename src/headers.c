/* headers.c - response headers, parsed on first read.
 *
 * Why lazy: a successful call reads no response header, and building the table (a string per
 * name and per value) was ~1.7 us of every call. The transfer keeps the final response's
 * header block (transfer.c's header callback drops 1xx blocks); kd_headers_lazy copies it into
 * one Lua string owned by the response table, so the table never refers to the easy handle,
 * which the next call resets and reuses (blocking handle) or hands to another transfer (multi
 * pool): a late read can only ever see its own response's headers.
 *
 * Why on the response table and not on `headers`: pairs() does not call __index, and Lua
 * 5.1/LuaJIT have no __pairs, so a lazy `headers` table would iterate as empty until indexed.
 * Reading `response.headers` (the only way to reach it) materialises it, so what the reader
 * gets is the same plain table as before: pairs, next and rawget all work on it. */
#include <ctype.h>
#include <string.h>

#include "compat.h"
#include "headers.h"

/* The registry key of the shared __index function (its address is the key). */
static const char index_key = 'h';

void kd_headers_push(lua_State *L, const char *p, size_t len)
{
    /* A block that never received a byte has no data: NULL + 0 would be undefined. */
    const char *end = p != NULL ? p + len : p;
    lua_newtable(L);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon != NULL && colon > p && !(line_end - p >= 5 && memcmp(p, "HTTP/", 5) == 0)) {
            const char *v = colon + 1, *ve = line_end;
            luaL_Buffer name;
            const char *q;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            luaL_buffinit(L, &name);
            for (q = p; q < colon; q++)
                luaL_addchar(&name, (char)tolower((unsigned char)*q));
            luaL_pushresult(&name);
            lua_pushvalue(L, -1);
            lua_rawget(L, -3);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_pushlstring(L, v, (size_t)(ve - v));
            } else {
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, (size_t)(ve - v));
                lua_concat(L, 3);
            }
            lua_rawset(L, -3);
        }
        p = eol ? eol + 1 : end;
    }
}

/* __index(response, key) of an unread response: only "headers" is lazy. */
static int meth_index(lua_State *L)
{
    size_t len = 0;
    const char *block;
    const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
    if (key == NULL || strcmp(key, "headers") != 0 || !lua_getmetatable(L, 1))
        return 0;
    lua_rawgeti(L, -1, 1);
    block = lua_tolstring(L, -1, &len);
    kd_headers_push(L, block, block != NULL ? len : 0);
    lua_pushliteral(L, "headers");
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    lua_pushnil(L);
    lua_setmetatable(L, 1);
    return 1;
}

void kd_headers_lazy(lua_State *L, const char *p, size_t len)
{
    lua_createtable(L, 1, 1);
    lua_pushlstring(L, p != NULL ? p : "", len);
    lua_rawseti(L, -2, 1);
    lua_pushlightuserdata(L, (void *)&index_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}

void kd_headers_open(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&index_key);
    lua_pushcfunction(L, meth_index);
    lua_rawset(L, LUA_REGISTRYINDEX);
}
