/*
 * task_ctx.c - what a native task sees while it runs (fl_task_* in the
 * public header) and fl_core_run_job, which looks a job's task up in the
 * registry and runs it. Runs on executor threads: it touches only the job,
 * the read-only registry and the outcome it fills.
 * Depends on alloc.h, buf.h, codec.h, core.h, registry.h; vsnprintf only
 * for formatting error messages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "codec.h"
#include "core.h"
#include "registry.h"

struct fl_task_ctx {
    const fl_job *job;
    const fl_run_hooks *hooks;
    fl_outcome *out;
};

void fl_outcome_clear(fl_outcome *o)
{
    fl__free(o->value_json);
    fl__free(o->att);
    fl__free(o->err_message);
    memset(o, 0, sizeof *o);
}

/* The outcome becomes a failure carrying msg (taken; NULL when it could
 * not be made, which fl_task_fail reports). */
static void set_error_taken(fl_outcome *o, const char *type, bool retryable,
                            char *msg)
{
    fl__free(o->value_json);
    o->value_json = NULL;
    o->value_len = 0;
    fl__free(o->att);
    o->att = NULL;
    o->att_len = 0;
    o->ok = false;
    o->retryable = retryable;
    size_t tl = strlen(type);
    if (tl > FL_MAX_ERROR_TYPE)
        tl = FL_MAX_ERROR_TYPE;
    memcpy(o->err_type, type, tl);
    o->err_type[tl] = '\0';
    fl__free(o->err_message);
    o->err_message = msg;
}

static void set_error(fl_outcome *o, const char *type, bool retryable,
                      const char *msg)
{
    size_t ml = strlen(msg);
    set_error_taken(o, type, retryable,
                    fl__strndup(msg, ml < FL_MAX_ERROR_MESSAGE
                                         ? ml : FL_MAX_ERROR_MESSAGE));
}

static void set_errorf(fl_outcome *o, const char *type, bool retryable,
                       const char *fmt, ...) FL__PRINTF(4, 5);

static void set_errorf(fl_outcome *o, const char *type, bool retryable,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = fl__strdup_vprintf(FL_MAX_ERROR_MESSAGE, fmt, ap);
    va_end(ap);
    set_error_taken(o, type, retryable, msg);
}

const fl_value *fl_task_args(const fl_task_ctx *ctx) { return ctx->job->args; }
const fl_value *fl_task_kwargs(const fl_task_ctx *ctx) { return ctx->job->kwargs; }
const char *fl_task_name(const fl_task_ctx *ctx) { return ctx->job->name; }
uint32_t fl_task_attempt(const fl_task_ctx *ctx) { return ctx->job->attempt; }

const char *fl_task_node(const fl_task_ctx *ctx)
{
    return ctx->hooks->node_id ? ctx->hooks->node_id : "";
}

const void *fl_task_attachment(const fl_task_ctx *ctx, size_t *len)
{
    if (len)
        *len = ctx->job->att_len;
    return ctx->job->att_len ? ctx->job->att : NULL;
}

bool fl_task_cancelled(const fl_task_ctx *ctx)
{
    return ctx->hooks->cancelled && ctx->hooks->cancelled(ctx->hooks->ud);
}

bool fl_task_soft_expired(const fl_task_ctx *ctx)
{
    return ctx->hooks->soft_expired && ctx->hooks->soft_expired(ctx->hooks->ud);
}

bool fl_task_sleep(fl_task_ctx *ctx, double seconds)
{
    if (!(seconds > 0))
        return !fl_task_cancelled(ctx);
    if (!ctx->hooks->sleep)
        return false;
    return ctx->hooks->sleep(ctx->hooks->ud, seconds);
}

