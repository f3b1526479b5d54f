/*
 * broker.h - an in-memory MQTT broker for the simulator: one session per
 * node, subscriptions with + and # filters, retained messages, last wills
 * (published on an unclean disconnect, at once or when the keep-alive
 * runs out; discarded on a clean one), and a per-session delivery queue in
 * which the network faults (loss, duplication, delay, reordering) happen.
 * Delivery is driven by SIM_EV_DELIVER events on the virtual clock.
 * Depends on events.h, sim.h and src/core/rng.h.
 */
#ifndef SIM_BROKER_H
#define SIM_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "rng.h"
#include "sim.h"

/* A published message, shared by the queues it sits in. */
typedef struct sim_msg {
    int refs;
    char *topic;
    unsigned char *payload;
    size_t len;
} sim_msg;

void sim_msg_unref(sim_msg *m);

typedef struct sim_broker sim_broker;

typedef enum sim_will_mode {
    SIM_WILL_NONE,  /* clean disconnect: the will is discarded */
    SIM_WILL_NOW,   /* connection reset: the will goes out at once */
    SIM_WILL_LATER  /* silent: the will goes out when keep-alive runs out */
} sim_will_mode;

typedef struct sim_broker_stats {
    uint64_t published, delivered, lost, duplicated, reordered;
    uint64_t dropped_offline; /* published by a node that was not connected */
    uint64_t wills;
    uint64_t restarts;
} sim_broker_stats;

sim_broker *sim_broker_new(sim_events *ev, fl_rng *rng, const sim_faults *f,
                           int sessions);
void sim_broker_free(sim_broker *b);

/* Session s connects with a will (copied; may be NULL). If the previous
 * connection's will was still waiting for its keep-alive, a takeover
 * publishes it first, as a real broker does. */
void sim_broker_connect(sim_broker *b, int s, const char *will_topic,
                        const void *will, size_t will_len, uint64_t now);

/* Session s loses its connection: its subscriptions and queued deliveries
 * go; the will is handled per mode (keepalive: delay for SIM_WILL_LATER). */
void sim_broker_disconnect(sim_broker *b, int s, sim_will_mode mode,
                           uint64_t keepalive, uint64_t now);

/* The broker process dies and comes back empty, as a Mosquitto without
 * persistence does: every connection drops without its will (a dead
 * broker publishes none, and the new one never heard of them), every
 * queued delivery and every retained message is gone. */
void sim_broker_restart(sim_broker *b, uint64_t now);

bool sim_broker_connected(const sim_broker *b, int s);
uint64_t sim_broker_epoch(const sim_broker *b, int s);

/* Subscribe session s to filter; matching retained messages are queued. */
void sim_broker_subscribe(sim_broker *b, int s, const char *filter,
                          uint64_t now);

/* Publish from session from (-1: the broker itself). Empty retained
 * payload clears the topic's retained message. */
void sim_broker_publish(sim_broker *b, int from, const char *topic,
                        const void *payload, size_t len, bool retain,
                        uint64_t now);

/* A SIM_EV_DELIVER event for (s, epoch) fired: the message now due, or
 * NULL when the event is stale. The caller unrefs it. */
sim_msg *sim_broker_pop(sim_broker *b, int s, uint64_t epoch, uint64_t now);

/* A SIM_EV_WILL event for (s, epoch) fired. */
void sim_broker_will_timeout(sim_broker *b, int s, uint64_t epoch,
                             uint64_t now);

void sim_broker_stats_get(const sim_broker *b, sim_broker_stats *st);

/* MQTT topic filter matching (+ one level, # the rest, incl. the parent). */
bool sim_topic_match(const char *filter, const char *topic);

#endif
