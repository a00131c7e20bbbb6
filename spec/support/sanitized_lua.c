/* sanitized_lua.c - a minimal `lua5.4 SCRIPT ARGS...` command for `make check-asan`.
 *
 * Why not `LD_PRELOAD=libasan.so lua5.4`: the preload would be inherited by every process the
 * specs start (the local service, nginx, luarocks, cc), and a module built with
 * -fsanitize=address needs the ASan runtime loaded first. This program is linked with the
 * sanitizer runtimes itself (gcc -fsanitize=address,undefined) and with liblua5.4, so the
 * runtime comes first without any preload and the environment children see is untouched.
 * The specs that run "the current interpreter" again (arg[-1], e.g. examples/demo.lua) get
 * this program, so their koodrive calls run under the sanitizers too.
 *
 * It does what the specs need of lua5.4: the standard libraries, generational GC (as lua5.4
 * uses), the global `arg` (arg[-1] = this program, arg[0] = the script, arg[1..] = the
 * arguments), the arguments as the script's `...`, and a traceback on an uncaught error.
 * LUA_PATH / LUA_CPATH are read by the package library as usual. */
#include <stdio.h>
#include <stdlib.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Runs argv[1] with argv[2..] as arguments; everything that can raise runs protected. */
static int run(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);
    int i, status;

    luaL_openlibs(L);
    lua_gc(L, LUA_GCGEN, 0, 0);
    lua_createtable(L, argc - 2, 2);
    for (i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1);
    }
    lua_setglobal(L, "arg");

    lua_pushcfunction(L, traceback);
    if (luaL_loadfile(L, argv[1]) != LUA_OK)
        return lua_error(L);
    luaL_checkstack(L, argc, "too many arguments");
    for (i = 2; i < argc; i++)
        lua_pushstring(L, argv[i]);
    status = lua_pcall(L, argc - 2, 0, 3);
    if (status != LUA_OK)
        return lua_error(L); /* the message already carries the traceback */
    return 0;
}

int main(int argc, char **argv)
{
    lua_State *L;
    int status;

    if (argc < 2) {
        fprintf(stderr, "usage: %s SCRIPT [ARGS...]\n", argv[0]);
        return 1;
    }
    L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "%s: cannot create a Lua state\n", argv[0]);
        return 1;
    }
    lua_pushcfunction(L, run);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    status = lua_pcall(L, 2, 0, 0);
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "%s: %s\n", argv[0], msg ? msg : "(error object is not a string)");
        fflush(stderr);
    }
    lua_close(L);
    return status == LUA_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}
