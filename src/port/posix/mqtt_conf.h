/*
 * mqtt_conf.h - how every floret connection sets up its libmosquitto
 * handle from a resolved broker URL (hosted.h): user and password, TLS
 * with the system's CAs or a CA file, a client certificate for mutual TLS,
 * peer and host name verification always on; and the one-line reason of a
 * failed TLS handshake. Shared by the node's transport and the commands
 * that talk MQTT themselves (floret deploy, floret local).
 * Depends on hosted.h and libmosquitto.
 */
#ifndef FL_MQTT_CONF_H
#define FL_MQTT_CONF_H

#include <stddef.h>

#include <mosquitto.h>

#include "hosted.h"

/* Where the system's CA certificates live (Debian's ca-certificates). */
#define FL_SYSTEM_CA_DIR "/etc/ssl/certs"

/* Apply u's credentials and TLS settings to m. MOSQ_ERR_SUCCESS, or a
 * libmosquitto error with a one-line reason in err (which file, what). */
int fl__mqtt_configure(struct mosquitto *m, const fl_url *u, char *err,
                       size_t errlen);

/* If libmosquitto's error line s is about TLS, write "TLS handshake failed:
 * REASON" into out (naming the certificate check that failed: its chain,
 * or not being for host) and return 1; else 0. Call it from the log callback, while
 * the failed connection's TLS state still exists. */
int fl__mqtt_tls_reason(struct mosquitto *m, const char *host, const char *s,
                        char *out, size_t cap);

/* Forget the last attempt's TLS alert: call before each connection
 * attempt, on the thread that runs the connection's loop. */
void fl__mqtt_tls_attempt(void);

/* Watch m's TLS alerts: libmosquitto makes a connection's TLS state only
 * once its TCP connect is done, so call this before each read. */
void fl__mqtt_tls_watch(struct mosquitto *m);

/* libmosquitto fails a connection without logging why when the broker's
 * alert is read after the handshake, as TLS 1.3's "certificate required"
 * is: if the attempt watched on this thread got a fatal alert, write "TLS
 * handshake failed: the broker sent ALERT" into out and return 1; else 0. */
int fl__mqtt_tls_alert_reason(char *out, size_t cap);

/* The reason for a TLS connection that was closed or reset at the start
 * without an alert seen: a broker that requires a client certificate
 * resets a TCP connection whose CONNECT it did not read, and the reset
 * discards its alert. */
#define FL_TLS_CLOSED_EARLY "TLS handshake failed: the broker closed the connection " \
    "(does it require a client certificate? see --tls-cert)"

#endif
