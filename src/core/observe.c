/*
 * observe.c - watching a node at work (docs/protocol.md 3.11). Every node
 * publishes its counters on node/<id>/stats every FL_STATS_MS (retained
 * for nodes with slots, so `floret status` sees them at once and knows when
 * a dead node was last alive); while events are on it writes one event per
 * task step into a batch that leaves with the next flush, one message for
 * many events. A monitor gets other nodes' stats and events handed over as
 * checked JSON and asks them for events with `watch`, renewed before it
 * lapses, so a monitor that dies stops costing anything within
 * FL_WATCH_TTL_MS. Depends on internal.h.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"
#include "observe.h"

/* Longest error message copied into an event (the outcome keeps it whole). */
#define EVENT_MESSAGE_MAX 256

void fl__obs_init(fl_core *c, bool always)
{
    memset(&c->obs, 0, sizeof c->obs);
    c->obs.always = always;
    fl__jw_init(&c->obs.ev);
}

void fl__obs_free(fl_core *c)
{
    fl__jw_free(&c->obs.ev);
    fl__free(c->obs.tasks);
    c->obs.tasks = NULL;
}

void fl_core_set_observer(fl_core *c, fl_core_observe_fn fn, void *ud)
{
    c->obs.fn = fn;
    c->obs.fn_ud = ud;
}

static void send_watch(fl_core *c, const char *to, uint32_t ttl_ms)
{
    fl__jw_begin_msg(&c->jw, FL_KIND_WATCH, c->id, c->inc);
    fl__jw_u64(&c->jw, "ttl_ms", ttl_ms);
    fl__send_to(c, to, NULL, 1, false);
}

static void watch_all(fl_core *c, uint32_t ttl_ms)
{
    for (const fl_peer_rec *p = c->peers; p; p = p->next)
        if (p->info.online)
            send_watch(c, p->info.id, ttl_ms);
}

void fl_core_watch_events(fl_core *c, bool on, uint64_t now)
{
    if (!on && c->obs.watch && c->connected)
        watch_all(c, 0);
    c->obs.watch = on;
    c->obs.next_watch = now; /* at the next tick */
}

void fl__obs_peer_online(fl_core *c, const char *id, uint64_t now)
{
    (void)now;
    if (c->obs.watch && c->connected)
        send_watch(c, id, FL_WATCH_TTL_MS);
}

static bool events_on(const fl_core *c, uint64_t now)
{
    return c->obs.always || now < c->obs.events_until;
}

void fl__obs_on_watch(fl_core *c, const fl_msg *m, uint64_t now)
{
    bool was = events_on(c, now);
    c->obs.events_until = m->ttl_ms ? now + (uint64_t)m->ttl_ms * 1000u : 0;
    if (was != events_on(c, now))
        fl__log(c, FL_LOG_INFO, "task events %s (asked by %s)",
                events_on(c, now) ? "on" : "off", m->from);
}

/* ------------------------------------------------------------- counters */

static fl_obs_task *task_entry(fl_core *c, const char *name)
{
    fl_obs *o = &c->obs;
    if (!o->tasks) {
        o->tasks = fl__calloc(FL_STATS_TASKS, sizeof *o->tasks);
        if (!o->tasks)
            return NULL;
    }
    if (strcmp(o->tasks[o->hint].name, name) == 0)
        return &o->tasks[o->hint];
    for (size_t i = 0; i < FL_STATS_TASKS; i++) {
        fl_obs_task *t = &o->tasks[i];
        if (t->name[0] == '\0') {
            /* Names are checked ids, so they fit. */
            snprintf(t->name, sizeof t->name, "%s", name);
            o->hint = i;
            return t;
        }
        if (strcmp(t->name, name) == 0) {
            o->hint = i;
            return t;
        }
    }
    return NULL; /* past FL_STATS_TASKS names: counted in the totals only */
}

/* ------------------------------------------------------------- events */

static void event_begin(fl_core *c, const char *type, const char *task,
                        uint64_t id, const char *owner, uint32_t attempt)
{
    fl_obs *o = &c->obs;
    if (!o->nev) {
        fl__jw_begin_msg(&o->ev, FL_KIND_EVENTS, c->id, c->inc);
        fl__jw_arr(&o->ev, "events");
    }
    fl__jw_obj(&o->ev, NULL);
    fl__jw_str(&o->ev, "type", type);
    fl__jw_str(&o->ev, "task", task);
    fl__jw_u64(&o->ev, "id", id);
    fl__jw_str(&o->ev, "owner", owner);
    fl__jw_u64(&o->ev, "attempt", attempt);
}

