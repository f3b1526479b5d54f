/*
 * status.c - `floret status`: join the cluster as a zero-slot node that
 * watches it (view.h), collect the retained presence and stats of every
 * node, and print them as an aligned table (or JSON with --json): state,
 * uptime, slots, what it runs now, its counters and rates, the queues of
 * the tasks it owns, tags and modules. Presence and the stats of nodes with
 * slots are retained by the broker, so a short wait sees every node at
 * once. --watch redraws the table every 2 s like top. Offline nodes last
 * seen longer ago than --offline-after are left out unless --all.
 * Depends on cli.h, clock.h, conn.h, json_out.h, opts.h, view.h
 * and the public header.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "conn.h"
#include "floret/floret.h"
#include "json_out.h"
#include "opts.h"
#include "view.h"

#define START_TIMEOUT_MS 5000u
#define DEFAULT_WAIT_MS 500L
#define DEFAULT_OFFLINE_S 600L
#define WATCH_MS 2000L
#define TASKS_WIDTH 40

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret status [OPTIONS]\n\n"
            "List the nodes of the cluster: state, uptime, slots, running tasks, counters\n"
            "and rates, the queues of the tasks each owns, tags and modules.\n\n"
            "Options:\n"
            "  --json               print a JSON array instead of a table\n"
            "  -w, --watch          redraw every 2 s until Ctrl-C (like top)\n"
            "  -a, --all            also list offline nodes last seen long ago\n"
            "  --offline-after S    offline nodes last seen more than S seconds ago\n"
            "                       are left out (default 600); 'floret forget' clears them\n"
            "  --timeout SECONDS    listen this long for the nodes' reports before\n"
            "                       printing (default 0.5; --wait MS is the old spelling)\n"
            "  --cluster NAME       default: default\n"
            CLI_CONN_HELP
            "  -h, --help           show this help\n");
}

struct status_args {
    bool json, watch, all;
    long wait_ms, offline_s;
    struct cli_conn conn;
    const char *cluster;
};

static int parse(int argc, char **argv, struct status_args *a)
{
    memset(a, 0, sizeof *a);
    a->wait_ms = DEFAULT_WAIT_MS;
    a->offline_s = DEFAULT_OFFLINE_S;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            a->json = true;
        } else if (strcmp(argv[i], "--watch") == 0 || strcmp(argv[i], "-w") == 0) {
            a->watch = true;
        } else if (strcmp(argv[i], "--all") == 0 || strcmp(argv[i], "-a") == 0) {
            a->all = true;
        } else if ((m = cli_opt(argc, argv, &i, "--timeout", &v, "status")) != 0) {
            double secs;
            if (m < 0)
                return 2;
            if (!cli_parse_seconds(v, 600, &secs))
                return cli_usage_error("status", "--timeout '%s': expected seconds from 0 to 600", v);
            a->wait_ms = (long)(secs * 1000.0 + 0.5);
        } else if ((m = cli_opt(argc, argv, &i, "--wait", &v, "status")) != 0) {
            /* The first spelling, in milliseconds: kept for scripts. */
            if (m < 0)
                return 2;
            if (!cli_parse_long(v, 0, 600000, &a->wait_ms))
                return cli_usage_error("status", "--wait '%s': expected milliseconds from 0 to 600000", v);
            fprintf(stderr, "floret status: --wait MS is deprecated; use --timeout SECONDS "
                            "(--wait %ld is --timeout %g)\n", a->wait_ms, a->wait_ms / 1000.0);
        } else if ((m = cli_opt(argc, argv, &i, "--offline-after", &v, "status")) != 0) {
            if (m < 0)
                return 2;
            if (!cli_parse_long(v, 0, 100L * 365 * 86400, &a->offline_s))
                return cli_usage_error("status", "--offline-after '%s': expected seconds", v);
        } else if ((m = cli_conn_opt(argc, argv, &i, &a->conn, "status")) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(argc, argv, &i, "--cluster", &v, "status")) != 0) {
            if (m < 0)
                return 2;
            a->cluster = v;
        } else {
            return cli_unknown_arg_help("status", argv[i], usage);
        }
    }
    if (a->watch && a->json)
        return cli_usage_error("status", "--watch and --json do not go together");
    return -1;
}

/* --------------------------------------------------------------- filters */

/* Shown unless offline and last seen too long ago (a node that sent no
 * stats, such as an older floret, cannot be dated and is shown). */
