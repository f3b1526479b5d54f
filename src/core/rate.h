/*
 * rate.h - rate limits per task name (fl_call_options.rate_limit, a
 * lease's `rate_limit`, docs/protocol.md 3.4): reading a spec such as
 * "10/s" and the worker's buckets that space the starts of one name.
 * Depends on defaults.h only.
 */
#ifndef FL_RATE_H
#define FL_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "defaults.h"

/* A spec: n tasks per unit ('s', 'm' or 'h'). */
typedef struct fl_rate_spec {
    uint32_t n;
    char unit;
} fl_rate_spec;

/* The largest n a spec may give (a million a second is no limit at all). */
#define FL_RATE_MAX_N 1000000u

/* Read "N/s", "N/m", "N/h" or "N" (per second, as Celery reads it), N a
 * whole number from 1 to FL_RATE_MAX_N, len bytes of s. false when it is
 * not such a spec. */
bool fl__rate_parse(const char *s, size_t len, fl_rate_spec *out);

/* The time between two starts the spec allows, in microseconds (>= 1). */
uint64_t fl__rate_interval_us(fl_rate_spec r);

/* The spec as text ("10/s"): at most FL_RATE_TEXT bytes with the NUL. */
#define FL_RATE_TEXT 16
void fl__rate_format(fl_rate_spec r, char out[FL_RATE_TEXT]);

/* How many task names one worker tracks at once. */
#ifndef FL_RATE_NAMES
#define FL_RATE_NAMES FL__PICK(32, 4)
#endif

/* The worker's buckets: per task name, the earliest time its next task
 * may start. A bucket holds one token, as Celery's (kombu's TokenBucket
 * with capacity 1): starts are spaced by the interval, with no burst. */
typedef struct fl_rate_slot {
    char name[FL_MAX_ID_BUF];
    uint64_t next_at;
} fl_rate_slot;

typedef struct fl_rates {
    fl_rate_slot s[FL_RATE_NAMES];
    size_t n;
} fl_rates;

/* May a task named name, limited to one start per interval_us, start at
 * now? If so its start is counted (true). If not, *when gets the time it
 * may (false). With every bucket busy and none for name, it waits for the
 * first to free. */
bool fl__rate_take(fl_rates *r, const char *name, uint64_t interval_us,
                   uint64_t now, uint64_t *when);

#endif
