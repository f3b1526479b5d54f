/*
 * lua_runtime.h - hot-deployed Lua 5.4 tasks, sandboxed. A module is Lua
 * source that returns a table of functions; each function `fn` of module
 * `m` is the task `m.fn`. Modules are immutable, reference-counted
 * versions kept in a thread-safe set; each executor slot owns one Lua
 * state and (re)loads a module into it when the set holds a newer version,
 * so a redeploy never disturbs a task that is already running.
 *
 * The sandbox: no io, os, package, require, debug, coroutine, load,
 * dofile/loadfile, binary chunks or string.dump; an instruction budget and
 * a memory cap per call. docs/tasks.md is the user's guide.
 * Depends on the public header and pthreads (the module set's lock); the
 * .c files also on liblua5.4 and the core's alloc.h/buf.h.
 */
#ifndef FL_LUA_RUNTIME_H
#define FL_LUA_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floret/floret.h"

#define FL_LUA_DEFAULT_MEM (64u * 1024u * 1024u) /* bytes per Lua state */
#define FL_LUA_DEFAULT_STEPS 100000000ull        /* VM instructions per call */
#define FL_LUA_DEFAULT_LOAD_MS 5000u               /* a module's top level */
#define FL_LUA_MAX_MODULE_NAME 32                /* [A-Za-z0-9_-] */
#define FL_LUA_MAX_SOURCE (1024u * 1024u)        /* bytes of source */

typedef struct fl_lua_limits {
    size_t mem_bytes; /* 0 = FL_LUA_DEFAULT_MEM */
    uint64_t steps;   /* 0 = FL_LUA_DEFAULT_STEPS */
} fl_lua_limits;

/* A module name: 1..32 bytes of [A-Za-z0-9_-] (no dot: tasks are m.fn). */
bool fl__lua_valid_module_name(const char *name);

/* ------------------------------------------------------------- a module */

typedef struct fl_lua_module fl_lua_module;

/*
 * Check and wrap one version of module name: the source is compiled as
 * text (binary chunks refused) and run once in a fresh sandbox under lim,
 * and must return a table whose values are functions with names of
 * [A-Za-z_][A-Za-z0-9_]* (the task names are name.fn, at most 64 bytes).
 * The source is copied. *out has one reference. FL_OK; FL_EINVAL with the
 * reason in err (syntax error with its line, runtime error, not a table,
 * bad function name...); FL_ETOOBIG (source too long); FL_ENOMEM.
 */
fl_status fl__lua_module_new(const char *name, const char *version,
                             const char *src, size_t len,
                             const fl_lua_limits *lim, fl_lua_module **out,
                             char *err, size_t errlen);
/* The same from a module already checked elsewhere (a deploy check's
 * child, or the node for a task child): fns are its function names, and
 * its top-level code is not run here. FL_EINVAL for a bad name or
 * function name, FL_ETOOBIG, FL_ENOMEM. */
fl_status fl__lua_module_make(const char *name, const char *version,
                              const char *src, size_t len,
                              const char *const *fns, size_t nfn,
                              fl_lua_module **out);
void fl__lua_module_ref(fl_lua_module *m);
void fl__lua_module_unref(fl_lua_module *m);
const char *fl__lua_module_name(const fl_lua_module *m);
const char *fl__lua_module_version(const fl_lua_module *m);
/* The module's functions, sorted by name. */
size_t fl__lua_module_nfn(const fl_lua_module *m);
const char *fl__lua_module_fn(const fl_lua_module *m, size_t i);
bool fl__lua_module_has_fn(const fl_lua_module *m, const char *fn);
/* The source (NUL-terminated; *len its length). */
const char *fl__lua_module_source(const fl_lua_module *m, size_t *len);

/* ----------------------------------------------------- the current set */

typedef struct fl_lua_set fl_lua_set;

/* NULL when out of memory. lim is copied (NULL: defaults). */
fl_lua_set *fl__lua_set_new(const fl_lua_limits *lim);
void fl__lua_set_free(fl_lua_set *s);
const fl_lua_limits *fl__lua_set_limits(const fl_lua_set *s);
/* Make m the current version of its module (the set takes a reference;
 * the old version lives on while running tasks hold it). FL_OK/FL_ENOMEM. */
fl_status fl__lua_set_put(fl_lua_set *s, fl_lua_module *m);
/* Drop module name; false when it was not there. */
bool fl__lua_set_remove(fl_lua_set *s, const char *name);
/* The current version of module name with a new reference, or NULL. */
fl_lua_module *fl__lua_set_get(fl_lua_set *s, const char *name);
/* Bumped by every put and remove. */
uint64_t fl__lua_set_generation(fl_lua_set *s);
/*
 * For presence: every task name "m.fn" and every module "m@version",
 * comma-separated, sorted by module. Caller frees both with fl_free.
 * FL_OK or FL_ENOMEM.
 */
fl_status fl__lua_set_describe(fl_lua_set *s, char **tasks, char **modules);

/* ------------------------------------------------- one executor's state */

typedef struct fl_lua_slot fl_lua_slot;

/* NULL when out of memory. The set must outlive the slot. */
fl_lua_slot *fl__lua_slot_new(fl_lua_set *set);
void fl__lua_slot_free(fl_lua_slot *slot);

/*
 * An fl_task_fn (ud is the slot) that runs the task named by ctx: "m.fn"
 * in the current version of module m. Unknown names fail with UnknownTask;
 * a Lua error, budget, memory cap or a result JSON cannot hold fail with
 * LuaError, StepLimitExceeded, MemoryLimitExceeded or ValueError, the
 * message naming module, function and reason. The slot rebuilds its state
 * after any failure, so one bad call never spoils the next.
 */
void fl__lua_slot_run(fl_task_ctx *ctx, void *slot);

#endif
