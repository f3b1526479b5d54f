/*
 * remote.c - workflows handed to another node (docs/protocol.md, "Workflows
 * handed to a node"). A client that must not stay up until its workflow
 * ends (`floret run --async`) sends it to a long-running node with
 * `submit`; that node owns it like any workflow of its own, keeps its
 * final for a while, and answers `query` with `result`.
 *
 * The keeper side is keeper.c; here is the client's: handles on workflows
 * kept by other nodes. Messages that cannot be sent while disconnected
 * are sent again on the next connection; the keeper recognises a repeated
 * submit by (client, rid), so a workflow is never started twice. A handle
 * on a node that shows no presence a second after we connected ends with
 * UnknownKeeper; one on a durable keeper (presence `durable`) that goes
 * offline waits for it to come back.
 * Depends on internal.h, codec, map.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"

/* ------------------------------------------------------------ client */

typedef struct fl_rhandle {
    uint64_t local_id; /* the id io.final reports; also the rid sent */
    char owner[FL_MAX_ID_BUF];
    bool is_submit;    /* else a query for wid */
    bool is_revoke;    /* a revoke of wid (ends with the owner's answer) */
    bool terminate;    /* is_revoke: with terminate */
    bool now;          /* a query for the current state */
    bool sent;         /* the keeper's presence was seen, request sent */
    bool is_sched;     /* a schedule request (op, sname, cron, canvas) */
    char op[8];
    char *sname, *cron;
    uint64_t wid;
    char *canvas;      /* submit: kept to send again after a reconnect */
    struct fl_rhandle *next;
} fl_rhandle;

/* Ask owner to revoke wid; its answer (`result`, or an `error` from a
 * node that does not know revoke, hence the mid) names rid. */
static void send_revoke(fl_core *c, const char *owner, uint64_t rid,
                        uint64_t wid, bool terminate)
{
    fl__jw_begin_msg(&c->jw, FL_KIND_REVOKE, c->id, c->inc);
    fl__jw_u64(&c->jw, "mid", rid);
    fl__jw_u64(&c->jw, "rid", rid);
    fl__jw_u64(&c->jw, "id", wid);
    if (terminate)
        fl__jw_bool(&c->jw, "terminate", true);
    fl__send_to(c, owner, NULL, 1, false);
}

static void send_request(fl_core *c, const fl_rhandle *r)
{
    if (r->is_revoke) {
        send_revoke(c, r->owner, r->local_id, r->wid, r->terminate);
        return;
    }
    if (r->is_sched) {
        /* mid: an older keeper answers UnknownKind naming it */
        fl__jw_begin_msg(&c->jw, FL_KIND_SCHEDULE, c->id, c->inc);
        fl__jw_u64(&c->jw, "mid", r->local_id);
        fl__jw_u64(&c->jw, "rid", r->local_id);
        fl__jw_str(&c->jw, "op", r->op);
        if (r->sname)
            fl__jw_str(&c->jw, "name", r->sname);
        if (r->cron)
            fl__jw_str(&c->jw, "cron", r->cron);
        if (r->canvas)
            fl__jw_raw(&c->jw, "canvas", r->canvas, strlen(r->canvas));
    } else if (r->is_submit) {
        fl__jw_begin_msg(&c->jw, FL_KIND_SUBMIT, c->id, c->inc);
        fl__jw_u64(&c->jw, "rid", r->local_id);
        fl__jw_raw(&c->jw, "canvas", r->canvas, strlen(r->canvas));
    } else {
        fl__jw_begin_msg(&c->jw, FL_KIND_QUERY, c->id, c->inc);
        fl__jw_u64(&c->jw, "rid", r->local_id);
        fl__jw_u64(&c->jw, "id", r->wid);
        if (r->now)
            fl__jw_bool(&c->jw, "now", true);
    }
    fl__send_to(c, r->owner, NULL, 1, false);
}

