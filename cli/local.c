/*
 * local.c - `floret local [-n N] [-s SLOTS] [-v] [--] [COMMAND...]`: runs
 * COMMAND inside a private cluster on this machine (local_cluster.h) with
 * FLORET_BROKER set to its broker (with the operator's user and password),
 * and returns COMMAND's exit status. With no
 * COMMAND it prints the broker URL and keeps the cluster up until Ctrl-C.
 * A COMMAND named plain "floret" runs this very binary, so the command always
 * matches the nodes. The nodes may read files by reference (wc.file) below
 * the directories given with --data-dir and those of the regular files
 * COMMAND names, so `floret local -- floret wordcount FILE` keeps locality.
 * Depends on cli.h, data_dirs.h, local_cluster.h and POSIX.
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
            "usage: floret local [-n NODES] [-s SLOTS] [-v] [--data-dir DIR]... [--]\n"
            "                    [COMMAND [ARG...]]\n"
            "  Start a private broker and NODES local nodes (default: one per core,\n"
            "  SLOTS execution slots each, default 1), run COMMAND with FLORET_BROKER\n"
            "  set, then tear everything down. Without COMMAND, run until Ctrl-C.\n"
            "  The broker admits only the nodes' users and the operator, whose\n"
            "  password is in FLORET_BROKER (docs/security.md).\n"
            "  -v shows the broker's and the nodes' logs. The nodes read files by\n"
            "  reference only below each --data-dir DIR and the directory of each\n"
            "  file COMMAND names (also $FLORET_DATA_DIRS, colon-separated).\n"
            "  --dashboard serves 'floret dashboard' beside the cluster and prints its\n"
            "  URL, also in $FLORET_DASHBOARD for COMMAND (127.0.0.1:8080, or a free\n"
            "  port; --dashboard-listen HOST:PORT).\n");
}

static int parse_count(const char *flag, const char *s, int max, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v < 1 || v > max) {
        fprintf(stderr, "floret local: %s expects a number from 1 to %d, got '%s'\n", flag,
                max, s ? s : "");
        return -1;
    }
    *out = (int)v;
    return 0;
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
        } else if (strcmp(s, "-n") == 0 || strcmp(s, "--nodes") == 0) {
            if (parse_count(s, i + 1 < argc ? argv[++i] : NULL, 256, &a->nodes) != 0)
                return *status = 2, -1;
        } else if (strcmp(s, "-s") == 0 || strcmp(s, "--slots") == 0) {
            if (parse_count(s, i + 1 < argc ? argv[++i] : NULL, 1024, &a->slots) != 0)
                return *status = 2, -1;
        } else if (strcmp(s, "-v") == 0 || strcmp(s, "--verbose") == 0) {
            a->verbose = 1;
        } else if (strcmp(s, "--dashboard") == 0) {
            a->dashboard = 1;
        } else if (strcmp(s, "--dashboard-listen") == 0 && i + 1 < argc) {
            a->dashboard = 1;
            a->dashboard_listen = argv[++i];
        } else if (strcmp(s, "--data-dir") == 0) {
            struct stat st;
            const char *d = i + 1 < argc ? argv[++i] : NULL;
            if (!d || stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
                fprintf(stderr, "floret local: --data-dir expects a directory, got '%s'\n",
                        d ? d : "");
                return *status = 2, -1;
            }
            if (!cli_data_dir_add(d, false))
                return *status = 1, -1;
        } else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            local_usage(stdout);
            return *status = 0, -1;
        } else if (s[0] == '-' && s[1] != '\0') {
            fprintf(stderr, "floret local: unknown option '%s'\n", s);
            local_usage(stderr);
            return *status = 2, -1;
        } else {
            break;
        }
    }
    a->command = i < argc ? &argv[i] : NULL;
    for (int k = i + 1; k < argc; k++)
        if (!cli_data_dir_add(argv[k], true))
            return *status = 1, -1;
    return 0;
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
