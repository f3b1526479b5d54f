/*
 * test_observe.c - watching a node (docs/protocol.md 3.11), driven by hand:
 * a worker core fed hand-written leases, a monitor core, and the messages
 * each publishes captured by topic. Pins the stats period and contents,
 * events off by default, on while a watch lasts and off after it lapses,
 * events always on with the config flag, and the monitor's checks on what
 * it hands its observer.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "test.h"

#define MAXQ 256

typedef struct pub {
    char topic[160];
    char *data;
    size_t len;
    bool retain;
    int qos;
} pub;

typedef struct peer {
    fl_core *core;
    const char *id;
    pub q[MAXQ];
    int n;
    fl_job *job;
    int observed;
    char last_kind[16];
    char last_node[72];
    double last_executed;
} peer;

static void io_publish(void *ud, const char *topic, const void *payload,
                       size_t len, int qos, bool retain)
{
    peer *p = ud;
    if (p->n >= MAXQ)
        return;
    pub *m = &p->q[p->n++];
    snprintf(m->topic, sizeof m->topic, "%s", topic);
    m->data = malloc(len + 1);
    memcpy(m->data, payload, len);
    m->data[len] = '\0';
    m->len = len;
    m->retain = retain;
    m->qos = qos;
}

static void io_execute(void *ud, fl_job *job)
{
    peer *p = ud;
    p->job = job;
}

static void on_observe(void *ud, const char *node, const char *kind,
                       const fl_value *msg)
{
    peer *p = ud;
    p->observed++;
    snprintf(p->last_kind, sizeof p->last_kind, "%s", kind);
    snprintf(p->last_node, sizeof p->last_node, "%s", node);
    p->last_executed = fl_value_number(
        fl_value_get(fl_value_get(msg, "worker"), "executed"));
}

static void clear(peer *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->q[i].data);
    p->n = 0;
}

/* How many captured messages have topic ending in suffix. */
static int count(const peer *p, const char *suffix)
{
    int k = 0;
    size_t sl = strlen(suffix);
    for (int i = 0; i < p->n; i++) {
        size_t tl = strlen(p->q[i].topic);
        if (tl >= sl && strcmp(p->q[i].topic + tl - sl, suffix) == 0)
            k++;
    }
    return k;
}

static const pub *last(const peer *p, const char *suffix)
{
    size_t sl = strlen(suffix);
    for (int i = p->n - 1; i >= 0; i--) {
        size_t tl = strlen(p->q[i].topic);
        if (tl >= sl && strcmp(p->q[i].topic + tl - sl, suffix) == 0)
            return &p->q[i];
    }
    return NULL;
}

static fl_registry *reg;

static void make(peer *p, const char *id, uint32_t slots, bool events)
{
    memset(p, 0, sizeof *p);
    p->id = id;
    fl_core_config cfg = {.node_id = id, .incarnation = 77, .slots = slots,
                          .seed = 1, .registry = reg, .log_level = 0,
                          .events = events};
    fl_core_io io = {.ud = p, .publish = io_publish, .execute = io_execute};
    CHECK_EQ(fl_core_new(&cfg, &io, &p->core), FL_OK);
}

static void done(peer *p)
{
    clear(p);
    fl_core_free(p->core);
}

/* Lease task id to w from owner "o" and finish it ok (or failed). */
static void run_task(peer *w, uint64_t id, bool ok, uint64_t now)
{
    char lease[256];
    snprintf(lease, sizeof lease,
             "{\"v\":1,\"kind\":\"lease\",\"from\":\"o\",\"inc\":5,\"fid\":1,"
             "\"ttl_ms\":30000,\"tasks\":[{\"id\":%llu,\"name\":\"add\","
             "\"args\":[1,2],\"attempt\":1}]}", (unsigned long long)id);
    w->job = NULL;
    fl_core_input(w->core, "floret/v1/default/node/w/in", lease,
                  strlen(lease), now);
    CHECK(w->job != NULL);
    if (!w->job)
        return;
    fl_outcome out;
    memset(&out, 0, sizeof out);
    out.ok = ok;
    out.run_us = 40;
    if (!ok) {
        snprintf(out.err_type, sizeof out.err_type, "TaskError");
        out.err_message = fl_malloc(9);
        if (out.err_message)
            memcpy(out.err_message, "it broke", 9);
    }
    fl_core_job_done(w->core, w->job, &out, now);
    fl_outcome_clear(&out);
    fl_core_flush(w->core, now);
}

