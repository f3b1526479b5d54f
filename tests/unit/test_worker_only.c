/*
 * test_worker_only.c - the worker-only core (the firmware's: the small
 * profile without the owner, keeper, client and canvas sides, CMake's
 * floret_core_worker), driven by hand with raw JSON: its presence says
 * "keeper":false; a fetch, done, extend, release or holding sent to it gets
 * a BadMessage error naming the kind and saying it owns no tasks (re echoes
 * the mid); a submit or a schedule gets a FAILURE result NotAKeeper and a query or a
 * revoke by id one NotFound, with the rid; an error is not answered; submit and apply
 * calls fail; and after all that it still runs what it is leased.
 * Depends on core.h, codec.h and test.h.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core.h"
#include "test.h"

#define P "floret/v1/default/"
#define IN P "node/board/in"
#define MAXOUT 16

typedef struct rec {
    char topic[MAXOUT][160];
    char *data[MAXOUT];
    size_t len[MAXOUT];
    int n;
    fl_job *job;
} rec;

static void io_publish(void *ud, const char *topic, const void *payload,
                       size_t len, int qos, bool retain)
{
    rec *r = ud;
    (void)qos;
    (void)retain;
    if (r->n >= MAXOUT)
        return;
    snprintf(r->topic[r->n], sizeof r->topic[r->n], "%s", topic);
    r->data[r->n] = malloc(len + 1);
    memcpy(r->data[r->n], payload, len);
    r->data[r->n][len] = '\0';
    r->len[r->n++] = len;
}

static void io_nothing(void *ud, const char *f, int qos)
{
    (void)ud;
    (void)f;
    (void)qos;
}

static void io_execute(void *ud, fl_job *job)
{
    ((rec *)ud)->job = job;
}

static void clear(rec *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->data[i]);
    r->n = 0;
}

static fl_msg *decoded(rec *r, int i)
{
    fl_msg *m = NULL;
    char err[200];
    if (i >= r->n)
        return NULL;
    CHECK_EQ(fl__decode(r->data[i], r->len[i], 0, &m, err, sizeof err, NULL,
                        0), FL_OK);
    return m;
}

static void feed(fl_core *c, rec *r, const char *topic, const char *json)
{
    clear(r);
    fl_core_input(c, topic, json, strlen(json), 1000000);
    fl_core_flush(c, 1000000);
}

/* The one reply after a message for an owner: a BadMessage error to
 * "cli" with re = mid, naming kind. */
static void expect_refusal(rec *r, const char *kind, uint64_t mid)
{
    CHECK_EQ(r->n, 1);
    if (r->n != 1)
        return;
    CHECK_STR(r->topic[0], P "node/cli/in");
    fl_msg *m = decoded(r, 0);
    CHECK(m && m->kind == FL_KIND_ERROR);
    if (m && m->kind == FL_KIND_ERROR) {
        CHECK_STR(m->err_type, "BadMessage");
        CHECK(m->has_re && m->re == mid);
        CHECK(strstr(m->err_message, kind) == m->err_message);
        CHECK(strstr(m->err_message, "this node owns no tasks") != NULL);
    }
    fl__msg_free(m);
}

static void expect_failed_result(rec *r, uint64_t rid, const char *type)
{
    CHECK_EQ(r->n, 1);
    if (r->n != 1)
        return;
    fl_msg *m = decoded(r, 0);
    CHECK(m && m->kind == FL_KIND_RESULT);
    if (m && m->kind == FL_KIND_RESULT) {
        CHECK_EQ(m->rid, rid);
        CHECK_STR(m->state, "FAILURE");
        CHECK_STR(m->err_type, type);
        CHECK(strstr(m->err_message, "this node owns no tasks") != NULL);
    }
    fl__msg_free(m);
}

