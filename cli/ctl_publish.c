/*
 * ctl_publish.c - one QoS 1 publish and its acknowledgement, with
 * libmosquitto's blocking loop (see ctl_publish.h). Control messages are
 * not tasks, so they do not go through a node.
 * Depends on ctl_publish.h, opts.h, hosted.h (broker URL), mqtt_conf.h
 * (credentials and TLS, as a node sets them up), libmosquitto.
 */
#include "ctl_publish.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "hosted.h"
#include "mqtt_conf.h"
#include "opts.h"

#define CONNECT_TIMEOUT_S 5
#define ACK_TIMEOUT_S 10.0

struct pub_state {
    int loop_rc; /* the last failed mosquitto_loop, for the message */
    char tls_reason[256];
    const char *host; /* the broker's, for the TLS reason */
    bool tls, has_cert;
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

static void on_lib_log(struct mosquitto *m, void *ud, int level, const char *line)
{
    struct pub_state *s = ud;
    if ((level & MOSQ_LOG_ERR) && !s->tls_reason[0])
        fl__mqtt_tls_reason(m, s->host, line, s->tls_reason, sizeof s->tls_reason);
}

static int setup(struct mosquitto *m, const fl_url *url)
{
    char err[FL_PATH_BUF + 200];
    int rc;
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_publish_callback_set(m, on_publish);
    mosquitto_log_callback_set(m, on_lib_log);
    rc = fl__mqtt_configure(m, url, err, sizeof err);
    if (rc != MOSQ_ERR_SUCCESS)
        fprintf(stderr, "error: %s\n", err);
    return rc;
}

/* Run the loop until done says so or the deadline passes. */
/* One turn of the network loop that reads before it writes (unlike
 * mosquitto_loop): a TLS alert the broker sent, such as TLS 1.3's
 * "certificate required", is then read and explained, not hit by a write
 * that fails without a reason. */
static int step(struct mosquitto *m)
{
    struct pollfd p = {.fd = mosquitto_socket(m), .events = POLLIN};
    int rc = MOSQ_ERR_SUCCESS;
    if (p.fd < 0)
        return MOSQ_ERR_NO_CONN;
    if (mosquitto_want_write(m))
        p.events |= POLLOUT;
    errno = 0;
    if (poll(&p, 1, 100) < 0 && errno != EINTR)
        return MOSQ_ERR_ERRNO;
    fl__mqtt_tls_watch(m);
    if (p.revents & (POLLIN | POLLERR | POLLHUP))
        rc = mosquitto_loop_read(m, 1);
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(m) >= 0 &&
        (p.revents & POLLOUT || mosquitto_want_write(m)))
        rc = mosquitto_loop_write(m, 1);
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(m) >= 0)
        rc = mosquitto_loop_misc(m);
    return rc;
}

static bool loop_until(struct mosquitto *m, struct pub_state *s, const bool *flag,
                       const int *connack, double seconds)
{
    double end = mono_s() + seconds;
    while (!*flag && (!connack || *connack == -1) && mono_s() < end) {
        if ((s->loop_rc = step(m)) != MOSQ_ERR_SUCCESS)
            return false;
    }
    return *flag;
}

/* Why the connection did not come up, in one line. */
static const char *connect_failure(const struct pub_state *s)
{
    if (s->tls_reason[0])
        return s->tls_reason;
    if (s->connack > 0)
        return mosquitto_connack_string(s->connack);
    if (s->tls && !s->has_cert &&
        (s->loop_rc == MOSQ_ERR_ERRNO || s->loop_rc == MOSQ_ERR_CONN_LOST))
        return FL_TLS_CLOSED_EARLY;
    if (s->loop_rc == MOSQ_ERR_ERRNO)
        return errno ? strerror(errno) : "connection closed";
    if (s->loop_rc != MOSQ_ERR_SUCCESS)
        return mosquitto_strerror(s->loop_rc);
    return "no answer";
}

static int publish(const char *cmd, struct mosquitto *m, const fl_url *url,
                   struct pub_state *s, const char *topic, const void *payload,
                   size_t len, bool retain)
{
    int rc = setup(m, url);
    fl__mqtt_tls_attempt();
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_connect_async(m, url->host, url->port, 10);
    if (rc != MOSQ_ERR_SUCCESS) {
        s->loop_rc = rc;
        fprintf(stderr, "error: cannot connect to broker %s: %s\n", url->text,
                connect_failure(s));
        return 3;
    }
    if (!loop_until(m, s, &s->connected, &s->connack, CONNECT_TIMEOUT_S)) {
        if (url->tls && !s->tls_reason[0])
            fl__mqtt_tls_alert_reason(s->tls_reason, sizeof s->tls_reason);
        fprintf(stderr, "error: cannot connect to broker %s: %s\n", url->text,
                connect_failure(s));
        return 3;
    }
    rc = mosquitto_publish(m, &s->mid, topic, (int)len, payload, 1, retain);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "floret %s: cannot publish: %s\n", cmd, mosquitto_strerror(rc));
        return 3;
    }
    if (!loop_until(m, s, &s->acked, NULL, ACK_TIMEOUT_S)) {
        fprintf(stderr, "error: broker %s did not acknowledge the message\n", url->text);
        return 3;
    }
    mosquitto_disconnect(m);
    mosquitto_loop(m, 100, 1);
    return 0;
}

int cli_ctl_publish(const char *cmd, const struct cli_conn *conn, const char *topic,
                    const void *payload, size_t len, bool retain)
{
    fl_url url;
    char err[FL_PATH_BUF + 400], id[64];
    struct pub_state s = {.mid = -1, .connack = -1};
    if (cli_conn_resolve(conn, &url, err, sizeof err) != FL_OK)
        return cli_usage_error(cmd, "%s", err);
    if (len > 256u * 1024 * 1024)
        return cli_usage_error(cmd, "message too big");
    mosquitto_lib_init();
    snprintf(id, sizeof id, "floret-%s-%ld", cmd, (long)getpid());
    struct mosquitto *m = mosquitto_new(id, true, &s);
    s.host = url.host;
    s.tls = url.tls;
    s.has_cert = url.cert_file[0] != '\0';
    int rc = m ? publish(cmd, m, &url, &s, topic, payload, len, retain) : 1;
    if (!m)
        fprintf(stderr, "floret %s: out of memory\n", cmd);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return rc;
}
