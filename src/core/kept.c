/*
 * kept.c - the records of a durable keeper (docs/protocol.md 3.8, "Durable
 * keepers"): what the core hands its driver to store when a kept workflow
 * is accepted, starts and ends, how it reads them back after a restart,
 * and the set of records that restores what it holds now (for a driver
 * that compacts its journal). One record is one JSON object on one line:
 *
 *   {"t":"accept","id":17,"client":"cli-7","rid":1,"ms":...,"canvas":{...}}
 *   {"t":"start","id":17,"ms":...,"node":"w2"}
 *   {"t":"end","id":17,"ms":...,"state":"SUCCESS","value":64,"attempts":1}
 *   {"t":"next","id":18}
 *
 * Storing them is the driver's I/O; this file only writes and reads text.
 * Depends on keeper.h (internal.h: codec, map) and the fl_value API.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "keeper.h"

/* ------------------------------------------------------------ writing */

static void begin(fl_jw *w, const char *type, uint64_t kid)
{
    fl__jw_reset(w);
    fl__jw_obj(w, NULL);
    fl__jw_str(w, "t", type);
    fl__jw_u64(w, "id", kid);
}

static bool finish(fl_core *c, bool (*fn)(void *, const char *, size_t),
                   void *ud)
{
    const void *payload;
    size_t len;
    if (fl__jw_finish(&c->remote.rec, &payload, &len) != FL_OK)
        return false;
    return fn(ud, payload, len);
}

static void write_accept(fl_jw *w, const fl_hosted *h)
{
    begin(w, "accept", h->kid);
    fl__jw_str(w, "client", h->client);
    fl__jw_u64(w, "rid", h->rid);
    fl__jw_u64(w, "ms", h->submitted_ms);
    if (h->canvas)
        fl__jw_raw(w, "canvas", h->canvas, strlen(h->canvas));
    if (h->sched[0])
        fl__jw_str(w, "schedule", h->sched);
}

static void write_start(fl_jw *w, const fl_hosted *h)
{
    begin(w, "start", h->kid);
    fl__jw_u64(w, "ms", h->started_ms);
    if (h->node[0])
        fl__jw_str(w, "node", h->node);
}

static void write_end(fl_jw *w, const fl_hosted *h)
{
    begin(w, "end", h->kid);
    fl__jw_u64(w, "ms", h->ended_ms);
    fl__jw_str(w, "state", fl_state_name(h->state));
    fl__jw_u64(w, "attempts", h->attempts);
    if (h->node[0])
        fl__jw_str(w, "node", h->node);
    if (h->state == FL_SUCCESS) {
        fl__jw_raw(w, "value", h->value_json ? h->value_json : "null",
                   h->value_json ? strlen(h->value_json) : 4);
    } else {
        if (h->value_json) /* a failed group's partial results */
            fl__jw_raw(w, "value", h->value_json, strlen(h->value_json));
        fl__jw_obj(w, "error");
        fl__jw_str(w, "type", h->err_type ? h->err_type : fl_state_name(h->state));
        fl__jw_str(w, "message", h->err_message ? h->err_message : "");
        fl__jw_end_obj(w);
    }
}

static bool store(void *ud, const char *record, size_t len)
{
    fl_core *c = ud;
    c->remote.stored++;
    return c->io.kept(c->io.ud, record, len);
}

static bool kept(fl_core *c, void (*write)(fl_jw *, const fl_hosted *),
                 const fl_hosted *h)
{
    if (!c->io.kept)
        return true;
    write(&c->remote.rec, h);
    return finish(c, store, c);
}

bool fl__kept_accepted(fl_core *c, const fl_hosted *h)
{
    return kept(c, write_accept, h);
}

bool fl__kept_started(fl_core *c, const fl_hosted *h)
{
    return kept(c, write_start, h);
}

bool fl__kept_ended(fl_core *c, const fl_hosted *h)
{
    return kept(c, write_end, h);
}

bool fl_core_kept_dump(fl_core *c, bool (*fn)(void *, const char *, size_t),
                       void *ud)
{
    fl_jw *w = &c->remote.rec;
    begin(w, "next", c->remote.next_kid);
    if (!finish(c, fn, ud) || !fl__sched_dump(c, fn, ud))
        return false;
    for (const fl_hosted *h = c->remote.hosted; h; h = h->next) {
        write_accept(w, h);
        if (!finish(c, fn, ud))
            return false;
        if (h->started_ms) {
            write_start(w, h);
            if (!finish(c, fn, ud))
                return false;
        }
        if (h->ended) {
            write_end(w, h);
            if (!finish(c, fn, ud))
                return false;
        }
    }
    c->remote.stored = 0;
    return true;
}

void fl_core_kept_counts(const fl_core *c, uint64_t *stored, uint64_t *live)
{
    uint64_t n = 1 + fl__sched_count(c);
    for (const fl_hosted *h = c->remote.hosted; h; h = h->next)
        n += 1 + (h->started_ms != 0) + h->ended;
    *stored = c->remote.stored;
    *live = n;
}

