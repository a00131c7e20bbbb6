/* random.c - random bytes from the operating system, for trace ids and the JSON int64 marker
 * nonce.
 *
 * Why not math.random: Lua 5.1-5.3 and LuaJIT start every process from the same seed, and a
 * forked child continues its parent's sequence, so two processes sent the same X-Traceid
 * values. The kernel's generator (getrandom(2), else /dev/urandom) is per process by
 * construction: nothing is cached here, every call reads fresh bytes. No libcrypto: this file
 * belongs to koodrive.core, which links no library (spec/loading_spec.lua). */
#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include "compat.h"
#include "core.h"

#define RANDOM_MAX 1024

/* Fills buf with n bytes from the kernel; returns 0 when it cannot. */
static int os_random(unsigned char *buf, size_t n)
{
    size_t got = 0;
    int fd;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    if (got == n)
        return 1;
    /* Kernels before 3.17 (ENOSYS) or a seccomp filter that refuses the call. */
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r > 0)
            got += (size_t)r;
        else if (!(r < 0 && errno == EINTR))
            break;
    }
    close(fd);
    return got == n;
}

static size_t check_count(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 1 || n > RANDOM_MAX)
        luaL_argerror(L, 1, "count must be between 1 and 1024");
    return (size_t)n;
}

/* core.random_bytes(n) -> n random bytes (1 <= n <= 1024); raises if the OS gives none. */
static int global_random_bytes(lua_State *L)
{
    unsigned char buf[RANDOM_MAX];
    size_t n = check_count(L);
    if (!os_random(buf, n))
        return luaL_error(L, "the operating system gave no random bytes");
    lua_pushlstring(L, (const char *)buf, n);
    return 1;
}

/* core.random_hex(n) -> 2n lowercase hex digits of n random bytes (1 <= n <= 1024). */
static int global_random_hex(lua_State *L)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char buf[RANDOM_MAX];
    char hex[2 * RANDOM_MAX];
    size_t i, n = check_count(L);
    if (!os_random(buf, n))
        return luaL_error(L, "the operating system gave no random bytes");
    for (i = 0; i < n; i++) {
        hex[2 * i] = digits[buf[i] >> 4];
        hex[2 * i + 1] = digits[buf[i] & 15];
    }
    lua_pushlstring(L, hex, 2 * n);
    return 1;
}

/* core.getpid() -> this process's id (the specs and the Lua layer notice a fork with it). */
static int global_getpid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

void kd_random_open(lua_State *L)
{
    static const luaL_Reg functions[] = {
        { "random_bytes", global_random_bytes },
        { "random_hex", global_random_hex },
        { "getpid", global_getpid },
        { NULL, NULL },
    };
    luaL_setfuncs(L, functions, 0);
}
