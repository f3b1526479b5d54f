/*
 * workflows.h - the simulator's Canvas workflows and their oracle: the
 * examples of Celery's Canvas guide and Broccoli's README, nested forms
 * and failing ones, each as canvas JSON with the final it must end with,
 * and the record of what happened to each applied workflow.
 * Depends on the public header only.
 */
#ifndef SIM_WORKFLOWS_H
#define SIM_WORKFLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floret/floret.h"

typedef struct sim_wf_kind {
    const char *name;         /* short label for traces and failures */
    const char *canvas;       /* canvas JSON (docs/canvas.md) */
    fl_state want_state;      /* FL_SUCCESS or FL_FAILURE */
    const char *want_value;   /* JSON the final's value must equal, or NULL */
    const char *want_err;     /* FAILURE: the error type */
    const char *want_msg[2];  /* FAILURE: what the message must contain */
    uint32_t member_runs;     /* member tasks that run on a clean network */
} sim_wf_kind;

/* The catalogue, in the fixed order workflows are drawn from. */
size_t sim_wf_kinds(void);
const sim_wf_kind *sim_wf_kind_at(size_t i);

/* One workflow a client applies during a run. */
typedef struct sim_workflow {
    int client;
    const sim_wf_kind *kind;
    bool applied;
    uint64_t id;
    uint64_t applied_at;
    uint32_t finals;
    fl_state final_state;
} sim_workflow;

/* Whether name is a task that some workflow's members run as. */
bool sim_wf_member_name(const char *name);

/*
 * Judge a workflow's final against its kind. lossy: the run loses
 * messages or nodes, so a member may legally end as WorkerLost, which
 * fails the workflow with an error naming that member. Returns false and
 * writes why when the final is wrong.
 */
bool sim_workflow_check_final(const sim_workflow *f, fl_state state,
                              const fl_value *value, const char *err_type,
                              const char *err_message, bool lossy, char *why,
                              size_t whylen);

#endif
