/* transfer_result.c - the Lua result of a finished transfer (transfer.c sets it up): the
 * response table, or nil, reason, message, curl code for a failure only C can name (too_large,
 * descriptors, forked) or a libcurl code the Lua layer names (koodrive.transport.failures). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "headers.h"
#include "transfer.h"

/* Whether a failed transfer ran out of file descriptors (EMFILE: this process, ENFILE: the
 * system). libcurl reports a socket() that failed so as "Couldn't connect" (without
 * CURLINFO_OS_ERRNO), a CA file it could not open as a bad CA file, and so on; the Lua layer
 * would retry those, only to fail the same way. So after any failure the process tries to
 * open one descriptor itself: if even that fails for want of descriptors, that is the cause. */
static int out_of_descriptors(CURL *e, const char *detail)
{
    long os_errno = 0;
    int fd;
    curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
    if (os_errno == EMFILE || os_errno == ENFILE || strstr(detail, "Too many open files") != NULL)
        return 1;
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == EMFILE || errno == ENFILE;
}

/* Packs the final response's headers into t->head (headers.h) while the transfer still owns
 * its easy handle: the response table gets a copy, so a late read of `headers` never goes to
 * the handle, which by then may serve another call. Request -1 is the last request; origin
 * CURLH_HEADER leaves out 1xx interim headers (CURLH_1XX), trailers (CURLH_TRAILER, as the ngx
 * transport drops them) and a proxy's CONNECT answer. Headers with an empty name (a line
 * ":value") are dropped. Returns 0 when out of memory. */
static int pack_headers(kd_transfer *t)
{
    struct curl_header *h = NULL;
    kd_buffer *b = &t->head;
    b->len = 0;
    while ((h = curl_easy_nextheader(t->easy, CURLH_HEADER, -1, h)) != NULL) {
        size_t nlen = strlen(h->name), vlen = strlen(h->value), need;
        if (nlen == 0)
            continue;
        /* libcurl 7.88 leaves an empty value as its line's terminator ("X:\r\n" gives "\r"):
         * its trimming stops at the value's first byte. A value cannot hold a CR or LF
         * otherwise (a line ends at the first of them), so that one byte means empty. */
        if (vlen == 1 && (h->value[0] == '\r' || h->value[0] == '\n'))
            vlen = 0;
        need = KD_HEADERS_PACKED_SIZE(nlen, vlen);
        if (!kd_buffer_reserve(b, need))
            return 0;
        kd_headers_pack(b->data + b->len, h->name, nlen, h->value, vlen);
        b->len += need;
    }
    return 1;
}

int kd_transfer_result(lua_State *L, kd_transfer *t, CURLcode rc)
{
    CURL *e = t->easy;
    long status = 0, port = 0, connects = 0;

    curl_slist_free_all(t->headers);
    t->headers = NULL;
    /* The easy handle is the parent's: not even an option is set on it. */
    if (rc == KD_RESULT_FORKED)
        return kd_transfer_failure(L, "forked",
                                   "the process forked while this transfer was in flight; it stays "
                                   "with the parent process (it may have been sent)",
                                   CURLE_OK);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    if (rc != CURLE_OK) {
        const char *detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
        if (rc == CURLE_WRITE_ERROR && t->body.overflow) {
            lua_pushfstring(L, "response body larger than the %d byte limit", (int)t->max_body);
            return kd_transfer_failure(L, "too_large", lua_tostring(L, -1), rc);
        }
        if (rc == CURLE_WRITE_ERROR && t->guard.overflow)
            return kd_transfer_failure(
                L, "too_large",
                t->guard.lines > KD_MAX_HEADER_LINES
                    ? "response headers of more than " KD_MAX_HEADER_LINES_TEXT " lines"
                    : "response headers larger than 256 KiB",
                rc);
        if (out_of_descriptors(e, detail)) {
            lua_pushfstring(L,
                            "out of file descriptors: the process has too many files and sockets "
                            "open (%s, curl error %d)",
                            detail, (int)rc);
            return kd_transfer_failure(L, "descriptors", lua_tostring(L, -1), rc);
        }
        lua_pushfstring(L, "%s (curl error %d)", detail, (int)rc);
        return kd_transfer_failure(L, "transport", lua_tostring(L, -1), rc);
    }
    if (!pack_headers(t))
        return kd_transfer_failure(L, "transport", "out of memory reading the response headers",
                                   CURLE_OUT_OF_MEMORY);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_LOCAL_PORT, &port);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, t->body.data ? t->body.data : "", t->body.len);
    lua_setfield(L, -2, "body");
    lua_pushinteger(L, port);
    lua_setfield(L, -2, "local_port");
    lua_pushinteger(L, connects);
    lua_setfield(L, -2, "new_connections");
    /* `headers`: split from a copy of the packed headers when first read (headers.c). */
    kd_headers_lazy(L, t->head.data, t->head.len);
    return 1;
}
