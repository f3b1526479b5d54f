/*
 * config.h - configuration files of the key = value kind (as mosquitto.conf,
 * with an equals sign): one setting per line, '#' starts a comment line,
 * blank lines are ignored, a key is what the matching long option is called
 * without its dashes ("slots = 2" is --slots 2). A subcommand lists the keys
 * it takes; cli_config_args turns a file into options placed before the
 * command line's, leaving out what the command line or the environment
 * already sets, so the precedence is flag > environment > file > default.
 * Depends on the C library and opts.h.
 */
#ifndef FLORET_CLI_CONFIG_H
#define FLORET_CLI_CONFIG_H

#include <stddef.h>

enum cli_key_kind {
    CLI_KEY_VALUE,  /* --flag VALUE, once */
    CLI_KEY_REPEAT, /* --flag VALUE, any number of times */
    CLI_KEY_BOOL    /* a flag without value: true adds it, false not */
};

struct cli_config_key {
    const char *key;   /* "slots" */
    const char *flag;  /* "--slots" */
    const char *alias; /* a short form that also sets it on the command line ("-v"), or NULL */
    enum cli_key_kind kind;
    const char *env;   /* an environment variable that beats the file, or NULL */
    const char *env2;  /* a second one (FLORET_PASSWORD beside ..._FILE) */
};

/* A command line with a file's settings in front of it. */
struct cli_config_argv {
    int argc;
    char **argv;       /* argv[0] of the command, the file's options, the rest */
    char *text;        /* the file's text, which argv points into */
    char where[600];   /* "FILE:LINE" of the entry being checked */
};

/*
 * If argv has --config FILE (or --config=FILE), read FILE and build in out
 * the command line: argv[0], the file's options, then argv without
 * --config. check(argc, argv, ud) is called once per entry with just that
 * option (cli_error_where set to "FILE:LINE"), so a bad value is refused
 * where it was written; it returns -1 when the option is good, else an
 * exit status. Returns -1 to go on (out->argc is 0 when there was no
 * --config), else an exit status (2: a bad file, its line and why).
 */
int cli_config_args(const char *cmd, int argc, char **argv,
                    const struct cli_config_key *keys, size_t nkeys,
                    int (*check)(int argc, char **argv, void *ud), void *ud,
                    struct cli_config_argv *out);

void cli_config_argv_free(struct cli_config_argv *a);

#endif
