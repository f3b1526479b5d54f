/*
 * executor.c - the pool of threads that run jobs. The loop pushes jobs; a
 * thread runs each with fl_core_run_job and hands it back through the
 * done callback (the loop's inbox). Cancellation is a per-job flag plus a
 * pool-wide one for shutdown; sleeping tasks wait on one condition
 * variable that any cancel broadcasts, since cancels are rare.
 * Threads run nicer than the node (fl_node_options.task_nice). Under a
 * process pool (fl_node_options.pool) a thread hands its jobs to a child
 * process of its own instead (child.c) and waits, and a cancel kills the
 * child: a task stuck in a C call cannot hold the slot.
 * Depends on posix.h, child.h, core.h (fl_core_run_job_or), lua_runtime.h (one
 * Lua state per thread for hot-deployed tasks) and, on Linux,
 * setpriority.
 */
#include "posix.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "alloc.h"
#include "child.h"
#include "defaults.h"
#include "lua_runtime.h"

#if !FL_THREADS
#error "the POSIX port runs tasks on threads: build the core with FL_THREADS=1"
#endif

fl_status fl__executor_init(fl_executor *ex, unsigned nthreads,
                            const fl_registry *reg, struct fl_lua_set *lua,
                            const char *node_id, size_t max_result,
                            fl_xjob_done_fn done, void *done_ud)
{
    memset(ex, 0, sizeof *ex);
    if (pthread_mutex_init(&ex->mu, NULL) != 0)
        return FL_EIO;
    if (fl__cond_init(&ex->cv) != 0)
        goto fail_cv;
    if (pthread_mutex_init(&ex->sleep_mu, NULL) != 0)
        goto fail_smu;
    if (fl__cond_init(&ex->sleep_cv) != 0)
        goto fail_scv;
    if (fl__cond_init(&ex->exit_cv) != 0) {
        pthread_cond_destroy(&ex->sleep_cv);
        goto fail_scv;
    }
    if (nthreads > 0) {
        ex->threads = fl__calloc(nthreads, sizeof *ex->threads);
        if (!ex->threads) {
            pthread_cond_destroy(&ex->exit_cv);
            pthread_cond_destroy(&ex->sleep_cv);
            pthread_mutex_destroy(&ex->sleep_mu);
            pthread_cond_destroy(&ex->cv);
            pthread_mutex_destroy(&ex->mu);
            return FL_ENOMEM;
        }
    }
    atomic_init(&ex->cancel_all, false);
    ex->reg = reg;
    ex->lua = lua;
    ex->node_id = node_id;
    ex->max_result = max_result;
    ex->done = done;
    ex->done_ud = done_ud;
    ex->want = nthreads;
    ex->nthreads = 0;
    return FL_OK;
fail_scv:
    pthread_mutex_destroy(&ex->sleep_mu);
fail_smu:
    pthread_cond_destroy(&ex->cv);
fail_cv:
    pthread_mutex_destroy(&ex->mu);
    return FL_EIO;
}

/* ------------------------------------------------------------- run hooks */

static bool hook_cancelled(void *ud)
{
    fl_xjob *xj = ud;
    return atomic_load_explicit(&xj->cancelled, memory_order_acquire) ||
           atomic_load_explicit(&xj->ex->cancel_all, memory_order_acquire);
}

static bool hook_soft_expired(void *ud)
{
    const fl_xjob *xj = ud;
    return xj->soft_at && fl__now_us() >= xj->soft_at;
}

/* Sleeps until cancelled, or until a soft time limit falling within the
 * sleep (false for both). */
static bool hook_sleep(void *ud, double seconds)
{
    fl_xjob *xj = ud;
    fl_executor *ex = xj->ex;
    uint64_t until, start;

    if (!(seconds > 0))
        return !hook_cancelled(xj);
    if (seconds > 1e7)
        seconds = 1e7;
    start = fl__now_us();
    until = start + (uint64_t)(seconds * 1e6);
    bool soft = xj->soft_at > start && xj->soft_at < until;
    if (soft)
        until = xj->soft_at;
    struct timespec dl = fl__deadline_at_us(until);
    pthread_mutex_lock(&ex->sleep_mu);
    while (!hook_cancelled(xj) && fl__now_us() < until) {
        if (pthread_cond_timedwait(&ex->sleep_cv, &ex->sleep_mu, &dl) != 0)
            break;
    }
    pthread_mutex_unlock(&ex->sleep_mu);
    return !hook_cancelled(xj) && !soft;
}

