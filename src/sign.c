/*
 * sign.c - request signing for koodrive.
 *
 * One canonical request, three auth-header schemes (the contract's signing.md):
 *   "HMAC-SHA256"      KooDrive application authentication (AppId / AppSecret),
 *   "SDK-HMAC-SHA256"  Huawei Cloud AK/SK,
 *   "V11-HMAC-SHA256"  Huawei Cloud AK/SK with an HKDF-derived key.
 * The schemes differ only in the signed headers, the string to sign, the HMAC key and the
 * Authorization layout, so a single routine (l_sign) builds everything and switches on the
 * scheme at those points. The path and query encoders live in encode.c, shared with
 * koodrive.core, so that the URL that is sent is byte-identical to the one that was signed,
 * whichever auth mode is in use.
 *
 * Crypto is OpenSSL 3 libcrypto only. The algorithms are fetched once per process, under
 * pthread_once, and kept in statics (never freed: the module is linked with -z nodelete):
 * several lua_States on several threads may sign for the first time at the same moment, and
 * an unguarded "fetch if NULL" was a data race on those statics. The EVP contexts live in a
 * userdata shared as upvalue by the module functions: each lua_State has its own, they are
 * re-initialised rather than re-created per call, and no Lua code runs while one is in use.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/opensslv.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "compat.h"
#include "core.h"
#include "encode.h"

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "koodrive needs OpenSSL 3 (EVP_MD_fetch, EVP_MAC, EVP_KDF)"
#endif

/* Scratch memory comes from kd_newuserdata (compat.h): Lua-owned, so the GC frees it even
 * when an error unwinds the call. */

#define KD_CTX_MT "koodrive.sign.ctx"
#define KD_HEX_LEN 64         /* hex length of a SHA-256 digest */
#define KD_KEY_CACHE 128      /* HMAC keys up to this size are remembered (kd_hmac_raw) */
#define KD_V11_CACHE 256      /* same for SK + AK + info of the V11 derivation (kd_v11_key) */
#define KD_SCOPE_PART_MAX 500 /* longest V11 region or service: the info stays <= 1024 bytes */

/* Documented constant (signing.md): the payload hash of an empty body, saves one digest. */
static const char KD_EMPTY_SHA256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* Written only by kd_fetch_algorithms, inside pthread_once; read only after it returned. */
static pthread_once_t kd_algorithms_once = PTHREAD_ONCE_INIT;
static EVP_MD *kd_sha256;
static EVP_MAC *kd_hmac;
static EVP_KDF *kd_hkdf;

typedef struct {
    EVP_MD_CTX *md;   /* SHA-256 */
    EVP_MAC_CTX *mac; /* HMAC, digest set once at creation */
    EVP_KDF_CTX *kdf; /* HKDF, digest set once at creation */
    int mac_keyed;    /* whether mac holds last_key */
    int ready;        /* contexts set up (kd_ctx_setup, on first use) */
    size_t last_klen;
    unsigned char last_key[KD_KEY_CACHE];
    int v11_valid; /* last V11 derivation: input lengths, inputs back to back, key */
    size_t v11_len[3];
    unsigned char v11_in[KD_V11_CACHE];
    char v11_key[KD_HEX_LEN + 1];
} kd_ctx;

enum { KD_APP, KD_SDK, KD_V11 };

static const char *const kd_scheme_names[] = { "HMAC-SHA256", "SDK-HMAC-SHA256",
                                               "V11-HMAC-SHA256" };

/* ---------------------------------------------------------------- small helpers */

