/*
 * selftest.c - checks of the simulator's own machinery, so a green sweep
 * means the protocol held and not that the harness looked away: topic
 * filters, the order of the clock, and the broker's retained messages,
 * wills, loss and duplication.
 * Depends on broker.h, events.h, sim.h and the C standard library.
 */
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "events.h"
#include "sim.h"

#define EXPECT(cond, ...)                                                  \
    do {                                                                   \
        if (!(cond)) {                                                     \
            snprintf(why, whylen, __VA_ARGS__);                            \
            return false;                                                  \
        }                                                                  \
    } while (0)

static bool topics(char *why, size_t whylen)
{
    static const struct {
        const char *filter, *topic;
        bool match;
    } cases[] = {
        {"a/b", "a/b", true},           {"a/b", "a/c", false},
        {"a/+", "a/b", true},           {"a/+", "a/b/c", false},
        {"a/+/c", "a/b/c", true},       {"+/+", "a/b", true},
        {"a/#", "a", true},             {"a/#", "a/b/c", true},
        {"#", "a/b", true},             {"#", "$SYS/x", false},
        {"+/x", "$SYS/x", false},       {"a/b", "a/b/c", false},
        {"a/b/c", "a/b", false},        {"floret/v1/sim/node/+",
                                         "floret/v1/sim/node/w1", true},
        {"floret/v1/sim/node/+", "floret/v1/sim/node/w1/in", false},
        {"a//b", "a//b", true},         {"a/+/b", "a//b", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        EXPECT(sim_topic_match(cases[i].filter, cases[i].topic) ==
                   cases[i].match,
               "filter %s vs topic %s: expected %s", cases[i].filter,
               cases[i].topic, cases[i].match ? "match" : "no match");
    return true;
}

static bool clock_order(char *why, size_t whylen)
{
    sim_events q;
    sim_event e;
    sim_events_init(&q);
    static const uint64_t times[] = {50, 10, 30, 10, 20, 10, 40};
    for (size_t i = 0; i < sizeof times / sizeof *times; i++)
        sim_events_push(&q, times[i], 0, (int)i, 0, NULL);
    uint64_t last_t = 0;
    int last_node = -1;
    size_t popped = 0;
    while (sim_events_pop(&q, &e)) {
        popped++;
        bool ordered = e.time > last_t ||
                       (e.time == last_t && e.node > last_node);
        if (!ordered || q.now != e.time) {
            sim_events_free(&q);
            snprintf(why, whylen, "clock: event %d at %llu out of order",
                     e.node, (unsigned long long)e.time);
            return false;
        }
        last_t = e.time;
        last_node = e.node;
    }
    sim_events_free(&q);
    EXPECT(popped == 7, "clock: popped %zu of 7 events", popped);
    return true;
}

/* Deliver everything due; count what session s received on topic. */
static int drain(sim_broker *b, sim_events *q, int s, const char *topic)
{
    sim_event e;
    int got = 0;
    while (sim_events_pop(q, &e)) {
        if (e.type != SIM_EV_DELIVER) {
            if (e.type == SIM_EV_WILL)
                sim_broker_will_timeout(b, e.node, e.gen, e.time);
            continue;
        }
        sim_msg *m = sim_broker_pop(b, e.node, e.gen, e.time);
        if (m && e.node == s && !strcmp(m->topic, topic))
            got++;
        sim_msg_unref(m);
    }
    return got;
}

static bool broker(char *why, size_t whylen)
{
    sim_events q;
    fl_rng rng = {42};
    sim_faults f = {0, 0, 0, 10, 100, 1000};
    sim_events_init(&q);
    sim_broker *b = sim_broker_new(&q, &rng, &f, 2);
    bool ok = false;
    if (!b)
        goto out;
    sim_broker_connect(b, 0, "p/a", "offline", 7, 0);
    sim_broker_connect(b, 1, NULL, NULL, 0, 0);
    sim_broker_publish(b, 0, "p/a", "online", 6, true, 0);
    sim_broker_subscribe(b, 1, "p/+", 0);
    if (drain(b, &q, 1, "p/a") != 1) {
        snprintf(why, whylen, "broker: retained message not delivered");
        goto out;
    }
    sim_broker_disconnect(b, 0, SIM_WILL_NOW, 0, q.now);
    if (drain(b, &q, 1, "p/a") != 1) {
        snprintf(why, whylen, "broker: will not published on a reset");
        goto out;
    }
    sim_broker_connect(b, 0, "p/a", "offline", 7, q.now);
    sim_broker_disconnect(b, 0, SIM_WILL_NONE, 0, q.now);
    if (drain(b, &q, 1, "p/a") != 0) {
        snprintf(why, whylen, "broker: will published on a clean stop");
        goto out;
    }
    sim_broker_connect(b, 0, "p/a", "offline", 7, q.now);
    sim_broker_disconnect(b, 0, SIM_WILL_LATER, 1000, q.now);
    if (drain(b, &q, 1, "p/a") != 1) {
        snprintf(why, whylen, "broker: will not published at keep-alive");
        goto out;
    }
    f.dup = 1;
    sim_broker_publish(b, -1, "p/b", "x", 1, false, q.now);
    if (drain(b, &q, 1, "p/b") != 2) {
        snprintf(why, whylen, "broker: duplication did not duplicate");
        goto out;
    }
    f.dup = 0;
    f.loss = 0.999999;
    sim_broker_publish(b, -1, "p/b", "x", 1, false, q.now);
    if (drain(b, &q, 1, "p/b") != 0) {
        snprintf(why, whylen, "broker: loss did not lose");
        goto out;
    }
    ok = true;
out:
    sim_broker_free(b);
    sim_events_free(&q);
    return ok;
}

bool sim_selftest(char *why, size_t whylen)
{
    return topics(why, whylen) && clock_order(why, whylen) &&
           broker(why, whylen);
}
