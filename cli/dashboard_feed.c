/*
 * dashboard_feed.c - the picture feed's MQTT connection (dashboard_feed.h):
 * a libmosquitto handle with its own network thread, set up with the same
 * credentials and TLS as a node (fl_broker_resolve), that publishes at QoS
 * 0 or subscribes to one filter, and resubscribes after a reconnection.
 * Depends on dashboard_feed.h, conn.h, the public header, libmosquitto and
 * pthreads.
 */
#include "dashboard_feed.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "floret/floret.h"

#define ID_MAX 64
#define KEEPALIVE_S 10
#define SYSTEM_CA_DIR "/etc/ssl/certs" /* Debian's, as a node uses */
#define VERIFY_PEER 1                  /* OpenSSL's SSL_VERIFY_PEER */

struct cli_feed {
    struct mosquitto *m;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool connected;
    int connack;     /* -1 before the first answer */
    int acked_mid;   /* the last QoS 1 publish acknowledged */
    char filter[256];
    cli_feed_msg_fn fn;
    void *ud;
};

/* The broker settings of conn as a node resolves them. */
static fl_status resolve(const struct cli_conn *conn, fl_broker_settings *u,
                         char *err, size_t errlen)
{
    fl_node_options o;
    fl_node_options_init(&o);
    cli_conn_apply(conn, &o);
    return fl_broker_resolve(&o, u, err, errlen);
}

/* Credentials and TLS of u on m, as a node's connection has them: the
 * broker's certificate and host name verified, never insecure. */
static int configure(struct mosquitto *m, const fl_broker_settings *u,
                     char *err, size_t errlen)
{
    int rc = MOSQ_ERR_SUCCESS;
    if (u->has_user)
        rc = mosquitto_username_pw_set(m, u->user,
                                       u->password[0] ? u->password : NULL);
    if (rc == MOSQ_ERR_SUCCESS && u->tls)
        rc = mosquitto_tls_set(m, u->ca_file[0] ? u->ca_file : NULL,
                               u->ca_file[0] ? NULL : SYSTEM_CA_DIR,
                               u->cert_file[0] ? u->cert_file : NULL,
                               u->key_file[0] ? u->key_file : NULL, NULL);
    if (rc == MOSQ_ERR_SUCCESS && u->tls)
        rc = mosquitto_tls_opts_set(m, VERIFY_PEER, NULL, NULL);
    if (rc == MOSQ_ERR_SUCCESS && u->tls)
        rc = mosquitto_tls_insecure_set(m, false);
    if (rc != MOSQ_ERR_SUCCESS)
        snprintf(err, errlen, "cannot set up the connection to %s: %s", u->url,
                 mosquitto_strerror(rc));
    return rc;
}

int cli_feed_id(const struct cli_conn *conn, const char *node_id, char *id,
                char *err, size_t errlen)
{
    fl_broker_settings u;
    const char *base = node_id;
    size_t ulen = 0, room;
    if (resolve(conn, &u, err, errlen) != FL_OK)
        return -1;
    memset(u.password, 0, sizeof u.password);
    if (u.has_user) {
        ulen = strlen(u.user);
        if (strncmp(node_id, u.user, ulen) == 0 && node_id[ulen] == '.')
            base = node_id + ulen + 1;
    }
    /* room for the client id part: 64 bytes in all, "-pic" included */
    if ((u.has_user && ulen + 1 + 1 + 4 > ID_MAX) || !*base) {
        snprintf(err, errlen, "user name '%s' leaves no room for a feed id", u.user);
        return -1;
    }
    room = ID_MAX - 4 - (u.has_user ? ulen + 1 : 0);
    /* ulen < ID_MAX here: the precision tells the compiler so too */
    snprintf(id, ID_MAX + 1, "%.*s%s%.*s-pic", (int)ulen, u.has_user ? u.user : "",
             u.has_user ? "." : "", (int)room, base);
    return 0;
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    struct cli_feed *f = ud;
    if (rc == 0 && f->filter[0])
        mosquitto_subscribe(m, NULL, f->filter, 0);
    pthread_mutex_lock(&f->mu);
    f->connected = rc == 0;
    f->connack = rc;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc)
{
    struct cli_feed *f = ud;
    (void)m;
    (void)rc;
    pthread_mutex_lock(&f->mu);
    f->connected = false;
    pthread_mutex_unlock(&f->mu);
}

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
    struct cli_feed *f = ud;
    (void)m;
    pthread_mutex_lock(&f->mu);
    f->acked_mid = mid;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    struct cli_feed *f = ud;
    (void)m;
    if (f->fn && msg->payloadlen >= 0)
        f->fn(f->ud, msg->topic, msg->payload, (size_t)msg->payloadlen);
}

