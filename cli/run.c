/*
 * run.c - `floret run EXPR`: parse a workflow in the expression language of
 * docs/canvas.md (close to Celery's Python), run it from a zero-slot node
 * that owns it, print the result as JSON. A syntax error shows the
 * expression with a caret under the column. With --async the workflow is
 * handed to a long-running node instead, and the id printed can be waited
 * on with `floret result ID` while that node lives. The workflow comes
 * from argv, from a file (-f FILE) or from stdin (-), as an expression or
 * as canvas JSON (what --show prints), so a workflow of any size can be
 * run and --show's output fed back.
 * Exit status: 0 success, 1 the workflow failed or timed out, 2 usage or
 * syntax error, 3 broker unreachable.
 * Depends on cli.h, client.h, opts.h and the public header.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "floret/floret.h"
#include "opts.h"
#include "progress.h"

#define DEFAULT_TIMEOUT_S 60.0
#define SUBMIT_TIMEOUT_MS 10000u
/* Far beyond any workflow a cluster runs (a keeper takes 8 MiB at most);
 * only a guard against reading a wrong file without end. */
#define MAX_INPUT_BYTES (256u * 1024u * 1024u)
#define CARET_CONTEXT 60 /* bytes shown either side of an error's column */
#define PROGRESS_EVERY_MS 200u

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret run EXPR [OPTIONS]\n"
            "       floret run -f FILE [OPTIONS]\n"
            "       floret run - [OPTIONS]          (the workflow on stdin)\n\n"
            "Run a workflow on the cluster and print its result as JSON. EXPR is\n"
            "Celery's Canvas written like Python, or canvas JSON (what --show\n"
            "prints, starting with '{'); arguments are JSON values:\n\n"
            "  floret run 'add(4,4) | mul(8) | mul(10)'          chain        -> 640\n"
            "  floret run '[add(2,2), add(4,4)]'                  group        -> [4,8]\n"
            "  floret run '[add(1,1), add(2,2)] | xsum()'         chord        -> 6\n"
            "  floret run 'xsum.map([[0,1,2],[3,4]])'             map          -> [3,7]\n"
            "  floret run 'add.starmap([[1,1],[2,2]])'            starmap      -> [2,4]\n"
            "  floret run 'add.chunks([[1,1],[2,2],[3,3]], 2)'    chunks       -> [[2,4],[6]]\n"
            "  floret run 'add(1,1) | add.si(5,5)'                immutable    -> 10\n"
            "  floret run 'add(1,2).set(retries=3, time_limit=5)' options\n\n"
            "Options:\n"
            "  -f, --file FILE    read the workflow from FILE (- for stdin), for\n"
            "                     workflows too long for a command line\n"
            "  --timeout SECONDS  wait at most this long for the result (default 60)\n"
            "  --async            hand the workflow to a running node, print its id\n"
            "                     (OWNER:N) and exit; see 'floret result'\n"
            "  --owner NODE       with --async: the node that keeps the workflow; it\n"
            "                     must be online with slots (default: the least\n"
            "                     loaded such node whose presence says it keeps\n"
            "                     workflows, not a worker-only board)\n"
            "  --show             print the workflow as canvas JSON and exit\n"
            "  --progress         draw the progress line on stderr even when it is\n"
            "                     not a terminal (default: only on a terminal)\n"
            "  --no-progress      never draw it\n"
            CLI_CONN_HELP
            "  --cluster NAME     default: default\n"
            "  -v, --verbose      show the node's log lines\n"
            "  -h, --help         show this help\n\n"
            "Exit status: 0 success, 1 the workflow failed or timed out, 2 usage\n"
            "or syntax error, 3 broker unreachable.\n");
}

struct run_args {
    const char *expr;
    const char *file;  /* -f FILE, or "-" for stdin */
    double timeout_s;
    bool async;
    bool show;
    enum cli_progress_mode progress;
    const char *owner;
    struct cli_client client;
};

