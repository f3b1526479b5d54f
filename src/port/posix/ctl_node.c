/*
 * ctl_node.c - what a node does with a control message: check it (parsed,
 * signed by a trusted key or unsigned where allowed, not from the future,
 * newer than anything accepted for the same module), then deploy or drop a
 * Lua module, or stop. A deploy's top-level code runs in the deploy
 * checker's child process (deploy_check.c), never on this thread; the
 * module is loaded when the check comes back, unless a newer deploy or
 * undeploy of it came meanwhile. Every refusal is one log line saying
 * why; a sender that asks for it gets an `answer` in its inbox saying
 * whether this node accepted the message, or why not. Runs on the loop thread, called by the core for `ctl` and
 * `ctl/<module>`.
 * Depends on ctl_node.h, ctl_sign.h, deploy_check.h, lua_runtime.h,
 * core.h, codec.h (the answer's JSON), alloc.h.
 */
#include "ctl_node.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "codec.h"
#include "deploy_check.h"

#define SHUTDOWN_SLOT "!shutdown" /* the replay record of shutdowns */

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

fl_status fl__ctl_node_init(fl_ctl_node *cn, const fl_ctl_node_config *cfg)
{
    memset(cn, 0, sizeof *cn);
    cn->cfg = *cfg;
    cn->started_ms = wall_ms();
    /* libsodium starts with the first control message (on_message): most
     * nodes never get one, and its start-up alone kept 130 kB of it
     * resident in every idle node. */
    return FL_OK;
}

void fl__ctl_node_free(fl_ctl_node *cn)
{
    for (size_t i = 0; i < cn->nseen; i++)
        fl__free(cn->seen[i].payload);
    fl__free(cn->seen);
    cn->seen = NULL;
    cn->nseen = 0;
}

