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
 * The OpenSSL side (algorithms, contexts, key caches) is sign_ctx.c; reading and checking the
 * request table is sign_req.c.
 */
#include <string.h>

#include "compat.h"
#include "core.h"
#include "encode.h"
#include "sign_ctx.h"
#include "sign_req.h"

/* Documented constant (signing.md): the payload hash of an empty body, saves one digest. */
static const char EMPTY_SHA256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static void add_lower(luaL_Buffer *b, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        luaL_addchar(b, (char)kd_encode_lower((unsigned char)s[i]));
}

static void add_value(luaL_Buffer *b, lua_State *L, int idx)
{
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    luaL_addlstring(b, s, n);
}

/* Pushes SignedHeaders: the lowercase names of the signed headers, in order, ';'-joined. */
static void push_signed_list(lua_State *L, const kd_sign_req *r)
{
    luaL_Buffer b;
    size_t i;
    int first = 1;
    luaL_buffinit(L, &b);
    for (i = 0; i < r->nhdr; i++)
        if (kd_sign_req_is_signed(r, &r->hdr[i])) {
            if (!first)
                luaL_addchar(&b, ';');
            first = 0;
            add_lower(&b, r->hdr[i].name, r->hdr[i].nlen);
        }
    luaL_pushresult(&b);
}

/* Pushes the canonical request; `path`, `query` and `signed` index the strings pushed for
 * them. Method \n URI \n Query \n Headers \n SignedHeaders \n PayloadHash */
static void push_canonical(lua_State *L, kd_sign_ctx *cx, const kd_sign_req *r, int path, int query,
                           int signed_list)
{
    const kd_pair *unsigned_payload = NULL;
    unsigned char digest[32];
    char payload[KD_HEX_LEN + 1];
    luaL_Buffer b;
    const char *s;
    size_t i, n;

    if (r->scheme != KD_SIGN_APP)
        unsigned_payload = kd_sign_req_find(r->hdr, r->nhdr, "x-sdk-content-sha256");
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
        if (kd_sign_req_is_signed(r, &r->hdr[i])) {
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

/* core.sign(kd_sign_req) -> result | nil, message: the one signing routine for all three schemes.
 */
static int global_sign(lua_State *L)
{
    static const char *const fields[] = { "path",           "query",
                                          "signed_headers", "canonical_request",
                                          "string_to_sign", "authorization" };
    kd_sign_ctx *cx = kd_sign_ctx_get(L, lua_upvalueindex(1));
    kd_pair hlocal[KD_LOCAL_PAIRS], qlocal[KD_LOCAL_PAIRS];
    kd_sign_req r;
    kd_sign_str key, info = { NULL, 0 };
    unsigned char digest[32];
    char hex[KD_HEX_LEN + 1], v11_key[KD_HEX_LEN + 1];
    size_t n;
    const char *s;
    int first, i;
    luaL_Buffer b;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    kd_sign_req_read(L, &r, hlocal, qlocal);
    if (!kd_sign_req_check(L, &r)) {
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
    if (r.scheme == KD_SIGN_V11) {
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
    luaL_addstring(&b, kd_sign_req_schemes[r.scheme]);
    luaL_addchar(&b, '\n');
    if (r.scheme != KD_SIGN_APP) {
        luaL_addlstring(&b, r.date->val, r.date->vlen);
        luaL_addchar(&b, '\n');
    }
    if (r.scheme == KD_SIGN_V11) {
        luaL_addlstring(&b, info.p, info.n);
        luaL_addchar(&b, '\n');
    }
    luaL_addlstring(&b, hex, KD_HEX_LEN);
    luaL_pushresult(&b);

    s = lua_tolstring(L, first + 4, &n);
    kd_sign_ctx_hmac(L, cx, key.p, key.n, s, n, digest);
    kd_sign_ctx_hex(digest, sizeof digest, hex);

    luaL_buffinit(L, &b); /* Authorization */
    luaL_addstring(&b, kd_sign_req_schemes[r.scheme]);
    luaL_addstring(&b, r.scheme == KD_SIGN_APP   ? " AppId="
                       : r.scheme == KD_SIGN_SDK ? " Access="
                                                 : " Credential=");
    luaL_addlstring(&b, r.key_id.p, r.key_id.n);
    if (r.scheme == KD_SIGN_V11) {
        luaL_addchar(&b, '/');
        luaL_addlstring(&b, info.p, info.n);
    }
    /* The app scheme has no space after its commas; the Huawei Cloud ones have one. */
    luaL_addstring(&b, r.scheme == KD_SIGN_APP ? ",SignedHeaders=" : ", SignedHeaders=");
    add_value(&b, L, first + 2);
    luaL_addstring(&b, r.scheme == KD_SIGN_APP ? ",Signature=" : ", Signature=");
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
    kd_hash_parts_open(L);
    kd_hash_follow_open(L);
    return 1;
}
