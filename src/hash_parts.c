/* hash_parts.c - sign.part_hasher(part_size): one pass over a file (or bytes) that gives the
 * whole SHA-256 and, at every part boundary, the SHA-256 chaining values h0..h7 of the bytes
 * before it (the contract's hashCtx, koodrive-transfer-api.md section 2).
 *
 * Why OpenSSL's low-level SHA256_CTX: the EVP interface hides the chaining state, and the
 * contract needs it. Boundaries are multiples of 64 (part_size must be), so the state at a
 * boundary has no buffered partial block and h[] is exactly the chaining value. A state is
 * captured just before the first byte of a part is hashed: a part exists only once one of its
 * bytes does (a size that ends on a boundary adds no empty part), and part 1 is the IV.
 *
 * read_file reads with pread into a fixed buffer of the hasher, never a Lua string, so
 * memory is constant plus 32 bytes per part. finish() hands the contexts back packed, one
 * Lua string of 32 bytes per part (h0..h7, each 4 bytes big-endian), not a table of 8
 * integers per part: a 4 GiB upload has 820 parts, and tables of integers cost ~200 bytes a
 * part of Lua heap for the whole upload, where only the part being asked for needs them
 * (koodrive.transfer.plan.context turns one part's 32 bytes into its 8 integers). */
#define OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_API_COMPAT 0x10100000L
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/sha.h>

#include "compat.h"
#include "core.h"

#define HASHER_MT "koodrive.part_hasher"
#define READ_BUFFER (256u * 1024u)

typedef struct {
    SHA256_CTX ctx;
    uint64_t size, part_size;
    uint32_t *contexts; /* 8 per part */
    size_t nparts, cap;
    unsigned char *buffer; /* READ_BUFFER bytes, for read_file */
    int finished;
} hasher;

/* Lua 5.3+ integers; before, numbers (exact up to 2^53). */
static void push_u64(lua_State *L, uint64_t v)
{
#if LUA_VERSION_NUM >= 503
    lua_pushinteger(L, (lua_Integer)v);
#else
    lua_pushnumber(L, (lua_Number)v);
#endif
}

static hasher *check_hasher(lua_State *L)
{
    hasher *h = luaL_checkudata(L, 1, HASHER_MT);
    if (h->finished)
        luaL_error(L, "part hasher: already finished");
    return h;
}

static void capture(lua_State *L, hasher *h)
{
    if (h->nparts == h->cap) {
        size_t cap = h->cap * 2;
        uint32_t *grown = realloc(h->contexts, cap * 8 * sizeof *grown);
        if (grown == NULL)
            luaL_error(L, "out of memory");
        h->contexts = grown;
        h->cap = cap;
    }
    memcpy(h->contexts + 8 * h->nparts, h->ctx.h, 8 * sizeof(uint32_t));
    h->nparts++;
}

/* Hashes n bytes, split at part boundaries so that each boundary's state is captured. */
static void feed(lua_State *L, hasher *h, const unsigned char *p, size_t n)
{
    while (n > 0) {
        uint64_t in_part = h->size % h->part_size;
        uint64_t room = h->part_size - in_part;
        size_t take = n < room ? n : (size_t)room;
        if (h->size > 0 && in_part == 0)
            capture(L, h); /* before the part's first byte; raises before hashing on OOM */
        SHA256_Update(&h->ctx, p, take);
        h->size += take;
        p += take;
        n -= take;
    }
}

