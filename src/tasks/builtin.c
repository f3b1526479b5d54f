/*
 * builtin.c - the built-in native tasks every node offers: add, mul, xsum,
 * echo, sleep and fail. They double as the test workload, so their errors
 * name the argument and what was wrong, the way a user would want.
 * Arithmetic follows Python's rule: integers (fl_value_int64) add and
 * multiply exactly in 64 bits, and an integer result beyond 64 bits is an
 * OverflowError naming the operands, never a rounded double; with any
 * other number in it, the arithmetic is in doubles.
 * Depends on the public header and the core's dtoa.h (numbers in error
 * messages without printf's %g); snprintf and strlen; no OS headers.
 */
#include "floret/floret.h"

#include <stdio.h>
#include <string.h>

#include "dtoa.h"

/* Reads argument i as a number, or fails the task naming it. */
static bool arg_number(fl_task_ctx *ctx, size_t i, double *out)
{
    const fl_value *args = fl_task_args(ctx);
    if (fl_value_count(args) <= i) {
        fl_task_fail(ctx, "TypeError", false,
                     "%s() takes %zu positional arguments but %zu were given",
                     fl_task_name(ctx), i + 1, fl_value_count(args));
        return false;
    }
    const fl_value *v = fl_value_at(args, i);
    if (fl_value_type(v) != FL_TYPE_NUMBER) {
        fl_task_fail(ctx, "TypeError", false,
                     "%s(): argument %zu must be a number, not %s",
                     fl_task_name(ctx), i + 1,
                     fl_type_name(fl_value_type(v)));
        return false;
    }
    *out = fl_value_number(v);
    return true;
}

/* A number as the arithmetic takes it: an exact integer, or a double. */
typedef struct operand {
    bool is_int;
    int64_t i;
    double d;
} operand;

/* x in decimal, without printf's %lld (a board's printf may lack it). */
static const char *int_text(int64_t x, char buf[24])
{
    uint64_t u = x < 0 ? 0u - (uint64_t)x : (uint64_t)x;
    char *p = buf + 23;
    *p = '\0';
    do {
        *--p = (char)('0' + u % 10u);
        u /= 10u;
    } while (u);
    if (x < 0)
        *--p = '-';
    return p;
}

/* Reads v (argument i, or element elem of it when elem > 0) as a num, or
 * fails the task: an integer beyond 64 bits would only be rounded. */
static bool as_num(fl_task_ctx *ctx, const fl_value *v, size_t i, size_t elem,
                   operand *out)
{
    out->is_int = fl_value_int64(v, &out->i);
    out->d = out->is_int ? (double)out->i : fl_value_number(v);
    if (out->is_int || !fl_value_is_integer(v))
        return true;
    char *digits = fl_value_to_json(v, NULL);
    char where[48] = "";
    if (elem)
        snprintf(where, sizeof where, "element %zu of ", elem);
    fl_task_fail(ctx, "OverflowError", false,
                 "%s(): %sargument %zu (%.40s%s) is an integer beyond 64 bits, "
                 "which it cannot add or multiply exactly", fl_task_name(ctx),
                 where, i, digits ? digits : "?",
                 digits && strlen(digits) > 40 ? "..." : "");
    fl_free(digits);
    return false;
}

static bool arg_num(fl_task_ctx *ctx, size_t i, operand *out)
{
    double ignored;
    return arg_number(ctx, i, &ignored) &&
           as_num(ctx, fl_value_at(fl_task_args(ctx), i), i + 1, 0, out);
}

static void overflow(fl_task_ctx *ctx, int64_t a, char op, int64_t b)
{
    char ta[24], tb[24];
    fl_task_fail(ctx, "OverflowError", false,
                 "%s(): %s %c %s is beyond a 64-bit integer (-2^63 to 2^63-1)",
                 fl_task_name(ctx), int_text(a, ta), op, int_text(b, tb));
}

static bool exact_args(fl_task_ctx *ctx, size_t n)
{
    size_t got = fl_value_count(fl_task_args(ctx));
    if (got == n)
        return true;
    fl_task_fail(ctx, "TypeError", false,
                 "%s() takes %zu positional arguments but %zu were given",
                 fl_task_name(ctx), n, got);
    return false;
}

static void task_add(fl_task_ctx *ctx, void *ud)
{
    operand a, b;
    int64_t r;
    (void)ud;
    if (!exact_args(ctx, 2) || !arg_num(ctx, 0, &a) || !arg_num(ctx, 1, &b))
        return;
    if (!a.is_int || !b.is_int)
        fl_task_return_number(ctx, a.d + b.d);
    else if (__builtin_add_overflow(a.i, b.i, &r))
        overflow(ctx, a.i, '+', b.i);
    else
        fl_task_return_int64(ctx, r);
}

