/*
 * schedule.c - `floret schedule add NAME 'CRON' 'WORKFLOW'`, `list` and
 * `remove NAME`: periodic workflows kept by a durable keeper
 * (docs/schedules.md), Celery beat without a beat process. Each run is an
 * ordinary kept workflow whose id `floret result` reads.
 * Exit status: 0 done, 1 the keeper refused or did not answer, 2 usage
 * error, 3 broker unreachable.
 * Depends on cli.h, client.h, clock.h, json_out.h, opts.h and the public
 * header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "clock.h"
#include "floret/floret.h"
#include "json_out.h"
#include "opts.h"

#define CMD "schedule"
#define DEFAULT_TIMEOUT_S 10.0
#define MAX_KEEPERS 256

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret schedule add NAME 'CRON' 'WORKFLOW' [OPTIONS]\n"
            "       floret schedule list [OPTIONS]\n"
            "       floret schedule remove NAME [OPTIONS]\n\n"
            "Run a workflow periodically, as Celery beat does, kept by a durable\n"
            "keeper (a node started with --state-dir): the schedule survives its\n"
            "restarts, and each run is a workflow of its own with an id KEEPER:N\n"
            "that 'floret result' reads. A run missed while the keeper was down runs\n"
            "once when it is back.\n\n"
            "CRON is in UTC: five fields 'minute hour day-of-month month day-of-week'\n"
            "('*', 5, 1-5, */15, 1,15, jan..dec, sun..sat), @hourly, @daily,\n"
            "@weekly, @monthly, @yearly, or '@every 10s' (units s, m, h, d).\n"
            "WORKFLOW is a 'floret run' expression or canvas JSON.\n\n"
            "add prints the keeper and the next run; list shows each schedule's\n"
            "keeper, cron, next run, last run's id and state, and runs so far;\n"
            "remove stops further runs (runs already started go on).\n\n"
            "Options:\n"
            "  --owner NODE       the keeper (default: add picks the least loaded\n"
            "                     durable keeper; list and remove ask every one)\n"
            "  --json             list: one JSON array of the schedules\n"
            "  --timeout SECONDS  wait at most this long for answers (default 10)\n"
            CLI_CONN_HELP
            "  --cluster NAME     default: default\n"
            "  -v, --verbose      show the node's log lines\n"
            "  -h, --help         show this help\n");
}

struct args {
    struct cli_client client;
    const char *op;
    const char *words[3];
    int nwords;
    const char *owner;
    bool json;
    double timeout_s;
};

