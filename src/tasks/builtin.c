/*
 * builtin.c - the built-in native tasks every node offers: add, mul, xsum,
 * echo, sleep and fail. They double as the test workload, so their errors
 * name the argument and what was wrong, the way a user would want.
 * Depends on the public header and the core's dtoa.h (numbers in error
 * messages without printf's %g); no OS headers.
 */
#include "floret/floret.h"

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
    double a, b;
    (void)ud;
    if (exact_args(ctx, 2) && arg_number(ctx, 0, &a) && arg_number(ctx, 1, &b))
        fl_task_return_number(ctx, a + b);
}

static void task_mul(fl_task_ctx *ctx, void *ud)
{
    double a, b;
    (void)ud;
    if (exact_args(ctx, 2) && arg_number(ctx, 0, &a) && arg_number(ctx, 1, &b))
        fl_task_return_number(ctx, a * b);
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
    double sum = 0;
    size_t i = 0;
    for (const fl_value *v = fl_value_first(list); v;
         v = fl_value_next(v), i++) {
        if (fl_value_type(v) != FL_TYPE_NUMBER) {
            fl_task_fail(ctx, "TypeError", false,
                         "xsum(): element %zu of argument 1 must be a number, "
                         "not %s", i + 1, fl_type_name(fl_value_type(v)));
            return;
        }
        sum += fl_value_number(v);
    }
    fl_task_return_number(ctx, sum);
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

/* sleep(seconds): returns the seconds slept; stops early when cancelled. */
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
        fl_task_fail(ctx, "Cancelled", false, "sleep(%s) was cancelled", num);
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