static int meth_update(lua_State *L)
{
    hasher *h = check_hasher(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    feed(L, h, (const unsigned char *)s, n);
    lua_settop(L, 1);
    return 1;
}

/* h:read_file(path, max_bytes) -> bytes read (0 at EOF) | nil, message */
static int meth_read_file(lua_State *L)
{
    hasher *h = check_hasher(L);
    const char *path = luaL_checkstring(L, 2);
    lua_Number max = luaL_checknumber(L, 3);
    uint64_t left, total = 0;
    int fd;
    luaL_argcheck(L, max >= 0 && max <= 9007199254740992.0, 3, "max_bytes must be >= 0");
    left = (uint64_t)max;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, strerror(errno));
        return 2;
    }
    while (left > 0) {
        size_t want = left < READ_BUFFER ? (size_t)left : READ_BUFFER;
        ssize_t r = pread(fd, h->buffer, want, (off_t)h->size);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            close(fd);
            lua_pushnil(L);
            lua_pushfstring(L, "%s: %s", path, strerror(err));
            return 2;
        }
        if (r == 0)
            break;
        feed(L, h, h->buffer, (size_t)r);
        total += (uint64_t)r;
        left -= (uint64_t)r;
    }
    close(fd);
    push_u64(L, total);
    return 1;
}

static int meth_size(lua_State *L)
{
    hasher *h = luaL_checkudata(L, 1, HASHER_MT);
    push_u64(L, h->size);
    return 1;
}

/* h:finish() -> { size = n, sha256 = hex, contexts = packed }: `packed` holds 32 bytes per
 * part, part n's h0..h7 at bytes 32*(n-1)+1 .. 32*n, each word big-endian. */
static int meth_finish(lua_State *L)
{
    hasher *h = check_hasher(L);
    unsigned char digest[32];
    char hex[65];
    size_t i;
    luaL_Buffer b;
    static const char digits[] = "0123456789abcdef";
    lua_createtable(L, 0, 3);
    push_u64(L, h->size);
    lua_setfield(L, -2, "size");
    luaL_buffinit(L, &b);
    for (i = 0; i < 8 * h->nparts; i++) {
        uint32_t w = h->contexts[i];
        char be[4];
        be[0] = (char)(w >> 24);
        be[1] = (char)(w >> 16);
        be[2] = (char)(w >> 8);
        be[3] = (char)w;
        luaL_addlstring(&b, be, 4);
    }
    luaL_pushresult(&b);
    lua_setfield(L, -2, "contexts");
    SHA256_Final(digest, &h->ctx);
    h->finished = 1;
    for (i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    lua_pushlstring(L, hex, 64);
    lua_setfield(L, -2, "sha256");
    return 1;
}

static int meth_gc(lua_State *L)
{
    hasher *h = luaL_checkudata(L, 1, HASHER_MT);
    free(h->contexts);
    free(h->buffer);
    h->contexts = NULL;
    h->buffer = NULL;
    h->finished = 1;
    return 0;
}

/* sign.part_hasher(part_size) -> hasher; part_size a positive multiple of 64. */
static int global_part_hasher(lua_State *L)
{
    lua_Number ps = luaL_checknumber(L, 1);
    hasher *h;
    if (!(ps >= 64 && ps <= 9007199254740992.0) || ps != (lua_Number)(uint64_t)ps ||
        (uint64_t)ps % 64 != 0)
        return luaL_argerror(L, 1, "part_size must be a positive multiple of 64");
    h = kd_newuserdata(L, sizeof *h);
    memset(h, 0, sizeof *h);
    h->finished = 1; /* until fully made: __gc frees what there is */
    luaL_getmetatable(L, HASHER_MT);
    lua_setmetatable(L, -2);
    h->cap = 16;
    h->contexts = malloc(h->cap * 8 * sizeof *h->contexts);
    h->buffer = malloc(READ_BUFFER);
    if (h->contexts == NULL || h->buffer == NULL)
        return luaL_error(L, "out of memory");
    SHA256_Init(&h->ctx);
    h->part_size = (uint64_t)ps;
    h->finished = 0;
    memcpy(h->contexts, h->ctx.h, 8 * sizeof(uint32_t)); /* part 1: the IV */
    h->nparts = 1;
    return 1;
}

void kd_hash_parts_open(lua_State *L)
{
    static const luaL_Reg methods[] = { { "update", meth_update },
                                        { "read_file", meth_read_file },
                                        { "size", meth_size },
                                        { "finish", meth_finish },
                                        { NULL, NULL } };
    if (luaL_newmetatable(L, HASHER_MT)) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, meth_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, meth_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, global_part_hasher);
    lua_setfield(L, -2, "part_hasher");
}
