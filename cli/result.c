/*
 * result.c - `floret result ID` and the --async half of `floret run`: a
 * workflow handed to a long-running node (which keeps it), and the wait
 * for it from any later client by its id OWNER:N; with --state, its
 * current state, node, attempts and times (Celery's AsyncResult.state),
 * as text or --json.
 * Exit status: 0 success (with --state: the state was read), 1 the
 * workflow failed, timed out or is unknown, 2 usage error, 3 broker
 * unreachable.
 * Depends on cli.h, client.h, clock.h, json_out.h, opts.h and the public
 * header.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "clock.h"
#include "floret/floret.h"
#include "json_out.h"
#include "opts.h"

#define DEFAULT_TIMEOUT_S 60.0
#define ACCEPT_TIMEOUT_MS 10000u

int cli_run_async(struct cli_client *c, const fl_canvas *cv, const char *owner)
{
    char id[FL_REMOTE_ID_MAX];
    fl_status st = fl_node_submit(c->node, owner, cv, ACCEPT_TIMEOUT_MS, id,
                                  sizeof id);
    if (st == FL_OK) {
        printf("%s\n", id);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (st == FL_ENOTFOUND)
        fprintf(stderr, "error: no node to keep the workflow: %s\n",
                owner ? "the --owner node is not online, or keeps no workflows"
                      : "no online node with slots that keeps workflows on this cluster");
    else if (st == FL_ETIMEDOUT)
        fprintf(stderr, "error: the owner did not accept the workflow within %u s\n",
                ACCEPT_TIMEOUT_MS / 1000);
    else if (st != FL_EINVAL) /* EINVAL: the log line said why */
        fprintf(stderr, "error: cannot submit the workflow: %s\n", fl_strerror(st));
    return st == FL_EINVAL ? 2 : 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret result ID [OPTIONS]\n\n"
            "Wait for the workflow ID (OWNER:N, as printed by 'floret run --async')\n"
            "and print its result as JSON. The owner node keeps ended workflows for\n"
            "a day (its --result-expires; the last 10000).\n\n"
            "Options:\n"
            "  --state            do not wait: print its state now (PENDING, STARTED,\n"
            "                     RETRY, SUCCESS, FAILURE, REVOKED), the node, the\n"
            "                     attempts and the times\n"
            "  --json             print state, node, attempts, times and the value or\n"
            "                     error as one JSON object (after the end, or at once\n"
            "                     with --state)\n"
            "  --timeout SECONDS  wait at most this long (default 60)\n"
            CLI_CONN_HELP
            "  --cluster NAME     default: default\n"
            "  -v, --verbose      show the node's log lines\n"
            "  -h, --help         show this help\n");
}

static void print_time(const char *key, uint64_t ms, bool json)
{
    char t[40];
    if (ms)
        cli_iso_time(t, sizeof t, ms);
    if (json) {
        printf(",\"%s\":", key);
        if (ms)
            cli_json_string(t);
        else
            fputs("null", stdout);
    } else {
        printf("%-10s %s\n", key, ms ? t : "-");
    }
}

static void print_value(const fl_result *r, bool json)
{
    char *text = fl_value_to_json(fl_result_value(r), NULL);
    if (json)
        printf(",\"value\":%s", text ? text : "null");
    else
        printf("%-10s %s\n", "value", text ? text : "null");
    fl_free(text);
}

/* A failed group's member results, null where one failed. */
static void print_partial(const fl_result *r, bool json)
{
    if (!fl_result_partial(r))
        return;
    char *text = fl_value_to_json(fl_result_partial(r), NULL);
    if (json)
        printf(",\"partial\":%s", text ? text : "null");
    else
        printf("%-10s %s\n", "partial", text ? text : "null");
    fl_free(text);
}

static void print_error(const fl_result *r, bool json)
{
    const char *type = fl_result_error_type(r) ? fl_result_error_type(r) : "";
    const char *msg = fl_result_error_message(r) ? fl_result_error_message(r) : "";
    if (json) {
        fputs(",\"error\":{\"type\":", stdout);
        cli_json_string(type);
        fputs(",\"message\":", stdout);
        cli_json_string(msg);
        fputc('}', stdout);
    } else {
        printf("%-10s %s: %s\n", "error", type, msg);
    }
}

