/*
 * child.c - the node's side of the process pool (see child.h): which jobs
 * go to a child, forking one for a slot, keeping the child's modules in
 * step with the node's (a MODULE frame before the first job of a version
 * it does not have yet, DROP after an undeploy), handing it a job and
 * waiting for the outcome while watching for a cancel, which kills it.
 * Runs on the slot's executor thread; the child is that thread's alone.
 * Depends on child.h, registry.h, alloc.h, lua_runtime.h, POSIX poll and
 * sockets.
 */
#include "child.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "registry.h"

#define CANCEL_POLL_MS 20 /* how often a waiting slot looks for a cancel */

size_t fl__child_max_frame(const fl_executor *ex)
{
    return 2 * ex->max_result + FL_LUA_MAX_SOURCE + (1u << 20);
}

bool fl__child_wanted(const fl_executor *ex, const fl_job *job)
{
    if (ex->pool == FL_POOL_THREAD)
        return false;
    if (fl__registry_find(ex->reg, job->name))
        return ex->pool == FL_POOL_PROCESS;
    return ex->lua != NULL; /* a Lua task (the child fails unknown ones) */
}

static void forget_modules(fl_child *c)
{
    for (size_t i = 0; i < c->nmods; i++)
        fl__lua_module_unref(c->mods[i].m);
    c->nmods = 0;
}

/* The child is gone (killed, or it died): reap it; why says how. */
static void bury(fl_child *c, char *why, size_t cap)
{
    if (c->pid > 0)
        fl__child_kill(c->pid, why, cap);
    if (c->fd >= 0)
        close(c->fd);
    c->pid = 0;
    c->fd = -1;
    forget_modules(c);
}

void fl__child_init(fl_child *c)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

void fl__child_close(fl_child *c)
{
    char why[80];
    bury(c, why, sizeof why);
}

static fl_status spawn(fl_child *c, const fl_executor *ex, char *why, size_t cap)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(why, cap, "socketpair: %s", strerror(errno));
        return FL_EIO;
    }
    int cfd = sv[1];
    pid_t pid = fl__child_fork(&cfd);
    if (pid == 0)
        fl__child_serve(cfd, ex);
    close(sv[1]);
    if (pid < 0) {
        snprintf(why, cap, "fork: %s", strerror(errno));
        close(sv[0]);
        return FL_EIO;
    }
    c->pid = pid;
    c->fd = sv[0];
    c->rd.len = c->rd.pos = 0;
    c->nmods = 0;
    return FL_OK;
}

/* The module name of a Lua task name ("m.fn" -> "m"), or false. */
static bool module_of(const char *task, char *mod, size_t cap)
{
    const char *dot = strchr(task, '.');
    if (!dot || (size_t)(dot - task) >= cap || dot == task)
        return false;
    memcpy(mod, task, (size_t)(dot - task));
    mod[dot - task] = '\0';
    return true;
}

static fl_status send_module(fl_child *c, const fl_lua_module *m)
{
    size_t len;
    const char *src = fl__lua_module_source(m, &len);
    size_t nfn = fl__lua_module_nfn(m);
    fl_buf b;
    fl__buf_init(&b);
    fl__wire_str(&b, fl__lua_module_name(m));
    fl__wire_str(&b, fl__lua_module_version(m));
    fl__wire_bytes(&b, src, len);
    fl__wire_u32(&b, (uint32_t)nfn);
    for (size_t i = 0; i < nfn; i++)
        fl__wire_str(&b, fl__lua_module_fn(m, i));
    fl_status st = fl__frame_send(c->fd, FL_FRAME_MODULE, &b);
    fl__buf_free(&b);
    return st;
}

static fl_status send_drop(fl_child *c, const char *name)
{
    fl_buf b;
    fl__buf_init(&b);
    fl__wire_str(&b, name);
    fl_status st = fl__frame_send(c->fd, FL_FRAME_DROP, &b);
    fl__buf_free(&b);
    return st;
}

/* Give the child the node's current version of the job's module (or tell
 * it the module is gone), unless it has it already. */
