/*
 * args.c - checks of task arguments given by a local caller (fl_node_call,
 * the floret command), so a bad argument is refused where it was typed,
 * with a reason, instead of failing later on a worker.
 * Depends on hosted.h and codec.h.
 */
#include "hosted.h"

#include "codec.h"

fl_status fl_json_check(const char *json, size_t len, int want, char *err,
                         size_t errlen)
{
    return fl__check_json(json, len, want, err, errlen);
}
