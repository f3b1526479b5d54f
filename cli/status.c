/*
 * status.c - `floret status`: join the cluster as a zero-slot node for a
 * moment, collect the retained presence of every node, and print them as
 * an aligned table (or a JSON array with --json), with the deployed Lua
 * modules (name@version) of each. Presence is retained by
 * the broker, so a short wait sees every node at once.
 * Depends on cli.h, json_out.h, opts.h, hosted.h and the public header.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "conn.h"
#include "floret/floret.h"
#include "json_out.h"
#include "hosted.h"
#include "opts.h"

#define START_TIMEOUT_MS 5000u
#define DEFAULT_WAIT_MS 500L
#define MAX_PEERS 1024
#define TASKS_WIDTH 60

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret status [OPTIONS]\n\n"
            "List the nodes of the cluster as last seen in their presence messages.\n\n"
            "Options:\n"
            "  --json         print a JSON array instead of a table\n"
            "  --wait MS      listen this long before printing (default 500)\n"
            CLI_CONN_HELP
            "  --cluster NAME default: default\n"
            "  -h, --help     show this help\n");
}

struct status_args {
    bool json;
    long wait_ms;
    struct cli_conn conn;
    const char *cluster;
};

static int parse(int argc, char **argv, struct status_args *a)
{
    memset(a, 0, sizeof *a);
    a->wait_ms = DEFAULT_WAIT_MS;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            a->json = true;
        } else if ((m = cli_opt(argc, argv, &i, "--wait", &v, "status")) != 0) {
            if (m < 0)
                return 2;
            if (!cli_parse_long(v, 0, 600000, &a->wait_ms))
                return cli_usage_error("status", "--wait '%s': expected milliseconds from 0 to 600000", v);
        } else if ((m = cli_conn_opt(argc, argv, &i, &a->conn, "status")) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(argc, argv, &i, "--cluster", &v, "status")) != 0) {
            if (m < 0)
                return 2;
            a->cluster = v;
        } else {
            return cli_usage_error("status", "unknown argument '%s'", argv[i]);
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- output */

static void json_tasks(const char *list)
{
    const char *p = list;
    bool first = true;
    putchar('[');
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n > 0) {
            char name[80];
            snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), p);
            if (!first)
                putchar(',');
            cli_json_string(name);
            first = false;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    putchar(']');
}

static void print_json(const fl_peer *p, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            putchar(',');
        printf("{\"id\":");
        cli_json_string(p[i].id);
        printf(",\"state\":\"%s\",\"slots\":%d,\"load\":%d,\"runtime\":",
               p[i].online ? "online" : "offline", p[i].slots, p[i].load);
        cli_json_string(p[i].runtime);
        printf(",\"arch\":");
        cli_json_string(p[i].arch);
        printf(",\"version\":");
        cli_json_string(p[i].version);
        printf(",\"tasks\":");
        json_tasks(p[i].tasks);
        printf(",\"modules\":");
        json_tasks(p[i].modules);
        putchar('}');
    }
    printf("]\n");
}

static int width(int w, const char *s)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}

static void print_table(const fl_peer *p, size_t n)
{
    int wid = 4, wrt = 7, wmod = 7;
    for (size_t i = 0; i < n; i++) {
        wid = width(wid, p[i].id);
        wrt = width(wrt, p[i].runtime);
        wmod = width(wmod, p[i].modules[0] ? p[i].modules : "-");
    }
    printf("%-*s  %-7s  %5s  %4s  %-*s  %-*s  %s\n", wid, "NODE", "STATE", "SLOTS", "LOAD",
           wrt, "RUNTIME", wmod, "MODULES", "TASKS");
    for (size_t i = 0; i < n; i++) {
        int len = (int)strlen(p[i].tasks);
        printf("%-*s  %-7s  %5d  %4d  %-*s  %-*s  %.*s%s\n", wid, p[i].id,
               p[i].online ? "online" : "offline", p[i].slots, p[i].load, wrt,
               p[i].runtime, wmod, p[i].modules[0] ? p[i].modules : "-", TASKS_WIDTH,
               p[i].tasks, len > TASKS_WIDTH ? "..." : "");
    }
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const fl_peer *)a)->id, ((const fl_peer *)b)->id);
}

/* ------------------------------------------------------------------- run */

static void quiet_log(void *ud, int level, const char *line)
{
    (void)ud;
    if (level <= FL_LOG_ERROR && !strstr(line, "cannot connect to broker"))
        fprintf(stderr, "floret status: %s\n", line);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Every peer but ourselves, sorted. */
static size_t collect(fl_node *node, fl_peer *peers)
{
    size_t n = 0, k = 0;
    if (fl_node_peers(node, peers, MAX_PEERS, &n) != FL_OK)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(peers[i].id, fl_node_id(node)) != 0)
            peers[k++] = peers[i];
    qsort(peers, k, sizeof *peers, by_id);
    return k;
}

int cli_status(int argc, char **argv)
{
    struct status_args a;
    fl_node_options o;
    fl_node *node = NULL;
    fl_peer *peers;
    fl_url url;
    char err[FL_PATH_BUF + 400];
    fl_status st;
    size_t n;
    int rc = parse(argc, argv, &a);

    if (rc >= 0)
        return rc;
    if (cli_conn_resolve(&a.conn, &url, err, sizeof err) != FL_OK)
        return cli_usage_error("status", "%s", err);
    fl_node_options_init(&o);
    cli_conn_apply(&a.conn, &o);
    o.cluster = a.cluster;
    o.slots = 0;
    o.log = quiet_log;
    o.log_level = FL_LOG_ERROR;
    peers = calloc(MAX_PEERS, sizeof *peers);
    if (!peers) {
        fprintf(stderr, "floret status: out of memory\n");
        return 1;
    }
    st = fl_node_new(&o, &node);
    if (st == FL_OK)
        st = fl_node_start(node, START_TIMEOUT_MS);
    if (st != FL_OK) {
        if (st == FL_ECONN)
            fprintf(stderr, "error: cannot connect to broker %s: %s\n", url.text,
                    fl__node_last_error(node));
        else
            fprintf(stderr, "error: %s\n", fl_strerror(st));
        fl_node_free(node);
        free(peers);
        return st == FL_ECONN ? 3 : st == FL_EINVAL ? 2 : 1;
    }
    sleep_ms(a.wait_ms);
    n = collect(node, peers);
    fl_node_stop(node, 1000);
    fl_node_free(node);
    if (a.json)
        print_json(peers, n);
    else if (n > 0)
        print_table(peers, n);
    else
        fprintf(stderr, "no nodes seen on cluster '%s' at %s\n",
                a.cluster ? a.cluster : "default", url.text);
    free(peers);
    return fflush(stdout) == 0 ? 0 : 1;
}
