/* harness.c - the libFuzzer entry point of every koodrive fuzz target.
 *
 * Built once per target by `make fuzz-build` (clang 14, -fsanitize=fuzzer,address,undefined)
 * with the C sources of src/ linked in: KD_FUZZ_TARGET names fuzz/<target>.lua and KD_FUZZ_ROOT
 * is the repository. One Lua 5.4 state lives for the whole run:
 *   - koodrive.core and koodrive.sign opened through their luaopen_* and preloaded, so the
 *     Lua layer (lua/ is on package.path) uses the instrumented C code;
 *   - `kd_fuzz`, a table of helpers the scripts cannot have otherwise: independent one-shot
 *     OpenSSL SHA-256 / HMAC / HKDF to check core.sign against; pack_headers, which packs
 *     name/value pairs as the transfer does with what libcurl's header API gives
 *     (kd_headers_pack, each from an exact-size copy); push_headers, which runs headers.c's
 *     splitter of packed headers (kd_headers_push) on an exact-size copy; and lazy_headers, a
 *     response table whose `headers` is split on first read (kd_headers_lazy);
 *   - the target script, which returns function(data): called once per input. An error it
 *     raises is a finding (a broken invariant): the harness prints it with its traceback and
 *     aborts, so libFuzzer keeps the input. Errors the API raises by design (bad arguments)
 *     are caught inside the scripts.
 *
 * Coverage of Lua code: libFuzzer sees only instrumented C. A target whose subject is Lua code
 * (json_encode: lua/koodrive/json.lua) returns { lua_coverage = true } after its function; then
 * a line hook bumps a counter per (chunk, line) in libFuzzer's extra-counters section, so an
 * input that reaches new Lua lines counts as new coverage. The other targets go without it:
 * their Lua is the reference implementation, and the hook would cost most of their speed.
 *
 * Run one input again: build/fuzz/fuzz_<target> FILE (from any directory). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "headers.h"

#ifndef KD_FUZZ_ROOT
#define KD_FUZZ_ROOT "."
#endif
#ifndef KD_FUZZ_TARGET
#error "KD_FUZZ_TARGET must name fuzz/<target>.lua"
#endif

int luaopen_koodrive_core(lua_State *L);
int luaopen_koodrive_sign(lua_State *L);

static lua_State *state;

#define LUA_LINE_COUNTERS (1u << 14)
__attribute__((section("__libfuzzer_extra_counters"),
               used)) static uint8_t lua_lines[LUA_LINE_COUNTERS];

static void line_hook(lua_State *L, lua_Debug *ar)
{
    uintptr_t h;
    uint8_t *c;
    if (!lua_getinfo(L, "S", ar))
        return;
    h = ((uintptr_t)ar->source >> 3) * 0x9E3779B1u + (uintptr_t)ar->currentline * 0x85EBCA77u;
    c = &lua_lines[(h ^ (h >> 15)) & (LUA_LINE_COUNTERS - 1)];
    if (*c != 0xff)
        (*c)++;
}

static void push_hex(lua_State *L, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char out[128];
    size_t i;
    for (i = 0; i < n && i < sizeof out / 2; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    lua_pushlstring(L, out, 2 * i);
}

/* kd_fuzz.sha256_hex(s) */
static int fz_sha256_hex(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(s, n, md, &len, EVP_sha256(), NULL) != 1)
        return luaL_error(L, "EVP_Digest failed");
    push_hex(L, md, len);
    return 1;
}

/* kd_fuzz.hmac_sha256_hex(key, s): one-shot HMAC, none of sign_ctx.c's cached contexts. */
static int fz_hmac_sha256_hex(lua_State *L)
{
    size_t kn, n;
    const char *key = luaL_checklstring(L, 1, &kn);
    const char *s = luaL_checklstring(L, 2, &n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key, (int)kn, (const unsigned char *)s, n, md, &len) == NULL)
        return luaL_error(L, "HMAC failed");
    push_hex(L, md, len);
    return 1;
}

/* kd_fuzz.hkdf_sha256_hex(ikm, salt, info): 32 bytes, a fresh KDF context every time. */
static int fz_hkdf_sha256_hex(lua_State *L)
{
    size_t kn, sn, in;
    const char *ikm = luaL_checklstring(L, 1, &kn);
    const char *salt = luaL_checklstring(L, 2, &sn);
    const char *info = luaL_checklstring(L, 3, &in);
    unsigned char out[32];
    OSSL_PARAM params[5];
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    int ok;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, kn);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, sn);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, in);
    params[4] = OSSL_PARAM_construct_end();
    ok = ctx != NULL && EVP_KDF_derive(ctx, out, sizeof out, params) == 1;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    if (!ok)
        return luaL_error(L, "HKDF failed");
    push_hex(L, out, sizeof out);
    return 1;
}

/* Copies s[0..n) into a malloc'ed buffer of exactly n bytes (NULL when n is 0), so that any
 * read past it is caught. */
static char *exact_copy(lua_State *L, const char *s, size_t n)
{
    char *copy = NULL;
    if (n > 0) {
        copy = malloc(n);
        if (copy == NULL)
            luaL_error(L, "out of memory");
        memcpy(copy, s, n);
    }
    return copy;
}

