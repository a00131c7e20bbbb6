/* sign_ctx.c - OpenSSL algorithm objects, EVP contexts and key caches for signing.
 *
 * Crypto is OpenSSL 3 libcrypto only. The algorithms are fetched once per process, under
 * pthread_once, and kept in statics (never freed: the module is linked with -z nodelete):
 * several lua_States on several threads may sign for the first time at the same moment, and
 * an unguarded "fetch if NULL" was a data race on those statics. The EVP contexts live in a
 * userdata shared as upvalue by the module functions: each lua_State has its own, they are
 * re-initialised rather than re-created per call, and no Lua code runs while one is in use.
 *
 * Two caches save work a client repeats on every call: the HMAC key last loaded (loading a key
 * costs OpenSSL two compressions and an allocation) and the last V11 derived key (its inputs
 * change once a day). Both are wiped when the module is collected. */
#include <pthread.h>
#include <string.h>

#include <openssl/opensslv.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "compat.h"
#include "sign_ctx.h"

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "koodrive needs OpenSSL 3 (EVP_MD_fetch, EVP_MAC, EVP_KDF)"
#endif

#define CTX_MT "koodrive.sign.ctx"
#define KEY_CACHE 128 /* HMAC keys up to this size are remembered (kd_sign_ctx_hmac) */
#define V11_CACHE 256 /* same for SK + AK + info of the V11 derivation (kd_sign_ctx_v11_key) */

/* Written only by fetch_algorithms, inside pthread_once; read only after it returned. */
static pthread_once_t algorithms_once = PTHREAD_ONCE_INIT;
static EVP_MD *alg_sha256;
static EVP_MAC *alg_hmac;
static EVP_KDF *alg_hkdf;

struct kd_sign_ctx {
    EVP_MD_CTX *md;   /* SHA-256 */
    EVP_MAC_CTX *mac; /* HMAC, digest set once at creation */
    EVP_KDF_CTX *kdf; /* HKDF, digest set once at creation */
    int mac_keyed;    /* whether mac holds last_key */
    int ready;        /* contexts set up (setup, on first use) */
    size_t last_klen;
    unsigned char last_key[KEY_CACHE];
    int v11_valid; /* last V11 derivation: input lengths, inputs back to back, key */
    size_t v11_len[3];
    unsigned char v11_in[V11_CACHE];
    char v11_key[KD_HEX_LEN + 1];
};

void kd_sign_ctx_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Once per process, whichever thread signs first; the others wait in pthread_once until it
 * is done. Fetching per call would cost more than the hashing itself. A failed fetch is not
 * retried: a provider that lacks SHA256, HMAC or HKDF at start-up does not gain it later. */
static void fetch_algorithms(void)
{
    alg_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    alg_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    alg_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

/* Fetches the algorithms (once per process) and creates the contexts (once per module
 * instance). After a failure to create the contexts nothing is half set: the next call tries
 * again, and __gc frees whatever was created. */
static void setup(lua_State *L, kd_sign_ctx *cx)
{
    OSSL_PARAM params[2];

    if (pthread_once(&algorithms_once, fetch_algorithms) != 0 || alg_sha256 == NULL ||
        alg_hmac == NULL || alg_hkdf == NULL)
        luaL_error(L, "koodrive: OpenSSL does not provide SHA256, HMAC and HKDF");

    EVP_MD_CTX_free(cx->md);
    EVP_MAC_CTX_free(cx->mac);
    EVP_KDF_CTX_free(cx->kdf);
    cx->mac_keyed = 0;
    cx->md = EVP_MD_CTX_new();
    cx->mac = EVP_MAC_CTX_new(alg_hmac);
    cx->kdf = EVP_KDF_CTX_new(alg_hkdf);
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

kd_sign_ctx *kd_sign_ctx_get(lua_State *L, int idx)
{
    kd_sign_ctx *cx = (kd_sign_ctx *)lua_touserdata(L, idx);
    if (!cx->ready)
        setup(L, cx);
    return cx;
}

/* The context is only re-initialised, never re-created. */
void kd_sign_ctx_sha256(lua_State *L, kd_sign_ctx *cx, const void *p, size_t n,
                        unsigned char out[32])
{
    unsigned int len = 0;
    if (EVP_DigestInit_ex2(cx->md, alg_sha256, NULL) != 1 || EVP_DigestUpdate(cx->md, p, n) != 1 ||
        EVP_DigestFinal_ex(cx->md, out, &len) != 1 || len != 32)
        luaL_error(L, "koodrive: SHA-256 failed");
}

/* Init only loads the key since the digest was set on the context. */
void kd_sign_ctx_hmac(lua_State *L, kd_sign_ctx *cx, const char *key, size_t klen, const void *p,
                      size_t n, unsigned char out[32])
{
    size_t len = 0;
    int ok;
    if (key == NULL) /* a NULL key would tell OpenSSL to keep the previous one */
        key = "";
    /* A client signs with the same secret over and over, so when the key is the one already
     * loaded, a NULL key makes OpenSSL restart from its saved key state instead. */
    if (cx->mac_keyed && klen == cx->last_klen && memcmp(key, cx->last_key, klen) == 0) {
        ok = EVP_MAC_init(cx->mac, NULL, 0, NULL);
    } else {
        cx->mac_keyed = 0;
        ok = EVP_MAC_init(cx->mac, (const unsigned char *)key, klen, NULL);
        if (ok == 1 && klen <= KEY_CACHE) {
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

/* The inputs change once a day (info starts with the date), so the last key is reused. */
void kd_sign_ctx_v11_key(lua_State *L, kd_sign_ctx *cx, const char *sk, size_t sklen,
                         const char *ak, size_t aklen, const char *info, size_t infolen,
                         char hex[KD_HEX_LEN + 1])
{
    unsigned char out[32];
    OSSL_PARAM params[4];
    int cacheable = sklen + aklen + infolen <= V11_CACHE;

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
    kd_sign_ctx_hex(out, sizeof out, hex);
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

/* Frees one lua_State's EVP contexts when the module is collected. */
static int meth_gc(lua_State *L)
{
    kd_sign_ctx *cx = (kd_sign_ctx *)luaL_checkudata(L, 1, CTX_MT);
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

void kd_sign_ctx_open(lua_State *L)
{
    kd_sign_ctx *cx = (kd_sign_ctx *)kd_newuserdata(L, sizeof *cx);
    memset(cx, 0, sizeof *cx);
    if (luaL_newmetatable(L, CTX_MT)) {
        lua_pushcfunction(L, meth_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
}
