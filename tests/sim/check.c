/*
 * check.c - the invariants judged over a whole run, after every final is
 * in: no task lost, each run count as the network allows, and the cores'
 * own counters agreeing with what the simulator saw. (Per-event ones --
 * one final per task, right values, run limits, routes, countdowns -- are
 * judged as they happen in world.c; workflows' in canvas_check.c.)
 * Depends on world.h and the C standard library.
 */
#include "world.h"

#include <stdio.h>
#include <string.h>

/* A core's counters against what the simulator saw of this incarnation. */
void sim_check_incarnation(world *w, sim_node *n)
{
    fl_core_stats st;
    if (!n->core)
        return;
    fl_core_stats_get(n->core, &st);
    if (st.bad_messages)
        sim_fail(w, "%s counted %llu bad messages on a network that corrupts "
                 "nothing", n->id, (unsigned long long)st.bad_messages);
    /* Jobs the core cancelled (time limit, owner gone) are not counted. */
    if (st.executed > n->done || st.executed < n->done - n->done_cancelled)
        sim_fail(w, "%s: stats.executed %llu, but the simulator saw %llu "
                 "jobs answered, %llu of them after a cancel", n->id,
                 (unsigned long long)st.executed,
                 (unsigned long long)n->done,
                 (unsigned long long)n->done_cancelled);
    if (st.running > n->started - n->done)
        sim_fail(w, "%s: stats.running %u with %llu jobs out", n->id,
                 st.running, (unsigned long long)(n->started - n->done));
    if (st.submitted != st.finished + st.owned_pending)
        sim_fail(w, "%s: submitted %llu != finished %llu + pending %u", n->id,
                 (unsigned long long)st.submitted,
                 (unsigned long long)st.finished, st.owned_pending);
}

void sim_check_missing(world *w)
{
    int missing = 0;
    const sim_task *first = NULL;
    for (int i = 0; i < w->p.tasks; i++) {
        const sim_task *t = &w->tasks[i];
        if (t->finals == 0) {
            missing++;
            if (!first)
                first = t;
        }
    }
    if (!first) {
        sim_fail(w, "run did not end by %llu s", (unsigned long long)
                 (w->p.max_time / SIM_S));
        return;
    }
    sim_fail(w, "no task may be lost: %d of %d tasks have no final after "
             "%llu s (first: c%d/%llu %s%s, %s, submitted at %.3f s, "
             "%u runs)", missing, w->p.tasks,
             (unsigned long long)(w->p.max_time / SIM_S), first->client,
             (unsigned long long)first->id, first->name, first->args,
             first->submitted ? "submitted" : "never submitted",
             (double)first->submitted_at / (double)SIM_S, first->executions);
}

/* Runs and retries exactly as many as the task asked for, when the network
 * gives no excuse. */
static void check_runs(world *w, const sim_task *t)
{
    if (t->never_runs && t->executions)
        sim_fail(w, "task c%d/%llu %s%s ran %u times on nodes that do not "
                 "run it", t->client, (unsigned long long)t->id, t->name,
                 t->args, t->executions);
    if (sim_lossy(&w->p) || t->revoke_requested || t->unplaced)
        return;
    if (t->want_runs && t->executions != t->want_runs)
        sim_fail(w, "task c%d/%llu %s%s%s ran %u times, expected %u",
                 t->client, (unsigned long long)t->id, t->name, t->args,
                 t->kwargs, t->executions, t->want_runs);
    else if (t->want_runs && t->retries_seen + 1 != t->want_runs)
        sim_fail(w, "task c%d/%llu %s%s%s reported %u retries, expected %u",
                 t->client, (unsigned long long)t->id, t->name, t->args,
                 t->kwargs, t->retries_seen, t->want_runs - 1);
}

static void check_client(world *w, sim_node *n)
{
    uint64_t tasks = 0, finals = 0, runs = 0;
    for (int i = 0; i < w->p.tasks; i++) {
        const sim_task *t = &w->tasks[i];
        if (t->client != n->client)
            continue;
        tasks++;
        finals += t->finals;
        runs += t->executions;
    }
    /* A workflow counts once, and each task queued for one of its members
     * counts as an owned task of its own. Members queued are known exactly
     * only when nothing is lost: a member lost past its attempts ends its
     * workflow before later members are queued. */
    uint64_t wfs, seen, planned, member_runs;
    sim_workflow_counts(w, n->client, &wfs, &seen, &planned, &member_runs);
    uint64_t least = tasks + wfs + (sim_lossy(&w->p) ? seen : planned);
    uint64_t most = tasks + wfs + planned;
    finals += wfs;
    runs += member_runs;
    fl_core_stats st;
    fl_core_stats_get(n->core, &st);
    if (st.submitted < least || st.submitted > most ||
        st.finished != st.submitted || st.owned_pending)
        sim_fail(w, "%s: stats say %llu submitted, %llu finished, %u "
                 "pending; the simulator saw %llu tasks and workflows, "
                 "%llu finals, and %llu to %llu owned tasks in all", n->id,
                 (unsigned long long)st.submitted,
                 (unsigned long long)st.finished, st.owned_pending,
                 (unsigned long long)(tasks + wfs), (unsigned long long)finals,
                 (unsigned long long)least, (unsigned long long)most);
    if (st.leased < runs)
        sim_fail(w, "%s: %llu tasks leased but %llu runs seen", n->id,
                 (unsigned long long)st.leased, (unsigned long long)runs);
    /* What a broker restart loses is found by the owner's check and the
     * workers' holding right after the reconnection, not 30 s later. */
    if (sim_only_restarts(&w->p) && st.expired)
        sim_fail(w, "%s: %llu leases expired after broker restarts that "
                 "reconciliation should have recovered", n->id,
                 (unsigned long long)st.expired);
}

