/* json_decode.c - core.json_decode: the strict JSON reader responses are decoded with.
 * (json.c keeps 64-bit integers exact for the writer side and lua-cjson.) */
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "core.h"
#include "json_decode.h"

/* A strict JSON reader (RFC 8259) that builds Lua values directly.
 *
 * lua-cjson 2.1 is lenient where a client must not be: it reads 0x1F, +1, inf and nan as
 * numbers, stops at a NUL and ignores what follows, keeps the last of duplicate keys, returns
 * 1e999 as inf and 1e-400 as 0, and decodes {} and [] alike. An answer read that way could pass
 * for a success it is not, so responses are read here instead:
 *   - exactly one JSON value, white space around it, nothing else (a NUL is not white space);
 *   - numbers per the JSON grammar; one beyond the double range, or a non-zero one that
 *     underflows to 0, is an error, not inf or 0;
 *   - an object with the same key twice is an error (which one would be meant?);
 *   - strings without raw control characters; \u escapes must pair surrogates (other bytes pass
 *     through unchanged, as with cjson);
 *   - nesting deeper than the limit is an error;
 *   - integer literals of 16 or more digits become strings, digit for digit;
 *   - arrays get the metatable given (so [] and {} stay apart);
 *   - a whole-valued number written with a fraction or exponent (0.0, 1e2) is recorded in the
 *     `floats` table given: floats[container][key] = true (Lua 5.1 cannot tell 0.0 from 0). */

int kd_json_fail(reader *r, const char *what)
{
    return luaL_error(r->L, "%s at character %d", what, (int)(r->p - r->s) + 1);
}

static void skip_space(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static void read_value(reader *r);

static void expect_literal(reader *r, const char *word, size_t len)
{
    if ((size_t)(r->end - r->p) < len || memcmp(r->p, word, len) != 0)
        kd_json_fail(r, "invalid token");
    r->p += len;
}

/* floats[container][key] = true, for the whole-valued number just stored at key (on top). */
static void record_float(reader *r, int container)
{
    lua_State *L = r->L;
    if (!r->float_literal || r->floats == 0)
        return;
    r->float_literal = 0;
    lua_pushvalue(L, container);
    lua_rawget(L, r->floats);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, container);
        lua_pushvalue(L, -2);
        lua_rawset(L, r->floats);
    }
    lua_pushvalue(L, -2); /* the key */
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Members are kept on the stack until PENDING of them (or all) are read, and the table is then
 * made at its final size: a table grown member by member is reallocated at 1, 2, 4, 8...
 * entries, and that was most of the reader's allocations for a typical answer. */
#define PENDING 16

/* Stores the n values above the array's table (at t) at indexes from+1..from+n. */
static void flush_array(reader *r, int t, int from, int n, unsigned floats)
{
    lua_State *L = r->L;
    int i;
    for (i = 0; i < n; i++) {
        lua_pushvalue(L, t + 1 + i);
        lua_rawseti(L, t, from + i + 1);
        if (floats & (1u << i)) {
            lua_pushinteger(L, from + i + 1);
            r->float_literal = 1;
            record_float(r, t);
            lua_pop(L, 1);
        }
    }
    lua_settop(L, t);
}

static void read_array(reader *r)
{
    lua_State *L = r->L;
    int t = lua_gettop(L) + 1, made = 0, stored = 0, n = 0;
    unsigned floats = 0;
    r->p++;
    skip_space(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        lua_createtable(L, 0, 0);
        goto done;
    }
    lua_pushnil(L); /* the table's slot, filled at the first flush */
    luaL_checkstack(L, PENDING + 8, "nested too deep");
    for (;;) {
        read_value(r);
        if (r->float_literal)
            floats |= 1u << n;
        r->float_literal = 0;
        n++;
        skip_space(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            if (n == PENDING) {
                if (!made) {
                    lua_createtable(L, PENDING * 2, 0);
                    lua_replace(L, t);
                    made = 1;
                }
                flush_array(r, t, stored, n, floats);
                stored += n;
                n = 0;
                floats = 0;
            }
            continue;
        }
        if (r->p < r->end && *r->p == ']') {
            r->p++;
            break;
        }
        kd_json_fail(r, "expected ',' or ']' in array");
    }
    if (!made) {
        lua_createtable(L, n, 0);
        lua_replace(L, t);
    }
    flush_array(r, t, stored, n, floats);
done:
    if (r->array_mt) {
        lua_pushvalue(L, r->array_mt);
        lua_setmetatable(L, -2);
    }
}

