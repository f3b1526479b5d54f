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

#endif
