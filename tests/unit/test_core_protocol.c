/*
 * test_core_protocol.c - the details of docs/protocol.md a client written
 * in another language relies on, checked on one core driven by hand with
 * raw JSON, the way such a client sees it: an error reply's type (TooBig,
 * UnknownKind, BadMessage) and its re echoing the mid; which fid a pushed
 * lease carries; what credit counts; a released task coming back with the
 * same attempt; how long a worker re-sends a fetch nobody answers. Every message the core publishes is recorded and read back
 * with the codec. Also the head scanner behind TooBig replies.
 * Depends on core.h, codec.h and test.h.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core.h"
#include "test.h"

#define P "floret/v1/default/"
#define MAXOUT 64

typedef struct out {
    char topic[160];
    unsigned char *data;
    size_t len;
} out;

typedef struct rec {
    out q[MAXOUT];
    int n;
    uint64_t now;
} rec;

static void io_publish(void *ud, const char *topic, const void *payload,
                       size_t len, int qos, bool retain)
{
    rec *r = ud;
    (void)qos;
    (void)retain;
    if (r->n >= MAXOUT)
        return;
    out *o = &r->q[r->n++];
    snprintf(o->topic, sizeof o->topic, "%s", topic);
    o->data = malloc(len ? len : 1);
    memcpy(o->data, payload, len);
    o->len = len;
}

static void io_nothing(void *ud, const char *f, int qos)
{
    (void)ud;
    (void)f;
    (void)qos;
}

static void clear(rec *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->q[i].data);
    r->n = 0;
}

static fl_core *make_core(rec *r, const char *id, uint32_t slots,
                          size_t max_message, fl_registry *reg)
{
    memset(r, 0, sizeof *r);
    r->now = 1000000;
    fl_core_config cfg = {.node_id = id, .incarnation = 77, .slots = slots,
                          .max_message = max_message, .seed = 3,
                          .registry = reg, .log_level = 0};
    fl_core_io io = {.ud = r, .publish = io_publish, .subscribe = io_nothing};
    fl_core *c = NULL;
    CHECK_EQ(fl_core_new(&cfg, &io, &c), FL_OK);
    fl_core_connected(c, r->now);
    clear(r);
    return c;
}

static void feed(fl_core *c, rec *r, const char *topic, const char *json)
{
    fl_core_input(c, topic, json, strlen(json), r->now);
    fl_core_flush(c, r->now);
}

/* The i-th recorded message, decoded (the caller frees it). */
static fl_msg *got(rec *r, int i)
{
    fl_msg *m = NULL;
    char err[200];
    if (i >= r->n)
        return NULL;
    CHECK_EQ(fl__decode(r->q[i].data, r->q[i].len, 0, &m, err, sizeof err,
                        NULL, 0), FL_OK);
    return m;
}

/* The one error reply c sent to node `to` after a bad payload. */
static void expect_error(rec *r, const char *to, const char *type,
                         bool has_re, uint64_t re)
{
    char topic[128];
    snprintf(topic, sizeof topic, P "node/%s/in", to);
    CHECK_EQ(r->n, 1);
    if (r->n != 1)
        return;
    CHECK_STR(r->q[0].topic, topic);
    fl_msg *m = got(r, 0);
    CHECK(m && m->kind == FL_KIND_ERROR);
    if (m && m->kind == FL_KIND_ERROR) {
        CHECK_STR(m->err_type, type);
        CHECK_EQ(m->has_re, has_re);
        if (has_re)
            CHECK_EQ(m->re, re);
    }
    fl__msg_free(m);
}