/* State, node, attempts, times and the value or error of an answered r. */
static int print_info(const char *id, const fl_result *r, bool json)
{
    fl_result_info in;
    fl_result_get_info(r, &in);
    if (json) {
        fputs("{\"id\":", stdout);
        cli_json_string(id);
        fputs(",\"state\":", stdout);
        cli_json_string(fl_state_name(in.state));
        fputs(",\"node\":", stdout);
        if (in.node[0])
            cli_json_string(in.node);
        else
            fputs("null", stdout);
        printf(",\"attempts\":%u", (unsigned)in.attempts);
    } else {
        printf("%-10s %s\n%-10s %s\n%-10s %s\n%-10s %u\n", "id", id, "state",
               fl_state_name(in.state), "node", in.node[0] ? in.node : "-",
               "attempts", (unsigned)in.attempts);
    }
    print_time("submitted", in.submitted_ms, json);
    print_time("started", in.started_ms, json);
    print_time("ended", in.ended_ms, json);
    if (in.state == FL_SUCCESS)
        print_value(r, json);
    else if (in.state == FL_FAILURE || in.state == FL_REVOKED) {
        print_partial(r, json);
        print_error(r, json);
    }
    if (json)
        fputs("}\n", stdout);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* The keeper could not tell (unknown id or keeper, keeper gone). */
static bool unanswered(const fl_result *r)
{
    const char *t = fl_result_error_type(r);
    return fl_result_state(r) == FL_FAILURE && t &&
           (strcmp(t, "NotFound") == 0 || strcmp(t, "UnknownKeeper") == 0 ||
            strcmp(t, "OwnerLost") == 0);
}

static int report(struct cli_client *c, const char *id, fl_result *r,
                  double timeout_s, bool state, bool json)
{
    if (fl_result_wait(r, (uint32_t)(timeout_s * 1000.0 + 0.5)) == FL_ETIMEDOUT) {
        fprintf(stderr, state ? "error: the keeper did not answer within %g s\n"
                              : "error: no result within %g s (the workflow is still "
                                "running, or its keeper does not answer)\n",
                timeout_s);
        return 1;
    }
    if (unanswered(r) || (!state && !json))
        return cli_client_report(c, r, timeout_s, "the workflow");
    int rc = print_info(id, r, json);
    if (state)
        return rc;
    return rc ? rc : fl_result_state(r) == FL_SUCCESS ? 0 : 1;
}

int cli_result(int argc, char **argv)
{
    struct cli_client c = {.cmd = "result"};
    const char *id = NULL, *v;
    double timeout_s = DEFAULT_TIMEOUT_S;
    bool state = false, json = false;
    fl_result *r = NULL;
    fl_status st;
    int rc, m;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            c.verbose = true;
        } else if (strcmp(argv[i], "--state") == 0) {
            state = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if ((m = cli_opt(argc, argv, &i, "--timeout", &v, "result")) != 0) {
            if (m < 0)
                return 2;
            if (cli_parse_timeout("result", "--timeout", v, CLI_MAX_SECONDS, &timeout_s) != 0)
                return 2;
        } else if ((m = cli_conn_opt(argc, argv, &i, &c.conn, "result")) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(argc, argv, &i, "--cluster", &v, "result")) != 0) {
            if (m < 0)
                return 2;
            c.cluster = v;
        } else if (argv[i][0] == '-') {
            return cli_unknown_arg_help("result", argv[i], usage);
        } else if (!id) {
            id = argv[i];
        } else {
            return cli_usage_error("result", "one id only");
        }
    }
    if (!id)
        return cli_usage_error("result", "which workflow? e.g. floret result node-1:7");
    rc = cli_client_start(&c);
    if (rc >= 0)
        return rc;
    st = state ? fl_node_result_state(c.node, id, &r) : fl_node_result(c.node, id, &r);
    if (st == FL_EINVAL) {
        rc = cli_usage_error("result", "'%s' is not a workflow id (OWNER:N)", id);
    } else if (st != FL_OK) {
        fprintf(stderr, "error: %s\n", fl_strerror(st));
        rc = 1;
    } else {
        rc = report(&c, id, r, timeout_s, state, json);
        fl_result_free(r);
    }
    cli_client_stop(&c);
    return rc;
}
