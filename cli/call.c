/*
 * call.c - `floret call TASK [ARG...]`: submit one task from a zero-slot
 * node, wait for it, print the result as compact JSON on stdout. Each ARG
 * is one JSON value, checked here so a typo is refused before anything is
 * sent. Exit 0 on SUCCESS, 1 on FAILURE or timeout, 2 on a usage error,
 * 3 when the broker cannot be reached.
 * Depends on cli.h, opts.h, hosted.h and the public header.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "floret/floret.h"
#include "hosted.h"
#include "opts.h"

#define DEFAULT_TIMEOUT_S 30.0
#define START_TIMEOUT_MS 5000u
#define STOP_GRACE_MS 2000u
#define MAX_SECONDS (49.0 * 24 * 3600) /* what fits in uint32 milliseconds */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret call TASK [ARG...] [OPTIONS]\n\n"
            "Run TASK on the cluster and print its result as JSON. Each ARG is a JSON\n"
            "value: 4, 2.5, true, null, [1,2], '\"text\"' (a string needs its quotes).\n\n"
            "Options:\n"
            "  --timeout SECONDS     wait at most this long for the result (default 30)\n"
            "  --retries N           retry a retryable failure up to N times\n"
            "  --time-limit SECONDS  cancel a run that takes longer\n"
            "  --countdown SECONDS   do not start before this delay\n"
            "  --route NODE          run only on this node\n"
            "  --kwargs JSON         keyword arguments (a JSON object)\n"
            "  --broker URL          default $FLORET_BROKER, else mqtt://127.0.0.1:1883\n"
            "  --cluster NAME        default: default\n"
            "  -v, --verbose         show the node's log lines\n"
            "  -h, --help            show this help\n\n"
            "Exit status: 0 success, 1 the task failed or timed out, 2 usage error,\n"
            "3 broker unreachable.\n");
}

struct call_args {
    const char *task;
    char *args;       /* JSON array text, malloc'd */
    size_t args_len;
    size_t nargs;
    const char *kwargs;
    const char *broker;
    const char *cluster;
    double timeout_s;
    bool timeout_set;
    fl_call_options opt;
    bool verbose;
};