static fl_status new_handle(fl_core *c, const char *owner, fl_rhandle **out)
{
    if (c->shutting_down)
        return FL_ESTATE;
    if (!owner || !fl__valid_id(owner))
        return FL_EINVAL;
    fl_rhandle *r = fl__calloc(1, sizeof *r);
    if (!r)
        return FL_ENOMEM;
    r->local_id = c->owner.next_id++;
    snprintf(r->owner, sizeof r->owner, "%s", owner);
    *out = r;
    return FL_OK;
}

static void final_of(fl_core *c, fl_rhandle *r, fl_state st, fl_value *value,
                     const char *type, const char *message);
static void handle_free(fl_rhandle *r);

static const fl_peer_rec *keeper_peer(const fl_core *c, const char *id)
{
    return fl__peer_find(c, id);
}

/* How long after connecting a keeper without presence is taken as
 * unknown: the retained presences come at once after the subscription. */
#define KEEPER_GRACE_US 1000000u

/* "w1, w2": the online nodes with slots, for an error message. */
static void keepers_list(const fl_core *c, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (const fl_peer_rec *p = c->peers; p && len + 4 < cap; p = p->next) {
        if (!p->info.online || p->info.slots == 0)
            continue;
        int n = snprintf(out + len, cap - len, "%s%s", len ? ", " : "",
                         p->info.id);
        if (n < 0 || (size_t)n >= cap - len) {
            snprintf(out + len, cap - len, ", ...");
            return;
        }
        len += (size_t)n;
    }
    if (!len)
        snprintf(out, cap, "none");
}

static void unknown_keeper(fl_core *c, fl_rhandle *r)
{
    char why[FL_MAX_ID_BUF * 2 + 300], online[200];
    keepers_list(c, online, sizeof online);
    snprintf(why, sizeof why, "no node '%s' on cluster '%s': it has no "
             "presence (online nodes with slots: %s)", r->owner, c->cluster,
             online);
    final_of(c, r, FL_FAILURE, NULL, "UnknownKeeper", why);
}

/* What a handle does about its keeper's presence: false when it ended. */
static bool check_keeper(fl_core *c, fl_rhandle *r, uint64_t now)
{
    const fl_peer_rec *p = keeper_peer(c, r->owner);
    if (p && !p->info.online && !p->durable) {
        char why[FL_MAX_ID_BUF + 64];
        snprintf(why, sizeof why, "node %s, which keeps the workflow, is offline",
                 r->owner);
        final_of(c, r, FL_FAILURE, NULL, "OwnerLost", why);
        return false;
    }
    /* A revoke may go to a client, whose presence is not retained. */
    if (!p && !r->is_revoke && c->remote.connected_at &&
        now >= c->remote.connected_at + KEEPER_GRACE_US) {
        unknown_keeper(c, r);
        return false;
    }
    return true;
}

/* Send r's request, or end it at once when its keeper is known to be
 * offline (a retained will says so, and it keeps no journal), or unknown:
 * nobody would ever answer. */
static void link_handle(fl_core *c, fl_rhandle *r, uint64_t now)
{
    if (!check_keeper(c, r, now))
        return;
    r->next = c->remote.handles;
    c->remote.handles = r;
    send_request(c, r);
}

/* A canvas as a keeper will take it: a JSON object within the depth limit
 * fl_core_apply applies (FL_EINVAL with the reason in err). */
static fl_status check_canvas(const char *canvas, size_t len, char *err,
                              size_t errlen)
{
    const char *deep = canvas ? fl__json_depth_check(canvas, len,
                                                     FL_MAX_CANVAS_DEPTH)
                              : NULL;
    if (deep) {
        snprintf(err, errlen, "canvas: %s", deep);
        return FL_EINVAL;
    }
    return fl__check_json(canvas, len, FL_TYPE_OBJECT, err, errlen) == FL_OK
               ? FL_OK
               : FL_EINVAL;
}

