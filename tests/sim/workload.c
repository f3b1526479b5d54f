/*
 * workload.c - random tasks over the built-in registry (add, mul, xsum,
 * echo, sleep, fail, plus unknown names and bad arguments) and the oracle
 * that says which final each must get.
 * Depends on workload.h, the public header and the C standard library.
 */
#include "workload.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int64_t small_int(fl_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)fl__rng_below(r, (uint64_t)(hi - lo + 1));
}

static void want_success(sim_task *t, const char *fmt, long long v)
{
    t->want_state = FL_SUCCESS;
    snprintf(t->want_value, sizeof t->want_value, fmt, v);
}

static void want_failure(sim_task *t, const char *type)
{
    t->want_state = FL_FAILURE;
    snprintf(t->want_err, sizeof t->want_err, "%s", type);
}

static void make_arith(sim_task *t, fl_rng *r, bool mul)
{
    long long a = small_int(r, -1000, 1000), b = small_int(r, -1000, 1000);
    snprintf(t->name, sizeof t->name, "%s", mul ? "mul" : "add");
    snprintf(t->args, sizeof t->args, "[%lld,%lld]", a, b);
    want_success(t, "%lld", mul ? a * b : a + b);
}

static void make_xsum(sim_task *t, fl_rng *r)
{
    int n = (int)fl__rng_below(r, 20);
    long long sum = 0;
    size_t off = 0;
    snprintf(t->name, sizeof t->name, "xsum");
    off += (size_t)snprintf(t->args + off, sizeof t->args - off, "[[");
    for (int i = 0; i < n; i++) {
        long long x = small_int(r, -100000, 100000);
        sum += x;
        off += (size_t)snprintf(t->args + off, sizeof t->args - off, "%s%lld",
                                i ? "," : "", x);
    }
    snprintf(t->args + off, sizeof t->args - off, "]]");
    want_success(t, "%lld", sum);
}

static void make_echo(sim_task *t, fl_rng *r)
{
    static const char *samples[] = {
        "\"hello\"", "{\"a\":[1,2,{\"b\":null}],\"c\":true}", "[]",
        "\"caf\\u00e9 \\\"quoted\\\"\"", "42", "null", "[1,\"two\",3.5,false]",
    };
    const char *s = samples[fl__rng_below(r, sizeof samples / sizeof *samples)];
    snprintf(t->name, sizeof t->name, "echo");
    snprintf(t->args, sizeof t->args, "[%s]", s);
    t->want_state = FL_SUCCESS;
    snprintf(t->want_value, sizeof t->want_value, "%s", s);
}

/* sleep(s) returns s; with a time limit it either fits with room to spare
 * or overruns it by far, so the verdict never hangs on a rounding. */
static void make_sleep(sim_task *t, fl_rng *r)
{
    snprintf(t->name, sizeof t->name, "sleep");
    unsigned roll = (unsigned)fl__rng_below(r, 4);
    if (roll == 0) {
        t->opt.time_limit_ms = (uint32_t)small_int(r, 300, 1000);
        snprintf(t->args, sizeof t->args, "[2.5]");
        want_failure(t, "TimeLimitExceeded");
        t->want_runs = 1;
        return;
    }
    long long ms = small_int(r, 0, 500);
    if (roll == 1)
        t->opt.time_limit_ms = (uint32_t)(ms + 1500);
    snprintf(t->args, sizeof t->args, "[%lld.%03lld]", ms / 1000, ms % 1000);
    t->want_state = FL_SUCCESS;
    snprintf(t->want_value, sizeof t->want_value, "%lld.%03lld", ms / 1000,
             ms % 1000);
}

static void make_fail(sim_task *t, fl_rng *r)
{
    bool retryable = fl__rng_below(r, 2) == 0;
    snprintf(t->name, sizeof t->name, "fail");
    snprintf(t->args, sizeof t->args, "[\"boom %u\"]",
             (unsigned)fl__rng_below(r, 1000));
    if (retryable)
        snprintf(t->kwargs, sizeof t->kwargs, "{\"retryable\":true}");
    t->opt.retries = (uint32_t)fl__rng_below(r, 3);
    want_failure(t, "TaskError");
    t->want_runs = retryable ? t->opt.retries + 1 : 1;
}

static void make_bad(sim_task *t, fl_rng *r)
{
    if (fl__rng_below(r, 2) == 0) {
        snprintf(t->name, sizeof t->name, "nope");
        snprintf(t->args, sizeof t->args, "[1]");
        want_failure(t, "UnknownTask");
        t->never_runs = true; /* the owner fails it: no node runs it */
        return;
    } else {
        snprintf(t->name, sizeof t->name, "add");
        snprintf(t->args, sizeof t->args, "[1,\"two\"]");
        want_failure(t, "TypeError");
    }
    t->want_runs = 1;
}