static void event_error(fl_core *c, const char *type, const char *message,
                        bool retryable)
{
    fl_jw *w = &c->obs.ev;
    size_t n = message ? strlen(message) : 0;
    if (n > EVENT_MESSAGE_MAX)
        n = EVENT_MESSAGE_MAX;
    fl__jw_obj(w, "error");
    fl__jw_str(w, "type", type && type[0] ? type : "TaskError");
    fl__jw_strn(w, "message", message ? message : "", n);
    fl__jw_bool(w, "retryable", retryable);
    fl__jw_end_obj(w);
}

static void event_end(fl_core *c, uint64_t now)
{
    fl__jw_end_obj(&c->obs.ev);
    if (++c->obs.nev >= FL_EVENTS_BATCH ||
        fl__jw_size(&c->obs.ev) > c->max_message / 2)
        fl__obs_flush(c, now);
}

void fl__obs_flush(fl_core *c, uint64_t now)
{
    fl_obs *o = &c->obs;
    char topic[sizeof c->prefix + FL_MAX_ID_BUF + 16];
    const void *payload;
    size_t len;
    (void)now;
    if (!o->nev)
        return;
    fl__jw_end_arr(&o->ev);
    if (fl__jw_finish(&o->ev, &payload, &len) != FL_OK) {
        o->ev_dropped += o->nev;
    } else if (c->connected && c->io.publish) {
        snprintf(topic, sizeof topic, "%snode/%s/events", c->prefix, c->id);
        c->io.publish(c->io.ud, topic, payload, len, 0, false);
    }
    fl__jw_reset(&o->ev);
    o->nev = 0;
}

void fl__obs_received(fl_core *c, const fl_wjob *j, uint64_t now)
{
    if (!events_on(c, now))
        return;
    event_begin(c, "received", j->job.name, j->job.id, j->job.owner,
                j->job.attempt);
    event_end(c, now);
}

void fl__obs_started(fl_core *c, const fl_wjob *j, uint64_t now)
{
    if (!events_on(c, now))
        return;
    event_begin(c, "started", j->job.name, j->job.id, j->job.owner,
                j->job.attempt);
    event_end(c, now);
}

/* `floret node -v`: one line per task (formatted only at that level), with
 * its fields for a driver that logs JSON (--log-format json). */
FL__NOINLINE static void log_task(fl_core *c, const fl_wjob *j,
                                  const fl_outcome *out, uint64_t run_us)
{
    char line[512];
    if (FL_LOG_DEBUG > c->log_level || (!c->io.log && !c->io.log_task))
        return;
    fl_core_task_log t = {
        .name = j->job.name, .owner = j->job.owner, .id = j->job.id,
        .attempt = j->job.attempt, .ok = out->ok, .run_us = run_us,
        .err_type = out->ok ? NULL
                    : out->err_type[0] ? out->err_type : "TaskError",
        .err_message = out->ok ? NULL : out->err_message,
    };
    snprintf(line, sizeof line, "task %s %s:%llu attempt %u %s in %.3f ms%s%s%s%s",
             t.name, t.owner, (unsigned long long)t.id, (unsigned)t.attempt,
             t.ok ? "succeeded" : "failed", (double)run_us / 1000.0,
             t.ok ? "" : ": ", t.ok ? "" : t.err_type,
             t.ok || !t.err_message ? "" : ": ",
             t.ok || !t.err_message ? "" : t.err_message);
    if (c->io.log_task)
        c->io.log_task(c->io.ud, FL_LOG_DEBUG, line, &t);
    else
        c->io.log(c->io.ud, FL_LOG_DEBUG, line);
}

void fl__obs_ended(fl_core *c, const fl_wjob *j, const fl_outcome *out,
                   uint64_t run_us, uint64_t now)
{
    fl_obs_task *t = task_entry(c, j->job.name);
    if (out->ok) {
        c->stats.succeeded++;
    } else {
        c->stats.failed++;
        c->stats.retryable += out->retryable;
    }
    c->stats.busy_us += run_us;
    if (t) {
        t->executed++;
        t->failed += !out->ok;
        t->busy_us += run_us;
    }
    log_task(c, j, out, run_us);
    if (!events_on(c, now))
        return;
    event_begin(c, out->ok ? "succeeded" : "failed", j->job.name, j->job.id,
                j->job.owner, j->job.attempt);
    fl__jw_u64(&c->obs.ev, "runtime_us", run_us);
    if (!out->ok)
        event_error(c, out->err_type, out->err_message, out->retryable);
    event_end(c, now);
}

