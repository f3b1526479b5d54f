/*
 * core.c - the fl_core object: configuration, topics, dispatch of received
 * messages to the owner, worker and presence sides, timers, flushing, and
 * graceful shutdown. Every byte received is decoded by the codec before any
 * other part sees it; a bad message costs one log line and, when its sender
 * is known, one error reply.
 * Depends on internal.h; vsnprintf only to format log lines.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"

void fl__log(fl_core *c, int level, const char *fmt, ...)
{
    if (level > c->log_level || !c->io.log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->io.log(c->io.ud, level, line);
}

void fl__send_to(fl_core *c, const char *to, const char *suffix, int qos,
                 bool retain)
{
    char topic[sizeof c->prefix + FL_MAX_ID_BUF + 16];
    const void *payload;
    size_t len;
    /* Point to point: compressed when the receiver decodes a codec of
     * ours and the attachment is worth it (protocol.md section 3). */
    if (to)
        fl__jw_compress(&c->jw, fl__peer_zcodec(c, to));
    if (to)
        snprintf(topic, sizeof topic, "%snode/%s/in", c->prefix, to);
    else
        snprintf(topic, sizeof topic, "%s%s", c->prefix, suffix);
    fl_status st = fl__jw_finish(&c->jw, &payload, &len);
    if (st != FL_OK)
        fl__log(c, FL_LOG_ERROR, "could not encode a message for %s: %s",
                topic, fl_strerror(st));
    else if (len > c->max_message)
        fl__log(c, FL_LOG_ERROR, "message for %s of %zu bytes exceeds the "
                "limit of %zu; not sent", topic, len, c->max_message);
    else if (c->connected && c->io.publish)
        c->io.publish(c->io.ud, topic, payload, len, qos, retain);
    fl__jw_reset(&c->jw);
    if (FL_JW_KEEP_BYTES && (c->jw.json.cap > FL_JW_KEEP_BYTES ||
                             c->jw.zout.cap > FL_JW_KEEP_BYTES))
        fl__jw_free(&c->jw);
}

static void send_error_re(fl_core *c, const char *to, bool has_re, uint64_t re,
                          const char *type, const char *message)
{
    fl__jw_begin_msg(&c->jw, FL_KIND_ERROR, c->id, c->inc);
    if (has_re)
        fl__jw_u64(&c->jw, "re", re);
    fl__jw_obj(&c->jw, "error");
    fl__jw_str(&c->jw, "type", type);
    fl__jw_str(&c->jw, "message", message);
    fl__jw_end_obj(&c->jw);
    fl__send_to(c, to, NULL, 1, false);
}

void fl__send_error(fl_core *c, const char *to, const fl_msg *re,
                    const char *type, const char *message)
{
    send_error_re(c, to, re && re->has_mid, re ? re->mid : 0, type, message);
}

/* ------------------------------------------------------------ lifecycle */

static fl_status build_will(fl_core *c)
{
    fl_jw w;
    const void *payload;
    size_t len;
    fl__jw_init(&w);
    fl__presence_write(c, &w, false);
    fl_status st = fl__jw_finish(&w, &payload, &len);
    if (st == FL_OK) {
        fl__buf_put(&c->will, payload, len);
        if (!fl__buf_ok(&c->will))
            st = FL_ENOMEM;
    }
    fl__jw_free(&w);
    snprintf(c->will_topic, sizeof c->will_topic, "%snode/%s", c->prefix,
             c->id);
    return st;
}

