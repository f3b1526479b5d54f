/*
 * throughput.c - what a floret cluster does for one client, end to end:
 *
 *  burst:   a client node (0 slots) submits --count add tasks as fast as it
 *           can and waits for every result: tasks/s including results.
 *  latency: after a warm-up, --rounds single tasks one at a time (call, then
 *           wait): p50/p99 round trip in microseconds.
 *
 * Every result is checked (add(i,i) = 2i); any wrong or missing result fails
 * the run loudly with exit status 1. Output is one "key=value ..." line per
 * measurement, for bench/run_node_bench.sh, set beside bench/pingpong.c.
 * Depends on the public header floret.h only (and POSIX clocks).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "floret/floret.h"

#define MAX_WORKERS 16        /* distinct workers tallied in the report */
#define MAX_REPORTED_ERRORS 10

typedef struct config {
    const char *broker;
    const char *cluster;
    long count;
    long rounds;
    long warmup;
    long nodes;
    double timeout_s;
} config;

/* How many results each worker produced (to show the load split). */
typedef struct tally {
    char id[MAX_WORKERS][72];
    long n[MAX_WORKERS];
    int used;
    long other;
} tally;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The task called (--task, any that adds its two arguments: "add", or a
 * Lua module's) and where (--route, NULL: anywhere). */
static const char *task_name = "add";
static fl_call_options call_opt;

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--broker URL] [--cluster NAME] [--count N] [--rounds M]\n"
            "          [--warmup W] [--nodes K] [--timeout SECONDS] [--task NAME]\n"
            "          [--route NODE]\n"
            "  --count    tasks in the burst (default 100000; 0 skips it)\n"
            "  --rounds   sequential single tasks timed (default 2000; 0 skips it)\n"
            "  --warmup   untimed single tasks before them (default 200)\n"
            "  --nodes    worker nodes to wait for before starting (default 1)\n"
            "  --timeout  the whole run must end within this (default 300)\n"
            "  --task     the task called with (i, i), which must return 2i (default add;\n"
            "             a Lua task for bench/pool.sh)\n"
            "  --route    run the tasks only on this node (default: any)\n",
            prog);
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, config *cfg)
{
    long timeout = 300;
    cfg->broker = NULL; /* floret's default: $FLORET_BROKER, then localhost */
    cfg->cluster = NULL;
    cfg->count = 100000;
    cfg->rounds = 2000;
    cfg->warmup = 200;
    cfg->nodes = 1;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(argv[0]);
            exit(0);
        } else if (!v) {
            bad = 1;
        } else if (strcmp(a, "--broker") == 0) {
            cfg->broker = v;
        } else if (strcmp(a, "--cluster") == 0) {
            cfg->cluster = v;
        } else if (strcmp(a, "--task") == 0) {
            task_name = v;
        } else if (strcmp(a, "--route") == 0) {
            call_opt.route = v;
        } else if (strcmp(a, "--count") == 0) {
            bad = parse_long(v, 0, 100000000, &cfg->count);
        } else if (strcmp(a, "--rounds") == 0) {
            bad = parse_long(v, 0, 10000000, &cfg->rounds);
        } else if (strcmp(a, "--warmup") == 0) {
            bad = parse_long(v, 0, 10000000, &cfg->warmup);
        } else if (strcmp(a, "--nodes") == 0) {
            bad = parse_long(v, 0, 1000, &cfg->nodes);
        } else if (strcmp(a, "--timeout") == 0) {
            bad = parse_long(v, 1, 86400, &timeout);
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "throughput: bad argument %s %s\n", a, v ? v : "");
            usage(argv[0]);
            return -1;
        }
    }
    cfg->timeout_s = (double)timeout;
    return 0;
}

/* Milliseconds left before deadline, at least 1 (so a wait never means
 * "forever" and never rounds down to a busy poll of 0). */
static uint32_t ms_left(double deadline)
{
    double left = (deadline - now_s()) * 1e3;
    if (left < 1)
        return 1;
    return left > 4e9 ? 4000000000u : (uint32_t)left;
}

