/*
 * probe.c - before a node takes its MQTT client id (its node id), it asks
 * whether another live node holds that id (docs/protocol.md section 1).
 * Connecting with a client id that is in use makes the broker drop the
 * other connection, which reconnects and drops ours: two nodes with one
 * --name would fight forever.
 *
 * The probe is a second, short connection with a client id of its own
 * ("probe-<incarnation in hex>", as node "<user>.probe-<hex>" when it has
 * a user name, which the broker's ACL lets read its inbox). It subscribes to the node's retained
 * presence and to its own inbox, then publishes a marker to that inbox:
 * the broker sends retained messages on subscribing, so by the time the
 * marker comes back any retained presence has arrived. No presence, an
 * offline one or one of this very incarnation: the id is free. An online
 * presence of another incarnation may be stale (its node died without its
 * will firing yet), so the probe pings that node's inbox; any answer
 * within PING_WAIT_US (a pong, or an error from a node too old to know
 * ping) means the id is held, silence that it is not.
 *
 * Driven by the loop thread through the transport (prepare/step on one
 * socket, never blocking). Depends on posix.h, the core's codec and
 * libmosquitto.
 */
#include "posix.h"

#include <errno.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"

#define PROBE_TIMEOUT_US (10u * 1000000u) /* connect, subscribe, marker */
#define PING_WAIT_US 1500000u
/* A broker whose ACL keeps the probe from reading its inbox or the
 * presence never sends the marker back: then the id cannot be checked,
 * and the node connects anyway (saying so) rather than never. */
#define MARKER_WAIT_US 2000000u
#define CA_DIR "/etc/ssl/certs"

static void probe_done(fl_probe *p, fl_probe_result r, const char *why)
{
    if (p->result != FL_PROBE_RUNNING)
        return;
    p->result = r;
    snprintf(p->why, sizeof p->why, "%s", why);
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    fl_probe *p = ud;
    char filters[2][sizeof p->inbox];
    char *const list[2] = {filters[0], filters[1]};
    if (rc != 0) {
        probe_done(p, FL_PROBE_FAILED, mosquitto_connack_string(rc));
        return;
    }
    snprintf(filters[0], sizeof filters[0], "%s", p->presence);
    snprintf(filters[1], sizeof filters[1], "%s", p->inbox);
    if (mosquitto_subscribe_multiple(m, NULL, 2, list, 1, 0, NULL) !=
        MOSQ_ERR_SUCCESS)
        probe_done(p, FL_PROBE_FAILED, "cannot subscribe");
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n,
                         const int *granted)
{
    fl_probe *p = ud;
    (void)mid;
    static const char marker[] = "{}";
    p->subscribed_at = p->now ? p->now : 1;
    for (int i = 0; i < n; i++) {
        if (granted[i] > 2) {
            p->blind = true;
            probe_done(p, FL_PROBE_CLEAR, "the broker refused the probe's "
                       "subscriptions");
            return;
        }
    }
    if (mosquitto_publish(m, NULL, p->inbox, 2, marker, 1, false) !=
        MOSQ_ERR_SUCCESS)
        probe_done(p, FL_PROBE_FAILED, "cannot publish");
}

/* An online presence of another incarnation: ask that node. */
static void ping_holder(fl_probe *p, struct mosquitto *m, uint64_t inc)
{
    char ping[256], topic[sizeof p->presence + 8];
    int n = snprintf(ping, sizeof ping,
                     "{\"v\":1,\"kind\":\"ping\",\"from\":\"%s\",\"inc\":%llu,"
                     "\"mid\":1}",
                     p->probe_id, (unsigned long long)p->inc);
    snprintf(topic, sizeof topic, "%s/in", p->presence);
    p->holder_inc = inc;
    p->pinging = true;
    p->ping_deadline = p->now + PING_WAIT_US;
    if (mosquitto_publish(m, NULL, topic, n, ping, 1, false) != MOSQ_ERR_SUCCESS)
        probe_done(p, FL_PROBE_FAILED, "cannot publish");
}

