/*
 * conn.h - the options of every subcommand that connects to a broker:
 * --broker, --password-file, --tls-ca, --tls-cert and --tls-key, their help
 * text,
 * and how they reach a node's options or a plain MQTT connection. Each one
 * left out falls back on its FLORET_* environment variable.
 * Depends on the public header only.
 */
#ifndef FLORET_CLI_CONN_H
#define FLORET_CLI_CONN_H

#include <stddef.h>

#include "floret/floret.h"

/* Longest TLS file path accepted, for the room of error messages. */
#define CLI_PATH_BUF 1024

/* A checked broker URL, as logs show it (no password). */
struct cli_url {
    char text[600];
};

struct cli_conn {
    const char *broker; /* NULL: $FLORET_BROKER, then the default */
    const char *password_file;
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
    const char *log_format; /* "text", "json"; NULL: $FLORET_LOG_FORMAT */
};

/* The help lines of a client command's --config (cli/client_config.c,
 * handled in main.c before the command parses its options), and of the
 * connection's options, indented like every usage text. */
#define CLI_CONN_HELP CLI_CLIENT_CONFIG_HELP CLI_CONN_OPTS_HELP
#define CLI_CLIENT_CONFIG_HELP \
    "  --config FILE        connection settings from FILE, one 'KEY = VALUE' a\n" \
    "                       line (broker, password-file, tls-ca, tls-cert,\n" \
    "                       tls-key, log-format, cluster); default\n" \
    "                       $FLORET_CONFIG; flags and FLORET_* variables win\n"
#define CLI_CONN_OPTS_HELP \
    "  --broker URL         mqtt://[user@]host[:port] or mqtts://... (TLS); default\n" \
    "                       $FLORET_BROKER, else mqtt://127.0.0.1:1883. A password\n" \
    "                       written in the URL shows in ps: use --password-file\n" \
    "  --password-file F    the broker password is F's first line (default\n" \
    "                       $FLORET_PASSWORD_FILE, else $FLORET_PASSWORD)\n" \
    "  --tls-ca F           trust the CAs in PEM file F for mqtts:// (default\n" \
    "                       $FLORET_TLS_CA_FILE, else the system's CAs)\n" \
    "  --tls-cert F         client certificate (PEM) for mutual TLS (default\n" \
    "                       $FLORET_TLS_CERT_FILE)\n" \
    "  --tls-key F          the private key of --tls-cert (default\n" \
    "                       $FLORET_TLS_KEY_FILE)\n" \
    "  --log-format text|json\n" \
    "                       log lines as text (default) or as JSON, one object\n" \
    "                       per line (default $FLORET_LOG_FORMAT)\n"

/*
 * If argv[*i] is one of these options, take its value (advancing *i):
 * returns 1, or -1 when the value is missing (a usage error was printed
 * for subcommand cmd); 0 when argv[*i] is another argument.
 */
int cli_conn_opt(int argc, char **argv, int *i, struct cli_conn *c, const char *cmd);

/* FL_LOG_TEXT or FL_LOG_JSON, from --log-format or $FLORET_LOG_FORMAT
 * (cli_conn_resolve refused any other value). */
int cli_conn_log_format(const struct cli_conn *c);

/* Put c into a node's options. */
void cli_conn_apply(const struct cli_conn *c, fl_node_options *o);

/* Check c (and the environment) as a node will (fl_broker_check), and
 * --log-format; u gets the URL for messages. FL_OK or FL_EINVAL with a
 * one-line reason in err. */
fl_status cli_conn_resolve(const struct cli_conn *c, struct cli_url *u, char *err,
                           size_t errlen);

#endif
