/*
 * ctl_client.c - fl_node_control: send a signed deploy, undeploy or
 * shutdown from a running node and collect the nodes' answers
 * (docs/protocol.md 3.9, `answer`). The message asks for answers in this
 * node's inbox; the core hands them here (fl_core_set_answer) on the loop
 * thread, and the caller's thread waits on the node's condition variable
 * until every node it expects has answered or the time is up. Nodes it
 * does not expect (one that joined meanwhile) are added as they answer.
 * Also fl_node_forget, the operator's other publish: clearing what the
 * broker retains of a node that is gone.
 * Depends on posix.h, ctl_sign.h, lua_runtime.h (module names and size),
 * codec.h (node ids), the core's alloc.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "codec.h"
#include "ctl_sign.h"
#include "lua_runtime.h"
#include "posix.h"

#define DEFAULT_TIMEOUT_MS 5000u
#define MAX_PEERS 1024u
#define LATE_ROOM 64u /* answers from nodes that were not listed */
#define PEER_POLL_MS 50u
#define SETTLE_MS 200u
#define PEER_WAIT_MS 1500u

/* One call's wait, on node->ctl_wait under node->mu. */
struct fl_ctl_wait {
    char kind[16];
    char target[72];
    uint64_t ts;
    fl_control_answer *ans;
    size_t n, cap;
    size_t pending; /* listed nodes not yet answered */
};

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *kind_name(fl_control_kind k)
{
    return k == FL_CONTROL_DEPLOY ? "deploy" : k == FL_CONTROL_UNDEPLOY ? "undeploy"
                                                                          : "shutdown";
}

/* NULL when c can be sent, else what is wrong with it. */
static const char *check_request(const fl_control *c)
{
    if ((unsigned)c->kind > FL_CONTROL_SHUTDOWN)
        return "kind: not a control kind";
    if (!c->target)
        return "target: missing";
    if (c->kind == FL_CONTROL_SHUTDOWN) {
        if (strcmp(c->target, "*") != 0 && !fl__valid_id(c->target))
            return "target: not a node id (or * for every node)";
    } else if (!fl__lua_valid_module_name(c->target)) {
        return "target: not a module name (1 to 32 of A-Z a-z 0-9 _ -)";
    }
    if (c->kind == FL_CONTROL_DEPLOY && !c->source)
        return "source: missing";
    if (c->kind == FL_CONTROL_DEPLOY && c->source_len > FL_LUA_MAX_SOURCE)
        return "source: larger than 1 MiB";
    if (c->kind != FL_CONTROL_DEPLOY && c->source)
        return "source: only a deploy carries one";
    if (c->key && !fl_key_can_sign(c->key))
        return "key: a public key cannot sign (use the .key file)";
    return NULL;
}

static fl_control_answer *find(struct fl_ctl_wait *w, const char *node)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->ans[i].node, node) == 0)
            return &w->ans[i];
    return NULL;
}

static fl_control_answer *add(struct fl_ctl_wait *w, const char *node, const char *reason)
{
    if (w->n == w->cap)
        return NULL;
    fl_control_answer *a = &w->ans[w->n++];
    memset(a, 0, sizeof *a);
    snprintf(a->node, sizeof a->node, "%s", node);
    a->answer = FL_ANSWER_NONE;
    snprintf(a->reason, sizeof a->reason, "%s", reason);
    return a;
}

static bool wanted(const fl_node *node, const fl_control *c, bool one, const fl_peer *p)
{
    return p->online && p->slots > 0 && strcmp(p->id, node->id) != 0 &&
           (!one || strcmp(p->id, c->target) == 0);
}

static size_t count_wanted(const fl_node *node, const fl_control *c, bool one,
                           const fl_peer *peers, size_t np)
{
    size_t k = 0;
    for (size_t i = 0; i < np; i++)
        k += wanted(node, c, one, &peers[i]);
    return k;
}

/* The peers once retained presence has settled: the list a node has just
 * after it connected may still be filling. Polls until the nodes wanted
 * stayed the same for SETTLE_MS (at most PEER_WAIT_MS). */