fl_status fl_core_remote_submit(fl_core *c, const char *owner,
                                const char *canvas, size_t len, uint64_t now,
                                uint64_t *id, char *err, size_t errlen)
{
    fl_rhandle *r;
    if (check_canvas(canvas, len, err, errlen) != FL_OK)
        return FL_EINVAL;
    fl_status st = new_handle(c, owner, &r);
    if (st != FL_OK)
        return st;
    r->is_submit = true;
    r->canvas = fl__strndup(canvas, len);
    if (!r->canvas) {
        fl__free(r);
        return FL_ENOMEM;
    }
    *id = r->local_id;
    link_handle(c, r, now);
    return FL_OK;
}

static char *dup_opt(const char *s, bool *oom)
{
    char *d = s ? fl__strdup(s) : NULL;
    if (s && !d)
        *oom = true;
    return d;
}

fl_status fl_core_remote_schedule(fl_core *c, const char *owner,
                                  const char *op, const char *name,
                                  const char *cron, const char *canvas,
                                  uint64_t now, uint64_t *id, char *err,
                                  size_t errlen)
{
    fl_rhandle *r;
    bool oom = false;
    if (!op || strlen(op) >= sizeof r->op) {
        snprintf(err, errlen, "op: expected add, list or remove");
        return FL_EINVAL;
    }
    if (name && !fl__valid_id(name)) {
        snprintf(err, errlen, "name: not a valid schedule name (1 to %d "
                 "bytes of [A-Za-z0-9_.-])", FL_MAX_ID);
        return FL_EINVAL;
    }
    if (canvas && check_canvas(canvas, strlen(canvas), err, errlen) != FL_OK)
        return FL_EINVAL;
    fl_status st = new_handle(c, owner, &r);
    if (st != FL_OK)
        return st;
    r->is_sched = true;
    snprintf(r->op, sizeof r->op, "%s", op);
    r->sname = dup_opt(name, &oom);
    r->cron = dup_opt(cron, &oom);
    r->canvas = dup_opt(canvas, &oom);
    if (oom) {
        handle_free(r);
        return FL_ENOMEM;
    }
    *id = r->local_id;
    link_handle(c, r, now);
    return FL_OK;
}

static fl_status query(fl_core *c, const char *owner, uint64_t wid, bool now_state,
                       uint64_t now, uint64_t *id)
{
    fl_rhandle *r;
    fl_status st = new_handle(c, owner, &r);
    if (st != FL_OK)
        return st;
    r->wid = wid;
    r->now = now_state;
    *id = r->local_id;
    link_handle(c, r, now);
    return FL_OK;
}

fl_status fl_core_remote_query(fl_core *c, const char *owner, uint64_t wid,
                               uint64_t now, uint64_t *id)
{
    return query(c, owner, wid, false, now, id);
}

fl_status fl_core_remote_state(fl_core *c, const char *owner, uint64_t wid,
                               uint64_t now, uint64_t *id)
{
    return query(c, owner, wid, true, now, id);
}

fl_status fl_core_remote_revoke(fl_core *c, const char *owner, uint64_t wid,
                                bool terminate, uint64_t now, uint64_t *id)
{
    fl_rhandle *r;
    fl_status st = new_handle(c, owner, &r);
    if (st != FL_OK)
        return st;
    r->is_revoke = true;
    r->terminate = terminate;
    r->wid = wid;
    *id = r->local_id;
    link_handle(c, r, now);
    return FL_OK;
}

bool fl__remote_revoke(fl_core *c, uint64_t id, bool terminate, uint64_t now)
{
    (void)now;
    for (fl_rhandle *r = c->remote.handles; r; r = r->next) {
        if (r->local_id != id)
            continue;
        if (r->is_submit || r->is_revoke)
            return false; /* no workflow id yet / a revoke already */
        /* The keeper's answer names the query's rid: it ends the handle,
         * and its later answer to the query is a duplicate. */
        send_revoke(c, r->owner, r->local_id, r->wid, terminate);
        return true;
    }
    return false;
}

