/*
 * test_cron.c - the schedules of periodic workflows (src/core/cron.c):
 * the parser accepts standard five-field cron (lists, ranges, steps,
 * names), the @ macros and @every, and names the field and what is wrong
 * otherwise; the next fire time walks month ends, leap days (2100 is no
 * leap year), year ends, and Vixie cron's day-of-month OR day-of-week
 * rule; and it agrees with a brute-force minute-by-minute scan.
 */
#include <stdlib.h>

#include "cron.h"
#include "test.h"

/* Seconds since 1970 of a UTC date and time. */
static uint64_t at(int y, unsigned mo, unsigned d, unsigned h, unsigned mi)
{
    return (uint64_t)fl__days_from_civil(y, mo, d) * 86400u + h * 3600u +
           mi * 60u;
}

static fl_cron parsed(const char *text)
{
    fl_cron c;
    char err[200];
    bool ok = fl__cron_parse(text, &c, err, sizeof err);
    if (!ok)
        fprintf(stderr, "parse '%s': %s\n", text, err);
    CHECK(ok);
    return c;
}

static uint64_t next_of(const char *text, uint64_t after)
{
    fl_cron c = parsed(text);
    return fl__cron_next(&c, after);
}

static void check_error(const char *text, const char *want)
{
    fl_cron c;
    char err[200] = "";
    CHECK(!fl__cron_parse(text, &c, err, sizeof err));
    if (strcmp(err, want) != 0)
        fprintf(stderr, "'%s': got '%s', want '%s'\n", text, err, want);
    CHECK_STR(err, want);
}

static void test_civil(void)
{
    CHECK_EQ(fl__days_from_civil(1970, 1, 1), 0);
    CHECK_EQ(fl__days_from_civil(2000, 3, 1), 11017);
    CHECK_EQ(at(2026, 12, 2, 16, 53), 1796230380u);
    for (int64_t z = 0; z < 200 * 366; z += 17) {
        int64_t y;
        unsigned m, d;
        fl__civil_from_days(z, &y, &m, &d);
        CHECK_EQ(fl__days_from_civil(y, m, d), z);
    }
}

static void test_fields(void)
{
    fl_cron c = parsed("*/15 9-17 * * mon-fri");
    CHECK_EQ(c.minute, (1ull << 0) | (1ull << 15) | (1ull << 30) | (1ull << 45));
    CHECK_EQ(c.hour, 0x3fe00u);
    CHECK_EQ(c.dow, 0x3eu);
    CHECK(c.dom_star && !c.dow_star);
    c = parsed("0,30 0 1,15 JAN,jul Sun");
    CHECK_EQ(c.month, (1u << 1) | (1u << 7));
    CHECK_EQ(c.dom, (1u << 1) | (1u << 15));
    CHECK_EQ(c.dow, 1u);
    c = parsed("0 0 * * 7"); /* 7 is Sunday too */
    CHECK_EQ(c.dow, 1u);
    c = parsed("0 0 * * 5-7");
    CHECK_EQ(c.dow, 0x61u);
    c = parsed("5/20 1-10/3 * * *"); /* a/n: from a to the end */
    CHECK_EQ(c.minute, (1ull << 5) | (1ull << 25) | (1ull << 45));
    CHECK_EQ(c.hour, (1u << 1) | (1u << 4) | (1u << 7) | (1u << 10));
    c = parsed("  @HOURLY ");
    CHECK_EQ(c.minute, 1u);
    CHECK_EQ(c.hour, 0xffffffu);
    c = parsed("@every 10s");
    CHECK_EQ(c.every_s, 10);
    c = parsed("@every 1h30m");
    CHECK_EQ(c.every_s, 5400);
    c = parsed("@every 2d");
    CHECK_EQ(c.every_s, 172800);
}