/* RFC 9110 tchar: what header names and methods may be made of. */
static int kd_is_tchar(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int kd_is_token(const char *s, size_t n)
{
    size_t i;
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        if (!kd_is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Lowercase hex of n bytes into out (2n chars plus NUL). */
static void kd_tohex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Header names compare as their lowercase forms, which is what gets signed. */
static int kd_cmp_header(const void *va, const void *vb)
{
    const kd_pair *a = va, *b = vb;
    size_t i, n = a->nlen < b->nlen ? a->nlen : b->nlen;
    for (i = 0; i < n; i++) {
        int c = kd_lower((unsigned char)a->name[i]) - kd_lower((unsigned char)b->name[i]);
        if (c != 0)
            return c;
    }
    return (a->nlen > b->nlen) - (a->nlen < b->nlen);
}

/* Whether a header's name is `lit` (given in lowercase), ignoring case. */
static int kd_ieq(const kd_pair *h, const char *lit)
{
    size_t i, n = strlen(lit);
    if (h->nlen != n)
        return 0;
    for (i = 0; i < n; i++)
        if (kd_lower((unsigned char)h->name[i]) != (unsigned char)lit[i])
            return 0;
    return 1;
}

static const kd_pair *kd_find(const kd_pair *h, size_t n, const char *lit)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (kd_ieq(&h[i], lit))
            return &h[i];
    return NULL;
}

/* ---------------------------------------------------------------- crypto */

static void kd_ctx_setup(lua_State *L, kd_ctx *cx);

/* The contexts of the functions' shared upvalue, set up on the first call that hashes:
 * `require "koodrive"` does not pay for OpenSSL's provider start-up, and token-mode clients,
 * which never sign, not at all. */
static kd_ctx *kd_getctx(lua_State *L)
{
    kd_ctx *cx = (kd_ctx *)lua_touserdata(L, lua_upvalueindex(1));
    if (!cx->ready)
        kd_ctx_setup(L, cx);
    return cx;
}

/* SHA-256 of one buffer; the context is only re-initialised, never re-created. */
static void kd_sha256_raw(lua_State *L, kd_ctx *cx, const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    if (EVP_DigestInit_ex2(cx->md, kd_sha256, NULL) != 1 || EVP_DigestUpdate(cx->md, p, n) != 1 ||
        EVP_DigestFinal_ex(cx->md, out, &len) != 1 || len != 32)
        luaL_error(L, "koodrive: SHA-256 failed");
}

/* HMAC-SHA256; init only loads the key since the digest was set on the context. */
static void kd_hmac_raw(lua_State *L, kd_ctx *cx, const char *key, size_t klen, const void *p,
                        size_t n, unsigned char out[32])
{
    size_t len = 0;
    int ok;
    if (key == NULL) /* a NULL key would tell OpenSSL to keep the previous one */
        key = "";
    /* Loading a key costs two extra compressions and an allocation inside OpenSSL; a client
     * signs with the same secret over and over, so when the key is the one already loaded,
     * a NULL key makes OpenSSL restart from its saved key state instead. */
    if (cx->mac_keyed && klen == cx->last_klen && memcmp(key, cx->last_key, klen) == 0) {
        ok = EVP_MAC_init(cx->mac, NULL, 0, NULL);
    } else {
        cx->mac_keyed = 0;
        ok = EVP_MAC_init(cx->mac, (const unsigned char *)key, klen, NULL);
        if (ok == 1 && klen <= KD_KEY_CACHE) {
            memcpy(cx->last_key, key, klen);
            cx->last_klen = klen;
            cx->mac_keyed = 1;
        }
    }
    if (ok != 1 || EVP_MAC_update(cx->mac, p, n) != 1 ||
        EVP_MAC_final(cx->mac, out, &len, 32) != 1 || len != 32) {
        cx->mac_keyed = 0;
        luaL_error(L, "koodrive: HMAC-SHA256 failed");
    }
}

/* V11 signing key: lowercase hex of HKDF-SHA256(IKM = SK, salt = AK, info, 32 bytes).
 * The inputs change once a day (info starts with the date), so the last key is reused. */
static void kd_v11_key(lua_State *L, kd_ctx *cx, const char *sk, size_t sklen, const char *ak,
                       size_t aklen, const char *info, size_t infolen, char hex[KD_HEX_LEN + 1])
{
    unsigned char out[32];
    OSSL_PARAM params[4];
    int cacheable = sklen + aklen + infolen <= KD_V11_CACHE;

    if (cacheable && cx->v11_valid && cx->v11_len[0] == sklen && cx->v11_len[1] == aklen &&
        cx->v11_len[2] == infolen && memcmp(cx->v11_in, sk, sklen) == 0 &&
        memcmp(cx->v11_in + sklen, ak, aklen) == 0 &&
        memcmp(cx->v11_in + sklen + aklen, info, infolen) == 0) {
        memcpy(hex, cx->v11_key, KD_HEX_LEN + 1);
        return;
    }
    cx->v11_valid = 0;
    /* Setting KEY, SALT and INFO replaces the previous call's values (INFO restarts on
     * each set), so the context can be reused without a reset that would drop the digest. */
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)sk, sklen);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)ak, aklen);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    params[3] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(cx->kdf, out, sizeof out, params) != 1)
        luaL_error(L, "koodrive: HKDF-SHA256 failed");
    kd_tohex(out, sizeof out, hex);
    OPENSSL_cleanse(out, sizeof out);
    if (cacheable) {
        memcpy(cx->v11_in, sk, sklen);
        memcpy(cx->v11_in + sklen, ak, aklen);
        memcpy(cx->v11_in + sklen + aklen, info, infolen);
        cx->v11_len[0] = sklen;
        cx->v11_len[1] = aklen;
        cx->v11_len[2] = infolen;
        memcpy(cx->v11_key, hex, KD_HEX_LEN + 1);
        cx->v11_valid = 1;
    }
}

