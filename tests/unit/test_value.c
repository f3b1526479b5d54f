/*
 * test_value.c - fl_value: parsing within the limits, reading, printing,
 * the names of public enums, and allocation failure at every step.
 */
#include <stdlib.h>

#include "codec.h"
#include "defaults.h"
#include "oom.h"
#include "test.h"

static fl_value *parse(const char *s)
{
    fl_value *v = NULL;
    if (fl_value_parse(s, strlen(s), &v) != FL_OK)
        return NULL;
    return v;
}

static fl_status parse_status(const char *s, size_t n)
{
    fl_value *v = NULL;
    fl_status st = fl_value_parse(s, n, &v);
    CHECK(st == FL_OK ? v != NULL : v == NULL);
    fl_value_free(v);
    return st;
}

/* Printing what was parsed gives back the compact text. */
static void check_reprint(const char *in, const char *want)
{
    fl_value *v = parse(in);
    CHECK(v != NULL);
    size_t n = 0;
    char *out = fl_value_to_json(v, &n);
    CHECK_STR(out, want);
    CHECK_EQ(n, out ? strlen(out) : 0);
    fl_free(out);
    fl_value_free(v);
}

static void test_read(void)
{
    fl_value *v = parse(" {\"a\": [1, 2.5, \"x\", true, false, null], \"b\": {}, \"s\": \"h\\u00e9\"} ");
    CHECK(v != NULL);
    CHECK_EQ(fl_value_type(v), FL_TYPE_OBJECT);
    CHECK_EQ(fl_value_count(v), 3);
    CHECK_STR(fl_value_key_at(v, 0), "a");
    CHECK_STR(fl_value_key_at(v, 2), "s");
    CHECK(fl_value_key_at(v, 3) == NULL);
    const fl_value *a = fl_value_get(v, "a");
    CHECK_EQ(fl_value_type(a), FL_TYPE_ARRAY);
    CHECK_EQ(fl_value_count(a), 6);
    CHECK(fl_value_number(fl_value_at(a, 0)) == 1.0);
    CHECK(fl_value_number(fl_value_at(a, 1)) == 2.5);
    size_t n = 0;
    CHECK_STR(fl_value_string(fl_value_at(a, 2), &n), "x");
    CHECK_EQ(n, 1);
    CHECK(fl_value_bool(fl_value_at(a, 3)));
    CHECK(!fl_value_bool(fl_value_at(a, 4)));
    CHECK_EQ(fl_value_type(fl_value_at(a, 3)), FL_TYPE_BOOL);
    CHECK_EQ(fl_value_type(fl_value_at(a, 5)), FL_TYPE_NULL);
    CHECK(fl_value_at(a, 6) == NULL);
    CHECK(fl_value_key_at(a, 0) == NULL); /* arrays have no keys */
    CHECK_STR(fl_value_string(fl_value_get(v, "s"), &n), "h\xC3\xA9");
    CHECK_EQ(n, 3);
    CHECK_EQ(fl_value_count(fl_value_get(v, "b")), 0);
    CHECK(fl_value_get(v, "missing") == NULL);
    CHECK(fl_value_get(a, "a") == NULL);
    fl_value_free(v);
}

static void test_read_wrong_type(void)
{
    fl_value *v = parse("\"text\"");
    CHECK(v != NULL);
    CHECK(fl_value_number(v) == 0.0);
    CHECK(!fl_value_bool(v));
    CHECK_EQ(fl_value_count(v), 0);
    CHECK(fl_value_at(v, 0) == NULL);
    fl_value_free(v);
    v = parse("42");
    size_t n = 99;
    CHECK(fl_value_string(v, &n) == NULL);
    CHECK_EQ(n, 0);
    fl_value_free(v);
    /* A NULL value reads as null everywhere. */
    CHECK_EQ(fl_value_type(NULL), FL_TYPE_NULL);
    CHECK_EQ(fl_value_count(NULL), 0);
    CHECK(fl_value_get(NULL, "a") == NULL);
    CHECK(fl_value_string(NULL, NULL) == NULL);
    fl_value_free(NULL);
    char *s = fl_value_to_json(NULL, &n);
    CHECK_STR(s, "null");
    fl_free(s);
}

