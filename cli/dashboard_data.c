/*
 * dashboard_data.c - the dashboard's JSON snapshot and Prometheus metrics,
 * written from the view (dashboard_data.h). Everything a node sent is
 * escaped on the way out: JSON strings here, label values in the metrics,
 * and the page inserts them as text, never as HTML.
 * Depends on dashboard_data.h, view.h and the C library.
 */
#include "dashboard_data.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_free(struct sbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

static int sb_grow(struct sbuf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->failed = 1;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sb_grow(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sb_add(struct sbuf *b, const void *data, size_t len)
{
    if (sb_grow(b, len) != 0)
        return;
    memcpy(b->s + b->len, data, len);
    b->len += len;
    b->s[b->len] = '\0';
}

void sb_str(struct sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            sb_printf(b, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            sb_printf(b, "\\u%04x", ch);
        else if (ch == '<')
            sb_printf(b, "\\u003c"); /* never "</script>" in a page */
        else
            sb_printf(b, "%c", ch);
    }
    sb_printf(b, "\"");
}

/* A comma-separated list as a JSON array of strings. */
static void sb_list(struct sbuf *b, const char *list)
{
    char item[300];
    bool first = true;
    sb_printf(b, "[");
    while (*list) {
        size_t n = strcspn(list, ",");
        if (n > 0) {
            snprintf(item, sizeof item, "%.*s", (int)(n < sizeof item ? n : sizeof item - 1),
                     list);
            sb_printf(b, "%s", first ? "" : ",");
            sb_str(b, item);
            first = false;
        }
        list += n + (list[n] == ',');
    }
    sb_printf(b, "]");
}

static bool online(const struct view_node *n)
{
    return n->has_presence ? n->p.online : n->has_stats;
}

/* ---------------------------------------------------------------- series */

void dash_sample(struct dash_series *s, struct view *v, uint64_t now)
{
    uint64_t ex = 0, fa = 0;
    for (size_t i = 0; i < v->n; i++) {
        ex += v->nodes[i].executed;
        fa += v->nodes[i].failed;
    }
    double rate = 0, frate = 0;
    if (s->last_at && now > s->last_at) {
        double dt = (double)(now - s->last_at) / 1000.0;
        /* A node that restarted counts from 0 again: no negative rates. */
        rate = ex >= s->last_executed ? (double)(ex - s->last_executed) / dt : 0;
        frate = fa >= s->last_failed ? (double)(fa - s->last_failed) / dt : 0;
    }
    size_t i = s->n++ % DASH_SERIES;
    s->at[i] = now;
    s->rate[i] = rate;
    s->fail_rate[i] = frate;
    s->last_at = now;
    s->last_executed = ex;
    s->last_failed = fa;
}

/* ------------------------------------------------------------------ JSON */

/* What the node ran over its history (up to 5 minutes), same incarnation. */
static uint64_t recent_work(const struct view_node *n)
{
    if (n->nhist < 2)
        return n->executed;
    size_t count = n->nhist < VIEW_HISTORY ? n->nhist : VIEW_HISTORY;
    const struct view_sample *newest = &n->hist[(n->nhist - 1) % VIEW_HISTORY];
    const struct view_sample *oldest = &n->hist[(n->nhist - count) % VIEW_HISTORY];
    return newest->executed >= oldest->executed ? newest->executed - oldest->executed : 0;
}

static void json_node(struct sbuf *b, const struct view_node *n, uint64_t now,
                      uint64_t work_total)
{
    uint64_t seen = view_last_seen(n);
    uint64_t work = recent_work(n);
    sb_printf(b, "{\"id\":");
    sb_str(b, n->id);
    sb_printf(b, ",\"online\":%s,\"slots\":%llu,\"load\":%d,\"running_n\":%llu,\"queued\":%llu",
              online(n) ? "true" : "false",
              (unsigned long long)(n->has_presence ? (uint64_t)n->p.slots : n->slots),
              n->p.load, (unsigned long long)n->running_n, (unsigned long long)n->queued);
    sb_printf(b, ",\"rate\":%.2f,\"busy\":%.3f,\"executed\":%llu,\"succeeded\":%llu,"
              "\"failed\":%llu,\"retried\":%llu,\"uptime_ms\":%llu,\"seen_ago_ms\":%llu",
              online(n) ? view_rate(n) : 0.0, online(n) ? view_busy(n) : 0.0,
              (unsigned long long)n->executed, (unsigned long long)n->succeeded,
              (unsigned long long)n->failed, (unsigned long long)n->retried,
              (unsigned long long)n->uptime_ms,
              (unsigned long long)(seen && now > seen ? now - seen : 0));
    sb_printf(b, ",\"share\":%.4f,\"recent\":%llu",
              work_total ? (double)work / (double)work_total : 0.0, (unsigned long long)work);
    sb_printf(b, ",\"arch\":");
    sb_str(b, n->p.arch);
    sb_printf(b, ",\"runtime\":");
    sb_str(b, n->p.runtime);
    sb_printf(b, ",\"version\":");
    sb_str(b, n->p.version);
    sb_printf(b, ",\"tags\":");
    sb_list(b, n->p.tags);
    sb_printf(b, ",\"modules\":");
    sb_list(b, n->p.modules);
    sb_printf(b, ",\"tasks\":");
    sb_list(b, n->p.tasks);
    sb_printf(b, ",\"owner\":{\"ready\":%llu,\"delayed\":%llu,\"leased\":%llu,"
              "\"submitted\":%llu,\"finished\":%llu}",
              (unsigned long long)n->o_ready, (unsigned long long)n->o_delayed,
              (unsigned long long)n->o_leased, (unsigned long long)n->o_submitted,
              (unsigned long long)n->o_finished);
    sb_printf(b, ",\"running\":[");
    for (size_t i = 0; online(n) && i < n->nrunning; i++) {
        const struct view_running *r = &n->running[i];
        sb_printf(b, "%s{\"task\":", i ? "," : "");
        sb_str(b, r->task);
        sb_printf(b, ",\"owner\":");
        sb_str(b, r->owner);
        sb_printf(b, ",\"id\":%llu,\"ms\":%llu}", (unsigned long long)r->id,
                  (unsigned long long)r->ms);
    }
    sb_printf(b, "]}");
}

static void json_event(struct sbuf *b, const struct view_event *e)
{
    sb_printf(b, "{\"at\":%llu,\"node\":", (unsigned long long)e->at);
    sb_str(b, e->node);
    sb_printf(b, ",\"type\":");
    sb_str(b, e->type);
    sb_printf(b, ",\"task\":");
    sb_str(b, e->task);
    sb_printf(b, ",\"owner\":");
    sb_str(b, e->owner);
    sb_printf(b, ",\"id\":%llu,\"attempt\":%llu,\"runtime_us\":%llu,\"err_type\":",
              (unsigned long long)e->id, (unsigned long long)e->attempt,
              (unsigned long long)e->runtime_us);
    sb_str(b, e->err_type);
    sb_printf(b, ",\"err_message\":");
    sb_str(b, e->err_message);
    sb_printf(b, "}");
}

/* The last count entries of a ring, newest first. */
static void json_ring(struct sbuf *b, const struct view_event *ring, size_t cap, size_t n,
                      size_t max)
{
    size_t k = n < cap ? n : cap;
    if (k > max)
        k = max;
    sb_printf(b, "[");
    for (size_t i = 0; i < k; i++) {
        sb_printf(b, "%s", i ? "," : "");
        json_event(b, &ring[(n - 1 - i) % cap]);
    }
    sb_printf(b, "]");
}

void dash_json(struct sbuf *b, struct view *v, const struct dash_series *s,
               const char *cluster, uint64_t now)
{
    uint64_t work = 0, ex = 0, fa = 0, slots = 0;
    size_t on = 0;
    double rate = 0;
    for (size_t i = 0; i < v->n; i++) {
        const struct view_node *n = &v->nodes[i];
        work += recent_work(n);
        ex += n->executed;
        fa += n->failed;
        if (online(n)) {
            on++;
            slots += n->has_presence ? (uint64_t)n->p.slots : n->slots;
            rate += view_rate(n);
        }
    }
    sb_printf(b, "{\"cluster\":");
    sb_str(b, cluster);
    sb_printf(b, ",\"now\":%llu,\"totals\":{\"nodes\":%zu,\"online\":%zu,\"slots\":%llu,"
              "\"executed\":%llu,\"failed\":%llu,\"rate\":%.2f,\"events\":%llu},\"nodes\":[",
              (unsigned long long)now, v->n, on, (unsigned long long)slots,
              (unsigned long long)ex, (unsigned long long)fa, rate,
              (unsigned long long)v->events_seen);
    for (size_t i = 0; i < v->n; i++) {
        sb_printf(b, "%s", i ? "," : "");
        json_node(b, &v->nodes[i], now, work);
    }
    sb_printf(b, "],\"series\":[");
    size_t k = s->n < DASH_SERIES ? s->n : DASH_SERIES;
    for (size_t i = 0; i < k; i++) {
        size_t j = (s->n - k + i) % DASH_SERIES;
        sb_printf(b, "%s[%llu,%.2f,%.2f]", i ? "," : "", (unsigned long long)s->at[j],
                  s->rate[j], s->fail_rate[j]);
    }
    sb_printf(b, "],\"failures\":");
    json_ring(b, v->failures, VIEW_FAILURES, v->nfailures, 20);
    sb_printf(b, ",\"events\":");
    json_ring(b, v->events, VIEW_EVENTS, v->nevents, 30);
    sb_printf(b, "}");
}

/* --------------------------------------------------------------- metrics */

/* A label value: backslash, quote and newline escaped. */
static void sb_label(struct sbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            sb_printf(b, "\\%c", *s);
        else if (*s == '\n')
            sb_printf(b, "\\n");
        else
            sb_printf(b, "%c", *s);
    }
}

static void family(struct sbuf *b, const char *name, const char *type, const char *help)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef uint64_t (*node_num)(const struct view_node *n);

#define NODE_METRIC(fn, expr) \
    static uint64_t fn(const struct view_node *n) { return (expr); }
NODE_METRIC(m_slots, n->has_presence ? (uint64_t)n->p.slots : n->slots)
NODE_METRIC(m_running, n->running_n)
NODE_METRIC(m_queued, n->queued)
NODE_METRIC(m_executed, n->executed)
NODE_METRIC(m_succeeded, n->succeeded)
NODE_METRIC(m_failed, n->failed)
NODE_METRIC(m_retried, n->retried)
NODE_METRIC(m_bad, n->bad_messages)
NODE_METRIC(m_ready, n->o_ready)
NODE_METRIC(m_delayed, n->o_delayed)
NODE_METRIC(m_leased, n->o_leased)
NODE_METRIC(m_submitted, n->o_submitted)
NODE_METRIC(m_requeued, n->o_requeued)
NODE_METRIC(m_oretried, n->o_retried)
NODE_METRIC(m_revoked, n->o_revoked)

struct node_family {
    const char *name, *type, *help;
    node_num fn;
};

static const struct node_family node_families[] = {
    {"floret_node_slots", "gauge", "Tasks the node runs at once.", m_slots},
    {"floret_node_running", "gauge", "Tasks running on the node now.", m_running},
    {"floret_node_queued", "gauge", "Tasks leased to the node and waiting for a slot.", m_queued},
    {"floret_tasks_executed_total", "counter", "Task runs the node finished.", m_executed},
    {"floret_tasks_succeeded_total", "counter", "Task runs that returned a value.", m_succeeded},
    {"floret_tasks_failed_total", "counter", "Task runs that failed.", m_failed},
    {"floret_tasks_retried_total", "counter", "Failed runs that asked to be retried.", m_retried},
    {"floret_bad_messages_total", "counter", "Malformed messages the node dropped.", m_bad},
    {"floret_owner_ready", "gauge", "Tasks the node owns that wait for a worker.", m_ready},
    {"floret_owner_delayed", "gauge", "Owned tasks waiting for a countdown or retry.", m_delayed},
    {"floret_owner_leased", "gauge", "Owned tasks leased to workers now.", m_leased},
    {"floret_owner_submitted_total", "counter", "Tasks and workflows the node submitted.",
     m_submitted},
    {"floret_owner_requeued_total", "counter", "Owned tasks put back after a lost lease.",
     m_requeued},
    {"floret_owner_retried_total", "counter", "Retries the node scheduled.", m_oretried},
    {"floret_owner_revoked_total", "counter", "Owned tasks revoked or expired.", m_revoked},
};

static void node_labels(struct sbuf *b, const struct view_node *n, const char *cluster)
{
    sb_printf(b, "{cluster=\"");
    sb_label(b, cluster);
    sb_printf(b, "\",node=\"");
    sb_label(b, n->id);
    sb_printf(b, "\"}");
}

void dash_metrics(struct sbuf *b, struct view *v, const char *cluster)
{
    family(b, "floret_node_up", "gauge", "Whether the node's presence says online.");
    for (size_t i = 0; i < v->n; i++) {
        sb_printf(b, "floret_node_up");
        node_labels(b, &v->nodes[i], cluster);
        sb_printf(b, " %d\n", online(&v->nodes[i]) ? 1 : 0);
    }
    family(b, "floret_node_uptime_seconds", "gauge", "Seconds since the node connected first.");
    for (size_t i = 0; i < v->n; i++) {
        if (!v->nodes[i].has_stats)
            continue;
        sb_printf(b, "floret_node_uptime_seconds");
        node_labels(b, &v->nodes[i], cluster);
        sb_printf(b, " %.3f\n", (double)v->nodes[i].uptime_ms / 1000.0);
    }
    family(b, "floret_busy_seconds_total", "counter", "Time tasks ran on the node, all slots.");
    for (size_t i = 0; i < v->n; i++) {
        if (!v->nodes[i].has_stats)
            continue;
        sb_printf(b, "floret_busy_seconds_total");
        node_labels(b, &v->nodes[i], cluster);
        sb_printf(b, " %.6f\n", (double)v->nodes[i].busy_us / 1e6);
    }
    for (size_t f = 0; f < sizeof node_families / sizeof node_families[0]; f++) {
        const struct node_family *nf = &node_families[f];
        family(b, nf->name, nf->type, nf->help);
        for (size_t i = 0; i < v->n; i++) {
            if (!v->nodes[i].has_stats)
                continue;
            sb_printf(b, "%s", nf->name);
            node_labels(b, &v->nodes[i], cluster);
            sb_printf(b, " %llu\n", (unsigned long long)nf->fn(&v->nodes[i]));
        }
    }
    static const char *const per_task[] = {"floret_task_executed_total",
                                           "floret_task_failed_total",
                                           "floret_task_busy_seconds_total"};
    static const char *const per_task_help[] = {"Runs of the task on the node.",
                                                "Failed runs of the task on the node.",
                                                "Time the task ran on the node."};
    for (int f = 0; f < 3; f++) {
        family(b, per_task[f], "counter", per_task_help[f]);
        for (size_t i = 0; i < v->n; i++) {
            const struct view_node *n = &v->nodes[i];
            for (size_t t = 0; t < n->ntasks; t++) {
                sb_printf(b, "%s{cluster=\"", per_task[f]);
                sb_label(b, cluster);
                sb_printf(b, "\",node=\"");
                sb_label(b, n->id);
                sb_printf(b, "\",task=\"");
                sb_label(b, n->tasks[t].name);
                if (f == 0)
                    sb_printf(b, "\"} %llu\n", (unsigned long long)n->tasks[t].executed);
                else if (f == 1)
                    sb_printf(b, "\"} %llu\n", (unsigned long long)n->tasks[t].failed);
                else
                    sb_printf(b, "\"} %.6f\n", (double)n->tasks[t].busy_us / 1e6);
            }
        }
    }
    family(b, "floret_dashboard_events_total", "counter", "Task events this dashboard received.");
    sb_printf(b, "floret_dashboard_events_total %llu\n", (unsigned long long)v->events_seen);
}