/* ---------------------------------------------------------------- encoders */

/* ---------------------------------------------------------------- headers */

/* Reads the headers map at idx (nil = none) into pairs; raises on non-string names or
 * values. Values are kept untrimmed here so the CR/LF check sees all of them. */
static kd_pair *kd_collect_headers(lua_State *L, int idx, kd_pair *local, size_t *count)
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
static void kd_trim(kd_pair *h)
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
static int kd_check_headers(lua_State *L, kd_pair *h, size_t n)
{
    size_t i;
    kd_sort(h, n, kd_cmp_header);
    for (i = 0; i < n; i++) {
        if (!kd_is_token(h[i].name, h[i].nlen)) {
            lua_pushfstring(L, "invalid header name '%s'", h[i].name);
            return 0;
        }
        if (i > 0 && kd_cmp_header(&h[i - 1], &h[i]) == 0) {
            lua_pushfstring(L, "headers '%s' and '%s' differ only in case", h[i - 1].name,
                            h[i].name);
            return 0;
        }
        /* A CR or LF would let a value split the request: refused, signed or not. */
        if (memchr(h[i].val, '\r', h[i].vlen) || memchr(h[i].val, '\n', h[i].vlen)) {
            lua_pushfstring(L, "header '%s' contains CR or LF", h[i].name);
            return 0;
        }
        kd_trim(&h[i]);
    }
    return 1;
}

/* Whether a header takes part in the signature under the given scheme. */
static int kd_is_signed(int scheme, const kd_pair *h)
{
    if (scheme == KD_APP)
        return kd_ieq(h, "host") || kd_ieq(h, "x-date") || kd_ieq(h, "x-user-id");
    return memchr(h->name, '_', h->nlen) == NULL;
}

static void kd_add_lower(luaL_Buffer *b, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        luaL_addchar(b, (char)kd_lower((unsigned char)s[i]));
}

/* ---------------------------------------------------------------- core.sign */

typedef struct {
    const char *p;
    size_t n;
} kd_str;

/* What core.sign reads from its request table; every string stays anchored on the stack. */
typedef struct {
    int scheme;
    kd_str method, path, key_id, secret, body, region, service;
    kd_pair *hdr, *qry;
    size_t nhdr, nqry;
    const kd_pair *date; /* X-Sdk-Date (SDK and V11) */
} kd_req;

/* Pushes req[name]; it must be a non-empty string. */
static void kd_field_string(lua_State *L, const char *name, kd_str *out)
{
    lua_getfield(L, 1, name);
    if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
        luaL_argerror(L, 1, lua_pushfstring(L, "field '%s' must be a non-empty string", name));
    out->p = lua_tolstring(L, -1, &out->n);
}

/* Like kd_field_string, for what ends up in the Authorization header: no control bytes. */
static void kd_field_printable(lua_State *L, const char *name, kd_str *out)
{
    size_t i;
    kd_field_string(L, name, out);
    for (i = 0; i < out->n; i++)
        if ((unsigned char)out->p[i] < 0x20 || (unsigned char)out->p[i] == 0x7f)
            luaL_argerror(L, 1,
                          lua_pushfstring(L, "field '%s' contains a control character", name));
}

