/*
 * run.c - `floret run EXPR`: parse a workflow in the expression language of
 * docs/canvas.md (close to Celery's Python), run it from a zero-slot node
 * that owns it, print the result as JSON. A syntax error shows the
 * expression with a caret under the column. With --async the workflow is
 * handed to a long-running node instead, and the id printed can be waited
 * on with `floret result ID` while that node lives.
 * Exit status: 0 success, 1 the workflow failed or timed out, 2 usage or
 * syntax error, 3 broker unreachable.
 * Depends on cli.h, client.h, opts.h and the public header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "floret/floret.h"
#include "opts.h"

#define DEFAULT_TIMEOUT_S 60.0
#define SUBMIT_TIMEOUT_MS 10000u

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret run EXPR [OPTIONS]\n\n"
            "Run a workflow on the cluster and print its result as JSON. EXPR is\n"
            "Celery's Canvas written like Python; arguments are JSON values:\n\n"
            "  floret run 'add(4,4) | mul(8) | mul(10)'          chain        -> 640\n"
            "  floret run '[add(2,2), add(4,4)]'                  group        -> [4,8]\n"
            "  floret run '[add(1,1), add(2,2)] | xsum()'         chord        -> 6\n"
            "  floret run 'xsum.map([[0,1,2],[3,4]])'             map          -> [3,7]\n"
            "  floret run 'add.starmap([[1,1],[2,2]])'            starmap      -> [2,4]\n"
            "  floret run 'add.chunks([[1,1],[2,2],[3,3]], 2)'    chunks       -> [[2,4],[6]]\n"
            "  floret run 'add(1,1) | add.si(5,5)'                immutable    -> 10\n"
            "  floret run 'add(1,2).set(retries=3, time_limit=5)' options\n\n"
            "Options:\n"
            "  --timeout SECONDS  wait at most this long for the result (default 60)\n"
            "  --async            hand the workflow to a running node, print its id\n"
            "                     (OWNER:N) and exit; see 'floret result'\n"
            "  --owner NODE       with --async: the node that keeps the workflow\n"
            "                     (default: the first online node with slots)\n"
            "  --show             print the workflow as canvas JSON and exit\n"
            CLI_CONN_HELP
            "  --cluster NAME     default: default\n"
            "  -v, --verbose      show the node's log lines\n"
            "  -h, --help         show this help\n\n"
            "Exit status: 0 success, 1 the workflow failed or timed out, 2 usage\n"
            "or syntax error, 3 broker unreachable.\n");
}

struct run_args {
    const char *expr;
    double timeout_s;
    bool async;
    bool show;
    const char *owner;
    struct cli_client client;
};

/* An option at argv[*i]; -1 to go on, else exit status. */
static int parse_option(int argc, char **argv, int *i, struct run_args *a)
{
    const char *v = NULL;
    int m;

    if ((m = cli_opt(argc, argv, i, "--timeout", &v, "run")) != 0) {
        if (m < 0)
            return 2;
        if (!cli_parse_seconds(v, CLI_MAX_SECONDS, &a->timeout_s) || a->timeout_s <= 0)
            return cli_usage_error("run", "--timeout '%s': expected a positive number of seconds", v);
    } else if ((m = cli_opt(argc, argv, i, "--owner", &v, "run")) != 0) {
        if (m < 0)
            return 2;
        a->owner = v;
    } else if ((m = cli_conn_opt(argc, argv, i, &a->client.conn, "run")) != 0) {
        if (m < 0)
            return 2;
    } else if ((m = cli_opt(argc, argv, i, "--cluster", &v, "run")) != 0) {
        if (m < 0)
            return 2;
        a->client.cluster = v;
    } else {
        return cli_usage_error("run", "unknown option '%s'", argv[*i]);
    }
    return -1;
}

static int parse(int argc, char **argv, struct run_args *a)
{
    int rc;

    memset(a, 0, sizeof *a);
    a->timeout_s = DEFAULT_TIMEOUT_S;
    a->client.cmd = "run";
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(s, "-v") == 0 || strcmp(s, "--verbose") == 0) {
            a->client.verbose = true;
        } else if (strcmp(s, "--async") == 0) {
            a->async = true;
        } else if (strcmp(s, "--show") == 0) {
            a->show = true;
        } else if (s[0] == '-' && s[1] == '-') {
            if ((rc = parse_option(argc, argv, &i, a)) >= 0)
                return rc;
        } else if (!a->expr) {
            a->expr = s;
        } else {
            return cli_usage_error("run", "one expression only; quote it: floret run '%s ...'", a->expr);
        }
    }
    if (!a->expr)
        return cli_usage_error("run", "which workflow? e.g. floret run 'add(4,4) | mul(8)'");
    if (a->owner && !a->async)
        return cli_usage_error("run", "--owner goes with --async");
    return -1;
}

/* The expression, then a caret under byte col (tabs kept so it lines up). */
static void show_caret(const char *expr, size_t col)
{
    size_t len = strlen(expr);
    if (col > len)
        col = len;
    fprintf(stderr, "  %s\n  ", expr);
    for (size_t i = 0; i < col; i++)
        fputc(expr[i] == '\t' ? '\t' : ' ', stderr);
    fputs("^\n", stderr);
}

static fl_canvas *parse_expr(const char *expr)
{
    char err[256];
    size_t col = 0;
    fl_canvas *cv = fl_canvas_parse(expr, err, sizeof err, &col);
    if (cv)
        return cv;
    fprintf(stderr, "floret run: %s (column %zu)\n", err, col + 1);
    show_caret(expr, col);
    return NULL;
}

static int run_here(struct run_args *a, const fl_canvas *cv)
{
    fl_result *r = NULL;
    fl_status st = fl_node_apply(a->client.node, cv, &r);
    int rc;
    if (st != FL_OK) {
        fprintf(stderr, "error: cannot run the workflow: %s\n", fl_strerror(st));
        return st == FL_EINVAL || st == FL_ETOOBIG ? 2 : 1;
    }
    rc = cli_client_report(&a->client, r, a->timeout_s, "the workflow");
    fl_result_free(r);
    return rc;
}

int cli_run(int argc, char **argv)
{
    struct run_args a;
    fl_canvas *cv;
    int rc = parse(argc, argv, &a);

    if (rc >= 0)
        return rc;
    cv = parse_expr(a.expr);
    if (!cv)
        return 2;
    if (fl_canvas_error(cv)) {
        fprintf(stderr, "floret run: %s\n", fl_canvas_error(cv));
        fl_canvas_free(cv);
        return 2;
    }
    if (a.show) {
        printf("%s\n", fl_canvas_json(cv));
        fl_canvas_free(cv);
        return 0;
    }
    rc = cli_client_start(&a.client);
    if (rc < 0) {
        rc = a.async ? cli_run_async(&a.client, cv, a.owner) : run_here(&a, cv);
        cli_client_stop(&a.client);
    }
    fl_canvas_free(cv);
    return rc;
}
