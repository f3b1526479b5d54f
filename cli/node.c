/*
 * node.c - `floret node`: run a node that executes the built-in tasks, the
 * word count's wc.map and wc.file, and the Lua modules deployed to it
 * (trusted with --trust), until SIGINT, SIGTERM or a trusted shutdown, then
 * stop gracefully (30 s for running tasks); a second signal exits at once. Signals reach the main thread through a
 * self-pipe; the library itself installs no handlers. A node waits for its
 * broker as long as it takes (boot order does not matter), unless the
 * broker refuses it for good (credentials, certificate: exit 3 at once).
 * Depends on cli.h, opts.h, conn.h, the public header (the node, the
 * wc.file task of its data directories) and POSIX.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "conn.h"
#include "floret/floret.h"
#include "opts.h"

/* The byte a finished start writes to the signal pipe (no signal is 0). */
#define START_DONE 0
#define STOP_GRACE_MS 30000u

static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t sig_count;

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (++sig_count >= 2) {
        static const char msg[] = "floret node: second signal, exiting at once\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(128 + sig);
    }
    if (write(sig_pipe[1], &b, 1) < 0) {
        /* The pipe is only full if a signal is already pending. */
    }
    errno = saved;
}

static int install_signals(void)
{
    struct sigaction sa;
    if (pipe(sig_pipe) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
        fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    return 0;
}

/* Block until a signal arrives (or the start finished: START_DONE);
 * returns its number. */
static int wait_signal(void)
{
    struct pollfd p = {.fd = sig_pipe[0], .events = POLLIN};
    unsigned char b = 0;
    for (;;) {
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            return SIGTERM;
        if (read(sig_pipe[0], &b, 1) == 1)
            return b;
    }
}

/* A trusted shutdown message: stop as on SIGTERM. */
static void on_shutdown_request(void *ud)
{
    unsigned char b = (unsigned char)SIGTERM;
    (void)ud;
    if (write(sig_pipe[1], &b, 1) < 0) {
        /* The pipe is only full if a stop is already pending. */
    }
}

/* fl_node_start on a thread of its own, waiting for the broker forever,
 * so that the main thread still hears SIGINT and SIGTERM meanwhile. */
struct starter {
    fl_node *node;
    fl_status st;
    pthread_t thread;
};

static void *start_main(void *arg)
{
    struct starter *s = arg;
    unsigned char b = START_DONE;
    s->st = fl_node_start(s->node, UINT32_MAX);
    if (write(sig_pipe[1], &b, 1) < 0) {
        /* Only full when signals are pending; the main thread then stops
         * the node and joins this thread anyway. */
    }
    return NULL;
}

/* Start node; *sig gets a signal that came first (then the start was
 * called off), else 0. Returns fl_node_start's status. */
static fl_status start_node(fl_node *node, uint32_t grace_ms, int *sig)
{
    struct starter s = {.node = node, .st = FL_EIO};
    int b;
    *sig = 0;
    if (pthread_create(&s.thread, NULL, start_main, &s) != 0)
        return FL_EIO;
    b = wait_signal();
    if (b != START_DONE) {
        *sig = b;
        fl_node_stop(node, grace_ms); /* the wait gives up (or, had it just
                                       * connected, the node stops) */
    }
    pthread_join(s.thread, NULL);
    return s.st;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floret node [OPTIONS]\n\n"
            "Run a node that executes tasks, until SIGINT or SIGTERM (running tasks get\n"
            "30 s to finish; a second signal exits at once).\n\n"
            "Options:\n"
            "  --config FILE        settings from FILE, one 'KEY = VALUE' a line, KEY a\n"
            "                       long option below without its dashes (slots = 2,\n"
            "                       tag = gpu=1, events = true); flags and FLORET_*\n"
            "                       variables override it (docs/operations.md)\n"
            CLI_CONN_OPTS_HELP
            "  --cluster NAME       cluster to join (default: default)\n"
            "  --slots N            tasks run at once (default: one per core; 0: none)\n"
            "  --task-nice N        niceness the task threads add to the node's, 0 to 19\n"
            "                       (default 10: the node's messages go first; Linux)\n"
            "  --pool auto|process|thread\n"
            "                       where tasks run: process, each slot's tasks in a child\n"
            "                       process that is killed (SIGKILL) and forked again when\n"
            "                       a task passes its hard time limit; thread, on the\n"
            "                       node's threads (fastest; a task stops only when it\n"
            "                       notices cancellation); auto (default), Lua tasks in\n"
            "                       processes and native tasks on threads\n"
            "  --name ID            node id (default: <hostname>-<pid>)\n"
            "  --tag KEY=VALUE      a routing tag (repeatable): tasks routed to\n"
            "                       KEY=VALUE run only on nodes that have it;\n"
            "                       arch=<machine> and runtime=native are implicit\n"
            "  --tasks LIST         run and advertise only these tasks, comma-separated:\n"
            "                       names (add,mul) or all of a Lua module (wc.*);\n"
            "                       owners lease this node nothing else\n"
            "  --max-message BYTES  largest message sent or accepted (default 8 MiB)\n"
            "  --compress LIST      compress large attachments (results) with these\n"
            "                       codecs, in order of preference (zstd,lz4), for nodes\n"
            "                       that list one; for slow links (docs/scaling.md).\n"
            "                       Default ($FLORET_COMPRESS unset): decode zstd and\n"
            "                       lz4, compress nothing\n"
            "  --no-compress        decode no codec and compress nothing (--compress none)\n"
            "  --lease-ttl MS       lease deadline when not extended (default 30000)\n"
            "  --stop-grace MS      on SIGTERM, time running tasks get to finish before\n"
            "                       they are cancelled (default 30000); a task that\n"
            "                       ignores cancellation is left behind 2.5 s later\n"
            "  --trust FILE.pub     accept deploy, undeploy and shutdown signed by this key\n"
            "                       (repeatable; keys come from floret keygen)\n"
            "  --insecure-allow-unsigned\n"
            "                       accept unsigned control too (tests only: anyone who\n"
            "                       can publish to the broker can then run code here)\n"
            "  --lua-mem MB         memory one Lua state may hold (default 64)\n"
            "  --lua-steps N        Lua instructions per task call (default 100000000)\n"
            "  --lua-load-limit S   seconds a deployed module's top-level code may run\n"
            "                       (in a child process; default 5): longer, the deploy\n"
            "                       is refused\n"
            "  --data-dir DIR       the word count's wc.file may read files below DIR\n"
            "                       (repeatable; also $FLORET_DATA_DIRS, colon-separated);\n"
            "                       without one, this node reads no file by reference\n"
            "  --state-dir DIR      journal the workflows handed to this node (run --async)\n"
            "                       in DIR/keeper-<name>.journal: after a crash or kill -9,\n"
            "                       the node started again with the same DIR and --name\n"
            "                       resumes them and answers for the ended ones\n"
            "  --result-expires S   keep ended handed-over workflows S seconds\n"
            "                       (default 86400, a day, as Celery's result_expires)\n"
            "  -E, --events         publish an event for every step of every task\n"
            "                       (otherwise only while a monitor asks for them)\n"
            "  -v, --verbose        log debug lines too\n"
            "  -q, --quiet          log warnings and errors only\n"
            "  -h, --help           show this help\n\n"
            "A broker that is not up yet is waited for, however long it takes (retrying\n"
            "every 5 s at most, logging once a minute), so boot order does not matter.\n\n"
            "Exit status: 0 stopped by a signal or a trusted shutdown, 2 bad usage,\n"
            "3 the broker refused the node (credentials or TLS certificate), 4 the node\n"
            "id is in use by another running node (at start, or taken over while\n"
            "running), 1 anything else.\n");
}

