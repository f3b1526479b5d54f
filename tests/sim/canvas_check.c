/*
 * canvas_check.c - the workflow side of a run's invariants. Every workflow
 * a client applies ends with exactly one final that the oracle
 * (workflows.c) accepts; every task an owner queues for a member runs
 * within its attempts, and exactly once when the network loses nothing;
 * an owner queues no member beyond what its workflows hold.
 * Depends on world.h and the C standard library.
 */
#include "world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More leaves than the largest workflow in the catalogue holds. */
#define MAX_MEMBERS_PER_WF 16

bool sim_workflows_setup(world *w)
{
    w->nwfs = w->p.workflows * w->p.clients;
    if (w->nwfs == 0)
        return true;
    w->wfs = calloc((size_t)w->nwfs, sizeof *w->wfs);
    for (w->members_cap = 16;
         w->members_cap < (size_t)w->nwfs * MAX_MEMBERS_PER_WF * 2;)
        w->members_cap *= 2;
    w->members = calloc(w->members_cap, sizeof *w->members);
    if (!w->wfs || !w->members)
        return false;
    /* Round-robin over the catalogue, client after client. */
    for (int i = 0; i < w->nwfs; i++) {
        w->wfs[i].client = i / w->p.workflows;
        w->wfs[i].kind = sim_wf_kind_at((size_t)i);
    }
    return true;
}

void sim_workflows_free(world *w)
{
    free(w->wfs);
    free(w->members);
}

sim_workflow *sim_find_workflow(world *w, int client, uint64_t id)
{
    for (int i = 0; i < w->nwfs; i++)
        if (w->wfs[i].applied && w->wfs[i].client == client &&
            w->wfs[i].id == id)
            return &w->wfs[i];
    return NULL;
}

static sim_member *member_slot(world *w, int client, uint64_t id)
{
    uint64_t h = (id + (uint64_t)client * 0x9E3779B97F4A7C15ull) *
                 0xBF58476D1CE4E5B9ull;
    size_t i = (size_t)(h >> 17) & (w->members_cap - 1);
    for (size_t probes = 0; probes < w->members_cap; probes++) {
        sim_member *m = &w->members[i];
        if (m->executions == 0 || (m->client == client && m->id == id))
            return m;
        i = (i + 1) & (w->members_cap - 1);
    }
    return NULL;
}

static bool client_applied(const world *w, int client)
{
    for (int i = 0; i < w->nwfs; i++)
        if (w->wfs[i].client == client && w->wfs[i].applied)
            return true;
    return false;
}

/* A job that is none of the plain tasks: it must be a member of one of
 * the owner's workflows. Returns false when it cannot be one. */
bool sim_member_run(world *w, sim_node *n, int client, const fl_job *job)
{
    if (!client_applied(w, client) || !sim_wf_member_name(job->name))
        return false;
    if (sim_find_workflow(w, client, job->id)) {
        sim_fail(w, "%s runs workflow %s/%llu as a task %s", n->id,
                 job->owner, (unsigned long long)job->id, job->name);
        return true;
    }
    /* Members have no options: the default attempts apply. */
    uint32_t max = FL_DEFAULT_MAX_ATTEMPTS;
    sim_member *m = member_slot(w, client, job->id);
    if (!m || (m->executions == 0 &&
               w->nmembers + 1 > (size_t)w->nwfs * MAX_MEMBERS_PER_WF)) {
        sim_fail(w, "%s/%llu %s: more member tasks than %d workflows hold",
                 job->owner, (unsigned long long)job->id, job->name, w->nwfs);
        return true;
    }
    if (m->executions == 0) {
        m->client = client;
        m->id = job->id;
        snprintf(m->name, sizeof m->name, "%s", job->name);
        w->nmembers++;
    } else if (strcmp(m->name, job->name) != 0) {
        sim_fail(w, "member task %s/%llu ran as %s, then as %s", job->owner,
                 (unsigned long long)job->id, m->name, job->name);
    }
    m->executions++;
    if (m->executions > max)
        sim_fail(w, "member task %s/%llu (%s) executed %u times, "
                 "max_attempts %u", job->owner, (unsigned long long)job->id,
                 job->name, m->executions, max);
    if (job->attempt < 1 || job->attempt > max)
        sim_fail(w, "member task %s/%llu leased as attempt %u (max %u)",
                 job->owner, (unsigned long long)job->id, job->attempt, max);
    return true;
}