fl_status fl_core_new(const fl_core_config *cfg, const fl_core_io *io,
                      fl_core **out)
{
    const char *cluster = cfg->cluster ? cfg->cluster : "default";
    *out = NULL;
    if (!cfg->node_id || !fl__valid_id(cfg->node_id) ||
        !fl__valid_id(cluster))
        return FL_EINVAL;
    fl_core *c = fl__calloc(1, sizeof *c);
    if (!c)
        return FL_ENOMEM;
    snprintf(c->id, sizeof c->id, "%s", cfg->node_id);
    snprintf(c->cluster, sizeof c->cluster, "%s", cluster);
    snprintf(c->prefix, sizeof c->prefix, "floret/v1/%s/", cluster);
    snprintf(c->runtime, sizeof c->runtime, "%s",
             cfg->runtime ? cfg->runtime : "native");
    snprintf(c->arch, sizeof c->arch, "%s", cfg->arch ? cfg->arch : "unknown");
    if (cfg->tags && !fl__valid_tags(cfg->tags)) {
        fl__free(c);
        return FL_EINVAL;
    }
    snprintf(c->tags, sizeof c->tags, "%s", cfg->tags ? cfg->tags : "");
    if (cfg->only_tasks && !fl__valid_task_filter(cfg->only_tasks)) {
        fl__free(c);
        return FL_EINVAL;
    }
    if (cfg->only_tasks && !(c->only_tasks = fl__strdup(cfg->only_tasks))) {
        fl__free(c);
        return FL_ENOMEM;
    }
    c->inc = cfg->incarnation & ((1ull << 53) - 1);
    c->slots = cfg->slots;
    c->max_message = cfg->max_message ? cfg->max_message
                                      : FL_DEFAULT_MAX_MESSAGE;
    c->ttl_ms = cfg->lease_ttl_ms ? cfg->lease_ttl_ms
                                  : FL_DEFAULT_LEASE_TTL_MS;
    c->log_level = cfg->log_level;
    c->registry = cfg->registry;
    if (FL_ZCODECS && cfg->zcodecs) {
        c->z = *cfg->zcodecs;
        c->zsend = cfg->zsend;
        if (c->z.n > FL_Z_MAX_CODECS)
            c->z.n = FL_Z_MAX_CODECS;
    }
    c->io = *io;
    c->rng.state = cfg->seed ^ c->inc;
    fl__jw_init(&c->jw);
    fl__buf_init(&c->will);
    fl__owner_init(c);
    fl__worker_init(c);
    fl__obs_init(c, cfg->events);
    fl__remote_init(c, cfg);
    if (build_will(c) != FL_OK) {
        fl_core_free(c);
        return FL_ENOMEM;
    }
    *out = c;
    return FL_OK;
}

void fl_core_free(fl_core *c)
{
    if (!c)
        return;
    fl__owner_free(c);
    fl__worker_free(c);
    fl__remote_free(c);
    fl__peers_free(c);
    fl__obs_free(c);
    fl__jw_free(&c->jw);
    fl__buf_free(&c->will);
    fl__free(c->extra_tasks);
    fl__free(c->extra_modules);
    fl__free(c->only_tasks);
    fl__free(c);
}

/* Every comma-separated entry of list is 1..64 bytes of [A-Za-z0-9_.-]
 * (with '@' allowed when at is true: "module@version"). */
static bool valid_list(const char *list, bool at)
{
    char item[FL_MAX_ID_BUF];
    for (const char *t = list; t && *t;) {
        size_t n = strcspn(t, ",");
        if (n == 0 || n > FL_MAX_ID)
            return false;
        memcpy(item, t, n);
        item[n] = '\0';
        char *sep = at ? strchr(item, '@') : NULL;
        if (sep)
            *sep = '.'; /* same charset on both sides of the @ */
        if (!fl__valid_id(item))
            return false;
        t += n + (t[n] == ',');
    }
    return true;
}

void fl_core_set_ctl(fl_core *c, fl_core_ctl_fn fn, void *ud)
{
    c->ctl = fn;
    c->ctl_ud = ud;
}

void fl_core_set_answer(fl_core *c, fl_core_answer_fn fn, void *ud)
{
    c->answer = fn;
    c->answer_ud = ud;
}

fl_status fl_core_set_extra_tasks(fl_core *c, const char *tasks,
                                  const char *modules, uint64_t now)
{
    (void)now;
    if (!valid_list(tasks, false) || !valid_list(modules, true))
        return FL_EINVAL;
    char *t = tasks && *tasks ? fl__strdup(tasks) : NULL;
    char *m = modules && *modules ? fl__strdup(modules) : NULL;
    if ((tasks && *tasks && !t) || (modules && *modules && !m)) {
        fl__free(t);
        fl__free(m);
        return FL_ENOMEM;
    }
    fl__free(c->extra_tasks);
    fl__free(c->extra_modules);
    c->extra_tasks = t;
    c->extra_modules = m;
    if (c->connected && !c->shutting_down && !c->offline_sent)
        fl__presence_publish(c, true);
    return FL_OK;
}

bool fl_core_will_retain(const fl_core *c)
{
    return c->slots > 0;
}

const char *fl_core_id(const fl_core *c) { return c->id; }
const char *fl_core_prefix(const fl_core *c) { return c->prefix; }

void fl_core_will(fl_core *c, const char **topic, const void **payload,
                  size_t *len)
{
    *topic = c->will_topic;
    *payload = c->will.data;
    *len = c->will.len;
}

