/*
 * node.c - the hosted fl_node of floret.h: options, creation (identity,
 * broker URL, core, transport, pool), start (threads, first connection),
 * stop, free, and the calls application threads make (fl_node_call,
 * fl_node_peers), which only ever talk to the loop through the inbox.
 * Nodes with slots also get the Lua runtime and the handler of signed
 * control messages (ctl_node.h).
 * Depends on posix.h, core.h, codec.h (id checks), ctl_node.h,
 * lua_runtime.h and alloc.h.
 */
#include "posix.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "codec.h"
#include "ctl_node.h"
#include "deploy_check.h"
#include "lua_runtime.h"

#define FREE_GRACE_MS 1000u   /* fl_node_free on a running node */
#define MIN_MESSAGE 1024u
#define MAX_SLOTS 4096
/* Executor threads run this much nicer than the node (docs/architecture.md,
 * "Threads"). */
#define FL_DEFAULT_TASK_NICE 10
/* Bytes of an MQTT packet beyond its payload: fixed header, topic, packet
 * id and properties; a topic is at most ~200 bytes, so this is generous. */
#define FL_PACKET_ROOM 4096u
#define CALL_OVERHEAD 512u    /* envelope bytes around one task in a lease */

void fl_node_options_init(fl_node_options *o)
{
    memset(o, 0, sizeof *o);
    o->slots = -1;
    o->task_nice = FL_DEFAULT_TASK_NICE;
    o->log_level = FL_LOG_INFO;
}

/* ------------------------------------------------------------- creation */

static fl_status bad(fl_node *n, const char *fmt, const char *what)
{
    fl__plog(&n->log, FL_LOG_ERROR, fmt, what);
    return FL_EINVAL;
}

/* With a broker user and no name, a node is named after its user, so that
 * the broker's ACL can tie its topics to it (docs/security.md); a client
 * (no slots), of which one user may run many at once, is
 * <user>.<host>-<pid>. */
static void default_id(fl_node *n, int slots)
{
    const char *user = n->url.user;
    size_t ul = strlen(user);
    char rest[FL_MAX_ID_BUF];

    if (n->url.has_user && fl__valid_id(user) && slots != 0) {
        snprintf(n->id, sizeof n->id, "%s", user);
    } else if (n->url.has_user && fl__valid_id(user) && ul + 1 + 8 <= FL_MAX_ID) {
        fl__default_node_id(rest, FL_MAX_ID - ul); /* fits after "<user>." */
        memcpy(n->id, user, ul);
        n->id[ul] = '.';
        memcpy(n->id + ul + 1, rest, strlen(rest) + 1);
    } else {
        fl__default_node_id(n->id, sizeof n->id);
    }
}

/* The MQTT client id: the part after "<user>." of such a node id, which
 * the ACL pattern node/%u.%c then matches; else the node id. */
static const char *client_id(const fl_node *n)
{
    size_t ul = strlen(n->url.user);
    if (n->url.has_user && strncmp(n->id, n->url.user, ul) == 0 && n->id[ul] == '.' &&
        n->id[ul + 1])
        return n->id + ul + 1;
    return n->id;
}

/* floret's ACL (docs/security.md) lets user U read only the inboxes of
 * nodes named U or U.NAME: another name would connect, then never hear a
 * lease or a result. Other brokers may allow it, so this only warns. */
static void warn_name_outside_acl(fl_node *n)
{
    const char *user = n->url.user;
    size_t ul = strlen(user);
    if (!n->url.has_user || strcmp(n->id, user) == 0 ||
        (strncmp(n->id, user, ul) == 0 && n->id[ul] == '.'))
        return;
    fl__plog(&n->log, FL_LOG_WARN,
             "node name '%s' is not broker user '%s' nor '%s.NAME': a broker with "
             "floret's ACL (floret local, floret broker-config) will not deliver its inbox",
             n->id, user, user);
}

/* The attachment codecs from o->compress, else $FLORET_COMPRESS, else
 * every one this build has, to decode only (docs/scaling.md). */
static fl_status set_codecs(fl_node *n, const fl_node_options *o)
{
    const char *opt = o->compress ? o->compress : getenv("FLORET_COMPRESS");
    char err[128];
    size_t k;
    if (fl__posix_zset(opt, n->zc, FL_Z_MAX_CODECS, &k, &n->zsend, err,
                       sizeof err) != FL_OK) {
        fl__plog(&n->log, FL_LOG_ERROR, "%s%s", o->compress ? "" : "FLORET_COMPRESS: ",
                 err);
        return FL_EINVAL;
    }
    n->zset.codecs = n->zc;
    n->zset.n = k;
    return FL_OK;
}

