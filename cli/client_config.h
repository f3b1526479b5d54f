/*
 * client_config.h - `--config FILE` (or $FLORET_CONFIG) for the commands
 * that connect as clients (call, run, status, wordcount, deploy ...): the
 * connection's settings from a key = value file (config.h), with the
 * precedence flag > environment > file > default of `floret node --config`.
 * Depends on config.h.
 */
#ifndef FLORET_CLI_CLIENT_CONFIG_H
#define FLORET_CLI_CLIENT_CONFIG_H

#include "config.h"

/*
 * If argv (argv[0] the subcommand) has --config FILE, or else
 * $FLORET_CONFIG names a file, put the file's settings in front of the
 * command line in out (cli_config_argv_free it). Returns -1 to go on
 * (out->argc 0: no file, use argv as it is), else the exit status after
 * an error that names FILE:LINE (2).
 */
int cli_client_config(int argc, char **argv, struct cli_config_argv *out);

#endif
