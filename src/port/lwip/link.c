/*
 * link.c - the MQTT connection of link.h over lwIP's MQTT client (raw
 * API, NO_SYS). lwIP calls back from its TCP input: the connection
 * callback, the start of an incoming publish (topic, total length) and
 * its payload in pieces of at most MQTT_VAR_HEADER_BUFFER_LEN bytes.
 * Publishes from floret go straight into lwIP's output ring when it has
 * room and wait here, in order, when it has not.
 * Depends on link.h, alloc.h (the core's allocator: the arena), lwIP and
 * the C library.
 */
#include "link.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "floret/floret.h"

#define BACKOFF_MIN_MS 250u
#define BACKOFF_MAX_MS 8000u

struct fl_link_item {
    fl_link_item *next;
    bool subscribe;
    uint8_t qos;
    bool retain;
    size_t topic_len;    /* topic at data[0..topic_len), NUL after it */
    size_t len;          /* payload after the topic's NUL */
    char data[];
};

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void logf_(fl_link *l, int level, const char *fmt, ...)
{
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (l->cb.log)
        l->cb.log(l->cb.ud, level, line);
}

/* ------------------------------------------------------------ incoming */

static void on_publish(void *arg, const char *topic, u32_t tot_len)
{
    fl_link *l = arg;
    size_t tl = strlen(topic);
    l->rx_len = 0;
    l->rx_want = tot_len;
    l->rx_skip = false;
    if (tl >= sizeof l->topic) {
        logf_(l, FL_LOG_WARN, "dropped message: topic of %u bytes is too long",
              (unsigned)tl);
        l->rx_skip = true;
        l->topic[0] = '\0';
        return;
    }
    memcpy(l->topic, topic, tl + 1);
    if (tot_len > l->cfg.max_message) {
        l->stats.too_big++;
        logf_(l, FL_LOG_WARN, "dropped message on %.160s: %lu bytes is over "
              "the limit of %lu", l->topic, (unsigned long)tot_len,
              (unsigned long)l->cfg.max_message);
        l->rx_skip = true;
    }
}

static void on_data(void *arg, const u8_t *data, u16_t len, u8_t flags)
{
    fl_link *l = arg;
    if (!l->rx_skip) {
        if (l->rx_len + len > l->cfg.max_message) {
            /* More than the publish announced: never trust the count. */
            l->rx_skip = true;
            l->stats.too_big++;
        } else {
            memcpy(l->rx + l->rx_len, data, len);
            l->rx_len += len;
        }
    }
    if (!(flags & MQTT_DATA_FLAG_LAST))
        return;
    if (!l->rx_skip && l->topic[0]) {
        l->stats.received++;
        l->cb.message(l->cb.ud, l->topic, l->rx, l->rx_len);
    }
    l->rx_len = 0;
    l->rx_skip = false;
}

/* ------------------------------------------------------------ outgoing */

static void drain(fl_link *l);

static void on_request_done(void *arg, err_t err)
{
    (void)err;
    drain(arg);
}

/* Hand one item to lwIP: ERR_OK, ERR_MEM (no room yet) or another error
 * (it can never go). */
static err_t try_send(fl_link *l, bool subscribe, const char *topic,
                      const void *payload, size_t len, int qos, bool retain)
{
    if (l->state != FL_LINK_UP)
        return ERR_MEM;
    if (subscribe)
        return mqtt_subscribe(&l->client, topic, (u8_t)qos, on_request_done, l);
    if (len > 0xffffu)
        return ERR_ARG;
    err_t e = mqtt_publish(&l->client, topic, payload, (u16_t)len, (u8_t)qos,
                           retain ? 1 : 0, on_request_done, l);
    if (e == ERR_OK)
        l->stats.sent++;
    return e;
}

static void drain(fl_link *l)
{
    while (l->head) {
        fl_link_item *it = l->head;
        err_t e = try_send(l, it->subscribe, it->data,
                           it->data + it->topic_len + 1, it->len, it->qos,
                           it->retain);
        if (e == ERR_MEM)
            return;
        if (e != ERR_OK) {
            l->stats.dropped++;
            logf_(l, FL_LOG_ERROR, "could not send on %.160s (lwIP error %d)",
                  it->data, (int)e);
        }
        l->head = it->next;
        if (!l->head)
            l->tail = NULL;
        l->queued_bytes -= it->topic_len + it->len;
        fl__free(it);
    }
}

static void enqueue(fl_link *l, bool subscribe, const char *topic,
                    const void *payload, size_t len, int qos, bool retain)
{
    size_t tl = strlen(topic);
    fl_link_item *it = NULL;
    if (l->queued_bytes + tl + len <= l->cfg.outbox_max)
        it = fl__malloc(sizeof *it + tl + 1 + len);
    if (!it) {
        l->stats.dropped++;
        logf_(l, FL_LOG_WARN, "outbox full: dropped %lu bytes for %.160s",
              (unsigned long)len, topic);
        return;
    }
    it->next = NULL;
    it->subscribe = subscribe;
    it->qos = (uint8_t)qos;
    it->retain = retain;
    it->topic_len = tl;
    it->len = len;
    memcpy(it->data, topic, tl + 1);
    if (len)
        memcpy(it->data + tl + 1, payload, len);
    if (l->tail)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
    l->queued_bytes += tl + len;
}

static void send_or_queue(fl_link *l, bool subscribe, const char *topic,
                          const void *payload, size_t len, int qos,
                          bool retain)
{
    if (!l->head) {
        err_t e = try_send(l, subscribe, topic, payload, len, qos, retain);
        if (e == ERR_OK)
            return;
        if (e != ERR_MEM) {
            l->stats.dropped++;
            logf_(l, FL_LOG_ERROR, "could not send on %.160s (lwIP error %d)",
                  topic, (int)e);
            return;
        }
    }
    enqueue(l, subscribe, topic, payload, len, qos, retain);
}

