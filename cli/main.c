/*
 * main.c - the floret command: picks the subcommand and hands it the rest
 * of the command line (for a client command, with its --config file's
 * settings in front). Each subcommand lives in its own file (cli.h).
 * Depends on cli.h, client_config.h and the public header.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client_config.h"
#include "floret/floret.h"
#include "malloc_tune.h"

struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    bool client; /* connects as a client: takes --config (client_config.h) */
};

static const struct subcommand commands[] = {
    {"node", cli_node, "run a node that executes tasks (until Ctrl-C)", false},
    {"call", cli_call, "run one task on the cluster and print its result", true},
    {"run", cli_run, "run a workflow (chain, group, chord, map...) and print its result", true},
    {"result", cli_result, "wait for a workflow started with 'floret run --async'", true},
    {"schedule", cli_schedule, "run workflows periodically at a durable keeper (as celery beat)", true},
    {"revoke", cli_revoke, "stop tasks or workflows by id OWNER:N (as celery revoke)", true},
    {"status", cli_status, "list the nodes of the cluster", true},
    {"events", cli_events, "print task events as the nodes send them", true},
    {"forget", cli_forget, "clear what the broker keeps of nodes that are gone", true},
    {"dashboard", cli_dashboard, "serve a live web page, /metrics and /api/status", true},
    {"local", cli_local, "run a command inside a private cluster on this machine", false},
    {"wordcount", cli_wordcount, "count words in files on the cluster", true},
    {"mandelbrot", cli_mandelbrot, "render the Mandelbrot set on the cluster, tinted by node", true},
    {"deploy", cli_deploy, "load a Lua tasks module on every node (signed)", true},
    {"undeploy", cli_undeploy, "remove a deployed Lua module from every node", true},
    {"shutdown", cli_shutdown, "ask a node, or all, to stop (signed)", true},
    {"keygen", cli_keygen, "make a key pair for signing deploys", false},
    {"broker-config", cli_broker_config, "write users, passwords and ACL for a Mosquitto broker", false},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: floret COMMAND [OPTIONS] [ARGS...]\n\n"
               "floret is a distributed task queue over MQTT.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n"
               "Run 'floret COMMAND --help' for a command's options.\n"
               "The broker is --broker URL, else $FLORET_BROKER, else the broker of the\n"
               "--config FILE (or $FLORET_CONFIG) of a client command, else\n"
               "mqtt://127.0.0.1:1883; URLs look like mqtt://[user@]host[:port], or\n"
               "mqtts://... for TLS.\n"
               "\n"
               "Options:\n"
               "  -h, --help     show this help\n"
               "  -V, --version  show the version\n");
}

/* `floret help CMD` is `floret CMD --help`, as with git and pip. */
static int help_command(const char *name)
{
    static char help_flag[] = "--help";

    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0) {
            char *args[3] = {(char *)commands[i].name, help_flag, NULL};
            return commands[i].run(2, args);
        }
    fprintf(stderr, "floret help: unknown command '%s'\nTry 'floret --help'.\n", name);
    return 2;
}

/* --help works whatever the configuration file holds. */
static bool asks_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    return false;
}

/* A client command with its configuration file's settings in front. */
static int run_command(const struct subcommand *c, int argc, char **argv)
{
    struct cli_config_argv cfg;
    int rc;
    if (!c->client || asks_help(argc, argv))
        return c->run(argc, argv);
    rc = cli_client_config(argc, argv, &cfg);
    if (rc >= 0)
        return rc;
    if (cfg.argc == 0)
        return c->run(argc, argv);
    rc = c->run(cfg.argc, cfg.argv);
    cli_config_argv_free(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd;

    cli_tune_malloc();
    /* A broker or a reader that goes away must give an error, not a kill. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    cmd = argv[1];
    if (strcmp(cmd, "help") == 0 && argc > 2)
        return help_command(argv[2]);
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("floret %s (protocol v%d)\n", FL_VERSION, FL_PROTOCOL_VERSION);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return run_command(&commands[i], argc - 1, argv + 1);
    fprintf(stderr, "floret: unknown command '%s'\nTry 'floret --help'.\n", cmd);
    return 2;
}
