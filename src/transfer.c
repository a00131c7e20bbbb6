/* transfer.c - one HTTP exchange on a libcurl easy handle.
 *
 * Why no Lua calls inside libcurl callbacks: a Lua error raised there would longjmp
 * through libcurl. The callbacks only append bytes to C buffers owned by the transfer (the
 * header callback only counts: libcurl keeps the headers); Lua values are built once the
 * transfer has finished (kd_transfer_result).
 *
 * The response body is capped (max_body, required: its default is the Lua layer's, in
 * koodrive.limits): a larger body aborts the transfer with kind "too_large" instead of growing
 * memory without bound.
 *
 * A failed transfer is reported as (nil, reason, message, curl code). The reason is one only C
 * can see (too_large, descriptors, forked, request) or "transport": the Lua layer names the
 * libcurl code (koodrive.transport.failures), so codes are mapped in one place. */
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "headers.h"
#include "transfer.h"

#define MAX_HEADER_BYTES (256u * 1024u)
/* KD_MAX_HEADER_LINES (transfer.h) bounds the lines of all header blocks of one response
 * (status lines, 1xx blocks and trailers included): curl_easy_nextheader recounts each
 * returned header's name over every stored line, so its cost grows with lines x bytes. At
 * 200, the worst (one 1.3 KiB name repeated) took 0.1-0.15 s of CPU in tests; 990 lines took
 * 0.7 s. Real responses have a few dozen. */
#define KEEP_BUFFER_BYTES (64u * 1024u)

/* Makes room for n more bytes, growing geometrically; refuses (returns 0) past the cap. */
int kd_buffer_reserve(kd_buffer *b, size_t n)
{
    if (n > b->max - b->len) {
        b->overflow = 1;
        return 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *grown;
        while (cap < b->len + n)
            cap *= 2;
        grown = realloc(b->data, cap);
        if (grown == NULL)
            return 0;
        b->data = grown;
        b->cap = cap;
    }
    return 1;
}

/* Appends n bytes; refuses (returns 0) past the cap. */
static int buffer_append(kd_buffer *b, const char *p, size_t n)
{
    if (!kd_buffer_reserve(b, n))
        return 0;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 1;
}

/* Empties a buffer for the next transfer, releasing memory a large response left behind. */
static void buffer_reset(kd_buffer *b, size_t max)
{
    if (b->cap > KEEP_BUFFER_BYTES) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
    b->len = 0;
    b->max = max;
    b->overflow = 0;
}

static void buffer_free(kd_buffer *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    kd_buffer *b = ud;
    size_t n = size * nmemb;
    return buffer_append(b, ptr, n) ? n : 0;
}

/* Only the size guard of the response headers: libcurl keeps them itself (kd_transfer_result
 * reads them through its header API), and this stops a hostile server from making that store,
 * and the header API's walks over it, grow without bound. The bytes of each block count (a 1xx
 * interim block does not add to the final one); the lines of all blocks count, for libcurl
 * keeps them all and curl_easy_nextheader scans the whole store for every header it returns. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    kd_header_guard *g = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
        g->bytes = 0;
    g->lines++;
    if (n > MAX_HEADER_BYTES - g->bytes || g->lines > KD_MAX_HEADER_LINES) {
        g->overflow = 1;
        return 0;
    }
    g->bytes += n;
    return n;
}

int kd_transfer_init(kd_transfer *t)
{
    memset(t, 0, sizeof *t);
    t->easy = curl_easy_init();
    return t->easy != NULL;
}

void kd_transfer_free(kd_transfer *t)
{
    if (t->easy != NULL) {
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    }
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    free(t->ca_file);
    t->ca_file = NULL;
    buffer_free(&t->body);
    buffer_free(&t->head);
    buffer_free(&t->request_body);
}

void kd_transfer_abandon(kd_transfer *t)
{
    t->easy = NULL;
    kd_transfer_free(t);
}

/* Reads an optional non-negative number field (seconds) as milliseconds; -1 when absent. */
static long opt_ms(lua_State *L, int t, const char *field)
{
    long ms = -1;
    lua_getfield(L, t, field);
    if (!lua_isnil(L, -1)) {
        lua_Number s;
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "request field '%s' must be a number of seconds", field);
        s = lua_tonumber(L, -1);
        if (!(s >= 0 && s <= 86400))
            luaL_error(L, "request field '%s' must be between 0 and 86400 seconds", field);
        ms = (long)(s * 1000.0 + 0.5);
        if (ms == 0 && s > 0)
            ms = 1;
    }
    lua_pop(L, 1);
    return ms;
}

