/*
 * workflows.c - the catalogue of Canvas workflows the simulator applies
 * (Celery's Canvas guide, Broccoli's README, nesting, failures) and the
 * oracle for their finals. The expected values are worked out here from
 * the inputs, independently of the engine.
 * Depends on workflows.h, workload.h (structural comparison of values),
 * the public header and the C standard library.
 */
#include "workflows.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "workload.h"

/* Canvases and answers too long to write out by hand are built once. */
static char chord_canvas[1024], map_canvas[1024];
static char starmap_canvas[1024], starmap_value[256];
static char chunks_canvas[4096], chunks_value[1024];

static const sim_wf_kind kinds[] = {
    {"chain",
     "{\"chain\":[{\"task\":\"add\",\"args\":[4,4]},{\"task\":\"mul\","
     "\"args\":[8]},{\"task\":\"mul\",\"args\":[10]}]}",
     FL_SUCCESS, "640", NULL, {NULL, NULL}, 3},
    {"group",
     "{\"group\":[{\"task\":\"add\",\"args\":[2,2]},{\"task\":\"add\","
     "\"args\":[4,4]}]}",
     FL_SUCCESS, "[4,8]", NULL, {NULL, NULL}, 2},
    {"chord", chord_canvas, FL_SUCCESS, "90", NULL, {NULL, NULL}, 11},
    {"map", map_canvas, FL_SUCCESS, "[45,4950]", NULL, {NULL, NULL}, 2},
    {"starmap", starmap_canvas, FL_SUCCESS, starmap_value, NULL,
     {NULL, NULL}, 10},
    {"chunks", chunks_canvas, FL_SUCCESS, chunks_value, NULL, {NULL, NULL},
     10},
    {"group-of-chains",
     "{\"group\":[{\"chain\":[{\"task\":\"add\",\"args\":[1,1]},{\"task\":"
     "\"mul\",\"args\":[2]}]},{\"chain\":[{\"task\":\"add\",\"args\":[2,2]},"
     "{\"task\":\"mul\",\"args\":[3]}]}]}",
     FL_SUCCESS, "[4,12]", NULL, {NULL, NULL}, 4},
    /* Every member of the group receives 2: [20, 7], summed. */
    {"chain-with-group",
     "{\"chain\":[{\"task\":\"add\",\"args\":[1,1]},{\"group\":[{\"task\":"
     "\"mul\",\"args\":[10]},{\"task\":\"add\",\"args\":[5]}]},{\"task\":"
     "\"xsum\"}]}",
     FL_SUCCESS, "27", NULL, {NULL, NULL}, 4},
    /* 2*2 + 3 + 6*3 */
    {"chord-of-chains",
     "{\"chord\":[{\"chain\":[{\"task\":\"add\",\"args\":[1,1]},{\"task\":"
     "\"mul\",\"args\":[2]}]},{\"task\":\"add\",\"args\":[1,2]},{\"chain\":["
     "{\"task\":\"add\",\"args\":[3,3]},{\"task\":\"mul\",\"args\":[3]}]}],"
     "\"body\":{\"task\":\"xsum\"}}",
     FL_SUCCESS, "25", NULL, {NULL, NULL}, 6},
    /* The immutable step ignores 2, so mul gets 6 (40 would mean it did
     * not). */
    {"immutable",
     "{\"chain\":[{\"task\":\"add\",\"args\":[1,1]},{\"task\":\"add\","
     "\"args\":[3,3],\"immutable\":true},{\"task\":\"mul\",\"args\":[5]}]}",
     FL_SUCCESS, "30", NULL, {NULL, NULL}, 3},
    /* The step after the failure never runs. */
    {"failing-chain",
     "{\"chain\":[{\"task\":\"add\",\"args\":[1,1]},{\"task\":\"fail\","
     "\"args\":[\"boom\"],\"immutable\":true},{\"task\":\"mul\","
     "\"args\":[2]}]}",
     FL_FAILURE, "null", "TaskError", {"chain step 2 (fail) failed", "boom"},
     2},
    /* The other members still report theirs. */
    {"failing-group",
     "{\"group\":[{\"task\":\"add\",\"args\":[1,1]},{\"task\":\"fail\","
     "\"args\":[\"boom\"]},{\"task\":\"add\",\"args\":[2,2]}]}",
     FL_FAILURE, "[2,null,4]", "TaskError",
     {"group member 2 (fail) failed", "boom"}, 3},
    /* A failed header fails the chord through its group; the body never
     * runs. */
    {"failing-chord",
     "{\"chord\":[{\"task\":\"add\",\"args\":[1,1]},{\"task\":\"fail\","
     "\"args\":[\"boom\"]}],\"body\":{\"task\":\"xsum\"}}",
     FL_FAILURE, "null", "TaskError",
     {"chain step 1 (group) failed: group member 2 (fail) failed", "boom"},
     2},
};

