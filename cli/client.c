/*
 * client.c - the zero-slot node behind `floret call`, `floret run` and
 * `floret result`, and the printing of a result. A client owns what it
 * submits (as in Broccoli), so it lives until its result is in.
 * Depends on client.h, opts.h and the public header.
 */
#include "client.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "opts.h"

#define START_TIMEOUT_MS 5000u
#define STOP_GRACE_MS 2000u

static void on_log(void *ud, int level, const char *line)
{
    struct cli_client *c = ud;
    /* While connecting, the one error line printed after start says it all. */
    bool starting = atomic_load(&c->starting);
    if (starting && !c->verbose && level > FL_LOG_ERROR)
        return;
    if (starting && !c->verbose && strstr(line, "cannot connect to broker"))
        return;
    fprintf(stderr, "floret %s: %s\n", c->cmd, line);
}

/* "error: ..." on stderr, or with --log-format json an error line of the
 * node's log, so that stderr stays one JSON object per line. */
static void client_error(struct cli_client *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void client_error(struct cli_client *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (c->node && cli_conn_log_format(&c->conn) == FL_LOG_JSON)
        fl_node_log(c->node, FL_LOG_ERROR, "%s", line);
    else
        fprintf(stderr, "error: %s\n", line);
}

int cli_client_start(struct cli_client *c)
{
    fl_node_options o;
    struct cli_url url;
    char err[CLI_PATH_BUF + 400];
    fl_status st;

    c->node = NULL;
    if (cli_conn_resolve(&c->conn, &url, err, sizeof err) != FL_OK)
        return cli_usage_error(c->cmd, "%s", err);
    atomic_init(&c->starting, true);
    fl_node_options_init(&o);
    cli_conn_apply(&c->conn, &o);
    o.cluster = c->cluster;
    o.slots = 0;
    /* JSON lines come from the library's logger as they are; text lines
     * get the subcommand's prefix and the quiet start. */
    o.log = o.log_format == FL_LOG_JSON ? NULL : on_log;
    o.log_ud = c;
    o.log_level = c->verbose ? FL_LOG_DEBUG : FL_LOG_WARN;
    o.observe = c->observe;
    o.observe_ud = c->observe_ud;
    o.watch_events = c->watch_events;
    st = fl_node_new(&o, &c->node);
    if (st != FL_OK) {
        fprintf(stderr, "error: %s\n", fl_strerror(st));
        return st == FL_EINVAL ? 2 : 1;
    }
    st = fl_node_start(c->node, START_TIMEOUT_MS);
    atomic_store(&c->starting, false);
    if (st == FL_OK)
        return -1;
    if (st == FL_ECONN)
        client_error(c, "cannot connect to broker %s: %s", url.text,
                     fl_node_last_error(c->node));
    else
        client_error(c, "cannot start: %s", fl_strerror(st));
    fl_node_free(c->node);
    c->node = NULL;
    return st == FL_ECONN ? 3 : 1;
}

void cli_client_stop(struct cli_client *c)
{
    if (!c->node)
        return;
    fl_node_stop(c->node, STOP_GRACE_MS);
    fl_node_free(c->node);
    c->node = NULL;
}

static int print_final(struct cli_client *c, fl_result *r)
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
    client_error(c, "%s: %s",
                 fl_result_error_type(r) ? fl_result_error_type(r) : fl_state_name(st),
                 fl_result_error_message(r) ? fl_result_error_message(r) : "");
    /* A failed group's members that did succeed: on stderr too, so that
     * stdout holds a result only when the workflow succeeded. */
    if (fl_result_partial(r)) {
        char *json = fl_value_to_json(fl_result_partial(r), NULL);
        if (json && cli_conn_log_format(&c->conn) == FL_LOG_JSON)
            fl_node_log(c->node, FL_LOG_ERROR, "partial results: %s", json);
        else if (json)
            fprintf(stderr, "partial results: %s\n", json);
        fl_free(json);
    }
    return 1;
}

/* The wait ran out while the task is STARTED although its time limit
 * passed within it: the worker is cancelling it right now. Wait up to
 * CANCEL_GRACE_MS more for that outcome, so that what is printed is what
 * happened (TimeLimitExceeded), not "still running". */
#define CANCEL_GRACE_MS 1500u

static bool limit_passed(const struct cli_client *c, fl_result *r, double waited)
{
    return c->time_limit_s > 0 && c->time_limit_s <= waited &&
           fl_result_state(r) == FL_STARTED;
}

int cli_client_report(struct cli_client *c, fl_result *r, double timeout_s,
                      const char *what)
{
    uint32_t wait_ms = (uint32_t)(timeout_s * 1000.0 + 0.5);
    double waited = timeout_s + c->waited_s;
    fl_status st = fl_result_wait(r, wait_ms);
    if (st == FL_ETIMEDOUT && limit_passed(c, r, waited))
        st = fl_result_wait(r, CANCEL_GRACE_MS);
    if (st != FL_ETIMEDOUT) {
        if (c->verbose && fl_result_worker(r) && fl_result_worker(r)[0])
            fl_node_log(c->node, FL_LOG_INFO, "%s by %s",
                        fl_state_name(fl_result_state(r)), fl_result_worker(r));
        return print_final(c, r);
    }
    fl_state s = fl_result_state(r);
    if (s == FL_PENDING)
        client_error(c, "no result within %g s (no node has started %s; "
                        "is a worker running on cluster '%s'?)",
                     waited, what, c->cluster ? c->cluster : "default");
    else if (limit_passed(c, r, waited))
        client_error(c, "no result within %g s (%s passed its time limit of %g s and "
                        "was cancelled, but its worker has not answered since)",
                     waited, what, c->time_limit_s);
    else
        client_error(c, "no result within %g s (%s is %s)", waited,
                     what, s == FL_RETRY ? "waiting to be retried" : "still running");
    return 1;
}