static fl_status check_options(fl_node *n, const fl_node_options *o)
{
    char err[FL_PATH_BUF + 400];
    const char *cluster = o->cluster ? o->cluster : "default";
    fl_broker_opts bo = {
        .url = o->broker_url, .ca_file = o->tls_ca_file, .cert_file = o->tls_cert_file,
        .key_file = o->tls_key_file, .password = o->password,
        .password_file = o->password_file,
    };

    if (fl__broker_resolve(&bo, &n->url, err, sizeof err) != FL_OK)
        return bad(n, "%s", err);
    if (o->name) {
        if (!fl__valid_id(o->name))
            return bad(n, "node name '%s' is not valid: use 1 to 64 of A-Z a-z 0-9 _ . -",
                       o->name);
        snprintf(n->id, sizeof n->id, "%s", o->name);
    } else {
        default_id(n, o->slots);
    }
    snprintf(n->log.node, sizeof n->log.node, "%s", n->id);
    if (o->name)
        warn_name_outside_acl(n);
    if (!fl__valid_id(cluster))
        return bad(n, "cluster name '%s' is not valid: use 1 to 64 of A-Z a-z 0-9 _ . -",
                   cluster);
    n->cluster = fl__strdup(cluster);
    if (!n->cluster)
        return FL_ENOMEM;
    if (o->slots < -1 || o->slots > MAX_SLOTS) {
        fl__plog(&n->log, FL_LOG_ERROR, "slots %d: use -1 (one per core), 0 (client) or up to %d",
                o->slots, MAX_SLOTS);
        return FL_EINVAL;
    }
    if (o->slots == -1) {
        long k = sysconf(_SC_NPROCESSORS_ONLN);
        n->slots = k > 0 ? (unsigned)(k > MAX_SLOTS ? MAX_SLOTS : k) : 1u;
    } else {
        n->slots = (unsigned)o->slots;
    }
    if (o->task_nice < 0 || o->task_nice > 19) {
        fl__plog(&n->log, FL_LOG_ERROR, "task_nice %d: use 0 to 19", o->task_nice);
        return FL_EINVAL;
    }
    n->task_nice = o->task_nice;
    if (o->pool != FL_POOL_AUTO && o->pool != FL_POOL_PROCESS && o->pool != FL_POOL_THREAD)
    {
        fl__plog(&n->log, FL_LOG_ERROR, "pool %d: use FL_POOL_AUTO, FL_POOL_PROCESS or "
                 "FL_POOL_THREAD", (int)o->pool);
        return FL_EINVAL;
    }
    n->pool = o->pool;
    n->lua_load_ms = o->lua_load_ms ? o->lua_load_ms : FL_LUA_DEFAULT_LOAD_MS;
    if (o->tags && !fl__valid_tags(o->tags))
        return bad(n, "tags '%s': expected KEY=VALUE[,KEY=VALUE...] of A-Z a-z 0-9 _ . - "
                   "(255 bytes at most)", o->tags);
    if (o->tasks && !fl__valid_task_filter(o->tasks))
        return bad(n, "tasks '%s': expected NAME or MODULE.* entries of A-Z a-z 0-9 "
                   "_ . - (64 bytes each), comma-separated", o->tasks);
    n->max_message = o->max_message ? o->max_message : FL_DEFAULT_MAX_MESSAGE;
    if (n->max_message < MIN_MESSAGE) {
        fl__plog(&n->log, FL_LOG_ERROR, "max_message %zu: must be at least %u bytes",
                n->max_message, MIN_MESSAGE);
        return FL_EINVAL;
    }
    return set_codecs(n, o);
}

static uint64_t first_id_from_clock(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec <= 0)
        return 1;
    uint64_t us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    return us & ((UINT64_C(1) << 52) - 1); /* far below 2^53 either way */
}

/* --state-dir: the journal is opened (and locked) before the core exists,
 * whose will then says `durable`, and read into it right after. */
static fl_status open_journal(fl_node *n, const fl_node_options *o)
{
    if (!o->state_dir)
        return FL_OK;
    if (n->slots == 0)
        return bad(n, "state dir '%s': a client (0 slots) keeps no workflows",
                   o->state_dir);
    n->journal = fl__calloc(1, sizeof *n->journal);
    if (!n->journal)
        return FL_ENOMEM;
    fl_status st = fl__journal_open(n->journal, o->state_dir, n->id, &n->log);
    if (st != FL_OK) {
        fl__free(n->journal);
        n->journal = NULL;
    }
    return st;
}

static fl_status make_core(fl_node *n, const fl_node_options *o)
{
    uint64_t rnd[2];
    char arch[32];
    fl_core_config cfg;
    fl_core_io io;

    if (fl__random_bytes(rnd, sizeof rnd) != FL_OK) {
        fl__plog(&n->log, FL_LOG_ERROR, "cannot read random bytes from the kernel");
        return FL_EIO;
    }
    fl__machine(arch, sizeof arch);
    memset(&cfg, 0, sizeof cfg);
    cfg.cluster = n->cluster;
    cfg.node_id = n->id;
    cfg.incarnation = rnd[0] & ((UINT64_C(1) << 52) - 1);
    cfg.slots = n->slots;
    cfg.max_message = n->max_message;
    cfg.lease_ttl_ms = o->lease_ttl_ms;
    cfg.seed = rnd[1];
    cfg.registry = n->registry;
    cfg.runtime = "native";
    cfg.arch = arch;
    cfg.tags = o->tags;
    cfg.only_tasks = o->tasks;
    cfg.log_level = o->log_level;
    cfg.events = o->events;
    cfg.keep_results_s = o->result_expires_s;
    cfg.zcodecs = &n->zset;
    cfg.zsend = n->zsend;
    /* Kept workflow ids never come back: a journal goes on from its last
     * one; without one they start at the clock (us since 1970), above
     * every id an earlier run gave unless the clock went back. */
    cfg.first_kept_id = n->journal ? 1 : first_id_from_clock();
    fl__loop_io(n, &io);
    n->inc = cfg.incarnation;
    n->on_shutdown = o->on_shutdown;
    n->shutdown_ud = o->shutdown_ud;
    fl_status st = fl_core_new(&cfg, &io, &n->core);
    if (st == FL_OK)
        fl_core_set_answer(n->core, fl__ctl_client_on_answer, n);
    if (st == FL_OK && n->journal)
        st = fl__journal_load(n->journal, n->core, fl__now_us());
    if (st == FL_OK && o->observe) {
        fl_core_set_observer(n->core, o->observe, o->observe_ud);
        if (o->watch_events)
            fl_core_watch_events(n->core, true, 0);
    }
    return st;
}

