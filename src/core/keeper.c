/*
 * keeper.c - the keeper side of workflows handed to a node (docs/protocol.md
 * 3.8): `submit` starts one as a workflow of ours under an id that no
 * other incarnation of this node gave (config first_kept_id), `query`
 * waits for its end or (with `now`) reads its state, and the record of
 * each is kept for a while after it ended. With a journal (io.kept) every
 * change a client is told of is stored first (kept.c).
 * Depends on keeper.h (internal.h: codec, map).
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "keeper.h"

static void waiters_free(fl_waiter *w)
{
    while (w) {
        fl_waiter *next = w->next;
        fl__free(w);
        w = next;
    }
}

void fl__hosted_free(fl_hosted *h)
{
    fl__free(h->canvas);
    fl__free(h->value_json);
    fl__free(h->err_type);
    fl__free(h->err_message);
    waiters_free(h->waiters);
    fl__free(h);
}

uint64_t fl__keeper_wall_ms(fl_core *c)
{
    return c->io.wall_ms ? c->io.wall_ms(c->io.ud) : 0;
}

static bool final_state(fl_state st)
{
    return st == FL_SUCCESS || st == FL_FAILURE || st == FL_REVOKED;
}

static void write_result(fl_core *c, const char *to, uint64_t rid,
                         uint64_t kid, fl_state st, const char *value_json,
                         const char *err_type, const char *err_message,
                         const fl_hosted *h)
{
    fl__jw_begin_msg(&c->jw, FL_KIND_RESULT, c->id, c->inc);
    fl__jw_u64(&c->jw, "rid", rid);
    fl__jw_u64(&c->jw, "id", kid);
    fl__jw_str(&c->jw, "state", fl_state_name(st));
    if (st == FL_SUCCESS) {
        if (value_json)
            fl__jw_raw(&c->jw, "value", value_json, strlen(value_json));
    } else if (final_state(st)) {
        if (value_json) /* a failed group's partial results */
            fl__jw_raw(&c->jw, "value", value_json, strlen(value_json));
        fl__jw_obj(&c->jw, "error");
        fl__jw_str(&c->jw, "type", err_type ? err_type : fl_state_name(st));
        fl__jw_str(&c->jw, "message", err_message ? err_message : "");
        fl__jw_end_obj(&c->jw);
    }
    if (h) {
        if (h->node[0])
            fl__jw_str(&c->jw, "node", h->node);
        fl__jw_u64(&c->jw, "attempts", h->attempts);
        if (h->submitted_ms)
            fl__jw_u64(&c->jw, "submitted_ms", h->submitted_ms);
        if (h->started_ms)
            fl__jw_u64(&c->jw, "started_ms", h->started_ms);
        if (h->ended_ms)
            fl__jw_u64(&c->jw, "ended_ms", h->ended_ms);
    }
    fl__send_to(c, to, NULL, 1, false);
}

static void refuse(fl_core *c, const char *to, uint64_t rid, uint64_t kid,
                   const char *type, const char *message)
{
    write_result(c, to, rid, kid, FL_FAILURE, NULL, type, message, NULL);
}

static void answer(fl_core *c, const fl_hosted *h, const char *to, uint64_t rid)
{
    write_result(c, to, rid, h->kid, h->state, h->value_json, h->err_type,
                 h->err_message, h);
}

static void send_submitted(fl_core *c, const char *to, uint64_t rid,
                           uint64_t kid)
{
    fl__jw_begin_msg(&c->jw, FL_KIND_SUBMITTED, c->id, c->inc);
    fl__jw_u64(&c->jw, "rid", rid);
    fl__jw_u64(&c->jw, "id", kid);
    fl__send_to(c, to, NULL, 1, false);
}

static fl_hosted *find_submit(fl_core *c, const char *client, uint64_t rid)
{
    for (fl_hosted *h = c->remote.hosted; h; h = h->next)
        if (h->rid == rid && strcmp(h->client, client) == 0)
            return h;
    return NULL;
}

