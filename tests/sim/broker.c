/*
 * broker.c - the simulator's in-memory MQTT broker (see broker.h). All
 * randomness comes from the run's one PRNG, so a seed replays exactly.
 * Depends on broker.h and the C standard library.
 */
#include "broker.h"

#include <stdlib.h>
#include <string.h>

typedef struct sim_delivery {
    uint64_t due;
    sim_msg *m;
    struct sim_delivery *next;
} sim_delivery;

typedef struct sim_session {
    bool connected;
    uint64_t epoch;       /* bumped on every connect and disconnect */
    char **filters;
    size_t nfilters, capfilters;
    sim_delivery *head;   /* sorted by due time, FIFO among equals */
    sim_delivery *tail;   /* its last, when head is not NULL */
    uint64_t inorder_due; /* due time of the last in-order delivery */
    sim_msg *will;
    bool will_armed;      /* an unclean disconnect awaits its keep-alive */
} sim_session;

struct sim_broker {
    sim_events *ev;
    fl_rng *rng;
    const sim_faults *f;
    sim_session *s;
    int n;
    sim_msg **retained;
    size_t nret, capret;
    sim_broker_stats st;
};

static sim_msg *msg_new(const char *topic, const void *payload, size_t len)
{
    sim_msg *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    size_t tl = strlen(topic);
    m->topic = malloc(tl + 1);
    m->payload = malloc(len ? len : 1);
    if (!m->topic || !m->payload) {
        free(m->topic);
        free(m->payload);
        free(m);
        return NULL;
    }
    memcpy(m->topic, topic, tl + 1);
    if (len)
        memcpy(m->payload, payload, len);
    m->len = len;
    m->refs = 1;
    return m;
}

void sim_msg_unref(sim_msg *m)
{
    if (!m || --m->refs > 0)
        return;
    free(m->topic);
    free(m->payload);
    free(m);
}

sim_broker *sim_broker_new(sim_events *ev, fl_rng *rng, const sim_faults *f,
                           int sessions)
{
    sim_broker *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->s = calloc((size_t)sessions, sizeof *b->s);
    if (!b->s) {
        free(b);
        return NULL;
    }
    b->ev = ev;
    b->rng = rng;
    b->f = f;
    b->n = sessions;
    return b;
}

static void clear_queue(sim_session *s)
{
    while (s->head) {
        sim_delivery *d = s->head;
        s->head = d->next;
        sim_msg_unref(d->m);
        free(d);
    }
}

static void clear_filters(sim_session *s)
{
    for (size_t i = 0; i < s->nfilters; i++)
        free(s->filters[i]);
    s->nfilters = 0;
}

void sim_broker_free(sim_broker *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->n; i++) {
        clear_queue(&b->s[i]);
        clear_filters(&b->s[i]);
        free(b->s[i].filters);
        sim_msg_unref(b->s[i].will);
    }
    for (size_t i = 0; i < b->nret; i++)
        sim_msg_unref(b->retained[i]);
    free(b->retained);
    free(b->s);
    free(b);
}

/* One pass over both strings: every publish is matched against every
 * filter of every connection, a thousand of them in the largest runs. */
bool sim_topic_match(const char *filter, const char *topic)
{
    const char *f = filter, *t = topic;
    /* Wildcards never match topics reserved by the broker ($SYS/...). */
    if (t[0] == '$' && (f[0] == '+' || f[0] == '#'))
        return false;
    for (;;) {
        if (f[0] == '#' && f[1] == '\0')
            return true;
        if (f[0] == '+' && (f[1] == '/' || f[1] == '\0')) {
            while (*t && *t != '/')
                t++;
            f++;
        } else {
            while (*f && *f != '/' && *f == *t) {
                f++;
                t++;
            }
            if ((*f && *f != '/') || (*t && *t != '/'))
                return false; /* the levels differ */
        }
        if (!*f && !*t)
            return true;
        if (!*t) /* "a/#" also matches "a" */
            return strcmp(f, "/#") == 0;
        if (!*f)
            return false;
        f++;
        t++;
    }
}

