/*
 * child_proc.c - forking a clean child for a task or a deploy check, and
 * killing one. The node has threads; the child is a copy of the forking
 * thread only, so it must not wait on any lock another thread held at the
 * fork: it keeps one socket to its parent, gets its own Lua state, never
 * logs, and leaves with _exit (no atexit handlers, no stdio flush). A
 * child dies with the thread that forked it (PR_SET_PDEATHSIG), so a node
 * killed with SIGKILL leaves none behind.
 * Depends on child.h and POSIX (fork, signals, waitpid); prctl and
 * close_range on Linux.
 */
#include "child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#define KEEP_FD 3

static void close_from(int lowest)
{
#if defined(__linux__) && defined(SYS_close_range)
    if (syscall(SYS_close_range, (unsigned)lowest, ~0u, 0u) == 0)
        return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = lowest; fd < max; fd++)
        (void)close(fd);
}

/* The child's signals: the node stops it, not a Ctrl-C at the terminal;
 * everything else as a fresh process has it. */
static void reset_signals(void)
{
    static const int dfl[] = {SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD,
                              SIGALRM};
    sigset_t none;
    for (size_t i = 0; i < sizeof dfl / sizeof dfl[0]; i++)
        signal(dfl[i], SIG_DFL);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
}

pid_t fl__child_fork(int *fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid; /* the parent, or -1 */
#if defined(__linux__)
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (getppid() != parent)
        _exit(0); /* the parent went before the line above */
    if (*fd != KEEP_FD && dup2(*fd, KEEP_FD) < 0)
        _exit(127);
    *fd = KEEP_FD;
    close_from(KEEP_FD + 1);
    reset_signals();
    return 0;
}

void fl__child_kill(pid_t pid, char *why, size_t cap)
{
    int st = 0;
    (void)kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            snprintf(why, cap, "could not be reaped (%s)", strerror(errno));
            return;
        }
    }
    if (WIFSIGNALED(st))
        snprintf(why, cap, "ended by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else if (WIFEXITED(st))
        snprintf(why, cap, "exited with status %d", WEXITSTATUS(st));
    else
        snprintf(why, cap, "ended");
}
