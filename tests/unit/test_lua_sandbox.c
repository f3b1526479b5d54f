/*
 * test_lua_sandbox.c - the Lua task runtime: modules checked at deploy
 * time, tasks run through fl_core_run_job's fallback like a node runs
 * them, the sandbox (no io/os/load/dump/coroutine), the instruction budget,
 * the memory cap, errors and results JSON cannot hold - each failing with
 * its own message while the next call still works - and a redeploy that
 * leaves a holder of the old version alone; no finalizer (__gc) can be
 * set, so none can run outside the budget; the string metatable is out of
 * reach; a result's JSON text counts against the memory cap.
 * Depends on the core (core.h), the Lua runtime and test.h.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "lua_runtime.h"
#include "test.h"

static fl_lua_set *set;
static bool soft_now; /* what the soft time limit hook says */
static fl_lua_slot *slot;
static fl_registry *reg;

static const char good_src[] =
    "local M = {}\n"
    "function M.add(a, b) return a + b end\n"
    "function M.greet(who) return 'hello ' .. who .. (floret.kwargs.mark or '') end\n"
    "function M.echo(...) return {...} end\n"
    "function M.obj() return {name = 'x', list = {1, 2.5, true, floret.null}, empty = {}} end\n"
    "function M.len() return #(floret.attachment or '') end\n"
    "function M.bytes() return 'ok', '\\0\\1\\2' end\n"
    "function M.ctx() return {task = floret.task, node = floret.node} end\n"
    "function M.sandbox()\n"
    "  return {io = type(io), os = type(os), require = type(require), load = type(load),\n"
    "          dofile = type(dofile), loadfile = type(loadfile), debug = type(debug),\n"
    "          package = type(package), dump = type(string.dump), coroutine = type(coroutine),\n"
    "          strdump = type(('').dump), print = type(print)}\n"
    "end\n"
    "function M.spin() while true do end end\n"
    "function M.spin_pcall() while true do pcall(function() while true do end end) end end\n"
    "function M.hog() local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(1024) .. i end end\n"
    "function M.bigrep() return ('x'):rep(1e9) end\n"
    "function M.boom() error('boom at the gate') end\n"
    "function M.fn() return function() end end\n"
    "function M.nan() return 0/0 end\n"
    "function M.mixed() return {1, 2, x = 3} end\n"
    "function M.sparse() return {[1] = 1, [3] = 3} end\n"
    "function M.cycle() local t = {} t.self = t return t end\n"
    "function M.binary() return '\\255\\254' end\n"
    "function M.deep(n) local t = {} for i = 1, n do t = {t} end return t end\n"
    "return M\n";

static bool soft_hook(void *ud)
{
    (void)ud;
    return soft_now;
}

static fl_outcome run_task(const char *name, const char *args, const char *kwargs,
                           const char *att)
{
    fl_job job;
    fl_outcome out;
    fl_run_hooks hooks = {.node_id = "unit", .max_result = 1 << 20,
                          .soft_expired = soft_hook};
    memset(&job, 0, sizeof job);
    memset(&out, 0, sizeof out);
    job.name = (char *)name;
    job.attempt = 1;
    if (fl_value_parse(args, strlen(args), &job.args) != FL_OK ||
        fl_value_parse(kwargs, strlen(kwargs), &job.kwargs) != FL_OK) {
        T_FAILED("bad test arguments %s %s", args, kwargs);
        return out;
    }
    job.att = (uint8_t *)att;
    job.att_len = att ? strlen(att) : 0;
    fl_core_run_job_or(reg, fl__lua_slot_run, slot, &job, &hooks, &out);
    fl_value_free(job.args);
    fl_value_free(job.kwargs);
    return out;
}

/* The task's value as JSON text, or "ERR Type: message". */
static char *outcome_text(fl_outcome *o)
{
    static char buf[2048];
    if (o->ok)
        snprintf(buf, sizeof buf, "%.*s", (int)o->value_len,
                 o->value_json ? o->value_json : "null");
    else
        snprintf(buf, sizeof buf, "ERR %s: %s", o->err_type,
                 o->err_message ? o->err_message : "");
    fl_outcome_clear(o);
    return buf;
}

static char *run_text(const char *name, const char *args)
{
    fl_outcome o = run_task(name, args, "{}", NULL);
    return outcome_text(&o);
}

