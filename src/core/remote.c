/*
 * remote.c - workflows handed to another node (docs/protocol.md, "Workflows
 * handed to a node"). A client that must not stay up until its workflow
 * ends (`floret run --async`) sends it to a long-running node with
 * `submit`; that node owns it like any workflow of its own, keeps its
 * final for a while, and answers `query` with `result`. Here are both
 * sides: the keeper (hosted workflows) and the client (remote handles).
 *
 * Messages that cannot be sent while disconnected are sent again on the
 * next connection; the keeper recognises a repeated submit by (client,
 * rid), so a workflow is never started twice.
 * Depends on internal.h, codec, map.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"

/* ------------------------------------------------------------ keeper */

typedef struct fl_waiter {
    char client[FL_MAX_ID_BUF];
    uint64_t rid;
    struct fl_waiter *next;
} fl_waiter;

typedef struct fl_hosted {
    uint64_t wid;
    char client[FL_MAX_ID_BUF]; /* who submitted it */
    uint64_t rid;               /* the submitter's request id */
    bool ended;
    uint64_t ended_at;
    fl_state state;
    char *value_json;           /* SUCCESS; a failed group's partial list */
    char *err_type, *err_message;
    fl_waiter *waiters;
    struct fl_hosted *next;     /* all hosted, newest first */
} fl_hosted;

static void waiters_free(fl_waiter *w)
{
    while (w) {
        fl_waiter *next = w->next;
        fl__free(w);
        w = next;
    }
}

static void hosted_free(fl_hosted *h)
{
    fl__free(h->value_json);
    fl__free(h->err_type);
    fl__free(h->err_message);
    waiters_free(h->waiters);
    fl__free(h);
}

static void send_result(fl_core *c, const char *to, uint64_t rid, uint64_t wid,
                        fl_state st, const char *value_json,
                        const char *err_type, const char *err_message)
{
    fl__jw_begin_msg(&c->jw, FL_KIND_RESULT, c->id, c->inc);
    fl__jw_u64(&c->jw, "rid", rid);
    fl__jw_u64(&c->jw, "id", wid);
    fl__jw_str(&c->jw, "state", fl_state_name(st));
    if (st == FL_SUCCESS) {
        if (value_json)
            fl__jw_raw(&c->jw, "value", value_json, strlen(value_json));
    } else {
        if (value_json) /* a failed group's partial results */
            fl__jw_raw(&c->jw, "value", value_json, strlen(value_json));
        fl__jw_obj(&c->jw, "error");
        fl__jw_str(&c->jw, "type", err_type ? err_type : fl_state_name(st));
        fl__jw_str(&c->jw, "message", err_message ? err_message : "");
        fl__jw_end_obj(&c->jw);
    }
    fl__send_to(c, to, NULL, 1, false);
}

static void answer(fl_core *c, const fl_hosted *h, const char *to, uint64_t rid)
{
    send_result(c, to, rid, h->wid, h->state, h->value_json, h->err_type,
                h->err_message);
}

static void send_submitted(fl_core *c, const char *to, uint64_t rid,
                           uint64_t wid)
{
    fl__jw_begin_msg(&c->jw, FL_KIND_SUBMITTED, c->id, c->inc);
    fl__jw_u64(&c->jw, "rid", rid);
    fl__jw_u64(&c->jw, "id", wid);
    fl__send_to(c, to, NULL, 1, false);
}

static fl_hosted *find_submit(fl_core *c, const char *client, uint64_t rid)
{
    for (fl_hosted *h = c->remote.hosted; h; h = h->next)
        if (h->rid == rid && strcmp(h->client, client) == 0)
            return h;
    return NULL;
}

