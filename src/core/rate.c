/*
 * rate.c - rate limit specs ("10/s") and the worker's per-name buckets
 * (rate.h). A worker starts a rate-limited task only when its name's
 * bucket holds a token; the rest wait in the worker's queue, holding no
 * slot, and the tick wakes them (worker.c).
 * Depends on rate.h and the C library's string functions.
 */
#include <stdio.h>
#include <string.h>

#include "rate.h"

bool fl__rate_parse(const char *s, size_t len, fl_rate_spec *out)
{
    size_t i = 0;
    uint32_t n = 0;
    if (!s || len == 0)
        return false;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        n = n * 10u + (uint32_t)(s[i] - '0');
        if (n > FL_RATE_MAX_N)
            return false;
        i++;
    }
    if (i == 0 || n == 0)
        return false;
    char unit = 's';
    if (i < len) {
        if (s[i] != '/' || i + 2 != len)
            return false;
        unit = s[i + 1];
        if (unit != 's' && unit != 'm' && unit != 'h')
            return false;
    }
    out->n = n;
    out->unit = unit;
    return true;
}

uint64_t fl__rate_interval_us(fl_rate_spec r)
{
    uint64_t period = r.unit == 'h' ? 3600000000ull
                      : r.unit == 'm' ? 60000000ull
                                      : 1000000ull;
    uint64_t us = r.n ? period / r.n : period;
    return us ? us : 1;
}

void fl__rate_format(fl_rate_spec r, char out[FL_RATE_TEXT])
{
    snprintf(out, FL_RATE_TEXT, "%u/%c", (unsigned)r.n, r.unit);
}

static fl_rate_slot *slot_for(fl_rates *r, const char *name, uint64_t now,
                              uint64_t *busy_until)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->s[i].name, name) == 0)
            return &r->s[i];
    fl_rate_slot *s = NULL;
    if (r->n < FL_RATE_NAMES) {
        s = &r->s[r->n++];
    } else {
        /* A bucket that is full again says nothing a new one would not:
         * forget it. */
        *busy_until = UINT64_MAX;
        for (size_t i = 0; i < r->n && !s; i++) {
            if (r->s[i].next_at <= now)
                s = &r->s[i];
            else if (r->s[i].next_at < *busy_until)
                *busy_until = r->s[i].next_at;
        }
        if (!s)
            return NULL;
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    s->next_at = 0;
    return s;
}

bool fl__rate_take(fl_rates *r, const char *name, uint64_t interval_us,
                   uint64_t now, uint64_t *when)
{
    uint64_t busy_until = now;
    fl_rate_slot *s = slot_for(r, name, now, &busy_until);
    if (!s) {
        *when = busy_until;
        return false;
    }
    if (now < s->next_at) {
        *when = s->next_at;
        return false;
    }
    s->next_at = now + interval_us;
    return true;
}
