/*
 * test_core.c - the core's owner and worker sides, driven by hand: a few
 * fl_core instances joined by an in-order in-memory message queue, jobs run
 * (or withheld) by the test, time advanced by the test. Each case pins one
 * rule of docs/protocol.md sections 5 and 6. The seeded fault-injecting
 * simulator in tests/sim/ covers the same rules under chaos.
 */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "test.h"
#include "zrle.h"

#define MAXN 6
#define MAXQ 4096
#define MAXJ 1024

typedef struct msg {
    char topic[160];
    unsigned char *data;
    size_t len;
} msg;

typedef struct harness harness;

typedef struct node {
    harness *h;
    fl_core *core;
    char id[32];
    bool up;
    fl_job *jobs[MAXJ];
    int njobs;
    int cancels;
    int terminates;          /* cancels that asked to terminate */
    int finals, successes, failures, revoked, retries;
    char last_value[4096];
    char last_err_type[80];
    char last_err_msg[256];
    char last_worker[80];
    size_t max_lease;        /* largest lease payload delivered to it */
    uint64_t inc;            /* its incarnation */
    char *journal;           /* records its `kept` stored, one a line */
    size_t journal_len;
    int zin;                 /* compressed messages delivered to it */
    size_t last_att_len;     /* the last success's attachment */
    bool last_att_same;      /* ... was all bytes equal to 'q' */
} node;

struct harness {
    node n[MAXN];
    int count;
    msg q[MAXQ];
    int qhead, qtail;
    uint64_t now;
    fl_registry *reg;
    uint64_t run_us;         /* what run_jobs reports (default 10) */
    uint64_t lease_delay_us; /* time a lease takes to arrive (default 0) */
    int leased;              /* tasks delivered in leases so far */
    int ran;                 /* jobs run_jobs finished so far */
    const char *only_tasks;  /* the next add_node's --tasks (then reset) */
    bool journal;            /* the next add_node keeps a journal (reset) */
    size_t max_message;      /* the next add_node's limit (then reset) */
    const fl_zset *z;        /* the next add_node's codecs (then reset) */
};

static void io_publish(void *ud, const char *topic, const void *payload,
                       size_t len, int qos, bool retain)
{
    node *nd = ud;
    harness *h = nd->h;
    (void)qos;
    (void)retain;
    if (h->qtail >= MAXQ)
        return;
    msg *m = &h->q[h->qtail++];
    snprintf(m->topic, sizeof m->topic, "%s", topic);
    m->data = malloc(len ? len : 1);
    memcpy(m->data, payload, len);
    m->len = len;
}

static void io_subscribe(void *ud, const char *f, int qos)
{
    (void)ud;
    (void)f;
    (void)qos;
}

static void io_execute(void *ud, fl_job *job)
{
    node *nd = ud;
    if (nd->njobs < MAXJ)
        nd->jobs[nd->njobs++] = job;
}

static void io_cancel(void *ud, fl_job *job)
{
    node *nd = ud;
    nd->cancels++;
    nd->terminates += job->terminate;
}

static void io_final(void *ud, const fl_final *fin)
{
    node *nd = ud;
    nd->finals++;
    snprintf(nd->last_worker, sizeof nd->last_worker, "%s", fin->worker);
    if (fin->state == FL_SUCCESS) {
        nd->successes++;
        nd->last_att_len = fin->att_len;
        nd->last_att_same = true;
        for (size_t i = 0; i < fin->att_len; i++)
            nd->last_att_same = nd->last_att_same && fin->att[i] == 'q';
        char *t = fl_value_to_json(fin->value, NULL);
        snprintf(nd->last_value, sizeof nd->last_value, "%s", t ? t : "null");
        fl_free(t);
        fl_value_free(fin->value);
    } else {
        fl_value_free(fin->value); /* a failed group's partial results */
        if (fin->state == FL_FAILURE)
            nd->failures++;
        else
            nd->revoked++;
        snprintf(nd->last_err_type, sizeof nd->last_err_type, "%s",
                 fin->err_type);
        snprintf(nd->last_err_msg, sizeof nd->last_err_msg, "%s",
                 fin->err_message);
    }
}

static void io_state(void *ud, uint64_t id, fl_state st)
{
    node *nd = ud;
    (void)id;
    if (st == FL_RETRY)
        nd->retries++;
}

static void io_log(void *ud, int level, const char *line)
{
    node *nd = ud;
    if (getenv("TEST_CORE_VERBOSE"))
        fprintf(stderr, "[%s] %d %s\n", nd->id, level, line);
}

static bool io_kept(void *ud, const char *rec, size_t len)
{
    node *nd = ud;
    char *j = realloc(nd->journal, nd->journal_len + len + 2);
    if (!j)
        return false;
    memcpy(j + nd->journal_len, rec, len);
    nd->journal_len += len;
    j[nd->journal_len++] = '\n';
    j[nd->journal_len] = '\0';
    nd->journal = j;
    return true;
}

static uint64_t io_wall(void *ud)
{
    return ((node *)ud)->h->now / 1000u + 1764655200000ull;
}

static node *add_node(harness *h, const char *id, uint32_t slots,
                      uint32_t ttl_ms)
{
    node *nd = &h->n[h->count++];
    memset(nd, 0, sizeof *nd);
    nd->h = h;
    snprintf(nd->id, sizeof nd->id, "%s", id);
    /* Hosted nodes' 8 MiB messages in every profile unless a case asks
     * for less (h->max_message): some cases below
     * send chunks of megabytes (the small profile's own limits are swept
     * by the simulator, sim_small_*). */
    fl_core_config cfg = {.node_id = id, .incarnation = 1000u + h->count,
                          .slots = slots, .lease_ttl_ms = ttl_ms,
                          .seed = 7, .registry = h->reg, .log_level = 3,
                          .only_tasks = h->only_tasks, .zcodecs = h->z,
                          .zsend = h->z != NULL,
                          .max_message = h->max_message ? h->max_message
                                                        : (size_t)8 << 20};
    h->only_tasks = NULL;
    h->max_message = 0;
    h->z = NULL;
    fl_core_io io = {.ud = nd, .publish = io_publish,
                     .subscribe = io_subscribe, .execute = io_execute,
                     .cancel = io_cancel, .final = io_final,
                     .state = io_state, .log = io_log, .wall_ms = io_wall,
                     .kept = h->journal ? io_kept : NULL};
    h->journal = false;
    CHECK_EQ(fl_core_new(&cfg, &io, &nd->core), FL_OK);
    nd->inc = cfg.incarnation;
    nd->up = true;
    fl_core_connected(nd->core, h->now);
    return nd;
}

/* Deliver a message the way the broker would (topics under the prefix). */
static void deliver(harness *h, const msg *m)
{
    const char *p = strstr(m->topic, "/node/");
    for (int i = 0; i < h->count; i++) {
        node *nd = &h->n[i];
        if (!nd->up)
            continue;
        bool match = false;
        if (strstr(m->topic, "/work") && !p)
            match = true;
        else if (p) {
            const char *id = p + 6;
            const char *slash = strchr(id, '/');
            if (!slash)
                match = true; /* presence goes to all */
            else
                match = strncmp(id, nd->id, (size_t)(slash - id)) == 0 &&
                        strlen(nd->id) == (size_t)(slash - id);
        }
        if (match && p && strchr(p + 6, '/') && m->len > nd->max_lease &&
            memmem(m->data, m->len, "\"kind\":\"lease\"", 14))
            nd->max_lease = m->len;
        if (match && p && strchr(p + 6, '/') &&
            memmem(m->data, m->len, "\"bin_z\":", 8))
            nd->zin++;
        if (match)
            fl_core_input(nd->core, m->topic, m->data, m->len, h->now);
    }
}

/* Deliver queued messages (and what they cause) until quiet. */
static void pump(harness *h)
{
    for (int rounds = 0; rounds < 10000; rounds++) {
        for (int i = 0; i < h->count; i++)
            if (h->n[i].up)
                fl_core_flush(h->n[i].core, h->now);
        if (h->qhead == h->qtail)
            return;
        msg m = h->q[h->qhead++];
        if (getenv("TEST_CORE_VERBOSE"))
            fprintf(stderr, "%s %.*s\n", m.topic, (int)m.len,
                    (const char *)m.data);
        if (memmem(m.data, m.len, "\"kind\":\"lease\"", 14)) {
            h->now += h->lease_delay_us;
            for (const unsigned char *p = m.data, *end = m.data + m.len;
                 (p = memmem(p, (size_t)(end - p), "\"attempt\":", 10)) != NULL;
                 p += 10)
                h->leased++;
        }
        deliver(h, &m);
        free(m.data);
    }
}

static void tick_all(harness *h)
{
    for (int i = 0; i < h->count; i++)
        if (h->n[i].up)
            fl_core_tick(h->n[i].core, h->now);
    pump(h);
}

static bool instant_sleep(void *ud, double seconds)
{
    (void)ud;
    (void)seconds;
    return true;
}

/* Run every job node nd holds with the registry and report them done. */
static void run_jobs(node *nd)
{
    harness *h = nd->h;
    fl_run_hooks hooks = {.node_id = nd->id, .max_result = 1 << 20,
                          .sleep = instant_sleep};
    /* Finishing a job may hand out the next ones: take a copy first. */
    static fl_job *batch[MAXJ];
    int n = nd->njobs;
    memcpy(batch, nd->jobs, (size_t)n * sizeof batch[0]);
    nd->njobs = 0;
    for (int i = 0; i < n; i++) {
        fl_outcome out;
        memset(&out, 0, sizeof out);
        fl_core_run_job(h->reg, batch[i], &hooks, &out);
        out.run_us = h->run_us ? h->run_us : 10;
        h->now += out.run_us;
        h->ran++;
        fl_core_job_done(nd->core, batch[i], &out, h->now);
    }
    pump(h);
}

/* The node dies: the broker publishes its will to everyone. */
static void crash(node *nd)
{
    harness *h = nd->h;
    const char *topic;
    const void *payload;
    size_t len;
    fl_core_will(nd->core, &topic, &payload, &len);
    msg m;
    snprintf(m.topic, sizeof m.topic, "%s", topic);
    m.data = malloc(len);
    memcpy(m.data, payload, len);
    m.len = len;
    nd->up = false;
    fl_core_free(nd->core);
    nd->core = NULL;
    nd->njobs = 0;
    deliver(h, &m);
    free(m.data);
    pump(h);
}

static void setup(harness *h)
{
    memset(h, 0, sizeof *h);
    h->now = 1000000;
    h->reg = fl_registry_new();
    fl_register_builtins(h->reg);
}

static void teardown(harness *h)
{
    for (int i = 0; i < h->count; i++) {
        if (h->n[i].core)
            fl_core_free(h->n[i].core);
        free(h->n[i].journal);
    }
    while (h->qhead < h->qtail)
        free(h->q[h->qhead++].data);
    fl_registry_free(h->reg);
}

static uint64_t submit(node *nd, const char *name, const char *args,
                       const fl_call_options *opt)
{
    fl_submit s = {.name = name, .args_json = args,
                   .args_len = args ? strlen(args) : 0};
    if (opt)
        s.opt = *opt;
    uint64_t id = 0;
    CHECK_EQ(fl_core_submit(nd->core, &s, nd->h->now, &id), FL_OK);
    pump(nd->h);
    return id;
}

/* Compressed attachments (protocol.md section 3): the owner compresses a
 * chunk only for the worker whose presence lists its codec, that worker
 * compresses the result back only because the owner lists it, and both
 * ends see the bytes that were sent. A worker without the codec (a board,
 * an older node, --no-compress) gets them as they are. */
static void test_compressed_attachments(void)
{
    static harness h;
    static uint8_t chunk[100000];
    memset(chunk, 'q', sizeof chunk);
    setup(&h);
    h.z = &ZRLE_SET;
    node *wz = add_node(&h, "wz", 1, 0);
    node *wn = add_node(&h, "wn", 1, 0);
    h.z = &ZRLE_SET;
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    const char *names[] = {"wz", "wn"};
    node *ws[] = {wz, wn};
    for (int i = 0; i < 2; i++) {
        fl_submit s = {.name = "echo", .att = chunk, .att_len = sizeof chunk,
                       .opt = {.route = names[i]}};
        CHECK_EQ(fl_core_submit(c->core, &s, h.now, NULL), FL_OK);
        pump(&h);
        CHECK_EQ(ws[i]->njobs, 1);
        if (ws[i]->njobs == 1)
            CHECK_EQ(ws[i]->jobs[0]->att_len, sizeof chunk);
        CHECK(ws[i]->max_lease < (i == 0 && FL_ZCODECS ? 10000u : sizeof chunk + 1000));
        CHECK(ws[i]->max_lease > (i == 0 ? 0u : sizeof chunk));
        run_jobs(ws[i]);
        CHECK_EQ(c->successes, i + 1);
        CHECK_EQ(c->last_att_len, sizeof chunk);
        CHECK(c->last_att_same);
    }
#if FL_ZCODECS
    CHECK_EQ(wz->zin, 1); /* its lease */
    CHECK_EQ(wn->zin, 0);
    CHECK_EQ(c->zin, 1);  /* wz's outcome; wn has no codec to use */
#else
    /* The small profile (a board) uses no codec, lent or not. */
    CHECK_EQ(wz->zin + wn->zin + c->zin, 0);
#endif
    teardown(&h);
}

