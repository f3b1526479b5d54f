/*
 * test_buf.c - the output buffer: growth, sticky failure, integer and
 * double printing (round trips), JSON string escaping and UTF-8 repair.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "defaults.h"
#include "oom.h"
#include "test.h"

/* The buffer's text as a C string, copied into out (cap bytes). */
static const char *text_into(const fl_buf *b, char *out, size_t cap)
{
    if (!fl__buf_ok(b))
        return "(failed)";
    size_t n = b->len < cap - 1 ? b->len : cap - 1;
    memcpy(out, b->data ? b->data : "", n);
    out[n] = '\0';
    return out;
}

static const char *text(const fl_buf *b)
{
    static char out[4096];
    return text_into(b, out, sizeof out);
}

static const char *dbl(double x)
{
    static char out[64];
    fl_buf b;
    fl__buf_init(&b);
    fl__buf_put_double(&b, x);
    const char *r = text_into(&b, out, sizeof out);
    fl__buf_free(&b);
    return r;
}

static const char *jstr(const char *s, size_t n)
{
    static char out[256];
    fl_buf b;
    fl__buf_init(&b);
    fl__buf_put_jstr(&b, s, n);
    const char *r = text_into(&b, out, sizeof out);
    fl__buf_free(&b);
    return r;
}

static void test_growth(void)
{
    fl_buf b;
    fl__buf_init(&b);
    for (int i = 0; i < 10000; i++)
        fl__buf_putc(&b, (char)('a' + i % 26));
    CHECK(fl__buf_ok(&b));
    CHECK_EQ(b.len, 10000);
    CHECK(b.cap >= b.len);
    CHECK_EQ(b.data[9999], 'a' + 9999 % 26);
    fl__buf_reset(&b);
    CHECK_EQ(b.len, 0);
    CHECK(b.cap >= 10000);
    fl__buf_puts(&b, "abc");
    fl__buf_put(&b, "defg", 2);
    fl__buf_put(&b, NULL, 0);
    CHECK_STR(text(&b), "abcde");
    fl__buf_free(&b);
    CHECK(b.data == NULL);
    CHECK_EQ(b.len, 0);
}

static void test_u64(void)
{
    fl_buf b;
    fl__buf_init(&b);
    fl__buf_put_u64(&b, 0);
    fl__buf_putc(&b, ' ');
    fl__buf_put_u64(&b, 7);
    fl__buf_putc(&b, ' ');
    fl__buf_put_u64(&b, UINT64_MAX);
    CHECK_STR(text(&b), "0 7 18446744073709551615");
    fl__buf_free(&b);
}

static void test_double_integral(void)
{
    CHECK_STR(dbl(8.0), "8");
    CHECK_STR(dbl(0.0), "0");
    CHECK_STR(dbl(-0.0), "0");
    CHECK_STR(dbl(-3.0), "-3");
    CHECK_STR(dbl(1e15), "1000000000000000");
    CHECK_STR(dbl(9007199254740991.0), "9007199254740991");
    CHECK_STR(dbl(-9007199254740991.0), "-9007199254740991");
    /* 2^53 and beyond are not "safe" integers: shortest round-trip form. */
    CHECK_STR(dbl(9007199254740992.0), "9007199254740992");
    CHECK_STR(dbl(1e300), "1e+300");
}

static void test_double_fraction(void)
{
    CHECK_STR(dbl(0.5), "0.5");
    CHECK_STR(dbl(0.1), "0.1");
    CHECK_STR(dbl(-2.25), "-2.25");
    CHECK_STR(dbl(0.1 + 0.2), "0.30000000000000004");
#if FL_PORTABLE_DTOA
    /* fl__dtoa: the shortest text that reads back. */
    CHECK_STR(dbl(1.0 / 3.0), "0.3333333333333333");
    CHECK_STR(dbl(5e-324), "5e-324");
#else
    /* snprintf: %.15g, else %.17g. */
    CHECK_STR(dbl(1.0 / 3.0), "0.33333333333333331");
    CHECK_STR(dbl(5e-324), "4.94065645841247e-324");
#endif
}

static void test_double_roundtrip(void)
{
    /* Every printed double reads back as the same double. */
    uint64_t s = 0x9E3779B97F4A7C15ull;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double x;
        uint64_t bits = s;
        memcpy(&x, &bits, sizeof x);
        if (!isfinite(x))
            continue;
        const char *t = dbl(x);
        if (strtod(t, NULL) != x && bad++ < 5)
            T_FAILED("%.17g printed as %s", x, t);
        t_checks++;
    }
    CHECK_EQ(bad, 0);
}

static void test_double_refused(void)
{
    fl_buf b;
    fl__buf_init(&b);
    fl__buf_put_double(&b, NAN);
    CHECK(!fl__buf_ok(&b));
    fl__buf_putc(&b, 'x');
    CHECK_EQ(b.len, 0); /* sticky: nothing appended after a failure */
    fl__buf_reset(&b);
    CHECK(fl__buf_ok(&b));
    fl__buf_put_double(&b, INFINITY);
    CHECK(!fl__buf_ok(&b));
    fl__buf_reset(&b);
    fl__buf_put_double(&b, -INFINITY);
    CHECK(!fl__buf_ok(&b));
    fl__buf_free(&b);
}

