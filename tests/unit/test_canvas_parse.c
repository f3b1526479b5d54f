/*
 * test_canvas_parse.c - the `floret run` expression language: each form of
 * docs/canvas.md turns into the canvas JSON the engine runs, and each kind
 * of mistake is reported at the right column.
 */
#include <stdlib.h>
#include <string.h>

#include "canvas_parse.h"
#include "codec.h"
#include "defaults.h"
#include "test.h"

static void parses_to(const char *expr, const char *want)
{
    fl_buf out;
    char err[160];
    size_t col = 99;
    fl__buf_init(&out);
    fl_status st = fl__canvas_parse(expr, strlen(expr), &out, err, sizeof err,
                                    &col);
    CHECK_EQ(st, FL_OK);
    if (st != FL_OK)
        fprintf(stderr, "  %s: %s at %zu\n", expr, err, col);
    else
        CHECK_STR(out.data, want);
    fl__buf_free(&out);
}

static void fails_at(const char *expr, size_t want_col, const char *want_msg)
{
    fl_buf out;
    char err[160];
    size_t col = 999;
    fl__buf_init(&out);
    CHECK_EQ(fl__canvas_parse(expr, strlen(expr), &out, err, sizeof err, &col),
             FL_EINVAL);
    CHECK_EQ(col, want_col);
    if (!strstr(err, want_msg))
        fprintf(stderr, "  '%s': got error '%s'\n", expr, err);
    CHECK(strstr(err, want_msg) != NULL);
    fl__buf_free(&out);
}

static void test_signatures(void)
{
    parses_to("add(4,4)", "{\"task\":\"add\",\"args\":[4,4]}");
    parses_to(" add( 4 , 4 ) ", "{\"task\":\"add\",\"args\":[4,4]}");
    parses_to("xsum()", "{\"task\":\"xsum\",\"args\":[]}");
    parses_to("add.si(1,1)",
              "{\"task\":\"add\",\"args\":[1,1],\"immutable\":true}");
    parses_to("mul.s(8)", "{\"task\":\"mul\",\"args\":[8]}");
    parses_to("echo(\"a,b)\", [1,[2]], {\"k\":null})",
              "{\"task\":\"echo\",\"args\":[\"a,b)\",[1,[2]],{\"k\":null}]}");
    parses_to("fail(\"x\", retryable=true)",
              "{\"task\":\"fail\",\"args\":[\"x\"],\"kwargs\":{\"retryable\":"
              "true}}");
    parses_to("wc.count(1)", "{\"task\":\"wc.count\",\"args\":[1]}");
}

static void test_composites(void)
{
    parses_to("add(4,4) | mul(8) | mul(10)",
              "{\"chain\":[{\"task\":\"add\",\"args\":[4,4]},{\"task\":\"mul\","
              "\"args\":[8]},{\"task\":\"mul\",\"args\":[10]}]}");
    parses_to("[add(2,2), add(4,4)]",
              "{\"group\":[{\"task\":\"add\",\"args\":[2,2]},{\"task\":\"add\","
              "\"args\":[4,4]}]}");
    parses_to("[add(1,1), add(2,2)] | xsum()",
              "{\"chain\":[{\"group\":[{\"task\":\"add\",\"args\":[1,1]},"
              "{\"task\":\"add\",\"args\":[2,2]}]},{\"task\":\"xsum\",\"args\":"
              "[]}]}");
    parses_to("chord([add(1,1)], xsum())",
              "{\"chord\":[{\"task\":\"add\",\"args\":[1,1]}],\"body\":"
              "{\"task\":\"xsum\",\"args\":[]}}");
    parses_to("group(add(1,1), chain(add(1,1), mul(2)))",
              "{\"group\":[{\"task\":\"add\",\"args\":[1,1]},{\"chain\":["
              "{\"task\":\"add\",\"args\":[1,1]},{\"task\":\"mul\",\"args\":"
              "[2]}]}]}");
    parses_to("xsum.map([[0,1,2],[3,4]])",
              "{\"map\":\"xsum\",\"items\":[[0,1,2],[3,4]]}");
    parses_to("add.starmap([[1,1],[2,2]])",
              "{\"starmap\":\"add\",\"items\":[[1,1],[2,2]]}");
    parses_to("add.chunks([[1,1],[2,2],[3,3]], 2)",
              "{\"chunks\":\"add\",\"items\":[[1,1],[2,2],[3,3]],\"n\":2}");
    parses_to("add(1,2).set(retries=3, time_limit=5)",
              "{\"task\":\"add\",\"args\":[1,2],\"options\":{\"retries\":3,"
              "\"time_limit\":5}}");
    parses_to("(add(1,1) | mul(2)).set(route=\"pi-1\")",
              "{\"chain\":[{\"task\":\"add\",\"args\":[1,1]},{\"task\":\"mul\","
              "\"args\":[2]}],\"options\":{\"route\":\"pi-1\"}}");
}