/* ------------------------------------------------------------ reading */

typedef struct rec_reader {
    const fl_value *v;
    char *err;
    size_t errlen;
} rec_reader;

static bool bad(rec_reader *r, const char *field, const char *why)
{
    snprintf(r->err, r->errlen, "%s: %s", field, why);
    return false;
}

static bool get_u64(rec_reader *r, const char *key, bool required,
                    uint64_t *out)
{
    const fl_value *x = fl_value_get(r->v, key);
    if (!x)
        return !required || bad(r, key, "missing");
    double d = fl_value_number(x);
    if (fl_value_type(x) != FL_TYPE_NUMBER || d < 0 || d >= 9007199254740992.0 ||
        d != (double)(uint64_t)d)
        return bad(r, key, "expected an integer");
    *out = (uint64_t)d;
    return true;
}

/* The string at key (NULL when absent and not required). */
static bool get_str(rec_reader *r, const char *key, bool required,
                    const char **out)
{
    const fl_value *x = fl_value_get(r->v, key);
    *out = NULL;
    if (!x)
        return !required || bad(r, key, "missing");
    if (fl_value_type(x) != FL_TYPE_STRING)
        return bad(r, key, "expected a string");
    *out = fl_value_string(x, NULL);
    return true;
}

static bool state_of(const char *name, fl_state *st)
{
    static const fl_state all[] = {FL_PENDING, FL_STARTED, FL_RETRY,
                                   FL_SUCCESS, FL_FAILURE, FL_REVOKED};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(fl_state_name(all[i]), name) == 0) {
            *st = all[i];
            return true;
        }
    return false;
}

static fl_status load_accept(fl_core *c, rec_reader *r, uint64_t kid)
{
    const char *client, *sched;
    uint64_t rid = 0, ms = 0;
    if (!get_str(r, "client", true, &client) || !get_u64(r, "rid", true, &rid) ||
        !get_u64(r, "ms", false, &ms) || !get_str(r, "schedule", false, &sched))
        return FL_EPROTO;
    if (!fl__valid_id(client)) {
        bad(r, "client", "not a node id");
        return FL_EPROTO;
    }
    if (fl__map_get(&c->remote.by_kid, kid)) {
        bad(r, "id", "accepted twice");
        return FL_EPROTO;
    }
    const fl_value *cv = fl_value_get(r->v, "canvas");
    if (cv && fl_value_type(cv) != FL_TYPE_OBJECT) {
        bad(r, "canvas", "expected an object");
        return FL_EPROTO;
    }
    fl_hosted *h = fl__calloc(1, sizeof *h);
    if (!h)
        return FL_ENOMEM;
    if (cv && !(h->canvas = fl_value_to_json(cv, NULL))) {
        fl__free(h);
        return FL_ENOMEM;
    }
    h->kid = kid;
    h->rid = rid;
    h->submitted_ms = ms;
    h->state = FL_PENDING;
    snprintf(h->client, sizeof h->client, "%s", client);
    if (sched && fl__valid_id(sched))
        snprintf(h->sched, sizeof h->sched, "%s", sched);
    if (!fl__hosted_link(c, h)) {
        fl__hosted_free(h);
        return FL_ENOMEM;
    }
    if (h->sched[0])
        fl__sched_ran(c, h->sched, kid, ms);
    return FL_OK;
}

static fl_hosted *known(fl_core *c, rec_reader *r, uint64_t kid)
{
    fl_hosted *h = fl__map_get(&c->remote.by_kid, kid);
    if (!h)
        bad(r, "id", "no workflow of that id was accepted before");
    return h;
}

static fl_status load_start(fl_core *c, rec_reader *r, uint64_t kid)
{
    const char *node;
    uint64_t ms = 0;
    fl_hosted *h = known(c, r, kid);
    if (!h || !get_u64(r, "ms", false, &ms) || !get_str(r, "node", false, &node))
        return FL_EPROTO;
    h->started_ms = ms ? ms : 1;
    if (!h->ended)
        h->state = FL_STARTED;
    if (node && fl__valid_id(node))
        snprintf(h->node, sizeof h->node, "%s", node);
    return FL_OK;
}

