/*
 * deploy.c - `floret deploy FILE.lua`, `floret undeploy MODULE` and
 * `floret shutdown NODE|all`: sign a control message with the key given
 * (--key or $FLORET_KEY), send it on the cluster's control topic from a
 * zero-slot node, and wait (--timeout) for every online node's answer,
 * printing one line per node: accepted, refused (its reason) or no answer
 * (docs/protocol.md 3.9). Exit 0 when every node accepted, 1 when none
 * did, 5 when some did and some did not (docs/operations.md). Deploys and
 * undeploys are retained, so nodes that join later get the current
 * modules. A module is checked here first, in the same sandbox and under
 * the same limits the nodes use, and the key is read before anything is
 * printed, so a syntax error, a module the nodes would refuse or a
 * missing key fails with nothing on stdout and nothing sent.
 * Depends on the public header, cli.h, opts.h, conn.h, client.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "conn.h"
#include "floret/floret.h"
#include "opts.h"

#define DEFAULT_TIMEOUT_S 5.0
#define MAX_ANSWERS 1024

struct ctl_args {
    const char *what;    /* the positional argument */
    const char *name;    /* --name */
    const char *key;     /* --key or $FLORET_KEY */
    bool unsigned_;
    double timeout_s;    /* --timeout: wait this long for the answers */
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
               "  --timeout S     wait this long for the nodes' answers (default 5)\n"
               CLI_CONN_HELP
               "  --cluster NAME  default: default\n"
               "  -h, --help      show this help\n");
}

static int parse(const char *cmd, int argc, char **argv, struct ctl_args *a)
{
    memset(a, 0, sizeof *a);
    a->timeout_s = DEFAULT_TIMEOUT_S;
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
        } else if ((m = cli_opt(argc, argv, &i, "--timeout", &v, cmd)) != 0) {
            if (m < 0 || cli_parse_timeout(cmd, "--timeout", v, CLI_MAX_SECONDS,
                                           &a->timeout_s) != 0)
                return 2;
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
    if (!fl_module_name_valid(out))
        return cli_usage_error("deploy", "module name '%s' is not valid: use 1 to %d of "
                               "A-Z a-z 0-9 _ - (no dot; give one with --name)", out,
                               FL_MODULE_NAME_MAX);
    return -1;
}

/* The signing key of --key (NULL for --unsigned), read before anything
 * is printed or sent. -1 when fine, else the exit status. */
static int load_key(const char *cmd, const struct ctl_args *a, fl_key **key)
{
    char err[600];
    *key = NULL;
    if (!a->key)
        return -1;
    fl_status st = fl_key_load(a->key, key, err, sizeof err);
    if (st == FL_ENOMEM) {
        fprintf(stderr, "floret %s: out of memory\n", cmd);
        return 1;
    }
    if (st != FL_OK)
        return cli_usage_error(cmd, "--key: %s", err);
    if (!fl_key_can_sign(*key)) {
        fl_key_free(*key);
        *key = NULL;
        return cli_usage_error(cmd, "--key %s is a public key; sign with the .key file",
                               a->key);
    }
    return -1;
}

/* Check the module in the nodes' sandbox, with a node's default limits;
 * *tasks gets its task names. -1 when fine, else the exit status. */
static int check_module(const char *name, const char *src, size_t len, char **tasks)
{
    char err[700];
    if (fl_module_check(name, src, len, tasks, err, sizeof err) != FL_OK) {
        fprintf(stderr, "floret deploy: %s\n", err);
        return 1;
    }
    return -1;
}

/* One line per node on stdout, then the exit status: 0 all accepted
 * (or, for a retained deploy or undeploy, nobody online to ask), 1 none
 * accepted, 5 some. The nodes that did not accept are named on stderr. */
static int report(const char *cmd, const fl_control *c, const fl_control_answer *ans,
                  size_t n)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        const fl_control_answer *a = &ans[i];
        ok += a->answer == FL_ANSWER_ACCEPTED;
        if (a->answer == FL_ANSWER_ACCEPTED)
            printf("%s: accepted\n", a->node);
        else if (a->answer == FL_ANSWER_REFUSED)
            printf("%s: refused: %s\n", a->node, a->reason);
        else
            printf("%s: %s\n", a->node, a->reason);
    }
    if (n == 0 && c->kind != FL_CONTROL_SHUTDOWN) {
        printf("no node online: retained on the broker for the nodes that join\n");
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (fflush(stdout) != 0)
        return 1;
    if (ok == n)
        return 0;
    char names[2048] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof names - 1; i++)
        if (ans[i].answer != FL_ANSWER_ACCEPTED)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s (%s)",
                                     used ? ", " : "", ans[i].node,
                                     ans[i].answer == FL_ANSWER_REFUSED ? "refused"
                                                                       : "no answer");
    if (ok == 0)
        fprintf(stderr, "error: no node accepted the %s: %s\n", cmd, names);
    else
        fprintf(stderr, "error: %zu of %zu nodes accepted the %s; not: %s\n", ok, n, cmd,
                names);
    return ok == 0 ? 1 : 5;
}

