/*
 * conn.c - the broker connection options shared by every subcommand that
 * connects (see conn.h).
 * Depends on conn.h, opts.h and the public header (fl_broker_check).
 */
#include "conn.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

int cli_conn_opt(int argc, char **argv, int *i, struct cli_conn *c, const char *cmd)
{
    static const struct {
        const char *name;
        size_t off;
    } opts[] = {
        {"--broker", offsetof(struct cli_conn, broker)},
        {"--password-file", offsetof(struct cli_conn, password_file)},
        {"--tls-ca", offsetof(struct cli_conn, ca_file)},
        {"--tls-cert", offsetof(struct cli_conn, cert_file)},
        {"--tls-key", offsetof(struct cli_conn, key_file)},
        {"--log-format", offsetof(struct cli_conn, log_format)},
    };
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        const char *v = NULL;
        int m = cli_opt(argc, argv, i, opts[k].name, &v, cmd);
        if (m < 0)
            return -1;
        if (m > 0) {
            *(const char **)((char *)c + opts[k].off) = v;
            return 1;
        }
    }
    return 0;
}

static const char *log_format_text(const struct cli_conn *c)
{
    const char *f = c->log_format ? c->log_format : getenv("FLORET_LOG_FORMAT");
    return f && f[0] ? f : "text";
}

int cli_conn_log_format(const struct cli_conn *c)
{
    return strcmp(log_format_text(c), "json") == 0 ? FL_LOG_JSON : FL_LOG_TEXT;
}

void cli_conn_apply(const struct cli_conn *c, fl_node_options *o)
{
    o->log_format = cli_conn_log_format(c);
    o->broker_url = c->broker;
    o->password_file = c->password_file;
    o->tls_ca_file = c->ca_file;
    o->tls_cert_file = c->cert_file;
    o->tls_key_file = c->key_file;
}

fl_status cli_conn_resolve(const struct cli_conn *c, struct cli_url *u, char *err,
                           size_t errlen)
{
    const char *f = log_format_text(c);
    if (strcmp(f, "text") != 0 && strcmp(f, "json") != 0) {
        snprintf(err, errlen, "%s '%s': expected text or json",
                 c->log_format ? "--log-format" : "FLORET_LOG_FORMAT", f);
        return FL_EINVAL;
    }
    fl_node_options o;
    fl_node_options_init(&o);
    cli_conn_apply(c, &o);
    return fl_broker_check(&o, u->text, sizeof u->text, err, errlen);
}