static fl_status settled_peers(fl_node *node, const fl_control *c, bool one,
                               fl_peer *peers, size_t *np)
{
    size_t last = (size_t)-1;
    uint32_t same = 0;
    for (uint32_t waited = 0;; waited += PEER_POLL_MS) {
        if (fl_node_peers(node, peers, MAX_PEERS, np) != FL_OK)
            return FL_ESTATE;
        size_t k = count_wanted(node, c, one, peers, *np);
        same = k == last ? same + PEER_POLL_MS : 0;
        last = k;
        if ((k > 0 && same >= SETTLE_MS) || (one && k == 1) || waited >= PEER_WAIT_MS)
            return FL_OK;
        nanosleep(&(struct timespec){0, PEER_POLL_MS * 1000000L}, NULL);
    }
}

/* The nodes this control is for, as answers still to come. */
static fl_status expect(fl_node *node, const fl_control *c, struct fl_ctl_wait *w)
{
    size_t np = 0;
    fl_peer *peers = fl__malloc(MAX_PEERS * sizeof *peers);
    if (!peers)
        return FL_ENOMEM;
    bool one = c->kind == FL_CONTROL_SHUTDOWN && strcmp(c->target, "*") != 0;
    fl_status st = settled_peers(node, c, one, peers, &np);
    w->cap = (one ? 1 : np) + LATE_ROOM;
    w->ans = st == FL_OK ? fl__calloc(w->cap, sizeof *w->ans) : NULL;
    if (st == FL_OK && !w->ans)
        st = FL_ENOMEM;
    for (size_t i = 0; st == FL_OK && i < np; i++) {
        if (!wanted(node, c, one, &peers[i]))
            continue;
        add(w, peers[i].id, "no answer (an older floret, or a node that takes no "
                            "control, such as a board)");
        w->pending++;
    }
    if (st == FL_OK && one && w->n == 0)
        add(w, c->target, "not online (or a node without slots, which takes no "
                          "control)");
    fl__free(peers);
    return st;
}

/* Hand the loop one publish and wait until it is out of our hands. */
static fl_status publish(fl_node *node, const char *topic, const void *payload,
                         size_t len, bool retain)
{
    fl_peers_req req;
    memset(&req, 0, sizeof req);
    req.pub_topic = topic;
    req.pub_payload = payload;
    req.pub_len = len;
    req.pub_retain = retain;
    pthread_mutex_lock(&node->mu);
    if (atomic_load(&node->phase) != FL_NODE_RUNNING) {
        pthread_mutex_unlock(&node->mu);
        return FL_ESTATE;
    }
    fl__inbox_peers(&node->inbox, &req);
    while (!req.done)
        pthread_cond_wait(&node->cv, &node->mu);
    pthread_mutex_unlock(&node->mu);
    return req.n ? FL_OK : FL_ESTATE;
}

static fl_status send_control(fl_node *node, fl_control *c, struct fl_ctl_wait *w)
{
    fl_ctl_msg msg;
    char topic[256];
    uint8_t *payload = NULL;
    size_t plen = 0;
    memset(&msg, 0, sizeof msg);
    snprintf(msg.kind, sizeof msg.kind, "%s", w->kind);
    snprintf(msg.target, sizeof msg.target, "%s", w->target);
    msg.ts = w->ts;
    msg.reply = true;
    fl_status st = fl__ctl_build(node->cluster, node->id, &msg, c->source,
                                 c->kind == FL_CONTROL_DEPLOY ? c->source_len : 0,
                                 fl__key_inner(c->key), &payload, &plen);
    if (st != FL_OK)
        return st;
    snprintf(c->version, sizeof c->version, "%s", msg.version);
    if (c->kind == FL_CONTROL_SHUTDOWN)
        snprintf(topic, sizeof topic, "floret/v1/%s/ctl", node->cluster);
    else
        snprintf(topic, sizeof topic, "floret/v1/%s/ctl/%s", node->cluster, w->target);
    st = publish(node, topic, payload, plen, c->kind != FL_CONTROL_SHUTDOWN);
    fl_free(payload);
    return st;
}

static int by_node(const void *a, const void *b)
{
    return strcmp(((const fl_control_answer *)a)->node,
                  ((const fl_control_answer *)b)->node);
}

/* Wait (holding node->mu) until all listed nodes answered or deadline. */
static void wait_answers(fl_node *node, struct fl_ctl_wait *w, uint32_t timeout_ms)
{
    struct timespec dl = fl__deadline_after_ms(timeout_ms);
    while (w->pending > 0 && atomic_load(&node->phase) == FL_NODE_RUNNING)
        if (pthread_cond_timedwait(&node->cv, &node->mu, &dl) != 0)
            break;
}

