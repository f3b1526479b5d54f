/*
 * revoke.c - `floret revoke ID... [--terminate]`: ask the node that owns
 * each task or workflow OWNER:N to revoke it (docs/protocol.md 3.13): a
 * workflow handed over with `floret run --async`, or a task or workflow
 * another client owns and still runs (its OWNER and id as `floret status`
 * and `floret events` show them). Queued tasks are dropped, leased ones
 * dropped by their worker, running ones cancelled.
 * Exit status: 0 every id was revoked, 1 one was not (it had ended, is
 * unknown, or its owner did not answer), 2 usage error, 3 broker
 * unreachable.
 * Depends on cli.h, client.h, opts.h and the public header.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "floret/floret.h"
#include "opts.h"

#define CMD "revoke"
#define DEFAULT_TIMEOUT_S 10.0
#define MAX_IDS 256

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret revoke [OPTIONS] ID...\n\n"
            "Revoke tasks or workflows by id OWNER:N, as 'celery revoke' does: a\n"
            "workflow started with 'floret run --async' (the id it printed), or a task\n"
            "or workflow another client owns and still runs ('floret status' and\n"
            "'floret events' show its owner and id). Tasks still queued are dropped,\n"
            "leased ones dropped by their worker unrun, running ones cancelled: a\n"
            "task sees it through its cancellation flag (native) or its instruction\n"
            "hook (Lua), and its slot is free when it returns. Prints 'ID revoked'\n"
            "for each; an id that had already ended, is unknown to its owner, or\n"
            "whose owner does not answer is an error.\n\n"
            "Options:\n"
            "  --terminate        also kill a running task that does not stop when\n"
            "                     cancelled, on nodes that run tasks in processes of\n"
            "                     their own (on thread nodes it stays cancelled)\n"
            "  --timeout SECONDS  wait at most this long for the owners' answers\n"
            "                     (default 10)\n"
            CLI_CONN_HELP
            "  --cluster NAME     default: default\n"
            "  -v, --verbose      show the node's log lines\n"
            "  -h, --help         show this help\n");
}

/* Errors of the answer itself, not of the task: nothing was revoked. */
static bool answer_error(const char *type)
{
    return type && (strcmp(type, "NotFound") == 0 ||
                    strcmp(type, "UnknownKind") == 0 ||
                    strcmp(type, "OwnerLost") == 0 ||
                    strcmp(type, "MemoryError") == 0);
}

/* Print what the owner answered for id; 0 when it was revoked. */
static int report(const char *id, fl_result *r)
{
    fl_state st = fl_result_state(r);
    const char *type = fl_result_error_type(r);
    const char *msg = fl_result_error_message(r);
    if (st == FL_REVOKED) {
        printf("%s revoked\n", id);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (st == FL_FAILURE && answer_error(type)) {
        fprintf(stderr, "error: %s: %s: %s\n", id, type, msg ? msg : "");
        return 1;
    }
    if (st == FL_FAILURE)
        fprintf(stderr, "error: %s had already ended (FAILURE: %s: %s); "
                "nothing to revoke\n", id, type ? type : "?", msg ? msg : "");
    else
        fprintf(stderr, "error: %s had already ended (%s); nothing to revoke\n",
                id, fl_state_name(st));
    return 1;
}

static int revoke_all(struct cli_client *c, char **ids, int n, bool terminate,
                      double timeout_s)
{
    fl_result *rs[MAX_IDS] = {0};
    int rc = 0;
    for (int i = 0; i < n; i++) {
        fl_status st = fl_node_revoke(c->node, ids[i], terminate, &rs[i]);
        if (st == FL_EINVAL) {
            fprintf(stderr, "error: '%s' is not a task or workflow id (OWNER:N, "
                    "OWNER a node id of [A-Za-z0-9_.-])\n", ids[i]);
            rc = 1;
        } else if (st != FL_OK) {
            fprintf(stderr, "error: %s: cannot revoke: %s\n", ids[i],
                    fl_strerror(st));
            rc = 1;
        }
    }
    /* One deadline for all: the requests are on their way together. */
    uint32_t wait_ms = (uint32_t)(timeout_s * 1000.0 + 0.5);
    for (int i = 0; i < n; i++) {
        if (!rs[i])
            continue;
        if (fl_result_wait(rs[i], wait_ms) == FL_ETIMEDOUT) {
            char owner[80];
            size_t k = strcspn(ids[i], ":");
            snprintf(owner, sizeof owner, "%.*s", (int)(k < 64 ? k : 64), ids[i]);
            fprintf(stderr, "error: %s: no answer from node %s within %g s (is it "
                    "online? 'floret status' lists the nodes; a client's tasks "
                    "end with the client)\n", ids[i], owner, timeout_s);
            rc = 1;
            wait_ms = 0;
        } else if (report(ids[i], rs[i]) != 0) {
            rc = 1;
        }
        fl_result_free(rs[i]);
    }
    return rc;
}

int cli_revoke(int argc, char **argv)
{
    struct cli_client c = {.cmd = CMD};
    char *ids[MAX_IDS];
    int nids = 0, rc, m;
    bool terminate = false;
    double timeout_s = DEFAULT_TIMEOUT_S;
    const char *v;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            c.verbose = true;
        } else if (strcmp(argv[i], "--terminate") == 0) {
            terminate = true;
        } else if ((m = cli_opt(argc, argv, &i, "--timeout", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            if (cli_parse_timeout(CMD, "--timeout", v, CLI_MAX_SECONDS, &timeout_s) != 0)
                return 2;
        } else if ((m = cli_conn_opt(argc, argv, &i, &c.conn, CMD)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(argc, argv, &i, "--cluster", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            c.cluster = v;
        } else if (argv[i][0] == '-') {
            return cli_unknown_arg_help(CMD, argv[i], usage);
        } else if (nids == MAX_IDS) {
            return cli_usage_error(CMD, "at most %d ids at once", MAX_IDS);
        } else {
            ids[nids++] = argv[i];
        }
    }
    if (!nids)
        return cli_usage_error(CMD, "which task or workflow? e.g. floret revoke node-1:7");
    for (int i = 0; i < nids; i++) {
        const char *colon = strrchr(ids[i], ':');
        if (!colon || colon == ids[i] || !colon[1] ||
            strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
            strspn(colon + 1, "0") == strlen(colon + 1))
            return cli_usage_error(CMD, "'%s' is not a task or workflow id "
                                   "(OWNER:N, N from 1, as 'floret run --async' "
                                   "prints)", ids[i]);
    }
    rc = cli_client_start(&c);
    if (rc >= 0)
        return rc;
    rc = revoke_all(&c, ids, nids, terminate, timeout_s);
    cli_client_stop(&c);
    return rc;
}