static fl_rhandle *take_handle(fl_core *c, const char *owner, uint64_t rid)
{
    for (fl_rhandle **p = &c->remote.handles; *p; p = &(*p)->next) {
        fl_rhandle *r = *p;
        if (r->local_id == rid && strcmp(r->owner, owner) == 0) {
            *p = r->next;
            return r;
        }
    }
    return NULL;
}

static void handle_free(fl_rhandle *r)
{
    fl__free(r->canvas);
    fl__free(r->sname);
    fl__free(r->cron);
    fl__free(r);
}

static void final_with(fl_core *c, fl_rhandle *r, fl_final *fin)
{
    fin->id = r->local_id;
    if (c->io.final)
        c->io.final(c->io.ud, fin);
    else
        fl_value_free(fin->value);
    handle_free(r); /* after: fin.worker may point into it */
}

static void final_of(fl_core *c, fl_rhandle *r, fl_state st, fl_value *value,
                     const char *type, const char *message)
{
    fl_final fin = {.id = r->local_id, .state = st, .value = value,
                    .err_type = type, .err_message = message, .worker = r->owner};
    if (c->io.final)
        c->io.final(c->io.ud, &fin);
    else
        fl_value_free(value);
    handle_free(r); /* after: fin.worker points into it */
}

/* The keeper accepted a submit: the handle ends with "OWNER:WID". */
void fl__remote_on_submitted(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    char text[FL_MAX_ID_BUF + 32];
    fl_value *v = NULL;
    fl_rhandle *r = take_handle(c, m->from, m->rid);
    if (!r || !r->is_submit) {
        if (r) /* a query answered as a submit: not ours to keep */
            final_of(c, r, FL_FAILURE, NULL, "BadMessage", "unexpected reply");
        return;
    }
    int n = snprintf(text, sizeof text, "\"%s:%llu\"", m->from,
                     (unsigned long long)m->wid);
    if (fl_value_parse(text, (size_t)n, &v) != FL_OK)
        final_of(c, r, FL_FAILURE, NULL, "MemoryError", "out of memory");
    else
        final_of(c, r, FL_SUCCESS, v, NULL, NULL);
}

void fl__remote_on_result(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    fl_rhandle *r = take_handle(c, m->from, m->rid);
    if (!r)
        return; /* a duplicate, or for a handle that already ended */
    static const fl_state states[] = {FL_SUCCESS, FL_REVOKED, FL_PENDING,
                                      FL_STARTED, FL_RETRY};
    fl_state st = FL_FAILURE;
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        if (strcmp(m->state, fl_state_name(states[i])) == 0)
            st = states[i];
    if (st != FL_SUCCESS && st != FL_REVOKED && st != FL_FAILURE && !r->now &&
        !r->is_revoke && !r->is_sched) {
        /* Not an end: a waiting handle goes on waiting (a keeper should
         * not send this). */
        r->next = c->remote.handles;
        c->remote.handles = r;
        return;
    }
    fl_final fin = {.state = st, .value = m->value, .err_type = m->err_type,
                    .err_message = m->err_message,
                    .worker = m->node ? m->node : "", .attempts = m->attempts,
                    .submitted_ms = m->submitted_ms,
                    .started_ms = m->started_ms, .ended_ms = m->ended_ms};
    m->value = NULL;
    final_with(c, r, &fin);
}

