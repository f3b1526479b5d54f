/*
 * test_codec.c - the wire codec: every kind written by the writer and read
 * back by the decoder, the protocol document's own examples, malformed
 * messages (each reason must name the field), attachment lies, limits,
 * writer misuse, and allocation failure at every step.
 */
#include <stdlib.h>

#include "codec.h"
#include "defaults.h"
#include "oom.h"
#include "test.h"

static char err[256];
static char from[FL_MAX_ID_BUF];

/* Room for the large messages built below (a node may be configured for
 * more than its profile's default); test_oversized checks the default. */
#define TEST_MAX_MESSAGE ((size_t)8 << 20)

#define STR_(x) #x
#define STR(x) STR_(x)

static fl_status decode(const void *p, size_t n, fl_msg **m)
{
    return fl__decode(p, n, TEST_MAX_MESSAGE, m, err, sizeof err, from,
                      sizeof from);
}

/* n brackets around 1. */
static const char *deep_array(int n)
{
    static char s[2 * 200 + 2];
    int k = 0;
    for (int i = 0; i < n; i++)
        s[k++] = '[';
    s[k++] = '1';
    for (int i = 0; i < n; i++)
        s[k++] = ']';
    s[k] = '\0';
    return s;
}

static fl_msg *decode_ok(const void *p, size_t n)
{
    fl_msg *m = NULL;
    fl_status st = decode(p, n, &m);
    if (st != FL_OK)
        T_FAILED("decode failed (%d): %s", (int)st, err);
    t_checks++;
    return m;
}

static fl_msg *decode_str(const char *s)
{
    return decode_ok(s, strlen(s));
}

/* Finish w and decode the payload. */
static fl_msg *finish_decode(fl_jw *w)
{
    const void *p;
    size_t n;
    size_t predicted = fl__jw_size(w);
    CHECK_EQ(fl__jw_finish(w, &p, &n), FL_OK);
    CHECK_EQ(n, predicted);
    return decode_ok(p, n);
}

/* ------------------------------------------------------------ ids, kinds */

static void test_valid_id(void)
{
    CHECK(fl__valid_id("a"));
    CHECK(fl__valid_id("pi-1.local_2"));
    CHECK(fl__valid_id("0123456789012345678901234567890123456789012345678901234567890123"));
    CHECK(!fl__valid_id("01234567890123456789012345678901234567890123456789012345678901234"));
    CHECK(!fl__valid_id(""));
    CHECK(!fl__valid_id(NULL));
    CHECK(!fl__valid_id("a b"));
    CHECK(!fl__valid_id("a/b"));
    CHECK(!fl__valid_id("a+"));
    CHECK(!fl__valid_id("a#"));
    CHECK(!fl__valid_id("caf\xC3\xA9"));
}

static void test_kind_names(void)
{
    CHECK_STR(fl__kind_name(FL_KIND_PRESENCE), "presence");
    CHECK_STR(fl__kind_name(FL_KIND_WORK), "work");
    CHECK_STR(fl__kind_name(FL_KIND_FETCH), "fetch");
    CHECK_STR(fl__kind_name(FL_KIND_LEASE), "lease");
    CHECK_STR(fl__kind_name(FL_KIND_DONE), "done");
    CHECK_STR(fl__kind_name(FL_KIND_EXTEND), "extend");
    CHECK_STR(fl__kind_name(FL_KIND_RELEASE), "release");
    CHECK_STR(fl__kind_name(FL_KIND_ERROR), "error");
    CHECK_STR(fl__kind_name(FL_KIND_CHECK), "check");
    CHECK_STR(fl__kind_name(FL_KIND_HOLDING), "holding");
    CHECK_STR(fl__kind_name((fl_kind)99), "unknown");
}

/* ------------------------------------------------------------ round trips */

static void build_presence(fl_jw *w)
{
    fl__jw_begin_msg(w, FL_KIND_PRESENCE, "pi-1", 123);
    fl__jw_str(w, "state", "online");
    fl__jw_u64(w, "slots", 4);
    fl__jw_arr(w, "tasks");
    fl__jw_str(w, NULL, "add");
    fl__jw_str(w, NULL, "xsum");
    fl__jw_end_arr(w);
    fl__jw_str(w, "runtime", "native");
    fl__jw_str(w, "arch", "aarch64");
    fl__jw_str(w, "version", FL_VERSION);
    fl__jw_u64(w, "load", 7);
}

static void test_roundtrip_presence(void)
{
    fl_jw w;
    fl__jw_init(&w);
    build_presence(&w);
    fl_msg *m = finish_decode(&w);
    CHECK(m != NULL);
    if (m) {
        CHECK_EQ(m->kind, FL_KIND_PRESENCE);
        CHECK_STR(m->from, "pi-1");
        CHECK_EQ(m->inc, 123);
        CHECK(m->online);
        CHECK_EQ(m->slots, 4);
        CHECK_EQ(m->load, 7);
        CHECK_EQ(m->ntask_names, 2);
        CHECK_STR(m->task_names[0], "add");
        CHECK_STR(m->task_names[1], "xsum");
        CHECK_STR(m->runtime, "native");
        CHECK_STR(m->arch, "aarch64");
        CHECK_STR(m->version, FL_VERSION);
        CHECK(!m->has_mid);
        CHECK(m->keeper); /* absent: it keeps workflows */
    }
    fl__msg_free(m);

    fl__jw_reset(&w);
    build_presence(&w);
    fl__jw_bool(&w, "keeper", false);
    m = finish_decode(&w);
    CHECK(m && !m->keeper);
    fl__msg_free(m);

    fl__jw_reset(&w);
    fl__jw_begin_msg(&w, FL_KIND_PRESENCE, "pi-1", 123);
    fl__jw_str(&w, "state", "offline");
    m = finish_decode(&w);
    CHECK(m && !m->online && m->ntask_names == 0 && m->runtime == NULL);
    fl__msg_free(m);
    fl__jw_free(&w);
}

static void test_roundtrip_work_fetch(void)
{
    fl_jw w;
    fl__jw_init(&w);
    fl__jw_begin_msg(&w, FL_KIND_WORK, "client-7", 0);
    fl__jw_u64(&w, "pending", 1000);
    fl_msg *m = finish_decode(&w);
    CHECK(m && m->kind == FL_KIND_WORK && m->pending == 1000 && m->inc == 0);
    fl__msg_free(m);

    fl__jw_reset(&w);
    fl__jw_begin_msg(&w, FL_KIND_FETCH, "pi-1", 9007199254740991ull);
    fl__jw_u64(&w, "mid", 42);
    fl__jw_u64(&w, "fid", 7);
    fl__jw_u64(&w, "credit", FL_MAX_CREDIT);
    m = finish_decode(&w);
    CHECK(m != NULL);
    if (m) {
        CHECK_EQ(m->kind, FL_KIND_FETCH);
        CHECK_EQ(m->inc, 9007199254740991ll);
        CHECK(m->has_mid);
        CHECK_EQ(m->mid, 42);
        CHECK_EQ(m->fid, 7);
        CHECK_EQ(m->credit, FL_MAX_CREDIT);
    }
    fl__msg_free(m);
    fl__jw_free(&w);
}

static const char KWARGS[] = "{\"mode\":\"fast\",\"n\":[1,2,{\"x\":null}]}";

/* A lease of ntasks tasks: some with args, kwargs (kw), a time limit and
 * attachments. */
static void build_lease_kw(fl_jw *w, size_t ntasks, const fl_value *kw)
{
    fl__jw_begin_msg(w, FL_KIND_LEASE, "client-7", 99);
    fl__jw_u64(w, "fid", 7);
    fl__jw_u64(w, "ttl_ms", 30000);
    fl__jw_arr(w, "tasks");
    for (size_t i = 0; i < ntasks; i++) {
        fl__jw_obj(w, NULL);
        fl__jw_u64(w, "id", i + 1);
        fl__jw_str(w, "name", i % 2 ? "add" : "wordcount.map");
        if (i % 3 == 0)
            fl__jw_raw(w, "args", "[4,4.5,\"x\"]", 11);
        if (i % 2 == 0)
            fl__jw_value(w, "kwargs", kw);
        fl__jw_u64(w, "attempt", 1 + i % 4);
        if (i == 1)
            fl__jw_u64(w, "time_limit_ms", 2500);
        if (i < 2)
            fl__jw_att(w, "att", i == 0 ? "hello" : "\0\1\2", i == 0 ? 5 : 3);
        fl__jw_end_obj(w);
    }
    fl__jw_end_arr(w);
}