static void deadline_in(struct timespec *dl, uint32_t ms)
{
    clock_gettime(CLOCK_REALTIME, dl);
    dl->tv_sec += ms / 1000;
    dl->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl->tv_nsec >= 1000000000L) {
        dl->tv_sec++;
        dl->tv_nsec -= 1000000000L;
    }
}

static int start(struct cli_feed *f, const fl_broker_settings *u, uint32_t wait_ms, char *err,
                 size_t errlen)
{
    struct timespec dl;
    int rc = configure(f->m, u, err, errlen);
    if (rc != MOSQ_ERR_SUCCESS)
        return -1;
    mosquitto_connect_callback_set(f->m, on_connect);
    mosquitto_disconnect_callback_set(f->m, on_disconnect);
    mosquitto_publish_callback_set(f->m, on_publish);
    mosquitto_message_callback_set(f->m, on_message);
    mosquitto_reconnect_delay_set(f->m, 1, 10, true);
    rc = mosquitto_connect_async(f->m, u->host, u->port, KEEPALIVE_S);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_loop_start(f->m);
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "cannot connect to %s: %s", u->url,
                 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        return -1;
    }
    deadline_in(&dl, wait_ms);
    pthread_mutex_lock(&f->mu);
    while (f->connack == -1)
        if (pthread_cond_timedwait(&f->cv, &f->mu, &dl) == ETIMEDOUT)
            break;
    rc = f->connack;
    pthread_mutex_unlock(&f->mu);
    if (rc != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", u->url,
                 rc == -1 ? "no answer" : mosquitto_connack_string(rc));
        return -1;
    }
    return 0;
}

struct cli_feed *cli_feed_open(const struct cli_conn *conn, const char *id,
                               const char *filter, cli_feed_msg_fn fn, void *ud,
                               uint32_t wait_ms, char *err, size_t errlen)
{
    fl_broker_settings u;
    const char *dot = strchr(id, '.');
    struct cli_feed *f;
    if (resolve(conn, &u, err, errlen) != FL_OK)
        return NULL;
    if (filter && strlen(filter) >= sizeof f->filter) {
        snprintf(err, errlen, "topic filter too long");
        return NULL;
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->connack = -1;
    f->acked_mid = -1;
    f->fn = fn;
    f->ud = ud;
    if (filter)
        snprintf(f->filter, sizeof f->filter, "%s", filter);
    mosquitto_lib_init();
    /* A node id <user>.<c> connects as client <c> (protocol.md section 1). */
    f->m = mosquitto_new(u.has_user && dot ? dot + 1 : id, true, f);
    int rc = -1;
    if (!f->m)
        snprintf(err, errlen, "out of memory");
    else
        rc = start(f, &u, wait_ms, err, errlen);
    memset(u.password, 0, sizeof u.password); /* libmosquitto has its copy */
    if (rc == 0)
        return f;
    cli_feed_close(f);
    return NULL;
}

int cli_feed_publish(struct cli_feed *f, const char *topic, const void *payload,
                     size_t len)
{
    bool up;
    pthread_mutex_lock(&f->mu);
    up = f->connected;
    pthread_mutex_unlock(&f->mu);
    if (!up || len > (size_t)INT32_MAX)
        return -1;
    return mosquitto_publish(f->m, NULL, topic, (int)len, payload, 0, false) ==
                   MOSQ_ERR_SUCCESS
               ? 0
               : -1;
}

int cli_feed_publish_wait(struct cli_feed *f, const char *topic, const void *payload,
                          size_t len, uint32_t wait_ms)
{
    struct timespec dl;
    int mid = -1, ok;
    if (len > (size_t)INT32_MAX ||
        mosquitto_publish(f->m, &mid, topic, (int)len, payload, 1, false) != MOSQ_ERR_SUCCESS)
        return -1;
    deadline_in(&dl, wait_ms);
    pthread_mutex_lock(&f->mu);
    while (f->acked_mid != mid)
        if (pthread_cond_timedwait(&f->cv, &f->mu, &dl) == ETIMEDOUT)
            break;
    ok = f->acked_mid == mid;
    pthread_mutex_unlock(&f->mu);
    return ok ? 0 : -1;
}

void cli_feed_close(struct cli_feed *f)
{
    if (!f)
        return;
    if (f->m) {
        /* Connected: the DISCONNECT leaves after what is queued and the
         * network thread ends with it; else stop the thread where it is. */
        bool forced = mosquitto_disconnect(f->m) != MOSQ_ERR_SUCCESS;
        mosquitto_loop_stop(f->m, forced);
        mosquitto_destroy(f->m);
    }
    mosquitto_lib_cleanup();
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}
