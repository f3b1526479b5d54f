/*
 * link.h - the firmware's one MQTT connection, over lwIP's MQTT client:
 * connect with the node's last will, reconnect with backoff after a loss,
 * subscribe and publish (queued in order while lwIP's output ring or its
 * request slots are full), and incoming messages reassembled from lwIP's
 * fragments into one buffer of the largest accepted size; a bigger one is
 * skipped and counted, never half-delivered.
 * Depends on lwIP (mqtt.h) and the C library.
 */
#ifndef FL_LINK_H
#define FL_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/apps/mqtt.h"
#include "lwip/apps/mqtt_priv.h"
#include "lwip/ip_addr.h"

typedef struct fl_link_cb {
    void *ud;
    void (*up)(void *ud);      /* connected (CONNACK accepted) */
    void (*down)(void *ud);    /* a connection that was up is gone */
    /* One whole message; payload valid during the call. */
    void (*message)(void *ud, const char *topic, const uint8_t *payload,
                    size_t len);
    void (*log)(void *ud, int level, const char *line);
} fl_link_cb;

typedef struct fl_link_config {
    const char *client_id;
    ip_addr_t broker;
    uint16_t port;
    const char *user, *pass;       /* NULL = none */
    const char *will_topic;
    const void *will;              /* JSON text, at most 255 bytes */
    size_t will_len;
    bool will_retain;
    uint16_t keep_alive_s;
    size_t max_message;            /* largest payload accepted */
    size_t outbox_max;             /* bytes queued at most while lwIP is full */
} fl_link_config;

typedef struct fl_link_item fl_link_item;

typedef struct fl_link_stats {
    uint32_t connects, losses;
    uint32_t too_big;        /* incoming messages over max_message, skipped */
    uint32_t dropped;        /* outgoing messages the outbox had no room for */
    uint32_t received, sent;
} fl_link_stats;

typedef struct fl_link {
    mqtt_client_t client;
    struct mqtt_connect_client_info_t info;
    fl_link_config cfg;
    fl_link_cb cb;
    char will[256];
    enum { FL_LINK_DOWN, FL_LINK_CONNECTING, FL_LINK_UP } state;
    uint64_t next_try_ms;
    bool retry_pending;
    uint32_t backoff_ms;
    uint32_t jitter;
    /* Incoming message being reassembled. */
    char topic[192];
    uint8_t *rx;
    size_t rx_len, rx_want;
    bool rx_skip;
    /* Outgoing items lwIP had no room for, in order. */
    fl_link_item *head, *tail;
    size_t queued_bytes;
    fl_link_stats stats;
} fl_link;

/* Set the link up (not connected yet: fl__link_poll connects). The will
 * and ids are copied. Returns false when the will is too long for lwIP's
 * client or the receive buffer cannot be had. */
bool fl__link_init(fl_link *l, const fl_link_config *cfg,
                   const fl_link_cb *cb, uint32_t seed);

/* Connect when due, and send what waits. Call every turn. */
void fl__link_poll(fl_link *l, uint64_t now_ms, bool net_up);

bool fl__link_up(const fl_link *l);

/* Publish (or queue, in order); a message with no room is dropped,
 * counted and logged. */
void fl__link_publish(fl_link *l, const char *topic, const void *payload,
                      size_t len, int qos, bool retain);

void fl__link_subscribe(fl_link *l, const char *filter, int qos);

#endif
