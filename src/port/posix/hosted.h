/*
 * hosted.h - the few things the floret command borrows from the POSIX port
 * beyond the public header: broker URL parsing (so a command can check and
 * print a URL without its password) and a call that takes an attachment
 * with room for the lease in front of it.
 * Depends on the public header only, so cli/ can include it.
 */
#ifndef FL_HOSTED_H
#define FL_HOSTED_H

#include <stdbool.h>
#include <stddef.h>

#include "floret/floret.h"

/* Where the broker given when none is configured lives. */
#define FL_DEFAULT_BROKER "mqtt://127.0.0.1:1883"

/* Longest TLS file path accepted. */
#define FL_PATH_BUF 1024

/* A parsed broker URL: mqtt://[user:pass@]host[:port] or mqtts://...,
 * and, once fl__broker_resolve has run, the TLS files and the password
 * that came from options, files or the environment. */
typedef struct fl_url {
    bool tls;
    char host[256];
    int port;
    bool has_user;
    char user[256];
    char pass[256];
    char text[600]; /* the URL for logs: scheme://[user@]host:port, no password */
    char ca_file[FL_PATH_BUF];   /* "" = the system's CAs */
    char cert_file[FL_PATH_BUF]; /* "" = no client certificate */
    char key_file[FL_PATH_BUF];
} fl_url;

/* Where a connection's URL, TLS files and password come from; NULL fields
 * fall back on the environment (FLORET_BROKER, FLORET_TLS_CA_FILE,
 * FLORET_TLS_CERT_FILE, FLORET_TLS_KEY_FILE, FLORET_PASSWORD_FILE, FLORET_PASSWORD). */
typedef struct fl_broker_opts {
    const char *url;
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
    const char *password;
    const char *password_file;
} fl_broker_opts;

/* The URL and credentials a connection uses, checked: files readable, a
 * certificate with its key, TLS files only with mqtts://, a password only
 * with a user name. The password is, first found: in->password, the first
 * line of in->password_file, the URL's, $FLORET_PASSWORD_FILE's first line,
 * $FLORET_PASSWORD. FL_OK, or FL_EINVAL with a one-line reason in err. */
fl_status fl__broker_resolve(const fl_broker_opts *in, fl_url *out, char *err,
                             size_t errlen);

/* The URL a node uses: given (not NULL), else $FLORET_BROKER, else the
 * default. Never NULL. */
const char *fl__broker_url(const char *given);

/* Parse url. FL_OK, or FL_EINVAL with a one-line reason in err. */
fl_status fl__url_parse(const char *url, fl_url *out, char *err, size_t errlen);

/* fl_node_call_take for an attachment with room writable bytes in front
 * of it: the block from fl_malloc starts at att - room and is freed whole.
 * A lease that carries the attachment alone is then written into that
 * room and sent from there, not copied, when room >= fl__att_room(). */
fl_status fl__node_call_take_room(fl_node *node, const char *name, const char *args,
                                  const char *kwargs, void *att, size_t att_len,
                                  size_t room, const fl_call_options *opt,
                                  fl_result **out);

/* The room in front of an attachment that a lease's header fits in. */
size_t fl__att_room(void);


#endif
