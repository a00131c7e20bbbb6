/* bench/dlopen.c - the floor under `require "koodrive"`: milliseconds to dlopen the shared
 * libraries koodrive.core links (libcurl.so.4 pulls ~30 more on Debian), best of one run.
 * usage: dlopen  -> prints "dlopen_ms <n>" */
#include <dlfcn.h>
#include <stdio.h>
#include <time.h>

int main(void)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (!dlopen("libcrypto.so.3", RTLD_NOW) || !dlopen("libcurl.so.4", RTLD_NOW)) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("dlopen_ms %.3f\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
    return 0;
}
