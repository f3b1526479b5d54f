/*
 * eta.c - fl_eta_parse: an absolute time for the `eta` option, as ISO
 * 8601 text or Unix seconds, into milliseconds since 1970 UTC. Pure
 * arithmetic (no time zone database, no clock): the owner turns the time
 * into a delay with the wall clock its driver gives it (owner.c).
 * Depends on the public header only.
 */
#include <stddef.h>
#include <stdint.h>

#include "floret/floret.h"

/* n digits at *p (advanced), or -1. */
static int64_t digits(const char **p, int n)
{
    int64_t x = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        x = x * 10 + (**p - '0');
    }
    return x;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t month_days(int64_t y, int64_t m)
{
    static const int8_t n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : n[m - 1];
}

/* ".fff": milliseconds (more digits are dropped), or 0 without a dot. */
static bool fraction_ms(const char **p, int64_t *ms)
{
    *ms = 0;
    if (**p != '.')
        return true;
    (*p)++;
    int n = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++, n++)
        if (n < 3)
            *ms = *ms * 10 + (**p - '0');
    for (int k = n; k < 3; k++)
        *ms *= 10;
    return n > 0;
}

/* "Z", "+HH:MM" or "-HH:MM": seconds east of UTC. */
static bool zone(const char **p, int64_t *east)
{
    if (**p == 'Z' || **p == 'z') {
        (*p)++;
        *east = 0;
        return true;
    }
    if (**p != '+' && **p != '-')
        return false;
    int64_t sign = **p == '-' ? -1 : 1;
    (*p)++;
    int64_t h = digits(p, 2), m = 0;
    if (**p == ':')
        (*p)++;
    if (**p)
        m = digits(p, 2);
    if (h < 0 || h > 23 || m < 0 || m > 59)
        return false;
    *east = sign * (h * 3600 + m * 60);
    return true;
}

static fl_status iso_8601(const char *p, uint64_t *unix_ms)
{
    int64_t y = digits(&p, 4), mo, d, h, mi, sec = 0, ms = 0, east;
    if (y < 1970 || *p++ != '-' || (mo = digits(&p, 2)) < 1 || mo > 12 ||
        *p++ != '-' || (d = digits(&p, 2)) < 1 || d > month_days(y, mo) ||
        (*p != 'T' && *p != 't' && *p != ' '))
        return FL_EINVAL;
    p++;
    if ((h = digits(&p, 2)) < 0 || h > 23 || *p++ != ':' ||
        (mi = digits(&p, 2)) < 0 || mi > 59)
        return FL_EINVAL;
    if (*p == ':' && (p++, (sec = digits(&p, 2)) < 0 || sec > 60))
        return FL_EINVAL;
    if (!fraction_ms(&p, &ms) || !zone(&p, &east) || *p)
        return FL_EINVAL;
    int64_t s = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
                sec - east;
    if (s < 0)
        return FL_EINVAL;
    *unix_ms = (uint64_t)s * 1000u + (uint64_t)ms;
    return FL_OK;
}

fl_status fl_eta_parse(const char *text, uint64_t *unix_ms)
{
    if (!text || !unix_ms || !*text)
        return FL_EINVAL;
    const char *p = text;
    uint64_t s = 0;
    int n = 0;
    for (; *p >= '0' && *p <= '9'; p++, n++) {
        if (n == 12)
            return FL_EINVAL; /* past the year 9999 anyway */
        s = s * 10 + (uint64_t)(*p - '0');
    }
    if (n >= 1 && (*p == '\0' || *p == '.')) {
        int64_t ms;
        if (!fraction_ms(&p, &ms) || *p || s > 253402300799u)
            return FL_EINVAL;
        *unix_ms = s * 1000u + (uint64_t)ms;
        return FL_OK;
    }
    return iso_8601(text, unix_ms);
}
