/*
 * local_cluster.c - starts and tears down a private cluster on this machine:
 * a Mosquitto broker on a free loopback port plus N node processes of this
 * binary (see local_cluster.h for the contract).
 *
 * Teardown must work from a signal handler and from exit(), so the state it
 * touches lives in one preallocated struct with fixed-size paths, and the
 * teardown path uses only async-signal-safe calls (kill, waitpid, nanosleep,
 * unlink, rmdir). Children run in their own process group so that a Ctrl-C
 * on the terminal reaches the launcher, which then stops nodes before the
 * broker instead of everything dying at once.
 *
 * The broker is the cluster's perimeter, as docs/security.md recommends for
 * a real one: no anonymous access, a user per node (local-1 ...) and an
 * operator user for the command run inside, with the ACL of broker_files.h.
 * Nodes get their password in their environment, never on a command line.
 *
 * Depends on POSIX, Linux prctl, libmosquitto (to watch presence) and
 * floret.h (to parse presence JSON), malloc_tune.h (the broker's malloc
 * settings), broker_files.h (users, passwords, ACL).
 */
#include "local_cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <mosquitto.h>

#include "broker_files.h"
#include "floret/floret.h"
#include "malloc_tune.h"

#define LC_MAX_NODES 256
#define LC_PATH 512
#define LC_DIR (LC_PATH - 32) /* room for "/mosquitto.conf" */
#define LC_OPERATOR "operator"
#define LC_MAX_PACKET (8u * 1024 * 1024 + 4096) /* 8 MiB --max-message + header */
#define LC_BROKER_WAIT_MS 5000
#define LC_ONLINE_WAIT_MS 15000
#define LC_NODE_STOP_MS 3000
#define LC_BROKER_STOP_MS 2000
#define LC_FORWARD_WAIT_MS 2000
#define LC_PORT_TRIES 3

struct local_cluster {
    char dir[LC_DIR];
    char conf[LC_PATH];
    char broker_log[LC_PATH];
    char nodes_log[LC_PATH];
    char passwd[LC_PATH];
    char acl[LC_PATH];
    char url[128]; /* with the operator's user and password */
    struct bf_user op;
    struct bf_user users[LC_MAX_NODES];
    int port;
    int slots;
    int verbose;
    int nnodes;
    pid_t broker;
    pid_t nodes[LC_MAX_NODES];
    volatile pid_t forward;
    pid_t janitor; /* removes dir if we die without teardown (kill -9) */
    int janitor_fd; /* write end of its pipe, or -1 */
};

static const int handled_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define NSIGNALS (sizeof handled_signals / sizeof handled_signals[0])

/* The one running cluster, as the signal handler and atexit see it. */
static struct local_cluster *volatile g_lc;
/* Set by whoever tears down first: a handler, exit(), or local_cluster_stop. */
static atomic_int g_claimed;
/* A signal that arrived while local_cluster_stop was tearing down. */
static volatile sig_atomic_t g_pending_signal;
static struct sigaction g_old_actions[NSIGNALS];
static int g_atexit_registered;

/* ------------------------------------------------ async-signal-safe teardown */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* True when pid is gone (reaped now or not our child); clears *pid. */
static int reap_nohang(pid_t *pid)
{
    if (*pid <= 0)
        return 1;
    int st;
    pid_t r = waitpid(*pid, &st, WNOHANG);
    if (r == *pid || (r < 0 && errno == ECHILD)) {
        *pid = 0;
        return 1;
    }
    return 0;
}

/* Wait up to ms for every pid in pids to exit, then SIGKILL and reap the rest. */
static void reap_bounded(pid_t *pids, int n, long ms)
{
    for (long waited = 0;; waited += 10) {
        int alive = 0;
        for (int i = 0; i < n; i++)
            alive += !reap_nohang(&pids[i]);
        if (!alive)
            return;
        if (waited >= ms)
            break;
        sleep_ms(10);
    }
    for (int i = 0; i < n; i++) {
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR) {
            }
            pids[i] = 0;
        }
    }
}

static void signal_all(pid_t *pids, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], sig);
}