static void test_errors(void)
{
    check_error("0 25 * * *", "cron field 2 (hour): 25 is out of range 0-23");
    check_error("60 * * * *", "cron field 1 (minute): 60 is out of range 0-59");
    check_error("* * 0 * *", "cron field 3 (day-of-month): 0 is out of range 1-31");
    check_error("* * * 13 *", "cron field 4 (month): 13 is out of range 1-12");
    check_error("* * * * 8", "cron field 5 (day-of-week): 8 is out of range 0-7");
    check_error("* * * * fun", "cron field 5 (day-of-week): unknown name 'fun' "
                "(expected sun..sat)");
    check_error("* * * foo *", "cron field 4 (month): unknown name 'foo' "
                "(expected jan..dec)");
    check_error("* x * * *", "cron field 2 (hour): 'x' is not a number");
    check_error("*/0 * * * *", "cron field 1 (minute): step 0 is out of range 1-59");
    check_error("*/ * * * *", "cron field 1 (minute): a step needs a number after '/'");
    check_error("10-5 * * * *", "cron field 1 (minute): range 10-5 goes backwards");
    check_error("1,,2 * * * *", "cron field 1 (minute): empty list item");
    check_error("1-2-3 * * * *", "cron field 1 (minute): unexpected '-'");
    check_error("* * * *", "cron: expected 5 fields (minute hour day-of-month "
                "month day-of-week), @hourly, @daily, @weekly, @monthly, "
                "@yearly or @every DURATION; got 4 fields");
    check_error("", "cron: expected 5 fields (minute hour day-of-month "
                "month day-of-week), @hourly, @daily, @weekly, @monthly, "
                "@yearly or @every DURATION; got 0 fields");
    check_error("@reboot", "cron: unknown '@reboot' (expected @yearly, "
                "@annually, @monthly, @weekly, @daily, @midnight, @hourly or @every)");
    check_error("@daily 5", "cron: @daily takes nothing after it");
    check_error("@every", "cron: @every needs a duration, as 10s, 5m or 1h30m");
    check_error("@every 10", "cron: @every: 10 needs a unit (s, m, h or d)");
    check_error("@every 10x", "cron: @every: unknown unit 'x' (use s, m, h or d)");
    check_error("@every 0s", "cron: @every: the interval must be from 1s to 366d");
    check_error("@every 367d", "cron: @every: the interval must be from 1s to 366d");
    check_error("@every 5s 3", "cron: @every: unexpected '3' after the duration");
    fl_cron c;
    CHECK(!fl__cron_parse(NULL, &c, NULL, 0));
    char longer[200];
    memset(longer, '1', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    CHECK(!fl__cron_parse(longer, &c, NULL, 0));
    check_error("99999999999999999999 * * * *",
                "cron field 1 (minute): 100000 is out of range 0-59");
}

static void test_next(void)
{
    uint64_t t = at(2026, 12, 2, 16, 53);
    CHECK_EQ(next_of("* * * * *", t), at(2026, 12, 2, 16, 54));
    CHECK_EQ(next_of("* * * * *", t + 59), at(2026, 12, 2, 16, 54));
    CHECK_EQ(next_of("@hourly", t), at(2026, 12, 2, 17, 0));
    CHECK_EQ(next_of("@daily", t), at(2026, 12, 3, 0, 0));
    CHECK_EQ(next_of("@weekly", t), at(2026, 12, 6, 0, 0)); /* a Sunday */
    CHECK_EQ(next_of("@monthly", t), at(2027, 1, 1, 0, 0));
    CHECK_EQ(next_of("@yearly", t), at(2027, 1, 1, 0, 0));
    CHECK_EQ(next_of("30 2 * * *", t), at(2026, 12, 3, 2, 30));
    /* month ends: the 31st skips the months without one */
    CHECK_EQ(next_of("0 0 31 * *", at(2027, 1, 31, 0, 0)), at(2027, 3, 31, 0, 0));
    CHECK_EQ(next_of("0 12 30 * *", at(2027, 1, 30, 12, 0)), at(2027, 3, 30, 12, 0));
    /* Feb 29: leap years only, and 2100 is none */
    CHECK_EQ(next_of("0 0 29 2 *", t), at(2028, 2, 29, 0, 0));
    CHECK_EQ(next_of("0 0 29 2 *", at(2096, 2, 29, 0, 0)), at(2104, 2, 29, 0, 0));
    CHECK_EQ(next_of("0 0 30 2 *", t), 0); /* never */
    /* year end */
    CHECK_EQ(next_of("59 23 31 12 *", at(2026, 12, 31, 23, 59)),
             at(2027, 12, 31, 23, 59));
    /* Vixie: both day fields given: either matches */
    CHECK_EQ(next_of("0 0 13 * fri", at(2026, 12, 2, 0, 0)), at(2026, 12, 4, 0, 0));
    CHECK_EQ(next_of("0 0 13 * fri", at(2026, 12, 11, 0, 0)), at(2026, 12, 13, 0, 0));
    /* one of them '*': the other decides */
    CHECK_EQ(next_of("0 0 * * fri", at(2026, 12, 4, 0, 0)), at(2026, 12, 11, 0, 0));
    CHECK_EQ(next_of("0 0 13 * *", at(2026, 12, 4, 0, 0)), at(2026, 12, 13, 0, 0));
    /* a field starting with '*' counts as '*' (Vixie's quirk) */
    CHECK_EQ(next_of("0 0 */10 * mon", at(2026, 12, 1, 0, 0)), at(2026, 12, 21, 0, 0));
    /* @every: after + N */
    CHECK_EQ(next_of("@every 10s", t + 7), t + 17);
}

/* Brute force: the first whole minute after `after` that matches. */
static bool minute_matches(const fl_cron *c, uint64_t t)
{
    int64_t days = (int64_t)(t / 86400), y;
    unsigned m, d, secs = (unsigned)(t % 86400);
    fl__civil_from_days(days, &y, &m, &d);
    bool by_dom = (c->dom >> d) & 1u, by_dow = (c->dow >> ((days + 4) % 7)) & 1u;
    bool day = c->dom_star || c->dow_star ? by_dom && by_dow : by_dom || by_dow;
    return ((c->month >> m) & 1u) && day && ((c->hour >> (secs / 3600)) & 1u) &&
           ((c->minute >> (secs % 3600 / 60)) & 1u);
}

static void test_against_scan(void)
{
    static const char *const exprs[] = {
        "*/7 */5 * * *", "0 0 1,15 * 3", "15 10 * feb-apr sat", "0 */6 31 * *",
        "1-5 2 29 2 *", "*/20 * 10-12 * mon,fri", "0 0 * 6 1-5",
    };
    srand(7);
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        fl_cron c = parsed(exprs[e]);
        for (int k = 0; k < 20; k++) {
            uint64_t after = at(2026, 1, 1, 0, 0) +
                             (uint64_t)rand() % (4u * 365u * 86400u);
            uint64_t want = after - after % 60 + 60;
            while (!minute_matches(&c, want) && want < after + 9u * 366u * 86400u)
                want += 60;
            uint64_t got = fl__cron_next(&c, after);
            if (got != want)
                fprintf(stderr, "'%s' after %llu: %llu != %llu\n", exprs[e],
                        (unsigned long long)after, (unsigned long long)got,
                        (unsigned long long)want);
            CHECK_EQ(got, want);
        }
    }
}

int main(void)
{
    RUN(test_civil);
    RUN(test_fields);
    RUN(test_errors);
    RUN(test_next);
    RUN(test_against_scan);
    return TEST_DONE();
}
