/* parts_io.c - the libcurl side of the parts engine: easy handle setup and the callbacks.
 *
 * The callbacks only move bytes between libcurl's own buffers and the file (pread for a PUT,
 * pwrite for a GET), so memory does not grow with the file; they never call Lua. A failure
 * seen in a callback is recorded on the part (reason, message) and aborts its transfer;
 * parts.c reports it once the transfer has finished. Progress is counted here, in C. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "parts.h"

#define KD_PART_BUFFER (512L * 1024L) /* CURLOPT_BUFFERSIZE's most (CURL_MAX_READ_SIZE) */

#define MAX_HEADER_BYTES (256u * 1024u)
#define MAX_HEADER_LINES 200u

/* The one mapping of libcurl codes to reasons for this engine. connect, timeout and tls are
 * the names koodrive.transport.failures gives the same codes (spec/parts_engine_spec.lua
 * checks they agree); reset is a connection that broke mid-exchange. */
const char *kd_part_reason(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        return "connect";
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return "reset";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
        return "tls";
    default:
        return "transport";
    }
}

static void fail(kd_part *p, const char *reason, const char *what, int err)
{
    if (p->reason != NULL)
        return; /* the first failure is the one reported */
    p->reason = reason;
    if (err)
        snprintf(p->message, sizeof p->message, "%s: %s", what, strerror(err));
    else
        snprintf(p->message, sizeof p->message, "%s", what);
}

static int is_2xx(long status)
{
    return status >= 200 && status < 300;
}

/* Keeps at most max_error_body bytes of a non-2xx answer; the rest is dropped. */
static void keep_error_body(kd_part *p, const char *ptr, size_t n)
{
    size_t max = p->engine->max_error_body, take;
    if (p->body_len >= max)
        return;
    if (p->body == NULL) {
        p->body = malloc(max);
        if (p->body == NULL)
            return;
    }
    take = n < max - p->body_len ? n : max - p->body_len;
    memcpy(p->body + p->body_len, ptr, take);
    p->body_len += take;
}

/* PUT body: pread straight into libcurl's buffer (or a copy from the Lua string). */
static size_t on_read(char *buffer, size_t size, size_t nitems, void *ud)
{
    kd_part *p = ud;
    size_t want = size * nitems;
    uint64_t left = p->size - p->done;
    ssize_t r;
    if (left == 0)
        return 0;
    if (want > left)
        want = (size_t)left;
    if (p->data != NULL) {
        memcpy(buffer, p->data + p->offset + p->done, want);
        r = (ssize_t)want;
    } else {
        do
            r = pread(p->fd, buffer, want, (off_t)(p->offset + p->done));
        while (r < 0 && errno == EINTR);
        if (r < 0) {
            fail(p, "read", "reading the part", errno);
            return CURL_READFUNC_ABORT;
        }
        if (r == 0) {
            fail(p, "read", "the file ended before the part's end (it shrank)", 0);
            return CURL_READFUNC_ABORT;
        }
    }
    p->done += (uint64_t)r;
    p->engine->progress += (uint64_t)r;
    return (size_t)r;
}

/* libcurl rewinds an upload to resend it (a reused connection found dead): count again. */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
    kd_part *p = ud;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > p->size)
        return CURL_SEEKFUNC_CANTSEEK;
    p->engine->progress -= p->done - (uint64_t)offset;
    p->done = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* The first body bytes of a 2xx GET: is this the range asked for? */
static int check_answer(kd_part *p)
{
    char want[48];
    size_t n;
    p->checked = 1;
    if (!p->range)
        return 1;
    if (p->status == 200 && p->offset > 0) {
        fail(p, "range_ignored", "the server answered 200 (the whole file) to a ranged request", 0);
        return 0;
    }
    if (p->status == 206) {
        n = (size_t)snprintf(want, sizeof want, "bytes %llu-", (unsigned long long)p->offset);
        if (strncasecmp(p->content_range, want, n) != 0) {
            fail(p, "range_mismatch", "the 206 answer's Content-Range is not the range asked", 0);
            return 0;
        }
    }
    return 1;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    kd_part *p = ud;
    size_t n = size * nmemb, off = 0;
    if (!is_2xx(p->status) || p->put) {
        if (!is_2xx(p->status))
            keep_error_body(p, ptr, n);
        return n; /* a 2xx PUT answer's body is not kept */
    }
    if (!p->checked && !check_answer(p))
        return 0;
    /* A GET never writes past offset + size: more bytes than asked (a store ignoring the end of
     * the range, a 200 from 0 with the whole file) would land on another range's bytes. */
    if (p->has_size && n > p->size - p->done) {
        char what[80];
        snprintf(what, sizeof what, "the answer is longer than the %llu bytes asked",
                 (unsigned long long)p->size);
        /* a 200 from 0 is a store that ignored Range: the caller restarts, not fails */
        fail(p, p->range && p->status == 200 ? "range_ignored" : "range_mismatch", what, 0);
        return 0;
    }
    while (off < n) {
        ssize_t w = pwrite(p->fd, ptr + off, n - off, (off_t)(p->offset + p->done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fail(p, "write", "writing the file", w < 0 ? errno : EIO);
            return 0;
        }
        off += (size_t)w;
        p->done += (uint64_t)w;
        p->engine->progress += (uint64_t)w;
    }
    return n;
}

/* Copies a header value without its line end, truncated to the field. */
static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n > 0 && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* Keeps the status, ETag, Content-Range and Content-Length of the last block (a 1xx
 * interim block starts over), bounded like transfer.c's header guard. */
static size_t on_header(char *ptr, size_t size, size_t nitems, void *ud)
{
    kd_part *p = ud;
    size_t n = size * nitems;
    p->header_lines++;
    p->header_bytes += n;
    if (p->header_bytes > MAX_HEADER_BYTES || p->header_lines > MAX_HEADER_LINES) {
        fail(p, "too_large", "the response headers are too large", 0);
        return 0;
    }
    if (n > 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        const char *sp = memchr(ptr, ' ', n);
        p->status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
        p->etag[0] = p->content_range[0] = '\0';
        p->content_length = -1;
    } else if (n > 5 && strncasecmp(ptr, "ETag:", 5) == 0) {
        copy_value(p->etag, sizeof p->etag, ptr + 5, n - 5);
    } else if (n > 14 && strncasecmp(ptr, "Content-Range:", 14) == 0) {
        copy_value(p->content_range, sizeof p->content_range, ptr + 14, n - 14);
    } else if (n > 15 && strncasecmp(ptr, "Content-Length:", 15) == 0) {
        char num[32];
        copy_value(num, sizeof num, ptr + 15, n - 15);
        p->content_length = strtoll(num, NULL, 10);
    }
    return n;
}

/* Points the handle's callbacks, headers and error buffer at part p (NULL: at nothing). */
static void attach(CURL *c, kd_part *p)
{
    curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)p);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, p != NULL ? p->headers : NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, p != NULL ? p->errbuf : NULL);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, p);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(c, CURLOPT_READDATA, p);
    curl_easy_setopt(c, CURLOPT_SEEKDATA, p);
}

