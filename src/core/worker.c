/*
 * worker.c - the worker side of the protocol (docs/protocol.md section 6):
 * which owners to fetch from and with how much credit, the jobs held
 * (queued, running), duplicate leases, time limits, lease extensions, and
 * outcomes batched into one done per owner per flush.
 *
 * Credit is adaptive: enough tasks to keep every slot busy for one assumed
 * round trip, so a node running 5 us tasks asks for hundreds at a time and a
 * node running 1 s tasks asks for little more than its slots.
 * Depends on internal.h.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"

/* The round trip the credit covers is measured, because a lease carrying
 * a chunk of megabytes takes milliseconds to cross the broker and a worker
 * must ask for its next task before it needs it. The estimate is the
 * shortest of the last FL_RTT_SAMPLES fetch -> lease times, since a fetch
 * the owner parked measures how long the owner had no work, not the path;
 * and only fetches sent when work was likely ready count (right after a
 * work announcement, or when the owner's last lease gave all we asked). It
 * stays within 1 ms (what tiny tasks were always given) and 50 ms (so a
 * parked fetch that slips through cannot make a worker ask for hundreds of
 * tasks). */
#define RTT_FLOOR_US 1000.0
#define RTT_CAP_US 50000.0
/* Tasks finishing within one round trip that are not worth one more task
 * held, per slot: waiting under 1% of a task's time is cheaper than
 * hoarding a long task another worker could start. */
#define RTT_SLACK 0.01

/* Owners silent this long that hold nothing of ours and show no presence
 * are forgotten (hand-written clients publish none). */
#define OWNER_IDLE_US (60u * 1000000u)

/* ------------------------------------------------------------ job lists */

static void jl_remove(fl_jlist *l, fl_wjob *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        l->tail = j->prev;
    j->prev = j->next = NULL;
    l->n--;
}

static void jl_push_back(fl_jlist *l, fl_wjob *j)
{
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->n++;
}

/* Take j out of the queue without starting it. */
static void unqueue(fl_worker *w, fl_wjob *j)
{
    jl_remove(&w->queue, j);
    if (j->rate_us && w->rated_queued)
        w->rated_queued--;
}

static void job_free(fl_wjob *j)
{
    fl__free(j->job.name);
    fl_value_free(j->job.args);
    fl_value_free(j->job.kwargs);
    fl__free(j->job.att);
    fl__free(j);
}

/* ------------------------------------------------------------ owners */

static fl_wowner *find_owner(fl_worker *w, const char *id)
{
    for (fl_wowner *o = w->owners; o; o = o->next)
        if (strcmp(o->id, id) == 0)
            return o;
    return NULL;
}

fl_wowner *fl__worker_find_owner(fl_core *c, const char *id)
{
    return find_owner(&c->worker, id);
}

static fl_wowner *add_owner(fl_worker *w, const char *id, uint64_t now)
{
    fl_wowner *o = fl__calloc(1, sizeof *o);
    if (!o)
        return NULL;
    snprintf(o->id, sizeof o->id, "%s", id);
    o->last_heard = now;
    o->ttl_ms = FL_DEFAULT_LEASE_TTL_MS;
    o->next = w->owners;
    w->owners = o;
    return o;
}

static void remove_owner(fl_worker *w, fl_wowner *o)
{
    for (fl_wowner **p = &w->owners; *p; p = &(*p)->next) {
        if (*p == o) {
            *p = o->next;
            break;
        }
    }
    fl__free(o);
}

static bool job_of(const fl_wjob *j, const fl_wowner *o)
{
    return j->owner_inc == o->inc && strcmp(j->job.owner, o->id) == 0;
}

uint32_t fl__worker_load(const fl_core *c)
{
    const fl_worker *w = &c->worker;
    return (uint32_t)(w->queue.n + w->running.n + w->abandoned.n);
}

