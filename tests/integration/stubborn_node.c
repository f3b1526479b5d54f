/*
 * stubborn_node.c - a one-slot node for the isolation tests
 * (test_isolation.py) with the builtins and one more native task,
 * stubborn(seconds), which sleeps and never looks at cancellation: the
 * kind of task only a process pool can take back at its hard limit. Its
 * result says the pid it ran in. Usage: stubborn_node URL NAME
 * process|thread; runs until SIGTERM or SIGINT. Depends on the public
 * header only.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "floret/floret.h"

static void stubborn(fl_task_ctx *ctx, void *ud)
{
    (void)ud;
    double s = fl_value_number(fl_value_at(fl_task_args(ctx), 0));
    struct timespec ts = {.tv_sec = (time_t)s,
                          .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
    fl_task_return_number(ctx, (double)getpid());
}

/* pid(): the process the task runs in. */
static void pid_task(fl_task_ctx *ctx, void *ud)
{
    (void)ud;
    fl_task_return_number(ctx, (double)getpid());
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "process") != 0 && strcmp(argv[3], "thread") != 0)) {
        fprintf(stderr, "usage: stubborn_node URL NAME process|thread\n");
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits it */
    fl_registry *reg = fl_registry_new();
    if (!reg || fl_register_builtins(reg) != FL_OK ||
        fl_registry_add(reg, "stubborn", stubborn, NULL) != FL_OK ||
        fl_registry_add(reg, "pid", pid_task, NULL) != FL_OK)
        return 1;
    fl_node_options o;
    fl_node_options_init(&o);
    o.broker_url = argv[1];
    o.name = argv[2];
    o.slots = 1;
    o.registry = reg;
    o.pool = strcmp(argv[3], "process") == 0 ? FL_POOL_PROCESS : FL_POOL_THREAD;
    fl_node *node = NULL;
    if (fl_node_new(&o, &node) != FL_OK || fl_node_start(node, 10000) != FL_OK) {
        fl_node_free(node);
        fl_registry_free(reg);
        return 3;
    }
    int sig = 0;
    sigwait(&set, &sig);
    fl_node_stop(node, 2000);
    fl_node_free(node);
    fl_registry_free(reg);
    return 0;
}
