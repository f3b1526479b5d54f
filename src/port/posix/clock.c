/*
 * clock.c - the port's only clock: monotonic microseconds for the core and
 * absolute deadlines for condition variables on the same clock, so a wall
 * clock jump never stretches or cuts a wait.
 * Depends on POSIX time and pthreads.
 */
#include "posix.h"

#include <time.h>

uint64_t fl__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int fl__cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

struct timespec fl__deadline_at_us(uint64_t us)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(us / 1000000u);
    ts.tv_nsec = (long)(us % 1000000u) * 1000L;
    return ts;
}

struct timespec fl__deadline_after_ms(uint64_t ms)
{
    /* Far-away deadlines are capped at a year so the sum cannot wrap. */
    if (ms > 365ull * 24 * 3600 * 1000)
        ms = 365ull * 24 * 3600 * 1000;
    return fl__deadline_at_us(fl__now_us() + ms * 1000u);
}
