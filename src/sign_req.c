/* sign_req.c - what core.sign reads from its request table, and the checks it makes on it
 * before anything is hashed: types and misuse raise (a program error), header problems are
 * returned as a message (header values are data, often from outside the program).
 * Which headers are signed is decided here too: the scheme's rule, less the request's
 * `unsigned` names (any case). */
#include <string.h>

#include "compat.h"
#include "encode.h"
#include "sign_req.h"

/* Scratch memory comes from kd_newuserdata (compat.h): Lua-owned, so the GC frees it even
 * when an error unwinds the call. */

#define SCOPE_PART_MAX 500 /* longest V11 region or service: the info stays <= 1024 bytes */

const char *const kd_sign_req_schemes[] = { "HMAC-SHA256", "SDK-HMAC-SHA256", "V11-HMAC-SHA256" };

/* ---------------------------------------------------------------- small helpers */

/* RFC 9110 tchar: what header names and methods may be made of. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_token(const char *s, size_t n)
{
    size_t i;
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Header names compare as their lowercase forms, which is what gets signed. */
static int cmp_header(const void *va, const void *vb)
{
    const kd_pair *a = va, *b = vb;
    size_t i, n = a->nlen < b->nlen ? a->nlen : b->nlen;
    for (i = 0; i < n; i++) {
        int c =
            kd_encode_lower((unsigned char)a->name[i]) - kd_encode_lower((unsigned char)b->name[i]);
        if (c != 0)
            return c;
    }
    return (a->nlen > b->nlen) - (a->nlen < b->nlen);
}

/* Whether a header's name is `lit` (given in lowercase), ignoring case. */
static int ieq(const kd_pair *h, const char *lit)
{
    size_t i, n = strlen(lit);
    if (h->nlen != n)
        return 0;
    for (i = 0; i < n; i++)
        if (kd_encode_lower((unsigned char)h->name[i]) != (unsigned char)lit[i])
            return 0;
    return 1;
}

const kd_pair *kd_sign_req_find(const kd_pair *h, size_t n, const char *lit)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (ieq(&h[i], lit))
            return &h[i];
    return NULL;
}

/* ---------------------------------------------------------------- headers */

/* Reads the headers map at idx (nil = none) into pairs; raises on non-string names or
 * values. Values are kept untrimmed here so the CR/LF check sees all of them. */
static kd_pair *collect_headers(lua_State *L, int idx, kd_pair *local, size_t *count)
{
    kd_pair *h = local;
    size_t n = 0, i = 0;
    *count = 0;
    if (lua_isnil(L, idx))
        return h;
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_argerror(L, 1, "field 'headers' must be a table");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        n++;
        lua_pop(L, 1);
    }
    if (n > KD_LOCAL_PAIRS)
        h = kd_newuserdata(L, n * sizeof *h);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        /* Type checks before lua_tolstring: converting a key in place would break lua_next. */
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_argerror(L, 1, "header names must be strings");
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(
                L, 1,
                lua_pushfstring(L, "header '%s' must have a string value", lua_tostring(L, -2)));
        if (i < n) { /* the table cannot grow between the passes; still, never overrun */
            h[i].name = lua_tolstring(L, -2, &h[i].nlen);
            h[i].val = lua_tolstring(L, -1, &h[i].vlen);
            i++;
        }
        lua_pop(L, 1);
    }
    *count = i;
    return h;
}

/* Drops leading and trailing spaces and tabs from a header value. */
static void trim(kd_pair *h)
{
    while (h->vlen > 0 && (h->val[0] == ' ' || h->val[0] == '\t')) {
        h->val++;
        h->vlen--;
    }
    while (h->vlen > 0 && (h->val[h->vlen - 1] == ' ' || h->val[h->vlen - 1] == '\t'))
        h->vlen--;
}

/* Sorts headers by lowercase name and validates them; on a problem pushes a message and
 * returns 0. Checks run in sorted order so the message does not depend on table order. */
static int check_headers(lua_State *L, kd_pair *h, size_t n)
{
    size_t i;
    kd_encode_sort(h, n, cmp_header);
    for (i = 0; i < n; i++) {
        if (!is_token(h[i].name, h[i].nlen)) {
            lua_pushfstring(L, "invalid header name '%s'", h[i].name);
            return 0;
        }
        if (i > 0 && cmp_header(&h[i - 1], &h[i]) == 0) {
            lua_pushfstring(L, "headers '%s' and '%s' differ only in case", h[i - 1].name,
                            h[i].name);
            return 0;
        }
        /* A CR or LF would let a value split the request: refused, signed or not. */
        if (memchr(h[i].val, '\r', h[i].vlen) || memchr(h[i].val, '\n', h[i].vlen)) {
            lua_pushfstring(L, "header '%s' contains CR or LF", h[i].name);
            return 0;
        }
        trim(&h[i]);
    }
    return 1;
}

/* Whether a header takes part in the signature: the scheme's rule, less the request's
 * `unsigned` names. */