static fl_status sync_module(fl_child *c, const fl_executor *ex, const fl_job *job)
{
    char mod[FL_LUA_MAX_MODULE_NAME + 1];
    if (!ex->lua || fl__registry_find(ex->reg, job->name) ||
        !module_of(job->name, mod, sizeof mod))
        return FL_OK;
    fl_lua_module *cur = fl__lua_set_get(ex->lua, mod); /* a reference */
    size_t i = 0;
    while (i < c->nmods && strcmp(c->mods[i].name, mod) != 0)
        i++;
    fl_lua_module *have = i < c->nmods ? c->mods[i].m : NULL;
    if (cur == have) {
        fl__lua_module_unref(cur);
        return FL_OK;
    }
    if (i == c->nmods && c->nmods == FL_CHILD_MAX_MODULES) {
        fl__lua_module_unref(cur);
        return FL_ETOOBIG; /* rare: many modules came and went; fork afresh */
    }
    fl_status st = cur ? send_module(c, cur) : send_drop(c, mod);
    if (st != FL_OK) {
        fl__lua_module_unref(cur);
        return st;
    }
    if (i < c->nmods) {
        fl__lua_module_unref(have);
        if (cur)
            c->mods[i].m = cur;
        else
            c->mods[i] = c->mods[--c->nmods];
    } else if (cur) {
        snprintf(c->mods[i].name, sizeof c->mods[i].name, "%s", mod);
        c->mods[i].m = cur;
        c->nmods++;
    }
    return FL_OK;
}

static fl_status send_job(fl_child *c, const fl_job *job, size_t *bytes)
{
    size_t alen = 0, klen = 0;
    char *args = fl_value_to_json(job->args, &alen);
    char *kwargs = fl_value_to_json(job->kwargs, &klen);
    fl_status st = FL_ENOMEM;
    if (args && kwargs) {
        fl_buf b;
        fl__buf_init(&b);
        fl__wire_str(&b, job->owner);
        fl__wire_u64(&b, job->id);
        fl__wire_u32(&b, job->attempt);
        fl__wire_u32(&b, job->time_limit_ms);
        fl__wire_u32(&b, job->soft_time_limit_ms);
        fl__wire_str(&b, job->name);
        fl__wire_bytes(&b, args, alen);
        fl__wire_bytes(&b, kwargs, klen);
        fl__wire_bytes(&b, job->att_len ? job->att : NULL, job->att_len);
        *bytes = b.len;
        st = fl__frame_send(c->fd, FL_FRAME_JOB, &b);
        fl__buf_free(&b);
    }
    fl_free(args);
    fl_free(kwargs);
    return st;
}

static void set_failure(fl_outcome *o, const char *type, const char *fmt, const char *a)
{
    fl_outcome_clear(o);
    snprintf(o->err_type, sizeof o->err_type, "%s", type);
    o->err_message = fl__strdup_printf(FL_MAX_ERROR_MESSAGE, fmt, a);
}

/* The outcome frame into o; false if it does not read. */
static bool read_outcome(fl_frame *f, fl_outcome *o)
{
    size_t vlen, alen;
    uint32_t ok = fl__wire_get_u32(f);
    const uint8_t *value = fl__wire_get_bytes(f, &vlen);
    const uint8_t *att = fl__wire_get_bytes(f, &alen);
    const char *type = fl__wire_get_str(f);
    const char *msg = fl__wire_get_str(f);
    uint32_t retryable = fl__wire_get_u32(f);
    uint64_t run_us = fl__wire_get_u64(f);
    if (f->bad || f->type != FL_FRAME_OUTCOME)
        return false;
    memset(o, 0, sizeof *o);
    o->ok = ok != 0;
    o->retryable = retryable != 0;
    o->run_us = run_us ? run_us : 1;
    snprintf(o->err_type, sizeof o->err_type, "%s", type ? type : "");
    if (value && !(o->value_json = fl__strndup((const char *)value, vlen)))
        goto oom;
    o->value_len = value ? vlen : 0;
    if (att && !(o->att = fl__malloc(alen ? alen : 1)))
        goto oom;
    if (att)
        memcpy(o->att, att, alen);
    o->att_len = att ? alen : 0;
    if (msg && !(o->err_message = fl__strdup(msg)))
        goto oom;
    return true;
oom:
    set_failure(o, "MemoryError", "%s", "out of memory reading the task's outcome");
    return true;
}

typedef enum { WAIT_DONE, WAIT_DIED, WAIT_CANCELLED } wait_end;

/* Wait for the child's answer to the job, or for cancel(ud). */
static wait_end wait_outcome(fl_child *c, const fl_executor *ex, bool (*cancel)(void *),
                             void *ud, fl_outcome *o)
{
    for (;;) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int r = fl__reader_pending(&c->rd) ? 1 : poll(&p, 1, CANCEL_POLL_MS);
        if (r < 0 && errno != EINTR)
            return WAIT_DIED;
        if (r > 0) {
            fl_frame f;
            if (fl__frame_recv(c->fd, &c->rd, &f, fl__child_max_frame(ex)) != 1)
                return WAIT_DIED;
            bool ok = read_outcome(&f, o);
            fl__frame_free(&f);
            return ok ? WAIT_DONE : WAIT_DIED;
        }
        if (cancel(ud))
            return WAIT_CANCELLED;
    }
}

