/*
 * pingpong.c - the broker's own ceiling, measured with libmosquitto alone,
 * so that every floret figure can be set beside what the same broker does
 * for a bare client in the same run.
 *
 *  raw:  one connection floods --count small QoS 0 messages to a topic that
 *        a second connection (on its own thread) counts: messages/s received.
 *  rtt:  a ping is published, a responder on another connection answers with
 *        a pong, --rounds times one after the other: p50/p99 in microseconds.
 *
 * Output is one "key=value ..." line per measurement, for scripts.
 * Depends on libmosquitto and POSIX threads only (not on floret).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD_BYTES 64
#define DEADLINE_S 60.0     /* no phase may take longer than this */
#define IDLE_S 2.0          /* a flood is over when nothing arrives this long */
#define ROUND_TIMEOUT_S 2.0 /* a pong later than this fails the run */
#define WARMUP_ROUNDS 100

typedef struct config {
    char host[256];
    int port;
    char user[128];
    char pass[128];
    long count;
    long rounds;
    int qos;
} config;

/* State shared between the main thread and libmosquitto's callbacks. */
typedef struct counter {
    atomic_long received;
    atomic_llong last_ns; /* when the last message arrived */
} counter;

typedef struct responder {
    char pong_topic[128];
    int qos;
} responder;

typedef struct waiter {
    bool got;
} waiter;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--broker mqtt://[user:pass@]host[:port]] [--count N]\n"
            "          [--rounds M] [--qos 0|1]\n"
            "  --count   messages in the raw flood (default 200000; 0 skips it)\n"
            "  --rounds  sequential ping-pongs (default 2000; 0 skips it)\n"
            "  --qos     QoS of pings and pongs (default 1, as floret uses)\n",
            prog);
}

/* Split mqtt://[user:pass@]host[:port] into cfg. Returns 0 or -1. */
static int parse_url(const char *url, config *cfg)
{
    const char *p = url;
    if (strncmp(p, "mqtt://", 7) != 0) {
        fprintf(stderr, "pingpong: --broker must start with mqtt:// (got %s)\n", url);
        return -1;
    }
    p += 7;
    const char *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = (size_t)((colon ? colon : at) - p);
        if (ulen >= sizeof cfg->user)
            return -1;
        memcpy(cfg->user, p, ulen);
        cfg->user[ulen] = '\0';
        if (colon) {
            size_t plen = (size_t)(at - colon - 1);
            if (plen >= sizeof cfg->pass)
                return -1;
            memcpy(cfg->pass, colon + 1, plen);
            cfg->pass[plen] = '\0';
        }
        p = at + 1;
    }
    const char *colon = strrchr(p, ':');
    size_t hlen = colon ? (size_t)(colon - p) : strlen(p);
    if (hlen == 0 || hlen >= sizeof cfg->host) {
        fprintf(stderr, "pingpong: bad host in --broker %s\n", url);
        return -1;
    }
    memcpy(cfg->host, p, hlen);
    cfg->host[hlen] = '\0';
    cfg->port = 1883;
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end != '\0' && *end != '/') {
            fprintf(stderr, "pingpong: bad port in --broker %s\n", url);
            return -1;
        }
        if (port < 1 || port > 65535)
            return -1;
        cfg->port = (int)port;
    }
    return 0;
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, config *cfg)
{
    const char *url = "mqtt://127.0.0.1:1883";
    long qos = 1;
    cfg->count = 200000;
    cfg->rounds = 2000;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(argv[0]);
            exit(0);
        } else if (!v) {
            bad = 1;
        } else if (strcmp(a, "--broker") == 0) {
            url = v;
        } else if (strcmp(a, "--count") == 0) {
            bad = parse_long(v, 0, 100000000, &cfg->count);
        } else if (strcmp(a, "--rounds") == 0) {
            bad = parse_long(v, 0, 10000000, &cfg->rounds);
        } else if (strcmp(a, "--qos") == 0) {
            bad = parse_long(v, 0, 1, &qos);
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "pingpong: bad argument %s %s\n", a, v ? v : "");
            usage(argv[0]);
            return -1;
        }
    }
    cfg->qos = (int)qos;
    return parse_url(url, cfg);
}

/* A connected client (callbacks set by the caller before connecting). */
static struct mosquitto *connect_client(const config *cfg, const char *role,
                                        void *ud)
{
    char id[64];
    snprintf(id, sizeof id, "pingpong-%ld-%s", (long)getpid(), role);
    struct mosquitto *m = mosquitto_new(id, true, ud);
    if (!m) {
        fprintf(stderr, "pingpong: mosquitto_new failed\n");
        return NULL;
    }
    if (cfg->user[0])
        mosquitto_username_pw_set(m, cfg->user, cfg->pass[0] ? cfg->pass : NULL);
    /* Without it Nagle holds a PUBACK's follower until the peer's delayed
     * ACK (about 40 ms), and a QoS 1 round trip measures that timer. */
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    int rc = mosquitto_connect(m, cfg->host, cfg->port, 30);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "pingpong: connect %s to %s:%d: %s\n", role, cfg->host,
                cfg->port, mosquitto_strerror(rc));
        mosquitto_destroy(m);
        return NULL;
    }
    return m;
}

