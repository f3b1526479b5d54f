/*
 * events.c - `floret events`: a live stream of task events, like `celery
 * events --dump`. A zero-slot node asks every node for its events (a
 * `watch`, renewed while it runs; docs/protocol.md 3.11) and prints each
 * event it receives as one line of text, or of JSON with --json, stamped
 * with the time it arrived, until Ctrl-C, --count matching events or
 * --timeout seconds. Filters: --task, --node, --failed.
 * Depends on cli.h, client.h, clock.h, json_out.h, opts.h and the public header.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "clock.h"
#include "conn.h"
#include "floret/floret.h"
#include "json_out.h"
#include "opts.h"

#define CMD "events"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret events [OPTIONS]\n\n"
            "Print task events (received, started, succeeded, failed, retried, revoked)\n"
            "as nodes send them, one per line, until Ctrl-C. Asks every node for its\n"
            "events while it runs; nodes started with 'floret node -E' send them anyway.\n\n"
            "Options:\n"
            "  --json               one JSON object per line\n"
            "  --task NAME          only events of this task\n"
            "  --node ID            only events from this node\n"
            "  --failed             only failures (failed, retried, revoked)\n"
            "  --count N            exit after N events\n"
            "  --timeout S          exit after S seconds\n"
            "  --cluster NAME       default: default\n"
            CLI_CONN_HELP
            "  -v, --verbose        log the node's debug lines\n"
            "  -h, --help           show this help\n");
}

struct events_args {
    bool json, failed_only;
    const char *task, *node;
    long count;
    double timeout_s;
    struct cli_client c;
};

static int parse(int argc, char **argv, struct events_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            a->json = true;
        } else if (strcmp(argv[i], "--failed") == 0) {
            a->failed_only = true;
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            a->c.verbose = true;
        } else if ((m = cli_opt(argc, argv, &i, "--task", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            a->task = v;
        } else if ((m = cli_opt(argc, argv, &i, "--node", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            a->node = v;
        } else if ((m = cli_opt(argc, argv, &i, "--count", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            if (!cli_parse_long(v, 1, 1000000000L, &a->count))
                return cli_usage_error(CMD, "--count '%s': expected a number from 1", v);
        } else if ((m = cli_opt(argc, argv, &i, "--timeout", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            if (cli_parse_timeout(CMD, "--timeout", v, CLI_MAX_SECONDS, &a->timeout_s) != 0)
                return 2;
        } else if ((m = cli_conn_opt(argc, argv, &i, &a->c.conn, CMD)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(argc, argv, &i, "--cluster", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            a->c.cluster = v;
        } else {
            return cli_unknown_arg_help(CMD, argv[i], usage);
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- output */

static atomic_long g_printed;

static const char *str_of(const fl_value *obj, const char *key)
{
    const char *s = fl_value_string(fl_value_get(obj, key), NULL);
    return s ? s : "";
}

static bool is_failure(const char *type)
{
    return strcmp(type, "failed") == 0 || strcmp(type, "retried") == 0 ||
           strcmp(type, "revoked") == 0;
}

static bool wanted(const struct events_args *a, const char *node, const fl_value *ev)
{
    const char *type = str_of(ev, "type");
    if (!type[0])
        return false;
    if (a->node && strcmp(a->node, node) != 0)
        return false;
    if (a->task && strcmp(a->task, str_of(ev, "task")) != 0)
        return false;
    return !a->failed_only || is_failure(type);
}

/* Only printable bytes of a received string go to a terminal. */
static void put_clean(const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max; i++)
        putchar((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
}

static void print_text(const char *ts, const char *node, const fl_value *ev)
{
    const fl_value *err = fl_value_get(ev, "error");
    const fl_value *rt = fl_value_get(ev, "runtime_us");
    printf("%s ", ts);
    put_clean(node, 64);
    printf(" %-9s ", str_of(ev, "type"));
    put_clean(str_of(ev, "task"), 64);
    printf(" ");
    put_clean(str_of(ev, "owner"), 64);
    printf(":%.0f attempt=%.0f", fl_value_number(fl_value_get(ev, "id")),
           fl_value_number(fl_value_get(ev, "attempt")));
    if (fl_value_type(rt) == FL_TYPE_NUMBER)
        printf(" runtime=%.3fms", fl_value_number(rt) / 1000.0);
    if (fl_value_type(err) == FL_TYPE_OBJECT) {
        printf(" ");
        put_clean(str_of(err, "type"), 64);
        printf(": ");
        put_clean(str_of(err, "message"), 256);
    }
    if (str_of(ev, "reason")[0]) {
        printf(" (");
        put_clean(str_of(ev, "reason"), 256);
        printf(")");
    }
    putchar('\n');
}

static void print_json(const char *ts, const char *node, const fl_value *ev)
{
    size_t len = 0;
    char *json = fl_value_to_json(ev, &len);
    if (!json || len < 2)
        return;
    printf("{\"ts\":\"%s\",\"node\":", ts);
    cli_json_string(node);
    if (len > 2)
        putchar(',');
    fwrite(json + 1, 1, len - 1, stdout);
    putchar('\n');
    fl_free(json);
}

static void on_report(void *ud, const char *node, const char *kind, const fl_value *msg)
{
    struct events_args *a = ud;
    char ts[40];
    if (strcmp(kind, "events") != 0)
        return;
    cli_iso_time(ts, sizeof ts, cli_wall_ms());
    const fl_value *list = fl_value_get(msg, "events");
    for (const fl_value *ev = fl_value_first(list); ev; ev = fl_value_next(ev)) {
        if (fl_value_type(ev) != FL_TYPE_OBJECT || !wanted(a, node, ev))
            continue;
        if (a->count && atomic_load(&g_printed) >= a->count)
            return;
        if (a->json)
            print_json(ts, node, ev);
        else
            print_text(ts, node, ev);
        atomic_fetch_add(&g_printed, 1);
    }
    fflush(stdout);
}

/* ------------------------------------------------------------------- run */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

int cli_events(int argc, char **argv)
{
    struct events_args a;
    memset(&a, 0, sizeof a);
    a.c.cmd = CMD;
    int rc = parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    a.c.observe = on_report;
    a.c.observe_ud = &a;
    a.c.watch_events = true;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = cli_client_start(&a.c);
    if (rc >= 0)
        return rc;
    fprintf(stderr, "floret events: watching cluster '%s' (Ctrl-C to stop)\n",
            a.c.cluster ? a.c.cluster : "default");
    double waited = 0;
    while (!g_stop && (!a.count || atomic_load(&g_printed) < a.count) &&
           (a.timeout_s <= 0 || waited < a.timeout_s)) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        waited += 0.05;
    }
    cli_client_stop(&a.c);
    return 0;
}