static void build_lease(fl_jw *w, size_t ntasks)
{
    fl_value *kw = NULL;
    CHECK_EQ(fl_value_parse(KWARGS, strlen(KWARGS), &kw), FL_OK);
    build_lease_kw(w, ntasks, kw);
    fl_value_free(kw);
}

static void test_roundtrip_lease(void)
{
    fl_jw w;
    fl__jw_init(&w);
    build_lease(&w, 3);
    fl_msg *m = finish_decode(&w);
    CHECK(m != NULL);
    if (!m) {
        fl__jw_free(&w);
        return;
    }
    CHECK_EQ(m->kind, FL_KIND_LEASE);
    CHECK_EQ(m->inc, 99);
    CHECK_EQ(m->fid, 7);
    CHECK_EQ(m->ttl_ms, 30000);
    CHECK_EQ(m->ntasks, 3);
    fl_msg_task *t = m->tasks;
    CHECK_EQ(t[0].id, 1);
    CHECK_STR(t[0].name, "wordcount.map");
    CHECK_EQ(t[0].attempt, 1);
    CHECK_EQ(t[0].time_limit_ms, 0);
    CHECK_EQ(fl_value_count(t[0].args), 3);
    CHECK(fl_value_number(fl_value_at(t[0].args, 1)) == 4.5);
    CHECK_STR(fl_value_string(fl_value_get(t[0].kwargs, "mode"), NULL), "fast");
    CHECK_EQ(t[0].att_len, 5);
    CHECK_MEM(t[0].att, "hello", 5);
    CHECK_EQ(t[1].time_limit_ms, 2500);
    CHECK_EQ(t[1].attempt, 2);
    CHECK_EQ(fl_value_type(t[1].args), FL_TYPE_ARRAY); /* absent: [] */
    CHECK_EQ(fl_value_count(t[1].args), 0);
    CHECK_EQ(fl_value_type(t[1].kwargs), FL_TYPE_OBJECT); /* absent: {} */
    CHECK_EQ(t[1].att_len, 3);
    CHECK_MEM(t[1].att, "\0\1\2", 3);
    CHECK(t[2].att == NULL && t[2].att_len == 0);

    /* The detached values print exactly as written. */
    char *s = fl_value_to_json(t[0].kwargs, NULL);
    CHECK_STR(s, "{\"mode\":\"fast\",\"n\":[1,2,{\"x\":null}]}");
    fl_free(s);

    /* A consumer may take a value; the message then leaves it alone. */
    fl_value *taken = t[0].args;
    t[0].args = NULL;
    fl__msg_free(m);
    CHECK_EQ(fl_value_count(taken), 3);
    fl_value_free(taken);
    fl__jw_free(&w);
}

static void test_roundtrip_done(void)
{
    fl_jw w;
    fl__jw_init(&w);
    fl__jw_begin_msg(&w, FL_KIND_DONE, "pi-1", 55);
    fl__jw_arr(&w, "results");
    fl__jw_obj(&w, NULL);
    fl__jw_u64(&w, "id", 1);
    fl__jw_u64(&w, "attempt", 1);
    fl__jw_bool(&w, "ok", true);
    fl__jw_raw(&w, "value", "8", 1);
    fl__jw_end_obj(&w);
    fl__jw_obj(&w, NULL);
    fl__jw_u64(&w, "id", 2);
    fl__jw_u64(&w, "attempt", 3);
    fl__jw_bool(&w, "ok", false);
    fl__jw_obj(&w, "error");
    fl__jw_str(&w, "type", "UnknownTask");
    fl__jw_str(&w, "message", "no task named 'nope' on node pi-1\n\"quoted\"");
    fl__jw_bool(&w, "retryable", true);
    fl__jw_end_obj(&w);
    fl__jw_end_obj(&w);
    fl__jw_obj(&w, NULL);
    fl__jw_u64(&w, "id", 3);
    fl__jw_u64(&w, "attempt", 1);
    fl__jw_bool(&w, "ok", true);
    fl__jw_att(&w, "att", "counts", 6);
    fl__jw_end_obj(&w);
    fl__jw_end_arr(&w);
    fl_msg *m = finish_decode(&w);
    CHECK(m != NULL);
    if (m) {
        CHECK_EQ(m->kind, FL_KIND_DONE);
        CHECK_EQ(m->nresults, 3);
        fl_msg_result *r = m->results;
        CHECK(r[0].ok);
        CHECK(fl_value_number(r[0].value) == 8.0);
        CHECK(!r[1].ok);
        CHECK_EQ(r[1].attempt, 3);
        CHECK_STR(r[1].err_type, "UnknownTask");
        CHECK_STR(r[1].err_message, "no task named 'nope' on node pi-1\n\"quoted\"");
        CHECK(r[1].retryable);
        CHECK(r[1].value == NULL);
        CHECK(r[2].ok && r[2].value == NULL); /* absent value means null */
        CHECK_EQ(r[2].att_len, 6);
        CHECK_MEM(r[2].att, "counts", 6);
    }
    fl__msg_free(m);
    fl__jw_free(&w);
}

static void test_roundtrip_ids_error(void)
{
    fl_jw w;
    fl__jw_init(&w);
    for (int k = 0; k < 2; k++) {
        fl__jw_reset(&w);
        fl__jw_begin_msg(&w, k ? FL_KIND_RELEASE : FL_KIND_EXTEND, "pi-1", 0);
        fl__jw_arr(&w, "ids");
        for (uint64_t i = 0; i < FL_MAX_BATCH; i++)
            fl__jw_u64(&w, NULL, i * 1000003);
        fl__jw_end_arr(&w);
        fl_msg *m = finish_decode(&w);
        CHECK(m && m->kind == (k ? FL_KIND_RELEASE : FL_KIND_EXTEND));
        CHECK(m && m->nids == FL_MAX_BATCH && m->ids[511] == 511ull * 1000003);
        fl__msg_free(m);
    }
    fl__jw_reset(&w);
    fl__jw_begin_msg(&w, FL_KIND_ERROR, "pi-1", 0);
    fl__jw_u64(&w, "re", 42);
    fl__jw_obj(&w, "error");
    fl__jw_str(&w, "type", "BadMessage");
    fl__jw_str(&w, "message", "tasks[0].args: expected an array");
    fl__jw_end_obj(&w);
    fl_msg *m = finish_decode(&w);
    CHECK(m != NULL);
    if (m) {
        CHECK_EQ(m->kind, FL_KIND_ERROR);
        CHECK(m->has_re);
        CHECK_EQ(m->re, 42);
        CHECK_STR(m->err_type, "BadMessage");
        CHECK_STR(m->err_message, "tasks[0].args: expected an array");
    }
    fl__msg_free(m);
    fl__jw_free(&w);
}

/* The examples of docs/protocol.md, verbatim. */
static void test_protocol_examples(void)
{
    static const char *ex[] = {
        "{\"v\":1,\"kind\":\"presence\",\"from\":\"pi-1\",\"inc\":123,\"state\":\"online\",\"slots\":4,"
        "\"tasks\":[\"add\",\"echo\",\"fail\",\"mul\",\"sleep\",\"xsum\"],\"runtime\":\"native\","
        "\"arch\":\"aarch64\",\"version\":\"0.1.0\",\"load\":0}",
        "{\"v\":1,\"kind\":\"work\",\"from\":\"client-7\",\"pending\":1000}",
        "{\"v\":1,\"kind\":\"fetch\",\"from\":\"pi-1\",\"inc\":55,\"fid\":7,\"credit\":64}",
        "{\"v\":1,\"kind\":\"lease\",\"from\":\"client-7\",\"inc\":99,\"fid\":7,\"ttl_ms\":30000,\n"
        " \"tasks\":[{\"id\":1,\"name\":\"add\",\"args\":[4,4],\"kwargs\":{},\"attempt\":1}],\n \"bin\":0}",
        "{\"v\":1,\"kind\":\"done\",\"from\":\"pi-1\",\"results\":[\n"
        "  {\"id\":1,\"attempt\":1,\"ok\":true,\"value\":8},\n"
        "  {\"id\":2,\"attempt\":1,\"ok\":false,\"error\":{\"type\":\"UnknownTask\",\n"
        "   \"message\":\"no task named 'nope' on node pi-1\",\"retryable\":false}}]}",
        "{\"v\":1,\"kind\":\"extend\",\"from\":\"pi-1\",\"ids\":[1,2,3]}",
        "{\"v\":1,\"kind\":\"release\",\"from\":\"pi-1\",\"ids\":[4,5]}",
        "{\"v\":1,\"kind\":\"error\",\"from\":\"pi-1\",\"re\":42,\n"
        " \"error\":{\"type\":\"BadMessage\",\"message\":\"tasks[0].args: expected an array\"}}",
        "{\"v\":1,\"kind\":\"lease\",\"from\":\"me\",\"inc\":1,\"fid\":1,\"ttl_ms\":30000,\"tasks\":"
        "[{\"id\":1,\"name\":\"add\",\"args\":[4,4],\"attempt\":1}]}",
        "{\"v\":1,\"kind\":\"holding\",\"from\":\"pi-1\",\"inc\":55,\"ids\":[1,2,3]}",
        "{\"v\":1,\"kind\":\"check\",\"from\":\"client-7\",\"inc\":99,\"cid\":4,\"ids\":[1,2,3,9]}",
        "{\"v\":1,\"kind\":\"holding\",\"from\":\"pi-1\",\"inc\":55,\"cid\":4,\"ids\":[1,2],"
        "\"missing\":[3,9]}",
    };
    static const fl_kind kinds[] = {FL_KIND_PRESENCE, FL_KIND_WORK, FL_KIND_FETCH,
                                    FL_KIND_LEASE, FL_KIND_DONE, FL_KIND_EXTEND,
                                    FL_KIND_RELEASE, FL_KIND_ERROR, FL_KIND_LEASE,
                                    FL_KIND_HOLDING, FL_KIND_CHECK, FL_KIND_HOLDING};
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        fl_msg *m = decode_str(ex[i]);
        CHECK(m && m->kind == kinds[i]);
        fl__msg_free(m);
    }
}

