/*
 * sign.c - request signing for koodrive.
 *
 * One canonical request, three auth-header schemes (the contract's signing.md):
 *   "HMAC-SHA256"      KooDrive application authentication (AppId / AppSecret),
 *   "SDK-HMAC-SHA256"  Huawei Cloud AK/SK,
 *   "V11-HMAC-SHA256"  Huawei Cloud AK/SK with an HKDF-derived key.
 * The schemes differ only in the signed headers, the string to sign, the HMAC key and the
 * Authorization layout, so a single routine (global_sign) builds everything and switches on the
 * scheme at those points. The path and query encoders live in encode.c, shared with
 * koodrive.core, so that the URL that is sent is byte-identical to the one that was signed,
 * whichever auth mode is in use.
 *
 * Headers named in the request's `unsigned` list (any case) are sent but left out of
 * SignedHeaders and the canonical headers: what a service's auth profile says stays unsigned
 * (IoTDA: Accept and User-Agent, which proxies may rewrite) is data the profile hands over, not
 * headers it has to take away and put back around the call.
 *
 * The OpenSSL side (algorithms, contexts, key caches) is sign_ctx.c.
 */
#include <string.h>

#include "compat.h"
#include "core.h"
#include "encode.h"
#include "sign_ctx.h"

/* Scratch memory comes from kd_newuserdata (compat.h): Lua-owned, so the GC frees it even
 * when an error unwinds the call. */

#define UNSIGNED_MAX 16    /* names in a request's `unsigned` list */
#define SCOPE_PART_MAX 500 /* longest V11 region or service: the info stays <= 1024 bytes */

/* Documented constant (signing.md): the payload hash of an empty body, saves one digest. */
static const char EMPTY_SHA256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

enum { KD_APP, KD_SDK, KD_V11 };

static const char *const scheme_names[] = { "HMAC-SHA256", "SDK-HMAC-SHA256", "V11-HMAC-SHA256" };

typedef struct {
    const char *p;
    size_t n;
} str;

/* What core.sign reads from its request table; every string stays anchored on the stack. */
typedef struct {
    int scheme;
    str method, path, key_id, secret, body, region, service;
    kd_pair *hdr, *qry;
    size_t nhdr, nqry;
    const kd_pair *date;              /* X-Sdk-Date (SDK and V11) */
    str unsigned_names[UNSIGNED_MAX]; /* headers left unsigned, any case */
    size_t nunsigned;
} req;

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