static void test_errors(void)
{
    fails_at("add(4,", 6, "expected a JSON value");
    fails_at("add(foo)", 4, "bare word");
    fails_at("add(4,4) |", 10, "expected a task name");
    fails_at("add(4,4) mul(2)", 9, "unexpected text");
    fails_at("[add(1,1) add(2,2)]", 10, "expected ','");
    fails_at("add(1).set(3)", 11, "keyword arguments");
    fails_at("add 4", 4, "expected '('");
    fails_at("add(x=1, 2)", 9, "positional argument after keyword");
    char deep[200];
    memset(deep, '[', 100);
    deep[100] = '\0';
    fails_at(deep, 32, "expression nested more than 32 levels deep");
}

/* A workflow's depth is that of the canvas JSON it makes, and the limit is
 * the one fl_node_apply and a keeper hold to (FL_MAX_CANVAS_DEPTH): what
 * parses here is what --show prints and what runs. */
static void test_depth_is_the_canvas_limit(void)
{
    char expr[256];
    /* n groups around add(1,1): 2n levels of group, 1 of the signature and
     * 1 of its args. */
    int fits = (FL_MAX_CANVAS_DEPTH - 2) / 2;
    for (int n = fits; n <= fits + 1; n++) {
        memset(expr, '[', (size_t)n);
        strcpy(expr + n, "add(1,1)");
        memset(expr + n + 8, ']', (size_t)n);
        expr[2 * n + 8] = '\0';
        fl_buf out;
        char err[200];
        size_t col = 999;
        fl__buf_init(&out);
        fl_status st = fl__canvas_parse(expr, strlen(expr), &out, err,
                                        sizeof err, &col);
        if (n == fits) {
            CHECK_EQ(st, FL_OK);
            CHECK(fl__json_depth_check(out.data, out.len,
                                       FL_MAX_CANVAS_DEPTH) == NULL);
        } else {
            char want[160];
            snprintf(want, sizeof want, "workflow too deeply nested: its "
                     "canvas JSON is nested %d levels deep, over the limit "
                     "of %d", 2 * n + 2, FL_MAX_CANVAS_DEPTH);
            CHECK_EQ(st, FL_EINVAL);
            if (!strstr(err, want))
                fprintf(stderr, "  got '%s'\n", err);
            CHECK(strstr(err, want) != NULL);
            CHECK_EQ(col, (size_t)n); /* the innermost atom */
        }
        fl__buf_free(&out);
    }
}

/* The C builders make the same JSON as the expression language. */
static void same_as_expr(fl_canvas *built, const char *expr)
{
    char err[128];
    fl_canvas *parsed = fl_canvas_parse(expr, err, sizeof err, NULL);
    CHECK(built != NULL && parsed != NULL);
    if (built && parsed)
        CHECK_STR(fl_canvas_json(built), fl_canvas_json(parsed));
    CHECK(fl_canvas_error(built) == NULL);
    fl_canvas_free(built);
    fl_canvas_free(parsed);
}