static void test_unknown_members_ignored(void)
{
    fl_msg *m = decode_str("{\"zz\":{\"a\":[1,{\"b\":null}]},\"v\":1,\"kind\":\"work\","
                           "\"from\":\"a\",\"pending\":3,\"future\":\"x\",\"pending_x\":true}");
    CHECK(m && m->pending == 3);
    fl__msg_free(m);
    /* A duplicated member: the first one counts. */
    m = decode_str("{\"v\":1,\"kind\":\"work\",\"from\":\"a\",\"pending\":3,\"pending\":\"x\"}");
    CHECK(m && m->pending == 3);
    fl__msg_free(m);
}

/* ---------------------------------------------------------- malformed */

typedef struct bad_case {
    const char *json;
    fl_status status;
    const char *reason;
    const char *from; /* what from_out must read */
} bad_case;

#define HEAD "{\"v\":1,\"from\":\"w1\","
#define LEASE HEAD "\"kind\":\"lease\",\"inc\":1,\"fid\":1,\"ttl_ms\":100,\"tasks\":"
#define TASK "\"id\":1,\"name\":\"add\",\"attempt\":1"
#define DONE HEAD "\"kind\":\"done\",\"results\":"
#define LONG65 "01234567890123456789012345678901234567890123456789012345678901234"
#define VALID_ID_ERR "(1 to 64 bytes of [A-Za-z0-9_.-])"

