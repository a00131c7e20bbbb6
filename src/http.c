/* http.c - one reusable libcurl easy handle per client, owned by a Lua userdata.
 *
 * Why a userdata: the handle keeps the connection cache, so consecutive calls on one
 * client reuse the TCP/TLS connection (keep-alive). The userdata's __gc (and __close on
 * Lua 5.4) frees it, so a Lua error that unwinds past a client never leaks a handle.
 *
 * Why no Lua calls inside libcurl callbacks: a Lua error raised there would longjmp
 * through libcurl. The callbacks only append bytes to C buffers owned by the userdata;
 * Lua values are built after curl_easy_perform has returned.
 *
 * Caveats: perform() blocks the calling thread for the length of the transfer (use a
 * non-blocking transport where the host cannot block). The response body is capped
 * (max_body, default 8 MiB): a larger body aborts the transfer with kind "too_large". */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "compat.h"
#include "core.h"

#define HTTP_MT "koodrive.http"
#define DEFAULT_MAX_BODY (8u * 1024u * 1024u)
#define MAX_HEADER_BYTES (256u * 1024u)
#define KEEP_BUFFER_BYTES (64u * 1024u)

typedef struct {
    char *data;
    size_t len, cap, max;
    int overflow; /* set when an append would pass max */
} buffer;

typedef struct {
    CURL *easy;
    buffer body;
    buffer head;
    char errbuf[CURL_ERROR_SIZE];
} http_handle;

/* Appends n bytes, growing geometrically; refuses (returns 0) past the cap. */
static int buffer_append(buffer *b, const char *p, size_t n)
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
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 1;
}

/* Empties a buffer for the next transfer, releasing memory a large response left behind. */
static void buffer_reset(buffer *b, size_t max)
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

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buffer *b = ud;
    size_t n = size * nmemb;
    return buffer_append(b, ptr, n) ? n : 0;
}

/* Keeps only the header block of the final response (1xx interim blocks are dropped). */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buffer *b = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
        b->len = 0;
    return buffer_append(b, ptr, n) ? n : 0;
}

static http_handle *check_open(lua_State *L)
{
    http_handle *h = luaL_checkudata(L, 1, HTTP_MT);
    if (h->easy == NULL)
        luaL_error(L, "attempt to use a closed http handle");
    return h;
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
 * to the offending name when a value could split the request (CR, LF or NUL). */
static struct curl_slist *build_headers(lua_State *L, int t, const char **bad)
{
    struct curl_slist *list = NULL, *next;
    luaL_Buffer line;
    *bad = NULL;
    /* No "Expect: 100-continue" round trip for larger bodies. */
    list = curl_slist_append(list, "Expect:");
    lua_getfield(L, t, "headers");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return list;
    }
    if (!lua_istable(L, -1)) {
        curl_slist_free_all(list);
        luaL_error(L, "request field 'headers' must be a table");
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        size_t nlen, vlen;
        const char *name, *value;
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 2);
            *bad = "?";
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
        luaL_buffinit(L, &line);
        luaL_addlstring(&line, name, nlen);
        /* "Name;" is curl's way to send a header with an empty value. */
        if (vlen == 0) {
            luaL_addchar(&line, ';');
        } else {
            luaL_addstring(&line, ": ");
            luaL_addlstring(&line, value, vlen);
        }
        luaL_pushresult(&line);
        next = curl_slist_append(list, lua_tostring(L, -1));
        lua_pop(L, 2); /* line, value */
        if (next == NULL) {
            *bad = "";
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

/* Pushes the final response's headers as { [lowercase name] = value }; repeats are joined with ", ". */
static void push_headers(lua_State *L, const buffer *head)
{
    const char *p = head->data, *end = head->data + head->len;
    lua_newtable(L);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon != NULL && colon > p &&
            !(line_end - p >= 5 && memcmp(p, "HTTP/", 5) == 0)) {
            const char *v = colon + 1, *ve = line_end;
            luaL_Buffer name;
            const char *q;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            luaL_buffinit(L, &name);
            for (q = p; q < colon; q++)
                luaL_addchar(&name, (char)tolower((unsigned char)*q));
            luaL_pushresult(&name);
            lua_pushvalue(L, -1);
            lua_rawget(L, -3);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_pushlstring(L, v, (size_t)(ve - v));
            } else {
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, (size_t)(ve - v));
                lua_concat(L, 3);
            }
            lua_rawset(L, -3);
        }
        p = eol ? eol + 1 : end;
    }
}

/* Returns nil, kind, message, curl code: the Lua layer turns these into error objects. */
static int push_failure(lua_State *L, const char *kind, const char *message, CURLcode code)
{
    lua_pushnil(L);
    lua_pushstring(L, kind);
    lua_pushstring(L, message);
    lua_pushinteger(L, (lua_Integer)code);
    return 4;
}

