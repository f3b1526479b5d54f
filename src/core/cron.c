/*
 * cron.c - cron expressions and intervals for a keeper's schedules
 * (cron.h, docs/schedules.md): the parser, which names the field and what
 * is wrong, and the next fire time, computed on a broken-down UTC time
 * that this file derives itself from seconds since 1970 (no time.h: the
 * core is sans-I/O and has no clock or time zone database).
 * Depends on cron.h and the C library's snprintf/strlen.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cron.h"

typedef struct field_def {
    const char *name;
    unsigned lo, hi;
    const char *const *names; /* names[i] is value lo + i, or NULL */
} field_def;

static const char *const month_names[] = {"jan", "feb", "mar", "apr",
                                          "may", "jun", "jul", "aug",
                                          "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu",
                                        "fri", "sat", NULL};

static const field_def fields[5] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},
    {"month", 1, 12, month_names},
    {"day-of-week", 0, 7, dow_names},
};

static const struct {
    const char *name, *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_space(char ch) { return ch == ' ' || ch == '\t'; }

/* Case-insensitive: the n bytes at s are word. */
static bool same_word(const char *s, size_t n, const char *word)
{
    if (strlen(word) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != word[i])
            return false;
    return true;
}

/* The parser's place: which field, and where the error goes. */
typedef struct parser {
    int field;       /* 0..4 */
    char *err;
    size_t errlen;
} parser;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static bool fail(parser *p, const char *fmt, ...);

static bool fail(parser *p, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (p->field >= 0)
        snprintf(p->err, p->errlen, "cron field %d (%s): %s", p->field + 1,
                 fields[p->field].name, why);
    else
        snprintf(p->err, p->errlen, "cron: %s", why);
    return false;
}

/* A number or (for month and day of week) a name at s[*i..end). */
static bool read_value(parser *p, const char *s, size_t *i, size_t end,
                       unsigned *out)
{
    const field_def *f = &fields[p->field];
    size_t start = *i;
    if (*i < end && is_digit(s[*i])) {
        unsigned long v = 0;
        while (*i < end && is_digit(s[*i])) {
            v = v * 10 + (unsigned)(s[*i] - '0');
            if (v > 100000)
                v = 100000; /* reported as out of range below */
            (*i)++;
        }
        if (v < f->lo || v > f->hi)
            return fail(p, "%lu is out of range %u-%u", v, f->lo, f->hi);
        *out = (unsigned)v;
        return true;
    }
    while (*i < end && ((lower(s[*i]) >= 'a' && lower(s[*i]) <= 'z')))
        (*i)++;
    size_t n = *i - start;
    if (n == 0) {
        if (start >= end)
            return fail(p, "a value is missing");
        return fail(p, "unexpected '%c'", s[start]);
    }
    for (unsigned k = 0; f->names && f->names[k]; k++)
        if (same_word(s + start, n, f->names[k])) {
            *out = f->lo + k;
            return true;
        }
    if (f->names)
        return fail(p, "unknown name '%.*s' (expected %s)", (int)(n > 20 ? 20 : n),
                    s + start, p->field == 3 ? "jan..dec" : "sun..sat");
    return fail(p, "'%.*s' is not a number", (int)(n > 20 ? 20 : n), s + start);
}

/* One item of a comma list, s[start..end): a star, v or a-b, with /step. */
static bool parse_item(parser *p, const char *s, size_t start, size_t end,
                       uint64_t *bits)
{
    const field_def *f = &fields[p->field];
    unsigned lo = f->lo, hi = f->hi, step = 1;
    size_t i = start;
    bool ranged = false;
    if (i == end)
        return fail(p, "empty list item");
    if (s[i] == '*') {
        i++;
        ranged = true;
        if (p->field == 4)
            hi = 6; /* 7 is Sunday again */
    } else {
        if (!read_value(p, s, &i, end, &lo))
            return false;
        hi = lo;
        if (i < end && s[i] == '-') {
            i++;
            ranged = true;
            if (!read_value(p, s, &i, end, &hi))
                return false;
            if (hi < lo)
                return fail(p, "range %u-%u goes backwards", lo, hi);
        }
    }
    if (i < end && s[i] == '/') {
        i++;
        if (i == end || !is_digit(s[i]))
            return fail(p, "a step needs a number after '/'");
        unsigned long v = 0;
        while (i < end && is_digit(s[i])) {
            v = v * 10 + (unsigned)(s[i] - '0');
            if (v > 100000)
                v = 100000;
            i++;
        }
        if (v == 0 || v > f->hi)
            return fail(p, "step %lu is out of range 1-%u", v, f->hi);
        step = (unsigned)v;
        if (!ranged)
            hi = p->field == 4 ? 6 : f->hi; /* a/n: from a to the end */
    }
    if (i < end)
        return fail(p, "unexpected '%c'", s[i]);
    for (unsigned v = lo; v <= hi; v += step)
        *bits |= (uint64_t)1 << (p->field == 4 ? v % 7 : v);
    return true;
}

static bool parse_field(parser *p, const char *s, size_t start, size_t end,
                        uint64_t *bits, bool *star)
{
    *bits = 0;
    size_t item = start;
    for (size_t i = start; i <= end; i++) {
        if (i == end || s[i] == ',') {
            if (!parse_item(p, s, item, i, bits))
                return false;
            item = i + 1;
        }
    }
    *star = s[start] == '*'; /* Vixie: the field *starts* with '*' */
    return true;
}

/* "@every 1h30m": seconds. */
static bool parse_every(parser *p, const char *s, fl_cron *out)
{
    uint64_t total = 0;
    size_t i = 0;
    while (is_space(s[i]))
        i++;
    if (!s[i])
        return fail(p, "@every needs a duration, as 10s, 5m or 1h30m");
    while (s[i] && !is_space(s[i])) {
        if (!is_digit(s[i]))
            return fail(p, "@every: expected a number at '%.20s'", s + i);
        uint64_t v = 0;
        while (is_digit(s[i])) {
            v = v * 10 + (uint64_t)(s[i] - '0');
            if (v > FL_CRON_MAX_EVERY_S)
                v = FL_CRON_MAX_EVERY_S + 1;
            i++;
        }
        uint64_t unit;
        switch (lower(s[i])) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case '\0':
        case ' ':
        case '\t':
            return fail(p, "@every: %llu needs a unit (s, m, h or d)",
                        (unsigned long long)v);
        default:
            return fail(p, "@every: unknown unit '%c' (use s, m, h or d)", s[i]);
        }
        i++;
        total += v * unit;
        if (total > FL_CRON_MAX_EVERY_S)
            total = FL_CRON_MAX_EVERY_S + 1;
    }
    while (is_space(s[i]))
        i++;
    if (s[i])
        return fail(p, "@every: unexpected '%.20s' after the duration", s + i);
    if (total == 0 || total > FL_CRON_MAX_EVERY_S)
        return fail(p, "@every: the interval must be from 1s to %ud",
                    FL_CRON_MAX_EVERY_S / 86400u);
    out->every_s = (uint32_t)total;
    return true;
}

