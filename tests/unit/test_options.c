/*
 * test_options.c - the pure parts of the task options: rate limit specs
 * and the worker's per-name buckets (rate.c), and absolute times for eta
 * (fl_eta_parse, eta.c).
 * Depends on the core's rate.h, the public header and test.h.
 */
#include <string.h>

#include "floret/floret.h"
#include "rate.h"
#include "test.h"

static uint64_t interval(const char *spec)
{
    fl_rate_spec r;
    if (!fl__rate_parse(spec, strlen(spec), &r))
        return 0;
    return fl__rate_interval_us(r);
}

static void test_rate_specs(void)
{
    CHECK_EQ(interval("10/s"), 100000);
    CHECK_EQ(interval("100/m"), 600000);
    CHECK_EQ(interval("5/h"), 720000000);
    CHECK_EQ(interval("4"), 250000); /* per second, as in Celery */
    CHECK_EQ(interval("1000000/s"), 1);
    static const char *const bad[] = {"", "0/s", "/s", "10/", "10/d", "10/ss",
                                      "-1/s", "1.5/s", "10 /s", "1000001/s",
                                      "99999999999/s", "s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (interval(bad[i]) != 0)
            T_FAILED("'%s' was taken as a rate", bad[i]);
    fl_rate_spec r = {100, 'm'};
    char text[FL_RATE_TEXT];
    fl__rate_format(r, text);
    CHECK_STR(text, "100/m");
}

static void test_rate_bucket(void)
{
    static fl_rates rates;
    memset(&rates, 0, sizeof rates);
    uint64_t when = 0, now = 1000;
    /* One token: the first starts at once, the next one interval later. */
    CHECK(fl__rate_take(&rates, "a", 200, now, &when));
    CHECK(!fl__rate_take(&rates, "a", 200, now + 199, &when));
    CHECK_EQ(when, now + 200);
    CHECK(fl__rate_take(&rates, "a", 200, now + 200, &when));
    /* Names are apart. */
    CHECK(fl__rate_take(&rates, "b", 200, now + 200, &when));
    /* No burst after a quiet time either. */
    CHECK(fl__rate_take(&rates, "a", 200, now + 10000, &when));
    CHECK(!fl__rate_take(&rates, "a", 200, now + 10001, &when));
    /* Every bucket busy: a new name waits for the first to free. */
    memset(&rates, 0, sizeof rates);
    char name[16];
    for (int i = 0; i < FL_RATE_NAMES; i++) {
        snprintf(name, sizeof name, "n%d", i);
        CHECK(fl__rate_take(&rates, name, 1000u + (unsigned)i, now, &when));
    }
    CHECK(!fl__rate_take(&rates, "new", 50, now + 1, &when));
    CHECK_EQ(when, now + 1000);
    CHECK(fl__rate_take(&rates, "new", 50, now + 1000, &when));
    CHECK_EQ(rates.n, FL_RATE_NAMES);
}

static void test_eta_parse(void)
{
    static const struct { const char *text; uint64_t ms; } good[] = {
        {"2026-12-02T18:00:00Z", 1796234400000ull},
        {"2026-12-02t18:00:00z", 1796234400000ull},
        {"2026-12-02 18:00:00Z", 1796234400000ull},
        {"2026-12-02T18:00Z", 1796234400000ull},
        {"2026-12-02T18:00:00.25Z", 1796234400250ull},
        {"2026-12-02T18:00:00.123456Z", 1796234400123ull},
        {"2026-12-02T19:30:00+01:30", 1796234400000ull},
        {"2026-12-02T16:00:00-02:00", 1796234400000ull},
        {"2026-12-02T18:00:00+00:00", 1796234400000ull},
        {"2024-02-29T00:00:00Z", 1709164800000ull},
        {"1970-01-01T00:00:00Z", 0},
        {"1796234400", 1796234400000ull},
        {"1796234400.5", 1796234400500ull},
        {"0", 0},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t ms = 1;
        if (fl_eta_parse(good[i].text, &ms) != FL_OK || ms != good[i].ms)
            T_FAILED("'%s': got %llu, want %llu", good[i].text,
                     (unsigned long long)ms, (unsigned long long)good[i].ms);
    }
    static const char *const bad[] = {
        "", "tomorrow", "2026-12-02", "2026-12-02T18:00:00",
        "2026-13-02T18:00:00Z", "2026-02-30T18:00:00Z", "2025-02-29T00:00:00Z",
        "2026-12-02T24:00:00Z", "2026-12-02T18:60:00Z", "2026-12-02T18:00:00ZZ",
        "2026-12-02T18:00:00.Z", "1969-12-31T23:59:59Z", "-5", "12.", "1e9",
        "999999999999", "2026-12-02T18:00:00+25:00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ms;
        if (fl_eta_parse(bad[i], &ms) != FL_EINVAL)
            T_FAILED("'%s' was taken as a time", bad[i]);
    }
    uint64_t ms;
    CHECK_EQ(fl_eta_parse(NULL, &ms), FL_EINVAL);
}

int main(void)
{
    RUN(test_rate_specs);
    RUN(test_rate_bucket);
    RUN(test_eta_parse);
    return TEST_DONE();
}
