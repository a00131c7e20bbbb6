/* json_decode.c - core.json_decode: the strict JSON reader responses are decoded with.
 * (json.c keeps 64-bit integers exact for the writer side and lua-cjson.) */
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "core.h"

#define EXACT_DIGITS 15 /* every integer of up to 15 digits survives a double */

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

typedef struct {
    lua_State *L;
    const char *s, *p, *end;
    int array_mt, floats; /* stack indexes */
    int depth, max_depth;
    int float_literal; /* set by read_number for the container to record */
} reader;

static int fail(reader *r, const char *what)
{
    return luaL_error(r->L, "%s at character %d", what, (int)(r->p - r->s) + 1);
}

static void skip_space(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static void read_value(reader *r);

static int hex4(reader *r, const char *q)
{
    int v = 0, i;
    if (r->end - q < 4)
        fail(r, "truncated \\u escape");
    for (i = 0; i < 4; i++) {
        char c = q[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            fail(r, "invalid \\u escape");
    }
    return v;
}

static void add_utf8(luaL_Buffer *b, unsigned long c)
{
    if (c < 0x80) {
        luaL_addchar(b, (char)c);
    } else if (c < 0x800) {
        luaL_addchar(b, (char)(0xC0 | (c >> 6)));
        luaL_addchar(b, (char)(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        luaL_addchar(b, (char)(0xE0 | (c >> 12)));
        luaL_addchar(b, (char)(0x80 | ((c >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (c & 0x3F)));
    } else {
        luaL_addchar(b, (char)(0xF0 | (c >> 18)));
        luaL_addchar(b, (char)(0x80 | ((c >> 12) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | ((c >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (c & 0x3F)));
    }
}

/* Pushes the string starting at the opening quote. */
static void read_string(reader *r)
{
    const char *q = r->p + 1, *start = q;
    luaL_Buffer b;
    int escaped = 0;
    /* First pass: find the end and check the bytes; strings without escapes are pushed as is. */
    for (;;) {
        unsigned char c;
        if (q >= r->end) {
            r->p = q;
            fail(r, "unterminated string");
        }
        c = (unsigned char)*q;
        if (c == '"')
            break;
        if (c < 0x20) {
            r->p = q;
            fail(r, "control character in string");
        }
        if (c == '\\') {
            escaped = 1;
            q += 2;
        } else {
            q++;
        }
    }
    if (!escaped) {
        lua_pushlstring(r->L, start, (size_t)(q - start));
        r->p = q + 1;
        return;
    }
    luaL_buffinit(r->L, &b);
    for (q = start; *q != '"';) {
        if (*q != '\\') {
            const char *run = q;
            while (*q != '\\' && *q != '"')
                q++;
            luaL_addlstring(&b, run, (size_t)(q - run));
            continue;
        }
        r->p = q;
        switch (q[1]) {
        case '"':
            luaL_addchar(&b, '"');
            break;
        case '\\':
            luaL_addchar(&b, '\\');
            break;
        case '/':
            luaL_addchar(&b, '/');
            break;
        case 'b':
            luaL_addchar(&b, '\b');
            break;
        case 'f':
            luaL_addchar(&b, '\f');
            break;
        case 'n':
            luaL_addchar(&b, '\n');
            break;
        case 'r':
            luaL_addchar(&b, '\r');
            break;
        case 't':
            luaL_addchar(&b, '\t');
            break;
        case 'u': {
            unsigned long c = (unsigned long)hex4(r, q + 2);
            q += 4;
            if (c >= 0xDC00 && c <= 0xDFFF)
                fail(r, "lone low surrogate in \\u escape");
            if (c >= 0xD800 && c <= 0xDBFF) {
                unsigned long lo;
                if (r->end - q < 8 || q[2] != '\\' || q[3] != 'u')
                    fail(r, "lone high surrogate in \\u escape");
                lo = (unsigned long)hex4(r, q + 4);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    fail(r, "lone high surrogate in \\u escape");
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            }
            add_utf8(&b, c);
            break;
        }
        default:
            fail(r, "invalid escape in string");
        }
        q += 2;
    }
    luaL_pushresult(&b);
    r->p = q + 1;
}

#define MAX_NUMBER_TEXT 512

/* Pushes the number at r->p, checked against the JSON grammar. */
static void read_number(reader *r)
{
    const char *q = r->p, *digits;
    int is_float = 0, nonzero = 0;
    char text[MAX_NUMBER_TEXT];
    size_t len;
    double v;
    char *stop;
    if (*q == '-')
        q++;
    digits = q;
    if (q < r->end && *q == '0') {
        q++;
    } else if (q < r->end && *q >= '1' && *q <= '9') {
        while (q < r->end && *q >= '0' && *q <= '9')
            nonzero |= *q++ != '0';
    } else {
        fail(r, "invalid number");
    }
    if (q < r->end && *q == '.') {
        is_float = 1;
        q++;
        if (q >= r->end || *q < '0' || *q > '9')
            fail(r, "invalid number (no digit after '.')");
        while (q < r->end && *q >= '0' && *q <= '9')
            nonzero |= *q++ != '0';
    }
    if (q < r->end && (*q == 'e' || *q == 'E')) {
        is_float = 1;
        q++;
        if (q < r->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= r->end || *q < '0' || *q > '9')
            fail(r, "invalid number (no digit in the exponent)");
        while (q < r->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (!is_float && (size_t)(q - digits) > EXACT_DIGITS) {
        lua_pushlstring(r->L, r->p, (size_t)(q - r->p)); /* a long integer at the end of text */
        r->p = q;
        return;
    }
    len = (size_t)(q - r->p);
    if (len >= MAX_NUMBER_TEXT)
        fail(r, "number too long");
    memcpy(text, r->p, len);
    text[len] = '\0';
    {
        /* strtod follows the C locale's decimal point; JSON's is always '.'. */
        char point = localeconv()->decimal_point[0];
        if (point != '.') {
            char *dot = strchr(text, '.');
            if (dot)
                *dot = point;
        }
    }
    v = strtod(text, &stop);
    if (isinf(v) || isnan(v))
        fail(r, "number out of range");
    if (v == 0 && nonzero)
        fail(r, "number out of range (underflows to 0)");
    r->p = q;
    r->float_literal = is_float && v == floor(v);
#if LUA_VERSION_NUM >= 503
    if (v == floor(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0) {
        lua_pushinteger(r->L, (lua_Integer)v);
        return;
    }
#endif
    lua_pushnumber(r->L, (lua_Number)v);
}

static void expect_literal(reader *r, const char *word, size_t len)
{
    if ((size_t)(r->end - r->p) < len || memcmp(r->p, word, len) != 0)
        fail(r, "invalid token");
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

static void read_array(reader *r)
{
    lua_State *L = r->L;
    int t, n = 0;
    lua_newtable(L);
    t = lua_gettop(L);
    if (r->array_mt) {
        lua_pushvalue(L, r->array_mt);
        lua_setmetatable(L, t);
    }
    r->p++;
    skip_space(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return;
    }
    for (;;) {
        read_value(r);
        lua_rawseti(L, t, ++n);
        if (r->float_literal) {
            lua_pushinteger(L, n);
            record_float(r, t);
            lua_pop(L, 1);
        }
        skip_space(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == ']') {
            r->p++;
            return;
        }
        fail(r, "expected ',' or ']' in array");
    }
}

static void read_object(reader *r)
{
    lua_State *L = r->L;
    int t;
    lua_newtable(L);
    t = lua_gettop(L);
    r->p++;
    skip_space(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return;
    }
    for (;;) {
        const char *key_at;
        skip_space(r);
        if (r->p >= r->end || *r->p != '"')
            fail(r, "expected a string key in object");
        key_at = r->p;
        read_string(r);
        lua_pushvalue(L, -1);
        lua_rawget(L, t);
        if (!lua_isnil(L, -1)) {
            r->p = key_at;
            fail(r, "duplicate key in object");
        }
        lua_pop(L, 1);
        skip_space(r);
        if (r->p >= r->end || *r->p != ':')
            fail(r, "expected ':' after key in object");
        r->p++;
        read_value(r);
        if (r->float_literal) {
            lua_pushvalue(L, -2);
            lua_pushvalue(L, -2);
            lua_rawset(L, t);
            lua_pop(L, 1); /* the value; the key stays on top for record_float */
            record_float(r, t);
            lua_pop(L, 1);
        } else {
            lua_rawset(L, t);
        }
        skip_space(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == '}') {
            r->p++;
            return;
        }
        fail(r, "expected ',' or '}' in object");
    }
}

static void read_value(reader *r)
{
    skip_space(r);
    r->float_literal = 0;
    if (r->p >= r->end)
        fail(r, "unexpected end of text");
    switch (*r->p) {
    case '{':
    case '[':
        if (++r->depth > r->max_depth)
            fail(r, "nested too deep");
        luaL_checkstack(r->L, 6, "nested too deep");
        if (*r->p == '{')
            read_object(r);
        else
            read_array(r);
        r->depth--;
        r->float_literal = 0;
        break;
    case '"':
        read_string(r);
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
        read_number(r);
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
        fail(&r, "unexpected text after the JSON value");
    return 1;
}

void kd_json_decode_open(lua_State *L)
{
    lua_pushcfunction(L, global_json_decode);
    lua_setfield(L, -2, "json_decode");
}
