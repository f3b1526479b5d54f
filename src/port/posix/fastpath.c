/*
 * fastpath.c - which tasks are quick enough to run on the event-loop
 * thread itself. Handing a 1 us task to an executor thread costs two
 * thread wake-ups (one each way), several times the task; for such tasks
 * the loop is the faster place. A native task qualifies after
 * FAST_MIN_RUNS runs that averaged under FAST_EWMA_US and never took more
 * than FAST_MAX_US; one run over FAST_MAX_US disqualifies it for good, so
 * a task that can be slow stays on the executors. Tasks with a time limit
 * and tasks not in the native registry (Lua, whose states belong to the
 * executor threads) never qualify. Loop thread only.
 * Depends on posix.h, alloc.h, map.h (the hash), registry.h.
 */
#include "posix.h"

#include <string.h>

#include "alloc.h"
#include "map.h"
#include "registry.h"

#define FAST_MIN_RUNS 16
#define FAST_EWMA_US 20.0
#define FAST_MAX_US 1000u

/* The entry for name, created if absent; NULL when full or out of memory. */
static fl_taskstat *lookup(fl_fastpath *fp, const char *name, bool create)
{
    if (!fp->slots) {
        if (!create)
            return NULL;
        fp->slots = fl__calloc(FL_FASTPATH_SLOTS, sizeof *fp->slots);
        if (!fp->slots)
            return NULL;
    }
    size_t mask = FL_FASTPATH_SLOTS - 1;
    for (size_t i = (size_t)fl__hash_bytes(name, strlen(name), 0) & mask, k = 0;
         k < FL_FASTPATH_SLOTS; i = (i + 1) & mask, k++) {
        fl_taskstat *t = &fp->slots[i];
        if (t->name[0] && strcmp(t->name, name) == 0)
            return t;
        if (!t->name[0]) {
            if (!create || strlen(name) >= sizeof t->name)
                return NULL;
            memcpy(t->name, name, strlen(name) + 1);
            return t;
        }
    }
    return NULL;
}

bool fl__fastpath_ok(fl_fastpath *fp, const fl_registry *reg, const fl_job *job)
{
    if (job->time_limit_ms || job->soft_time_limit_ms || !reg ||
        !fl__registry_find(reg, job->name))
        return false;
    const fl_taskstat *t = lookup(fp, job->name, false);
    return t && !t->slow && t->runs >= FAST_MIN_RUNS && t->ewma_us < FAST_EWMA_US;
}

void fl__fastpath_record(fl_fastpath *fp, const char *name, uint64_t run_us)
{
    fl_taskstat *t = lookup(fp, name, true);
    if (!t)
        return;
    if (run_us > FAST_MAX_US)
        t->slow = true;
    t->ewma_us = t->runs ? 0.9 * t->ewma_us + 0.1 * (double)run_us : (double)run_us;
    if (t->runs < UINT32_MAX)
        t->runs++;
}

void fl__fastpath_free(fl_fastpath *fp)
{
    fl__free(fp->slots);
    fp->slots = NULL;
}