bool fl__hosted_link(fl_core *c, fl_hosted *h)
{
    if (!fl__map_put(&c->remote.by_kid, h->kid, h))
        return false;
    h->next = c->remote.hosted;
    c->remote.hosted = h;
    c->remote.nhosted++;
    if (h->kid >= c->remote.next_kid)
        c->remote.next_kid = h->kid + 1;
    return true;
}

bool fl__hosted_keep(fl_core *c, fl_hosted *h, uint64_t now, bool *journaled)
{
    *journaled = fl__kept_accepted(c, h) && (!h->ended || fl__kept_ended(c, h));
    if (*journaled && fl__hosted_link(c, h))
        return true;
    if (!h->ended) {
        fl__map_del(&c->remote.by_wid, h->wid);
        fl_core_revoke(c, h->wid, now);
    }
    fl__hosted_free(h);
    return false;
}

fl_status fl__hosted_start(fl_core *c, fl_hosted *h, uint64_t now, char *err,
                           size_t errlen)
{
    uint64_t wid = 0;
    c->remote.applying = h;
    fl_status st = fl_core_apply(c, h->canvas, strlen(h->canvas), now, &wid,
                                 err, errlen);
    c->remote.applying = NULL;
    if (st != FL_OK)
        return st;
    h->wid = wid;
    if (!h->ended && !fl__map_put(&c->remote.by_wid, wid, h)) {
        fl_core_revoke(c, wid, now);
        return FL_ENOMEM;
    }
    return FL_OK;
}

void fl__remote_on_submit(fl_core *c, fl_msg *m, uint64_t now)
{
    char err[256] = "";
    fl_hosted *h = find_submit(c, m->from, m->rid);
    if (h) { /* a resend: it runs once */
        send_submitted(c, m->from, m->rid, h->kid);
        return;
    }
    if (c->slots == 0) {
        refuse(c, m->from, m->rid, 0, "NotAKeeper",
               "this node is a client (0 slots); submit to a node that runs tasks");
        return;
    }
    h = fl__calloc(1, sizeof *h);
    if (h)
        h->canvas = fl_value_to_json(m->canvas, NULL);
    if (!h || !h->canvas) {
        fl__free(h);
        refuse(c, m->from, m->rid, 0, "MemoryError", "the node is out of memory");
        return;
    }
    h->kid = c->remote.next_kid;
    h->rid = m->rid;
    h->state = FL_PENDING;
    h->submitted_ms = fl__keeper_wall_ms(c);
    snprintf(h->client, sizeof h->client, "%s", m->from);
    fl_status st = fl__hosted_start(c, h, now, err, sizeof err);
    if (st != FL_OK) {
        fl__hosted_free(h);
        fl__log(c, FL_LOG_WARN, "refused a workflow from %s: %s", m->from,
                err[0] ? err : fl_strerror(st));
        refuse(c, m->from, m->rid, 0,
               st == FL_EINVAL ? "CanvasError"
               : st == FL_ENOMEM ? "MemoryError" : "SubmitError",
               err[0] ? err : fl_strerror(st));
        return;
    }
    /* Stored before the client hears of it: what it was told survives. */
    bool stored;
    if (!fl__hosted_keep(c, h, now, &stored)) {
        refuse(c, m->from, m->rid, 0, stored ? "MemoryError" : "JournalError",
               stored ? "the node is out of memory"
                      : "the keeper cannot write its journal (see its log)");
        return;
    }
    fl__log(c, FL_LOG_INFO, "keeping workflow %llu for %s",
            (unsigned long long)h->kid, m->from);
    send_submitted(c, m->from, m->rid, h->kid);
}

/* A revoke of `id` (protocol.md 3.13), from anyone who may write our
 * inbox, as Celery's revoke is: the broker's ACL is the perimeter. `id` is
 * a workflow we keep (KEEPER:id) or else a task or workflow of our own.
 * Answered with `result`: REVOKED when it was revoked now, the state it
 * ended in for a kept workflow that had ended, FAILURE NotFound when we
 * know no such id. */
