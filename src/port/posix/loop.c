/*
 * loop.c - the event-loop thread that owns the fl_core. Each turn: take
 * everything other threads left in the inbox (submissions, finished jobs,
 * requests), feed it to the core, let timers run, flush the core's batched
 * messages once, then poll the MQTT socket and the wake pipe until the
 * core's next deadline. Received messages go to the core as they are read;
 * the next turn's single flush answers them all, which is what keeps the
 * per-task cost far below one syscall.
 * Also the core's fl_core_io, and the clean-up once the loop has exited.
 * Depends on posix.h, core.h, alloc.h.
 */
#include "posix.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "ctl_node.h"
#include "deploy_check.h"

#define SUBMIT_BATCH 8192          /* submissions per turn, so input keeps flowing */
#define CANCEL_WAIT_US 2000000u    /* after the grace, for cancelled tasks to return */
#define STUCK_WAIT_US 500000u      /* then for their threads, before leaving them */
#define CLOSE_FLUSH_MS 1000u       /* to write the last messages before DISCONNECT */
#define MAX_POLL_MS 60000u
#define INLINE_BATCH 1024          /* quick jobs run on the loop per turn */

/* ---------------------------------------------------------- fl_core_io */

static void io_publish(void *ud, const char *topic, const void *payload,
                       size_t len, int qos, bool retain)
{
    fl_node *n = ud;
    fl__tp_publish(&n->tp, topic, payload, len, qos, retain);
}

static void io_subscribe(void *ud, const char *filter, int qos)
{
    fl_node *n = ud;
    fl__tp_subscribe(&n->tp, filter, qos);
}

static fl_xjob *xjob_get(fl_node *n)
{
    fl_xjob *xj = n->free_xjobs;
    if (xj)
        n->free_xjobs = xj->next;
    else
        xj = fl__malloc(sizeof *xj);
    if (xj) {
        memset(xj, 0, sizeof *xj);
        atomic_init(&xj->cancelled, false);
    }
    return xj;
}

static void xjob_put(fl_node *n, fl_xjob *xj)
{
    xj->next = n->free_xjobs;
    n->free_xjobs = xj;
}

static void io_execute(void *ud, fl_job *job)
{
    fl_node *n = ud;
    fl_xjob *xj = xjob_get(n);
    /* A process pool isolates every task, quick ones too. */
    if (xj && n->pool != FL_POOL_PROCESS && fl__fastpath_ok(&n->fast, n->registry, job)) {
        /* Run on this thread after the core's callback returns. */
        xj->job = job;
        xj->ex = &n->ex;
        job->driver = xj;
        if (n->inline_tail)
            n->inline_tail->next = xj;
        else
            n->inline_head = xj;
        n->inline_tail = xj;
        return;
    }
    if (!xj) {
        /* Answered on the next turn: the core must not be re-entered from
         * inside its own callback. */
        job->driver = NULL;
        if (n->nstarved < sizeof n->starved / sizeof n->starved[0])
            n->starved[n->nstarved++] = job;
        else
            fl__plog(&n->log, FL_LOG_ERROR, "out of memory: task %s lost", job->name);
        return;
    }
    xj->job = job;
    job->driver = xj;
    fl__executor_push(&n->ex, xj);
}

static void io_cancel(void *ud, fl_job *job)
{
    fl_node *n = ud;
    if (job->driver)
        fl__executor_cancel(&n->ex, job->driver);
}

static void io_final(void *ud, const fl_final *fin)
{
    fl_node *n = ud;
    fl_result *r = fl__idmap_take(&n->results, fin->id);
    if (!r && n->submitting && !n->submitting_final) {
        /* Ended inside fl_core_submit, before its id was in the map. */
        fl__result_finish(n->submitting, fin);
        n->submitting_final = true;
        return;
    }
    if (!r) {
        fl_value_free(fin->value); /* ours to free, and nobody waits */
        return;
    }
    fl__result_finish(r, fin);
    fl__result_unref(r);
}

static void io_state(void *ud, uint64_t id, fl_state st)
{
    fl_node *n = ud;
    fl_result *r = fl__idmap_get(&n->results, id);
    if (r)
        fl__result_set_state(r, st);
}

static void io_log(void *ud, int level, const char *line)
{
    fl_node *n = ud;
    fl__plog_line(&n->log, level, line);
}

static void io_log_task(void *ud, int level, const char *line,
                        const fl_core_task_log *t)
{
    fl_node *n = ud;
    fl__plog_task(&n->log, level, line, t);
}