/* Connect, send c, wait for the answers, report them. */
static int send_ctl(const char *cmd, const struct ctl_args *a, fl_control *c,
                    const char *tasks)
{
    struct cli_client cl;
    memset(&cl, 0, sizeof cl);
    cl.cmd = cmd;
    cl.conn = a->conn;
    cl.cluster = a->cluster;
    int rc = cli_client_start(&cl);
    if (rc >= 0)
        return rc;
    fl_control_answer *ans = calloc(MAX_ANSWERS, sizeof *ans);
    size_t n = 0;
    c->timeout_ms = (uint32_t)(a->timeout_s * 1000.0 + 0.5);
    fl_status st = ans ? fl_node_control(cl.node, c, ans, MAX_ANSWERS, &n) : FL_ENOMEM;
    cli_client_stop(&cl);
    if (st != FL_OK) {
        fprintf(stderr, "floret %s: cannot send it: %s\n", cmd, fl_strerror(st));
        free(ans);
        return 1;
    }
    if (tasks) {
        printf("module %s, tasks: ", c->target);
        for (const char *t = tasks; *t; t++)
            fputs(*t == ',' ? ", " : (char[2]){*t, 0}, stdout);
        putchar('\n');
    }
    printf("%s %s%s%s sent to cluster %s (%s)\n", cmd, c->target,
           c->version[0] ? " version " : "", c->version,
           a->cluster ? a->cluster : "default", c->key ? "signed" : "UNSIGNED");
    rc = report(cmd, c, ans, n);
    free(ans);
    return rc;
}

int cli_deploy(int argc, char **argv)
{
    struct ctl_args a;
    fl_control c;
    fl_key *key = NULL;
    char name[FL_MODULE_NAME_MAX + 8], *tasks = NULL;
    size_t len = 0;
    int rc = parse("deploy", argc, argv, &a);
    if (rc >= 0)
        return rc;
    if ((rc = module_name(&a, name, sizeof name)) >= 0 ||
        (rc = load_key("deploy", &a, &key)) >= 0)
        return rc;
    char *src = read_file("deploy", a.what, FL_MODULE_SOURCE_MAX, &len);
    rc = src ? check_module(name, src, len, &tasks) : 1;
    if (rc < 0) {
        memset(&c, 0, sizeof c);
        c.kind = FL_CONTROL_DEPLOY;
        c.target = name;
        c.source = src;
        c.source_len = len;
        c.key = key;
        rc = send_ctl("deploy", &a, &c, tasks);
    }
    fl_free(tasks);
    free(src);
    fl_key_free(key);
    return rc;
}

int cli_undeploy(int argc, char **argv)
{
    struct ctl_args a;
    fl_control c;
    fl_key *key = NULL;
    int rc = parse("undeploy", argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (!fl_module_name_valid(a.what))
        return cli_usage_error("undeploy", "'%s' is not a module name", a.what);
    if ((rc = load_key("undeploy", &a, &key)) >= 0)
        return rc;
    memset(&c, 0, sizeof c);
    c.kind = FL_CONTROL_UNDEPLOY;
    c.target = a.what;
    c.key = key;
    rc = send_ctl("undeploy", &a, &c, NULL);
    fl_key_free(key);
    return rc;
}

int cli_shutdown(int argc, char **argv)
{
    struct ctl_args a;
    fl_control c;
    fl_key *key = NULL;
    int rc = parse("shutdown", argc, argv, &a);
    if (rc >= 0)
        return rc;
    const char *target = strcmp(a.what, "all") == 0 ? "*" : a.what;
    if (strcmp(target, "*") != 0 && strlen(target) > 64)
        return cli_usage_error("shutdown", "'%s' is not a node id", a.what);
    if ((rc = load_key("shutdown", &a, &key)) >= 0)
        return rc;
    memset(&c, 0, sizeof c);
    c.kind = FL_CONTROL_SHUTDOWN;
    c.target = target;
    c.key = key;
    rc = send_ctl("shutdown", &a, &c, NULL);
    fl_key_free(key);
    return rc;
}