static void note_round_trip(fl_worker *w, uint64_t us)
{
    w->rtt_us[w->rtt_n++ % FL_RTT_SAMPLES] =
        us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static double round_trip_us(const fl_worker *w)
{
    size_t n = w->rtt_n < FL_RTT_SAMPLES ? w->rtt_n : FL_RTT_SAMPLES;
    double best = RTT_CAP_US;
    for (size_t i = 0; i < n; i++)
        if (w->rtt_us[i] < best)
            best = w->rtt_us[i];
    return n == 0 || best < RTT_FLOOR_US ? RTT_FLOOR_US : best;
}

/* Enough tasks to keep the slots busy for one round trip (protocol.md,
 * worker rules): one per slot running, plus those that finish while the
 * next lease is on its way, rounded up, since a slot short of a task for
 * 30% of a task's time idles that long. */
static uint32_t target_credit(const fl_core *c)
{
    const fl_worker *w = &c->worker;
    double slots = (double)c->slots, t = 2.0 * slots;
    if (w->exec_us > 0) {
        double extra = slots * (round_trip_us(w) / w->exec_us - RTT_SLACK);
        double whole = extra > 0 ? (double)(uint64_t)extra : 0.0;
        t = slots + (whole < extra ? whole + 1.0 : whole); /* ceil */
    }
    if (t > FL_WORKER_MAX_CREDIT)
        t = FL_WORKER_MAX_CREDIT;
    if (t < c->slots)
        t = c->slots;
    return (uint32_t)t;
}

/* Drop everything held for owner o (it died or restarted). Running jobs
 * cannot be taken back from the driver: they become abandoned. */
static void drop_jobs_of(fl_core *c, fl_wowner *o)
{
    fl_worker *w = &c->worker;
    for (fl_wjob *j = w->queue.head, *next; j; j = next) {
        next = j->next;
        if (!job_of(j, o))
            continue;
        unqueue(w, j);
        job_free(j);
    }
    for (fl_wjob *j = w->running.head, *next; j; j = next) {
        next = j->next;
        if (!job_of(j, o))
            continue;
        jl_remove(&w->running, j);
        j->st = FL_J_ABANDONED;
        jl_push_back(&w->abandoned, j);
        if (c->io.cancel)
            c->io.cancel(c->io.ud, &j->job);
    }
    /* Outcomes not yet sent to it go nowhere now. */
    size_t k = 0;
    for (size_t i = 0; i < w->outbox_n; i++) {
        if (strcmp(w->outbox[i].owner, o->id) == 0)
            fl_outcome_clear(&w->outbox[i].out);
        else
            w->outbox[k++] = w->outbox[i];
    }
    w->outbox_n = k;
    if (!k)
        w->outbox_since = 0;
    o->held = 0;
}

void fl__worker_owner_gone(fl_core *c, const char *id, uint64_t inc,
                           uint64_t now)
{
    (void)now;
    fl_wowner *o = find_owner(&c->worker, id);
    if (!o || (inc && o->inc && o->inc != inc))
        return;
    if (o->held)
        fl__log(c, FL_LOG_INFO, "owner %s gone: dropping its %u tasks", id,
                (unsigned)o->held);
    drop_jobs_of(c, o);
    remove_owner(&c->worker, o);
}

/* ------------------------------------------------------------ dedupe */

static uint64_t dedupe_key(const char *owner, uint64_t inc, uint64_t id,
                           uint32_t attempt)
{
    uint64_t h = fl__hash_bytes(owner, strlen(owner), inc);
    uint64_t tail[2] = {id, attempt};
    return fl__hash_bytes(tail, sizeof tail, h);
}

/* ------------------------------------------------------------ running */

/* How many jobs the driver may hold at once: exactly the slots for tasks of
 * 200 us or more (so a time limit is not eaten by waiting in the driver's
 * queue), up to 64 per slot for tiny tasks (so executor threads never wait
 * for the event loop between two tasks). */
static size_t dispatch_window(const fl_core *c)
{
    const fl_worker *w = &c->worker;
    size_t extra = 0;
    if (w->exec_us > 0) {
        double e = 200.0 / w->exec_us;
        extra = e > 64 ? 64 : (size_t)e;
    }
    return (size_t)c->slots * (1 + extra);
}

/* May j start now under its name's rate limit? If not, the tick is told
 * when it may. */
static bool rate_admits(fl_worker *w, const fl_wjob *j, uint64_t now)
{
    uint64_t when = 0;
    if (!j->rate_us ||
        fl__rate_take(&w->rates, j->job.name, j->rate_us, now, &when))
        return true;
    if (!w->rate_wake || when < w->rate_wake)
        w->rate_wake = when;
    return false;
}

/* Hand queued jobs to the driver, oldest first, as far as the window
 * lets; a job whose name's rate limit says wait stays queued (holding no
 * slot) and those behind it go first. */
static void start_jobs(fl_core *c, uint64_t now)
{
    fl_worker *w = &c->worker;
    size_t window = dispatch_window(c);
    fl_wjob *nx;
    if (w->rated_queued)
        w->rate_wake = 0;
    for (fl_wjob *j = w->queue.head;
         j && w->running.n + w->abandoned.n < window; j = nx) {
        nx = j->next;
        if (j->rate_us) {
            if (!rate_admits(w, j, now))
                continue;
            w->rated_queued--;
        }
        jl_remove(&w->queue, j);
        j->st = FL_J_RUNNING;
        j->started = now;
        jl_push_back(&w->running, j);
        fl__obs_started(c, j, now);
        if (c->io.execute)
            c->io.execute(c->io.ud, &j->job);
    }
}

static bool outbox_add(fl_worker *w, const fl_wjob *j, fl_outcome *out)
{
    if (w->outbox_n == w->outbox_cap) {
        size_t ncap = w->outbox_cap ? w->outbox_cap * 2 : FL_OUTBOX_START;
        fl_outbox_entry *nb = fl__realloc(w->outbox, ncap * sizeof *nb);
        if (!nb)
            return false;
        w->outbox = nb;
        w->outbox_cap = ncap;
    }
    fl_outbox_entry *e = &w->outbox[w->outbox_n++];
    memcpy(e->owner, j->job.owner, sizeof e->owner);
    e->id = j->job.id;
    e->attempt = j->job.attempt;
    e->out = *out;
    memset(out, 0, sizeof *out);
    return true;
}

/* Queue the outcome of j for its owner, if that owner is still the one
 * that leased it. */
/* A result nested deeper than a done message can carry would make the
 * owner refuse the whole message; fail the task saying so instead. */
static void check_result_depth(fl_outcome *out)
{
    const char *deep = out->ok && out->value_json
                           ? fl__json_depth_check(out->value_json,
                                                  out->value_len,
                                                  FL_MAX_ARG_DEPTH)
                           : NULL;
    if (!deep)
        return;
    char *msg = fl__strdup_printf(FL_MAX_ERROR_MESSAGE, "the result is %s "
                                  "for a task result (a done message "
                                  "carries it 3 levels down)", deep);
    fl_outcome_clear(out);
    out->ok = false;
    snprintf(out->err_type, sizeof out->err_type, "ValueError");
    out->err_message = msg; /* NULL when out of memory: sent as "" */
    out->retryable = false;
}

static void deliver(fl_core *c, fl_wjob *j, fl_outcome *out)
{
    fl_worker *w = &c->worker;
    check_result_depth(out);
    fl_wowner *o = find_owner(w, j->job.owner);
    if (!o || o->inc != j->owner_inc) {
        fl_outcome_clear(out);
        return;
    }
    if (o->held)
        o->held--;
    if (!outbox_add(w, j, out)) {
        /* Not sending it lets the lease expire and the task run again. */
        fl__log(c, FL_LOG_ERROR, "out of memory: outcome of task %llu lost",
                (unsigned long long)j->job.id);
        fl_outcome_clear(out);
    }
}

void fl_core_job_done(fl_core *c, fl_job *job, fl_outcome *outcome,
                      uint64_t now)
{
    fl_worker *w = &c->worker;
    fl_wjob *j = (fl_wjob *)job;
    if (j->st == FL_J_ABANDONED) {
        jl_remove(&w->abandoned, j);
        fl_outcome_clear(outcome);
    } else {
        jl_remove(&w->running, j);
        uint64_t run_us = outcome->run_us ? outcome->run_us
                          : now > j->started ? now - j->started : 0;
        double us = (double)run_us;
        if (us < 1)
            us = 1;
        w->exec_us = w->exec_us > 0 ? 0.9 * w->exec_us + 0.1 * us : us;
        if (!outcome->run_us)
            outcome->run_us = (uint64_t)us; /* reported to the owner */
        c->stats.executed++;
        fl__obs_ended(c, j, outcome, run_us, now);
        deliver(c, j, outcome);
    }
    job_free(j);
    if (!c->shutting_down)
        start_jobs(c, now);
}

/* ------------------------------------------------------------ input */

void fl__worker_on_work(fl_core *c, fl_msg *m, uint64_t now)
{
    fl_worker *w = &c->worker;
    if (c->slots == 0 || c->shutting_down)
        return;
    fl_wowner *o = find_owner(w, m->from);
    if (!o)
        o = add_owner(w, m->from, now);
    if (!o)
        return;
    o->last_heard = now;
    /* Credit of ours parked at that very incarnation (a fetch it has not
     * refused, sent less than FL_FETCH_REFRESH_MS ago) already gets us
     * its tasks without asking: the owner announces for the workers that
     * are not parked, or for tasks we may not take. Not answering keeps
     * an announcement from waking every node of a large cluster
     * (docs/scaling.md). The belief lasts one refresh time only: a lost
     * lease may have used up the credit we think is parked. */
    uint64_t known = o->inc ? o->inc : o->work_inc;
    if (o->outstanding && !o->refused && m->inc && m->inc == known &&
        o->fetched_at && now < o->fetched_at + FL_FETCH_REFRESH_MS * 1000ull)
        return;
    /* Otherwise the owner has no credit of ours (it lost our fetch, or
     * restarted): ask again. */
    o->work_inc = m->inc;
    o->outstanding = 0;
    o->announced = true;
}

void fl__worker_fetch_refused(fl_core *c, const char *id)
{
    fl_wowner *o = find_owner(&c->worker, id);
    if (o)
        o->refused = true;
}

static fl_wjob *make_job(const fl_wowner *o, fl_msg_task *t)
{
    fl_wjob *j = fl__calloc(1, sizeof *j);
    if (!j)
        return NULL;
    memcpy(j->job.owner, o->id, sizeof j->job.owner);
    j->owner_inc = o->inc;
    j->job.id = t->id;
    j->job.attempt = t->attempt;
    j->job.time_limit_ms = t->time_limit_ms;
    j->job.soft_time_limit_ms = t->soft_time_limit_ms;
    j->rate_us = t->rate_us;
    j->job.name = t->name;
    j->job.args = t->args;
    j->job.kwargs = t->kwargs;
    if (t->att_len) {
        j->job.att = fl__malloc(t->att_len);
        if (!j->job.att) {
            fl__free(j);
            return NULL;
        }
        memcpy(j->job.att, t->att, t->att_len);
        j->job.att_len = t->att_len;
    }
    t->name = NULL;
    t->args = NULL;
    t->kwargs = NULL;
    return j;
}

/* The owner o as this lease describes it; a new incarnation replaces the
 * old record and everything held for it. */
static fl_wowner *owner_for_lease(fl_core *c, const fl_msg *m, uint64_t now)
{
    fl_worker *w = &c->worker;
    fl_wowner *o = find_owner(w, m->from);
    if (o && o->inc && o->inc != m->inc) {
        fl__worker_owner_gone(c, o->id, o->inc, now);
        o = NULL;
    }
    if (!o)
        o = add_owner(w, m->from, now);
    if (o)
        o->inc = m->inc;
    return o;
}

/* The name this node must run for t: the task itself, or for a chunks
 * task (fl.starmap) the task it maps. */
static const char *name_to_run(const fl_msg_task *t)
{
    if (strcmp(t->name, "fl.starmap") != 0)
        return t->name;
    const char *inner = fl_value_string(fl_value_at(t->args, 0), NULL);
    return inner ? inner : t->name;
}

/* A lease for a task this node does not run (the owner's view of our
 * tasks was stale): answer NotRunHere, retryable, so the owner leases it
 * elsewhere. Nothing is remembered: should the task come back once we run
 * it, it runs. */
static void hand_back(fl_core *c, const fl_wowner *o, const fl_msg_task *t,
                      const char *name)
{
    fl_worker *w = &c->worker;
    char msg[FL_MAX_ID * 2 + 48];
    snprintf(msg, sizeof msg, "node %s does not run '%s'", c->id, name);
    fl_outcome out;
    memset(&out, 0, sizeof out);
    snprintf(out.err_type, sizeof out.err_type, "%s", FL_NOT_RUN_HERE);
    out.err_message = fl__strdup(msg);
    out.retryable = true;
    if (w->outbox_n == w->outbox_cap) {
        size_t ncap = w->outbox_cap ? w->outbox_cap * 2 : 64;
        fl_outbox_entry *nb = fl__realloc(w->outbox, ncap * sizeof *nb);
        if (!nb) {
            fl_outcome_clear(&out); /* its lease expires instead */
            return;
        }
        w->outbox = nb;
        w->outbox_cap = ncap;
    }
    fl_outbox_entry *e = &w->outbox[w->outbox_n++];
    memcpy(e->owner, o->id, sizeof e->owner);
    e->id = t->id;
    e->attempt = t->attempt;
    e->out = out;
    c->stats.handed_back++;
}


/* A release to one owner, written while its ids are found (no array of
 * them on the stack): FL_MAX_BATCH ids to a message. */
typedef struct fl_releaser {
    fl_core *c;
    const char *to;
    size_t n;           /* ids in the message being written */
} fl_releaser;

static void release_flush(fl_releaser *r)
{
    if (!r->n)
        return;
    fl__jw_end_arr(&r->c->jw);
    fl__send_to(r->c, r->to, NULL, 1, false);
    r->n = 0;
}

static void release_add(fl_releaser *r, uint64_t id)
{
    if (!r->n) {
        fl__jw_begin_msg(&r->c->jw, FL_KIND_RELEASE, r->c->id, r->c->inc);
        fl__jw_arr(&r->c->jw, "ids");
    }
    fl__jw_u64(&r->c->jw, NULL, id);
    if (++r->n == FL_MAX_BATCH)
        release_flush(r);
}

void fl__worker_on_lease(fl_core *c, fl_msg *m, uint64_t now)
{
    fl_worker *w = &c->worker;
    if (c->slots == 0) {
        fl__send_error(c, m->from, m, "BadMessage",
                       "this node has no execution slots");
        return;
    }
    fl_wowner *o = owner_for_lease(c, m, now);
    if (!o)
        return;
    o->last_heard = now;
    o->ttl_ms = m->ttl_ms ? m->ttl_ms : FL_DEFAULT_LEASE_TTL_MS;
    if (o->fetch_sent_at && o->fetch_timed && m->fid == o->fid &&
        now >= o->fetch_sent_at)
        note_round_trip(w, now - o->fetch_sent_at);
    o->fetch_sent_at = 0;
    /* A lease answering a fid we never sent: someone sent a fetch in our
     * name, and the owner now ignores our fetches up to that fid. Count on
     * from it, so that our next fetch is the one the owner takes (the
     * codec keeps every fid below 2^53: the counter cannot wrap). */
    bool foreign = m->fid > w->next_fid;
    if (foreign)
        w->next_fid = m->fid;
    /* Less than we asked for: the owner has no more ready for now, and our
     * next fetch will probably wait there for work. */
    o->drained = m->ntasks < o->outstanding;
    o->outstanding -= m->ntasks < o->outstanding ? (uint32_t)m->ntasks
                                                 : o->outstanding;
    /* What the owner holds for us is now that fetch's credit, not ours:
     * ask again (announcements are not answered while we think our
     * credit is parked there). */
    if (foreign)
        o->outstanding = 0;
    if (!o->next_extend)
        o->next_extend = now + (uint64_t)o->ttl_ms * 1000u / FL_EXTEND_DIVISOR;
    if (c->shutting_down) {
        fl_releaser r = {c, o->id, 0};
        for (size_t i = 0; i < m->ntasks; i++)
            release_add(&r, m->tasks[i].id);
        release_flush(&r);
        return;
    }
    for (size_t i = 0; i < m->ntasks; i++) {
        fl_msg_task *t = &m->tasks[i];
        const char *name = name_to_run(t);
        if (!fl__core_runs(c, name)) {
            hand_back(c, o, t, name);
            continue;
        }
        uint64_t key = dedupe_key(o->id, o->inc, t->id, t->attempt);
        if (fl__dedupe_seen(&w->seen, key)) {
            c->stats.duplicates_dropped++;
            continue;
        }
        fl_wjob *j = make_job(o, t);
        if (!j) {
            fl__log(c, FL_LOG_ERROR, "out of memory: task %llu from %s "
                    "dropped (its lease will expire)",
                    (unsigned long long)t->id, o->id);
            continue;
        }
        j->dedupe_key = key;
        j->track_started = m->track_started;
        jl_push_back(&w->queue, j);
        if (j->rate_us)
            w->rated_queued++;
        o->held++;
        fl__obs_received(c, j, now);
    }
    start_jobs(c, now);
}

/* Drop or stop every job of owner o with task id. Queued ones never
 * run; running ones are cancelled and occupy their slot until the driver
 * answers (at once for a task that sees its cancellation). Returns how
 * many were found. */
static size_t revoke_job(fl_core *c, fl_wowner *o, uint64_t id,
                         bool terminate)
{
    fl_worker *w = &c->worker;
    size_t found = 0;
    for (fl_wjob *j = w->queue.head, *nx; j; j = nx) {
        nx = j->next;
        if (j->job.id != id || !job_of(j, o))
            continue;
        fl__log(c, FL_LOG_DEBUG, "task %s %s:%llu attempt %u revoked before "
                "it started", j->job.name, j->job.owner,
                (unsigned long long)id, (unsigned)j->job.attempt);
        unqueue(w, j);
        job_free(j); /* its dedupe key stays: a duplicate lease is dropped */
        if (o->held)
            o->held--;
        found++;
    }
    for (fl_wjob *j = w->running.head, *nx; j; j = nx) {
        nx = j->next;
        if (j->job.id != id || !job_of(j, o))
            continue;
        fl__log(c, FL_LOG_DEBUG, "task %s %s:%llu attempt %u revoked while "
                "running: cancelled%s", j->job.name, j->job.owner,
                (unsigned long long)id, (unsigned)j->job.attempt,
                terminate ? " (terminate)" : "");
        jl_remove(&w->running, j);
        j->st = FL_J_ABANDONED;
        j->job.terminate = terminate;
        jl_push_back(&w->abandoned, j);
        if (o->held)
            o->held--;
        if (c->io.cancel)
            c->io.cancel(c->io.ud, &j->job);
        found++;
    }
    /* Revoked again, now with terminate: a cancelled task that did not
     * stop is killed where it can be. */
    for (fl_wjob *j = w->abandoned.head; terminate && j; j = j->next) {
        if (j->job.id != id || j->job.terminate || !job_of(j, o))
            continue;
        j->job.terminate = true;
        if (c->io.cancel)
            c->io.cancel(c->io.ud, &j->job);
        found++;
    }
    return found;
}

void fl__worker_on_revoke(fl_core *c, fl_msg *m, uint64_t now)
{
    fl_wowner *o = find_owner(&c->worker, m->from);
    /* Only the incarnation that leased a job may revoke it: ids are
     * numbered per owner incarnation. */
    if (!o || !o->inc || o->inc != m->inc)
        return;
    size_t found = 0;
    for (size_t i = 0; i < m->nids; i++)
        found += revoke_job(c, o, m->ids[i], m->terminate);
    if (found && !c->shutting_down)
        start_jobs(c, now);
}

/* ------------------------------------------------------------ output */

static void write_outcome(fl_jw *jw, const fl_outbox_entry *e)
{
    const fl_outcome *out = &e->out;
    fl__jw_obj(jw, NULL);
    fl__jw_u64(jw, "id", e->id);
    fl__jw_u64(jw, "attempt", e->attempt);
    fl__jw_bool(jw, "ok", out->ok);
    /* The owner spreads slow tasks by it; quick ones say nothing. */
    if (out->run_us >= 1000)
        fl__jw_u64(jw, "us", out->run_us);
    if (out->ok) {
        if (out->value_json)
            fl__jw_raw(jw, "value", out->value_json, out->value_len);
        if (out->att_len)
            fl__jw_att(jw, "att", out->att, out->att_len);
    } else {
        fl__jw_obj(jw, "error");
        fl__jw_str(jw, "type", out->err_type[0] ? out->err_type : "TaskError");
        fl__jw_str(jw, "message", out->err_message ? out->err_message : "");
        fl__jw_bool(jw, "retryable", out->retryable);
        fl__jw_end_obj(jw);
    }
    fl__jw_end_obj(jw);
}

static size_t outcome_size(const fl_outcome *o)
{
    return o->value_len + o->att_len +
           (o->err_message ? strlen(o->err_message) * 6 : 0) + 160;
}

/* Sends the done message being written and only then clears the outcomes
 * it holds (entries [from, upto) already taken, marked by an empty owner):
 * the writer refers to their attachments until the message is finished.
 * Clearing an outcome twice is harmless. */
static void flush_done(fl_core *c, const char *to, size_t from, size_t upto)
{
    fl_worker *w = &c->worker;
    fl__jw_end_arr(&c->jw);
    fl__send_to(c, to, NULL, 1, false);
    for (size_t i = from; i < upto; i++)
        if (w->outbox[i].owner[0] == '\0')
            fl_outcome_clear(&w->outbox[i].out);
}

/* Send every outcome for owner `to` in as few done messages as fit. */
static void send_done_for(fl_core *c, const char *owner)
{
    fl_worker *w = &c->worker;
    size_t in_msg = 0, first = 0;
    char to[FL_MAX_ID_BUF]; /* owner points into the entries we take */
    memcpy(to, owner, sizeof to);
    for (size_t i = 0; i < w->outbox_n; i++) {
        fl_outbox_entry *e = &w->outbox[i];
        if (e->owner[0] == '\0' || strcmp(e->owner, to) != 0)
            continue;
        if (in_msg && (in_msg == FL_MAX_BATCH ||
                       fl__jw_size(&c->jw) + outcome_size(&e->out) >
                           c->max_message)) {
            flush_done(c, to, first, i);
            in_msg = 0;
        }
        if (!in_msg) {
            fl__jw_begin_msg(&c->jw, FL_KIND_DONE, c->id, c->inc);
            fl__jw_arr(&c->jw, "results");
            first = i;
        }
        write_outcome(&c->jw, e);
        in_msg++;
        e->owner[0] = '\0';
    }
    if (in_msg)
        flush_done(c, to, first, w->outbox_n);
}

static void send_outcomes(fl_core *c)
{
    fl_worker *w = &c->worker;
    for (size_t i = 0; i < w->outbox_n; i++)
        if (w->outbox[i].owner[0])
            send_done_for(c, w->outbox[i].owner);
    w->outbox_n = 0;
}

void fl__worker_send_outcomes(fl_core *c)
{
    if (c->worker.outbox_n) {
        send_outcomes(c);
        c->worker.outbox_since = 0;
    }
}

static void send_fetch(fl_core *c, fl_wowner *o, uint32_t credit,
                       uint64_t now)
{
    fl_worker *w = &c->worker;
    o->fid = ++w->next_fid;
    o->outstanding = credit;
    o->fetch_sent_at = now ? now : 1;
    o->fetched_at = o->fetch_sent_at;
    o->fetch_timed = o->announced || !o->drained;
    o->announced = false;
    o->refused = false;
    fl__jw_begin_msg(&c->jw, FL_KIND_FETCH, c->id, c->inc);
    fl__jw_u64(&c->jw, "fid", o->fid);
    fl__jw_u64(&c->jw, "credit", credit);
    fl__jw_u64(&c->jw, "max_msg", c->max_message);
    fl__jw_u64(&c->jw, "rtt_us", (uint64_t)round_trip_us(w));
    fl__send_to(c, o->id, NULL, 1, false);
}

/* Top up the credit parked at each owner once a quarter of it is used. */
static void send_fetches(fl_core *c, uint64_t now)
{
    fl_worker *w = &c->worker;
    if (c->slots == 0 || c->shutting_down || !c->connected)
        return;
    uint32_t target = target_credit(c);
    uint32_t load = fl__worker_load(c);
    uint32_t want = target > load ? target - load : 0;
    uint32_t step = target / 4 ? target / 4 : 1;
    for (fl_wowner *o = w->owners; o; o = o->next) {
        if (want >= o->outstanding + step ||
            (o->outstanding == 0 && want > 0))
            send_fetch(c, o, want, now);
    }
}

/* Send now, or let the outcomes wait for the next ones (FL_DONE_LINGER_US)? */
static bool outcomes_due(const fl_core *c, uint64_t now)
{
    const fl_worker *w = &c->worker;
    /* Jobs waiting for their rate limit are not about to end. */
    return w->queue.n <= w->rated_queued || w->outbox_n >= FL_DONE_BATCH ||
           c->shutting_down || now - w->outbox_since >= FL_DONE_LINGER_US;
}

void fl__worker_flush(fl_core *c, uint64_t now)
{
    fl_worker *w = &c->worker;
    /* Outcomes finished while disconnected wait for the connection: sent
     * now they would be lost, and their tasks run again. */
    if (w->outbox_n && (c->connected || c->shutting_down)) {
        if (!w->outbox_since)
            w->outbox_since = now ? now : 1;
        if (outcomes_due(c, now)) {
            send_outcomes(c);
            w->outbox_since = 0;
        }
    }
    send_fetches(c, now);
}

uint64_t fl__worker_outbox_deadline(const fl_core *c)
{
    const fl_worker *w = &c->worker;
    return w->outbox_n && w->outbox_since && c->connected
               ? w->outbox_since + FL_DONE_LINGER_US
               : 0;
}

/* ------------------------------------------------------------ timers */

static void enforce_time_limits(fl_core *c, uint64_t now, uint64_t *next)
{
    fl_worker *w = &c->worker;
    char msg[160];
    for (fl_wjob *j = w->running.head, *nx; j; j = nx) {
        nx = j->next;
        if (!j->job.time_limit_ms)
            continue;
        uint64_t end = j->started + (uint64_t)j->job.time_limit_ms * 1000u;
        if (now < end) {
            if (!*next || end < *next)
                *next = end;
            continue;
        }
        fl_outcome out;
        memset(&out, 0, sizeof out);
        snprintf(out.err_type, sizeof out.err_type, "TimeLimitExceeded");
        snprintf(msg, sizeof msg, "%s exceeded its time limit of %u ms",
                 j->job.name, (unsigned)j->job.time_limit_ms);
        out.err_message = fl__strdup(msg);
        jl_remove(&w->running, j);
        j->st = FL_J_ABANDONED;
        jl_push_back(&w->abandoned, j);
        fl__obs_ended(c, j, &out, now - j->started, now);
        deliver(c, j, &out);
        if (c->io.cancel)
            c->io.cancel(c->io.ud, &j->job);
    }
}

/* Whether j is one of the jobs really running: the driver runs jobs in
 * the order they were handed to it, `slots` at once (abandoned ones hold
 * their slots until they return), so those are the first of `running`. */
static size_t running_slots(const fl_core *c)
{
    size_t busy = c->worker.abandoned.n;
    return c->slots > busy ? c->slots - busy : 0;
}

static bool started_due(const fl_wjob *j, uint64_t now)
{
    return j->track_started && !j->started_sent &&
           now >= j->started + FL_STARTED_AFTER_US;
}

/* One `started` for first's owner: every due job of it among the running
 * ones (up to a batch). */
static void send_started_for(fl_core *c, const fl_wjob *first, uint64_t now)
{
    fl_worker *w = &c->worker;
    size_t k = 0, n = 0, lim = running_slots(c);
    char to[FL_MAX_ID_BUF];
    uint64_t inc = first->owner_inc;
    memcpy(to, first->job.owner, sizeof to);
    /* Outcomes kept back for a batch go first: a slot that started a task
     * has ended the one before, and an owner that heard of the start
     * first would count one more task running than there are slots. */
    fl__worker_send_outcomes(c);
    fl__jw_begin_msg(&c->jw, FL_KIND_STARTED, c->id, c->inc);
    fl__jw_arr(&c->jw, "ids");
    for (fl_wjob *j = w->running.head; j && k < lim && n < FL_MAX_BATCH;
         j = j->next, k++) {
        if (started_due(j, now) && j->owner_inc == inc &&
            strcmp(j->job.owner, to) == 0) {
            fl__jw_u64(&c->jw, NULL, j->job.id);
            j->started_sent = true;
            n++;
        }
    }
    fl__jw_end_arr(&c->jw);
    fl__send_to(c, to, NULL, 1, false);
}

/* Tell owners that asked (track_started) which of their tasks run, once
 * each has run FL_STARTED_AFTER_US (docs/protocol.md 3.14). */
static void report_started(fl_core *c, uint64_t now, uint64_t *next)
{
    fl_worker *w = &c->worker;
    size_t k = 0, lim = running_slots(c);
    if (!c->connected)
        return;
    for (fl_wjob *j = w->running.head; j && k < lim; j = j->next, k++) {
        if (!j->track_started || j->started_sent)
            continue;
        uint64_t due = j->started + FL_STARTED_AFTER_US;
        if (now < due) {
            if (!*next || due < *next)
                *next = due;
            continue;
        }
        fl_wowner *o = find_owner(w, j->job.owner);
        if (!o || o->inc != j->owner_inc) {
            j->started_sent = true; /* its owner is gone */
            continue;
        }
        send_started_for(c, j, now);
    }
}

static void extend_leases(fl_core *c, fl_wowner *o, uint64_t now)
{
    fl_worker *w = &c->worker;
    fl_jlist *lists[2] = {&w->running, &w->queue};
    size_t in_msg = 0;
    for (int l = 0; l < 2; l++) {
        for (fl_wjob *j = lists[l]->head; j; j = j->next) {
            if (!job_of(j, o))
                continue;
            if (in_msg == FL_MAX_BATCH) {
                fl__jw_end_arr(&c->jw);
                fl__send_to(c, o->id, NULL, 1, false);
                in_msg = 0;
            }
            if (!in_msg) {
                fl__jw_begin_msg(&c->jw, FL_KIND_EXTEND, c->id, c->inc);
                fl__jw_arr(&c->jw, "ids");
            }
            fl__jw_u64(&c->jw, NULL, j->job.id);
            in_msg++;
        }
    }
    if (in_msg) {
        fl__jw_end_arr(&c->jw);
        fl__send_to(c, o->id, NULL, 1, false);
    }
    o->next_extend = now + (uint64_t)o->ttl_ms * 1000u / FL_EXTEND_DIVISOR;
}

static bool owner_idle(const fl_core *c, const fl_wowner *o, uint64_t now)
{
    if (o->held || now - o->last_heard < OWNER_IDLE_US)
        return false;
    const fl_peer_rec *p = fl__peer_find(c, o->id);
    return !p || !p->info.online;
}

static uint64_t owner_timers(fl_core *c, fl_wowner *o, uint64_t now)
{
    uint64_t next = 0;
    if (o->held) {
        if (now >= o->next_extend)
            extend_leases(c, o, now);
        next = o->next_extend;
    }
    if (o->fetch_sent_at && c->connected && !c->shutting_down) {
        uint64_t due = o->fetch_sent_at + FL_FETCH_REFRESH_MS * 1000ull;
        if (now >= due) {
            uint32_t target = target_credit(c), load = fl__worker_load(c);
            send_fetch(c, o, target > load ? target - load : 0, now);
            due = now + FL_FETCH_REFRESH_MS * 1000ull;
        }
        if (!next || due < next)
            next = due;
    }
    return next;
}

uint64_t fl__worker_tick(fl_core *c, uint64_t now)
{
    fl_worker *w = &c->worker;
    uint64_t next = 0;
    enforce_time_limits(c, now, &next);
    /* A rate-limited job whose turn came (rate.c). */
    if (w->rated_queued && w->rate_wake && now >= w->rate_wake &&
        !c->shutting_down)
        start_jobs(c, now);
    if (w->rated_queued && w->rate_wake && (!next || w->rate_wake < next))
        next = w->rate_wake;
    report_started(c, now, &next);
    for (fl_wowner *o = w->owners, *nx; o; o = nx) {
        nx = o->next;
        if (owner_idle(c, o, now)) {
            remove_owner(w, o);
            continue;
        }
        uint64_t t = owner_timers(c, o, now);
        if (t && (!next || t < next))
            next = t;
    }
    return next;
}

void fl__worker_connected(fl_core *c, uint64_t now)
{
    /* The broker may have lost our fetches: ask every owner again. */
    for (fl_wowner *o = c->worker.owners; o; o = o->next) {
        o->outstanding = 0;
        o->fetch_sent_at = 0;
        o->next_extend = now;
    }
    /* ... and leases or outcomes: tell every owner what we hold. */
    fl__worker_send_holdings(c);
}

void fl__worker_shutdown(fl_core *c, uint64_t now)
{
    fl_worker *w = &c->worker;
    (void)now;
    for (fl_wowner *o = w->owners; o; o = o->next) {
        fl_releaser r = {c, o->id, 0};
        for (fl_wjob *j = w->queue.head, *nx; j; j = nx) {
            nx = j->next;
            if (!job_of(j, o))
                continue;
            release_add(&r, j->job.id);
            unqueue(w, j);
            /* Released, not held: if it comes back (same attempt), run it. */
            fl__dedupe_forget(&w->seen, j->dedupe_key);
            job_free(j);
            if (o->held)
                o->held--;
        }
        release_flush(&r);
        if (o->outstanding) {
            fl__jw_begin_msg(&c->jw, FL_KIND_FETCH, c->id, c->inc);
            fl__jw_u64(&c->jw, "fid", ++w->next_fid);
            fl__jw_u64(&c->jw, "credit", 0);
            fl__send_to(c, o->id, NULL, 1, false);
            o->outstanding = 0;
        }
    }
}

bool fl__worker_idle(const fl_core *c)
{
    const fl_worker *w = &c->worker;
    return w->running.n == 0 && w->abandoned.n == 0 && w->outbox_n == 0;
}

void fl__worker_init(fl_core *c)
{
    memset(&c->worker, 0, sizeof c->worker);
    fl__dedupe_init(&c->worker.seen, FL_DEDUPE_WINDOW);
}

void fl__worker_free(fl_core *c)
{
    fl_worker *w = &c->worker;
    fl_jlist *lists[3] = {&w->running, &w->queue, &w->abandoned};
    for (int l = 0; l < 3; l++)
        for (fl_wjob *j = lists[l]->head, *nx; j; j = nx) {
            nx = j->next;
            job_free(j);
        }
    for (size_t i = 0; i < w->outbox_n; i++)
        fl_outcome_clear(&w->outbox[i].out);
    fl__free(w->outbox);
    while (w->owners)
        remove_owner(w, w->owners);
    fl__dedupe_free(&w->seen);
}