#define MAX_TRUST 64

/* The control handler's publish (on the loop thread, like the handler). */
static void ctl_publish(void *ud, const char *topic, const void *payload, size_t len,
                        bool retain)
{
    fl_node *n = ud;
    fl__tp_publish(&n->tp, topic, payload, len, 1, retain);
}

/* The deploy checker's answer, from its thread to the loop. */
static void deploy_checked(void *ud, fl_deploy_checked *c)
{
    fl_node *n = ud;
    fl__inbox_checked(&n->inbox, c);
}

/* Trusted keys, the module set and the control handler of a node with
 * slots. */
static fl_status make_lua(fl_node *n, const fl_node_options *o)
{
    char err[600];
    fl_lua_limits lim = {.mem_bytes = o->lua_mem, .steps = o->lua_steps};
    if (o->ntrust_files > MAX_TRUST) {
        fl__plog(&n->log, FL_LOG_ERROR, "at most %d trusted keys", MAX_TRUST);
        return FL_EINVAL;
    }
    if (o->ntrust_files) {
        n->trust = fl__calloc(o->ntrust_files, sizeof *n->trust);
        if (!n->trust)
            return FL_ENOMEM;
    }
    for (size_t i = 0; i < o->ntrust_files; i++, n->ntrust++) {
        fl_status st = fl__ctl_key_read(o->trust_files[i], &n->trust[i], err, sizeof err);
        bool secret = n->trust[i].has_secret;
        memset(n->trust[i].sk, 0, sizeof n->trust[i].sk);
        n->trust[i].has_secret = false;
        if (st != FL_OK) {
            fl__plog(&n->log, FL_LOG_ERROR, "trusted key: %s", err);
            return FL_EINVAL;
        }
        if (secret) {
            /* The signing key belongs on the operator's machine only: a
             * node that holds it lets whoever reads its files sign. */
            fl__plog(&n->log, FL_LOG_ERROR,
                     "trusted key: %s is a secret (signing) key; give the node "
                     "the public key beside it (the .pub file floret keygen "
                     "wrote) and keep the secret one on the operator's machine",
                     o->trust_files[i]);
            return FL_EINVAL;
        }
    }
    n->lua = fl__lua_set_new(&lim);
    n->ctl = fl__calloc(1, sizeof *n->ctl);
    if (!n->lua || !n->ctl)
        return FL_ENOMEM;
    n->checker = fl__deploy_checker_new(fl__lua_set_limits(n->lua), n->lua_load_ms,
                                        deploy_checked, n);
    if (!n->checker)
        return FL_ENOMEM;
    fl_ctl_node_config cfg = {
        .cluster = n->cluster, .node_id = n->id, .keys = n->trust,
        .nkeys = n->ntrust, .allow_unsigned = o->allow_unsigned, .lua = n->lua,
        .core = n->core, .log = &n->log, .on_shutdown = o->on_shutdown,
        .shutdown_ud = o->shutdown_ud, .publish = ctl_publish, .publish_ud = n,
        .checker = n->checker,
    };
    if (fl__ctl_node_init(n->ctl, &cfg) != FL_OK) {
        fl__plog(&n->log, FL_LOG_ERROR, "cannot initialise libsodium");
        return FL_EIO;
    }
    fl_core_set_ctl(n->core, fl__ctl_node_on_message, n->ctl);
    if (o->allow_unsigned)
        fl__plog(&n->log, FL_LOG_WARN, "accepting UNSIGNED deploy, undeploy and "
                 "shutdown: anyone who can publish to the broker can run code here");
    return FL_OK;
}

static fl_status make_parts(fl_node *n)
{
    const char *topic;
    const void *will;
    size_t will_len;
    size_t max_result;
    fl_transport_cb cb;
    fl_status st;

    fl_core_will(n->core, &topic, &will, &will_len);
    fl__loop_transport_cb(n, &cb);
    st = fl__tp_init(&n->tp, client_id(n), &n->url, n->max_message + FL_PACKET_ROOM,
                     topic, will, will_len,
                     fl_core_will_retain(n->core), &n->log, &cb);
    /* Nodes with slots keep a retained presence, so a second node with
     * the same id can be told apart from a stale one (probe.c). */
    if (st == FL_OK && n->slots > 0)
        st = fl__tp_check_id_first(&n->tp, fl_core_prefix(n->core), n->id,
                                n->inc);
    if (st != FL_OK)
        return st;
    st = fl__inbox_init(&n->inbox);
    if (st != FL_OK)
        return st;
    n->inbox_ready = true;
    /* Room for the done entry's envelope around the value. */
    max_result = n->max_message - CALL_OVERHEAD;
    st = fl__executor_init(&n->ex, n->slots, n->registry, n->lua, n->id,
                           max_result, fl__loop_job_finished, n);
    n->ex.task_nice = n->task_nice;
    n->ex.pool = n->pool;
    n->ex.log = &n->log;
    n->ex_ready = st == FL_OK;
    return st;
}