static const bad_case bad[] = {
    {"[]", FL_EPROTO, "payload: expected an object, got array", ""},
    {"\"x\"", FL_EPROTO, "payload: expected an object, got string", ""},
    {"{", FL_EPROTO, "payload: not valid JSON", ""},
    {"{\"v\":1,}", FL_EPROTO, "payload: not valid JSON", ""},
    {"{} {}", FL_EPROTO, "payload: not valid JSON: text after the value", ""},
    {"{\"v\":1e999}", FL_EPROTO, "payload: number out of range", ""},
    {"{\"from\":\"w1\",\"x\":\"\xC3\x28\"}", FL_EPROTO,
     "payload: not valid JSON: invalid UTF-8 in a string", ""},
    {"{\"from\":\"w1\",\"x\":\"a\nb\"}", FL_EPROTO,
     "payload: not valid JSON: control character in a string", ""},
    {"{\"kind\":\"work\",\"from\":\"w1\",\"pending\":1}", FL_EPROTO, "v: missing", "w1"},
    {"{\"v\":2,\"kind\":\"work\",\"from\":\"w1\",\"pending\":1}", FL_EPROTO,
     "v: unsupported protocol version 2", "w1"},
    {"{\"v\":\"1\",\"kind\":\"work\",\"from\":\"w1\"}", FL_EPROTO,
     "v: expected an integer, got string", "w1"},
    {HEAD "\"pending\":1}", FL_EPROTO, "kind: missing", "w1"},
    {HEAD "\"kind\":3}", FL_EPROTO, "kind: expected a string, got number", "w1"},
    {HEAD "\"kind\":\"bogus\"}", FL_EPROTO, "kind: unknown kind 'bogus'", "w1"},
    {HEAD "\"kind\":\"" LONG65 "\"}", FL_EPROTO,
     "kind: unknown kind '012345678901234567890123456789012345...'", "w1"},
    {HEAD "\"kind\":\"it's\\n\"}", FL_EPROTO, "kind: unknown kind 'it?s?'", "w1"},
    {"{\"v\":1,\"kind\":\"work\",\"pending\":1}", FL_EPROTO, "from: missing", ""},
    {"{\"v\":1,\"kind\":\"work\",\"from\":\"a b\",\"pending\":1}", FL_EPROTO,
     "from: not a valid node id " VALID_ID_ERR, ""},
    {"{\"v\":1,\"kind\":\"work\",\"from\":\"" LONG65 "\",\"pending\":1}", FL_EPROTO,
     "from: not a valid node id " VALID_ID_ERR, ""},
    {"{\"v\":1,\"kind\":\"work\",\"from\":[\"w1\"],\"pending\":1}", FL_EPROTO,
     "from: expected a string, got array", ""},
    {HEAD "\"kind\":\"work\"}", FL_EPROTO, "pending: missing", "w1"},
    {HEAD "\"kind\":\"work\",\"pending\":-1}", FL_EPROTO,
     "pending: expected an integer from 0 to 2^53-1, got -1", "w1"},
    {HEAD "\"kind\":\"work\",\"pending\":1.5}", FL_EPROTO,
     "pending: expected an integer from 0 to 2^53-1, got 1.5", "w1"},
    {HEAD "\"kind\":\"work\",\"pending\":9007199254740992}", FL_EPROTO,
     "pending: expected an integer from 0 to 2^53-1, got 9007199254740992", "w1"},
    {HEAD "\"kind\":\"work\",\"pending\":true}", FL_EPROTO,
     "pending: expected an integer, got boolean", "w1"},
    {HEAD "\"kind\":\"work\",\"pending\":1,\"mid\":\"x\"}", FL_EPROTO,
     "mid: expected an integer, got string", "w1"},
    {HEAD "\"kind\":\"work\",\"pending\":1,\"inc\":null}", FL_EPROTO,
     "inc: expected an integer, got null", "w1"},
    {HEAD "\"kind\":\"fetch\",\"fid\":1,\"credit\":1}", FL_EPROTO, "inc: missing", "w1"},
    {HEAD "\"kind\":\"fetch\",\"inc\":1,\"credit\":1}", FL_EPROTO, "fid: missing", "w1"},
    {HEAD "\"kind\":\"fetch\",\"inc\":1,\"fid\":1}", FL_EPROTO, "credit: missing", "w1"},
    {HEAD "\"kind\":\"fetch\",\"inc\":1,\"fid\":1,\"credit\":1025}", FL_EPROTO,
     "credit: 1025 is over the limit of 1024", "w1"},
    {HEAD "\"kind\":\"fetch\",\"inc\":1,\"fid\":1,\"credit\":4294967296}", FL_EPROTO,
     "credit: 4294967296 is over the limit of 4294967295", "w1"},
    {HEAD "\"kind\":\"lease\",\"inc\":1,\"fid\":1,\"tasks\":[{" TASK "}]}", FL_EPROTO,
     "ttl_ms: missing", "w1"},
    {LEASE "[]}", FL_EPROTO, "tasks: expected 1 to 512 entries, got 0", "w1"},
    {LEASE "\"x\"}", FL_EPROTO, "tasks: expected an array, got string", "w1"},
    {LEASE "[1]}", FL_EPROTO, "tasks[0]: expected an object, got number", "w1"},
    {LEASE "[{" TASK "},{" TASK "},{" TASK ",\"args\":\"4,4\"}]}", FL_EPROTO,
     "tasks[2].args: expected an array, got string", "w1"},
    {LEASE "[{" TASK ",\"kwargs\":[]}]}", FL_EPROTO,
     "tasks[0].kwargs: expected an object, got array", "w1"},
    {LEASE "[{\"name\":\"add\",\"attempt\":1}]}", FL_EPROTO, "tasks[0].id: missing", "w1"},
    {LEASE "[{\"id\":1,\"attempt\":1}]}", FL_EPROTO, "tasks[0].name: missing", "w1"},
    {LEASE "[{\"id\":1,\"name\":\"rm -rf\",\"attempt\":1}]}", FL_EPROTO,
     "tasks[0].name: not a valid task name " VALID_ID_ERR, "w1"},
    {LEASE "[{\"id\":1,\"name\":\"add\"}]}", FL_EPROTO, "tasks[0].attempt: missing", "w1"},
    {LEASE "[{\"id\":1,\"name\":\"add\",\"attempt\":0}]}", FL_EPROTO,
     "tasks[0].attempt: must be at least 1", "w1"},
    {LEASE "[{\"id\":1,\"name\":\"add\",\"attempt\":4294967296}]}", FL_EPROTO,
     "tasks[0].attempt: 4294967296 is over the limit of 4294967295", "w1"},
    {LEASE "[{" TASK ",\"rate_limit\":\"10/d\"}]}", FL_EPROTO,
     "tasks[0].rate_limit: expected a rate such as \"10/s\", \"100/m\" or \"5/h\" (1 to "
     "1000000 per second, minute or hour)", "w1"},
    {LEASE "[{" TASK ",\"time_limit_ms\":-5}]}", FL_EPROTO,
     "tasks[0].time_limit_ms: expected an integer from 0 to 2^53-1, got -5", "w1"},
    {LEASE "[{" TASK ",\"att\":[0,1]}]}", FL_EPROTO,
     "tasks[0].att: range [0, 1] is outside the 0-byte attachment", "w1"},
    {LEASE "[{" TASK ",\"att\":[1]}]}", FL_EPROTO, "tasks[0].att: expected [offset, length]", "w1"},
    {LEASE "[{" TASK ",\"att\":[0,0,0]}]}", FL_EPROTO,
     "tasks[0].att: expected [offset, length]", "w1"},
    {LEASE "[{" TASK ",\"att\":{\"o\":0}}]}", FL_EPROTO,
     "tasks[0].att: expected [offset, length]", "w1"},
    {LEASE "[{" TASK ",\"att\":[0,\"1\"]}]}", FL_EPROTO,
     "tasks[0].att: expected an integer, got string", "w1"},
    {DONE "[]}", FL_EPROTO, "results: expected 1 to 512 entries, got 0", "w1"},
    {DONE "[{\"id\":1,\"attempt\":1}]}", FL_EPROTO, "results[0].ok: missing", "w1"},
    {DONE "[{\"id\":1,\"attempt\":1,\"ok\":true},{\"id\":2,\"attempt\":1,\"ok\":\"yes\"}]}",
     FL_EPROTO, "results[1].ok: expected a boolean, got string", "w1"},
    {DONE "[{\"id\":1,\"attempt\":1,\"ok\":false}]}", FL_EPROTO, "results[0].error: missing", "w1"},
    {DONE "[{\"id\":1,\"attempt\":1,\"ok\":false,\"error\":\"boom\"}]}", FL_EPROTO,
     "results[0].error: expected an object, got string", "w1"},
    {DONE "[{\"id\":1,\"attempt\":1,\"ok\":false,\"error\":{\"message\":\"m\"}}]}", FL_EPROTO,
     "results[0].error.type: missing", "w1"},
    {DONE "[{\"id\":1,\"attempt\":1,\"ok\":false,\"error\":{\"type\":\"\",\"message\":\"m\"}}]}",
     FL_EPROTO, "results[0].error.type: empty", "w1"},
    {DONE "[{\"id\":1,\"attempt\":1,\"ok\":false,\"error\":{\"type\":\"" LONG65 "\",\"message\":\"m\"}}]}",
     FL_EPROTO, "results[0].error.type: longer than 64 bytes", "w1"},
    {DONE "[{\"id\":1,\"attempt\":1,\"ok\":false,\"error\":{\"type\":\"E\"}}]}", FL_EPROTO,
     "results[0].error.message: missing", "w1"},
    {DONE "[{\"id\":1,\"attempt\":1,\"ok\":false,\"error\":{\"type\":\"E\",\"message\":\"m\",\"retryable\":1}}]}",
     FL_EPROTO, "results[0].error.retryable: expected a boolean, got number", "w1"},
    {DONE "[{\"id\":1,\"attempt\":1,\"ok\":true,\"att\":[3,1]}]}", FL_EPROTO,
     "results[0].att: range [3, 1] is outside the 0-byte attachment", "w1"},
    {HEAD "\"kind\":\"extend\",\"ids\":[1,\"2\"]}", FL_EPROTO, "ids[1]: expected an integer, got string", "w1"},
    {HEAD "\"kind\":\"release\",\"ids\":[]}", FL_EPROTO, "ids: expected 1 to 512 entries, got 0", "w1"},
    {HEAD "\"kind\":\"release\"}", FL_EPROTO, "ids: missing", "w1"},
    {HEAD "\"kind\":\"check\",\"cid\":1,\"ids\":[1]}", FL_EPROTO, "inc: missing", "w1"},
    {HEAD "\"kind\":\"check\",\"inc\":1,\"ids\":[1]}", FL_EPROTO, "cid: missing", "w1"},
    {HEAD "\"kind\":\"check\",\"inc\":1,\"cid\":1,\"ids\":[]}", FL_EPROTO,
     "ids: expected 1 to 512 entries, got 0", "w1"},
    {HEAD "\"kind\":\"holding\",\"inc\":1}", FL_EPROTO, "ids: missing", "w1"},
    {HEAD "\"kind\":\"holding\",\"inc\":1,\"ids\":[],\"missing\":[\"x\"]}", FL_EPROTO,
     "missing[0]: expected an integer, got string", "w1"},
    {HEAD "\"kind\":\"holding\",\"inc\":1,\"cid\":\"7\",\"ids\":[]}", FL_EPROTO,
     "cid: expected an integer, got string", "w1"},
    {HEAD "\"kind\":\"error\",\"re\":1}", FL_EPROTO, "error: missing", "w1"},
    {HEAD "\"kind\":\"error\",\"error\":{\"message\":\"m\"}}", FL_EPROTO, "error.type: missing", "w1"},
    {HEAD "\"kind\":\"error\",\"re\":-1,\"error\":{\"type\":\"E\",\"message\":\"m\"}}", FL_EPROTO,
     "re: expected an integer from 0 to 2^53-1, got -1", "w1"},
    {HEAD "\"kind\":\"presence\",\"inc\":1}", FL_EPROTO, "state: missing", "w1"},
    {HEAD "\"kind\":\"presence\",\"inc\":1,\"state\":\"maybe\"}", FL_EPROTO,
     "state: expected 'online' or 'offline', got 'maybe'", "w1"},
    {HEAD "\"kind\":\"presence\",\"inc\":1,\"state\":\"online\",\"slots\":-1}", FL_EPROTO,
     "slots: expected an integer from 0 to 2^53-1, got -1", "w1"},
    {HEAD "\"kind\":\"presence\",\"inc\":1,\"state\":\"online\",\"tasks\":[\"add\",1]}", FL_EPROTO,
     "tasks[1]: expected a string, got number", "w1"},
    {HEAD "\"kind\":\"presence\",\"inc\":1,\"state\":\"online\",\"tasks\":[\"a/b\"]}", FL_EPROTO,
     "tasks[0]: not a valid task name " VALID_ID_ERR, "w1"},
    {HEAD "\"kind\":\"presence\",\"inc\":1,\"state\":\"online\",\"arch\":\"" LONG65 "\"}", FL_EPROTO,
     "arch: longer than 64 bytes", "w1"},
    {HEAD "\"kind\":\"presence\",\"inc\":1,\"state\":\"online\",\"version\":1}", FL_EPROTO,
     "version: expected a string, got number", "w1"},
    {HEAD "\"kind\":\"presence\",\"inc\":1,\"state\":\"online\",\"keeper\":0}", FL_EPROTO,
     "keeper: expected a boolean, got number", "w1"},
};

static void check_bad(const void *p, size_t n, fl_status status, const char *reason,
                      const char *want_from)
{
    fl_msg *m = (fl_msg *)1;
    fl_status st = decode(p, n, &m);
    if (st != status || strcmp(err, reason) != 0 || strcmp(from, want_from) != 0)
        T_FAILED("%.*s\n  got %d \"%s\" from \"%s\"\n  want %d \"%s\" from \"%s\"",
                 (int)(n > 120 ? 120 : n), (const char *)p, (int)st, err, from,
                 (int)status, reason, want_from);
    t_checks++;
    CHECK(m == NULL);
}