static void test_error_reply_types_and_re(void)
{
    rec r;
    fl_core *c = make_core(&r, "w1", 0, 4096, NULL);
    const char *in = P "node/w1/in";

    feed(c, &r, in, "{\"v\":1,\"kind\":\"fetch\",\"from\":\"me\",\"inc\":1,"
                    "\"mid\":42,\"fid\":\"x\",\"credit\":1}");
    expect_error(&r, "me", "BadMessage", true, 42);
    clear(&r);

    feed(c, &r, in, "{\"v\":1,\"kind\":\"fetch\",\"from\":\"me\",\"inc\":1,"
                    "\"fid\":\"x\",\"credit\":1}");
    expect_error(&r, "me", "BadMessage", false, 0);
    clear(&r);

    feed(c, &r, in, "{\"v\":1,\"kind\":\"bogus\",\"from\":\"me\",\"mid\":7}");
    expect_error(&r, "me", "UnknownKind", true, 7);
    clear(&r);

    /* A known kind where it does not belong is malformed, not unknown. */
    feed(c, &r, P "work", "{\"v\":1,\"kind\":\"done\",\"from\":\"me\","
                          "\"mid\":8,\"results\":[]}");
    expect_error(&r, "me", "BadMessage", true, 8);
    clear(&r);

    /* Over --max-message: answered TooBig, the sender read from the head. */
    size_t big = 6000;
    char *p = malloc(big + 1);
    int k = snprintf(p, big, "{\"v\":1,\"kind\":\"fetch\",\"mid\":9,"
                             "\"from\":\"me\",\"pad\":\"");
    memset(p + k, 'x', big - (size_t)k - 2);
    memcpy(p + big - 2, "\"}", 3);
    feed(c, &r, in, p);
    expect_error(&r, "me", "TooBig", true, 9);
    clear(&r);

    /* ... but never an error answering an error, even a too big one. */
    memcpy(p + 15, "error", 5); /* "kind":"fetch" -> "kind":"error" */
    CHECK(memcmp(p, "{\"v\":1,\"kind\":\"error\"", 21) == 0);
    feed(c, &r, in, p);
    CHECK_EQ(r.n, 0);
    feed(c, &r, in, "{\"v\":1,\"kind\":\"error\",\"from\":\"me\",\"mid\":3,"
                    "\"error\":17}");
    CHECK_EQ(r.n, 0);
    free(p);
    clear(&r);
    fl_core_free(c);
}

static void test_scan_head(void)
{
    fl_msg_head h;
    const char *s = "{\"v\":1,\"pad\":[\"}\\\"from\\\":\\\"x\",{\"a\":[1,2]}],"
                    " \"kind\" : \"lease\", \"mid\":12, \"from\":\"pi-1\", \"z\":";
    fl__scan_head(s, strlen(s), &h);
    CHECK_STR(h.from, "pi-1");
    CHECK(h.has_mid);
    CHECK_EQ(h.mid, 12);
    CHECK(!h.is_error);

    /* No kind read: treated as an error (not answered). */
    s = "{\"from\":\"pi-1\",\"mid\":1}";
    fl__scan_head(s, strlen(s), &h);
    CHECK_STR(h.from, "pi-1");
    CHECK(h.is_error);

    /* A from that is no id, a mid that is no count. */
    s = "{\"kind\":\"fetch\",\"from\":\"a b\",\"mid\":1.5}";
    fl__scan_head(s, strlen(s), &h);
    CHECK_STR(h.from, "");
    CHECK(!h.has_mid);

    /* Only the first FL_HEAD_SCAN_BYTES are read, and never past a NUL. */
    size_t n = 10000;
    char *p = malloc(n);
    memset(p, ' ', n);
    memcpy(p, "{\"kind\":\"fetch\",", 16);
    memcpy(p + 8000, "\"from\":\"late\"}", 14);
    fl__scan_head(p, n, &h);
    CHECK_STR(h.from, "");
    memcpy(p + 100, "\"from\":\"soon\"}", 14);
    p[50] = '\0';
    fl__scan_head(p, n, &h);
    CHECK_STR(h.from, "");
    free(p);
    fl__scan_head(NULL, 5, &h);
    CHECK_STR(h.from, "");
}

static void submit_adds(fl_core *c, rec *r, int n)
{
    for (int i = 0; i < n; i++) {
        fl_submit s = {.name = "add", .args_json = "[1,2]", .args_len = 5};
        uint64_t id;
        CHECK_EQ(fl_core_submit(c, &s, r->now, &id), FL_OK);
    }
    fl_core_flush(c, r->now);
}

/* The leases among the recorded messages, in order (at most 8). */
static int leases(rec *r, fl_msg **ls)
{
    int n = 0;
    for (int i = 0; i < r->n && n < 8; i++) {
        fl_msg *m = got(r, i);
        if (m && m->kind == FL_KIND_LEASE)
            ls[n++] = m;
        else
            fl__msg_free(m);
    }
    return n;
}

static void free_all(fl_msg **ls, int n)
{
    for (int i = 0; i < n; i++)
        fl__msg_free(ls[i]);
}

#define W_PRESENCE "{\"v\":1,\"kind\":\"presence\",\"from\":\"pyw\",\"inc\":5," \
                   "\"state\":\"online\",\"slots\":2,\"tasks\":[\"add\"]}"

