/*
 * lua_sandbox.c - one sandboxed Lua state (see lua_sandbox.h). The state
 * gets only base, string, table, math and utf8; from base, nothing that
 * loads code or touches the outside (dofile, loadfile, load, require,
 * print, collectgarbage), and string.dump is removed from the string table
 * itself, since every string reaches it through its metatable. coroutine
 * is left out because the count hook is per coroutine: a script could run
 * unbudgeted inside one. Each module sees its own environment table.
 * Lua runs finalizers with hooks off, so a __gc that loops would escape
 * the budget for good: setmetatable refuses a metatable with a __gc field
 * (the only way a script can mark an object for finalization). The string
 * metatable, shared by every module in the state, is hidden behind
 * __metatable, so no module can change how another's strings behave.
 * Depends on lua_sandbox.h, liblua5.4 and the C library.
 */
#include "lua_sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#define HOOK_EVERY 1000 /* instructions between two budget checks */
#define ENV_TEMPLATE "floret.env"

/* The base functions a module may use. */
static const char *const safe_base[] = {
    "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall",
    "rawequal", "rawget", "rawlen", "rawset", "select", "setmetatable",
    "tonumber", "tostring", "type", "xpcall", "_VERSION", NULL,
};

/* Library tables copied into each environment. */
static const char *const safe_libs[] = {"string", "table", "math", "utf8", NULL};

/* Globals of the state itself that no environment copies, cleared anyway
 * so a mistake in the environment code cannot expose them. */
static const char *const removed[] = {
    "dofile", "loadfile", "load", "require", "print", "collectgarbage", NULL,
};

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    fl_lua_sb *sb = ud;
    size_t old = ptr ? osize : 0; /* without ptr, osize is a type tag */
    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        return NULL;
    }
    if (nsize > old && sb->used - old + nsize > sb->limit) {
        sb->over_mem = true;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    sb->used = sb->used - old + nsize;
    return p;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    void *ud = NULL;
    (void)ar;
    lua_getallocf(L, &ud);
    fl_lua_sb *sb = ud;
    if (sb->steps_left > HOOK_EVERY)
        sb->steps_left -= HOOK_EVERY;
    else
        sb->over_steps = true;
    if (sb->ctx && fl_task_cancelled(sb->ctx))
        sb->cancelled = true;
    if (sb->over_steps || sb->cancelled) {
        /* From now on every instruction fails, so a pcall in the script
         * cannot swallow the error and carry on. */
        lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, sb->cancelled ? "cancelled" : "instruction budget exceeded");
    }
    /* Celery's SoftTimeLimitExceeded: raised once, and unlike the above
     * the script may catch it (pcall) to clean up and return. */
    if (sb->ctx && !sb->soft_raised && fl_task_soft_expired(sb->ctx)) {
        sb->soft_raised = true;
        lua_pushliteral(L, FL_LUA_SOFT_ERROR);
        lua_error(L);
    }
}

/* setmetatable without finalizers: upvalue 1 is the real one. */
static int safe_setmetatable(lua_State *L)
{
    lua_settop(L, 2);
    lua_pushliteral(L, "__gc");
    if (lua_type(L, 2) == LUA_TTABLE && lua_rawget(L, 2) != LUA_TNIL)
        return luaL_error(L, "setmetatable: a metatable with __gc is not allowed "
                          "(finalizers would run outside the instruction budget)");
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

static int open_libs(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},      {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {NULL, NULL},
    };
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    /* getmetatable("") gives false, not the table behind every string. */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, safe_setmetatable, 1);
    lua_setglobal(L, "setmetatable");
    for (const char *const *n = removed; *n; n++) {
        lua_pushnil(L);
        lua_setglobal(L, *n);
    }
    /* The template every module environment is copied from. */
    lua_newtable(L);
    for (const char *const *n = safe_base; *n; n++) {
        lua_getglobal(L, *n);
        lua_setfield(L, -2, *n);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, ENV_TEMPLATE);
    return 0;
}

