/*
 * test_core_ctl.c - the core's two hooks for hot-deployed tasks: control
 * messages on `ctl` and `ctl/<module>` go to the driver undecoded (and only
 * nodes with slots subscribe), and the tasks and module versions the driver
 * adds appear in presence at once, where other cores read them back into
 * fl_peer. Driven by hand with a recording fl_core_io.
 * Depends on core.h and test.h.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "test.h"

typedef struct rec {
    char subs[8][128];
    int nsubs;
    char last_topic[128];
    char last_payload[4096];
    size_t last_len;
    int ctl_calls;
    char ctl_rest[128];
    char ctl_payload[64];
} rec;

static void io_publish(void *ud, const char *topic, const void *payload,
                       size_t len, int qos, bool retain)
{
    rec *r = ud;
    (void)qos;
    (void)retain;
    snprintf(r->last_topic, sizeof r->last_topic, "%s", topic);
    r->last_len = len < sizeof r->last_payload - 1 ? len : sizeof r->last_payload - 1;
    memcpy(r->last_payload, payload, r->last_len);
    r->last_payload[r->last_len] = '\0';
}

static void io_subscribe(void *ud, const char *filter, int qos)
{
    rec *r = ud;
    (void)qos;
    if (r->nsubs < 8)
        snprintf(r->subs[r->nsubs++], sizeof r->subs[0], "%s", filter);
}

static void io_execute(void *ud, fl_job *job)
{
    (void)ud;
    (void)job;
}

static void noop_task(fl_task_ctx *ctx, void *ud)
{
    (void)ctx;
    (void)ud;
}

static void on_ctl(void *ud, const char *rest, const void *payload, size_t len)
{
    rec *r = ud;
    r->ctl_calls++;
    snprintf(r->ctl_rest, sizeof r->ctl_rest, "%s", rest);
    snprintf(r->ctl_payload, sizeof r->ctl_payload, "%.*s", (int)len,
             (const char *)payload);
}

static fl_core *make(rec *r, const char *id, uint32_t slots, fl_registry *reg)
{
    fl_core_io io;
    fl_core_config cfg;
    fl_core *c = NULL;
    memset(&io, 0, sizeof io);
    io.ud = r;
    io.publish = io_publish;
    io.subscribe = io_subscribe;
    io.execute = io_execute;
    memset(&cfg, 0, sizeof cfg);
    cfg.node_id = id;
    cfg.incarnation = 7;
    cfg.slots = slots;
    cfg.registry = reg;
    cfg.log_level = -1;
    CHECK_EQ(fl_core_new(&cfg, &io, &c), FL_OK);
    return c;
}

static bool subscribed(const rec *r, const char *filter)
{
    for (int i = 0; i < r->nsubs; i++)
        if (strcmp(r->subs[i], filter) == 0)
            return true;
    return false;
}

static void test_ctl_goes_to_the_driver(void)
{
    rec w, cl;
    memset(&w, 0, sizeof w);
    memset(&cl, 0, sizeof cl);
    fl_core *worker = make(&w, "w1", 2, NULL);
    fl_core *client = make(&cl, "c1", 0, NULL);
    fl_core_set_ctl(worker, on_ctl, &w);
    fl_core_set_ctl(client, on_ctl, &cl);
    fl_core_connected(worker, 1);
    fl_core_connected(client, 1);
    CHECK(subscribed(&w, "floret/v1/default/ctl"));
    CHECK(subscribed(&w, "floret/v1/default/ctl/+"));
    CHECK(!subscribed(&cl, "floret/v1/default/ctl/+"));

    fl_core_input(worker, "floret/v1/default/ctl/m", "anything\0bytes", 14, 2);
    CHECK_EQ(w.ctl_calls, 1);
    CHECK_STR(w.ctl_rest, "ctl/m");
    CHECK_STR(w.ctl_payload, "anything");
    fl_core_input(worker, "floret/v1/default/ctl", "{}", 2, 2);
    CHECK_EQ(w.ctl_calls, 2);
    CHECK_STR(w.ctl_rest, "ctl");
    /* Not control: other clusters, look-alike topics, clients. */
    fl_core_input(worker, "floret/v1/other/ctl/m", "{}", 2, 3);
    fl_core_input(worker, "floret/v1/default/ctlx", "{}", 2, 3);
    fl_core_input(client, "floret/v1/default/ctl/m", "{}", 2, 3);
    CHECK_EQ(w.ctl_calls, 2);
    CHECK_EQ(cl.ctl_calls, 0);
    fl_core_free(worker);
    fl_core_free(client);
}