/* Reads and type-checks the request table at index 1; raises on misuse. */
static void kd_read_req(lua_State *L, kd_req *r, kd_pair *hlocal, kd_pair *qlocal)
{
    kd_str scheme;
    memset(r, 0, sizeof *r);
    kd_field_string(L, "scheme", &scheme);
    for (r->scheme = KD_APP; r->scheme <= KD_V11; r->scheme++)
        if (scheme.n == strlen(kd_scheme_names[r->scheme]) &&
            memcmp(scheme.p, kd_scheme_names[r->scheme], scheme.n) == 0)
            break;
    if (r->scheme > KD_V11)
        luaL_argerror(L, 1, lua_pushfstring(L, "unknown scheme '%s'", scheme.p));
    kd_field_string(L, "method", &r->method);
    if (!kd_is_token(r->method.p, r->method.n))
        luaL_argerror(L, 1, "field 'method' must be an HTTP token");
    lua_getfield(L, 1, "path");
    r->path.p = kd_check_path(L, 1, lua_gettop(L), "field 'path'", &r->path.n);
    kd_field_printable(L, "key_id", &r->key_id);
    kd_field_string(L, "secret", &r->secret);
    if (r->scheme == KD_V11) {
        kd_field_printable(L, "region", &r->region);
        kd_field_printable(L, "service", &r->service);
        /* Both go into the HKDF info, which OpenSSL caps (1 KiB in some 3.0 releases, 32 KiB
         * in later ones): refused here as the argument error it is, not as a failed HKDF. */
        if (r->region.n > KD_SCOPE_PART_MAX || r->service.n > KD_SCOPE_PART_MAX)
            luaL_argerror(L, 1, "fields 'region' and 'service' must be at most 500 bytes");
    }
    lua_getfield(L, 1, "body");
    r->body.p = "";
    if (lua_type(L, -1) == LUA_TSTRING)
        r->body.p = lua_tolstring(L, -1, &r->body.n);
    else if (!lua_isnil(L, -1))
        luaL_argerror(L, 1, "field 'body' must be a string or nil");
    lua_getfield(L, 1, "query");
    r->qry = kd_collect_query(L, 1, lua_gettop(L), qlocal, &r->nqry);
    lua_getfield(L, 1, "headers");
    r->hdr = kd_collect_headers(L, lua_gettop(L), hlocal, &r->nhdr);
}

/* Header checks that are reported rather than raised: header values are data, often from
 * outside the program. Returns 0 with the message pushed. */
