/*
 * transport.c - the MQTT connection, driven by the loop thread through
 * libmosquitto's socket interface (never its own thread): connect without
 * blocking on TCP, read and write when poll says so, keep-alive, reconnect
 * with backoff 0.1 s doubling to 5 s, forever. It logs one line per change
 * of state, each failed attempt only for the first few, then one line a
 * minute for as long as the broker stays away (a node that boots before
 * its broker waits for it: docs/operations.md).
 *
 * MQTT 5, so that the CONNECT announces the largest packet the node reads
 * and the broker drops bigger ones instead of sending them (docs/security.md);
 * 3.1.1 when a broker refuses 5. libmosquitto takes CONNECT properties only
 * in its blocking connect, so each attempt first makes a TCP connection of
 * its own without blocking (PROBING): the blocking connect then runs only
 * against a broker that just answered, and an unreachable one costs the
 * loop nothing.
 * Depends on posix.h, mqtt_conf.h (credentials, TLS), libmosquitto, POSIX
 * sockets.
 */
#include "posix.h"
#include "mqtt_conf.h"

#include <errno.h>
#include <mosquitto.h>
#include <fcntl.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#define KEEPALIVE_S 10
#define CONNECT_TIMEOUT_US (10u * 1000000u)
#define BACKOFF_MIN_US 100000u
#define BACKOFF_MAX_US 5000000u
#define MISC_EVERY_US 1000000u /* keep-alive bookkeeping */
#define LOUD_FAILURES 3        /* attempts logged one by one */
#define QUIET_LOG_EVERY_US (60u * 1000000u) /* then one line a minute */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    mosquitto_lib_init();
}

static void set_reason(fl_transport *tp, const char *why)
{
    if (tp->reason_set)
        return;
    snprintf(tp->last_error, sizeof tp->last_error, "%s", why);
    tp->reason_set = true;
}

static const char *rc_reason(int rc, int err)
{
    switch (rc) {
    case MOSQ_ERR_ERRNO: return err ? strerror(err) : "system error";
    case MOSQ_ERR_EAI: return "cannot resolve the host name";
    case MOSQ_ERR_CONN_LOST: return "connection lost";
    case MOSQ_ERR_KEEPALIVE: return "the broker stopped answering (keep-alive)";
    case MOSQ_ERR_TLS: return "TLS error (certificate or handshake)";
    case MOSQ_ERR_CONN_REFUSED: return "the broker refused the connection";
    case MOSQ_ERR_PROTOCOL: return "MQTT protocol error";
    default: return mosquitto_strerror(rc);
    }
}

/* ------------------------------------------------------------ callbacks */

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    fl_transport *tp = ud;
    (void)m;
    if (tp->state != FL_TP_CONNECTING)
        return;
    if (rc != 0 && tp->v5 && (rc == 1 || rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION)) {
        tp->fallback = true;
        set_reason(tp, "the broker does not speak MQTT 5");
        return;
    }
    if (rc != 0) {
        set_reason(tp, tp->v5 ? mosquitto_reason_string(rc) : mosquitto_connack_string(rc));
        /* 3.1.1's and MQTT 5's codes for bad credentials, not authorised */
        tp->lasting = rc == 4 || rc == 5 || rc == 134 || rc == 135;
        return; /* libmosquitto closes the socket; step() notices */
    }
    if (tp->ever_up)
        fl__plog(tp->log, FL_LOG_INFO, "reconnected to broker %s", tp->url->text);
    else
        fl__plog(tp->log, FL_LOG_INFO, "connected to broker %s", tp->url->text);
    tp->state = FL_TP_UP;
    tp->ever_up = true;
    tp->failures = 0;
    tp->backoff_us = BACKOFF_MIN_US;
    tp->cb.up(tp->cb.ud);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc)
{
    fl_transport *tp = ud;
    int err = errno;
    (void)m;
    /* Bytes that are not MQTT before any CONNACK: something else listens
     * there (a web server, a proxy), which "protocol error" would hide. */
    if (rc == MOSQ_ERR_PROTOCOL && tp->state == FL_TP_CONNECTING)
        set_reason(tp, "something answered there, but not in MQTT (is it the "
                       "broker's MQTT port?)");
    else if (rc != 0)
        set_reason(tp, rc_reason(rc, err));
    else
        set_reason(tp, "disconnected");
}

