/*
 * view.h - what the monitor subcommands (status, dashboard) know of the
 * cluster: every node's presence and latest stats (docs/protocol.md 3.11),
 * a short history of its counters for rates and charts, and the recent
 * task events and failures. Fed by a monitor node's observe callback (on
 * its loop thread) and by fl_node_peers; read by any thread under its lock.
 * Depends on the public header and pthreads.
 */
#ifndef FLORET_CLI_VIEW_H
#define FLORET_CLI_VIEW_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floret/floret.h"

#define VIEW_MAX_NODES 256
#define VIEW_TASKS 32
#define VIEW_RUNNING 16
#define VIEW_HISTORY 150   /* samples per node: 5 minutes at 2 s */
#define VIEW_EVENTS 64
#define VIEW_FAILURES 32

struct view_task {
    char name[72];
    uint64_t executed, failed, busy_us;
};

struct view_running {
    char task[72], owner[72];
    uint64_t id, ms;
};

/* One sample of a node's counters, when it arrived (wall ms). */
struct view_sample {
    uint64_t at, executed, failed, busy_us;
};

struct view_node {
    char id[72];
    bool has_presence;
    fl_peer p;                /* its presence (p.online) */
    uint64_t offline_since;   /* wall ms this view saw it go offline; 0 */
    bool has_stats;
    uint64_t stats_at;        /* wall ms the last stats arrived here */
    uint64_t ts;              /* its own clock when sent (0: none) */
    uint64_t inc, uptime_ms, period_ms, slots;
    bool events;
    uint64_t bad_messages;
    uint64_t last_ms, last_executed, last_failed, last_busy_us;
    uint64_t executed, succeeded, failed, retried, busy_us, queued, running_n;
    uint64_t o_submitted, o_finished, o_ready, o_delayed, o_leased;
    uint64_t o_requeued, o_retried, o_revoked;
    struct view_task tasks[VIEW_TASKS];
    size_t ntasks;
    struct view_running running[VIEW_RUNNING];
    size_t nrunning;
    struct view_sample hist[VIEW_HISTORY]; /* ring */
    size_t nhist;
};

struct view_event {
    uint64_t at;              /* wall ms it arrived */
    char node[72], type[16], task[72], owner[72];
    uint64_t id, attempt, runtime_us;
    char err_type[72], err_message[260];
};

struct view {
    pthread_mutex_t mu;
    struct view_node *nodes;  /* VIEW_MAX_NODES */
    size_t n;
    struct view_event events[VIEW_EVENTS];   /* ring */
    size_t nevents;
    struct view_event failures[VIEW_FAILURES]; /* ring */
    size_t nfailures;
    uint64_t events_seen;
};

int view_init(struct view *v);
void view_free(struct view *v);

/* The fl_observe_fn of a monitor node (ud: the view). */
void view_on_report(void *ud, const char *node, const char *kind,
                    const fl_value *msg);

/* Merge the node's current peers (fl_node_peers) into the view, skipping
 * self (the monitor's own id). */
void view_update_peers(struct view *v, fl_node *node, const char *self);

/* Under the view's lock. */
void view_lock(struct view *v);
void view_unlock(struct view *v);

/* The tasks per second the node ran in its last stats period (0 when
 * unknown), and the share of its slots' time spent running tasks then. */
double view_rate(const struct view_node *n);
double view_busy(const struct view_node *n);

/* When the node was last known alive (wall ms): its last stats' own time,
 * else when they arrived here; 0 when it never sent any. */
uint64_t view_last_seen(const struct view_node *n);

/* Sort the nodes by id. */
void view_sort(struct view *v);

#endif
