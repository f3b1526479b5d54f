/*
 * many_calls.c - integration-test client: submits N tasks from one floret
 * client node with fl_node_call, waits (bounded) for all of them and reports
 * every task's outcome, the workers that ran them, and anything that breaks
 * "each result reaches the caller exactly once" (a duplicate task id, a
 * result that changed after it was ready, a value other than expected).
 *
 *   many_calls [--broker URL] [--name ID] [-n N] [--task NAME] [--args JSON]
 *              [--expect JSON] [--timeout S] [--lease-ttl MS]
 *
 * Waits with fl_result_wait_any. Prints "submitted N", then "progress K"
 * as results arrive, then one "task ..." line per task and a final
 * "summary ..." line. Exit 0 only when every task succeeded with the
 * expected value, nothing was duplicated and fl_result_wait_any never named
 * a result that was not ready.
 * Depends on the public header floret.h and POSIX only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "floret/floret.h"

struct opts {
    const char *broker;
    const char *name;
    const char *task;
    const char *args;
    const char *expect;
    long n;
    double timeout_s;
    long lease_ttl_ms;
};

struct outcome {
    fl_result *r;
    fl_state state;   /* as first seen ready */
    char *value_json; /* as first seen ready; fl_free */
    int observed;     /* state and value_json hold the first look */
    int changed;      /* state or value differed on a later look */
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int usage(void)
{
    fprintf(stderr, "usage: many_calls [--broker URL] [--name ID] [-n N] [--task NAME]\n"
                    "                  [--args JSON] [--expect JSON] [--timeout S]\n"
                    "                  [--lease-ttl MS]\n");
    return 2;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){NULL, "many-calls", "sleep", "[0.01]", NULL, 1000, 120.0, 0};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (strcmp(a, "--broker") == 0)
            o->broker = v;
        else if (strcmp(a, "--name") == 0)
            o->name = v;
        else if (strcmp(a, "-n") == 0)
            o->n = strtol(v, NULL, 10);
        else if (strcmp(a, "--task") == 0)
            o->task = v;
        else if (strcmp(a, "--args") == 0)
            o->args = v;
        else if (strcmp(a, "--expect") == 0)
            o->expect = v;
        else if (strcmp(a, "--timeout") == 0)
            o->timeout_s = strtod(v, NULL);
        else if (strcmp(a, "--lease-ttl") == 0)
            o->lease_ttl_ms = strtol(v, NULL, 10);
        else
            return usage();
    }
    if (o->n < 1 || o->n > 1000000 || o->timeout_s <= 0)
        return usage();
    return 0;
}

/* True when v matches the expected value: numbers by value, the rest by text. */
static int value_matches(const fl_value *v, const fl_value *want, const char *want_json)
{
    if (fl_value_type(want) == FL_TYPE_NUMBER)
        return fl_value_type(v) == FL_TYPE_NUMBER &&
               fabs(fl_value_number(v) - fl_value_number(want)) < 1e-9;
    char *got = fl_value_to_json(v, NULL);
    int same = got && strcmp(got, want_json) == 0;
    fl_free(got);
    return same;
}

/* Record a ready result the first time; afterwards note any change. */
static void observe(struct outcome *oc)
{
    fl_state st = fl_result_state(oc->r);
    const fl_value *v = fl_result_value(oc->r);
    char *json = v ? fl_value_to_json(v, NULL) : NULL;
    if (!oc->observed) {
        oc->observed = 1;
        oc->state = st;
        oc->value_json = json;
        return;
    }
    if (st != oc->state || (json && oc->value_json && strcmp(json, oc->value_json) != 0) ||
        (!json) != (!oc->value_json))
        oc->changed = 1;
    fl_free(json);
}

static int submit_all(fl_node *node, const struct opts *o, struct outcome *oc)
{
    for (long i = 0; i < o->n; i++) {
        fl_status s = fl_node_call(node, o->task, o->args, NULL, NULL, 0, NULL, &oc[i].r);
        if (s != FL_OK) {
            fprintf(stderr, "many_calls: call %ld failed: %s\n", i, fl_strerror(s));
            return -1;
        }
    }
    printf("submitted %ld\n", o->n);
    fflush(stdout);
    return 0;
}

/* Sleep with fl_result_wait_any until one of the results not seen yet is
 * ready (or 100 ms pass); -1 when it says a result is ready that is not. */
static int wait_some(const struct opts *o, const struct outcome *oc,
                     const char *seen, fl_result **pending)
{
    size_t n = 0, idx = 0;
    for (long i = 0; i < o->n; i++)
        if (!seen[i])
            pending[n++] = oc[i].r;
    if (n == 0)
        return 0;
    fl_status st = fl_result_wait_any(pending, n, 100, &idx);
    if (st == FL_OK && (idx >= n || !fl_result_ready(pending[idx]))) {
        fprintf(stderr, "many_calls: fl_result_wait_any gave %zu of %zu, not ready\n", idx, n);
        return -1;
    }
    if (st != FL_OK && st != FL_ETIMEDOUT) {
        fprintf(stderr, "many_calls: fl_result_wait_any: %s\n", fl_strerror(st));
        return -1;
    }
    return 0;
}

