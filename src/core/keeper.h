/*
 * keeper.h - what a keeper (a node that owns workflows handed to it with
 * `submit`, docs/protocol.md 3.8) holds of each one, shared by keeper.c
 * (the protocol side) and kept.c (the records a driver journals).
 * Depends on internal.h.
 */
#ifndef FL_KEEPER_H
#define FL_KEEPER_H

#include "internal.h"

typedef struct fl_waiter {
    char client[FL_MAX_ID_BUF];
    uint64_t rid;
    struct fl_waiter *next;
} fl_waiter;

typedef struct fl_hosted {
    uint64_t kid;               /* the id clients see: KEEPER:kid */
    uint64_t wid;               /* the core's workflow id while it runs; 0
                                 * when it has not been started (yet) */
    char client[FL_MAX_ID_BUF]; /* who submitted it */
    uint64_t rid;               /* the submitter's request id */
    char *canvas;               /* canvas JSON until it ends (to resume) */
    bool ended;
    uint64_t ended_at;          /* core time; 0: stamped at the next prune */
    fl_state state;             /* PENDING, STARTED, RETRY, then the final */
    char *value_json;           /* SUCCESS; a failed group's partial list */
    char *err_type, *err_message;
    char node[FL_MAX_ID_BUF];   /* the worker last heard of ("" none) */
    uint32_t attempts;          /* leases of its tasks so far */
    uint64_t submitted_ms, started_ms, ended_ms; /* wall clock, 0 unknown */
    fl_waiter *waiters;
    char sched[FL_MAX_ID_BUF];  /* the schedule that started it ("" none) */
    struct fl_hosted *next;     /* all hosted, newest first */
} fl_hosted;

/* keeper.c */
void fl__hosted_free(fl_hosted *h);
/* Link h (with kid set) into the lists and maps. false: out of memory. */
bool fl__hosted_link(fl_core *c, fl_hosted *h);
/* Start h's canvas as a workflow of ours. FL_OK, or as fl_core_apply. */
fl_status fl__hosted_start(fl_core *c, fl_hosted *h, uint64_t now,
                           char *err, size_t errlen);
/* Keep h, started: journal its acceptance (and its end, if it already
 * ended) before anyone hears of it, then link it. On failure the workflow
 * is revoked and h freed, and *journaled says whether the journal took it
 * (false: the journal failed; true: out of memory). */
bool fl__hosted_keep(fl_core *c, fl_hosted *h, uint64_t now, bool *journaled);
uint64_t fl__keeper_wall_ms(fl_core *c);

/* kept.c: hand the driver the record of a change (before a client hears
 * of it). false when the driver could not store it. Without a journal,
 * true. */
bool fl__kept_accepted(fl_core *c, const fl_hosted *h);
bool fl__kept_started(fl_core *c, const fl_hosted *h);
bool fl__kept_ended(fl_core *c, const fl_hosted *h);

/* schedule.c: periodic workflows, journaled with the rest. */
typedef struct fl_sched fl_sched;
/* A "sched" or "unsched" record (type) read back from the journal. */
fl_status fl__sched_load(fl_core *c, const char *type, const fl_value *v,
                         char *err, size_t errlen);
/* An accepted workflow the journal says schedule `name` started. */
void fl__sched_ran(fl_core *c, const char *name, uint64_t kid, uint64_t ms);
/* After loading: each schedule's next fire (a missed one fires at once). */
void fl__sched_resume(fl_core *c);
/* A "sched" record per schedule, for a compacted journal. */
bool fl__sched_dump(fl_core *c, bool (*fn)(void *, const char *, size_t),
                    void *ud);
size_t fl__sched_count(const fl_core *c);
void fl__sched_free(fl_core *c);

#endif