/* An option at argv[*i]; -1 to go on, else exit status. */
static int parse_option(int argc, char **argv, int *i, struct run_args *a)
{
    const char *v = NULL;
    int m;

    if ((m = cli_opt(argc, argv, i, "--file", &v, "run")) != 0 ||
        (m = cli_opt(argc, argv, i, "-f", &v, "run")) != 0) {
        if (m < 0)
            return 2;
        if (a->file)
            return cli_usage_error("run", "one -f FILE only");
        a->file = v;
    } else if ((m = cli_opt(argc, argv, i, "--timeout", &v, "run")) != 0) {
        if (m < 0)
            return 2;
        if (cli_parse_timeout("run", "--timeout", v, CLI_MAX_SECONDS, &a->timeout_s) != 0)
            return 2;
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
        return cli_unknown_arg_help("run", argv[*i], usage);
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
        } else if (strcmp(s, "--progress") == 0) {
            a->progress = CLI_PROGRESS_ON;
        } else if (strcmp(s, "--no-progress") == 0) {
            a->progress = CLI_PROGRESS_OFF;
        } else if (strcmp(s, "-") == 0 && !a->expr && !a->file) {
            a->file = "-";
        } else if ((s[0] == '-' && s[1] == '-') || strncmp(s, "-f", 2) == 0) {
            if ((rc = parse_option(argc, argv, &i, a)) >= 0)
                return rc;
        } else if (!a->expr) {
            a->expr = s;
        } else {
            return cli_usage_error("run", "one expression only; quote it: floret run '%s ...'", a->expr);
        }
    }
    if (a->expr && a->file)
        return cli_usage_error("run", "the workflow comes from %s or from the "
                               "command line, not both", strcmp(a->file, "-") == 0
                               ? "stdin (-)" : "-f FILE");
    if (!a->expr && !a->file)
        return cli_usage_error("run", "which workflow? e.g. floret run 'add(4,4) | mul(8)'");
    if (a->owner && !a->async)
        return cli_usage_error("run", "--owner goes with --async");
    return -1;
}

/* The line of the expression holding byte col (at most CARET_CONTEXT
 * bytes either side of it, "..." where cut), then a caret under it (tabs
 * kept so it lines up). */
static void show_caret(const char *expr, size_t col)
{
    size_t len = strlen(expr), from, to;
    if (col > len)
        col = len;
    for (from = col; from > 0 && expr[from - 1] != '\n'; from--)
        ;
    for (to = col; to < len && expr[to] != '\n'; to++)
        ;
    bool cut_left = col - from > CARET_CONTEXT, cut_right = to - col > CARET_CONTEXT;
    if (cut_left)
        from = col - CARET_CONTEXT;
    if (cut_right)
        to = col + CARET_CONTEXT;
    fprintf(stderr, "  %s%.*s%s\n  %s", cut_left ? "..." : "", (int)(to - from),
            expr + from, cut_right ? "..." : "", cut_left ? "   " : "");
    for (size_t i = from; i < col; i++)
        fputc(expr[i] == '\t' ? '\t' : ' ', stderr);
    fputs("^\n", stderr);
}

/* Line and column (from 1) of byte col, for a workflow read from a file. */
static void line_col(const char *text, size_t col, size_t *line, size_t *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < col && text[i]; i++) {
        if (text[i] == '\n') {
            ++*line;
            *column = 1;
        } else {
            ++*column;
        }
    }
}

static bool is_canvas_json(const char *text)
{
    while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
        text++;
    return *text == '{';
}

static fl_canvas *parse_expr(const char *expr, bool from_file)
{
    char err[256];
    size_t col = 0;
    if (is_canvas_json(expr)) {
        /* Checked now rather than when applied, so the reason is printed
         * like a syntax error's, before connecting. */
        fl_canvas *cv = fl_canvas_from_json(expr);
        if (cv && !fl_canvas_error(cv) && !fl_canvas_check(cv, err, sizeof err))
            return cv;
        if (cv && fl_canvas_error(cv))
            snprintf(err, sizeof err, "%s", fl_canvas_error(cv));
        else if (!cv)
            snprintf(err, sizeof err, "out of memory");
        fprintf(stderr, "floret run: %s\n", err);
        fl_canvas_free(cv);
        return NULL;
    }
    fl_canvas *cv = fl_canvas_parse(expr, err, sizeof err, &col);
    if (cv)
        return cv;
    if (from_file) {
        size_t line, column;
        line_col(expr, col, &line, &column);
        fprintf(stderr, "floret run: %s (line %zu, column %zu)\n", err, line,
                column);
    } else {
        fprintf(stderr, "floret run: %s (column %zu)\n", err, col + 1);
    }
    show_caret(expr, col);
    return NULL;
}