/* Is the child's copy of job's module the node's (nothing to send)? */
static bool module_current(const fl_child *c, const fl_executor *ex, const fl_job *job)
{
    char mod[FL_LUA_MAX_MODULE_NAME + 1];
    if (!ex->lua || fl__registry_find(ex->reg, job->name) ||
        !module_of(job->name, mod, sizeof mod))
        return true;
    fl_lua_module *cur = fl__lua_set_get(ex->lua, mod);
    const fl_lua_module *have = NULL;
    for (size_t i = 0; i < c->nmods; i++)
        if (strcmp(c->mods[i].name, mod) == 0)
            have = c->mods[i].m;
    fl__lua_module_unref(cur); /* only compared */
    return cur == have;
}

/* The child is gone under job xj (killed for its cancel, or it died):
 * reap it, say so, and fail xj. */
static void lost(fl_child *c, fl_executor *ex, fl_xjob *xj, wait_end end, fl_status st)
{
    char why[160];
    pid_t pid = c->pid;
    bury(c, why, sizeof why); /* the next job gets a new child */
    if (ex->log)
        fl__plog(ex->log, end == WAIT_CANCELLED ? FL_LOG_INFO : FL_LOG_WARN,
                 "task %s (%s:%llu) %s: its process %ld %s; the slot gets a new one",
                 xj->job->name, xj->job->owner, (unsigned long long)xj->job->id,
                 end == WAIT_CANCELLED ? "cancelled (time limit, shutdown or owner gone)"
                                       : "lost its process",
                 (long)pid, why);
    if (end == WAIT_CANCELLED)
        /* The core has answered the task already (time limit, shutdown,
         * owner gone): this outcome only frees the slot. */
        set_failure(&xj->out, "Cancelled", "the task's process was killed: %s",
                    "cancelled (time limit or shutdown)");
    else if (st == FL_ENOMEM)
        set_failure(&xj->out, "MemoryError", "%s", "out of memory sending the task");
    else
        set_failure(&xj->out, "WorkerLost", "the process running the task %s", why);
}

/* Send jobs[k] to the child (forked first if needed). */
static fl_status send_one(fl_child *c, fl_executor *ex, fl_xjob *xj, bool first,
                          size_t *bytes)
{
    char why[160];
    if (c->pid <= 0 && spawn(c, ex, why, sizeof why) != FL_OK) {
        if (ex->log)
            fl__plog(ex->log, FL_LOG_ERROR, "no process for task %s: %s", xj->job->name, why);
        return FL_EIO;
    }
    fl_status st = first ? sync_module(c, ex, xj->job) : FL_OK;
    if (st == FL_OK)
        st = send_job(c, xj->job, bytes);
    return st;
}

void fl__child_run_batch(fl_child *c, fl_executor *ex, fl_xjob **jobs, size_t n,
                         bool (*cancelled)(void *xj))
{
    size_t sizes[FL_CHILD_BATCH];
    bool skipped[FL_CHILD_BATCH];
    size_t sent = 0, got = 0, bytes = 0;
    fl_status st = FL_OK;
    uint64_t t = fl__now_us();
    if (n > FL_CHILD_BATCH)
        n = FL_CHILD_BATCH;
    while (got < n) {
        /* Keep the child fed: later jobs go out behind the running one
         * while they are small and need no module first, so a burst of
         * tiny tasks costs no round trip each (the socket holds them). */
        while (sent < n && st == FL_OK) {
            fl_xjob *xj = jobs[sent];
            if (sent > got && (bytes >= FL_CHILD_BATCH_BYTES ||
                               !module_current(c, ex, xj->job)))
                break;
            memset(&xj->out, 0, sizeof xj->out);
            skipped[sent] = cancelled(xj); /* cancelled while queued */
            sizes[sent] = 0;
            if (!skipped[sent])
                st = send_one(c, ex, xj, sent == got, &sizes[sent]);
            bytes += sizes[sent];
            if (st == FL_OK)
                sent++;
        }
        fl_xjob *head = jobs[got];
        if (got < sent && skipped[got]) {
            /* The core ignores this answer, but it still needs one. */
            snprintf(head->out.err_type, sizeof head->out.err_type, "Cancelled");
        } else {
            wait_end end = got < sent ? wait_outcome(c, ex, cancelled, head, &head->out)
                                      : WAIT_DIED;
            if (end != WAIT_DONE) {
                lost(c, ex, head, end, st);
                /* Those sent behind it never started: they go to the
                 * next child. */
                sent = got + 1;
                bytes = 0;
                st = FL_OK;
            } else {
                bytes -= sizes[got];
            }
        }
        uint64_t now = fl__now_us();
        if (!head->out.run_us) /* a kill's: the time it held the slot */
            head->out.run_us = now > t ? now - t : 1;
        t = now;
        got++;
        if (sent < got)
            sent = got;
        ex->done(ex->done_ud, head);
    }
}
