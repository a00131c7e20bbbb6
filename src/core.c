/* core.c - luaopen_koodrive_core: the URL encoders, JSON helpers, clocks and OS randomness, in
 * a module that links no library. Each concern lives in its own file with one *_open entry. Signing
 * on libcrypto (koodrive.sign, sign.c) and HTTP on libcurl (koodrive.curl, curl_core.c) are modules
 * of their own, loaded when first needed: loading those libraries costs more than everything else
 * `require "koodrive"` does. */
#include "compat.h"
#include "core.h"
#include "encode.h"

KD_EXPORT int luaopen_koodrive_core(lua_State *L)
{
    lua_newtable(L);
    kd_encode_open(L);
    kd_json_open(L);
    kd_json_decode_open(L);
    kd_clock_open(L);
    kd_random_open(L);
    kd_files_open(L);
    kd_memory_open(L);
    lua_pushliteral(L, KOODRIVE_VERSION);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
