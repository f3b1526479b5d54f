/*
 * call.c - `floret call TASK [ARG...]`: submit one task from a zero-slot
 * node, wait for it, print the result as compact JSON on stdout. Each ARG
 * is one JSON value, checked here so a typo is refused before anything is
 * sent. Exit 0 on SUCCESS, 1 on FAILURE or timeout, 2 on a usage error,
 * 3 when the broker cannot be reached.
 * Depends on cli.h, client.h, clock.h, opts.h and the public header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "clock.h"
#include "floret/floret.h"
#include "opts.h"

#define DEFAULT_TIMEOUT_S 30.0
#define MAX_SECONDS CLI_MAX_SECONDS

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
            "  --soft-time-limit S   tell a run that takes longer than S seconds (before\n"
            "                        --time-limit)\n"
            "  --countdown SECONDS   do not start before this delay\n"
            "  --eta TIME            do not start before TIME: UTC as 2026-12-02T18:00:00Z,\n"
            "                        or Unix seconds\n"
            "  --priority N          0 (default, lowest) to 9: higher leases first\n"
            "  --rate-limit RATE     start at most RATE of TASK per worker: 10/s, 100/m, 5/h\n"
            "  --route NODE|K=V      run only on this node, or on nodes tagged K=V\n"
            "  --kwargs JSON         keyword arguments (a JSON object)\n"
            CLI_CONN_HELP
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
    struct cli_conn conn;
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

    if (fl_json_check(arg, len, -1, err, sizeof err) != FL_OK) {
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
        if (cli_parse_timeout("call", "--timeout", v, MAX_SECONDS, &a->timeout_s) != 0)
            return 2;
        a->timeout_set = true;
    } else if ((m = cli_opt(argc, argv, i, "--retries", &v, "call")) != 0) {
        if (m < 0)
            return 2;
        if (!cli_parse_long(v, 0, 1000, &num))
            return cli_usage_error("call", "--retries '%s': expected a number from 0 to 1000", v);
        a->opt.retries = (uint32_t)num;
    } else if ((m = cli_opt(argc, argv, i, "--time-limit", &v, "call")) != 0) {
        return m < 0 ? 2 : seconds_opt("--time-limit", v, &a->opt.time_limit_ms);
    } else if ((m = cli_opt(argc, argv, i, "--soft-time-limit", &v, "call")) != 0) {
        return m < 0 ? 2 : seconds_opt("--soft-time-limit", v, &a->opt.soft_time_limit_ms);
    } else if ((m = cli_opt(argc, argv, i, "--countdown", &v, "call")) != 0) {
        return m < 0 ? 2 : seconds_opt("--countdown", v, &a->opt.countdown_ms);
    } else if ((m = cli_opt(argc, argv, i, "--eta", &v, "call")) != 0) {
        if (m < 0)
            return 2;
        if (fl_eta_parse(v, &a->opt.eta_ms) != FL_OK)
            return cli_usage_error("call", "--eta '%s': expected a time in UTC such as "
                                   "2026-12-02T18:00:00Z, or Unix seconds", v);
    } else if ((m = cli_opt(argc, argv, i, "--priority", &v, "call")) != 0) {
        if (m < 0)
            return 2;
        if (!cli_parse_long(v, 0, FL_PRIORITY_MAX, &num))
            return cli_usage_error("call", "--priority '%s': expected a number from 0 to %d "
                                   "(higher first)", v, FL_PRIORITY_MAX);
        a->opt.priority = (uint8_t)num;
    } else if ((m = cli_opt(argc, argv, i, "--rate-limit", &v, "call")) != 0) {
        if (m < 0)
            return 2;
        if (!fl_rate_limit_valid(v))
            return cli_usage_error("call", "--rate-limit '%s': expected a rate such as 10/s, "
                                   "100/m or 5/h", v);
        a->opt.rate_limit = v;
    } else if ((m = cli_opt(argc, argv, i, "--route", &v, "call")) != 0) {
        if (m < 0)
            return 2;
        a->opt.route = v;
    } else if ((m = cli_opt(argc, argv, i, "--kwargs", &v, "call")) != 0) {
        char err[256];
        if (m < 0)
            return 2;
        if (fl_json_check(v, strlen(v), FL_TYPE_OBJECT, err, sizeof err) != FL_OK)
            return cli_usage_error("call", "--kwargs '%s': %s", v, err);
        a->kwargs = v;
    } else if ((m = cli_conn_opt(argc, argv, i, &a->conn, "call")) != 0) {
        if (m < 0)
            return 2;
    } else if ((m = cli_opt(argc, argv, i, "--cluster", &v, "call")) != 0) {
        if (m < 0)
            return 2;
        a->cluster = v;
    } else {
        return cli_unknown_arg_help("call", argv[*i], usage);
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
    if (a->opt.soft_time_limit_ms && a->opt.time_limit_ms &&
        a->opt.soft_time_limit_ms >= a->opt.time_limit_ms)
        return cli_usage_error("call", "--soft-time-limit (%g s) must be less than "
                               "--time-limit (%g s)", a->opt.soft_time_limit_ms / 1000.0,
                               a->opt.time_limit_ms / 1000.0);
    /* A countdown or an eta must not eat the default wait. */
    if (!a->timeout_set) {
        double wait = a->opt.countdown_ms / 1000.0, now = cli_wall_ms() / 1000.0;
        if (a->opt.eta_ms / 1000.0 - now > wait)
            wait = a->opt.eta_ms / 1000.0 - now;
        a->timeout_s += wait;
    }
    return -1;
}

/* ----------------------------------------------------------------- run */

static int run(struct call_args *a, struct cli_client *c)
{
    fl_result *r = NULL;
    fl_status st;
    int rc;

    st = fl_node_call(c->node, a->task, a->args, a->kwargs, NULL, 0, &a->opt, &r);
    if (st != FL_OK) {
        fprintf(stderr, "error: cannot submit %s: %s\n", a->task, fl_strerror(st));
        return st == FL_EINVAL || st == FL_ETOOBIG ? 2 : 1;
    }
    rc = cli_client_report(c, r, a->timeout_s, "the task");
    fl_result_free(r);
    return rc;
}

int cli_call(int argc, char **argv)
{
    struct call_args a;
    struct cli_client c = {.cmd = "call"};
    int rc;

    rc = parse(argc, argv, &a);
    if (rc < 0) {
        c.conn = a.conn;
        c.cluster = a.cluster;
        c.verbose = a.verbose;
        c.time_limit_s = a.opt.time_limit_ms / 1000.0;
        rc = cli_client_start(&c);
    }
    if (rc < 0) {
        rc = run(&a, &c);
        cli_client_stop(&c);
    }
    free(a.args);
    return rc;
}