static void test_round_trip(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 2, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    submit(c, "add", "[4,4]", NULL);
    CHECK_EQ(w->njobs, 1);
    run_jobs(w);
    CHECK_EQ(c->finals, 1);
    CHECK_EQ(c->successes, 1);
    CHECK_STR(c->last_value, "8");
    CHECK_STR(c->last_worker, "w1");
    teardown(&h);
}

static int jobs_named(const node *nd, const char *name)
{
    int n = 0;
    for (int i = 0; i < nd->njobs; i++)
        n += strcmp(nd->jobs[i]->name, name) == 0;
    return n;
}

/* Each task goes only to a node that runs it (--tasks narrows a node). */
static void test_leases_go_to_nodes_that_run_them(void)
{
    static harness h;
    setup(&h);
    h.only_tasks = "add";
    node *a = add_node(&h, "wa", 4, 0);
    h.only_tasks = "mul,xsum";
    node *m = add_node(&h, "wm", 4, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    for (int i = 0; i < 3; i++) {
        submit(c, "add", "[1,2]", NULL);
        submit(c, "mul", "[2,3]", NULL);
    }
    CHECK_EQ(jobs_named(a, "add"), 3);
    CHECK_EQ(a->njobs, 3);
    CHECK_EQ(jobs_named(m, "mul"), 3);
    CHECK_EQ(m->njobs, 3);
    run_jobs(a);
    run_jobs(m);
    CHECK_EQ(c->successes, 6);
    /* A chunks task runs where the task it maps runs. */
    const char *sm = "[\"xsum\",[[[1,2]]]]";
    fl_submit s = {.name = "fl.starmap", .args_json = sm,
                   .args_len = strlen(sm)};
    CHECK_EQ(fl_core_submit(c->core, &s, h.now, NULL), FL_OK);
    pump(&h);
    CHECK_EQ(a->njobs, 0);
    CHECK_EQ(m->njobs, 1);
    run_jobs(m);
    CHECK_STR(c->last_value, "[3]");
    /* Before the grace, a task nobody runs waits; then it fails, and so
     * does one whose route matches no node that runs it. */
    submit(c, "echo", "[1]", NULL);
    CHECK_EQ(c->failures, 0);
    fl_call_options o = {.route = "wa"};
    submit(c, "mul", "[1,1]", &o);
    CHECK_EQ(c->failures, 0);
    h.now += FL_PRESENCE_GRACE_MS * 1000ull;
    tick_all(&h);
    CHECK_EQ(c->failures, 2);
    CHECK_STR(c->last_err_msg, "route 'wa' matches no online node that runs "
              "'mul' (online: wa, wm)");
    CHECK_EQ(a->njobs + m->njobs, 0);
    /* The only node that runs mul goes: mul fails at once, naming who is
     * left. */
    crash(m);
    submit(c, "mul", "[1,1]", NULL);
    CHECK_EQ(c->failures, 3);
    CHECK_STR(c->last_err_type, "UnknownTask");
    CHECK_STR(c->last_err_msg, "no online node runs 'mul' (online: wa)");
    teardown(&h);
}

/* A worker leased a task it does not run (the owner's view was stale)
 * hands it back; the owner leases it to one that does, the attempt not
 * counted, and leases the first no more of that name. */
static void test_stale_view_hands_back(void)
{
    static harness h;
    setup(&h);
    h.only_tasks = "add";
    node *a = add_node(&h, "wa", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    /* A lease from a hand-written owner with a task wa does not run. */
    const char *lease = "{\"v\":1,\"kind\":\"lease\",\"from\":\"me\","
                        "\"inc\":5,\"fid\":1,\"ttl_ms\":30000,\"tasks\":["
                        "{\"id\":7,\"name\":\"mul\",\"args\":[2,2],"
                        "\"attempt\":1}]}";
    int before = h.qtail;
    fl_core_input(a->core, "floret/v1/default/node/wa/in", lease,
                  strlen(lease), h.now);
    fl_core_flush(a->core, h.now);
    CHECK_EQ(a->njobs, 0);
    bool answered = false;
    for (int i = before; i < h.qtail; i++)
        if (strstr(h.q[i].topic, "node/me/in") &&
            memmem(h.q[i].data, h.q[i].len, "\"type\":\"NotRunHere\"", 19) &&
            memmem(h.q[i].data, h.q[i].len, "\"retryable\":true", 16))
            answered = true;
    CHECK(answered);
    /* Owner side: wb runs everything; wa's hand-back sends it there. */
    node *b = add_node(&h, "wb", 1, 0);
    pump(&h);
    fl_call_options o = {.route = "wa"};
    (void)o;
    submit(c, "add", "[1,1]", NULL);
    node *holder = a->njobs ? a : b;
    CHECK_EQ(a->njobs + b->njobs, 1);
    run_jobs(holder);
    /* The client believes wa runs mul: feed it a presence that says so
     * (wa's own incarnation, 1001: another would not vouch for its
     * fetches). */
    const char *stale = "{\"v\":1,\"kind\":\"presence\",\"from\":\"wa\","
                        "\"inc\":1001,\"state\":\"online\",\"slots\":1,"
                        "\"tasks\":[\"add\",\"mul\"]}";
    fl_core_input(c->core, "floret/v1/default/node/wa", stale, strlen(stale),
                  h.now);
    for (int k = 0; k < 4; k++)
        submit(c, "mul", "[3,3]", NULL);
    pump(&h);
    CHECK_EQ(a->njobs, 0);
    CHECK_EQ(b->njobs, 1);
    while (b->njobs)
        run_jobs(b);
    CHECK_EQ(c->successes, 5);
    CHECK_STR(c->last_value, "9");
    CHECK_EQ(c->failures, 0);
    fl_core_stats st;
    fl_core_stats_get(a->core, &st);
    CHECK(st.handed_back >= 2);
    teardown(&h);
}

/* No lease is bigger than the worker's max_msg: batches split by size, a
 * task only a big worker can take goes there, and one no worker can take
 * fails with the size and the largest limit. */
static void test_leases_fit_the_worker(void)
{
    static harness h;
    setup(&h);
    h.max_message = 2048;
    node *s = add_node(&h, "small", 64, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    static char args[6000];
    for (int k = 0; k < 40; k++) {
        snprintf(args, sizeof args, "[\"%0300d\"]", k);
        submit(c, "echo", args, NULL);
    }
    CHECK_EQ(s->njobs, 40);
    CHECK(s->max_lease > 0 && s->max_lease <= 2048);
    while (s->njobs)
        run_jobs(s);
    CHECK_EQ(c->successes, 40);
    /* 4,000 bytes: more than small takes; a big node comes later. */
    memset(args, 0, sizeof args);
    args[0] = '[';
    args[1] = '"';
    memset(args + 2, 'x', 4000);
    memcpy(args + 4002, "\"]", 3);
    submit(c, "echo", args, NULL);
    CHECK_EQ(s->njobs, 0);
    h.now += FL_PRESENCE_GRACE_MS * 1000ull;
    tick_all(&h);
    CHECK_EQ(c->failures, 1);
    CHECK(strstr(c->last_err_msg, "task 'echo' needs a ") != NULL);
    CHECK(strstr(c->last_err_msg, "-byte lease; largest worker limit is "
                 "2048 (small)") != NULL);
    CHECK_STR(c->last_err_type, "TaskTooBig");
    node *big = add_node(&h, "big", 1, 0);
    pump(&h);
    submit(c, "echo", args, NULL);
    submit(c, "echo", "[1]", NULL);
    CHECK_EQ(big->njobs, 1);
    CHECK(big->max_lease > 4000);
    CHECK(s->max_lease <= 2048);
    for (int k = 0; k < 4 && c->successes < 42; k++) {
        run_jobs(big);
        run_jobs(s);
    }
    CHECK_EQ(c->successes, 42);
    CHECK(s->max_lease <= 2048);
    teardown(&h);
}

/* Jobs a worker holds, queued or running. */
static uint32_t held_by(const node *nd)
{
    fl_core_stats st;
    fl_core_stats_get(nd->core, &st);
    return st.queued_local + st.running;
}

/* Owner rules 10: after 2,000 quick tasks have grown every worker's credit
 * to hundreds, a burst of 8 one-second tasks is leased at most 2 to each
 * of 4 one-slot workers, the first time (no run time known) and the next. */
static void test_slow_burst_spreads(void)
{
    static harness h;
    setup(&h);
    node *w[4];
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof id, "w%d", i);
        w[i] = add_node(&h, id, 1, 0);
    }
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    h.run_us = 5;
    for (int k = 0; k < 2000; k++) {
        fl_submit s = {.name = "add", .args_json = "[1,2]", .args_len = 5};
        CHECK_EQ(fl_core_submit(c->core, &s, h.now, NULL), FL_OK);
    }
    pump(&h);
    for (int round = 0; round < 400 && c->successes < 2000; round++)
        for (int i = 0; i < 4; i++)
            run_jobs(w[i]);
    CHECK_EQ(c->successes, 2000);
    h.run_us = 1000000;
    for (int burst = 0; burst < 2; burst++) {
        for (int k = 0; k < 8; k++) {
            fl_submit s = {.name = "sleep", .args_json = "[1]", .args_len = 3};
            CHECK_EQ(fl_core_submit(c->core, &s, h.now, NULL), FL_OK);
        }
        pump(&h);
        uint32_t total = 0;
        for (int i = 0; i < 4; i++) {
            CHECK(held_by(w[i]) <= 2);
            total += held_by(w[i]);
        }
        CHECK(total >= 4);
        for (int round = 0; round < 40 && c->successes < 2008 + 8 * burst;
             round++)
            for (int i = 0; i < 4; i++) {
                CHECK(held_by(w[i]) <= 2);
                run_jobs(w[i]);
            }
        CHECK_EQ(c->successes, 2008 + 8 * burst);
    }
    teardown(&h);
}

static void test_errors_reach_the_waiter(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    submit(c, "fail", "[\"boom\"]", NULL);
    run_jobs(w);
    CHECK_EQ(c->failures, 1);
    CHECK_STR(c->last_err_type, "TaskError");
    CHECK_STR(c->last_err_msg, "boom");
    /* No online node runs it: the owner fails it itself, once it has
     * had its grace to hear the cluster's presences. */
    submit(c, "nope", "[]", NULL);
    CHECK_EQ(w->njobs, 0);
    CHECK_EQ(c->failures, 1);
    h.now += FL_PRESENCE_GRACE_MS * 1000ull;
    tick_all(&h);
    pump(&h);
    CHECK_EQ(w->njobs, 0);
    CHECK_EQ(c->failures, 2);
    CHECK_STR(c->last_err_type, "UnknownTask");
    CHECK_STR(c->last_err_msg, "no online node runs 'nope' (online: w1)");
    submit(c, "add", "[1,\"x\"]", NULL);
    run_jobs(w);
    CHECK_STR(c->last_err_type, "TypeError");
    CHECK(strstr(c->last_err_msg, "argument 2") != NULL);
    teardown(&h);
}

static void test_many_tasks_are_batched_and_shared(void)
{
    static harness h;
    setup(&h);
    node *w1 = add_node(&h, "w1", 2, 0);
    node *w2 = add_node(&h, "w2", 2, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    int queued_before = h.qtail;
    for (int i = 0; i < 500; i++) {
        char args[32];
        snprintf(args, sizeof args, "[%d,%d]", i, i);
        fl_submit s = {.name = "add", .args_json = args,
                       .args_len = strlen(args)};
        CHECK_EQ(fl_core_submit(c->core, &s, h.now, NULL), FL_OK);
    }
    pump(&h);
    for (int round = 0; round < 1000 && c->finals < 500; round++) {
        run_jobs(w1);
        run_jobs(w2);
    }
    CHECK_EQ(c->finals, 500);
    CHECK_EQ(c->successes, 500);
    fl_core_stats s1, s2;
    fl_core_stats_get(w1->core, &s1);
    fl_core_stats_get(w2->core, &s2);
    CHECK(s1.executed > 50 && s2.executed > 50);
    CHECK_EQ(s1.executed + s2.executed, 500);
    /* Far fewer messages than tasks: batching works. */
    CHECK(h.qtail - queued_before < 500);
    teardown(&h);
}

/* Two workers whose fetches arrive together split a burst of tasks too big
 * to share a message in turn: each one's first lease leaves before either
 * one's second, instead of one worker's whole share first. The leases are
 * written in the room the owner keeps in front of each attachment, and
 * every worker gets the bytes it was sent. */
static void test_big_tasks_leased_in_turn(void)
{
    static harness h;
    static uint8_t att[5u << 20]; /* two do not fit in one 8 MiB message */
    setup(&h);
    node *w1 = add_node(&h, "w1", 1, 0);
    node *w2 = add_node(&h, "w2", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    for (size_t i = 0; i < sizeof att; i++)
        att[i] = (uint8_t)(i * 7u + (i >> 13));
    for (int i = 0; i < 4; i++) {
        fl_submit s = {.name = "add", .args_json = "[1,2]", .args_len = 5,
                       .att = att, .att_len = sizeof att};
        CHECK_EQ(fl_core_submit(c->core, &s, h.now, NULL), FL_OK);
    }
    /* The announcement reaches both workers, and both fetches reach the
     * owner before it serves either. */
    fl_core_flush(c->core, h.now);
    while (h.qhead < h.qtail) {
        msg m = h.q[h.qhead++];
        deliver(&h, &m);
        free(m.data);
    }
    fl_core_flush(h.n[0].core, h.now);
    fl_core_flush(h.n[1].core, h.now);
    int fetches = 0;
    while (h.qhead < h.qtail) {
        msg m = h.q[h.qhead++];
        fetches += memmem(m.data, m.len, "\"kind\":\"fetch\"", 14) != NULL;
        deliver(&h, &m);
        free(m.data);
    }
    CHECK_EQ(fetches, 2);
    fl_core_flush(c->core, h.now);
    char order[8] = "";
    size_t n = 0;
    for (int i = h.qhead; i < h.qtail && n + 1 < sizeof order; i++)
        if (memmem(h.q[i].data, h.q[i].len, "\"kind\":\"lease\"", 14))
            order[n++] = strstr(h.q[i].topic, "/w1/") ? '1' : '2';
    if (strcmp(order, "1212") != 0 && strcmp(order, "2121") != 0)
        T_FAILED("leases went to %s, not in turn", order);
    pump(&h);
    /* One slot each: a job running on each, the second held behind it. */
    for (int round = 0; round < 2; round++) {
        CHECK(w1->njobs == 1 && w2->njobs == 1);
        const fl_job *js[2] = {w1->jobs[0], w2->jobs[0]};
        for (int i = 0; i < 2; i++)
            CHECK(js[i]->att_len == sizeof att &&
                  memcmp(js[i]->att, att, sizeof att) == 0);
        run_jobs(w1);
        run_jobs(w2);
        pump(&h);
    }
    CHECK_EQ(c->successes, 4);
    teardown(&h);
}

static void test_duplicate_lease_runs_once(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    fl_submit s = {.name = "add", .args_json = "[1,2]", .args_len = 5};
    CHECK_EQ(fl_core_submit(c->core, &s, h.now, NULL), FL_OK);
    /* Deliver every message twice, the way a QoS 1 redelivery would. */
    for (int rounds = 0; rounds < 100 && h.qhead < h.qtail; rounds++) {
        fl_core_flush(c->core, h.now);
        fl_core_flush(w->core, h.now);
        msg m = h.q[h.qhead++];
        deliver(&h, &m);
        deliver(&h, &m);
        free(m.data);
    }
    pump(&h);
    CHECK_EQ(w->njobs, 1);
    run_jobs(w);
    CHECK_EQ(c->finals, 1);
    CHECK_STR(c->last_value, "3");
    teardown(&h);
}

static void test_worker_death_requeues(void)
{
    static harness h;
    setup(&h);
    node *w1 = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    submit(c, "add", "[2,3]", NULL);
    CHECK_EQ(w1->njobs, 1);
    node *w2 = add_node(&h, "w2", 1, 0);
    pump(&h);
    crash(w1);
    h.now += 1500000; /* the re-announcement reaches w2 */
    tick_all(&h);
    CHECK_EQ(w2->njobs, 1);
    run_jobs(w2);
    CHECK_EQ(c->finals, 1);
    CHECK_STR(c->last_value, "5");
    CHECK_STR(c->last_worker, "w2");
    fl_core_stats st;
    fl_core_stats_get(c->core, &st);
    CHECK_EQ(st.requeued, 1);
    teardown(&h);
}

static void test_lease_expires_without_extend(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 300);
    node *c = add_node(&h, "client", 0, 300);
    pump(&h);
    submit(c, "add", "[1,1]", NULL);
    CHECK_EQ(w->njobs, 1);
    /* Only the owner's clock moves: the worker never extends. */
    h.now += 400000;
    fl_core_tick(c->core, h.now);
    fl_core_stats st;
    fl_core_stats_get(c->core, &st);
    CHECK_EQ(st.expired, 1);
    /* While the worker ticks, its extensions keep the lease. */
    pump(&h);
    run_jobs(w);
    tick_all(&h);
    run_jobs(w);
    CHECK_EQ(c->finals, 1);
    CHECK_EQ(c->successes, 1);
    teardown(&h);
}

static void test_extend_keeps_lease(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 300);
    node *c = add_node(&h, "client", 0, 300);
    pump(&h);
    submit(c, "sleep", "[1]", NULL);
    CHECK_EQ(w->njobs, 1);
    for (int i = 0; i < 10; i++) {
        h.now += 100000;
        tick_all(&h);
    }
    fl_core_stats st;
    fl_core_stats_get(c->core, &st);
    CHECK_EQ(st.expired, 0);
    teardown(&h);
}

/* Hand a message written by the test to node nd's inbox (or, with a NULL
 * inbox, to the topic given), then deliver what it causes. */
static void inject(node *nd, const char *topic, const char *json)
{
    char t[160];
    if (!topic) {
        snprintf(t, sizeof t, "floret/v1/default/node/%s/in", nd->id);
        topic = t;
    }
    fl_core_input(nd->core, topic, json, strlen(json), nd->h->now);
    pump(nd->h);
}

static void fake_worker(node *owner, const char *id, int inc)
{
    char topic[128], json[512];
    snprintf(topic, sizeof topic, "floret/v1/default/node/%s", id);
    snprintf(json, sizeof json,
             "{\"v\":1,\"kind\":\"presence\",\"from\":\"%s\",\"inc\":%d,"
             "\"state\":\"online\",\"slots\":1,\"tasks\":[\"add\"]}", id, inc);
    inject(owner, topic, json);
    snprintf(json, sizeof json,
             "{\"v\":1,\"kind\":\"fetch\",\"from\":\"%s\",\"inc\":%d,"
             "\"fid\":1,\"credit\":1}", id, inc);
    inject(owner, NULL, json);
}

static uint64_t not_holder(node *nd)
{
    fl_core_stats st;
    fl_core_stats_get(nd->core, &st);
    return st.not_holder_dropped;
}

/* A peer that was never leased a task cannot finish, extend or release it:
 * not under its own name, nor under the holder's name with another
 * incarnation. */
static void test_outcome_only_from_holder(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 300);
    node *c = add_node(&h, "client", 0, 300);
    pump(&h);
    uint64_t id = submit(c, "add", "[4,4]", NULL);
    CHECK_EQ(w->njobs, 1);
    char json[512];
    snprintf(json, sizeof json,
             "{\"v\":1,\"kind\":\"done\",\"from\":\"evil\",\"results\":"
             "[{\"id\":%llu,\"attempt\":1,\"ok\":true,\"value\":\"FORGED\"}]}",
             (unsigned long long)id);
    inject(c, NULL, json);
    snprintf(json, sizeof json,
             "{\"v\":1,\"kind\":\"done\",\"from\":\"w1\",\"inc\":77,\"results\":"
             "[{\"id\":%llu,\"attempt\":1,\"ok\":true,\"value\":\"FORGED\"}]}",
             (unsigned long long)id);
    inject(c, NULL, json);
    snprintf(json, sizeof json,
             "{\"v\":1,\"kind\":\"release\",\"from\":\"evil\",\"ids\":[%llu]}",
             (unsigned long long)id);
    inject(c, NULL, json);
    snprintf(json, sizeof json,
             "{\"v\":1,\"kind\":\"extend\",\"from\":\"evil\",\"ids\":[%llu]}",
             (unsigned long long)id);
    inject(c, NULL, json);
    CHECK_EQ(c->finals, 0);
    CHECK_EQ(not_holder(c), 4);
    fl_core_stats st;
    fl_core_stats_get(c->core, &st);
    CHECK_EQ(st.owned_pending, 1);
    /* The forged release did not put it back for another lease. */
    CHECK_EQ(st.leased, 1);
    run_jobs(w);
    CHECK_EQ(c->finals, 1);
    CHECK_STR(c->last_value, "8");
    CHECK_STR(c->last_worker, "w1");
    CHECK_EQ(not_holder(c), 4);
    teardown(&h);
}

