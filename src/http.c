/* http.c - the blocking HTTP handle: one reusable libcurl easy handle per client.
 *
 * Why a userdata: the handle keeps the connection cache, so consecutive calls on one
 * client reuse the TCP/TLS connection (keep-alive). The userdata's __gc (and __close on
 * Lua 5.4) frees it, so a Lua error that unwinds past a client never leaks a handle.
 *
 * After fork(): the child inherits the easy handle and its keep-alive connections, which are
 * the parent's sockets. The handle remembers the process that made it; used (or closed) in
 * another one it abandons the inherited easy handle without curl_easy_cleanup (that would
 * write a TLS close_notify on, or close, the parent's connection) and starts a fresh one. The
 * abandoned handle leaks in the child, once per fork.
 *
 * Caveat: perform() blocks the calling thread for the length of the transfer; hosts that
 * cannot block use the multi handle (multi.c) or nginx's own I/O. */
#include <pthread.h>
#include <sys/types.h>
#include <unistd.h>

#include "compat.h"
#include "core.h"
#include "handle.h"
#include "transfer.h"

#define HTTP_MT "koodrive.http"

typedef struct {
    kd_transfer t;
    int open;
    pid_t pid; /* the process whose connections the easy handle holds */
} http_handle;

static http_handle *check_open(lua_State *L)
{
    http_handle *h = luaL_checkudata(L, 1, HTTP_MT);
    if (!h->open)
        luaL_error(L, "attempt to use a closed http handle");
    if (h->pid != getpid()) {
        kd_transfer_abandon(&h->t);
        h->pid = getpid();
        if (!kd_transfer_init(&h->t)) {
            h->open = 0;
            luaL_error(L, "curl_easy_init failed");
        }
    }
    return h;
}

/* h:perform{ method, url, headers, body, timeout, connect_timeout, ca_file, insecure, max_body,
 *             proxy ("env" or a URL; absent: none), no_proxy }
 * -> { status, headers, body, local_port, new_connections } | nil, kind, message, code */
static int meth_perform(lua_State *L)
{
    http_handle *h = check_open(L);
    int n = kd_transfer_setup(L, 2, &h->t, 0);
    if (n > 0)
        return n;
    return kd_transfer_result(L, &h->t, curl_easy_perform(h->t.easy));
}

/* Frees the handle and its buffers; safe to call more than once (close, __close, __gc). */
static int meth_close(lua_State *L)
{
    http_handle *h = luaL_checkudata(L, 1, HTTP_MT);
    if (h->open) {
        if (h->pid == getpid())
            kd_transfer_free(&h->t);
        else
            kd_transfer_abandon(&h->t);
        h->open = 0;
    }
    return 0;
}

static int meth_tostring(lua_State *L)
{
    http_handle *h = luaL_checkudata(L, 1, HTTP_MT);
    lua_pushfstring(L, "koodrive.http (%s)", h->open ? "open" : "closed");
    return 1;
}

/* core.http() -> a new handle with its own connection cache. */
static int global_http(lua_State *L)
{
    http_handle *h = kd_newuserdata(L, sizeof *h);
    h->open = 0;
    luaL_getmetatable(L, HTTP_MT);
    lua_setmetatable(L, -2);
    if (!kd_transfer_init(&h->t))
        return luaL_error(L, "curl_easy_init failed");
    h->pid = getpid();
    h->open = 1;
    return 1;
}

/* core.curl_version() -> libcurl's version string (for diagnostics). */
static int global_curl_version(lua_State *L)
{
    lua_pushstring(L, curl_version());
    return 1;
}

/* curl_global_init is not thread-safe in every libcurl (only builds with the "threadsafe"
 * feature, 7.84 and later, make it so), and each lua_State that loads this module opens it:
 * the first call of the process is made under pthread_once, and every later open (in any
 * thread) reads the result it left. Never cleaned up, like the module (-z nodelete). */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_rc = CURLE_FAILED_INIT;

static void init_libcurl(void)
{
    init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void kd_http_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "perform", meth_perform },
        { "close", meth_close },
        { NULL, NULL },
    };
    static const luaL_Reg functions[] = {
        { "http", global_http },
        { "curl_version", global_curl_version },
        { NULL, NULL },
    };
    if (pthread_once(&init_once, init_libcurl) != 0 || init_rc != CURLE_OK)
        luaL_error(L, "koodrive: curl_global_init failed");
    kd_handle_class(L, HTTP_MT, methods, meth_close, meth_tostring);
    luaL_setfuncs(L, functions, 0);
}