static void test_builders(void)
{
    same_as_expr(fl_chain(fl_sig("add", "[4,4]", NULL),
                          fl_sig("mul", "[8]", NULL),
                          fl_sig("mul", "[10]", NULL), NULL),
                 "add(4,4) | mul(8) | mul(10)");
    same_as_expr(fl_chord(fl_group(fl_sig("add", "[1,1]", NULL),
                                   fl_sig("add", "[2,2]", NULL), NULL),
                          fl_sig("xsum", NULL, NULL)),
                 "chord([add(1,1), add(2,2)], xsum())");
    same_as_expr(fl_sig_immutable("add", "[1,1]", NULL), "add.si(1,1)");
    same_as_expr(fl_map("xsum", "[[1,2],[3]]"), "xsum.map([[1,2],[3]])");
    same_as_expr(fl_starmap("add", "[[1,2]]"), "add.starmap([[1,2]])");
    same_as_expr(fl_chunks("add", "[[1,2]]", 2), "add.chunks([[1,2]], 2)");
    fl_call_options opt = {.retries = 3, .time_limit_ms = 5000};
    same_as_expr(fl_canvas_set(fl_sig("add", "[1,2]", NULL), &opt),
                 "add(1,2).set(retries=3, time_limit=5)");
    /* Bad input is kept as a reason, and travels up. */
    fl_canvas *bad = fl_group(fl_sig("add", "[1,", NULL),
                              fl_sig("add", "[1,2]", NULL), NULL);
    CHECK(bad != NULL);
    CHECK(fl_canvas_error(bad) && strstr(fl_canvas_error(bad), "add args"));
    fl_canvas_free(bad);
    bad = fl_sig("no way", "[]", NULL);
    CHECK(fl_canvas_error(bad) && strstr(fl_canvas_error(bad), "task name"));
    fl_canvas_free(bad);
    /* NULL members make NULL, freeing the rest. */
    CHECK(fl_chord(NULL, fl_sig("xsum", NULL, NULL)) == NULL);
    fl_canvas *items[2] = {fl_sig("add", "[1,1]", NULL), NULL};
    CHECK(fl_group_of(items, 2) == NULL);
}

static size_t tasks_of(const char *expr)
{
    char err[160];
    fl_canvas *c = fl_canvas_parse(expr, err, sizeof err, NULL);
    size_t n = fl_canvas_tasks(c);
    fl_canvas_free(c);
    return n;
}

/* What `floret run`'s progress line counts to. */
static void test_task_counts(void)
{
    CHECK_EQ(tasks_of("add(1,1)"), 1);
    CHECK_EQ(tasks_of("add(1,1) | mul(2) | mul(3)"), 3);
    CHECK_EQ(tasks_of("[add(1,1), add(2,2)] | xsum()"), 3);
    CHECK_EQ(tasks_of("xsum.map([[1],[2],[3],[4]])"), 4);
    CHECK_EQ(tasks_of("add.starmap([[1,1],[2,2]]) | xsum()"), 3);
    CHECK_EQ(tasks_of("add.chunks([[1,1],[2,2],[3,3],[4,4],[5,5]], 2)"), 3);
    CHECK_EQ(tasks_of("[add(1,1) | mul(2), [add(1,1), xsum.map([[1],[2]])]]"), 5);
    CHECK_EQ(tasks_of("xsum.map([])"), 0);
    CHECK_EQ(fl_canvas_tasks(NULL), 0);
    fl_canvas *bad = fl_canvas_from_json("{\"chunks\":\"add\",\"items\":[[1,1]],\"n\":0}");
    CHECK_EQ(fl_canvas_tasks(bad), 0);
    fl_canvas_free(bad);
}

int main(void)
{
    RUN(test_task_counts);
    RUN(test_builders);
    RUN(test_signatures);
    RUN(test_composites);
    RUN(test_errors);
    RUN(test_depth_is_the_canvas_limit);
    return TEST_DONE();
}
