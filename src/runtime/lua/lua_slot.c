/*
 * lua_slot.c - one executor slot's Lua state and the running of a Lua task
 * in it (see lua_runtime.h). The slot loads a module into its state the
 * first time one of its tasks runs, and again when the set holds another
 * version; a task in flight keeps its version through its own reference.
 * After any failure the whole state is dropped and rebuilt on the next
 * call: a script that ran out of memory or budget may have left it in any
 * condition.
 * Depends on lua_runtime.h, lua_sandbox.h, lua_convert.h, the core's
 * alloc.h/buf.h, liblua5.4.
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "alloc.h"
#include "buf.h"
#include "lua_convert.h"
#include "lua_runtime.h"
#include "lua_sandbox.h"

#define MAX_LOADED 64
#define MODS_KEY "floret.mods" /* registry: module name -> its table */
#define ENVS_KEY "floret.envs" /* registry: module name -> its environment */

typedef struct loaded {
    char name[FL_LUA_MAX_MODULE_NAME + 1];
    fl_lua_module *m;
} loaded;

struct fl_lua_slot {
    fl_lua_set *set;
    fl_lua_sb sb;
    uint64_t generation; /* of the set when last pruned */
    loaded mods[MAX_LOADED];
    size_t n;
};

fl_lua_slot *fl__lua_slot_new(fl_lua_set *set)
{
    fl_lua_slot *slot = fl__calloc(1, sizeof *slot);
    if (slot)
        slot->set = set;
    return slot;
}

static void reset(fl_lua_slot *slot)
{
    fl__lua_sb_close(&slot->sb);
    for (size_t i = 0; i < slot->n; i++)
        fl__lua_module_unref(slot->mods[i].m);
    slot->n = 0;
}

void fl__lua_slot_free(fl_lua_slot *slot)
{
    if (!slot)
        return;
    reset(slot);
    fl__free(slot);
}

static int make_tables(lua_State *L)
{
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, MODS_KEY);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, ENVS_KEY);
    return 0;
}

static fl_status ensure_open(fl_lua_slot *slot)
{
    if (slot->sb.L)
        return FL_OK;
    fl_status st = fl__lua_sb_open(&slot->sb, fl__lua_set_limits(slot->set));
    if (st != FL_OK)
        return st;
    lua_pushcfunction(slot->sb.L, make_tables);
    if (lua_pcall(slot->sb.L, 0, 0, 0) != LUA_OK) {
        fl__lua_sb_close(&slot->sb);
        return FL_ENOMEM;
    }
    return FL_OK;
}

/* Drop modules whose version is no longer current. */
static void prune(fl_lua_slot *slot)
{
    uint64_t g = fl__lua_set_generation(slot->set);
    if (g == slot->generation)
        return;
    slot->generation = g;
    for (size_t i = 0; i < slot->n;) {
        fl_lua_module *cur = fl__lua_set_get(slot->set, slot->mods[i].name);
        fl__lua_module_unref(cur); /* only compared, never used */
        if (cur == slot->mods[i].m) {
            i++;
            continue;
        }
        fl__lua_module_unref(slot->mods[i].m);
        slot->mods[i] = slot->mods[--slot->n];
    }
}

/* Protected: registry[key][name] = the value on top of the stack. */
static int store_body(lua_State *L)
{
    const char *key = lua_tostring(L, 1);
    const char *name = lua_tostring(L, 2);
    lua_getfield(L, LUA_REGISTRYINDEX, key);
    lua_pushvalue(L, 3);
    lua_setfield(L, -2, name);
    return 0;
}

static int store(lua_State *L, const char *key, const char *name)
{
    lua_pushcfunction(L, store_body);
    lua_pushstring(L, key);
    lua_pushstring(L, name);
    lua_rotate(L, -4, -1); /* fn, key, name, value */
    return lua_pcall(L, 3, 0, 0);
}

