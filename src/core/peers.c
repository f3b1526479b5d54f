/*
 * peers.c - presence: this node's own retained presence and will, and the
 * table of other nodes seen on node/<id>. A peer going offline or coming
 * back with a new incarnation is what tells the owner side to re-queue its
 * leases and the worker side to drop its tasks. Depends on internal.h.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"
#include "registry.h"

static bool allowed(const fl_core *c, const char *name);

/* Each task of a comma-separated list this node may run, as one string
 * of the open array. */
static void write_tasks(fl_core *c, fl_jw *w, const char *list)
{
    char name[FL_MAX_ID_BUF];
    for (const char *t = list; t && *t;) {
        size_t n = strcspn(t, ",");
        if (n && n <= FL_MAX_ID) {
            memcpy(name, t, n);
            name[n] = '\0';
            if (allowed(c, name))
                fl__jw_strn(w, NULL, t, n);
        }
        t += n + (t[n] == ',');
    }
}

/* Each entry of a comma-separated list as one string of the open array. */
static void write_list(fl_jw *w, const char *list)
{
    for (const char *t = list; t && *t;) {
        size_t n = strcspn(t, ",");
        if (n)
            fl__jw_strn(w, NULL, t, n);
        t += n + (t[n] == ',');
    }
}

void fl__presence_write(fl_core *c, fl_jw *w, bool online)
{
    fl__jw_begin_msg(w, FL_KIND_PRESENCE, c->id, c->inc);
    fl__jw_str(w, "state", online ? "online" : "offline");
    fl__jw_u64(w, "slots", c->slots);
    /* A core with no registry runs whatever its driver does: it lists no
     * tasks, so owners do not narrow what they lease it. */
    if (!c->slots || c->registry) {
        fl__jw_arr(w, "tasks");
        if (c->slots) {
            for (size_t i = 0; i < fl__registry_count(c->registry); i++)
                if (allowed(c, fl__registry_name(c->registry, i)))
                    fl__jw_str(w, NULL, fl__registry_name(c->registry, i));
            write_tasks(c, w, c->extra_tasks);
        }
        fl__jw_end_arr(w);
    }
    fl__jw_u64(w, "max_msg", c->max_message);
    if (FL_ZCODECS && c->z.n) {
        fl__jw_arr(w, "z");
        for (size_t i = 0; i < c->z.n; i++)
            fl__jw_str(w, NULL, c->z.codecs[i]->name);
        fl__jw_end_arr(w);
    }
    if (c->slots && !fl__owner_side())
        fl__jw_bool(w, "keeper", false);
    if (c->slots && c->extra_modules && c->extra_modules[0]) {
        fl__jw_arr(w, "modules");
        write_list(w, c->extra_modules);
        fl__jw_end_arr(w);
    }
    fl__jw_str(w, "runtime", c->runtime);
    fl__jw_str(w, "arch", c->arch);
    fl__jw_str(w, "version", FL_VERSION);
    fl__jw_u64(w, "load", online ? fl__worker_load(c) : 0);
    if (c->slots && c->io.kept)
        fl__jw_bool(w, "durable", true);
    if (c->tags[0]) {
        fl__jw_arr(w, "tags");
        for (const char *t = c->tags; *t;) {
            size_t n = strcspn(t, ",");
            fl__jw_strn(w, NULL, t, n);
            t += n + (t[n] == ',');
        }
        fl__jw_end_arr(w);
    }
}

/* Is item one of the comma-separated entries of list? */
static bool in_list(const char *list, const char *item)
{
    size_t len = strlen(item);
    while (*list) {
        size_t n = strcspn(list, ",");
        if (n == len && memcmp(list, item, n) == 0)
            return true;
        list += n + (list[n] == ',');
    }
    return false;
}

static fl_peer_rec *find_peer(fl_core *c, const char *id);

const fl_peer_rec *fl__peer_find(const fl_core *c, const char *id)
{
    return find_peer((fl_core *)c, id);
}

/* Which of our codecs the peer's presence says it decodes. */
static unsigned zmask_of(const fl_core *c, const fl_msg *m)
{
    unsigned mask = 0;
    for (size_t i = 0; FL_ZCODECS && i < m->nznames; i++) {
        const fl_zcodec *z = fl__z_find(&c->z, m->znames[i],
                                        strlen(m->znames[i]));
        for (size_t k = 0; z && k < c->z.n; k++)
            if (c->z.codecs[k] == z)
                mask |= 1u << k;
    }
    return mask;
}