/* How many fetches to `owner` were published since queue index `from`
 * (before pump() delivers and frees them). */
static int fetches_to(harness *h, int from, const char *owner)
{
    char inbox[96];
    snprintf(inbox, sizeof inbox, "node/%s/in", owner);
    int n = 0;
    for (int i = from; i < h->qtail; i++)
        n += strstr(h->q[i].topic, inbox) != NULL &&
             memmem(h->q[i].data, h->q[i].len, "\"kind\":\"fetch\"", 14) != NULL;
    return n;
}

/* One announcement reaches every node of the cluster. A worker whose
 * credit is parked at that owner incarnation does not answer it (a fetch
 * would change nothing there); one from another incarnation, one
 * without inc, and any once its fetch is 5 s old are answered. */
static void test_parked_worker_ignores_work(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 30000);
    node *c = add_node(&h, "client", 0, 30000);
    pump(&h);
    submit(c, "add", "[1,1]", NULL);
    CHECK_EQ(w->njobs, 1);
    run_jobs(w);
    CHECK_EQ(c->successes, 1);  /* and w1 fetched again: parked at c */
    const char *topic = "floret/v1/default/work";
    char json[160];
    snprintf(json, sizeof json, "{\"v\":1,\"kind\":\"work\",\"from\":"
             "\"client\",\"inc\":%llu,\"pending\":1}",
             (unsigned long long)c->inc);
    int before = h.qtail;
    fl_core_input(w->core, topic, json, strlen(json), h.now);
    fl_core_flush(w->core, h.now);
    CHECK_EQ(fetches_to(&h, before, "client"), 0);
    pump(&h);
    /* Without inc: a hand-written owner, answered as before. */
    const char *bare = "{\"v\":1,\"kind\":\"work\",\"from\":\"client\","
                       "\"pending\":1}";
    before = h.qtail;
    fl_core_input(w->core, topic, bare, strlen(bare), h.now);
    fl_core_flush(w->core, h.now);
    CHECK_EQ(fetches_to(&h, before, "client"), 1);
    pump(&h);
    /* Parked again, but 6 s later the belief has expired. */
    h.now += 6000000u;
    before = h.qtail;
    fl_core_input(w->core, topic, json, strlen(json), h.now);
    fl_core_flush(w->core, h.now);
    CHECK_EQ(fetches_to(&h, before, "client"), 1);
    pump(&h);
    teardown(&h);
}

/* Anyone may write to an owner's inbox, so a fetch proves nothing by
 * itself: one from an id with no presence (a ghost with 1024 credit) is
 * leased nothing and asked for its presence; one naming a real worker
 * with another incarnation changes nothing (the worker keeps its lease);
 * one naming it with its own incarnation and a fid it never sent is
 * answered into the real worker's inbox, which counts on from that fid,
 * so its own next fetch is still taken. */