/* How long a changed load waits before it is republished: longer in a
 * larger cluster, since every node receives it (defaults.h). */
static uint64_t presence_period_us(const fl_core *c)
{
    uint64_t ms = (uint64_t)c->npeers * FL_PRESENCE_PER_PEER_MS;
    return (ms > FL_PRESENCE_MS ? ms : FL_PRESENCE_MS) * 1000ull;
}

void fl_core_connected(fl_core *c, uint64_t now)
{
    char filter[sizeof c->prefix + FL_MAX_ID_BUF + 16];
    c->connected = true;
    if (c->io.subscribe) {
        snprintf(filter, sizeof filter, "%snode/+", c->prefix);
        c->io.subscribe(c->io.ud, filter, 1);
        snprintf(filter, sizeof filter, "%snode/%s/in", c->prefix, c->id);
        c->io.subscribe(c->io.ud, filter, 1);
        if (c->slots) {
            snprintf(filter, sizeof filter, "%swork", c->prefix);
            c->io.subscribe(c->io.ud, filter, 1);
        }
        if (c->slots && c->ctl) {
            snprintf(filter, sizeof filter, "%sctl", c->prefix);
            c->io.subscribe(c->io.ud, filter, 1);
            snprintf(filter, sizeof filter, "%sctl/+", c->prefix);
            c->io.subscribe(c->io.ud, filter, 1);
        }
    }
    if (!c->offline_sent)
        fl__presence_publish(c, !c->shutting_down);
    c->next_presence = now + presence_period_us(c);
    fl__owner_connected(c, now);
    fl__worker_connected(c, now);
    fl__remote_connected(c, now);
    fl__obs_connected(c, now);
    fl_core_flush(c, now);
}

void fl_core_disconnected(fl_core *c, uint64_t now)
{
    (void)now;
    c->connected = false;
}

/* ------------------------------------------------------------ input */

/* A payload whose kind is "error" is never answered with an error, even
 * when it is malformed, so two nodes cannot bounce errors forever; nor is
 * one whose sender could not be read, or one we sent ourselves. The reply
 * echoes the payload's mid as re, and its type says what kind of wrong it
 * was: TooBig, UnknownKind or BadMessage. */
static void reject(fl_core *c, const char *where, const fl_msg_head *h,
                   fl_status st, const char *why)
{
    c->stats.bad_messages++;
    fl__log(c, FL_LOG_WARN, "dropped message on %s from %s: %s", where,
            h->from[0] ? h->from : "an unknown sender", why);
    if (!h->from[0] || strcmp(h->from, c->id) == 0 || h->is_error)
        return;
    const char *type = st == FL_ETOOBIG    ? "TooBig"
                       : h->unknown_kind ? "UnknownKind"
                                         : "BadMessage";
    send_error_re(c, h->from, h->has_mid, h->mid, type, why);
}

static void wrong_kind(fl_core *c, const char *where, fl_msg *m)
{
    char why[128];
    snprintf(why, sizeof why, "kind '%s' is not accepted on %s",
             fl__kind_name(m->kind), where);
    c->stats.bad_messages++;
    fl__log(c, FL_LOG_WARN, "dropped message on %s from %s: %s", where,
            m->from, why);
    if (m->kind != FL_KIND_ERROR && strcmp(m->from, c->id) != 0)
        fl__send_error(c, m->from, m, "BadMessage", why);
}

/* An owner heard a fetch of ours but no presence of this incarnation (it
 * was lost, or is still on its way after a restart): publish it again, at
 * most once a second, whoever asks (an impostor gains nothing by it). */
static void on_no_presence(fl_core *c, const fl_msg *m, uint64_t now)
{
    fl__log(c, FL_LOG_DEBUG, "%s has no presence of ours: publishing it "
            "again", m->from);
    if (!c->connected || c->shutting_down || c->offline_sent ||
        (c->presence_asked_at && now < c->presence_asked_at + 1000000u))
        return;
    c->presence_asked_at = now ? now : 1;
    fl__presence_publish(c, true);
}

static void on_error(fl_core *c, const fl_msg *m, uint64_t now)
{
    if (m->err_type && strcmp(m->err_type, FL_NO_PRESENCE) == 0 && c->slots) {
        on_no_presence(c, m, now);
        fl__worker_fetch_refused(c, m->from);
        return;
    }
    /* One that ends a revoke request of ours reaches its waiter, who
     * says it; any other is all the user hears of it. */
    bool answered = fl__remote_on_error(c, m);
    fl__log(c, answered ? FL_LOG_DEBUG : FL_LOG_WARN, "error from %s: %s: %s",
            m->from, m->err_type ? m->err_type : "?",
            m->err_message ? m->err_message : "");
}