bool fl__remote_on_error(fl_core *c, const fl_msg *m)
{
    if (!m->has_re)
        return false;
    fl_rhandle *r = NULL;
    for (fl_rhandle *h = c->remote.handles; h && !r; h = h->next)
        if ((h->is_revoke || h->is_sched) && h->local_id == m->re &&
            strcmp(h->owner, m->from) == 0)
            r = h;
    if (!r)
        return false; /* a query whose revoke was refused keeps waiting */
    r = take_handle(c, m->from, m->re);
    bool old = m->err_type && strcmp(m->err_type, "UnknownKind") == 0;
    char why[FL_MAX_ID_BUF + 96];
    if (r->is_sched)
        snprintf(why, sizeof why, "node %s does not know schedule (an older "
                 "floret): it keeps no schedules", m->from);
    else
        snprintf(why, sizeof why, "node %s does not know revoke (an older "
                 "floret): nothing was revoked", m->from);
    final_of(c, r, FL_FAILURE, NULL, m->err_type ? m->err_type : "Error",
             old ? why : m->err_message ? m->err_message : "");
    return true;
}

void fl__remote_peer_gone(fl_core *c, const char *id)
{
    /* Every node hears every node go: with nothing handed over, nothing
     * to look up. */
    if (!c->remote.handles)
        return;
    const fl_peer_rec *kp = keeper_peer(c, id);
    if (kp && kp->durable)
        return; /* it resumes what it keeps when it is back: wait for it */
    char why[FL_MAX_ID_BUF + 96];
    snprintf(why, sizeof why,
             "node %s, which keeps the workflow, went offline", id);
    for (fl_rhandle **p = &c->remote.handles; *p;) {
        fl_rhandle *r = *p;
        if (strcmp(r->owner, id) == 0) {
            *p = r->next;
            final_of(c, r, FL_FAILURE, NULL, "OwnerLost", why);
        } else {
            p = &r->next;
        }
    }
}

void fl__remote_peer_back(fl_core *c, const char *id)
{
    for (fl_rhandle *r = c->remote.handles; r; r = r->next)
        if (strcmp(r->owner, id) == 0)
            send_request(c, r);
}

void fl__remote_connected(fl_core *c, uint64_t now)
{
    c->remote.connected_at = now ? now : 1;
    for (fl_rhandle *r = c->remote.handles; r; r = r->next)
        send_request(c, r);
}

void fl__remote_init(fl_core *c, const fl_core_config *cfg)
{
    fl__map_init(&c->remote.by_wid);
    fl__map_init(&c->remote.by_kid);
    fl__jw_init(&c->remote.rec);
    c->remote.next_kid = cfg->first_kept_id ? cfg->first_kept_id : 1;
    c->remote.keep_us = (uint64_t)(cfg->keep_results_s ? cfg->keep_results_s
                                                       : FL_KEEP_RESULTS_S) *
                        1000000u;
}

/* Handles whose keeper never showed a presence end UnknownKeeper. */
static uint64_t handles_tick(fl_core *c, uint64_t now)
{
    if (!c->remote.handles || !c->remote.connected_at)
        return 0;
    uint64_t due = c->remote.connected_at + KEEPER_GRACE_US;
    if (now < due)
        return due;
    for (fl_rhandle **p = &c->remote.handles; *p;) {
        fl_rhandle *r = *p;
        if (!r->is_revoke && !keeper_peer(c, r->owner)) {
            *p = r->next;
            unknown_keeper(c, r);
        } else {
            p = &r->next;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ both */

void fl__final(fl_core *c, const fl_final *fin)
{
    if (fl__remote_hosted_final(c, fin))
        return;
    if (c->io.final)
        c->io.final(c->io.ud, fin);
    else
        fl_value_free(fin->value);
}

uint64_t fl__remote_tick(fl_core *c, uint64_t now)
{
    uint64_t a = fl__keeper_tick(c, now);
    uint64_t b = handles_tick(c, now);
    uint64_t s = fl__sched_tick(c, now);
    a = a && (!b || a < b) ? a : b;
    return s && (!a || s < a) ? s : a;
}

void fl__remote_free(fl_core *c)
{
    fl__keeper_free(c);
    while (c->remote.handles) {
        fl_rhandle *next = c->remote.handles->next;
        handle_free(c->remote.handles);
        c->remote.handles = next;
    }
}
