/*
 * owner.c - the owner side of the protocol (docs/protocol.md section 5):
 * the tasks this node submitted, their ready/delayed/leased queues, the
 * fetches parked by workers, lease expiry, retries with backoff and the
 * first-outcome-wins rule that gives each waiter its result exactly once.
 *
 * Leases all share one ttl, so the lease list stays ordered by deadline by
 * appending at the tail: expiry is a pop from the head, an extend is a move
 * to the tail, both O(1).
 * Depends on internal.h (and through it codec, map, rng).
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"

/* ------------------------------------------------------------ task lists */

static void tl_remove(fl_tlist *l, fl_otask *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        l->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        l->tail = t->prev;
    t->prev = t->next = NULL;
    l->n--;
}

static void tl_push_back(fl_tlist *l, fl_otask *t)
{
    t->next = NULL;
    t->prev = l->tail;
    if (l->tail)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
    l->n++;
}

static void tl_push_front(fl_tlist *l, fl_otask *t)
{
    t->prev = NULL;
    t->next = l->head;
    if (l->head)
        l->head->prev = t;
    else
        l->tail = t;
    l->head = t;
    l->n++;
}

static void tl_insert_after(fl_tlist *l, fl_otask *at, fl_otask *t)
{
    if (at == l->tail) {
        tl_push_back(l, t);
        return;
    }
    t->prev = at;
    t->next = at->next;
    at->next->prev = t;
    at->next = t;
    l->n++;
}

/* Priority bands (fl_bands): t goes behind the last task of its priority
 * (front: before the first), that is behind the last task of the nearest
 * higher priority when it is the first of its own. With one priority in
 * use, as is usual, that is a push to either end. */
static void band_insert(fl_tlist *l, fl_bands *b, fl_otask *t, bool front)
{
    unsigned p = t->prio;
    fl_otask *at = front ? NULL : b->last[p];
    for (unsigned q = p + 1; !at && q <= FL_PRIORITY_MAX; q++)
        at = b->last[q];
    if (at)
        tl_insert_after(l, at, t);
    else
        tl_push_front(l, t);
    if (!front || !b->last[p])
        b->last[p] = t;
}

static void band_remove(fl_tlist *l, fl_bands *b, fl_otask *t)
{
    if (b->last[t->prio] == t)
        b->last[t->prio] = t->prev && t->prev->prio == t->prio ? t->prev
                                                                : NULL;
    tl_remove(l, t);
}

/* Does a lease before b? Higher priority first, then the older. */
static bool leases_before(const fl_otask *a, const fl_otask *b)
{
    return a->prio != b->prio ? a->prio > b->prio : a->seq < b->seq;
}

/* ------------------------------------------------------------ delay heap */

static void heap_swap(fl_otask **h, size_t a, size_t b)
{
    fl_otask *t = h[a];
    h[a] = h[b];
    h[b] = t;
    h[a]->heap_idx = a;
    h[b]->heap_idx = b;
}

static void heap_up(fl_otask **h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p]->when <= h[i]->when)
            break;
        heap_swap(h, p, i);
        i = p;
    }
}

static void heap_down(fl_otask **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l]->when < h[m]->when)
            m = l;
        if (r < n && h[r]->when < h[m]->when)
            m = r;
        if (m == i)
            return;
        heap_swap(h, i, m);
        i = m;
    }
}

static bool heap_push(fl_owner *o, fl_otask *t)
{
    if (o->heap_n == o->heap_cap) {
        size_t ncap = o->heap_cap ? o->heap_cap * 2 : 64;
        fl_otask **nh = fl__realloc(o->heap, ncap * sizeof *nh);
        if (!nh)
            return false;
        o->heap = nh;
        o->heap_cap = ncap;
    }
    t->heap_idx = o->heap_n;
    o->heap[o->heap_n++] = t;
    heap_up(o->heap, t->heap_idx);
    return true;
}

static void heap_remove(fl_owner *o, fl_otask *t)
{
    size_t i = t->heap_idx;
    o->heap_n--;
    if (i != o->heap_n) {
        o->heap[i] = o->heap[o->heap_n];
        o->heap[i]->heap_idx = i;
        heap_down(o->heap, o->heap_n, i);
        heap_up(o->heap, i);
    }
}

/* ------------------------------------------------------------ tasks */

static size_t pending(const fl_owner *o)
{
    return o->nready + o->routed.n;
}

/* ------------------------------------------------------------ name queues */

static fl_nameq *queue_for(fl_owner *o, const char *name)
{
    fl_nameq **pp = &o->queues;
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0)
            return *pp;
    fl_nameq *q = fl__calloc(1, sizeof *q);
    if (!q || !(q->name = fl__strdup(name))) {
        fl__free(q);
        return NULL;
    }
    q->epoch = o->epoch - 1; /* its fit is not known yet */
    *pp = q; /* at the tail: a pass over the queues meets it too */
    return q;
}

/* The task a chunks task (fl.starmap) maps is what a worker must run;
 * NULL when args do not name one (the worker will say what is wrong). */
static char *starmap_inner(const char *args, size_t len)
{
    fl_value *v = NULL;
    const char *why;
    if (fl__json_parse(args, len, 0, &v, &why) != FL_OK)
        return NULL;
    const char *inner = fl_value_string(fl_value_at(v, 0), NULL);
    char *copy = inner && fl__valid_id(inner) ? fl__strdup(inner) : NULL;
    fl_value_free(v);
    return copy;
}

/* What one task adds to a lease message beyond its strings: the JSON of
 * its members, numbers at their longest. */
#define TASK_FRAME 192u

/* A lease's envelope around its tasks: v, kind, from, inc, fid, ttl_ms,
 * the tasks array, bin and the NUL byte, numbers at their longest. */
static size_t lease_envelope(const fl_core *c)
{
    return strlen(c->id) + 160u;
}

/* The arguments of a task given none: shared, never freed. */
static char k_no_args[] = "[]";
static char k_no_kwargs[] = "{}";

static void free_json(char *json)
{
    if (json != k_no_args && json != k_no_kwargs)
        fl__free(json);
}

static void task_free(fl_otask *t)
{
    fl__free(t->name);
    free_json(t->args);
    free_json(t->kwargs);
    if (t->att)
        fl__free(t->att - t->att_room);
    fl__free(t->route);
    fl__free(t);
}

/* How many tasks of q's name w holds; add: make room for the count. */
static fl_qheld *qheld_of(struct fl_oworker *w, fl_nameq *q, bool add)
{
    for (size_t i = 0; i < w->nqheld; i++)
        if (w->qheld[i].q == q)
            return &w->qheld[i];
    if (!add)
        return NULL;
    fl_qheld *n = fl__realloc(w->qheld, (w->nqheld + 1) * sizeof *n);
    if (!n)
        return NULL; /* uncounted: only the cap is looser */
    w->qheld = n;
    n[w->nqheld].q = q;
    n[w->nqheld].held = 0;
    return &n[w->nqheld++];
}

/* Take t out of whichever queue holds it. */
static void detach(fl_owner *o, fl_otask *t)
{
    switch (t->st) {
    case FL_T_READY:
        if (t->route) {
            band_remove(&o->routed, &o->routed_bands, t);
        } else {
            band_remove(&t->nq->ready, &t->nq->bands, t);
            o->nready--;
        }
        break;
    case FL_T_DELAYED:
        heap_remove(o, t);
        break;
    case FL_T_LEASED:
        tl_remove(&o->leased, t);
        if (t->holder && t->holder->held)
            t->holder->held--;
        if (t->holder) {
            fl_qheld *h = qheld_of(t->holder, t->nq, false);
            if (h && h->held)
                h->held--;
        }
        t->holder = NULL;
        break;
    }
}

static void make_ready(fl_owner *o, fl_otask *t, bool front)
{
    fl_tlist *l = &o->routed;
    fl_bands *b = &o->routed_bands;
    if (t->route) {
        o->routed_dirty = true;
    } else {
        l = &t->nq->ready;
        b = &t->nq->bands;
        o->nready++;
        if (t->need > t->nq->max_need)
            t->nq->max_need = t->need;
    }
    t->st = FL_T_READY;
    t->seq = front ? --o->seq_front : ++o->seq_back;
    band_insert(l, b, t, front);
}

