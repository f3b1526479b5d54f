/*
 * schedule.c - periodic workflows at a durable keeper (docs/schedules.md,
 * docs/protocol.md 3.16), Celery beat's job done inside the keeper: the
 * `schedule` requests that add, list and remove them, the tick that starts
 * each one when it is due as an ordinary kept workflow (its own KEEPER:id,
 * read like any other), and the journal records that bring schedules back
 * after a restart (stored beside the kept workflows', kept.c).
 * Fire times are the keeper's wall clock (io.wall_ms), in UTC; cron.c
 * computes them. A schedule needs a journal: a keeper without one refuses
 * it (NotDurable), as a schedule that dies with its node would surprise.
 * Depends on keeper.h (internal.h: codec, map), cron.h, canvas_parse.h.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "canvas_parse.h"
#include "cron.h"
#include "keeper.h"

struct fl_sched {
    char name[FL_MAX_ID_BUF];
    char text[FL_CRON_MAX_TEXT + 1]; /* the cron text as given */
    fl_cron cron;
    char *canvas;               /* canvas JSON of every run */
    char client[FL_MAX_ID_BUF]; /* who added it */
    uint64_t added_ms;          /* wall clock */
    uint64_t first_kid;         /* runs have ids from here on */
    uint64_t next_ms;           /* the next fire, wall clock; 0: never */
    uint64_t last_kid, last_ms; /* the last run (0: none yet) */
    uint64_t runs;
    struct fl_sched *next;      /* by name */
};

/* The longest wait between two ticks while schedules exist: a wall clock
 * that jumps is noticed within it. */
#define SCHED_RECHECK_MS 10000u

static void sched_free(fl_sched *s)
{
    fl__free(s->canvas);
    fl__free(s);
}