static void test_malformed(void)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_bad(bad[i].json, strlen(bad[i].json), bad[i].status, bad[i].reason,
                  bad[i].from);
}

static void test_error_lengths(void)
{
    /* message: 1024 bytes pass, 1025 fail */
    size_t cap = 2000;
    char *buf = malloc(cap), *msg = malloc(1026);
    CHECK(buf && msg);
    if (!buf || !msg) {
        free(buf);
        free(msg);
        return;
    }
    memset(msg, 'm', 1025);
    msg[1025] = '\0';
    snprintf(buf, cap, HEAD "\"kind\":\"error\",\"error\":{\"type\":\"E\",\"message\":\"%s\"}}", msg + 1);
    fl_msg *m = decode_str(buf);
    CHECK(m && strlen(m->err_message) == 1024);
    fl__msg_free(m);
    snprintf(buf, cap, HEAD "\"kind\":\"error\",\"error\":{\"type\":\"E\",\"message\":\"%s\"}}", msg);
    check_bad(buf, strlen(buf), FL_EPROTO, "error.message: longer than 1024 bytes", "w1");
    free(buf);
    free(msg);
}

static void test_depth(void)
{
    /* FL_MAX_DEPTH levels in all pass; one more and 10000 fail, before
     * cJSON sees them. */
    size_t cap = 30000;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    if (!buf)
        return;
    int levels[] = {FL_MAX_DEPTH - 1, FL_MAX_DEPTH, 10000};
    for (int k = 0; k < 3; k++) {
        size_t n = (size_t)snprintf(buf, cap, HEAD "\"kind\":\"work\",\"pending\":1,\"x\":");
        for (int i = 0; i < levels[k]; i++)
            buf[n++] = '[';
        for (int i = 0; i < levels[k]; i++)
            buf[n++] = ']';
        buf[n++] = '}';
        if (k == 0) {
            fl_msg *m = decode_ok(buf, n);
            fl__msg_free(m);
        } else {
            /* The reason says how deep (the message's own level counts). */
            char want[96];
            snprintf(want, sizeof want, "payload: nested %d levels deep, over "
                     "the limit of %d", levels[k] + 1, FL_MAX_DEPTH);
            check_bad(buf, n, FL_EPROTO, want, "");
        }
    }
    free(buf);
}

static void test_oversized(void)
{
    const char *s = HEAD "\"kind\":\"work\",\"pending\":1}";
    size_t n = strlen(s);
    fl_msg *m = NULL;
    CHECK_EQ(fl__decode(s, n, n, &m, err, sizeof err, from, sizeof from), FL_OK);
    fl__msg_free(m);
    m = NULL;
    CHECK_EQ(fl__decode(s, n, n - 1, &m, err, sizeof err, from, sizeof from), FL_ETOOBIG);
    char want[80];
    snprintf(want, sizeof want, "payload: %zu bytes is over the limit of %zu", n, n - 1);
    CHECK_STR(err, want);
    CHECK(m == NULL);

    size_t big = FL_DEFAULT_MAX_MESSAGE + 1;
    char *p = malloc(big);
    CHECK(p != NULL);
    if (p) {
        memset(p, ' ', big);
        memcpy(p, s, n);
        CHECK_EQ(fl__decode(p, big, 0, &m, err, sizeof err, from, sizeof from), FL_ETOOBIG);
        CHECK_EQ(fl__decode(p, big - 1, 0, &m, err, sizeof err, from, sizeof from), FL_OK);
        fl__msg_free(m);
        free(p);
    }
}

static void test_empty_and_null(void)
{
    fl_msg *m = NULL;
    check_bad("", 0, FL_EPROTO, "payload: empty", "");
    check_bad("\0{}", 3, FL_EPROTO, "payload: empty", "");
    CHECK_EQ(fl__decode(NULL, 0, 0, &m, NULL, 0, NULL, 0), FL_EPROTO);
    CHECK_EQ(fl__decode(NULL, 5, 0, &m, NULL, 0, NULL, 0), FL_EINVAL);
    CHECK_EQ(fl__decode("{}", 2, 0, NULL, NULL, 0, NULL, 0), FL_EINVAL);
    /* No err / from buffers: still decodes and still fails cleanly. */
    CHECK_EQ(fl__decode("[]", 2, 0, &m, NULL, 0, NULL, 0), FL_EPROTO);
    const char *ok = HEAD "\"kind\":\"work\",\"pending\":1}";
    CHECK_EQ(fl__decode(ok, strlen(ok), 0, &m, NULL, 0, NULL, 0), FL_OK);
    fl__msg_free(m);
    fl__msg_free(NULL);
    /* A small err buffer truncates, never overflows. */
    char small[8];
    CHECK_EQ(fl__decode("[]", 2, 0, &m, small, sizeof small, NULL, 0), FL_EPROTO);
    CHECK_STR(small, "payload");
}

/* ------------------------------------------------------- attachments */

/* json, then (when nul) a NUL and att_len bytes of 'A'.. */
static size_t with_att(char *out, const char *json, bool nul, size_t att_len)
{
    size_t n = strlen(json);
    memcpy(out, json, n);
    if (nul) {
        out[n++] = '\0';
        for (size_t i = 0; i < att_len; i++)
            out[n++] = (char)('A' + i % 26);
    }
    return n;
}

static void test_attachment_lies(void)
{
    char p[512];
    const char *w0 = HEAD "\"kind\":\"work\",\"pending\":1,\"bin\":0}";
    const char *w3 = HEAD "\"kind\":\"work\",\"pending\":1,\"bin\":3}";
    const char *wn = HEAD "\"kind\":\"work\",\"pending\":1}";
    size_t n;

    n = with_att(p, w3, true, 3);
    fl_msg *m = decode_ok(p, n);
    fl__msg_free(m);
    n = with_att(p, w0, true, 0); /* bin 0: a NUL and nothing after it */
    m = decode_ok(p, n);
    fl__msg_free(m);
    n = with_att(p, w0, false, 0); /* bin 0 and no NUL: nothing disagrees */
    m = decode_ok(p, n);
    fl__msg_free(m);

    n = with_att(p, w3, true, 2);
    check_bad(p, n, FL_EPROTO, "bin: says 3 bytes, but 2 follow the NUL byte", "w1");
    n = with_att(p, w3, true, 4);
    check_bad(p, n, FL_EPROTO, "bin: says 3 bytes, but 4 follow the NUL byte", "w1");
    n = with_att(p, w3, false, 0);
    check_bad(p, n, FL_EPROTO,
              "bin: says 3 bytes, but the payload has no NUL byte and attachment", "w1");
    n = with_att(p, w0, true, 1);
    check_bad(p, n, FL_EPROTO, "bin: says 0 bytes, but 1 follow the NUL byte", "w1");
    n = with_att(p, wn, true, 2);
    check_bad(p, n, FL_EPROTO,
              "bin: missing, but the payload has a NUL byte and 2 more bytes", "w1");
    n = with_att(p, wn, true, 0);
    check_bad(p, n, FL_EPROTO,
              "bin: missing, but the payload has a NUL byte and 0 more bytes", "w1");
    n = with_att(p, HEAD "\"kind\":\"work\",\"pending\":1,\"bin\":\"3\"}", true, 3);
    check_bad(p, n, FL_EPROTO, "bin: expected an integer, got string", "w1");
    n = with_att(p, HEAD "\"kind\":\"work\",\"pending\":1,\"bin\":-3}", true, 3);
    check_bad(p, n, FL_EPROTO, "bin: expected an integer from 0 to 2^53-1, got -3", "w1");

    /* att ranges against a 4-byte attachment */
    static const struct { const char *att; const char *reason; } ranges[] = {
        {"[0,4]", NULL},
        {"[4,0]", NULL},
        {"[3,1]", NULL},
        {"[2,3]", "tasks[0].att: range [2, 3] is outside the 4-byte attachment"},
        {"[5,0]", "tasks[0].att: range [5, 0] is outside the 4-byte attachment"},
        {"[9007199254740991,9007199254740991]",
         "tasks[0].att: range [9007199254740991, 9007199254740991] is outside the 4-byte attachment"},
        {"[1,9007199254740991]",
         "tasks[0].att: range [1, 9007199254740991] is outside the 4-byte attachment"},
        {"[-1,2]", "tasks[0].att: expected an integer from 0 to 2^53-1, got -1"},
        {"[0.5,2]", "tasks[0].att: expected an integer from 0 to 2^53-1, got 0.5"},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, LEASE "[{" TASK ",\"att\":%s}],\"bin\":4}", ranges[i].att);
        n = with_att(p, json, true, 4);
        if (ranges[i].reason) {
            check_bad(p, n, FL_EPROTO, ranges[i].reason, "w1");
        } else {
            m = decode_ok(p, n);
            CHECK(m && m->tasks[0].att_len <= 4);
            if (m && m->tasks[0].att_len)
                CHECK(m->tasks[0].att >= (const uint8_t *)p + strlen(json) + 1);
            fl__msg_free(m);
        }
    }
    /* The NUL ends the JSON even inside what looks like a string. */
    n = with_att(p, HEAD "\"kind\":\"work\",\"pending\":1,\"x\":\"ab", true, 0);
    memcpy(p + n, "c\"}", 3);
    check_bad(p, n + 3, FL_EPROTO, "payload: not valid JSON", "");
}