static const kd_pair *find(const kd_pair *h, size_t n, const char *lit)
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
static int is_signed(const req *r, const kd_pair *h)
{
    size_t i, j;
    if (r->scheme == KD_APP) {
        if (!ieq(h, "host") && !ieq(h, "x-date") && !ieq(h, "x-user-id"))
            return 0;
    } else if (memchr(h->name, '_', h->nlen) != NULL) {
        return 0;
    }
    for (i = 0; i < r->nunsigned; i++) {
        const str *u = &r->unsigned_names[i];
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

static void add_lower(luaL_Buffer *b, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        luaL_addchar(b, (char)kd_encode_lower((unsigned char)s[i]));
}

/* ---------------------------------------------------------------- core.sign */

/* Pushes req[name]; it must be a non-empty string. */
static void field_string(lua_State *L, const char *name, str *out)
{
    lua_getfield(L, 1, name);
    if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
        luaL_argerror(L, 1, lua_pushfstring(L, "field '%s' must be a non-empty string", name));
    out->p = lua_tolstring(L, -1, &out->n);
}

/* Like field_string, for what ends up in the Authorization header: no control bytes. */
static void field_printable(lua_State *L, const char *name, str *out)
{
    size_t i;
    field_string(L, name, out);
    for (i = 0; i < out->n; i++)
        if ((unsigned char)out->p[i] < 0x20 || (unsigned char)out->p[i] == 0x7f)
            luaL_argerror(L, 1,
                          lua_pushfstring(L, "field '%s' contains a control character", name));
}

/* Reads req.unsigned, nil or an array of header names; the names stay anchored by that table,
 * which stays on the stack. */
static void read_unsigned(lua_State *L, req *r)
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
static void read_req(lua_State *L, req *r, kd_pair *hlocal, kd_pair *qlocal)
{
    str scheme;
    memset(r, 0, sizeof *r);
    field_string(L, "scheme", &scheme);
    for (r->scheme = KD_APP; r->scheme <= KD_V11; r->scheme++)
        if (scheme.n == strlen(scheme_names[r->scheme]) &&
            memcmp(scheme.p, scheme_names[r->scheme], scheme.n) == 0)
            break;
    if (r->scheme > KD_V11)
        luaL_argerror(L, 1, lua_pushfstring(L, "unknown scheme '%s'", scheme.p));
    field_string(L, "method", &r->method);
    if (!is_token(r->method.p, r->method.n))
        luaL_argerror(L, 1, "field 'method' must be an HTTP token");
    lua_getfield(L, 1, "path");
    r->path.p = kd_encode_check_path(L, 1, lua_gettop(L), "field 'path'", &r->path.n);
    field_printable(L, "key_id", &r->key_id);
    field_string(L, "secret", &r->secret);
    if (r->scheme == KD_V11) {
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
static int check_req(lua_State *L, req *r)
{
    static const char *const app_need[3][2] = { { "host", "Host" },
                                                { "x-date", "X-Date" },
                                                { "x-user-id", "X-User-Id" } };
    size_t i;
    if (!check_headers(L, r->hdr, r->nhdr))
        return 0;
    if (r->scheme == KD_APP) {
        for (i = 0; i < 3; i++)
            if (find(r->hdr, r->nhdr, app_need[i][0]) == NULL) {
                lua_pushfstring(L, "missing header '%s'", app_need[i][1]);
                return 0;
            }
        return 1;
    }
    r->date = find(r->hdr, r->nhdr, "x-sdk-date");
    if (r->date == NULL) {
        lua_pushliteral(L, "missing header 'X-Sdk-Date'");
        return 0;
    }
    if (r->scheme == KD_V11 && r->date->vlen < 8) { /* its first 8 chars are the scope date */
        lua_pushfstring(L, "header '%s' must be YYYYMMDDTHHMMSSZ", r->date->name);
        return 0;
    }
    return 1;
}

static void add_value(luaL_Buffer *b, lua_State *L, int idx)
{
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    luaL_addlstring(b, s, n);
}

/* Pushes SignedHeaders: the lowercase names of the signed headers, in order, ';'-joined. */
static void push_signed_list(lua_State *L, const req *r)
{
    luaL_Buffer b;
    size_t i;
    int first = 1;
    luaL_buffinit(L, &b);
    for (i = 0; i < r->nhdr; i++)
        if (is_signed(r, &r->hdr[i])) {
            if (!first)
                luaL_addchar(&b, ';');
            first = 0;
            add_lower(&b, r->hdr[i].name, r->hdr[i].nlen);
        }
    luaL_pushresult(&b);
}

/* Pushes the canonical request; `path`, `query` and `signed` index the strings pushed for
 * them. Method \n URI \n Query \n Headers \n SignedHeaders \n PayloadHash */
static void push_canonical(lua_State *L, kd_sign_ctx *cx, const req *r, int path, int query,
                           int signed_list)
{
    const kd_pair *unsigned_payload = NULL;
    unsigned char digest[32];
    char payload[KD_HEX_LEN + 1];
    luaL_Buffer b;
    const char *s;
    size_t i, n;

    if (r->scheme != KD_APP)
        unsigned_payload = find(r->hdr, r->nhdr, "x-sdk-content-sha256");
    if (unsigned_payload != NULL && unsigned_payload->vlen == 16 &&
        memcmp(unsigned_payload->val, "UNSIGNED-PAYLOAD", 16) == 0) {
        memcpy(payload, "UNSIGNED-PAYLOAD", 17);
    } else if (r->body.n == 0) {
        memcpy(payload, EMPTY_SHA256, sizeof EMPTY_SHA256);
    } else {
        kd_sign_ctx_sha256(L, cx, r->body.p, r->body.n, digest);
        kd_sign_ctx_hex(digest, sizeof digest, payload);
    }

    luaL_buffinit(L, &b);
    for (i = 0; i < r->method.n; i++) {
        unsigned char c = (unsigned char)r->method.p[i];
        luaL_addchar(&b, (char)((c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c));
    }
    luaL_addchar(&b, '\n');
    s = lua_tolstring(L, path, &n);
    luaL_addlstring(&b, s, n);
    if (s[n - 1] != '/') /* CanonicalURI always ends with '/'; the sent path does not */
        luaL_addchar(&b, '/');
    luaL_addchar(&b, '\n');
    add_value(&b, L, query);
    luaL_addchar(&b, '\n');
    for (i = 0; i < r->nhdr; i++)
        if (is_signed(r, &r->hdr[i])) {
            add_lower(&b, r->hdr[i].name, r->hdr[i].nlen);
            luaL_addchar(&b, ':');
            luaL_addlstring(&b, r->hdr[i].val, r->hdr[i].vlen);
            luaL_addchar(&b, '\n');
        }
    luaL_addchar(&b, '\n');
    add_value(&b, L, signed_list);
    luaL_addchar(&b, '\n');
    luaL_addstring(&b, payload);
    luaL_pushresult(&b);
}

/* core.sign(req) -> result | nil, message: the one signing routine for all three schemes. */
static int global_sign(lua_State *L)
{
    static const char *const fields[] = { "path",           "query",
                                          "signed_headers", "canonical_request",
                                          "string_to_sign", "authorization" };
    kd_sign_ctx *cx = kd_sign_ctx_get(L, lua_upvalueindex(1));
    kd_pair hlocal[KD_LOCAL_PAIRS], qlocal[KD_LOCAL_PAIRS];
    req r;
    str key, info = { NULL, 0 };
    unsigned char digest[32];
    char hex[KD_HEX_LEN + 1], v11_key[KD_HEX_LEN + 1];
    size_t n;
    const char *s;
    int first, i;
    luaL_Buffer b;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    read_req(L, &r, hlocal, qlocal);
    if (!check_req(L, &r)) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }

    /* The six results are pushed consecutively, in the order of `fields`. */
    kd_encode_push_path(L, r.path.p, r.path.n);
    first = lua_gettop(L);
    kd_encode_push_query(L, r.qry, r.nqry);
    push_signed_list(L, &r);
    push_canonical(L, cx, &r, first, first + 1, first + 2);

    s = lua_tolstring(L, first + 3, &n);
    kd_sign_ctx_sha256(L, cx, s, n, digest);
    kd_sign_ctx_hex(digest, sizeof digest, hex);
    key = r.secret;
    if (r.scheme == KD_V11) {
        /* info = first 8 chars of X-Sdk-Date "/" region "/" service; it is also the scope
         * in StringToSign and Credential, so it is built once, in a string of its own. */
        luaL_buffinit(L, &b);
        luaL_addlstring(&b, r.date->val, 8);
        luaL_addchar(&b, '/');
        luaL_addlstring(&b, r.region.p, r.region.n);
        luaL_addchar(&b, '/');
        luaL_addlstring(&b, r.service.p, r.service.n);
        luaL_pushresult(&b);
        info.p = lua_tolstring(L, -1, &info.n);
        lua_insert(L, first); /* kept below the results, anchored */
        first++;
        kd_sign_ctx_v11_key(L, cx, r.secret.p, r.secret.n, r.key_id.p, r.key_id.n, info.p, info.n,
                            v11_key);
        key.p = v11_key;
        key.n = KD_HEX_LEN;
    }

    luaL_buffinit(L, &b); /* StringToSign */
    luaL_addstring(&b, scheme_names[r.scheme]);
    luaL_addchar(&b, '\n');
    if (r.scheme != KD_APP) {
        luaL_addlstring(&b, r.date->val, r.date->vlen);
        luaL_addchar(&b, '\n');
    }
    if (r.scheme == KD_V11) {
        luaL_addlstring(&b, info.p, info.n);
        luaL_addchar(&b, '\n');
    }
    luaL_addlstring(&b, hex, KD_HEX_LEN);
    luaL_pushresult(&b);

    s = lua_tolstring(L, first + 4, &n);
    kd_sign_ctx_hmac(L, cx, key.p, key.n, s, n, digest);
    kd_sign_ctx_hex(digest, sizeof digest, hex);

    luaL_buffinit(L, &b); /* Authorization */
    luaL_addstring(&b, scheme_names[r.scheme]);
    luaL_addstring(&b, r.scheme == KD_APP   ? " AppId="
                       : r.scheme == KD_SDK ? " Access="
                                            : " Credential=");
    luaL_addlstring(&b, r.key_id.p, r.key_id.n);
    if (r.scheme == KD_V11) {
        luaL_addchar(&b, '/');
        luaL_addlstring(&b, info.p, info.n);
    }
    /* The app scheme has no space after its commas; the Huawei Cloud ones have one. */
    luaL_addstring(&b, r.scheme == KD_APP ? ",SignedHeaders=" : ", SignedHeaders=");
    add_value(&b, L, first + 2);
    luaL_addstring(&b, r.scheme == KD_APP ? ",Signature=" : ", Signature=");
    luaL_addlstring(&b, hex, KD_HEX_LEN);
    luaL_pushresult(&b);

    lua_createtable(L, 0, 6);
    for (i = 5; i >= 0; i--) {
        lua_insert(L, -2);
        lua_setfield(L, -2, fields[i]);
    }
    return 1;
}

/* core.sha256_hex(s) -> lowercase hex SHA-256 of s. */
static int global_sha256_hex(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    unsigned char digest[32];
    char hex[KD_HEX_LEN + 1];
    kd_sign_ctx_sha256(L, kd_sign_ctx_get(L, lua_upvalueindex(1)), s, n, digest);
    kd_sign_ctx_hex(digest, sizeof digest, hex);
    lua_pushlstring(L, hex, KD_HEX_LEN);
    return 1;
}

/* core.hmac_sha256_hex(key, s) -> lowercase hex HMAC-SHA256 of s under key. */
static int global_hmac_sha256_hex(lua_State *L)
{
    size_t kn, n;
    const char *key = luaL_checklstring(L, 1, &kn);
    const char *s = luaL_checklstring(L, 2, &n);
    unsigned char digest[32];
    char hex[KD_HEX_LEN + 1];
    kd_sign_ctx_hmac(L, kd_sign_ctx_get(L, lua_upvalueindex(1)), key, kn, s, n, digest);
    kd_sign_ctx_hex(digest, sizeof digest, hex);
    lua_pushlstring(L, hex, KD_HEX_LEN);
    return 1;
}

/* luaopen_koodrive_sign: the signing module, the only one linked with libcrypto. It has the
 * encoders of koodrive.core too, so that the canonical request and the URL sent can be checked
 * against each other from one table. Loaded on the first signature (koodrive.pipeline). */
KD_EXPORT int luaopen_koodrive_sign(lua_State *L)
{
    static const luaL_Reg functions[] = { { "sign", global_sign },
                                          { "sha256_hex", global_sha256_hex },
                                          { "hmac_sha256_hex", global_hmac_sha256_hex },
                                          { NULL, NULL } };
    lua_newtable(L);
    kd_encode_open(L);
    lua_pushliteral(L, KOODRIVE_VERSION);
    lua_setfield(L, -2, "_VERSION");
    kd_sign_ctx_open(L);
    luaL_setfuncs(L, functions, 1); /* the context userdata is every function's upvalue */
    return 1;
}
