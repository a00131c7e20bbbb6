/* encode.c - the path and query encoders and the date stamp of signing.md, without crypto.
 *
 * Shared by both C modules: koodrive.core uses them for every request (token modes send the
 * URL encoded exactly as a signature would cover it), and koodrive.sign (sign.c) builds the
 * canonical request from them. They need no library, so koodrive.core links none and
 * `require "koodrive"` loads neither libcrypto nor libcurl. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "encode.h"

/* ASCII-only lower case: header names must not depend on the C locale. */
unsigned char kd_encode_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* The unreserved set of signing.md; every other byte is percent-encoded. */
static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Byte-wise order, a proper prefix first: what memcmp gives, never locale collation. */
static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c != 0 ? c : (an > bn) - (an < bn);
}

static int cmp_query(const void *va, const void *vb)
{
    const kd_pair *a = va, *b = vb;
    int c = cmp_bytes(a->name, a->nlen, b->name, b->nlen);
    return c != 0 ? c : cmp_bytes(a->val, a->vlen, b->val, b->vlen);
}

/* Stable insertion sort for the usual handful of pairs; qsort beyond that, where
 * stability cannot matter: pairs that compare equal are byte-identical (query) or
 * rejected as duplicates (headers). */
void kd_encode_sort(kd_pair *a, size_t n, int (*cmp)(const void *, const void *))
{
    size_t i, j;
    if (n > KD_LOCAL_PAIRS) {
        qsort(a, n, sizeof *a, cmp);
        return;
    }
    for (i = 1; i < n; i++) {
        kd_pair t = a[i];
        for (j = i; j > 0 && cmp(&a[j - 1], &t) > 0; j--)
            a[j] = a[j - 1];
        a[j] = t;
    }
}

static void add_encoded_byte(luaL_Buffer *b, unsigned char c)
{
    static const char digits[] = "0123456789ABCDEF";
    if (is_unreserved(c)) {
        luaL_addchar(b, (char)c);
    } else {
        luaL_addchar(b, '%');
        luaL_addchar(b, digits[c >> 4]);
        luaL_addchar(b, digits[c & 15]);
    }
}

static void add_encoded(luaL_Buffer *b, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        add_encoded_byte(b, (unsigned char)s[i]);
}

/* Pushes the path to send: each '/'-separated segment percent-decoded and re-encoded.
 * Splitting happens before decoding, so an encoded "%2F" stays inside its segment.
 * A '%' not followed by two hex digits is taken literally (and becomes "%25"). */
void kd_encode_push_path(lua_State *L, const char *p, size_t n)
{
    luaL_Buffer b;
    size_t i;
    luaL_buffinit(L, &b);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '/') {
            luaL_addchar(&b, '/');
        } else if (c == '%' && i + 2 < n && hexval((unsigned char)p[i + 1]) >= 0 &&
                   hexval((unsigned char)p[i + 2]) >= 0) {
            add_encoded_byte(&b, (unsigned char)(hexval((unsigned char)p[i + 1]) * 16 +
                                                 hexval((unsigned char)p[i + 2])));
            i += 2;
        } else {
            add_encoded_byte(&b, c);
        }
    }
    luaL_pushresult(&b);
}

const char *kd_encode_check_path(lua_State *L, int arg, int idx, const char *what, size_t *n)
{
    const char *p;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a string", what));
    p = lua_tolstring(L, idx, n);
    if (*n == 0 || p[0] != '/')
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must begin with '/'", what));
    return p;
}

/* Reads the array of {name, value} pairs at idx (nil = none). Numbers are accepted and
 * converted like tostring; the converted strings are anchored in a table pushed on the
 * stack, as is the userdata holding more than `local` can take. */