/* ------------------------------------------------------------- batches */

static void test_batch_limits(void)
{
    fl_jw w;
    fl__jw_init(&w);
    build_lease(&w, FL_MAX_BATCH);
    fl_msg *m = finish_decode(&w);
    CHECK(m && m->ntasks == FL_MAX_BATCH);
    CHECK(m && m->tasks[FL_MAX_BATCH - 1].id == FL_MAX_BATCH);
    fl__msg_free(m);

    fl__jw_reset(&w);
    build_lease(&w, FL_MAX_BATCH + 1);
    const void *p;
    size_t n;
    CHECK_EQ(fl__jw_finish(&w, &p, &n), FL_OK);
    check_bad(p, n, FL_EPROTO, "tasks: expected 1 to 512 entries, got more than 512", "client-7");

    fl__jw_reset(&w);
    fl__jw_begin_msg(&w, FL_KIND_EXTEND, "w1", 0);
    fl__jw_arr(&w, "ids");
    for (int i = 0; i <= FL_MAX_BATCH; i++)
        fl__jw_u64(&w, NULL, (uint64_t)i);
    fl__jw_end_arr(&w);
    CHECK_EQ(fl__jw_finish(&w, &p, &n), FL_OK);
    check_bad(p, n, FL_EPROTO, "ids: expected 1 to 512 entries, got more than 512", "w1");
    fl__jw_free(&w);
}

/* -------------------------------------------------------------- writer */

static void test_writer_output(void)
{
    fl_jw w;
    fl__jw_init(&w);
    fl__jw_begin_msg(&w, FL_KIND_WORK, "a", 5);
    fl__jw_u64(&w, "pending", 2);
    fl__jw_str(&w, "s", "q\"\n\xFF");
    fl__jw_strn(&w, "t", "xyz", 2);
    fl__jw_str(&w, "n", NULL);
    fl__jw_null(&w, "z");
    fl__jw_arr(&w, "e");
    fl__jw_end_arr(&w);
    fl__jw_obj(&w, "o");
    fl__jw_arr(&w, "a");
    fl__jw_bool(&w, NULL, false);
    fl__jw_obj(&w, NULL);
    fl__jw_end_obj(&w);
    fl__jw_end_arr(&w);
    fl__jw_end_obj(&w);
    const void *p;
    size_t n;
    CHECK_EQ(fl__jw_finish(&w, &p, &n), FL_OK);
    const char *want = "{\"v\":1,\"kind\":\"work\",\"from\":\"a\",\"inc\":5,\"pending\":2,"
                       "\"s\":\"q\\\"\\n\xEF\xBF\xBD\",\"t\":\"xy\",\"n\":null,\"z\":null,"
                       "\"e\":[],\"o\":{\"a\":[false,{}]}}";
    CHECK_EQ(n, strlen(want));
    CHECK_MEM(p, want, strlen(want));

    /* With an attachment: "bin" last, then NUL and the bytes. */
    fl__jw_reset(&w);
    fl__jw_begin_msg(&w, FL_KIND_WORK, "a", 0);
    fl__jw_att(&w, "x", "ab", 2);
    fl__jw_att(&w, "y", "cde", 3);
    CHECK_EQ(fl__jw_size(&w), strlen("{\"v\":1,\"kind\":\"work\",\"from\":\"a\",\"inc\":0,"
                                      "\"x\":[0,2],\"y\":[2,3],\"bin\":5}") + 1 + 5);
    CHECK_EQ(fl__jw_finish(&w, &p, &n), FL_OK);
    const char want2[] = "{\"v\":1,\"kind\":\"work\",\"from\":\"a\",\"inc\":0,"
                         "\"x\":[0,2],\"y\":[2,3],\"bin\":5}\0abcde";
    CHECK_EQ(n, sizeof want2 - 1);
    CHECK_MEM(p, want2, sizeof want2 - 1);
    fl__jw_free(&w);
}

/* A lone attachment with room in front: the payload is laid out in that
 * room (no copy of the bytes), byte for byte what the copy gives; too
 * little room, or a second attachment, falls back to the copy. */
static void test_writer_room(void)
{
    const char want[] = "{\"v\":1,\"kind\":\"work\",\"from\":\"a\",\"inc\":0,"
                        "\"x\":[0,5],\"bin\":5}\0hello";
    const size_t json_len = strlen(want);
    uint8_t block[256];
    fl_jw w;
    const void *p;
    size_t n;
    fl__jw_init(&w);
    for (size_t room = json_len - 1; room <= json_len + 2; room++) {
        memset(block, 0xAA, sizeof block);
        uint8_t *att = block + 100;
        memcpy(att, "hello", 5);
        fl__jw_reset(&w);
        fl__jw_begin_msg(&w, FL_KIND_WORK, "a", 0);
        fl__jw_att_room(&w, "x", att, 5, room);
        CHECK_EQ(fl__jw_finish(&w, &p, &n), FL_OK);
        CHECK_EQ(n, sizeof want - 1);
        CHECK_MEM(p, want, sizeof want - 1);
        bool in_room = p == att - json_len - 1;
        CHECK(in_room == (room > json_len));
        /* Nothing written in front of the payload, or into the room at
         * all when the copy was taken. */
        CHECK(block[100 - json_len - (in_room ? 2 : 1)] == 0xAA);
    }
    /* Two attachments, one with room: copied behind the JSON. */
    uint8_t *att = block + 100;
    memcpy(att, "ab", 2);
    fl__jw_reset(&w);
    fl__jw_begin_msg(&w, FL_KIND_WORK, "a", 0);
    fl__jw_att_room(&w, "x", att, 2, 100);
    fl__jw_att(&w, "y", "cde", 3);
    CHECK_EQ(fl__jw_finish(&w, &p, &n), FL_OK);
    const char want2[] = "{\"v\":1,\"kind\":\"work\",\"from\":\"a\",\"inc\":0,"
                         "\"x\":[0,2],\"y\":[2,3],\"bin\":5}\0abcde";
    CHECK_EQ(n, sizeof want2 - 1);
    CHECK_MEM(p, want2, sizeof want2 - 1);
    CHECK(p < (const void *)block || p >= (const void *)(block + sizeof block));
    fl__jw_free(&w);
}

static void test_writer_misuse(void)
{
    fl_jw w;
    const void *p = (const void *)1;
    size_t n = 9;
    fl__jw_init(&w);
    CHECK_EQ(fl__jw_finish(&w, &p, &n), FL_EINVAL); /* nothing open */
    CHECK(p == NULL && n == 0);

    fl__jw_begin_msg(&w, FL_KIND_WORK, "a", 0);
    fl__jw_arr(&w, "x");
    CHECK_EQ(fl__jw_finish(&w, &p, &n), FL_EINVAL); /* still inside "x" */

    fl__jw_reset(&w);
    fl__jw_begin_msg(&w, FL_KIND_WORK, "a", 0);
    fl__jw_end_obj(&w);
    fl__jw_end_obj(&w); /* one too many */
    CHECK_EQ(fl__jw_finish(&w, &p, &n), FL_EINVAL);

    fl__jw_reset(&w);
    fl__jw_begin_msg(&w, FL_KIND_WORK, "a", 0);
    for (int i = 0; i < 70; i++)
        fl__jw_arr(&w, i ? NULL : "deep");
    for (int i = 0; i < 70; i++)
        fl__jw_end_arr(&w);
    CHECK_EQ(fl__jw_finish(&w, &p, &n), FL_EINVAL); /* deeper than the writer goes */

    /* reset makes it usable again */
    fl__jw_reset(&w);
    fl__jw_begin_msg(&w, FL_KIND_WORK, "a", 0);
    fl__jw_u64(&w, "pending", 1);
    CHECK_EQ(fl__jw_finish(&w, &p, &n), FL_OK);
    fl__jw_free(&w);
}