/* Delay t until when; if the heap cannot grow, run it now rather than lose
 * it. */
static void make_delayed(fl_owner *o, fl_otask *t, uint64_t when)
{
    t->st = FL_T_DELAYED;
    t->when = when;
    if (!heap_push(o, t))
        make_ready(o, t, false);
}

typedef struct fl_ending {
    fl_state state;
    fl_value *value;
    const uint8_t *att;
    size_t att_len;
    const char *err_type;
    const char *err_message;
    const char *worker;
} fl_ending;

void fl__owner_owe_revoke(fl_core *c, const char *worker, uint64_t id,
                          bool terminate)
{
    fl_owner *o = &c->owner;
    if (o->nrevokes == o->revokes_cap) {
        size_t ncap = o->revokes_cap ? o->revokes_cap * 2 : 16;
        fl_revoke_out *nr = fl__realloc(o->revokes, ncap * sizeof *nr);
        if (!nr) {
            /* The worker runs it to the end; its outcome is dropped. */
            fl__log(c, FL_LOG_ERROR, "out of memory: %s not told to stop "
                    "task %llu", worker, (unsigned long long)id);
            return;
        }
        o->revokes = nr;
        o->revokes_cap = ncap;
    }
    fl_revoke_out *r = &o->revokes[o->nrevokes++];
    snprintf(r->worker, sizeof r->worker, "%s", worker);
    r->id = id;
    r->terminate = terminate;
}

/* One revoke message per worker (and terminate flag), FL_MAX_BATCH ids
 * each, for everything owed since the last flush. Kept while
 * disconnected: a revoke sent then would be lost. */
static void send_revokes(fl_core *c)
{
    fl_owner *o = &c->owner;
    if (!c->connected || !o->nrevokes)
        return;
    for (size_t i = 0; i < o->nrevokes; i++) {
        fl_revoke_out *first = &o->revokes[i];
        if (!first->worker[0])
            continue;
        char to[FL_MAX_ID_BUF];
        bool terminate = first->terminate;
        size_t in_msg = 0;
        memcpy(to, first->worker, sizeof to);
        for (size_t k = i; k < o->nrevokes; k++) {
            fl_revoke_out *r = &o->revokes[k];
            if (!r->worker[0] || r->terminate != terminate ||
                strcmp(r->worker, to) != 0)
                continue;
            if (!in_msg) {
                fl__jw_begin_msg(&c->jw, FL_KIND_REVOKE, c->id, c->inc);
                if (terminate)
                    fl__jw_bool(&c->jw, "terminate", true);
                fl__jw_arr(&c->jw, "ids");
            }
            fl__jw_u64(&c->jw, NULL, r->id);
            r->worker[0] = '\0';
            if (++in_msg == FL_MAX_BATCH) {
                fl__jw_end_arr(&c->jw);
                fl__send_to(c, to, NULL, 1, false);
                in_msg = 0;
            }
        }
        if (in_msg) {
            fl__jw_end_arr(&c->jw);
            fl__send_to(c, to, NULL, 1, false);
        }
    }
    o->nrevokes = 0;
}

/* End t: detach it, tell the waiter (or its workflow), forget it. */
static void finish(fl_core *c, fl_otask *t, const fl_ending *e, uint64_t now)
{
    fl_owner *o = &c->owner;
    if (e->state == FL_REVOKED)
        fl__obs_revoked(c, t, e->err_message, now);
    if (e->state != FL_SUCCESS)
        c->stats.owned_failed++;
    /* Its worker would run it on for nothing: tell it to stop. */
    if (e->state == FL_REVOKED && t->st == FL_T_LEASED && t->holder)
        fl__owner_owe_revoke(c, t->holder->id, t->id, o->revoke_terminate);
    detach(o, t);
    if (t->expires_at)
        o->with_expiry--;
    fl__map_del(&o->tasks, t->id);
    if (t->wf) {
        struct fl_wf *wf = t->wf;
        /* e->worker may point into t. */
        if (e->worker && e->worker[0])
            fl__canvas_task_ran_on(c, wf, e->worker);
        task_free(t);
        fl__canvas_task_ended(c, wf, e->state, e->value, e->err_type,
                              e->err_message, now);
        return;
    }
    fl_final fin = {
        .id = t->id,
        .state = e->state,
        .value = e->value,
        .att = e->att,
        .att_len = e->att_len,
        .err_type = e->err_type,
        .err_message = e->err_message,
        .attempts = t->attempts,
        .worker = e->worker ? e->worker : "",
    };
    c->stats.finished++;
    fl__final(c, &fin);
    task_free(t);
}

static void finish_error(fl_core *c, fl_otask *t, fl_state st,
                         const char *type, const char *msg, uint64_t now)
{
    fl_ending e = {.state = st, .err_type = type, .err_message = msg,
                   .worker = t->last_worker};
    finish(c, t, &e, now);
}

/* ------------------------------------------------------------ submit */

/* The options docs/canvas.md lists, each named in the reason. */
static fl_status check_options(fl_core *c, const fl_submit *s)
{
    const fl_call_options *o = &s->opt;
    fl_rate_spec rate;
    if (o->priority > FL_PRIORITY_MAX) {
        fl__log(c, FL_LOG_WARN, "submit %s: priority %u is out of range "
                "(0 to %d, higher first)", s->name, (unsigned)o->priority,
                FL_PRIORITY_MAX);
        return FL_EINVAL;
    }
    if (o->soft_time_limit_ms && o->time_limit_ms &&
        o->soft_time_limit_ms >= o->time_limit_ms) {
        fl__log(c, FL_LOG_WARN, "submit %s: soft_time_limit (%u ms) must be "
                "less than time_limit (%u ms)", s->name,
                (unsigned)o->soft_time_limit_ms, (unsigned)o->time_limit_ms);
        return FL_EINVAL;
    }
    if (o->rate_limit &&
        !fl__rate_parse(o->rate_limit, strlen(o->rate_limit), &rate)) {
        fl__log(c, FL_LOG_WARN, "submit %s: rate_limit '%.40s' is not a rate "
                "such as \"10/s\", \"100/m\" or \"5/h\" (1 to %u per "
                "second, minute or hour)", s->name, o->rate_limit,
                (unsigned)FL_RATE_MAX_N);
        return FL_EINVAL;
    }
    if (o->eta_ms && !(c->io.wall_ms && c->io.wall_ms(c->io.ud))) {
        fl__log(c, FL_LOG_WARN, "submit %s: eta needs a node with a wall "
                "clock (use countdown)", s->name);
        return FL_EINVAL;
    }
    return FL_OK;
}

/* How long t must wait before a worker may start it: its countdown, or
 * until its eta by this node's wall clock, whichever is later. */
static uint64_t start_delay_us(fl_core *c, const fl_call_options *o)
{
    uint64_t us = (uint64_t)o->countdown_ms * 1000u;
    if (o->eta_ms) {
        uint64_t wall = c->io.wall_ms(c->io.ud);
        if (o->eta_ms > wall && (o->eta_ms - wall) * 1000u > us)
            us = (o->eta_ms - wall) * 1000u;
    }
    return us;
}

