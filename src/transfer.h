/* transfer.h - one HTTP exchange on a libcurl easy handle: request setup from a Lua table,
 * response capture into C buffers, and the Lua result. Shared by the blocking handle
 * (http.c) and the non-blocking multi handle (multi.c). */
#ifndef KOODRIVE_TRANSFER_H
#define KOODRIVE_TRANSFER_H

#include <stddef.h>
#include <curl/curl.h>
#include <lua.h>
#include <lauxlib.h>

typedef struct {
    char *data;
    size_t len, cap, max;
    int overflow; /* set when an append would pass max */
} kd_buffer;

/* The size guard of the response header block (transfer.c's header callback). */
typedef struct {
    size_t bytes; /* of the current block (a 1xx interim block is followed by another) */
    size_t lines; /* header lines of every block, trailers included: all that libcurl keeps */
    int overflow; /* set when either passes its limit */
} kd_header_guard;

typedef struct {
    CURL *easy;
    struct curl_slist *headers; /* request headers, alive until the transfer ends */
    kd_buffer body;             /* response body */
    kd_buffer head;             /* the final response's headers, packed (headers.h) */
    kd_header_guard guard;      /* bounds what libcurl keeps of the response headers */
    kd_buffer
        request_body; /* private copy of the request body (multi transfers outlive the call) */
    long max_body;
    long long id;   /* multi: the id handed to Lua */
    int inherited;  /* multi: made by the parent process before a fork(); never reused */
    int configured; /* the fixed options are set (kd_transfer_setup resets only when needed) */
    char *ca_file;  /* the CA file the handle was last configured with (NULL: the default) */
    char errbuf[CURL_ERROR_SIZE];
} kd_transfer;

/* Lines of all header blocks of one response that libcurl may keep (transfer.c explains). */
#define KD_MAX_HEADER_LINES 200u
#define KD_MAX_HEADER_LINES_TEXT "200"

/* Makes room for n more bytes in b (growing geometrically); 0 past its cap or out of memory. */
int kd_buffer_reserve(kd_buffer *b, size_t n);
/* Pushes nil, kind, message, curl code (the Lua layer turns them into an error); returns 4. */
int kd_transfer_failure(lua_State *L, const char *kind, const char *message, CURLcode code);

/* Creates the easy handle; returns 0 on failure. */
int kd_transfer_init(kd_transfer *t);
/* Frees everything the transfer owns; safe to call twice. */
void kd_transfer_free(kd_transfer *t);
/* In a forked child: frees the transfer's own memory but abandons its easy handle without
 * curl_easy_cleanup, which would close (TLS close_notify included) connections that are the
 * parent's. The handle and its cache leak, once per fork and handle. Safe to call twice. */
void kd_transfer_abandon(kd_transfer *t);
/* Configures the easy handle from the request table at index idx. On a bad request it
 * pushes nil, kind, message, code and returns 4; returns 0 when ready to perform.
 * Raises a Lua error for misuse (wrong field types). copy_body: keep a private copy. */
int kd_transfer_setup(lua_State *L, int idx, kd_transfer *t, int copy_body);
/* Pushes the result of a finished transfer: the response table (returns 1) or
 * nil, kind, message, curl code (returns 4). Releases the request headers. */
int kd_transfer_result(lua_State *L, kd_transfer *t, CURLcode rc);
/* The result code of a multi transfer that was in flight when the process forked: in the
 * child it ends with reason "forked" (the parent carries it on). */
#define KD_RESULT_FORKED ((CURLcode)-1)
#endif