fl_status fl_node_new(const fl_node_options *o, fl_node **out)
{
    fl_node_options defaults;
    fl_node *n;
    fl_status st;

    if (!out)
        return FL_EINVAL;
    *out = NULL;
    if (!o) {
        fl_node_options_init(&defaults);
        o = &defaults;
    }
    n = fl__calloc(1, sizeof *n);
    if (!n)
        return FL_ENOMEM;
    fl__plog_init(&n->log, o->log, o->log_ud, o->log_level);
    n->log.format = o->log_format == FL_LOG_JSON ? FL_LOG_JSON : FL_LOG_TEXT;
    pthread_mutex_init(&n->mu, NULL);
    fl__cond_init(&n->cv);
    atomic_init(&n->phase, FL_NODE_NEW);
    atomic_init(&n->stop_called, false);
    fl__idmap_init(&n->results);

    st = check_options(n, o);
    if (st == FL_OK && !o->registry) {
        n->own_registry = fl_registry_new();
        st = n->own_registry ? fl_register_builtins(n->own_registry) : FL_ENOMEM;
    }
    n->registry = o->registry ? o->registry : n->own_registry;
    if (st == FL_OK)
        st = open_journal(n, o);
    if (st == FL_OK)
        st = make_core(n, o);
    if (st == FL_OK && n->slots > 0)
        st = make_lua(n, o);
    if (st == FL_OK)
        st = make_parts(n);
    if (st != FL_OK) {
        fl_node_free(n);
        return st;
    }
    *out = n;
    return FL_OK;
}

/* ------------------------------------------------------- start and stop */

