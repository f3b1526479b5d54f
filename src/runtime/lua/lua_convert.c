/*
 * lua_convert.c - JSON values to Lua and Lua values to JSON text (see
 * lua_convert.h). A Lua table is a JSON array when its keys are exactly
 * 1..n, an object when they are all strings, and an empty table is an
 * empty object (as lua-cjson does); anything else is refused with the path
 * to it, never guessed.
 * Depends on lua_convert.h, defaults.h (depth limit), liblua5.4.
 */
#include "lua_convert.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "defaults.h"

/* ------------------------------------------------------------ JSON -> Lua */

void fl__lua_push_value(lua_State *L, const fl_value *v)
{
    size_t len = 0;
    const char *s;
    double x;
    int i = 0;

    if (!lua_checkstack(L, 4))
        luaL_error(L, "arguments nested too deep");
    switch (fl_value_type(v)) {
    case FL_TYPE_NULL:
        lua_pushlightuserdata(L, NULL);
        break;
    case FL_TYPE_BOOL:
        lua_pushboolean(L, fl_value_bool(v));
        break;
    case FL_TYPE_NUMBER: {
        /* Integers as Lua integers (64 bits), exactly; one beyond them
         * would be rounded as a float, so it is refused instead. */
        int64_t n;
        if (fl_value_int64(v, &n)) {
            lua_pushinteger(L, (lua_Integer)n);
        } else if (fl_value_is_integer(v)) {
            char *digits = fl_value_to_json(v, NULL);
            lua_pushfstring(L, "an argument holds the integer %s, beyond "
                            "Lua's 64-bit integers", digits ? digits : "?");
            fl_free(digits);
            lua_error(L);
        } else {
            x = fl_value_number(v);
            lua_pushnumber(L, x);
        }
        break;
    }
    case FL_TYPE_STRING:
        s = fl_value_string(v, &len);
        lua_pushlstring(L, s, len);
        break;
    case FL_TYPE_ARRAY:
        lua_createtable(L, (int)fl_value_count(v), 0);
        for (const fl_value *m = fl_value_first(v); m; m = fl_value_next(m)) {
            fl__lua_push_value(L, m);
            lua_rawseti(L, -2, ++i);
        }
        break;
    case FL_TYPE_OBJECT:
        lua_createtable(L, 0, (int)fl_value_count(v));
        for (const fl_value *m = fl_value_first(v); m; m = fl_value_next(m)) {
            fl__lua_push_value(L, m);
            lua_setfield(L, -2, fl_value_key(m));
        }
        break;
    }
}

/* ------------------------------------------------------------ Lua -> JSON */

typedef struct conv {
    lua_State *L;
    fl_buf *out;
    size_t max;
    char path[192];
    size_t plen;
    char *err;
    size_t errlen;
    bool too_big;
} conv;

static bool refuse(conv *c, const char *fmt, const char *detail)
{
    char reason[160];
    snprintf(reason, sizeof reason, fmt, detail);
    snprintf(c->err, c->errlen, "%s: %s", c->path, reason);
    return false;
}

/* Append ".key" or "[i]" to the path; returns the old length to restore. */
static size_t path_push(conv *c, const char *key, lua_Integer i)
{
    size_t old = c->plen;
    int n;
    if (key)
        n = snprintf(c->path + c->plen, sizeof c->path - c->plen, ".%.40s", key);
    else
        n = snprintf(c->path + c->plen, sizeof c->path - c->plen, "[%lld]", (long long)i);
    if (n > 0)
        c->plen += (size_t)n < sizeof c->path - c->plen ? (size_t)n
                                                         : sizeof c->path - 1 - c->plen;
    return old;
}

static void path_pop(conv *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

static bool valid_utf8(const char *s, size_t len)
{
    size_t used;
    for (size_t i = 0; i < len; i += used)
        if (!fl__utf8_next((const unsigned char *)s + i, len - i, &used))
            return false;
    return true;
}

static bool put_string(conv *c, int idx)
{
    size_t len;
    const char *s = lua_tolstring(c->L, idx, &len);
    if (!valid_utf8(s, len))
        return refuse(c, "%s", "a string that is not valid UTF-8 (return bytes as "
                                "the second value: the result attachment)");
    /* The most its escaped form can take (a control byte as \u00XX), so
     * that a string is never expanded beyond the cap before it is refused. */
    size_t most = len + 2;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        most += b < 0x20 ? 5 : (b == '"' || b == '\\');
    }
    if (most > c->max || c->out->len > c->max - most) {
        c->too_big = true;
        return refuse(c, "%s", "the result is too big");
    }
    fl__buf_put_jstr(c->out, s, len);
    return true;
}