static double uniform01(fl_rng *r)
{
    return (double)(fl__rng_next(r) >> 11) / 9007199254740992.0;
}

static uint64_t between(fl_rng *r, uint64_t lo, uint64_t hi)
{
    return hi > lo ? lo + fl__rng_below(r, hi - lo + 1) : lo;
}

/* Most deliveries are due after every other (in-order delivery clamps
 * them), so the tail is tried first: a node joining a thousand retained
 * presences would otherwise walk its queue once for each. */
static void insert_sorted(sim_session *s, sim_delivery *d)
{
    if (s->head && s->tail->due <= d->due) {
        d->next = NULL;
        s->tail->next = d;
        s->tail = d;
        return;
    }
    sim_delivery **pp = &s->head;
    while (*pp && (*pp)->due <= d->due)
        pp = &(*pp)->next;
    d->next = *pp;
    *pp = d;
    if (!d->next)
        s->tail = d;
}

/* One copy of m towards session i, through the faulty network. */
static void enqueue_copy(sim_broker *b, int i, sim_msg *m, uint64_t now)
{
    sim_session *s = &b->s[i];
    sim_delivery *d = malloc(sizeof *d);
    if (!d)
        return;
    uint64_t due = now + between(b->rng, b->f->delay_min, b->f->delay_max);
    if (b->f->reorder > 0 && uniform01(b->rng) < b->f->reorder) {
        /* Overtaken by later deliveries: not clamped, not a clamp. */
        due += between(b->rng, 1, b->f->reorder_max);
        b->st.reordered++;
    } else {
        if (due < s->inorder_due)
            due = s->inorder_due;
        s->inorder_due = due;
    }
    d->due = due;
    d->m = m;
    m->refs++;
    insert_sorted(s, d);
    sim_events_push(b->ev, due, SIM_EV_DELIVER, i, s->epoch, NULL);
}

static void enqueue(sim_broker *b, int i, sim_msg *m, uint64_t now)
{
    if (b->f->loss > 0 && uniform01(b->rng) < b->f->loss) {
        b->st.lost++;
        return;
    }
    enqueue_copy(b, i, m, now);
    if (b->f->dup > 0 && uniform01(b->rng) < b->f->dup) {
        b->st.duplicated++;
        enqueue_copy(b, i, m, now);
    }
}

static bool session_matches(const sim_session *s, const char *topic)
{
    for (size_t k = 0; k < s->nfilters; k++)
        if (sim_topic_match(s->filters[k], topic))
            return true;
    return false;
}

static void set_retained(sim_broker *b, sim_msg *m)
{
    for (size_t i = 0; i < b->nret; i++) {
        if (strcmp(b->retained[i]->topic, m->topic) != 0)
            continue;
        sim_msg_unref(b->retained[i]);
        if (m->len == 0) {
            b->retained[i] = b->retained[--b->nret];
        } else {
            b->retained[i] = m;
            m->refs++;
        }
        return;
    }
    if (m->len == 0)
        return;
    if (b->nret == b->capret) {
        size_t cap = b->capret ? b->capret * 2 : 16;
        sim_msg **r = realloc(b->retained, cap * sizeof *r);
        if (!r)
            return;
        b->retained = r;
        b->capret = cap;
    }
    b->retained[b->nret++] = m;
    m->refs++;
}

static void route(sim_broker *b, sim_msg *m, bool retain, uint64_t now)
{
    b->st.published++;
    if (retain)
        set_retained(b, m);
    for (int i = 0; i < b->n; i++)
        if (b->s[i].connected && session_matches(&b->s[i], m->topic))
            enqueue(b, i, m, now);
}

void sim_broker_publish(sim_broker *b, int from, const char *topic,
                        const void *payload, size_t len, bool retain,
                        uint64_t now)
{
    if (from >= 0 && !b->s[from].connected) {
        b->st.dropped_offline++;
        return;
    }
    sim_msg *m = msg_new(topic, payload, len);
    if (!m)
        return;
    route(b, m, retain, now);
    sim_msg_unref(m);
}