static void test_fetches_only_from_the_presence(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 300);
    node *c = add_node(&h, "client", 0, 300);
    pump(&h);
    int before = h.qtail;
    const char *ghost = "{\"v\":1,\"kind\":\"fetch\",\"from\":\"ghost\","
                        "\"inc\":7,\"fid\":1,\"credit\":1024}";
    fl_core_input(c->core, "floret/v1/default/node/client/in", ghost,
                  strlen(ghost), h.now);
    fl_core_flush(c->core, h.now);
    bool asked = false;
    for (int i = before; i < h.qtail; i++)
        if (strstr(h.q[i].topic, "node/ghost/in") &&
            memmem(h.q[i].data, h.q[i].len, "\"type\":\"NoPresence\"", 19))
            asked = true;
    CHECK(asked);
    pump(&h);
    submit(c, "add", "[1,1]", NULL);
    CHECK_EQ(w->njobs, 1);
    char json[256];
    snprintf(json, sizeof json, "{\"v\":1,\"kind\":\"fetch\",\"from\":\"w1\","
             "\"inc\":77,\"fid\":50,\"credit\":1024}");
    inject(c, NULL, json);
    fl_core_stats st;
    fl_core_stats_get(c->core, &st);
    CHECK_EQ(st.leased, 1);     /* w1's lease was not re-queued */
    CHECK_EQ(st.requeued, 0);
    CHECK_EQ(not_holder(c), 1);
    run_jobs(w);
    CHECK_EQ(c->successes, 1);
    snprintf(json, sizeof json, "{\"v\":1,\"kind\":\"fetch\",\"from\":\"w1\","
             "\"inc\":%llu,\"fid\":20,\"credit\":1}",
             (unsigned long long)w->inc);
    inject(c, NULL, json);
    for (int k = 0; k < 6; k++) {
        submit(c, "add", "[2,2]", NULL);
        CHECK_EQ(w->njobs, 1);
        run_jobs(w);
    }
    CHECK_EQ(c->successes, 7);
    CHECK_EQ(c->failures, 0);
    CHECK_STR(c->last_worker, "w1");
    teardown(&h);
}

/* A lease lost (expired) and granted again: the first holder's late outcome
 * still wins, the second holder's is then a duplicate, and nobody else's
 * counts. */
static void test_late_outcome_from_lost_holder(void)
{
    static harness h;
    setup(&h);
    node *c = add_node(&h, "client", 0, 300);
    pump(&h);
    fake_worker(c, "a", 5);
    uint64_t id = submit(c, "add", "[1,2]", NULL);
    h.now += 400000;
    fl_core_tick(c->core, h.now);
    pump(&h);
    fake_worker(c, "b", 6);
    fl_core_stats st;
    fl_core_stats_get(c->core, &st);
    CHECK_EQ(st.expired, 1);
    CHECK_EQ(st.leased, 2);
    char json[512];
    /* b holds attempt 2; a, with attempt 2 or another incarnation, does
     * not. */
    snprintf(json, sizeof json,
             "{\"v\":1,\"kind\":\"done\",\"from\":\"a\",\"inc\":5,\"results\":"
             "[{\"id\":%llu,\"attempt\":2,\"ok\":true,\"value\":\"x\"}]}",
             (unsigned long long)id);
    inject(c, NULL, json);
    snprintf(json, sizeof json,
             "{\"v\":1,\"kind\":\"done\",\"from\":\"a\",\"inc\":9,\"results\":"
             "[{\"id\":%llu,\"attempt\":1,\"ok\":true,\"value\":\"x\"}]}",
             (unsigned long long)id);
    inject(c, NULL, json);
    /* a's extend after losing the lease is stale, not foreign. */
    snprintf(json, sizeof json,
             "{\"v\":1,\"kind\":\"extend\",\"from\":\"a\",\"inc\":5,"
             "\"ids\":[%llu]}", (unsigned long long)id);
    inject(c, NULL, json);
    CHECK_EQ(c->finals, 0);
    CHECK_EQ(not_holder(c), 2);
    snprintf(json, sizeof json,
             "{\"v\":1,\"kind\":\"done\",\"from\":\"a\",\"inc\":5,\"results\":"
             "[{\"id\":%llu,\"attempt\":1,\"ok\":true,\"value\":\"late\"}]}",
             (unsigned long long)id);
    inject(c, NULL, json);
    CHECK_EQ(c->finals, 1);
    CHECK_STR(c->last_value, "\"late\"");
    CHECK_STR(c->last_worker, "a");
    snprintf(json, sizeof json,
             "{\"v\":1,\"kind\":\"done\",\"from\":\"b\",\"inc\":6,\"results\":"
             "[{\"id\":%llu,\"attempt\":2,\"ok\":true,\"value\":\"b\"}]}",
             (unsigned long long)id);
    inject(c, NULL, json);
    CHECK_EQ(c->finals, 1);
    fl_core_stats_get(c->core, &st);
    CHECK_EQ(st.duplicates_dropped, 1);
    CHECK_EQ(st.not_holder_dropped, 2);
    teardown(&h);
}

static void test_retries_with_backoff(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    fl_submit s = {.name = "fail", .args_json = "[\"flaky\"]", .args_len = 9,
                   .kwargs_json = "{\"retryable\":true}", .kwargs_len = 18};
    s.opt.retries = 2;
    CHECK_EQ(fl_core_submit(c->core, &s, h.now, NULL), FL_OK);
    pump(&h);
    for (int i = 0; i < 10 && c->finals == 0; i++) {
        run_jobs(w);
        h.now += 2000000;
        tick_all(&h);
    }
    CHECK_EQ(c->retries, 2);
    CHECK_EQ(c->failures, 1);
    CHECK_STR(c->last_err_msg, "flaky");
    fl_core_stats st;
    fl_core_stats_get(w->core, &st);
    CHECK_EQ(st.executed, 3);
    teardown(&h);
}

static void test_worker_lost_after_max_attempts(void)
{
    static harness h;
    setup(&h);
    node *c = add_node(&h, "client", 0, 0);
    fl_call_options opt = {.max_attempts = 2};
    submit(c, "add", "[1,1]", &opt);
    for (int i = 0; i < 2; i++) {
        char id[8];
        snprintf(id, sizeof id, "w%d", i);
        node *w = add_node(&h, id, 1, 0);
        h.now += 1500000;
        tick_all(&h);
        CHECK_EQ(w->njobs, 1);
        crash(w);
    }
    add_node(&h, "w9", 1, 0);
    h.now += 1500000;
    tick_all(&h);
    CHECK_EQ(c->failures, 1);
    CHECK_STR(c->last_err_type, "WorkerLost");
    teardown(&h);
}

/* How many tasks one worker holds most of the time once it has run a few:
 * jobs run one at a time, each taking h->run_us, and every lease takes
 * h->lease_delay_us to arrive. (A work announcement crossing a fetch can
 * add one for a moment, as the protocol allows: the mode ignores it.) */
static int usually_held(uint64_t run_us, uint64_t lease_delay_us)
{
    static harness h;
    setup(&h);
    h.run_us = run_us;
    h.lease_delay_us = lease_delay_us;
    node *w = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    for (int i = 0; i < 40; i++)
        submit(c, "add", "[1,2]", NULL);
    int seen[8] = {0};
    for (int round = 0; round < 200 && c->finals < 40; round++) {
        run_jobs(w);
        int held = h.leased - h.ran;
        if (h.ran >= 5 && h.ran < 35 && held >= 0 && held < 8)
            seen[held]++;
    }
    CHECK_EQ(c->successes, 40);
    teardown(&h);
    int mode = 0;
    for (int i = 1; i < 8; i++)
        if (seen[i] > seen[mode])
            mode = i;
    return mode;
}

/* Protocol.md, worker rules 2: the credit covers the measured round trip.
 * 40 ms tasks whose leases take 8 ms to arrive are held two at a time, so
 * the next one is there when the current one ends, and so are 40 ms tasks
 * whose leases arrive at once (the 1 ms floor is 2.5% of a task); 200 ms
 * tasks with leases at once (0.5%) and 1 s tasks with 8 ms leases (0.8%)
 * one at a time. */
static void test_credit_covers_the_round_trip(void)
{
    CHECK_EQ(usually_held(40000, 8000), 2);
    CHECK_EQ(usually_held(40000, 0), 2);
    CHECK_EQ(usually_held(200000, 0), 1);
    CHECK_EQ(usually_held(1000000, 8000), 1);
    /* Leases slower than the tasks: those that finish on the way, + 1. */
    CHECK_EQ(usually_held(10000, 25000), 4);
}

static void test_time_limit(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    fl_call_options opt = {.time_limit_ms = 50};
    submit(c, "sleep", "[10]", &opt);
    CHECK_EQ(w->njobs, 1);
    h.now += 60000;
    tick_all(&h);
    CHECK_EQ(w->cancels, 1);
    CHECK_EQ(c->failures, 1);
    CHECK_STR(c->last_err_type, "TimeLimitExceeded");
    /* The late answer of the cancelled job is ignored. */
    run_jobs(w);
    CHECK_EQ(c->finals, 1);
    teardown(&h);
}

static void test_countdown_and_revoke(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    fl_call_options opt = {.countdown_ms = 500};
    submit(c, "add", "[1,1]", &opt);
    CHECK_EQ(w->njobs, 0);
    h.now += 600000;
    tick_all(&h);
    CHECK_EQ(w->njobs, 1);
    run_jobs(w);
    CHECK_EQ(c->successes, 1);
    uint64_t id = submit(c, "add", "[5,5]", &opt);
    CHECK_EQ(fl_core_revoke(c->core, id, h.now), FL_OK);
    CHECK_EQ(c->revoked, 1);
    CHECK_EQ(fl_core_revoke(c->core, id, h.now), FL_ENOTFOUND);
    teardown(&h);
}

/* The first argument of each job nd holds, in the order it got them, into
 * out (appended); then runs them. */
static void take_in_order(node *nd, char *out, size_t cap)
{
    for (int i = 0; i < nd->njobs; i++) {
        char *t = fl_value_to_json(fl_value_at(nd->jobs[i]->args, 1), NULL);
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%s", len ? "," : "", t ? t : "?");
        fl_free(t);
    }
    run_jobs(nd);
}

/* priority: higher leases first within the owner's queue, FIFO within one
 * priority, across task names, a retry keeps its place at the front of its
 * priority, and a routed task goes first only among its own priority. */
static void test_priority_order(void)
{
    static harness h;
    setup(&h);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    static const struct { const char *name; uint8_t prio; const char *route; }
        tasks[] = {{"add", 0, NULL}, {"add", 5, NULL}, {"mul", 9, NULL},
                   {"add", 5, NULL}, {"mul", 0, NULL}, {"add", 9, NULL},
                   {"add", 0, "w1"}, {"add", 7, "w1"}, {"mul", 3, NULL}};
    size_t n = sizeof tasks / sizeof tasks[0];
    for (size_t i = 0; i < n; i++) {
        char args[32];
        snprintf(args, sizeof args, "[%d,%d]", (int)tasks[i].prio, (int)i);
        fl_call_options opt = {.priority = tasks[i].prio,
                               .route = tasks[i].route};
        submit(c, tasks[i].name, args, &opt);
    }
    /* A one-slot worker comes to the backlog (and hears of it). */
    node *w = add_node(&h, "w1", 1, 0);
    pump(&h);
    h.now += 2000000;
    tick_all(&h);
    char order[256] = "";
    for (int rounds = 0; rounds < 20 && c->finals < (int)n; rounds++)
        take_in_order(w, order, sizeof order);
    CHECK_EQ(c->finals, (int)n);
    CHECK_STR(order, "2,5,7,1,3,8,6,0,4");
    fl_call_options bad = {.priority = 10};
    fl_submit s = {.name = "add", .opt = bad};
    uint64_t id;
    CHECK_EQ(fl_core_submit(c->core, &s, h.now, &id), FL_EINVAL);
    teardown(&h);
}

/* rate_limit: a worker starts at most one task of that name per interval,
 * whatever its slots; other names are not held back. */
static void test_rate_limit(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 4, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    fl_call_options opt = {.rate_limit = "2/s"};
    for (int i = 0; i < 3; i++)
        submit(c, "add", "[1,1]", &opt);
    submit(c, "mul", "[2,3]", NULL);
    CHECK_EQ(w->njobs, 2); /* one add, and the mul */
    run_jobs(w);
    CHECK_EQ(c->successes, 2);
    CHECK_EQ(w->njobs, 0);
    h.now += 400000;
    tick_all(&h);
    CHECK_EQ(w->njobs, 0); /* 500 ms between two adds */
    h.now += 100000;
    tick_all(&h);
    CHECK_EQ(w->njobs, 1);
    run_jobs(w);
    h.now += 499000;
    tick_all(&h);
    CHECK_EQ(w->njobs, 0);
    h.now += 1000;
    tick_all(&h);
    CHECK_EQ(w->njobs, 1);
    run_jobs(w);
    CHECK_EQ(c->successes, 4);
    /* The tick asks to be woken when the next one may start. */
    submit(c, "add", "[1,1]", &opt);
    submit(c, "add", "[1,1]", &opt);
    run_jobs(w);
    uint64_t next = fl_core_tick(w->core, h.now);
    CHECK(next <= h.now + 500000);
    fl_call_options bad = {.rate_limit = "10/d"};
    fl_submit s = {.name = "add", .opt = bad};
    uint64_t id;
    CHECK_EQ(fl_core_submit(c->core, &s, h.now, &id), FL_EINVAL);
    teardown(&h);
}