static void run_one(fl_executor *ex, fl_lua_slot *lua, fl_xjob *xj)
{
    fl_run_hooks hooks = {
        .ud = xj,
        .cancelled = hook_cancelled,
        .sleep = hook_sleep,
        .node_id = ex->node_id,
        .max_result = ex->max_result,
        .soft_expired = hook_soft_expired,
    };
    memset(&xj->out, 0, sizeof xj->out);
    if (hook_cancelled(xj)) {
        /* Cancelled while queued: the core ignores this answer, but it
         * still needs one. */
        xj->out.ok = false;
        snprintf(xj->out.err_type, sizeof xj->out.err_type, "Cancelled");
        return;
    }
    uint64_t t0 = fl__now_us();
    xj->soft_at = xj->job->soft_time_limit_ms
                      ? t0 + (uint64_t)xj->job->soft_time_limit_ms * 1000u
                      : 0;
    fl_core_run_job_or(ex->reg, lua ? fl__lua_slot_run : NULL, lua, xj->job,
                       &hooks, &xj->out);
    xj->out.run_us = fl__now_us() - t0; /* the core tunes credit with it */
}

void fl__executor_run_here(fl_executor *ex, fl_xjob *xj)
{
    xj->ex = ex;
    run_one(ex, NULL, xj);
}

/* Up to max more queued jobs for the slot's child, behind xj: only while
 * the queue's head goes to a child too, and only this slot's share of
 * the queue, so the other slots are not left idle. */
static size_t more_for_child(fl_executor *ex, fl_xjob **out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&ex->mu);
    size_t share = ex->nthreads ? (ex->queued + ex->nthreads - 1) / ex->nthreads : 0;
    if (share < max)
        max = share;
    while (n < max && ex->head && fl__child_wanted(ex, ex->head->job)) {
        fl_xjob *xj = ex->head;
        ex->head = xj->next;
        if (!ex->head)
            ex->tail = NULL;
        xj->next = NULL;
        ex->queued--;
        out[n++] = xj;
    }
    pthread_mutex_unlock(&ex->mu);
    return n;
}

static fl_xjob *next_job(fl_executor *ex)
{
    fl_xjob *xj;
    pthread_mutex_lock(&ex->mu);
    while (!ex->head && !ex->quit) {
        ex->idle++;
        pthread_cond_wait(&ex->cv, &ex->mu);
        ex->idle--;
    }
    xj = ex->quit ? NULL : ex->head;
    if (xj) {
        ex->head = xj->next;
        if (!ex->head)
            ex->tail = NULL;
        xj->next = NULL;
        ex->queued--;
    }
    pthread_mutex_unlock(&ex->mu);
    return xj;
}

/* CPU-bound tasks must not starve the node's event loop, nor a broker or
 * client on the same machine: on a small board every slot computes, and a
 * lease, a result or a keep-alive then waits for a time slice. Linux gives
 * each thread its own niceness; elsewhere setpriority would renice the
 * whole process, loop included, so there the threads keep the node's. A
 * refusal only leaves the priority as it was. */
static void lower_priority(int nice)
{
#if defined(__linux__)
    if (nice <= 0)
        return;
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int now = getpriority(PRIO_PROCESS, tid);
    if (errno != 0)
        return;
    (void)setpriority(PRIO_PROCESS, tid, now + nice > 19 ? 19 : now + nice);
#else
    (void)nice;
#endif
}

