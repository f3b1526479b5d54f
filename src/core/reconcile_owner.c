/*
 * reconcile_owner.c - the owner's side of agreeing on what is leased after
 * a reconnection (docs/protocol.md, `check` and `holding`; the worker's
 * side and the whole story are in reconcile.c): ask each worker about the
 * leases it holds here, and put back in the queue what its answer calls
 * missing.
 * Depends on internal.h.
 */
#include "internal.h"

/* Every worker holding leases here is asked about them at the next
 * flush. */
void fl__owner_check_all(fl_core *c)
{
    for (fl_oworker *w = c->owner.workers; w; w = w->next)
        if (w->held)
            w->check_due = true;
}

static void begin_check(fl_core *c, uint64_t cid)
{
    fl__jw_begin_msg(&c->jw, FL_KIND_CHECK, c->id, c->inc);
    fl__jw_u64(&c->jw, "cid", cid);
    fl__jw_arr(&c->jw, "ids");
}

/* One or more check messages naming every lease w holds; each task
 * remembers which check asked about it, so that an answer to an older
 * check cannot take back a lease granted since. */
static void check_worker(fl_core *c, fl_oworker *w)
{
    fl_owner *o = &c->owner;
    size_t in_msg = 0;
    uint64_t cid = 0;
    for (fl_otask *t = o->leased.head; t; t = t->next) {
        if (t->holder != w)
            continue;
        if (in_msg == FL_MAX_BATCH) {
            fl__jw_end_arr(&c->jw);
            fl__send_to(c, w->id, NULL, 1, false);
            in_msg = 0;
        }
        if (!in_msg) {
            cid = ++o->next_cid;
            begin_check(c, cid);
        }
        fl__jw_u64(&c->jw, NULL, t->id);
        t->check_cid = cid;
        in_msg++;
    }
    if (in_msg) {
        fl__jw_end_arr(&c->jw);
        fl__send_to(c, w->id, NULL, 1, false);
    }
}

void fl__owner_send_checks(fl_core *c)
{
    if (!c->connected)
        return;
    for (fl_oworker *w = c->owner.workers; w; w = w->next) {
        if (!w->check_due)
            continue;
        w->check_due = false;
        if (w->held)
            check_worker(c, w);
    }
}

void fl__owner_on_holding(fl_core *c, fl_msg *m, uint64_t now)
{
    fl_oworker *w = fl__owner_find_worker(c, m->from);
    if (!w || w->inc != m->inc)
        return; /* nothing leased to it; a new incarnation's fetch says */
    for (size_t i = 0; i < m->nids; i++) {
        fl_otask *t = fl__owner_held_by(c, m->ids[i], m->from, m->inc);
        if (t)
            fl__owner_extend_task(c, t, now);
        else if (!fl__map_get(&c->owner.tasks, m->ids[i]))
            /* Ended here (revoked, its revoke lost with the connection;
             * or another run's outcome won): the run is wasted. */
            fl__owner_owe_revoke(c, m->from, m->ids[i], false);
    }
    if (!m->has_cid) {
        /* It reconnected: whatever we sent it meanwhile may be lost. */
        w->check_due = true;
        return;
    }
    size_t lost = 0;
    for (size_t i = 0; i < m->nmissing; i++) {
        fl_otask *t = fl__owner_held_by(c, m->missing[i], m->from, m->inc);
        if (!t || t->check_cid != m->cid)
            continue;
        fl__owner_lease_lost(c, t);
        lost++;
    }
    if (lost)
        fl__log(c, FL_LOG_INFO, "worker %s does not hold %zu of the tasks "
                "leased to it (lost with a connection): back in the queue",
                m->from, lost);
}