static int kd_check_req(lua_State *L, kd_req *r)
{
    static const char *const app_need[3][2] = { { "host", "Host" },
                                                { "x-date", "X-Date" },
                                                { "x-user-id", "X-User-Id" } };
    size_t i;
    if (!kd_check_headers(L, r->hdr, r->nhdr))
        return 0;
    if (r->scheme == KD_APP) {
        for (i = 0; i < 3; i++)
            if (kd_find(r->hdr, r->nhdr, app_need[i][0]) == NULL) {
                lua_pushfstring(L, "missing header '%s'", app_need[i][1]);
                return 0;
            }
        return 1;
    }
    r->date = kd_find(r->hdr, r->nhdr, "x-sdk-date");
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

static void kd_add_value(luaL_Buffer *b, lua_State *L, int idx)
{
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    luaL_addlstring(b, s, n);
}

/* Pushes SignedHeaders: the lowercase names of the signed headers, in order, ';'-joined. */
static void kd_push_signed_list(lua_State *L, const kd_req *r)
{
    luaL_Buffer b;
    size_t i;
    int first = 1;
    luaL_buffinit(L, &b);
    for (i = 0; i < r->nhdr; i++)
        if (kd_is_signed(r->scheme, &r->hdr[i])) {
            if (!first)
                luaL_addchar(&b, ';');
            first = 0;
            kd_add_lower(&b, r->hdr[i].name, r->hdr[i].nlen);
        }
    luaL_pushresult(&b);
}

/* Pushes the canonical request; `path`, `query` and `signed` index the strings pushed for
 * them. Method \n URI \n Query \n Headers \n SignedHeaders \n PayloadHash */
static void kd_push_canonical(lua_State *L, kd_ctx *cx, const kd_req *r, int path, int query,
                              int signed_list)
{
    const kd_pair *unsigned_payload = NULL;
    unsigned char digest[32];
    char payload[KD_HEX_LEN + 1];
    luaL_Buffer b;
    const char *s;
    size_t i, n;

    if (r->scheme != KD_APP)
        unsigned_payload = kd_find(r->hdr, r->nhdr, "x-sdk-content-sha256");
    if (unsigned_payload != NULL && unsigned_payload->vlen == 16 &&
        memcmp(unsigned_payload->val, "UNSIGNED-PAYLOAD", 16) == 0) {
        memcpy(payload, "UNSIGNED-PAYLOAD", 17);
    } else if (r->body.n == 0) {
        memcpy(payload, KD_EMPTY_SHA256, sizeof KD_EMPTY_SHA256);
    } else {
        kd_sha256_raw(L, cx, r->body.p, r->body.n, digest);
        kd_tohex(digest, sizeof digest, payload);
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
    kd_add_value(&b, L, query);
    luaL_addchar(&b, '\n');
    for (i = 0; i < r->nhdr; i++)
        if (kd_is_signed(r->scheme, &r->hdr[i])) {
            kd_add_lower(&b, r->hdr[i].name, r->hdr[i].nlen);
            luaL_addchar(&b, ':');
            luaL_addlstring(&b, r->hdr[i].val, r->hdr[i].vlen);
            luaL_addchar(&b, '\n');
        }
    luaL_addchar(&b, '\n');
    kd_add_value(&b, L, signed_list);
    luaL_addchar(&b, '\n');
    luaL_addstring(&b, payload);
    luaL_pushresult(&b);
}

/* core.sign(req) -> result | nil, message: the one signing routine for all three schemes. */
static int l_sign(lua_State *L)
{
    static const char *const fields[] = { "path",           "query",
                                          "signed_headers", "canonical_request",
                                          "string_to_sign", "authorization" };
    kd_ctx *cx = kd_getctx(L);
    kd_pair hlocal[KD_LOCAL_PAIRS], qlocal[KD_LOCAL_PAIRS];
    kd_req r;
    kd_str key, info = { NULL, 0 };
    unsigned char digest[32];
    char hex[KD_HEX_LEN + 1], v11_key[KD_HEX_LEN + 1];
    size_t n;
    const char *s;
    int first, i;
    luaL_Buffer b;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    kd_read_req(L, &r, hlocal, qlocal);
    if (!kd_check_req(L, &r)) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }

    /* The six results are pushed consecutively, in the order of `fields`. */
    kd_push_path(L, r.path.p, r.path.n);
    first = lua_gettop(L);
    kd_push_query(L, r.qry, r.nqry);
    kd_push_signed_list(L, &r);
    kd_push_canonical(L, cx, &r, first, first + 1, first + 2);

    s = lua_tolstring(L, first + 3, &n);
    kd_sha256_raw(L, cx, s, n, digest);
    kd_tohex(digest, sizeof digest, hex);
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
        kd_v11_key(L, cx, r.secret.p, r.secret.n, r.key_id.p, r.key_id.n, info.p, info.n, v11_key);
        key.p = v11_key;
        key.n = KD_HEX_LEN;
    }

    luaL_buffinit(L, &b); /* StringToSign */
    luaL_addstring(&b, kd_scheme_names[r.scheme]);
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
    kd_hmac_raw(L, cx, key.p, key.n, s, n, digest);
    kd_tohex(digest, sizeof digest, hex);

    luaL_buffinit(L, &b); /* Authorization */
    luaL_addstring(&b, kd_scheme_names[r.scheme]);
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
    kd_add_value(&b, L, first + 2);
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
static int l_sha256_hex(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    unsigned char digest[32];
    char hex[KD_HEX_LEN + 1];
    kd_sha256_raw(L, kd_getctx(L), s, n, digest);
    kd_tohex(digest, sizeof digest, hex);
    lua_pushlstring(L, hex, KD_HEX_LEN);
    return 1;
}

/* core.hmac_sha256_hex(key, s) -> lowercase hex HMAC-SHA256 of s under key. */
static int l_hmac_sha256_hex(lua_State *L)
{
    size_t kn, n;
    const char *key = luaL_checklstring(L, 1, &kn);
    const char *s = luaL_checklstring(L, 2, &n);
    unsigned char digest[32];
    char hex[KD_HEX_LEN + 1];
    kd_hmac_raw(L, kd_getctx(L), key, kn, s, n, digest);
    kd_tohex(digest, sizeof digest, hex);
    lua_pushlstring(L, hex, KD_HEX_LEN);
    return 1;
}

/* Frees one lua_State's EVP contexts when the module is collected. */
static int kd_ctx_gc(lua_State *L)
{
    kd_ctx *cx = (kd_ctx *)luaL_checkudata(L, 1, KD_CTX_MT);
    EVP_MD_CTX_free(cx->md);
    EVP_MAC_CTX_free(cx->mac);
    EVP_KDF_CTX_free(cx->kdf);
    /* Secrets do not outlive the module in memory. */
    OPENSSL_cleanse(cx->last_key, sizeof cx->last_key);
    OPENSSL_cleanse(cx->v11_in, sizeof cx->v11_in);
    OPENSSL_cleanse(cx->v11_key, sizeof cx->v11_key);
    cx->mac_keyed = 0;
    cx->v11_valid = 0;
    cx->ready = 0;
    cx->md = NULL;
    cx->mac = NULL;
    cx->kdf = NULL;
    return 0;
}

static const luaL_Reg kd_sign_funcs[] = { { "sign", l_sign },
                                          { "sha256_hex", l_sha256_hex },
                                          { "hmac_sha256_hex", l_hmac_sha256_hex },
                                          { NULL, NULL } };

/* Once per process, whichever thread signs first; the others wait in pthread_once until it
 * is done. Fetching per call would cost more than the hashing itself. A failed fetch is not
 * retried: a provider that lacks SHA256, HMAC or HKDF at start-up does not gain it later. */
static void kd_fetch_algorithms(void)
{
    kd_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    kd_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    kd_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

/* Fetches the algorithms (once per process) and creates the contexts (once per module
 * instance). After a failure to create the contexts nothing is half set: the next call tries
 * again, and __gc frees whatever was created. */
static void kd_ctx_setup(lua_State *L, kd_ctx *cx)
{
    OSSL_PARAM params[2];

    if (pthread_once(&kd_algorithms_once, kd_fetch_algorithms) != 0 || kd_sha256 == NULL ||
        kd_hmac == NULL || kd_hkdf == NULL)
        luaL_error(L, "koodrive: OpenSSL does not provide SHA256, HMAC and HKDF");

    EVP_MD_CTX_free(cx->md);
    EVP_MAC_CTX_free(cx->mac);
    EVP_KDF_CTX_free(cx->kdf);
    cx->mac_keyed = 0;
    cx->md = EVP_MD_CTX_new();
    cx->mac = EVP_MAC_CTX_new(kd_hmac);
    cx->kdf = EVP_KDF_CTX_new(kd_hkdf);
    if (cx->md == NULL || cx->mac == NULL || cx->kdf == NULL)
        luaL_error(L, "koodrive: cannot allocate OpenSSL contexts");

    /* Digest set once here, so per-call inits only load keys (no name lookup per call). */
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_CTX_set_params(cx->mac, params) != 1)
        luaL_error(L, "koodrive: cannot set up HMAC-SHA256");
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    if (EVP_KDF_CTX_set_params(cx->kdf, params) != 1)
        luaL_error(L, "koodrive: cannot set up HKDF-SHA256");
    cx->ready = 1;
}

/* luaopen_koodrive_sign: the signing module, the only one linked with libcrypto. It has the
 * encoders of koodrive.core too, so that the canonical request and the URL sent can be checked
 * against each other from one table. Loaded on the first signature (koodrive.pipeline). */
KD_EXPORT int luaopen_koodrive_sign(lua_State *L)
{
    kd_ctx *cx;
    lua_newtable(L);
    kd_encode_open(L);
    lua_pushliteral(L, KOODRIVE_VERSION);
    lua_setfield(L, -2, "_VERSION");
    cx = (kd_ctx *)kd_newuserdata(L, sizeof *cx);
    memset(cx, 0, sizeof *cx);
    if (luaL_newmetatable(L, KD_CTX_MT)) {
        lua_pushcfunction(L, kd_ctx_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    luaL_setfuncs(L, kd_sign_funcs, 1); /* the context userdata is every function's upvalue */
    return 1;
}