static bool io_kept(void *ud, const char *record, size_t len)
{
    fl_node *n = ud;
    return n->journal && fl__journal_store(n->journal, n->core, record, len);
}

static uint64_t io_wall_ms(void *ud)
{
    struct timespec ts;
    (void)ud;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void fl__loop_io(fl_node *n, fl_core_io *io)
{
    memset(io, 0, sizeof *io);
    io->ud = n;
    io->publish = io_publish;
    io->subscribe = io_subscribe;
    io->execute = io_execute;
    io->cancel = io_cancel;
    io->final = io_final;
    io->state = io_state;
    io->log = io_log;
    io->log_task = io_log_task;
    io->wall_ms = io_wall_ms;
    if (n->journal)
        io->kept = io_kept;
}

/* ------------------------------------------------------ transport events */

static void tp_up(void *ud)
{
    fl_node *n = ud;
    fl_core_connected(n->core, n->now);
    pthread_mutex_lock(&n->mu);
    n->connected = true;
    n->last_error[0] = '\0';
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

static void tp_down(void *ud)
{
    fl_node *n = ud;
    fl_core_disconnected(n->core, n->now);
}

/* A lasting refusal before the first connection ends fl_node_start at
 * once: waiting out its timeout would only repeat it. */
static void tp_failed(void *ud, const char *reason, bool lasting)
{
    fl_node *n = ud;
    pthread_mutex_lock(&n->mu);
    snprintf(n->last_error, sizeof n->last_error, "%s", reason);
    if (lasting && !n->connected) {
        n->refused = true;
        pthread_cond_broadcast(&n->cv);
    }
    pthread_mutex_unlock(&n->mu);
}

/* Another live node holds our id: never take it from it (the broker
 * would drop its connection, and it ours, forever). A running node stops
 * as for a shutdown; a starting one makes fl_node_start fail. */
static void tp_taken(void *ud, const char *reason)
{
    fl_node *n = ud;
    bool running;
    pthread_mutex_lock(&n->mu);
    snprintf(n->last_error, sizeof n->last_error,
             "node id '%s' is in use: %s; give this node another --name",
             n->id, reason);
    n->id_taken = true;
    running = n->connected;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (!running)
        return;
    fl__plog(&n->log, FL_LOG_ERROR, "node id '%s' was taken over by another "
             "node (%s): stopping, not reconnecting", n->id, reason);
    if (n->on_shutdown)
        n->on_shutdown(n->shutdown_ud);
}

static void tp_message(void *ud, const char *topic, const void *payload,
                       size_t len)
{
    fl_node *n = ud;
    fl_core_input(n->core, topic, payload, len, n->now);
}

void fl__loop_transport_cb(fl_node *n, fl_transport_cb *cb)
{
    cb->ud = n;
    cb->up = tp_up;
    cb->down = tp_down;
    cb->failed = tp_failed;
    cb->taken = tp_taken;
    cb->message = tp_message;
}

void fl__loop_job_finished(void *ud, fl_xjob *xj)
{
    fl_node *n = ud;
    fl__inbox_done(&n->inbox, xj);
}

/* ------------------------------------------------------------ one turn */

/* Hand the core r's workflow (run here, handed to another node, or a
 * wait on one kept elsewhere); on a bad canvas, err gets the reason. */
static fl_status apply_canvas(fl_node *n, fl_result *r, uint64_t *id,
                              char *err, size_t errlen)
{
    if (r->remote_owner && r->sched_op)
        return fl_core_remote_schedule(n->core, r->remote_owner, r->sched_op,
                                       r->sched_name, r->sched_cron, r->canvas,
                                       n->now, id, err, errlen);
    if (r->remote_owner && r->remote_revoke)
        return fl_core_remote_revoke(n->core, r->remote_owner, r->remote_wid,
                                     r->remote_terminate, n->now, id);
    if (r->remote_owner && r->canvas)
        return fl_core_remote_submit(n->core, r->remote_owner, r->canvas,
                                     strlen(r->canvas), n->now, id, err, errlen);
    if (r->remote_owner && r->remote_now)
        return fl_core_remote_state(n->core, r->remote_owner, r->remote_wid,
                                    n->now, id);
    if (r->remote_owner)
        return fl_core_remote_query(n->core, r->remote_owner, r->remote_wid,
                                    n->now, id);
    return fl_core_apply(n->core, r->canvas, strlen(r->canvas), n->now, id,
                         err, errlen);
}

static void submit_one(fl_node *n, fl_result *r)
{
    uint64_t id = 0;
    fl_status st;
    char err[256] = "";
    fl_submit s = {
        .name = r->name,
        .args_json = r->args,
        .args_len = r->args_len,
        .kwargs_json = r->kwargs,
        .kwargs_len = r->kwargs_len,
        .att = r->sub_att,
        .att_len = r->sub_att_len,
        .att_take = &r->sub_att,
        .att_room = r->sub_att_room,
        .name_take = &r->name,
        .args_take = &r->args,
        .kwargs_take = &r->kwargs,
        .json_checked = true, /* by check_call, in fl_node_call */
        .opt = r->opt,
    };
    s.opt.route = r->route;
    s.opt.rate_limit = r->rate_limit;
    if (atomic_load(&r->revoke_wanted)) {
        /* Revoked before the core ever saw it. */
        fl__result_drop_submission(r);
        fl__result_abort(r, FL_REVOKED, "Revoked", "revoked before it was queued");
        fl__result_unref(r);
        return;
    }
    n->submitting = r;
    n->submitting_final = false;
    if (r->canvas || r->remote_owner)
        st = apply_canvas(n, r, &id, err, sizeof err);
    else
        st = fl_core_submit(n->core, &s, n->now, &id);
    n->submitting = NULL;
    fl__result_drop_submission(r);
    if (st != FL_OK) {
        fl__result_abort(r, FL_FAILURE,
                         st == FL_ESTATE ? "NodeStopping"
                         : err[0]        ? "CanvasError" : "SubmitError",
                         st == FL_ESTATE ? "the node is stopping"
                         : err[0]        ? err : fl_strerror(st));
        fl__result_unref(r);
        return;
    }
    fl__result_set_id(r, id);
    if (n->submitting_final) {
        fl__result_unref(r);
        return;
    }
    if (fl__idmap_put(&n->results, id, r) != FL_OK) {
        fl__result_abort(r, FL_FAILURE, "SubmitError", "out of memory tracking the task");
        fl__result_unref(r);
        fl_core_revoke(n->core, id, n->now);
    }
}

static void run_submissions(fl_node *n)
{
    for (int i = 0; i < SUBMIT_BATCH && n->backlog_head; i++) {
        fl_result *r = n->backlog_head;
        n->backlog_head = r->next;
        if (!n->backlog_head)
            n->backlog_tail = NULL;
        r->next = NULL;
        submit_one(n, r);
    }
}

/* Revoke requests: r's reference from fl__inbox_revoke is dropped here.
 * A result not yet submitted is caught by submit_one; one already ended
 * needs nothing. */
static void run_revokes(fl_node *n, fl_result *r, bool live)
{
    while (r) {
        fl_result *next = r->revoke_next;
        bool known;
        uint64_t id;
        pthread_mutex_lock(&r->mu);
        known = r->id_known;
        id = r->id;
        pthread_mutex_unlock(&r->mu);
        if (live && known && !atomic_load(&r->ready))
            (void)fl_core_revoke_with(n->core, id,
                                      atomic_load(&r->revoke_terminate),
                                      n->now); /* ENOTFOUND: ended */
        fl__result_unref(r);
        r = next;
    }
}

static void answer_job(fl_node *n, fl_job *job, const char *type, const char *why)
{
    fl_outcome o;
    memset(&o, 0, sizeof o);
    o.ok = false;
    snprintf(o.err_type, sizeof o.err_type, "%s", type);
    o.err_message = fl__strdup(why);
    fl_core_job_done(n->core, job, &o, n->now);
    fl_outcome_clear(&o);
}

/* Learn how long the task took (not when it was cancelled unrun). */
static void record_run(fl_node *n, const fl_xjob *xj)
{
    if (xj->out.ok || strcmp(xj->out.err_type, "Cancelled") != 0)
        fl__fastpath_record(&n->fast, xj->job->name, xj->out.run_us);
}

/* A job that ran (here or on an executor): learn its time, hand its
 * outcome to the core, recycle the wrapper. */
static void job_ran(fl_node *n, fl_xjob *xj)
{
    record_run(n, xj);
    fl_core_job_done(n->core, xj->job, &xj->out, n->now);
    fl_outcome_clear(&xj->out);
    xjob_put(n, xj);
}

/* Run up to INLINE_BATCH quick jobs on this thread (fastpath.c); jobs they
 * make startable join the list and run in the same turn or the next. */
static void run_inline(fl_node *n)
{
    for (int i = 0; i < INLINE_BATCH && n->inline_head; i++) {
        fl_xjob *xj = n->inline_head;
        n->inline_head = xj->next;
        if (!n->inline_head)
            n->inline_tail = NULL;
        xj->next = NULL;
        fl__executor_run_here(&n->ex, xj);
        n->now = fl__now_us();
        job_ran(n, xj);
    }
}

/* Jobs queued to run inline that never will (the node stops). */
static void cancel_inline(fl_node *n)
{
    while (n->inline_head) {
        fl_xjob *xj = n->inline_head;
        n->inline_head = xj->next;
        answer_job(n, xj->job, "Cancelled", "the node stopped before running the task");
        xjob_put(n, xj);
    }
    n->inline_tail = NULL;
}

static void run_dones(fl_node *n, fl_xjob *xj)
{
    while (xj) {
        fl_xjob *next = xj->next;
        job_ran(n, xj);
        xj = next;
    }
    while (n->nstarved > 0)
        answer_job(n, n->starved[--n->nstarved], "MemoryError",
                   "the node ran out of memory before running the task");
}

static void answer_peers(fl_node *n, fl_peers_req *req, bool live)
{
    while (req) {
        fl_peers_req *next = req->next;
        size_t k = 0;
        if (req->pub_topic) {
            if (live)
                fl__tp_publish(&n->tp, req->pub_topic, req->pub_payload, req->pub_len, 1,
                               req->pub_retain);
            k = live;
        } else if (req->stats) {
            if (live)
                fl_core_stats_get(n->core, req->stats);
            k = live; /* 0: the loop had ended, nothing was read */
        } else if (live) {
            k = fl_core_peers(n->core, req->peers, req->cap);
        }
        pthread_mutex_lock(&n->mu);
        req->n = k;
        req->done = true;
        pthread_cond_broadcast(&n->cv);
        pthread_mutex_unlock(&n->mu);
        req = next;
    }
}

/* Finish the deploys whose check came back (live), or drop them. */
static void run_checked(fl_node *n, fl_deploy_checked *c, bool live)
{
    while (c) {
        fl_deploy_checked *next = c->next;
        if (live && n->ctl)
            fl__ctl_node_checked(n->ctl, c);
        fl__deploy_checked_free(c);
        c = next;
    }
}

static void take_inbox(fl_node *n, bool *quit)
{
    fl_inbox_batch b;
    fl__inbox_take(&n->inbox, &b);
    if (b.subs) {
        fl_result *tail = b.subs;
        while (tail->next)
            tail = tail->next;
        if (n->backlog_tail)
            n->backlog_tail->next = b.subs;
        else
            n->backlog_head = b.subs;
        n->backlog_tail = tail;
    }
    run_dones(n, b.dones);
    if (b.stop && !n->shutting) {
        fl_core_shutdown(n->core, n->now);
        n->shutting = true;
        n->grace_deadline = n->now + (uint64_t)b.stop_grace_ms * 1000u;
        n->hard_deadline = 0;
        fl__plog(&n->log, FL_LOG_DEBUG, "stopping (grace %u ms)", b.stop_grace_ms);
    }
    run_submissions(n);
    run_revokes(n, b.revokes, true);
    run_checked(n, b.checked, true);
    answer_peers(n, b.reqs, true);
    if (b.quit)
        *quit = true;
}

/* During a stop: true once the core is done, or time is up. */
static bool stop_finished(fl_node *n)
{
    if (fl_core_stopped(n->core))
        return true;
    if (n->hard_deadline == 0 && n->now >= n->grace_deadline) {
        fl_core_stats st;
        fl_core_stats_get(n->core, &st);
        if (st.running > 0)
            fl__plog(&n->log, FL_LOG_WARN, "grace period over: cancelling %u running task(s)",
                    st.running);
        fl__executor_cancel_all(&n->ex);
        n->hard_deadline = n->now + CANCEL_WAIT_US;
    }
    if (n->hard_deadline != 0 && n->now >= n->hard_deadline) {
        /* Tasks that ignore cancellation must not keep a stopped node
         * "online": say offline now, as the will would. */
        const char *topic;
        const void *will;
        size_t len;
        fl_core_stats st;
        fl_core_stats_get(n->core, &st);
        fl__plog(&n->log, FL_LOG_WARN, "stopping with %u task(s) that did not stop when "
                 "cancelled; presence set offline", st.running);
        fl_core_will(n->core, &topic, &will, &len);
        fl__tp_publish(&n->tp, topic, will, len, 1, fl_core_will_retain(n->core));
        n->ex.stop_by_us = n->now + STUCK_WAIT_US;
        return true;
    }
    return false;
}

static int poll_timeout_ms(uint64_t now, uint64_t deadline)
{
    uint64_t ms;
    if (deadline <= now)
        return 0;
    ms = (deadline - now + 999) / 1000;
    return (int)(ms > MAX_POLL_MS ? MAX_POLL_MS : ms);
}

void *fl__loop_main(void *arg)
{
    fl_node *n = arg;
    bool quit = false;

    n->now = fl__now_us();
    for (;;) {
        struct pollfd pfd[2];
        uint64_t deadline;
        int fd, nfds;
        short events;

        n->now = fl__now_us();
        take_inbox(n, &quit);
        if (quit)
            break;
        run_inline(n);
        deadline = fl_core_tick(n->core, n->now);
        fl_core_flush(n->core, n->now);
        fl__journal_maintain(n->journal, n->core);
        if (n->shutting) {
            if (stop_finished(n))
                break;
            uint64_t d = n->hard_deadline ? n->hard_deadline : n->grace_deadline;
            if (d < deadline)
                deadline = d;
        }
        if (n->backlog_head || n->inline_head)
            deadline = n->now;
        fl__tp_prepare(&n->tp, n->now, &fd, &events, &deadline);

        pfd[0].fd = n->inbox.wake.rd;
        pfd[0].events = POLLIN;
        pfd[0].revents = 0;
        pfd[1].fd = fd;
        pfd[1].events = events;
        pfd[1].revents = 0;
        nfds = fd >= 0 ? 2 : 1;
        if (poll(pfd, (nfds_t)nfds, poll_timeout_ms(n->now, deadline)) < 0 &&
            errno != EINTR)
            fl__plog(&n->log, FL_LOG_ERROR, "poll: %s", strerror(errno));

        n->now = fl__now_us();
        if (pfd[0].revents & POLLIN)
            fl__wake_drain(&n->inbox.wake);
        fl__tp_step(&n->tp, n->now, nfds == 2 ? pfd[1].revents : 0);
    }
    fl__tp_close(&n->tp, CLOSE_FLUSH_MS);
    return NULL;
}

/* ------------------------------------------------------ after the loop */

static void abort_result(void *ud, fl_result *r)
{
    (void)ud;
    fl__result_abort(r, FL_FAILURE, "NodeStopped",
                     "the node stopped before the task finished");
    fl__result_unref(r);
}

/* Answer what the executor never started and what it finished after the
 * loop left. A job answered here could in principle make the core start
 * another, hence the (bounded) rounds. */
static void drain_jobs(fl_node *n, fl_inbox_batch *b)
{
    for (int round = 0; round < 8; round++) {
        fl_xjob *left = fl__executor_stop(&n->ex);
        bool any = left != NULL;
        while (left) {
            fl_xjob *next = left->next;
            answer_job(n, left->job, "Cancelled", "the node stopped before running the task");
            xjob_put(n, left);
            left = next;
        }
        fl__inbox_take(&n->inbox, b);
        any = any || b->dones || n->nstarved || n->inline_head;
        run_dones(n, b->dones);
        cancel_inline(n);
        b->dones = NULL;
        answer_peers(n, b->reqs, false);
        b->reqs = NULL;
        run_revokes(n, b->revokes, false);
        b->revokes = NULL;
        run_checked(n, b->checked, false);
        b->checked = NULL;
        if (!any)
            return;
        /* Later rounds see only new submissions; keep the first ones. */
        while (b->subs) {
            fl_result *next = b->subs->next;
            b->subs->next = n->backlog_head;
            n->backlog_head = b->subs;
            b->subs = next;
        }
    }
}

void fl__loop_finish_leftovers(fl_node *n)
{
    fl_inbox_batch b;

    n->now = fl__now_us();
    fl__executor_cancel_all(&n->ex);
    cancel_inline(n);
    drain_jobs(n, &b);
    while (b.subs) {
        fl_result *next = b.subs->next;
        fl__result_drop_submission(b.subs);
        abort_result(NULL, b.subs);
        b.subs = next;
    }
    while (n->backlog_head) {
        fl_result *next = n->backlog_head->next;
        fl__result_drop_submission(n->backlog_head);
        abort_result(NULL, n->backlog_head);
        n->backlog_head = next;
    }
    n->backlog_tail = NULL;
    fl__idmap_drain(&n->results, abort_result, NULL);
    while (n->free_xjobs) {
        fl_xjob *next = n->free_xjobs->next;
        fl__free(n->free_xjobs);
        n->free_xjobs = next;
    }
}