int kd_part_start(kd_part *p)
{
    CURL *c = p->easy;
    char range[64];
    p->fd = -1;
    if (p->put && p->data == NULL) {
        p->fd = open(p->path, O_RDONLY | O_CLOEXEC);
        if (p->fd < 0) {
            fail(p, "read", p->path, errno);
            return 0;
        }
    } else if (!p->put) {
        /* O_NOFOLLOW: a link planted at the part file's name is refused, not written through */
        p->fd = open(p->path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (p->fd < 0) {
            fail(p, "write", p->path, errno);
            return 0;
        }
    }
    p->headers = curl_slist_append(NULL, "Accept:");
    if (p->put && p->headers != NULL) {
        struct curl_slist *more = curl_slist_append(p->headers, "Expect:");
        if (more == NULL) {
            curl_slist_free_all(p->headers);
            p->headers = NULL;
        }
    }
    if (p->headers == NULL) {
        fail(p, "transport", "out of memory", 0);
        return 0;
    }
    curl_easy_setopt(c, CURLOPT_URL, p->url);
    attach(c, p);
    /* Every option a transfer may set is set here, to its value or its default: the handle
     * may have carried another transfer, a PUT before a GET or a range before none. */
    curl_easy_setopt(c, CURLOPT_RANGE, NULL);
    if (p->put) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)p->size);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L); /* also ends upload mode */
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)-1);
        if (p->range) {
            if (p->has_size)
                snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)p->offset,
                         (unsigned long long)(p->offset + p->size - 1));
            else
                snprintf(range, sizeof range, "%llu-", (unsigned long long)p->offset);
            curl_easy_setopt(c, CURLOPT_RANGE, range); /* libcurl copies it */
        }
    }
    return 1;
}

CURL *kd_easy_take(kd_engine *e)
{
    CURL *c;
    if (e->nidle > 0)
        return e->idle[--e->nidle];
    c = curl_easy_init();
    if (c == NULL)
        return NULL;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* presigned URLs go straight to the store */
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
    /* Bigger buffers than libcurl's 16/64 KiB: a 1 GiB range then takes ~2k reads and
     * pwrites instead of ~66k (make bench saw 66k each of recvfrom, pwrite64 and poll). They
     * live as long as the handle, which the engine keeps for the next transfer (kd_easy_give):
     * one allocation per transfer in flight, not per part, which also keeps the heap from
     * growing with the part count. */
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, KD_PART_BUFFER);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, KD_PART_BUFFER);
    if (e->connect_ms >= 0)
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, e->connect_ms);
    if (e->timeout_ms >= 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, e->timeout_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, e->low_speed_s);
    if (e->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, e->ca_file);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, e->insecure ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, e->insecure ? 0L : 2L);
    return c;
}

void kd_easy_give(kd_engine *e, CURL **handle)
{
    CURL *c = *handle;
    if (c == NULL)
        return;
    *handle = NULL;
    attach(c, NULL); /* nothing of the finished part stays reachable from the handle */
    if (e->open && e->nidle < (size_t)e->concurrency)
        e->idle[e->nidle++] = c;
    else
        curl_easy_cleanup(c);
}

void kd_easy_drop(kd_engine *e, int abandon)
{
    while (e->nidle > 0) {
        CURL *c = e->idle[--e->nidle];
        if (!abandon)
            curl_easy_cleanup(c);
    }
}

void kd_part_release(kd_part *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    curl_slist_free_all(p->headers);
    p->headers = NULL;
}
