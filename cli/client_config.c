/*
 * client_config.c - the configuration file of the client commands (see
 * client_config.h): which keys it may set, and their check, entry by
 * entry, with the same reasons as on the command line.
 * Depends on client_config.h, config.h, conn.h, opts.h and the C library.
 */
#include "client_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "opts.h"

#define CLUSTER_MAX 64 /* the longest id the protocol takes (FL_MAX_ID) */

/* The connection's settings: what every client command takes. Task
 * options and timeouts differ from command to command, so they stay on
 * the command line. */
static const struct cli_config_key client_keys[] = {
    {"broker", "--broker", NULL, CLI_KEY_VALUE, "FLORET_BROKER", NULL},
    {"password-file", "--password-file", NULL, CLI_KEY_VALUE, "FLORET_PASSWORD_FILE",
     "FLORET_PASSWORD"},
    {"tls-ca", "--tls-ca", NULL, CLI_KEY_VALUE, "FLORET_TLS_CA_FILE", NULL},
    {"tls-cert", "--tls-cert", NULL, CLI_KEY_VALUE, "FLORET_TLS_CERT_FILE", NULL},
    {"tls-key", "--tls-key", NULL, CLI_KEY_VALUE, "FLORET_TLS_KEY_FILE", NULL},
    {"log-format", "--log-format", NULL, CLI_KEY_VALUE, "FLORET_LOG_FORMAT", NULL},
    {"cluster", "--cluster", NULL, CLI_KEY_VALUE, NULL, NULL},
};

/* A cluster name as the protocol takes it: 1..64 bytes of [A-Za-z0-9_.-]. */
static bool cluster_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CLUSTER_MAX)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* One entry (argv: the subcommand, the flag, its value). */
static int check_entry(int argc, char **argv, void *ud)
{
    const char *cmd = ud;
    struct cli_conn conn;
    struct cli_url url;
    char err[CLI_PATH_BUF + 400];
    int i = 1;

    if (strcmp(argv[1], "--cluster") == 0) {
        if (argc < 3 || !cluster_ok(argv[2]))
            return cli_usage_error(cmd, "--cluster '%s': expected 1 to %d letters, digits, "
                                   "'_', '.' or '-'", argc < 3 ? "" : argv[2], CLUSTER_MAX);
        return -1;
    }
    memset(&conn, 0, sizeof conn);
    if (cli_conn_opt(argc, argv, &i, &conn, cmd) <= 0)
        return 2;
    /* The URL and the files are checked as the command would. */
    if (cli_conn_resolve(&conn, &url, err, sizeof err) != FL_OK)
        return cli_usage_error(cmd, "%s", err);
    return -1;
}

static bool has_config_flag(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--config") == 0 || strncmp(argv[i], "--config=", 9) == 0)
            return true;
    }
    return false;
}

int cli_client_config(int argc, char **argv, struct cli_config_argv *out)
{
    const char *env = getenv("FLORET_CONFIG");
    char **with = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    if (!has_config_flag(argc, argv) && env && *env) {
        /* $FLORET_CONFIG is --config given last: a flag for it wins. */
        with = calloc((size_t)argc + 3, sizeof *with);
        if (!with) {
            fprintf(stderr, "floret %s: out of memory\n", argv[0]);
            return 1;
        }
        memcpy(with, argv, (size_t)argc * sizeof *with);
        with[argc] = "--config";
        with[argc + 1] = (char *)env;
        argv = with;
        argc += 2;
    }
    rc = cli_config_args(argv[0], argc, argv, client_keys,
                         sizeof client_keys / sizeof client_keys[0], check_entry, argv[0],
                         out);
    free(with);
    return rc;
}
