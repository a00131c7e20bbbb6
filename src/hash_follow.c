/* hash_follow.c - sign.follow_hasher(path): the SHA-256 of a file that is still being
 * written, computed by a thread of its own that reads (pread) what the caller says is
 * written, in order, while the caller goes on writing the rest.
 *
 * Why a thread: a download is checked against the file's SHA-256 before it is renamed into
 * place. Hashing after the last byte arrived costs a second pass over the file on the thread
 * that received it (make bench: ~0.6 s of a 1.3 s GiB); on a thread of its own the hash runs
 * beside the receiving and is done a few ranges after the last byte (the ranges finish in
 * about the order they started).
 *
 * The thread never touches Lua. Everything the two threads share is under one mutex: the
 * frontier the caller set (bytes [0, frontier) are written), whether that is all of the file,
 * the hashed count, the outcome. The SHA-256 state and the read buffer belong to the thread
 * until it has ended (joined), when the caller reads the digest.
 *
 * A child process after fork has no such thread: its copy of the hasher is abandoned (never
 * locked nor joined: the mutex may have been held by the thread that is not there) and says
 * "forked". */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "compat.h"
#include "core.h"
#include "sign_ctx.h"

#define FOLLOW_MT "koodrive.follow_hasher"
#define FOLLOW_BUFFER (256u * 1024u)

enum state { RUNNING, DONE, FAILED };

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* the frontier moved, or the thread ended or was told to */
    pthread_t thread;
    pid_t pid;
    int fd, started, joined;
    /* under lock: */
    uint64_t frontier, hashed;
    int final, stop;
    enum state state;
    char message[160];
    unsigned char digest[32];
    /* the thread's own until joined: */
    EVP_MD_CTX *md;
    unsigned char *buffer;
} follower;

static void fail_locked(follower *f, const char *what, int err)
{
    f->state = FAILED;
    if (err != 0)
        snprintf(f->message, sizeof f->message, "%s: %s", what, strerror(err));
    else
        snprintf(f->message, sizeof f->message, "%s", what);
}

static void *follow(void *arg)
{
    follower *f = arg;
    pthread_mutex_lock(&f->lock);
    for (;;) {
        uint64_t at = f->hashed, upto = f->frontier;
        size_t want;
        ssize_t got;
        if (f->stop)
            break;
        if (at >= upto) {
            if (f->final) {
                unsigned int n = 0;
                if (EVP_DigestFinal_ex(f->md, f->digest, &n) != 1 || n != 32)
                    fail_locked(f, "SHA-256 failed", 0);
                else
                    f->state = DONE;
                break;
            }
            pthread_cond_wait(&f->changed, &f->lock);
            continue;
        }
        want = upto - at < FOLLOW_BUFFER ? (size_t)(upto - at) : FOLLOW_BUFFER;
        pthread_mutex_unlock(&f->lock);
        do
            got = pread(f->fd, f->buffer, want, (off_t)at);
        while (got < 0 && errno == EINTR);
        if (got > 0 && EVP_DigestUpdate(f->md, f->buffer, (size_t)got) != 1)
            got = -2;
        pthread_mutex_lock(&f->lock);
        if (got == -2) {
            fail_locked(f, "SHA-256 failed", 0);
            break;
        }
        if (got < 0) {
            fail_locked(f, "read", errno);
            break;
        }
        if (got == 0) { /* shorter than the caller said it had written */
            fail_locked(f, "the file is shorter than the bytes written to it", 0);
            break;
        }
        f->hashed = at + (uint64_t)got;
    }
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

static follower *check_follower(lua_State *L)
{
    return luaL_checkudata(L, 1, FOLLOW_MT);
}

static uint64_t check_size(lua_State *L, int i)
{
    lua_Number n = luaL_checknumber(L, i);
    luaL_argcheck(L, n >= 0 && n <= 9007199254740992.0 && n == (lua_Number)(uint64_t)n, i,
                  "must be a whole number of bytes");
    return (uint64_t)n;
}

/* Ends the thread (told to stop) and frees what it had; the hasher says "closed" after. */
static void shut(follower *f)
{
    if (f->started && !f->joined && f->pid == getpid()) {
        pthread_mutex_lock(&f->lock);
        f->stop = 1;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->thread, NULL);
        f->joined = 1;
    }
    if (f->pid != getpid())
        return; /* abandoned in a child: see the top of this file */
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    EVP_MD_CTX_free(f->md);
    f->md = NULL;
    free(f->buffer);
    f->buffer = NULL;
    if (f->started) {
        pthread_cond_destroy(&f->changed);
        pthread_mutex_destroy(&f->lock);
        f->started = 0;
    }
}

