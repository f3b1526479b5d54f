/*
 * inbox.c - how application and executor threads hand work to the loop:
 * submissions, finished jobs, peer-list requests, revokes and the stop
 * request, all
 * behind one mutex. The wake pipe is rung only on the edge from "nothing
 * pending" to "something pending"; the loop takes everything at once, so
 * 100,000 calls from one thread cost one or a few wake-ups, not 100,000.
 * Depends on posix.h.
 */
#include "posix.h"

#include <string.h>

#include "deploy_check.h"

fl_status fl__inbox_init(fl_inbox *ib)
{
    memset(ib, 0, sizeof *ib);
    if (pthread_mutex_init(&ib->mu, NULL) != 0)
        return FL_EIO;
    if (fl__wake_open(&ib->wake) != FL_OK) {
        pthread_mutex_destroy(&ib->mu);
        return FL_EIO;
    }
    return FL_OK;
}

void fl__inbox_destroy(fl_inbox *ib)
{
    while (ib->chk_head) {
        fl_deploy_checked *next = ib->chk_head->next;
        fl__deploy_checked_free(ib->chk_head);
        ib->chk_head = next;
    }
    fl__wake_close(&ib->wake);
    pthread_mutex_destroy(&ib->mu);
}

/* Called with ib->mu held after adding something; true when the caller
 * must ring (after unlocking). */
static bool arm(fl_inbox *ib)
{
    if (ib->rung)
        return false;
    ib->rung = true;
    return true;
}

void fl__inbox_submit(fl_inbox *ib, fl_result *r)
{
    bool ring;
    r->next = NULL;
    pthread_mutex_lock(&ib->mu);
    if (ib->sub_tail)
        ib->sub_tail->next = r;
    else
        ib->sub_head = r;
    ib->sub_tail = r;
    ring = arm(ib);
    pthread_mutex_unlock(&ib->mu);
    if (ring)
        fl__wake_ring(&ib->wake);
}

void fl__inbox_done(fl_inbox *ib, fl_xjob *xj)
{
    bool ring;
    xj->next = NULL;
    pthread_mutex_lock(&ib->mu);
    if (ib->done_tail)
        ib->done_tail->next = xj;
    else
        ib->done_head = xj;
    ib->done_tail = xj;
    ring = arm(ib);
    pthread_mutex_unlock(&ib->mu);
    if (ring)
        fl__wake_ring(&ib->wake);
}

void fl__inbox_peers(fl_inbox *ib, fl_peers_req *req)
{
    bool ring;
    pthread_mutex_lock(&ib->mu);
    req->next = ib->req_head;
    ib->req_head = req;
    ring = arm(ib);
    pthread_mutex_unlock(&ib->mu);
    if (ring)
        fl__wake_ring(&ib->wake);
}

void fl__inbox_revoke(fl_inbox *ib, fl_result *r)
{
    bool ring;
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    pthread_mutex_lock(&ib->mu);
    r->revoke_next = ib->rev_head;
    ib->rev_head = r;
    ring = arm(ib);
    pthread_mutex_unlock(&ib->mu);
    if (ring)
        fl__wake_ring(&ib->wake);
}

void fl__inbox_checked(fl_inbox *ib, fl_deploy_checked *c)
{
    bool ring;
    c->next = NULL;
    pthread_mutex_lock(&ib->mu);
    if (ib->chk_tail)
        ib->chk_tail->next = c;
    else
        ib->chk_head = c;
    ib->chk_tail = c;
    ring = arm(ib);
    pthread_mutex_unlock(&ib->mu);
    if (ring)
        fl__wake_ring(&ib->wake);
}

void fl__inbox_stop(fl_inbox *ib, uint32_t grace_ms)
{
    bool ring;
    pthread_mutex_lock(&ib->mu);
    ib->stop = true;
    ib->stop_grace_ms = grace_ms;
    ring = arm(ib);
    pthread_mutex_unlock(&ib->mu);
    if (ring)
        fl__wake_ring(&ib->wake);
}

void fl__inbox_quit(fl_inbox *ib)
{
    bool ring;
    pthread_mutex_lock(&ib->mu);
    ib->quit = true;
    ring = arm(ib);
    pthread_mutex_unlock(&ib->mu);
    if (ring)
        fl__wake_ring(&ib->wake);
}

void fl__inbox_take(fl_inbox *ib, fl_inbox_batch *b)
{
    pthread_mutex_lock(&ib->mu);
    b->subs = ib->sub_head;
    b->dones = ib->done_head;
    b->reqs = ib->req_head;
    b->revokes = ib->rev_head;
    b->checked = ib->chk_head;
    b->stop = ib->stop;
    b->stop_grace_ms = ib->stop_grace_ms;
    b->quit = ib->quit;
    ib->sub_head = ib->sub_tail = NULL;
    ib->done_head = ib->done_tail = NULL;
    ib->req_head = NULL;
    ib->rev_head = NULL;
    ib->chk_head = ib->chk_tail = NULL;
    ib->stop = false; /* delivered once; the loop remembers it */
    ib->rung = false;
    pthread_mutex_unlock(&ib->mu);
}