void fl__remote_on_revoke(fl_core *c, fl_msg *m, uint64_t now)
{
    char why[FL_MAX_ID_BUF + 64];
    fl_hosted *h = fl__map_get(&c->remote.by_kid, m->wid);
    if (h && h->ended) {
        answer(c, h, m->from, m->rid);
        return;
    }
    uint64_t own = h ? h->wid : m->wid;
    snprintf(why, sizeof why, "revoked by %s", m->from);
    if ((!h || own) && fl__owner_revoke(c, own, m->terminate, why, now)) {
        fl__log(c, FL_LOG_INFO, "revoked %llu%s at the request of %s",
                (unsigned long long)m->wid, m->terminate ? " (terminate)" : "",
                m->from);
        if (h && h->ended)
            answer(c, h, m->from, m->rid);
        else
            write_result(c, m->from, m->rid, m->wid, FL_REVOKED, NULL,
                         "Revoked", why, NULL);
        return;
    }
    snprintf(why, sizeof why, "no task or workflow %llu on node %s",
             (unsigned long long)m->wid, c->id);
    char full[sizeof why + 80];
    snprintf(full, sizeof full, "%s (it ended, or never existed; ended "
             "workflows are kept %llu s)", why,
             (unsigned long long)(c->remote.keep_us / 1000000u));
    refuse(c, m->from, m->rid, m->wid, "NotFound", full);
}

void fl__remote_on_query(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    fl_hosted *h = fl__map_get(&c->remote.by_kid, m->wid);
    if (!h) {
        char why[200];
        snprintf(why, sizeof why,
                 "no workflow %llu on node %s (ended results are kept %llu s)",
                 (unsigned long long)m->wid, c->id,
                 (unsigned long long)(c->remote.keep_us / 1000000u));
        refuse(c, m->from, m->rid, m->wid, "NotFound", why);
        return;
    }
    if (h->ended || m->now) {
        answer(c, h, m->from, m->rid);
        return;
    }
    for (fl_waiter *w = h->waiters; w; w = w->next)
        if (w->rid == m->rid && strcmp(w->client, m->from) == 0)
            return; /* a resend */
    fl_waiter *w = fl__calloc(1, sizeof *w);
    if (!w) {
        refuse(c, m->from, m->rid, m->wid, "MemoryError",
               "the node is out of memory");
        return;
    }
    snprintf(w->client, sizeof w->client, "%s", m->from);
    w->rid = m->rid;
    w->next = h->waiters;
    h->waiters = w;
}

static char *dup_or_null(const char *s)
{
    return s ? fl__strdup(s) : NULL;
}

/* Record a hosted workflow's end and answer its waiters. true when fin
 * was one of ours (then fin->value has been freed). */
static bool hosted_final(fl_core *c, const fl_final *fin)
{
    fl_hosted *h = fl__map_get(&c->remote.by_wid, fin->id);
    bool linked = h != NULL;
    if (!h && c->remote.applying && !c->remote.applying->ended) {
        /* It ended inside fl_core_apply, before its id was recorded: the
         * submit stores and answers it. */
        h = c->remote.applying;
        h->wid = fin->id;
    }
    if (!h || h->ended)
        return false;
    if (linked)
        fl__map_del(&c->remote.by_wid, fin->id);
    h->ended = true;
    h->ended_at = 0; /* stamped by the next prune, which knows the time */
    h->ended_ms = fl__keeper_wall_ms(c);
    h->state = fin->state;
    if (fin->state == FL_SUCCESS)
        h->value_json = fin->value ? fl_value_to_json(fin->value, NULL)
                                   : fl__strdup("null");
    else if (fin->value) /* kept on a best-effort basis: the error stands */
        h->value_json = fl_value_to_json(fin->value, NULL);
    h->err_type = dup_or_null(fin->err_type);
    h->err_message = dup_or_null(fin->err_message);
    fl_value_free(fin->value);
    if (fin->state == FL_SUCCESS && !h->value_json) {
        h->state = FL_FAILURE;
        h->err_type = fl__strdup("MemoryError");
        h->err_message = fl__strdup("the keeper ran out of memory storing the result");
    }
    fl__free(h->canvas);
    h->canvas = NULL;
    if (!linked)
        return true;
    if (!fl__kept_ended(c, h))
        fl__log(c, FL_LOG_ERROR, "workflow %llu ended, but its end is not in "
                "the journal: after a restart it runs again",
                (unsigned long long)h->kid);
    for (fl_waiter *w = h->waiters; w; w = w->next)
        answer(c, h, w->client, w->rid);
    waiters_free(h->waiters);
    h->waiters = NULL;
    return true;
}

