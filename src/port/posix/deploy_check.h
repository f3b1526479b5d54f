/*
 * deploy_check.h - running a deployed module's top-level code off the
 * node's loop: in a child process, under the Lua step and memory budget
 * and a wall-clock limit, so that a module whose top level loops, or
 * sticks in one C call, is killed and refused instead of hanging the
 * node (or every node, as a retained deploy at start-up). One thread per
 * node checks deploys one at a time, in the order they came, and hands
 * each result back to the loop. Depends on lua_runtime.h.
 */
#ifndef FL_DEPLOY_CHECK_H
#define FL_DEPLOY_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lua_runtime.h"

/* A finished check, handed to the loop (which frees it). */
typedef struct fl_deploy_checked {
    char module[FL_LUA_MAX_MODULE_NAME + 1];
    char version[65];
    uint64_t ts;           /* of the deploy (replay checks) */
    bool signed_;
    char reply_to[72];     /* the node waiting for an answer, or "" */
    fl_lua_module *mod;    /* accepted (one reference), or NULL: refused */
    char err[600];         /* why it was refused */
    struct fl_deploy_checked *next;
} fl_deploy_checked;

/* Called on the checker's thread with a result it hands over. */
typedef void (*fl_deploy_checked_fn)(void *ud, fl_deploy_checked *c);

typedef struct fl_deploy_checker fl_deploy_checker;

fl_deploy_checker *fl__deploy_checker_new(const fl_lua_limits *lim, uint32_t limit_ms,
                                          fl_deploy_checked_fn done, void *ud);
/* Queue a check of src (copied); reply_to (NULL: none) is handed back
 * with the result. FL_OK, FL_ENOMEM, FL_EIO (no thread). */
fl_status fl__deploy_check(fl_deploy_checker *k, const char *module, const char *version,
                           const void *src, size_t len, uint64_t ts, bool signed_,
                           const char *reply_to);
/*
 * Check one module now, on the calling thread, in a child process: FL_OK
 * and *out (one reference); FL_EINVAL (the module's own error),
 * FL_ETIMEDOUT (past limit_ms: killed), FL_ESTATE (stop(ud) said so),
 * FL_EIO, FL_ENOMEM, each with the reason in err naming the module.
 */
fl_status fl__deploy_check_run(const char *name, const char *version, const char *src,
                               size_t len, const fl_lua_limits *lim, uint32_t limit_ms,
                               bool (*stop)(void *), void *ud, fl_lua_module **out,
                               char *err, size_t errlen);
/* Kill a check under way, drop queued ones, join the thread. */
void fl__deploy_checker_free(fl_deploy_checker *k);
void fl__deploy_checked_free(fl_deploy_checked *c);

#endif