kd_pair *kd_encode_collect_query(lua_State *L, int arg, int idx, kd_pair *local, size_t *count)
{
    kd_pair *q = local;
    size_t n, i;
    int anchor, anchored = 0, k;
    *count = 0;
    if (lua_isnoneornil(L, idx))
        return q;
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_argerror(L, arg, "query must be an array of {name, value} pairs or nil");
    n = (size_t)lua_rawlen(L, idx);
    lua_pushnil(L); /* placeholder for the anchor table, created on the first number */
    anchor = lua_gettop(L);
    if (n > KD_LOCAL_PAIRS)
        q = kd_newuserdata(L, n * sizeof *q);
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)(i + 1));
        if (lua_type(L, -1) != LUA_TTABLE)
            luaL_argerror(
                L, arg,
                lua_pushfstring(L, "query entry %d must be a {name, value} pair", (int)(i + 1)));
        for (k = 1; k <= 2; k++) {
            const char *s;
            size_t len;
            int t;
            lua_rawgeti(L, -1, k);
            t = lua_type(L, -1);
            if (t != LUA_TSTRING && t != LUA_TNUMBER)
                luaL_argerror(L, arg,
                              lua_pushfstring(L, "query entry %d: %s must be a string",
                                              (int)(i + 1), k == 1 ? "name" : "value"));
            s = lua_tolstring(L, -1, &len); /* a number is converted in this stack slot */
            if (t == LUA_TNUMBER) {
                if (!lua_istable(L, anchor)) {
                    lua_newtable(L);
                    lua_replace(L, anchor);
                }
                lua_pushvalue(L, -1);
                lua_rawseti(L, anchor, ++anchored);
            }
            if (k == 1) {
                q[i].name = s;
                q[i].nlen = len;
            } else {
                q[i].val = s;
                q[i].vlen = len;
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    *count = n;
    return q;
}

/* Pushes the canonical query: pairs sorted by raw name then raw value, then encoded. */
void kd_encode_push_query(lua_State *L, kd_pair *q, size_t n)
{
    luaL_Buffer b;
    size_t i;
    kd_encode_sort(q, n, cmp_query);
    luaL_buffinit(L, &b);
    for (i = 0; i < n; i++) {
        if (i > 0)
            luaL_addchar(&b, '&');
        add_encoded(&b, q[i].name, q[i].nlen);
        luaL_addchar(&b, '=');
        add_encoded(&b, q[i].val, q[i].vlen);
    }
    luaL_pushresult(&b);
}

/* core.encode_path(path) -> the path to send (segments decoded and re-encoded). */
static int global_encode_path(lua_State *L)
{
    size_t n;
    const char *p = kd_encode_check_path(L, 1, 1, "path", &n);
    kd_encode_push_path(L, p, n);
    return 1;
}

/* core.encode_query(pairs) -> the canonical query string ("" for nil or {}). */
static int global_encode_query(lua_State *L)
{
    kd_pair local[KD_LOCAL_PAIRS];
    kd_pair *q;
    size_t n;
    lua_settop(L, 1);
    q = kd_encode_collect_query(L, 1, 1, local, &n);
    kd_encode_push_query(L, q, n);
    return 1;
}

/* core.utc_stamp(seconds) -> "YYYYMMDDTHHMMSSZ" for a Unix time (floored). */
static int global_utc_stamp(lua_State *L)
{
    lua_Number t = luaL_checknumber(L, 1);
    time_t tt;
    struct tm tm;
    char out[32];
    /* Four-digit years only (up to 9999-12-31T23:59:59Z); NaN fails the first test. */
    if (!(t >= 0 && t < 253402300800.0) || (sizeof(time_t) < 8 && t > 2147483647.0))
        return luaL_argerror(L, 1, "time out of range");
    tt = (time_t)t; /* truncation is floor for non-negative values */
    if (gmtime_r(&tt, &tm) == NULL || strftime(out, sizeof out, "%Y%m%dT%H%M%SZ", &tm) != 16)
        return luaL_argerror(L, 1, "time out of range");
    lua_pushlstring(L, out, 16);
    return 1;
}

static const luaL_Reg functions[] = { { "encode_path", global_encode_path },
                                      { "encode_query", global_encode_query },
                                      { "utc_stamp", global_utc_stamp },
                                      { NULL, NULL } };

void kd_encode_open(lua_State *L)
{
    luaL_setfuncs(L, functions, 0);
}