void fl__link_publish(fl_link *l, const char *topic, const void *payload,
                      size_t len, int qos, bool retain)
{
    send_or_queue(l, false, topic, payload, len, qos, retain);
}

void fl__link_subscribe(fl_link *l, const char *filter, int qos)
{
    send_or_queue(l, true, filter, NULL, 0, qos, false);
}

/* Subscriptions are made again on every connection: queued ones from a
 * lost connection are dropped, publishes are kept for the next one. */
static void drop_queued_subscribes(fl_link *l)
{
    fl_link_item **pp = &l->head, *last = NULL;
    while (*pp) {
        fl_link_item *it = *pp;
        if (it->subscribe) {
            *pp = it->next;
            l->queued_bytes -= it->topic_len + it->len;
            fl__free(it);
        } else {
            last = it;
            pp = &it->next;
        }
    }
    l->tail = last;
}

/* ------------------------------------------------------------ connection */

static const char *status_text(mqtt_connection_status_t st)
{
    switch (st) {
    case MQTT_CONNECT_REFUSED_PROTOCOL_VERSION: return "refused: protocol version";
    case MQTT_CONNECT_REFUSED_IDENTIFIER: return "refused: client id";
    case MQTT_CONNECT_REFUSED_SERVER: return "refused: server unavailable";
    case MQTT_CONNECT_REFUSED_USERNAME_PASS: return "refused: user name or password";
    case MQTT_CONNECT_REFUSED_NOT_AUTHORIZED_: return "refused: not authorised";
    case MQTT_CONNECT_TIMEOUT: return "timed out";
    default: return "connection lost";
    }
}

static void on_connection(mqtt_client_t *client, void *arg,
                          mqtt_connection_status_t st)
{
    fl_link *l = arg;
    (void)client;
    if (st == MQTT_CONNECT_ACCEPTED) {
        l->state = FL_LINK_UP;
        l->backoff_ms = BACKOFF_MIN_MS;
        l->stats.connects++;
        logf_(l, FL_LOG_INFO, "connected to the broker");
        l->cb.up(l->cb.ud);
        drain(l);
        return;
    }
    bool was_up = l->state == FL_LINK_UP;
    l->state = FL_LINK_DOWN;
    l->rx_len = 0;
    l->rx_skip = false;
    drop_queued_subscribes(l);
    if (was_up) {
        l->stats.losses++;
        logf_(l, FL_LOG_WARN, "broker connection: %s; reconnecting", status_text(st));
        l->cb.down(l->cb.ud);
    } else {
        logf_(l, FL_LOG_WARN, "cannot connect to the broker: %s; retrying in %lu ms",
              status_text(st), (unsigned long)l->backoff_ms);
    }
    l->retry_pending = true; /* poll, which knows the time, schedules it */
}

bool fl__link_init(fl_link *l, const fl_link_config *cfg,
                   const fl_link_cb *cb, uint32_t seed)
{
    memset(l, 0, sizeof *l);
    l->cfg = *cfg;
    l->cb = *cb;
    l->jitter = seed | 1u;
    l->backoff_ms = BACKOFF_MIN_MS;
    if (cfg->will_len >= sizeof l->will || memchr(cfg->will, 0, cfg->will_len)) {
        logf_(l, FL_LOG_ERROR, "last will of %lu bytes: lwIP's client takes "
              "at most 255 text bytes", (unsigned long)cfg->will_len);
        return false;
    }
    memcpy(l->will, cfg->will, cfg->will_len);
    l->will[cfg->will_len] = '\0';
    l->rx = fl__malloc(cfg->max_message ? cfg->max_message : 1);
    if (!l->rx) {
        logf_(l, FL_LOG_ERROR, "no memory for a %lu-byte receive buffer",
              (unsigned long)cfg->max_message);
        return false;
    }
    l->info.client_id = cfg->client_id;
    l->info.client_user = cfg->user;
    l->info.client_pass = cfg->pass;
    l->info.keep_alive = cfg->keep_alive_s;
    l->info.will_topic = cfg->will_topic;
    l->info.will_msg = l->will;
    l->info.will_qos = 1;
    l->info.will_retain = cfg->will_retain ? 1 : 0;
    l->state = FL_LINK_DOWN;
    return true;
}

static uint32_t next_jitter(fl_link *l)
{
    /* xorshift32: enough to keep boards from reconnecting in step. */
    uint32_t x = l->jitter;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    l->jitter = x;
    return x;
}

void fl__link_poll(fl_link *l, uint64_t now_ms, bool net_up)
{
    if (l->retry_pending) {
        /* Lost or refused: wait backoff/2 .. backoff, then double it. */
        uint32_t b = l->backoff_ms;
        l->next_try_ms = now_ms + b / 2 + next_jitter(l) % (b / 2 + 1);
        l->backoff_ms = b * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b * 2;
        l->retry_pending = false;
    }
    if (l->state == FL_LINK_DOWN && net_up && now_ms >= l->next_try_ms) {
        err_t e = mqtt_client_connect(&l->client, &l->cfg.broker, l->cfg.port,
                                      on_connection, l, &l->info);
        if (e == ERR_OK) {
            /* connect wipes the client: the callbacks go in after it. */
            l->state = FL_LINK_CONNECTING;
            mqtt_set_inpub_callback(&l->client, on_publish, on_data, l);
        } else {
            logf_(l, FL_LOG_WARN, "cannot start a connection (lwIP error %d)", (int)e);
            l->retry_pending = true;
        }
    }
    if (l->state == FL_LINK_UP)
        drain(l);
}

bool fl__link_up(const fl_link *l)
{
    return l->state == FL_LINK_UP;
}
