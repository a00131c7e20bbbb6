/* core.h - entry points of the C files; each adds its functions to the table on top of the stack.
 */
#ifndef KOODRIVE_CORE_H
#define KOODRIVE_CORE_H
#include <lua.h>

#ifndef KOODRIVE_VERSION
#define KOODRIVE_VERSION "scm-1"
#endif

void kd_http_open(lua_State *L);
void kd_json_open(lua_State *L);
void kd_json_decode_open(lua_State *L);
void kd_multi_open(lua_State *L);
void kd_clock_open(lua_State *L);
void kd_random_open(lua_State *L);
void kd_files_open(lua_State *L);
void kd_memory_open(lua_State *L);
void kd_hash_parts_open(lua_State *L);
void kd_hash_follow_open(lua_State *L);
void kd_parts_open(lua_State *L);

#endif