#define MAX_TRUST 64
#define MAX_DATA_DIRS 64

struct node_args {
    fl_node_options o;
    struct cli_conn conn;
    long slots;
    char tags[256]; /* --tag values joined with commas */
    const char *trust[MAX_TRUST];
    uint32_t stop_grace_ms;
    const char *data_dirs[MAX_DATA_DIRS];
    size_t ndata_dirs;
    char *env_dirs; /* a copy of $FLORET_DATA_DIRS, cut at the colons */
};

static int add_data_dir(struct node_args *a, const char *v)
{
    if (a->ndata_dirs == MAX_DATA_DIRS)
        return cli_usage_error("node", "--data-dir: at most %d directories", MAX_DATA_DIRS);
    a->data_dirs[a->ndata_dirs++] = v;
    return -1;
}

/* $FLORET_DATA_DIRS: more data directories (what `floret local` passes). */
static int add_env_data_dirs(struct node_args *a)
{
    const char *env = getenv("FLORET_DATA_DIRS");
    int rc = -1;
    if (env == NULL || *env == '\0')
        return -1;
    a->env_dirs = strdup(env);
    if (a->env_dirs == NULL)
        return cli_usage_error("node", "out of memory");
    for (char *p = a->env_dirs, *next; p && rc < 0; p = next) {
        next = strchr(p, ':');
        if (next)
            *next++ = '\0';
        if (*p)
            rc = add_data_dir(a, p);
    }
    return rc;
}