static void on_inbox(fl_core *c, fl_msg *m, uint64_t now)
{
    switch (m->kind) {
    case FL_KIND_FETCH:
        fl__owner_on_fetch(c, m, now);
        break;
    case FL_KIND_LEASE:
        fl__worker_on_lease(c, m, now);
        break;
    case FL_KIND_DONE:
        fl__owner_on_done(c, m, now);
        break;
    case FL_KIND_EXTEND:
        fl__owner_on_extend(c, m, now);
        break;
    case FL_KIND_RELEASE:
        fl__owner_on_release(c, m, now);
        break;
    case FL_KIND_STARTED:
        fl__owner_on_started(c, m, now);
        break;
    case FL_KIND_SUBMIT:
        fl__remote_on_submit(c, m, now);
        break;
    case FL_KIND_SUBMITTED:
        fl__remote_on_submitted(c, m, now);
        break;
    case FL_KIND_QUERY:
        fl__remote_on_query(c, m, now);
        break;
    case FL_KIND_SCHEDULE:
        fl__remote_on_schedule(c, m, now);
        break;
    case FL_KIND_RESULT:
        fl__remote_on_result(c, m, now);
        break;
    case FL_KIND_CHECK:
        fl__worker_on_check(c, m, now);
        break;
    case FL_KIND_HOLDING:
        fl__owner_on_holding(c, m, now);
        break;
    case FL_KIND_WATCH:
        fl__obs_on_watch(c, m, now);
        break;
    case FL_KIND_PING:
        /* "Is this id held?" (a node about to take it asks first). */
        if (strcmp(m->from, c->id) != 0) {
            fl__jw_begin_msg(&c->jw, FL_KIND_PONG, c->id, c->inc);
            if (m->has_mid)
                fl__jw_u64(&c->jw, "re", m->mid);
            fl__send_to(c, m->from, NULL, 1, false);
        }
        break;
    case FL_KIND_PONG:
        break;
    case FL_KIND_REVOKE:
        if (m->nids)
            fl__worker_on_revoke(c, m, now);
        else
            fl__remote_on_revoke(c, m, now);
        break;
    case FL_KIND_ERROR:
        on_error(c, m, now);
        break;
    default:
        wrong_kind(c, "the inbox", m);
    }
}

/* Which of our subscriptions topic belongs to. */
typedef enum {
    TOPIC_OTHER, TOPIC_WORK, TOPIC_PRESENCE, TOPIC_INBOX, TOPIC_STATS,
    TOPIC_EVENTS
} topic_t;

static topic_t classify(const fl_core *c, const char *topic,
                        char id[FL_MAX_ID_BUF])
{
    size_t pl = strlen(c->prefix);
    id[0] = '\0';
    if (strncmp(topic, c->prefix, pl) != 0)
        return TOPIC_OTHER;
    const char *rest = topic + pl;
    if (strcmp(rest, "work") == 0)
        return TOPIC_WORK;
    if (strncmp(rest, "node/", 5) != 0)
        return TOPIC_OTHER;
    rest += 5;
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n == 0 || n > FL_MAX_ID)
        return TOPIC_OTHER;
    memcpy(id, rest, n);
    id[n] = '\0';
    if (!slash)
        return fl__valid_id(id) ? TOPIC_PRESENCE : TOPIC_OTHER;
    if (strcmp(slash, "/in") == 0 && strcmp(id, c->id) == 0)
        return TOPIC_INBOX;
    if (fl__valid_id(id) && strcmp(slash, "/stats") == 0)
        return TOPIC_STATS;
    if (fl__valid_id(id) && strcmp(slash, "/events") == 0)
        return TOPIC_EVENTS;
    return TOPIC_OTHER;
}