/* Takes ownership of text (allocated with fl__malloc). */
static fl_status set_value_text(fl_task_ctx *ctx, char *text, size_t len)
{
    fl_outcome *o = ctx->out;
    if (len > ctx->hooks->max_result) {
        fl__free(text);
        set_error(o, "ResultTooBig", false, "result is too big for a message");
        return FL_ETOOBIG;
    }
    fl__free(o->value_json);
    fl__free(o->err_message);
    o->err_message = NULL;
    o->err_type[0] = '\0';
    o->ok = true;
    o->value_json = text;
    o->value_len = len;
    return FL_OK;
}

fl_status fl_task_return_number(fl_task_ctx *ctx, double x)
{
    fl_buf b;
    fl__buf_init(&b);
    fl__buf_put_double(&b, x);
    fl__buf_putc(&b, '\0');
    if (!fl__buf_ok(&b)) {
        fl__buf_free(&b);
        if (x != x || x - x != 0) {
            set_error(ctx->out, "ValueError", false,
                      "result is not a finite number (JSON has no NaN or infinity)");
            return FL_EINVAL;
        }
        return FL_ENOMEM;
    }
    return set_value_text(ctx, b.data, b.len - 1);
}

fl_status fl_task_return_int64(fl_task_ctx *ctx, int64_t x)
{
    fl_buf b;
    fl__buf_init(&b);
    if (x < 0)
        fl__buf_putc(&b, '-');
    /* -2^63 has no positive twin: negate in unsigned arithmetic. */
    fl__buf_put_u64(&b, x < 0 ? 0u - (uint64_t)x : (uint64_t)x);
    fl__buf_putc(&b, '\0');
    if (!fl__buf_ok(&b)) {
        fl__buf_free(&b);
        return FL_ENOMEM;
    }
    return set_value_text(ctx, b.data, b.len - 1);
}

fl_status fl_task_return_json(fl_task_ctx *ctx, const char *json, size_t len)
{
    char err[128];
    fl_status st = fl__check_json(json, len, -1, err, sizeof err);
    if (st != FL_OK) {
        char msg[160];
        snprintf(msg, sizeof msg, "result is not valid JSON: %s", err);
        set_error(ctx->out, "ValueError", false, msg);
        return st;
    }
    char *copy = fl__strndup(json, len);
    if (!copy)
        return FL_ENOMEM;
    return set_value_text(ctx, copy, len);
}

fl_status fl_task_return_value(fl_task_ctx *ctx, const fl_value *v)
{
    size_t len = 0;
    char *text = fl_value_to_json(v, &len);
    if (!text)
        return FL_ENOMEM;
    return set_value_text(ctx, text, len);
}

fl_status fl_task_return_attachment(fl_task_ctx *ctx, const void *data,
                                    size_t len)
{
    fl_outcome *o = ctx->out;
    if (len > ctx->hooks->max_result)
        return FL_ETOOBIG;
    uint8_t *copy = NULL;
    if (len) {
        copy = fl__malloc(len);
        if (!copy)
            return FL_ENOMEM;
        memcpy(copy, data, len);
    }
    fl__free(o->att);
    o->att = copy;
    o->att_len = len;
    return FL_OK;
}

fl_status fl_task_fail(fl_task_ctx *ctx, const char *type, bool retryable,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = fl__strdup_vprintf(FL_MAX_ERROR_MESSAGE, fmt, ap);
    va_end(ap);
    set_error_taken(ctx->out, type && *type ? type : "TaskError", retryable,
                    msg);
    return msg ? FL_OK : FL_ENOMEM;
}

static void run_entry(const fl_registry_entry *e, const fl_job *job,
                      const fl_run_hooks *hooks, fl_outcome *outcome)
{
    fl_task_ctx ctx = {job, hooks, outcome};
    outcome->ok = true;
    e->fn(&ctx, e->ud);
}

/*
 * fl.starmap(name, [[args...], ...]): run task `name` once per argument
 * list, here, one after the other; the result is the list of results. It
 * is what a Canvas `chunks` task runs (Celery's meaning: each chunk is one
 * task on one node). The first failing element fails it, named.
 */