static fl_status check_submit(fl_core *c, const fl_submit *s)
{
    char err[160];
    if (!s->name || !fl__valid_id(s->name)) {
        fl__log(c, FL_LOG_WARN, "submit: task name '%.80s' is not 1..%d "
                "bytes of [A-Za-z0-9_.-]", s->name ? s->name : "(null)",
                FL_MAX_ID);
        return FL_EINVAL;
    }
    if (s->args_json && !s->json_checked &&
        fl__check_json(s->args_json, s->args_len, FL_TYPE_ARRAY, err,
                       sizeof err) != FL_OK) {
        fl__log(c, FL_LOG_WARN, "submit %s: args: %s", s->name, err);
        return FL_EINVAL;
    }
    if (s->kwargs_json && !s->json_checked &&
        fl__check_json(s->kwargs_json, s->kwargs_len, FL_TYPE_OBJECT, err,
                       sizeof err) != FL_OK) {
        fl__log(c, FL_LOG_WARN, "submit %s: kwargs: %s", s->name, err);
        return FL_EINVAL;
    }
    /* Checked even when the text was: a lease nests them 3 levels down. */
    const char *deep = NULL, *which = NULL;
    if (s->args_json && (deep = fl__json_depth_check(s->args_json, s->args_len,
                                                     FL_MAX_ARG_DEPTH)))
        which = "args";
    else if (s->kwargs_json &&
             (deep = fl__json_depth_check(s->kwargs_json, s->kwargs_len,
                                          FL_MAX_ARG_DEPTH)))
        which = "kwargs";
    if (deep) {
        fl__log(c, FL_LOG_WARN, "submit %s: %s: %s for task arguments (a "
                "lease carries them 3 levels down)", s->name, which, deep);
        return FL_EINVAL;
    }
    if (s->opt.route && !fl__valid_id(s->opt.route) &&
        !fl__valid_tag(s->opt.route, strlen(s->opt.route))) {
        fl__log(c, FL_LOG_WARN, "submit %s: route '%.80s' is neither a node "
                "id nor a tag key=value", s->name, s->opt.route);
        return FL_EINVAL;
    }
    fl_status st = check_options(c, s);
    if (st != FL_OK)
        return st;
    /* 256 bytes covers the envelope and the task's own members. */
    size_t size = strlen(s->name) + s->args_len + s->kwargs_len + s->att_len +
                  256;
    if (size > c->max_message) {
        fl__log(c, FL_LOG_WARN, "submit %s: task of %zu bytes exceeds the "
                "message limit of %zu bytes", s->name, size, c->max_message);
        return FL_ETOOBIG;
    }
    return FL_OK;
}

/* s's string `given` (len bytes): taken from *take when it is the one
 * handed over, else copied; `none` when there is none. */
static char *keep_string(const char *given, size_t len, char **take,
                         char *none)
{
    if (!given)
        return none;
    if (take && *take == given) {
        char *kept = *take;
        *take = NULL;
        return kept;
    }
    return fl__strndup(given, len);
}

size_t fl__att_room_for(size_t len)
{
    return len >= FL_ATT_ROOM_FROM ? FL_ATT_ROOM : 0;
}

static bool copy_submit(fl_otask *t, const fl_submit *s)
{
    t->name = keep_string(s->name, strlen(s->name), s->name_take, NULL);
    t->args = keep_string(s->args_json, s->args_len, s->args_take, k_no_args);
    t->args_len = s->args_json ? s->args_len : 2;
    t->kwargs = keep_string(s->kwargs_json, s->kwargs_len, s->kwargs_take,
                            k_no_kwargs);
    t->kwargs_len = s->kwargs_json ? s->kwargs_len : 2;
    if (s->att_len && s->att_take && *s->att_take == s->att) {
        t->att = *s->att_take;
        *s->att_take = NULL;
        t->att_len = s->att_len;
        t->att_room = s->att_room;
    } else if (s->att_len) {
        size_t room = fl__att_room_for(s->att_len);
        uint8_t *block = fl__malloc(room + s->att_len);
        if (block) {
            t->att = block + room;
            t->att_room = room;
            memcpy(t->att, s->att, s->att_len);
        }
        t->att_len = s->att_len;
    }
    if (s->opt.route)
        t->route = fl__strdup(s->opt.route);
    return t->name && t->args && t->kwargs && (!s->att_len || t->att) &&
           (!s->opt.route || t->route);
}

fl_status fl_core_submit(fl_core *c, const fl_submit *s, uint64_t now,
                         uint64_t *id)
{
    return fl__owner_submit(c, s, now, NULL, id);
}

fl_status fl__owner_submit(fl_core *c, const fl_submit *s, uint64_t now,
                           struct fl_wf *wf, uint64_t *id)
{
    fl_owner *o = &c->owner;
    if (c->shutting_down)
        return FL_ESTATE;
    fl_status st = check_submit(c, s);
    if (st != FL_OK)
        return st;
    fl_otask *t = fl__calloc(1, sizeof *t);
    if (!t || !copy_submit(t, s)) {
        if (t)
            task_free(t);
        return FL_ENOMEM;
    }
    char *inner = strcmp(t->name, "fl.starmap") == 0
                      ? starmap_inner(t->args, t->args_len)
                      : NULL;
    t->nq = queue_for(o, inner ? inner : t->name);
    fl__free(inner);
    if (!t->nq) {
        task_free(t);
        return FL_ENOMEM;
    }
    t->need = t->args_len + t->kwargs_len + t->att_len + strlen(t->name) +
              TASK_FRAME;
    t->id = o->next_id++;
    t->wf = wf;
    t->time_limit_ms = s->opt.time_limit_ms;
    t->soft_time_limit_ms = s->opt.soft_time_limit_ms;
    t->prio = s->opt.priority;
    fl_rate_spec rate = {0, 's'};
    if (s->opt.rate_limit &&
        fl__rate_parse(s->opt.rate_limit, strlen(s->opt.rate_limit), &rate)) {
        t->rate_n = rate.n; /* check_options made sure it reads */
        t->rate_unit = rate.unit;
    }
    t->retries_left = s->opt.retries;
    t->max_attempts = s->opt.max_attempts
                          ? s->opt.max_attempts
                          : FL_DEFAULT_MAX_ATTEMPTS + s->opt.retries;
    if (s->opt.expires_ms) {
        t->expires_at = now + (uint64_t)s->opt.expires_ms * 1000u;
        o->with_expiry++;
    }
    if (!fl__map_put(&o->tasks, t->id, t)) {
        if (t->expires_at)
            o->with_expiry--;
        task_free(t);
        return FL_ENOMEM;
    }
    uint64_t delay = start_delay_us(c, &s->opt);
    if (delay)
        make_delayed(o, t, now + delay);
    else
        make_ready(o, t, false);
    c->stats.submitted++;
    if (id)
        *id = t->id;
    return FL_OK;
}

fl_status fl_core_revoke(fl_core *c, uint64_t id, uint64_t now)
{
    return fl_core_revoke_with(c, id, false, now);
}

bool fl__owner_revoke(fl_core *c, uint64_t id, bool terminate,
                      const char *why, uint64_t now)
{
    fl_owner *o = &c->owner;
    bool found = true;
    bool outer = o->revoke_terminate;
    o->revoke_terminate = outer || terminate; /* canvas revokes nest */
    if (!fl__canvas_revoke(c, id, now)) {
        fl_otask *t = fl__map_get(&o->tasks, id);
        if (t)
            finish_error(c, t, FL_REVOKED, "Revoked",
                         why ? why : "revoked by its owner", now);
        else
            found = false;
    }
    o->revoke_terminate = outer;
    return found;
}

fl_status fl_core_revoke_with(fl_core *c, uint64_t id, bool terminate,
                              uint64_t now)
{
    if (fl__owner_revoke(c, id, terminate, NULL, now) ||
        fl__remote_revoke(c, id, terminate, now))
        return FL_OK;
    return FL_ENOTFOUND;
}

/* ------------------------------------------------------------ workers */

static fl_oworker *find_worker(fl_owner *o, const char *id)
{
    for (fl_oworker *w = o->workers; w; w = w->next)
        if (strcmp(w->id, id) == 0)
            return w;
    return NULL;
}

fl_oworker *fl__owner_find_worker(fl_core *c, const char *id)
{
    return find_worker(&c->owner, id);
}

static fl_oworker *add_worker(fl_owner *o, const char *id)
{
    fl_oworker *w = fl__calloc(1, sizeof *w);
    if (!w)
        return NULL;
    snprintf(w->id, sizeof w->id, "%s", id);
    w->next = o->workers;
    o->workers = w;
    return w;
}