/* kd_fuzz.pack_headers({ name1, value1, name2, value2, ... }) -> the packed string that
 * kd_headers_pack makes of them, one after the other. */
static int fz_pack_headers(lua_State *L)
{
    luaL_Buffer b;
    int i, n;
    luaL_checktype(L, 1, LUA_TTABLE);
    n = (int)lua_rawlen(L, 1);
    luaL_buffinit(L, &b);
    for (i = 1; i + 1 <= n; i += 2) {
        size_t nlen, vlen, size;
        const char *name, *value;
        char *ncopy, *vcopy, *out;
        lua_rawgeti(L, 1, i);
        lua_rawgeti(L, 1, i + 1);
        name = luaL_checklstring(L, -2, &nlen);
        value = luaL_checklstring(L, -1, &vlen);
        size = KD_HEADERS_PACKED_SIZE(nlen, vlen);
        ncopy = exact_copy(L, name, nlen);
        vcopy = exact_copy(L, value, vlen);
        out = malloc(size);
        if (out == NULL) {
            free(ncopy);
            free(vcopy);
            return luaL_error(L, "out of memory");
        }
        kd_headers_pack(out, ncopy, nlen, vcopy, vlen);
        lua_pop(L, 2);
        luaL_addlstring(&b, out, size);
        free(out);
        free(ncopy);
        free(vcopy);
    }
    luaL_pushresult(&b);
    return 1;
}

/* kd_fuzz.push_headers(packed) -> table: the packed string is copied into a buffer of exactly
 * its size (the empty one as NULL, 0: a response without headers), so any read past it is
 * caught. */
static int fz_push_headers(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    char *copy = exact_copy(L, s, n);
    kd_headers_push(L, copy, n);
    free(copy);
    return 1;
}

/* kd_fuzz.lazy_headers(packed) -> a response table as kd_transfer_result makes it, `headers`
 * unread. */
static int fz_lazy_headers(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_newtable(L);
    kd_headers_lazy(L, n > 0 ? s : NULL, n);
    return 1;
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

static void fail(lua_State *L, const char *what)
{
    fprintf(stderr, "koodrive fuzz target %s: %s: %s\n", KD_FUZZ_TARGET, what,
            lua_tostring(L, -1) ? lua_tostring(L, -1) : "(no message)");
    fflush(stderr);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const luaL_Reg helpers[] = { { "sha256_hex", fz_sha256_hex },
                                        { "hmac_sha256_hex", fz_hmac_sha256_hex },
                                        { "hkdf_sha256_hex", fz_hkdf_sha256_hex },
                                        { "pack_headers", fz_pack_headers },
                                        { "push_headers", fz_push_headers },
                                        { "lazy_headers", fz_lazy_headers },
                                        { NULL, NULL } };
    lua_State *L = luaL_newstate();
    (void)argc;
    (void)argv;
    if (L == NULL)
        abort();
    luaL_openlibs(L);
    lua_pushcfunction(L, traceback);

    lua_getglobal(L, "package");
    lua_pushliteral(L, KD_FUZZ_ROOT "/lua/?.lua;" KD_FUZZ_ROOT "/lua/?/init.lua;" KD_FUZZ_ROOT
                                    "/fuzz/?.lua;;");
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    luaL_requiref(L, "koodrive.core", luaopen_koodrive_core, 0);
    lua_pop(L, 1);
    luaL_requiref(L, "koodrive.sign", luaopen_koodrive_sign, 0);
    lua_pop(L, 1);
    kd_headers_open(L);
    luaL_newlib(L, helpers);
    lua_setglobal(L, "kd_fuzz");

    if (luaL_loadfile(L, KD_FUZZ_ROOT "/fuzz/" KD_FUZZ_TARGET ".lua") != LUA_OK)
        fail(L, "cannot load the script");
    if (lua_pcall(L, 0, 2, 1) != LUA_OK)
        fail(L, "the script failed");
    if (lua_type(L, -2) != LUA_TFUNCTION) {
        lua_pushliteral(L, "the script must return function(data) [, { lua_coverage = true }]");
        fail(L, "bad script");
    }
    lua_pushvalue(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "kd_fuzz_one");
    if (lua_istable(L, -1) && lua_getfield(L, -1, "lua_coverage") != LUA_TNIL &&
        lua_toboolean(L, -1))
        lua_sethook(L, line_hook, LUA_MASKLINE, 0);
    lua_settop(L, 0);
    state = L;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = state;
    lua_settop(L, 0);
    lua_pushcfunction(L, traceback);
    lua_getfield(L, LUA_REGISTRYINDEX, "kd_fuzz_one");
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, 1) != LUA_OK)
        fail(L, "invariant broken");
    lua_settop(L, 0);
    /* Frees this input's garbage now: libFuzzer runs a (slow) leak check after every input
     * that malloc'ed more than it freed, and Lua garbage left for later would trigger one
     * nearly every time. Leaks of C code stay visible: LSan reports unreachable blocks only. */
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