fl_status fl__lua_sb_open(fl_lua_sb *sb, const fl_lua_limits *lim)
{
    memset(sb, 0, sizeof *sb);
    sb->limit = lim && lim->mem_bytes ? lim->mem_bytes : FL_LUA_DEFAULT_MEM;
    sb->budget = lim && lim->steps ? lim->steps : FL_LUA_DEFAULT_STEPS;
    sb->L = lua_newstate(sb_alloc, sb);
    if (!sb->L)
        return FL_ENOMEM;
    lua_pushcfunction(sb->L, open_libs);
    if (lua_pcall(sb->L, 0, 0, 0) != LUA_OK) {
        fl__lua_sb_close(sb);
        return FL_ENOMEM;
    }
    lua_sethook(sb->L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
    return FL_OK;
}

void fl__lua_sb_close(fl_lua_sb *sb)
{
    if (!sb->L)
        return;
    /* Finalizers (__gc) run at close: give them a budget of their own. */
    fl__lua_sb_arm(sb, NULL);
    lua_close(sb->L);
    sb->L = NULL;
}

void fl__lua_sb_arm(fl_lua_sb *sb, fl_task_ctx *ctx)
{
    sb->steps_left = sb->budget;
    sb->over_steps = sb->over_mem = sb->cancelled = sb->soft_raised = false;
    sb->ctx = ctx;
    lua_sethook(sb->L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
}

/* A shallow copy of the table at idx, pushed. */
static void copy_table(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -4);
    }
}

/* Push a new environment for one module: safe base functions, copies of
 * the safe libraries, _G pointing to itself, and the floret table. */
static int push_env(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, ENV_TEMPLATE);
    copy_table(L, -1);
    lua_remove(L, -2);
    for (const char *const *n = safe_libs; *n; n++) {
        lua_getglobal(L, *n);
        copy_table(L, -1);
        lua_setfield(L, -3, *n);
        lua_pop(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");
    lua_newtable(L);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_pushliteral(L, FL_LUA_SOFT_ERROR);
    lua_setfield(L, -2, FL_LUA_SOFT_PREFIX);
    lua_newtable(L);
    lua_setfield(L, -2, "kwargs");
    lua_setfield(L, -2, "floret");
    return 1;
}

/* Protected body of fl__lua_sb_load: [src, len, name] as upvalue-free
 * arguments: lightuserdata src, integer len, string name. */
static int load_body(lua_State *L)
{
    const char *src = lua_touserdata(L, 1);
    size_t len = (size_t)lua_tointeger(L, 2);
    const char *name = lua_tostring(L, 3);
    char chunk[FL_LUA_MAX_MODULE_NAME + 2];
    snprintf(chunk, sizeof chunk, "=%s", name);
    if (luaL_loadbufferx(L, src, len, chunk, "t") != LUA_OK)
        return lua_error(L);
    push_env(L);
    lua_pushvalue(L, -1);
    lua_insert(L, -3); /* env, chunk, env */
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1); /* a chunk always has _ENV; be safe anyway */
    lua_call(L, 0, 1);
    lua_insert(L, -2); /* result, env */
    return 2;
}

int fl__lua_sb_load(fl_lua_sb *sb, const char *name, const char *src,
                    size_t len, char *err, size_t errlen)
{
    lua_State *L = sb->L;
    fl__lua_sb_arm(sb, NULL);
    lua_pushcfunction(L, load_body);
    lua_pushlightuserdata(L, (void *)src);
    lua_pushinteger(L, (lua_Integer)len);
    lua_pushstring(L, name);
    int st = lua_pcall(L, 3, 2, 0);
    if (st != LUA_OK) {
        const char *type = fl__lua_sb_failure(sb, st, err, errlen);
        (void)type;
    }
    return st;
}

const char *fl__lua_sb_failure(fl_lua_sb *sb, int status, char *why,
                               size_t cap)
{
    const char *msg = lua_type(sb->L, -1) == LUA_TSTRING ? lua_tostring(sb->L, -1)
                                                         : "(error object is not a string)";
    const char *type = "LuaError";
    if (sb->cancelled) {
        type = "Cancelled";
        snprintf(why, cap, "cancelled (time limit or shutdown)");
    } else if (sb->over_steps) {
        type = "StepLimitExceeded";
        snprintf(why, cap, "instruction budget of %llu steps exceeded",
                 (unsigned long long)sb->budget);
    } else if (status == LUA_ERRMEM || sb->over_mem) {
        type = "MemoryLimitExceeded";
        snprintf(why, cap, "memory cap of %zu bytes exceeded", sb->limit);
    } else if (sb->soft_raised && strstr(msg, FL_LUA_SOFT_PREFIX ":")) {
        /* Not caught, or raised again (error(e) adds where). */
        type = FL_LUA_SOFT_PREFIX;
        snprintf(why, cap, "%s", msg);
    } else {
        snprintf(why, cap, "%s", msg);
    }
    lua_pop(sb->L, 1);
    return type;
}