static const char *presence(const char *id)
{
    static char buf[256];
    snprintf(buf, sizeof buf,
             "{\"v\":1,\"kind\":\"presence\",\"from\":\"%s\",\"inc\":77,"
             "\"state\":\"online\",\"slots\":2}", id);
    return buf;
}

static void test_stats_every_period(void)
{
    peer w;
    make(&w, "w", 2, false);
    fl_core_connected(w.core, 1000);
    fl_core_tick(w.core, 1000);
    CHECK_EQ(count(&w, "/node/w/stats"), 1);
    run_task(&w, 1, true, 2000);
    run_task(&w, 2, false, 3000);
    fl_core_tick(w.core, 1000 + FL_STATS_MS * 1000ull - 1);
    CHECK_EQ(count(&w, "/node/w/stats"), 1);
    uint64_t next = fl_core_tick(w.core, 1000 + FL_STATS_MS * 1000ull);
    CHECK_EQ(count(&w, "/node/w/stats"), 2);
    CHECK(next <= 1000 + 2 * FL_STATS_MS * 1000ull);
    const pub *s = last(&w, "/node/w/stats");
    CHECK(s && s->retain);
    CHECK(s && s->qos == 0);
    CHECK(s && strstr(s->data, "\"executed\":2,\"succeeded\":1,\"failed\":1"));
    CHECK(s && strstr(s->data, "\"tasks\":{\"add\":{\"executed\":2,\"failed\":1,"
                               "\"busy_us\":80}}"));
    CHECK(s && strstr(s->data, "\"last\":{\"ms\":2000,\"executed\":2,\"failed\":1,"
                               "\"busy_us\":80}"));
    CHECK(s && strstr(s->data, "\"events\":false"));
    /* Events are off: no message per task. */
    CHECK_EQ(count(&w, "/node/w/events"), 0);
    fl_core_stats st;
    fl_core_stats_get(w.core, &st);
    CHECK_EQ(st.succeeded, 1);
    CHECK_EQ(st.failed, 1);
    CHECK_EQ(st.busy_us, 80);
    done(&w);
}

static void test_client_stats_only_after_submitting(void)
{
    peer c;
    make(&c, "c", 0, false);
    fl_core_connected(c.core, 1000);
    fl_core_tick(c.core, 1000);
    fl_core_tick(c.core, 1000 + FL_STATS_MS * 1000ull);
    CHECK_EQ(count(&c, "/node/c/stats"), 0);
    fl_submit s = {.name = "add"};
    uint64_t id;
    CHECK_EQ(fl_core_submit(c.core, &s, 5000000, &id), FL_OK);
    fl_core_tick(c.core, 1000 + 2 * FL_STATS_MS * 1000ull);
    CHECK_EQ(count(&c, "/node/c/stats"), 1);
    const pub *p = last(&c, "/node/c/stats");
    CHECK(p && !p->retain);
    CHECK(p && strstr(p->data, "\"owner\":{\"submitted\":1,\"finished\":0,\"ready\":1"));
    done(&c);
}