static const char *failure_kind(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
        return "tls";
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return "connect";
    default:
        return "transport";
    }
}

/* h:perform{ method, url, headers, body, timeout, connect_timeout, ca_file, insecure, max_body }
 * -> { status, headers, body, local_port, new_connections } | nil, kind, message, code */
static int meth_perform(lua_State *L)
{
    http_handle *h = check_open(L);
    CURL *e = h->easy;
    const char *method, *url, *body, *ca_file, *bad;
    size_t body_len = 0;
    long timeout_ms, connect_ms, status = 0, port = 0, connects = 0;
    lua_Integer max_body = DEFAULT_MAX_BODY;
    struct curl_slist *headers;
    CURLcode rc;
    int insecure;

    luaL_checktype(L, 2, LUA_TTABLE);
    method = opt_string(L, 2, "method", NULL);
    url = opt_string(L, 2, "url", NULL);
    if (method == NULL || url == NULL)
        return luaL_error(L, "request needs string fields 'method' and 'url'");
    body = opt_string(L, 2, "body", &body_len);
    ca_file = opt_string(L, 2, "ca_file", NULL);
    timeout_ms = opt_ms(L, 2, "timeout");
    connect_ms = opt_ms(L, 2, "connect_timeout");
    lua_getfield(L, 2, "insecure");
    insecure = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 2, "max_body");
    if (!lua_isnil(L, -1)) {
        max_body = (lua_Integer)luaL_checknumber(L, -1);
        if (max_body < 0)
            return luaL_error(L, "request field 'max_body' must be >= 0");
    }
    lua_pop(L, 1);

    headers = build_headers(L, 2, &bad);
    if (headers == NULL) {
        lua_pushfstring(L, "header '%s' is not a safe header line", bad ? bad : "?");
        return push_failure(L, "request", lua_tostring(L, -1), CURLE_OK);
    }

    /* Reset clears last call's options but keeps the live connection cache. */
    curl_easy_reset(e);
    buffer_reset(&h->body, (size_t)max_body);
    buffer_reset(&h->head, MAX_HEADER_BYTES);
    h->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &h->body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &h->head);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
    if (timeout_ms >= 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (connect_ms >= 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    if (ca_file != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
    if (insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (strcmp(method, "GET") == 0 && body == NULL) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
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

    rc = curl_easy_perform(e);
    curl_slist_free_all(headers);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);

    if (rc != CURLE_OK) {
        const char *kind = failure_kind(rc);
        const char *detail = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);
        if (rc == CURLE_WRITE_ERROR && h->body.overflow) {
            lua_pushfstring(L, "response body larger than the %d byte limit", (int)max_body);
            return push_failure(L, "too_large", lua_tostring(L, -1), rc);
        }
        if (rc == CURLE_WRITE_ERROR && h->head.overflow)
            return push_failure(L, "too_large", "response headers larger than 256 KiB", rc);
        lua_pushfstring(L, "%s (curl error %d)", detail, (int)rc);
        return push_failure(L, kind, lua_tostring(L, -1), rc);
    }

    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_LOCAL_PORT, &port);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    push_headers(L, &h->head);
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, h->body.data ? h->body.data : "", h->body.len);
    lua_setfield(L, -2, "body");
    lua_pushinteger(L, port);
    lua_setfield(L, -2, "local_port");
    lua_pushinteger(L, connects);
    lua_setfield(L, -2, "new_connections");
    return 1;
}

/* Frees the handle and its buffers; safe to call more than once (close, __close, __gc). */
static int meth_close(lua_State *L)
{
    http_handle *h = luaL_checkudata(L, 1, HTTP_MT);
    if (h->easy != NULL) {
        curl_easy_cleanup(h->easy);
        h->easy = NULL;
    }
    free(h->body.data);
    free(h->head.data);
    memset(&h->body, 0, sizeof h->body);
    memset(&h->head, 0, sizeof h->head);
    return 0;
}

static int meth_tostring(lua_State *L)
{
    http_handle *h = luaL_checkudata(L, 1, HTTP_MT);
    lua_pushfstring(L, "koodrive.http (%s)", h->easy ? "open" : "closed");
    return 1;
}

/* core.http() -> a new handle with its own connection cache. */
static int global_http(lua_State *L)
{
    http_handle *h = lua_newuserdata(L, sizeof *h);
    memset(h, 0, sizeof *h);
    luaL_getmetatable(L, HTTP_MT);
    lua_setmetatable(L, -2);
    h->easy = curl_easy_init();
    if (h->easy == NULL)
        return luaL_error(L, "curl_easy_init failed");
    return 1;
}

/* core.curl_version() -> libcurl's version string (for diagnostics and User-Agent). */
static int global_curl_version(lua_State *L)
{
    lua_pushstring(L, curl_version());
    return 1;
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
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (luaL_newmetatable(L, HTTP_MT)) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, meth_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, meth_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, meth_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, functions, 0);
}
