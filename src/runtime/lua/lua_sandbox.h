/*
 * lua_sandbox.h - one sandboxed Lua state: a counting allocator that
 * enforces the memory cap, a count hook that enforces the instruction
 * budget (and notices cancellation), and per-module environments that hold
 * only the safe parts of the standard library. Internal to
 * src/runtime/lua/. Depends on liblua5.4 and lua_runtime.h.
 */
#ifndef FL_LUA_SANDBOX_H
#define FL_LUA_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "lua_runtime.h"

/* The error a Lua task gets at its soft time limit (a string, so that
 * pcall returns it and tostring shows it); its prefix is the error type
 * the task fails with when it does not catch it. */
#define FL_LUA_SOFT_PREFIX "SoftTimeLimitExceeded"
#define FL_LUA_SOFT_ERROR \
    FL_LUA_SOFT_PREFIX ": the task ran past its soft time limit"

typedef struct fl_lua_sb {
    lua_State *L;
    size_t used;          /* bytes the state holds now */
    size_t limit;         /* the memory cap */
    uint64_t budget;      /* instructions per call */
    uint64_t steps_left;  /* in the current call */
    bool over_steps;      /* the current call ran out of instructions */
    bool over_mem;        /* an allocation was refused in the current call */
    bool cancelled;       /* the task was cancelled during the call */
    bool soft_raised;     /* SoftTimeLimitExceeded was raised in the call */
    fl_task_ctx *ctx;     /* the running task (cancellation), or NULL */
} fl_lua_sb;

/* A new state with the safe libraries. FL_OK or FL_ENOMEM. sb must not
 * move while open (the allocator and hook point to it). */
fl_status fl__lua_sb_open(fl_lua_sb *sb, const fl_lua_limits *lim);
void fl__lua_sb_close(fl_lua_sb *sb);

/* Start a call (module load or task): full budget, flags cleared. */
void fl__lua_sb_arm(fl_lua_sb *sb, fl_task_ctx *ctx);

/*
 * Compile src (text only) as module name with a fresh environment, run it
 * under the budget and leave what it returned and then its environment on
 * the stack (LUA_OK: two values, the environment on top), or
 * leave nothing and write why into err (any other status).
 */
int fl__lua_sb_load(fl_lua_sb *sb, const char *name, const char *src,
                    size_t len, char *err, size_t errlen);

/*
 * Why the last protected call failed, as an error type and a reason:
 * StepLimitExceeded, MemoryLimitExceeded, Cancelled, SoftTimeLimitExceeded
 * (the error the soft time limit raised, not caught) or LuaError (with the
 * Lua message, which must be on top of the stack; it is popped).
 */
const char *fl__lua_sb_failure(fl_lua_sb *sb, int status, char *why,
                               size_t cap);

#endif