/* Subscribe and wait (bounded) until the broker has granted it, driving the
 * client's loop in this thread. */
static int subscribe_sync(struct mosquitto *m, const char *topic, int qos)
{
    int rc = mosquitto_subscribe(m, NULL, topic, qos);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "pingpong: subscribe %s: %s\n", topic, mosquitto_strerror(rc));
        return -1;
    }
    /* A SUBACK arrives within a few loop turns; a short settle is simpler
     * than a callback and the flood cannot start before it is granted. */
    double until = now_s() + 0.2;
    while (now_s() < until) {
        rc = mosquitto_loop(m, 10, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "pingpong: loop: %s\n", mosquitto_strerror(rc));
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------- raw flood */

static void on_count(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    (void)m;
    (void)msg;
    counter *c = ud;
    atomic_fetch_add(&c->received, 1);
    atomic_store(&c->last_ns, now_ns());
}

/* Publish count messages, letting TCP pace the sender: a blocking-style
 * write per publish, and a loop turn whenever the socket has a backlog. */
static int flood(struct mosquitto *pub, const char *topic, long count,
                 double deadline)
{
    unsigned char payload[PAYLOAD_BYTES];
    memset(payload, 'x', sizeof payload);
    for (long i = 0; i < count; i++) {
        int rc = mosquitto_publish(pub, NULL, topic, sizeof payload, payload, 0, false);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "pingpong: publish: %s\n", mosquitto_strerror(rc));
            return -1;
        }
        while (mosquitto_want_write(pub)) {
            rc = mosquitto_loop(pub, 10, 1);
            if (rc != MOSQ_ERR_SUCCESS || now_s() > deadline) {
                fprintf(stderr, "pingpong: flood stalled: %s\n", mosquitto_strerror(rc));
                return -1;
            }
        }
        if ((i & 1023) == 0 && now_s() > deadline) {
            fprintf(stderr, "pingpong: flood passed its deadline after %ld\n", i);
            return -1;
        }
    }
    return 0;
}

static int run_raw(const config *cfg)
{
    char topic[128];
    snprintf(topic, sizeof topic, "bench/pingpong/%ld/raw", (long)getpid());
    counter c;
    atomic_init(&c.received, 0);
    atomic_init(&c.last_ns, 0);

    struct mosquitto *sub = connect_client(cfg, "sub", &c);
    struct mosquitto *pub = connect_client(cfg, "pub", NULL);
    int ret = -1;
    if (!sub || !pub)
        goto out;
    mosquitto_message_callback_set(sub, on_count);
    if (subscribe_sync(sub, topic, 0) != 0)
        goto out;
    if (mosquitto_loop_start(sub) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "pingpong: cannot start the subscriber thread\n");
        goto out;
    }

    double t0 = now_s();
    int frc = flood(pub, topic, cfg->count, t0 + DEADLINE_S);
    double t_sent = now_s();
    /* Wait until all arrived, nothing arrived for IDLE_S, or the deadline. */
    long last_seen = -1;
    double last_change = now_s();
    while (frc == 0) {
        long r = atomic_load(&c.received);
        double t = now_s();
        if (r >= cfg->count || t - last_change > IDLE_S || t - t0 > DEADLINE_S)
            break;
        if (r != last_seen) {
            last_seen = r;
            last_change = t;
        }
        mosquitto_loop(pub, 1, 1); /* keep the publisher's session alive */
    }
    mosquitto_disconnect(sub);
    mosquitto_loop_stop(sub, false);
    if (frc != 0)
        goto out;

    long got = atomic_load(&c.received);
    double secs = (double)atomic_load(&c.last_ns) / 1e9 - t0;
    if (got == 0 || secs <= 0) {
        fprintf(stderr, "pingpong: the subscriber received nothing\n");
        goto out;
    }
    printf("raw sent=%ld received=%ld lost=%ld payload=%d send_s=%.3f seconds=%.3f "
           "msgs_per_s=%.0f\n",
           cfg->count, got, cfg->count - got, PAYLOAD_BYTES, t_sent - t0, secs,
           (double)got / secs);
    ret = 0;
out:
    if (sub)
        mosquitto_destroy(sub);
    if (pub) {
        mosquitto_disconnect(pub);
        mosquitto_destroy(pub);
    }
    return ret;
}