#define NKINDS (sizeof kinds / sizeof kinds[0])

/* Append to buf at *off, keeping *off within the buffer. */
static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *off, cap - *off, fmt, ap);
    va_end(ap);
    if (n > 0)
        *off += (size_t)n < cap - *off ? (size_t)n : cap - *off - 1;
}

static void build_generated(void)
{
    size_t n = 0, v = 0;
    /* chord of add(i, i) for i in 0..9 into xsum: 2 * 45 */
    put(chord_canvas, sizeof chord_canvas, &n, "{\"chord\":[");
    for (int i = 0; i < 10; i++)
        put(chord_canvas, sizeof chord_canvas, &n,
            "%s{\"task\":\"add\",\"args\":[%d,%d]}", i ? "," : "", i, i);
    put(chord_canvas, sizeof chord_canvas, &n,
        "],\"body\":{\"task\":\"xsum\"}}");

    /* xsum.map over [range(10), range(100)] */
    n = 0;
    put(map_canvas, sizeof map_canvas, &n, "{\"map\":\"xsum\",\"items\":[[");
    for (int i = 0; i < 10; i++)
        put(map_canvas, sizeof map_canvas, &n, "%s%d", i ? "," : "", i);
    put(map_canvas, sizeof map_canvas, &n, "],[");
    for (int i = 0; i < 100; i++)
        put(map_canvas, sizeof map_canvas, &n, "%s%d", i ? "," : "", i);
    put(map_canvas, sizeof map_canvas, &n, "]]}");

    /* add.starmap over zip(range(10), range(10)): 2i each */
    n = 0;
    put(starmap_canvas, sizeof starmap_canvas, &n,
        "{\"starmap\":\"add\",\"items\":[");
    put(starmap_value, sizeof starmap_value, &v, "[");
    for (int i = 0; i < 10; i++) {
        put(starmap_canvas, sizeof starmap_canvas, &n, "%s[%d,%d]",
            i ? "," : "", i, i);
        put(starmap_value, sizeof starmap_value, &v, "%s%d", i ? "," : "",
            2 * i);
    }
    put(starmap_canvas, sizeof starmap_canvas, &n, "]}");
    put(starmap_value, sizeof starmap_value, &v, "]");

    /* add.chunks over zip(range(100), range(100)) in tens: ten lists of
     * ten, [0..18], [20..38], ... */
    n = v = 0;
    put(chunks_canvas, sizeof chunks_canvas, &n,
        "{\"chunks\":\"add\",\"n\":10,\"items\":[");
    for (int i = 0; i < 100; i++)
        put(chunks_canvas, sizeof chunks_canvas, &n, "%s[%d,%d]",
            i ? "," : "", i, i);
    put(chunks_canvas, sizeof chunks_canvas, &n, "]}");
    put(chunks_value, sizeof chunks_value, &v, "[");
    for (int k = 0; k < 10; k++) {
        put(chunks_value, sizeof chunks_value, &v, "%s[", k ? "," : "");
        for (int i = 0; i < 10; i++)
            put(chunks_value, sizeof chunks_value, &v, "%s%d", i ? "," : "",
                2 * (10 * k + i));
        put(chunks_value, sizeof chunks_value, &v, "]");
    }
    put(chunks_value, sizeof chunks_value, &v, "]");
}

