/* parts_table.c - the Lua tables of the parts engine: a request table read into a part
 * (e:add) and a finished part written out as its result table (e:poll). Every check that can
 * raise is done before anything is allocated, so a bad request leaks nothing. */
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "parts.h"

static uint64_t field_size(lua_State *L, const char *k, int required, int *present)
{
    lua_Number n;
    lua_getfield(L, 2, k);
    *present = !lua_isnil(L, -1);
    if (!*present && !required) {
        lua_pop(L, 1);
        return 0;
    }
    n = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(n >= 0 && n <= 9007199254740992.0) ||
        n != (lua_Number)(uint64_t)n)
        luaL_error(L, "parts: field '%s' must be a whole number >= 0", k);
    lua_pop(L, 1);
    return (uint64_t)n;
}

/* Checks a string field (non-empty, no NUL); returns it, NULL when absent and optional. */
static const char *field_string(lua_State *L, const char *k, int required, size_t *len)
{
    const char *s;
    lua_getfield(L, 2, k);
    if (lua_isnil(L, -1) && !required) {
        lua_pop(L, 1);
        return NULL;
    }
    s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, len) : NULL;
    if (s == NULL || strlen(s) != *len || *len == 0)
        luaL_error(L, "parts: field '%s' must be a non-empty string without NUL", k);
    lua_pop(L, 1); /* still referenced by the request table */
    return s;
}

char *kd_part_copy(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c != NULL)
        memcpy(c, s, n + 1);
    return c;
}

kd_part *kd_part_from_table(lua_State *L, kd_engine *e)
{
    kd_part tmp, *p;
    const char *method, *url, *path = NULL;
    size_t dlen = 0, ulen = 0, plen = 0;
    int present;
    memset(&tmp, 0, sizeof tmp);
    luaL_checktype(L, 2, LUA_TTABLE);
    tmp.id = (long long)field_size(L, "id", 1, &present);
    lua_getfield(L, 2, "method");
    method = lua_tostring(L, -1);
    if (method == NULL || (strcmp(method, "PUT") != 0 && strcmp(method, "GET") != 0))
        luaL_error(L, "parts: method must be \"PUT\" or \"GET\"");
    tmp.put = method[0] == 'P';
    lua_pop(L, 1);
    tmp.offset = field_size(L, "offset", 1, &present);
    tmp.size = field_size(L, "size", tmp.put, &tmp.has_size);
    lua_getfield(L, 2, "range");
    tmp.range = !tmp.put && lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (tmp.range && tmp.has_size && tmp.size == 0)
        luaL_error(L, "parts: a ranged GET needs size > 0 (or no size)");
    url = field_string(L, "url", 1, &ulen);
    lua_getfield(L, 2, "data");
    if (tmp.put && lua_type(L, -1) == LUA_TSTRING) {
        tmp.data = lua_tolstring(L, -1, &dlen);
        if (tmp.offset > dlen || tmp.size > dlen - tmp.offset)
            luaL_error(L, "parts: offset + size is past the end of data");
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "parts: field 'data' must be a string (PUT only)");
    } else {
        path = field_string(L, "path", 1, &plen);
    }
    /* Nothing raises from here on: the part is complete once allocated. */
    p = malloc(sizeof *p);
    if (p == NULL)
        luaL_error(L, "out of memory");
    *p = tmp;
    p->engine = e;
    p->fd = -1;
    p->content_length = -1;
    p->state = PART_QUEUED;
    p->url = kd_part_copy(url, ulen);
    p->path = path != NULL ? kd_part_copy(path, plen) : NULL;
    p->data_ref = p->data != NULL ? luaL_ref(L, LUA_REGISTRYINDEX) : LUA_NOREF; /* pops data */
    if (p->data == NULL)
        lua_pop(L, 1);
    return p;
}

static void set_string(lua_State *L, const char *k, const char *v, size_t n)
{
    lua_pushlstring(L, v, n);
    lua_setfield(L, -2, k);
}

static void set_number(lua_State *L, const char *k, double v)
{
#if LUA_VERSION_NUM >= 503
    lua_pushinteger(L, (lua_Integer)v);
#else
    lua_pushnumber(L, (lua_Number)v);
#endif
    lua_setfield(L, -2, k);
}

/* Pushes a finished part's result table. */
void kd_part_push_result(lua_State *L, kd_part *p)
{
    lua_createtable(L, 0, 8);
    set_number(L, "id", (double)p->id);
    set_number(L, "status", (double)p->status);
    set_number(L, "bytes", (double)p->done);
    if (p->etag[0])
        set_string(L, "etag", p->etag, strlen(p->etag));
    if (p->content_range[0])
        set_string(L, "content_range", p->content_range, strlen(p->content_range));
    if (p->content_length >= 0)
        set_number(L, "content_length", (double)p->content_length);
    if (p->status != 0 && !(p->status >= 200 && p->status < 300))
        set_string(L, "body", p->body != NULL ? p->body : "", p->body_len);
    if (p->reason != NULL || p->rc != CURLE_OK) {
        const char *msg = p->message;
        lua_createtable(L, 0, 3);
        lua_pushstring(L, p->reason != NULL ? p->reason : kd_part_reason(p->rc));
        lua_setfield(L, -2, "reason");
        if (p->reason == NULL)
            msg = p->errbuf[0] ? p->errbuf : curl_easy_strerror(p->rc);
        lua_pushstring(L, msg);
        lua_setfield(L, -2, "message");
        lua_pushinteger(L, (lua_Integer)p->rc);
        lua_setfield(L, -2, "code");
        lua_setfield(L, -2, "error");
    }
}