/* ------------------------------------------------------------- ping-pong */

static void on_ping(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    const responder *r = ud;
    int rc = mosquitto_publish(m, NULL, r->pong_topic, msg->payloadlen, msg->payload,
                               r->qos, false);
    if (rc != MOSQ_ERR_SUCCESS)
        fprintf(stderr, "pingpong: pong: %s\n", mosquitto_strerror(rc));
}

static void on_pong(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    (void)m;
    (void)msg;
    waiter *w = ud;
    w->got = true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The value below which a fraction q of the sorted samples fall. */
static double percentile(const double *sorted, long n, double q)
{
    long i = (long)(q * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

/* One ping and its pong, driving the pinger's loop in this thread so the
 * measured time holds no thread hand-off of ours. Returns seconds or -1. */
static double one_round(struct mosquitto *ping, waiter *w, const char *topic, int qos)
{
    static const char payload[PAYLOAD_BYTES] = "ping";
    w->got = false;
    double t0 = now_s();
    int rc = mosquitto_publish(ping, NULL, topic, sizeof payload, payload, qos, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "pingpong: ping: %s\n", mosquitto_strerror(rc));
        return -1;
    }
    while (!w->got) {
        rc = mosquitto_loop(ping, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS || now_s() - t0 > ROUND_TIMEOUT_S) {
            fprintf(stderr, "pingpong: no pong within %.1f s (%s)\n", ROUND_TIMEOUT_S,
                    mosquitto_strerror(rc));
            return -1;
        }
    }
    return now_s() - t0;
}

static int run_rtt(const config *cfg)
{
    char ping_topic[128];
    responder r = {.qos = cfg->qos};
    waiter w = {0};
    snprintf(ping_topic, sizeof ping_topic, "bench/pingpong/%ld/ping", (long)getpid());
    snprintf(r.pong_topic, sizeof r.pong_topic, "bench/pingpong/%ld/pong", (long)getpid());

    double *samples = calloc((size_t)cfg->rounds, sizeof *samples);
    struct mosquitto *resp = connect_client(cfg, "responder", &r);
    struct mosquitto *ping = connect_client(cfg, "pinger", &w);
    int ret = -1;
    bool resp_running = false;
    if (!samples || !resp || !ping)
        goto out;
    mosquitto_message_callback_set(resp, on_ping);
    mosquitto_message_callback_set(ping, on_pong);
    if (subscribe_sync(resp, ping_topic, cfg->qos) != 0 ||
        subscribe_sync(ping, r.pong_topic, cfg->qos) != 0)
        goto out;
    if (mosquitto_loop_start(resp) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "pingpong: cannot start the responder thread\n");
        goto out;
    }
    resp_running = true;

    double t_start = now_s();
    for (long i = 0; i < WARMUP_ROUNDS; i++)
        if (one_round(ping, &w, ping_topic, cfg->qos) < 0)
            goto out;
    for (long i = 0; i < cfg->rounds; i++) {
        double s = one_round(ping, &w, ping_topic, cfg->qos);
        if (s < 0 || now_s() - t_start > DEADLINE_S) {
            fprintf(stderr, "pingpong: ping-pong failed or passed its deadline at round %ld\n", i);
            goto out;
        }
        samples[i] = s * 1e6;
    }
    double sum = 0;
    for (long i = 0; i < cfg->rounds; i++)
        sum += samples[i];
    qsort(samples, (size_t)cfg->rounds, sizeof *samples, cmp_double);
    printf("rtt rounds=%ld qos=%d payload=%d p50_us=%.1f p99_us=%.1f min_us=%.1f "
           "max_us=%.1f mean_us=%.1f\n",
           cfg->rounds, cfg->qos, PAYLOAD_BYTES, percentile(samples, cfg->rounds, 0.50),
           percentile(samples, cfg->rounds, 0.99), samples[0], samples[cfg->rounds - 1],
           sum / (double)cfg->rounds);
    ret = 0;
out:
    if (resp_running) {
        mosquitto_disconnect(resp);
        mosquitto_loop_stop(resp, false);
    }
    if (resp)
        mosquitto_destroy(resp);
    if (ping) {
        mosquitto_disconnect(ping);
        mosquitto_destroy(ping);
    }
    free(samples);
    return ret;
}

int main(int argc, char **argv)
{
    config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (parse_args(argc, argv, &cfg) != 0)
        return 2;
    mosquitto_lib_init();
    int rc = 0;
    if (cfg.count > 0 && run_raw(&cfg) != 0)
        rc = 1;
    if (rc == 0 && cfg.rounds > 0 && run_rtt(&cfg) != 0)
        rc = 1;
    fflush(stdout);
    mosquitto_lib_cleanup();
    return rc;
}
