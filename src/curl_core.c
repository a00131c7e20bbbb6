/* curl_core.c - luaopen_koodrive_curl: the libcurl half of the C core (blocking and multi
 * HTTP handles), a module of its own.
 *
 * Why apart from koodrive.core: loading libcurl pulls in some thirty shared libraries on
 * Debian (TLS, Kerberos, LDAP, ...) and costs ~10 ms. Keeping it out of koodrive.core means
 * `require "koodrive"` does not pay for it; the Lua layer requires this module when it first
 * makes a libcurl transport or a loop, and hosts that never do (OpenResty handlers on
 * cosockets, replayed cassettes) never load libcurl at all. */
#include "compat.h"
#include "core.h"
#include "headers.h"

KD_EXPORT int luaopen_koodrive_curl(lua_State *L)
{
    lua_newtable(L);
    kd_http_open(L);
    kd_multi_open(L);
    kd_headers_open(L);
    kd_parts_open(L);
    lua_pushliteral(L, KOODRIVE_VERSION);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
