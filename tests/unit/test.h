/*
 * test.h - the unit tests' harness: CHECK macros that report file:line and
 * keep going, and a runner that counts cases. A case passes when none of
 * its checks failed. main() ends with TEST_DONE(), which prints exactly
 * "N passed, N failed" and yields a non-zero exit status on any failure.
 */
#ifndef FL_TEST_H
#define FL_TEST_H

#include <stdio.h>
#include <string.h>

static long t_checks, t_failed_checks;
static int t_passed, t_failed;

#define T_FAILED(...)                                        \
    do {                                                     \
        t_failed_checks++;                                   \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);      \
        fprintf(stderr, __VA_ARGS__);                        \
        fputc('\n', stderr);                                 \
    } while (0)

#define CHECK(cond)                                          \
    do {                                                     \
        t_checks++;                                          \
        if (!(cond))                                         \
            T_FAILED("CHECK(%s) failed", #cond);             \
    } while (0)

/* Integers of any width (statuses, sizes, ids below 2^63). */
#define CHECK_EQ(a, b)                                                   \
    do {                                                                 \
        long long a_ = (long long)(a), b_ = (long long)(b);              \
        t_checks++;                                                      \
        if (a_ != b_)                                                    \
            T_FAILED("CHECK_EQ(%s, %s) failed: %lld != %lld", #a, #b,    \
                     a_, b_);                                            \
    } while (0)

#define CHECK_STR(a, b)                                                  \
    do {                                                                 \
        const char *a_ = (a), *b_ = (b);                                 \
        t_checks++;                                                      \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                           \
            T_FAILED("CHECK_STR(%s, %s) failed: \"%s\" != \"%s\"", #a,   \
                     #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");        \
    } while (0)

/* Exactly n bytes at a equal those at b. */
#define CHECK_MEM(a, b, n)                                               \
    do {                                                                 \
        const void *a_ = (a), *b_ = (b);                                 \
        t_checks++;                                                      \
        if (!a_ || !b_ || memcmp(a_, b_, (n)) != 0)                      \
            T_FAILED("CHECK_MEM(%s, %s, %s) failed", #a, #b, #n);        \
    } while (0)

#define RUN(fn) t_run(#fn, fn)

static void t_run(const char *name, void (*fn)(void))
{
    long before = t_failed_checks;
    fn();
    if (t_failed_checks == before) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAILED: %s\n", name);
    }
}

#define TEST_DONE()                                                      \
    (fprintf(stderr, "%ld checks, %ld failed\n", t_checks,               \
             t_failed_checks),                                           \
     printf("%d passed, %d failed\n", t_passed, t_failed),               \
     t_failed ? 1 : 0)

#endif