static void test_extra_tasks_in_presence(void)
{
    rec w, cl;
    memset(&w, 0, sizeof w);
    memset(&cl, 0, sizeof cl);
    fl_registry *reg = fl_registry_new();
    CHECK_EQ(fl_registry_add(reg, "native", noop_task, NULL), FL_OK);
    fl_core *worker = make(&w, "w1", 2, reg);
    fl_core *client = make(&cl, "c1", 0, NULL);
    fl_core_connected(worker, 1);
    fl_core_connected(client, 1);
    CHECK(!strstr(w.last_payload, "modules"));

    CHECK_EQ(fl_core_set_extra_tasks(worker, "m.f,m.g", "m@0123abcd", 2), FL_OK);
    CHECK_STR(w.last_topic, "floret/v1/default/node/w1");
    CHECK(strstr(w.last_payload, "\"tasks\":[\"native\",\"m.f\",\"m.g\"]") != NULL);
    CHECK(strstr(w.last_payload, "\"modules\":[\"m@0123abcd\"]") != NULL);

    fl_core_input(client, w.last_topic, w.last_payload, w.last_len, 3);
    fl_peer peers[4];
    size_t n = fl_core_peers(client, peers, 4);
    CHECK_EQ(n, 1);
    CHECK_STR(peers[0].modules, "m@0123abcd");
    CHECK_STR(peers[0].tasks, "native,m.f,m.g");

    CHECK_EQ(fl_core_set_extra_tasks(worker, "bad name", NULL, 4), FL_EINVAL);
    CHECK_EQ(fl_core_set_extra_tasks(worker, NULL, "m@v,,x@y", 4), FL_EINVAL);
    CHECK_EQ(fl_core_set_extra_tasks(worker, NULL, NULL, 4), FL_OK);
    CHECK(!strstr(w.last_payload, "modules"));
    CHECK(strstr(w.last_payload, "\"tasks\":[\"native\"]") != NULL);
    fl_core_input(client, w.last_topic, w.last_payload, w.last_len, 5);
    n = fl_core_peers(client, peers, 4);
    CHECK_STR(peers[0].modules, "");
    fl_core_free(worker);
    fl_core_free(client);
    fl_registry_free(reg);
}

/* A client (no slots) that goes offline is forgotten; a worker that goes
 * offline is kept, marked offline. */
static void test_departed_clients_forgotten(void)
{
    fl_registry *reg = fl_registry_new();
    CHECK_EQ(fl_registry_add(reg, "native", noop_task, NULL), FL_OK);
    rec rw = {0}, rc = {0}, ro = {0};
    fl_core *worker = make(&rw, "w1", 1, reg);
    fl_core *client = make(&rc, "c1", 0, reg);
    fl_core *obs = make(&ro, "o1", 1, reg);
    fl_peer peers[4];
    const char *topic;
    const void *will;
    size_t len;

    fl_core_connected(client, 1);
    fl_core_input(obs, rc.last_topic, rc.last_payload, rc.last_len, 2);
    CHECK_EQ(fl_core_peers(obs, peers, 4), 1);
    fl_core_will(client, &topic, &will, &len);
    fl_core_input(obs, topic, will, len, 3);
    CHECK_EQ(fl_core_peers(obs, peers, 4), 0);

    fl_core_connected(worker, 4);
    fl_core_input(obs, rw.last_topic, rw.last_payload, rw.last_len, 5);
    fl_core_will(worker, &topic, &will, &len);
    fl_core_input(obs, topic, will, len, 6);
    CHECK_EQ(fl_core_peers(obs, peers, 4), 1);
    CHECK_STR(peers[0].id, "w1");
    CHECK(!peers[0].online);
    fl_core_free(worker);
    fl_core_free(client);
    fl_core_free(obs);
    fl_registry_free(reg);
}

int main(void)
{
    RUN(test_ctl_goes_to_the_driver);
    RUN(test_extra_tasks_in_presence);
    RUN(test_departed_clients_forgotten);
    return TEST_DONE();
}