static void test_watch_turns_events_on_then_lapses(void)
{
    peer w, m;
    make(&w, "w", 2, false);
    make(&m, "m", 0, false);
    fl_core_set_observer(m.core, on_observe, &m);
    fl_core_watch_events(m.core, true, 0);
    fl_core_connected(w.core, 1000);
    fl_core_connected(m.core, 1000);
    /* The monitor learns of w from its presence and asks it at once. */
    const char *pr = presence("w");
    fl_core_input(m.core, "floret/v1/default/node/w", pr, strlen(pr), 1000);
    CHECK_EQ(count(&m, "/node/w/in"), 1);
    const pub *wa = last(&m, "/node/w/in");
    CHECK(wa && strstr(wa->data, "\"kind\":\"watch\"") &&
          strstr(wa->data, "\"ttl_ms\":30000"));
    if (!wa)
        goto out;
    fl_core_input(w.core, wa->topic, wa->data, wa->len, 1000);
    run_task(&w, 1, true, 2000);
    CHECK_EQ(count(&w, "/node/w/events"), 1);
    const pub *e = last(&w, "/node/w/events");
    CHECK(e && strstr(e->data, "{\"type\":\"received\",\"task\":\"add\",\"id\":1,"
                               "\"owner\":\"o\",\"attempt\":1}"));
    CHECK(e && strstr(e->data, "\"type\":\"started\""));
    CHECK(e && strstr(e->data, "\"type\":\"succeeded\",\"task\":\"add\",\"id\":1,"
                               "\"owner\":\"o\",\"attempt\":1,\"runtime_us\":40}"));
    CHECK(e && !e->retain && e->qos == 0);
    run_task(&w, 2, false, 3000);
    e = last(&w, "/node/w/events");
    CHECK(e && strstr(e->data, "\"type\":\"failed\"") &&
          strstr(e->data, "\"error\":{\"type\":\"TaskError\",\"message\":\"it broke\","
                          "\"retryable\":false}"));
    /* The monitor hands w's stats to its observer. */
    fl_core_tick(w.core, 1000 + FL_STATS_MS * 1000ull);
    const pub *s = last(&w, "/node/w/stats");
    CHECK(s != NULL);
    if (s)
        fl_core_input(m.core, s->topic, s->data, s->len, 5000000);
    CHECK_EQ(m.observed, 1);
    CHECK_STR(m.last_kind, "stats");
    CHECK_STR(m.last_node, "w");
    CHECK(m.last_executed == 2);
    /* A stats message claiming another sender is dropped and counted. */
    if (s)
        fl_core_input(m.core, "floret/v1/default/node/x/stats", s->data,
                      s->len, 5000000);
    CHECK_EQ(m.observed, 1);
    fl_core_stats mst;
    fl_core_stats_get(m.core, &mst);
    CHECK_EQ(mst.bad_messages, 1);
    /* The monitor renews its watch every third of the ttl. */
    int before = count(&m, "/node/w/in");
    fl_core_tick(m.core, 1000);
    fl_core_tick(m.core, 1000 + FL_WATCH_TTL_MS * 1000ull / 3 + 1);
    CHECK(count(&m, "/node/w/in") > before);
    /* With no renewal, w's events stop once the ttl has passed. */
    clear(&w);
    run_task(&w, 3, true, 1000 + FL_WATCH_TTL_MS * 1000ull + 1);
    CHECK_EQ(count(&w, "/node/w/events"), 0);
    fl_core_tick(w.core, 1000 + FL_WATCH_TTL_MS * 1000ull + 2);
    s = last(&w, "/node/w/stats");
    CHECK(s && strstr(s->data, "\"events\":false"));
out:
    done(&w);
    done(&m);
}

static void test_events_always_and_bad_watch(void)
{
    peer w;
    make(&w, "w", 1, true);
    fl_core_connected(w.core, 1000);
    run_task(&w, 1, true, 2000);
    CHECK_EQ(count(&w, "/node/w/events"), 1);
    /* A watch of 0 ms does not turn off what the config turned on. */
    const char *off = "{\"v\":1,\"kind\":\"watch\",\"from\":\"m\",\"ttl_ms\":0}";
    fl_core_input(w.core, "floret/v1/default/node/w/in", off, strlen(off), 3000);
    run_task(&w, 2, true, 4000);
    CHECK_EQ(count(&w, "/node/w/events"), 2);
    /* Over the limit: an error reply naming the field. */
    const char *big = "{\"v\":1,\"kind\":\"watch\",\"from\":\"m\",\"ttl_ms\":600001}";
    fl_core_input(w.core, "floret/v1/default/node/w/in", big, strlen(big), 5000);
    const pub *err = last(&w, "/node/m/in");
    CHECK(err && strstr(err->data, "\"kind\":\"error\"") &&
          strstr(err->data, "ttl_ms"));
    done(&w);
}

int main(void)
{
    reg = fl_registry_new();
    fl_register_builtins(reg);
    RUN(test_stats_every_period);
    RUN(test_client_stats_only_after_submitting);
    RUN(test_watch_turns_events_on_then_lapses);
    RUN(test_events_always_and_bad_watch);
    fl_registry_free(reg);
    return TEST_DONE();
}
