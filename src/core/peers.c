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
    fl__jw_arr(w, "tasks");
    if (c->slots) {
        for (size_t i = 0; i < fl__registry_count(c->registry); i++)
            fl__jw_str(w, NULL, fl__registry_name(c->registry, i));
        write_list(w, c->extra_tasks);
    }
    fl__jw_end_arr(w);
    if (c->slots && c->extra_modules && c->extra_modules[0]) {
        fl__jw_arr(w, "modules");
        write_list(w, c->extra_modules);
        fl__jw_end_arr(w);
    }
    fl__jw_str(w, "runtime", c->runtime);
    fl__jw_str(w, "arch", c->arch);
    fl__jw_str(w, "version", FL_VERSION);
    fl__jw_u64(w, "load", online ? fl__worker_load(c) : 0);
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

static fl_peer_rec *find_peer(fl_core *c, const char *id)
{
    for (fl_peer_rec *p = c->peers; p; p = p->next)
        if (strcmp(p->info.id, id) == 0)
            return p;
    return NULL;
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
    if (!p) {
        p = fl__calloc(1, sizeof *p);
        if (!p)
            return;
        p->next = c->peers;
        c->peers = p;
    } else if (p->inc && p->inc != m->inc && p->info.online) {
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
            fl__free(p);
            return;
        }
    } else if (came)
        fl__log(c, FL_LOG_DEBUG, "peer %s online (%u slots)", m->from,
                (unsigned)m->slots);
    p->inc = m->inc;
    fill_info(&p->info, m);
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
        fl__free(p);
        return;
    }
}

void fl__peers_free(fl_core *c)
{
    while (c->peers) {
        fl_peer_rec *p = c->peers;
        c->peers = p->next;
        fl__free(p);
    }
}

size_t fl_core_peers(const fl_core *c, fl_peer *out, size_t cap)
{
    size_t n = 0;
    for (const fl_peer_rec *p = c->peers; p && n < cap; p = p->next)
        out[n++] = p->info;
    return n;
}
