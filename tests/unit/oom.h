/*
 * oom.h - an allocator for tests that fails exactly the Nth allocation and
 * counts live blocks, and a sweep that runs an operation with N = 1, 2, ...
 * until a run needs fewer than N allocations. Every run that hit the
 * failure must return FL_ENOMEM (a swallowed failure is a bug) and every
 * run must leave nothing allocated.
 */
#ifndef FL_TEST_OOM_H
#define FL_TEST_OOM_H

#include <stdlib.h>

#include "floret/floret.h"
#include "test.h"

static struct {
    long count;   /* allocations asked for (not frees) */
    long fail_at; /* 0: never fail */
    long live;    /* blocks handed out and not yet freed */
} oom;

static void *oom_alloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size == 0) {
        if (ptr) {
            oom.live--;
            free(ptr);
        }
        return NULL;
    }
    if (++oom.count == oom.fail_at)
        return NULL;
    if (ptr)
        return realloc(ptr, size);
    void *p = malloc(size);
    if (p)
        oom.live++;
    return p;
}

static void oom_begin(long fail_at)
{
    oom.count = 0;
    oom.fail_at = fail_at;
    oom.live = 0;
    fl_set_allocator(oom_alloc, NULL);
}

static void oom_end(void)
{
    fl_set_allocator(NULL, NULL);
}

/* op must free everything it allocated before returning its status. */
static void oom_sweep(const char *what, fl_status (*op)(void *ctx), void *ctx)
{
    for (long n = 1; n <= 100000; n++) {
        oom_begin(n);
        fl_status st = op(ctx);
        long count = oom.count, live = oom.live;
        oom_end();
        if (live != 0)
            T_FAILED("%s: %ld blocks leaked when allocation %ld failed", what,
                     live, n);
        if (count < n) {
            if (st != FL_OK)
                T_FAILED("%s: status %d with no failed allocation", what, (int)st);
            t_checks++;
            return;
        }
        if (st != FL_ENOMEM) {
            T_FAILED("%s: status %d, not FL_ENOMEM, when allocation %ld failed",
                     what, (int)st, n);
            return;
        }
    }
    T_FAILED("%s: sweep did not end", what);
}

#endif