static fl_sched *find(fl_core *c, const char *name)
{
    for (fl_sched *s = c->remote.scheds; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

/* Into the list, kept in name order (what `list` shows). */
static void insert(fl_core *c, fl_sched *s)
{
    fl_sched **p = &c->remote.scheds;
    while (*p && strcmp((*p)->name, s->name) < 0)
        p = &(*p)->next;
    s->next = *p;
    *p = s;
    c->remote.nscheds++;
}

static void unlink_sched(fl_core *c, fl_sched *s)
{
    for (fl_sched **p = &c->remote.scheds; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            c->remote.nscheds--;
            return;
        }
}

/* The first fire after wall time `after_ms` (ms), or 0 for never. */
static uint64_t fire_after(const fl_sched *s, uint64_t after_ms)
{
    if (s->cron.every_s)
        return after_ms + (uint64_t)s->cron.every_s * 1000u;
    uint64_t t = fl__cron_next(&s->cron, after_ms / 1000u);
    return t ? t * 1000u : 0;
}

/* The fire after one due at due_ms ran at wall: an interval keeps its
 * rhythm, and neither kind makes up runs it missed (Celery beat's way). */
static uint64_t advance(const fl_sched *s, uint64_t due_ms, uint64_t wall)
{
    if (!s->cron.every_s)
        return fire_after(s, wall);
    uint64_t next = fire_after(s, due_ms);
    return next > wall ? next : fire_after(s, wall);
}

/* ------------------------------------------------------------ records */

/* The members of the schedule as journaled ({"t":"sched",...}) or as
 * answered, into the object just opened. */
static void write_sched(fl_core *c, fl_jw *w, const fl_sched *s, bool record)
{
    if (record)
        fl__jw_str(w, "t", "sched");
    fl__jw_str(w, "name", s->name);
    fl__jw_str(w, "cron", s->text);
    fl__jw_raw(w, "canvas", s->canvas, strlen(s->canvas));
    fl__jw_str(w, "client", s->client);
    if (!record)
        fl__jw_str(w, "keeper", c->id);
    fl__jw_u64(w, record ? "ms" : "added_ms", s->added_ms);
    if (record)
        fl__jw_u64(w, "first_id", s->first_kid);
    else if (s->next_ms)
        fl__jw_u64(w, "next_ms", s->next_ms);
    fl__jw_u64(w, "runs", s->runs);
    if (s->last_kid) {
        fl__jw_u64(w, "last_id", s->last_kid);
        fl__jw_u64(w, "last_ms", s->last_ms);
        const fl_hosted *h = record ? NULL
                                    : fl__map_get(&c->remote.by_kid, s->last_kid);
        if (h)
            fl__jw_str(w, "last_state", fl_state_name(h->state));
    }
}

/* One schedule as an answer's object under key (NULL: in an array). */
static void write_entry(fl_core *c, fl_jw *w, const char *key,
                        const fl_sched *s)
{
    fl__jw_obj(w, key);
    write_sched(c, w, s, false);
    fl__jw_end_obj(w);
}

/* A record, finished by store() or fl__jw_finish (which closes it). */
static void begin_record(fl_core *c, const fl_sched *s)
{
    fl__jw_reset(&c->remote.rec);
    fl__jw_obj(&c->remote.rec, NULL);
    write_sched(c, &c->remote.rec, s, true);
}

static bool store(fl_core *c)
{
    const void *payload;
    size_t len;
    if (!c->io.kept)
        return true;
    if (fl__jw_finish(&c->remote.rec, &payload, &len) != FL_OK)
        return false;
    c->remote.stored++;
    return c->io.kept(c->io.ud, payload, len);
}

static bool journal_sched(fl_core *c, const fl_sched *s)
{
    begin_record(c, s);
    return store(c);
}

static bool journal_unsched(fl_core *c, const char *name)
{
    fl__jw_reset(&c->remote.rec);
    fl__jw_obj(&c->remote.rec, NULL);
    fl__jw_str(&c->remote.rec, "t", "unsched");
    fl__jw_str(&c->remote.rec, "name", name);
    return store(c);
}

bool fl__sched_dump(fl_core *c, bool (*fn)(void *, const char *, size_t),
                    void *ud)
{
    for (const fl_sched *s = c->remote.scheds; s; s = s->next) {
        const void *payload;
        size_t len;
        begin_record(c, s);
        if (fl__jw_finish(&c->remote.rec, &payload, &len) != FL_OK ||
            !fn(ud, payload, len))
            return false;
    }
    return true;
}

size_t fl__sched_count(const fl_core *c)
{
    return c->remote.nscheds;
}

static bool rec_u64(const fl_value *v, const char *key, uint64_t *out,
                    char *err, size_t errlen)
{
    const fl_value *x = fl_value_get(v, key);
    if (!x)
        return true;
    double d = fl_value_number(x);
    if (fl_value_type(x) != FL_TYPE_NUMBER || d < 0 ||
        d >= 9007199254740992.0 || d != (double)(uint64_t)d) {
        snprintf(err, errlen, "%s: expected an integer", key);
        return false;
    }
    *out = (uint64_t)d;
    return true;
}

static const char *rec_str(const fl_value *v, const char *key)
{
    const fl_value *x = fl_value_get(v, key);
    return x && fl_value_type(x) == FL_TYPE_STRING ? fl_value_string(x, NULL)
                                                   : NULL;
}

static fl_status load_sched(fl_core *c, const fl_value *v, char *err,
                            size_t errlen)
{
    const char *name = rec_str(v, "name"), *text = rec_str(v, "cron");
    const char *client = rec_str(v, "client");
    const fl_value *cv = fl_value_get(v, "canvas");
    if (!name || !fl__valid_id(name)) {
        snprintf(err, errlen, "name: expected a schedule name");
        return FL_EPROTO;
    }
    if (!cv || fl_value_type(cv) != FL_TYPE_OBJECT) {
        snprintf(err, errlen, "canvas: expected an object");
        return FL_EPROTO;
    }
    fl_sched *s = fl__calloc(1, sizeof *s);
    if (!s)
        return FL_ENOMEM;
    if (!fl__cron_parse(text, &s->cron, err, errlen)) {
        sched_free(s);
        return FL_EPROTO;
    }
    if (!rec_u64(v, "ms", &s->added_ms, err, errlen) ||
        !rec_u64(v, "first_id", &s->first_kid, err, errlen) ||
        !rec_u64(v, "runs", &s->runs, err, errlen) ||
        !rec_u64(v, "last_id", &s->last_kid, err, errlen) ||
        !rec_u64(v, "last_ms", &s->last_ms, err, errlen)) {
        sched_free(s);
        return FL_EPROTO;
    }
    s->canvas = fl_value_to_json(cv, NULL);
    if (!s->canvas) {
        sched_free(s);
        return FL_ENOMEM;
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->text, sizeof s->text, "%s", text);
    snprintf(s->client, sizeof s->client, "%s",
             client && fl__valid_id(client) ? client : "");
    fl_sched *old = find(c, name); /* a re-add after a remove, or a dump */
    if (old) {
        unlink_sched(c, old);
        sched_free(old);
    }
    insert(c, s);
    return FL_OK;
}

fl_status fl__sched_load(fl_core *c, const char *type, const fl_value *v,
                         char *err, size_t errlen)
{
    if (strcmp(type, "sched") == 0)
        return load_sched(c, v, err, errlen);
    const char *name = rec_str(v, "name");
    if (!name) {
        snprintf(err, errlen, "name: expected a schedule name");
        return FL_EPROTO;
    }
    fl_sched *s = find(c, name);
    if (s) {
        unlink_sched(c, s);
        sched_free(s);
    }
    return FL_OK;
}

void fl__sched_ran(fl_core *c, const char *name, uint64_t kid, uint64_t ms)
{
    fl_sched *s = find(c, name);
    if (!s || kid < s->first_kid || kid <= s->last_kid)
        return; /* a run of a schedule removed since, or counted already */
    s->last_kid = kid;
    s->last_ms = ms;
    s->runs++;
}

void fl__sched_resume(fl_core *c)
{
    uint64_t wall = fl__keeper_wall_ms(c);
    for (fl_sched *s = c->remote.scheds; s; s = s->next) {
        uint64_t base = s->last_ms > s->added_ms ? s->last_ms : s->added_ms;
        s->next_ms = fire_after(s, base);
        if (s->next_ms && wall && s->next_ms <= wall)
            fl__log(c, FL_LOG_WARN, "schedule %s missed its run while the "
                    "keeper was down: it runs once now", s->name);
    }
    if (c->remote.nscheds)
        fl__log(c, FL_LOG_INFO, "journal: %zu schedule(s) kept",
                c->remote.nscheds);
}

/* ------------------------------------------------------------ runs */

/* Start one run of s as a kept workflow of ours, journaled first. */
static void fire(fl_core *c, fl_sched *s, uint64_t wall, uint64_t now)
{
    char err[256] = "";
    fl_hosted *h = fl__calloc(1, sizeof *h);
    if (h)
        h->canvas = fl__strdup(s->canvas);
    if (!h || !h->canvas) {
        fl__free(h);
        fl__log(c, FL_LOG_ERROR, "schedule %s: out of memory, run skipped",
                s->name);
        return;
    }
    h->kid = c->remote.next_kid;
    h->state = FL_PENDING;
    h->submitted_ms = wall;
    snprintf(h->client, sizeof h->client, "%s", c->id);
    snprintf(h->sched, sizeof h->sched, "%s", s->name);
    fl_status st = fl__hosted_start(c, h, now, err, sizeof err);
    if (st != FL_OK) {
        fl__hosted_free(h);
        fl__log(c, FL_LOG_WARN, "schedule %s: run not started: %s", s->name,
                err[0] ? err : fl_strerror(st));
        return;
    }
    bool stored;
    if (!fl__hosted_keep(c, h, now, &stored)) {
        fl__log(c, FL_LOG_ERROR, "schedule %s: run not started: %s", s->name,
                stored ? "out of memory" : "the journal cannot be written");
        return;
    }
    s->last_kid = h->kid;
    s->last_ms = wall;
    s->runs++;
    fl__log(c, FL_LOG_INFO, "schedule %s: started workflow %llu", s->name,
            (unsigned long long)h->kid);
}

uint64_t fl__sched_tick(fl_core *c, uint64_t now)
{
    if (!c->remote.nscheds)
        return 0;
    uint64_t wall = fl__keeper_wall_ms(c);
    if (!wall || c->shutting_down)
        return 0;
    uint64_t soonest = 0;
    for (fl_sched *s = c->remote.scheds; s; s = s->next) {
        if (s->next_ms && wall >= s->next_ms) {
            fire(c, s, wall, now);
            s->next_ms = advance(s, s->next_ms, wall);
        }
        if (s->next_ms && (!soonest || s->next_ms < soonest))
            soonest = s->next_ms;
    }
    uint64_t wait_ms = SCHED_RECHECK_MS;
    if (soonest && soonest - wall < wait_ms)
        wait_ms = soonest - wall;
    return now + (wait_ms ? wait_ms : 1u) * 1000u;
}

void fl__sched_free(fl_core *c)
{
    while (c->remote.scheds) {
        fl_sched *next = c->remote.scheds->next;
        sched_free(c->remote.scheds);
        c->remote.scheds = next;
    }
    c->remote.nscheds = 0;
}

/* ------------------------------------------------------------ requests */

/* Answer rid with a FAILURE (the error names what was wrong). false. */
static bool refuse(fl_core *c, const fl_msg *m, const char *type,
                   const char *message)
{
    fl__log(c, FL_LOG_WARN, "refused schedule %s from %s: %s: %s",
            "request", m->from, type, message);
    fl__jw_begin_msg(&c->jw, FL_KIND_RESULT, c->id, c->inc);
    fl__jw_u64(&c->jw, "rid", m->rid);
    fl__jw_u64(&c->jw, "id", 0);
    fl__jw_str(&c->jw, "state", "FAILURE");
    fl__jw_obj(&c->jw, "error");
    fl__jw_str(&c->jw, "type", type);
    fl__jw_str(&c->jw, "message", message);
    fl__jw_end_obj(&c->jw);
    fl__send_to(c, m->from, NULL, 1, false);
    return false;
}

/* SUCCESS with one schedule, or (s NULL) the whole list. */
static void answer(fl_core *c, const fl_msg *m, const fl_sched *s)
{
    fl__jw_begin_msg(&c->jw, FL_KIND_RESULT, c->id, c->inc);
    fl__jw_u64(&c->jw, "rid", m->rid);
    fl__jw_u64(&c->jw, "id", 0);
    fl__jw_str(&c->jw, "state", "SUCCESS");
    if (s) {
        write_entry(c, &c->jw, "value", s);
    } else {
        fl__jw_obj(&c->jw, "value");
        fl__jw_str(&c->jw, "keeper", c->id);
        fl__jw_u64(&c->jw, "now_ms", fl__keeper_wall_ms(c));
        fl__jw_arr(&c->jw, "schedules");
        for (const fl_sched *x = c->remote.scheds; x; x = x->next)
            write_entry(c, &c->jw, NULL, x);
        fl__jw_end_arr(&c->jw);
        fl__jw_end_obj(&c->jw);
    }
    fl__send_to(c, m->from, NULL, 1, false);
}

/* The members of a `schedule` (protocol.md 3.16), read here rather than
 * by the codec, which hands the whole message over (m->value) so that a
 * worker-only build carries none of this. Refused (false) when one has
 * the wrong type; what each op needs is checked where it is used. */
typedef struct sched_req {
    const char *op, *name, *cron; /* NULL when absent */
    const fl_value *canvas;
} sched_req;

static bool member_str(fl_core *c, const fl_msg *m, const char *key,
                       size_t max, bool is_id, const char **out)
{
    char why[120];
    const fl_value *v = fl_value_get(m->value, key);
    *out = NULL;
    if (!v)
        return true;
    const char *s = fl_value_type(v) == FL_TYPE_STRING ? fl_value_string(v, NULL)
                                                       : NULL;
    if (!s)
        snprintf(why, sizeof why, "%s: expected a string", key);
    else if (is_id && !fl__valid_id(s))
        snprintf(why, sizeof why, "%s: not a valid schedule name (1 to %d "
                 "bytes of [A-Za-z0-9_.-])", key, FL_MAX_ID);
    else if (!is_id && (!s[0] || strlen(s) > max))
        snprintf(why, sizeof why, "%s: %s", key, s[0] ? "too long" : "empty");
    else {
        *out = s;
        return true;
    }
    return refuse(c, m, "BadMessage", why);
}

static bool read_request(fl_core *c, const fl_msg *m, sched_req *q)
{
    memset(q, 0, sizeof *q);
    if (fl_value_type(m->value) != FL_TYPE_OBJECT)
        return refuse(c, m, "MemoryError", "the node is out of memory");
    q->canvas = fl_value_get(m->value, "canvas");
    if (q->canvas && fl_value_type(q->canvas) != FL_TYPE_OBJECT)
        return refuse(c, m, "BadMessage", "canvas: expected an object");
    if (!member_str(c, m, "op", 16, false, &q->op) ||
        !member_str(c, m, "name", FL_MAX_ID, true, &q->name) ||
        !member_str(c, m, "cron", FL_CRON_MAX_TEXT, false, &q->cron))
        return false;
    return q->op || refuse(c, m, "BadMessage", "op: missing");
}

/* What add needs, checked in the order a user fixes things. */
static bool add_checks(fl_core *c, const fl_msg *m, const sched_req *q,
                       fl_cron *cron, char **canvas)
{
    char why[300];
    *canvas = NULL;
    if (!q->name)
        return refuse(c, m, "BadMessage", "name: missing");
    if (!q->cron)
        return refuse(c, m, "BadMessage", "cron: missing");
    if (!q->canvas)
        return refuse(c, m, "BadMessage", "canvas: missing");
    if (!fl__cron_parse(q->cron, cron, why, sizeof why))
        return refuse(c, m, "CronError", why);
    if (!c->io.kept) {
        snprintf(why, sizeof why, "node %s keeps no journal (start it with "
                 "--state-dir DIR): a schedule would die with it", c->id);
        return refuse(c, m, "NotDurable", why);
    }
    if (!fl__keeper_wall_ms(c)) {
        snprintf(why, sizeof why, "node %s has no wall clock", c->id);
        return refuse(c, m, "NoClock", why);
    }
    if (find(c, q->name)) {
        snprintf(why, sizeof why, "node %s has a schedule '%s' already "
                 "(remove it first)", c->id, q->name);
        return refuse(c, m, "Exists", why);
    }
    if (c->remote.nscheds >= FL_MAX_SCHEDULES) {
        snprintf(why, sizeof why, "node %s keeps %u schedules, its limit",
                 c->id, (unsigned)FL_MAX_SCHEDULES);
        return refuse(c, m, "TooManySchedules", why);
    }
    *canvas = fl_value_to_json(q->canvas, NULL);
    if (!*canvas)
        return refuse(c, m, "MemoryError", "the node is out of memory");
    size_t len = strlen(*canvas);
    fl_status st = len > FL_SCHED_MAX_CANVAS
        ? FL_ETOOBIG : fl__canvas_validate(*canvas, len, why, sizeof why);
    if (st == FL_OK)
        return true;
    if (st == FL_ETOOBIG)
        snprintf(why, sizeof why, "canvas: %zu bytes, over the limit of %u "
                 "for a schedule", len, (unsigned)FL_SCHED_MAX_CANVAS);
    fl__free(*canvas);
    *canvas = NULL;
    return refuse(c, m, st == FL_ENOMEM ? "MemoryError" : "CanvasError",
                  st == FL_ENOMEM ? "the node is out of memory" : why);
}

static void on_add(fl_core *c, const fl_msg *m, const sched_req *q)
{
    fl_cron cron;
    char *canvas;
    if (!add_checks(c, m, q, &cron, &canvas))
        return;
    fl_sched *s = fl__calloc(1, sizeof *s);
    if (!s) {
        fl__free(canvas);
        refuse(c, m, "MemoryError", "the node is out of memory");
        return;
    }
    uint64_t wall = fl__keeper_wall_ms(c);
    snprintf(s->name, sizeof s->name, "%s", q->name);
    snprintf(s->text, sizeof s->text, "%s", q->cron);
    snprintf(s->client, sizeof s->client, "%s", m->from);
    s->cron = cron;
    s->canvas = canvas;
    s->added_ms = wall;
    s->first_kid = c->remote.next_kid;
    s->next_ms = fire_after(s, wall);
    /* Stored before the client hears of it, as a submit is. */
    if (!journal_sched(c, s)) {
        sched_free(s);
        refuse(c, m, "JournalError",
               "the keeper cannot write its journal (see its log)");
        return;
    }
    insert(c, s);
    fl__log(c, FL_LOG_INFO, "schedule %s (%s) added by %s", s->name, s->text,
            m->from);
    answer(c, m, s);
}

static void on_remove(fl_core *c, const fl_msg *m, const sched_req *q)
{
    char why[200];
    if (!q->name) {
        refuse(c, m, "BadMessage", "name: missing");
        return;
    }
    fl_sched *s = find(c, q->name);
    if (!s) {
        snprintf(why, sizeof why, "node %s has no schedule '%s'", c->id,
                 q->name);
        refuse(c, m, "NotFound", why);
        return;
    }
    if (!journal_unsched(c, s->name)) {
        refuse(c, m, "JournalError",
               "the keeper cannot write its journal (see its log)");
        return;
    }
    unlink_sched(c, s);
    fl__log(c, FL_LOG_INFO, "schedule %s removed by %s", s->name, m->from);
    answer(c, m, s);
    sched_free(s);
}

void fl__remote_on_schedule(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    char why[120];
    sched_req q;
    if (c->slots == 0) {
        refuse(c, m, "NotAKeeper",
               "this node is a client (0 slots); schedule at a node that runs tasks");
        return;
    }
    if (!read_request(c, m, &q))
        return;
    if (strcmp(q.op, "add") == 0) {
        on_add(c, m, &q);
    } else if (strcmp(q.op, "remove") == 0) {
        on_remove(c, m, &q);
    } else if (strcmp(q.op, "list") == 0) {
        answer(c, m, NULL);
    } else {
        snprintf(why, sizeof why, "op: expected add, list or remove, got '%.40s'",
                 q.op);
        refuse(c, m, "BadMessage", why);
    }
}

/* ------------------------------------------------------------ public */

fl_status fl_schedule_check(const char *cron, uint64_t after_ms,
                            uint64_t *next_ms, char *err, size_t errlen)
{
    fl_sched s;
    memset(&s, 0, sizeof s);
    if (err && errlen)
        err[0] = '\0';
    if (!fl__cron_parse(cron, &s.cron, err, errlen))
        return FL_EINVAL;
    if (next_ms)
        *next_ms = fire_after(&s, after_ms);
    return FL_OK;
}