size_t sim_wf_kinds(void)
{
    return NKINDS;
}

const sim_wf_kind *sim_wf_kind_at(size_t i)
{
    if (!chord_canvas[0])
        build_generated();
    return &kinds[i % NKINDS];
}

bool sim_wf_member_name(const char *name)
{
    static const char *names[] = {"add", "mul", "xsum", "fail", "fl.starmap"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

static void describe(const fl_value *v, char *out, size_t n)
{
    size_t len = 0;
    char *json = v ? fl_value_to_json(v, &len) : NULL;
    snprintf(out, n, "%.*s", json ? (int)(len > 200 ? 200 : len) : 4,
             json ? json : "null");
    fl_free(json);
}

/* A failed group's member list where members lost to the network may be
 * null instead of their result. */
static bool list_with_losses(const fl_value *got, const char *want_json)
{
    fl_value *want = NULL;
    if (fl_value_parse(want_json, strlen(want_json), &want) != FL_OK)
        return false;
    bool ok = fl_value_type(got) == FL_TYPE_ARRAY &&
              fl_value_type(want) == FL_TYPE_ARRAY &&
              fl_value_count(got) == fl_value_count(want);
    for (size_t i = 0; ok && i < fl_value_count(want); i++) {
        const fl_value *g = fl_value_at(got, i);
        if (fl_value_type(g) == FL_TYPE_NULL)
            continue;
        char *w = fl_value_to_json(fl_value_at(want, i), NULL);
        ok = w && sim_value_equals_json(g, w);
        fl_free(w);
    }
    fl_value_free(want);
    return ok;
}

bool sim_workflow_check_final(const sim_workflow *f, fl_state state,
                              const fl_value *value, const char *err_type,
                              const char *err_message, bool lossy, char *why,
                              size_t whylen)
{
    const sim_wf_kind *k = f->kind;
    const char *et = err_type ? err_type : "";
    const char *em = err_message ? err_message : "";
    char got[256];
    /* A member lost past its attempts fails the workflow, naming it. */
    if (lossy && state == FL_FAILURE && strcmp(et, "WorkerLost") == 0) {
        if (strstr(em, " failed: ") == NULL) {
            snprintf(why, whylen, "WorkerLost without naming the member: "
                     "'%.200s'", em);
            return false;
        }
        return true;
    }
    if (state != k->want_state) {
        snprintf(why, whylen, "state %s (%s: %.200s), expected %s",
                 fl_state_name(state), et, em, fl_state_name(k->want_state));
        return false;
    }
    if (state == FL_SUCCESS) {
        if (!sim_value_equals_json(value, k->want_value)) {
            describe(value, got, sizeof got);
            snprintf(why, whylen, "value %s, expected %s", got,
                     k->want_value);
            return false;
        }
        return true;
    }
    if (strcmp(et, k->want_err) != 0) {
        snprintf(why, whylen, "error type %s (%.200s), expected %s", et, em,
                 k->want_err);
        return false;
    }
    for (size_t i = 0; i < 2; i++) {
        if (k->want_msg[i] && !strstr(em, k->want_msg[i])) {
            snprintf(why, whylen, "error message '%.200s' does not contain "
                     "'%s'", em, k->want_msg[i]);
            return false;
        }
    }
    bool value_ok = lossy && fl_value_type(value) == FL_TYPE_ARRAY
                        ? list_with_losses(value, k->want_value)
                        : sim_value_equals_json(value, k->want_value);
    if (!value_ok) {
        describe(value, got, sizeof got);
        snprintf(why, whylen, "failed with value %s, expected %s", got,
                 k->want_value);
        return false;
    }
    return true;
}