static bool parse_fields(parser *p, const char *s, fl_cron *out)
{
    size_t starts[6], ends[6];
    int n = 0;
    for (size_t i = 0; s[i];) {
        while (is_space(s[i]))
            i++;
        if (!s[i])
            break;
        size_t b = i;
        while (s[i] && !is_space(s[i]))
            i++;
        if (n < 6) {
            starts[n] = b;
            ends[n] = i;
        }
        n++;
    }
    if (n != 5)
        return fail(p, "expected 5 fields (minute hour day-of-month month "
                    "day-of-week), @hourly, @daily, @weekly, @monthly, "
                    "@yearly or @every DURATION; got %d field%s", n,
                    n == 1 ? "" : "s");
    uint64_t bits[5];
    bool star[5];
    for (int f = 0; f < 5; f++) {
        p->field = f;
        if (!parse_field(p, s, starts[f], ends[f], &bits[f], &star[f]))
            return false;
    }
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    out->dow = (uint8_t)bits[4];
    out->dom_star = star[2];
    out->dow_star = star[4];
    return true;
}

bool fl__cron_parse(const char *text, fl_cron *out, char *err, size_t errlen)
{
    char dummy[8];
    parser p = {-1, err ? err : dummy, err ? errlen : sizeof dummy};
    memset(out, 0, sizeof *out);
    p.err[0] = '\0';
    if (!text)
        return fail(&p, "no schedule given");
    if (strlen(text) > FL_CRON_MAX_TEXT)
        return fail(&p, "the schedule is longer than %d bytes", FL_CRON_MAX_TEXT);
    while (is_space(*text))
        text++;
    if (text[0] != '@')
        return parse_fields(&p, text, out);
    size_t n = 0;
    while (text[n] && !is_space(text[n]))
        n++;
    if (same_word(text, n, "@every"))
        return parse_every(&p, text + n, out);
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
        if (!same_word(text, n, macros[i].name))
            continue;
        const char *rest = text + n;
        while (is_space(*rest))
            rest++;
        if (*rest)
            return fail(&p, "%s takes nothing after it", macros[i].name);
        return parse_fields(&p, macros[i].expr, out);
    }
    return fail(&p, "unknown '%.*s' (expected @yearly, @annually, @monthly, "
                "@weekly, @daily, @midnight, @hourly or @every)",
                (int)(n > 20 ? 20 : n), text);
}

/* ------------------------------------------------------------ time */

int64_t fl__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void fl__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool day_matches(const fl_cron *c, int64_t days, unsigned dom)
{
    bool by_dom = (c->dom >> dom) & 1u;
    bool by_dow = (c->dow >> (unsigned)((days + 4) % 7)) & 1u; /* 1970-01-01: Thu */
    if (c->dom_star || c->dow_star)
        return by_dom && by_dow;
    return by_dom || by_dow;
}

uint64_t fl__cron_next(const fl_cron *c, uint64_t after)
{
    if (c->every_s)
        return after + c->every_s;
    uint64_t t = after - after % 60 + 60;
    int64_t y0;
    unsigned m, d;
    fl__civil_from_days((int64_t)(t / 86400), &y0, &m, &d);
    for (;;) {
        int64_t days = (int64_t)(t / 86400), y;
        unsigned secs = (unsigned)(t % 86400);
        fl__civil_from_days(days, &y, &m, &d);
        if (y > y0 + 8)
            return 0;
        if (!((c->month >> m) & 1u)) {
            int64_t next = m == 12 ? fl__days_from_civil(y + 1, 1, 1)
                                   : fl__days_from_civil(y, m + 1, 1);
            t = (uint64_t)next * 86400u;
        } else if (!day_matches(c, days, d)) {
            t = (uint64_t)(days + 1) * 86400u;
        } else if (!((c->hour >> (secs / 3600)) & 1u)) {
            t = (uint64_t)days * 86400u + (secs / 3600 + 1) * 3600u;
        } else if (!((c->minute >> (secs % 3600 / 60)) & 1u)) {
            t += 60;
        } else {
            return t;
        }
    }
}
