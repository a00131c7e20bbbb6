/* core.c - luaopen_koodrive_core: gathers the C parts of koodrive into one module table.
 * Each concern lives in its own file (signing, HTTP, JSON helpers) with one *_open entry. */
#include "compat.h"
#include "core.h"

KD_EXPORT int luaopen_koodrive_core(lua_State *L)
{
    lua_newtable(L);
    kd_sign_open(L);
    kd_http_open(L);
    kd_json_open(L);
    kd_multi_open(L);
    kd_clock_open(L);
    lua_pushliteral(L, KOODRIVE_VERSION);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
