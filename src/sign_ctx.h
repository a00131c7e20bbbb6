/* sign_ctx.h - the OpenSSL side of signing (sign_ctx.c): algorithm objects fetched once per
 * process, EVP contexts and key caches per lua_State. sign.c builds the text to sign and asks
 * these for digests; it never touches OpenSSL itself. */
#ifndef KOODRIVE_SIGN_CTX_H
#define KOODRIVE_SIGN_CTX_H

#include <stddef.h>
#include <lua.h>

#define KD_HEX_LEN 64 /* hex length of a SHA-256 digest */

typedef struct kd_sign_ctx kd_sign_ctx;

/* Pushes a new context userdata (with its __gc) for one instance of koodrive.sign: the module
 * functions get it as their upvalue. Creates no OpenSSL object yet. */
void kd_sign_ctx_open(lua_State *L);
/* The context at stack index idx, its OpenSSL objects set up on first use: `require` does not
 * pay for OpenSSL's provider start-up, and token-mode clients, which never sign, not at all. */
kd_sign_ctx *kd_sign_ctx_get(lua_State *L, int idx);
/* SHA-256 of p[0..n). Raises on an OpenSSL failure. */
void kd_sign_ctx_sha256(lua_State *L, kd_sign_ctx *cx, const void *p, size_t n,
                        unsigned char out[32]);
/* HMAC-SHA256 of p[0..n) under key (NULL: the empty key). Raises on an OpenSSL failure. */
void kd_sign_ctx_hmac(lua_State *L, kd_sign_ctx *cx, const char *key, size_t klen, const void *p,
                      size_t n, unsigned char out[32]);
/* V11 signing key: lowercase hex of HKDF-SHA256(IKM = sk, salt = ak, info, 32 bytes). */
void kd_sign_ctx_v11_key(lua_State *L, kd_sign_ctx *cx, const char *sk, size_t sklen,
                         const char *ak, size_t aklen, const char *info, size_t infolen,
                         char hex[KD_HEX_LEN + 1]);
/* Lowercase hex of n bytes into out (2n chars plus NUL). */
void kd_sign_ctx_hex(const unsigned char *in, size_t n, char *out);

#endif