int kd_sign_req_is_signed(const kd_sign_req *r, const kd_pair *h)
{
    size_t i, j;
    if (r->scheme == KD_SIGN_APP) {
        if (!ieq(h, "host") && !ieq(h, "x-date") && !ieq(h, "x-user-id"))
            return 0;
    } else if (memchr(h->name, '_', h->nlen) != NULL) {
        return 0;
    }
    for (i = 0; i < r->nunsigned; i++) {
        const kd_sign_str *u = &r->unsigned_names[i];
        if (u->n != h->nlen)
            continue;
        for (j = 0; j < u->n; j++)
            if (kd_encode_lower((unsigned char)u->p[j]) !=
                kd_encode_lower((unsigned char)h->name[j]))
                break;
        if (j == u->n)
            return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- core.sign */

/* Pushes req[name]; it must be a non-empty string. */
static void field_string(lua_State *L, const char *name, kd_sign_str *out)
{
    lua_getfield(L, 1, name);
    if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
        luaL_argerror(L, 1, lua_pushfstring(L, "field '%s' must be a non-empty string", name));
    out->p = lua_tolstring(L, -1, &out->n);
}

/* Like field_string, for what ends up in the Authorization header: no control bytes. */
static void field_printable(lua_State *L, const char *name, kd_sign_str *out)
{
    size_t i;
    field_string(L, name, out);
    for (i = 0; i < out->n; i++)
        if ((unsigned char)out->p[i] < 0x20 || (unsigned char)out->p[i] == 0x7f)
            luaL_argerror(L, 1,
                          lua_pushfstring(L, "field '%s' contains a control character", name));
}

/* Reads kd_sign_req.unsigned, nil or an array of header names; the names stay anchored by that
 * table, which stays on the stack. */
static void read_unsigned(lua_State *L, kd_sign_req *r)
{
    size_t i, n;
    lua_getfield(L, 1, "unsigned");
    if (lua_isnil(L, -1))
        return;
    if (lua_type(L, -1) != LUA_TTABLE)
        luaL_argerror(L, 1, "field 'unsigned' must be an array of header names");
    n = lua_rawlen(L, -1);
    if (n > UNSIGNED_MAX)
        luaL_argerror(L, 1, "field 'unsigned' names more than 16 headers");
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, -1, (int)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, 1, "field 'unsigned' must be an array of header names");
        r->unsigned_names[i].p = lua_tolstring(L, -1, &r->unsigned_names[i].n);
        lua_pop(L, 1);
    }
    r->nunsigned = n;
}

/* Reads and type-checks the request table at index 1; raises on misuse. */
void kd_sign_req_read(lua_State *L, kd_sign_req *r, kd_pair *hlocal, kd_pair *qlocal)
{
    kd_sign_str scheme;
    memset(r, 0, sizeof *r);
    field_string(L, "scheme", &scheme);
    for (r->scheme = KD_SIGN_APP; r->scheme <= KD_SIGN_V11; r->scheme++)
        if (scheme.n == strlen(kd_sign_req_schemes[r->scheme]) &&
            memcmp(scheme.p, kd_sign_req_schemes[r->scheme], scheme.n) == 0)
            break;
    if (r->scheme > KD_SIGN_V11)
        luaL_argerror(L, 1, lua_pushfstring(L, "unknown scheme '%s'", scheme.p));
    field_string(L, "method", &r->method);
    if (!is_token(r->method.p, r->method.n))
        luaL_argerror(L, 1, "field 'method' must be an HTTP token");
    lua_getfield(L, 1, "path");
    r->path.p = kd_encode_check_path(L, 1, lua_gettop(L), "field 'path'", &r->path.n);
    field_printable(L, "key_id", &r->key_id);
    field_string(L, "secret", &r->secret);
    if (r->scheme == KD_SIGN_V11) {
        field_printable(L, "region", &r->region);
        field_printable(L, "service", &r->service);
        /* Both go into the HKDF info, which OpenSSL caps (1 KiB in some 3.0 releases, 32 KiB
         * in later ones): refused here as the argument error it is, not as a failed HKDF. */
        if (r->region.n > SCOPE_PART_MAX || r->service.n > SCOPE_PART_MAX)
            luaL_argerror(L, 1, "fields 'region' and 'service' must be at most 500 bytes");
    }
    lua_getfield(L, 1, "body");
    r->body.p = "";
    if (lua_type(L, -1) == LUA_TSTRING)
        r->body.p = lua_tolstring(L, -1, &r->body.n);
    else if (!lua_isnil(L, -1))
        luaL_argerror(L, 1, "field 'body' must be a string or nil");
    lua_getfield(L, 1, "query");
    r->qry = kd_encode_collect_query(L, 1, lua_gettop(L), qlocal, &r->nqry);
    lua_getfield(L, 1, "headers");
    r->hdr = collect_headers(L, lua_gettop(L), hlocal, &r->nhdr);
    read_unsigned(L, r);
}

/* Header checks that are reported rather than raised: header values are data, often from
 * outside the program. Returns 0 with the message pushed. */
int kd_sign_req_check(lua_State *L, kd_sign_req *r)
{
    static const char *const app_need[3][2] = { { "host", "Host" },
                                                { "x-date", "X-Date" },
                                                { "x-user-id", "X-User-Id" } };
    size_t i;
    if (!check_headers(L, r->hdr, r->nhdr))
        return 0;
    if (r->scheme == KD_SIGN_APP) {
        for (i = 0; i < 3; i++)
            if (kd_sign_req_find(r->hdr, r->nhdr, app_need[i][0]) == NULL) {
                lua_pushfstring(L, "missing header '%s'", app_need[i][1]);
                return 0;
            }
        return 1;
    }
    r->date = kd_sign_req_find(r->hdr, r->nhdr, "x-sdk-date");
    if (r->date == NULL) {
        lua_pushliteral(L, "missing header 'X-Sdk-Date'");
        return 0;
    }
    if (r->scheme == KD_SIGN_V11 && r->date->vlen < 8) { /* its first 8 chars are the scope date */
        lua_pushfstring(L, "header '%s' must be YYYYMMDDTHHMMSSZ", r->date->name);
        return 0;
    }
    return 1;
}
