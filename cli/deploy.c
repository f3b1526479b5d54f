/*
 * deploy.c - `floret deploy FILE.lua`, `floret undeploy MODULE` and
 * `floret shutdown NODE|all`: build a control message, sign it with the
 * key given (--key or $FLORET_KEY), and publish it on the cluster's control
 * topic; deploys and undeploys are retained so that nodes joining later
 * get the current modules (docs/protocol.md 3.9). A module is checked here
 * first, in the same sandbox and under the same limits the nodes use (its
 * top level in a child process), so a syntax error or a module the nodes
 * would refuse is reported before anything is sent.
 * Depends on cli.h, opts.h, ctl_publish.h, ctl_sign.h, deploy_check.h,
 * lua_runtime.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl_publish.h"
#include "ctl_sign.h"
#include "deploy_check.h"
#include "lua_runtime.h"
#include "conn.h"
#include "opts.h"

struct ctl_args {
    const char *what;    /* the positional argument */
    const char *name;    /* --name */
    const char *key;     /* --key or $FLORET_KEY */
    bool unsigned_;
    struct cli_conn conn;
    const char *cluster;
};

static void usage(const char *cmd, FILE *f)
{
    if (strcmp(cmd, "deploy") == 0)
        fprintf(f, "usage: floret deploy FILE.lua [--name MODULE] [--key FILE.key] [OPTIONS]\n\n"
                   "Load a Lua module on every node of the cluster, now and when they join\n"
                   "later; a new deploy of the same module replaces it (running tasks finish\n"
                   "on the old version). Its functions become the tasks MODULE.fn.\n\n");
    else if (strcmp(cmd, "undeploy") == 0)
        fprintf(f, "usage: floret undeploy MODULE [--key FILE.key] [OPTIONS]\n\n"
                   "Remove a deployed Lua module from every node.\n\n");
    else
        fprintf(f, "usage: floret shutdown NODE|all [--key FILE.key] [OPTIONS]\n\n"
                   "Ask a node (or every node) to stop gracefully.\n\n");
    fprintf(f, "Options:\n");
    /* Only deploy takes --name: help lists what the parser accepts. */
    if (strcmp(cmd, "deploy") == 0)
        fprintf(f, "  --name MODULE   module name (default: the file name without .lua)\n");
    fprintf(f, "  --key FILE.key  sign with this key from floret keygen (default $FLORET_KEY)\n"
               "  --unsigned      send unsigned (only nodes started with\n"
               "                  --insecure-allow-unsigned accept it)\n"
               CLI_CONN_HELP
               "  --cluster NAME  default: default\n"
               "  -h, --help      show this help\n");
}

static int parse(const char *cmd, int argc, char **argv, struct ctl_args *a)
{
    memset(a, 0, sizeof *a);
    a->key = getenv("FLORET_KEY");
    if (a->key && !*a->key)
        a->key = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(cmd, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--unsigned") == 0) {
            a->unsigned_ = true;
        } else if (strcmp(cmd, "deploy") == 0 &&
                   (m = cli_opt(argc, argv, &i, "--name", &v, cmd)) != 0) {
            if (m < 0)
                return 2;
            a->name = v;
        } else if ((m = cli_opt(argc, argv, &i, "--key", &v, cmd)) != 0) {
            if (m < 0)
                return 2;
            a->key = v;
        } else if ((m = cli_conn_opt(argc, argv, &i, &a->conn, cmd)) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(argc, argv, &i, "--cluster", &v, cmd)) != 0) {
            if (m < 0)
                return 2;
            a->cluster = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        } else if (a->what) {
            return cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        } else {
            a->what = argv[i];
        }
    }
    if (!a->what)
        return cli_usage_error(cmd, "%s", strcmp(cmd, "deploy") == 0 ? "which file? e.g. floret deploy tasks.lua"
                               : strcmp(cmd, "undeploy") == 0 ? "which module? e.g. floret undeploy tasks"
                               : "which node? a node id, or all");
    if (!a->key && !a->unsigned_)
        return cli_usage_error(cmd, "no key: give --key FILE.key (made by floret keygen) or set "
                               "FLORET_KEY; --unsigned only for nodes started with "
                               "--insecure-allow-unsigned");
    if (a->key && a->unsigned_)
        return cli_usage_error(cmd, "--key and --unsigned exclude each other");
    return -1;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Read a whole file of at most max bytes; NULL after printing why. */
