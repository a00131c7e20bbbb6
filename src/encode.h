/* encode.h - what sign.c takes from encode.c (internal to the C modules, not exported). */
#ifndef KOODRIVE_ENCODE_H
#define KOODRIVE_ENCODE_H
#include <stddef.h>

#include <lua.h>

#define KD_LOCAL_PAIRS 16 /* pairs kept on the C stack before spilling into a userdata */

/* A header (name, value) or a query parameter (name, value); strings owned by Lua. */
typedef struct {
    const char *name;
    size_t nlen;
    const char *val;
    size_t vlen;
} kd_pair;

unsigned char kd_encode_lower(unsigned char c);
void kd_encode_sort(kd_pair *a, size_t n, int (*cmp)(const void *, const void *));
void kd_encode_push_path(lua_State *L, const char *p, size_t n);
const char *kd_encode_check_path(lua_State *L, int arg, int idx, const char *what, size_t *n);
kd_pair *kd_encode_collect_query(lua_State *L, int arg, int idx, kd_pair *local, size_t *count);
void kd_encode_push_query(lua_State *L, kd_pair *q, size_t n);

/* Adds encode_path, encode_query and utc_stamp to the module table on top of the stack. */
void kd_encode_open(lua_State *L);

#endif