static void on_presence(fl_probe *p, struct mosquitto *m, const void *payload,
                        size_t len)
{
    fl_msg *msg = NULL;
    char err[64], from[FL_MAX_ID_BUF];
    if (len == 0 || fl__decode(payload, len, 0, &msg, err, sizeof err, from,
                               sizeof from) != FL_OK) {
        fl__msg_free(msg);
        return; /* no presence there, or garbage: nobody holds it */
    }
    bool other = msg->kind == FL_KIND_PRESENCE && msg->online &&
                 msg->inc != p->inc;
    uint64_t inc = msg->inc;
    fl__msg_free(msg);
    if (other && !p->pinging)
        ping_holder(p, m, inc);
    else if (!other && p->pinging)
        probe_done(p, FL_PROBE_CLEAR, "its will came"); /* went offline */
}

static void on_message(struct mosquitto *m, void *ud,
                       const struct mosquitto_message *msg)
{
    fl_probe *p = ud;
    char why[200];
    if (!msg->topic || msg->payloadlen < 0)
        return;
    if (strcmp(msg->topic, p->presence) == 0) {
        on_presence(p, m, msg->payload, (size_t)msg->payloadlen);
        return;
    }
    if (strcmp(msg->topic, p->inbox) != 0)
        return;
    if (msg->payloadlen == 2 && memcmp(msg->payload, "{}", 2) == 0) {
        p->marker_seen = true; /* the retained presence, if any, came */
        if (!p->pinging)
            probe_done(p, FL_PROBE_CLEAR, "no other node online with that id");
        return;
    }
    /* Anything the holder sends back says it is alive. */
    fl_msg *r = NULL;
    char err[64], from[FL_MAX_ID_BUF] = "";
    if (fl__decode(msg->payload, (size_t)msg->payloadlen, 0, &r, err,
                   sizeof err, from, sizeof from) == FL_OK)
        snprintf(from, sizeof from, "%s", r->from);
    fl__msg_free(r);
    if (p->pinging && strcmp(from, p->node_id) == 0) {
        snprintf(why, sizeof why, "another node holds it (incarnation %llu) "
                 "and answered", (unsigned long long)p->holder_inc);
        probe_done(p, FL_PROBE_TAKEN, why);
    }
}