/* Wait until every result is ready or the deadline passes; returns how many
 * are ready, or -1 when waiting went wrong. */
static long wait_all(const struct opts *o, struct outcome *oc, char *seen)
{
    long deadline = now_ms() + (long)(o->timeout_s * 1000);
    long ready = 0, reported = -1, last_report = 0;
    fl_result **pending = calloc((size_t)o->n, sizeof *pending);
    if (!pending)
        return -1;
    while (ready < o->n) {
        for (long i = 0; i < o->n; i++) {
            if (!seen[i] && fl_result_ready(oc[i].r)) {
                seen[i] = 1;
                observe(&oc[i]);
                ready++;
            }
        }
        if (ready != reported && (now_ms() - last_report >= 100 || ready == o->n)) {
            printf("progress %ld\n", ready);
            fflush(stdout);
            reported = ready;
            last_report = now_ms();
        }
        if (ready == o->n || now_ms() >= deadline)
            break;
        if (wait_some(o, oc, seen, pending) != 0) {
            ready = -1;
            break;
        }
    }
    free(pending);
    return ready;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static long count_duplicate_ids(const struct outcome *oc, long n)
{
    uint64_t *ids = malloc((size_t)n * sizeof *ids);
    if (!ids)
        return n;
    for (long i = 0; i < n; i++)
        ids[i] = fl_result_id(oc[i].r);
    qsort(ids, (size_t)n, sizeof *ids, cmp_u64);
    long dup = 0;
    for (long i = 1; i < n; i++)
        dup += ids[i] == ids[i - 1];
    free(ids);
    return dup;
}

/* Print per-task lines and the summary; returns the process exit status. */
static int report(const struct opts *o, struct outcome *oc, const char *seen)
{
    fl_value *want = NULL;
    if (o->expect && fl_value_parse(o->expect, strlen(o->expect), &want) != FL_OK) {
        fprintf(stderr, "many_calls: --expect is not JSON\n");
        return 2;
    }
    long success = 0, failure = 0, pending = 0, changed = 0, mismatch = 0;
    for (long i = 0; i < o->n; i++) {
        struct outcome *c = &oc[i];
        if (seen[i])
            observe(c); /* a second look: a later duplicate must not show */
        fl_state st = seen[i] ? c->state : fl_result_state(c->r);
        const char *et = fl_result_error_type(c->r);
        const char *em = fl_result_error_message(c->r);
        int ok = st == FL_SUCCESS;
        if (ok && want && !value_matches(fl_result_value(c->r), want, o->expect))
            mismatch++, ok = 0;
        success += st == FL_SUCCESS;
        failure += st == FL_FAILURE || st == FL_REVOKED;
        pending += !seen[i];
        changed += c->changed;
        printf("task %ld id %llu state %s worker %s value %s%s%s%s%s\n", i,
               (unsigned long long)fl_result_id(c->r), fl_state_name(st),
               fl_result_worker(c->r)[0] ? fl_result_worker(c->r) : "-",
               c->value_json ? c->value_json : "-", et ? " error " : "", et ? et : "",
               em ? ": " : "", em ? em : "");
    }
    long dup = count_duplicate_ids(oc, o->n);
    printf("summary total %ld success %ld failure %ld pending %ld duplicate_ids %ld "
           "changed %ld mismatch %ld\n",
           o->n, success, failure, pending, dup, changed, mismatch);
    fl_value_free(want);
    return success == o->n && !dup && !changed && !mismatch ? 0 : 1;
}

static fl_status start_client(const struct opts *o, fl_node **out)
{
    fl_node_options no;
    fl_node_options_init(&no);
    no.broker_url = o->broker;
    no.name = o->name;
    no.slots = 0;
    if (o->lease_ttl_ms > 0)
        no.lease_ttl_ms = (uint32_t)o->lease_ttl_ms;
    fl_status s = fl_node_new(&no, out);
    if (s != FL_OK)
        return s;
    s = fl_node_start(*out, 10000);
    if (s != FL_OK) {
        fl_node_free(*out);
        *out = NULL;
    }
    return s;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, &o) != 0)
        return 2;
    fl_node *node = NULL;
    fl_status s = start_client(&o, &node);
    if (s != FL_OK) {
        fprintf(stderr, "many_calls: cannot start the client node: %s\n", fl_strerror(s));
        return 3;
    }
    struct outcome *oc = calloc((size_t)o.n, sizeof *oc);
    char *seen = calloc((size_t)o.n, 1);
    int rc = 1;
    if (!oc || !seen) {
        fprintf(stderr, "many_calls: out of memory\n");
    } else if (submit_all(node, &o, oc) == 0) {
        rc = wait_all(&o, oc, seen) < 0 ? 1 : report(&o, oc, seen);
    }
    fflush(stdout);
    for (long i = 0; oc && i < o.n; i++) {
        fl_free(oc[i].value_json);
        fl_result_free(oc[i].r);
    }
    free(oc);
    free(seen);
    fl_node_stop(node, 1000);
    fl_node_free(node);
    return rc;
}
