/*
 * dtoa.c - how fast a JSON number that is not an integer is written: the
 * hosted way (snprintf "%.15g", strtod to check, "%.17g" when it does not
 * read back; src/core/buf.c without FL_PORTABLE_DTOA) against fl__dtoa
 * (src/core/dtoa.c, the small profile's, no printf floating point), on
 * three sets of 200,000 doubles. Prints ns per number, best of 5 runs.
 * Usage: dtoa. Depends on src/core/dtoa.h and the C library.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtoa.h"

#define N 200000

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static size_t hosted(double x, char *tmp)
{
    snprintf(tmp, 40, "%.15g", x);
    if (strtod(tmp, NULL) != x)
        snprintf(tmp, 40, "%.17g", x);
    return strlen(tmp);
}

static size_t portable(double x, char *tmp)
{
    return fl__dtoa(x, tmp);
}

static double best_ns(size_t (*fn)(double, char *), const double *v,
                      size_t *sink)
{
    char tmp[40];
    double best = 1e30;
    for (int run = 0; run < 5; run++) {
        double t0 = now_s();
        for (int i = 0; i < N; i++)
            *sink += fn(v[i], tmp);
        double ns = (now_s() - t0) / N * 1e9;
        if (ns < best)
            best = ns;
    }
    return best;
}

int main(void)
{
    static double v[N];
    static const char *names[] = {"uniform in [0, 1)", "i / 100 + 0.01",
                                  "1e-300 .. 1e300"};
    uint64_t s = 88172645463325252ull;
    size_t sink = 0;
    printf("%-20s %22s %14s\n", "doubles", "snprintf+strtod ns", "fl__dtoa ns");
    for (int set = 0; set < 3; set++) {
        for (int i = 0; i < N; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            double u = (double)(s >> 11) * 0x1p-53;
            v[i] = set == 0   ? u
                   : set == 1 ? (double)(i % 100000) / 100.0 + 0.01
                              : u * pow(10.0, (double)((int)(s % 600) - 300));
        }
        double a = best_ns(hosted, v, &sink);
        double b = best_ns(portable, v, &sink);
        printf("%-20s %22.0f %14.0f\n", names[set], a, b);
    }
    return sink == 0;
}
