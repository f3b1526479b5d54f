/*
 * canvas.c - large workflows on a running cluster, through the public API:
 *
 *  chord: a chord of --chord N add(i, i) into xsum: wall time, and the
 *         answer checked against sum(2i) = N(N-1).
 *  group: a group of --group N add(i, i): wall time, every member checked,
 *         and the owner's (this process's) peak RSS before and after, which
 *         is what the owner pays to drive N tasks.
 *
 * Output: one "key=value ..." line per workflow, for bench/run_canvas_bench.sh.
 * Run it inside a cluster, e.g. `floret local -n 2 -- build/bench/canvas`.
 * Depends on the public header floret.h only (and POSIX clocks, getrusage).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "floret/floret.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* The group add(0,0) .. add(n-1,n-1), or NULL when out of memory. */
static fl_canvas *adds(long n)
{
    fl_canvas **items = calloc((size_t)n, sizeof *items);
    char args[64];
    if (!items)
        return NULL;
    for (long i = 0; i < n; i++) {
        snprintf(args, sizeof args, "[%ld,%ld]", i, i);
        items[i] = fl_sig("add", args, NULL);
    }
    fl_canvas *g = fl_group_of(items, (size_t)n);
    free(items);
    return g;
}

/* Run cv, wait up to timeout_s; the result handle or NULL (reported). */
static fl_result *run(fl_node *node, fl_canvas *cv, double timeout_s,
                      const char *what)
{
    fl_result *r = NULL;
    if (!cv || fl_canvas_error(cv)) {
        fprintf(stderr, "%s: cannot build the workflow: %s\n", what,
                cv ? fl_canvas_error(cv) : "out of memory");
        return NULL;
    }
    fl_status st = fl_node_apply(node, cv, &r);
    if (st != FL_OK) {
        fprintf(stderr, "%s: fl_node_apply: %s\n", what, fl_strerror(st));
        return NULL;
    }
    if (fl_result_wait(r, (uint32_t)(timeout_s * 1000)) != FL_OK) {
        fprintf(stderr, "%s: no result within %g s\n", what, timeout_s);
        fl_result_free(r);
        return NULL;
    }
    if (fl_result_state(r) != FL_SUCCESS) {
        fprintf(stderr, "%s: %s: %s\n", what, fl_result_error_type(r),
                fl_result_error_message(r));
        fl_result_free(r);
        return NULL;
    }
    return r;
}

static bool bench_chord(fl_node *node, long n, double timeout_s)
{
    double t0 = now_s();
    fl_canvas *cv = fl_chord(adds(n), fl_sig("xsum", NULL, NULL));
    double built = now_s();
    fl_result *r = run(node, cv, timeout_s, "chord");
    double t1 = now_s();
    fl_canvas_free(cv);
    if (!r)
        return false;
    double want = (double)n * (double)(n - 1);
    double got = fl_value_number(fl_result_value(r));
    fl_result_free(r);
    if (got != want) {
        fprintf(stderr, "chord: xsum gave %.0f, expected %.0f\n", got, want);
        return false;
    }
    printf("workflow=chord members=%ld build_s=%.3f wall_s=%.3f tasks_per_s=%.0f\n",
           n, built - t0, t1 - t0, (double)(n + 1) / (t1 - t0));
    return true;
}

static bool bench_group(fl_node *node, long n, double timeout_s)
{
    long rss0 = peak_rss_kib();
    double t0 = now_s();
    fl_canvas *cv = adds(n);
    fl_result *r = run(node, cv, timeout_s, "group");
    double t1 = now_s();
    fl_canvas_free(cv);
    if (!r)
        return false;
    const fl_value *v = fl_result_value(r);
    bool ok = fl_value_count(v) == (size_t)n;
    long i = 0;
    for (const fl_value *e = fl_value_first(v); ok && e; e = fl_value_next(e), i++)
        ok = fl_value_number(e) == 2.0 * (double)i;
    fl_result_free(r);
    if (!ok) {
        fprintf(stderr, "group: member %ld is wrong or missing\n", i);
        return false;
    }
    printf("workflow=group members=%ld wall_s=%.3f tasks_per_s=%.0f "
           "peak_rss_before_kib=%ld peak_rss_kib=%ld\n",
           n, t1 - t0, (double)n / (t1 - t0), rss0, peak_rss_kib());
    return true;
}

int main(int argc, char **argv)
{
    long chord = 10000, group = 100000;
    double timeout_s = 600;
    const char *broker = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--chord") == 0)
            chord = atol(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--group") == 0)
            group = atol(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--broker") == 0)
            broker = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--timeout") == 0)
            timeout_s = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--chord N] [--group N] [--broker URL] "
                            "[--timeout S]\n  (0 skips a workflow; the broker "
                            "defaults to $FLORET_BROKER)\n", argv[0]);
            return 2;
        }
    }
    fl_node_options o;
    fl_node *node = NULL;
    fl_node_options_init(&o);
    o.broker_url = broker;
    o.slots = 0;
    o.log_level = FL_LOG_WARN;
    if (fl_node_new(&o, &node) != FL_OK || fl_node_start(node, 5000) != FL_OK) {
        fprintf(stderr, "canvas: cannot connect to the broker\n");
        fl_node_free(node);
        return 3;
    }
    bool ok = (chord <= 0 || bench_chord(node, chord, timeout_s)) &&
              (group <= 0 || bench_group(node, group, timeout_s));
    fl_node_stop(node, 2000);
    fl_node_free(node);
    return ok ? 0 : 1;
}
