/*
 * observe.h - watching a node at work (docs/protocol.md 3.11): the
 * counters it publishes every FL_STATS_MS on node/<id>/stats, the task
 * events it publishes on node/<id>/events while events are on (always, or
 * for as long as a monitor's `watch` asks), and the monitor's side: handing
 * other nodes' stats and events to an observer and asking them for events.
 * The rest of the core calls the fl__obs_* hooks; with events off a hook
 * costs a counter and a branch. Depends on the core's own headers.
 */
#ifndef FL_OBSERVE_H
#define FL_OBSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "defaults.h"
#include "floret/floret.h"

struct fl_core;
struct fl_wjob;
struct fl_otask;
struct fl_outcome;

/* Counters of one task name run by this node. */
typedef struct fl_obs_task {
    char name[FL_MAX_ID_BUF]; /* "" = free */
    uint64_t executed, failed, busy_us;
} fl_obs_task;

/* Another node's stats or events, as received (core.h, fl_core_observe_fn). */
typedef void (*fl__obs_fn)(void *ud, const char *node, const char *kind,
                           const fl_value *msg);

typedef struct fl_obs {
    bool always;            /* events on for good (`floret node -E`) */
    uint64_t events_until;  /* a watch asked for events until then */
    fl_jw ev;               /* the batch of events being written */
    size_t nev;
    uint64_t ev_dropped;    /* events that did not fit (out of memory) */
    uint64_t born;          /* first connection: uptime counts from it */
    uint64_t next_stats;
    uint64_t last_at;       /* the previous stats: when, and its counts */
    uint64_t last_executed, last_failed, last_busy_us;
    fl_obs_task *tasks;     /* FL_STATS_TASKS, allocated on first use */
    size_t hint;            /* the entry the last lookup found */
    /* Monitor side. */
    fl__obs_fn fn;
    void *fn_ud;
    bool watch;             /* ask every node for its events */
    uint64_t next_watch;
} fl_obs;

void fl__obs_init(struct fl_core *c, bool always);
void fl__obs_free(struct fl_core *c);

/* Worker side: a job was queued (after the duplicate check), started, or
 * produced its outcome (run_us: how long it ran). */
void fl__obs_received(struct fl_core *c, const struct fl_wjob *j,
                      uint64_t now);
void fl__obs_started(struct fl_core *c, const struct fl_wjob *j,
                     uint64_t now);
void fl__obs_ended(struct fl_core *c, const struct fl_wjob *j,
                   const struct fl_outcome *out, uint64_t run_us,
                   uint64_t now);

/* Owner side: task t is retried after err_type (worker: who failed it), or
 * revoked. */
void fl__obs_retried(struct fl_core *c, const struct fl_otask *t,
                     const char *worker, const char *err_type,
                     const char *err_message, uint64_t now);
void fl__obs_revoked(struct fl_core *c, const struct fl_otask *t,
                     const char *why, uint64_t now);

/* A `watch` arrived in the inbox. */
void fl__obs_on_watch(struct fl_core *c, const fl_msg *m, uint64_t now);
/* A message on node/<id>/stats or node/<id>/events (kind "stats" or
 * "events") for the observer. */
void fl__obs_on_report(struct fl_core *c, const char *id, const char *kind,
                       const void *payload, size_t len, uint64_t now);
/* Peer id came online: a watching monitor asks it for events at once. */
void fl__obs_peer_online(struct fl_core *c, const char *id, uint64_t now);

/* Connected: subscriptions of a monitor; uptime starts. */
void fl__obs_connected(struct fl_core *c, uint64_t now);
/* Send the batched events. */
void fl__obs_flush(struct fl_core *c, uint64_t now);
/* Publish stats and renew watches when due; the next time it needs. */
uint64_t fl__obs_tick(struct fl_core *c, uint64_t now);

#endif