static bool soft_yes(void *ud)
{
    (void)ud;
    return true;
}

static void sees_soft(fl_task_ctx *ctx, void *ud)
{
    (void)ud;
    fl_task_return_json(ctx, fl_task_soft_expired(ctx) ? "true" : "false",
                        fl_task_soft_expired(ctx) ? 4 : 5);
}

/* soft_time_limit travels in the lease to the job, a native task sees the
 * driver's flag, and it must be under the hard limit. */
static void test_soft_time_limit(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    fl_call_options opt = {.soft_time_limit_ms = 300, .time_limit_ms = 900};
    submit(c, "add", "[1,1]", &opt);
    CHECK_EQ(w->njobs, 1);
    CHECK_EQ(w->jobs[0]->soft_time_limit_ms, 300);
    CHECK_EQ(w->jobs[0]->time_limit_ms, 900);
    run_jobs(w);
    fl_call_options bad = {.soft_time_limit_ms = 900, .time_limit_ms = 900};
    fl_submit s = {.name = "add", .opt = bad};
    uint64_t id;
    CHECK_EQ(fl_core_submit(c->core, &s, h.now, &id), FL_EINVAL);
    bad.time_limit_ms = 0; /* a soft limit alone is fine */
    s.opt = bad;
    s.args_json = "[1,1]";
    s.args_len = 5;
    CHECK_EQ(fl_core_submit(c->core, &s, h.now, &id), FL_OK);
    pump(&h);
    run_jobs(w);
    CHECK_EQ(c->successes, 2);

    fl_registry *reg = fl_registry_new();
    CHECK_EQ(fl_registry_add(reg, "sees", sees_soft, NULL), FL_OK);
    fl_job job;
    memset(&job, 0, sizeof job);
    job.name = (char *)"sees";
    job.attempt = 1;
    CHECK_EQ(fl_value_parse("[]", 2, &job.args), FL_OK);
    CHECK_EQ(fl_value_parse("{}", 2, &job.kwargs), FL_OK);
    const char *want[2] = {"false", "true"};
    for (int i = 0; i < 2; i++) {
        fl_run_hooks hooks = {.max_result = 1024,
                              .soft_expired = i ? soft_yes : NULL};
        fl_outcome out;
        memset(&out, 0, sizeof out);
        fl_core_run_job(reg, &job, &hooks, &out);
        CHECK(out.ok);
        CHECK_MEM(out.value_json, want[i], strlen(want[i]));
        fl_outcome_clear(&out);
    }
    fl_value_free(job.args);
    fl_value_free(job.kwargs);
    fl_registry_free(reg);
    teardown(&h);
}

/* eta: the owner turns it into a delay by its wall clock when it queues
 * the task; one in the past runs now. The harness's wall clock is
 * 1764655200000 ms plus its monotonic time. */
static void test_eta(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    uint64_t wall = h.now / 1000u + 1764655200000ull;
    fl_call_options past = {.eta_ms = wall - 5000};
    submit(c, "add", "[1,1]", &past);
    CHECK_EQ(w->njobs, 1);
    run_jobs(w);
    wall = h.now / 1000u + 1764655200000ull;
    fl_call_options ahead = {.eta_ms = wall + 2000};
    submit(c, "add", "[2,2]", &ahead);
    CHECK_EQ(w->njobs, 0);
    h.now += 1990000;
    tick_all(&h);
    CHECK_EQ(w->njobs, 0);
    h.now += 10000;
    tick_all(&h);
    CHECK_EQ(w->njobs, 1);
    run_jobs(w);
    /* With a countdown too, the later of the two. */
    wall = h.now / 1000u + 1764655200000ull;
    fl_call_options both = {.eta_ms = wall + 100, .countdown_ms = 1000};
    submit(c, "add", "[3,3]", &both);
    h.now += 500000;
    tick_all(&h);
    CHECK_EQ(w->njobs, 0);
    h.now += 500000;
    tick_all(&h);
    CHECK_EQ(w->njobs, 1);
    run_jobs(w);
    CHECK_EQ(c->successes, 3);
    teardown(&h);
}

/* The canvas options: eta as ISO text or Unix seconds, priority,
 * soft_time_limit under time_limit, rate_limit; a bad one names itself. */
static void test_canvas_options(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    static const struct { const char *json, *err; } bad[] = {
        {"{\"task\":\"add\",\"args\":[1,1],\"options\":{\"priority\":10}}",
         "options.priority must be an integer from 0 to 9"},
        {"{\"task\":\"add\",\"args\":[1,1],\"options\":{\"rate_limit\":\"fast\"}}",
         "options.rate_limit must be a rate such as"},
        {"{\"task\":\"add\",\"args\":[1,1],\"options\":{\"eta\":\"tomorrow\"}}",
         "options.eta must be a time in UTC"},
        {"{\"chain\":[{\"task\":\"add\",\"args\":[1,1],\"options\":"
         "{\"soft_time_limit\":3}}],\"options\":{\"time_limit\":2}}",
         "options.soft_time_limit (3 s) must be less than options.time_limit (2 s)"},
    };
    char err[256];
    uint64_t id;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_EQ(fl_core_apply(c->core, bad[i].json, strlen(bad[i].json),
                               h.now, &id, err, sizeof err), FL_EINVAL);
        if (!strstr(err, bad[i].err))
            T_FAILED("canvas %zu: '%s' does not say '%s'", i, err, bad[i].err);
    }
    const char *good = "[add(1,1).set(eta=\"2025-12-02T06:00:00Z\"), "
                       "add(2,2).set(priority=9, rate_limit=\"100/m\", "
                       "soft_time_limit=1, time_limit=2, eta=1764655200)]";
    fl_canvas *cv = fl_canvas_parse(good, err, sizeof err, NULL);
    CHECK(cv != NULL);
    const char *json = cv ? fl_canvas_json(cv) : "";
    CHECK_EQ(fl_core_apply(c->core, json, strlen(json), h.now, &id, err,
                           sizeof err), FL_OK);
    pump(&h);
    CHECK_EQ(w->njobs, 1);
    CHECK_EQ(w->jobs[0]->soft_time_limit_ms, 1000); /* priority 9 first */
    for (int i = 0; i < 4 && c->finals < 1; i++)
        run_jobs(w);
    CHECK_EQ(c->successes, 1);
    CHECK_STR(c->last_value, "[2,4]");
    fl_canvas_free(cv);
    /* fl_canvas_set writes them all. */
    fl_call_options o = {.eta_ms = 1764655200500ull, .priority = 4,
                         .soft_time_limit_ms = 1500, .rate_limit = "5/h"};
    cv = fl_canvas_set(fl_sig("add", "[1,2]", NULL), &o);
    CHECK(strstr(fl_canvas_json(cv), "\"soft_time_limit\":1.5") != NULL);
    CHECK(strstr(fl_canvas_json(cv), "\"eta\":1764655200.5") != NULL);
    CHECK(strstr(fl_canvas_json(cv), "\"priority\":4") != NULL);
    CHECK(strstr(fl_canvas_json(cv), "\"rate_limit\":\"5/h\"") != NULL);
    CHECK_EQ(fl_canvas_check(cv, err, sizeof err), FL_OK);
    fl_canvas_free(cv);
    teardown(&h);
}

static void test_bad_message_gets_error_reply(void)
{
    static harness h;
    setup(&h);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    const char *bad = "{\"v\":1,\"kind\":\"fetch\",\"from\":\"mallory\","
                      "\"inc\":1,\"fid\":\"x\",\"credit\":4}";
    int before = h.qtail;
    fl_core_input(c->core, "floret/v1/default/node/client/in", bad,
                  strlen(bad), h.now);
    CHECK_EQ(h.qtail, before + 1);
    CHECK_STR(h.q[before].topic, "floret/v1/default/node/mallory/in");
    CHECK(memmem(h.q[before].data, h.q[before].len, "\"fid", 4) != NULL);
    CHECK(memmem(h.q[before].data, h.q[before].len, "BadMessage", 10) !=
          NULL);
    /* Garbage without a sender: logged, no reply. */
    fl_core_input(c->core, "floret/v1/default/node/client/in", "\x01\x02", 2,
                  h.now);
    CHECK_EQ(h.qtail, before + 1);
    fl_core_stats st;
    fl_core_stats_get(c->core, &st);
    CHECK_EQ(st.bad_messages, 2);
    teardown(&h);
}

static void test_shutdown_releases_queued(void)
{
    static harness h;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    for (int i = 0; i < 3; i++)
        submit(c, "sleep", "[1]", NULL);
    CHECK_EQ(w->njobs, 1);
    fl_core_shutdown(w->core, h.now);
    pump(&h);
    CHECK(!fl_core_stopped(w->core)); /* one job still running */
    run_jobs(w);
    CHECK(fl_core_stopped(w->core));
    node *w2 = add_node(&h, "w2", 4, 0);
    h.now += 1500000;
    tick_all(&h);
    run_jobs(w2);
    CHECK_EQ(c->successes, 3);
    teardown(&h);
}

/* Run canvas JSON on a client with two workers; returns the client. */
static node *run_canvas(harness *h, const char *canvas, bool finish)
{
    node *w1 = add_node(h, "w1", 2, 0);
    node *w2 = add_node(h, "w2", 2, 0);
    node *c = add_node(h, "client", 0, 0);
    pump(h);
    char err[200] = "";
    uint64_t id = 0;
    fl_status st = fl_core_apply(c->core, canvas, strlen(canvas), h->now, &id,
                                 err, sizeof err);
    CHECK_EQ(st, FL_OK);
    if (st != FL_OK)
        fprintf(stderr, "  apply: %s\n", err);
    pump(h);
    for (int round = 0; finish && round < 10000 && c->finals == 0; round++) {
        run_jobs(w1);
        run_jobs(w2);
        if (w1->njobs == 0 && w2->njobs == 0) {
            h->now += 1500000;
            tick_all(h);
        }
    }
    return c;
}

static void canvas_gives(const char *canvas, const char *want)
{
    static harness h;
    setup(&h);
    node *c = run_canvas(&h, canvas, true);
    CHECK_EQ(c->finals, 1);
    CHECK_EQ(c->successes, 1);
    if (strcmp(c->last_value, want) != 0)
        fprintf(stderr, "  %s\n  gave %s\n", canvas, c->last_value);
    CHECK_STR(c->last_value, want);
    teardown(&h);
}

/* The Canvas guide's and Broccoli's examples, with their answers. */
static void test_canvas_examples(void)
{
    char buf[8192];
    size_t n;
    canvas_gives("{\"chain\":[{\"task\":\"add\",\"args\":[4,4]},"
                 "{\"task\":\"mul\",\"args\":[8]},{\"task\":\"mul\","
                 "\"args\":[10]}]}", "640");
    canvas_gives("{\"group\":[{\"task\":\"add\",\"args\":[2,2]},"
                 "{\"task\":\"add\",\"args\":[4,4]}]}", "[4,8]");
    n = (size_t)snprintf(buf, sizeof buf, "{\"chord\":[");
    for (int i = 0; i < 10; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n,
                              "%s{\"task\":\"add\",\"args\":[%d,%d]}",
                              i ? "," : "", i, i);
    snprintf(buf + n, sizeof buf - n, "],\"body\":{\"task\":\"xsum\"}}");
    canvas_gives(buf, "90");
    n = (size_t)snprintf(buf, sizeof buf, "{\"map\":\"xsum\",\"items\":[[");
    for (int i = 0; i < 10; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%d", i ? "," : "", i);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "],[");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%d", i ? "," : "", i);
    snprintf(buf + n, sizeof buf - n, "]]}");
    canvas_gives(buf, "[45,4950]");
    n = (size_t)snprintf(buf, sizeof buf, "{\"starmap\":\"add\",\"items\":[");
    for (int i = 0; i < 10; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s[%d,%d]",
                              i ? "," : "", i, i);
    snprintf(buf + n, sizeof buf - n, "]}");
    canvas_gives(buf, "[0,2,4,6,8,10,12,14,16,18]");
    n = (size_t)snprintf(buf, sizeof buf, "{\"chunks\":\"add\",\"n\":10,"
                         "\"items\":[");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s[%d,%d]",
                              i ? "," : "", i, i);
    snprintf(buf + n, sizeof buf - n, "]}");
    char want[4096];
    n = (size_t)snprintf(want, sizeof want, "[");
    for (int k = 0; k < 10; k++) {
        n += (size_t)snprintf(want + n, sizeof want - n, "%s[", k ? "," : "");
        for (int i = 0; i < 10; i++)
            n += (size_t)snprintf(want + n, sizeof want - n, "%s%d",
                                  i ? "," : "", 2 * (10 * k + i));
        n += (size_t)snprintf(want + n, sizeof want - n, "]");
    }
    snprintf(want + n, sizeof want - n, "]");
    canvas_gives(buf, want);
}

