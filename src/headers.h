/* headers.h - response headers: the header block a transfer captured, parsed into
 * { [lowercase name] = value } only when someone reads `response.headers`. */
#ifndef KOODRIVE_HEADERS_H
#define KOODRIVE_HEADERS_H

#include <stddef.h>
#include <lua.h>

/* Pushes the header block p[0..len) (as libcurl handed it over, final response only) as
 * { [lowercase name] = value }; repeats are joined with ", ". p may be NULL when len is 0.
 * Used by the lazy response table, and by the fuzz target fuzz/headers.lua. */
void kd_headers_push(lua_State *L, const char *p, size_t len);
/* Gives the response table at the top of the stack a lazy `headers` field: a private copy of
 * the block goes into the table's own metatable, and the first read of `headers` parses it,
 * stores the plain table as a raw field and drops the metatable. */
void kd_headers_lazy(lua_State *L, const char *p, size_t len);
/* Registers the lazy field's __index function in the registry (once per lua_State). */
void kd_headers_open(lua_State *L);

#endif