static int add_tag(struct node_args *a, const char *v)
{
    size_t len = strlen(a->tags), n = strlen(v);
    const char *eq = strchr(v, '=');
    if (!eq || eq == v || !eq[1] || strchr(v, ','))
        return cli_usage_error("node", "--tag '%s': expected KEY=VALUE, e.g. --tag gpu=1", v);
    if (len + n + 2 > sizeof a->tags)
        return cli_usage_error("node", "--tag: the tags exceed %zu bytes in all",
                               sizeof a->tags - 1);
    if (len)
        a->tags[len++] = ',';
    memcpy(a->tags + len, v, n + 1);
    a->o.tags = a->tags;
    return -1;
}

/* Returns -1 to go on, else an exit status. */
static int parse(int argc, char **argv, struct node_args *a)
{
    fl_node_options_init(&a->o);
    memset(&a->conn, 0, sizeof a->conn);
    a->slots = -1;
    a->tags[0] = '\0';
    a->ndata_dirs = 0;
    a->stop_grace_ms = STOP_GRACE_MS;
    a->env_dirs = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        long num;
        int m;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            a->o.log_level = FL_LOG_DEBUG;
            continue;
        }
        if (strcmp(argv[i], "-E") == 0 || strcmp(argv[i], "--events") == 0) {
            a->o.events = true;
            continue;
        }
        if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            a->o.log_level = FL_LOG_WARN;
            continue;
        }
        if ((m = cli_conn_opt(argc, argv, &i, &a->conn, "node")) != 0) {
            if (m < 0)
                return 2;
        } else if ((m = cli_opt(argc, argv, &i, "--cluster", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            a->o.cluster = v;
        } else if ((m = cli_opt(argc, argv, &i, "--name", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            a->o.name = v;
        } else if ((m = cli_opt(argc, argv, &i, "--tag", &v, "node")) != 0) {
            int rc;
            if (m < 0)
                return 2;
            if ((rc = add_tag(a, v)) >= 0)
                return rc;
        } else if ((m = cli_opt(argc, argv, &i, "--compress", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            if (!cli_compress_ok(v))
                return cli_usage_error("node", "--compress '%s': expected none or codecs "
                                       "from zstd,lz4, comma-separated", v);
            a->o.compress = v;
        } else if (strcmp(argv[i], "--no-compress") == 0) {
            a->o.compress = "none";
        } else if ((m = cli_opt(argc, argv, &i, "--tasks", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            a->o.tasks = v;
        } else if ((m = cli_opt(argc, argv, &i, "--slots", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            if (!cli_parse_long(v, -1, 4096, &a->slots))
                return cli_usage_error("node", "--slots '%s': expected a number from 0 to 4096 (-1: one per core)", v);
            a->o.slots = (int)a->slots;
        } else if ((m = cli_opt(argc, argv, &i, "--pool", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            if (strcmp(v, "auto") == 0)
                a->o.pool = FL_POOL_AUTO;
            else if (strcmp(v, "process") == 0)
                a->o.pool = FL_POOL_PROCESS;
            else if (strcmp(v, "thread") == 0)
                a->o.pool = FL_POOL_THREAD;
            else
                return cli_usage_error("node", "--pool '%s': expected auto, process or thread", v);
        } else if ((m = cli_opt(argc, argv, &i, "--lua-load-limit", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            if (!cli_parse_long(v, 1, 3600, &num))
                return cli_usage_error("node", "--lua-load-limit '%s': expected seconds from 1 to 3600", v);
            a->o.lua_load_ms = (uint32_t)num * 1000u;
        } else if ((m = cli_opt(argc, argv, &i, "--task-nice", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            if (!cli_parse_long(v, 0, 19, &num))
                return cli_usage_error("node", "--task-nice '%s': expected a number from 0 to 19", v);
            a->o.task_nice = (int)num;
        } else if ((m = cli_opt(argc, argv, &i, "--max-message", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            if (!cli_parse_long(v, 1024, 256L * 1024 * 1024, &num))
                return cli_usage_error("node", "--max-message '%s': expected bytes from 1024 to 268435456", v);
            a->o.max_message = (size_t)num;
        } else if (strcmp(argv[i], "--insecure-allow-unsigned") == 0) {
            a->o.allow_unsigned = true;
        } else if ((m = cli_opt(argc, argv, &i, "--trust", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            if (a->o.ntrust_files == MAX_TRUST)
                return cli_usage_error("node", "--trust: at most %d keys", MAX_TRUST);
            a->trust[a->o.ntrust_files++] = v;
            a->o.trust_files = a->trust;
        } else if ((m = cli_opt(argc, argv, &i, "--stop-grace", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            if (!cli_parse_long(v, 0, 3600L * 1000, &num))
                return cli_usage_error("node", "--stop-grace '%s': expected milliseconds from 0 to 3600000", v);
            a->stop_grace_ms = (uint32_t)num;
        } else if ((m = cli_opt(argc, argv, &i, "--data-dir", &v, "node")) != 0) {
            int rc;
            if (m < 0)
                return 2;
            if ((rc = add_data_dir(a, v)) >= 0)
                return rc;
        } else if ((m = cli_opt(argc, argv, &i, "--lua-mem", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            if (!cli_parse_long(v, 1, 65536, &num))
                return cli_usage_error("node", "--lua-mem '%s': expected megabytes from 1 to 65536", v);
            a->o.lua_mem = (size_t)num * 1024 * 1024;
        } else if ((m = cli_opt(argc, argv, &i, "--lua-steps", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            if (!cli_parse_long(v, 1000, 1000000000000L, &num))
                return cli_usage_error("node", "--lua-steps '%s': expected a number from 1000 to 10^12", v);
            a->o.lua_steps = (uint64_t)num;
        } else if ((m = cli_opt(argc, argv, &i, "--state-dir", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            if (!v[0])
                return cli_usage_error("node", "--state-dir: expected a directory");
            a->o.state_dir = v;
        } else if ((m = cli_opt(argc, argv, &i, "--result-expires", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            if (!cli_parse_long(v, 1, 3650L * 86400, &num))
                return cli_usage_error("node", "--result-expires '%s': expected seconds from 1 to 315360000", v);
            a->o.result_expires_s = (uint32_t)num;
        } else if ((m = cli_opt(argc, argv, &i, "--lease-ttl", &v, "node")) != 0) {
            if (m < 0)
                return 2;
            if (!cli_parse_long(v, 100, 24L * 3600 * 1000, &num))
                return cli_usage_error("node", "--lease-ttl '%s': expected milliseconds from 100 to 86400000", v);
            a->o.lease_ttl_ms = (uint32_t)num;
        } else {
            return cli_unknown_arg_help("node", argv[i], usage);
        }
    }
    return add_env_data_dirs(a);
}

static unsigned slots_of(long slots)
{
    long k;
    if (slots >= 0)
        return (unsigned)slots;
    k = sysconf(_SC_NPROCESSORS_ONLN);
    return k > 0 ? (unsigned)k : 1u;
}

/* The built-in tasks plus the word count's map task, and its locality task
 * when the node may read files (roots not NULL). */
static fl_registry *node_registry(const fl_wordcount_roots *roots)
{
    fl_registry *reg = fl_registry_new();
    if (reg && (fl_register_builtins(reg) != FL_OK || fl_register_wordcount(reg) != FL_OK ||
                fl_register_mandelbrot(reg) != FL_OK ||
                (roots && fl_register_wordcount_file(reg, roots) != FL_OK))) {
        fl_registry_free(reg);
        reg = NULL;
    }
    return reg;
}

/* What `--config FILE` may set: every option but --help and --config. */
static const struct cli_config_key node_keys[] = {
    {"broker", "--broker", NULL, CLI_KEY_VALUE, "FLORET_BROKER", NULL},
    {"password-file", "--password-file", NULL, CLI_KEY_VALUE, "FLORET_PASSWORD_FILE", "FLORET_PASSWORD"},
    {"tls-ca", "--tls-ca", NULL, CLI_KEY_VALUE, "FLORET_TLS_CA_FILE", NULL},
    {"tls-cert", "--tls-cert", NULL, CLI_KEY_VALUE, "FLORET_TLS_CERT_FILE", NULL},
    {"tls-key", "--tls-key", NULL, CLI_KEY_VALUE, "FLORET_TLS_KEY_FILE", NULL},
    {"log-format", "--log-format", NULL, CLI_KEY_VALUE, "FLORET_LOG_FORMAT", NULL},
    {"cluster", "--cluster", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"name", "--name", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"slots", "--slots", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"task-nice", "--task-nice", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"pool", "--pool", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"tag", "--tag", NULL, CLI_KEY_REPEAT, NULL, NULL},
    {"tasks", "--tasks", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"max-message", "--max-message", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"compress", "--compress", NULL, CLI_KEY_VALUE, "FLORET_COMPRESS", NULL},
    {"no-compress", "--no-compress", NULL, CLI_KEY_BOOL, NULL, NULL},
    {"lease-ttl", "--lease-ttl", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"stop-grace", "--stop-grace", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"trust", "--trust", NULL, CLI_KEY_REPEAT, NULL, NULL},
    {"insecure-allow-unsigned", "--insecure-allow-unsigned", NULL, CLI_KEY_BOOL, NULL, NULL},
    {"lua-mem", "--lua-mem", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"lua-steps", "--lua-steps", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"lua-load-limit", "--lua-load-limit", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"data-dir", "--data-dir", NULL, CLI_KEY_REPEAT, NULL, NULL},
    {"state-dir", "--state-dir", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"result-expires", "--result-expires", NULL, CLI_KEY_VALUE, NULL, NULL},
    {"events", "--events", "-E", CLI_KEY_BOOL, NULL, NULL},
    {"verbose", "--verbose", "-v", CLI_KEY_BOOL, NULL, NULL},
    {"quiet", "--quiet", "-q", CLI_KEY_BOOL, NULL, NULL},
};

/* One entry of a configuration file, checked by the command line's own
 * parser (so a bad value gets the same reason, with FILE:LINE). */
static int check_entry(int argc, char **argv, void *ud)
{
    static const char *const conn_flags[] = {"--broker", "--password-file", "--tls-ca",
                                             "--tls-cert", "--tls-key", "--log-format"};
    struct node_args scratch;
    int rc;
    (void)ud;
    rc = parse(argc, argv, &scratch);
    free(scratch.env_dirs);
    /* The connection's options are checked together, when resolved. */
    for (size_t i = 0; rc < 0 && i < sizeof conn_flags / sizeof conn_flags[0]; i++) {
        struct cli_url url;
        char err[CLI_PATH_BUF + 400];
        if (strcmp(argv[1], conn_flags[i]) == 0 &&
            cli_conn_resolve(&scratch.conn, &url, err, sizeof err) != FL_OK)
            rc = cli_usage_error("node", "%s", err);
    }
    return rc;
}

static int node_main(int argc, char **argv);

int cli_node(int argc, char **argv)
{
    struct cli_config_argv cfg;
    int rc = cli_config_args("node", argc, argv, node_keys,
                             sizeof node_keys / sizeof node_keys[0], check_entry, NULL, &cfg);
    if (rc >= 0)
        return rc;
    if (cfg.argc == 0)
        return node_main(argc, argv);
    rc = node_main(cfg.argc, cfg.argv);
    cli_config_argv_free(&cfg);
    return rc;
}

static int node_main(int argc, char **argv)
{
    struct node_args a;
    fl_node *node = NULL;
    fl_status st;
    struct cli_url url;
    char err[CLI_PATH_BUF + 400];
    int rc, sig;

    rc = parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (cli_conn_resolve(&a.conn, &url, err, sizeof err) != FL_OK)
        return cli_usage_error("node", "%s", err);
    cli_conn_apply(&a.conn, &a.o);
    a.o.on_shutdown = on_shutdown_request;
    if (install_signals() != 0) {
        fprintf(stderr, "floret node: cannot install signal handlers: %s\n", strerror(errno));
        return 1;
    }
    fl_wordcount_roots *roots = NULL;
    if (a.ndata_dirs) {
        roots = fl_wordcount_roots_new(a.data_dirs, a.ndata_dirs, err, sizeof err);
        free(a.env_dirs); /* roots holds resolved copies */
        if (!roots)
            return cli_usage_error("node", "%s", err);
    }
    fl_registry *reg = node_registry(roots);
    if (!reg) {
        fl_wordcount_roots_free(roots);
        fprintf(stderr, "floret node: out of memory\n");
        return 1;
    }
    a.o.registry = reg;
    st = fl_node_new(&a.o, &node);
    if (st != FL_OK) {
        fl_registry_free(reg);
        fl_wordcount_roots_free(roots);
        /* The library logged which option was wrong. */
        fprintf(stderr, "floret node: %s\n", fl_strerror(st));
        return st == FL_EINVAL ? 2 : 1;
    }
    st = start_node(node, a.stop_grace_ms, &sig);
    if (sig != 0) {
        /* Stopped while waiting for the broker: a normal stop. */
        fl_node_log(node, FL_LOG_INFO, "%s before the broker answered: stopped",
                    sig == SIGINT ? "SIGINT" : "SIGTERM or shutdown");
        fl_node_free(node);
        fl_registry_free(reg);
        fl_wordcount_roots_free(roots);
        return 0;
    }
    if (st != FL_OK) {
        /* FL_EEXIST: the node logged the one line that says whose id. */
        if (st == FL_ECONN && a.o.log_format == FL_LOG_JSON)
            fl_node_log(node, FL_LOG_ERROR, "cannot connect to broker %s: %s",
                        url.text, fl_node_last_error(node));
        else if (st == FL_ECONN)
            fprintf(stderr, "error: cannot connect to broker %s: %s\n", url.text,
                    fl_node_last_error(node));
        else if (st != FL_EEXIST && a.o.log_format == FL_LOG_JSON)
            fl_node_log(node, FL_LOG_ERROR, "cannot start the node: %s", fl_strerror(st));
        else if (st != FL_EEXIST)
            fprintf(stderr, "error: cannot start the node: %s\n", fl_strerror(st));
        fl_node_free(node);
        fl_registry_free(reg);
        fl_wordcount_roots_free(roots);
        return st == FL_ECONN ? 3 : st == FL_EEXIST ? 4 : 1;
    }
    fl_node_log(node, FL_LOG_INFO, "node %s online: %u slots, broker %s",
                fl_node_id(node), slots_of(a.slots), url.text);
    sig = wait_signal();
    fl_node_log(node, FL_LOG_INFO,
                "%s: stopping (up to %u s for running tasks; signal again to "
                "exit at once)",
                sig == SIGINT ? "SIGINT received" : "SIGTERM or shutdown received",
                a.stop_grace_ms / 1000);
    fl_node_stop(node, a.stop_grace_ms);
    int status = 0;
    if (fl_node_id_taken(node)) {
        if (a.o.log_format == FL_LOG_JSON)
            fl_node_log(node, FL_LOG_ERROR, "%s", fl_node_last_error(node));
        else
            fprintf(stderr, "error: %s\n", fl_node_last_error(node));
        status = 4;
    }
    if (fl_node_abandoned(node)) {
        /* A task ignored its cancellation: its thread may still use what
         * a free would release. The node said offline; leave now. */
        fl_node_log(node, FL_LOG_WARN, "exiting with a task still running");
        fflush(NULL);
        _exit(status);
    }
    fl_node_free(node);
    fl_registry_free(reg);
    fl_wordcount_roots_free(roots);
    return status;
}