static char *read_file(const char *cmd, const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "floret %s: %s: %s\n", cmd, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    bool err = ferror(f);
    fclose(f);
    if (!buf || err || n > max) {
        fprintf(stderr, "floret %s: %s: %s\n", cmd, path,
                !buf ? "out of memory" : err ? "read error" : "larger than 1 MiB");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The module name from --name or the file name. */
static int module_name(const struct ctl_args *a, char *out, size_t cap)
{
    const char *base = strrchr(a->what, '/');
    base = base ? base + 1 : a->what;
    size_t n = strlen(base);
    if (a->name)
        snprintf(out, cap, "%s", a->name);
    else
        snprintf(out, cap, "%.*s", (int)(n > 4 && strcmp(base + n - 4, ".lua") == 0 ? n - 4 : n),
                 base);
    if (!fl__lua_valid_module_name(out))
        return cli_usage_error("deploy", "module name '%s' is not valid: use 1 to %d of "
                               "A-Z a-z 0-9 _ - (no dot; give one with --name)", out,
                               FL_LUA_MAX_MODULE_NAME);
    return -1;
}

/* Check the module in the nodes' sandbox, with a node's default limits
 * (its top level in a child process, killed after the load limit);
 * prints its tasks. */
static int check_module(const char *name, const char *src, size_t len)
{
    char err[700];
    fl_lua_module *m = NULL;
    fl_status st = fl__deploy_check_run(name, "", src, len, NULL, FL_LUA_DEFAULT_LOAD_MS,
                                        NULL, NULL, &m, err, sizeof err);
    if (st != FL_OK) {
        fprintf(stderr, "floret deploy: %s\n", err);
        return 1;
    }
    printf("module %s, tasks", name);
    for (size_t i = 0; i < fl__lua_module_nfn(m); i++)
        printf("%s %s.%s", i ? "," : ":", name, fl__lua_module_fn(m, i));
    printf("\n");
    fl__lua_module_unref(m);
    return -1;
}

static int send_ctl(const char *cmd, const struct ctl_args *a, fl_ctl_msg *msg,
                const char *src, size_t len)
{
    fl_ctl_key key;
    char err[600], topic[256], from[64];
    const char *cluster = a->cluster ? a->cluster : "default";
    uint8_t *payload = NULL;
    size_t plen = 0;
    bool shutdown = strcmp(msg->kind, "shutdown") == 0;
    if (fl__ctl_init() != FL_OK) {
        fprintf(stderr, "floret %s: cannot initialise libsodium\n", cmd);
        return 1;
    }
    if (a->key) {
        if (fl__ctl_key_read(a->key, &key, err, sizeof err) != FL_OK)
            return cli_usage_error(cmd, "--key: %s", err);
        if (!key.has_secret)
            return cli_usage_error(cmd, "--key %s is a public key; sign with the .key file",
                                   a->key);
    }
    snprintf(from, sizeof from, "cli-%ld", (long)getpid());
    msg->ts = wall_ms();
    fl_status st = fl__ctl_build(cluster, from, msg, src, len, a->key ? &key : NULL,
                                 &payload, &plen);
    memset(&key, 0, sizeof key);
    if (st != FL_OK) {
        fprintf(stderr, "floret %s: cannot build the message: %s\n", cmd, fl_strerror(st));
        return 1;
    }
    if (shutdown)
        snprintf(topic, sizeof topic, "floret/v1/%s/ctl", cluster);
    else
        snprintf(topic, sizeof topic, "floret/v1/%s/ctl/%s", cluster, msg->target);
    int rc = cli_ctl_publish(cmd, &a->conn, topic, payload, plen, !shutdown);
    fl_free(payload);
    if (rc == 0)
        printf("%s %s%s%s sent to cluster %s (%s)\n", cmd, msg->target,
               msg->version[0] ? " version " : "", msg->version, cluster,
               msg->signed_ ? "signed" : "UNSIGNED");
    return rc;
}

int cli_deploy(int argc, char **argv)
{
    struct ctl_args a;
    fl_ctl_msg msg;
    size_t len = 0;
    int rc = parse("deploy", argc, argv, &a);
    if (rc >= 0)
        return rc;
    memset(&msg, 0, sizeof msg);
    snprintf(msg.kind, sizeof msg.kind, "deploy");
    if ((rc = module_name(&a, msg.target, sizeof msg.target)) >= 0)
        return rc;
    char *src = read_file("deploy", a.what, FL_LUA_MAX_SOURCE, &len);
    if (!src)
        return 1;
    rc = check_module(msg.target, src, len);
    if (rc < 0)
        rc = send_ctl("deploy", &a, &msg, src, len);
    free(src);
    return rc;
}

int cli_undeploy(int argc, char **argv)
{
    struct ctl_args a;
    fl_ctl_msg msg;
    int rc = parse("undeploy", argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (!fl__lua_valid_module_name(a.what))
        return cli_usage_error("undeploy", "'%s' is not a module name", a.what);
    memset(&msg, 0, sizeof msg);
    snprintf(msg.kind, sizeof msg.kind, "undeploy");
    snprintf(msg.target, sizeof msg.target, "%s", a.what);
    return send_ctl("undeploy", &a, &msg, NULL, 0);
}

int cli_shutdown(int argc, char **argv)
{
    struct ctl_args a;
    fl_ctl_msg msg;
    int rc = parse("shutdown", argc, argv, &a);
    if (rc >= 0)
        return rc;
    memset(&msg, 0, sizeof msg);
    snprintf(msg.kind, sizeof msg.kind, "shutdown");
    snprintf(msg.target, sizeof msg.target, "%s", strcmp(a.what, "all") == 0 ? "*" : a.what);
    if (strcmp(msg.target, "*") != 0 && strlen(msg.target) > 64)
        return cli_usage_error("shutdown", "'%s' is not a node id", a.what);
    return send_ctl("shutdown", &a, &msg, NULL, 0);
}
