/*
 * sign.c - request signing for koodrive.
 *
 * One canonical request, three auth-header schemes (the contract's signing.md):
 *   "HMAC-SHA256"      KooDrive application authentication (AppId / AppSecret),
 *   "SDK-HMAC-SHA256"  Huawei Cloud AK/SK,
 *   "V11-HMAC-SHA256"  Huawei Cloud AK/SK with an HKDF-derived key.
 * The schemes differ only in the signed headers, the string to sign, the HMAC key and the
 * Authorization layout, so a single routine (l_sign) builds everything and switches on the
 * scheme at those points. The path and query encoders are exported too, so that the URL that
 * is sent is byte-identical to the one that was signed, whichever auth mode is in use.
 *
 * Crypto is OpenSSL 3 libcrypto only. The algorithms are fetched once per process and kept in
 * statics (never freed: the module is linked with -z nodelete). The EVP contexts live in a
 * userdata shared as upvalue by the module functions: each lua_State has its own, they are
 * re-initialised rather than re-created per call, and no Lua code runs while one is in use.
 */
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

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "koodrive needs OpenSSL 3 (EVP_MD_fetch, EVP_MAC, EVP_KDF)"
#endif

/* Scratch memory comes from kd_newuserdata (compat.h): Lua-owned, so the GC frees it even
 * when an error unwinds the call. */

#define KD_CTX_MT "koodrive.sign.ctx"
#define KD_LOCAL_PAIRS 16     /* pairs kept on the C stack before spilling into a userdata */
#define KD_HEX_LEN 64         /* hex length of a SHA-256 digest */
#define KD_KEY_CACHE 128      /* HMAC keys up to this size are remembered (kd_hmac_raw) */
#define KD_V11_CACHE 256      /* same for SK + AK + info of the V11 derivation (kd_v11_key) */
#define KD_SCOPE_PART_MAX 500 /* longest V11 region or service: the info stays <= 1024 bytes */

/* Documented constant (signing.md): the payload hash of an empty body, saves one digest. */
static const char KD_EMPTY_SHA256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static EVP_MD *kd_sha256;
static EVP_MAC *kd_hmac;
static EVP_KDF *kd_hkdf;

typedef struct {
    EVP_MD_CTX *md;   /* SHA-256 */
    EVP_MAC_CTX *mac; /* HMAC, digest set once at creation */
    EVP_KDF_CTX *kdf; /* HKDF, digest set once at creation */
    int mac_keyed;    /* whether mac holds last_key */
    size_t last_klen;
    unsigned char last_key[KD_KEY_CACHE];
    int v11_valid; /* last V11 derivation: input lengths, inputs back to back, key */
    size_t v11_len[3];
    unsigned char v11_in[KD_V11_CACHE];
    char v11_key[KD_HEX_LEN + 1];
} kd_ctx;

/* A header (name, value) or a query parameter (name, value); strings owned by Lua. */
typedef struct {
    const char *name;
    size_t nlen;
    const char *val;
    size_t vlen;
} kd_pair;

enum { KD_APP, KD_SDK, KD_V11 };

static const char *const kd_scheme_names[] = { "HMAC-SHA256", "SDK-HMAC-SHA256",
                                               "V11-HMAC-SHA256" };

/* ---------------------------------------------------------------- small helpers */

/* ASCII-only lower case: header names must not depend on the C locale. */
static unsigned char kd_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

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

/* The unreserved set of signing.md; every other byte is percent-encoded. */
static int kd_is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static int kd_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
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

/* Byte-wise order, a proper prefix first: what memcmp gives, never locale collation. */
static int kd_cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c != 0 ? c : (an > bn) - (an < bn);
}