static void tally_add(tally *t, const char *worker)
{
    for (int i = 0; i < t->used; i++) {
        if (strcmp(t->id[i], worker) == 0) {
            t->n[i]++;
            return;
        }
    }
    if (t->used == MAX_WORKERS) {
        t->other++;
        return;
    }
    snprintf(t->id[t->used], sizeof t->id[0], "%s", worker);
    t->n[t->used++] = 1;
}

static void tally_print(const tally *t)
{
    printf("split");
    for (int i = 0; i < t->used; i++)
        printf(" %s=%ld", t->id[i], t->n[i]);
    if (t->other)
        printf(" others=%ld", t->other);
    printf("\n");
}

/* Wait until at least want worker nodes (slots > 0) are online. */
static int wait_for_workers(fl_node *node, long want, double deadline)
{
    static fl_peer peers[256];
    size_t n = 0;
    long seen = 0;
    while (now_s() < deadline) {
        if (fl_node_peers(node, peers, 256, &n) != FL_OK)
            return -1;
        seen = 0;
        for (size_t i = 0; i < n; i++)
            if (peers[i].online && peers[i].slots > 0)
                seen++;
        if (seen >= want)
            return 0;
        usleep(20000);
    }
    fprintf(stderr, "throughput: only %ld of %ld worker nodes came online\n", seen, want);
    return -1;
}

/* Submit add(i, i). */
static fl_status call_add(fl_node *node, long i, fl_result **out)
{
    char args[64];
    snprintf(args, sizeof args, "[%ld,%ld]", i, i);
    return fl_node_call(node, task_name, args, NULL, NULL, 0,
                        call_opt.route ? &call_opt : NULL, out);
}

/* Wait for r and check it holds 2i. Returns 0, or -1 after saying why. */
static int check_add(fl_result *r, long i, double deadline, int *reported)
{
    fl_status st = fl_result_wait(r, ms_left(deadline));
    const char *why = NULL;
    char buf[256];
    if (st != FL_OK) {
        snprintf(buf, sizeof buf, "no result (%s)", fl_strerror(st));
        why = buf;
    } else if (fl_result_state(r) != FL_SUCCESS) {
        snprintf(buf, sizeof buf, "state %s: %s: %s", fl_state_name(fl_result_state(r)),
                 fl_result_error_type(r) ? fl_result_error_type(r) : "?",
                 fl_result_error_message(r) ? fl_result_error_message(r) : "?");
        why = buf;
    } else {
        const fl_value *v = fl_result_value(r);
        if (fl_value_type(v) != FL_TYPE_NUMBER || fl_value_number(v) != 2.0 * (double)i) {
            char *json = fl_value_to_json(v, NULL);
            snprintf(buf, sizeof buf, "expected %ld, got %s", 2 * i, json ? json : "?");
            fl_free(json);
            why = buf;
        }
    }
    if (!why)
        return 0;
    if ((*reported)++ < MAX_REPORTED_ERRORS)
        fprintf(stderr, "throughput: FAIL add(%ld,%ld): %s\n", i, i, why);
    return -1;
}

