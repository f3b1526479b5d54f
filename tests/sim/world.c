/*
 * world.c - one simulated run: the nodes (fl_core instances wired to the
 * in-memory broker), simulated execution of jobs, the fault injector and
 * the event loop on the virtual clock. Invariants are checked as events
 * happen (executions, finals) and at the end (check.c).
 * Depends on the simulator's headers, src/core/core.h and the C library.
 */
#include "world.h"
#include "defaults.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEPALIVE (15 * SIM_S)   /* 1.5 x the 10 s keep-alive */
#define SUBMIT_WINDOW (5 * SIM_S)
#define FAULT_PERIOD (250 * SIM_MS)
#define FAULT_WINDOW (60 * SIM_S)
#define DRAIN_LIMIT (300 * SIM_S)
#define SHUTDOWN_LIMIT (60 * SIM_S)
#define MAX_EVENTS 20000000ull
/* A core that asks for more ticks than this in one virtual second is
 * spinning: on a board that is a core kept awake for nothing. */
#define MAX_TICKS_PER_S 500u

void sim_fail(world *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    w->failed = true;
    int n = snprintf(w->why, sizeof w->why, "t=%.6fs: ",
                     (double)w->ev.now / (double)SIM_S);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->why + n, sizeof w->why - (size_t)n, fmt, ap);
    va_end(ap);
}