static void remove_files(const struct local_cluster *lc)
{
    const char *const files[] = {lc->conf, lc->broker_log, lc->nodes_log, lc->passwd,
                                 lc->acl};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (files[i][0])
            unlink(files[i]);
    if (lc->dir[0])
        rmdir(lc->dir);
}

/* The janitor has nothing left to do: tell it so (one byte), and reap it. */
static void dismiss_janitor(struct local_cluster *lc)
{
    if (lc->janitor_fd >= 0) {
        ssize_t n = write(lc->janitor_fd, "x", 1);
        (void)n; /* a janitor already gone needs no word */
        close(lc->janitor_fd);
        lc->janitor_fd = -1;
    }
    if (lc->janitor > 0) {
        while (waitpid(lc->janitor, NULL, 0) < 0 && errno == EINTR) {
        }
        lc->janitor = 0;
    }
}

/* Stop nodes, then the broker, then remove the files we made. */
static void teardown(struct local_cluster *lc)
{
    signal_all(lc->nodes, lc->nnodes, SIGTERM);
    reap_bounded(lc->nodes, lc->nnodes, LC_NODE_STOP_MS);
    signal_all(&lc->broker, 1, SIGTERM);
    reap_bounded(&lc->broker, 1, LC_BROKER_STOP_MS);
    remove_files(lc);
    dismiss_janitor(lc);
}

static void on_signal(int sig)
{
    int saved = errno;
    struct local_cluster *lc = g_lc;
    if (!lc || atomic_exchange(&g_claimed, 1)) {
        /* local_cluster_stop is already tearing down; it re-raises this. */
        g_pending_signal = sig;
        errno = saved;
        return;
    }
    pid_t fwd = lc->forward;
    if (fwd > 0)
        kill(fwd, sig);
    teardown(lc);
    if (fwd > 0) {
        /* Give the command a moment so it does not print after we are gone. */
        for (long waited = 0; waited < LC_FORWARD_WAIT_MS && !reap_nohang(&fwd);
             waited += 10)
            sleep_ms(10);
    }
    /* Die of the same signal, as the shell expects; it is blocked until we
     * return from this handler, then delivered with the default action. */
    signal(sig, SIG_DFL);
    raise(sig);
    errno = saved;
}

static void on_exit_teardown(void)
{
    struct local_cluster *lc = g_lc;
    if (lc && !atomic_exchange(&g_claimed, 1))
        teardown(lc);
}

/* ---------------------------------------------------------- signal set-up */

static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NSIGNALS; i++)
        sigaddset(&sa.sa_mask, handled_signals[i]);
    for (size_t i = 0; i < NSIGNALS; i++)
        sigaction(handled_signals[i], &sa, &g_old_actions[i]);
    if (!g_atexit_registered && atexit(on_exit_teardown) == 0)
        g_atexit_registered = 1;
}

static void restore_handlers(void)
{
    for (size_t i = 0; i < NSIGNALS; i++)
        sigaction(handled_signals[i], &g_old_actions[i], NULL);
}

/* ------------------------------------------------------------------ helpers */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The mosquitto broker binary: on PATH, else Debian's /usr/sbin. */
static int find_mosquitto(char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/usr/local/sbin", path ? path : "");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        if (!*d)
            continue;
        int n = snprintf(out, outlen, "%s/mosquitto", d);
        if (n > 0 && (size_t)n < outlen && access(out, X_OK) == 0)
            return 0;
    }
    return -1;
}

/* A loopback port nobody listens on right now (bind port 0, read, close). */
static int pick_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* The last non-empty line of a log file, for error messages. */
static void last_log_line(const char *path, char *out, size_t outlen)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n)
            snprintf(out, outlen, "%s", line);
    }
    fclose(f);
}

