/* bench/raw_multi.c - the limit for calls in flight in this design: N easy handles on one
 * libcurl multi handle, each sent again as soon as it finishes, bodies collected into memory.
 * The same request as bench/raw_curl.c; no Lua, no JSON.
 * usage: raw_multi URL SECONDS HOST N  -> prints "multi<N>_calls_per_s <n>" */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raw_bench.h"

#define MAX_HANDLES 256

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "http://127.0.0.1:8080/koodrive/ose/v1/backup/device";
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    const char *host = argc > 3 ? argv[3] : "127.0.0.1";
    int n = argc > 4 ? atoi(argv[4]) : 16;
    static struct buf bufs[MAX_HANDLES];
    CURL *easy[MAX_HANDLES];
    char hosthdr[256];
    struct curl_slist *h = NULL;
    CURLM *m;
    long calls = 0, warm = 0;
    int running = 0, i;
    double t0 = 0;

    if (n < 1 || n > MAX_HANDLES) {
        fprintf(stderr, "raw_multi: N must be 1..%d\n", MAX_HANDLES);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(hosthdr, sizeof hosthdr, "Host: %s", host);
    h = curl_slist_append(h, hosthdr);
    h = curl_slist_append(h, "User-Agent: koodrive-lua/bench (raw C multi)");
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "X-User-Id: 1505084218764547200");
    h = curl_slist_append(h, "X-Date: 20251217T061900Z");
    h = curl_slist_append(h, "Authorization: Bearer bench-token");
    m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)n);
    for (i = 0; i < n; i++) {
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy[i], CURLOPT_URL, url);
        curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &bufs[i]);
        curl_easy_setopt(easy[i], CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(easy[i], CURLOPT_PRIVATE, &bufs[i]);
        curl_multi_add_handle(m, easy[i]);
    }
    for (;;) {
        CURLMsg *msg;
        int left;
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            CURL *e = msg->easy_handle;
            struct buf *b;
            long status = 0;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&b);
            if (msg->data.result != CURLE_OK || status != 200 || b->n == 0) {
                fprintf(stderr, "raw_multi: request failed (%d, HTTP %ld)\n", msg->data.result,
                        status);
                return 1;
            }
            b->n = 0;
            curl_multi_remove_handle(m, e);
            curl_multi_add_handle(m, e);
            /* The first 200 answers open the connections and warm up; then the clock runs. */
            if (warm < 200) {
                if (++warm == 200)
                    t0 = now();
            } else {
                calls++;
            }
        }
        if (warm >= 200 && now() - t0 >= seconds)
            break;
        curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    printf("multi%d_calls_per_s %.1f\n", n, calls / (now() - t0));
    for (i = 0; i < n; i++) {
        curl_multi_remove_handle(m, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(h);
    curl_global_cleanup();
    return 0;
}
