/*
 * mqtt_conf.c - the shared libmosquitto set-up of every floret connection
 * and the reason of a failed TLS handshake (see mqtt_conf.h).
 * Depends on mqtt_conf.h, libmosquitto and OpenSSL (only to ask why a
 * certificate was refused; libmosquitto says no more than "verify failed").
 */
#include "mqtt_conf.h"

#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

/* The last fatal alert the broker sent on this thread's connection. One
 * connection per loop thread, so a thread-local is enough. */
static _Thread_local char alert_read[96];

static void on_tls_info(const SSL *ssl, int where, int ret)
{
    const char *desc;
    (void)ssl;
    if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT || (ret >> 8) != SSL3_AL_FATAL)
        return;
    /* OpenSSL 3.0 has no text for TLS 1.3's certificate_required (116). */
    desc = (ret & 0xff) == 116 ? "certificate required (no client certificate given)"
                               : SSL_alert_desc_string_long(ret);
    snprintf(alert_read, sizeof alert_read, "%s", desc);
}

int fl__mqtt_configure(struct mosquitto *m, const fl_url *u, char *err,
                       size_t errlen)
{
    int rc = MOSQ_ERR_SUCCESS;
    if (u->has_user)
        rc = mosquitto_username_pw_set(m, u->user, u->pass[0] ? u->pass : NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "cannot set the broker user: %s", mosquitto_strerror(rc));
        return rc;
    }
    if (!u->tls)
        return MOSQ_ERR_SUCCESS;
    rc = mosquitto_tls_set(m, u->ca_file[0] ? u->ca_file : NULL,
                           u->ca_file[0] ? NULL : FL_SYSTEM_CA_DIR,
                           u->cert_file[0] ? u->cert_file : NULL,
                           u->key_file[0] ? u->key_file : NULL, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, errlen, "cannot set up TLS for %s (CA %s%s%s): %s", u->text,
                 u->ca_file[0] ? u->ca_file : FL_SYSTEM_CA_DIR,
                 u->cert_file[0] ? ", certificate " : "", u->cert_file,
                 mosquitto_strerror(rc));
        return rc;
    }
    /* Verify the broker's certificate and host name; never insecure. */
    rc = mosquitto_tls_opts_set(m, SSL_VERIFY_PEER, NULL, NULL);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_tls_insecure_set(m, false);
    if (rc != MOSQ_ERR_SUCCESS)
        snprintf(err, errlen, "cannot set up TLS for %s: %s", u->text,
                 mosquitto_strerror(rc));
    return rc;
}

/* OpenSSL's "error:0A000086:SSL routines::certificate verify failed" ends
 * in the readable part. */
static const char *last_part(const char *s)
{
    const char *p = strrchr(s, ':');
    return p && p[1] ? p + 1 : s;
}

int fl__mqtt_tls_reason(struct mosquitto *m, const char *host, const char *s,
                        char *out, size_t cap)
{
    SSL *ssl;
    long vr;
    if (!strstr(s, "OpenSSL Error") && !strstr(s, "TLS") && !strstr(s, "SSL"))
        return 0;
    ssl = mosquitto_ssl_get(m);
    vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    /* libmosquitto checks the host name in a verify callback of its own,
     * after OpenSSL accepted the chain; its refusal carries no reason, so
     * OpenSSL reports it as unspecified. */
    if (vr == X509_V_ERR_UNSPECIFIED)
        snprintf(out, cap, "TLS handshake failed: the broker's certificate is not "
                 "for host name '%s'", host);
    else if (vr != X509_V_OK)
        snprintf(out, cap, "TLS handshake failed: the broker's certificate was refused: %s",
                 X509_verify_cert_error_string(vr));
    else
        snprintf(out, cap, "TLS handshake failed: %s", last_part(s));
    return 1;
}

void fl__mqtt_tls_attempt(void)
{
    alert_read[0] = '\0';
}

void fl__mqtt_tls_watch(struct mosquitto *m)
{
    SSL *ssl = mosquitto_ssl_get(m);
    if (ssl && SSL_get_info_callback(ssl) != on_tls_info)
        SSL_set_info_callback(ssl, on_tls_info);
}

int fl__mqtt_tls_alert_reason(char *out, size_t cap)
{
    if (!alert_read[0])
        return 0;
    snprintf(out, cap, "TLS handshake failed: the broker sent alert: %s", alert_read);
    return 1;
}