static void *worker_main(void *arg)
{
    fl_executor *ex = arg;
    fl_xjob *xj;
    lower_priority(ex->task_nice);
    /* Made lazily and kept: a Lua state per thread, so threads never share
     * one. Without memory for it, Lua tasks fail as unknown here. */
    fl_lua_slot *lua = ex->lua ? fl__lua_slot_new(ex->lua) : NULL;
    fl_child child;
    fl__child_init(&child);
    while ((xj = next_job(ex)) != NULL) {
        if (fl__child_wanted(ex, xj->job)) {
            fl_xjob *batch[FL_CHILD_BATCH];
            batch[0] = xj;
            size_t n = 1 + more_for_child(ex, batch + 1, FL_CHILD_BATCH - 1);
            xj->ex = ex;
            for (size_t i = 1; i < n; i++)
                batch[i]->ex = ex;
            fl__child_run_batch(&child, ex, batch, n, hook_cancelled);
            continue;
        }
        run_one(ex, lua, xj);
        ex->done(ex->done_ud, xj);
    }
    fl__child_close(&child); /* the node stops: no child outlives its slot */
    fl__lua_slot_free(lua);
    pthread_mutex_lock(&ex->mu);
    ex->alive--;
    pthread_cond_broadcast(&ex->exit_cv);
    pthread_mutex_unlock(&ex->mu);
    return NULL;
}

fl_status fl__executor_start(fl_executor *ex)
{
    ex->quit = false;
    atomic_store(&ex->cancel_all, false);
    for (unsigned i = 0; i < ex->want; i++) {
        pthread_mutex_lock(&ex->mu);
        ex->alive++;
        pthread_mutex_unlock(&ex->mu);
        if (pthread_create(&ex->threads[i], NULL, worker_main, ex) != 0) {
            pthread_mutex_lock(&ex->mu);
            ex->alive--;
            pthread_mutex_unlock(&ex->mu);
            return FL_EIO; /* the caller stops the ones that started */
        }
        ex->nthreads = i + 1;
    }
    return FL_OK;
}

void fl__executor_push(fl_executor *ex, fl_xjob *xj)
{
    xj->ex = ex;
    xj->next = NULL;
    pthread_mutex_lock(&ex->mu);
    if (ex->tail)
        ex->tail->next = xj;
    else
        ex->head = xj;
    ex->tail = xj;
    ex->queued++;
    /* Signalling only when a thread sleeps keeps busy pools syscall-free. */
    if (ex->idle > 0)
        pthread_cond_signal(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
}

static void wake_sleepers(fl_executor *ex)
{
    pthread_mutex_lock(&ex->sleep_mu);
    pthread_cond_broadcast(&ex->sleep_cv);
    pthread_mutex_unlock(&ex->sleep_mu);
}

void fl__executor_cancel(fl_executor *ex, fl_xjob *xj)
{
    atomic_store_explicit(&xj->cancelled, true, memory_order_release);
    wake_sleepers(ex);
}

void fl__executor_cancel_all(fl_executor *ex)
{
    atomic_store_explicit(&ex->cancel_all, true, memory_order_release);
    wake_sleepers(ex);
}

fl_xjob *fl__executor_stop(fl_executor *ex)
{
    fl_xjob *left;
    bool stuck = false;
    pthread_mutex_lock(&ex->mu);
    ex->quit = true;
    pthread_cond_broadcast(&ex->cv);
    if (ex->stop_by_us) {
        struct timespec dl = fl__deadline_at_us(ex->stop_by_us);
        while (ex->alive > 0 && fl__now_us() < ex->stop_by_us)
            if (pthread_cond_timedwait(&ex->exit_cv, &ex->mu, &dl) == ETIMEDOUT)
                break;
        stuck = ex->alive > 0;
    }
    pthread_mutex_unlock(&ex->mu);
    for (unsigned i = 0; i < ex->nthreads; i++) {
        if (stuck)
            pthread_detach(ex->threads[i]);
        else
            pthread_join(ex->threads[i], NULL);
    }
    ex->nthreads = 0;
    ex->abandoned = ex->abandoned || stuck;
    pthread_mutex_lock(&ex->mu);
    left = ex->head;
    ex->head = ex->tail = NULL;
    ex->queued = 0;
    pthread_mutex_unlock(&ex->mu);
    return left;
}

void fl__executor_destroy(fl_executor *ex)
{
    if (ex->abandoned)
        return; /* a stuck thread may still use all of it */
    pthread_cond_destroy(&ex->exit_cv);
    fl__free(ex->threads);
    ex->threads = NULL;
    pthread_cond_destroy(&ex->sleep_cv);
    pthread_mutex_destroy(&ex->sleep_mu);
    pthread_cond_destroy(&ex->cv);
    pthread_mutex_destroy(&ex->mu);
}
