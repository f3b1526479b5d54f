/*
 * view.c - the monitors' picture of the cluster (view.h): stats and events
 * from the observe callback, read member by member with the fl_value calls
 * (which never fail on a wrong type, so a node sending nonsense shows as
 * zeros, not as a crash), presence from fl_node_peers.
 * Depends on view.h, clock.h, the public header and pthreads.
 */
#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

int view_init(struct view *v)
{
    memset(v, 0, sizeof *v);
    v->nodes = calloc(VIEW_MAX_NODES, sizeof *v->nodes);
    if (!v->nodes)
        return -1;
    pthread_mutex_init(&v->mu, NULL);
    return 0;
}

void view_free(struct view *v)
{
    if (!v->nodes)
        return;
    pthread_mutex_destroy(&v->mu);
    free(v->nodes);
    v->nodes = NULL;
}

void view_lock(struct view *v) { pthread_mutex_lock(&v->mu); }
void view_unlock(struct view *v) { pthread_mutex_unlock(&v->mu); }

static struct view_node *node_for(struct view *v, const char *id)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->nodes[i].id, id) == 0)
            return &v->nodes[i];
    if (v->n == VIEW_MAX_NODES)
        return NULL;
    struct view_node *n = &v->nodes[v->n++];
    memset(n, 0, sizeof *n);
    snprintf(n->id, sizeof n->id, "%s", id);
    return n;
}

/* ------------------------------------------------------------- reading */

static uint64_t num(const fl_value *obj, const char *key)
{
    double d = fl_value_number(fl_value_get(obj, key));
    return d > 0 && d < 9007199254740992.0 ? (uint64_t)d : 0;
}

static void str(char *out, size_t cap, const fl_value *obj, const char *key)
{
    const char *s = fl_value_string(fl_value_get(obj, key), NULL);
    size_t k = 0;
    /* Kept printable: these end up on terminals and in web pages. */
    for (; s && s[k] && k + 1 < cap; k++)
        out[k] = (unsigned char)s[k] < 0x20 || s[k] == 0x7f ? '?' : s[k];
    out[k] = '\0';
}

static void read_tasks(struct view_node *n, const fl_value *tasks)
{
    n->ntasks = 0;
    for (const fl_value *t = fl_value_first(tasks); t && n->ntasks < VIEW_TASKS;
         t = fl_value_next(t)) {
        const char *key = fl_value_key(t);
        if (!key || fl_value_type(t) != FL_TYPE_OBJECT)
            continue;
        struct view_task *vt = &n->tasks[n->ntasks++];
        size_t k = 0;
        for (; key[k] && k + 1 < sizeof vt->name; k++)
            vt->name[k] = (unsigned char)key[k] < 0x20 ? '?' : key[k];
        vt->name[k] = '\0';
        vt->executed = num(t, "executed");
        vt->failed = num(t, "failed");
        vt->busy_us = num(t, "busy_us");
    }
}

static void read_running(struct view_node *n, const fl_value *list)
{
    n->nrunning = 0;
    for (const fl_value *r = fl_value_first(list); r && n->nrunning < VIEW_RUNNING;
         r = fl_value_next(r)) {
        struct view_running *vr = &n->running[n->nrunning++];
        str(vr->task, sizeof vr->task, r, "task");
        str(vr->owner, sizeof vr->owner, r, "owner");
        vr->id = num(r, "id");
        vr->ms = num(r, "ms");
    }
}

static void on_stats(struct view *v, const char *id, const fl_value *m)
{
    struct view_node *n = node_for(v, id);
    if (!n)
        return;
    const fl_value *w = fl_value_get(m, "worker");
    const fl_value *o = fl_value_get(m, "owner");
    const fl_value *last = fl_value_get(m, "last");
    uint64_t now = cli_wall_ms();
    uint64_t inc = num(m, "inc");
    if (n->has_stats && inc != n->inc)
        n->nhist = 0; /* it restarted: its counters start again */
    n->has_stats = true;
    n->stats_at = now;
    n->inc = inc;
    n->ts = num(m, "ts");
    n->uptime_ms = num(m, "uptime_ms");
    n->period_ms = num(m, "period_ms");
    n->slots = num(m, "slots");
    n->events = fl_value_bool(fl_value_get(m, "events"));
    n->bad_messages = num(m, "bad_messages");
    n->last_ms = num(last, "ms");
    n->last_executed = num(last, "executed");
    n->last_failed = num(last, "failed");
    n->last_busy_us = num(last, "busy_us");
    n->executed = num(w, "executed");
    n->succeeded = num(w, "succeeded");
    n->failed = num(w, "failed");
    n->retried = num(w, "retried");
    n->busy_us = num(w, "busy_us");
    n->queued = num(w, "queued");
    n->running_n = num(w, "running");
    n->o_submitted = num(o, "submitted");
    n->o_finished = num(o, "finished");
    n->o_ready = num(o, "ready");
    n->o_delayed = num(o, "delayed");
    n->o_leased = num(o, "leased");
    n->o_requeued = num(o, "requeued");
    n->o_retried = num(o, "retried");
    n->o_revoked = num(o, "revoked");
    read_tasks(n, fl_value_get(m, "tasks"));
    read_running(n, fl_value_get(m, "running"));
    struct view_sample *s = &n->hist[n->nhist++ % VIEW_HISTORY];
    s->at = now;
    s->executed = n->executed;
    s->failed = n->failed;
    s->busy_us = n->busy_us;
}