void fl__remote_on_submit(fl_core *c, fl_msg *m, uint64_t now)
{
    char err[256] = "";
    size_t len = 0;
    uint64_t wid = 0;
    fl_hosted *h = find_submit(c, m->from, m->rid);
    if (h) { /* a resend: it runs once */
        send_submitted(c, m->from, m->rid, h->wid);
        return;
    }
    if (c->slots == 0) {
        send_result(c, m->from, m->rid, 0, FL_FAILURE, NULL, "NotAKeeper",
                    "this node is a client (0 slots); submit to a node that runs tasks");
        return;
    }
    char *json = fl_value_to_json(m->canvas, &len);
    h = fl__calloc(1, sizeof *h);
    if (!json || !h) {
        fl__free(json);
        fl__free(h);
        send_result(c, m->from, m->rid, 0, FL_FAILURE, NULL, "MemoryError",
                    "the node is out of memory");
        return;
    }
    c->remote.applying = h;
    fl_status st = fl_core_apply(c, json, len, now, &wid, err, sizeof err);
    c->remote.applying = NULL;
    fl__free(json);
    if (st != FL_OK) {
        fl__free(h);
        fl__log(c, FL_LOG_WARN, "refused a workflow from %s: %s", m->from,
                err[0] ? err : fl_strerror(st));
        send_result(c, m->from, m->rid, 0, FL_FAILURE, NULL,
                    st == FL_EINVAL ? "CanvasError" : "SubmitError",
                    err[0] ? err : fl_strerror(st));
        return;
    }
    h->wid = wid;
    h->rid = m->rid;
    snprintf(h->client, sizeof h->client, "%s", m->from);
    if (!fl__map_put(&c->remote.by_wid, wid, h)) {
        fl__free(h);
        send_result(c, m->from, m->rid, 0, FL_FAILURE, NULL, "MemoryError",
                    "the node is out of memory");
        fl_core_revoke(c, wid, now);
        return;
    }
    h->next = c->remote.hosted;
    c->remote.hosted = h;
    c->remote.nhosted++;
    fl__log(c, FL_LOG_INFO, "keeping workflow %llu for %s",
            (unsigned long long)wid, m->from);
    send_submitted(c, m->from, m->rid, wid);
}

/* A revoke of `id`, a task or workflow this node owns (protocol.md
 * 3.13), from anyone who may write our inbox, as Celery's revoke is: the
 * broker's ACL is the perimeter. Answered with `result`: REVOKED when it
 * was revoked now, the state it ended in when it had ended (kept
 * workflows), FAILURE NotFound when we know no such id. */
void fl__remote_on_revoke(fl_core *c, fl_msg *m, uint64_t now)
{
    char why[FL_MAX_ID_BUF + 64];
    fl_hosted *h = fl__map_get(&c->remote.by_wid, m->wid);
    if (h && h->ended) {
        answer(c, h, m->from, m->rid);
        return;
    }
    snprintf(why, sizeof why, "revoked by %s", m->from);
    if (fl__owner_revoke(c, m->wid, m->terminate, why, now)) {
        fl__log(c, FL_LOG_INFO, "revoked %llu%s at the request of %s",
                (unsigned long long)m->wid, m->terminate ? " (terminate)" : "",
                m->from);
        h = fl__map_get(&c->remote.by_wid, m->wid);
        if (h && h->ended)
            answer(c, h, m->from, m->rid);
        else
            send_result(c, m->from, m->rid, m->wid, FL_REVOKED, NULL,
                        "Revoked", why);
        return;
    }
    snprintf(why, sizeof why, "no task or workflow %llu on node %s",
             (unsigned long long)m->wid, c->id);
    char full[sizeof why + 80];
    snprintf(full, sizeof full, "%s (it ended, or never existed; ended "
             "workflows are kept %u s)", why, FL_KEEP_RESULTS_S);
    send_result(c, m->from, m->rid, m->wid, FL_FAILURE, NULL, "NotFound",
                full);
}

void fl__remote_on_query(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    fl_hosted *h = fl__map_get(&c->remote.by_wid, m->wid);
    if (!h) {
        char why[160];
        snprintf(why, sizeof why,
                 "no workflow %llu on node %s (ended results are kept %u s)",
                 (unsigned long long)m->wid, c->id, FL_KEEP_RESULTS_S);
        send_result(c, m->from, m->rid, m->wid, FL_FAILURE, NULL, "NotFound", why);
        return;
    }
    if (h->ended) {
        answer(c, h, m->from, m->rid);
        return;
    }
    for (fl_waiter *w = h->waiters; w; w = w->next)
        if (w->rid == m->rid && strcmp(w->client, m->from) == 0)
            return; /* a resend */
    fl_waiter *w = fl__calloc(1, sizeof *w);
    if (!w) {
        send_result(c, m->from, m->rid, m->wid, FL_FAILURE, NULL, "MemoryError",
                    "the node is out of memory");
        return;
    }
    snprintf(w->client, sizeof w->client, "%s", m->from);
    w->rid = m->rid;
    w->next = h->waiters;
    h->waiters = w;
}

