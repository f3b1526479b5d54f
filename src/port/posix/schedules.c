/*
 * schedules.c - the public calls on periodic workflows kept by a durable
 * keeper (fl_node_schedule_add, _list, _remove; docs/schedules.md): each
 * is a handle that the loop turns into a `schedule` request
 * (docs/protocol.md 3.16) and that ends with the keeper's answer.
 * Depends on posix.h (the node, its loop's inbox) and the public API.
 */
#include "posix.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "codec.h"

static char *dup_opt(const char *s, bool *oom)
{
    char *d = s ? fl__strdup(s) : NULL;
    if (s && !d)
        *oom = true;
    return d;
}

static fl_status request(fl_node *node, const char *keeper, const char *op,
                         const char *name, const char *cron,
                         const char *canvas, fl_result **out)
{
    bool oom = false;
    fl_result *r = fl__result_new();
    if (!r)
        return FL_ENOMEM;
    r->node = node;
    r->remote_owner = dup_opt(keeper, &oom);
    r->sched_op = dup_opt(op, &oom);
    r->sched_name = dup_opt(name, &oom);
    r->sched_cron = dup_opt(cron, &oom);
    r->canvas = dup_opt(canvas, &oom);
    if (oom) {
        fl__result_unref(r);
        fl__result_unref(r);
        return FL_ENOMEM;
    }
    fl_status st = fl__node_hand_over(node, r);
    if (st == FL_OK)
        *out = r;
    return st;
}

static fl_status check_common(fl_node *node, const char *keeper,
                              fl_result **out)
{
    if (!node || !out)
        return FL_EINVAL;
    *out = NULL;
    if (keeper && !fl__valid_id(keeper))
        return FL_EINVAL;
    if (atomic_load(&node->phase) != FL_NODE_RUNNING)
        return FL_ESTATE;
    return FL_OK;
}

fl_status fl_node_schedule_add(fl_node *node, const char *keeper,
                               const char *name, const char *cron,
                               const fl_canvas *canvas, fl_result **out)
{
    char err[200], who[sizeof ((fl_peer *)0)->id];
    fl_status st = check_common(node, keeper, out);
    if (st != FL_OK)
        return st;
    if (!name || !fl__valid_id(name)) {
        fl__plog(&node->log, FL_LOG_ERROR, "schedule name: expected 1 to %d "
                 "bytes of [A-Za-z0-9_.-]", FL_MAX_ID);
        return FL_EINVAL;
    }
    if (fl_schedule_check(cron, 0, NULL, err, sizeof err) != FL_OK) {
        fl__plog(&node->log, FL_LOG_ERROR, "%s", err);
        return FL_EINVAL;
    }
    if (!canvas || fl_canvas_error(canvas)) {
        fl__plog(&node->log, FL_LOG_ERROR, "cannot schedule the canvas: %s",
                 canvas ? fl_canvas_error(canvas) : "none given");
        return FL_EINVAL;
    }
    if (!keeper) {
        st = fl__node_pick_keeper(node, NULL, true, who, sizeof who);
        if (st != FL_OK)
            return st;
        keeper = who;
    }
    return request(node, keeper, "add", name, cron, fl_canvas_json(canvas), out);
}

fl_status fl_node_schedule_list(fl_node *node, const char *keeper,
                                fl_result **out)
{
    fl_status st = check_common(node, keeper, out);
    if (st != FL_OK)
        return st;
    if (!keeper)
        return FL_EINVAL;
    return request(node, keeper, "list", NULL, NULL, NULL, out);
}

fl_status fl_node_schedule_remove(fl_node *node, const char *keeper,
                                  const char *name, fl_result **out)
{
    fl_status st = check_common(node, keeper, out);
    if (st != FL_OK)
        return st;
    if (!keeper || !name || !fl__valid_id(name))
        return FL_EINVAL;
    return request(node, keeper, "remove", name, NULL, NULL, out);
}