static void task_mul(fl_task_ctx *ctx, void *ud)
{
    operand a, b;
    int64_t r;
    (void)ud;
    if (!exact_args(ctx, 2) || !arg_num(ctx, 0, &a) || !arg_num(ctx, 1, &b))
        return;
    if (!a.is_int || !b.is_int)
        fl_task_return_number(ctx, a.d * b.d);
    else if (__builtin_mul_overflow(a.i, b.i, &r))
        overflow(ctx, a.i, '*', b.i);
    else
        fl_task_return_int64(ctx, r);
}

/* xsum(list): the sum of a list of numbers (Celery's canvas example). */
static void task_xsum(fl_task_ctx *ctx, void *ud)
{
    (void)ud;
    if (!exact_args(ctx, 1))
        return;
    const fl_value *list = fl_value_at(fl_task_args(ctx), 0);
    if (fl_value_type(list) != FL_TYPE_ARRAY) {
        fl_task_fail(ctx, "TypeError", false,
                     "xsum(): argument 1 must be an array of numbers, not %s",
                     fl_type_name(fl_value_type(list)));
        return;
    }
    /* Exact while every element is an integer, as Python's sum. */
    int64_t isum = 0;
    double dsum = 0;
    bool all_int = true;
    size_t i = 0;
    for (const fl_value *v = fl_value_first(list); v;
         v = fl_value_next(v), i++) {
        operand n;
        if (fl_value_type(v) != FL_TYPE_NUMBER) {
            fl_task_fail(ctx, "TypeError", false,
                         "xsum(): element %zu of argument 1 must be a number, "
                         "not %s", i + 1, fl_type_name(fl_value_type(v)));
            return;
        }
        if (!as_num(ctx, v, 1, i + 1, &n))
            return;
        if (all_int && !n.is_int) {
            all_int = false;
            dsum = (double)isum;
        }
        if (!all_int) {
            dsum += n.d;
        } else if (__builtin_add_overflow(isum, n.i, &isum)) {
            char t[24];
            fl_task_fail(ctx, "OverflowError", false,
                         "xsum(): the sum is beyond a 64-bit integer (-2^63 "
                         "to 2^63-1) at element %zu of argument 1 (%s)", i + 1,
                         int_text(n.i, t));
            return;
        }
    }
    if (all_int)
        fl_task_return_int64(ctx, isum);
    else
        fl_task_return_number(ctx, dsum);
}

/* echo(x): returns its single argument; with several, the list of them. */
static void task_echo(fl_task_ctx *ctx, void *ud)
{
    (void)ud;
    const fl_value *args = fl_task_args(ctx);
    if (fl_value_count(args) == 1)
        fl_task_return_value(ctx, fl_value_at(args, 0));
    else
        fl_task_return_value(ctx, args);
    size_t n;
    const void *att = fl_task_attachment(ctx, &n);
    if (att)
        fl_task_return_attachment(ctx, att, n);
}

/* sleep(seconds): returns the seconds slept; stops early when cancelled,
 * or at its soft time limit (then fails with SoftTimeLimitExceeded). */
static void task_sleep(fl_task_ctx *ctx, void *ud)
{
    double s;
    (void)ud;
    if (!exact_args(ctx, 1) || !arg_number(ctx, 0, &s))
        return;
    if (s < 0 || s > 86400) {
        fl_task_fail(ctx, "ValueError", false,
                     "sleep(): argument 1 must be between 0 and 86400 seconds");
        return;
    }
    if (!fl_task_sleep(ctx, s)) {
        char num[FL_DTOA_BUF];  /* no %g: a board's printf may lack it */
        fl__dtoa(s, num);
        if (!fl_task_cancelled(ctx) && fl_task_soft_expired(ctx))
            fl_task_fail(ctx, "SoftTimeLimitExceeded", false,
                         "sleep(%s) stopped at its soft time limit", num);
        else
            fl_task_fail(ctx, "Cancelled", false, "sleep(%s) was cancelled",
                         num);
        return;
    }
    fl_task_return_number(ctx, s);
}

/* fail(message): raises TaskError with the message (for tests). A kwarg
 * {"retryable": true} makes the error retryable. */
static void task_fail(fl_task_ctx *ctx, void *ud)
{
    (void)ud;
    const fl_value *args = fl_task_args(ctx);
    const char *msg = fl_value_string(fl_value_at(args, 0), NULL);
    const fl_value *r = fl_value_get(fl_task_kwargs(ctx), "retryable");
    fl_task_fail(ctx, "TaskError", fl_value_bool(r), "%s",
                 msg ? msg : "fail() was called");
}

fl_status fl_register_builtins(fl_registry *reg)
{
    static const struct {
        const char *name;
        fl_task_fn fn;
    } tasks[] = {
        {"add", task_add},     {"mul", task_mul},     {"xsum", task_xsum},
        {"echo", task_echo},   {"sleep", task_sleep}, {"fail", task_fail},
    };
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
        fl_status st = fl_registry_add(reg, tasks[i].name, tasks[i].fn, NULL);
        if (st != FL_OK && st != FL_EEXIST)
            return st;
    }
    return FL_OK;
}