static void test_canvas_nesting(void)
{
    /* a group of chains */
    canvas_gives("{\"group\":[{\"chain\":[{\"task\":\"add\",\"args\":[1,1]},"
                 "{\"task\":\"mul\",\"args\":[2]}]},{\"chain\":[{\"task\":"
                 "\"add\",\"args\":[2,2]},{\"task\":\"mul\",\"args\":[3]}]}]}",
                 "[4,12]");
    /* a chain containing a group: each member gets the previous result */
    canvas_gives("{\"chain\":[{\"task\":\"add\",\"args\":[1,1]},{\"group\":["
                 "{\"task\":\"mul\",\"args\":[10]},{\"task\":\"add\",\"args\":"
                 "[5]}]},{\"task\":\"xsum\"}]}", "27");
    /* immutable signature ignores the previous result */
    canvas_gives("{\"chain\":[{\"task\":\"add\",\"args\":[1,1]},{\"task\":"
                 "\"add\",\"args\":[3,3],\"immutable\":true}]}", "6");
    /* a chord whose header holds chains */
    canvas_gives("{\"chord\":[{\"chain\":[{\"task\":\"add\",\"args\":[1,1]},"
                 "{\"task\":\"mul\",\"args\":[2]}]},{\"task\":\"add\",\"args\":"
                 "[1,2]}],\"body\":{\"task\":\"xsum\"}}", "7");
    canvas_gives("{\"group\":[]}", "[]");
}

/* deep(n): an array nested n levels, built as text. */
static void task_deep(fl_task_ctx *ctx, void *ud)
{
    (void)ud;
    static char text[256];
    int n = (int)fl_value_number(fl_value_at(fl_task_args(ctx), 0));
    if (n < 1 || n > 100)
        n = 1;
    memset(text, '[', (size_t)n);
    memset(text + n, ']', (size_t)n);
    fl_task_return_json(ctx, text, 2 * (size_t)n);
}

/* Arguments and results a lease or a done could not carry fail where
 * they arise, saying how deep: a canvas step whose input grew too deep, a
 * task result too deep, a submit too deep; nothing waits for a message
 * its receiver would refuse. */
static void test_arg_and_result_depth(void)
{
    static harness h;
    char buf[512];
    int lim = FL_MAX_ARG_DEPTH;
    /* echo(X, 1) returns [X, 1], one level more each step: the step whose
     * arguments would be lim + 1 deep fails. */
    size_t n = (size_t)snprintf(buf, sizeof buf, "{\"chain\":[{\"task\":"
                                "\"echo\",\"args\":[");
    for (int i = 0; i < lim - 2; i++)
        buf[n++] = '[';
    for (int i = 0; i < lim - 2; i++)
        buf[n++] = ']';
    snprintf(buf + n, sizeof buf - n, ",1]},{\"task\":\"echo\",\"args\":"
             "[1]},{\"task\":\"echo\",\"args\":[1]}]}");
    setup(&h);
    node *c = run_canvas(&h, buf, true);
    CHECK_EQ(c->failures, 1);
    CHECK_STR(c->last_err_type, "ValueError");
    char want[200];
    snprintf(want, sizeof want, "chain step 3 (echo) failed: echo: its "
             "arguments are nested %d levels deep, over the limit of %d for "
             "task arguments", lim + 1, lim);
    if (strncmp(c->last_err_msg, want, strlen(want)) != 0)
        fprintf(stderr, "  got '%s'\n", c->last_err_msg);
    CHECK(strncmp(c->last_err_msg, want, strlen(want)) == 0);
    teardown(&h);

    /* A result over the limit fails its task instead of being sent. */
    setup(&h);
    fl_registry_add(h.reg, "deep", task_deep, NULL);
    snprintf(buf, sizeof buf, "{\"group\":[{\"task\":\"deep\",\"args\":"
             "[%d]},{\"task\":\"deep\",\"args\":[%d]}]}", lim, lim + 1);
    c = run_canvas(&h, buf, true);
    CHECK_EQ(c->failures, 1);
    CHECK_STR(c->last_err_type, "ValueError");
    snprintf(want, sizeof want, "group member 2 (deep) failed: the result is "
             "nested %d levels deep, over the limit of %d for a task result",
             lim + 1, lim);
    if (strncmp(c->last_err_msg, want, strlen(want)) != 0)
        fprintf(stderr, "  got '%s'\n", c->last_err_msg);
    CHECK(strncmp(c->last_err_msg, want, strlen(want)) == 0);

    /* A plain submit too deep is refused at once. */
    n = 0;
    for (int i = 0; i < lim + 1; i++)
        buf[n++] = '[';
    for (int i = 0; i < lim + 1; i++)
        buf[n++] = ']';
    buf[n] = '\0';
    fl_submit s = {.name = "echo", .args_json = buf, .args_len = n};
    uint64_t id = 0;
    CHECK_EQ(fl_core_submit(c->core, &s, h.now, &id), FL_EINVAL);
    teardown(&h);
}

static void test_canvas_failures_name_the_member(void)
{
    static harness h;
    setup(&h);
    node *c = run_canvas(&h, "{\"chain\":[{\"task\":\"add\",\"args\":[1,1]},"
                         "{\"task\":\"fail\",\"args\":[\"boom\"],"
                         "\"immutable\":true},{\"task\":\"mul\",\"args\":[2]}]}",
                         true);
    CHECK_EQ(c->failures, 1);
    CHECK_STR(c->last_err_type, "TaskError");
    CHECK_STR(c->last_err_msg, "chain step 2 (fail) failed: boom");
    teardown(&h);

    setup(&h);
    c = run_canvas(&h, "{\"group\":[{\"task\":\"add\",\"args\":[1,1]},"
                   "{\"task\":\"add\",\"args\":[1,\"x\"]},{\"task\":\"add\","
                   "\"args\":[2,2]}]}", true);
    CHECK_EQ(c->failures, 1);
    CHECK_STR(c->last_err_type, "TypeError");
    CHECK(strncmp(c->last_err_msg, "group member 2 (add) failed: ", 29) == 0);
    teardown(&h);
}