void fl__obs_retried(fl_core *c, const fl_otask *t, const char *worker,
                     const char *err_type, const char *err_message,
                     uint64_t now)
{
    c->stats.retries++;
    if (!events_on(c, now))
        return;
    event_begin(c, "retried", t->name, t->id, c->id, t->attempts);
    fl__jw_str(&c->obs.ev, "worker", worker ? worker : "");
    event_error(c, err_type, err_message, true);
    event_end(c, now);
}

void fl__obs_revoked(fl_core *c, const fl_otask *t, const char *why,
                     uint64_t now)
{
    c->stats.revoked++;
    if (!events_on(c, now))
        return;
    event_begin(c, "revoked", t->name, t->id, c->id, t->attempts);
    fl__jw_str(&c->obs.ev, "reason", why ? why : "");
    event_end(c, now);
}

/* ------------------------------------------------------------- stats */

static void write_worker(fl_core *c, fl_jw *w, uint64_t now)
{
    const fl_core_stats *s = &c->stats;
    fl__jw_obj(w, "worker");
    fl__jw_u64(w, "executed", s->succeeded + s->failed);
    fl__jw_u64(w, "succeeded", s->succeeded);
    fl__jw_u64(w, "failed", s->failed);
    fl__jw_u64(w, "retried", s->retryable);
    fl__jw_u64(w, "busy_us", s->busy_us);
    fl__jw_u64(w, "queued", c->worker.queue.n);
    fl__jw_u64(w, "running", c->worker.running.n + c->worker.abandoned.n);
    fl__jw_end_obj(w);
    if (c->obs.tasks) {
        fl__jw_obj(w, "tasks");
        for (size_t i = 0; i < FL_STATS_TASKS && c->obs.tasks[i].name[0]; i++) {
            const fl_obs_task *t = &c->obs.tasks[i];
            fl__jw_obj(w, t->name);
            fl__jw_u64(w, "executed", t->executed);
            fl__jw_u64(w, "failed", t->failed);
            fl__jw_u64(w, "busy_us", t->busy_us);
            fl__jw_end_obj(w);
        }
        fl__jw_end_obj(w);
    }
    fl__jw_arr(w, "running");
    size_t n = 0;
    for (const fl_wjob *j = c->worker.running.head;
         j && n < FL_STATS_RUNNING; j = j->next, n++) {
        fl__jw_obj(w, NULL);
        fl__jw_str(w, "task", j->job.name);
        fl__jw_u64(w, "id", j->job.id);
        fl__jw_str(w, "owner", j->job.owner);
        fl__jw_u64(w, "ms", now > j->started ? (now - j->started) / 1000u : 0);
        fl__jw_end_obj(w);
    }
    fl__jw_end_arr(w);
}

static void write_owner(fl_core *c, fl_jw *w)
{
    const fl_core_stats *s = &c->stats;
    const fl_owner *o = &c->owner;
    fl__jw_obj(w, "owner");
    fl__jw_u64(w, "submitted", s->submitted);
    fl__jw_u64(w, "finished", s->finished);
    fl__jw_u64(w, "ready", o->nready + o->routed.n);
    fl__jw_u64(w, "delayed", o->heap_n);
    fl__jw_u64(w, "leased", o->leased.n);
    fl__jw_u64(w, "requeued", s->requeued + s->expired);
    fl__jw_u64(w, "retried", s->retries);
    fl__jw_u64(w, "revoked", s->revoked);
    fl__jw_u64(w, "not_holder", s->not_holder_dropped);
    fl__jw_end_obj(w);
}