static const char *opt_string(lua_State *L, int t, const char *field, size_t *len)
{
    const char *s = NULL;
    lua_getfield(L, t, field);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "request field '%s' must be a string", field);
        s = lua_tolstring(L, -1, len);
    }
    lua_pop(L, 1); /* still referenced by the request table, so the pointer stays valid */
    return s;
}

/* Builds the curl header list from a { [name] = value } map. Returns NULL with *bad set
 * to the offending name when a value could split the request (CR, LF or NUL). The names
 * and values are checked before any allocation, so a Lua error cannot leak the list. */
static struct curl_slist *build_headers(lua_State *L, int t, const char **bad)
{
    struct curl_slist *list = NULL, *next;
    char small[512];
    *bad = NULL;
    lua_getfield(L, t, "headers");
    if (!lua_isnil(L, -1) && !lua_istable(L, -1))
        luaL_error(L, "request field 'headers' must be a table");
    /* No "Expect: 100-continue" round trip for larger bodies. */
    list = curl_slist_append(NULL, "Expect:");
    if (lua_isnil(L, -1) || list == NULL) {
        lua_pop(L, 1);
        return list;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        size_t nlen, vlen;
        const char *name, *value;
        char *line;
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
            *bad = "?";
            lua_pop(L, 2);
            break;
        }
        name = lua_tolstring(L, -2, &nlen);
        value = lua_tolstring(L, -1, &vlen);
        if (nlen == 0 || strpbrk(name, "\r\n: ") != NULL || strlen(name) != nlen ||
            strpbrk(value, "\r\n") != NULL || strlen(value) != vlen) {
            *bad = name;
            lua_pop(L, 2);
            break;
        }
        /* "Name;" is curl's way to send a header with an empty value. curl_slist_append
         * copies the line, so a short one is built on the stack. */
        line = nlen + vlen + 3 <= sizeof small ? small : malloc(nlen + vlen + 3);
        if (line == NULL) {
            *bad = "";
            lua_pop(L, 2);
            break;
        }
        memcpy(line, name, nlen);
        if (vlen == 0) {
            line[nlen] = ';';
            line[nlen + 1] = '\0';
        } else {
            line[nlen] = ':';
            line[nlen + 1] = ' ';
            memcpy(line + nlen + 2, value, vlen);
            line[nlen + 2 + vlen] = '\0';
        }
        next = curl_slist_append(list, line);
        if (line != small)
            free(line);
        lua_pop(L, 1); /* value */
        if (next == NULL) {
            *bad = "";
            lua_pop(L, 1);
            break;
        }
        list = next;
    }
    lua_pop(L, 1); /* headers table */
    if (*bad != NULL) {
        curl_slist_free_all(list);
        return NULL;
    }
    return list;
}

/* Whether two optional strings are the same (both NULL, or equal). */
static int same_text(const char *a, const char *b)
{
    return a == NULL ? b == NULL : (b != NULL && strcmp(a, b) == 0);
}

/* Pushes nil, kind, message, curl code: the Lua layer turns these into error objects. */
int kd_transfer_failure(lua_State *L, const char *kind, const char *message, CURLcode code)
{
    lua_pushnil(L);
    lua_pushstring(L, kind);
    lua_pushstring(L, message);
    lua_pushinteger(L, (lua_Integer)code);
    return 4;
}