static int kd_cmp_query(const void *va, const void *vb)
{
    const kd_pair *a = va, *b = vb;
    int c = kd_cmp_bytes(a->name, a->nlen, b->name, b->nlen);
    return c != 0 ? c : kd_cmp_bytes(a->val, a->vlen, b->val, b->vlen);
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

/* Stable insertion sort for the usual handful of pairs; qsort beyond that, where
 * stability cannot matter: pairs that compare equal are byte-identical (query) or
 * rejected as duplicates (headers). */
static void kd_sort(kd_pair *a, size_t n, int (*cmp)(const void *, const void *))
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

static kd_ctx *kd_getctx(lua_State *L)
{
    return (kd_ctx *)lua_touserdata(L, lua_upvalueindex(1));
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

static void kd_add_encoded_byte(luaL_Buffer *b, unsigned char c)
{
    static const char digits[] = "0123456789ABCDEF";
    if (kd_is_unreserved(c)) {
        luaL_addchar(b, (char)c);
    } else {
        luaL_addchar(b, '%');
        luaL_addchar(b, digits[c >> 4]);
        luaL_addchar(b, digits[c & 15]);
    }
}

static void kd_add_encoded(luaL_Buffer *b, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        kd_add_encoded_byte(b, (unsigned char)s[i]);
}

/* Pushes the path to send: each '/'-separated segment percent-decoded and re-encoded.
 * Splitting happens before decoding, so an encoded "%2F" stays inside its segment.
 * A '%' not followed by two hex digits is taken literally (and becomes "%25"). */
static void kd_push_path(lua_State *L, const char *p, size_t n)
{
    luaL_Buffer b;
    size_t i;
    luaL_buffinit(L, &b);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '/') {
            luaL_addchar(&b, '/');
        } else if (c == '%' && i + 2 < n && kd_hexval((unsigned char)p[i + 1]) >= 0 &&
                   kd_hexval((unsigned char)p[i + 2]) >= 0) {
            kd_add_encoded_byte(&b, (unsigned char)(kd_hexval((unsigned char)p[i + 1]) * 16 +
                                                    kd_hexval((unsigned char)p[i + 2])));
            i += 2;
        } else {
            kd_add_encoded_byte(&b, c);
        }
    }
    luaL_pushresult(&b);
}

static const char *kd_check_path(lua_State *L, int arg, int idx, const char *what, size_t *n)
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
static kd_pair *kd_collect_query(lua_State *L, int arg, int idx, kd_pair *local, size_t *count)
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
static void kd_push_query(lua_State *L, kd_pair *q, size_t n)
{
    luaL_Buffer b;
    size_t i;
    kd_sort(q, n, kd_cmp_query);
    luaL_buffinit(L, &b);
    for (i = 0; i < n; i++) {
        if (i > 0)
            luaL_addchar(&b, '&');
        kd_add_encoded(&b, q[i].name, q[i].nlen);
        luaL_addchar(&b, '=');
        kd_add_encoded(&b, q[i].val, q[i].vlen);
    }
    luaL_pushresult(&b);
}

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

/* core.encode_path(path) -> the path to send (segments decoded and re-encoded). */
static int l_encode_path(lua_State *L)
{
    size_t n;
    const char *p = kd_check_path(L, 1, 1, "path", &n);
    kd_push_path(L, p, n);
    return 1;
}

/* core.encode_query(pairs) -> the canonical query string ("" for nil or {}). */
static int l_encode_query(lua_State *L)
{
    kd_pair local[KD_LOCAL_PAIRS];
    kd_pair *q;
    size_t n;
    lua_settop(L, 1);
    q = kd_collect_query(L, 1, 1, local, &n);
    kd_push_query(L, q, n);
    return 1;
}

/* core.utc_stamp(seconds) -> "YYYYMMDDTHHMMSSZ" for a Unix time (floored). */
static int l_utc_stamp(lua_State *L)
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
    cx->md = NULL;
    cx->mac = NULL;
    cx->kdf = NULL;
    return 0;
}

static const luaL_Reg kd_sign_funcs[] = { { "sign", l_sign },
                                          { "encode_path", l_encode_path },
                                          { "encode_query", l_encode_query },
                                          { "utc_stamp", l_utc_stamp },
                                          { "sha256_hex", l_sha256_hex },
                                          { "hmac_sha256_hex", l_hmac_sha256_hex },
                                          { NULL, NULL } };

/* Adds the signing functions to the module table on top of the stack. */
void kd_sign_open(lua_State *L)
{
    kd_ctx *cx;
    OSSL_PARAM params[2];

    /* Fetched once per process; fetching per call costs more than the hashing itself. */
    if (kd_sha256 == NULL)
        kd_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (kd_hmac == NULL)
        kd_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (kd_hkdf == NULL)
        kd_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (kd_sha256 == NULL || kd_hmac == NULL || kd_hkdf == NULL)
        luaL_error(L, "koodrive: OpenSSL does not provide SHA256, HMAC and HKDF");

    cx = (kd_ctx *)kd_newuserdata(L, sizeof *cx);
    memset(cx, 0, sizeof *cx);
    /* The metatable goes on first, so a failure below still frees what was created. */
    if (luaL_newmetatable(L, KD_CTX_MT)) {
        lua_pushcfunction(L, kd_ctx_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
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

    luaL_setfuncs(L, kd_sign_funcs, 1); /* the context userdata is every function's upvalue */
}