void sim_task_make(sim_task *t, fl_rng *r, int client, int workers)
{
    memset(t, 0, sizeof *t);
    t->client = client;
    unsigned roll = (unsigned)fl__rng_below(r, 100);
    if (roll < 25)
        make_arith(t, r, false);
    else if (roll < 40)
        make_arith(t, r, true);
    else if (roll < 55)
        make_xsum(t, r);
    else if (roll < 65)
        make_echo(t, r);
    else if (roll < 85)
        make_sleep(t, r);
    else if (roll < 95)
        make_fail(t, r);
    else
        make_bad(t, r);
    if (t->want_state == FL_SUCCESS && t->want_runs == 0)
        t->want_runs = 1;
    /* A tight max_attempts makes worker loss visible under faults. */
    if (fl__rng_below(r, 5) == 0 && t->opt.retries == 0)
        t->opt.max_attempts = 1 + (uint32_t)fl__rng_below(r, 5);
    if (fl__rng_below(r, 20) == 0)
        t->opt.countdown_ms = (uint32_t)small_int(r, 1, 3000);
    /* Priorities reorder the owner's ready lists (bands, retries at the
     * front of theirs): every task must still end exactly once. Drawn from
     * a copy of the generator, so that every other choice a seed makes
     * stays what it was. */
    fl_rng side = *r;
    (void)fl__rng_next(&side);
    if (fl__rng_below(&side, 3) == 0)
        t->opt.priority = (uint8_t)fl__rng_below(&side, FL_PRIORITY_MAX + 1);
    if (workers > 0 && fl__rng_below(r, 20) == 0) {
        snprintf(t->route, sizeof t->route, "w%u",
                 (unsigned)fl__rng_below(r, (uint64_t)workers));
        t->opt.route = t->route;
    }
    t->revoke = fl__rng_below(r, 50) == 0;
}

/* Unset, max_attempts is the default plus the retries, so that retries
 * are not eaten by worker loss (docs/architecture.md, "Max attempts"). */
uint32_t sim_task_max_runs(const sim_task *t)
{
    if (t->opt.max_attempts)
        return t->opt.max_attempts;
    return FL_DEFAULT_MAX_ATTEMPTS + t->opt.retries;
}

static bool equal_values(const fl_value *a, const fl_value *b, int depth)
{
    fl_type ta = fl_value_type(a);
    if (depth > 64 || ta != fl_value_type(b))
        return false;
    switch (ta) {
    case FL_TYPE_NULL:
        return true;
    case FL_TYPE_BOOL:
        return fl_value_bool(a) == fl_value_bool(b);
    case FL_TYPE_NUMBER:
        return fl_value_number(a) == fl_value_number(b);
    case FL_TYPE_STRING: {
        size_t la, lb;
        const char *sa = fl_value_string(a, &la);
        const char *sb = fl_value_string(b, &lb);
        return la == lb && memcmp(sa, sb, la) == 0;
    }
    case FL_TYPE_ARRAY:
    case FL_TYPE_OBJECT:
        break;
    }
    size_t n = fl_value_count(a);
    if (n != fl_value_count(b))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (ta == FL_TYPE_OBJECT &&
            strcmp(fl_value_key_at(a, i), fl_value_key_at(b, i)) != 0)
            return false;
        if (!equal_values(fl_value_at(a, i), fl_value_at(b, i), depth + 1))
            return false;
    }
    return true;
}

bool sim_value_equals_json(const fl_value *v, const char *json)
{
    fl_value *want = NULL;
    if (fl_value_parse(json, strlen(json), &want) != FL_OK)
        return false;
    bool eq = equal_values(v, want, 0);
    fl_value_free(want);
    return eq;
}

static void describe(const fl_value *v, char *out, size_t n)
{
    size_t len = 0;
    char *json = v ? fl_value_to_json(v, &len) : NULL;
    snprintf(out, n, "%.*s", json ? (int)(len > 200 ? 200 : len) : 4,
             json ? json : "null");
    fl_free(json);
}

bool sim_task_check_final(const sim_task *t, fl_state state,
                          const fl_value *value, const char *err_type,
                          uint32_t attempts, bool lossy, char *why,
                          size_t whylen)
{
    const char *et = err_type ? err_type : "";
    uint32_t max = sim_task_max_runs(t);
    if (attempts > max) {
        snprintf(why, whylen, "final says %u attempts, max_attempts is %u",
                 attempts, max);
        return false;
    }
    if (state == FL_REVOKED) {
        if (t->revoke_requested)
            return true;
        snprintf(why, whylen, "REVOKED (%s) but never revoked", et);
        return false;
    }
    if (t->revoke_ok) {
        snprintf(why, whylen, "revoke accepted but final is %s",
                 fl_state_name(state));
        return false;
    }
    if (state == FL_FAILURE && strcmp(et, "WorkerLost") == 0) {
        if (!lossy) {
            snprintf(why, whylen, "WorkerLost on a network that loses nothing");
            return false;
        }
        if (attempts != max) {
            snprintf(why, whylen, "WorkerLost after %u of %u attempts",
                     attempts, max);
            return false;
        }
        return true;
    }
    if (state != t->want_state) {
        snprintf(why, whylen, "state %s (%s), expected %s %s",
                 fl_state_name(state), et, fl_state_name(t->want_state),
                 t->want_state == FL_SUCCESS ? t->want_value : t->want_err);
        return false;
    }
    if (state == FL_FAILURE && strcmp(et, t->want_err) != 0) {
        snprintf(why, whylen, "error type %s, expected %s", et, t->want_err);
        return false;
    }
    if (state == FL_SUCCESS && !sim_value_equals_json(value, t->want_value)) {
        char got[256];
        describe(value, got, sizeof got);
        snprintf(why, whylen, "value %s, expected %s", got, t->want_value);
        return false;
    }
    return true;
}
