/*
 * forget.c - `floret forget NODE...`: clear what the broker keeps of nodes
 * that are gone, their retained presence (node/<id>) and stats
 * (node/<id>/stats), by publishing an empty retained message on each, as
 * MQTT clears a retained message. Every node then forgets them too
 * (docs/protocol.md 3.1). A node still online is refused unless --force:
 * clearing a live node's presence makes owners re-queue what it runs.
 * Depends on cli.h, conn.h, opts.h, view.h and the public header
 * (fl_node_forget).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "conn.h"
#include "floret/floret.h"
#include "opts.h"
#include "view.h"

#define CMD "forget"
#define MAX_FORGET 256

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret forget [OPTIONS] NODE...\n\n"
            "Clear the retained presence and stats of nodes that are gone, so that\n"
            "'floret status' and every node stop listing them.\n\n"
            "Options:\n"
            "  --force              also forget a node that is online\n"
            "  --cluster NAME       default: default\n"
            CLI_CONN_HELP
            "  -h, --help           show this help\n");
}

/* 1 to 64 bytes of [A-Za-z0-9_.-], as docs/protocol.md section 2 says. */
static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

static void quiet_log(void *ud, int level, const char *line)
{
    (void)ud;
    if (level <= FL_LOG_ERROR && !strstr(line, "cannot connect to broker"))
        fprintf(stderr, "floret forget: %s\n", line);
}

/* Which of ids are online now: 1 online, 0 offline, -1 not seen; *out
 * gets the running node, to forget them with. */
static int look(const struct cli_conn *conn, const char *cluster, char **ids, int n,
                int *state, fl_node **out)
{
    struct view v;
    fl_node_options o;
    fl_node *node = NULL;
    if (view_init(&v) != 0)
        return 1;
    fl_node_options_init(&o);
    cli_conn_apply(conn, &o);
    o.cluster = cluster;
    o.slots = 0;
    o.log = quiet_log;
    o.log_level = FL_LOG_ERROR;
    fl_status st = fl_node_new(&o, &node);
    if (st == FL_OK)
        st = fl_node_start(node, 5000);
    if (st != FL_OK) {
        fprintf(stderr, "error: cannot connect: %s\n",
                st == FL_ECONN ? fl_node_last_error(node) : fl_strerror(st));
        fl_node_free(node);
        view_free(&v);
        return st == FL_ECONN ? 3 : 1;
    }
    struct timespec ts = {0, 500 * 1000000L}; /* retained presence arrives */
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    view_update_peers(&v, node, fl_node_id(node));
    *out = node;
    for (int i = 0; i < n; i++) {
        state[i] = -1;
        for (size_t k = 0; k < v.n; k++)
            if (strcmp(v.nodes[k].id, ids[i]) == 0 && v.nodes[k].has_presence)
                state[i] = v.nodes[k].p.online ? 1 : 0;
    }
    view_free(&v);
    return 0;
}

int cli_forget(int argc, char **argv)
{
    struct cli_conn conn;
    const char *cluster = NULL;
    bool force = false;
    char *ids[MAX_FORGET];
    int n = 0, state[MAX_FORGET];
    memset(&conn, 0, sizeof conn);
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--force") == 0) {
            force = true;
        } else if ((m = cli_opt(argc, argv, &i, "--cluster", &v, CMD)) != 0) {
            if (m < 0)
                return 2;
            cluster = v;
        } else if ((m = cli_conn_opt(argc, argv, &i, &conn, CMD)) != 0) {
            if (m < 0)
                return 2;
        } else if (argv[i][0] == '-') {
            return cli_unknown_arg_help(CMD, argv[i], usage);
        } else if (n == MAX_FORGET) {
            return cli_usage_error(CMD, "at most %d nodes at once", MAX_FORGET);
        } else if (!valid_id(argv[i])) {
            return cli_usage_error(CMD, "'%s' is not a node id (1 to 64 of A-Z a-z 0-9 _ . -)",
                                   argv[i]);
        } else {
            ids[n++] = argv[i];
        }
    }
    if (cluster && !valid_id(cluster))
        return cli_usage_error(CMD, "cluster name '%s' is not valid", cluster);
    if (n == 0)
        return cli_usage_error(CMD, "name at least one node to forget");
    fl_node *node = NULL;
    int rc = look(&conn, cluster, ids, n, state, &node);
    if (rc)
        return rc;
    int status = 0;
    for (int i = 0; i < n; i++) {
        if (state[i] == 1 && !force) {
            fprintf(stderr, "floret forget: %s is online; stop it first, or use --force\n",
                    ids[i]);
            status = 1;
            continue;
        }
        if (state[i] == -1)
            fprintf(stderr, "floret forget: %s has no presence on cluster '%s'; clearing "
                    "its stats anyway\n", ids[i], cluster ? cluster : "default");
        fl_status st = fl_node_forget(node, ids[i]);
        if (st != FL_OK) {
            fprintf(stderr, "floret forget: %s: %s\n", ids[i], fl_strerror(st));
            status = 3;
            break;
        }
        printf("forgot %s\n", ids[i]);
    }
    /* The stop sends what is queued, then disconnects. */
    fl_node_stop(node, 2000);
    fl_node_free(node);
    return status;
}