/* Record a hosted workflow's end and answer its waiters. true when fin
 * was one of ours (then fin->value has been freed). */
static bool hosted_final(fl_core *c, const fl_final *fin)
{
    fl_hosted *h = fl__map_get(&c->remote.by_wid, fin->id);
    if (!h && c->remote.applying) {
        /* It ended inside fl_core_apply, before its id was recorded. */
        h = c->remote.applying;
        h->wid = fin->id;
    }
    if (!h || h->ended)
        return false;
    h->ended = true;
    h->ended_at = 0; /* stamped by the next prune, which knows the time */
    h->state = fin->state;
    if (fin->state == FL_SUCCESS)
        h->value_json = fin->value ? fl_value_to_json(fin->value, NULL)
                                   : fl__strdup("null");
    else if (fin->value) /* kept on a best-effort basis: the error stands */
        h->value_json = fl_value_to_json(fin->value, NULL);
    h->err_type = fin->err_type ? fl__strdup(fin->err_type) : NULL;
    h->err_message = fin->err_message ? fl__strdup(fin->err_message) : NULL;
    fl_value_free(fin->value);
    if (fin->state == FL_SUCCESS && !h->value_json) {
        h->state = FL_FAILURE;
        h->err_type = fl__strdup("MemoryError");
        h->err_message = fl__strdup("the keeper ran out of memory storing the result");
    }
    for (fl_waiter *w = h->waiters; w; w = w->next)
        answer(c, h, w->client, w->rid);
    waiters_free(h->waiters);
    h->waiters = NULL;
    return true;
}

/* Forget ended workflows past their keeping time, and the oldest ended
 * ones beyond the count limit. */
static void prune_hosted(fl_core *c, uint64_t now)
{
    uint64_t keep_us = (uint64_t)FL_KEEP_RESULTS_S * 1000000u;
    size_t seen_ended = 0;
    for (fl_hosted **p = &c->remote.hosted; *p;) {
        fl_hosted *h = *p;
        bool drop = false;
        if (h->ended && !h->ended_at)
            h->ended_at = now;
        if (h->ended) {
            seen_ended++;
            drop = now - h->ended_at >= keep_us ||
                   seen_ended > FL_KEEP_RESULTS_MAX;
        }
        if (drop) {
            *p = h->next;
            fl__map_del(&c->remote.by_wid, h->wid);
            c->remote.nhosted--;
            hosted_free(h);
        } else {
            p = &h->next;
        }
    }
}

/* ------------------------------------------------------------ client */