static void add_event(struct view_event *ring, size_t cap, size_t *count,
                      const struct view_event *e)
{
    ring[*count % cap] = *e;
    (*count)++;
}

static void on_events(struct view *v, const char *id, const fl_value *m)
{
    uint64_t now = cli_wall_ms();
    const fl_value *list = fl_value_get(m, "events");
    for (const fl_value *ev = fl_value_first(list); ev; ev = fl_value_next(ev)) {
        struct view_event e;
        memset(&e, 0, sizeof e);
        e.at = now;
        snprintf(e.node, sizeof e.node, "%s", id);
        str(e.type, sizeof e.type, ev, "type");
        str(e.task, sizeof e.task, ev, "task");
        str(e.owner, sizeof e.owner, ev, "owner");
        e.id = num(ev, "id");
        e.attempt = num(ev, "attempt");
        e.runtime_us = num(ev, "runtime_us");
        const fl_value *err = fl_value_get(ev, "error");
        str(e.err_type, sizeof e.err_type, err, "type");
        str(e.err_message, sizeof e.err_message, err, "message");
        if (!e.err_message[0])
            str(e.err_message, sizeof e.err_message, ev, "reason");
        v->events_seen++;
        add_event(v->events, VIEW_EVENTS, &v->nevents, &e);
        if (strcmp(e.type, "failed") == 0 || strcmp(e.type, "retried") == 0 ||
            strcmp(e.type, "revoked") == 0)
            add_event(v->failures, VIEW_FAILURES, &v->nfailures, &e);
    }
}

void view_on_report(void *ud, const char *node, const char *kind,
                    const fl_value *msg)
{
    struct view *v = ud;
    view_lock(v);
    if (strcmp(kind, "stats") == 0)
        on_stats(v, node, msg);
    else if (strcmp(kind, "events") == 0)
        on_events(v, node, msg);
    view_unlock(v);
}

void view_update_peers(struct view *v, fl_node *node, const char *self)
{
    static fl_peer peers[VIEW_MAX_NODES];
    static pthread_mutex_t peers_mu = PTHREAD_MUTEX_INITIALIZER;
    size_t k = 0;
    pthread_mutex_lock(&peers_mu);
    if (fl_node_peers(node, peers, VIEW_MAX_NODES, &k) != FL_OK)
        k = 0;
    uint64_t now = cli_wall_ms();
    view_lock(v);
    for (size_t i = 0; i < k; i++) {
        if (self && strcmp(peers[i].id, self) == 0)
            continue;
        /* A client that left is gone for good (its presence is not kept). */
        if (!peers[i].online && peers[i].slots == 0)
            continue;
        struct view_node *n = node_for(v, peers[i].id);
        if (!n)
            continue;
        if (n->has_presence && n->p.online && !peers[i].online)
            n->offline_since = now;
        if (peers[i].online)
            n->offline_since = 0;
        n->p = peers[i];
        n->has_presence = true;
    }
    /* Gone: a peer the node forgot (its retained presence was cleared), a
     * client that left, or one known only from stats that stopped coming
     * (clients' stats are not retained). */
    for (size_t i = 0; i < v->n; i++) {
        struct view_node *n = &v->nodes[i];
        bool found = false, left = false;
        for (size_t j = 0; j < k && !found; j++) {
            found = strcmp(peers[j].id, n->id) == 0;
            left = found && !peers[j].online && peers[j].slots == 0;
        }
        uint64_t quiet_ms = 3 * (n->period_ms ? n->period_ms : 2000);
        bool stale = !n->has_presence && n->has_stats && now > n->stats_at + quiet_ms;
        if ((!found && n->has_presence) || left || stale) {
            *n = v->nodes[--v->n];
            i--;
        }
    }
    view_unlock(v);
    pthread_mutex_unlock(&peers_mu);
}

/* ------------------------------------------------------------- derived */

double view_rate(const struct view_node *n)
{
    return n->last_ms ? (double)n->last_executed * 1000.0 / (double)n->last_ms : 0.0;
}

double view_busy(const struct view_node *n)
{
    if (!n->last_ms || !n->slots)
        return 0.0;
    double b = (double)n->last_busy_us / ((double)n->last_ms * 1000.0 * (double)n->slots);
    return b > 1.0 ? 1.0 : b;
}

uint64_t view_last_seen(const struct view_node *n)
{
    if (!n->has_stats)
        return 0;
    return n->ts ? n->ts : n->stats_at;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const struct view_node *)a)->id, ((const struct view_node *)b)->id);
}

void view_sort(struct view *v)
{
    view_lock(v);
    qsort(v->nodes, v->n, sizeof *v->nodes, by_id);
    view_unlock(v);
}