/* A bare word such as foo or hello_world: the usual mistake. */
static bool bare_word(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

/* Append one ARG to the args array text. -1 to go on, else exit status. */
static int add_arg(struct call_args *a, const char *arg)
{
    char err[256];
    size_t len = strlen(arg);
    char *grown;

    if (fl__json_check(arg, len, -1, err, sizeof err) != FL_OK) {
        fprintf(stderr, "floret call: argument %zu ('%s'): not JSON: %s\n",
                a->nargs + 1, arg, err);
        if (bare_word(arg))
            fprintf(stderr, "  a bare word is not a JSON string; for the string write "
                            "'\"%s\"' (quotes included)\n", arg);
        return 2;
    }
    grown = realloc(a->args, a->args_len + len + 3);
    if (!grown) {
        fprintf(stderr, "floret call: out of memory\n");
        return 1;
    }
    a->args = grown;
    a->args[a->args_len++] = a->nargs == 0 ? '[' : ',';
    memcpy(a->args + a->args_len, arg, len);
    a->args_len += len;
    a->args[a->args_len] = '\0';
    a->nargs++;
    return -1;
}

static int seconds_opt(const char *name, const char *v, uint32_t *ms)
{
    double s;
    if (!cli_parse_seconds(v, MAX_SECONDS, &s))
        return cli_usage_error("call", "%s '%s': expected a number of seconds", name, v);
    *ms = (uint32_t)(s * 1000.0 + 0.5);
    return -1;
}

/* An option at argv[*i]; -1 to go on, else exit status. */
static int parse_option(int argc, char **argv, int *i, struct call_args *a)
{
    const char *v = NULL;
    long num;
    int m;

    if ((m = cli_opt(argc, argv, i, "--timeout", &v, "call")) != 0) {
        if (m < 0)
            return 2;
        if (!cli_parse_seconds(v, MAX_SECONDS, &a->timeout_s) || a->timeout_s <= 0)
            return cli_usage_error("call", "--timeout '%s': expected a positive number of seconds", v);
        a->timeout_set = true;
    } else if ((m = cli_opt(argc, argv, i, "--retries", &v, "call")) != 0) {
        if (m < 0)
            return 2;
        if (!cli_parse_long(v, 0, 1000, &num))
            return cli_usage_error("call", "--retries '%s': expected a number from 0 to 1000", v);
        a->opt.retries = (uint32_t)num;
    } else if ((m = cli_opt(argc, argv, i, "--time-limit", &v, "call")) != 0) {
        return m < 0 ? 2 : seconds_opt("--time-limit", v, &a->opt.time_limit_ms);
    } else if ((m = cli_opt(argc, argv, i, "--countdown", &v, "call")) != 0) {
        return m < 0 ? 2 : seconds_opt("--countdown", v, &a->opt.countdown_ms);
    } else if ((m = cli_opt(argc, argv, i, "--route", &v, "call")) != 0) {
        if (m < 0)
            return 2;
        a->opt.route = v;
    } else if ((m = cli_opt(argc, argv, i, "--kwargs", &v, "call")) != 0) {
        char err[256];
        if (m < 0)
            return 2;
        if (fl__json_check(v, strlen(v), FL_TYPE_OBJECT, err, sizeof err) != FL_OK)
            return cli_usage_error("call", "--kwargs '%s': %s", v, err);
        a->kwargs = v;
    } else if ((m = cli_opt(argc, argv, i, "--broker", &v, "call")) != 0) {
        if (m < 0)
            return 2;
        a->broker = v;
    } else if ((m = cli_opt(argc, argv, i, "--cluster", &v, "call")) != 0) {
        if (m < 0)
            return 2;
        a->cluster = v;
    } else {
        return cli_usage_error("call", "unknown option '%s'", argv[*i]);
    }
    return -1;
}

/* "-3" and "-.5" are task arguments, "-v" and "--x" are options. */
static bool is_option(const char *s)
{
    if (s[0] != '-' || s[1] == '\0')
        return false;
    return !((s[1] >= '0' && s[1] <= '9') || s[1] == '.');
}

static int parse(int argc, char **argv, struct call_args *a)
{
    bool only_args = false;
    int rc;

    memset(a, 0, sizeof *a);
    a->timeout_s = DEFAULT_TIMEOUT_S;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!only_args && strcmp(s, "--") == 0) {
            only_args = true;
        } else if (!only_args && (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0)) {
            usage(stdout);
            return 0;
        } else if (!only_args && (strcmp(s, "-v") == 0 || strcmp(s, "--verbose") == 0)) {
            a->verbose = true;
        } else if (!only_args && is_option(s)) {
            if ((rc = parse_option(argc, argv, &i, a)) >= 0)
                return rc;
        } else if (!a->task) {
            a->task = s;
        } else if ((rc = add_arg(a, s)) >= 0) {
            return rc;
        }
    }
    if (!a->task)
        return cli_usage_error("call", "which task? e.g. floret call add 4 4");
    if (a->nargs > 0) {
        a->args[a->args_len++] = ']';
        a->args[a->args_len] = '\0';
    }
    /* A countdown must not eat the default wait. */
    if (!a->timeout_set)
        a->timeout_s += a->opt.countdown_ms / 1000.0;
    return -1;
}

/* ----------------------------------------------------------------- run */

struct call_log {
    bool verbose;
    atomic_bool starting; /* read by the node's loop thread */
};

static void on_log(void *ud, int level, const char *line)
{
    struct call_log *cl = ud;
    /* While connecting, the one error line printed after start says it all. */
    bool starting = atomic_load(&cl->starting);
    if (starting && !cl->verbose && level > FL_LOG_ERROR)
        return;
    if (starting && !cl->verbose && strstr(line, "cannot connect to broker"))
        return;
    fprintf(stderr, "floret call: %s\n", line);
}

