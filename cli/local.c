/*
 * local.c - `floret local [--nodes N] [--slots N] [-v] [--] [COMMAND...]`: runs
 * COMMAND inside a private cluster on this machine (local_cluster.h) with
 * FLORET_BROKER set to its broker (with the operator's user and password),
 * and returns COMMAND's exit status. With no
 * COMMAND it prints the broker URL and keeps the cluster up until Ctrl-C.
 * A COMMAND named plain "floret" runs this very binary, so the command always
 * matches the nodes; this binary's directory also comes first on COMMAND's
 * PATH, for the floret a script inside runs. The nodes may read files by reference (wc.file) below
 * the directories given with --data-dir and those of the regular files
 * COMMAND names, so `floret local -- floret wordcount FILE` keeps locality.
 * Depends on cli.h, data_dirs.h, local_cluster.h, opts.h and POSIX.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "data_dirs.h"
#include "local_cluster.h"
#include "local_dashboard.h"
#include "opts.h"

struct local_args {
    int nodes;
    int slots;
    int verbose;
    int dashboard;              /* --dashboard: serve one beside the cluster */
    const char *dashboard_listen;
    char **command; /* NULL-terminated, or NULL for none */
};

static void local_usage(FILE *f)
{
    fprintf(f,
            "usage: floret local [OPTIONS] [--] [COMMAND [ARG...]]\n\n"
            "Start a private broker and local nodes, run COMMAND with FLORET_BROKER\n"
            "set to that broker, then tear everything down; without COMMAND, run\n"
            "until Ctrl-C. The broker admits only the nodes' users and the operator,\n"
            "whose password is in FLORET_BROKER (docs/security.md). COMMAND finds\n"
            "this floret first on its PATH, also inside 'sh -c'. The temp dir with\n"
            "the broker's files goes away on exit, on a signal and after kill -9.\n\n"
            "Options:\n"
            "  -n, --nodes N        local nodes (default: one per core)\n"
            "  -s, --slots N        execution slots of each node (default 1)\n"
            "  --data-dir DIR       the nodes may read files by reference below DIR\n"
            "                       (repeatable; also $FLORET_DATA_DIRS, colon-\n"
            "                       separated) and below the directory of each file\n"
            "                       COMMAND names\n"
            "  --dashboard          serve 'floret dashboard' beside the cluster, print\n"
            "                       its URL and set $FLORET_DASHBOARD for COMMAND\n"
            "  --dashboard-listen HOST:PORT\n"
            "                       where it serves (default 127.0.0.1:8080, else a\n"
            "                       free port); implies --dashboard\n"
            "  -v, --verbose        show the broker's and the nodes' logs\n"
            "  -h, --help           show this help\n\n"
            "Exit status: COMMAND's (128+N when signal N killed it), 2 bad usage,\n"
            "3 the cluster could not be started.\n");
}

