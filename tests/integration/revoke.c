/*
 * revoke.c - the C API of workflows against a running cluster
 * ($FLORET_BROKER): fl_node_apply runs a chord; fl_result_revoke of a
 * running group of sleeps ends it REVOKED long before the sleeps would;
 * a revoke of an ended result is FL_ENOTFOUND; an invalid canvas is
 * refused with FL_EINVAL. Prints one line per check, exits 1 on the first
 * failure. Driven by test_revoke.py. Depends on the public header only.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "floret/floret.h"

#define CHECK(cond, ...)                                          \
    do {                                                          \
        if (!(cond)) {                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);  \
            fprintf(stderr, __VA_ARGS__);                         \
            fputc('\n', stderr);                                  \
            return 1;                                             \
        }                                                         \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int checks(fl_node *node)
{
    fl_result *r = NULL;
    fl_canvas *cv = fl_chord(fl_group(fl_sig("add", "[1,1]", NULL),
                                      fl_sig("add", "[2,2]", NULL), NULL),
                             fl_sig("xsum", NULL, NULL));
    CHECK(fl_node_apply(node, cv, &r) == FL_OK, "apply chord");
    CHECK(fl_result_wait(r, 20000) == FL_OK, "chord result in time");
    CHECK(fl_result_state(r) == FL_SUCCESS, "chord state %s",
          fl_state_name(fl_result_state(r)));
    CHECK(fl_value_number(fl_result_value(r)) == 6, "chord value");
    CHECK(fl_result_revoke(r) == FL_ENOTFOUND, "revoke of an ended result");
    fl_result_free(r);
    fl_canvas_free(cv);
    printf("ok chord\n");

    cv = fl_group(fl_sig("sleep", "[20]", NULL), fl_sig("sleep", "[20]", NULL),
                  fl_sig("sleep", "[20]", NULL), NULL);
    CHECK(fl_node_apply(node, cv, &r) == FL_OK, "apply group of sleeps");
    double t0 = now_s();
    CHECK(fl_result_wait(r, 500) == FL_ETIMEDOUT, "sleeps still running");
    CHECK(fl_result_revoke(r) == FL_OK, "revoke");
    CHECK(fl_result_wait(r, 10000) == FL_OK, "revoked in time");
    CHECK(fl_result_state(r) == FL_REVOKED, "state %s",
          fl_state_name(fl_result_state(r)));
    CHECK(now_s() - t0 < 10, "revoke took %.1f s", now_s() - t0);
    fl_result_free(r);
    fl_canvas_free(cv);
    printf("ok revoke\n");

    cv = fl_canvas_from_json("{\"chain\": 5}");
    r = NULL;
    fl_status st = fl_node_apply(node, cv, &r);
    if (st == FL_OK) { /* checked by the owner: the result says why */
        CHECK(fl_result_wait(r, 10000) == FL_OK, "bad canvas answered");
        CHECK(fl_result_state(r) == FL_FAILURE, "bad canvas fails");
        CHECK(strcmp(fl_result_error_type(r), "CanvasError") == 0, "type %s",
              fl_result_error_type(r));
        fl_result_free(r);
    } else {
        CHECK(st == FL_EINVAL, "bad canvas: %s", fl_strerror(st));
    }
    fl_canvas_free(cv);
    printf("ok bad canvas\n");
    return 0;
}

int main(void)
{
    fl_node_options o;
    fl_node *node = NULL;
    fl_node_options_init(&o);
    o.slots = 0;
    if (fl_node_new(&o, &node) != FL_OK || fl_node_start(node, 5000) != FL_OK) {
        fprintf(stderr, "cannot connect\n");
        fl_node_free(node);
        return 3;
    }
    int rc = checks(node);
    fl_node_stop(node, 2000);
    fl_node_free(node);
    return rc;
}