static void trace(world *w, const char *fmt, ...)
{
    if (!w->p.verbose)
        return;
    printf("%12.6f ", (double)w->ev.now / (double)SIM_S);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static double uniform01(world *w)
{
    return (double)(fl__rng_next(&w->rng) >> 11) / 9007199254740992.0;
}

static uint64_t between(world *w, uint64_t lo, uint64_t hi)
{
    return hi > lo ? lo + fl__rng_below(&w->rng, hi - lo + 1) : lo;
}

static void push(world *w, uint64_t t, int type, int node, uint64_t gen,
                 void *ptr)
{
    if (!sim_events_push(&w->ev, t, type, node, gen, ptr))
        sim_fail(w, "simulator out of memory");
}

bool sim_lossy(const sim_params *p)
{
    uint64_t latest = p->net.delay_max;
    if (p->net.reorder > 0)
        latest += p->net.reorder_max;
    uint64_t extend_every =
        (uint64_t)FL_DEFAULT_LEASE_TTL_MS * SIM_MS / FL_EXTEND_DIVISOR;
    return p->net.loss > 0 || p->crash > 0 || p->disconnect > 0 ||
           p->broker_restarts > 0 || latest >= extend_every;
}

bool sim_only_restarts(const sim_params *p)
{
    sim_params q = *p;
    q.broker_restarts = 0;
    return p->broker_restarts > 0 && !sim_lossy(&q);
}

/* ------------------------------------------------------------ task index */

static size_t hash_slot(const world *w, int client, uint64_t id)
{
    uint64_t h = (id + (uint64_t)client * 0x9E3779B97F4A7C15ull) *
                 0xBF58476D1CE4E5B9ull;
    return (size_t)(h >> 17) & (w->index_cap - 1);
}

static void index_put(world *w, sim_task *t)
{
    size_t i = hash_slot(w, t->client, t->id);
    while (w->index[i])
        i = (i + 1) & (w->index_cap - 1);
    w->index[i] = t;
}

sim_task *sim_find_task(world *w, int client, uint64_t id)
{
    size_t i = hash_slot(w, client, id);
    for (size_t probes = 0; probes < w->index_cap && w->index[i]; probes++) {
        sim_task *t = w->index[i];
        if (t->client == client && t->id == id)
            return t;
        i = (i + 1) & (w->index_cap - 1);
    }
    return NULL;
}

static int client_by_id(const world *w, const char *id)
{
    for (int c = 0; c < w->p.clients; c++)
        if (strcmp(w->nodes[w->p.workers + c].id, id) == 0)
            return c;
    return -1;
}

/* ------------------------------------------------------- core callbacks */

static bool is_work_topic(const char *topic)
{
    size_t n = strlen(topic);
    return n >= 5 && strcmp(topic + n - 5, "/work") == 0;
}

/* An owner announces at most once every FL_ANNOUNCE_MS on one connection
 * (docs/protocol.md 3.2): each announcement reaches every node, and a
 * thousand-node cluster must not be woken for every submission. A new
 * connection (or incarnation) may announce at once. */
static void check_announcement(world *w, sim_node *n)
{
    uint64_t now = w->ev.now;
    w->work_published++;
    if (n->work_at && n->work_conn == n->conns &&
        now - n->work_at < (uint64_t)FL_ANNOUNCE_MS * 1000u)
        sim_fail(w, "%s announced work again %.3f s after its "
                 "last announcement (at most one every %u ms)", n->id,
                 (double)(now - n->work_at) / (double)SIM_S,
                 (unsigned)FL_ANNOUNCE_MS);
    n->work_at = now ? now : 1;
    n->work_conn = n->conns;
}

static void io_publish(void *ud, const char *topic, const void *payload,
                       size_t len, int qos, bool retain)
{
    sim_node *n = ud;
    world *w = n->w;
    if (n->dying)
        return;
    /* core.h: a disconnected core stops sending until connected again. */
    if (!n->connected)
        sim_fail(w, "%s published on %s while disconnected", n->id, topic);
    if (w->p.verbose)
        trace(w, "%s > %s%s %.*s", n->id, topic, retain ? " (retained)" : "",
              (int)(len > 400 ? 400 : len), (const char *)payload);
    if (is_work_topic(topic))
        check_announcement(w, n);
    sim_broker_publish(w->br, n->index, topic, payload, len, retain,
                       w->ev.now);
}

static void io_subscribe(void *ud, const char *filter, int qos)
{
    sim_node *n = ud;
    if (n->dying)
        return;
    trace(n->w, "%s subscribes %s", n->id, filter);
    sim_broker_subscribe(n->w->br, n->index, filter, n->w->ev.now);
}

static bool hook_cancelled(void *ud)
{
    return ((sim_job *)ud)->timed_out;
}

/* Sleeping costs virtual time only; past the time limit the sleep is cut
 * short as the executor's would be when the core cancels the job. */
static bool hook_sleep(void *ud, double seconds)
{
    sim_job *j = ud;
    if (j->timed_out)
        return false;
    uint64_t us = seconds > 0 ? (uint64_t)(seconds * 1e6) : 0;
    uint64_t limit = (uint64_t)j->limit_ms * SIM_MS;
    if (limit && j->elapsed + us > limit) {
        j->elapsed = limit;
        j->timed_out = true;
        return false;
    }
    j->elapsed += us;
    return true;
}

/* The invariants that can be judged when a run starts. */
static void check_execution(world *w, sim_node *n, const fl_job *job)
{
    int c = client_by_id(w, job->owner);
    if (c < 0) {
        sim_fail(w, "%s runs a job of unknown owner %s", n->id, job->owner);
        return;
    }
    sim_task *t = sim_find_task(w, c, job->id);
    if (!t) {
        if (!sim_member_run(w, n, c, job))
            sim_fail(w, "%s runs unknown task %s/%llu", n->id, job->owner,
                     (unsigned long long)job->id);
        return;
    }
    t->executions++;
    /* Half of the revokes land while the task runs (or waits at its
     * worker), so that the worker's side of revoke is exercised too. */
    if (t->revoke && !t->revoke_requested && !t->revoke_at_run &&
        fl__rng_below(&w->rng, 2) == 0) {
        t->revoke_at_run = true;
        push(w, w->ev.now + between(w, 0, 30 * SIM_MS), SIM_EV_REVOKE,
             w->p.workers + c, 0, t);
    }
    if (t->executions > sim_task_max_runs(t))
        sim_fail(w, "task %s/%llu (%s) executed %u times, max_attempts %u",
                 job->owner, (unsigned long long)job->id, t->name,
                 t->executions, sim_task_max_runs(t));
    if (strcmp(job->name, t->name) != 0)
        sim_fail(w, "task %s/%llu runs as %s, submitted as %s", job->owner,
                 (unsigned long long)job->id, job->name, t->name);
    if (t->route[0] && strcmp(t->route, n->id) != 0)
        sim_fail(w, "task %s/%llu routed to %s runs on %s", job->owner,
                 (unsigned long long)job->id, t->route, n->id);
    if (w->ev.now < t->submitted_at + (uint64_t)t->opt.countdown_ms * SIM_MS)
        sim_fail(w, "task %s/%llu with countdown %u ms started after %.3f ms",
                 job->owner, (unsigned long long)job->id, t->opt.countdown_ms,
                 (double)(w->ev.now - t->submitted_at) / (double)SIM_MS);
    if (job->attempt < 1 || job->attempt > sim_task_max_runs(t))
        sim_fail(w, "task %s/%llu leased as attempt %u (max %u)", job->owner,
                 (unsigned long long)job->id, job->attempt,
                 sim_task_max_runs(t));
}

/* Does the payload hold text (payloads are not NUL-terminated)? */
static bool contains(const void *payload, size_t len, const char *text)
{
    size_t n = strlen(text);
    const char *p = payload;
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(p + i, text, n) == 0)
            return true;
    return false;
}

/* The revoke (protocol.md 3.13) that worker n just took from client c:
 * every job of those task ids it holds must be cancelled now, and no job
 * of them may start later. Revokes of another incarnation are ignored by
 * the core and so here (clients never restart in the simulator). */
static void check_revoke(world *w, sim_node *n, const sim_msg *m)
{
    if (n->client >= 0 || !contains(m->payload, m->len, "\"kind\":\"revoke\""))
        return;
    fl_value *v = NULL;
    if (fl_value_parse((const char *)m->payload, m->len, &v) != FL_OK)
        return;
    const char *from = fl_value_string(fl_value_get(v, "from"), NULL);
    const fl_value *ids = fl_value_get(v, "ids");
    int c = from ? client_by_id(w, from) : -1;
    for (size_t i = 0; c >= 0 && i < fl_value_count(ids); i++) {
        uint64_t id = (uint64_t)fl_value_number(fl_value_at(ids, i));
        for (sim_job *j = w->jobs; j; j = j->next) {
            if (j->node != n->index || j->gen != n->gen || !j->job ||
                j->finished || j->job->id != id || strcmp(j->job->owner, from))
                continue;
            if (!j->cancelled)
                sim_fail(w, "%s still runs %s/%llu after its revoke arrived",
                         n->id, from, (unsigned long long)id);
            w->revokes_cancelled++;
        }
        if (w->nrevoked == w->revoked_cap) {
            size_t cap = w->revoked_cap ? w->revoked_cap * 2 : 64;
            void *nr = realloc(w->revoked, cap * sizeof *w->revoked);
            if (!nr) {
                sim_fail(w, "simulator out of memory");
                break;
            }
            w->revoked = nr;
            w->revoked_cap = cap;
        }
        w->revoked[w->nrevoked].node = n->index;
        w->revoked[w->nrevoked].client = c;
        w->revoked[w->nrevoked++].id = id;
    }
    fl_value_free(v);
}