bool fl__remote_hosted_final(fl_core *c, const fl_final *fin)
{
    return (c->remote.nhosted || c->remote.applying) && hosted_final(c, fin);
}

void fl__remote_member_state(fl_core *c, uint64_t wid, fl_state st,
                             const char *worker)
{
    fl_hosted *h = fl__map_get(&c->remote.by_wid, wid);
    if (!h || h->ended)
        return;
    bool first = st == FL_STARTED && !h->started_ms;
    if (worker && worker[0])
        snprintf(h->node, sizeof h->node, "%s", worker);
    h->state = st;
    if (first) {
        h->started_ms = fl__keeper_wall_ms(c);
        if (!h->started_ms)
            h->started_ms = 1; /* no clock: "it started" all the same */
        if (!fl__kept_started(c, h))
            fl__log(c, FL_LOG_WARN, "cannot journal that workflow %llu "
                    "started", (unsigned long long)h->kid);
    }
}

void fl__remote_member_node(fl_core *c, uint64_t wid, const char *worker)
{
    fl_hosted *h = fl__map_get(&c->remote.by_wid, wid);
    if (h && !h->ended)
        snprintf(h->node, sizeof h->node, "%s", worker);
}

void fl__remote_member_leased(fl_core *c, uint64_t wid)
{
    fl_hosted *h = fl__map_get(&c->remote.by_wid, wid);
    if (h && !h->ended)
        h->attempts++;
}

/* Forget ended workflows past their keeping time, and the oldest ended
 * ones beyond the count limit. */
static void prune_hosted(fl_core *c, uint64_t now)
{
    size_t seen_ended = 0;
    for (fl_hosted **p = &c->remote.hosted; *p;) {
        fl_hosted *h = *p;
        bool drop = false;
        if (h->ended && !h->ended_at)
            h->ended_at = now ? now : 1;
        if (h->ended) {
            seen_ended++;
            drop = now - h->ended_at >= c->remote.keep_us ||
                   seen_ended > FL_KEEP_RESULTS_MAX;
        }
        if (drop) {
            *p = h->next;
            fl__map_del(&c->remote.by_kid, h->kid);
            c->remote.nhosted--;
            fl__hosted_free(h);
        } else {
            p = &h->next;
        }
    }
}

uint64_t fl__keeper_tick(fl_core *c, uint64_t now)
{
    if (!c->remote.nhosted)
        return 0;
    prune_hosted(c, now);
    return now + 60u * 1000000u;
}

void fl__keeper_prune(fl_core *c, uint64_t now)
{
    prune_hosted(c, now);
}

void fl__keeper_free(fl_core *c)
{
    while (c->remote.hosted) {
        fl_hosted *next = c->remote.hosted->next;
        fl__hosted_free(c->remote.hosted);
        c->remote.hosted = next;
    }
    fl__sched_free(c);
    fl__map_free(&c->remote.by_wid);
    fl__map_free(&c->remote.by_kid);
    fl__jw_free(&c->remote.rec);
}