static int report(fl_result *r)
{
    fl_state st = fl_result_state(r);
    if (st == FL_SUCCESS) {
        size_t len = 0;
        char *json = fl_value_to_json(fl_result_value(r), &len);
        if (!json) {
            fprintf(stderr, "error: out of memory printing the result\n");
            return 1;
        }
        fwrite(json, 1, len, stdout);
        fputc('\n', stdout);
        fl_free(json);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    fprintf(stderr, "error: %s: %s\n",
            fl_result_error_type(r) ? fl_result_error_type(r) : fl_state_name(st),
            fl_result_error_message(r) ? fl_result_error_message(r) : "");
    return 1;
}

static int run(struct call_args *a, fl_node *node, const char *cluster)
{
    fl_result *r = NULL;
    fl_status st;
    uint32_t wait_ms;
    int rc;

    st = fl_node_call(node, a->task, a->args, a->kwargs, NULL, 0, &a->opt, &r);
    if (st != FL_OK) {
        fprintf(stderr, "error: cannot submit %s: %s\n", a->task, fl_strerror(st));
        return st == FL_EINVAL || st == FL_ETOOBIG ? 2 : 1;
    }
    wait_ms = (uint32_t)(a->timeout_s * 1000.0 + 0.5);
    if (fl_result_wait(r, wait_ms) == FL_ETIMEDOUT) {
        fl_state s = fl_result_state(r);
        if (s == FL_PENDING)
            fprintf(stderr, "error: no result within %g s (no node took the task; "
                            "is a worker running on cluster '%s'?)\n",
                    a->timeout_s, cluster);
        else
            fprintf(stderr, "error: no result within %g s (the task is %s)\n",
                    a->timeout_s, s == FL_RETRY ? "waiting to be retried" : "still running");
        rc = 1;
    } else {
        rc = report(r);
    }
    fl_result_free(r);
    return rc;
}

int cli_call(int argc, char **argv)
{
    struct call_args a;
    struct call_log cl;
    fl_node_options o;
    fl_node *node = NULL;
    fl_url url;
    char err[400];
    const char *cluster;
    fl_status st;
    int rc;

    rc = parse(argc, argv, &a);
    if (rc >= 0) {
        free(a.args);
        return rc;
    }
    cluster = a.cluster ? a.cluster : "default";
    if (fl__url_parse(fl__broker_url(a.broker), &url, err, sizeof err) != FL_OK) {
        free(a.args);
        return cli_usage_error("call", "%s", err);
    }
    cl.verbose = a.verbose;
    atomic_init(&cl.starting, true);
    fl_node_options_init(&o);
    o.broker_url = a.broker;
    o.cluster = a.cluster;
    o.slots = 0;
    o.log = on_log;
    o.log_ud = &cl;
    o.log_level = a.verbose ? FL_LOG_DEBUG : FL_LOG_WARN;
    st = fl_node_new(&o, &node);
    if (st != FL_OK) {
        free(a.args);
        fprintf(stderr, "error: %s\n", fl_strerror(st));
        return st == FL_EINVAL ? 2 : 1;
    }
    st = fl_node_start(node, START_TIMEOUT_MS);
    atomic_store(&cl.starting, false);
    if (st != FL_OK) {
        if (st == FL_ECONN)
            fprintf(stderr, "error: cannot connect to broker %s: %s\n", url.text,
                    fl__node_last_error(node));
        else
            fprintf(stderr, "error: cannot start: %s\n", fl_strerror(st));
        fl_node_free(node);
        free(a.args);
        return st == FL_ECONN ? 3 : 1;
    }
    rc = run(&a, node, cluster);
    fl_node_stop(node, STOP_GRACE_MS);
    fl_node_free(node);
    free(a.args);
    return rc;
}