/* Make m's current version the one loaded in the state. */
static fl_status load_module(fl_lua_slot *slot, fl_lua_module *m, char *err,
                             size_t errlen)
{
    const char *name = fl__lua_module_name(m);
    size_t i = 0, len;
    const char *src = fl__lua_module_source(m, &len);
    while (i < slot->n && strcmp(slot->mods[i].name, name) != 0)
        i++;
    if (i < slot->n && slot->mods[i].m == m)
        return FL_OK;
    if (i == slot->n && slot->n == MAX_LOADED)
        reset(slot); /* rare: many modules came and went */
    if (ensure_open(slot) != FL_OK) {
        snprintf(err, errlen, "cannot create a Lua state (memory cap %zu bytes)",
                 fl__lua_set_limits(slot->set)->mem_bytes);
        return FL_ENOMEM;
    }
    if (fl__lua_sb_load(&slot->sb, name, src, len, err, errlen) != LUA_OK)
        return FL_EINVAL;
    if (store(slot->sb.L, ENVS_KEY, name) != LUA_OK ||
        store(slot->sb.L, MODS_KEY, name) != LUA_OK) {
        snprintf(err, errlen, "out of memory loading module %s", name);
        return FL_ENOMEM;
    }
    fl__lua_module_ref(m);
    if (i < slot->n) {
        fl__lua_module_unref(slot->mods[i].m);
    } else {
        i = slot->n++;
        snprintf(slot->mods[i].name, sizeof slot->mods[i].name, "%s", name);
    }
    slot->mods[i].m = m;
    return FL_OK;
}

/* ------------------------------------------------------------- the call */

typedef struct call_req {
    fl_lua_sb *sb;
    fl_task_ctx *ctx;
    const char *mod, *fn;
    size_t max;
    fl_buf json;
    const char *att;  /* the second result, valid until the next call */
    size_t att_len;
    bool refused;     /* the result could not be converted */
    bool over_mem;    /* ... because its JSON text passed the memory cap */
    char err[512];
} call_req;

/* Fill the module's floret table for this call. */
static void set_context(lua_State *L, call_req *r)
{
    size_t att_len = 0;
    const void *att = fl_task_attachment(r->ctx, &att_len);
    lua_getfield(L, LUA_REGISTRYINDEX, ENVS_KEY);
    lua_getfield(L, -1, r->mod);
    lua_getfield(L, -1, "floret");
    if (!lua_istable(L, -1)) { /* the script replaced it: give it back */
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "floret");
    }
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    fl__lua_push_value(L, fl_task_kwargs(r->ctx));
    lua_setfield(L, -2, "kwargs");
    if (att)
        lua_pushlstring(L, att, att_len);
    else
        lua_pushnil(L);
    lua_setfield(L, -2, "attachment");
    lua_pushstring(L, fl_task_name(r->ctx));
    lua_setfield(L, -2, "task");
    lua_pushinteger(L, (lua_Integer)fl_task_attempt(r->ctx));
    lua_setfield(L, -2, "attempt");
    lua_pushstring(L, fl_task_node(r->ctx));
    lua_setfield(L, -2, "node");
    lua_pop(L, 3);
}

static int call_body(lua_State *L)
{
    call_req *r = lua_touserdata(L, 1);
    const fl_value *args = fl_task_args(r->ctx);
    size_t n = fl_value_count(args);
    set_context(L, r);
    lua_getfield(L, LUA_REGISTRYINDEX, MODS_KEY);
    lua_getfield(L, -1, r->mod);
    lua_getfield(L, -1, r->fn);
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "%s.%s is no longer a function in its module table",
                          r->mod, r->fn);
    if (n > 10000 || !lua_checkstack(L, (int)n + 8))
        return luaL_error(L, "too many arguments (%d)", (int)n);
    for (const fl_value *a = fl_value_first(args); a; a = fl_value_next(a))
        fl__lua_push_value(L, a);
    lua_call(L, (int)n, 2);
    /* The result's JSON text counts against the memory cap too: it may
     * take what the state leaves of it. */
    r->max = r->sb->limit > r->sb->used ? r->sb->limit - r->sb->used : 0;
    if (!fl__lua_to_json(L, -2, "result", &r->json, r->max, r->err, sizeof r->err,
                         &r->over_mem)) {
        r->refused = true;
        return 0;
    }
    if (lua_type(L, -1) == LUA_TSTRING) {
        r->att = lua_tolstring(L, -1, &r->att_len);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "floret.att"); /* keep it alive */
    } else if (!lua_isnil(L, -1)) {
        snprintf(r->err, sizeof r->err, "second result (the attachment) must be a "
                 "string, not %s", luaL_typename(L, -1));
        r->refused = true;
    }
    return 0;
}