static void test_fid_credit_release(void)
{
    rec r;
    fl_msg *ls[8];
    fl_core *c = make_core(&r, "client", 0, 0, NULL);
    feed(c, &r, P "node/pyw", W_PRESENCE);
    const char *in = P "node/client/in";
    submit_adds(c, &r, 3);
    clear(&r);

    /* credit 2: two of the three ready tasks, in a lease with the fid. */
    feed(c, &r, in, "{\"v\":1,\"kind\":\"fetch\",\"from\":\"pyw\",\"inc\":5,"
                    "\"fid\":1,\"credit\":2}");
    int n = leases(&r, ls);
    CHECK_EQ(n, 1);
    uint64_t first = 0;
    if (n == 1) {
        CHECK_EQ(ls[0]->fid, 1);
        CHECK_EQ(ls[0]->ntasks, 2);
        CHECK_EQ(ls[0]->tasks[0].attempt, 1);
        first = ls[0]->tasks[0].id;
    }
    free_all(ls, n);
    clear(&r);

    /* Released: back at the front of the queue, with the same attempt. A
     * new fetch's credit counts tasks beyond the one still held. */
    char rel[160];
    snprintf(rel, sizeof rel, "{\"v\":1,\"kind\":\"release\",\"from\":\"pyw\","
             "\"ids\":[%llu]}", (unsigned long long)first);
    feed(c, &r, in, rel);
    feed(c, &r, in, "{\"v\":1,\"kind\":\"fetch\",\"from\":\"pyw\",\"inc\":5,"
                    "\"fid\":2,\"credit\":2}");
    n = leases(&r, ls);
    CHECK_EQ(n, 1);
    if (n == 1) {
        CHECK_EQ(ls[0]->fid, 2);
        CHECK_EQ(ls[0]->ntasks, 2);
        CHECK_EQ(ls[0]->tasks[0].id, first);
        CHECK_EQ(ls[0]->tasks[0].attempt, 1);
    }
    free_all(ls, n);
    clear(&r);

    /* Nothing ready: the credit parks. Work that comes later is pushed
     * in a lease carrying the parked fetch's fid, up to the credit left;
     * a later fetch replaces the parked credit. */
    feed(c, &r, in, "{\"v\":1,\"kind\":\"fetch\",\"from\":\"pyw\",\"inc\":5,"
                    "\"fid\":3,\"credit\":5}");
    feed(c, &r, in, "{\"v\":1,\"kind\":\"fetch\",\"from\":\"pyw\",\"inc\":5,"
                    "\"fid\":4,\"credit\":1}");
    CHECK_EQ(leases(&r, ls), 0);
    clear(&r);
    submit_adds(c, &r, 3);
    n = leases(&r, ls);
    CHECK_EQ(n, 1);
    if (n == 1) {
        CHECK_EQ(ls[0]->fid, 4);
        CHECK_EQ(ls[0]->ntasks, 1);
    }
    free_all(ls, n);
    clear(&r);
    fl_core_free(c);
}

static int count_fetches(rec *r)
{
    int n = 0;
    for (int i = 0; i < r->n; i++) {
        fl_msg *m = got(r, i);
        n += m && m->kind == FL_KIND_FETCH;
        fl__msg_free(m);
    }
    return n;
}

/* An owner without presence that announces work and then stays silent
 * (parks the fetch, or is gone) gets the fetch re-sent every 5 s until it
 * has been silent for 60 s: 12 fetches, then none until it speaks again. */
static void test_fetch_resent_twelve_times(void)
{
    rec r;
    fl_registry *reg = fl_registry_new();
    fl_core *w = make_core(&r, "w1", 2, 0, reg);
    const char *work = "{\"v\":1,\"kind\":\"work\",\"from\":\"me\",\"pending\":1}";
    feed(w, &r, P "work", work);
    int fetches = count_fetches(&r);
    clear(&r);
    for (int s = 0; s < 120; s++) {
        r.now += 1000000;
        fl_core_tick(w, r.now);
        fetches += count_fetches(&r);
        clear(&r);
        if (s == 58)
            CHECK_EQ(fetches, 12);
    }
    CHECK_EQ(fetches, 12);
    feed(w, &r, P "work", work);
    CHECK_EQ(count_fetches(&r), 1);
    clear(&r);
    fl_core_free(w);
    fl_registry_free(reg);
}

int main(void)
{
    RUN(test_error_reply_types_and_re);
    RUN(test_scan_head);
    RUN(test_fid_credit_release);
    RUN(test_fetch_resent_twelve_times);
    return TEST_DONE();
}