static int make_paths(struct local_cluster *lc, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    int n = snprintf(lc->dir, sizeof lc->dir, "%s/floret-local-XXXXXX", tmp);
    if (n < 0 || (size_t)n >= sizeof lc->dir) {
        set_err(err, errlen, "temp dir path too long: %s", tmp);
        lc->dir[0] = '\0';
        return -1;
    }
    if (!mkdtemp(lc->dir)) {
        set_err(err, errlen, "cannot make a temp dir in %s: %s", tmp, strerror(errno));
        lc->dir[0] = '\0';
        return -1;
    }
    snprintf(lc->conf, sizeof lc->conf, "%s/mosquitto.conf", lc->dir);
    snprintf(lc->broker_log, sizeof lc->broker_log, "%s/mosquitto.log", lc->dir);
    snprintf(lc->nodes_log, sizeof lc->nodes_log, "%s/nodes.log", lc->dir);
    snprintf(lc->passwd, sizeof lc->passwd, "%s/passwd", lc->dir);
    snprintf(lc->acl, sizeof lc->acl, "%s/acl", lc->dir);
    return 0;
}

/*
 * A SIGKILLed launcher runs no teardown: its children die of their
 * PR_SET_PDEATHSIG, but the temp dir (with the passwords) would stay. So a
 * janitor process holds the read end of a pipe whose only write end is
 * ours (close-on-exec, so no node or broker inherits it): a byte means
 * "cleaned up, go", end of file means we died, and it removes the files.
 * It ignores the terminal's signals and holds no other descriptor, so it
 * neither dies of a Ctrl-C nor keeps a reader of our output waiting.
 */
static int start_janitor(struct local_cluster *lc, char *err, size_t errlen)
{
    int fds[2];
    if (pipe(fds) != 0) {
        set_err(err, errlen, "cannot make a pipe: %s", strerror(errno));
        return -1;
    }
    if (fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0) {
        set_err(err, errlen, "cannot set up a pipe: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        set_err(err, errlen, "cannot fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        char byte;
        ssize_t n;
        int null = open("/dev/null", O_RDWR);
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                signal(sig, sig == SIGCHLD ? SIG_DFL : SIG_IGN);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        for (int fd = 3; fd < 1024; fd++)
            if (fd != fds[0])
                close(fd);
        setpgid(0, 0);
        prctl(PR_SET_NAME, "floret-cleanup");
        do
            n = read(fds[0], &byte, 1);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            /* The nodes and the broker die with us: give them a moment to
             * let go of their logs before the directory goes. */
            sleep_ms(200);
            remove_files(lc);
        }
        _exit(0);
    }
    close(fds[0]);
    lc->janitor = pid;
    lc->janitor_fd = fds[1];
    return 0;
}

/* A user and a fresh password for each node and for the operator, the
 * password file and the ACL. */
static int write_auth(struct local_cluster *lc, char *err, size_t errlen)
{
    struct bf_user *all = calloc((size_t)lc->nnodes + 1, sizeof *all);
    int rc = -1;
    if (!all) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    snprintf(lc->op.name, sizeof lc->op.name, "%s", LC_OPERATOR);
    if (bf_make_password(lc->op.password) != 0)
        goto random_failed;
    all[0] = lc->op;
    for (int i = 0; i < lc->nnodes; i++) {
        snprintf(lc->users[i].name, sizeof lc->users[i].name, "local-%d", i + 1);
        if (bf_make_password(lc->users[i].password) != 0)
            goto random_failed;
        all[i + 1] = lc->users[i];
    }
    if (bf_write_passwd(lc->passwd, all, (size_t)lc->nnodes + 1, 1, err, errlen) == 0 &&
        bf_write_acl(lc->acl, LC_OPERATOR, 1, err, errlen) == 0)
        rc = 0;
    goto out;
random_failed:
    set_err(err, errlen, "cannot read random bytes for the broker passwords: %s",
            strerror(errno));
out:
    memset(all, 0, ((size_t)lc->nnodes + 1) * sizeof *all);
    free(all);
    return rc;
}