/* f:advance(bytes): bytes [0, bytes) are written and can be hashed (a lower figure than
 * before changes nothing). f:finish(size): the file has `size` bytes in all. */
static int set_frontier(lua_State *L, int final)
{
    follower *f = check_follower(L);
    uint64_t n = check_size(L, 2);
    if (!f->started || f->pid != getpid())
        return 0;
    pthread_mutex_lock(&f->lock);
    if (!f->final) {
        if (final || n > f->frontier)
            f->frontier = n;
        f->final = final;
        pthread_cond_broadcast(&f->changed);
    }
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static int meth_advance(lua_State *L)
{
    return set_frontier(L, 0);
}
static int meth_finish(lua_State *L)
{
    return set_frontier(L, 1);
}

/* f:wait(seconds) -> hex once the whole file (finish) is hashed | nil, "pending" when it is
 * not after `seconds` (0: do not wait) | nil, message (read error, closed, forked). */
static int meth_wait(lua_State *L)
{
    follower *f = check_follower(L);
    lua_Number seconds = luaL_optnumber(L, 2, 0);
    enum state state;
    char hex[KD_HEX_LEN + 1], message[sizeof f->message];
    luaL_argcheck(L, seconds >= 0 && seconds <= 3600, 2, "seconds must be 0-3600");
    if (f->pid != getpid()) {
        lua_pushnil(L);
        lua_pushliteral(L, "forked: the hasher's thread is in the parent process");
        return 2;
    }
    if (!f->started) {
        lua_pushnil(L);
        lua_pushliteral(L, "closed");
        return 2;
    }
    pthread_mutex_lock(&f->lock);
    if (f->state == RUNNING && seconds > 0) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)seconds;
        until.tv_nsec += (long)((seconds - (lua_Number)(time_t)seconds) * 1e9);
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (f->state == RUNNING &&
               pthread_cond_timedwait(&f->changed, &f->lock, &until) != ETIMEDOUT)
            ;
    }
    /* (copied out under the lock; nothing that can raise runs while it is held) */
    state = f->state;
    if (state == DONE)
        kd_sign_ctx_hex(f->digest, 32, hex);
    else if (state == FAILED)
        memcpy(message, f->message, sizeof message);
    pthread_mutex_unlock(&f->lock);
    if (state == DONE) {
        lua_pushlstring(L, hex, KD_HEX_LEN);
        return 1;
    }
    lua_pushnil(L);
    if (state == RUNNING)
        lua_pushliteral(L, "pending");
    else
        lua_pushstring(L, message);
    return 2;
}

static int meth_close(lua_State *L)
{
    shut(check_follower(L));
    return 0;
}

/* sign.follow_hasher(path) -> hasher | nil, message (the file cannot be opened, or no
 * thread could be started: the caller hashes afterwards instead). */
static int global_follow_hasher(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    follower *f = kd_newuserdata(L, sizeof *f);
    int err;
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->pid = getpid();
    luaL_getmetatable(L, FOLLOW_MT);
    lua_setmetatable(L, -2);
    f->md = EVP_MD_CTX_new();
    f->buffer = malloc(FOLLOW_BUFFER);
    if (f->md == NULL || f->buffer == NULL || EVP_DigestInit_ex(f->md, EVP_sha256(), NULL) != 1) {
        shut(f);
        return luaL_error(L, "out of memory");
    }
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        err = errno;
        shut(f);
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, strerror(err));
        return 2;
    }
    {
        /* (waits are timed on the monotonic clock: a clock step must not stretch one) */
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_mutex_init(&f->lock, NULL);
        pthread_cond_init(&f->changed, &attr);
        pthread_condattr_destroy(&attr);
    }
    f->started = 1;
    err = pthread_create(&f->thread, NULL, follow, f);
    if (err != 0) {
        f->joined = 1; /* there is no thread to join */
        shut(f);
        lua_pushnil(L);
        lua_pushfstring(L, "no hashing thread: %s", strerror(err));
        return 2;
    }
    return 1;
}

void kd_hash_follow_open(lua_State *L)
{
    static const luaL_Reg methods[] = { { "advance", meth_advance },
                                        { "finish", meth_finish },
                                        { "wait", meth_wait },
                                        { "close", meth_close },
                                        { NULL, NULL } };
    if (luaL_newmetatable(L, FOLLOW_MT)) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, meth_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, meth_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, global_follow_hasher);
    lua_setfield(L, -2, "follow_hasher");
}
