/*
 * world.h - the state of one simulated run, shared by world.c (nodes,
 * events, faults) and check.c (the invariants judged at the end).
 * Depends on the simulator's headers and src/core/core.h.
 */
#ifndef SIM_WORLD_H
#define SIM_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "core.h"
#include "events.h"
#include "rng.h"
#include "sim.h"
#include "workflows.h"
#include "workload.h"

typedef struct world world;

/* A job handed to the simulator by a worker core. Kept until the run ends
 * so stale events can still look at it safely. */
typedef struct sim_job {
    fl_job *job;          /* owned by the core; NULL once answered */
    int node;
    uint64_t gen;         /* node generation that ran it */
    uint64_t start, done_at, elapsed;
    uint64_t token;       /* the JOB_DONE event that counts */
    uint32_t limit_ms;
    bool timed_out;       /* ran into its time limit or was cancelled */
    bool cancelled;       /* the core called cancel on it */
    bool waiting;         /* queued behind busy slots, not started yet */
    bool finished;        /* answered with fl_core_job_done */
    bool vanished;        /* its node crashed first */
    fl_outcome out;
    struct sim_job *next;      /* all jobs of the run */
    struct sim_job *next_wait; /* the node's executor queue */
} sim_job;

typedef struct sim_node {
    world *w;
    int index;            /* also its broker session */
    char id[16];
    int client;           /* index among clients, -1 for a worker */
    uint32_t slots;
    char tasks[64];       /* --mixed: the tasks it runs ("" = all) */
    size_t max_message;   /* --mixed: its limit (0 = the default) */
    fl_core *core;        /* NULL while crashed */
    uint64_t inc;
    uint64_t gen;         /* bumped at every crash and start */
    bool connected;
    bool dying;           /* inside fl_core_free: callbacks are ignored */
    uint64_t tick_at;     /* the tick booked on the clock */
    uint64_t tick_window; /* start of the current virtual second */
    uint32_t ticks_in_window;
    uint64_t started, done; /* jobs of this incarnation */
    uint64_t done_cancelled; /* answered after the core cancelled them */
    uint32_t busy;          /* slots running a job */
    bool reconnect_due;     /* wants its connection once the broker is up */
    sim_job *wait_head, *wait_tail; /* jobs handed over beyond the slots */
    uint64_t conns;         /* connections made, counting every incarnation */
    uint64_t work_at;       /* its last `work` announcement (0: none) */
    uint64_t work_conn;     /* ... made during connection number conns */
} sim_node;

/* A task a workflow's owner queued for one of its members, recognised
 * when a worker runs it (its id comes from the owner's counter, unseen by
 * the simulator until then). */
typedef struct sim_member {
    int client;
    uint64_t id;
    char name[16];
    uint32_t executions;
} sim_member;

typedef enum sim_phase {
    SIM_PHASE_RUN,      /* tasks are submitted and run, faults happen */
    SIM_PHASE_DRAIN,    /* every final is in; workers finish what they hold */
    SIM_PHASE_SHUTDOWN  /* every node stops gracefully */
} sim_phase;

struct world {
    sim_params p;
    fl_rng rng;
    sim_events ev;
    sim_broker *br;
    const fl_registry *reg;
    sim_node *nodes;      /* workers first, then clients */
    int nnodes;
    sim_task *tasks;
    sim_task **index;     /* (client, id) -> task, open addressing */
    size_t index_cap;
    sim_job *jobs;
    int nsubmitted, nfinals;
    sim_workflow *wfs;    /* p.workflows per client, client by client */
    int nwfs, nwf_applied, nwf_finals;
    sim_member *members;  /* (client, id) -> member runs, open addressing */
    size_t members_cap, nmembers;
    uint64_t wf_lost;     /* workflows failed by a member lost to faults */
    int alive_workers;
    uint64_t crashes, disconnects, events;
    uint64_t work_published;  /* `work` announcements, every owner */
    /* Revokes (protocol.md 3.13) a worker core has received: (worker,
     * client, task id), to check that nothing runs after its revoke. */
    struct sim_revoked { int node; int client; uint64_t id; } *revoked;
    size_t nrevoked, revoked_cap;
    uint64_t revokes_cancelled;  /* running jobs a revoke cancelled */
    bool broker_down;     /* between a broker restart's down and up */
    int restarts_left;
    uint64_t by_type[16];  /* events handled, per SIM_EV_ kind */
    sim_phase phase;
    uint64_t phase_at, finished_at;
    bool failed;
    char why[1024];
};

/* Record the first broken invariant (later ones are ignored). */
void sim_fail(world *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

sim_task *sim_find_task(world *w, int client, uint64_t id);

/* True when the run may lose a task's lease or outcome: message loss,
 * crashes, disconnects, or deliveries so late that leases expire. Only then
 * are WorkerLost and extra runs legal. */
bool sim_lossy(const sim_params *p);

/* True when the only loss is broker restarts: every lease and outcome they
 * lose must then be recovered by reconciliation, none by a lease expiring. */
bool sim_only_restarts(const sim_params *p);

/* canvas_check.c */
bool sim_workflows_setup(world *w);
void sim_workflows_free(world *w);
sim_workflow *sim_find_workflow(world *w, int client, uint64_t id);
bool sim_member_run(world *w, sim_node *n, int client, const fl_job *job);
void sim_workflow_final(world *w, sim_node *n, sim_workflow *f,
                        const fl_final *fin);
void sim_check_workflows_missing(world *w);
void sim_check_workflows_end(world *w);
/* Client c's workflows, the member tasks seen running, those its
 * workflows queue on a network that loses nothing, and member runs. */
void sim_workflow_counts(world *w, int c, uint64_t *wfs, uint64_t *seen,
                         uint64_t *planned, uint64_t *runs);

/* check.c */
void sim_check_incarnation(world *w, sim_node *n);
void sim_check_missing(world *w);
void sim_check_end_of_run(world *w);
void sim_check_after_shutdown(world *w);
void sim_print_summary(world *w);

#endif
