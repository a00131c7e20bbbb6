/* parts.h - the parts engine (curl.parts): PUT / GET of file byte ranges to presigned URLs on
 * one libcurl multi handle. parts.c is the Lua side (queue, poll, results), parts_io.c the
 * libcurl side (easy handle setup and the callbacks, which never call Lua). */
#ifndef KOODRIVE_PARTS_H
#define KOODRIVE_PARTS_H

#include <stdint.h>
#include <sys/types.h>
#include <curl/curl.h>

enum { PART_QUEUED = 0, PART_RUNNING = 1, PART_DONE = 2 };

typedef struct kd_engine kd_engine;

typedef struct kd_part {
    struct kd_part *prev, *next; /* in the engine's queued, running or done list */
    kd_engine *engine;
    CURL *easy;
    long long id;
    int put, range, state, fd;
    char *url, *path;
    const char *data; /* PUT of a Lua string (kept alive by data_ref) */
    int data_ref;
    uint64_t offset, size, done; /* done: body bytes sent (PUT) or written (GET) */
    int has_size;
    struct curl_slist *headers;
    CURLcode rc;
    const char *reason; /* set by a callback or at start; NULL: from rc */
    char message[256];
    long status;
    size_t header_bytes, header_lines;
    char etag[256], content_range[128];
    long long content_length; /* -1: none */
    int checked;              /* GET: the answer's status and range were checked */
    char *body;               /* non-2xx answer, capped at the engine's max_error_body */
    size_t body_len;
    char errbuf[CURL_ERROR_SIZE];
} kd_part;

#define KD_PARTS_MAX_CONCURRENCY 256

struct kd_engine {
    CURLM *multi;
    pid_t pid;
    long concurrency, connect_ms, timeout_ms, low_speed_s;
    char *ca_file;
    int insecure, open;
    size_t max_error_body;
    uint64_t progress;
    size_t nqueued, nrunning;
    kd_part *queued, *queued_tail, *running, *done;
    CURL *idle[KD_PARTS_MAX_CONCURRENCY]; /* finished transfers' handles, kept for the next */
    size_t nidle;
};

/* An easy handle for the next transfer: one the engine kept (its buffers already allocated),
 * else a new one with the engine's fixed options; NULL when out of memory. */
CURL *kd_easy_take(kd_engine *e);
/* Keeps a finished transfer's handle for the next one (up to `concurrency`), or frees it;
 * *handle becomes NULL. */
void kd_easy_give(kd_engine *e, CURL **handle);
/* Frees the kept handles; `abandon`: they are the parent's (after fork), only forgotten. */
void kd_easy_drop(kd_engine *e, int abandon);

/* Opens the part's file and sets its transfer's options on p->easy; 0 on failure (p->reason,
 * p->message set). */
int kd_part_start(kd_part *p);
/* The reason of a libcurl code (one table: connect, timeout, reset, tls, transport...). */
const char *kd_part_reason(CURLcode rc);
/* Closes the part's file and frees what libcurl-side memory it holds (not the easy handle). */
void kd_part_release(kd_part *p);

/* parts_table.c. Reads the request table at index 2 into a new queued part (raises on a bad
 * request; url or path NULL when out of memory); pushes a finished part's result table. */
#include <lua.h>
kd_part *kd_part_from_table(lua_State *L, kd_engine *e);
void kd_part_push_result(lua_State *L, kd_part *p);
char *kd_part_copy(const char *s, size_t n);

#endif
