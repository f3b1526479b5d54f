/*
 * owner_none.c - the owner, keeper and client sides of a worker-only core
 * (the firmware's: docs/microcontrollers.md, "Worker-only core"). It takes
 * the place of owner.c, reconcile_owner.c, remote.c and canvas*.c, so a
 * node that only runs what it is leased links none of their code: what
 * arrives for an owner (fetch, done, extend, release, holding) gets a
 * BadMessage error reply saying this node owns no tasks; a submit, query
 * or revoke (by id) for a keeper gets the keeper's own refusal, a FAILURE
 * result (NotAKeeper, NotFound), so a waiting client ends at once; its presence says
 * "keeper":false, so clients do not pick it to keep a workflow; and the
 * calls that would make it own something fail.
 * The build picks this file instead of those (the firmware's Makefile, and
 * CMake's floret_core_worker); nothing in the core tests which one it got.
 * A new function of those files that the kept ones call needs its answer
 * here too: until then the worker-only core does not link (mcu_build, and
 * unit.test_worker_only in every build with tests, say so).
 * Depends on internal.h.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define NOT_AN_OWNER "this node owns no tasks (a worker-only build)"

/* One error per message that needed an owner; never to ourselves, never
 * to an error (core.c's rule). */
static void refuse(fl_core *c, const fl_msg *m)
{
    char why[96];
    snprintf(why, sizeof why, "%s: %s", fl__kind_name(m->kind), NOT_AN_OWNER);
    c->stats.bad_messages++;
    fl__log(c, FL_LOG_WARN, "dropped message on the inbox from %s: %s",
            m->from, why);
    if (m->kind != FL_KIND_ERROR && strcmp(m->from, c->id) != 0)
        fl__send_error(c, m->from, m, "BadMessage", why);
}

/* ------------------------------------------------------------ owner */

bool fl__owner_side(void) { return false; }
void fl__owner_init(fl_core *c) { memset(&c->owner, 0, sizeof c->owner); }
void fl__owner_free(fl_core *c) { (void)c; }
void fl__owner_connected(fl_core *c, uint64_t now) { (void)c; (void)now; }
void fl__owner_flush(fl_core *c, uint64_t now) { (void)c; (void)now; }
uint64_t fl__owner_tick(fl_core *c, uint64_t now)
{
    (void)c;
    (void)now;
    return 0;
}
uint32_t fl__owner_pending(const fl_core *c)
{
    (void)c;
    return 0;
}

void fl__owner_on_fetch(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    refuse(c, m);
}

void fl__owner_on_done(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    refuse(c, m);
}

void fl__owner_on_extend(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    refuse(c, m);
}

void fl__owner_on_release(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    refuse(c, m);
}

void fl__owner_on_started(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    refuse(c, m);
}

void fl__owner_on_holding(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    refuse(c, m);
}

void fl__owner_worker_gone(fl_core *c, const char *id, uint64_t inc,
                           uint64_t now)
{
    (void)c;
    (void)id;
    (void)inc;
    (void)now;
}

void fl__owner_peer_changed(fl_core *c, const char *id, bool tasks_changed)
{
    (void)c;
    (void)id;
    (void)tasks_changed;
}

fl_status fl_core_submit(fl_core *c, const fl_submit *s, uint64_t now,
                         uint64_t *id)
{
    (void)now;
    *id = 0;
    fl__log(c, FL_LOG_ERROR, "cannot submit %s: %s", s->name ? s->name : "?",
            NOT_AN_OWNER);
    return FL_ESTATE;
}

fl_status fl_core_revoke(fl_core *c, uint64_t id, uint64_t now)
{
    (void)c;
    (void)id;
    (void)now;
    return FL_ENOTFOUND;
}

static fl_status no_workflow(uint64_t *id, char *err, size_t errlen)
{
    *id = 0;
    if (err && errlen)
        snprintf(err, errlen, "%s", NOT_AN_OWNER);
    return FL_ESTATE;
}

fl_status fl_core_apply(fl_core *c, const char *canvas, size_t len,
                        uint64_t now, uint64_t *id, char *err, size_t errlen)
{
    (void)c;
    (void)canvas;
    (void)len;
    (void)now;
    return no_workflow(id, err, errlen);
}

/* ------------------------------------------------------------ keeper, client */

/* What a keeper answers a submit it will not run or a query for a
 * workflow it does not have (docs/protocol.md, section 3.8). */
