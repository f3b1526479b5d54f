/*
 * buf.c - the growable output buffer, JSON number printing and JSON string
 * escaping used by every outgoing message.
 *
 * Failure is sticky so a builder appends without checking and tests
 * fl__buf_ok() once. Numbers print so that they read back as the same
 * double: integers as integers; others, under FL_PORTABLE_DTOA (the small
 * profile), as fl__dtoa's shortest round trip, without printf's floating
 * point, and otherwise with the shortest of %.15g/%.17g that round-trips
 * (snprintf/strtod, which measured faster than fl__dtoa on a host).
 * Depends on buf.h, alloc.h, defaults.h, dtoa.h and the C library.
 */
#include "buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "defaults.h"
#include "dtoa.h"

#define TWO_POW_53 9007199254740992.0

void fl__buf_init(fl_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = false;
}

void fl__buf_free(fl_buf *b)
{
    fl__free(b->data);
    fl__buf_init(b);
}

void fl__buf_reset(fl_buf *b)
{
    b->len = 0;
    b->failed = false;
}

bool fl__buf_ok(const fl_buf *b)
{
    return !b->failed;
}

void fl__buf_reserve(fl_buf *b, size_t extra)
{
    if (b->failed)
        return;
    if (extra > SIZE_MAX - b->len) {
        b->failed = true;
        return;
    }
    size_t need = b->len + extra;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = fl__realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return;
    }
    b->data = p;
    b->cap = cap;
}

void fl__buf_put(fl_buf *b, const void *data, size_t len)
{
    if (len == 0)
        return;
    fl__buf_reserve(b, len);
    if (b->failed)
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void fl__buf_puts(fl_buf *b, const char *s)
{
    fl__buf_put(b, s, strlen(s));
}

void fl__buf_putc(fl_buf *b, char c)
{
    if (b->len >= b->cap)
        fl__buf_reserve(b, 1);
    if (b->failed)
        return;
    b->data[b->len++] = c;
}

void fl__buf_put_u64(fl_buf *b, uint64_t x)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[sizeof tmp - ++n] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    fl__buf_put(b, tmp + sizeof tmp - n, n);
}

#if !FL_PORTABLE_DTOA
/* snprintf writes the locale's decimal point; JSON wants '.'. */
static void force_decimal_point(char *s)
{
    for (; *s; s++) {
        char c = *s;
        if (!(c >= '0' && c <= '9') && c != '-' && c != '+' && c != 'e' && c != 'E')
            *s = '.';
    }
}
#endif

void fl__buf_put_double(fl_buf *b, double x)
{
    if (b->failed)
        return;
    if (isnan(x) || isinf(x)) {
        b->failed = true;
        return;
    }
    if (x == floor(x) && fabs(x) < TWO_POW_53) {
        if (x < 0) {
            fl__buf_putc(b, '-');
            fl__buf_put_u64(b, (uint64_t)-x);
        } else {
            fl__buf_put_u64(b, (uint64_t)x);
        }
        return;
    }
#if FL_PORTABLE_DTOA
    char tmp[FL_DTOA_BUF];
    fl__buf_put(b, tmp, fl__dtoa(x, tmp));
#else
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.15g", x);
    if (strtod(tmp, NULL) != x)
        snprintf(tmp, sizeof tmp, "%.17g", x);
    force_decimal_point(tmp);
    fl__buf_puts(b, tmp);
#endif
}

bool fl__utf8_next(const unsigned char *s, size_t n, size_t *used)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;

    if (c < 0x80) {
        *used = 1;
        return true;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0;      /* overlong */
        else if (c == 0xED)
            hi = 0x9F;      /* UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;      /* overlong */
        else if (c == 0xF4)
            hi = 0x8F;      /* above U+10FFFF */
    } else {
        *used = 1;
        return false;
    }
    size_t i = 1;
    if (i < n && s[i] >= lo && s[i] <= hi) {
        i++;
        while (i <= need && i < n && s[i] >= 0x80 && s[i] <= 0xBF)
            i++;
    }
    *used = i;
    return i == need + 1;
}

static void put_escape(fl_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', 0, 0, 0, 0, 0};
    size_t n = 2;
    switch (c) {
    case '"': e[1] = '"'; break;
    case '\\': e[1] = '\\'; break;
    case '\b': e[1] = 'b'; break;
    case '\f': e[1] = 'f'; break;
    case '\n': e[1] = 'n'; break;
    case '\r': e[1] = 'r'; break;
    case '\t': e[1] = 't'; break;
    default:
        e[1] = 'u';
        e[2] = '0';
        e[3] = '0';
        e[4] = hex[c >> 4];
        e[5] = hex[c & 15];
        n = 6;
    }
    fl__buf_put(b, e, n);
}

void fl__buf_put_jstr(fl_buf *b, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    fl__buf_reserve(b, len + 2);
    fl__buf_putc(b, '"');
    while (i < len && !b->failed) {
        /* Copy the longest run that needs no escaping in one go. */
        size_t run = i;
        while (run < len && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' &&
               s[run] != '\\')
            run++;
        fl__buf_put(b, s + i, run - i);
        i = run;
        if (i == len)
            break;
        if (s[i] < 0x80) {
            put_escape(b, s[i]);
            i++;
            continue;
        }
        size_t used;
        if (fl__utf8_next(s + i, len - i, &used))
            fl__buf_put(b, s + i, used);
        else
            fl__buf_put(b, "\xEF\xBF\xBD", 3);
        i += used;
    }
    fl__buf_putc(b, '"');
}
