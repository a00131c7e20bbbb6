/* bench/raw_bench.h - what the raw libcurl baselines (raw_curl.c, raw_multi.c) share: a
 * monotonic clock, and callbacks that collect the body into memory and drop the headers. */
#ifndef KOODRIVE_RAW_BENCH_H
#define KOODRIVE_RAW_BENCH_H
#include <curl/curl.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct buf {
    char data[65536];
    size_t n;
};

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    struct buf *b = ud;
    size_t n = sz * nm;
    if (b->n + n > sizeof b->data)
        return 0;
    memcpy(b->data + b->n, p, n);
    b->n += n;
    return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    (void)p;
    (void)ud;
    return sz * nm;
}

#endif