static void remove_worker(fl_owner *o, fl_oworker *w)
{
    for (fl_oworker **p = &o->workers; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    if (o->rr == w)
        o->rr = NULL;
    fl__free(w->refused);
    fl__free(w->qheld);
    fl__free(w);
    o->epoch++;
}

/* Is name one of the comma-separated entries of list (NULL: none)? */
static bool listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && memcmp(p, name, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* w handed back a task of `name`: lease it no more of them until its
 * presence lists other tasks. */
static void add_refusal(fl_core *c, fl_oworker *w, const char *name)
{
    if (listed(w->refused, name))
        return;
    size_t old = w->refused ? strlen(w->refused) : 0, n = strlen(name);
    char *r = fl__realloc(w->refused, old + n + 2);
    if (!r)
        return; /* it hands the next one back too */
    if (old)
        r[old++] = ',';
    memcpy(r + old, name, n + 1);
    w->refused = r;
    c->owner.epoch++;
}

void fl__owner_peer_changed(fl_core *c, const char *id, bool tasks_changed)
{
    fl_owner *o = &c->owner;
    o->epoch++;
    fl_oworker *w = tasks_changed ? find_worker(o, id) : NULL;
    if (w) {
        fl__free(w->refused);
        w->refused = NULL;
    }
}

/* FNV-1a: a worker id in 8 bytes, to remember who held a lost lease. */
static uint64_t id_hash(const char *id)
{
    uint64_t h = 1469598103934665603u;
    for (; *id; id++)
        h = (h ^ (uint8_t)*id) * 1099511628211u;
    return h;
}

/* Remember who held t's lease, which ends now without an outcome. */
static void note_lost(fl_otask *t)
{
    if (!t->holder)
        return;
    t->lost_attempt = t->attempts;
    t->lost_inc = t->holder->inc;
    t->lost_who = id_hash(t->holder->id);
}

/* An incarnation in a message matches the holder's; a message without one
 * (0) is matched by id alone, as older workers send none. */
static bool inc_matches(uint64_t held, uint64_t sent)
{
    return sent == 0 || held == 0 || sent == held;
}

/* Whether (from, inc) holds t's lease now. */
static bool is_holder(const fl_otask *t, const char *from, uint64_t inc)
{
    return t->st == FL_T_LEASED && t->holder &&
           strcmp(t->holder->id, from) == 0 && inc_matches(t->holder->inc, inc);
}

/* Whether (from, inc) held the lease of attempt that was lost last. */
static bool was_holder(const fl_otask *t, const char *from, uint64_t inc,
                       uint32_t attempt)
{
    return t->lost_attempt && attempt == t->lost_attempt &&
           t->lost_who == id_hash(from) && inc_matches(t->lost_inc, inc);
}

/* Count an entry dropped as not from the worker it names or not from the
 * holder of the lease (why says which); warn at most every 10 s, with how
 * many were dropped since the last warning. */
static void drop_refused(fl_core *c, const char *what, const char *why,
                         const char *from, uint64_t id, uint64_t now)
{
    fl_owner *o = &c->owner;
    c->stats.not_holder_dropped++;
    o->not_holder_unlogged++;
    if (o->not_holder_logged_at && now < o->not_holder_logged_at + 10000000u)
        return;
    char task[40] = "";
    if (id)
        snprintf(task, sizeof task, " for task %llu", (unsigned long long)id);
    fl__log(c, FL_LOG_WARN, "dropped %llu %s %s (latest: from %s%s; %llu in "
            "all)", (unsigned long long)o->not_holder_unlogged, what, why,
            from, task, (unsigned long long)c->stats.not_holder_dropped);
    o->not_holder_unlogged = 0;
    o->not_holder_logged_at = now ? now : 1;
}

static void drop_not_holder(fl_core *c, const char *what, const char *from,
                            uint64_t id, uint64_t now)
{
    drop_refused(c, what, "not from the worker holding the lease", from, id,
                 now);
}

/* Put every lease w holds back in the ready queue (front: they waited). */
static void requeue_leases_of(fl_core *c, fl_oworker *w)
{
    fl_owner *o = &c->owner;
    size_t n = 0;
    for (fl_otask *t = o->leased.head, *next; t; t = next) {
        next = t->next;
        if (t->holder != w)
            continue;
        note_lost(t);
        detach(o, t);
        make_ready(o, t, true);
        c->stats.requeued++;
        n++;
    }
    if (n)
        fl__log(c, FL_LOG_INFO, "worker %s lost: %zu tasks back in the queue",
                w->id, n);
}

void fl__owner_worker_gone(fl_core *c, const char *id, uint64_t inc,
                           uint64_t now)
{
    (void)now;
    fl_owner *o = &c->owner;
    fl_oworker *w = find_worker(o, id);
    if (!w || (inc && w->inc && w->inc != inc))
        return;
    requeue_leases_of(c, w);
    remove_worker(o, w);
}

/* ------------------------------------------------------------ leasing */

static void write_task(fl_jw *w, const fl_otask *t)
{
    fl__jw_obj(w, NULL);
    fl__jw_u64(w, "id", t->id);
    fl__jw_str(w, "name", t->name);
    fl__jw_raw(w, "args", t->args, t->args_len);
    if (t->kwargs_len != 2)
        fl__jw_raw(w, "kwargs", t->kwargs, t->kwargs_len);
    fl__jw_u64(w, "attempt", t->attempts);
    if (t->time_limit_ms)
        fl__jw_u64(w, "time_limit_ms", t->time_limit_ms);
    if (t->soft_time_limit_ms)
        fl__jw_u64(w, "soft_time_limit_ms", t->soft_time_limit_ms);
    if (t->rate_n) {
        char rate[FL_RATE_TEXT];
        fl_rate_spec spec = {t->rate_n, t->rate_unit};
        fl__rate_format(spec, rate);
        fl__jw_str(w, "rate_limit", rate);
    }
    if (t->att_len)
        fl__jw_att_room(w, "att", t->att, t->att_len, t->att_room);
    fl__jw_end_obj(w);
}

static void begin_lease(fl_core *c, const fl_oworker *w)
{
    fl__jw_begin_msg(&c->jw, FL_KIND_LEASE, c->id, c->inc);
    fl__jw_u64(&c->jw, "fid", w->fid);
    fl__jw_u64(&c->jw, "ttl_ms", c->ttl_ms);
    /* Waiters see STARTED when a task really starts (section 3.14). */
    fl__jw_bool(&c->jw, "track_started", true);
    fl__jw_arr(&c->jw, "tasks");
}

static void end_lease(fl_core *c, const fl_oworker *w)
{
    fl__jw_end_arr(&c->jw);
    fl__send_to(c, w->id, NULL, 1, false);
}

/* A worker as leasing sees it: its presence (NULL when none was seen)
 * and the largest task a lease to it may carry. */
typedef struct wview {
    fl_oworker *w;
    const fl_peer_rec *p;
    size_t room;       /* bytes a lease to it may give its tasks */
} wview;

/* The largest payload worker w (presence p) accepts, within our own. */
static size_t worker_limit(const fl_core *c, const fl_oworker *w,
                           const fl_peer_rec *p)
{
    size_t lim = w && w->max_msg ? w->max_msg
                 : p             ? p->info.max_msg
                                 : FL_DEFAULT_MAX_MESSAGE;
    return lim < c->max_message ? lim : c->max_message;
}

/* w's presence record (NULL: none), cached until the peer table gains or
 * loses a record. */
static const fl_peer_rec *worker_peer(const fl_core *c, fl_oworker *w)
{
    if (w->peer_gen != c->peers_gen) {
        w->peer = fl__peer_find(c, w->id);
        w->peer_gen = c->peers_gen;
    }
    return w->peer;
}

/* Only a worker whose online presence vouches for its fetch is leased:
 * under floret's ACL only node X can publish node/X, while anyone may
 * write to an inbox, so a fetch alone proves nothing (a peer could claim
 * to be a ghost with a thousand slots). Our own worker needs no presence:
 * we do not keep one for ourselves. */
static bool vouched(const fl_core *c, const fl_oworker *w,
                    const fl_peer_rec *p)
{
    if (!p)
        return strcmp(w->id, c->id) == 0;
    return p->info.online && p->info.slots > 0 &&
           (!p->inc || !w->inc || p->inc == w->inc);
}

static bool view_of(const fl_core *c, fl_oworker *w, wview *v)
{
    v->w = w;
    v->p = worker_peer(c, w);
    if (!vouched(c, w, v->p))
        return false; /* gone, not a worker, or not (yet) seen: nothing */
    size_t lim = worker_limit(c, w, v->p), env = lease_envelope(c);
    v->room = lim > env ? lim - env : 0;
    return true;
}

/* Does the worker run tasks of this name, as far as this owner knows? */
static bool view_runs(const wview *v, const char *name)
{
    if (v->w && listed(v->w->refused, name))
        return false;
    return !v->p || fl__peer_runs(v->p, name);
}

/* How many tasks of q's name one worker with `slots` slots may hold: the
 * worker's own credit rule (docs/protocol.md, worker rules 2) applied to
 * this name's run time as the workers report it, with the round trip its
 * fetch reports (FL_OWNER_RTT_US when it does not say), and one more when
 * that rule holds ahead; two per slot before any run has been reported.
 * So a worker whose credit grew on quick tasks holds a burst of slow ones
 * one per slot, and the rest go to the workers that are idle, each as it
 * asks. */
static uint32_t name_cap(const fl_nameq *q, uint32_t slots, uint32_t rtt_us)
{
    if (!q->runs)
        return 2 * slots;
    double s = (double)slots, t = FL_MAX_CREDIT;
    double rtt = rtt_us ? (double)rtt_us : (double)FL_OWNER_RTT_US;
    if (q->run_us > 0) {
        double extra = s * (rtt / q->run_us - 0.01);
        if (extra < FL_MAX_CREDIT) {
            double whole = extra > 0 ? (double)(uint64_t)extra : 0.0;
            t = s + (whole < extra ? whole + 1.0 : whole); /* ceil */
            /* A worker that holds ahead may have an outcome on its way
             * while its next fetch already counts it: one more. */
            if (t > s)
                t += 1.0;
        }
    }
    if (t > FL_MAX_CREDIT)
        t = FL_MAX_CREDIT;
    return t < s ? slots : (uint32_t)t;
}

static bool under_cap(const wview *v, fl_nameq *q)
{
    fl_qheld *h = qheld_of(v->w, q, false);
    uint32_t slots = v->p && v->p->info.slots > 0 ? (uint32_t)v->p->info.slots
                                                  : 1;
    return !h || h->held < name_cap(q, slots, v->w->rtt_us);
}

/* A reported run of q's name (0: under a millisecond, or not said). */
static void note_run(fl_nameq *q, uint64_t us)
{
    double x = (double)us;
    q->run_us = q->runs ? 0.8 * q->run_us + 0.2 * x : x;
    if (q->runs < UINT32_MAX)
        q->runs++;
}

/* The first ready task of q that fits in room bytes, or NULL. */
static fl_otask *first_fitting(const fl_nameq *q, size_t room)
{
    if (q->max_need <= room)
        return q->ready.head;
    size_t looked = 0;
    for (fl_otask *t = q->ready.head; t && looked < FL_FIT_SCAN;
         t = t->next, looked++)
        if (t->need <= room)
            return t;
    return NULL;
}

/* The next task the worker may take: one routed to it first, then the
 * oldest ready task of a name it runs that fits its limit. */
static fl_otask *next_for(fl_core *c, fl_owner *o, const wview *v)
{
    fl_otask *routed = NULL;
    for (fl_otask *t = o->routed.head; t && !routed; t = t->next)
        if (t->need <= v->room && fl__route_matches(c, t->route, v->w->id) &&
            view_runs(v, t->nq->name))
            routed = t;
    if (routed && routed->prio == FL_PRIORITY_MAX)
        return routed;
    fl_otask *best = NULL;
    int capped = -1; /* the highest priority held back by its name's cap */
    for (fl_nameq *q = o->queues; q; q = q->next) {
        fl_otask *h = q->ready.head;
        if (!h || (best && !leases_before(h, best)) ||
            (routed && h->prio <= routed->prio) || !view_runs(v, q->name))
            continue;
        if (!under_cap(v, q)) {
            if ((int)h->prio > capped)
                capped = h->prio;
            continue;
        }
        fl_otask *t = first_fitting(q, v->room);
        if (t && (!best || leases_before(t, best)) &&
            (!routed || t->prio > routed->prio))
            best = t;
    }
    /* A routed task goes first among tasks of its priority. */
    if (!best)
        best = routed;
    /* Nothing of a lower priority while a higher one waits for this
     * worker's cap on its name: the worker gets it once it runs what it
     * holds of that name. */
    return best && (int)best->prio < capped ? NULL : best;
}

/* False when t must not be leased (expired, out of attempts): it is
 * finished here instead. */
static bool still_leasable(fl_core *c, fl_otask *t, uint64_t now)
{
    char msg[128];
    if (t->expires_at && now >= t->expires_at) {
        finish_error(c, t, FL_REVOKED, "Revoked",
                     "expired before a worker started it", now);
        return false;
    }
    if (t->attempts >= t->max_attempts) {
        snprintf(msg, sizeof msg, "lost its worker %u times (last: %s)",
                 (unsigned)t->attempts,
                 t->last_worker[0] ? t->last_worker : "?");
        finish_error(c, t, FL_FAILURE, "WorkerLost", msg, now);
        return false;
    }
    return true;
}

/* Lease up to max tasks to w in one message, as many as the limits let
 * it carry. Returns how many were leased. */
static size_t lease_to(fl_core *c, fl_oworker *w, size_t max, uint64_t now)
{
    fl_owner *o = &c->owner;
    size_t given = 0, in_msg = 0;
    uint64_t deadline = now + (uint64_t)c->ttl_ms * 1000u;
    wview v;
    if (!view_of(c, w, &v))
        return 0;
    size_t limit = v.room + lease_envelope(c);
    while (given < max && w->credit > 0) {
        fl_otask *t = next_for(c, o, &v);
        if (!t)
            break;
        if (in_msg && ((t->expires_at && now >= t->expires_at) ||
                       t->attempts >= t->max_attempts)) {
            /* Ending it may end a workflow, whose waiters are answered
             * with the writer this lease is being written in: send the
             * lease first. */
            end_lease(c, w);
            in_msg = 0;
        }
        if (!still_leasable(c, t, now))
            continue;
        if (in_msg && (in_msg == FL_MAX_BATCH ||
                       fl__jw_size(&c->jw) + t->need > limit))
            break; /* full: t stays ready for the next message */
        if (!in_msg)
            begin_lease(c, w);
        detach(o, t);
        t->attempts++;
        t->st = FL_T_LEASED;
        t->holder = w;
        t->check_cid = 0;
        t->when = deadline;
        memcpy(t->last_worker, w->id, sizeof t->last_worker);
        tl_push_back(&o->leased, t);
        w->held++;
        fl_qheld *h = qheld_of(w, t->nq, true);
        if (h)
            h->held++;
        w->credit--;
        write_task(&c->jw, t);
        in_msg++;
        given++;
        c->stats.leased++;
        if (t->wf)
            fl__canvas_task_leased(c, t->wf);
    }
    if (in_msg)
        end_lease(c, w);
    return given;
}

static void announce(fl_core *c, uint64_t now)
{
    fl__jw_begin_msg(&c->jw, FL_KIND_WORK, c->id, c->inc);
    fl__jw_u64(&c->jw, "pending", pending(&c->owner));
    fl__send_to(c, NULL, "work", 1, false);
    c->owner.next_announce = now + (uint64_t)FL_ANNOUNCE_MS * 1000u;
    if (!c->owner.asked_at)
        c->owner.asked_at = now;
}

/* Lease each parked worker up to its share, one message at a time and in
 * turn: the first lease of every worker leaves before the second of any
 * (a word-count chunk is a message of its own, and each takes a while to
 * cross the broker). Returns how many tasks were leased. */
static size_t lease_in_turn(fl_core *c, size_t share, uint64_t now)
{
    fl_owner *o = &c->owner;
    size_t given = 0, round;
    for (fl_oworker *w = o->workers; w; w = w->next)
        w->share = w->credit > 0 ? share : 0;
    do {
        round = 0;
        for (fl_oworker *w = o->workers; w && pending(o) > 0; w = w->next) {
            if (w->share == 0 || w->credit == 0)
                continue;
            size_t g = lease_to(c, w, w->share, now);
            w->share = g < w->share ? w->share - g : 0;
            if (g == 0)
                w->share = 0; /* nothing it may take (routes) */
            round += g;
        }
        given += round;
    } while (round > 0 && pending(o) > 0);
    return given;
}

/* ------------------------------------------------------------ placement */

/* When the owner may first fail a task for want of a worker (may_judge):
 * after the presence grace and once it has asked around twice. */
static uint64_t judged_from(const fl_owner *o)
{
    uint64_t after_presences = o->connected_at + FL_PRESENCE_GRACE_MS * 1000ull;
    if (!o->asked_at)
        return UINT64_MAX;
    uint64_t after_asking = o->asked_at + FL_ASK_GRACE_MS * 1000ull;
    return after_asking > after_presences ? after_asking : after_presences;
}

/* Tasks fail for want of a worker only once the owner has had time to
 * hear the cluster's retained presences, and only while some worker is
 * online: an empty cluster is one still starting (or restarting), and its
 * tasks wait for the first worker, as a Celery queue does. */
static bool may_judge(const fl_core *c, uint64_t now)
{
    if (!c->connected || now < judged_from(&c->owner))
        return false;
    /* Peers first: this runs on every flush, and one online worker
     * answers at once, where the loop over the workers looks each one
     * up (with hundreds of nodes, that was most of a flush). */
    for (const fl_peer_rec *p = c->peers; p; p = p->next)
        if (p->info.online && p->info.slots > 0)
            return true;
    for (fl_oworker *w = c->owner.workers; w; w = w->next)
        if (!worker_peer(c, w))
            return true; /* fetched, and never said it went */
    return false;
}

/* The largest limit among online workers that run `name` and match
 * `route` (NULL: any), 0 when there is none; *who gets its id. */
static size_t largest_fit(fl_core *c, const char *name, const char *route,
                          const char **who)
{
    fl_owner *o = &c->owner;
    size_t best = 0;
    *who = "";
    for (const fl_peer_rec *p = c->peers; p; p = p->next) {
        if (!p->info.online || p->info.slots == 0 ||
            !fl__peer_runs(p, name) ||
            (route && !fl__route_matches(c, route, p->info.id)))
            continue;
        fl_oworker *w = find_worker(o, p->info.id);
        if (w && listed(w->refused, name))
            continue;
        size_t lim = worker_limit(c, w, p);
        if (lim > best) {
            best = lim;
            *who = p->info.id;
        }
    }
    /* Workers that fetched but whose presence never came here (ourselves,
     * or one asked for its presence again): the task waits for them. */
    for (fl_oworker *w = o->workers; w; w = w->next) {
        if (worker_peer(c, w) || listed(w->refused, name) ||
            (route && !fl__route_matches(c, route, w->id)))
            continue;
        size_t lim = worker_limit(c, w, NULL);
        if (lim > best) {
            best = lim;
            *who = w->id;
        }
    }
    return best;
}

/* "n1, n2, n3": the online workers, sorted, for an error message. */
static void online_list(const fl_core *c, char *out, size_t cap)
{
    const char *prev = "";
    size_t len = 0, shown = 0, total = 0;
    out[0] = '\0';
    for (;;) { /* selection in order: few peers, and only on a failure */
        const char *next = NULL;
        for (const fl_peer_rec *p = c->peers; p; p = p->next)
            if (p->info.online && p->info.slots > 0 &&
                strcmp(p->info.id, prev) > 0 &&
                (!next || strcmp(p->info.id, next) < 0))
                next = p->info.id;
        if (!next)
            break;
        total++;
        size_t n = strlen(next);
        if (len + n + 16 < cap) {
            len += (size_t)snprintf(out + len, cap - len, "%s%s",
                                    shown ? ", " : "", next);
            shown++;
        }
        prev = next;
    }
    if (total > shown)
        snprintf(out + len, cap - len, "%s... %zu in all", shown ? ", " : "",
                 total);
    else if (!total)
        snprintf(out, cap, "none");
}

/* Fail t: no online worker may take it (fit: the largest limit of those
 * that run it and match its route, 0 for none). */
FL__NOINLINE static void fail_unplaceable(fl_core *c, fl_otask *t,
                                          size_t fit, const char *who,
                                          uint64_t now)
{
    char msg[512], online[240]; /* ids are 64 bytes: room for a few */
    if (fit) {
        snprintf(msg, sizeof msg, "task '%s' needs a %zu-byte lease; largest "
                 "worker limit is %zu (%s)", t->name,
                 t->need + lease_envelope(c), fit, who);
        finish_error(c, t, FL_FAILURE, "TaskTooBig", msg, now);
        return;
    }
    online_list(c, online, sizeof online);
    if (t->route)
        snprintf(msg, sizeof msg, "route '%s' matches no online node that "
                 "runs '%s' (online: %s)", t->route, t->nq->name, online);
    else
        snprintf(msg, sizeof msg, "no online node runs '%s' (online: %s)",
                 t->nq->name, online);
    finish_error(c, t, FL_FAILURE, "UnknownTask", msg, now);
}

/* Fail the ready tasks of q that no online worker may take. A task's end
 * may queue others (a chain's next step), so each pass starts over from
 * the head. */
static void judge_queue(fl_core *c, fl_nameq *q, uint64_t now)
{
    fl_owner *o = &c->owner;
    const char *who = "";
    if (q->epoch != o->epoch) {
        q->fit = largest_fit(c, q->name, NULL, &who);
        q->epoch = o->epoch;
    }
    if (q->fit == 0) {
        while (q->ready.head && q->fit == 0 && q->epoch == o->epoch)
            fail_unplaceable(c, q->ready.head, 0, "", now);
        return;
    }
    size_t env = lease_envelope(c);
    if (q->max_need + env <= q->fit)
        return;
    largest_fit(c, q->name, NULL, &who);
    char holder[FL_MAX_ID_BUF];
    snprintf(holder, sizeof holder, "%s", who);
    size_t fit = q->fit, most = 0;
    for (fl_otask *t = q->ready.head, *next; t; t = next) {
        next = t->next;
        if (t->need + env > fit) {
            fail_unplaceable(c, t, fit, holder, now);
            next = q->ready.head; /* the list may have changed */
            most = 0;
        } else if (t->need > most) {
            most = t->need;
        }
    }
    q->max_need = most;
}

static void judge_routed(fl_core *c, uint64_t now)
{
    fl_owner *o = &c->owner;
    if (!o->routed.head || (!o->routed_dirty && o->routed_epoch == o->epoch))
        return;
    o->routed_dirty = false;
    o->routed_epoch = o->epoch;
    size_t env = lease_envelope(c);
    for (fl_otask *t = o->routed.head, *next; t; t = next) {
        next = t->next;
        const char *who;
        size_t fit = largest_fit(c, t->nq->name, t->route, &who);
        if (fit && t->need + env <= fit)
            continue;
        char holder[FL_MAX_ID_BUF];
        snprintf(holder, sizeof holder, "%s", who);
        fail_unplaceable(c, t, fit, holder, now);
        next = o->routed.head;
    }
}

/* Fail at once what no online worker can take, instead of leaving it for
 * a worker that will never come. */
static void judge(fl_core *c, uint64_t now)
{
    fl_owner *o = &c->owner;
    if (!pending(o) || !may_judge(c, now))
        return;
    for (fl_nameq *q = o->queues; q; q = q->next)
        if (q->ready.head)
            judge_queue(c, q, now);
    judge_routed(c, now);
}

/* Hand ready tasks to parked workers in equal shares, then announce if work
 * is left and nobody is parked. Called on every flush. */
static void serve(fl_core *c, uint64_t now)
{
    fl_owner *o = &c->owner;
    /* A lease written while disconnected would go nowhere and hold its
     * task until the lease expires: wait for the connection. */
    if (!c->connected)
        return;
    judge(c, now);
    for (int pass = 0; pass < 8 && pending(o) > 0; pass++) {
        size_t parked = 0;
        for (fl_oworker *w = o->workers; w; w = w->next)
            parked += w->credit > 0;
        if (!parked)
            break;
        size_t share = (pending(o) + parked - 1) / parked;
        if (lease_in_turn(c, share, now) == 0)
            break;
    }
    /* An emptied queue keeps next_announce: announcements go at most once
     * every FL_ANNOUNCE_MS, however often the queue empties and fills.
     * Each one reaches every node, and in a busy cluster (nobody parked)
     * a queue that fills and empties with every submission would
     * otherwise wake them all for each task. The workers that heard the
     * last one fetch from us when they have room without being told
     * again (docs/scaling.md). */
    if (pending(o) == 0)
        return;
    /* Whatever is left after serving is more than the parked credit
     * covers, or for workers that are not parked here: ask around. */
    if (o->next_announce == 0 || now >= o->next_announce)
        announce(c, now);
}

void fl__owner_flush(fl_core *c, uint64_t now)
{
    send_revokes(c);
    serve(c, now);
    fl__owner_send_checks(c);
}

/* ------------------------------------------------------------ input */

/* How many workers are parked here without a presence we have seen. */
static size_t unseen_workers(const fl_core *c)
{
    size_t n = 0;
    for (fl_oworker *w = c->owner.workers; w; w = w->next)
        n += !worker_peer(c, w) && strcmp(w->id, c->id) != 0;
    return n;
}

/* A fetch whose `inc` is not the incarnation the sender's online presence
 * shows: a peer claiming the id, or a restarted worker whose new presence
 * has not reached us (it publishes it again when told, below). Taken, it
 * would re-queue the real worker's leases and gate its fetches by a fid
 * it never sent. */
static bool fetch_disowned(const fl_core *c, const fl_msg *m)
{
    const fl_peer_rec *p = fl__peer_find(c, m->from);
    return p && p->info.online && p->inc && m->inc != p->inc;
}

/* Tell a fetching worker that no presence of its (this incarnation)
 * reached us, so it is leased nothing: a real one publishes its presence
 * again (docs/protocol.md 3.7); to an impostor's victim this costs one
 * presence. */
static void ask_for_presence(fl_core *c, const fl_msg *m)
{
    char why[96];
    snprintf(why, sizeof why, "no online presence of %s with inc %llu "
             "reached this owner", m->from, (unsigned long long)m->inc);
    fl__send_error(c, m->from, m, FL_NO_PRESENCE, why);
}

void fl__owner_on_fetch(fl_core *c, fl_msg *m, uint64_t now)
{
    fl_owner *o = &c->owner;
    bool self = strcmp(m->from, c->id) == 0;
    const fl_peer_rec *p = fl__peer_find(c, m->from);
    bool seen = self || p;
    bool disowned = fetch_disowned(c, m);
    /* Offline counts as none (protocol.md 3.3): its online presence may
     * have been lost while its will was not. */
    if (!self && (!p || !p->info.online || disowned))
        ask_for_presence(c, m);
    if (disowned) {
        drop_refused(c, "fetch(es)", "not from the incarnation the sender's "
                     "presence shows", m->from, 0, now);
        return;
    }
    fl_oworker *w = find_worker(o, m->from);
    if (w && w->inc != m->inc) {
        /* Same id, new process: whatever the old one held is lost. */
        requeue_leases_of(c, w);
        w->fid = 0;
        w->credit = 0;
    }
    if (!w) {
        if (m->credit == 0)
            return;
        /* Parked until its presence comes; a flood of made-up ids is not
         * kept (each costs memory, and none will ever be leased). */
        if (!seen && unseen_workers(c) >= FL_MAX_UNSEEN_WORKERS) {
            drop_refused(c, "fetch(es)", "from workers without a presence, "
                         "over the limit", m->from, 0, now);
            return;
        }
        w = add_worker(o, m->from);
        if (!w) {
            fl__log(c, FL_LOG_ERROR, "out of memory: fetch from %s dropped",
                    m->from);
            return;
        }
        o->epoch++;
    }
    w->inc = m->inc;
    if (m->fid <= w->fid)
        return;  /* a duplicate or an older fetch overtaken by a newer one */
    w->fid = m->fid;
    w->credit = m->credit;
    w->rtt_us = m->rtt_us > FL_OWNER_RTT_US ? FL_OWNER_RTT_US
                                            : (uint32_t)m->rtt_us;
    size_t lim = m->max_msg && m->max_msg <= SIZE_MAX ? (size_t)m->max_msg : 0;
    if (lim != w->max_msg) {
        w->max_msg = lim;
        o->epoch++;
    }
}

static void retry_later(fl_core *c, fl_otask *t, uint32_t attempt,
                        uint64_t now)
{
    fl_owner *o = &c->owner;
    uint32_t n = t->attempts ? t->attempts - 1 : 0;
    uint64_t d = FL_RETRY_BASE_MS;
    for (uint32_t i = 0; i < n && d < FL_RETRY_CAP_MS; i++)
        d *= 2;
    if (d > FL_RETRY_CAP_MS)
        d = FL_RETRY_CAP_MS;
    /* Jitter drawn from the upper half spreads a burst of retries. */
    d = d / 2 + fl__rng_below(&c->rng, d / 2 + 1);
    t->retries_left--;
    t->failed_attempt = attempt;
    detach(o, t);
    make_delayed(o, t, now + d * 1000u);
    if (t->wf)
        fl__canvas_task_state(c, t->wf, FL_RETRY, NULL);
    else if (c->io.state)
        c->io.state(c->io.ud, t->id, FL_RETRY);
}

/* The worker holding t's lease does not run it after all (its presence
 * was stale, or told us nothing): t goes back to the front of the queue,
 * for another worker, without counting the attempt; that worker is leased
 * no more of these until its presence lists other tasks. An answer from
 * anyone but the holder of this very attempt is stale and dropped. */
static void handed_back(fl_core *c, fl_otask *t, const char *from,
                        uint32_t attempt)
{
    fl_owner *o = &c->owner;
    if (t->st != FL_T_LEASED || !t->holder || attempt != t->attempts ||
        strcmp(t->holder->id, from) != 0) {
        c->stats.duplicates_dropped++;
        return;
    }
    fl__log(c, FL_LOG_INFO, "%s does not run '%s': task %llu back in the "
            "queue", from, t->nq->name, (unsigned long long)t->id);
    add_refusal(c, t->holder, t->nq->name);
    detach(o, t);
    t->attempts--;
    make_ready(o, t, true);
    c->stats.requeued++;
}

static void on_result(fl_core *c, const char *from, uint64_t inc,
                      fl_msg_result *r, uint64_t now)
{
    fl_otask *t = fl__map_get(&c->owner.tasks, r->id);
    if (!t || r->attempt <= t->failed_attempt || r->attempt > t->attempts) {
        c->stats.duplicates_dropped++;
        return;
    }
    bool current = is_holder(t, from, inc) && r->attempt == t->attempts;
    if (!r->ok && r->err_type && strcmp(r->err_type, FL_NOT_RUN_HERE) == 0) {
        if (current)
            handed_back(c, t, from, r->attempt);
        else
            drop_not_holder(c, "hand-back(s)", from, r->id, now);
        return;
    }
    if (!current && !was_holder(t, from, inc, r->attempt)) {
        drop_not_holder(c, "outcome(s)", from, r->id, now);
        return;
    }
    note_run(t->nq, r->run_us);
    if (r->ok) {
        fl_ending e = {.state = FL_SUCCESS, .value = r->value, .att = r->att,
                       .att_len = r->att_len, .worker = from};
        r->value = NULL;
        finish(c, t, &e, now);
        return;
    }
    if (r->retryable && t->retries_left > 0 &&
        t->attempts < t->max_attempts) {
        fl__obs_retried(c, t, from, r->err_type, r->err_message, now);
        retry_later(c, t, r->attempt, now);
        return;
    }
    fl_ending e = {.state = FL_FAILURE, .err_type = r->err_type,
                   .err_message = r->err_message, .worker = from};
    finish(c, t, &e, now);
}

void fl__owner_on_done(fl_core *c, fl_msg *m, uint64_t now)
{
    for (size_t i = 0; i < m->nresults; i++)
        on_result(c, m->from, m->inc, &m->results[i], now);
}

/* The task id if it is leased to the sender of m, else NULL; a task that
 * is still here but not held by it (never was, or was re-leased after its
 * lease was lost) is counted. */
static fl_otask *leased_to(fl_core *c, uint64_t id, const fl_msg *m,
                           const char *what, uint64_t now)
{
    fl_otask *t = fl__map_get(&c->owner.tasks, id);
    if (!t)
        return NULL;  /* finished: a late extend or release, harmless */
    if (is_holder(t, m->from, m->inc))
        return t;
    if (!t->lost_attempt || t->lost_who != id_hash(m->from))
        drop_not_holder(c, what, m->from, id, now);
    return NULL;
}

void fl__owner_extend_task(fl_core *c, fl_otask *t, uint64_t now)
{
    fl_owner *o = &c->owner;
    t->when = now + (uint64_t)c->ttl_ms * 1000u;
    tl_remove(&o->leased, t);
    tl_push_back(&o->leased, t);
}

void fl__owner_on_extend(fl_core *c, fl_msg *m, uint64_t now)
{
    for (size_t i = 0; i < m->nids; i++) {
        fl_otask *t = leased_to(c, m->ids[i], m, "extend(s)", now);
        if (t)
            fl__owner_extend_task(c, t, now);
    }
}

/* A worker began to run tasks it holds (section 3.14): their waiters see
 * STARTED. From anyone but the holder it is stale, and changes nothing. */
void fl__owner_on_started(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    for (size_t i = 0; i < m->nids; i++) {
        fl_otask *t = fl__map_get(&c->owner.tasks, m->ids[i]);
        if (!t || !is_holder(t, m->from, m->inc) ||
            t->started_attempt == t->attempts)
            continue;
        t->started_attempt = t->attempts;
        if (t->wf)
            fl__canvas_task_state(c, t->wf, FL_STARTED, m->from);
        else if (c->io.state)
            c->io.state(c->io.ud, t->id, FL_STARTED);
    }
}

fl_otask *fl__owner_held_by(fl_core *c, uint64_t id, const char *from,
                            uint64_t inc)
{
    fl_otask *t = fl__map_get(&c->owner.tasks, id);
    return t && is_holder(t, from, inc) ? t : NULL;
}

void fl__owner_lease_lost(fl_core *c, fl_otask *t)
{
    note_lost(t);
    detach(&c->owner, t);
    make_ready(&c->owner, t, true);
    c->stats.requeued++;
}

void fl__owner_on_release(fl_core *c, fl_msg *m, uint64_t now)
{
    fl_owner *o = &c->owner;
    for (size_t i = 0; i < m->nids; i++) {
        fl_otask *t = leased_to(c, m->ids[i], m, "release(s)", now);
        if (!t)
            continue;
        detach(o, t);
        t->attempts--;  /* it never ran */
        make_ready(o, t, true);
    }
}

/* ------------------------------------------------------------ timers */

static void expire_leases(fl_core *c, uint64_t now)
{
    fl_owner *o = &c->owner;
    while (o->leased.head && o->leased.head->when <= now) {
        fl_otask *t = o->leased.head;
        fl__log(c, FL_LOG_INFO, "lease of task %llu (%s) on %s expired",
                (unsigned long long)t->id, t->name,
                t->holder ? t->holder->id : "?");
        note_lost(t);
        detach(o, t);
        make_ready(o, t, true);
        c->stats.expired++;
    }
}

static void wake_delayed(fl_core *c, uint64_t now)
{
    fl_owner *o = &c->owner;
    while (o->heap_n && o->heap[0]->when <= now) {
        fl_otask *t = o->heap[0];
        heap_remove(o, t);
        make_ready(o, t, false);
    }
}

static void revoke_expired_in(fl_core *c, fl_tlist *l, uint64_t now)
{
    for (fl_otask *t = l->head, *next; t; t = next) {
        next = t->next;
        if (t->expires_at && now >= t->expires_at)
            finish_error(c, t, FL_REVOKED, "Revoked",
                         "expired before a worker started it", now);
    }
}

static void revoke_expired(fl_core *c, uint64_t now)
{
    fl_owner *o = &c->owner;
    if (!o->with_expiry || now < o->next_expiry_scan)
        return;
    o->next_expiry_scan = now + 100000u;
    for (fl_nameq *q = o->queues; q; q = q->next)
        revoke_expired_in(c, &q->ready, now);
    revoke_expired_in(c, &o->routed, now);
    for (size_t i = 0; i < o->heap_n;) {
        fl_otask *t = o->heap[i];
        if (t->expires_at && now >= t->expires_at)
            finish_error(c, t, FL_REVOKED, "Revoked",
                         "expired before a worker started it", now);
        else
            i++;
    }
}

static uint64_t min_time(uint64_t a, uint64_t b)
{
    return a && (!b || a < b) ? a : b;
}

uint64_t fl__owner_tick(fl_core *c, uint64_t now)
{
    fl_owner *o = &c->owner;
    expire_leases(c, now);
    wake_delayed(c, now);
    revoke_expired(c, now);
    serve(c, now);
    uint64_t next = 0;
    if (o->leased.head)
        next = min_time(next, o->leased.head->when);
    if (o->heap_n)
        next = min_time(next, o->heap[0]->when);
    if (pending(o) && o->next_announce && c->connected)
        next = min_time(next, o->next_announce);
    uint64_t judged = judged_from(o);
    if (pending(o) && c->connected && now < judged && judged != UINT64_MAX)
        next = min_time(next, judged);
    if (o->with_expiry)
        next = min_time(next, o->next_expiry_scan);
    return next;
}

void fl__owner_connected(fl_core *c, uint64_t now)
{
    c->owner.next_announce = 0;
    c->owner.asked_at = 0; /* an announcement may have died with it */
    /* Leases and outcomes may have been lost with the connection. */
    fl__owner_check_all(c);
    c->owner.connected_at = now;
}

bool fl__owner_side(void) { return true; }

void fl__owner_init(fl_core *c)
{
    memset(&c->owner, 0, sizeof c->owner);
    fl__map_init(&c->owner.tasks);
    fl__map_init(&c->owner.tasks_roots);
    c->owner.next_id = 1;
}

static void free_list(fl_tlist *l)
{
    for (fl_otask *t = l->head, *next; t; t = next) {
        next = t->next;
        task_free(t);
    }
}

void fl__owner_free(fl_core *c)
{
    fl_owner *o = &c->owner;
    fl__canvas_free_all(c);
    while (o->queues) {
        fl_nameq *q = o->queues;
        o->queues = q->next;
        free_list(&q->ready);
        fl__free(q->name);
        fl__free(q);
    }
    free_list(&o->routed);
    free_list(&o->leased);
    for (size_t i = 0; i < o->heap_n; i++)
        task_free(o->heap[i]);
    fl__free(o->heap);
    while (o->workers)
        remove_worker(o, o->workers);
    fl__map_free(&o->tasks);
    fl__free(o->revokes);
}

uint32_t fl__owner_pending(const fl_core *c)
{
    return (uint32_t)c->owner.tasks.len;
}