typedef struct fl_rhandle {
    uint64_t local_id; /* the id io.final reports; also the rid sent */
    char owner[FL_MAX_ID_BUF];
    bool is_submit;    /* else a query for wid */
    bool is_revoke;    /* a revoke of wid (ends with the owner's answer) */
    bool terminate;    /* is_revoke: with terminate */
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
    if (r->is_submit) {
        fl__jw_begin_msg(&c->jw, FL_KIND_SUBMIT, c->id, c->inc);
        fl__jw_u64(&c->jw, "rid", r->local_id);
        fl__jw_raw(&c->jw, "canvas", r->canvas, strlen(r->canvas));
    } else {
        fl__jw_begin_msg(&c->jw, FL_KIND_QUERY, c->id, c->inc);
        fl__jw_u64(&c->jw, "rid", r->local_id);
        fl__jw_u64(&c->jw, "id", r->wid);
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

/* Send r's request, or end it at once when its keeper is known to be
 * offline (a retained will says so): nobody would ever answer. */
static void link_handle(fl_core *c, fl_rhandle *r)
{
    for (const fl_peer_rec *p = c->peers; p; p = p->next) {
        if (strcmp(p->info.id, r->owner) == 0 && !p->info.online) {
            char why[FL_MAX_ID_BUF + 64];
            snprintf(why, sizeof why, "node %s, which keeps the workflow, is offline",
                     r->owner);
            final_of(c, r, FL_FAILURE, NULL, "OwnerLost", why);
            return;
        }
    }
    r->next = c->remote.handles;
    c->remote.handles = r;
    send_request(c, r);
}

fl_status fl_core_remote_submit(fl_core *c, const char *owner,
                                const char *canvas, size_t len, uint64_t now,
                                uint64_t *id, char *err, size_t errlen)
{
    (void)now;
    fl_rhandle *r;
    /* The keeper applies it as fl_core_apply does: the same depth limit. */
    const char *deep = canvas ? fl__json_depth_check(canvas, len,
                                                     FL_MAX_CANVAS_DEPTH)
                              : NULL;
    if (deep) {
        snprintf(err, errlen, "canvas: %s", deep);
        return FL_EINVAL;
    }
    if (fl__check_json(canvas, len, FL_TYPE_OBJECT, err, errlen) != FL_OK)
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
    link_handle(c, r);
    return FL_OK;
}

fl_status fl_core_remote_query(fl_core *c, const char *owner, uint64_t wid,
                               uint64_t now, uint64_t *id)
{
    (void)now;
    fl_rhandle *r;
    fl_status st = new_handle(c, owner, &r);
    if (st != FL_OK)
        return st;
    r->wid = wid;
    *id = r->local_id;
    link_handle(c, r);
    return FL_OK;
}

fl_status fl_core_remote_revoke(fl_core *c, const char *owner, uint64_t wid,
                                bool terminate, uint64_t now, uint64_t *id)
{
    (void)now;
    fl_rhandle *r;
    fl_status st = new_handle(c, owner, &r);
    if (st != FL_OK)
        return st;
    r->is_revoke = true;
    r->terminate = terminate;
    r->wid = wid;
    *id = r->local_id;
    link_handle(c, r);
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
    fl__free(r);
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
    fl_state st = strcmp(m->state, "SUCCESS") == 0   ? FL_SUCCESS
                  : strcmp(m->state, "REVOKED") == 0 ? FL_REVOKED
                                                     : FL_FAILURE;
    fl_value *v = m->value;
    m->value = NULL;
    final_of(c, r, st, v, m->err_type, m->err_message);
}

bool fl__remote_on_error(fl_core *c, const fl_msg *m)
{
    if (!m->has_re)
        return false;
    fl_rhandle *r = NULL;
    for (fl_rhandle *h = c->remote.handles; h && !r; h = h->next)
        if (h->is_revoke && h->local_id == m->re &&
            strcmp(h->owner, m->from) == 0)
            r = h;
    if (!r)
        return false; /* a query whose revoke was refused keeps waiting */
    r = take_handle(c, m->from, m->re);
    bool old = m->err_type && strcmp(m->err_type, "UnknownKind") == 0;
    char why[FL_MAX_ID_BUF + 96];
    snprintf(why, sizeof why, "node %s does not know revoke (an older "
             "floret): nothing was revoked", m->from);
    final_of(c, r, FL_FAILURE, NULL, m->err_type ? m->err_type : "Error",
             old ? why : m->err_message ? m->err_message : "");
    return true;
}

void fl__remote_peer_gone(fl_core *c, const char *id)
{
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

void fl__remote_connected(fl_core *c)
{
    for (fl_rhandle *r = c->remote.handles; r; r = r->next)
        send_request(c, r);
}

/* ------------------------------------------------------------ both */

void fl__final(fl_core *c, const fl_final *fin)
{
    if ((c->remote.nhosted || c->remote.applying) && hosted_final(c, fin))
        return;
    if (c->io.final)
        c->io.final(c->io.ud, fin);
    else
        fl_value_free(fin->value);
}

uint64_t fl__remote_tick(fl_core *c, uint64_t now)
{
    if (!c->remote.nhosted)
        return 0;
    prune_hosted(c, now);
    return now + 60u * 1000000u;
}

void fl__remote_free(fl_core *c)
{
    while (c->remote.hosted) {
        fl_hosted *next = c->remote.hosted->next;
        hosted_free(c->remote.hosted);
        c->remote.hosted = next;
    }
    while (c->remote.handles) {
        fl_rhandle *next = c->remote.handles->next;
        handle_free(c->remote.handles);
        c->remote.handles = next;
    }
    fl__map_free(&c->remote.by_wid);
}