static void test_canvas_rejects_bad_json(void)
{
    static harness h;
    setup(&h);
    node *c = add_node(&h, "client", 0, 0);
    const char *bad[][2] = {
        {"{\"chain\":[]}", "canvas.chain: a chain needs at least one step"},
        {"{\"task\":\"add\",\"args\":3}", "canvas: args must be an array"},
        {"{\"group\":[{\"tusk\":1}]}", "canvas.group[0]: expected one of"},
        {"{\"task\":\"add\",\"options\":{\"retry\":1}}",
         "canvas: unknown option 'retry'"},
        {"[1]", "canvas: expected a signature object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[200] = "";
        CHECK_EQ(fl_core_apply(c->core, bad[i][0], strlen(bad[i][0]), h.now,
                               NULL, err, sizeof err), FL_EINVAL);
        if (strncmp(err, bad[i][1], strlen(bad[i][1])) != 0)
            fprintf(stderr, "  %s: got '%s'\n", bad[i][0], err);
        CHECK(strncmp(err, bad[i][1], strlen(bad[i][1])) == 0);
    }
    /* Nested one level past the canvas limit: the reason says how deep
     * and which limit, not "not valid JSON". */
    static char deep[1024];
    size_t n = 0;
    int groups = FL_MAX_CANVAS_DEPTH / 2; /* 2 levels each, then 2 more */
    for (int i = 0; i < groups; i++)
        n += (size_t)sprintf(deep + n, "{\"group\":[");
    n += (size_t)sprintf(deep + n, "{\"task\":\"add\",\"args\":[1,1]}");
    for (int i = 0; i < groups; i++)
        n += (size_t)sprintf(deep + n, "]}");
    char err[200] = "", want[120];
    snprintf(want, sizeof want, "canvas: nested %d levels deep, over the "
             "limit of %d", 2 * groups + 2, FL_MAX_CANVAS_DEPTH);
    CHECK_EQ(fl_core_apply(c->core, deep, n, h.now, NULL, err, sizeof err),
             FL_EINVAL);
    CHECK_STR(err, want);
    CHECK_EQ(fl_core_apply(c->core, "{\"task\":", 8, h.now, NULL, err,
                           sizeof err), FL_EINVAL);
    CHECK_STR(err, "canvas: not valid JSON");
    teardown(&h);
}

/* A workflow's member tasks are owned tasks: counted when queued and when
 * they end, and an open workflow is pending, so submitted = finished +
 * owned_pending holds throughout. */
static void test_canvas_counters(void)
{
    static harness h;
    setup(&h);
    node *c = run_canvas(&h, "{\"chain\":[{\"task\":\"add\",\"args\":"
                         "[1,1]},{\"task\":\"mul\",\"args\":[3]}]}", false);
    fl_core_stats st;
    fl_core_stats_get(c->core, &st);
    CHECK_EQ(st.submitted, 2);      /* the workflow and its first step */
    CHECK_EQ(st.finished, 0);
    CHECK_EQ(st.owned_pending, 2);
    teardown(&h);

    setup(&h);
    c = run_canvas(&h, "{\"chain\":[{\"task\":\"add\",\"args\":[1,1]},"
                   "{\"task\":\"mul\",\"args\":[3]}]}", true);
    CHECK_STR(c->last_value, "6");
    fl_core_stats_get(c->core, &st);
    CHECK_EQ(st.submitted, 3);
    CHECK_EQ(st.finished, 3);
    CHECK_EQ(st.owned_pending, 0);
    teardown(&h);
}

static void test_canvas_revoke(void)
{
    static harness h;
    setup(&h);
    node *c = run_canvas(&h, "{\"group\":[{\"task\":\"sleep\",\"args\":[1]},"
                         "{\"task\":\"sleep\",\"args\":[1]}]}", false);
    CHECK_EQ(c->finals, 0);
    /* workflow ids come from the same counter as task ids: the group was
     * applied first, so it is id 1 */
    CHECK_EQ(fl_core_revoke(c->core, 1, h.now), FL_OK);
    CHECK_EQ(c->finals, 1);
    CHECK_EQ(c->revoked, 1);
    teardown(&h);
}

/* Run the jobs of the workers until quiet (no timers needed here). */
static void work_until_quiet(harness *h, node **workers, int n)
{
    for (int round = 0; round < 1000; round++) {
        int held = 0;
        for (int i = 0; i < n; i++) {
            held += workers[i]->njobs;
            run_jobs(workers[i]);
        }
        if (!held)
            return;
    }
    (void)h;
}

/* A workflow handed to a keeper: accepted once even when the submit is
 * sent twice, its result kept for later queries, NotFound for an unknown
 * id, NotAKeeper from a client, OwnerLost when the keeper dies. */
/* protocol.md 3.13: a revoke reaches the worker. On a one-slot worker
 * holding a running and a queued sleep, the queued one is dropped unrun,
 * the running one cancelled (terminate passed on), and the slot runs the
 * next task as soon as the cancelled one returns. */
static void test_revoke_stops_work(void)
{
    static harness h;
    fl_core_stats st;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    uint64_t a = submit(c, "sleep", "[30]", NULL);
    uint64_t b = submit(c, "sleep", "[30]", NULL);
    CHECK_EQ(w->njobs, 1); /* a runs, b is leased and queued */
    fl_core_stats_get(w->core, &st);
    CHECK_EQ(st.queued_local, 1u);
    CHECK_EQ(st.running, 1u);

    CHECK_EQ(fl_core_revoke(c->core, b, h.now), FL_OK);
    pump(&h);
    CHECK_EQ(c->revoked, 1);
    fl_core_stats_get(w->core, &st);
    CHECK_EQ(st.queued_local, 0u);  /* dropped before it started */
    CHECK_EQ(st.running, 1u);
    CHECK_EQ(w->cancels, 0);
    CHECK_EQ(w->njobs, 1);

    CHECK_EQ(fl_core_revoke_with(c->core, a, true, h.now), FL_OK);
    pump(&h);
    CHECK_EQ(c->revoked, 2);
    CHECK_EQ(w->cancels, 1);
    CHECK_EQ(w->terminates, 1);
    fl_core_stats_get(w->core, &st);
    CHECK_EQ(st.running, 0u);

    /* The next task waits for the slot, and takes it when a returns. */
    submit(c, "add", "[2,3]", NULL);
    CHECK_EQ(w->njobs, 1);
    run_jobs(w); /* a returns (its answer is dropped), then add runs */
    run_jobs(w);
    CHECK_EQ(c->successes, 1);
    CHECK_STR(c->last_value, "5");
    CHECK_EQ(c->finals, 3);
    CHECK_EQ(h.ran, 2); /* a and add; b never ran */
    teardown(&h);
}

/* A revoke names the owner incarnation that leased: one from another
 * incarnation (a restarted owner's ids) or a malformed one stops nothing,
 * and a worker too old to know revoke answers UnknownKind, which the owner
 * only logs. */
static void test_revoke_only_from_the_lessor(void)
{
    static harness h;
    fl_core_stats st;
    char text[256];
    setup(&h);
    node *w = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    uint64_t a = submit(c, "sleep", "[30]", NULL);
    submit(c, "sleep", "[30]", NULL);
    snprintf(text, sizeof text, "{\"v\":1,\"kind\":\"revoke\",\"from\":\"client\","
             "\"inc\":%llu,\"ids\":[1,2]}", (unsigned long long)c->inc + 1);
    inject(w, NULL, text);
    inject(w, NULL, "{\"v\":1,\"kind\":\"revoke\",\"from\":\"mallory\",\"inc\":5,"
              "\"ids\":[1,2]}");
    fl_core_stats_get(w->core, &st);
    CHECK_EQ(st.queued_local + st.running, 2u);
    CHECK_EQ(w->cancels, 0);
    CHECK_EQ(st.bad_messages, 0u);
    /* Malformed: both forms, ids without inc, neither. */
    inject(w, NULL, "{\"v\":1,\"kind\":\"revoke\",\"from\":\"client\",\"inc\":1,"
              "\"ids\":[1],\"id\":1,\"rid\":1}");
    inject(w, NULL, "{\"v\":1,\"kind\":\"revoke\",\"from\":\"client\",\"ids\":[1]}");
    inject(w, NULL, "{\"v\":1,\"kind\":\"revoke\",\"from\":\"client\",\"inc\":1}");
    inject(w, NULL, "{\"v\":1,\"kind\":\"revoke\",\"from\":\"client\",\"inc\":1,"
              "\"ids\":[1],\"terminate\":1}");
    fl_core_stats_get(w->core, &st);
    CHECK_EQ(st.bad_messages, 4u);
    CHECK_EQ(st.queued_local + st.running, 2u);
    /* An older worker's answer to a revoke changes nothing at the owner. */
    CHECK_EQ(fl_core_revoke(c->core, a, h.now), FL_OK);
    inject(c, NULL, "{\"v\":1,\"kind\":\"error\",\"from\":\"w1\",\"error\":{\"type\":"
              "\"UnknownKind\",\"message\":\"kind: unknown kind 'revoke'\"}}");
    fl_core_stats_get(c->core, &st);
    CHECK_EQ(st.owned_pending, 1u);
    teardown(&h);
}

/* A revoke lost with a connection: the worker's holding names a task the
 * owner has ended, and the owner revokes it again. */
static void test_revoke_after_reconnect(void)
{
    static harness h;
    fl_core_stats st;
    setup(&h);
    node *w = add_node(&h, "w1", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    pump(&h);
    uint64_t a = submit(c, "sleep", "[30]", NULL);
    CHECK_EQ(w->njobs, 1);
    w->up = false; /* the revoke goes nowhere */
    CHECK_EQ(fl_core_revoke(c->core, a, h.now), FL_OK);
    pump(&h);
    w->up = true;
    fl_core_stats_get(w->core, &st);
    CHECK_EQ(st.running, 1u);
    fl_core_disconnected(w->core, h.now);
    fl_core_connected(w->core, h.now);
    pump(&h);
    CHECK_EQ(w->cancels, 1);
    fl_core_stats_get(w->core, &st);
    CHECK_EQ(st.running, 0u);
    teardown(&h);
}

/* A workflow handed to a keeper is revoked by id from any client: its
 * leased tasks stop on their worker, every waiter sees REVOKED; a revoke
 * of an ended one answers its state, of an unknown id NotFound; a task a
 * client owns is revoked the same way; an owner that does not know revoke
 * answers UnknownKind. */
static void test_keeper_revoke(void)
{
    static harness h;
    char err[200] = "";
    uint64_t id = 0, q = 0;
    unsigned long long wid = 0;
    setup(&h);
    node *k = add_node(&h, "keeper", 1, 0);
    node *c = add_node(&h, "client", 0, 0);
    node *other = add_node(&h, "other", 0, 0);
    pump(&h);
    const char *chain = "{\"chain\":[{\"task\":\"sleep\",\"args\":[30]},"
                        "{\"task\":\"add\",\"args\":[1]}]}";
    CHECK_EQ(fl_core_remote_submit(c->core, "keeper", chain, strlen(chain),
                                   h.now, &id, err, sizeof err), FL_OK);
    pump(&h);
    CHECK_EQ(sscanf(c->last_value, "\"keeper:%llu\"", &wid), 1);
    CHECK_EQ(k->njobs, 1); /* the keeper's own slot runs the sleep */
    CHECK_EQ(fl_core_remote_query(other->core, "keeper", wid, h.now, &q), FL_OK);
    pump(&h);
    CHECK_EQ(other->finals, 0);

    CHECK_EQ(fl_core_remote_revoke(c->core, "keeper", wid, false, h.now, &id),
             FL_OK);
    pump(&h);
    CHECK_EQ(c->revoked, 1);
    CHECK_EQ(other->revoked, 1); /* the waiter */
    CHECK_EQ(k->cancels, 1);      /* the running sleep */
    fl_core_stats st;
    fl_core_stats_get(k->core, &st);
    CHECK_EQ(st.owned_pending, 0u);
    /* Again: it has ended, REVOKED, and says so. */
    CHECK_EQ(fl_core_remote_revoke(other->core, "keeper", wid, false, h.now,
                                   &id), FL_OK);
    pump(&h);
    CHECK_EQ(other->revoked, 2);
    CHECK_EQ(fl_core_remote_revoke(c->core, "keeper", 999, false, h.now, &id),
             FL_OK);
    pump(&h);
    CHECK_STR(c->last_err_type, "NotFound");
    CHECK(strstr(c->last_err_msg, "no task or workflow 999 on node keeper"));

    /* A finished workflow answers its state: nothing was revoked. */
    const char *quick = "{\"task\":\"add\",\"args\":[2,2]}";
    CHECK_EQ(fl_core_remote_submit(c->core, "keeper", quick, strlen(quick),
                                   h.now, &id, err, sizeof err), FL_OK);
    pump(&h);
    CHECK_EQ(sscanf(c->last_value, "\"keeper:%llu\"", &wid), 1);
    node *ws[] = {k};
    run_jobs(k); /* the cancelled sleep returns */
    work_until_quiet(&h, ws, 1);
    int ok_before = c->successes;
    CHECK_EQ(fl_core_remote_revoke(c->core, "keeper", wid, false, h.now, &id),
             FL_OK);
    pump(&h);
    CHECK_EQ(c->successes, ok_before + 1);
    CHECK_STR(c->last_value, "4");

    /* A task another client owns: revoked at its owner, by id. */
    uint64_t t = submit(other, "sleep", "[30]", NULL);
    CHECK_EQ(k->njobs, 1);
    CHECK_EQ(fl_core_remote_revoke(c->core, "other", t, true, h.now, &id),
             FL_OK);
    pump(&h);
    CHECK_EQ(other->revoked, 3);
    CHECK_STR(other->last_err_msg, "revoked by client");
    CHECK_EQ(k->terminates, 1);
    int revoked = c->revoked;
    CHECK_EQ(c->revoked, revoked);

    /* An older owner answers UnknownKind, echoing the revoke's mid. */
    CHECK_EQ(fl_core_remote_revoke(c->core, "old", 5, false, h.now, &id),
             FL_OK);
    pump(&h);
    char reply[256];
    snprintf(reply, sizeof reply, "{\"v\":1,\"kind\":\"error\",\"from\":\"old\","
             "\"re\":%llu,\"error\":{\"type\":\"UnknownKind\",\"message\":"
             "\"kind: unknown kind 'revoke'\"}}", (unsigned long long)id);
    inject(c, NULL, reply);
    CHECK_STR(c->last_err_type, "UnknownKind");
    CHECK(strstr(c->last_err_msg, "does not know revoke"));
    teardown(&h);
}

static void test_keeper(void)
{
    static harness h;
    setup(&h);
    node *k = add_node(&h, "keeper", 2, 0);
    node *w = add_node(&h, "w", 2, 0);
    node *c = add_node(&h, "client", 0, 0);
    node *other = add_node(&h, "other", 0, 0);
    node *ws[] = {k, w};
    pump(&h);
    const char *chord = "{\"chord\":[{\"task\":\"add\",\"args\":[1,1]},"
                        "{\"task\":\"add\",\"args\":[2,2]}],"
                        "\"body\":{\"task\":\"xsum\"}}";
    char err[200] = "";
    uint64_t id = 0;
    /* The client reconnects before the reply: the submit goes out twice. */
    CHECK_EQ(fl_core_remote_submit(c->core, "keeper", chord, strlen(chord),
                                   h.now, &id, err, sizeof err), FL_OK);
    fl_core_disconnected(c->core, h.now);
    fl_core_connected(c->core, h.now);
    pump(&h);
    CHECK_EQ(c->finals, 1);
    CHECK_EQ(c->successes, 1);
    CHECK_STR(c->last_value, "\"keeper:1\"");
    work_until_quiet(&h, ws, 2);
    fl_core_stats st;
    fl_core_stats_get(k->core, &st);
    CHECK_EQ(st.owned_pending, 0u);

    /* Ask from another node after the end: the keeper kept it. */
    CHECK_EQ(fl_core_remote_query(other->core, "keeper", 1, h.now, &id), FL_OK);
    pump(&h);
    CHECK_EQ(other->successes, 1);
    CHECK_STR(other->last_value, "6");
    CHECK_EQ(fl_core_remote_query(other->core, "keeper", 77, h.now, &id), FL_OK);
    pump(&h);
    CHECK_EQ(other->failures, 1);
    CHECK_STR(other->last_err_type, "NotFound");

    /* A bad canvas is refused with the reason; a client is not a keeper. */
    CHECK_EQ(fl_core_remote_submit(c->core, "keeper", "{\"chain\":5}", 11,
                                   h.now, &id, err, sizeof err), FL_OK);
    pump(&h);
    CHECK_STR(c->last_err_type, "CanvasError");
    CHECK_EQ(fl_core_remote_submit(c->core, "other", chord, strlen(chord),
                                   h.now, &id, err, sizeof err), FL_OK);
    pump(&h);
    CHECK_STR(c->last_err_type, "NotAKeeper");

    /* A wait on a keeper that dies ends in OwnerLost. */
    const char *slow = "{\"task\":\"sleep\",\"args\":[5]}";
    CHECK_EQ(fl_core_remote_submit(c->core, "keeper", slow, strlen(slow), h.now,
                                   &id, err, sizeof err), FL_OK);
    pump(&h);
    unsigned long long wid = 0;
    CHECK_EQ(sscanf(c->last_value, "\"keeper:%llu\"", &wid), 1);
    CHECK_EQ(fl_core_remote_query(other->core, "keeper", wid, h.now, &id), FL_OK);
    pump(&h);
    int before = other->failures;
    crash(k);
    CHECK_EQ(other->failures, before + 1);
    CHECK_STR(other->last_err_type, "OwnerLost");
    /* Asking a keeper already known to be dead ends at once. */
    CHECK_EQ(fl_core_remote_query(other->core, "keeper", wid, h.now, &id), FL_OK);
    CHECK_EQ(other->failures, before + 2);
    CHECK_STR(other->last_err_type, "OwnerLost");
    teardown(&h);
}

/* A node with a journal restarted from it: the same core id again, a new
 * incarnation, every stored line read back before it connects. */
static void restart_from_journal(node *nd, uint32_t slots)
{
    harness *h = nd->h;
    char *journal = nd->journal;
    nd->journal = NULL;
    nd->journal_len = 0;
    fl_core_config cfg = {.node_id = nd->id, .incarnation = nd->inc + 100,
                          .slots = slots, .seed = 7, .registry = h->reg,
                          .log_level = 3, .max_message = (size_t)8 << 20};
    fl_core_io io = {.ud = nd, .publish = io_publish,
                     .subscribe = io_subscribe, .execute = io_execute,
                     .cancel = io_cancel, .final = io_final,
                     .state = io_state, .log = io_log, .wall_ms = io_wall,
                     .kept = io_kept};
    CHECK_EQ(fl_core_new(&cfg, &io, &nd->core), FL_OK);
    nd->inc = cfg.incarnation;
    char err[200];
    for (char *line = journal; line && *line;) {
        char *nl = strchr(line, '\n');
        CHECK(nl != NULL);
        CHECK_EQ(fl_core_kept_load(nd->core, line, (size_t)(nl - line), h->now,
                                   err, sizeof err), FL_OK);
        line = nl + 1;
    }
    free(journal);
    fl_core_kept_resume(nd->core, h->now);
    nd->up = true;
    fl_core_connected(nd->core, h->now);
    pump(h);
}

/* Journal lines (since its last restart) of runs schedule `name` started. */
static int sched_runs(const node *nd, const char *name)
{
    char pat[96];
    int n = 0;
    snprintf(pat, sizeof pat, "\"schedule\":\"%s\"", name);
    for (const char *p = nd->journal; p && (p = strstr(p, pat)) != NULL; p++)
        n++;
    return n;
}

/* Step the clock by `seconds`, ticking every 10 s as the driver would. */
static void pass_time(harness *h, node **ws, int nws, int seconds)
{
    for (int t = 0; t < seconds; t += 10) {
        h->now += 10u * 1000000u;
        tick_all(h);
        work_until_quiet(h, ws, nws);
    }
}

static void sched_request(harness *h, node *c, const char *op,
                          const char *name, const char *cron,
                          const char *canvas)
{
    char err[200] = "";
    uint64_t id = 0;
    CHECK_EQ(fl_core_remote_schedule(c->core, "keeper", op, name, cron, canvas,
                                     h->now, &id, err, sizeof err), FL_OK);
    pump(h);
}

/* protocol.md 3.16: "* * * * *" at a durable keeper, on the harness's
 * wall clock (a whole minute at h.now 0): added with its next fire, runs
 * once a minute as a kept workflow with its own id, listed with its last
 * run, comes back from the journal after a crash and runs a missed fire
 * once (not once per missed minute), stops when removed; a keeper without
 * a journal refuses it, and a bad cron names the field. */
static void test_keeper_schedule(void)
{
    static harness h;
    setup(&h);
    h.journal = true;
    node *k = add_node(&h, "keeper", 2, 0);
    node *c = add_node(&h, "client", 0, 0);
    node *plain = add_node(&h, "plain", 1, 0);
    node *ws[] = {k, plain};
    pump(&h);
    const char *canvas = "{\"task\":\"add\",\"args\":[1,2]}";
    h.now += 5u * 1000000u;
    sched_request(&h, c, "add", "m", "* * * * *", canvas);
    CHECK_EQ(c->successes, 1);
    CHECK(strstr(c->last_value, "\"name\":\"m\"") != NULL);
    CHECK(strstr(c->last_value, "\"next_ms\":1764655260000") != NULL);
    CHECK(strstr(k->journal, "\"t\":\"sched\",\"name\":\"m\"") != NULL);
    pass_time(&h, ws, 2, 50); /* 55 s: not yet */
    CHECK_EQ(sched_runs(k, "m"), 0);
    pass_time(&h, ws, 2, 10); /* 65 s */
    CHECK_EQ(sched_runs(k, "m"), 1);
    uint64_t id = 0;
    CHECK_EQ(fl_core_remote_query(c->core, "keeper", 1, h.now, &id), FL_OK);
    pump(&h);
    CHECK_STR(c->last_value, "3");
    pass_time(&h, ws, 2, 180); /* 245 s: fires at 120, 180, 240 */
    CHECK_EQ(sched_runs(k, "m"), 4);
    sched_request(&h, c, "list", NULL, NULL, NULL);
    CHECK(strstr(c->last_value, "\"runs\":4") != NULL);
    CHECK(strstr(c->last_value, "\"last_id\":4") != NULL);
    CHECK(strstr(c->last_value, "\"last_state\":\"SUCCESS\"") != NULL);
    CHECK(strstr(c->last_value, "\"next_ms\":1764655500000") != NULL);
    /* Down for five minutes: back from the journal, the missed fire once. */
    crash(k);
    h.now += 300u * 1000000u;
    restart_from_journal(k, 2);
    tick_all(&h);
    work_until_quiet(&h, ws, 2);
    CHECK_EQ(sched_runs(k, "m"), 1);
    pass_time(&h, ws, 2, 30);
    CHECK_EQ(sched_runs(k, "m"), 1);
    sched_request(&h, c, "list", NULL, NULL, NULL);
    CHECK(strstr(c->last_value, "\"runs\":5") != NULL);
    CHECK(strstr(c->last_value, "\"last_id\":5") != NULL);
    /* Removed: no more runs. */
    sched_request(&h, c, "remove", "m", NULL, NULL);
    CHECK(strstr(c->last_value, "\"name\":\"m\"") != NULL);
    pass_time(&h, ws, 2, 180);
    CHECK_EQ(sched_runs(k, "m"), 1);
    sched_request(&h, c, "list", NULL, NULL, NULL);
    CHECK(strstr(c->last_value, "\"schedules\":[]") != NULL);
    /* Refusals name what is wrong. */
    int failures = c->failures;
    sched_request(&h, c, "remove", "m", NULL, NULL);
    CHECK_STR(c->last_err_type, "NotFound");
    sched_request(&h, c, "add", "n", "0 25 * * *", canvas);
    CHECK_STR(c->last_err_type, "CronError");
    CHECK_STR(c->last_err_msg, "cron field 2 (hour): 25 is out of range 0-23");
    sched_request(&h, c, "add", "n", "@hourly", "{\"task\":\"\"}");
    CHECK_STR(c->last_err_type, "CanvasError");
    sched_request(&h, c, "add", "n", NULL, canvas);
    CHECK_STR(c->last_err_type, "BadMessage");
    sched_request(&h, c, "jump", NULL, NULL, NULL);
    CHECK_STR(c->last_err_msg, "op: expected add, list or remove, got 'jump'");
    char err[200] = "";
    CHECK_EQ(fl_core_remote_schedule(c->core, "plain", "add", "n", "@daily",
                                     canvas, h.now, &id, err, sizeof err), FL_OK);
    pump(&h);
    CHECK_STR(c->last_err_type, "NotDurable");
    CHECK_EQ(c->failures, failures + 6);
    teardown(&h);
}

/* A durable keeper: what it stored brings back, after a crash, the ended
 * workflow's value, the unfinished one (run again to its end) and the id
 * counter; a dump restores the same; bad records are refused by field. */
static void test_keeper_journal(void)
{
    static harness h;
    setup(&h);
    h.journal = true;
    node *k = add_node(&h, "keeper", 2, 0);
    node *w = add_node(&h, "w", 2, 0);
    node *c = add_node(&h, "client", 0, 0);
    node *ws[] = {k, w};
    pump(&h);
    const char *chord = "{\"chord\":[{\"task\":\"add\",\"args\":[1,1]},"
                        "{\"task\":\"add\",\"args\":[2,2]}],"
                        "\"body\":{\"task\":\"xsum\"}}";
    const char *chain = "{\"chain\":[{\"task\":\"add\",\"args\":[4,4]},"
                        "{\"task\":\"mul\",\"args\":[8]}]}";
    char err[200] = "";
    uint64_t id = 0;
    CHECK_EQ(fl_core_remote_submit(c->core, "keeper", chord, strlen(chord),
                                   h.now, &id, err, sizeof err), FL_OK);
    pump(&h);
    CHECK_STR(c->last_value, "\"keeper:1\"");
    work_until_quiet(&h, ws, 2);
    CHECK(strstr(k->journal, "\"t\":\"accept\",\"id\":1") != NULL);
    CHECK(strstr(k->journal, "\"t\":\"end\",\"id\":1,") != NULL);
    CHECK(strstr(k->journal, "\"value\":6") != NULL);
    /* The second one is accepted, then the keeper dies before it runs. */
    CHECK_EQ(fl_core_remote_submit(c->core, "keeper", chain, strlen(chain),
                                   h.now, &id, err, sizeof err), FL_OK);
    pump(&h);
    CHECK_STR(c->last_value, "\"keeper:2\"");
    int finals = c->finals;
    CHECK_EQ(fl_core_remote_query(c->core, "keeper", 2, h.now, &id), FL_OK);
    pump(&h);
    crash(k);
    /* A durable keeper's waiters keep waiting for it. */
    CHECK_EQ(c->finals, finals);
    restart_from_journal(k, 2);
    work_until_quiet(&h, ws, 2);
    CHECK_EQ(c->finals, finals + 1);
    CHECK_STR(c->last_value, "64");
    CHECK_EQ(fl_core_remote_query(c->core, "keeper", 1, h.now, &id), FL_OK);
    pump(&h);
    CHECK_STR(c->last_value, "6");
    /* The next id goes on from the journal's. */
    CHECK_EQ(fl_core_remote_submit(c->core, "keeper", chain, strlen(chain),
                                   h.now, &id, err, sizeof err), FL_OK);
    pump(&h);
    CHECK_STR(c->last_value, "\"keeper:3\"");
    work_until_quiet(&h, ws, 2);
    /* What a dump writes (a compacted journal) restores the same. */
    free(k->journal);
    k->journal = NULL;
    k->journal_len = 0;
    CHECK(fl_core_kept_dump(k->core, io_kept, k));
    const char *head = "{\"t\":\"next\",\"id\":4}\n";
    CHECK(strncmp(k->journal, head, strlen(head)) == 0);
    crash(k);
    restart_from_journal(k, 2);
    uint64_t stored, live;
    fl_core_kept_counts(k->core, &stored, &live);
    CHECK(live >= 7); /* next + 3 x (accept, end) */
    CHECK_EQ(fl_core_remote_query(c->core, "keeper", 3, h.now, &id), FL_OK);
    pump(&h);
    CHECK_STR(c->last_value, "64");
    /* Bad records say which field. */
    CHECK_EQ(fl_core_kept_load(k->core, "nope", 4, h.now, err, sizeof err),
             FL_EPROTO);
    CHECK_STR(err, "not valid JSON");
    const char *r1 = "{\"t\":\"end\",\"id\":99,\"state\":\"SUCCESS\"}";
    CHECK_EQ(fl_core_kept_load(k->core, r1, strlen(r1), h.now, err, sizeof err),
             FL_EPROTO);
    CHECK(strncmp(err, "id: ", 4) == 0);
    const char *r2 = "{\"t\":\"accept\",\"id\":9,\"rid\":1}";
    CHECK_EQ(fl_core_kept_load(k->core, r2, strlen(r2), h.now, err, sizeof err),
             FL_EPROTO);
    CHECK_STR(err, "client: missing");
    const char *r3 = "{\"t\":\"end\",\"id\":1,\"state\":\"DONE\"}";
    CHECK_EQ(fl_core_kept_load(k->core, r3, strlen(r3), h.now, err, sizeof err),
             FL_EPROTO);
    CHECK(strncmp(err, "state: ", 7) == 0);
    teardown(&h);
}

int main(void)
{
    RUN(test_keeper);
    RUN(test_keeper_journal);
    RUN(test_keeper_schedule);
    RUN(test_canvas_examples);
    RUN(test_canvas_nesting);
    RUN(test_canvas_failures_name_the_member);
    RUN(test_canvas_rejects_bad_json);
    RUN(test_arg_and_result_depth);
    RUN(test_canvas_revoke);
    RUN(test_canvas_counters);
    RUN(test_round_trip);
    RUN(test_compressed_attachments);
    RUN(test_errors_reach_the_waiter);
    RUN(test_leases_go_to_nodes_that_run_them);
    RUN(test_stale_view_hands_back);
    RUN(test_leases_fit_the_worker);
    RUN(test_slow_burst_spreads);
    RUN(test_many_tasks_are_batched_and_shared);
    RUN(test_big_tasks_leased_in_turn);
    RUN(test_duplicate_lease_runs_once);
    RUN(test_worker_death_requeues);
    RUN(test_lease_expires_without_extend);
    RUN(test_extend_keeps_lease);
    RUN(test_outcome_only_from_holder);
    RUN(test_fetches_only_from_the_presence);
    RUN(test_parked_worker_ignores_work);
    RUN(test_late_outcome_from_lost_holder);
    RUN(test_retries_with_backoff);
    RUN(test_worker_lost_after_max_attempts);
    RUN(test_credit_covers_the_round_trip);
    RUN(test_time_limit);
    RUN(test_countdown_and_revoke);
    RUN(test_priority_order);
    RUN(test_rate_limit);
    RUN(test_soft_time_limit);
    RUN(test_eta);
    RUN(test_canvas_options);
    RUN(test_revoke_stops_work);
    RUN(test_revoke_only_from_the_lessor);
    RUN(test_revoke_after_reconnect);
    RUN(test_keeper_revoke);
    RUN(test_bad_message_gets_error_reply);
    RUN(test_shutdown_releases_queued);
    return TEST_DONE();
}
