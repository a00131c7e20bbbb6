/* files.c - the file system calls transfers need and Lua lacks: stat (size, mtime, type), an
 * atomic replace (write a temporary file, fsync, rename, fsync the directory), so that a
 * resume journal is never found half written after a crash, and what finding a home for a
 * journal takes (is a folder writable, make one, a file's absolute path), and a rename that
 * never replaces what is there. */
#define _GNU_SOURCE /* realpath, renameat2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat.h"
#include "core.h"

static int push_errno(lua_State *L, const char *what, const char *path)
{
    int e = errno;
    lua_pushnil(L);
    lua_pushfstring(L, "%s %s: %s", what, path, strerror(e));
    lua_pushinteger(L, e);
    return 3;
}

/* core.stat(path [, nofollow]) -> { size, mtime (seconds, with nanoseconds as a fraction),
 * type = "file" | "directory" | "link" (nofollow only) | "other", dev, ino }, or nil,
 * message, errno. */
static int global_stat(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int nofollow = lua_toboolean(L, 2);
    struct stat st;
    if ((nofollow ? lstat(path, &st) : stat(path, &st)) != 0)
        return push_errno(L, "cannot stat", path);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, (lua_Integer)st.st_size);
    lua_setfield(L, -2, "size");
    lua_pushnumber(L, (lua_Number)st.st_mtim.tv_sec + (lua_Number)st.st_mtim.tv_nsec / 1e9);
    lua_setfield(L, -2, "mtime");
    lua_pushstring(L, S_ISREG(st.st_mode)   ? "file"
                      : S_ISDIR(st.st_mode) ? "directory"
                      : S_ISLNK(st.st_mode) ? "link"
                                            : "other");
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, (lua_Integer)st.st_dev);
    lua_setfield(L, -2, "dev");
    lua_pushinteger(L, (lua_Integer)st.st_ino);
    lua_setfield(L, -2, "ino");
    return 1;
}

/* fsyncs the directory holding path, so that a rename in it survives a crash. */
static int sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    int fd, rc;
    if (slash == NULL) {
        strcpy(dir, ".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir)
            return -1;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/* core.write_atomic(path, data) -> true, or nil, message, errno. The data goes to
 * "<path>.tmp-<pid>" (mode 0600), is fsynced and renamed over path; nothing is left behind
 * on failure. */
static int global_write_atomic(lua_State *L)
{
    size_t len, done = 0;
    const char *path = luaL_checkstring(L, 1);
    const char *data = luaL_checklstring(L, 2, &len);
    char tmp[4200];
    int fd, e;
    if (strlen(path) > 4096)
        return luaL_error(L, "path too long");
    /* A fresh name made with O_EXCL (mkostemp), never a predictable one opened with O_TRUNC:
     * in a folder others can write, a link planted at that name would have this write go
     * into the file it points to. */
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return push_errno(L, "cannot create", path);
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        done += (size_t)n;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    sync_parent(path); /* best effort: the data itself is on disk */
    lua_pushboolean(L, 1);
    return 1;
fail:
    e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = e;
    return push_errno(L, "cannot write", path);
}

/* core.sync(path) -> true, or nil, message, errno: the file's data is on disk (fdatasync), so
 * that a journal written after it never claims bytes a power cut could still lose. */
static int global_sync(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc, e;
    if (fd < 0)
        return push_errno(L, "cannot open", path);
    rc = fdatasync(fd);
    e = errno;
    close(fd);
    if (rc != 0) {
        errno = e;
        return push_errno(L, "cannot sync", path);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.writable(dir) -> true, or false, message: files can be made in dir (access W_OK|X_OK:
 * also false on a read-only file system, for root too). */
static int global_writable(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (access(path, W_OK | X_OK) != 0) {
        int e = errno;
        lua_pushboolean(L, 0);
        lua_pushfstring(L, "%s: %s", path, strerror(e));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.mkdir(path) -> true, or nil, message, errno: path and every missing folder above it,
 * each made 0700 (a journal's home is private to its user). */
static int global_mkdir(lua_State *L)
{
    size_t n;
    const char *path = luaL_checklstring(L, 1, &n);
    char buf[PATH_MAX];
    size_t i;
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return push_errno(L, "cannot make", path);
    }
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return push_errno(L, "cannot make", buf);
        buf[i] = path[i];
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.realpath(path) -> the absolute path with no symbolic link, or nil, message, errno. */
static int global_realpath(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char buf[PATH_MAX];
    if (realpath(path, buf) == NULL)
        return push_errno(L, "cannot resolve", path);
    lua_pushstring(L, buf);
    return 1;
}

/* core.create_new(path) -> true, or nil, message, errno: an empty file made 0600 where there
 * was nothing (O_EXCL, so never through a link planted at that name). */
static int global_create_new(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return push_errno(L, "cannot create", path);
    close(fd);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.rename_noreplace(from, to) -> true, or nil, message, errno (EEXIST: `to` exists and
 * is left as it is). A download with overwrite = false must not replace a file that appeared
 * at its destination while it ran: checking first and renaming after would. renameat2
 * (Linux 3.15+) does it in one step; where the file system does not support it, link (fails
 * on an existing name) then unlink does. */
static int global_rename_noreplace(lua_State *L)
{
    const char *from = luaL_checkstring(L, 1), *to = luaL_checkstring(L, 2);
#ifdef RENAME_NOREPLACE
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (errno != EINVAL && errno != ENOSYS)
        return push_errno(L, "cannot rename to", to);
#endif
    if (link(from, to) != 0)
        return push_errno(L, "cannot rename to", to);
    if (unlink(from) != 0)
        return push_errno(L, "cannot remove", from);
    lua_pushboolean(L, 1);
    return 1;
}

void kd_files_open(lua_State *L)
{
    static const luaL_Reg functions[] = {
        { "stat", global_stat },
        { "write_atomic", global_write_atomic },
        { "sync", global_sync },
        { "writable", global_writable },
        { "mkdir", global_mkdir },
        { "realpath", global_realpath },
        { "rename_noreplace", global_rename_noreplace },
        { "create_new", global_create_new },
        { NULL, NULL },
    };
    luaL_setfuncs(L, functions, 0);
}