/* ---------------------------------------------------- out of memory */

typedef struct payload {
    const void *p;
    size_t n;
} payload;

static fl_status op_decode(void *ctx)
{
    const payload *pl = ctx;
    fl_msg *m = NULL;
    fl_status st = fl__decode(pl->p, pl->n, 0, &m, err, sizeof err, from, sizeof from);
    if (st == FL_OK && !m)
        st = FL_EINVAL;
    if (st == FL_ENOMEM && (m || strcmp(err, "out of memory") != 0))
        st = FL_EINVAL;
    fl__msg_free(m);
    return st;
}

static fl_status op_write_lease(void *ctx)
{
    (void)ctx;
    fl_jw w;
    const void *p;
    size_t n;
    fl_value *kw = NULL;
    fl_status st = fl_value_parse(KWARGS, strlen(KWARGS), &kw);
    if (st != FL_OK)
        return st;
    fl__jw_init(&w);
    build_lease_kw(&w, 5, kw);
    st = fl__jw_finish(&w, &p, &n);
    fl__jw_free(&w);
    fl_value_free(kw);
    return st;
}

static void sweep_built(const char *what, fl_jw *w)
{
    const void *p;
    size_t n;
    CHECK_EQ(fl__jw_finish(w, &p, &n), FL_OK);
    /* Copy out: the sweep switches allocators under w's buffers. */
    void *copy = malloc(n);
    CHECK(copy != NULL);
    if (!copy)
        return;
    memcpy(copy, p, n);
    payload pl = {copy, n};
    oom_sweep(what, op_decode, &pl);
    free(copy);
}

static void test_oom(void)
{
    fl_jw w;
    fl__jw_init(&w);
    build_presence(&w);
    sweep_built("decode presence", &w);
    fl__jw_reset(&w);
    build_lease(&w, 6);
    sweep_built("decode lease", &w);
    fl__jw_free(&w);

    static const char *const msgs[] = {
        DONE "[{\"id\":1,\"attempt\":1,\"ok\":true,\"value\":{\"a\":[1,2]}},"
        "{\"id\":2,\"attempt\":1,\"ok\":false,\"error\":{\"type\":\"E\",\"message\":\"m\"}}]}",
        HEAD "\"kind\":\"extend\",\"ids\":[1,2,3]}",
        HEAD "\"kind\":\"error\",\"re\":4,\"error\":{\"type\":\"E\",\"message\":\"m\"}}",
        HEAD "\"kind\":\"fetch\",\"inc\":1,\"fid\":2,\"credit\":3}",
        /* read by codec_fast.c: its allocations fail cleanly too */
        DONE "[{\"id\":1,\"attempt\":1,\"ok\":true,\"value\":[1,{\"b\":2}]},"
        "{\"id\":2,\"attempt\":1,\"ok\":true}]}",
        /* failing messages must also free everything on the way out */
        LEASE "[{" TASK ",\"args\":[1]},{" TASK ",\"args\":{}}]}",
    };
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        payload pl = {msgs[i], strlen(msgs[i])};
        if (i + 1 < sizeof msgs / sizeof msgs[0]) {
            oom_sweep("decode", op_decode, &pl);
        } else {
            /* Every run ends FL_ENOMEM or, once memory suffices, FL_EPROTO. */
            for (long k = 1; k < 1000; k++) {
                oom_begin(k);
                fl_msg *m = NULL;
                fl_status st = fl__decode(pl.p, pl.n, 0, &m, err, sizeof err, NULL, 0);
                long count = oom.count, live = oom.live;
                oom_end();
                CHECK_EQ(live, 0);
                CHECK(m == NULL);
                if (count < k) {
                    CHECK_EQ(st, FL_EPROTO);
                    CHECK_STR(err, "tasks[1].args: expected an array, got object");
                    break;
                }
                CHECK_EQ(st, FL_ENOMEM);
            }
        }
    }
    oom_sweep("write lease", op_write_lease, NULL);
}

/* ------------------------------------------------- the fast path (lease, done) */

static void dump_value(char *out, size_t cap, size_t *n, const fl_value *v)
{
    char *s = v ? fl_value_to_json(v, NULL) : NULL;
    *n += (size_t)snprintf(out + *n, cap - *n, "%s;", s ? s : "-");
    fl_free(s);
}

/* Every field of a lease or done, as one comparable line. */
static void dump(const fl_msg *m, const void *bytes, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%d %s %llu %d %llu %llu %u|",
                                (int)m->kind, m->from, (unsigned long long)m->inc,
                                m->has_mid, (unsigned long long)m->mid,
                                (unsigned long long)m->fid, (unsigned)m->ttl_ms);
    const uint8_t *base = bytes;
    for (size_t i = 0; i < m->ntasks && n < cap; i++) {
        const fl_msg_task *t = &m->tasks[i];
        n += (size_t)snprintf(out + n, cap - n, "%llu %u %u %u %u %s %ld %zu ",
                              (unsigned long long)t->id, (unsigned)t->attempt,
                              (unsigned)t->time_limit_ms,
                              (unsigned)t->soft_time_limit_ms,
                              (unsigned)t->rate_us, t->name,
                              t->att ? (long)(t->att - base) : -1L, t->att_len);
        dump_value(out, cap, &n, t->args);
        dump_value(out, cap, &n, t->kwargs);
    }
    for (size_t i = 0; i < m->nresults && n < cap; i++) {
        const fl_msg_result *r = &m->results[i];
        n += (size_t)snprintf(out + n, cap - n, "%llu %u %d %ld %zu %s %s %d ",
                              (unsigned long long)r->id, (unsigned)r->attempt, r->ok,
                              r->att ? (long)(r->att - base) : -1L, r->att_len,
                              r->err_type ? r->err_type : "-",
                              r->err_message ? r->err_message : "-", r->retryable);
        dump_value(out, cap, &n, r->value);
    }
}

/* The fast path takes the message (fast = true) or leaves it to the tree,
 * and fl__decode ends exactly where the tree alone does. */
static void check_fast(const char *p, size_t n, bool fast)
{
    const char *nul = memchr(p, 0, n);
    size_t json_len = nul ? (size_t)(nul - p) : n;
    const uint8_t *att = nul ? (const uint8_t *)nul + 1 : NULL;
    fl_msg *f = NULL, *m = NULL, *t = NULL;
    fl_status fst = fl__decode_fast(p, json_len, att, nul ? n - json_len - 1 : 0,
                                    nul != NULL, &f);
    if ((fst == FL_OK) != fast)
        T_FAILED("fast path %s: %.*s", fast ? "declined" : "took", (int)json_len, p);
    t_checks++;
    fl__msg_free(f);

    char terr[256], tfrom[FL_MAX_ID_BUF];
    fl_status st = decode(p, n, &m);
    fl_status tst = fl__decode_tree(p, n, 0, &t, terr, sizeof terr, tfrom, sizeof tfrom);
    CHECK_EQ(st, tst);
    CHECK_STR(from, tfrom);
    if (st != FL_OK) {
        CHECK_STR(err, terr);
    } else {
        static char a[4096], b[4096];
        dump(m, p, a, sizeof a);
        dump(t, p, b, sizeof b);
        CHECK_STR(a, b);
    }
    fl__msg_free(m);
    fl__msg_free(t);
}

static void check_fast_str(const char *s, bool fast)
{
    check_fast(s, strlen(s), fast);
}

