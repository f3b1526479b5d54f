/*
 * client.c - submit one task to a floret cluster and print its result, as
 * `floret call` does:
 *
 *     ./client                    add 2 3 -> prints 5
 *     ./client example.fib 30     prints 832040 (run by ./worker)
 *     ./client mul 6 7
 *
 * Each argument after the task name is a JSON value. The broker is
 * $FLORET_BROKER (default mqtt://127.0.0.1:1883). Exit status: 0 success,
 * 1 the task failed or timed out, 2 bad arguments, 3 no broker.
 * Depends only on floret/floret.h (pkg-config floret).
 */
#include <floret/floret.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* argv[from..argc) as one JSON array text; caller frees. */
static char *args_json(int argc, char **argv, int from)
{
    size_t len = 3;
    for (int i = from; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    strcpy(s, "[");
    for (int i = from; i < argc; i++) {
        if (i > from)
            strcat(s, ",");
        strcat(s, argv[i]);
    }
    strcat(s, "]");
    return s;
}

int main(int argc, char **argv)
{
    const char *task = argc > 1 ? argv[1] : "add";
    char *args = argc > 1 ? args_json(argc, argv, 2) : strdup("[2,3]");
    fl_node_options o;
    fl_node *node = NULL;
    fl_result *r = NULL;
    int status = 1;

    if (!args)
        return 1;
    fl_node_options_init(&o);
    o.slots = 0; /* a client: it runs no tasks, it only submits them */
    o.log_level = FL_LOG_WARN;
    if (fl_node_new(&o, &node) != FL_OK || fl_node_start(node, 5000) != FL_OK) {
        fprintf(stderr, "client: no broker (set FLORET_BROKER)\n");
        fl_node_free(node);
        free(args);
        return 3;
    }
    fl_status st = fl_node_call(node, task, args, NULL, NULL, 0, NULL, &r);
    if (st != FL_OK) {
        fprintf(stderr, "client: cannot submit %s%s: %s\n", task, args, fl_strerror(st));
        status = st == FL_EINVAL ? 2 : 1;
    } else if (fl_result_wait(r, 30000) != FL_OK) {
        fprintf(stderr, "client: no result within 30 s\n");
    } else if (fl_result_state(r) == FL_SUCCESS) {
        char *text = fl_value_to_json(fl_result_value(r), NULL);
        if (text)
            printf("%s\n", text);
        fl_free(text);
        status = text ? 0 : 1;
    } else {
        fprintf(stderr, "client: %s: %s\n", fl_result_error_type(r),
                fl_result_error_message(r));
    }
    fl_result_free(r);
    fl_node_free(node);
    free(args);
    return status;
}