/* The whole of path ("-": stdin) as a NUL-terminated string; NULL after
 * saying why. A NUL byte inside is refused: it would cut the workflow. */
static char *read_input(const char *path)
{
    bool std = strcmp(path, "-") == 0;
    FILE *f = std ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "floret run: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap);
    bool ok = buf != NULL;
    while (ok) {
        if (len + 1 >= cap) {
            char *more = cap < MAX_INPUT_BYTES ? realloc(buf, cap * 2) : NULL;
            if (!more) {
                fprintf(stderr, "floret run: %s is over %u MiB\n",
                        std ? "stdin" : path, MAX_INPUT_BYTES >> 20);
                ok = false;
                break;
            }
            buf = more;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - 1 - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ok && ferror(f)) {
        fprintf(stderr, "floret run: cannot read %s: %s\n", std ? "stdin" : path,
                strerror(errno));
        ok = false;
    }
    if (ok) {
        /* A file's last newline is no part of the workflow (and --show
         * prints JSON read back as it came). */
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
                           buf[len - 1] == ' ' || buf[len - 1] == '\t'))
            len--;
        buf[len] = '\0';
        if (memchr(buf, '\0', len)) {
            fprintf(stderr, "floret run: %s holds a NUL byte: not a workflow\n",
                    std ? "stdin" : path);
            ok = false;
        }
    }
    if (!std)
        fclose(f);
    if (!ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for r up to timeout_s, redrawing the progress line meanwhile; the
 * time left for cli_client_report. */
static double wait_with_progress(struct run_args *a, const fl_canvas *cv,
                                 fl_result *r)
{
    struct cli_progress p;
    fl_node_counters k;
    double start = now_s(), t = start;

    cli_progress_init(&p, stderr, true, a->progress == CLI_PROGRESS_ON,
                      fl_canvas_tasks(cv), start);
    while (t - start < a->timeout_s) {
        double left_ms = (a->timeout_s - (t - start)) * 1000.0;
        uint32_t ms = left_ms < PROGRESS_EVERY_MS ? (uint32_t)left_ms + 1
                                                   : PROGRESS_EVERY_MS;
        bool ready = fl_result_wait(r, ms) == FL_OK;
        t = now_s();
        if (fl_node_counters_get(a->client.node, &k) != FL_OK)
            break;
        if (ready) {
            cli_progress_end(&p, &k, t);
            break;
        }
        cli_progress_update(&p, &k, t);
    }
    if (p.drawn && !fl_result_ready(r))
        fputc('\n', stderr); /* the timeout's message on a line of its own */
    return a->timeout_s - (t - start) > 0 ? a->timeout_s - (t - start) : 0;
}

static int run_here(struct run_args *a, const fl_canvas *cv)
{
    fl_result *r = NULL;
    fl_status st = fl_node_apply(a->client.node, cv, &r);
    double timeout_s = a->timeout_s;
    int rc;
    if (st != FL_OK) {
        fprintf(stderr, "error: cannot run the workflow: %s\n", fl_strerror(st));
        return st == FL_EINVAL || st == FL_ETOOBIG ? 2 : 1;
    }
    if (cli_progress_wanted(a->progress, stderr)) {
        timeout_s = wait_with_progress(a, cv, r);
        a->client.waited_s = a->timeout_s - timeout_s;
    }
    rc = cli_client_report(&a->client, r, timeout_s, "the workflow");
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
    char *text = NULL;
    if (a.file) {
        text = read_input(a.file);
        if (!text)
            return 2;
    }
    cv = parse_expr(text ? text : a.expr, text != NULL);
    free(text);
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