static void test_fast_path(void)
{
    /* As floret writes them, and in other orders and spacing. */
    check_fast_str(DONE "[{\"id\":1,\"attempt\":1,\"ok\":true,\"value\":8},"
                   "{\"id\":2,\"attempt\":3,\"ok\":true,\"value\":\"a\\\"]}\\u00e9\"},"
                   "{\"id\":3,\"attempt\":1,\"ok\":true,\"value\":[1,{\"x\":[]}]},"
                   "{\"id\":4,\"attempt\":1,\"ok\":true,\"value\":null},"
                   "{\"id\":5,\"attempt\":1,\"ok\":true}]}", true);
    check_fast_str(LEASE "[{" TASK ",\"args\":[4,4],\"kwargs\":{\"k\":[1]}},{" TASK "}]}",
                   true);
    check_fast_str(LEASE "[{" TASK ",\"soft_time_limit_ms\":500,\"rate_limit\":\"10/s\"},"
                   "{" TASK ",\"rate_limit\":\"5/h\"}]}", true);
    check_fast_str(LEASE "[{" TASK ",\"rate_limit\":\"10/d\"}]}", false);
    check_fast_str(" {\"tasks\" : [ { \"attempt\" : 2 , \"name\":\"t\", \"id\" : 9007199254740991,"
                   "\"time_limit_ms\":4294967295} ] , \"ttl_ms\":0, \"fid\":0,\"inc\":0,"
                   "\"mid\":5,\"from\":\"a.b-c_d\",\"kind\":\"lease\",\"v\":1}\n", true);
    static const char with_att[] =
        "{\"v\":1,\"kind\":\"done\",\"from\":\"w\",\"inc\":2,\"results\":[{\"id\":9,"
        "\"attempt\":1,\"ok\":true,\"value\":{\"words\":3},\"att\":[1,2]}],\"bin\":3}\0xyz";
    check_fast(with_att, sizeof with_att - 1, true);
    static const char lease_att[] = LEASE "[{" TASK ",\"att\":[0,0]},{" TASK
                                          ",\"att\":[0,4]}],\"bin\":4}\0abcd";
    check_fast(lease_att, sizeof lease_att - 1, true);

    /* Valid, but outside the plain subset: the tree reads them. */
    check_fast_str(DONE "[{\"id\":1,\"attempt\":1,\"ok\":false,\"error\":{\"type\":\"E\","
                   "\"message\":\"m\"}}]}", false);
    check_fast_str(DONE "[{\"id\":1.0,\"attempt\":1,\"ok\":true}]}", false);
    check_fast_str(DONE "[{\"id\":01,\"attempt\":1,\"ok\":true}]}", false);
    check_fast_str(DONE "[{\"id\":1e0,\"attempt\":1,\"ok\":true}]}", false);
    check_fast_str(DONE "[{\"id\":1,\"id\":2,\"attempt\":1,\"ok\":true}]}", false);
    check_fast_str(DONE "[{\"\\u0069d\":1,\"attempt\":1,\"ok\":true}]}", false);
    check_fast_str(DONE "[{\"id\":1,\"attempt\":1,\"ok\":true,\"later\":0}]}", false);
    check_fast_str("{\"v\":1,\"kind\":\"done\",\"from\":\"w\\u0031\",\"results\":"
                   "[{\"id\":1,\"attempt\":1,\"ok\":true}]}", false);
    check_fast_str(HEAD "\"kind\":\"fetch\",\"inc\":1,\"fid\":2,\"credit\":3}", false);
    check_fast_str(LEASE "[{" TASK ",\"args\":[1]}],\"results\":[]}", false);
    check_fast_str("\xEF\xBB\xBF" DONE "[{\"id\":1,\"attempt\":1,\"ok\":true}]}", false);

    /* Invalid: the tree says what is wrong, in its own words. */
    check_fast_str(DONE "[{\"id\":1,\"attempt\":1,\"ok\":true,\"value\":\xEF\xBB\xBF" "8}]}",
                   false);
    check_fast_str(DONE "[{\"id\":1,\"attempt\":1,\"ok\":true,\"value\":8x}]}", false);
    check_fast_str(DONE "[{\"id\":1,\"attempt\":1,\"ok\":true,\"value\":[1,]}]}", false);
    check_fast_str(DONE "[{\"id\":1,\"attempt\":0,\"ok\":true}]}", false);
    check_fast_str(DONE "[{\"id\":9007199254740992,\"attempt\":1,\"ok\":true}]}", false);
    check_fast_str(DONE "[]}", false);
    check_fast_str(DONE "[{\"id\":1,\"attempt\":1,\"ok\":true}]} x", false);
    check_fast_str(DONE "[{\"id\":1,\"attempt\":1,\"ok\":true,\"att\":[0,1]}]}", false);
    check_fast_str(DONE "[{\"id\":1,\"attempt\":1,\"ok\":true}],\"bin\":2}", false);
    check_fast_str(LEASE "[{" TASK ",\"args\":{}}]}", false);
    check_fast_str(LEASE "[{\"id\":1,\"name\":\"a b\",\"attempt\":1}]}", false);
    check_fast_str(HEAD "\"kind\":\"lease\",\"fid\":1,\"ttl_ms\":100,\"tasks\":[{" TASK "}]}",
                   false);
    check_fast_str(DONE "[{\"id\":1,\"attempt\":1,\"ok\":true,\"value\":"
                   "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]}", false);
    static const char lied[] = DONE "[{\"id\":1,\"attempt\":1,\"ok\":true}]}\0ab";
    check_fast(lied, sizeof lied - 1, false);
    check_fast_str(DONE "[{\"id\":1,\"attempt\":1,\"ok\":true,\"value\":\xEF\xBB\xBF" "88}]}",
                   false);
    /* A value beyond a double, without an exponent: refused by both. */
    char huge[512];
    int n = snprintf(huge, sizeof huge, "%s", DONE "[{\"id\":1,\"attempt\":1,\"ok\":true,\"value\":");
    memset(huge + n, '9', 320);
    snprintf(huge + n + 320, sizeof huge - (size_t)n - 320, "}]}");
    check_fast_str(huge, false);
    fl_msg *m = NULL;
    CHECK_EQ(decode(huge, strlen(huge), &m), FL_EPROTO);
    CHECK(strstr(err, "number out of range") != NULL);
    fl__msg_free(m);
}

/* fl__json_plain vouches only for text every parser takes, and
 * fl__check_json answers the same with or without it. */
static void check_plain(const char *s, bool plain, int type)
{
    int got = -1;
    bool is_plain = fl__json_plain(s, strlen(s), &got);
    if (is_plain != plain)
        T_FAILED("fl__json_plain(%s) = %d", s, is_plain);
    t_checks++;
    if (plain)
        CHECK_EQ(got, type);
    fl_value *v = NULL;
    fl_status parsed = fl__json_parse(s, strlen(s), 0, &v, NULL);
    if (plain)
        CHECK_EQ(parsed, FL_OK);
    CHECK_EQ(fl__check_json(s, strlen(s), -1, err, sizeof err), parsed);
    fl_value_free(v);
}

static void test_plain_json(void)
{
    check_plain("[1,-2,0,-0,\"a b\",true,false,null,{\"k\":[]},{}]", true, FL_TYPE_ARRAY);
    check_plain(" {\"a\" : [ 999999999999999 ] }\n", true, FL_TYPE_OBJECT);
    check_plain("-7", true, FL_TYPE_NUMBER);
    check_plain("\"\"", true, FL_TYPE_STRING);
    check_plain(deep_array(FL_MAX_DEPTH), true, FL_TYPE_ARRAY);
    /* Valid, but left to the parser. */
    check_plain("[1.5]", false, 0);
    check_plain("[1e3]", false, 0);
    check_plain("[1000000000000000]", false, 0);
    check_plain("[\"\\n\"]", false, 0);
    check_plain("[\"caf\xC3\xA9\"]", false, 0);
    /* Invalid. */
    check_plain(deep_array(FL_MAX_DEPTH + 1), false, 0);
    check_plain("[01]", false, 0);
    check_plain("[-]", false, 0);
    check_plain("[1,]", false, 0);
    check_plain("[1] [2]", false, 0);
    check_plain("{\"a\"}", false, 0);
    check_plain("{1:2}", false, 0);
    check_plain("[tru]", false, 0);
    check_plain("[truex]", false, 0);
    check_plain("", false, 0);
    check_plain("[\"a\tb\"]", false, 0);
    CHECK_EQ(fl__check_json("{\"a\":1}", 7, FL_TYPE_ARRAY, err, sizeof err), FL_EINVAL);
    CHECK_STR(err, "expected an array, got object");
}

int main(void)
{
    RUN(test_valid_id);
    RUN(test_kind_names);
    RUN(test_roundtrip_presence);
    RUN(test_roundtrip_work_fetch);
    RUN(test_roundtrip_lease);
    RUN(test_roundtrip_done);
    RUN(test_roundtrip_ids_error);
    RUN(test_protocol_examples);
    RUN(test_unknown_members_ignored);
    RUN(test_malformed);
    RUN(test_error_lengths);
    RUN(test_depth);
    RUN(test_oversized);
    RUN(test_empty_and_null);
    RUN(test_attachment_lies);
    RUN(test_batch_limits);
    RUN(test_writer_output);
    RUN(test_writer_room);
    RUN(test_writer_misuse);
    RUN(test_oom);
    RUN(test_fast_path);
    RUN(test_plain_json);
    return TEST_DONE();
}
