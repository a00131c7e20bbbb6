/* forker.c - fork() for the specs (spec/fork_spec.lua), which plain Lua does not have.
 * spec/support/fork.lua builds it on the spot for the interpreter that runs the spec.
 *
 *   forker.fork()      -> the child's pid in the parent, 0 in the child
 *   forker.wait(pid)   -> the child's exit status, or nil and "signal N"
 *   forker.exit(code)  -> ends the child with _exit: no atexit handlers, no Lua state close,
 *                         no sanitizer or valgrind leak check of what the child inherited */
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

static int l_fork(lua_State *L)
{
    pid_t pid;
    fflush(NULL); /* buffered output would be written twice */
    pid = fork();
    if (pid < 0)
        return luaL_error(L, "fork failed");
    lua_pushinteger(L, (lua_Integer)pid);
    return 1;
}

static int l_wait(lua_State *L)
{
    pid_t pid = (pid_t)luaL_checkinteger(L, 1);
    int status = 0;
    if (waitpid(pid, &status, 0) < 0)
        return luaL_error(L, "waitpid failed");
    if (WIFEXITED(status)) {
        lua_pushinteger(L, WEXITSTATUS(status));
        return 1;
    }
    lua_pushnil(L);
    lua_pushfstring(L, "signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 2;
}

static int l_exit(lua_State *L)
{
    int code = (int)luaL_optinteger(L, 1, 0);
    fflush(NULL);
    _exit(code);
    return 0;
}

__attribute__((visibility("default"))) int luaopen_forker(lua_State *L)
{
    lua_createtable(L, 0, 3);
    lua_pushcfunction(L, l_fork);
    lua_setfield(L, -2, "fork");
    lua_pushcfunction(L, l_wait);
    lua_setfield(L, -2, "wait");
    lua_pushcfunction(L, l_exit);
    lua_setfield(L, -2, "exit");
    return 1;
}