fl_status fl_node_control(fl_node *node, fl_control *c, fl_control_answer *answers,
                          size_t cap, size_t *n)
{
    struct fl_ctl_wait w;
    const char *bad;
    if (n)
        *n = 0;
    if (!node || !c || (cap && !answers))
        return FL_EINVAL;
    c->version[0] = '\0';
    if ((bad = check_request(c)) != NULL) {
        fl_node_log(node, FL_LOG_ERROR, "control refused here: %s", bad);
        return FL_EINVAL;
    }
    if (fl__ctl_init() != FL_OK)
        return FL_EIO;
    memset(&w, 0, sizeof w);
    snprintf(w.kind, sizeof w.kind, "%s", kind_name(c->kind));
    snprintf(w.target, sizeof w.target, "%s", c->target);
    w.ts = wall_ms();
    fl_status st = expect(node, c, &w);
    if (st != FL_OK) {
        fl__free(w.ans);
        return st;
    }
    pthread_mutex_lock(&node->mu);
    if (node->ctl_wait) {
        pthread_mutex_unlock(&node->mu);
        fl__free(w.ans);
        return FL_ESTATE;
    }
    node->ctl_wait = &w;
    pthread_mutex_unlock(&node->mu);

    st = send_control(node, c, &w);

    pthread_mutex_lock(&node->mu);
    if (st == FL_OK)
        wait_answers(node, &w, c->timeout_ms ? c->timeout_ms : DEFAULT_TIMEOUT_MS);
    node->ctl_wait = NULL;
    pthread_mutex_unlock(&node->mu);
    if (st == FL_OK) {
        qsort(w.ans, w.n, sizeof *w.ans, by_node);
        size_t k = w.n < cap ? w.n : cap;
        if (k)
            memcpy(answers, w.ans, k * sizeof *answers);
        if (n)
            *n = k;
    }
    fl__free(w.ans);
    return st;
}

/* The core's fl_core_answer_fn (loop thread; ud is the node). */
void fl__ctl_client_on_answer(void *ud, const char *from, const void *payload,
                              size_t len)
{
    fl_node *node = ud;
    const char *p = payload;
    const char *nul = memchr(p, 0, len);
    fl_value *o = NULL;
    if (fl_value_parse(p, nul ? (size_t)(nul - p) : len, &o) != FL_OK)
        return; /* the core decoded it already: cannot happen */
    const char *kind = fl_value_string(fl_value_get(o, "control"), NULL);
    const char *target = fl_value_string(fl_value_get(o, "target"), NULL);
    const char *reason = fl_value_string(fl_value_get(o, "reason"), NULL);
    const fl_value *ok = fl_value_get(o, "ok");
    int64_t ts = -1;
    (void)fl_value_int64(fl_value_get(o, "ts"), &ts);
    pthread_mutex_lock(&node->mu);
    struct fl_ctl_wait *w = node->ctl_wait;
    if (w && kind && target && fl_value_type(ok) == FL_TYPE_BOOL &&
        strcmp(kind, w->kind) == 0 && strcmp(target, w->target) == 0 &&
        ts == (int64_t)w->ts) {
        fl_control_answer *a = find(w, from);
        if (a && a->answer == FL_ANSWER_NONE && w->pending > 0)
            w->pending--;
        if (!a)
            a = add(w, from, "");
        if (a) {
            a->answer = fl_value_bool(ok) ? FL_ANSWER_ACCEPTED : FL_ANSWER_REFUSED;
            snprintf(a->reason, sizeof a->reason, "%s",
                     fl_value_bool(ok) ? "" : reason ? reason : "no reason given");
        }
        pthread_cond_broadcast(&node->cv);
    }
    pthread_mutex_unlock(&node->mu);
    fl_value_free(o);
}

fl_status fl_node_forget(fl_node *node, const char *id)
{
    char topic[256];
    if (!node || !id || !fl__valid_id(id))
        return FL_EINVAL;
    /* Stats first: a presence cleared while its stats stay would show a
     * node with counters and no presence for a moment. */
    snprintf(topic, sizeof topic, "floret/v1/%s/node/%s/stats", node->cluster, id);
    fl_status st = publish(node, topic, "", 0, true);
    if (st == FL_OK) {
        snprintf(topic, sizeof topic, "floret/v1/%s/node/%s", node->cluster, id);
        st = publish(node, topic, "", 0, true);
    }
    return st;
}