static void test_print(void)
{
    check_reprint("{ \"a\" : [ 1 , 2.5 , \"x\" , true , false , null ] , \"b\" : { } }",
                  "{\"a\":[1,2.5,\"x\",true,false,null],\"b\":{}}");
    check_reprint("1e2", "100");
    check_reprint("-0", "0");
    check_reprint("0.1", "0.1");
    check_reprint("[1e300, -1.5e-7]", "[1e+300,-1.5e-07]");
    check_reprint("\"a\\u0000b\"", "\"a\""); /* strings are C strings */
    check_reprint("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\"", "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\"");
    check_reprint("\"\\ud83d\\ude00\"", "\"\xF0\x9F\x98\x80\"");
    check_reprint("{\"k\\n\":[[],{}]}", "{\"k\\n\":[[],{}]}");
    check_reprint("[]", "[]");
}

static void nested(char *buf, int levels)
{
    int i = 0;
    for (; i < levels; i++)
        buf[i] = '[';
    for (int j = 0; j < levels; j++)
        buf[i + j] = ']';
    buf[2 * levels] = '\0';
}

#define STR_(x) #x
#define STR(x) STR_(x)

/* Deep enough to be refused for its depth, small enough to pass the
 * profile's size limit. */
#define DEEP (FL_DEFAULT_MAX_MESSAGE / 2 < 10000 ? (int)FL_DEFAULT_MAX_MESSAGE / 2 - 8 \
                                                   : 10000)

static void test_depth(void)
{
    static char buf[20002];
    nested(buf, FL_MAX_DEPTH);
    CHECK_EQ(parse_status(buf, strlen(buf)), FL_OK);
    check_reprint(buf, buf);
    nested(buf, FL_MAX_DEPTH + 1);
    CHECK_EQ(parse_status(buf, strlen(buf)), FL_EINVAL);
    /* A scalar inside the deepest array is no level more (the fuzzer found
     * a message that parsed but could not be written back). */
    nested(buf, FL_MAX_DEPTH);
    memmove(buf + FL_MAX_DEPTH + 5, buf + FL_MAX_DEPTH, FL_MAX_DEPTH + 1);
    memcpy(buf + FL_MAX_DEPTH, "false", 5);
    CHECK_EQ(parse_status(buf, strlen(buf)), FL_OK);
    check_reprint(buf, buf);
    nested(buf, DEEP);
    CHECK_EQ(parse_status(buf, strlen(buf)), FL_EINVAL);
    memset(buf, '{', DEEP); /* unbalanced and deep */
    CHECK_EQ(parse_status(buf, DEEP), FL_EINVAL);
    /* Brackets inside strings do not count. */
    const char *in_string = "[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]";
    CHECK_EQ(parse_status(in_string, strlen(in_string)), FL_OK);
}

static void test_size_limit(void)
{
    size_t n = FL_DEFAULT_MAX_MESSAGE + 1;
    char *big = malloc(n);
    CHECK(big != NULL);
    if (!big)
        return;
    memset(big, ' ', n);
    big[0] = '1';
    CHECK_EQ(parse_status(big, n), FL_ETOOBIG);
    CHECK_EQ(parse_status(big, n - 1), FL_OK); /* "1" and spaces, at the limit */
    free(big);
}