static fl_lua_module *deploy(const char *name, const char *version, const char *src)
{
    char err[512] = "";
    fl_lua_module *m = NULL;
    fl_status st = fl__lua_module_new(name, version, src, strlen(src),
                                      fl__lua_set_limits(set), &m, err, sizeof err);
    if (st != FL_OK) {
        T_FAILED("deploy %s: %s", name, err);
        return NULL;
    }
    CHECK_EQ(fl__lua_set_put(set, m), FL_OK);
    return m;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

#define CHECK_CONTAINS(s, sub)                                                   \
    do {                                                                         \
        const char *s_ = (s);                                                    \
        t_checks++;                                                              \
        if (!strstr(s_, sub))                                                    \
            T_FAILED("'%s' does not contain '%s'", s_, sub);                     \
    } while (0)

static void test_values(void)
{
    CHECK_STR(run_text("m.add", "[2, 3]"), "5");
    CHECK_STR(run_text("m.add", "[2.5, 0.25]"), "2.75");
    fl_outcome o = run_task("m.greet", "[\"bob\"]", "{\"mark\":\"!\"}", NULL);
    CHECK_STR(outcome_text(&o), "\"hello bob!\"");
    CHECK_STR(run_text("m.echo", "[1, \"two\", [3], {\"k\": null}]"),
              "[1,\"two\",[3],{\"k\":null}]");
    const char *obj = run_text("m.obj", "[]");
    CHECK_CONTAINS(obj, "\"name\":\"x\"");
    CHECK_CONTAINS(obj, "\"list\":[1,2.5,true,null]");
    CHECK_CONTAINS(obj, "\"empty\":{}");
    o = run_task("m.len", "[]", "{}", "some bytes");
    CHECK_STR(outcome_text(&o), "10");
    o = run_task("m.bytes", "[]", "{}", NULL);
    CHECK(o.ok);
    CHECK_EQ(o.att_len, 3);
    CHECK(o.att && memcmp(o.att, "\0\1\2", 3) == 0);
    fl_outcome_clear(&o);
    const char *ctx = run_text("m.ctx", "[]");
    CHECK_CONTAINS(ctx, "\"task\":\"m.ctx\"");
    CHECK_CONTAINS(ctx, "\"node\":\"unit\"");
}

static void test_sandbox(void)
{
    const char *s = run_text("m.sandbox", "[]");
    static const char *const names[] = {"io", "os", "require", "load", "dofile",
                                        "loadfile", "debug", "package", "dump",
                                        "coroutine", "strdump", "print"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"%s\":\"nil\"", names[i]);
        CHECK_CONTAINS(s, want);
    }
}