void sim_workflow_final(world *w, sim_node *n, sim_workflow *f,
                        const fl_final *fin)
{
    if (++f->finals > 1) {
        sim_fail(w, "workflow %s/%llu (%s) got %u finals", n->id,
                 (unsigned long long)f->id, f->kind->name, f->finals);
        return;
    }
    w->nwf_finals++;
    f->final_state = fin->state;
    if (fin->state == FL_FAILURE && fin->err_type &&
        strcmp(fin->err_type, "WorkerLost") == 0)
        w->wf_lost++;
    char why[600];
    if (!sim_workflow_check_final(f, fin->state, fin->value, fin->err_type,
                                  fin->err_message, sim_lossy(&w->p), why,
                                  sizeof why))
        sim_fail(w, "workflow %s/%llu %s: %s", n->id,
                 (unsigned long long)f->id, f->kind->name, why);
}

void sim_check_workflows_missing(world *w)
{
    int missing = 0;
    const sim_workflow *first = NULL;
    for (int i = 0; i < w->nwfs; i++) {
        if (w->wfs[i].finals == 0) {
            missing++;
            if (!first)
                first = &w->wfs[i];
        }
    }
    if (first)
        sim_fail(w, "no workflow may be lost: %d of %d workflows have no "
                 "final after %llu s (first: c%d/%llu %s, %s at %.3f s)",
                 missing, w->nwfs,
                 (unsigned long long)(w->p.max_time / SIM_S), first->client,
                 (unsigned long long)first->id, first->kind->name,
                 first->applied ? "applied" : "never applied",
                 (double)first->applied_at / (double)SIM_S);
}

void sim_check_workflows_end(world *w)
{
    for (int i = 0; i < w->nwfs && !w->failed; i++) {
        const sim_workflow *f = &w->wfs[i];
        if (f->finals != 1)
            sim_fail(w, "workflow c%d/%llu %s has %u finals", f->client,
                     (unsigned long long)f->id, f->kind->name, f->finals);
    }
    if (sim_lossy(&w->p))
        return;
    /* Nothing lost, nothing run twice: each member ran once. */
    for (size_t i = 0; i < w->members_cap && !w->failed; i++) {
        const sim_member *m = &w->members[i];
        if (m->executions > 1)
            sim_fail(w, "member task c%d/%llu %s ran %u times on a network "
                     "that loses nothing", m->client,
                     (unsigned long long)m->id, m->name, m->executions);
    }
    for (int c = 0; c < w->p.clients && !w->failed; c++) {
        uint64_t wfs, seen, planned, runs;
        sim_workflow_counts(w, c, &wfs, &seen, &planned, &runs);
        if (seen != planned)
            sim_fail(w, "c%d: %llu member tasks ran, its %llu workflows "
                     "hold %llu that must run", c, (unsigned long long)seen,
                     (unsigned long long)wfs, (unsigned long long)planned);
    }
}

void sim_workflow_counts(world *w, int c, uint64_t *wfs, uint64_t *seen,
                         uint64_t *planned, uint64_t *runs)
{
    *wfs = *seen = *planned = *runs = 0;
    for (int i = 0; i < w->nwfs; i++) {
        if (w->wfs[i].client != c)
            continue;
        (*wfs)++;
        *planned += w->wfs[i].kind->member_runs;
    }
    for (size_t i = 0; i < w->members_cap; i++) {
        const sim_member *m = &w->members[i];
        if (m->executions == 0 || m->client != c)
            continue;
        (*seen)++;
        *runs += m->executions;
    }
}