static bool shown(const struct status_args *a, const struct view_node *n, uint64_t now)
{
    if (a->all || !n->has_presence || n->p.online)
        return n->has_presence || n->has_stats;
    uint64_t seen = view_last_seen(n);
    return !seen || now < seen || now - seen <= (uint64_t)a->offline_s * 1000u;
}

static const char *state_of(const struct view_node *n)
{
    if (!n->has_presence)
        return "online"; /* a client: stats only, its presence is not kept */
    return n->p.online ? "online" : "offline";
}

static void duration(char *out, size_t cap, uint64_t ms)
{
    uint64_t s = ms / 1000;
    if (s < 60)
        snprintf(out, cap, "%llus", (unsigned long long)s);
    else if (s < 3600)
        snprintf(out, cap, "%llum%02llus", (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
    else if (s < 86400)
        snprintf(out, cap, "%lluh%02llum", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60));
    else
        snprintf(out, cap, "%llud%02lluh", (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600));
}

/* ------------------------------------------------------------------ JSON */

static void json_list(const char *list)
{
    const char *p = list;
    bool first = true;
    putchar('[');
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n > 0) {
            char name[300];
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

static void json_node(const struct view_node *n, uint64_t now)
{
    char iso[40];
    printf("{\"id\":");
    cli_json_string(n->id);
    printf(",\"state\":\"%s\",\"slots\":%d,\"load\":%d,\"runtime\":", state_of(n),
           n->has_presence ? n->p.slots : (int)n->slots, n->p.load);
    cli_json_string(n->p.runtime);
    printf(",\"arch\":");
    cli_json_string(n->p.arch);
    printf(",\"version\":");
    cli_json_string(n->p.version);
    if (n->has_presence)
        printf(",\"max_msg\":%zu,\"keeper\":%s", n->p.max_msg,
               n->p.keeper ? "true" : "false");
    printf(",\"tasks\":");
    json_list(n->p.tasks);
    printf(",\"modules\":");
    json_list(n->p.modules);
    printf(",\"tags\":");
    json_list(n->p.tags);
    if (n->has_stats) {
        cli_iso_time(iso, sizeof iso, view_last_seen(n));
        printf(",\"last_seen\":\"%s\",\"last_seen_s\":%.1f,\"uptime_ms\":%llu,\"events\":%s",
               iso, now > view_last_seen(n) ? (double)(now - view_last_seen(n)) / 1000.0 : 0.0,
               (unsigned long long)n->uptime_ms, n->events ? "true" : "false");
        printf(",\"counters\":{\"executed\":%llu,\"succeeded\":%llu,\"failed\":%llu,"
               "\"retried\":%llu,\"busy_us\":%llu,\"bad_messages\":%llu}",
               (unsigned long long)n->executed, (unsigned long long)n->succeeded,
               (unsigned long long)n->failed, (unsigned long long)n->retried,
               (unsigned long long)n->busy_us, (unsigned long long)n->bad_messages);
        printf(",\"rate\":%.2f,\"busy\":%.3f,\"queued\":%llu", view_rate(n), view_busy(n),
               (unsigned long long)n->queued);
        printf(",\"owner\":{\"submitted\":%llu,\"finished\":%llu,\"ready\":%llu,"
               "\"delayed\":%llu,\"leased\":%llu,\"requeued\":%llu,\"retried\":%llu,"
               "\"revoked\":%llu}",
               (unsigned long long)n->o_submitted, (unsigned long long)n->o_finished,
               (unsigned long long)n->o_ready, (unsigned long long)n->o_delayed,
               (unsigned long long)n->o_leased, (unsigned long long)n->o_requeued,
               (unsigned long long)n->o_retried, (unsigned long long)n->o_revoked);
        printf(",\"running\":[");
        for (size_t i = 0; i < n->nrunning; i++) {
            const struct view_running *r = &n->running[i];
            printf("%s{\"task\":", i ? "," : "");
            cli_json_string(r->task);
            printf(",\"owner\":");
            cli_json_string(r->owner);
            printf(",\"id\":%llu,\"ms\":%llu}", (unsigned long long)r->id,
                   (unsigned long long)r->ms);
        }
        printf("],\"by_task\":{");
        for (size_t i = 0; i < n->ntasks; i++) {
            const struct view_task *t = &n->tasks[i];
            printf("%s", i ? "," : "");
            cli_json_string(t->name);
            printf(":{\"executed\":%llu,\"failed\":%llu,\"busy_us\":%llu}",
                   (unsigned long long)t->executed, (unsigned long long)t->failed,
                   (unsigned long long)t->busy_us);
        }
        printf("}");
    }
    putchar('}');
}

static void print_json(const struct status_args *a, struct view *v)
{
    uint64_t now = cli_wall_ms();
    bool first = true;
    putchar('[');
    for (size_t i = 0; i < v->n; i++) {
        if (!shown(a, &v->nodes[i], now))
            continue;
        if (!first)
            putchar(',');
        json_node(&v->nodes[i], now);
        first = false;
    }
    printf("]\n");
}

/* ----------------------------------------------------------------- table */

static int width(int w, const char *s)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}

static void fmt_count(char *out, size_t cap, uint64_t x)
{
    if (x < 100000)
        snprintf(out, cap, "%llu", (unsigned long long)x);
    else if (x < 100000000)
        snprintf(out, cap, "%.1fk", (double)x / 1e3);
    else
        snprintf(out, cap, "%.1fM", (double)x / 1e6);
}

/* Print the table; returns how many offline nodes were left out. */
static size_t print_table(const struct status_args *a, struct view *v)
{
    uint64_t now = cli_wall_ms();
    int wid = 4, wtag = 4, wmod = 7;
    size_t hidden = 0, shown_n = 0;
    for (size_t i = 0; i < v->n; i++) {
        const struct view_node *n = &v->nodes[i];
        if (!shown(a, n, now))
            continue;
        wid = width(wid, n->id);
        wtag = width(wtag, n->p.tags[0] ? n->p.tags : "-");
        wmod = width(wmod, n->p.modules[0] ? n->p.modules : "-");
    }
    printf("%-*s  %-7s  %7s  %5s  %4s  %5s  %7s  %6s  %8s  %4s  %7s  %6s  %-*s  %-*s  %s\n",
           wid, "NODE", "STATE", "UPTIME", "SLOTS", "RUN", "QUEUE", "DONE", "FAILED",
           "RATE/s", "BUSY", "PENDING", "LEASED", wtag, "TAGS", wmod, "MODULES", "TASKS");
    for (size_t i = 0; i < v->n; i++) {
        const struct view_node *n = &v->nodes[i];
        char up[32] = "-", done[24] = "-", failed[24] = "-", rate[32] = "-", busy[16] = "-";
        char pend[16] = "-", leased[16] = "-", run[16] = "-", queue[16] = "-";
        if (!shown(a, n, now)) {
            hidden++;
            continue;
        }
        shown_n++;
        bool online = strcmp(state_of(n), "online") == 0;
        if (n->has_stats) {
            fmt_count(done, sizeof done, n->executed);
            fmt_count(failed, sizeof failed, n->failed);
            fmt_count(pend, sizeof pend, n->o_ready + n->o_delayed);
            fmt_count(leased, sizeof leased, n->o_leased);
            if (online) {
                duration(up, sizeof up, n->uptime_ms);
                snprintf(rate, sizeof rate, "%.1f", view_rate(n));
                snprintf(busy, sizeof busy, "%.0f%%", 100.0 * view_busy(n));
                snprintf(run, sizeof run, "%llu", (unsigned long long)n->running_n);
                snprintf(queue, sizeof queue, "%llu", (unsigned long long)n->queued);
            } else if (view_last_seen(n) && now > view_last_seen(n)) {
                char ago[22];
                duration(ago, sizeof ago, now - view_last_seen(n));
                snprintf(up, sizeof up, "off %s", ago); /* gone that long */
            }
        }
        int len = (int)strlen(n->p.tasks);
        printf("%-*s  %-7s  %7s  %5d  %4s  %5s  %7s  %6s  %8s  %4s  %7s  %6s  %-*s  %-*s  %.*s%s\n",
               wid, n->id, state_of(n), up, n->has_presence ? n->p.slots : (int)n->slots,
               run, queue, done, failed, rate, busy, pend, leased, wtag,
               n->p.tags[0] ? n->p.tags : "-", wmod, n->p.modules[0] ? n->p.modules : "-",
               TASKS_WIDTH, n->p.tasks, len > TASKS_WIDTH ? "..." : "");
    }
    /* What runs now, one line per task. */
    bool any = false;
    for (size_t i = 0; i < v->n; i++) {
        const struct view_node *n = &v->nodes[i];
        if (!shown(a, n, now) || strcmp(state_of(n), "online") != 0)
            continue;
        for (size_t k = 0; k < n->nrunning; k++) {
            const struct view_running *r = &n->running[k];
            if (!any)
                printf("\nRUNNING\n");
            any = true;
            printf("  %-*s  %s  %s:%llu  %.1fs\n", wid, n->id, r->task, r->owner,
                   (unsigned long long)r->id, (double)r->ms / 1000.0);
        }
        if (n->running_n > n->nrunning)
            printf("  %-*s  ... and %llu more\n", wid, n->id,
                   (unsigned long long)(n->running_n - n->nrunning));
    }
    if (hidden)
        printf("\n%zu offline node%s last seen over %lds ago not shown (--all shows them, "
               "'floret forget NODE' clears one)\n", hidden, hidden == 1 ? "" : "s",
               a->offline_s);
    (void)shown_n;
    return hidden;
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

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static size_t count_shown(const struct status_args *a, struct view *v)
{
    size_t k = 0;
    uint64_t now = cli_wall_ms();
    for (size_t i = 0; i < v->n; i++)
        k += shown(a, &v->nodes[i], now);
    return k;
}

static void watch_loop(const struct status_args *a, struct view *v, fl_node *node)
{
    struct sigaction sa;
    bool tty = isatty(STDOUT_FILENO);
    char iso[40];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!g_stop) {
        view_update_peers(v, node, fl_node_id(node));
        view_sort(v);
        cli_iso_time(iso, sizeof iso, cli_wall_ms());
        if (tty)
            printf("\033[H\033[2J");
        printf("floret status: cluster '%s', %zu node(s), %.19s UTC  (Ctrl-C to quit)\n\n",
               a->cluster ? a->cluster : "default", count_shown(a, v), iso);
        view_lock(v);
        print_table(a, v);
        view_unlock(v);
        if (!tty)
            printf("\n");
        fflush(stdout);
        for (long t = 0; t < WATCH_MS && !g_stop; t += 100)
            sleep_ms(100);
    }
}

int cli_status(int argc, char **argv)
{
    struct status_args a;
    struct view v;
    fl_node_options o;
    fl_node *node = NULL;
    struct cli_url url;
    char err[CLI_PATH_BUF + 400];
    fl_status st;
    int rc = parse(argc, argv, &a);

    if (rc >= 0)
        return rc;
    if (cli_conn_resolve(&a.conn, &url, err, sizeof err) != FL_OK)
        return cli_usage_error("status", "%s", err);
    if (view_init(&v) != 0) {
        fprintf(stderr, "floret status: out of memory\n");
        return 1;
    }
    fl_node_options_init(&o);
    cli_conn_apply(&a.conn, &o);
    o.cluster = a.cluster;
    o.slots = 0;
    o.log = quiet_log;
    o.log_level = FL_LOG_ERROR;
    o.observe = view_on_report;
    o.observe_ud = &v;
    st = fl_node_new(&o, &node);
    if (st == FL_OK)
        st = fl_node_start(node, START_TIMEOUT_MS);
    if (st != FL_OK) {
        if (st == FL_ECONN)
            fprintf(stderr, "error: cannot connect to broker %s: %s\n", url.text,
                    fl_node_last_error(node));
        else
            fprintf(stderr, "error: %s\n", fl_strerror(st));
        fl_node_free(node);
        view_free(&v);
        return st == FL_ECONN ? 3 : st == FL_EINVAL ? 2 : 1;
    }
    sleep_ms(a.wait_ms);
    if (a.watch) {
        watch_loop(&a, &v, node);
        fl_node_stop(node, 1000);
        fl_node_free(node);
        view_free(&v);
        return 0;
    }
    view_update_peers(&v, node, fl_node_id(node));
    fl_node_stop(node, 1000);
    fl_node_free(node);
    view_sort(&v);
    if (a.json)
        print_json(&a, &v);
    else if (count_shown(&a, &v) > 0 || v.n > 0)
        print_table(&a, &v);
    else
        fprintf(stderr, "no nodes seen on cluster '%s' at %s\n",
                a.cluster ? a.cluster : "default", url.text);
    view_free(&v);
    return fflush(stdout) == 0 ? 0 : 1;
}