const fl_zcodec *fl__peer_zcodec(const fl_core *c, const char *id)
{
    const fl_peer_rec *p =
        FL_ZCODECS && c->zsend && c->z.n ? fl__peer_find(c, id) : NULL;
    if (!p || !p->info.online)
        return NULL;
    for (size_t k = 0; k < c->z.n; k++)
        if (p->zmask & 1u << k)
            return c->z.codecs[k];
    return NULL;
}

bool fl__peer_runs(const fl_peer_rec *p, const char *name)
{
    if (!p->tasks_known)
        return true;
    for (size_t i = 0; i < p->ntasks; i++)
        if (strcmp(p->tasks[i], name) == 0)
            return true;
    return false;
}

bool fl__valid_task_filter(const char *list)
{
    char item[FL_MAX_ID_BUF];
    if (!*list)
        return false;
    for (const char *t = list; *t;) {
        size_t n = strcspn(t, ",");
        if (n == 0 || n > FL_MAX_ID)
            return false;
        memcpy(item, t, n);
        item[n] = '\0';
        if (n > 2 && item[n - 1] == '*' && item[n - 2] == '.')
            item[n - 2] = '\0';
        if (!fl__valid_id(item))
            return false;
        t += n + (t[n] == ',');
    }
    return true;
}

/* May this node run `name` by its --tasks filter? */
static bool allowed(const fl_core *c, const char *name)
{
    if (!c->only_tasks)
        return true;
    size_t len = strlen(name);
    for (const char *t = c->only_tasks; *t;) {
        size_t n = strcspn(t, ",");
        if (n > 2 && t[n - 1] == '*' && t[n - 2] == '.') {
            if (len > n - 1 && memcmp(t, name, n - 1) == 0)
                return true;
        } else if (n == len && memcmp(t, name, n) == 0) {
            return true;
        }
        t += n + (t[n] == ',');
    }
    return false;
}

bool fl__core_runs(const fl_core *c, const char *name)
{
    if (!allowed(c, name))
        return false;
    if (!c->registry || fl__registry_find(c->registry, name))
        return true;
    return c->extra_tasks && in_list(c->extra_tasks, name);
}

bool fl__route_matches(const fl_core *c, const char *route,
                       const char *worker_id)
{
    const char *eq = strchr(route, '=');
    if (!eq)
        return strcmp(route, worker_id) == 0;
    const fl_peer_rec *p = find_peer((fl_core *)c, worker_id);
    if (!p || !p->info.online)
        return false;
    if (strncmp(route, "arch=", 5) == 0)
        return strcmp(eq + 1, p->info.arch) == 0;
    if (strncmp(route, "runtime=", 8) == 0)
        return strcmp(eq + 1, p->info.runtime) == 0;
    return in_list(p->info.tags, route);
}

void fl__presence_publish(fl_core *c, bool online)
{
    fl__presence_write(c, &c->jw, online);
    char suffix[FL_MAX_ID_BUF + 8];
    snprintf(suffix, sizeof suffix, "node/%s", c->id);
    /* Clients come and go by the thousand: only nodes that execute keep a
     * retained presence, so `floret status` lists workers, not old calls. */
    fl__send_to(c, NULL, suffix, 1, c->slots > 0);
    c->last_load = fl__worker_load(c);
}

static size_t slot_of(const fl_core *c, const char *id)
{
    return (size_t)fl__hash_bytes(id, strlen(id), 0) & (c->peer_cap - 1);
}

static fl_peer_rec *find_peer(fl_core *c, const char *id)
{
    if (c->peer_cap) {
        for (size_t i = slot_of(c, id); c->peer_index[i];
             i = (i + 1) & (c->peer_cap - 1))
            if (strcmp(c->peer_index[i]->info.id, id) == 0)
                return c->peer_index[i];
        return NULL;
    }
    for (fl_peer_rec *p = c->peers; p; p = p->next)
        if (strcmp(p->info.id, id) == 0)
            return p;
    return NULL;
}

static void index_insert(fl_core *c, fl_peer_rec *p)
{
    size_t i = slot_of(c, p->info.id);
    while (c->peer_index[i])
        i = (i + 1) & (c->peer_cap - 1);
    c->peer_index[i] = p;
}

/* Index every record anew in cap slots (a power of two); without memory
 * for it, lookups walk the list. */
