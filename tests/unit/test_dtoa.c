/*
 * test_dtoa.c - fl__dtoa (src/core/dtoa.c), the double formatter that needs
 * no printf floating point, against the host's printf: for every value its
 * text must be exactly printf("%.*g", p, x) for the smallest p in 1..17
 * whose text strtod reads back as x, and so itself read back as x and be
 * a JSON number. Values: random bit patterns (every exponent), random
 * doubles in [0, 1), integers up to 2^53 and just past it, short decimals,
 * powers of two and ten and their neighbours, the subnormals and the
 * extremes, each with both signs.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtoa.h"
#include "rng.h"
#include "test.h"

static long compared, mismatched;

/* What the host's printf says: the shortest %.*g that reads back. */
static void reference(double x, char *out, size_t n)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(out, n, "%.*g", p, x);
        if (strtod(out, NULL) == x)
            return;
    }
}

/* RFC 8259's number: -? int frac? exp? */
static bool json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

static void check(double x)
{
    if (!isfinite(x))
        return;
    char got[FL_DTOA_BUF + 8], want[64];
    memset(got, 'x', sizeof got);
    size_t n = fl__dtoa(x, got);
    reference(x, want, sizeof want);
    compared++;
    bool ok = strcmp(got, want) == 0 && n == strlen(got) &&
              n < FL_DTOA_BUF && strtod(got, NULL) == x && json_number(got);
    if (!ok && mismatched++ < 10)
        T_FAILED("%a: fl__dtoa wrote \"%s\" (%zu), printf \"%s\"", x, got, n,
                 want);
    t_checks++;
}

static void check_both(double x)
{
    check(x);
    check(-x);
}

static void test_random_bits(void)
{
    fl_rng r = {1};
    for (int i = 0; i < 60000; i++) {
        uint64_t bits = fl__rng_next(&r);
        double x;
        memcpy(&x, &bits, sizeof x);
        check(x);
    }
}

static void test_random_unit(void)
{
    fl_rng r = {2};
    for (int i = 0; i < 25000; i++)
        check_both((double)(fl__rng_next(&r) >> 11) * 0x1p-53);
}

static void test_integers(void)
{
    fl_rng r = {3};
    for (int i = 0; i < 10000; i++) {
        check_both((double)(fl__rng_next(&r) >> 11));          /* < 2^53 */
        check_both((double)fl__rng_below(&r, 1000000));
        check_both((double)(fl__rng_next(&r) >> (11 - i % 12))); /* > 2^53 */
    }
    for (int64_t i = -100; i <= 100; i++)   /* rounds past 2^53 */
        check_both((double)(((int64_t)1 << 53) + i));
    for (int i = 0; i <= 64; i++)
        check_both(ldexp(1.0, i) - 1);
}

static void test_short_decimals(void)
{
    fl_rng r = {4};
    for (int i = 0; i < 15000; i++) {
        double m = (double)fl__rng_below(&r, 100000);
        int e = (int)fl__rng_below(&r, 60) - 30;
        check_both(m * pow(10.0, e));
        check_both(m / 1000.0);
    }
}

static void test_powers_and_neighbours(void)
{
    for (int e = -1074; e <= 1023; e++) {
        double x = ldexp(1.0, e);
        check_both(x);
        check_both(nextafter(x, 0));
        check_both(nextafter(x, INFINITY));
    }
    for (int e = -323; e <= 308; e++) {
        char s[16];
        snprintf(s, sizeof s, "1e%d", e);
        double x = strtod(s, NULL);   /* the double nearest 10^e */
        check_both(x);
        check_both(nextafter(x, 0));
        check_both(nextafter(x, INFINITY));
        snprintf(s, sizeof s, "5e%d", e);
        check_both(strtod(s, NULL));
    }
}

static void test_extremes(void)
{
    fl_rng r = {5};
    double fixed[] = {0.0, DBL_MIN, DBL_MAX, DBL_EPSILON, DBL_TRUE_MIN,
                      2 * DBL_TRUE_MIN, 3 * DBL_TRUE_MIN, DBL_MIN - DBL_TRUE_MIN,
                      0.1, 0.2, 0.3, 0.1 + 0.2, 1.0 / 3.0, 2.0 / 3.0, 0.5,
                      0.125, 0.375, 1e-5, 1e-4, 1e15 + 0.5, 1e16, 1e17, 1e21,
                      1e22, 1e23, 123456.789, 9.5, 0.95, 99.5,
                      5e-324, 1.7976931348623157e308, 2.2250738585072014e-308};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_both(fixed[i]);
    for (int i = 0; i < 20000; i++) {   /* subnormals */
        uint64_t bits = fl__rng_next(&r) >> 12;
        double x;
        memcpy(&x, &bits, sizeof x);
        check_both(x);
    }
    for (int i = 0; i < 5000; i++) {    /* the top binades */
        uint64_t bits = (fl__rng_next(&r) >> 12) | (uint64_t)0x7FE << 52;
        double x;
        memcpy(&x, &bits, sizeof x);
        check_both(x);
    }
}

static void test_not_finite(void)
{
    char s[FL_DTOA_BUF];
    CHECK_EQ(fl__dtoa(NAN, s), 3);
    CHECK_STR(s, "nan");
    CHECK_EQ(fl__dtoa(INFINITY, s), 3);
    CHECK_STR(s, "inf");
    CHECK_EQ(fl__dtoa(-INFINITY, s), 4);
    CHECK_STR(s, "-inf");
    CHECK_EQ(fl__dtoa(-0.0, s), 2);
    CHECK_STR(s, "-0");
}

int main(void)
{
    RUN(test_random_bits);
    RUN(test_random_unit);
    RUN(test_integers);
    RUN(test_short_decimals);
    RUN(test_powers_and_neighbours);
    RUN(test_extremes);
    RUN(test_not_finite);
    fprintf(stderr, "%ld values compared with printf, %ld differed\n",
            compared, mismatched);
    return TEST_DONE();
}
