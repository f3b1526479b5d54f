/*
 * cron.h - schedules of a keeper's periodic workflows (docs/schedules.md):
 * a five-field cron expression or an interval, parsed into a bit set per
 * field, and the next time one fires after a given time. Pure functions of
 * seconds since 1970 UTC: the caller supplies the wall clock (the core has
 * none), so a test can step through any date.
 * Depends on stdint/stdbool/stddef only.
 */
#ifndef FL_CRON_H
#define FL_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest schedule text accepted, in bytes. */
#define FL_CRON_MAX_TEXT 120
/* @every: from 1 s to 366 days. */
#define FL_CRON_MAX_EVERY_S (366u * 86400u)

typedef struct fl_cron {
    uint64_t minute;  /* bit n: minute n (0-59) */
    uint32_t hour;    /* 0-23 */
    uint32_t dom;     /* 1-31 */
    uint16_t month;   /* 1-12 */
    uint8_t dow;      /* 0-6, Sunday 0 (7 is read as 0) */
    /* Vixie cron's rule: when neither day field starts with '*', a day
     * matches when either does; otherwise both must (a '*' matches all). */
    bool dom_star, dow_star;
    uint32_t every_s; /* @every N: fires every N s; 0 for a cron schedule */
} fl_cron;

/*
 * Parse text: "m h dom mon dow" (each field '*', a number, a name for
 * month and day of week (jan..dec, sun..sat), a range a-b, a step (star, slash, n),
 * a-b/n or a/n (a to the field's end), or a comma list of them), one of
 * @yearly @annually @monthly @weekly @daily @midnight @hourly, or
 * "@every DURATION" (DURATION: numbers with units s, m, h, d, as "90s" or
 * "1h30m"). true on success; false with a one-line reason in err naming
 * the field: "cron field 2 (hour): 25 is out of range 0-23".
 */
bool fl__cron_parse(const char *text, fl_cron *out, char *err, size_t errlen);

/*
 * The first time (s since 1970 UTC) strictly after `after` at which a cron
 * schedule fires, to the minute; 0 when it never does within 8 years
 * (like "0 0 30 2 *"). For an @every schedule: after + every_s.
 */
uint64_t fl__cron_next(const fl_cron *c, uint64_t after);

/* Days since 1970-01-01 to (year, month 1-12, day 1-31) and back, in the
 * proleptic Gregorian calendar (years 1970..9999). */
int64_t fl__days_from_civil(int64_t y, unsigned m, unsigned d);
void fl__civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