int kd_transfer_setup(lua_State *L, int idx, kd_transfer *t, int copy_body)
{
    CURL *e = t->easy;
    const char *method, *url, *body, *ca_file, *proxy, *no_proxy, *bad;
    size_t body_len = 0;
    long timeout_ms, connect_ms;
    lua_Number max_body;
    struct curl_slist *headers;
    int insecure, fresh;

    if (idx < 0)
        idx = lua_gettop(L) + idx + 1;
    luaL_checktype(L, idx, LUA_TTABLE);
    method = opt_string(L, idx, "method", NULL);
    url = opt_string(L, idx, "url", NULL);
    if (method == NULL || url == NULL)
        return luaL_error(L, "request needs string fields 'method' and 'url'");
    body = opt_string(L, idx, "body", &body_len);
    ca_file = opt_string(L, idx, "ca_file", NULL);
    proxy = opt_string(L, idx, "proxy", NULL);
    no_proxy = opt_string(L, idx, "no_proxy", NULL);
    timeout_ms = opt_ms(L, idx, "timeout");
    connect_ms = opt_ms(L, idx, "connect_timeout");
    lua_getfield(L, idx, "insecure");
    insecure = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, idx, "fresh_connect");
    fresh = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, idx, "max_body");
    if (lua_type(L, -1) != LUA_TNUMBER)
        return luaL_error(L, "request field 'max_body' must be a number of bytes");
    max_body = lua_tonumber(L, -1);
    if (!(max_body >= 0 && max_body <= 2147483647.0))
        return luaL_error(L, "request field 'max_body' must be between 0 and 2^31-1");
    lua_pop(L, 1);

    headers = build_headers(L, idx, &bad);
    if (headers == NULL) {
        lua_pushfstring(L, "header '%s' is not a safe header line", bad ? bad : "?");
        return kd_transfer_failure(L, "request", lua_tostring(L, -1), CURLE_OK);
    }
    curl_slist_free_all(t->headers);
    t->headers = headers;
    t->max_body = (long)max_body;

    buffer_reset(&t->body, (size_t)t->max_body);
    buffer_reset(&t->head, (size_t)-1);
    memset(&t->guard, 0, sizeof t->guard);
    t->errbuf[0] = '\0';
    /* The options every request of this handle shares are set once. A curl_easy_reset (which
     * keeps the live connection cache) is needed only for a different CA file, the one option
     * that cannot be put back to libcurl's default; every other option a request may set is
     * set below on every request, to its value or to the default. */
    if (!t->configured || !same_text(t->ca_file, ca_file)) {
        char *copy = ca_file != NULL ? strdup(ca_file) : NULL;
        if (ca_file != NULL && copy == NULL)
            return kd_transfer_failure(L, "transport", "out of memory", CURLE_OUT_OF_MEMORY);
        free(t->ca_file);
        t->ca_file = copy;
        curl_easy_reset(e);
        curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)t);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &t->body);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &t->guard);
        if (ca_file != NULL)
            curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
        t->configured = 1;
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    /* 0: no overall limit, and libcurl's default for connecting */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms >= 0 ? timeout_ms : 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms >= 0 ? connect_ms : 0L);
    /* No proxy unless the request names one: libcurl would otherwise follow http_proxy /
     * ALL_PROXY from the environment by itself (it reads them whenever CURLOPT_PROXY is unset),
     * so a bearer token could go to a proxy nobody chose. "env" is that behaviour, asked for. */
    if (proxy == NULL)
        curl_easy_setopt(e, CURLOPT_PROXY, "");
    else
        curl_easy_setopt(e, CURLOPT_PROXY, strcmp(proxy, "env") == 0 ? NULL : proxy);
    curl_easy_setopt(e, CURLOPT_NOPROXY, no_proxy);
    /* A request that must not be sent twice never goes on a reused connection: libcurl
     * would resend it by itself if that connection turned out to be dead. */
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, fresh ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, insecure ? 0L : 2L);
    if (body != NULL && copy_body) {
        buffer_reset(&t->request_body, (size_t)-1);
        if (body_len > 0 && !buffer_append(&t->request_body, body, body_len))
            return kd_transfer_failure(L, "transport", "out of memory copying the request body",
                                       CURLE_OUT_OF_MEMORY);
        body = t->request_body.data ? t->request_body.data : "";
    }
    /* HTTPGET first: it undoes the last request's method (a POST's body, a HEAD's NOBODY). */
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    if (strcmp(method, "GET") == 0 && body == NULL) {
        /* done */
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
    }
    return 0;
}
