/* threads_harness.c - several lua_States on several threads, all signing at once.
 *
 *   threads_harness ROOT MODULE_DIR URL [CALLS [THREADS]]
 *
 * Why: a host may run one lua_State per thread (a thread pool, a game's worker threads), and
 * the C modules keep process-wide state that the first signature or the first load sets up
 * (OpenSSL algorithm objects in sign_ctx.c, curl_global_init in http.c). This program makes that
 * first use race on purpose: each of THREADS threads (default 4) creates its own Lua 5.4 state,
 * loads ROOT/spec/support/threads_worker.lua, then waits on a barrier; they are released
 * together, so every `require "koodrive"`, the first load of koodrive.sign and koodrive.curl
 * and the first signature happen at the same moment. The worker makes CALLS rounds (default
 * 10) of signed calls against the local service at URL and checks every answer.
 *
 * Lua finds koodrive in ROOT/lua and the C modules in MODULE_DIR (e.g. build/5.4, or
 * build/tsan for `make check-tsan`, where this program is built with -fsanitize=thread).
 * One line per thread, "thread N: ..." (what the worker returned, or "FAILED: why"), then
 * "threads: N of N ok". Exit status 0 only when every thread succeeded. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#define MAX_THREADS 64
#define MESSAGE_MAX 2048

typedef struct {
    int index; /* 1-based, passed to the worker */
    int ok;
    char message[MESSAGE_MAX];
} worker;

static const char *root, *module_dir, *url;
static long calls;
static pthread_barrier_t start_line;

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

/* Everything before the barrier: a fresh state whose package paths point at this checkout,
 * with the worker chunk loaded (not run). Leaves traceback and the chunk on the stack. */
static int prepare(lua_State *L)
{
    const char *chunk;
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s/server/?.lua;", root, root, root);
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pushfstring(L, "%s/?.so;", module_dir);
    lua_getfield(L, -2, "cpath");
    lua_concat(L, 2);
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
    lua_pushcfunction(L, traceback);
    chunk = lua_pushfstring(L, "%s/spec/support/threads_worker.lua", root);
    if (luaL_loadfile(L, chunk) != LUA_OK)
        return 0;
    lua_remove(L, -2);
    return 1;
}

static void *run(void *arg)
{
    worker *w = arg;
    lua_State *L = luaL_newstate();
    int ready = L != NULL && prepare(L);
    const char *msg;

    /* Every thread reaches the barrier, also after a failure, or the others would wait forever. */
    pthread_barrier_wait(&start_line);
    if (L == NULL) {
        snprintf(w->message, sizeof w->message, "FAILED: cannot create a Lua state");
        return NULL;
    }
    if (ready) {
        lua_pushinteger(L, w->index);
        lua_pushstring(L, url);
        lua_pushinteger(L, (lua_Integer)calls);
        ready = lua_pcall(L, 3, 1, 1) == LUA_OK && lua_type(L, -1) == LUA_TSTRING;
    }
    msg = lua_tostring(L, -1);
    snprintf(w->message, sizeof w->message, "%s%s",
             ready ? "" : "FAILED: ", msg ? msg : "(the worker returned no string)");
    w->ok = ready;
    lua_close(L);
    return NULL;
}

static long number_arg(const char *s, long max)
{
    char *end;
    long n = strtol(s, &end, 10);
    return (*end != '\0' || n < 1 || n > max) ? -1 : n;
}

int main(int argc, char **argv)
{
    static worker workers[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    long nthreads = 4, i, started = 0, passed = 0;

    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: %s ROOT MODULE_DIR URL [CALLS [THREADS]]\n", argv[0]);
        return 2;
    }
    root = argv[1];
    module_dir = argv[2];
    url = argv[3];
    calls = argc > 4 ? number_arg(argv[4], 100000) : 10;
    if (argc > 5)
        nthreads = number_arg(argv[5], MAX_THREADS);
    if (calls < 0 || nthreads < 0) {
        fprintf(stderr, "%s: CALLS must be 1..100000 and THREADS 1..%d\n", argv[0], MAX_THREADS);
        return 2;
    }
    if (pthread_barrier_init(&start_line, NULL, (unsigned)nthreads) != 0) {
        fprintf(stderr, "%s: pthread_barrier_init failed\n", argv[0]);
        return 1;
    }
    for (i = 0; i < nthreads; i++) {
        workers[i].index = (int)i + 1;
        if (pthread_create(&ids[i], NULL, run, &workers[i]) != 0)
            break;
        started++;
    }
    if (started < nthreads) { /* the started ones would wait on the barrier forever */
        fprintf(stderr, "%s: could only start %ld of %ld threads\n", argv[0], started, nthreads);
        return 1;
    }
    for (i = 0; i < nthreads; i++)
        pthread_join(ids[i], NULL);
    pthread_barrier_destroy(&start_line);
    for (i = 0; i < nthreads; i++) {
        printf("thread %d: %s\n", workers[i].index, workers[i].message);
        passed += workers[i].ok;
    }
    printf("threads: %ld of %ld ok\n", passed, nthreads);
    return passed == nthreads ? 0 : 1;
}