static void test_jstr_escapes(void)
{
    CHECK_STR(jstr("", 0), "\"\"");
    CHECK_STR(jstr("plain", 5), "\"plain\"");
    CHECK_STR(jstr("a\"b\\c/", 6), "\"a\\\"b\\\\c/\"");
    CHECK_STR(jstr("\b\f\n\r\t", 5), "\"\\b\\f\\n\\r\\t\"");
    CHECK_STR(jstr("\x01\x1f", 2), "\"\\u0001\\u001f\"");
    CHECK_STR(jstr("a\0b", 3), "\"a\\u0000b\"");
    CHECK_STR(jstr("\x7f", 1), "\"\x7f\"");
}

static void test_jstr_utf8(void)
{
    /* Well-formed sequences pass through untouched. */
    CHECK_STR(jstr("caf\xC3\xA9", 5), "\"caf\xC3\xA9\"");
    CHECK_STR(jstr("\xE2\x82\xAC", 3), "\"\xE2\x82\xAC\"");
    CHECK_STR(jstr("\xF0\x9F\x98\x80", 4), "\"\xF0\x9F\x98\x80\"");
    CHECK_STR(jstr("\xF4\x8F\xBF\xBF", 4), "\"\xF4\x8F\xBF\xBF\"");
    /* Ill-formed ones become U+FFFD, one per maximal subpart. */
#define R "\xEF\xBF\xBD"
    CHECK_STR(jstr("\xFF", 1), "\"" R "\"");
    CHECK_STR(jstr("a\xC3", 2), "\"a" R "\"");
    CHECK_STR(jstr("\xC0\x80", 2), "\"" R R "\"");              /* overlong */
    CHECK_STR(jstr("\xE0\x80\x80", 3), "\"" R R R "\"");        /* overlong */
    CHECK_STR(jstr("\xED\xA0\x80", 3), "\"" R R R "\"");        /* surrogate */
    CHECK_STR(jstr("\xE2\x82x", 3), "\"" R "x\"");              /* truncated */
    CHECK_STR(jstr("\xF4\x90\x80\x80", 4), "\"" R R R R "\"");  /* > U+10FFFF */
    CHECK_STR(jstr("\xF0\x9F\x98", 3), "\"" R "\"");
    CHECK_STR(jstr("\x80", 1), "\"" R "\"");
#undef R
}

static void test_jstr_output_parses(void)
{
    /* Whatever bytes go in, what comes out is JSON that parses back. */
    char in[256];
    for (int i = 0; i < 256; i++)
        in[i] = (char)i;
    fl_buf b;
    fl__buf_init(&b);
    fl__buf_put_jstr(&b, in, sizeof in);
    CHECK(fl__buf_ok(&b));
    fl_value *v = NULL;
    CHECK_EQ(fl_value_parse(b.data, b.len, &v), FL_OK);
    size_t n = 0;
    const char *s = fl_value_string(v, &n);
    CHECK(s != NULL);
    /* The NUL ends the C string; bytes 1..127 survive as they were. */
    fl_value_free(v);
    fl__buf_reset(&b);
    fl__buf_put_jstr(&b, in + 1, 127);
    CHECK_EQ(fl_value_parse(b.data, b.len, &v), FL_OK);
    s = fl_value_string(v, &n);
    CHECK_EQ(n, 127);
    CHECK_MEM(s, in + 1, 127);
    fl_value_free(v);
    fl__buf_free(&b);
}

static void test_utf8_next(void)
{
    size_t used;
    CHECK(fl__utf8_next((const unsigned char *)"a", 1, &used));
    CHECK_EQ(used, 1);
    CHECK(fl__utf8_next((const unsigned char *)"\xC3\xA9", 2, &used));
    CHECK_EQ(used, 2);
    CHECK(!fl__utf8_next((const unsigned char *)"\xC3\xA9", 1, &used));
    CHECK_EQ(used, 1);
    CHECK(!fl__utf8_next((const unsigned char *)"\xF0\x9F\x98", 3, &used));
    CHECK_EQ(used, 3);
    CHECK(!fl__utf8_next((const unsigned char *)"\xF5\x80", 2, &used));
    CHECK_EQ(used, 1);
}

static fl_status op_buf(void *ctx)
{
    (void)ctx;
    fl_buf b;
    fl__buf_init(&b);
    for (int i = 0; i < 3000; i++)
        fl__buf_put_jstr(&b, "x\n", 2);
    fl_status st = fl__buf_ok(&b) && b.len == 3000 * 5 ? FL_OK : FL_ENOMEM;
    fl__buf_free(&b);
    return st;
}

static void test_oom(void)
{
    oom_sweep("buffer growth", op_buf, NULL);
}

int main(void)
{
    RUN(test_growth);
    RUN(test_u64);
    RUN(test_double_integral);
    RUN(test_double_fraction);
    RUN(test_double_roundtrip);
    RUN(test_double_refused);
    RUN(test_jstr_escapes);
    RUN(test_jstr_utf8);
    RUN(test_jstr_output_parses);
    RUN(test_utf8_next);
    RUN(test_oom);
    return TEST_DONE();
}