static void publish_stats(fl_core *c, uint64_t now)
{
    fl_obs *o = &c->obs;
    fl_jw *w = &c->jw;
    uint64_t executed = c->stats.succeeded + c->stats.failed;
    uint64_t ts = c->io.wall_ms ? c->io.wall_ms(c->io.ud) : 0;
    char suffix[FL_MAX_ID_BUF + 16];

    fl__jw_begin_msg(w, FL_KIND_STATS, c->id, c->inc);
    if (ts)
        fl__jw_u64(w, "ts", ts);
    fl__jw_u64(w, "period_ms", FL_STATS_MS);
    fl__jw_u64(w, "uptime_ms", now > o->born ? (now - o->born) / 1000u : 0);
    fl__jw_u64(w, "slots", c->slots);
    fl__jw_bool(w, "events", events_on(c, now));
    fl__jw_u64(w, "bad_messages", c->stats.bad_messages);
    /* What the last period did, so that one message gives a rate. */
    fl__jw_obj(w, "last");
    fl__jw_u64(w, "ms", o->last_at && now > o->last_at
                            ? (now - o->last_at) / 1000u : 0);
    fl__jw_u64(w, "executed", executed - o->last_executed);
    fl__jw_u64(w, "failed", c->stats.failed - o->last_failed);
    fl__jw_u64(w, "busy_us", c->stats.busy_us - o->last_busy_us);
    fl__jw_end_obj(w);
    if (c->slots)
        write_worker(c, w, now);
    write_owner(c, w);
    snprintf(suffix, sizeof suffix, "node/%s/stats", c->id);
    /* Retained for nodes with slots, like their presence: the last one
     * says when a node that died was last alive. */
    fl__send_to(c, NULL, suffix, 0, c->slots > 0);
    o->last_at = now;
    o->last_executed = executed;
    o->last_failed = c->stats.failed;
    o->last_busy_us = c->stats.busy_us;
}

void fl__obs_connected(fl_core *c, uint64_t now)
{
    char filter[sizeof c->prefix + 32];
    if (!c->obs.born)
        c->obs.born = now ? now : 1;
    c->obs.next_stats = now; /* at once: a monitor sees a new node at once */
    c->obs.next_watch = now;
    if (c->obs.fn && c->io.subscribe) {
        snprintf(filter, sizeof filter, "%snode/+/stats", c->prefix);
        c->io.subscribe(c->io.ud, filter, 0);
        snprintf(filter, sizeof filter, "%snode/+/events", c->prefix);
        c->io.subscribe(c->io.ud, filter, 0);
    }
}

uint64_t fl__obs_tick(fl_core *c, uint64_t now)
{
    fl_obs *o = &c->obs;
    /* A client publishes stats only once it has owned something: a
     * `floret status` has nothing to say. */
    bool say = c->slots > 0 || c->stats.submitted > 0;
    if (now >= o->next_stats) {
        if (c->connected && say && !c->offline_sent)
            publish_stats(c, now);
        o->next_stats = now + FL_STATS_MS * 1000ull;
    }
    uint64_t next = o->next_stats;
    if (o->watch) {
        if (now >= o->next_watch) {
            if (c->connected)
                watch_all(c, FL_WATCH_TTL_MS);
            o->next_watch = now + FL_WATCH_TTL_MS * 1000ull / 3;
        }
        if (o->next_watch < next)
            next = o->next_watch;
    }
    return next;
}

/* ------------------------------------------------------------- monitor */

static bool member_is(const fl_value *msg, const char *key, const char *want)
{
    const fl_value *v = fl_value_get(msg, key);
    const char *s = fl_value_string(v, NULL);
    return s && strcmp(s, want) == 0;
}

void fl__obs_on_report(fl_core *c, const char *id, const char *kind,
                       const void *payload, size_t len, uint64_t now)
{
    fl_value *msg = NULL;
    const char *why = NULL;
    (void)now;
    if (!c->obs.fn || strcmp(id, c->id) == 0)
        return;
    fl_status st = fl__json_parse(payload, len, c->max_message, &msg, &why);
    if (st == FL_OK && fl_value_type(msg) != FL_TYPE_OBJECT)
        why = "not a JSON object";
    else if (st == FL_OK && fl_value_number(fl_value_get(msg, "v")) != 1)
        why = "v: expected 1";
    else if (st == FL_OK && !member_is(msg, "kind", kind))
        why = "kind: does not match the topic";
    else if (st == FL_OK && !member_is(msg, "from", id))
        why = "from: does not match the topic";
    else if (st != FL_OK && !why)
        why = fl_strerror(st);
    if (why) {
        c->stats.bad_messages++;
        fl__log(c, FL_LOG_WARN, "dropped %s message on node/%s/%s: %s", kind,
                id, kind, why);
    } else {
        c->obs.fn(c->obs.fn_ud, id, kind, msg);
    }
    fl_value_free(msg);
}