static void test_failures_then_next(void)
{
    static const struct {
        const char *task, *args, *want;
    } cases[] = {
        {"m.spin", "[]", "ERR StepLimitExceeded: lua task m.spin: instruction budget of 2000000 steps exceeded"},
        {"m.spin_pcall", "[]", "ERR StepLimitExceeded: lua task m.spin_pcall: instruction budget"},
        {"m.hog", "[]", "ERR MemoryLimitExceeded: lua task m.hog: memory cap of 8388608 bytes exceeded"},
        {"m.bigrep", "[]", "ERR MemoryLimitExceeded: lua task m.bigrep: memory cap"},
        {"m.boom", "[]", "ERR LuaError: lua task m.boom: m:19: boom at the gate"},
        {"m.fn", "[]", "ERR ValueError: lua task m.fn: result: a function (not JSON-able)"},
        {"m.nan", "[]", "ERR ValueError: lua task m.nan: result: NaN"},
        {"m.mixed", "[]", "ERR ValueError: lua task m.mixed: result: a table mixing array items and string keys"},
        {"m.sparse", "[]", "ERR ValueError: lua task m.sparse: result: a sparse array"},
        {"m.cycle", "[]", "ERR ValueError: lua task m.cycle: result.self.self"},
        {"m.binary", "[]", "ERR ValueError: lua task m.binary: result: a string that is not valid UTF-8"},
        {"m.deep", "[40]", "ERR ValueError: lua task m.deep: result[1][1]"},
        {"m.add", "[1, {}]", "ERR LuaError: lua task m.add: m:2: attempt to perform arithmetic"},
        {"m.nope", "[]", "ERR UnknownTask: no task named 'm.nope' on node unit"},
        {"zz.add", "[]", "ERR UnknownTask: no task named 'zz.add' on node unit"},
        {"noDot", "[]", "ERR UnknownTask: no task named 'noDot' on node unit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = run_text(cases[i].task, cases[i].args);
        if (!starts_with(got, cases[i].want))
            T_FAILED("%s: got '%s', want '%s...'", cases[i].task, got, cases[i].want);
        t_checks++;
        /* ...and the slot serves the next task. */
        CHECK_STR(run_text("m.add", "[20, 22]"), "42");
    }
    char want[64];
    snprintf(want, sizeof want, "%.20s{}%.20s", "[[[[[[[[[[[[[[[[[[[[[[[[",
             "]]]]]]]]]]]]]]]]]]]]]]]]");
    CHECK_STR(run_text("m.deep", "[20]"), want);
}

static void test_bad_modules(void)
{
    static const struct {
        const char *name, *src, *want;
    } cases[] = {
        {"syn", "return {", "module syn: syn:1: unexpected symbol near <eof>"},
        {"bin", "\x1bLua\x54\x00", "module bin: attempt to load a binary chunk"},
        {"notab", "return 42", "module notab must return a table of functions, not number"},
        {"empty", "return {x = 1}", "module empty returned a table with no functions"},
        {"badkey", "return {['a-b'] = function() end}", "module badkey: function key a-b is not a task name"},
        {"loop", "while true do end", "module loop: instruction budget"},
        {"err", "error('nope')", "module err: err:1: nope"},
        {"io", "return {f = io.open}", "module io: io:1: attempt to index a nil value (global 'io')"},
        {"bad.name", "return {}", "module name 'bad.name' is not valid"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        fl_lua_module *m = NULL;
        fl_status st = fl__lua_module_new(cases[i].name, "v", cases[i].src,
                                          strlen(cases[i].src), fl__lua_set_limits(set),
                                          &m, err, sizeof err);
        CHECK_EQ(st, FL_EINVAL);
        CHECK(m == NULL);
        if (!starts_with(err, cases[i].want))
            T_FAILED("module %s: got '%s', want '%s...'", cases[i].name, err, cases[i].want);
        t_checks++;
    }
}

static void test_redeploy(void)
{
    fl_lua_module *v1 = deploy("r", "v1", "return {f = function() return 1 end}");
    /* v1's own reference stands for a task still running on it. */
    CHECK_STR(run_text("r.f", "[]"), "1");
    fl_lua_module *v2 = deploy("r", "v2", "return {f = function() return 2 end, "
                                          "g = function() return 'g' end}");
    fl__lua_module_unref(v2); /* the set keeps its own */
    CHECK_STR(run_text("r.f", "[]"), "2");
    CHECK_STR(run_text("r.g", "[]"), "\"g\"");
    CHECK_STR(fl__lua_module_version(v1), "v1");
    CHECK_EQ(fl__lua_module_nfn(v1), 1);
    fl__lua_module_unref(v1);
    char *tasks = NULL, *mods = NULL;
    CHECK_EQ(fl__lua_set_describe(set, &tasks, &mods), FL_OK);
    CHECK_CONTAINS(tasks, "r.f,r.g");
    CHECK_CONTAINS(mods, "r@v2");
    fl_free(tasks);
    fl_free(mods);
    CHECK(fl__lua_set_remove(set, "r"));
    CHECK(!fl__lua_set_remove(set, "r"));
    CHECK(starts_with(run_text("r.f", "[]"), "ERR UnknownTask"));
}

static void test_builtin_names_win(void)
{
    /* A registered native task is found before the fallback is asked. */
    CHECK_STR(run_text("add", "[1, 2]"), "3");
    /* chunks' fl.starmap reaches Lua tasks too. */
    CHECK_STR(run_text("fl.starmap", "[\"m.add\", [[1, 2], [3, 4]]]"), "[3,7]");
}

/* Integers beyond 2^53 stay exact through Lua and the built-in arithmetic,
 * or fail saying why; none is rounded to a double. */
static void test_integers_exact(void)
{
    CHECK_STR(run_text("m.add", "[9007199254740992, 1]"), "9007199254740993");
    CHECK_STR(run_text("m.add", "[9223372036854775806, 1]"),
              "9223372036854775807");
    CHECK_STR(run_text("m.echo", "[-9223372036854775808]"),
              "[-9223372036854775808]");
    CHECK_CONTAINS(run_text("m.echo", "[123456789012345678901]"),
                   "the integer 123456789012345678901, beyond Lua's 64-bit "
                   "integers");
    CHECK_STR(run_text("add", "[9007199254740992, 1]"), "9007199254740993");
    CHECK_STR(run_text("mul", "[3, 3074457345618258602]"),
              "9223372036854775806");
    CHECK_STR(run_text("xsum", "[[9007199254740993, 2, -1]]"),
              "9007199254740994");
    CHECK_STR(run_text("add", "[1e300, 1]"), "1e+300");
    CHECK_STR(run_text("add", "[0.5, 2]"), "2.5");
    CHECK_STR(run_text("add", "[9223372036854775807, 1]"),
              "ERR OverflowError: add(): 9223372036854775807 + 1 is beyond a "
              "64-bit integer (-2^63 to 2^63-1)");
    CHECK_STR(run_text("mul", "[-4294967296, 4294967296]"),
              "ERR OverflowError: mul(): -4294967296 * 4294967296 is beyond a "
              "64-bit integer (-2^63 to 2^63-1)");
    CHECK_STR(run_text("add", "[1, 18446744073709551616]"),
              "ERR OverflowError: add(): argument 2 (18446744073709551616) is "
              "an integer beyond 64 bits, which it cannot add or multiply "
              "exactly");
    CHECK_STR(run_text("xsum", "[[1, 2, 9223372036854775807]]"),
              "ERR OverflowError: xsum(): the sum is beyond a 64-bit integer "
              "(-2^63 to 2^63-1) at element 3 of argument 1 "
              "(9223372036854775807)");
    CHECK_STR(run_text("xsum", "[[1, 99999999999999999999]]"),
              "ERR OverflowError: xsum(): element 2 of argument 1 "
              "(99999999999999999999) is an integer beyond 64 bits, which it "
              "cannot add or multiply exactly");
}

static const char gc_src[] =
    "local M = {}\n"
    "local loop = function() while true do end end\n"
    "function M.set() setmetatable({}, {__gc = loop}) return 1 end\n"
    "function M.placeholder() setmetatable({}, {__gc = false}) return 1 end\n"
    "function M.errobj() error(setmetatable({}, {__gc = loop})) end\n"
    "function M.late()\n"
    "  local mt = {}\n"
    "  local t = setmetatable({}, mt)\n"
    "  mt.__gc = loop\n"
    "  t = nil\n"
    "  for i = 1, 20000 do local x = {i, ('y'):rep(64)} end\n"
    "  return 'late'\n"
    "end\n"
    "function M.plain() return getmetatable(setmetatable({}, {__index = {}})) ~= nil end\n"
    "return M\n";

static void test_no_finalizers(void)
{
    fl__lua_module_unref(deploy("g", "v1", gc_src));
    const char *want = "ERR LuaError: lua task g.set: g:3: setmetatable: a metatable "
                       "with __gc is not allowed";
    const char *got = run_text("g.set", "[]");
    if (!starts_with(got, want))
        T_FAILED("got '%s', want '%s...'", got, want);
    t_checks++;
    CHECK(starts_with(run_text("g.placeholder", "[]"), "ERR LuaError: lua task g.placeholder"));
    CHECK(starts_with(run_text("g.errobj", "[]"), "ERR LuaError: lua task g.errobj: g:5: setmetatable"));
    /* A __gc added after setmetatable does not mark the object: collecting
     * it runs nothing, and the slot goes on. */
    CHECK_STR(run_text("g.late", "[]"), "\"late\"");
    CHECK_STR(run_text("g.late", "[]"), "\"late\"");
    CHECK_STR(run_text("g.plain", "[]"), "true");
    CHECK_STR(run_text("m.add", "[1, 1]"), "2");
    /* Nor at a module's top level. */
    const char *top = "setmetatable({}, {__gc = function() while true do end end})\n"
                      "return {f = function() return 1 end}\n";
    char err[512] = "";
    fl_lua_module *m = NULL;
    CHECK_EQ(fl__lua_module_new("top", "v", top, strlen(top), fl__lua_set_limits(set),
                                &m, err, sizeof err), FL_EINVAL);
    CHECK_CONTAINS(err, "__gc is not allowed");
    CHECK(fl__lua_set_remove(set, "g"));
}

static void test_string_metatable_is_read_only(void)
{
    fl__lua_module_unref(deploy("s1", "v1",
        "return {poison = function()\n"
        "  local mt = getmetatable('')\n"
        "  if type(mt) == 'table' then mt.__index = {upper = function() return 'PWNED' end} end\n"
        "  string.upper = function() return 'PWNED' end\n"
        "  return type(mt)\n"
        "end}\n"));
    fl__lua_module_unref(deploy("s2", "v1",
        "return {up = function() return ('x'):upper() .. string.upper('y') end}\n"));
    CHECK_STR(run_text("s1.poison", "[]"), "\"boolean\"");
    CHECK_STR(run_text("s2.up", "[]"), "\"XY\"");
    CHECK(fl__lua_set_remove(set, "s1"));
    CHECK(fl__lua_set_remove(set, "s2"));
}

static void test_json_counts_against_the_cap(void)
{
    /* 3 MiB of \x01 is 18 MiB of JSON: past the 8 MiB cap, refused before
     * it is escaped. */
    fl__lua_module_unref(deploy("j", "v1",
        "return {esc = function() return ('\\1'):rep(3 * 1024 * 1024) end,\n"
        "        fits = function() return ('a'):rep(1000000) end,\n"
        "        many = function() local t = {} for i = 1, 200000 do t[i] = '\\1\\1\\1\\1' end "
        "return t end}\n"));
    const char *got = run_text("j.esc", "[]");
    CHECK(starts_with(got, "ERR MemoryLimitExceeded: lua task j.esc: memory cap of 8388608"));
    got = run_text("j.many", "[]");
    CHECK(starts_with(got, "ERR MemoryLimitExceeded: lua task j.many"));
    fl_outcome o = run_task("j.fits", "[]", "{}", NULL);
    CHECK(o.ok);
    CHECK_EQ(o.value_len, 1000002);
    fl_outcome_clear(&o);
    CHECK(fl__lua_set_remove(set, "j"));
}

/* The soft time limit is a SoftTimeLimitExceeded error the task can catch
 * (raised once), and fails the task with that type when it does not. */
static void test_soft_time_limit(void)
{
    fl__lua_module_unref(deploy("soft", "v1",
        "local M = {}\n"
        "function M.caught()\n"
        "  local ok, e = pcall(function() while true do end end)\n"
        "  return {ok, e, e == floret.SoftTimeLimitExceeded}\n"
        "end\n"
        "function M.uncaught() while true do end end\n"
        "function M.rethrown()\n"
        "  local ok, e = pcall(function() while true do end end)\n"
        "  error(e)\n"
        "end\n"
        "function M.quick() return 7 end\n"
        "return M\n"));
    soft_now = false;
    CHECK_STR(run_text("soft.quick", "[]"), "7");
    soft_now = true;
    CHECK_STR(run_text("soft.caught", "[]"),
              "[false,\"SoftTimeLimitExceeded: the task ran past its soft time "
              "limit\",true]");
    const char *got = run_text("soft.uncaught", "[]");
    CHECK(starts_with(got, "ERR SoftTimeLimitExceeded: lua task soft.uncaught: "
                           "SoftTimeLimitExceeded: the task ran past"));
    got = run_text("soft.rethrown", "[]");
    CHECK(starts_with(got, "ERR SoftTimeLimitExceeded: lua task soft.rethrown: "));
    /* A task that returns before the hook looks is not told. */
    CHECK_STR(run_text("soft.quick", "[]"), "7");
    soft_now = false;
    got = run_text("soft.caught", "[]");
    CHECK(starts_with(got, "ERR StepLimitExceeded"));
    CHECK(fl__lua_set_remove(set, "soft"));
}

int main(void)
{
    fl_lua_limits lim = {.mem_bytes = 8u << 20, .steps = 2000000};
    set = fl__lua_set_new(&lim);
    slot = fl__lua_slot_new(set);
    reg = fl_registry_new();
    if (!set || !slot || !reg || fl_register_builtins(reg) != FL_OK)
        return 1;
    fl_lua_module *m = deploy("m", "v1", good_src);
    fl__lua_module_unref(m);
    RUN(test_values);
    RUN(test_sandbox);
    RUN(test_failures_then_next);
    RUN(test_bad_modules);
    RUN(test_redeploy);
    RUN(test_builtin_names_win);
    RUN(test_integers_exact);
    RUN(test_no_finalizers);
    RUN(test_string_metatable_is_read_only);
    RUN(test_json_counts_against_the_cap);
    RUN(test_soft_time_limit);
    fl__lua_slot_free(slot);
    fl__lua_set_free(set);
    fl_registry_free(reg);
    return TEST_DONE();
}
