/*
 * ctl_publish.c - one QoS 1 publish and its acknowledgement, with
 * libmosquitto's blocking loop (see ctl_publish.h). Control messages are
 * not tasks, so they do not go through a node.
 * Depends on ctl_publish.h, opts.h, hosted.h (broker URL), libmosquitto.
 */
#include "ctl_publish.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "hosted.h"
#include "opts.h"

#define CONNECT_TIMEOUT_S 5
#define ACK_TIMEOUT_S 10.0
#define CA_DIR "/etc/ssl/certs"

struct pub_state {
    int mid;
    bool acked;
    bool connected;
    int connack;
};

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    struct pub_state *s = ud;
    (void)m;
    s->connected = rc == 0;
    s->connack = rc;
}

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
    struct pub_state *s = ud;
    (void)m;
    if (mid == s->mid)
        s->acked = true;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int setup(struct mosquitto *m, const fl_url *url)
{
    int rc = MOSQ_ERR_SUCCESS;
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_publish_callback_set(m, on_publish);
    if (url->has_user)
        rc = mosquitto_username_pw_set(m, url->user, url->pass[0] ? url->pass : NULL);
    if (rc == MOSQ_ERR_SUCCESS && url->tls)
        rc = mosquitto_tls_set(m, NULL, CA_DIR, NULL, NULL, NULL);
    return rc;
}

/* Run the loop until done says so or the deadline passes. */
static bool loop_until(struct mosquitto *m, const bool *flag, const int *connack,
                       double seconds)
{
    double end = mono_s() + seconds;
    while (!*flag && (!connack || *connack == -1) && mono_s() < end)
        if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS)
            return false;
    return *flag;
}

static int publish(const char *cmd, struct mosquitto *m, const fl_url *url,
                   struct pub_state *s, const char *topic, const void *payload,
                   size_t len, bool retain)
{
    int rc = setup(m, url);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_connect(m, url->host, url->port, 10);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "error: cannot connect to broker %s: %s\n", url->text,
                mosquitto_strerror(rc));
        return 3;
    }
    if (!loop_until(m, &s->connected, &s->connack, CONNECT_TIMEOUT_S)) {
        fprintf(stderr, "error: broker %s did not accept the connection: %s\n", url->text,
                s->connack > 0 ? mosquitto_connack_string(s->connack) : "no answer");
        return 3;
    }
    rc = mosquitto_publish(m, &s->mid, topic, (int)len, payload, 1, retain);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "floret %s: cannot publish: %s\n", cmd, mosquitto_strerror(rc));
        return 3;
    }
    if (!loop_until(m, &s->acked, NULL, ACK_TIMEOUT_S)) {
        fprintf(stderr, "error: broker %s did not acknowledge the message\n", url->text);
        return 3;
    }
    mosquitto_disconnect(m);
    mosquitto_loop(m, 100, 1);
    return 0;
}

int cli_ctl_publish(const char *cmd, const char *broker, const char *topic,
                    const void *payload, size_t len, bool retain)
{
    fl_url url;
    char err[400], id[64];
    struct pub_state s = {.mid = -1, .connack = -1};
    if (fl__url_parse(fl__broker_url(broker), &url, err, sizeof err) != FL_OK)
        return cli_usage_error(cmd, "%s", err);
    if (len > 256u * 1024 * 1024)
        return cli_usage_error(cmd, "message too big");
    mosquitto_lib_init();
    snprintf(id, sizeof id, "floret-%s-%ld", cmd, (long)getpid());
    struct mosquitto *m = mosquitto_new(id, true, &s);
    int rc = m ? publish(cmd, m, &url, &s, topic, payload, len, retain) : 1;
    if (!m)
        fprintf(stderr, "floret %s: out of memory\n", cmd);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return rc;
}