static int parse(int argc, char **argv, struct args *a)
{
    int m;
    const char *v;
    memset(a, 0, sizeof *a);
    a->client.cmd = CMD;
    a->timeout_s = DEFAULT_TIMEOUT_S;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            a->client.verbose = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = true;
        } else if ((m = cli_opt(argc, argv, &i, "--owner", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            a->owner = v;
        } else if ((m = cli_opt(argc, argv, &i, "--timeout", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            if (cli_parse_timeout(CMD, "--timeout", v, CLI_MAX_SECONDS,
                                  &a->timeout_s) != 0)
                return 2;
        } else if ((m = cli_conn_opt(argc, argv, &i, &a->client.conn, CMD)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(argc, argv, &i, "--cluster", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            a->client.cluster = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_unknown_arg_help(CMD, argv[i], usage);
        } else if (!a->op) {
            a->op = argv[i];
        } else if (a->nwords == 3) {
            return cli_unknown_arg(CMD, argv[i], NULL);
        } else {
            a->words[a->nwords++] = argv[i];
        }
    }
    if (!a->op)
        return cli_usage_error(CMD, "add, list or remove? e.g. floret schedule "
                               "add tick '@every 10s' 'add(1,2)'");
    int want = strcmp(a->op, "add") == 0 ? 3
             : strcmp(a->op, "remove") == 0 ? 1
             : strcmp(a->op, "list") == 0 ? 0 : -1;
    if (want < 0)
        return cli_usage_error(CMD, "unknown action '%s' (expected add, list or "
                               "remove)", a->op);
    if (a->nwords != want)
        return cli_usage_error(CMD, want == 3 ? "add takes NAME 'CRON' 'WORKFLOW'"
                               : want == 1 ? "remove takes NAME"
                                           : "list takes no arguments");
    if (a->json && want != 0)
        return cli_usage_error(CMD, "--json goes with list");
    return -1;
}

/* The workflow of add: canvas JSON or a `floret run` expression. */
static fl_canvas *workflow(const char *text)
{
    char err[256] = "out of memory";
    size_t col = 0;
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    bool json = *p == '{';
    fl_canvas *cv = json ? fl_canvas_from_json(text)
                         : fl_canvas_parse(text, err, sizeof err, &col);
    if (!cv && !json) {
        fprintf(stderr, "floret %s: WORKFLOW: %s (column %zu)\n", CMD, err,
                col + 1);
        return NULL;
    }
    if (cv && !fl_canvas_error(cv) && fl_canvas_check(cv, err, sizeof err) == FL_OK)
        return cv;
    fprintf(stderr, "floret %s: WORKFLOW: %s\n", CMD,
            cv && fl_canvas_error(cv) ? fl_canvas_error(cv) : err);
    fl_canvas_free(cv);
    return NULL;
}

static uint64_t num(const fl_value *o, const char *key)
{
    const fl_value *v = fl_value_get(o, key);
    double d = v && fl_value_type(v) == FL_TYPE_NUMBER ? fl_value_number(v) : 0;
    return d > 0 ? (uint64_t)d : 0;
}

static const char *str(const fl_value *o, const char *key, const char *dflt)
{
    const fl_value *v = fl_value_get(o, key);
    return v && fl_value_type(v) == FL_TYPE_STRING ? fl_value_string(v, NULL) : dflt;
}

/* Wait for r; 0 and its value on SUCCESS, else 1 after saying why. */
static int wait_answer(fl_result *r, double timeout_s, const char *keeper,
                       const fl_value **value)
{
    fl_status st = fl_result_wait(r, (uint32_t)(timeout_s * 1000.0 + 0.5));
    if (st == FL_ETIMEDOUT) {
        fprintf(stderr, "error: no answer from node %s within %g s\n",
                keeper ? keeper : "?", timeout_s);
        return 1;
    }
    if (st != FL_OK || fl_result_state(r) != FL_SUCCESS) {
        const char *msg = fl_result_error_message(r);
        fprintf(stderr, "error: %s: %s\n",
                fl_result_error_type(r) ? fl_result_error_type(r) : fl_strerror(st),
                msg ? msg : "");
        return 1;
    }
    *value = fl_result_value(r);
    return 0;
}

static int do_add(struct args *a)
{
    fl_result *r = NULL;
    const fl_value *v = NULL;
    char next[40];
    fl_canvas *cv = workflow(a->words[2]);
    if (!cv)
        return 2;
    int rc = cli_client_start(&a->client);
    if (rc >= 0) {
        fl_canvas_free(cv);
        return rc;
    }
    fl_status st = fl_node_schedule_add(a->client.node, a->owner, a->words[0],
                                        a->words[1], cv, &r);
    fl_canvas_free(cv);
    if (st == FL_ENOTFOUND)
        fprintf(stderr, "error: no durable keeper online to keep the schedule "
                "(start a node with --state-dir DIR, or name one with --owner)\n");
    else if (st != FL_OK)
        fprintf(stderr, "error: cannot add the schedule: %s\n", fl_strerror(st));
    rc = st == FL_OK ? wait_answer(r, a->timeout_s, a->owner, &v) : 1;
    if (rc == 0) {
        uint64_t ms = num(v, "next_ms");
        if (ms)
            cli_iso_time(next, sizeof next, ms);
        printf("schedule %s added on %s; next run %s\n", a->words[0],
               str(v, "keeper", "?"), ms ? next : "never");
        rc = fflush(stdout) == 0 ? 0 : 1;
    }
    fl_result_free(r);
    cli_client_stop(&a->client);
    return rc;
}

/* The online durable keepers seen now, into out; how many. */
static size_t durable_now(struct args *a, fl_peer *peers, size_t cap,
                          char (*out)[72])
{
    size_t n = 0, k = 0;
    if (fl_node_peers(a->client.node, peers, cap, &n) != FL_OK)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (peers[i].online && peers[i].slots > 0 && peers[i].durable)
            snprintf(out[k++], sizeof out[0], "%s", peers[i].id);
    return k;
}

/* The keepers to ask: --owner, or every online durable one. Retained
 * presences arrive in a burst right after connecting: wait for the first
 * durable one (at most PEER_WAIT_MS), then until no new one came for
 * PEER_SETTLE_MS. */
#define PEER_WAIT_MS 2000
#define PEER_SETTLE_MS 200
#define PEER_POLL_MS 50
static size_t keepers(struct args *a, char (*out)[72], size_t cap)
{
    if (a->owner) {
        snprintf(out[0], sizeof out[0], "%s", a->owner);
        return 1;
    }
    fl_peer *peers = calloc(cap, sizeof *peers);
    size_t k = 0;
    if (!peers)
        return 0;
    for (int waited = 0, stable = 0; waited <= PEER_WAIT_MS;
         waited += PEER_POLL_MS) {
        size_t now = durable_now(a, peers, cap, out);
        stable = now && now == k ? stable + PEER_POLL_MS : 0;
        k = now;
        if (stable >= PEER_SETTLE_MS)
            break;
        nanosleep(&(struct timespec){0, PEER_POLL_MS * 1000000L}, NULL);
    }
    free(peers);
    return k;
}

static void print_row(const fl_value *s, bool json, bool *first)
{
    char next[40], last[120];
    if (json) {
        char *text = fl_value_to_json(s, NULL);
        printf("%s%s", *first ? "" : ",\n ", text ? text : "null");
        fl_free(text);
        *first = false;
        return;
    }
    uint64_t ms = num(s, "next_ms"), lid = num(s, "last_id");
    if (ms)
        cli_iso_time(next, sizeof next, ms);
    if (lid)
        snprintf(last, sizeof last, "%s:%llu", str(s, "keeper", "?"),
                 (unsigned long long)lid);
    printf("%-16s %-12s %-20s %-24s %-22s %-9s %llu\n", str(s, "name", "?"),
           str(s, "keeper", "?"), str(s, "cron", "?"), ms ? next : "never",
           lid ? last : "-", lid ? str(s, "last_state", "-") : "-",
           (unsigned long long)num(s, "runs"));
}

/* The keepers one list or remove asks, and a handle for each answer. */
struct asked {
    char (*ids)[72];
    fl_result **rs;
    size_t n;
};

/* Start the client and find the keepers to ask: -1 to go on (then
 * end_asking), else the exit status. */
static int start_asking(struct args *a, struct asked *k)
{
    k->ids = calloc(MAX_KEEPERS, sizeof *k->ids);
    k->rs = calloc(MAX_KEEPERS, sizeof *k->rs);
    int rc = k->ids && k->rs ? cli_client_start(&a->client) : 1;
    if (rc >= 0) {
        free(k->ids);
        free(k->rs);
        return rc;
    }
    k->n = keepers(a, k->ids, MAX_KEEPERS);
    return -1;
}

static void end_asking(struct args *a, struct asked *k)
{
    free(k->ids);
    free(k->rs);
    cli_client_stop(&a->client);
}

static int do_list(struct args *a)
{
    struct asked ask;
    int rc = start_asking(a, &ask);
    if (rc >= 0)
        return rc;
    char (*ids)[72] = ask.ids;
    fl_result **rs = ask.rs;
    size_t n = ask.n;
    fl_status st;
    rc = 0;
    for (size_t i = 0; i < n; i++)
        if ((st = fl_node_schedule_list(a->client.node, ids[i], &rs[i])) != FL_OK) {
            fprintf(stderr, "error: cannot ask %s: %s\n", ids[i], fl_strerror(st));
            rc = 1;
        }
    bool first = true;
    if (a->json)
        printf("[");
    else
        printf("%-16s %-12s %-20s %-24s %-22s %-9s %s\n", "NAME", "KEEPER",
               "CRON", "NEXT RUN", "LAST RUN", "STATE", "RUNS");
    for (size_t i = 0; i < n; i++) {
        const fl_value *v = NULL;
        if (!rs[i])
            continue;
        if (wait_answer(rs[i], a->timeout_s, ids[i], &v) != 0) {
            rc = 1;
        } else {
            const fl_value *list = fl_value_get(v, "schedules");
            size_t k = list ? fl_value_count(list) : 0;
            for (size_t j = 0; j < k; j++)
                print_row(fl_value_at(list, j), a->json, &first);
        }
        fl_result_free(rs[i]);
    }
    if (a->json)
        printf("]\n");
    if (fflush(stdout) != 0)
        rc = 1;
    end_asking(a, &ask);
    return rc;
}

static int do_remove(struct args *a)
{
    struct asked ask;
    int rc = start_asking(a, &ask);
    if (rc >= 0)
        return rc;
    char (*ids)[72] = ask.ids;
    fl_result **rs = ask.rs;
    size_t n = ask.n, removed = 0;
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        fl_status st = fl_node_schedule_remove(a->client.node, ids[i],
                                               a->words[0], &rs[i]);
        if (st != FL_OK) {
            fprintf(stderr, "error: cannot ask %s: %s\n", ids[i], fl_strerror(st));
            failed = true;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!rs[i])
            continue;
        if (fl_result_wait(rs[i], (uint32_t)(a->timeout_s * 1000.0 + 0.5)) ==
            FL_ETIMEDOUT) {
            fprintf(stderr, "error: no answer from node %s within %g s\n",
                    ids[i], a->timeout_s);
            failed = true;
            fl_result_free(rs[i]);
            continue;
        }
        const char *type = fl_result_error_type(rs[i]);
        if (fl_result_state(rs[i]) == FL_SUCCESS) {
            printf("schedule %s removed from %s\n", a->words[0], ids[i]);
            removed++;
        } else if (a->owner || !type || strcmp(type, "NotFound") != 0) {
            const char *msg = fl_result_error_message(rs[i]);
            fprintf(stderr, "error: %s: %s\n", type ? type : "?", msg ? msg : "");
            failed = true;
        }
        fl_result_free(rs[i]);
    }
    if (!removed && !failed)
        fprintf(stderr, "error: no schedule '%s' on %s\n", a->words[0],
                n ? "any durable keeper online" : "this cluster (no durable "
                "keeper is online)");
    rc = removed && !failed && fflush(stdout) == 0 ? 0 : 1;
    end_asking(a, &ask);
    return rc;
}

int cli_schedule(int argc, char **argv)
{
    struct args a;
    char err[200];
    int rc = parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (strcmp(a.op, "add") == 0) {
        for (const char *p = a.words[0]; *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789_.-", *p) || p - a.words[0] >= 64)
                return cli_usage_error(CMD, "NAME '%s': expected 1 to 64 bytes "
                                       "of [A-Za-z0-9_.-]", a.words[0]);
        if (!a.words[0][0])
            return cli_usage_error(CMD, "NAME is empty");
        if (fl_schedule_check(a.words[1], 0, NULL, err, sizeof err) != FL_OK)
            return cli_usage_error(CMD, "%s", err);
        return do_add(&a);
    }
    if (strcmp(a.op, "remove") == 0)
        return do_remove(&a);
    return do_list(&a);
}
