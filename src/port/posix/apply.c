/*
 * apply.c - fl_registry_apply: run a registered native task here and now,
 * on the calling thread, the way a worker's executor runs it (Celery's
 * Task.apply()): for a program that checks a task without a cluster, and
 * for `floret mandelbrot --reference`, which renders its tiles through
 * the very code of the task so that both pictures agree byte for byte.
 * Hosted only (a board needs none of it).
 * Depends on the public header, core.h (fl_core_run_job), the core's
 * alloc.h and POSIX (nanosleep, for fl_task_sleep).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "core.h"

static bool never_cancelled(void *ud)
{
    (void)ud;
    return false;
}

static bool sleep_here(void *ud, double seconds)
{
    (void)ud;
    if (seconds <= 0)
        return true;
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return true;
}

/* Parse text (NULL: empty of type want) as the job's args or kwargs. */
static fl_status parse_part(const char *text, int want, const char *which, fl_value **out,
                            char *err, size_t errlen)
{
    const char *t = text ? text : want == FL_TYPE_ARRAY ? "[]" : "{}";
    if (fl_json_check(t, strlen(t), want, err, errlen) != FL_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen, "%s: %s", which, why);
        return FL_EINVAL;
    }
    return fl_value_parse(t, strlen(t), out);
}

fl_status fl_registry_apply(const fl_registry *reg, const char *name, const char *args,
                            const char *kwargs, const void *att, size_t att_len,
                            fl_value **value, void **att_out, size_t *att_out_len,
                            char *err, size_t errlen)
{
    fl_job job;
    fl_outcome out;
    fl_run_hooks hooks = {.cancelled = never_cancelled, .sleep = sleep_here,
                          .node_id = "local", .max_result = SIZE_MAX};
    if (value)
        *value = NULL;
    if (att_out)
        *att_out = NULL;
    if (att_out_len)
        *att_out_len = 0;
    if (!reg || !name || (att_len && !att)) {
        snprintf(err, errlen, "%s", !reg ? "reg: NULL" : !name ? "name: NULL" : "att: NULL");
        return FL_EINVAL;
    }
    memset(&job, 0, sizeof job);
    memset(&out, 0, sizeof out);
    job.name = (char *)name;
    job.attempt = 1;
    job.att = (uint8_t *)att;
    job.att_len = att_len;
    fl_status st = parse_part(args, FL_TYPE_ARRAY, "args", &job.args, err, errlen);
    if (st == FL_OK)
        st = parse_part(kwargs, FL_TYPE_OBJECT, "kwargs", &job.kwargs, err, errlen);
    if (st == FL_OK) {
        fl_core_run_job(reg, &job, &hooks, &out);
        if (!out.ok) {
            snprintf(err, errlen, "%s: %s", out.err_type,
                     out.err_message ? out.err_message : "");
            st = strcmp(out.err_type, "UnknownTask") == 0 ? FL_ENOTFOUND : FL_ETASK;
        } else if (value) {
            const char *v = out.value_json ? out.value_json : "null";
            st = fl_value_parse(v, out.value_json ? out.value_len : 4, value);
        }
        if (st == FL_OK && att_out && att_out_len) {
            *att_out = out.att;
            *att_out_len = out.att_len;
            out.att = NULL;
        }
    }
    if (st == FL_ENOMEM)
        snprintf(err, errlen, "out of memory");
    fl_value_free(job.args);
    fl_value_free(job.kwargs);
    fl_outcome_clear(&out);
    return st;
}