static void run_starmap(const fl_registry *reg, const fl_registry_entry *other,
                        const fl_job *job, const fl_run_hooks *hooks,
                        fl_outcome *out)
{
    const char *name = fl_value_string(fl_value_at(job->args, 0), NULL);
    const fl_value *items = fl_value_at(job->args, 1);
    const fl_registry_entry *e = name ? fl__registry_find(reg, name) : NULL;
    if (!e && name && other->fn)
        e = other;
    if (!name || fl_value_type(items) != FL_TYPE_ARRAY) {
        set_error(out, "TypeError", false,
                  "fl.starmap(name, items): expected a task name and an "
                  "array of argument arrays");
        return;
    }
    if (!e) {
        set_errorf(out, "UnknownTask", false,
                   "no task named '%.64s' on node %s", name,
                   hooks->node_id ? hooks->node_id : "?");
        return;
    }
    fl_buf list;
    fl__buf_init(&list);
    fl__buf_putc(&list, '[');
    size_t i = 0;
    for (const fl_value *a = fl_value_first(items); a;
         a = fl_value_next(a), i++) {
        if (fl_value_type(a) != FL_TYPE_ARRAY) {
            set_errorf(out, "TypeError", false, "chunk element %zu: expected "
                       "an array of arguments, not %s", i + 1,
                       fl_type_name(fl_value_type(a)));
            fl__buf_free(&list);
            return;
        }
        fl_job sub = *job;
        sub.name = (char *)name;
        sub.args = (fl_value *)a;
        fl_outcome one;
        memset(&one, 0, sizeof one);
        run_entry(e, &sub, hooks, &one);
        if (!one.ok) {
            set_errorf(out, one.err_type, one.retryable,
                       "chunk element %zu (%s): %s", i + 1, name,
                       one.err_message ? one.err_message : "");
            fl_outcome_clear(&one);
            fl__buf_free(&list);
            return;
        }
        if (i)
            fl__buf_putc(&list, ',');
        if (one.value_json)
            fl__buf_put(&list, one.value_json, one.value_len);
        else
            fl__buf_puts(&list, "null");
        fl_outcome_clear(&one);
    }
    fl__buf_putc(&list, ']');
    if (!fl__buf_ok(&list)) {
        fl__buf_free(&list);
        set_error(out, "MemoryError", false, "out of memory");
        return;
    }
    out->ok = true;
    out->value_json = list.data;
    out->value_len = list.len;
}

void fl_core_run_job(const fl_registry *reg, const fl_job *job,
                     const fl_run_hooks *hooks, fl_outcome *outcome)
{
    fl_core_run_job_or(reg, NULL, NULL, job, hooks, outcome);
}

void fl_core_run_job_or(const fl_registry *reg, fl_task_fn fallback,
                        void *fallback_ud, const fl_job *job,
                        const fl_run_hooks *hooks, fl_outcome *outcome)
{
    fl_registry_entry other = {NULL, fallback, fallback_ud};
    char msg[FL_MAX_ID * 2 + 64];
    if (strcmp(job->name, "fl.starmap") == 0) {
        run_starmap(reg, &other, job, hooks, outcome);
        return;
    }
    const fl_registry_entry *e = fl__registry_find(reg, job->name);
    if (!e && fallback)
        e = &other;
    if (!e) {
        snprintf(msg, sizeof msg, "no task named '%s' on node %s", job->name,
                 hooks->node_id ? hooks->node_id : "?");
        set_error(outcome, "UnknownTask", false, msg);
        return;
    }
    run_entry(e, job, hooks, outcome);
    if (outcome->ok && outcome->value_len + outcome->att_len >
                           hooks->max_result) {
        snprintf(msg, sizeof msg, "result of %s is too big for a message",
                 job->name);
        set_error(outcome, "ResultTooBig", false, msg);
    }
}