static int write_config(const struct local_cluster *lc, char *err, size_t errlen)
{
    FILE *f = fopen(lc->conf, "w");
    if (!f) {
        set_err(err, errlen, "cannot write %s: %s", lc->conf, strerror(errno));
        return -1;
    }
    fprintf(f, "listener %d 127.0.0.1\n", lc->port);
    fprintf(f, "allow_anonymous false\n");
    fprintf(f, "password_file %s\n", lc->passwd);
    fprintf(f, "acl_file %s\n", lc->acl);
    /* Refuse at the broker what no node would accept: the nodes' default
     * --max-message plus room for an MQTT header and topic. */
    fprintf(f, "max_packet_size %u\n", LC_MAX_PACKET);
    fprintf(f, "persistence false\n");
    /* A busy run queues many QoS 1 messages per client; the default (1000)
     * would drop them and make the protocol fall back on lease timeouts. */
    fprintf(f, "max_queued_messages 100000\n");
    /* Small messages go out at once instead of waiting for an ACK. */
    fprintf(f, "set_tcp_nodelay true\n");
    if (lc->verbose) {
        fprintf(f, "log_dest stderr\n");
    } else {
        fprintf(f, "log_dest file %s\n", lc->broker_log);
    }
    /* Run as root, mosquitto would switch to user "mosquitto", who cannot
     * write in our private dir: tell it to stay who it is. */
    if (geteuid() == 0) {
        struct passwd *pw = getpwuid(0);
        fprintf(f, "user %s\n", pw ? pw->pw_name : "root");
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        set_err(err, errlen, "cannot write %s", lc->conf);
        return -1;
    }
    return 0;
}

/*
 * Fork and exec argv in its own process group with stdin from /dev/null and
 * stdout/stderr to log (or inherited when log is NULL), with environment
 * envp (NULL: ours). The child dies with us even when we are SIGKILLed.
 */
static pid_t spawn_env(const char *file, char *const argv[], const char *log,
                       char *const envp[])
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (size_t i = 0; i < NSIGNALS; i++)
        signal(handled_signals[i], SIG_DFL);
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0) {
        dup2(in, STDIN_FILENO);
        close(in);
    }
    if (log) {
        int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (out >= 0) {
            dup2(out, STDOUT_FILENO);
            dup2(out, STDERR_FILENO);
            close(out);
        }
    }
    if (envp)
        execve(file, argv, envp);
    else
        execv(file, argv);
    dprintf(STDERR_FILENO, "floret local: cannot run %s: %s\n", file, strerror(errno));
    _exit(127);
}

/* A node's environment: ours without the broker settings a user may have
 * exported (they are for their own cluster, not this one), plus the node's
 * password. One allocation; NULL when out of memory. */
static char **node_env(const char *password)
{
    extern char **environ;
    size_t n = 0, k = 0, size;
    while (environ[n])
        n++;
    size = (n + 2) * sizeof(char *) + sizeof "FLORET_PASSWORD=" + strlen(password);
    char **env = malloc(size);
    if (!env)
        return NULL;
    char *pw = (char *)(env + n + 2);
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "FLORET_BROKER=", 14) != 0 &&
            strncmp(environ[i], "FLORET_PASSWORD", 15) != 0 &&
            strncmp(environ[i], "FLORET_TLS_", 11) != 0)
            env[k++] = environ[i];
    sprintf(pw, "FLORET_PASSWORD=%s", password);
    env[k++] = pw;
    env[k] = NULL;
    return env;
}

/* Our environment plus the malloc settings of malloc_tune.h, unless the
 * user set their own: the broker copies every chunk of a word count. NULL
 * when out of memory (then the broker gets our environment as it is). */
static char **broker_env(void)
{
    extern char **environ;
    size_t n = 0;
    if (getenv("GLIBC_TUNABLES"))
        return NULL;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    if (!env)
        return NULL;
    memcpy(env, environ, n * sizeof *env);
    env[n] = (char *)CLI_MALLOC_TUNABLES;
    return env;
}

/* Start mosquitto and wait until it accepts connections. 1 means "the port
 * was taken, try another"; -1 a hard failure. */