static void test_invalid(void)
{
    static const char *bad[] = {
        "", " ", "{", "}", "[1,]", "[1 2]", "nul", "tru", "{\"a\"}", "{\"a\":}",
        "{a:1}", "'x'", "1 2", "[1]x", "\"abc", "\"a\nb\"", "\"a\tb\"", "\"\x01\"",
        "\"\xFF\"", "\"\xC3\"", "\"\xED\xA0\x80\"", "\"\xC0\x80\"", "1e999", "[-1e400]",
        "\"\\ud800\"", "\"\\x\"", "NaN", "Infinity", "-", "[", "{\"a\":1,}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_status st = parse_status(bad[i], strlen(bad[i]));
        if (st != FL_EINVAL)
            T_FAILED("'%s' parsed with status %d", bad[i], (int)st);
        t_checks++;
    }
    CHECK_EQ(parse_status("[1]\0", 4), FL_EINVAL); /* NUL after the value */
    CHECK_EQ(parse_status("[1]\n\r\t ", 7), FL_OK);
    CHECK_EQ(parse_status("\"caf\xC3\xA9\"", 7), FL_OK);
    CHECK_EQ(parse_status("[1e308]", 7), FL_OK);
    /* Beyond a double without an exponent: 309 digits overflow, 308 do not
     * (found by the fuzzer: a 345-digit number parsed as infinity). */
    char digits[320] = "[";
    memset(digits + 1, '9', 309);
    memcpy(digits + 310, "]", 2);
    CHECK_EQ(parse_status(digits, strlen(digits)), FL_EINVAL);
    memcpy(digits + 309, "]", 2);
    CHECK_EQ(parse_status(digits, strlen(digits)), FL_OK);
    memcpy(digits + 1, "0.", 2); /* 0.000...9: many digits, small value */
    memset(digits + 3, '0', 310);
    memcpy(digits + 313, "9]", 3);
    CHECK_EQ(parse_status(digits, strlen(digits)), FL_OK);
    fl_value *v = (fl_value *)1;
    CHECK_EQ(fl_value_parse(NULL, 0, &v), FL_EINVAL);
    CHECK(v == NULL);
    CHECK_EQ(fl_value_parse("1", 1, NULL), FL_EINVAL);
}

/* Integers keep their digits beyond 2^53; doubles stay doubles. */
static void test_integers(void)
{
    static const char text[] =
        "[9007199254740993,-9223372036854775808,9223372036854775807,"
        "18446744073709551616,1e300,2.5,1.0,7,9007199254740992,"
        "0.12345678901234567890,{\"k\":\"9007199254740993\",\"n\":"
        "12345678901234567890123}]";
    fl_value *v = NULL;
    CHECK_EQ(fl_value_parse(text, strlen(text), &v), FL_OK);
    int64_t n = 0;
    CHECK(fl_value_int64(fl_value_at(v, 0), &n));
    CHECK(n == INT64_C(9007199254740993));
    CHECK(fl_value_int64(fl_value_at(v, 1), &n));
    CHECK(n == INT64_MIN);
    CHECK(fl_value_int64(fl_value_at(v, 2), &n));
    CHECK(n == INT64_MAX);
    /* 2^64: an integer, but not an int64 */
    CHECK(fl_value_is_integer(fl_value_at(v, 3)));
    CHECK(!fl_value_int64(fl_value_at(v, 3), &n));
    CHECK(!fl_value_is_integer(fl_value_at(v, 4)));   /* 1e300 */
    CHECK(!fl_value_int64(fl_value_at(v, 5), &n));    /* 2.5 */
    CHECK(fl_value_int64(fl_value_at(v, 6), &n) && n == 1);
    CHECK(fl_value_int64(fl_value_at(v, 7), &n) && n == 7);
    CHECK(fl_value_int64(fl_value_at(v, 8), &n) && n == INT64_C(9007199254740992));
    CHECK(!fl_value_int64(fl_value_at(v, 9), NULL));
    CHECK(!fl_value_int64(fl_value_get(fl_value_at(v, 10), "k"), &n));
    /* Printed back digit for digit (the string and the fraction too). */
    char *out = fl_value_to_json(v, NULL);
    CHECK_STR(out, "[9007199254740993,-9223372036854775808,9223372036854775807,"
                   "18446744073709551616,1e+300,2.5,1,7,9007199254740992,"
                   "0.12345678901234568,{\"k\":\"9007199254740993\",\"n\":"
                   "12345678901234567890123}]");
    fl_free(out);
    CHECK(!fl_value_int64(NULL, &n));
    CHECK(!fl_value_is_integer(NULL));
    fl_value_free(v);
}

