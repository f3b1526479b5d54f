/*
 * worker.c - a floret node with a task of its own: example.fib(n), the
 * n-th Fibonacci number, besides the built-in tasks (add, mul, ...). It
 * serves until SIGINT or SIGTERM, then stops gracefully.
 *
 *     ./worker &                  (or ./worker NAME SLOTS)
 *     ./client example.fib 30     prints 832040
 *
 * The broker is $FLORET_BROKER (default mqtt://127.0.0.1:1883).
 * Depends only on floret/floret.h (pkg-config floret) and POSIX signals.
 */
#define _POSIX_C_SOURCE 200809L
#include <floret/floret.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

/* example.fib(n): n a whole number from 0 to 78 (fib(78) is the last one a
 * double holds exactly). A bad argument fails the task, naming it. */
static void fib_task(fl_task_ctx *ctx, void *ud)
{
    const fl_value *args = fl_task_args(ctx);
    const fl_value *a = fl_value_at(args, 0);
    double n = fl_value_number(a);
    double x = 0, y = 1;
    (void)ud;
    if (fl_value_count(args) != 1 || fl_value_type(a) != FL_TYPE_NUMBER ||
        n < 0 || n > 78 || n != (double)(long)n) {
        fl_task_fail(ctx, "ValueError", false,
                     "example.fib: argument 1 must be a whole number from 0 to 78");
        return;
    }
    for (long i = 0; i < (long)n; i++) {
        double t = x + y;
        x = y;
        y = t;
    }
    fl_task_return_number(ctx, x);
}

int main(int argc, char **argv)
{
    fl_node_options o;
    fl_node *node = NULL;
    fl_registry *reg = fl_registry_new();
    sigset_t stop;
    int sig = 0;

    if (!reg || fl_register_builtins(reg) != FL_OK ||
        fl_registry_add(reg, "example.fib", fib_task, NULL) != FL_OK) {
        fprintf(stderr, "worker: cannot register the tasks\n");
        return 1;
    }
    fl_node_options_init(&o);
    o.registry = reg;
    o.name = argc > 1 ? argv[1] : NULL;   /* NULL: <hostname>-<pid> */
    o.slots = argc > 2 ? atoi(argv[2]) : 2;

    /* Block the stop signals before the node's threads start, so that
     * only sigwait below receives them. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    if (fl_node_new(&o, &node) != FL_OK || fl_node_start(node, 10000) != FL_OK) {
        fprintf(stderr, "worker: no broker (set FLORET_BROKER)\n");
        fl_node_free(node);
        fl_registry_free(reg);
        return 3;
    }
    fprintf(stderr, "worker: %s serving example.fib\n", fl_node_id(node));
    sigwait(&stop, &sig);
    fl_node_stop(node, 10000); /* running tasks get 10 s to finish */
    fl_node_free(node);
    fl_registry_free(reg);
    return 0;
}