fl_status fl__probe_init(fl_probe *p, const fl_url *url, const char *prefix,
                         const char *node_id, uint64_t inc)
{
    int rc;
    memset(p, 0, sizeof *p);
    p->url = url;
    p->inc = inc;
    snprintf(p->node_id, sizeof p->node_id, "%s", node_id);
    char client[32];
    snprintf(client, sizeof client, "probe-%llx", (unsigned long long)inc);
    /* With a user name the broker's ACL lets us read node/<user>.<client
     * id>/in (docs/security.md): that is the probe's node id then. */
    size_t ul = strlen(url->user), cl = strlen(client);
    if (url->has_user && fl__valid_id(url->user) && ul + 1 + cl <= FL_MAX_ID) {
        memcpy(p->probe_id, url->user, ul);
        p->probe_id[ul] = '.';
        memcpy(p->probe_id + ul + 1, client, cl + 1);
    } else {
        memcpy(p->probe_id, client, cl + 1);
    }
    snprintf(p->presence, sizeof p->presence, "%snode/%s", prefix, node_id);
    snprintf(p->inbox, sizeof p->inbox, "%snode/%s/in", prefix, p->probe_id);
    p->mosq = mosquitto_new(client, true, p);
    if (!p->mosq)
        return errno == ENOMEM ? FL_ENOMEM : FL_EINVAL;
    mosquitto_int_option(p->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(p->mosq, on_connect);
    mosquitto_subscribe_callback_set(p->mosq, on_subscribe);
    mosquitto_message_callback_set(p->mosq, on_message);
    rc = MOSQ_ERR_SUCCESS;
    if (url->has_user)
        rc = mosquitto_username_pw_set(p->mosq, url->user,
                                       url->pass[0] ? url->pass : NULL);
    if (rc == MOSQ_ERR_SUCCESS && url->tls)
        rc = mosquitto_tls_set(p->mosq, NULL, CA_DIR, NULL, NULL, NULL);
    if (rc == MOSQ_ERR_NOMEM)
        return FL_ENOMEM;
    return rc == MOSQ_ERR_SUCCESS ? FL_OK : FL_EINVAL;
}

void fl__probe_free(fl_probe *p)
{
    if (p->mosq)
        mosquitto_destroy(p->mosq);
    p->mosq = NULL;
}

void fl__probe_begin(fl_probe *p, uint64_t now)
{
    int rc;
    p->result = FL_PROBE_RUNNING;
    p->why[0] = '\0';
    p->pinging = p->marker_seen = p->blind = false;
    p->subscribed_at = 0;
    p->started = p->now = now;
    p->pollout_done = false;
    errno = 0;
    if (!p->tried)
        rc = mosquitto_connect_async(p->mosq, p->url->host, p->url->port, 10);
    else
        rc = mosquitto_reconnect_async(p->mosq);
    p->tried = true;
    if (rc != MOSQ_ERR_SUCCESS)
        probe_done(p, FL_PROBE_FAILED, rc == MOSQ_ERR_ERRNO && errno
                                           ? strerror(errno)
                                           : mosquitto_strerror(rc));
}

void fl__probe_prepare(fl_probe *p, uint64_t now, int *fd, short *events,
                       uint64_t *deadline)
{
    uint64_t until = p->pinging ? p->ping_deadline
                     : p->subscribed_at ? p->subscribed_at + MARKER_WAIT_US
                                        : p->started + PROBE_TIMEOUT_US;
    *fd = mosquitto_socket(p->mosq);
    *events = 0;
    if (p->result != FL_PROBE_RUNNING || *fd < 0) {
        *deadline = now;
        return;
    }
    *events = POLLIN;
    if (mosquitto_want_write(p->mosq) || !p->pollout_done)
        *events |= POLLOUT;
    if (until < *deadline)
        *deadline = until;
}

/* Close the probe's connection (it has said what it had to say). */
static void probe_close(fl_probe *p)
{
    if (mosquitto_socket(p->mosq) >= 0) {
        mosquitto_disconnect(p->mosq);
        mosquitto_loop_write(p->mosq, 1);
    }
}

fl_probe_result fl__probe_step(fl_probe *p, uint64_t now, short revents)
{
    p->now = now;
    if (p->result == FL_PROBE_RUNNING && mosquitto_socket(p->mosq) >= 0) {
        if (revents & (POLLIN | POLLERR | POLLHUP))
            mosquitto_loop_read(p->mosq, 1);
        if (mosquitto_socket(p->mosq) >= 0 &&
            ((revents & POLLOUT) || mosquitto_want_write(p->mosq))) {
            if (revents & POLLOUT)
                p->pollout_done = true;
            mosquitto_loop_write(p->mosq, 1);
        }
        if (mosquitto_socket(p->mosq) >= 0)
            mosquitto_loop_misc(p->mosq);
    }
    if (p->result == FL_PROBE_RUNNING) {
        if (mosquitto_socket(p->mosq) < 0)
            probe_done(p, FL_PROBE_FAILED, "connection closed");
        else if (p->subscribed_at && !p->marker_seen &&
                 now >= p->subscribed_at + MARKER_WAIT_US) {
            p->blind = true;
            probe_done(p, FL_PROBE_CLEAR, "the probe's own message did not "
                       "come back");
        } else if (p->pinging && p->marker_seen && now >= p->ping_deadline)
            probe_done(p, FL_PROBE_CLEAR, "the node its presence names did "
                       "not answer");
        else if (now >= p->started + PROBE_TIMEOUT_US +
                            (p->pinging ? PING_WAIT_US : 0))
            probe_done(p, FL_PROBE_FAILED, "no answer from the broker within "
                       "10 s");
    }
    if (p->result != FL_PROBE_RUNNING)
        probe_close(p);
    return p->result;
}