/* With every presence delivered in order, owners know what each worker
 * runs: none is leased a task it must hand back. (Lost or late presences
 * make a worker unknown, and then a hand-back is how the owner learns.) */
static void check_worker(world *w, sim_node *n)
{
    fl_core_stats st;
    fl_core_stats_get(n->core, &st);
    if (w->p.mixed && !sim_lossy(&w->p) && w->p.net.reorder == 0 &&
        st.handed_back)
        sim_fail(w, "%s handed back %llu leases of tasks it does not run, "
                 "with nothing lost", n->id,
                 (unsigned long long)st.handed_back);
}

void sim_check_end_of_run(world *w)
{
    for (int i = 0; i < w->p.tasks && !w->failed; i++) {
        const sim_task *t = &w->tasks[i];
        if (t->finals != 1)
            sim_fail(w, "task c%d/%llu has %u finals", t->client,
                     (unsigned long long)t->id, t->finals);
        check_runs(w, t);
    }
    if (!w->failed)
        sim_check_workflows_end(w);
    for (int i = 0; i < w->nnodes && !w->failed; i++) {
        sim_node *n = &w->nodes[i];
        if (!n->core)
            continue;
        sim_check_incarnation(w, n);
        if (n->client >= 0)
            check_client(w, n);
        else
            check_worker(w, n);
    }
}

void sim_check_after_shutdown(world *w)
{
    for (int i = 0; i < w->nnodes && !w->failed; i++) {
        sim_node *n = &w->nodes[i];
        if (!n->core)
            continue;
        if (!fl_core_stopped(n->core))
            sim_fail(w, "%s is not stopped after shutdown", n->id);
        sim_check_incarnation(w, n);
    }
}

void sim_print_summary(world *w)
{
    sim_broker_stats bs = {0};
    if (w->br)
        sim_broker_stats_get(w->br, &bs);
    printf("seed %llu: %d tasks, %d finals, %d workflows, %d finals (%llu "
           "failed by a lost member), all in at %.3f s, %llu events, "
           "%llu crashes, %llu disconnects, %llu broker restarts\n",
           (unsigned long long)w->p.seed, w->nsubmitted, w->nfinals,
           w->nwf_applied, w->nwf_finals, (unsigned long long)w->wf_lost,
           (double)w->finished_at / (double)SIM_S,
           (unsigned long long)w->events, (unsigned long long)w->crashes,
           (unsigned long long)w->disconnects,
           (unsigned long long)bs.restarts);
    printf("events: %llu deliver, %llu will, %llu tick, %llu job done, "
           "%llu submit, %llu apply, %llu revoke, %llu fault, %llu restart, "
           "%llu reconnect\n",
           (unsigned long long)w->by_type[SIM_EV_DELIVER],
           (unsigned long long)w->by_type[SIM_EV_WILL],
           (unsigned long long)w->by_type[SIM_EV_TICK],
           (unsigned long long)w->by_type[SIM_EV_JOB_DONE],
           (unsigned long long)w->by_type[SIM_EV_SUBMIT],
           (unsigned long long)w->by_type[SIM_EV_APPLY],
           (unsigned long long)w->by_type[SIM_EV_REVOKE],
           (unsigned long long)w->by_type[SIM_EV_FAULT],
           (unsigned long long)w->by_type[SIM_EV_RESTART],
           (unsigned long long)w->by_type[SIM_EV_RECONNECT]);
    printf("announcements: %llu work messages published\n",
           (unsigned long long)w->work_published);
    printf("revokes at workers: %zu task ids, %llu running jobs cancelled\n",
           w->nrevoked, (unsigned long long)w->revokes_cancelled);
    printf("broker: %llu published, %llu delivered, %llu lost, %llu "
           "duplicated, %llu reordered, %llu wills, %llu sent while "
           "offline\n",
           (unsigned long long)bs.published, (unsigned long long)bs.delivered,
           (unsigned long long)bs.lost, (unsigned long long)bs.duplicated,
           (unsigned long long)bs.reordered, (unsigned long long)bs.wills,
           (unsigned long long)bs.dropped_offline);
    for (int i = 0; i < w->nnodes; i++) {
        sim_node *n = &w->nodes[i];
        fl_core_stats st;
        if (!n->core)
            continue;
        fl_core_stats_get(n->core, &st);
        printf("%-4s slots %u: submitted %llu finished %llu leased %llu "
               "requeued %llu expired %llu executed %llu dups %llu bad %llu\n",
               n->id, n->slots, (unsigned long long)st.submitted,
               (unsigned long long)st.finished,
               (unsigned long long)st.leased, (unsigned long long)st.requeued,
               (unsigned long long)st.expired,
               (unsigned long long)st.executed,
               (unsigned long long)st.duplicates_dropped,
               (unsigned long long)st.bad_messages);
    }
}