static int parse_count(const char *flag, const char *s, int max, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v < 1 || v > max) {
        cli_usage_error("local", "%s expects a number from 1 to %d, got '%s'", flag, max,
                        s ? s : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* -n N and -s N, the short forms kept from the first versions. */
static int short_opt(int argc, char **argv, int *i, const char *shrt, const char *lng,
                     const char **val)
{
    if (strcmp(argv[*i], shrt) != 0)
        return cli_opt(argc, argv, i, lng, val, "local");
    if (*i + 1 >= argc) {
        cli_usage_error("local", "option %s needs a value", shrt);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

static int take_data_dir(const char *d)
{
    struct stat st;
    if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_usage_error("local", "--data-dir expects a directory, got '%s'", d);
    return cli_data_dir_add(d, false) ? -1 : 1;
}

/* One option at argv[*i]: -1 to go on, else the exit status. */
static int local_option(int argc, char **argv, int *i, struct local_args *a)
{
    const char *s = argv[*i], *v = NULL;
    int m;
    if ((m = short_opt(argc, argv, i, "-n", "--nodes", &v)) != 0)
        return m < 0 || parse_count("--nodes", v, 256, &a->nodes) != 0 ? 2 : -1;
    if ((m = short_opt(argc, argv, i, "-s", "--slots", &v)) != 0)
        return m < 0 || parse_count("--slots", v, 1024, &a->slots) != 0 ? 2 : -1;
    if ((m = cli_opt(argc, argv, i, "--dashboard-listen", &v, "local")) != 0) {
        a->dashboard = 1;
        a->dashboard_listen = v;
        return m < 0 ? 2 : -1;
    }
    if ((m = cli_opt(argc, argv, i, "--data-dir", &v, "local")) != 0)
        return m < 0 ? 2 : take_data_dir(v);
    if (strcmp(s, "-v") == 0 || strcmp(s, "--verbose") == 0) {
        a->verbose = 1;
        return -1;
    }
    if (strcmp(s, "--dashboard") == 0) {
        a->dashboard = 1;
        return -1;
    }
    if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
        local_usage(stdout);
        return 0;
    }
    return cli_unknown_arg_help("local", s, local_usage);
}

/* 0 on success, otherwise the exit status to return (2 usage, or 0 after help). */
static int parse_local_args(int argc, char **argv, struct local_args *a, int *status)
{
    memset(a, 0, sizeof *a);
    a->slots = 1;
    int i = 1;
    for (; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--") == 0) {
            i++;
            break;
        }
        if (s[0] != '-' || s[1] == '\0')
            break;
        int rc = local_option(argc, argv, &i, a);
        if (rc >= 0)
            return *status = rc, -1;
    }
    a->command = i < argc ? &argv[i] : NULL;
    for (int k = i + 1; k < argc; k++)
        if (!cli_data_dir_add(argv[k], true))
            return *status = 1, -1;
    return 0;
}

/* Put the directory of this binary first on PATH, so that COMMAND, and
 * whatever COMMAND runs (sh -c 'floret call ...'), finds this floret and
 * not another or none. 0, or -1 with errno set. */
static int path_first_self(void)
{
    char self[PATH_MAX], *path;
    const char *old = getenv("PATH");
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash;
    if (n <= 0)
        return -1;
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    if (!old || !*old)
        old = "/usr/local/bin:/usr/bin:/bin";
    path = malloc(strlen(self) + strlen(old) + 2);
    if (!path)
        return -1;
    sprintf(path, "%s:%s", self[0] ? self : "/", old);
    int rc = setenv("PATH", path, 1);
    free(path);
    return rc;
}

/* Run the command in the foreground process group, dying with us. */
static pid_t run_command(char **command)
{
    char self[PATH_MAX];
    const char *file = command[0];
    if (strcmp(file, "floret") == 0) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
            self[n] = '\0';
            file = self;
        }
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    execvp(file, command);
    fprintf(stderr, "floret local: cannot run '%s': %s\n", command[0], strerror(errno));
    _exit(127);
}

static int wait_command(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "floret local: waitpid: %s\n", strerror(errno));
            return 1;
        }
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 1;
}

/* No command: show where the cluster is and wait for a signal, which tears
 * the cluster down and ends the process (local_cluster.h). */
static int serve_until_signal(const struct local_cluster *lc)
{
    printf("FLORET_BROKER=%s\n", local_cluster_url(lc));
    printf("local cluster running; press Ctrl-C to stop\n");
    fflush(stdout);
    for (;;)
        pause();
    return 0;
}

int cli_local(int argc, char **argv)
{
    struct local_args a;
    int status = 0;
    if (parse_local_args(argc, argv, &a, &status) != 0)
        return status;
    struct local_cluster *lc = NULL;
    char err[512];
    int rc = local_cluster_start_ex(a.nodes, a.slots, a.verbose, &lc, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "floret: %s\n", err);
        return rc;
    }
    /* The command talks to this cluster with its operator's credentials,
     * not with those a user exported for another one. */
    unsetenv("FLORET_CONFIG");
    unsetenv("FLORET_PASSWORD");
    unsetenv("FLORET_PASSWORD_FILE");
    unsetenv("FLORET_TLS_CA_FILE");
    unsetenv("FLORET_TLS_CERT_FILE");
    unsetenv("FLORET_TLS_KEY_FILE");
    if (setenv("FLORET_BROKER", local_cluster_url(lc), 1) != 0) {
        fprintf(stderr, "floret local: setenv: %s\n", strerror(errno));
        local_cluster_stop(lc);
        return 1;
    }
    pid_t dash = -1;
    if (a.dashboard) {
        char url[256];
        fflush(NULL);
        dash = local_dashboard_start(a.dashboard_listen, url, sizeof url);
        if (dash < 0) {
            local_cluster_stop(lc);
            return 1;
        }
        printf("dashboard: %s\n", url);
        fflush(stdout);
        setenv("FLORET_DASHBOARD", url, 1); /* for COMMAND */
    }
    if (!a.command)
        return serve_until_signal(lc);
    if (path_first_self() != 0)
        fprintf(stderr, "floret local: cannot put this floret on PATH: %s\n", strerror(errno));
    fflush(NULL);
    pid_t pid = run_command(a.command);
    if (pid < 0) {
        fprintf(stderr, "floret local: cannot fork: %s\n", strerror(errno));
        local_dashboard_stop(dash);
        local_cluster_stop(lc);
        return 1;
    }
    local_cluster_forward_signals(lc, pid);
    status = wait_command(pid);
    local_cluster_forward_signals(lc, 0);
    local_dashboard_stop(dash);
    local_cluster_stop(lc);
    return status;
}