static int start_broker_once(struct local_cluster *lc, const char *mosquitto,
                             char *err, size_t errlen)
{
    lc->port = pick_free_port();
    if (lc->port <= 0) {
        set_err(err, errlen, "cannot find a free loopback port: %s", strerror(errno));
        return -1;
    }
    if (write_config(lc, err, errlen) != 0)
        return -1;
    char *argv[] = {"mosquitto", "-c", lc->conf, NULL};
    char **env = broker_env();
    lc->broker = spawn_env(mosquitto, argv, lc->verbose ? NULL : lc->broker_log, env);
    free(env);
    if (lc->broker < 0) {
        lc->broker = 0;
        set_err(err, errlen, "cannot fork: %s", strerror(errno));
        return -1;
    }
    long deadline = now_ms() + LC_BROKER_WAIT_MS;
    while (now_ms() < deadline) {
        if (port_accepts(lc->port))
            return 0;
        if (reap_nohang(&lc->broker)) {
            char line[256];
            last_log_line(lc->broker_log, line, sizeof line);
            set_err(err, errlen, "mosquitto exited at start%s%s", line[0] ? ": " : "",
                    line);
            return 1;
        }
        sleep_ms(20);
    }
    set_err(err, errlen, "mosquitto did not accept connections on port %d within %d ms",
            lc->port, LC_BROKER_WAIT_MS);
    return -1;
}

static int start_broker(struct local_cluster *lc, char *err, size_t errlen)
{
    char mosquitto[LC_PATH];
    if (find_mosquitto(mosquitto, sizeof mosquitto) != 0) {
        set_err(err, errlen, "mosquitto not found; install the Debian package 'mosquitto'");
        return -1;
    }
    for (int i = 0; i < LC_PORT_TRIES; i++) {
        int rc = start_broker_once(lc, mosquitto, err, errlen);
        if (rc <= 0)
            return rc;
    }
    return -1;
}

static int start_nodes(struct local_cluster *lc, char *err, size_t errlen)
{
    char slots[16];
    snprintf(slots, sizeof slots, "%d", lc->slots);
    for (int i = 0; i < lc->nnodes; i++) {
        char name[32];
        snprintf(name, sizeof name, "local-%d", i + 1);
        char url[128];
        snprintf(url, sizeof url, "mqtt://%s@127.0.0.1:%d", lc->users[i].name, lc->port);
        char *argv[] = {"floret", "node", "--broker", url, "--name", name,
                        "--slots", slots, NULL};
        char **env = node_env(lc->users[i].password);
        if (!env) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        pid_t pid = spawn_env("/proc/self/exe", argv, lc->verbose ? NULL : lc->nodes_log,
                              env);
        free(env);
        if (pid < 0) {
            set_err(err, errlen, "cannot fork: %s", strerror(errno));
            return -1;
        }
        lc->nodes[i] = pid;
    }
    return 0;
}

/* ------------------------------------------------------- presence watching */

struct watch {
    int nnodes;
    int online_count;
    unsigned char online[LC_MAX_NODES];
};

/* Index of local-<i> named by a presence topic, or -1. */
static int node_index(const char *topic, int nnodes)
{
    static const char prefix[] = "floret/v1/default/node/local-";
    if (strncmp(topic, prefix, sizeof prefix - 1) != 0)
        return -1;
    const char *p = topic + sizeof prefix - 1;
    char *end = NULL;
    long i = strtol(p, &end, 10);
    if (end == p || *end != '\0' || i < 1 || i > nnodes)
        return -1;
    return (int)i - 1;
}

static void on_presence(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    (void)m;
    struct watch *w = ud;
    int i = node_index(msg->topic, w->nnodes);
    if (i < 0 || msg->payloadlen <= 0)
        return;
    fl_value *v = NULL;
    if (fl_value_parse(msg->payload, (size_t)msg->payloadlen, &v) != FL_OK)
        return;
    const char *state = fl_value_string(fl_value_get(v, "state"), NULL);
    int online = state && strcmp(state, "online") == 0;
    if (online != w->online[i]) {
        w->online[i] = (unsigned char)online;
        w->online_count += online ? 1 : -1;
    }
    fl_value_free(v);
}

/* A node that exited before coming online: say which and why. */
static int check_nodes_alive(struct local_cluster *lc, char *err, size_t errlen)
{
    for (int i = 0; i < lc->nnodes; i++) {
        if (reap_nohang(&lc->nodes[i])) {
            char line[256];
            last_log_line(lc->nodes_log, line, sizeof line);
            set_err(err, errlen, "node local-%d exited before coming online%s%s", i + 1,
                    line[0] ? ": " : "", line);
            return -1;
        }
    }
    return 0;
}