static fl_ctl_seen *seen_slot(fl_ctl_node *cn, const char *target, bool add)
{
    for (size_t i = 0; i < cn->nseen; i++)
        if (strcmp(cn->seen[i].target, target) == 0)
            return &cn->seen[i];
    if (!add)
        return NULL;
    fl_ctl_seen *grown = fl__realloc(cn->seen, (cn->nseen + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    cn->seen = grown;
    fl_ctl_seen *s = &cn->seen[cn->nseen++];
    memset(s, 0, sizeof *s);
    snprintf(s->target, sizeof s->target, "%s", target);
    return s;
}

/*
 * Tell node `to` (when not "") whether this node accepted its kind of
 * target dated ts: why NULL for accepted, else the reason it refused
 * (docs/protocol.md 3.9, `answer`). Not retained, QoS 1; a lost answer
 * costs the sender only a "no answer" line.
 */
static void answer(fl_ctl_node *cn, const char *to, const char *kind, const char *target,
                   uint64_t ts, const char *why)
{
    char topic[256];
    const void *payload;
    size_t len;
    fl_jw w;
    if (!to || !to[0] || !cn->cfg.publish)
        return;
    fl__jw_init(&w);
    fl__jw_begin_msg(&w, FL_KIND_ANSWER, cn->cfg.node_id, 0);
    fl__jw_str(&w, "control", kind);
    fl__jw_str(&w, "target", target);
    fl__jw_u64(&w, "ts", ts);
    fl__jw_bool(&w, "ok", why == NULL);
    if (why)
        fl__jw_str(&w, "reason", why);
    if (fl__jw_finish(&w, &payload, &len) == FL_OK) {
        snprintf(topic, sizeof topic, "floret/v1/%s/node/%s/in", cn->cfg.cluster, to);
        cn->cfg.publish(cn->cfg.publish_ud, topic, payload, len, false);
    } else {
        fl__plog(cn->cfg.log, FL_LOG_ERROR, "out of memory answering %s", to);
    }
    fl__jw_free(&w);
}

/* Who may send it: NULL when allowed, else why not. */
static const char *authorise(fl_ctl_node *cn, const fl_ctl_msg *m, char *why,
                             size_t cap)
{
    const fl_ctl_node_config *cfg = &cn->cfg;
    if (!m->signed_) {
        if (cfg->allow_unsigned)
            return NULL;
        snprintf(why, cap, "it is not signed, and this node accepts only control "
                 "signed by a trusted key%s", cfg->nkeys ? "" : " (it trusts none: "
                 "start it with --trust FILE.pub)");
        return why;
    }
    for (size_t i = 0; i < cfg->nkeys; i++) {
        if (strcmp(cfg->keys[i].id, m->key) != 0)
            continue;
        if (fl__ctl_verify(cfg->cluster, m, &cfg->keys[i]))
            return NULL;
        snprintf(why, cap, "its signature does not verify under key %s (altered, or "
                 "signed for another cluster)", m->key);
        return why;
    }
    if (cfg->allow_unsigned)
        return NULL; /* an unknown signature is no worse than none */
    snprintf(why, cap, "it is signed by key %s, which this node does not trust", m->key);
    return why;
}

/* Is it newer than anything accepted for its target? */
static const char *fresh(fl_ctl_node *cn, const fl_ctl_msg *m, const char *slot,
                         char *why, size_t cap)
{
    uint64_t now = wall_ms();
    if (m->ts > now + FL_CTL_MAX_FUTURE_MS) {
        snprintf(why, cap, "its timestamp %llu is %llu s in the future (clocks apart?)",
                 (unsigned long long)m->ts, (unsigned long long)((m->ts - now) / 1000));
        return why;
    }
    if (strcmp(slot, SHUTDOWN_SLOT) == 0 && m->ts + FL_CTL_SHUTDOWN_MAX_AGE_MS < now) {
        snprintf(why, cap, "a shutdown must be less than %u s old; this one is %llu s",
                 FL_CTL_SHUTDOWN_MAX_AGE_MS / 1000,
                 (unsigned long long)((now - m->ts) / 1000));
        return why;
    }
    if (strcmp(slot, SHUTDOWN_SLOT) == 0 && m->ts < cn->started_ms) {
        /* Meant for an earlier run of this node (a replay survives a
         * restart that forgot the last timestamp): not for this one. */
        snprintf(why, cap, "it was signed %llu ms before this node started "
                 "(a replay, or meant for its previous run)",
                 (unsigned long long)(cn->started_ms - m->ts));
        return why;
    }
    const fl_ctl_seen *s = seen_slot(cn, slot, false);
    if (s && m->ts <= s->ts) {
        snprintf(why, cap, "replayed or stale: timestamp %llu is not newer than %llu, "
                 "already accepted for %s", (unsigned long long)m->ts,
                 (unsigned long long)s->ts, slot);
        return why;
    }
    return NULL;
}

/* Presence lists the tasks and module versions now loaded. */
static void publish_tasks(fl_ctl_node *cn)
{
    char *tasks = NULL, *mods = NULL;
    if (fl__lua_set_describe(cn->cfg.lua, &tasks, &mods) != FL_OK) {
        fl__plog(cn->cfg.log, FL_LOG_ERROR, "out of memory updating presence");
        return;
    }
    if (fl_core_set_extra_tasks(cn->cfg.core, tasks, mods, 0) != FL_OK)
        fl__plog(cn->cfg.log, FL_LOG_ERROR, "cannot list modules in presence: %s", mods);
    fl_free(tasks);
    fl_free(mods);
}

/* Put mod (checked) into the set; err is why it was refused when NULL.
 * Answers reply_to (if not "") for the deploy dated ts. */
static void install(fl_ctl_node *cn, const char *module, const char *version,
                    fl_lua_module *mod, const char *err, bool signed_,
                    const char *reply_to, uint64_t ts)
{
    fl_status st = mod ? fl__lua_set_put(cn->cfg.lua, mod) : FL_EINVAL;
    if (st != FL_OK) {
        const char *why = mod ? "too many modules" : err;
        fl__plog(cn->cfg.log, FL_LOG_ERROR, "deploy of module %s version %s failed: %s",
                 module, version, why);
        answer(cn, reply_to, "deploy", module, ts, why);
        return;
    }
    answer(cn, reply_to, "deploy", module, ts, NULL);
    fl__plog(cn->cfg.log, FL_LOG_INFO, "deployed module %s version %s (%zu tasks, %s)",
             module, version, fl__lua_module_nfn(mod), signed_ ? "signed" : "UNSIGNED");
    publish_tasks(cn);
}

static void deploy(fl_ctl_node *cn, const fl_ctl_msg *m)
{
    char version[FL_CTL_VERSION_HEX + 1], err[600] = "";
    fl_lua_module *mod = NULL;
    fl__ctl_version(m->att, m->att_len, version);
    if (strcmp(version, m->version) != 0) {
        snprintf(err, sizeof err, "version %s does not match its source (sha256 "
                 "prefix %s)", m->version, version);
        fl__plog(cn->cfg.log, FL_LOG_WARN, "refused deploy of module %s: %s", m->target,
                 err);
        answer(cn, m->reply_to, "deploy", m->target, m->ts, err);
        return;
    }
    if (cn->cfg.checker) {
        fl_status st = fl__deploy_check(cn->cfg.checker, m->target, version, m->att,
                                        m->att_len, m->ts, m->signed_, m->reply_to);
        if (st != FL_OK) {
            snprintf(err, sizeof err, "cannot check it (%s)",
                     st == FL_ENOMEM ? "out of memory" : "no thread");
            fl__plog(cn->cfg.log, FL_LOG_ERROR, "deploy of module %s version %s failed: "
                     "%s", m->target, version, err);
            answer(cn, m->reply_to, "deploy", m->target, m->ts, err);
        } else
            fl__plog(cn->cfg.log, FL_LOG_DEBUG, "checking module %s version %s",
                     m->target, version);
        return;
    }
    (void)fl__lua_module_new(m->target, version, (const char *)m->att, m->att_len,
                             fl__lua_set_limits(cn->cfg.lua), &mod, err, sizeof err);
    install(cn, m->target, version, mod, err, m->signed_, m->reply_to, m->ts);
    fl__lua_module_unref(mod);
}

void fl__ctl_node_checked(fl_ctl_node *cn, const fl_deploy_checked *c)
{
    const fl_ctl_seen *s = seen_slot(cn, c->module, false);
    if (!s || s->ts != c->ts) {
        fl__plog(cn->cfg.log, FL_LOG_INFO, "deploy of module %s version %s dropped: a "
                 "newer deploy or undeploy of it came while it was checked", c->module,
                 c->version);
        answer(cn, c->reply_to, "deploy", c->module, c->ts, "a newer deploy or undeploy "
               "of the module came while this one was checked");
        return;
    }
    install(cn, c->module, c->version, c->mod, c->err, c->signed_, c->reply_to, c->ts);
}

static void act(fl_ctl_node *cn, const fl_ctl_msg *m)
{
    if (strcmp(m->kind, "deploy") == 0) {
        deploy(cn, m);
    } else if (strcmp(m->kind, "undeploy") == 0) {
        bool had = fl__lua_set_remove(cn->cfg.lua, m->target);
        fl__plog(cn->cfg.log, FL_LOG_INFO, "undeployed module %s%s", m->target,
                 had ? "" : " (it was not deployed)");
        publish_tasks(cn);
        answer(cn, m->reply_to, m->kind, m->target, m->ts, NULL);
    } else {
        fl__plog(cn->cfg.log, FL_LOG_INFO, "shutdown requested by a %s control message",
                 m->signed_ ? "signed" : "UNSIGNED");
        /* Answered first: the answer leaves before the offline presence. */
        answer(cn, m->reply_to, m->kind, m->target, m->ts, cn->cfg.on_shutdown ? NULL
               : "this node has no shutdown handler (a program's node): ignored");
        if (cn->cfg.on_shutdown)
            cn->cfg.on_shutdown(cn->cfg.shutdown_ud);
        else
            fl__plog(cn->cfg.log, FL_LOG_WARN, "no shutdown handler: ignored");
    }
}

/* Keep the signed message that set s, to put it back later. */
static void remember(fl_ctl_seen *s, const void *payload, size_t len)
{
    uint8_t *copy = fl__malloc(len);
    if (!copy)
        return; /* only the restoring is lost */
    memcpy(copy, payload, len);
    fl__free(s->payload);
    s->payload = copy;
    s->len = len;
}

/*
 * An older signed message replaced the newest one on ctl/<module> (a
 * replay: after an undeploy, say, the old deploy published again, which
 * every node that starts later would accept): publish the newest one
 * again, retained, so the broker holds what the running nodes hold. At
 * most once per module every 10 s; an equal timestamp (another node's
 * restoring, or our own) is left alone.
 */
static void restore(fl_ctl_node *cn, fl_ctl_seen *s, const char *module)
{
    char topic[256];
    uint64_t now = wall_ms();
    if (!cn->cfg.publish || !s->payload || (s->restored_ms && now < s->restored_ms + 10000u))
        return;
    s->restored_ms = now;
    snprintf(topic, sizeof topic, "floret/v1/%s/ctl/%s", cn->cfg.cluster, module);
    cn->cfg.publish(cn->cfg.publish_ud, topic, s->payload, s->len, true);
    fl__plog(cn->cfg.log, FL_LOG_WARN, "an older signed control message replaced the "
             "newest for module %s on the broker: published the newest again", module);
}

void fl__ctl_node_on_message(void *ud, const char *rest, const void *payload,
                             size_t len)
{
    fl_ctl_node *cn = ud;
    fl_ctl_msg m;
    char err[400], why[400];
    const char *no;

    if (len == 0)
        return; /* a retained message was cleared: nothing to do */
    if (fl__ctl_init() != FL_OK) {
        fl__plog(cn->cfg.log, FL_LOG_ERROR, "refused control message on %.80s: "
                 "libsodium could not start", rest);
        return;
    }
    if (fl__ctl_parse(rest, payload, len, &m, err, sizeof err) != FL_OK) {
        fl__plog(cn->cfg.log, FL_LOG_WARN, "refused control message on %.80s: %s", rest, err);
        return;
    }
    bool shutdown = strcmp(m.kind, "shutdown") == 0;
    if (shutdown && strcmp(m.target, "*") != 0 && strcmp(m.target, cn->cfg.node_id) != 0)
        return; /* for another node */
    const char *slot = shutdown ? SHUTDOWN_SLOT : m.target;
    if ((no = authorise(cn, &m, why, sizeof why)) == NULL)
        no = fresh(cn, &m, slot, why, sizeof why);
    if (no) {
        fl_ctl_seen *s = shutdown ? NULL : seen_slot(cn, slot, false);
        /* Only a stale message that is itself signed and trusted: a forged
         * one gets nobody to publish anything. */
        bool stale = s && m.ts < s->ts && authorise(cn, &m, why, sizeof why) == NULL;
        fl__plog(cn->cfg.log, FL_LOG_WARN, "refused %s of %s: %s", m.kind, m.target, no);
        answer(cn, m.reply_to, m.kind, m.target, m.ts, no);
        if (stale)
            restore(cn, s, m.target);
        return;
    }
    fl_ctl_seen *s = seen_slot(cn, slot, true);
    if (!s) {
        fl__plog(cn->cfg.log, FL_LOG_ERROR, "out of memory: %s of %s not applied",
                 m.kind, m.target);
        answer(cn, m.reply_to, m.kind, m.target, m.ts, "out of memory");
        return;
    }
    s->ts = m.ts;
    if (!shutdown)
        remember(s, payload, len);
    act(cn, &m);
}
