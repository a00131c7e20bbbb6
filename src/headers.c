/* headers.c - response headers, split on first read.
 *
 * Where they come from: libcurl keeps every response header itself (its header API, libcurl
 * >= 7.83). kd_transfer_result, while the transfer still owns its easy handle, walks the final
 * response's headers with curl_easy_nextheader and packs them (kd_headers_pack) into one
 * string; no header line is parsed here: libcurl hands over name and value, trimmed and with
 * folded lines joined, and 1xx interim headers are of another origin than the final ones.
 *
 * Why lazy: a successful call reads no response header, and building the table (a string per
 * name and per value) was ~1.7 us of every call. kd_headers_lazy copies the packed headers into
 * one Lua string owned by the response table, so the table never refers to the easy handle,
 * which the next call resets and reuses (blocking handle) or hands to another transfer (multi
 * pool): a late read can only ever see its own response's headers.
 *
 * Why on the response table and not on `headers`: pairs() does not call __index, and Lua
 * 5.1/LuaJIT have no __pairs, so a lazy `headers` table would iterate as empty until indexed.
 * Reading `response.headers` (the only way to reach it) materialises it, so what the reader
 * gets is the same plain table as before: pairs, next and rawget all work on it. */
#include <string.h>

#include "compat.h"
#include "headers.h"

/* The registry key of the shared __index function (its address is the key). */
static const char index_key = 'h';

void kd_headers_pack(char *dst, const char *name, size_t nlen, const char *value, size_t vlen)
{
    size_t i;
    /* ASCII only, whatever the C locale (os.setlocale can change it). */
    for (i = 0; i < nlen; i++) {
        char c = name[i];
        dst[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    dst[nlen] = '\0';
    if (vlen > 0) /* memcpy from NULL is undefined even for 0 bytes */
        memcpy(dst + nlen + 1, value, vlen);
    dst[nlen + 1 + vlen] = '\0';
}

/* Joins the values gathered in the table at index `repeats` ({ [name] = { v1, v2, ... } }) with
 * ", " and stores each result as out[name]. */
static void join_repeats(lua_State *L, int out, int repeats)
{
    lua_pushnil(L);
    while (lua_next(L, repeats)) {
        int list = lua_gettop(L), i, n = (int)lua_rawlen(L, list);
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (i = 1; i <= n; i++) {
            if (i > 1)
                luaL_addlstring(&b, ", ", 2);
            lua_rawgeti(L, list, i);
            luaL_addvalue(&b);
        }
        luaL_pushresult(&b);
        lua_pushvalue(L, list - 1);
        lua_insert(L, -2);
        lua_rawset(L, out);
        lua_pop(L, 1); /* the list; its name stays for lua_next */
    }
}

void kd_headers_push(lua_State *L, const char *p, size_t len)
{
    /* Headers that never received a byte have no data: NULL + 0 would be undefined. */
    const char *end = p != NULL ? p + len : p;
    int out, repeats = 0;
    lua_newtable(L);
    out = lua_gettop(L);
    while (p < end) {
        const char *name_end = memchr(p, '\0', (size_t)(end - p)), *value, *value_end;
        if (name_end == NULL)
            break;
        value = name_end + 1;
        value_end = memchr(value, '\0', (size_t)(end - value));
        if (value_end == NULL)
            break;
        lua_pushlstring(L, p, (size_t)(name_end - p));
        lua_pushvalue(L, -1);
        lua_rawget(L, out);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushlstring(L, value, (size_t)(value_end - value));
            lua_rawset(L, out);
        } else {
            /* A repeat. Its values gather in a list joined once at the end: joining on each
             * repeat would copy the growing value again every time, quadratic in the count. */
            int first = lua_gettop(L);
            if (repeats == 0) {
                lua_newtable(L);
                lua_insert(L, out + 1);
                repeats = out + 1;
                first++;
            }
            lua_pushvalue(L, first - 1);
            lua_rawget(L, repeats);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_createtable(L, 4, 0);
                lua_pushvalue(L, first);
                lua_rawseti(L, -2, 1);
                lua_pushvalue(L, first - 1);
                lua_pushvalue(L, -2);
                lua_rawset(L, repeats);
            }
            lua_pushlstring(L, value, (size_t)(value_end - value));
            lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
            lua_pop(L, 3); /* list, first value, name */
        }
        p = value_end + 1;
    }
    if (repeats != 0) {
        join_repeats(L, out, repeats);
        lua_pop(L, 1);
    }
}

/* __index(response, key) of an unread response: only "headers" is lazy. */
static int meth_index(lua_State *L)
{
    size_t len = 0;
    const char *packed;
    const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
    if (key == NULL || strcmp(key, "headers") != 0 || !lua_getmetatable(L, 1))
        return 0;
    lua_rawgeti(L, -1, 1);
    packed = lua_tolstring(L, -1, &len);
    kd_headers_push(L, packed, packed != NULL ? len : 0);
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