void fl_core_input(fl_core *c, const char *topic, const void *payload,
                   size_t len, uint64_t now)
{
    char id[FL_MAX_ID_BUF], why[256];
    size_t pl = strlen(c->prefix);
    if (c->ctl && c->slots && strncmp(topic, c->prefix, pl) == 0 &&
        strncmp(topic + pl, "ctl", 3) == 0 &&
        (topic[pl + 3] == '\0' || topic[pl + 3] == '/')) {
        c->ctl(c->ctl_ud, topic + pl, payload, len);
        return;
    }
    topic_t kind = classify(c, topic, id);
    if (kind == TOPIC_OTHER) {
        fl__log(c, FL_LOG_DEBUG, "ignored message on unexpected topic %.200s",
                topic);
        return;
    }
    if (kind == TOPIC_STATS || kind == TOPIC_EVENTS) {
        if (len) /* empty: a cleared retained message */
            fl__obs_on_report(c, id, kind == TOPIC_STATS ? "stats" : "events",
                              payload, len, now);
        return;
    }
    if (kind == TOPIC_PRESENCE && len == 0) {
        fl__peers_forget(c, id, now);  /* retained presence was cleared */
        return;
    }
    const char *where = kind == TOPIC_WORK ? "work"
                        : kind == TOPIC_INBOX ? "the inbox" : topic + strlen(c->prefix);
    fl_msg *m = NULL;
    fl_msg_head head;
    fl_status st = fl__decode_msg(payload, len, c->max_message, &c->z, &m,
                                  why, sizeof why, &head);
    if (st != FL_OK) {
        /* Too big to parse: its head is read without parsing. */
        if (st == FL_ETOOBIG && !head.from[0])
            fl__scan_head(payload, len, &head);
        reject(c, where, &head, st, why);
        return;
    }
    if (kind == TOPIC_PRESENCE && m->kind == FL_KIND_PRESENCE)
        fl__peers_on_presence(c, id, m, now);
    else if (kind == TOPIC_WORK && m->kind == FL_KIND_WORK)
        fl__worker_on_work(c, m, now);
    else if (kind == TOPIC_INBOX && m->kind == FL_KIND_ANSWER && c->answer)
        c->answer(c->answer_ud, m->from, payload, len);
    else if (kind == TOPIC_INBOX && m->kind == FL_KIND_ANSWER)
        fl__log(c, FL_LOG_DEBUG, "dropped an answer from %s: nobody waits for it",
                m->from);
    else if (kind == TOPIC_INBOX)
        on_inbox(c, m, now);
    else
        wrong_kind(c, where, m);
    fl__msg_free(m);
}

/* ------------------------------------------------------------ timers */

static void maybe_finish_shutdown(fl_core *c)
{
    if (c->shutting_down && !c->offline_sent && fl__worker_idle(c)) {
        fl__presence_publish(c, false);
        c->offline_sent = true;
    }
}

void fl_core_flush(fl_core *c, uint64_t now)
{
    fl__owner_flush(c, now);
    fl__worker_flush(c, now);
    fl__obs_flush(c, now);
    maybe_finish_shutdown(c);
}

uint64_t fl_core_tick(fl_core *c, uint64_t now)
{
    uint64_t a = fl__owner_tick(c, now);
    uint64_t b = fl__worker_tick(c, now);
    uint64_t r = fl__remote_tick(c, now);
    if (r && (!b || r < b))
        b = r;
    /* The presence timer advances while disconnected too: a stale deadline
     * would make the caller tick in a busy loop until the broker returns. */
    if (now >= c->next_presence) {
        if (c->connected && !c->shutting_down
            && fl__worker_load(c) != c->last_load)
            fl__presence_publish(c, true);
        c->next_presence = now + presence_period_us(c);
    }
    uint64_t s = fl__obs_tick(c, now);
    fl_core_flush(c, now);
    uint64_t next = c->next_presence;
    if (s && s < next)
        next = s;
    uint64_t d = fl__worker_outbox_deadline(c);
    if (a && a < next)
        next = a;
    if (b && b < next)
        next = b;
    if (d && d < next)
        next = d;
    return next > now ? next : now + 1000u;
}

void fl_core_shutdown(fl_core *c, uint64_t now)
{
    if (c->shutting_down)
        return;
    c->shutting_down = true;
    fl__worker_shutdown(c, now);
    fl_core_flush(c, now);
}

bool fl_core_stopped(const fl_core *c)
{
    return c->shutting_down && c->offline_sent;
}

void fl_core_stats_get(const fl_core *c, fl_core_stats *st)
{
    *st = c->stats;
    st->queued_local = (uint32_t)c->worker.queue.n;
    st->running = (uint32_t)c->worker.running.n;
    /* Open workflows are owned and pending as much as their tasks are. */
    st->owned_pending =
        fl__owner_pending(c) + (uint32_t)c->owner.tasks_roots.len;
    st->owned_ready = (uint32_t)(c->owner.nready + c->owner.routed.n);
    st->owned_delayed = (uint32_t)c->owner.heap_n;
    st->owned_leased = (uint32_t)c->owner.leased.n;
}
