/* sign_req.h - core.sign's request, as read and checked by sign_req.c for sign.c. */
#ifndef KOODRIVE_SIGN_REQ_H
#define KOODRIVE_SIGN_REQ_H

#include <stddef.h>
#include <lua.h>

#include "encode.h"

#define UNSIGNED_MAX 16 /* names in a request's `unsigned` list */

enum { KD_SIGN_APP, KD_SIGN_SDK, KD_SIGN_V11 };

/* The scheme names, indexed by the enum above: "HMAC-SHA256", ... */
extern const char *const kd_sign_req_schemes[];

typedef struct {
    const char *p;
    size_t n;
} kd_sign_str;

/* What core.sign reads from its request table; every string stays anchored on the stack. */
typedef struct {
    int scheme;
    kd_sign_str method, path, key_id, secret, body, region, service;
    kd_pair *hdr, *qry;
    size_t nhdr, nqry;
    const kd_pair *date;                      /* X-Sdk-Date (SDK and V11) */
    kd_sign_str unsigned_names[UNSIGNED_MAX]; /* headers left unsigned, any case */
    size_t nunsigned;
} kd_sign_req;

/* Reads and type-checks the request table at index 1 (headers and query into hlocal/qlocal of
 * KD_LOCAL_PAIRS entries, or a userdata when there are more); raises on misuse. */
void kd_sign_req_read(lua_State *L, kd_sign_req *r, kd_pair *hlocal, kd_pair *qlocal);
/* Sorts and checks the headers; returns 0 with a message pushed for a header problem. */
int kd_sign_req_check(lua_State *L, kd_sign_req *r);
/* Whether header h is signed: the scheme's rule, less the request's `unsigned` names. */
int kd_sign_req_is_signed(const kd_sign_req *r, const kd_pair *h);
/* The header named `lit` (given in lowercase), ignoring case; NULL when absent. */
const kd_pair *kd_sign_req_find(const kd_pair *h, size_t n, const char *lit);

#endif