/* A revoke overtaken by its lease (--reorder) cannot stop it: the worker
 * holds nothing yet. Without reordering a lease never comes after it. */
static void check_not_revoked(world *w, sim_node *n, const fl_job *job)
{
    if (w->p.net.reorder > 0)
        return;
    int c = client_by_id(w, job->owner);
    for (size_t i = 0; i < w->nrevoked; i++)
        if (w->revoked[i].node == n->index && w->revoked[i].client == c &&
            w->revoked[i].id == job->id)
            sim_fail(w, "%s runs %s/%llu after its revoke arrived", n->id,
                     job->owner, (unsigned long long)job->id);
}

/* A slot takes the job: run it now, answer after its simulated duration. */
static void job_start(world *w, sim_node *n, sim_job *j)
{
    n->busy++;
    j->waiting = false;
    j->start = w->ev.now;
    j->elapsed = between(w, 1 * SIM_MS, 50 * SIM_MS);
    fl_run_hooks hooks = {j, hook_cancelled, hook_sleep, n->id,
                          FL_DEFAULT_MAX_MESSAGE, NULL};
    fl_core_run_job(w->reg, j->job, &hooks, &j->out);
    j->out.run_us = j->elapsed;
    /* A run cut by its time limit ends just after the core's timer. */
    j->done_at = j->start + j->elapsed + (j->timed_out ? SIM_MS : 0);
    push(w, j->done_at, SIM_EV_JOB_DONE, n->index, j->token, j);
}

/* The core may hand over more jobs than slots; the rest wait in order, as
 * in the POSIX port's executor pool. */
/* --mixed: a worker other than w0 runs a random half of the built-ins
 * (at least one) and takes messages of 4 KiB, 16 KiB or the default. */
static void mix_node(world *w, sim_node *n)
{
    static const char *const names[] = {"add", "mul", "xsum",
                                        "echo", "sleep", "fail"};
    static const size_t limits[] = {4096, 16384, 0};
    size_t len = 0;
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
        if (fl__rng_below(&w->rng, 2) == 0 || (k == 5 && len == 0))
            len += (size_t)snprintf(n->tasks + len, sizeof n->tasks - len,
                                    "%s%s", len ? "," : "", names[k]);
    n->max_message = limits[fl__rng_below(&w->rng, 3)];
}