static void set_phase(fl_node *n, fl_node_phase ph)
{
    pthread_mutex_lock(&n->mu);
    atomic_store(&n->phase, (int)ph);
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* Wait for the first CONNACK; false on timeout. */
static bool wait_connected(fl_node *n, uint32_t timeout_ms)
{
    struct timespec dl = fl__deadline_after_ms(timeout_ms);
    bool ok;
    pthread_mutex_lock(&n->mu);
    while (!n->connected && !n->refused && !n->id_taken &&
           !atomic_load(&n->stop_called)) {
        if (timeout_ms == UINT32_MAX)
            pthread_cond_wait(&n->cv, &n->mu); /* until the broker answers */
        else if (pthread_cond_timedwait(&n->cv, &n->mu, &dl) != 0)
            break;
    }
    ok = n->connected;
    pthread_mutex_unlock(&n->mu);
    return ok;
}

/* Undo a start that did not get connected: quit the loop at once. */
static void abandon_start(fl_node *n)
{
    if (n->loop_running) {
        fl__inbox_quit(&n->inbox);
        pthread_join(n->loop_thread, NULL);
        n->loop_running = false;
    }
    fl__loop_finish_leftovers(n);
    pthread_mutex_lock(&n->inbox.mu);
    n->inbox.quit = false;
    pthread_mutex_unlock(&n->inbox.mu);
    fl__tp_reset(&n->tp);
}

fl_status fl_node_start(fl_node *node, uint32_t timeout_ms)
{
    int expect = FL_NODE_NEW;
    fl_status st;
    bool connected, stopped;
    char why[256];

    if (!node)
        return FL_EINVAL;
    if (!atomic_compare_exchange_strong(&node->phase, &expect, FL_NODE_STARTING))
        return FL_ESTATE;
    pthread_mutex_lock(&node->mu);
    node->refused = false;
    pthread_mutex_unlock(&node->mu);
    st = fl__executor_start(&node->ex);
    if (st == FL_OK) {
        if (pthread_create(&node->loop_thread, NULL, fl__loop_main, node) == 0)
            node->loop_running = true;
        else
            st = FL_EIO;
    }
    if (st != FL_OK) {
        fl__plog(&node->log, FL_LOG_ERROR, "cannot start threads");
        abandon_start(node);
        set_phase(node, FL_NODE_NEW);
        return st;
    }
    connected = timeout_ms == 0 || wait_connected(node, timeout_ms);
    /* Decided under the lock so that a concurrent fl_node_stop either sees
     * RUNNING (and stops the node) or makes this start give up. */
    pthread_mutex_lock(&node->mu);
    stopped = atomic_load(&node->stop_called);
    if (connected && !stopped)
        atomic_store(&node->phase, FL_NODE_RUNNING);
    snprintf(why, sizeof why, "%s", node->last_error[0] ? node->last_error
                                                        : fl__tp_waiting(&node->tp));
    pthread_mutex_unlock(&node->mu);
    if (connected && !stopped)
        return FL_OK;
    abandon_start(node);
    if (stopped) {
        set_phase(node, FL_NODE_STOPPED);
        return FL_ESTATE;
    }
    if (fl_node_id_taken(node)) {
        fl__plog(&node->log, FL_LOG_ERROR, "%s", why);
        set_phase(node, FL_NODE_STOPPED);
        return FL_EEXIST;
    }
    fl__plog(&node->log, FL_LOG_ERROR, "cannot connect to broker %s: %s",
            node->url.text, why);
    set_phase(node, FL_NODE_NEW);
    return FL_ECONN;
}

void fl_node_stop(fl_node *node, uint32_t grace_ms)
{
    int phase;
    if (!node)
        return;
    pthread_mutex_lock(&node->mu);
    if (atomic_load(&node->stop_called)) {
        pthread_mutex_unlock(&node->mu);
        return;
    }
    atomic_store(&node->stop_called, true);
    pthread_cond_broadcast(&node->cv); /* a start waiting to connect gives up */
    phase = atomic_load(&node->phase);
    if (phase == FL_NODE_RUNNING)
        atomic_store(&node->phase, FL_NODE_STOPPING);
    else if (phase == FL_NODE_NEW)
        atomic_store(&node->phase, FL_NODE_STOPPED);
    pthread_mutex_unlock(&node->mu);
    if (phase != FL_NODE_RUNNING)
        return; /* never started, or a start in progress that now gives up */
    fl__inbox_stop(&node->inbox, grace_ms);
    pthread_join(node->loop_thread, NULL);
    node->loop_running = false;
    /* Before the leftovers: a check under way is killed, and nothing is
     * handed to the inbox after it has been drained. */
    fl__deploy_checker_free(node->checker);
    node->checker = NULL;
    fl__loop_finish_leftovers(node);
    set_phase(node, FL_NODE_STOPPED);
}

void fl_node_free(fl_node *node)
{
    if (!node)
        return;
    if (atomic_load(&node->phase) == FL_NODE_RUNNING)
        fl_node_stop(node, FREE_GRACE_MS);
    fl__deploy_checker_free(node->checker);
    node->checker = NULL;
    if (node->core && node->ex_ready && node->inbox_ready)
        fl__loop_finish_leftovers(node);
    if (node->ex.abandoned)
        return; /* a task thread that never returned may still use any of it */
    if (node->core)
        fl_core_free(node->core);
    if (node->journal) {
        fl__journal_close(node->journal);
        fl__free(node->journal);
    }
    if (node->ex_ready)
        fl__executor_destroy(&node->ex);
    if (node->ctl)
        fl__ctl_node_free(node->ctl);
    fl__free(node->ctl);
    fl__lua_set_free(node->lua);
    fl__free(node->trust);
    fl__tp_free(&node->tp);
    if (node->inbox_ready)
        fl__inbox_destroy(&node->inbox);
    fl__idmap_free(&node->results);
    fl_registry_free(node->own_registry);
    fl__fastpath_free(&node->fast);
    fl__free(node->cluster);
    pthread_cond_destroy(&node->cv);
    pthread_mutex_destroy(&node->mu);
    fl__plog_destroy(&node->log);
    fl__free(node);
}

const char *fl_node_id(const fl_node *node)
{
    return node ? node->id : "";
}

bool fl_node_abandoned(const fl_node *node)
{
    return node && node->ex.abandoned;
}

/* Never empty: a start can time out with no failure reported (a peer that
 * takes the TCP connection and never answers the TLS or MQTT handshake). */
const char *fl_node_last_error(const fl_node *node)
{
    if (!node)
        return "no answer from the broker in time";
    return node->last_error[0] ? node->last_error : fl__tp_waiting(&node->tp);
}

bool fl_node_id_taken(fl_node *node)
{
    bool taken;
    if (!node)
        return false;
    pthread_mutex_lock(&node->mu);
    taken = node->id_taken;
    pthread_mutex_unlock(&node->mu);
    return taken;
}

/* ----------------------------------------------------------------- calls */

/* JSON a lease could not carry (FL_MAX_ARG_DEPTH): logged, true. */
static bool too_deep(fl_node *n, const char *name, const char *which,
                     const char *json)
{
    const char *deep = fl__json_depth_check(json, strlen(json), FL_MAX_ARG_DEPTH);
    if (deep)
        fl__plog(&n->log, FL_LOG_ERROR, "call %s: %s: %s for task arguments "
                 "(a lease carries them 3 levels down)", name, which, deep);
    return deep != NULL;
}

static fl_status check_call(fl_node *n, const char *name, const char *args,
                            const char *kwargs, size_t att_len,
                            const fl_call_options *opt)
{
    char err[256];
    size_t size = CALL_OVERHEAD + att_len + strlen(name);

    if (!fl__valid_id(name))
        return bad(n, "call: task name '%s' is not valid: use 1 to 64 of A-Z a-z 0-9 _ . -",
                   name);
    if (args) {
        size += strlen(args);
        if (fl_json_check(args, strlen(args), FL_TYPE_ARRAY, err, sizeof err) != FL_OK) {
            fl__plog(&n->log, FL_LOG_ERROR, "call %s: args: %s", name, err);
            return FL_EINVAL;
        }
        if (too_deep(n, name, "args", args))
            return FL_EINVAL;
    }
    if (kwargs) {
        size += strlen(kwargs);
        if (fl_json_check(kwargs, strlen(kwargs), FL_TYPE_OBJECT, err, sizeof err) != FL_OK) {
            fl__plog(&n->log, FL_LOG_ERROR, "call %s: kwargs: %s", name, err);
            return FL_EINVAL;
        }
        if (too_deep(n, name, "kwargs", kwargs))
            return FL_EINVAL;
    }
    if (opt && opt->route && !fl__valid_id(opt->route) &&
        !fl__valid_tag(opt->route, strlen(opt->route)))
        return bad(n, "call: route '%s' is neither a node id nor a tag KEY=VALUE",
                   opt->route);
    if (opt && opt->rate_limit && !fl_rate_limit_valid(opt->rate_limit))
        return bad(n, "call: rate_limit '%s' is not a rate such as \"10/s\", \"100/m\" or "
                   "\"5/h\" (1 to 1000000 per second, minute or hour)", opt->rate_limit);
    if (opt && opt->priority > FL_PRIORITY_MAX) {
        fl__plog(&n->log, FL_LOG_ERROR, "call %s: priority %u is out of range (0 to %d, "
                 "higher first)", name, (unsigned)opt->priority, FL_PRIORITY_MAX);
        return FL_EINVAL;
    }
    if (opt && opt->soft_time_limit_ms && opt->time_limit_ms &&
        opt->soft_time_limit_ms >= opt->time_limit_ms) {
        fl__plog(&n->log, FL_LOG_ERROR, "call %s: soft_time_limit_ms (%u) must be less than "
                 "time_limit_ms (%u)", name, (unsigned)opt->soft_time_limit_ms,
                 (unsigned)opt->time_limit_ms);
        return FL_EINVAL;
    }
    if (size > n->max_message) {
        fl__plog(&n->log, FL_LOG_ERROR,
                "call %s: arguments and attachment (%zu bytes) exceed the message limit (%zu)",
                name, size, n->max_message);
        return FL_ETOOBIG;
    }
    return FL_OK;
}

/* att is copied, unless take holds it: then the handle takes it (with
 * room free bytes in front of it, in the same block). */
static fl_status copy_call(fl_result *r, const char *name, const char *args,
                           const char *kwargs, const void *att, size_t att_len,
                           uint8_t **take, size_t room, const fl_call_options *opt)
{
    if (take && *take) {
        r->sub_att = *take;
        r->sub_att_len = att_len;
        r->sub_att_room = room;
        *take = NULL;
    }
    r->name = fl__strdup(name);
    if (!r->name)
        return FL_ENOMEM;
    if (args) {
        r->args_len = strlen(args);
        if (!(r->args = fl__strndup(args, r->args_len)))
            return FL_ENOMEM;
    }
    if (kwargs) {
        r->kwargs_len = strlen(kwargs);
        if (!(r->kwargs = fl__strndup(kwargs, r->kwargs_len)))
            return FL_ENOMEM;
    }
    if (att && att_len > 0 && !r->sub_att) {
        size_t with_room = fl__att_room_for(att_len);
        uint8_t *block = fl__malloc(with_room + att_len);
        if (!block)
            return FL_ENOMEM;
        r->sub_att = block + with_room;
        r->sub_att_room = with_room;
        memcpy(r->sub_att, att, att_len);
        r->sub_att_len = att_len;
    }
    if (opt) {
        r->opt = *opt;
        r->opt.route = NULL;
        r->opt.rate_limit = NULL;
        if (opt->route && !(r->route = fl__strdup(opt->route)))
            return FL_ENOMEM;
        if (opt->rate_limit && !(r->rate_limit = fl__strdup(opt->rate_limit)))
            return FL_ENOMEM;
    }
    return FL_OK;
}

/* Hand a filled handle to the loop, or FL_ESTATE (and free it) when the
 * node is not running. Under the node lock, so a stop cannot slip between
 * the check and the hand-over and leave the submission with nobody to
 * answer it. */
static fl_status hand_over(fl_node *node, fl_result *r)
{
    pthread_mutex_lock(&node->mu);
    if (atomic_load(&node->phase) != FL_NODE_RUNNING) {
        pthread_mutex_unlock(&node->mu);
        fl__result_unref(r);
        fl__result_unref(r);
        return FL_ESTATE;
    }
    fl__inbox_submit(&node->inbox, r);
    pthread_mutex_unlock(&node->mu);
    return FL_OK;
}

fl_status fl__node_hand_over(fl_node *node, fl_result *r)
{
    return hand_over(node, r);
}

/* fl_node_call and fl_node_call_take: *take, when given, is the
 * attachment (room free bytes after the start of its block), freed by
 * the caller unless a handle took it. */
static fl_status call(fl_node *node, const char *name, const char *args,
                      const char *kwargs, const void *att, size_t att_len,
                      uint8_t **take, size_t room, const fl_call_options *opt,
                      fl_result **out)
{
    fl_result *r;
    fl_status st;

    if (!node || !name || !out || (att_len > 0 && !att))
        return FL_EINVAL;
    *out = NULL;
    if (atomic_load(&node->phase) != FL_NODE_RUNNING)
        return FL_ESTATE;
    st = check_call(node, name, args, kwargs, att_len, opt);
    if (st != FL_OK)
        return st;
    r = fl__result_new();
    if (!r)
        return FL_ENOMEM;
    r->node = node;
    st = copy_call(r, name, args, kwargs, att, att_len, take, room, opt);
    if (st != FL_OK) {
        fl__result_unref(r);
        fl__result_unref(r);
        return st;
    }
    st = hand_over(node, r);
    if (st == FL_OK)
        *out = r;
    return st;
}

fl_status fl_node_call(fl_node *node, const char *name, const char *args,
                       const char *kwargs, const void *att, size_t att_len,
                       const fl_call_options *opt, fl_result **out)
{
    return call(node, name, args, kwargs, att, att_len, NULL, 0, opt, out);
}

size_t fl__att_room(void)
{
    return FL_ATT_ROOM;
}

fl_status fl__node_call_take_room(fl_node *node, const char *name, const char *args,
                                  const char *kwargs, void *att, size_t att_len,
                                  size_t room, const fl_call_options *opt,
                                  fl_result **out)
{
    uint8_t *take = att; /* NULL once a handle has taken it */
    fl_status st = call(node, name, args, kwargs, att, att_len,
                        att_len > 0 ? &take : NULL, room, opt, out);
    if (take)
        fl__free(take - room);
    return st;
}

fl_status fl_node_call_take(fl_node *node, const char *name, const char *args,
                            const char *kwargs, void *att, size_t att_len,
                            const fl_call_options *opt, fl_result **out)
{
    return fl__node_call_take_room(node, name, args, kwargs, att, att_len, 0,
                                   opt, out);
}

fl_status fl_node_apply(fl_node *node, const fl_canvas *canvas,
                        fl_result **out)
{
    fl_result *r;
    const char *json;
    fl_status st;

    if (!node || !canvas || !out)
        return FL_EINVAL;
    *out = NULL;
    if (atomic_load(&node->phase) != FL_NODE_RUNNING)
        return FL_ESTATE;
    if (fl_canvas_error(canvas)) {
        fl__plog(&node->log, FL_LOG_ERROR, "cannot apply the canvas: %s",
                 fl_canvas_error(canvas));
        return FL_EINVAL;
    }
    json = fl_canvas_json(canvas);
    if (!json)
        return FL_EINVAL;
    r = fl__result_new();
    if (!r)
        return FL_ENOMEM;
    r->node = node;
    r->canvas = fl__strdup(json);
    if (!r->canvas) {
        fl__result_unref(r);
        fl__result_unref(r);
        return FL_ENOMEM;
    }
    st = hand_over(node, r);
    if (st == FL_OK)
        *out = r;
    return st;
}

/* ------------------------------------------------ workflows kept elsewhere */

#define PEER_WAIT_MS 2000u /* retained presence may still be arriving */
#define PEER_POLL_MS 50u
#define MAX_PEERS 256

fl_status fl__node_pick_keeper(fl_node *node, const char *owner, bool durable,
                               char *out, size_t cap)
{
    fl_peer *peers = fl__calloc(MAX_PEERS, sizeof *peers);
    fl_status st = FL_ENOTFOUND;
    if (!peers)
        return FL_ENOMEM;
    for (uint32_t waited = 0; st == FL_ENOTFOUND && waited <= PEER_WAIT_MS;
         waited += PEER_POLL_MS) {
        size_t n = 0;
        const fl_peer *best = NULL;
        if (waited)
            nanosleep(&(struct timespec){0, PEER_POLL_MS * 1000000L}, NULL);
        if (fl_node_peers(node, peers, MAX_PEERS, &n) != FL_OK) {
            st = FL_ESTATE;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            const fl_peer *p = &peers[i];
            if (!p->online || p->slots <= 0 ||
                (!owner && (!p->keeper || (durable && !p->durable))))
                continue;
            if (owner ? strcmp(p->id, owner) == 0 : (!best || p->load < best->load))
                best = p;
        }
        if (best) {
            snprintf(out, cap, "%s", best->id);
            st = FL_OK;
        }
    }
    fl__free(peers);
    return st;
}

/* Queue a remote submit (canvas), query or revoke (wid, with revoke
 * 1, or 2 for terminate; 3: a query for the current state) handle for owner. */
static fl_status remote_handle(fl_node *node, const char *owner,
                               const char *canvas, uint64_t wid, int revoke,
                               fl_result **out)
{
    fl_result *r = fl__result_new();
    if (!r)
        return FL_ENOMEM;
    r->node = node;
    r->remote_owner = fl__strdup(owner);
    r->remote_wid = wid;
    r->remote_revoke = revoke == 1 || revoke == 2;
    r->remote_terminate = revoke == 2;
    r->remote_now = revoke == 3;
    r->canvas = canvas ? fl__strdup(canvas) : NULL;
    if (!r->remote_owner || (canvas && !r->canvas)) {
        fl__result_unref(r);
        fl__result_unref(r);
        return FL_ENOMEM;
    }
    fl_status st = hand_over(node, r);
    if (st == FL_OK)
        *out = r;
    return st;
}

/* What fl_node_submit returns for a refusal, after logging it. */
static fl_status refused(fl_node *node, const char *owner, fl_result *r)
{
    const char *type = fl_result_error_type(r) ? fl_result_error_type(r) : "";
    fl__plog(&node->log, FL_LOG_ERROR, "%s did not take the workflow: %s: %s",
             owner, type,
             fl_result_error_message(r) ? fl_result_error_message(r) : "");
    if (strcmp(type, "CanvasError") == 0)
        return FL_EINVAL;
    if (strcmp(type, "OwnerLost") == 0 || strcmp(type, "NotAKeeper") == 0)
        return FL_ENOTFOUND;
    return FL_ETASK;
}

fl_status fl_node_submit(fl_node *node, const char *owner,
                         const fl_canvas *canvas, uint32_t timeout_ms,
                         char *id, size_t cap)
{
    char who[sizeof ((fl_peer *)0)->id];
    fl_result *r = NULL;
    fl_status st;

    if (!node || !canvas || !id || cap < FL_REMOTE_ID_MAX)
        return FL_EINVAL;
    id[0] = '\0';
    if (atomic_load(&node->phase) != FL_NODE_RUNNING)
        return FL_ESTATE;
    if (fl_canvas_error(canvas)) {
        fl__plog(&node->log, FL_LOG_ERROR, "cannot submit the canvas: %s",
                 fl_canvas_error(canvas));
        return FL_EINVAL;
    }
    st = fl__node_pick_keeper(node, owner, false, who, sizeof who);
    if (st == FL_OK)
        st = remote_handle(node, who, fl_canvas_json(canvas), 0, 0, &r);
    if (st != FL_OK)
        return st;
    st = fl_result_wait(r, timeout_ms);
    if (st == FL_OK && fl_result_state(r) == FL_SUCCESS &&
        fl_value_type(fl_result_value(r)) == FL_TYPE_STRING)
        snprintf(id, cap, "%s", fl_value_string(fl_result_value(r), NULL));
    else if (st == FL_OK)
        st = refused(node, who, r);
    fl_result_free(r);
    return st;
}

/* "OWNER:N" into owner (FL_MAX_ID_BUF bytes) and *wid (N >= 1). */
static bool parse_remote_id(const char *id, char *owner, uint64_t *wid)
{
    const char *colon;
    char *end;
    unsigned long long n;
    size_t len;

    colon = strrchr(id, ':');
    if (!colon || colon == id || !colon[1] || colon[1] == '-' || colon[1] == '+')
        return false;
    len = (size_t)(colon - id);
    if (len >= FL_MAX_ID_BUF)
        return false;
    memcpy(owner, id, len);
    owner[len] = '\0';
    if (!fl__valid_id(owner))
        return false;
    errno = 0;
    n = strtoull(colon + 1, &end, 10);
    if (*end || errno || n == 0 || n >= (1ull << 53))
        return false;
    *wid = (uint64_t)n;
    return true;
}

fl_status fl_node_result(fl_node *node, const char *id, fl_result **out)
{
    char owner[FL_MAX_ID_BUF];
    uint64_t wid;

    if (!node || !id || !out)
        return FL_EINVAL;
    *out = NULL;
    if (!parse_remote_id(id, owner, &wid))
        return FL_EINVAL;
    if (atomic_load(&node->phase) != FL_NODE_RUNNING)
        return FL_ESTATE;
    return remote_handle(node, owner, NULL, wid, 0, out);
}

fl_status fl_node_revoke(fl_node *node, const char *id, bool terminate,
                         fl_result **out)
{
    char owner[FL_MAX_ID_BUF];
    uint64_t wid;

    if (!node || !id || !out)
        return FL_EINVAL;
    *out = NULL;
    if (!parse_remote_id(id, owner, &wid))
        return FL_EINVAL;
    if (atomic_load(&node->phase) != FL_NODE_RUNNING)
        return FL_ESTATE;
    return remote_handle(node, owner, NULL, wid, terminate ? 2 : 1, out);
}

void fl_node_log(fl_node *node, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    if (!node || !fmt || level > node->log.level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fl__plog_line(&node->log, level, line);
}

/* Hand req to the loop and wait for its answer; FL_ESTATE when the node is
 * not running. */
static fl_status ask_loop(fl_node *node, fl_peers_req *req)
{
    pthread_mutex_lock(&node->mu);
    if (atomic_load(&node->phase) != FL_NODE_RUNNING) {
        pthread_mutex_unlock(&node->mu);
        return FL_ESTATE;
    }
    fl__inbox_peers(&node->inbox, req);
    /* Always answered: by the loop on its next turn, or by the clean-up
     * after it exits (which runs before any free). */
    while (!req->done)
        pthread_cond_wait(&node->cv, &node->mu);
    pthread_mutex_unlock(&node->mu);
    return FL_OK;
}

fl_status fl_node_counters_get(fl_node *node, fl_node_counters *out)
{
    fl_peers_req req;
    fl_core_stats st;
    fl_status rc;

    if (!node || !out)
        return FL_EINVAL;
    memset(out, 0, sizeof *out);
    memset(&req, 0, sizeof req);
    memset(&st, 0, sizeof st);
    req.stats = &st;
    if ((rc = ask_loop(node, &req)) != FL_OK)
        return rc;
    if (req.n == 0)
        return FL_ESTATE;
    /* The core counts a workflow in submitted and finished like a task. */
    out->tasks_submitted = st.submitted - st.workflows;
    out->tasks_finished = st.finished - st.workflows_finished;
    out->tasks_failed = st.owned_failed;
    out->workflows = st.workflows;
    out->workflows_finished = st.workflows_finished;
    out->ready = st.owned_ready;
    out->delayed = st.owned_delayed;
    out->leased = st.owned_leased;
    out->retried = st.retries;
    out->requeued = st.requeued + st.expired;
    out->revoked = st.revoked;
    out->executed = st.succeeded + st.failed;
    out->succeeded = st.succeeded;
    out->failed = st.failed;
    out->busy_us = st.busy_us;
    out->queued = st.queued_local;
    out->running = st.running;
    return FL_OK;
}

fl_status fl_node_result_state(fl_node *node, const char *id, fl_result **out)
{
    char owner[FL_MAX_ID_BUF];
    uint64_t wid;

    if (!node || !id || !out)
        return FL_EINVAL;
    *out = NULL;
    if (!parse_remote_id(id, owner, &wid))
        return FL_EINVAL;
    if (atomic_load(&node->phase) != FL_NODE_RUNNING)
        return FL_ESTATE;
    return remote_handle(node, owner, NULL, wid, 3, out);
}

fl_status fl_node_peers(fl_node *node, fl_peer *peers, size_t cap, size_t *n)
{
    fl_peers_req req;

    if (n)
        *n = 0;
    if (!node || (cap > 0 && !peers))
        return FL_EINVAL;
    memset(&req, 0, sizeof req);
    req.peers = peers;
    req.cap = cap;
    if (ask_loop(node, &req) != FL_OK)
        return FL_ESTATE;
    if (n)
        *n = req.n;
    return FL_OK;
}