static void fail(fl_task_ctx *ctx, const char *type, const char *mod,
                 const char *fn, const char *why)
{
    fl_task_fail(ctx, type, false, "lua task %s.%s: %s", mod, fn, why);
}

/* Run r in the slot's state; the outcome goes to r->ctx. */
static void call(fl_lua_slot *slot, call_req *r)
{
    lua_State *L = slot->sb.L;
    char why[600];
    fl__lua_sb_arm(&slot->sb, r->ctx);
    lua_pushcfunction(L, call_body);
    lua_pushlightuserdata(L, r);
    int st = lua_pcall(L, 1, 0, 0);
    if (st != LUA_OK) {
        const char *type = fl__lua_sb_failure(&slot->sb, st, why, sizeof why);
        fail(r->ctx, type, r->mod, r->fn, why);
        reset(slot);
        return;
    }
    if (r->refused && r->over_mem) {
        snprintf(why, sizeof why, "memory cap of %zu bytes exceeded (the Lua state "
                 "and the result's JSON text)", slot->sb.limit);
        fail(r->ctx, "MemoryLimitExceeded", r->mod, r->fn, why);
        return;
    }
    if (r->refused) {
        fail(r->ctx, "ValueError", r->mod, r->fn, r->err);
        return;
    }
    if (!fl__buf_ok(&r->json)) {
        fail(r->ctx, "MemoryError", r->mod, r->fn, "out of memory");
        return;
    }
    if (fl_task_return_json(r->ctx, r->json.data, r->json.len) == FL_OK && r->att)
        if (fl_task_return_attachment(r->ctx, r->att, r->att_len) != FL_OK)
            fail(r->ctx, "ResultTooBig", r->mod, r->fn, "attachment too big");
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "floret.att");
}

void fl__lua_slot_run(fl_task_ctx *ctx, void *ud)
{
    fl_lua_slot *slot = ud;
    const char *name = fl_task_name(ctx);
    const char *dot = strchr(name, '.');
    char mod[FL_LUA_MAX_MODULE_NAME + 1], err[600];
    fl_lua_module *m = NULL;

    if (dot && (size_t)(dot - name) <= FL_LUA_MAX_MODULE_NAME) {
        snprintf(mod, sizeof mod, "%.*s", (int)(dot - name), name);
        m = fl__lua_set_get(slot->set, mod);
    }
    if (!m || !fl__lua_module_has_fn(m, dot + 1)) {
        fl_task_fail(ctx, "UnknownTask", false, "no task named '%s' on node %s", name,
                     fl_task_node(ctx));
        fl__lua_module_unref(m);
        return;
    }
    prune(slot);
    fl_status st = load_module(slot, m, err, sizeof err);
    if (st != FL_OK) {
        fail(ctx, st == FL_ENOMEM ? "MemoryLimitExceeded" : "LuaError", mod, dot + 1, err);
        reset(slot);
        fl__lua_module_unref(m);
        return;
    }
    call_req r = {.sb = &slot->sb, .ctx = ctx, .mod = mod, .fn = dot + 1};
    fl__buf_init(&r.json);
    call(slot, &r);
    fl__buf_free(&r.json);
    fl__lua_module_unref(m);
}