/* Is name in the comma-separated set (a chunks task: the task it maps)? */
static bool in_mixed_set(const char *set, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = set; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && memcmp(p, name, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return strcmp(name, "fl.starmap") == 0;
}

static void io_execute(void *ud, fl_job *job)
{
    sim_node *n = ud;
    world *w = n->w;
    if (n->dying)
        return;
    sim_job *j = calloc(1, sizeof *j);
    if (!j) {
        sim_fail(w, "simulator out of memory");
        return;
    }
    j->job = job;
    j->node = n->index;
    j->gen = n->gen;
    j->limit_ms = job->time_limit_ms;
    j->next = w->jobs;
    w->jobs = j;
    job->driver = j;
    n->started++;
    trace(w, "%s runs %s/%llu %s attempt %u", n->id, job->owner,
          (unsigned long long)job->id, job->name, job->attempt);
    check_execution(w, n, job);
    check_not_revoked(w, n, job);
    if (n->tasks[0] && !in_mixed_set(n->tasks, job->name))
        sim_fail(w, "%s was leased %s/%llu %s, which it does not run (%s)",
                 n->id, job->owner, (unsigned long long)job->id, job->name,
                 n->tasks);
    if (n->busy < n->slots) {
        job_start(w, n, j);
        return;
    }
    j->waiting = true;
    if (n->wait_tail)
        n->wait_tail->next_wait = j;
    else
        n->wait_head = j;
    n->wait_tail = j;
}

static void start_waiting(world *w, sim_node *n)
{
    while (n->busy < n->slots && n->wait_head) {
        sim_job *j = n->wait_head;
        n->wait_head = j->next_wait;
        if (!n->wait_head)
            n->wait_tail = NULL;
        job_start(w, n, j);
    }
}

static void io_cancel(void *ud, fl_job *job)
{
    sim_node *n = ud;
    world *w = n->w;
    sim_job *j = job->driver;
    if (n->dying || !j)
        return;
    trace(w, "%s cancels %s/%llu", n->id, job->owner,
          (unsigned long long)job->id);
    j->timed_out = true;
    j->cancelled = true;
    if (!j->waiting && j->done_at > w->ev.now + SIM_MS) {
        j->done_at = w->ev.now + SIM_MS;
        j->token++;
        push(w, j->done_at, SIM_EV_JOB_DONE, n->index, j->token, j);
    }
}

static void io_final(void *ud, const fl_final *fin)
{
    sim_node *n = ud;
    world *w = n->w;
    fl_value *value = fin->value;
    if (n->dying || n->client < 0) {
        sim_fail(w, "final %llu delivered to %s, which owns nothing",
                 (unsigned long long)fin->id, n->id);
        fl_value_free(value);
        return;
    }
    sim_task *t = sim_find_task(w, n->client, fin->id);
    sim_workflow *f = t ? NULL : sim_find_workflow(w, n->client, fin->id);
    trace(w, "%s final %llu %s %s%s%s%s%s", n->id, (unsigned long long)fin->id,
          fl_state_name(fin->state), fin->err_type ? fin->err_type : "",
          f ? " workflow " : "", f ? f->kind->name : "",
          fin->err_message ? ": " : "",
          fin->err_message ? fin->err_message : "");
    if (f) {
        sim_workflow_final(w, n, f, fin);
    } else if (!t) {
        sim_fail(w, "%s got a final for unknown task %llu", n->id,
                 (unsigned long long)fin->id);
    } else if (++t->finals > 1) {
        sim_fail(w, "task %s/%llu (%s) got %u finals", n->id,
                 (unsigned long long)fin->id, t->name, t->finals);
    } else {
        w->nfinals++;
        t->final_state = fin->state;
        snprintf(t->final_err, sizeof t->final_err, "%s",
                 fin->err_type ? fin->err_type : "");
        char why[400];
        /* A task routed to a node that had crashed, or whose presence the
         * network lost or held back past the owner's grace, fails at once:
         * no online node matches its route. */
        bool unplaced = t->route[0] &&
                        (sim_lossy(&w->p) || w->p.net.reorder > 0 ||
                         w->p.mixed) &&
                        fin->state == FL_FAILURE && fin->err_type &&
                        strcmp(fin->err_type, "UnknownTask") == 0 &&
                        fin->err_message &&
                        strncmp(fin->err_message, "route '", 7) == 0;
        t->unplaced = unplaced;
        if (!unplaced &&
            !sim_task_check_final(t, fin->state, value, fin->err_type,
                                  fin->attempts, sim_lossy(&w->p), why,
                                  sizeof why))
            sim_fail(w, "task %s/%llu %s%s: %s", n->id,
                     (unsigned long long)fin->id, t->name, t->args, why);
        if (fin->state == FL_SUCCESS &&
            (!fin->worker || fin->worker[0] != 'w'))
            sim_fail(w, "task %s/%llu succeeded on worker '%s'", n->id,
                     (unsigned long long)fin->id,
                     fin->worker ? fin->worker : "(null)");
    }
    fl_value_free(value);
}

static void io_state(void *ud, uint64_t id, fl_state st)
{
    sim_node *n = ud;
    if (n->dying || n->client < 0 || st != FL_RETRY)
        return;
    sim_task *t = sim_find_task(n->w, n->client, id);
    if (t && ++t->retries_seen > t->opt.retries)
        sim_fail(n->w, "task %s/%llu retried %u times, retries=%u", n->id,
                 (unsigned long long)id, t->retries_seen, t->opt.retries);
}

static void io_log(void *ud, int level, const char *line)
{
    sim_node *n = ud;
    if (n->w->p.verbose)
        trace(n->w, "%s log%d %s", n->id, level, line);
}

/* -------------------------------------------------------- node lifecycle */

/* After anything happened to a core: let its timers run, send what it
 * batched and book the tick it asks for. */
static void touch(world *w, sim_node *n)
{
    if (!n->core || w->failed)
        return;
    uint64_t now = w->ev.now;
    fl_core_flush(n->core, now);
    uint64_t next = fl_core_tick(n->core, now);
    fl_core_flush(n->core, now);
    if (next == UINT64_MAX)
        return;
    if (next <= now)
        next = now + 1;
    if (n->tick_at > now && n->tick_at <= next)
        return; /* an earlier tick is already booked */
    n->tick_at = next;
    push(w, next, SIM_EV_TICK, n->index, n->gen, NULL);
}

static void connect_node(world *w, sim_node *n)
{
    const char *topic;
    const void *will;
    size_t len;
    if (w->broker_down) {
        n->reconnect_due = true;
        trace(w, "%s cannot connect: the broker is down", n->id);
        return;
    }
    n->reconnect_due = false;
    fl_core_will(n->core, &topic, &will, &len);
    sim_broker_connect(w->br, n->index, topic, will, len, w->ev.now);
    n->connected = true;
    n->conns++;
    trace(w, "%s connects", n->id);
    fl_core_connected(n->core, w->ev.now);
    touch(w, n);
}

static void start_node(world *w, sim_node *n)
{
    static const fl_core_io io = {NULL,      io_publish, io_subscribe,
                                  io_execute, io_cancel, io_final,
                                  io_state,  io_log,     NULL,      NULL,
                                  NULL};
    fl_core_io mine = io;
    mine.ud = n;
    n->inc = (fl__rng_next(&w->rng) >> 11) + 1;
    fl_core_config cfg = {0};
    cfg.cluster = "sim";
    cfg.node_id = n->id;
    cfg.incarnation = n->inc;
    cfg.slots = n->slots;
    cfg.seed = fl__rng_next(&w->rng);
    cfg.registry = w->reg;
    cfg.arch = "sim";
    cfg.only_tasks = n->tasks[0] ? n->tasks : NULL;
    cfg.max_message = n->max_message;
    cfg.log_level = w->p.verbose ? FL_LOG_DEBUG : FL_LOG_ERROR;
    fl_status st = fl_core_new(&cfg, &mine, &n->core);
    if (st != FL_OK) {
        sim_fail(w, "fl_core_new(%s): %s", n->id, fl_strerror(st));
        n->core = NULL;
        return;
    }
    n->gen++;
    n->tick_at = 0;
    n->started = n->done = n->done_cancelled = 0;
    n->busy = 0;
    n->wait_head = n->wait_tail = NULL;
    trace(w, "%s starts, incarnation %llu, %u slots", n->id,
          (unsigned long long)n->inc, n->slots);
    connect_node(w, n);
}

/* The core vanishes without a word: its running jobs with it. */
static void crash_node(world *w, sim_node *n)
{
    sim_check_incarnation(w, n);
    bool silent = fl__rng_below(&w->rng, 2) == 0;
    trace(w, "%s crashes (%s)", n->id, silent ? "silent" : "reset");
    for (sim_job *j = w->jobs; j; j = j->next) {
        if (j->node == n->index && j->gen == n->gen && !j->finished) {
            j->vanished = true;
            fl_outcome_clear(&j->out);
        }
    }
    n->dying = true;
    fl_core_free(n->core);
    n->dying = false;
    n->core = NULL;
    n->gen++;
    if (n->connected)
        sim_broker_disconnect(w->br, n->index,
                              silent ? SIM_WILL_LATER : SIM_WILL_NOW,
                              KEEPALIVE, w->ev.now);
    n->connected = false;
    w->alive_workers--;
    w->crashes++;
    push(w, w->ev.now + between(w, SIM_S / 2, 10 * SIM_S), SIM_EV_RESTART,
         n->index, n->gen, NULL);
}

static void disconnect_node(world *w, sim_node *n)
{
    trace(w, "%s loses its connection", n->id);
    sim_broker_disconnect(w->br, n->index, SIM_WILL_LATER, KEEPALIVE,
                          w->ev.now);
    n->connected = false;
    w->disconnects++;
    fl_core_disconnected(n->core, w->ev.now);
    touch(w, n);
    push(w, w->ev.now + between(w, SIM_S / 10, 20 * SIM_S), SIM_EV_RECONNECT,
         n->index, n->gen, NULL);
}

/* ----------------------------------------------------------------- events */

static void on_deliver(world *w, const sim_event *e)
{
    sim_msg *m = sim_broker_pop(w->br, e->node, e->gen, e->time);
    sim_node *n = &w->nodes[e->node];
    if (!m)
        return;
    if (n->core && n->max_message && m->len > n->max_message)
        sim_fail(w, "%s was sent %zu bytes on %s, over its limit of %zu",
                 n->id, m->len, m->topic, n->max_message);
    if (n->core) {
        if (w->p.verbose)
            trace(w, "%s < %s %.*s", n->id, m->topic,
                  (int)(m->len > 400 ? 400 : m->len),
                  (const char *)m->payload);
        fl_core_input(n->core, m->topic, m->payload, m->len, w->ev.now);
        check_revoke(w, n, m);
        touch(w, n);
    }
    sim_msg_unref(m);
}

static void on_job_done(world *w, const sim_event *e)
{
    sim_job *j = e->ptr;
    sim_node *n = &w->nodes[j->node];
    if (j->finished || j->vanished || e->gen != j->token ||
        j->gen != n->gen || !n->core)
        return;
    j->finished = true;
    n->done++;
    n->busy--;
    if (j->cancelled)
        n->done_cancelled++;
    trace(w, "%s done %s/%llu", n->id, j->job->owner,
          (unsigned long long)j->job->id);
    fl_core_job_done(n->core, j->job, &j->out, w->ev.now);
    j->job = NULL;
    if (n->core)
        start_waiting(w, n);
    touch(w, n);
}

static void on_submit(world *w, const sim_event *e)
{
    sim_node *n = &w->nodes[e->node];
    sim_task *first = e->ptr;
    for (uint64_t k = 0; k < e->gen && !w->failed; k++) {
        sim_task *t = first + k;
        fl_submit s = {0};
        s.name = t->name;
        s.args_json = t->args;
        s.args_len = strlen(t->args);
        if (t->kwargs[0]) {
            s.kwargs_json = t->kwargs;
            s.kwargs_len = strlen(t->kwargs);
        }
        s.opt = t->opt;
        t->submitted_at = w->ev.now;
        fl_status st = fl_core_submit(n->core, &s, w->ev.now, &t->id);
        if (st != FL_OK) {
            sim_fail(w, "%s: submit %s%s: %s", n->id, t->name, t->args,
                     fl_strerror(st));
            return;
        }
        if (sim_find_task(w, t->client, t->id)) {
            sim_fail(w, "%s: submit returned id %llu twice", n->id,
                     (unsigned long long)t->id);
            return;
        }
        t->submitted = true;
        index_put(w, t);
        w->nsubmitted++;
        trace(w, "%s submits %llu %s%s", n->id, (unsigned long long)t->id,
              t->name, t->args);
        if (t->revoke)
            push(w, w->ev.now + between(w, 0, 2 * SIM_S), SIM_EV_REVOKE,
                 e->node, 0, t);
    }
    touch(w, n);
}

static void on_apply(world *w, const sim_event *e)
{
    sim_node *n = &w->nodes[e->node];
    sim_workflow *f = e->ptr;
    const char *canvas = f->kind->canvas;
    char err[256] = "";
    f->applied_at = w->ev.now;
    fl_status st = fl_core_apply(n->core, canvas, strlen(canvas), w->ev.now,
                                 &f->id, err, sizeof err);
    if (st != FL_OK) {
        sim_fail(w, "%s: apply %s: %s (%s)", n->id, f->kind->name,
                 fl_strerror(st), err);
        return;
    }
    if (sim_find_task(w, f->client, f->id) ||
        sim_find_workflow(w, f->client, f->id)) {
        sim_fail(w, "%s: apply returned id %llu twice", n->id,
                 (unsigned long long)f->id);
        return;
    }
    f->applied = true;
    w->nwf_applied++;
    trace(w, "%s applies %llu %s", n->id, (unsigned long long)f->id,
          f->kind->name);
    touch(w, n);
}

static void on_revoke(world *w, const sim_event *e)
{
    sim_node *n = &w->nodes[e->node];
    sim_task *t = e->ptr;
    uint32_t finals_before = t->finals;
    t->revoke_requested = true;
    fl_status st = fl_core_revoke(n->core, t->id, w->ev.now);
    trace(w, "%s revokes %llu: %s", n->id, (unsigned long long)t->id,
          fl_strerror(st));
    if (st == FL_OK) {
        t->revoke_ok = true;
        if (finals_before > 0)
            sim_fail(w, "revoke of finished task %s/%llu returned FL_OK",
                     n->id, (unsigned long long)t->id);
        else if (t->finals > 0 && t->final_state != FL_REVOKED)
            sim_fail(w, "revoke of %s/%llu accepted, final is %s", n->id,
                     (unsigned long long)t->id,
                     fl_state_name(t->final_state));
    } else if (st == FL_ENOTFOUND) {
        if (t->finals == 0)
            sim_fail(w, "revoke of unfinished task %s/%llu: not found",
                     n->id, (unsigned long long)t->id);
    } else {
        sim_fail(w, "revoke of %s/%llu: %s", n->id,
                 (unsigned long long)t->id, fl_strerror(st));
    }
    touch(w, n);
}

static void on_fault(world *w, const sim_event *e)
{
    if (w->phase != SIM_PHASE_RUN || w->ev.now > FAULT_WINDOW)
        return;
    double pc = w->p.crash * (double)FAULT_PERIOD / (double)SIM_S;
    double pd = w->p.disconnect * (double)FAULT_PERIOD / (double)SIM_S;
    for (int i = 0; i < w->nnodes && !w->failed; i++) {
        sim_node *n = &w->nodes[i];
        if (!n->core)
            continue;
        /* The last live worker is spared so the run can always finish;
         * with --mixed so is w0, the only one that runs every task. */
        if (w->p.mixed && i == 0)
            continue;
        if (n->client < 0 && w->alive_workers > 1 && pc > 0 &&
            uniform01(w) < pc) {
            crash_node(w, n);
            continue;
        }
        if (n->connected && pd > 0 && uniform01(w) < pd)
            disconnect_node(w, n);
    }
    push(w, w->ev.now + FAULT_PERIOD, SIM_EV_FAULT, -1, 0, NULL);
}

/* The broker dies: every node loses its connection at once, and with it
 * every message on its way. */
static void on_broker_down(world *w)
{
    if (w->phase != SIM_PHASE_RUN || w->broker_down)
        return;
    uint64_t outage = between(w, SIM_S / 2, 5 * SIM_S);
    trace(w, "broker dies for %.3f s", (double)outage / (double)SIM_S);
    sim_broker_restart(w->br, w->ev.now);
    w->broker_down = true;
    for (int i = 0; i < w->nnodes && !w->failed; i++) {
        sim_node *n = &w->nodes[i];
        if (!n->core || !n->connected)
            continue;
        n->connected = false;
        n->reconnect_due = true;
        fl_core_disconnected(n->core, w->ev.now);
        touch(w, n);
    }
    push(w, w->ev.now + outage, SIM_EV_BROKER_UP, -1, 0, NULL);
}

/* The broker is back: each node finds out at its next connection attempt
 * (the POSIX port's backoff: within about 1.6 s). */
static void on_broker_up(world *w)
{
    trace(w, "broker is back");
    w->broker_down = false;
    for (int i = 0; i < w->nnodes; i++) {
        sim_node *n = &w->nodes[i];
        if (n->core && !n->connected && n->reconnect_due)
            push(w, w->ev.now + between(w, 0, 1600 * SIM_MS),
                 SIM_EV_RECONNECT, n->index, n->gen, NULL);
    }
    if (--w->restarts_left > 0)
        push(w, w->ev.now + between(w, SIM_S, 10 * SIM_S),
             SIM_EV_BROKER_DOWN, -1, 0, NULL);
}

static void count_tick(world *w, sim_node *n)
{
    if (w->ev.now >= n->tick_window + SIM_S) {
        n->tick_window = w->ev.now;
        n->ticks_in_window = 0;
    }
    if (++n->ticks_in_window > MAX_TICKS_PER_S && !w->p.allow_spin)
        sim_fail(w, "%s asked for more than %u ticks within one virtual "
                 "second (%s): the core is spinning", n->id,
                 MAX_TICKS_PER_S, n->connected ? "connected" : "disconnected");
}

static void on_event(world *w, const sim_event *e)
{
    sim_node *n = e->node >= 0 ? &w->nodes[e->node] : NULL;
    switch (e->type) {
    case SIM_EV_DELIVER:
        on_deliver(w, e);
        break;
    case SIM_EV_WILL:
        trace(w, "%s keep-alive runs out", n->id);
        sim_broker_will_timeout(w->br, e->node, e->gen, e->time);
        break;
    case SIM_EV_TICK:
        if (n->core && e->gen == n->gen && e->time == n->tick_at) {
            count_tick(w, n);
            touch(w, n);
        }
        break;
    case SIM_EV_JOB_DONE:
        on_job_done(w, e);
        break;
    case SIM_EV_SUBMIT:
        on_submit(w, e);
        break;
    case SIM_EV_REVOKE:
        on_revoke(w, e);
        break;
    case SIM_EV_APPLY:
        on_apply(w, e);
        break;
    case SIM_EV_FAULT:
        on_fault(w, e);
        break;
    case SIM_EV_RESTART:
        if (!n->core && e->gen == n->gen && w->phase != SIM_PHASE_SHUTDOWN) {
            start_node(w, n);
            w->alive_workers++;
        }
        break;
    case SIM_EV_RECONNECT:
        if (n->core && !n->connected && e->gen == n->gen)
            connect_node(w, n);
        break;
    case SIM_EV_BROKER_DOWN:
        on_broker_down(w);
        break;
    case SIM_EV_BROKER_UP:
        on_broker_up(w);
        break;
    }
}

/* ------------------------------------------------------------- the run */

static bool setup(world *w, const sim_params *p)
{
    memset(w, 0, sizeof *w);
    w->p = *p;
    w->rng.state = p->seed;
    sim_events_init(&w->ev);
    w->nnodes = p->workers + p->clients;
    w->nodes = calloc((size_t)w->nnodes, sizeof *w->nodes);
    w->tasks = calloc((size_t)(p->tasks ? p->tasks : 1), sizeof *w->tasks);
    for (w->index_cap = 16; w->index_cap < (size_t)p->tasks * 2;)
        w->index_cap *= 2;
    w->index = calloc(w->index_cap, sizeof *w->index);
    w->br = sim_broker_new(&w->ev, &w->rng, &w->p.net, w->nnodes);
    fl_registry *reg = fl_registry_new();
    w->reg = reg;
    if (!w->nodes || !w->tasks || !w->index || !w->br || !reg ||
        !sim_workflows_setup(w) || fl_register_builtins(reg) != FL_OK) {
        sim_fail(w, "simulator out of memory");
        return false;
    }
    for (int i = 0; i < w->nnodes; i++) {
        sim_node *n = &w->nodes[i];
        n->w = w;
        n->index = i;
        if (i < p->workers) {
            snprintf(n->id, sizeof n->id, "w%d", i);
            n->client = -1;
            n->slots = 1 + (uint32_t)fl__rng_below(&w->rng, 4);
            if (p->mixed && i > 0)
                mix_node(w, n);
        } else {
            snprintf(n->id, sizeof n->id, "c%d", i - p->workers);
            n->client = i - p->workers;
        }
    }
    return true;
}

/* Tasks go out in bursts at random times of the submit window. */
static void plan_workload(world *w)
{
    int i = 0;
    while (i < w->p.tasks) {
        uint64_t left = (uint64_t)(w->p.tasks - i);
        int k = 1 + (int)fl__rng_below(&w->rng, left < 40 ? left : 40);
        int c = (int)fl__rng_below(&w->rng, (uint64_t)w->p.clients);
        for (int j = 0; j < k; j++)
            sim_task_make(&w->tasks[i + j], &w->rng, c, w->p.workers);
        push(w, between(w, 0, SUBMIT_WINDOW), SIM_EV_SUBMIT, w->p.workers + c,
             (uint64_t)k, &w->tasks[i]);
        i += k;
    }
    /* Each client applies its workflows at random times of the same
     * window, among its bursts of plain tasks. */
    for (int f = 0; f < w->nwfs; f++)
        push(w, between(w, 0, SUBMIT_WINDOW), SIM_EV_APPLY,
             w->p.workers + w->wfs[f].client, 0, &w->wfs[f]);
}

static void start_all(world *w)
{
    for (int i = 0; i < w->nnodes && !w->failed; i++) {
        start_node(w, &w->nodes[i]);
        if (w->nodes[i].client < 0)
            w->alive_workers++;
    }
    if (w->p.crash > 0 || w->p.disconnect > 0)
        push(w, FAULT_PERIOD, SIM_EV_FAULT, -1, 0, NULL);
    /* The first restart falls while the tasks are being submitted. */
    w->restarts_left = w->p.broker_restarts;
    if (w->restarts_left > 0)
        push(w, between(w, SIM_S / 2, 4 * SIM_S), SIM_EV_BROKER_DOWN, -1, 0,
             NULL);
}

static bool workers_idle(world *w)
{
    for (sim_job *j = w->jobs; j; j = j->next)
        if (!j->finished && !j->vanished)
            return false;
    for (int i = 0; i < w->p.workers; i++) {
        sim_node *n = &w->nodes[i];
        if (!n->core)
            continue;
        fl_core_stats st;
        fl_core_stats_get(n->core, &st);
        if (st.running || st.queued_local)
            return false;
    }
    return true;
}

static bool all_stopped(world *w)
{
    for (int i = 0; i < w->nnodes; i++)
        if (w->nodes[i].core && !fl_core_stopped(w->nodes[i].core))
            return false;
    return true;
}

static void begin_shutdown(world *w)
{
    w->phase = SIM_PHASE_SHUTDOWN;
    w->phase_at = w->ev.now;
    sim_check_end_of_run(w);
    for (int i = 0; i < w->nnodes && !w->failed; i++) {
        sim_node *n = &w->nodes[i];
        if (!n->core)
            continue;
        trace(w, "%s shuts down", n->id);
        fl_core_shutdown(n->core, w->ev.now);
        touch(w, n);
    }
}

/* After each event: move through the phases of a run, or fail on time. */
static bool step_phase(world *w)
{
    uint64_t now = w->ev.now;
    switch (w->phase) {
    case SIM_PHASE_RUN:
        if (w->nfinals == w->p.tasks && w->nsubmitted == w->p.tasks &&
            w->nwf_finals == w->nwfs && w->nwf_applied == w->nwfs) {
            w->phase = SIM_PHASE_DRAIN;
            w->phase_at = now;
            w->finished_at = now;
        } else if (now > w->p.max_time) {
            sim_check_workflows_missing(w);
            sim_check_missing(w);
            return false;
        }
        return true;
    case SIM_PHASE_DRAIN:
        if (workers_idle(w)) {
            begin_shutdown(w);
        } else if (now > w->phase_at + DRAIN_LIMIT) {
            sim_fail(w, "workers still hold tasks %llu s after the last final",
                     (unsigned long long)(DRAIN_LIMIT / SIM_S));
            return false;
        }
        return true;
    case SIM_PHASE_SHUTDOWN:
        if (all_stopped(w))
            return false;
        if (now > w->phase_at + SHUTDOWN_LIMIT) {
            for (int i = 0; i < w->nnodes; i++)
                if (w->nodes[i].core && !fl_core_stopped(w->nodes[i].core))
                    sim_fail(w, "%s did not stop within %llu s of shutdown",
                             w->nodes[i].id,
                             (unsigned long long)(SHUTDOWN_LIMIT / SIM_S));
            return false;
        }
        return true;
    }
    return false;
}

static void teardown(world *w)
{
    for (int i = 0; i < w->nnodes; i++) {
        sim_node *n = &w->nodes[i];
        if (!n->core)
            continue;
        n->dying = true;
        fl_core_free(n->core);
        n->core = NULL;
    }
    while (w->jobs) {
        sim_job *j = w->jobs;
        w->jobs = j->next;
        if (!j->finished && !j->vanished)
            fl_outcome_clear(&j->out);
        free(j);
    }
    sim_broker_free(w->br);
    fl_registry_free((fl_registry *)w->reg);
    sim_events_free(&w->ev);
    sim_workflows_free(w);
    free(w->revoked);
    free(w->index);
    free(w->tasks);
    free(w->nodes);
}

bool sim_run(const sim_params *p, char *why, size_t whylen)
{
    world *w = malloc(sizeof *w);
    if (!w) {
        snprintf(why, whylen, "simulator out of memory");
        return false;
    }
    if (setup(w, p)) {
        plan_workload(w);
        start_all(w);
        sim_event e;
        uint64_t events = 0;
        while (!w->failed && sim_events_pop(&w->ev, &e)) {
            if (e.type >= 0 && e.type < 16)
                w->by_type[e.type]++;
            on_event(w, &e);
            if (!w->failed && !step_phase(w))
                break;
            if (++events > MAX_EVENTS) {
                sim_fail(w, "more than %llu events",
                         (unsigned long long)MAX_EVENTS);
                break;
            }
        }
        if (!w->failed && w->phase != SIM_PHASE_SHUTDOWN)
            sim_fail(w, "the event queue ran dry before the end (phase %d)",
                     (int)w->phase);
        if (!w->failed)
            sim_check_after_shutdown(w);
        w->events = events;
    }
    if (p->verbose)
        sim_print_summary(w);
    bool ok = !w->failed;
    if (!ok)
        snprintf(why, whylen, "%s", w->why);
    teardown(w);
    free(w);
    return ok;
}