/* Stores the n key/value pairs above the object's table (at t). */
static void flush_object(reader *r, int t, int n, unsigned floats)
{
    lua_State *L = r->L;
    int i;
    for (i = 0; i < n; i++) {
        lua_pushvalue(L, t + 1 + 2 * i);
        lua_pushvalue(L, t + 2 + 2 * i);
        lua_rawset(L, t);
        if (floats & (1u << i)) {
            lua_pushvalue(L, t + 1 + 2 * i);
            r->float_literal = 1;
            record_float(r, t);
            lua_pop(L, 1);
        }
    }
    lua_settop(L, t);
}

static void read_object(reader *r)
{
    lua_State *L = r->L;
    int t = lua_gettop(L) + 1, made = 0, n = 0, i;
    unsigned floats = 0;
    r->p++;
    skip_space(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        lua_createtable(L, 0, 0);
        return;
    }
    lua_pushnil(L); /* the table's slot, filled at the first flush */
    luaL_checkstack(L, 2 * PENDING + 8, "nested too deep");
    for (;;) {
        const char *key_at;
        skip_space(r);
        if (r->p >= r->end || *r->p != '"')
            kd_json_fail(r, "expected a string key in object");
        key_at = r->p;
        kd_json_read_string(r);
        /* The same key twice is an error, among the pending keys and the stored ones. */
        for (i = 0; i < n; i++) {
            if (lua_rawequal(L, t + 1 + 2 * i, -1)) {
                r->p = key_at;
                kd_json_fail(r, "duplicate key in object");
            }
        }
        if (made) {
            lua_pushvalue(L, -1);
            lua_rawget(L, t);
            if (!lua_isnil(L, -1)) {
                r->p = key_at;
                kd_json_fail(r, "duplicate key in object");
            }
            lua_pop(L, 1);
        }
        skip_space(r);
        if (r->p >= r->end || *r->p != ':')
            kd_json_fail(r, "expected ':' after key in object");
        r->p++;
        read_value(r);
        if (r->float_literal)
            floats |= 1u << n;
        r->float_literal = 0;
        n++;
        skip_space(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            if (n == PENDING) {
                if (!made) {
                    lua_createtable(L, 0, PENDING * 2);
                    lua_replace(L, t);
                    made = 1;
                }
                flush_object(r, t, n, floats);
                n = 0;
                floats = 0;
            }
            continue;
        }
        if (r->p < r->end && *r->p == '}') {
            r->p++;
            break;
        }
        kd_json_fail(r, "expected ',' or '}' in object");
    }
    if (!made) {
        lua_createtable(L, 0, n);
        lua_replace(L, t);
    }
    flush_object(r, t, n, floats);
}

static void read_value(reader *r)
{
    skip_space(r);
    r->float_literal = 0;
    if (r->p >= r->end)
        kd_json_fail(r, "unexpected end of text");
    switch (*r->p) {
    case '{':
    case '[':
        if (++r->depth > r->max_depth)
            kd_json_fail(r, "nested too deep");
        luaL_checkstack(r->L, 8, "nested too deep");
        if (*r->p == '{')
            read_object(r);
        else
            read_array(r);
        r->depth--;
        r->float_literal = 0;
        break;
    case '"':
        kd_json_read_string(r);
        break;
    case 't':
        expect_literal(r, "true", 4);
        lua_pushboolean(r->L, 1);
        break;
    case 'f':
        expect_literal(r, "false", 5);
        lua_pushboolean(r->L, 0);
        break;
    case 'n':
        expect_literal(r, "null", 4);
        lua_pushlightuserdata(r->L, NULL);
        break;
    default:
        kd_json_read_number(r);
        break;
    }
}

/* core.json_decode(text, array_mt, floats, max_depth) -> value; raises "<what> at character
 * <n>" for text that is not exactly one JSON value. JSON null is lightuserdata NULL, as in
 * lua-cjson (cjson.null). */
static int global_json_decode(lua_State *L)
{
    size_t len;
    reader r;
    r.L = L;
    r.s = luaL_checklstring(L, 1, &len);
    r.p = r.s;
    r.end = r.s + len;
    r.array_mt = lua_istable(L, 2) ? 2 : 0;
    r.floats = lua_istable(L, 3) ? 3 : 0;
    r.max_depth = (int)luaL_optinteger(L, 4, 1000);
    r.depth = 0;
    r.float_literal = 0;
    lua_settop(L, 4);
    read_value(&r);
    skip_space(&r);
    if (r.p != r.end)
        kd_json_fail(&r, "unexpected text after the JSON value");
    return 1;
}

void kd_json_decode_open(lua_State *L)
{
    lua_pushcfunction(L, global_json_decode);
    lua_setfield(L, -2, "json_decode");
}
