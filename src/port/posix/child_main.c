/*
 * child_main.c - what a task child process does (see child.h): read a
 * frame, act on it, answer, until its parent closes the socket. Modules
 * arrive as MODULE frames (the source and its function names, checked at
 * deploy) into the child's own module set, so the child never touches a
 * lock of its parent; a job runs with fl_core_run_job_or as on a thread,
 * except that nothing cancels it: the parent kills the child instead. A
 * job's soft time limit comes with the job, and the child keeps that time
 * itself (from when it starts the job), so no signal has to reach it.
 * Depends on child.h, core.h, alloc.h, lua_runtime.h, POSIX.
 */
#include "child.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "core.h"

typedef struct child_env {
    int fd;
    const fl_registry *reg;
    fl_lua_set *set;   /* NULL without Lua */
    fl_lua_slot *slot;
    const char *node_id;
    size_t max_result;
    size_t max_frame;
    uint64_t soft_at;  /* the running job's soft time limit; 0: none */
} child_env;

static bool never_cancelled(void *ud)
{
    (void)ud;
    return false;
}

static bool child_soft_expired(void *ud)
{
    const child_env *e = ud;
    return e->soft_at && fl__now_us() >= e->soft_at;
}

/* Sleeps the whole time, but for a soft time limit falling within it
 * (then false, as on a thread). */
static bool child_sleep(void *ud, double seconds)
{
    const child_env *e = ud;
    if (seconds > 1e7)
        seconds = 1e7;
    uint64_t start = fl__now_us(), until = start + (uint64_t)(seconds * 1e6);
    bool soft = e->soft_at > start && e->soft_at < until;
    if (soft)
        until = e->soft_at;
    for (uint64_t now = start; now < until; now = fl__now_us()) {
        uint64_t us = until - now;
        struct timespec ts = {.tv_sec = (time_t)(us / 1000000u),
                              .tv_nsec = (long)(us % 1000000u) * 1000};
        (void)nanosleep(&ts, NULL);
    }
    return !soft;
}

static void put_module(child_env *e, fl_frame *f)
{
    const char *name = fl__wire_get_str(f);
    const char *version = fl__wire_get_str(f);
    size_t len;
    const uint8_t *src = fl__wire_get_bytes(f, &len);
    uint32_t nfn = fl__wire_get_u32(f);
    if (f->bad || !e->set || nfn > 4096)
        return;
    const char **fns = fl__calloc(nfn ? nfn : 1, sizeof *fns);
    if (!fns)
        return;
    for (uint32_t i = 0; i < nfn; i++)
        fns[i] = fl__wire_get_str(f);
    fl_lua_module *m = NULL;
    if (!f->bad && fl__lua_module_make(name, version, (const char *)src, len, fns, nfn,
                                       &m) == FL_OK)
        (void)fl__lua_set_put(e->set, m);
    fl__lua_module_unref(m);
    fl__free(fns);
}

static void send_outcome(child_env *e, const fl_outcome *o)
{
    fl_buf b;
    fl__buf_init(&b);
    fl__wire_u32(&b, o->ok);
    fl__wire_bytes(&b, o->value_json, o->value_len);
    fl__wire_bytes(&b, o->att, o->att_len);
    fl__wire_str(&b, o->err_type);
    fl__wire_str(&b, o->err_message);
    fl__wire_u32(&b, o->retryable);
    fl__wire_u64(&b, o->run_us);
    if (fl__frame_send(e->fd, FL_FRAME_OUTCOME, &b) != FL_OK)
        _exit(0); /* the parent is gone, or the answer cannot be made */
    fl__buf_free(&b);
}

static void fail_job(child_env *e, const char *type, const char *msg)
{
    fl_outcome o;
    memset(&o, 0, sizeof o);
    snprintf(o.err_type, sizeof o.err_type, "%s", type);
    o.err_message = (char *)msg;
    send_outcome(e, &o);
}

static void run_job(child_env *e, fl_frame *f)
{
    fl_job job;
    memset(&job, 0, sizeof job);
    const char *owner = fl__wire_get_str(f);
    job.id = fl__wire_get_u64(f);
    job.attempt = fl__wire_get_u32(f);
    job.time_limit_ms = fl__wire_get_u32(f);
    job.soft_time_limit_ms = fl__wire_get_u32(f);
    job.name = (char *)fl__wire_get_str(f);
    size_t alen, klen;
    const uint8_t *args = fl__wire_get_bytes(f, &alen);
    const uint8_t *kwargs = fl__wire_get_bytes(f, &klen);
    job.att = (uint8_t *)fl__wire_get_bytes(f, &job.att_len);
    if (f->bad || !owner || !job.name || !args || !kwargs ||
        fl_value_parse((const char *)args, alen, &job.args) != FL_OK ||
        fl_value_parse((const char *)kwargs, klen, &job.kwargs) != FL_OK) {
        fl_value_free(job.args);
        fail_job(e, "InternalError", "the task's process could not read the job");
        return;
    }
    snprintf(job.owner, sizeof job.owner, "%s", owner);
    fl_run_hooks hooks = {
        .ud = e,
        .cancelled = never_cancelled,
        .sleep = child_sleep,
        .node_id = e->node_id,
        .max_result = e->max_result,
        .soft_expired = child_soft_expired,
    };
    fl_outcome out;
    memset(&out, 0, sizeof out);
    uint64_t t0 = fl__now_us();
    e->soft_at = job.soft_time_limit_ms
                     ? t0 + (uint64_t)job.soft_time_limit_ms * 1000u
                     : 0;
    fl_core_run_job_or(e->reg, e->slot ? fl__lua_slot_run : NULL, e->slot, &job, &hooks,
                       &out);
    out.run_us = fl__now_us() - t0; /* the task alone, not its trip here */
    send_outcome(e, &out);
    fl_outcome_clear(&out);
    fl_value_free(job.args);
    fl_value_free(job.kwargs);
}

void fl__child_serve(int fd, const fl_executor *ex)
{
    child_env e = {
        .fd = fd,
        .reg = ex->reg,
        .node_id = ex->node_id,
        .max_result = ex->max_result,
        .max_frame = fl__child_max_frame(ex),
    };
    if (ex->lua) {
        e.set = fl__lua_set_new(fl__lua_set_limits(ex->lua));
        e.slot = e.set ? fl__lua_slot_new(e.set) : NULL;
    }
    static fl_reader rd; /* the child's only socket */
    for (;;) {
        fl_frame f;
        if (fl__frame_recv(fd, &rd, &f, e.max_frame) != 1)
            _exit(0); /* the parent closed the socket: the slot is done */
        if (f.type == FL_FRAME_JOB) {
            run_job(&e, &f);
        } else if (f.type == FL_FRAME_MODULE) {
            put_module(&e, &f);
        } else if (f.type == FL_FRAME_DROP) {
            const char *name = fl__wire_get_str(&f);
            if (name && e.set)
                (void)fl__lua_set_remove(e.set, name);
        }
        fl__frame_free(&f);
    }
}