/* Wills are always retained presence in floret, so they go out retained. */
static void publish_will(sim_broker *b, sim_session *s, uint64_t now)
{
    s->will_armed = false;
    if (!s->will)
        return;
    b->st.wills++;
    route(b, s->will, true, now);
}

void sim_broker_connect(sim_broker *b, int i, const char *will_topic,
                        const void *will, size_t will_len, uint64_t now)
{
    sim_session *s = &b->s[i];
    if (s->will_armed)
        publish_will(b, s, now);
    sim_msg_unref(s->will);
    s->will = will_topic ? msg_new(will_topic, will, will_len) : NULL;
    s->will_armed = false;
    s->connected = true;
    s->epoch++;
    s->inorder_due = 0;
}

void sim_broker_disconnect(sim_broker *b, int i, sim_will_mode mode,
                           uint64_t keepalive, uint64_t now)
{
    sim_session *s = &b->s[i];
    if (!s->connected)
        return;
    s->connected = false;
    s->epoch++;
    clear_queue(s);
    clear_filters(s);
    switch (mode) {
    case SIM_WILL_NONE:
        sim_msg_unref(s->will);
        s->will = NULL;
        break;
    case SIM_WILL_NOW:
        publish_will(b, s, now);
        break;
    case SIM_WILL_LATER:
        s->will_armed = true;
        sim_events_push(b->ev, now + keepalive, SIM_EV_WILL, i, s->epoch,
                        NULL);
        break;
    }
}

void sim_broker_restart(sim_broker *b, uint64_t now)
{
    (void)now;
    for (int i = 0; i < b->n; i++) {
        sim_session *s = &b->s[i];
        if (s->connected || s->will_armed)
            s->epoch++; /* stale deliveries and keep-alive timers */
        s->connected = false;
        s->will_armed = false;
        sim_msg_unref(s->will);
        s->will = NULL;
        clear_queue(s);
        clear_filters(s);
    }
    for (size_t i = 0; i < b->nret; i++)
        sim_msg_unref(b->retained[i]);
    b->nret = 0;
    b->st.restarts++;
}

bool sim_broker_connected(const sim_broker *b, int s)
{
    return b->s[s].connected;
}

uint64_t sim_broker_epoch(const sim_broker *b, int s)
{
    return b->s[s].epoch;
}

void sim_broker_subscribe(sim_broker *b, int i, const char *filter,
                          uint64_t now)
{
    sim_session *s = &b->s[i];
    if (!s->connected)
        return;
    if (s->nfilters == s->capfilters) {
        size_t cap = s->capfilters ? s->capfilters * 2 : 4;
        char **f = realloc(s->filters, cap * sizeof *f);
        if (!f)
            return;
        s->filters = f;
        s->capfilters = cap;
    }
    size_t len = strlen(filter);
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, filter, len + 1);
    s->filters[s->nfilters++] = copy;
    for (size_t k = 0; k < b->nret; k++)
        if (sim_topic_match(filter, b->retained[k]->topic))
            enqueue(b, i, b->retained[k], now);
}

sim_msg *sim_broker_pop(sim_broker *b, int i, uint64_t epoch, uint64_t now)
{
    sim_session *s = &b->s[i];
    if (epoch != s->epoch || !s->connected || !s->head || s->head->due > now)
        return NULL;
    sim_delivery *d = s->head;
    s->head = d->next;
    sim_msg *m = d->m;
    free(d);
    b->st.delivered++;
    return m;
}

void sim_broker_will_timeout(sim_broker *b, int i, uint64_t epoch,
                             uint64_t now)
{
    sim_session *s = &b->s[i];
    if (epoch == s->epoch && !s->connected && s->will_armed)
        publish_will(b, s, now);
}

void sim_broker_stats_get(const sim_broker *b, sim_broker_stats *st)
{
    *st = b->st;
}