static void on_message(struct mosquitto *m, void *ud,
                       const struct mosquitto_message *msg)
{
    fl_transport *tp = ud;
    (void)m;
    if (tp->state != FL_TP_UP || !msg->topic || msg->payloadlen < 0)
        return;
    tp->cb.message(tp->cb.ud, msg->topic, msg->payload, (size_t)msg->payloadlen);
}

/* libmosquitto's own error lines stay at debug; a TLS one becomes the
 * attempt's reason, which "connection closed" would otherwise hide. */
static void on_lib_log(struct mosquitto *m, void *ud, int level, const char *s)
{
    fl_transport *tp = ud;
    char why[sizeof tp->last_error];
    if (!(level & MOSQ_LOG_ERR))
        return;
    fl__plog(tp->log, FL_LOG_DEBUG, "mqtt: %s", s);
    if (!tp->tls_reason_set && fl__mqtt_tls_reason(m, tp->url->host, s, why, sizeof why)) {
        tp->reason_set = false;
        set_reason(tp, why);
        tp->tls_reason_set = true;
        tp->lasting = true;
    }
}

/* ----------------------------------------------------------------- setup */

fl_status fl__tp_init(fl_transport *tp, const char *client_id, const fl_url *url,
                      size_t max_packet, const char *will_topic, const void *will, size_t will_len,
                      bool will_retain,
                      fl_logger *log, const fl_transport_cb *cb)
{
    int rc;

    memset(tp, 0, sizeof *tp);
    atomic_init(&tp->seen_state, FL_TP_IDLE);
    tp->url = url;
    tp->log = log;
    tp->cb = *cb;
    tp->state = FL_TP_IDLE;
    tp->backoff_us = BACKOFF_MIN_US;
    tp->probe_fd = -1;
    tp->v5 = true;
    pthread_once(&lib_once, lib_init);

    tp->mosq = mosquitto_new(client_id, true, tp);
    if (!tp->mosq)
        return errno == ENOMEM ? FL_ENOMEM : FL_EINVAL;
    mosquitto_int_option(tp->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(tp->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    /* The core batches, so messages are few and large; let them all fly
     * (MQTT 5's most, 65535; 0 means no limit under 3.1.1). */
    mosquitto_int_option(tp->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, 65535);
    mosquitto_int_option(tp->mosq, MOSQ_OPT_SEND_MAXIMUM, 65535);
    if (max_packet > 0 && max_packet <= UINT32_MAX &&
        mosquitto_property_add_int32((mosquitto_property **)&tp->props,
                                     MQTT_PROP_MAXIMUM_PACKET_SIZE,
                                     (uint32_t)max_packet) != MOSQ_ERR_SUCCESS)
        return FL_ENOMEM;
    mosquitto_connect_callback_set(tp->mosq, on_connect);
    mosquitto_disconnect_callback_set(tp->mosq, on_disconnect);
    mosquitto_message_callback_set(tp->mosq, on_message);
    mosquitto_log_callback_set(tp->mosq, on_lib_log);

    if (will_len > (size_t)INT32_MAX)
        return FL_ETOOBIG;
    rc = mosquitto_will_set(tp->mosq, will_topic, (int)will_len, will, 1, will_retain);
    if (rc == MOSQ_ERR_SUCCESS) {
        char err[FL_PATH_BUF + 200];
        rc = fl__mqtt_configure(tp->mosq, url, err, sizeof err);
        if (rc != MOSQ_ERR_SUCCESS)
            fl__plog(log, FL_LOG_ERROR, "%s", err);
    }
    if (rc == MOSQ_ERR_NOMEM)
        return FL_ENOMEM;
    return rc == MOSQ_ERR_SUCCESS ? FL_OK : FL_EINVAL;
}

static void probe_end(fl_transport *tp)
{
    if (tp->probe_fd >= 0)
        close(tp->probe_fd);
    tp->probe_fd = -1;
    if (tp->probe_list)
        freeaddrinfo(tp->probe_list);
    tp->probe_list = tp->probe_next = NULL;
}

void fl__tp_free(fl_transport *tp)
{
    probe_end(tp);
    if (tp->mosq)
        mosquitto_destroy(tp->mosq);
    tp->mosq = NULL;
    mosquitto_property_free_all((mosquitto_property **)&tp->props);
    if (tp->idc_on)
        fl__probe_free(&tp->idc);
    tp->idc_on = false;
}

fl_status fl__tp_check_id_first(fl_transport *tp, const char *prefix,
                             const char *node_id, uint64_t inc)
{
    fl_status st = fl__probe_init(&tp->idc, tp->url, prefix, node_id, inc);
    if (st != FL_OK) {
        fl__probe_free(&tp->idc);
        return st;
    }
    tp->idc_on = true;
    return FL_OK;
}

void fl__tp_reset(fl_transport *tp)
{
    probe_end(tp);
    tp->state = FL_TP_IDLE;
    tp->next_try = 0;
    tp->failures = 0;
    tp->backoff_us = BACKOFF_MIN_US;
}

bool fl__tp_up(const fl_transport *tp)
{
    return tp->state == FL_TP_UP;
}

/* ------------------------------------------------------ state changes */

static void attempt_failed(fl_transport *tp, uint64_t now)
{
    double delay = (double)tp->backoff_us / 1e6;
    char why[sizeof tp->last_error];
    if (tp->url->tls && !tp->tls_reason_set && fl__mqtt_tls_alert_reason(why, sizeof why)) {
        tp->reason_set = false;
        set_reason(tp, why);
        tp->tls_reason_set = true;
        tp->lasting = true;
    }
    tp->failures++;
    tp->cb.failed(tp->cb.ud, tp->last_error, tp->lasting);
    if (tp->failures == 1)
        tp->failing_since = now;
    if (tp->failures <= LOUD_FAILURES) {
        fl__plog(tp->log, FL_LOG_WARN, "cannot connect to broker %s: %s; retrying in %.1f s",
                tp->url->text, tp->last_error, delay);
    } else if (tp->failures == LOUD_FAILURES + 1) {
        fl__plog(tp->log, FL_LOG_WARN,
                "still cannot connect to broker %s: %s; retrying every few seconds, "
                "logging once a minute",
                tp->url->text, tp->last_error);
        tp->quiet_logged = now;
    } else if (now - tp->quiet_logged >= QUIET_LOG_EVERY_US) {
        fl__plog(tp->log, FL_LOG_WARN,
                "still cannot connect to broker %s: %s (%u attempts in %llu s); retrying",
                tp->url->text, tp->last_error, tp->failures,
                (unsigned long long)((now - tp->failing_since) / 1000000u));
        tp->quiet_logged = now;
    }
    tp->next_try = now + tp->backoff_us;
    tp->backoff_us *= 2;
    if (tp->backoff_us > BACKOFF_MAX_US)
        tp->backoff_us = BACKOFF_MAX_US;
}

/* The socket went away, whatever the state was. */
static void went_down(fl_transport *tp, uint64_t now)
{
    fl_tp_state was = tp->state;
    tp->state = FL_TP_IDLE;
    if (was == FL_TP_CONNECTING && tp->fallback) {
        fl__plog(tp->log, FL_LOG_WARN, "broker %s does not speak MQTT 5; using 3.1.1, "
                 "so messages over the size limit are read before they are refused",
                 tp->url->text);
        tp->v5 = false;
        mosquitto_int_option(tp->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
        tp->next_try = now;
        return;
    }
    if (was == FL_TP_UP) {
        fl__plog(tp->log, FL_LOG_WARN, "lost broker %s: %s; reconnecting",
                tp->url->text, tp->reason_set ? tp->last_error : "connection lost");
        tp->failures = 0;
        tp->backoff_us = BACKOFF_MIN_US;
        tp->next_try = now + tp->backoff_us;
        tp->cb.down(tp->cb.ud);
        return;
    }
    if (tp->url->tls && !tp->url->cert_file[0] && !tp->tls_reason_set &&
        fl__mqtt_tls_alert_reason(tp->last_error, sizeof tp->last_error) == 0) {
        tp->reason_set = false;
        set_reason(tp, FL_TLS_CLOSED_EARLY);
    }
    set_reason(tp, "connection closed");
    attempt_failed(tp, now);
}

/* The MQTT connection proper, once the probe reached the broker: the TCP
 * connect this blocks on is answered at once. */
static void connect_mqtt(fl_transport *tp, uint64_t now)
{
    int rc;
    errno = 0;
    rc = mosquitto_connect_bind_v5(tp->mosq, tp->url->host, tp->url->port, KEEPALIVE_S,
                                   NULL, tp->v5 ? tp->props : NULL);
    tp->tried = true;
    if (rc != MOSQ_ERR_SUCCESS) {
        set_reason(tp, rc_reason(rc, errno));
        tp->state = FL_TP_IDLE;
        attempt_failed(tp, now);
        return;
    }
    tp->state = FL_TP_CONNECTING;
}

/* Start a non-blocking TCP connect to the next address; false when none
 * is left (probe_errno says why the last one failed). */
static bool probe_start_next(fl_transport *tp)
{
    while (tp->probe_next) {
        struct addrinfo *a = tp->probe_next;
        int fd;
        tp->probe_next = a->ai_next;
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    a->ai_protocol);
        if (fd < 0) {
            tp->probe_errno = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
            tp->probe_fd = fd;
            return true;
        }
        tp->probe_errno = errno;
        close(fd);
    }
    return false;
}

static void probe_failed(fl_transport *tp, uint64_t now)
{
    set_reason(tp, tp->probe_errno ? strerror(tp->probe_errno) : "cannot connect");
    probe_end(tp);
    tp->state = FL_TP_IDLE;
    attempt_failed(tp, now);
}

static void attempt(fl_transport *tp, uint64_t now)
{
    struct addrinfo hints, *list = NULL;
    char port[16];
    int rc;
    if (tp->idc_on && tp->state != FL_TP_ID_CHECK) {
        tp->state = FL_TP_ID_CHECK;
        tp->attempt_at = now;
        fl__probe_begin(&tp->idc, now);
        return;
    }
    tp->state = FL_TP_IDLE;
    tp->reason_set = false;
    tp->tls_reason_set = false;
    tp->lasting = false;
    tp->fallback = false;
    tp->pollout_done = false;
    tp->attempt_at = now;
    tp->probe_errno = 0;
    fl__mqtt_tls_attempt();
    probe_end(tp);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof port, "%d", tp->url->port);
    rc = getaddrinfo(tp->url->host, port, &hints, &list);
    if (rc != 0) {
        set_reason(tp, rc == EAI_SYSTEM ? strerror(errno) : "cannot resolve the host name");
        attempt_failed(tp, now);
        return;
    }
    tp->probe_list = tp->probe_next = list;
    if (!probe_start_next(tp)) {
        probe_failed(tp, now);
        return;
    }
    tp->state = FL_TP_PROBING;
}

/* The probe's socket turned writable or failed: connected, or try the
 * next address. */
static void probe_step(fl_transport *tp, uint64_t now, short revents)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (revents & (POLLOUT | POLLERR | POLLHUP)) {
        if (getsockopt(tp->probe_fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err == 0) {
            probe_end(tp);
            connect_mqtt(tp, now);
            return;
        }
        tp->probe_errno = err;
        close(tp->probe_fd);
        tp->probe_fd = -1;
        if (!probe_start_next(tp))
            probe_failed(tp, now);
        return;
    }
    if (now >= tp->attempt_at + CONNECT_TIMEOUT_US) {
        tp->probe_errno = ETIMEDOUT;
        probe_failed(tp, now);
    }
}

/* ----------------------------------------------------------- each step */

const char *fl__tp_waiting(const fl_transport *tp)
{
    switch (atomic_load(&tp->seen_state)) {
    case FL_TP_PROBING:
        return "timed out: no answer to the TCP connection (host down, no route "
               "to it, or a firewall dropping it)";
    case FL_TP_ID_CHECK:
        return "timed out: no answer from the broker";
    case FL_TP_CONNECTING:
        if (tp->url && tp->url->tls)
            return "timed out: the TCP connection was accepted but neither the TLS "
                   "handshake nor MQTT was answered (is it the broker's mqtts port?)";
        return "timed out: the TCP connection was accepted but no MQTT answer came "
               "(is it the broker's MQTT port?)";
    default:
        return "no answer in time";
    }
}

void fl__tp_prepare(fl_transport *tp, uint64_t now, int *fd, short *events,
                    uint64_t *deadline)
{
    *fd = -1;
    *events = 0;
    atomic_store(&tp->seen_state, (int)tp->state);
    switch (tp->state) {
    case FL_TP_IDLE:
        if (tp->next_try < *deadline)
            *deadline = tp->next_try;
        return;
    case FL_TP_CLOSED:
        return;
    case FL_TP_ID_CHECK:
        fl__probe_prepare(&tp->idc, now, fd, events, deadline);
        return;
    case FL_TP_PROBING:
        *fd = tp->probe_fd;
        *events = POLLOUT;
        if (tp->attempt_at + CONNECT_TIMEOUT_US < *deadline)
            *deadline = tp->attempt_at + CONNECT_TIMEOUT_US;
        return;
    case FL_TP_CONNECTING:
        if (tp->attempt_at + CONNECT_TIMEOUT_US < *deadline)
            *deadline = tp->attempt_at + CONNECT_TIMEOUT_US;
        break;
    case FL_TP_UP:
        break;
    }
    *fd = mosquitto_socket(tp->mosq);
    if (*fd < 0) {
        *deadline = now; /* step() will notice it is gone */
        return;
    }
    *events = POLLIN;
    /* A non-blocking connect completes when the socket turns writable;
     * after that, ask for writability only when there is something to
     * write, or poll would spin. */
    if (mosquitto_want_write(tp->mosq) ||
        (tp->state == FL_TP_CONNECTING && !tp->pollout_done))
        *events |= POLLOUT;
    if (now + MISC_EVERY_US < *deadline)
        *deadline = now + MISC_EVERY_US;
}

/* Acknowledge what was read at once. A broker without set_tcp_nodelay
 * (mosquitto's default) holds its next small message until our ACK comes
 * back, and a delayed ACK waits up to 40 ms: every task round trip would
 * cost 40 ms. Linux clears the flag after use, so it is set on every read. */
static void quick_ack(int fd)
{
#ifdef TCP_QUICKACK
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
    (void)fd;
#endif
}

static void read_all(fl_transport *tp)
{
    quick_ack(mosquitto_socket(tp->mosq));
    /* loop_read stops after a packet or two; keep going until the socket
     * has nothing left (EAGAIN), within reason. */
    for (int i = 0; i < 256; i++) {
        errno = 0;
        if (mosquitto_loop_read(tp->mosq, 1) != MOSQ_ERR_SUCCESS)
            return;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (mosquitto_socket(tp->mosq) < 0)
            return;
    }
}

/* The id check ran its course: connect for real, or give up for good
 * (our id is taken). */
static void id_check_step(fl_transport *tp, uint64_t now, short revents)
{
    switch (fl__probe_step(&tp->idc, now, revents)) {
    case FL_PROBE_RUNNING:
        return;
    case FL_PROBE_CLEAR:
        if (tp->idc.blind && !tp->idc_warned) {
            fl__plog(tp->log, FL_LOG_WARN, "cannot check that no other node "
                     "uses this node id (%s); connecting anyway",
                     tp->idc.why);
            tp->idc_warned = true;
        }
        attempt(tp, now); /* state is ID_CHECK: this one connects */
        return;
    case FL_PROBE_TAKEN:
        tp->state = FL_TP_CLOSED;
        tp->cb.taken(tp->cb.ud, tp->idc.why);
        return;
    case FL_PROBE_FAILED:
        /* The connection itself is tried: it fails the same way, with the
         * reasons (TLS, credentials) and the backoff the transport knows
         * how to report. */
        attempt(tp, now);
        return;
    }
}

void fl__tp_step(fl_transport *tp, uint64_t now, short revents)
{
    tp->now = now;
    if (tp->state == FL_TP_CLOSED)
        return;
    if (tp->state == FL_TP_IDLE) {
        if (now >= tp->next_try)
            attempt(tp, now);
        return;
    }
    if (tp->state == FL_TP_ID_CHECK) {
        id_check_step(tp, now, revents);
        return;
    }
    if (tp->state == FL_TP_PROBING) {
        probe_step(tp, now, revents);
        return;
    }
    if (tp->state == FL_TP_CONNECTING && tp->url->tls)
        fl__mqtt_tls_watch(tp->mosq);
    if (mosquitto_socket(tp->mosq) >= 0 && (revents & (POLLIN | POLLERR | POLLHUP)))
        read_all(tp);
    if (mosquitto_socket(tp->mosq) >= 0 &&
        ((revents & POLLOUT) || mosquitto_want_write(tp->mosq))) {
        if (tp->state == FL_TP_CONNECTING && (revents & POLLOUT))
            tp->pollout_done = true;
        mosquitto_loop_write(tp->mosq, 1);
    }
    if (mosquitto_socket(tp->mosq) >= 0)
        mosquitto_loop_misc(tp->mosq);
    if (mosquitto_socket(tp->mosq) < 0) {
        went_down(tp, now);
        return;
    }
    if (tp->state == FL_TP_CONNECTING && now >= tp->attempt_at + CONNECT_TIMEOUT_US) {
        set_reason(tp, "no answer from the broker within 10 s");
        tp->state = FL_TP_IDLE; /* the next attempt closes the socket */
        attempt_failed(tp, now);
    }
}

/* ------------------------------------------------------------- traffic */

void fl__tp_publish(fl_transport *tp, const char *topic, const void *payload,
                    size_t len, int qos, bool retain)
{
    int rc;
    if (tp->state != FL_TP_UP)
        return;
    if (len > (size_t)INT32_MAX) {
        fl__plog(tp->log, FL_LOG_ERROR, "not publishing %zu bytes on %s: too big",
                len, topic);
        return;
    }
    rc = mosquitto_publish(tp->mosq, NULL, topic, (int)len, payload, qos, retain);
    if (rc != MOSQ_ERR_SUCCESS)
        fl__plog(tp->log, FL_LOG_DEBUG, "publish on %s failed: %s", topic,
                rc_reason(rc, errno));
}

void fl__tp_subscribe(fl_transport *tp, const char *filter, int qos)
{
    int rc;
    if (tp->state != FL_TP_UP)
        return;
    rc = mosquitto_subscribe(tp->mosq, NULL, filter, qos);
    if (rc != MOSQ_ERR_SUCCESS)
        fl__plog(tp->log, FL_LOG_WARN, "subscribe to %s failed: %s", filter,
                rc_reason(rc, errno));
}

/* Write what libmosquitto has queued, waiting for the socket up to the
 * deadline. */
static void flush_out(fl_transport *tp, uint64_t deadline)
{
    for (int i = 0; i < 1000 && mosquitto_want_write(tp->mosq); i++) {
        struct pollfd p = {.fd = mosquitto_socket(tp->mosq), .events = POLLOUT};
        uint64_t now = fl__now_us();
        if (p.fd < 0 || now >= deadline)
            return;
        if (poll(&p, 1, (int)((deadline - now) / 1000 + 1)) < 0 && errno != EINTR)
            return;
        if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
            return;
        if (p.revents & POLLOUT && mosquitto_loop_write(tp->mosq, 1) != MOSQ_ERR_SUCCESS)
            return;
    }
}

void fl__tp_close(fl_transport *tp, uint32_t timeout_ms)
{
    fl_tp_state was = tp->state;
    tp->state = FL_TP_CLOSED;
    if (was == FL_TP_UP) {
        uint64_t deadline = fl__now_us() + (uint64_t)timeout_ms * 1000u;
        flush_out(tp, deadline);
        /* A clean DISCONNECT makes the broker drop the will: the node has
         * already said it is offline. */
        mosquitto_disconnect(tp->mosq);
        flush_out(tp, deadline);
        fl__plog(tp->log, FL_LOG_DEBUG, "disconnected from broker %s", tp->url->text);
    } else if (was == FL_TP_PROBING) {
        probe_end(tp);
    } else if (was == FL_TP_CONNECTING) {
        mosquitto_disconnect(tp->mosq);
    }
}