static int wait_online(struct local_cluster *lc, char *err, size_t errlen)
{
    struct watch w;
    memset(&w, 0, sizeof w);
    w.nnodes = lc->nnodes;
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(NULL, true, &w);
    int rc = -1;
    if (!m) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    mosquitto_message_callback_set(m, on_presence);
    if (mosquitto_username_pw_set(m, lc->op.name, lc->op.password) != MOSQ_ERR_SUCCESS ||
        mosquitto_connect(m, "127.0.0.1", lc->port, 10) != MOSQ_ERR_SUCCESS ||
        mosquitto_subscribe(m, NULL, "floret/v1/default/node/+", 1) != MOSQ_ERR_SUCCESS) {
        set_err(err, errlen, "cannot watch presence on the local broker");
        goto out;
    }
    long deadline = now_ms() + LC_ONLINE_WAIT_MS;
    while (w.online_count < lc->nnodes) {
        if (now_ms() >= deadline) {
            set_err(err, errlen, "%d of %d nodes came online within %d ms",
                    w.online_count, lc->nnodes, LC_ONLINE_WAIT_MS);
            goto out;
        }
        if (check_nodes_alive(lc, err, errlen) != 0)
            goto out;
        int lrc = mosquitto_loop(m, 50, 1);
        if (lrc != MOSQ_ERR_SUCCESS) {
            set_err(err, errlen, "lost the local broker: %s", mosquitto_strerror(lrc));
            goto out;
        }
    }
    rc = 0;
    mosquitto_disconnect(m);
out:
    if (m)
        mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return rc;
}

/* ------------------------------------------------------------------- API */

static int default_nodes(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int local_cluster_start_ex(int nodes, int slots, int verbose,
                           struct local_cluster **out, char *err, size_t errlen)
{
    *out = NULL;
    if (g_lc) {
        set_err(err, errlen, "a local cluster is already running in this process");
        return 3;
    }
    if (nodes <= 0)
        nodes = default_nodes();
    if (nodes > LC_MAX_NODES) {
        set_err(err, errlen, "at most %d local nodes", LC_MAX_NODES);
        return 2;
    }
    struct local_cluster *lc = calloc(1, sizeof *lc);
    if (!lc) {
        set_err(err, errlen, "out of memory");
        return 3;
    }
    lc->nnodes = nodes;
    lc->slots = slots > 0 ? slots : 1;
    lc->verbose = verbose;
    lc->janitor_fd = -1;
    atomic_store(&g_claimed, 0);
    g_pending_signal = 0;
    g_lc = lc; /* before the handlers, so no signal finds a half-made cluster */
    install_handlers();
    if (make_paths(lc, err, errlen) != 0 || start_janitor(lc, err, errlen) != 0 ||
        write_auth(lc, err, errlen) != 0 ||
        start_broker(lc, err, errlen) != 0)
        goto fail;
    snprintf(lc->url, sizeof lc->url, "mqtt://%s:%s@127.0.0.1:%d", lc->op.name,
             lc->op.password, lc->port);
    if (start_nodes(lc, err, errlen) != 0 || wait_online(lc, err, errlen) != 0)
        goto fail;
    *out = lc;
    return 0;
fail:
    local_cluster_stop(lc);
    return 3;
}

int local_cluster_start(int nodes, struct local_cluster **out, char *err, size_t errlen)
{
    return local_cluster_start_ex(nodes, 1, 0, out, err, errlen);
}

const char *local_cluster_url(const struct local_cluster *lc)
{
    return lc ? lc->url : "";
}

void local_cluster_forward_signals(struct local_cluster *lc, pid_t pid)
{
    if (lc)
        lc->forward = pid;
}

void local_cluster_stop(struct local_cluster *lc)
{
    if (!lc)
        return;
    if (atomic_exchange(&g_claimed, 1)) {
        /* A signal handler is tearing down and will end the process. */
        for (int i = 0; i < 1000; i++)
            sleep_ms(10);
        return;
    }
    teardown(lc);
    g_lc = NULL;
    restore_handlers();
    memset(lc, 0, sizeof *lc); /* the passwords */
    free(lc);
    int sig = g_pending_signal;
    g_pending_signal = 0;
    if (sig)
        raise(sig);
}
