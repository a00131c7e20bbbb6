/* json.c - keeps 64-bit integers exact across lua-cjson.
 *
 * lua-cjson 2.1 reads every JSON number through a double, so an id such as
 * 3432423464657862424 would come back as 3432423464657862400. Before decoding, integer
 * literals too long for a double to hold exactly (16 or more digits) are wrapped in quotes,
 * so they reach Lua as strings with every digit intact. Text without such literals is
 * returned unchanged, without a copy. Writing ids is done in Lua (see koodrive/json.lua). */
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "core.h"

#define EXACT_DIGITS 15 /* every integer of up to 15 digits survives a double */

/* Whether c can be part of a bare token (a number, true, false, null): anything but JSON's
 * structural characters, the string quote, whitespace and NUL (where lua-cjson stops reading). */
static int is_bare(char c)
{
    return c != '{' && c != '}' && c != '[' && c != ']' && c != ',' && c != ':' && c != '"' &&
           c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\0';
}

/* Whether [p, e) is an optional '-' and more than EXACT_DIGITS digits, nothing else. The whole
 * bare token is looked at, not a prefix: lua-cjson also reads 0x1F, +1, inf and nan(...) as
 * numbers, and quoting digits inside such a token would break a text cjson accepts. */
static int is_long_integer(const char *p, const char *e)
{
    if (p < e && *p == '-')
        p++;
    if ((size_t)(e - p) <= EXACT_DIGITS)
        return 0;
    for (; p < e; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

/* Counts the long integer literals outside strings; with out, also writes the text with them
 * quoted. */
static size_t each_long_integer(const char *s, size_t len, luaL_Buffer *out)
{
    const char *p = s, *end = s + len, *copied = s;
    size_t found = 0;
    while (p < end) {
        if (*p == '"') {
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\' && p + 1 < end)
                    p++;
            if (p < end)
                p++;
        } else if (is_bare(*p)) {
            const char *tok = p;
            while (p < end && is_bare(*p))
                p++;
            if (is_long_integer(tok, p)) {
                found++;
                if (out != NULL) {
                    luaL_addlstring(out, copied, (size_t)(tok - copied));
                    luaL_addchar(out, '"');
                    luaL_addlstring(out, tok, (size_t)(p - tok));
                    luaL_addchar(out, '"');
                    copied = p;
                }
            }
        } else {
            p++;
        }
    }
    if (out != NULL && copied < end)
        luaL_addlstring(out, copied, (size_t)(end - copied));
    return found;
}

/* core.quote_long_integers(text) -> text with long integer literals turned into strings. */
static int global_quote_long_integers(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    luaL_Buffer out;
    if (each_long_integer(s, len, NULL) == 0) {
        lua_settop(L, 1);
        return 1;
    }
    luaL_buffinit(L, &out);
    each_long_integer(s, len, &out);
    luaL_pushresult(&out);
    return 1;
}

#if LUA_VERSION_NUM >= 503
/* Deeper tables are left as they are (cjson's own nesting limit is 1000). */
#define INTEGERS_MAX_DEPTH 200

/* Turns every whole float value of the table at idx (and of tables inside it) into an integer.
 * Only values are rewritten, which lua_next allows while it traverses. */
static void integers(lua_State *L, int idx, int depth)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int t = lua_type(L, -1);
        if (t == LUA_TNUMBER) {
            if (!lua_isinteger(L, -1)) {
                lua_Number n = lua_tonumber(L, -1);
                lua_Integer i;
                if (lua_numbertointeger(n, &i) && (lua_Number)i == n) {
                    lua_pushvalue(L, -2);
                    lua_pushinteger(L, i);
                    lua_rawset(L, idx);
                }
            }
        } else if (t == LUA_TTABLE && depth < INTEGERS_MAX_DEPTH) {
            luaL_checkstack(L, 4, "nested too deep");
            integers(L, lua_gettop(L), depth + 1);
        }
        lua_pop(L, 1);
    }
}

/* core.integers(value) -> value, with whole floats in tables turned into integers in place:
 * lua-cjson 2.1 reads every number as a float, so a code of 0 would print as 0.0 (Lua 5.3+). */
static int global_integers(lua_State *L)
{
    lua_settop(L, 1);
    if (lua_type(L, 1) == LUA_TTABLE)
        integers(L, 1, 0);
    return 1;
}
#endif

void kd_json_open(lua_State *L)
{
    static const luaL_Reg functions[] = {
        { "quote_long_integers", global_quote_long_integers },
#if LUA_VERSION_NUM >= 503
        { "integers", global_integers },
#endif
        { NULL, NULL },
    };
    luaL_setfuncs(L, functions, 0);
}