static bool put_number(conv *c, int idx)
{
    if (lua_isinteger(c->L, idx)) {
        lua_Integer i = lua_tointeger(c->L, idx);
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%lld", (long long)i);
        fl__buf_puts(c->out, tmp);
        return true;
    }
    double x = lua_tonumber(c->L, idx);
    if (isnan(x) || isinf(x))
        return refuse(c, "%s", isnan(x) ? "NaN (JSON has no NaN)"
                                        : "an infinity (JSON has no infinity)");
    fl__buf_put_double(c->out, x);
    return true;
}

static bool put_value(conv *c, int idx, int depth);

/* What kind of table is at idx: 'a' array of n, 'o' object, or 0 after
 * refusing it. */
static char table_kind(conv *c, int idx, lua_Integer *n)
{
    lua_State *L = c->L;
    lua_Integer count = 0, max = 0;
    bool ints = false, strs = false;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        lua_pop(L, 1);
        count++;
        if (kt == LUA_TSTRING) {
            strs = true;
        } else if (kt == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0) {
            ints = true;
            if (lua_tointeger(L, -1) > max)
                max = lua_tointeger(L, -1);
        } else {
            lua_pop(L, 1);
            return refuse(c, "a table with a key of type %s (JSON keys are strings; "
                          "arrays are indexed 1..n)", kt == LUA_TNUMBER ? "non-positive "
                          "or fractional number" : lua_typename(L, kt)), 0;
        }
    }
    if (ints && strs)
        return refuse(c, "%s", "a table mixing array items and string keys"), 0;
    if (ints && max != count)
        return refuse(c, "%s", "a sparse array (keys are not exactly 1..n)"), 0;
    *n = count;
    return ints ? 'a' : 'o';
}

static bool put_table(conv *c, int idx, int depth)
{
    lua_State *L = c->L;
    lua_Integer n = 0;
    if (depth >= FL_MAX_DEPTH)
        return refuse(c, "nested deeper than %s levels (a table that contains itself?)",
                      "32");
    if (!lua_checkstack(L, 6))
        return refuse(c, "%s", "out of Lua stack");
    char kind = table_kind(c, idx, &n);
    if (!kind)
        return false;
    if (kind == 'a') {
        fl__buf_putc(c->out, '[');
        for (lua_Integer i = 1; i <= n; i++) {
            if (i > 1)
                fl__buf_putc(c->out, ',');
            lua_rawgeti(L, idx, i);
            size_t old = path_push(c, NULL, i);
            bool ok = put_value(c, lua_gettop(L), depth + 1);
            path_pop(c, old);
            lua_pop(L, 1);
            if (!ok)
                return false;
        }
        fl__buf_putc(c->out, ']');
        return true;
    }
    bool first = true;
    fl__buf_putc(c->out, '{');
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *key = lua_tostring(L, -2); /* a string: no conversion */
        size_t old = path_push(c, key, 0);
        bool ok = true;
        if (!first)
            fl__buf_putc(c->out, ',');
        first = false;
        ok = put_string(c, lua_gettop(L) - 1);
        if (ok) {
            fl__buf_putc(c->out, ':');
            ok = put_value(c, lua_gettop(L), depth + 1);
        }
        path_pop(c, old);
        lua_pop(L, 1);
        if (!ok) {
            lua_pop(L, 1);
            return false;
        }
    }
    fl__buf_putc(c->out, '}');
    return true;
}

static bool put_value(conv *c, int idx, int depth)
{
    lua_State *L = c->L;
    if (c->out->len > c->max) {
        c->too_big = true;
        return refuse(c, "%s", "the result is too big");
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        fl__buf_puts(c->out, "null");
        return true;
    case LUA_TBOOLEAN:
        fl__buf_puts(c->out, lua_toboolean(L, idx) ? "true" : "false");
        return true;
    case LUA_TNUMBER:
        return put_number(c, idx);
    case LUA_TSTRING:
        return put_string(c, idx);
    case LUA_TTABLE:
        return put_table(c, idx, depth);
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            fl__buf_puts(c->out, "null"); /* floret.null */
            return true;
        }
        return refuse(c, "%s", "a light userdata");
    default:
        return refuse(c, "a %s (not JSON-able)", lua_typename(L, lua_type(L, idx)));
    }
}

bool fl__lua_to_json(lua_State *L, int idx, const char *what, fl_buf *out,
                     size_t max, char *err, size_t errlen, bool *too_big)
{
    conv c = {.L = L, .out = out, .max = max, .err = err, .errlen = errlen};
    snprintf(c.path, sizeof c.path, "%s", what);
    c.plen = strlen(c.path);
    bool ok = put_value(&c, lua_absindex(L, idx), 0);
    if (ok && out->len > max) {
        c.too_big = true;
        ok = refuse(&c, "%s", "the result is too big");
    }
    if (too_big)
        *too_big = c.too_big;
    if (ok && !fl__buf_ok(out)) {
        snprintf(err, errlen, "%s: out of memory", what);
        return false;
    }
    return ok;
}
