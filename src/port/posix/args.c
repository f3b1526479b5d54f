/*
 * args.c - checks of task arguments given by a local caller (fl_node_call,
 * the floret command), so a bad argument is refused where it was typed,
 * with a reason, instead of failing later on a worker.
 * Depends on hosted.h, codec.h and rate.h.
 */
#include "hosted.h"

#include <string.h>

#include "codec.h"
#include "rate.h"

fl_status fl_json_check(const char *json, size_t len, int want, char *err,
                         size_t errlen)
{
    return fl__check_json(json, len, want, err, errlen);
}

bool fl_rate_limit_valid(const char *spec)
{
    fl_rate_spec r;
    return spec && fl__rate_parse(spec, strlen(spec), &r);
}