static void send_failure(fl_core *c, const fl_msg *m, const char *type,
                         uint64_t id)
{
    fl__log(c, FL_LOG_WARN, "refused a %s from %s: %s",
            fl__kind_name(m->kind), m->from, NOT_AN_OWNER);
    fl__jw_begin_msg(&c->jw, FL_KIND_RESULT, c->id, c->inc);
    fl__jw_u64(&c->jw, "rid", m->rid);
    fl__jw_u64(&c->jw, "id", id);
    fl__jw_str(&c->jw, "state", "FAILURE");
    fl__jw_obj(&c->jw, "error");
    fl__jw_str(&c->jw, "type", type);
    fl__jw_str(&c->jw, "message", NOT_AN_OWNER "; hand workflows to a node "
               "that keeps them");
    fl__jw_end_obj(&c->jw);
    fl__send_to(c, m->from, NULL, 1, false);
}

void fl__remote_on_submit(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    send_failure(c, m, "NotAKeeper", 0);
}

void fl__remote_on_schedule(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    send_failure(c, m, "NotAKeeper", 0);
}

void fl__remote_on_query(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    send_failure(c, m, "NotFound", m->wid);
}

/* A revoke naming a task or workflow id (one with ids is for the worker
 * side, which core.c hands it to). */
void fl__remote_on_revoke(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    send_failure(c, m, "NotFound", m->wid);
}

/* Errors that may answer a revoke request: this core sends none. */
bool fl__remote_on_error(fl_core *c, const fl_msg *m)
{
    (void)c;
    (void)m;
    return false;
}

/* Replies to requests this core never sends: a stray one is only logged,
 * as a client logs a reply to a request it does not know. */
static void stray_reply(fl_core *c, const fl_msg *m)
{
    fl__log(c, FL_LOG_DEBUG, "ignored %s from %s: no request of ours",
            fl__kind_name(m->kind), m->from);
}

void fl__remote_on_submitted(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    stray_reply(c, m);
}

void fl__remote_on_result(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    stray_reply(c, m);
}

void fl__remote_peer_gone(fl_core *c, const char *id)
{
    (void)c;
    (void)id;
}

void fl__remote_peer_back(fl_core *c, const char *id)
{
    (void)c;
    (void)id;
}

void fl__remote_connected(fl_core *c, uint64_t now)
{
    (void)c;
    (void)now;
}

void fl__remote_init(fl_core *c, const fl_core_config *cfg)
{
    (void)c;
    (void)cfg;
}
void fl__remote_free(fl_core *c) { (void)c; }
uint64_t fl__remote_tick(fl_core *c, uint64_t now)
{
    (void)c;
    (void)now;
    return 0;
}

fl_status fl_core_remote_submit(fl_core *c, const char *owner,
                                const char *canvas, size_t len, uint64_t now,
                                uint64_t *id, char *err, size_t errlen)
{
    (void)c;
    (void)owner;
    (void)canvas;
    (void)len;
    (void)now;
    return no_workflow(id, err, errlen);
}

fl_status fl_core_remote_query(fl_core *c, const char *owner, uint64_t wid,
                               uint64_t now, uint64_t *id)
{
    (void)c;
    (void)owner;
    (void)wid;
    (void)now;
    return no_workflow(id, NULL, 0);
}

fl_status fl_core_remote_state(fl_core *c, const char *owner, uint64_t wid,
                               uint64_t now, uint64_t *id)
{
    (void)c;
    (void)owner;
    (void)wid;
    (void)now;
    return no_workflow(id, NULL, 0);
}

/* A worker-only core keeps no workflows, so it has no journal to read. */
fl_status fl_core_kept_load(fl_core *c, const char *record, size_t len,
                            uint64_t now, char *err, size_t errlen)
{
    (void)c;
    (void)record;
    (void)len;
    (void)now;
    if (err && errlen)
        snprintf(err, errlen, "%s", NOT_AN_OWNER);
    return FL_ESTATE;
}

void fl_core_kept_resume(fl_core *c, uint64_t now)
{
    (void)c;
    (void)now;
}

bool fl_core_kept_dump(fl_core *c, bool (*fn)(void *ud, const char *record,
                                              size_t len),
                       void *ud)
{
    (void)c;
    (void)fn;
    (void)ud;
    return true;
}

void fl_core_kept_counts(const fl_core *c, uint64_t *stored, uint64_t *live)
{
    (void)c;
    *stored = *live = 0;
}
