/*
 * lua_convert.h - JSON values to Lua values and back. Arguments arrive as
 * fl_value (arrays become sequences, objects tables with string keys, null
 * the light userdata floret.null); a task's return value is written as
 * JSON text, refusing what JSON cannot hold with the path to the culprit
 * ("result.rows[3]: a function"). Internal to src/runtime/lua/.
 * Depends on liblua5.4, the public header and the core's buf.h.
 */
#ifndef FL_LUA_CONVERT_H
#define FL_LUA_CONVERT_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

#include "buf.h"
#include "floret/floret.h"

/* Push v (NULL pushes floret.null). May raise a Lua error (memory); call
 * it inside a protected call. */
void fl__lua_push_value(lua_State *L, const fl_value *v);

/*
 * Append the Lua value at idx to out as JSON. false when it cannot be
 * written: err gets "PATH: reason" (path starts with `what`, e.g.
 * "result"). max bounds the text's length, checked before a string is
 * escaped (so a string is never expanded past it); *too_big (when not
 * NULL) says whether that was the reason. Never raises for a value it
 * refuses, but may raise a Lua memory error.
 */
bool fl__lua_to_json(lua_State *L, int idx, const char *what, fl_buf *out,
                     size_t max, char *err, size_t errlen, bool *too_big);

#endif
