/* headers.h - response headers: the final response's headers as libcurl's header API gives
 * them, packed into one string by the transfer, split into { [lowercase name] = value } only
 * when someone reads `response.headers`. */
#ifndef KOODRIVE_HEADERS_H
#define KOODRIVE_HEADERS_H

#include <stddef.h>
#include <lua.h>

/* The packed form: for each header in the order received, its name (ASCII lower-cased), a NUL,
 * its value, a NUL. libcurl gives names and values as C strings, so neither holds a NUL and the
 * form needs no escaping. KD_HEADERS_PACKED_SIZE is what one header takes. */
#define KD_HEADERS_PACKED_SIZE(nlen, vlen) ((nlen) + (vlen) + 2)
/* Writes one header, name lower-cased, into dst (KD_HEADERS_PACKED_SIZE(nlen, vlen) bytes). */
void kd_headers_pack(char *dst, const char *name, size_t nlen, const char *value, size_t vlen);
/* Pushes the packed headers p[0..len) as { [name] = value }; a repeated name joins its values
 * with ", " in order. A trailing entry without its two NULs is dropped (only a packed string
 * made by kd_headers_pack comes through a transfer; the fuzz target feeds anything). p may be
 * NULL when len is 0. Used by the lazy response table, and by the fuzz target fuzz/headers.lua. */
void kd_headers_push(lua_State *L, const char *p, size_t len);
/* Gives the response table at the top of the stack a lazy `headers` field: a private copy of
 * the packed headers goes into the table's own metatable, and the first read of `headers`
 * splits it, stores the plain table as a raw field and drops the metatable. */
void kd_headers_lazy(lua_State *L, const char *p, size_t len);
/* Registers the lazy field's __index function in the registry (once per lua_State). */
void kd_headers_open(lua_State *L);

#endif