static void index_rebuild(fl_core *c, size_t cap)
{
    fl__free(c->peer_index);
    c->peer_index = fl__calloc(cap, sizeof *c->peer_index);
    c->peer_cap = c->peer_index ? cap : 0;
    if (c->peer_index)
        for (fl_peer_rec *p = c->peers; p; p = p->next)
            index_insert(c, p);
}

/* The table gained (c->peers, its head) or lost a record. Removals
 * rebuild the index: they are rare (a client leaving, a presence
 * cleared), and linear probing cannot simply empty a slot. */
static void peers_changed(fl_core *c, bool added)
{
    c->peers_gen++;
    c->npeers = added ? c->npeers + 1 : c->npeers - 1;
    if (added && c->peer_cap && 2 * c->npeers <= c->peer_cap) {
        index_insert(c, c->peers);
        return;
    }
    size_t cap = c->peer_cap ? c->peer_cap : 16;
    while (2 * c->npeers > cap)
        cap *= 2;
    index_rebuild(c, cap);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static void fill_info(fl_peer *info, const fl_msg *m)
{
    copy_str(info->id, sizeof info->id, m->from);
    info->online = m->online;
    info->slots = (int)m->slots;
    info->load = (int)m->load;
    copy_str(info->runtime, sizeof info->runtime, m->runtime);
    info->tags[0] = '\0';
    for (size_t i = 0, len = 0; i < m->ntags; i++) {
        size_t n = strlen(m->tags[i]);
        if (len + n + 2 > sizeof info->tags || !fl__valid_tag(m->tags[i], n))
            continue;
        if (len)
            info->tags[len++] = ',';
        memcpy(info->tags + len, m->tags[i], n + 1);
        len += n;
    }
    copy_str(info->arch, sizeof info->arch, m->arch);
    copy_str(info->version, sizeof info->version, m->version);
    info->keeper = m->keeper;
    info->max_msg = m->max_msg && m->max_msg <= SIZE_MAX
                        ? (size_t)m->max_msg
                        : FL_DEFAULT_MAX_MESSAGE;
    info->modules[0] = '\0';
    for (size_t i = 0, len = 0; i < m->nmodules; i++) {
        size_t n = strlen(m->modules[i]);
        if (len + n + 2 > sizeof info->modules)
            break;
        if (len)
            info->modules[len++] = ',';
        memcpy(info->modules + len, m->modules[i], n + 1);
        len += n;
    }
    size_t len = 0;
    info->tasks[0] = '\0';
    for (size_t i = 0; i < m->ntask_names; i++) {
        size_t n = strlen(m->task_names[i]);
        if (len + n + 2 >= sizeof info->tasks)
            break;
        if (len)
            info->tasks[len++] = ',';
        memcpy(info->tasks + len, m->task_names[i], n + 1);
        len += n;
    }
}

static void free_tasks(fl_peer_rec *p)
{
    for (size_t i = 0; i < p->ntasks; i++)
        fl__free(p->tasks[i]);
    fl__free(p->tasks);
    p->tasks = NULL;
    p->ntasks = 0;
}

static bool same_tasks(const fl_peer_rec *p, const fl_msg *m)
{
    if (p->tasks_known != m->has_tasks || p->ntasks != m->ntask_names)
        return false;
    for (size_t i = 0; i < p->ntasks; i++)
        if (strcmp(p->tasks[i], m->task_names[i]) != 0)
            return false;
    return true;
}

/* Take m's task list into p (the message gives its strings up). */
static void take_tasks(fl_peer_rec *p, fl_msg *m)
{
    free_tasks(p);
    p->tasks_known = m->has_tasks;
    p->tasks = m->task_names;
    p->ntasks = m->ntask_names;
    m->task_names = NULL;
    m->ntask_names = 0;
}

/* What of a peer's presence decides what an owner may lease it. */
typedef struct lease_view {
    bool online;
    int slots;
    size_t max_msg;
    uint64_t tags_hash;
} lease_view;

static lease_view view_of(const fl_peer *info)
{
    lease_view v = {info->online, info->slots, info->max_msg, 0};
    v.tags_hash = fl__hash_bytes(info->tags, strlen(info->tags), 1);
    v.tags_hash = fl__hash_bytes(info->arch, strlen(info->arch), v.tags_hash);
    v.tags_hash = fl__hash_bytes(info->runtime, strlen(info->runtime),
                                 v.tags_hash);
    return v;
}

/* Did this presence change what an owner may lease p? */
static bool lease_view_changed(const fl_peer_rec *p, const lease_view *before)
{
    lease_view now = view_of(&p->info);
    return before->online != now.online || before->slots != now.slots ||
           before->max_msg != now.max_msg ||
           before->tags_hash != now.tags_hash;
}

static void unlink_peer(fl_core *c, fl_peer_rec *p)
{
    for (fl_peer_rec **pp = &c->peers; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

/* The peer `id` (incarnation inc) is gone: both sides let go of it. */
static void peer_lost(fl_core *c, const char *id, uint64_t inc, uint64_t now)
{
    fl__owner_worker_gone(c, id, inc, now);
    fl__worker_owner_gone(c, id, inc, now);
    fl__remote_peer_gone(c, id);
}

void fl__peers_on_presence(fl_core *c, const char *topic_id, fl_msg *m,
                           uint64_t now)
{
    if (strcmp(topic_id, m->from) != 0) {
        fl__log(c, FL_LOG_WARN, "dropped presence on node/%s claiming to be "
                "from '%s'", topic_id, m->from);
        return;
    }
    if (strcmp(m->from, c->id) == 0)
        return;  /* our own, or the will of our previous life */
    fl_peer_rec *p = find_peer(c, m->from);
    if (p && !m->online && p->info.online && p->inc && m->inc != p->inc) {
        /* The will of an earlier life, late: the node is back already. */
        fl__log(c, FL_LOG_DEBUG, "ignored the offline presence of an earlier "
                "incarnation of %s", m->from);
        return;
    }
    if (!p) {
        p = fl__calloc(1, sizeof *p);
        if (!p)
            return;
        copy_str(p->info.id, sizeof p->info.id, m->from);
        p->next = c->peers;
        c->peers = p;
        peers_changed(c, true);
    }
    /* Before peer_lost: waiters on a durable keeper keep waiting. */
    bool was_durable = p->durable;
    p->durable = m->durable || (!m->online && was_durable);
    p->info.durable = p->durable;
    if (p->inc && p->inc != m->inc && p->info.online) {
        peer_lost(c, m->from, p->inc, now);  /* it restarted */
    }
    bool came = m->online && !p->info.online;
    if (!m->online) {
        peer_lost(c, m->from, m->inc, now);
        if (m->slots == 0) {
            /* A client that left is not kept: clients come and go by the
             * thousand (each CLI command is one), and a record is 1.7 KiB,
             * which a board that kept them all would run out of. */
            unlink_peer(c, p);
            free_tasks(p);
            fl__free(p);
            peers_changed(c, false);
            return;
        }
    } else if (came)
        fl__log(c, FL_LOG_DEBUG, "peer %s online (%u slots)", m->from,
                (unsigned)m->slots);
    bool back = m->online && (came || (p->inc && p->inc != m->inc));
    p->inc = m->inc;
    if (back && p->durable)
        fl__remote_peer_back(c, m->from);
    lease_view before = view_of(&p->info);
    fill_info(&p->info, m);
    p->zmask = zmask_of(c, m);
    bool tasks_changed = !same_tasks(p, m);
    if (tasks_changed)
        take_tasks(p, m);
    if (tasks_changed || lease_view_changed(p, &before))
        fl__owner_peer_changed(c, p->info.id, tasks_changed);
    if (came)
        fl__obs_peer_online(c, m->from, now);
}

void fl__peers_forget(fl_core *c, const char *id, uint64_t now)
{
    for (fl_peer_rec **pp = &c->peers; *pp; pp = &(*pp)->next) {
        fl_peer_rec *p = *pp;
        if (strcmp(p->info.id, id) != 0)
            continue;
        if (p->info.online)
            peer_lost(c, id, p->inc, now);
        *pp = p->next;
        free_tasks(p);
        fl__free(p);
        peers_changed(c, false);
        fl__owner_peer_changed(c, id, true);
        return;
    }
}

void fl__peers_free(fl_core *c)
{
    while (c->peers) {
        fl_peer_rec *p = c->peers;
        c->peers = p->next;
        free_tasks(p);
        fl__free(p);
    }
    fl__free(c->peer_index);
    c->peer_index = NULL;
    c->peer_cap = c->npeers = 0;
    c->peers_gen++;
}

size_t fl_core_peers(const fl_core *c, fl_peer *out, size_t cap)
{
    size_t n = 0;
    for (const fl_peer_rec *p = c->peers; p && n < cap; p = p->next)
        out[n++] = p->info;
    return n;
}