static void test_check_json(void)
{
    char err[128];
    CHECK_EQ(fl__check_json("[1,2]", 5, FL_TYPE_ARRAY, err, sizeof err), FL_OK);
    CHECK_EQ(fl__check_json("{}", 2, -1, err, sizeof err), FL_OK);
    CHECK_EQ(fl__check_json("{}", 2, FL_TYPE_ARRAY, err, sizeof err), FL_EINVAL);
    CHECK_STR(err, "expected an array, got object");
    CHECK_EQ(fl__check_json("3", 1, FL_TYPE_STRING, err, sizeof err), FL_EINVAL);
    CHECK_STR(err, "expected a string, got number");
    CHECK_EQ(fl__check_json("[1,", 3, FL_TYPE_ARRAY, err, sizeof err), FL_EINVAL);
    CHECK_STR(err, "not valid JSON");
    CHECK_EQ(fl__check_json(NULL, 0, -1, err, sizeof err), FL_EINVAL);
    static char deep[200];
    nested(deep, 40);
    CHECK_EQ(fl__check_json(deep, strlen(deep), -1, err, sizeof err), FL_EINVAL);
    char want[96];
    snprintf(want, sizeof want, "nested 40 levels deep, over the limit of %d",
             FL_MAX_DEPTH);
    CHECK_STR(err, want);
    CHECK_EQ(fl__check_json("[1]", 3, FL_TYPE_ARRAY, NULL, 0), FL_OK);
}

static void test_names(void)
{
    CHECK_STR(fl_strerror(FL_OK), "success");
    CHECK_STR(fl_strerror(FL_ENOMEM), "out of memory");
    CHECK_STR(fl_strerror(FL_ETASK), "task failed");
    CHECK_STR(fl_strerror((fl_status)-99), "unknown status");
    for (int s = FL_ETASK; s <= FL_OK; s++)
        CHECK(strcmp(fl_strerror((fl_status)s), "unknown status") != 0);
    CHECK_STR(fl_state_name(FL_PENDING), "PENDING");
    CHECK_STR(fl_state_name(FL_STARTED), "STARTED");
    CHECK_STR(fl_state_name(FL_RETRY), "RETRY");
    CHECK_STR(fl_state_name(FL_SUCCESS), "SUCCESS");
    CHECK_STR(fl_state_name(FL_FAILURE), "FAILURE");
    CHECK_STR(fl_state_name(FL_REVOKED), "REVOKED");
    CHECK_STR(fl_type_name(FL_TYPE_NULL), "null");
    CHECK_STR(fl_type_name(FL_TYPE_BOOL), "boolean");
    CHECK_STR(fl_type_name(FL_TYPE_NUMBER), "number");
    CHECK_STR(fl_type_name(FL_TYPE_STRING), "string");
    CHECK_STR(fl_type_name(FL_TYPE_ARRAY), "array");
    CHECK_STR(fl_type_name(FL_TYPE_OBJECT), "object");
}

static const char *const SAMPLE =
    "{\"a\":[1,2.5,\"x\",true,false,null,{\"k\":[\"deep\",{\"z\":-1.5e-09}]}],"
    "\"b\":{},\"s\":\"h\xC3\xA9\\n\"}";

static fl_status op_parse_print(void *ctx)
{
    (void)ctx;
    fl_value *v = NULL;
    fl_status st = fl_value_parse(SAMPLE, strlen(SAMPLE), &v);
    if (st != FL_OK)
        return st;
    char *s = fl_value_to_json(v, NULL);
    fl_value_free(v);
    if (!s)
        return FL_ENOMEM;
    st = strcmp(s, SAMPLE) == 0 ? FL_OK : FL_EINVAL;
    fl_free(s);
    return st;
}

static fl_status op_check_json(void *ctx)
{
    (void)ctx;
    return fl__check_json(SAMPLE, strlen(SAMPLE), FL_TYPE_OBJECT, NULL, 0);
}

static void test_oom(void)
{
    oom_sweep("parse and print", op_parse_print, NULL);
    oom_sweep("check json", op_check_json, NULL);
}

/* Strings allocated through the hook can be freed with fl_free. */
static void test_allocator_hook(void)
{
    oom_begin(0);
    fl_value *v = parse("[\"abc\",{\"d\":1}]");
    CHECK(v != NULL);
    CHECK(oom.live > 0);
    char *s = fl_value_to_json(v, NULL);
    CHECK_STR(s, "[\"abc\",{\"d\":1}]");
    fl_free(s);
    fl_value_free(v);
    CHECK_EQ(oom.live, 0);
    oom_end();
}

int main(void)
{
    RUN(test_read);
    RUN(test_read_wrong_type);
    RUN(test_print);
    RUN(test_depth);
    RUN(test_size_limit);
    RUN(test_invalid);
    RUN(test_integers);
    RUN(test_check_json);
    RUN(test_names);
    RUN(test_oom);
    RUN(test_allocator_hook);
    return TEST_DONE();
}
