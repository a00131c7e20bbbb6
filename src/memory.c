/* memory.c - handing freed heap back to the system. A big upload's create exchange (a hashCtx
 * and a URL per part, thousands of them) is garbage once the parts start; after the Lua
 * collector frees it, glibc keeps the pages in its heap, where libcurl's part buffers, larger
 * than its mmap threshold, do not reuse them. So the process's peak RSS would grow with the
 * part count. malloc_trim gives back whole free pages anywhere in the heap (madvise), which
 * changes nothing else about the allocator. */
#include "compat.h"
#include "core.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

/* core.release_memory() -> true when pages went back to the system, false otherwise (none
 * free, or not glibc). */
static int global_release_memory(lua_State *L)
{
#ifdef __GLIBC__
    lua_pushboolean(L, malloc_trim(0) == 1);
#else
    lua_pushboolean(L, 0);
#endif
    return 1;
}

void kd_memory_open(lua_State *L)
{
    static const luaL_Reg functions[] = {
        { "release_memory", global_release_memory },
        { NULL, NULL },
    };
    luaL_setfuncs(L, functions, 0);
}