static void test_worker_only(void)
{
    rec r = {0};
    fl_core_config cfg = {.node_id = "board", .incarnation = 5, .slots = 1,
                          .seed = 9, .log_level = 0};
    fl_core_io io = {.ud = &r, .publish = io_publish, .subscribe = io_nothing,
                     .execute = io_execute};
    fl_core *c = NULL;
    CHECK_EQ(fl_core_new(&cfg, &io, &c), FL_OK);
    if (!c)
        return;
    fl_core_connected(c, 1000000);

    /* Its presence tells clients not to hand it workflows. */
    int presences = 0;
    for (int i = 0; i < r.n; i++) {
        if (strcmp(r.topic[i], P "node/board") != 0)
            continue;
        fl_msg *m = decoded(&r, i);
        CHECK(m && m->kind == FL_KIND_PRESENCE && !m->keeper && m->online);
        fl__msg_free(m);
        presences++;
    }
    CHECK_EQ(presences, 1);

    feed(c, &r, IN, "{\"v\":1,\"kind\":\"fetch\",\"from\":\"cli\",\"inc\":1,"
                    "\"mid\":41,\"fid\":1,\"credit\":4}");
    expect_refusal(&r, "fetch", 41);
    feed(c, &r, IN, "{\"v\":1,\"kind\":\"done\",\"from\":\"cli\",\"inc\":1,"
                    "\"mid\":42,\"results\":[{\"id\":1,\"attempt\":1,"
                    "\"ok\":true,\"value\":8}]}");
    expect_refusal(&r, "done", 42);
    feed(c, &r, IN, "{\"v\":1,\"kind\":\"extend\",\"from\":\"cli\",\"inc\":1,"
                    "\"mid\":43,\"ids\":[1]}");
    expect_refusal(&r, "extend", 43);
    feed(c, &r, IN, "{\"v\":1,\"kind\":\"release\",\"from\":\"cli\",\"inc\":1,"
                    "\"mid\":44,\"ids\":[1]}");
    expect_refusal(&r, "release", 44);
    feed(c, &r, IN, "{\"v\":1,\"kind\":\"holding\",\"from\":\"cli\",\"inc\":1,"
                    "\"mid\":45,\"ids\":[1]}");
    expect_refusal(&r, "holding", 45);

    feed(c, &r, IN, "{\"v\":1,\"kind\":\"submit\",\"from\":\"cli\",\"inc\":1,"
                    "\"rid\":7,\"canvas\":{\"task\":\"add\",\"args\":[1,2]}}");
    expect_failed_result(&r, 7, "NotAKeeper");
    feed(c, &r, IN, "{\"v\":1,\"kind\":\"schedule\",\"from\":\"cli\",\"inc\":1,"
                    "\"mid\":10,\"rid\":10,\"op\":\"add\",\"name\":\"m\","
                    "\"cron\":\"@daily\",\"canvas\":{\"task\":\"add\"}}");
    expect_failed_result(&r, 10, "NotAKeeper");
    feed(c, &r, IN, "{\"v\":1,\"kind\":\"query\",\"from\":\"cli\",\"inc\":1,"
                    "\"rid\":8,\"id\":3}");
    expect_failed_result(&r, 8, "NotFound");
    feed(c, &r, IN, "{\"v\":1,\"kind\":\"revoke\",\"from\":\"cli\",\"inc\":1,"
                    "\"mid\":3,\"rid\":9,\"id\":17}");
    expect_failed_result(&r, 9, "NotFound");

    /* Never an error for an error, nor a reply to a stray result. */
    feed(c, &r, IN, "{\"v\":1,\"kind\":\"error\",\"from\":\"cli\",\"re\":1,"
                    "\"error\":{\"type\":\"BadMessage\",\"message\":\"x\"}}");
    CHECK_EQ(r.n, 0);
    feed(c, &r, IN, "{\"v\":1,\"kind\":\"result\",\"from\":\"cli\",\"inc\":1,"
                    "\"rid\":9,\"id\":3,\"state\":\"SUCCESS\",\"value\":1}");
    CHECK_EQ(r.n, 0);

    fl_core_stats st;
    fl_core_stats_get(c, &st);
    CHECK_EQ(st.bad_messages, 5);
    CHECK_EQ(st.owned_pending, 0);

    /* The calls that would make it own something fail. */
    uint64_t id = 1;
    char err[128] = "";
    fl_submit s = {.name = "add", .args_json = "[1,2]", .args_len = 5};
    CHECK_EQ(fl_core_submit(c, &s, 1000000, &id), FL_ESTATE);
    CHECK_EQ(id, 0);
    CHECK_EQ(fl_core_apply(c, "{\"task\":\"add\"}", 14, 1000000, &id, err,
                           sizeof err), FL_ESTATE);
    CHECK(strstr(err, "owns no tasks") != NULL);
    CHECK_EQ(fl_core_remote_query(c, "w1", 3, 1000000, &id), FL_ESTATE);
    CHECK_EQ(fl_core_revoke(c, 3, 1000000), FL_ENOTFOUND);

    /* It still works: a lease from an owner runs, and its outcome goes
     * back in a done. */
    feed(c, &r, P "node/o1", "{\"v\":1,\"kind\":\"presence\",\"from\":\"o1\","
                             "\"inc\":3,\"state\":\"online\",\"slots\":0}");
    feed(c, &r, IN, "{\"v\":1,\"kind\":\"lease\",\"from\":\"o1\",\"inc\":3,"
                    "\"fid\":1,\"ttl_ms\":30000,\"tasks\":[{\"id\":11,"
                    "\"name\":\"add\",\"args\":[4,4],\"attempt\":1}]}");
    CHECK(r.job != NULL);
    if (r.job) {
        CHECK_STR(r.job->name, "add");
        fl_outcome out = {.ok = true};
        out.value_json = malloc(2);
        memcpy(out.value_json, "8", 2);
        out.value_len = 1;
        clear(&r);
        fl_core_job_done(c, r.job, &out, 1000000);
        fl_core_tick(c, 1000000 + 200000);
        fl_core_flush(c, 1000000 + 200000);
        int dones = 0;
        for (int i = 0; i < r.n; i++) {
            fl_msg *m = decoded(&r, i);
            if (m && m->kind == FL_KIND_DONE &&
                strcmp(r.topic[i], P "node/o1/in") == 0) {
                CHECK_EQ(m->nresults, 1);
                if (m->nresults == 1)
                    CHECK_EQ(m->results[0].id, 11);
                dones++;
            }
            fl__msg_free(m);
        }
        CHECK_EQ(dones, 1);
    }
    clear(&r);
    fl_core_free(c);
}

int main(void)
{
    RUN(test_worker_only);
    return TEST_DONE();
}