static int run_burst(fl_node *node, const config *cfg, double deadline)
{
    fl_result **res = calloc((size_t)cfg->count, sizeof *res);
    tally *t = calloc(1, sizeof *t);
    long bad = 0, submitted = 0;
    int reported = 0;
    if (!res || !t) {
        fprintf(stderr, "throughput: out of memory for %ld handles\n", cfg->count);
        free(res);
        free(t);
        return -1;
    }
    double t0 = now_s();
    for (long i = 0; i < cfg->count && now_s() < deadline; i++) {
        fl_status st = call_add(node, i, &res[i]);
        if (st != FL_OK) {
            fprintf(stderr, "throughput: FAIL submit %ld: %s\n", i, fl_strerror(st));
            break;
        }
        submitted++;
    }
    double t_sub = now_s();
    for (long i = 0; i < submitted; i++) {
        if (check_add(res[i], i, deadline, &reported) != 0)
            bad++;
        else
            tally_add(t, fl_result_worker(res[i]));
    }
    double t1 = now_s();
    for (long i = 0; i < submitted; i++)
        fl_result_free(res[i]);
    free(res);
    bad += cfg->count - submitted;
    if (bad == 0) {
        printf("burst tasks=%ld submit_s=%.3f seconds=%.3f tasks_per_s=%.0f\n", cfg->count,
               t_sub - t0, t1 - t0, (double)cfg->count / (t1 - t0));
        tally_print(t);
    } else {
        fprintf(stderr, "throughput: FAIL %ld of %ld burst tasks wrong or missing\n", bad,
                cfg->count);
    }
    free(t);
    return bad == 0 ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, long n, double q)
{
    long i = (long)(q * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

/* One task, start to result, checked. Returns seconds or -1. */
static double one_task(fl_node *node, long i, double deadline, int *reported)
{
    fl_result *r = NULL;
    double t0 = now_s();
    fl_status st = call_add(node, i, &r);
    if (st != FL_OK) {
        fprintf(stderr, "throughput: FAIL submit %ld: %s\n", i, fl_strerror(st));
        return -1;
    }
    int rc = check_add(r, i, deadline, reported);
    double dt = now_s() - t0;
    fl_result_free(r);
    return rc == 0 ? dt : -1;
}

static int run_latency(fl_node *node, const config *cfg, double deadline)
{
    double *us = calloc((size_t)cfg->rounds, sizeof *us);
    int reported = 0;
    if (!us)
        return -1;
    for (long i = 0; i < cfg->warmup; i++) {
        if (one_task(node, i, deadline, &reported) < 0) {
            free(us);
            return -1;
        }
    }
    double sum = 0;
    for (long i = 0; i < cfg->rounds; i++) {
        double s = one_task(node, i, deadline, &reported);
        if (s < 0) {
            fprintf(stderr, "throughput: FAIL single task %ld of %ld\n", i, cfg->rounds);
            free(us);
            return -1;
        }
        us[i] = s * 1e6;
        sum += us[i];
    }
    qsort(us, (size_t)cfg->rounds, sizeof *us, cmp_double);
    printf("latency rounds=%ld p50_us=%.1f p99_us=%.1f min_us=%.1f max_us=%.1f mean_us=%.1f\n",
           cfg->rounds, percentile(us, cfg->rounds, 0.50), percentile(us, cfg->rounds, 0.99),
           us[0], us[cfg->rounds - 1], sum / (double)cfg->rounds);
    free(us);
    return 0;
}

static void quiet_log(void *ud, int level, const char *line)
{
    (void)ud;
    fprintf(stderr, "throughput: node[%d]: %s\n", level, line);
}

int main(int argc, char **argv)
{
    config cfg;
    if (parse_args(argc, argv, &cfg) != 0)
        return 2;
    double deadline = now_s() + cfg.timeout_s;

    fl_node_options o;
    fl_node_options_init(&o);
    o.broker_url = cfg.broker;
    o.cluster = cfg.cluster;
    /* No name: the default (<user>.<host>-<pid> with a broker user) is what
     * the ACL of floret local and broker-config lets read its inbox. */
    o.slots = 0;
    o.log = quiet_log;
    o.log_level = FL_LOG_WARN;

    fl_node *node = NULL;
    fl_status st = fl_node_new(&o, &node);
    if (st != FL_OK) {
        fprintf(stderr, "throughput: fl_node_new: %s\n", fl_strerror(st));
        return 3;
    }
    st = fl_node_start(node, 10000);
    if (st != FL_OK) {
        fprintf(stderr, "throughput: fl_node_start: %s\n", fl_strerror(st));
        fl_node_free(node);
        return 3;
    }
    int rc = 0;
    double wait_until = now_s() + 10.0 < deadline ? now_s() + 10.0 : deadline;
    if (wait_for_workers(node, cfg.nodes, wait_until) != 0)
        rc = 3;
    if (rc == 0 && cfg.count > 0 && run_burst(node, &cfg, deadline) != 0)
        rc = 1;
    if (rc == 0 && cfg.rounds > 0 && run_latency(node, &cfg, deadline) != 0)
        rc = 1;
    fflush(stdout);
    fl_node_stop(node, 2000);
    fl_node_free(node);
    if (rc == 1)
        fprintf(stderr, "throughput: FAILED\n");
    return rc;
}
