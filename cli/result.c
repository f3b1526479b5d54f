/*
 * result.c - `floret result ID` and the --async half of `floret run`: a
 * workflow handed to a long-running node (which keeps it), and the wait
 * for it from any later client by its id OWNER:N.
 * Exit status: 0 success, 1 the workflow failed, timed out or is unknown,
 * 2 usage error, 3 broker unreachable.
 * Depends on cli.h, client.h, opts.h and the public header.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "floret/floret.h"
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
            "an hour (the last 1000).\n\n"
            "Options:\n"
            "  --timeout SECONDS  wait at most this long (default 60)\n"
            CLI_CONN_HELP
            "  --cluster NAME     default: default\n"
            "  -v, --verbose      show the node's log lines\n"
            "  -h, --help         show this help\n");
}

int cli_result(int argc, char **argv)
{
    struct cli_client c = {.cmd = "result"};
    const char *id = NULL, *v;
    double timeout_s = DEFAULT_TIMEOUT_S;
    fl_result *r = NULL;
    fl_status st;
    int rc, m;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            c.verbose = true;
        } else if ((m = cli_opt(argc, argv, &i, "--timeout", &v, "result")) != 0) {
            if (m < 0)
                return 2;
            if (!cli_parse_seconds(v, CLI_MAX_SECONDS, &timeout_s) || timeout_s <= 0)
                return cli_usage_error("result", "--timeout '%s': expected a positive number of seconds", v);
        } else if ((m = cli_conn_opt(argc, argv, &i, &c.conn, "result")) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(argc, argv, &i, "--cluster", &v, "result")) != 0) {
            if (m < 0)
                return 2;
            c.cluster = v;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("result", "unknown option '%s'", argv[i]);
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
    st = fl_node_result(c.node, id, &r);
    if (st == FL_EINVAL) {
        rc = cli_usage_error("result", "'%s' is not a workflow id (OWNER:N)", id);
    } else if (st != FL_OK) {
        fprintf(stderr, "error: %s\n", fl_strerror(st));
        rc = 1;
    } else {
        if (fl_result_wait(r, (uint32_t)(timeout_s * 1000.0 + 0.5)) == FL_ETIMEDOUT) {
            fprintf(stderr, "error: no result within %g s (the workflow is still "
                            "running, or its keeper does not answer)\n", timeout_s);
            rc = 1;
        } else {
            rc = cli_client_report(&c, r, timeout_s, "the workflow");
        }
        fl_result_free(r);
    }
    cli_client_stop(&c);
    return rc;
}
