/*
 * local_dashboard.c - the dashboard beside `floret local`'s cluster: this
 * same binary run as `floret dashboard` in a child process that dies with
 * us (PR_SET_PDEATHSIG), its first line of output (the URL) read through a
 * pipe and the rest left to flow to our stderr. Depends on POSIX and Linux
 * prctl.
 */
#include "local_dashboard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_WAIT_MS 10000

/* Can we listen on 127.0.0.1:port? */
static int port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    int one = 1, ok;
    if (fd < 0)
        return 0;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

pid_t local_dashboard_start(const char *listen, char *url, size_t cap)
{
    int fds[2];
    const char *where = listen ? listen : port_free(8080) ? "127.0.0.1:8080" : "127.0.0.1:0";
    if (pipe(fds) != 0) {
        fprintf(stderr, "floret local: pipe: %s\n", strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "floret local: cannot fork: %s\n", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        signal(SIGINT, SIG_IGN); /* Ctrl-C goes to the cluster, which stops us */
        execl("/proc/self/exe", "floret", "dashboard", "--listen", where, (char *)NULL);
        fprintf(stderr, "floret local: cannot run the dashboard: %s\n", strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    char line[512];
    size_t len = 0;
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    for (int waited = 0; waited < START_WAIT_MS && len + 1 < sizeof line;) {
        if (poll(&p, 1, 100) <= 0) {
            waited += 100;
            continue;
        }
        ssize_t n = read(fds[0], line + len, 1);
        if (n <= 0)
            break;
        if (line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    close(fds[0]);
    const char *u = strstr(line, "http://");
    if (!u) {
        fprintf(stderr, "floret local: the dashboard did not start on %s\n", where);
        local_dashboard_stop(pid);
        return -1;
    }
    snprintf(url, cap, "%s", u);
    return pid;
}

void local_dashboard_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 50; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
