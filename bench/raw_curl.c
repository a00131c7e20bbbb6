/* bench/raw_curl.c - the limit for koodrive's design: one reused libcurl easy handle doing
 * the same GET (same URL, same headers) in a loop, body collected into memory.
 * usage: raw_curl URL SECONDS  -> prints "calls_per_s <n>" */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raw_bench.h"

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "http://127.0.0.1:8080/koodrive/ose/v1/backup/device";
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    const char *host = argc > 3 ? argv[3] : "127.0.0.1";
    char hosthdr[256], datehdr[64];
    struct curl_slist *h = NULL;
    struct buf b;
    CURL *e;
    long calls = 0, status = 0;
    double t0, t;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    e = curl_easy_init();
    snprintf(hosthdr, sizeof hosthdr, "Host: %s", host);
    {
        time_t tt = time(NULL);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(datehdr, sizeof datehdr, "X-Date: %Y%m%dT%H%M%SZ", &tm);
    }
    h = curl_slist_append(h, hosthdr);
    h = curl_slist_append(h, "User-Agent: koodrive-lua/bench (raw C)");
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "X-User-Id: 1505084218764547200");
    h = curl_slist_append(h, datehdr);
    h = curl_slist_append(h, "Authorization: Bearer bench-token");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);

    /* warm-up: connect once */
    for (int i = 0; i < 200; i++) {
        b.n = 0;
        if (curl_easy_perform(e) != CURLE_OK) {
            fprintf(stderr, "raw_curl: request failed\n");
            return 1;
        }
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200 || b.n == 0) {
        fprintf(stderr, "raw_curl: HTTP %ld\n", status);
        return 1;
    }
    t0 = now();
    do {
        for (int i = 0; i < 100; i++) {
            b.n = 0;
            if (curl_easy_perform(e) != CURLE_OK) {
                fprintf(stderr, "raw_curl: request failed\n");
                return 1;
            }
            calls++;
        }
        t = now();
    } while (t - t0 < seconds);
    printf("calls_per_s %.1f\n", calls / (t - t0));
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    curl_global_cleanup();
    return 0;
}