static fl_status load_end(fl_core *c, rec_reader *r, uint64_t kid, uint64_t now)
{
    const char *state, *node, *type = NULL, *message = NULL;
    uint64_t ms = 0, attempts = 0;
    fl_state st;
    fl_hosted *h = known(c, r, kid);
    if (!h || !get_u64(r, "ms", false, &ms) || !get_str(r, "state", true, &state) ||
        !get_u64(r, "attempts", false, &attempts) ||
        !get_str(r, "node", false, &node))
        return FL_EPROTO;
    if (!state_of(state, &st) || (st != FL_SUCCESS && st != FL_FAILURE &&
                                  st != FL_REVOKED)) {
        bad(r, "state", "expected SUCCESS, FAILURE or REVOKED");
        return FL_EPROTO;
    }
    char *value = NULL;
    const fl_value *v = fl_value_get(r->v, "value");
    if (st == FL_SUCCESS || v) {
        value = v ? fl_value_to_json(v, NULL) : fl__strdup("null");
        if (!value)
            return FL_ENOMEM;
    }
    if (st != FL_SUCCESS) {
        const fl_value *e = fl_value_get(r->v, "error");
        rec_reader er = {e, r->err, r->errlen};
        if (!e || fl_value_type(e) != FL_TYPE_OBJECT ||
            !get_str(&er, "type", true, &type) ||
            !get_str(&er, "message", true, &message)) {
            if (!r->err[0])
                bad(r, "error", "expected an object with type and message");
            fl__free(value);
            return FL_EPROTO;
        }
    }
    fl__free(h->value_json);
    fl__free(h->err_type);
    fl__free(h->err_message);
    fl__free(h->canvas);
    h->canvas = NULL;
    h->value_json = value;
    h->err_type = type ? fl__strdup(type) : NULL;
    h->err_message = message ? fl__strdup(message) : NULL;
    h->ended = true;
    h->state = st;
    h->ended_ms = ms;
    h->attempts = attempts > UINT32_MAX ? UINT32_MAX : (uint32_t)attempts;
    if (node && fl__valid_id(node))
        snprintf(h->node, sizeof h->node, "%s", node);
    /* Its keeping time runs from when it ended, not from now. */
    uint64_t wall = fl__keeper_wall_ms(c), age_us = 0;
    if (wall && ms && wall > ms)
        age_us = (wall - ms) * 1000u;
    h->ended_at = now > age_us ? now - age_us : 1;
    if (!h->ended_at)
        h->ended_at = 1;
    return FL_OK;
}

fl_status fl_core_kept_load(fl_core *c, const char *record, size_t len,
                            uint64_t now, char *err, size_t errlen)
{
    char dummy[8];
    fl_value *v = NULL;
    const char *t;
    uint64_t kid = 0;
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    fl_status st = fl_value_parse(record, len, &v);
    if (st != FL_OK) {
        snprintf(err, errlen, "not valid JSON");
        return st == FL_ENOMEM ? FL_ENOMEM : FL_EPROTO;
    }
    rec_reader r = {v, err, errlen};
    st = FL_EPROTO;
    if (fl_value_type(v) != FL_TYPE_OBJECT)
        bad(&r, "record", "expected an object");
    else if (get_str(&r, "t", true, &t) &&
             (strcmp(t, "sched") == 0 || strcmp(t, "unsched") == 0))
        st = fl__sched_load(c, t, v, err, errlen);
    else if (t && get_u64(&r, "id", true, &kid)) {
        if (strcmp(t, "accept") == 0)
            st = load_accept(c, &r, kid);
        else if (strcmp(t, "start") == 0)
            st = load_start(c, &r, kid);
        else if (strcmp(t, "end") == 0)
            st = load_end(c, &r, kid, now);
        else if (strcmp(t, "next") == 0) {
            if (kid > c->remote.next_kid)
                c->remote.next_kid = kid;
            st = FL_OK;
        } else
            bad(&r, "t", "expected accept, start, end, next, sched or unsched");
    }
    fl_value_free(v);
    if (st == FL_OK)
        c->remote.stored++;
    return st;
}

void fl_core_kept_resume(fl_core *c, uint64_t now)
{
    char err[256];
    size_t resumed = 0;
    for (fl_hosted *h = c->remote.hosted; h; h = h->next) {
        if (h->ended)
            continue;
        err[0] = '\0';
        fl_status st = h->canvas ? fl__hosted_start(c, h, now, err, sizeof err)
                                 : FL_EPROTO;
        if (st == FL_OK) {
            resumed++;
            if (h->ended) /* it ended inside the start */
                fl__kept_ended(c, h);
            continue;
        }
        /* It cannot run again: say why to whoever asks, and store that. */
        h->ended = true;
        h->state = FL_FAILURE;
        h->ended_ms = fl__keeper_wall_ms(c);
        h->err_type = fl__strdup("OwnerLost");
        h->err_message = fl__strdup(
            h->canvas ? "the keeper restarted and could not resume the workflow"
                      : "the keeper restarted and its journal lost the workflow");
        fl__free(h->canvas);
        h->canvas = NULL;
        fl__kept_ended(c, h);
        fl__log(c, FL_LOG_WARN, "cannot resume workflow %llu: %s",
                (unsigned long long)h->kid, err[0] ? err : fl_strerror(st));
    }
    fl__keeper_prune(c, now);
    fl__sched_resume(c);
    if (resumed || c->remote.nhosted)
        fl__log(c, FL_LOG_INFO, "journal: %zu workflow(s) resumed, %zu kept; "
                "next id %llu", resumed, c->remote.nhosted,
                (unsigned long long)c->remote.next_kid);
}
