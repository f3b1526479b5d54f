/*
 * client.h - what the one-shot client subcommands (call, run, result)
 * share: a zero-slot node connected to the broker with one clear error line
 * when it cannot be, and the wait-then-print of a result handle.
 * Depends on the public header and conn.h.
 */
#ifndef FLORET_CLI_CLIENT_H
#define FLORET_CLI_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>

#include "conn.h"
#include "floret/floret.h"

/* Where and how a client connects. */
struct cli_client {
    const char *cmd;     /* "call", "run": prefixes log lines */
    struct cli_conn conn; /* broker and credentials */
    const char *cluster; /* NULL: default */
    bool verbose;
    /* Monitors (events, status, dashboard): other nodes' reports go to
     * observe (NULL: none); watch_events asks every node for its events. */
    fl_observe_fn observe;
    void *observe_ud;
    bool watch_events;
    double waited_s;     /* waited already (progress line): the timeout
                          * message names the whole wait */
    double time_limit_s; /* the task's time limit (call --time-limit), 0:
                          * none: one that ran out within the wait is being
                          * cancelled, and its outcome is worth a moment */
    atomic_bool starting; /* read by the node's loop thread */
    fl_node *node;
};

/*
 * Create and start a zero-slot node for c. Returns -1 on success (c->node
 * set; stop it with cli_client_stop), else the exit status after printing
 * why: 2 for a bad broker URL, 3 when the broker cannot be reached.
 */
int cli_client_start(struct cli_client *c);

/* Stop and free c->node (NULL is fine). */
void cli_client_stop(struct cli_client *c);

/*
 * Wait up to timeout_s for r, then print its value as JSON on stdout, or
 * "error: TYPE: MESSAGE" on stderr. what names the job in the timeout
 * message ("the task", "the workflow"). Returns 0 on SUCCESS, else 1.
 */
int cli_client_report(struct cli_client *c, fl_result *r, double timeout_s,
                      const char *what);

/*
 * `floret run --async` (cli/result.c): hand cv to owner (NULL: the least
 * loaded online node with slots that keeps workflows), print its id
 * OWNER:N. Returns the exit status.
 */
int cli_run_async(struct cli_client *c, const fl_canvas *cv, const char *owner);

/* The largest --timeout accepted: what fits in uint32 milliseconds. */
#define CLI_MAX_SECONDS (49.0 * 24 * 3600)

#endif
