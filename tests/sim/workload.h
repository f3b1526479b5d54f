/*
 * workload.h - the simulator's tasks and their oracle: what each generated
 * task is (name, args, options), the outcome it must end with, and the
 * record of what actually happened to it (executions, finals, retries).
 * Depends on sim.h, src/core/rng.h and the public header.
 */
#ifndef SIM_WORKLOAD_H
#define SIM_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "defaults.h"
#include "floret/floret.h"
#include "rng.h"
#include "sim.h"

typedef struct sim_task {
    /* what is submitted */
    int client;              /* index of the submitting client */
    char name[16];
    char args[512];
    char kwargs[64];
    fl_call_options opt;
    char route[16];          /* opt.route points here when set */
    bool revoke;             /* the client will try to revoke it */
    bool revoke_at_run;      /* ... also right after a worker starts it */

    /* what must come out (when not lost to faults or revoked) */
    fl_state want_state;
    char want_err[32];       /* FAILURE: the error type */
    char want_value[512];    /* SUCCESS: JSON of the value */
    uint32_t want_runs;      /* exact runs on a fault-free network; 0 = any */
    bool never_runs;         /* no node runs it: it must never run at all */
    bool unplaced;           /* failed: its route matched no online node */

    /* what happened */
    bool submitted;
    uint64_t id;
    uint64_t submitted_at;
    uint32_t executions;
    uint32_t finals;
    uint32_t retries_seen;   /* RETRY state notifications */
    bool revoke_requested, revoke_ok;
    fl_state final_state;
    char final_err[FL_MAX_ERROR_TYPE + 1];
} sim_task;

/* Fill t with a random task for client, routed (sometimes) to one of the
 * workers "w0".."w<workers-1>". */
void sim_task_make(sim_task *t, fl_rng *rng, int client, int workers);

/* Runs a task may start: its max_attempts, or when unset the default
 * plus its retries. */
uint32_t sim_task_max_runs(const sim_task *t);

/*
 * Judge a final against the oracle. lossy: the run loses messages or
 * nodes, so WorkerLost is a legal end. Returns false and writes why when
 * the final is wrong.
 */
bool sim_task_check_final(const sim_task *t, fl_state state,
                          const fl_value *value, const char *err_type,
                          uint32_t attempts, bool lossy, char *why,
                          size_t whylen);

/* Structural equality of a value and JSON text (numbers compared exactly). */
bool sim_value_equals_json(const fl_value *v, const char *json);

#endif
