/*
 * reconcile.c - after a reconnection (a broker restart, a dropped link),
 * owner and worker agree on what is leased instead of waiting out the
 * lease ttl (docs/protocol.md, `check` and `holding`).
 *
 * A worker that (re)connects tells every owner it knows what it holds
 * (`holding` without a cid). An owner that (re)connects, or hears that a
 * worker did, asks that worker about every lease it holds there (`check`);
 * the worker answers each check with the ids it holds and those it does
 * not (`holding` with the check's cid), having first sent every outcome
 * it had waiting. Because the owner's check follows its leases on the same
 * path, and the worker's answer follows its outcomes, an id the answer
 * calls missing was never received or its outcome never arrived: it goes
 * back in the queue at once. Either side's message may be lost when the
 * other has not resubscribed yet; the other side's then gets through,
 * since each one subscribes before it speaks.
 * This file is the worker's side; the owner's is reconcile_owner.c (left
 * out of a worker-only core, docs/microcontrollers.md).
 * Depends on internal.h and the C library's qsort/bsearch.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"

/* ----------------------------------------------------------- worker side */

static void begin_holding(fl_core *c)
{
    fl__jw_begin_msg(&c->jw, FL_KIND_HOLDING, c->id, c->inc);
    fl__jw_arr(&c->jw, "ids");
}

/* Tell owner o every id we hold for it, in as many messages as it takes
 * (one with no ids when we hold none: it still asks the owner to check). */
static void holding_for(fl_core *c, fl_wowner *o)
{
    fl_worker *w = &c->worker;
    fl_jlist *lists[2] = {&w->running, &w->queue};
    size_t in_msg = 0;
    begin_holding(c);
    for (int l = 0; l < 2; l++) {
        for (fl_wjob *j = lists[l]->head; j; j = j->next) {
            if (j->owner_inc != o->inc || strcmp(j->job.owner, o->id) != 0)
                continue;
            if (in_msg == FL_MAX_BATCH) {
                fl__jw_end_arr(&c->jw);
                fl__send_to(c, o->id, NULL, 1, false);
                begin_holding(c);
                in_msg = 0;
            }
            fl__jw_u64(&c->jw, NULL, j->job.id);
            in_msg++;
        }
    }
    fl__jw_end_arr(&c->jw);
    fl__send_to(c, o->id, NULL, 1, false);
}

void fl__worker_send_holdings(fl_core *c)
{
    if (c->slots == 0 || !c->connected)
        return;
    for (fl_wowner *o = c->worker.owners; o; o = o->next)
        holding_for(c, o);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* held[i] = whether we hold a job of o (at owner incarnation inc) with id
 * sorted[i]. */
static void mark_held(fl_core *c, const fl_wowner *o, uint64_t inc,
                      const uint64_t *sorted, size_t n, bool *held)
{
    fl_worker *w = &c->worker;
    fl_jlist *lists[2] = {&w->running, &w->queue};
    if (!o || o->inc != inc)
        return;
    for (int l = 0; l < 2; l++) {
        for (const fl_wjob *j = lists[l]->head; j; j = j->next) {
            if (j->owner_inc != inc || strcmp(j->job.owner, o->id) != 0)
                continue;
            const uint64_t *p = bsearch(&j->job.id, sorted, n, sizeof *sorted,
                                        cmp_u64);
            if (p)
                held[p - sorted] = true;
        }
    }
}

static void write_ids(fl_jw *jw, const char *key, const uint64_t *ids,
                      const bool *held, size_t n, bool want)
{
    fl__jw_arr(jw, key);
    for (size_t i = 0; i < n; i++)
        if (held[i] == want)
            fl__jw_u64(jw, NULL, ids[i]);
    fl__jw_end_arr(jw);
}

/* Sort ids and drop repeats; returns how many are left. */
static size_t sort_unique(uint64_t *ids, size_t n)
{
    size_t k = 0;
    qsort(ids, n, sizeof *ids, cmp_u64);
    for (size_t i = 0; i < n; i++)
        if (k == 0 || ids[i] != ids[k - 1])
            ids[k++] = ids[i];
    return k;
}

void fl__worker_on_check(fl_core *c, fl_msg *m, uint64_t now)
{
    (void)now;
    size_t n = m->nids;
    uint64_t *ids = fl__malloc(n * sizeof *ids);
    bool *held = fl__calloc(n, sizeof *held);
    if (!ids || !held) {
        fl__log(c, FL_LOG_ERROR, "out of memory: check from %s not answered "
                "(its leases will expire)", m->from);
        fl__free(ids);
        fl__free(held);
        return;
    }
    memcpy(ids, m->ids, n * sizeof *ids);
    n = sort_unique(ids, n);
    /* Outcomes still waiting must reach the owner before the answer that
     * calls their tasks missing. */
    fl__worker_send_outcomes(c);
    if (c->slots)
        mark_held(c, fl__worker_find_owner(c, m->from), m->inc, ids, n, held);
    fl__jw_begin_msg(&c->jw, FL_KIND_HOLDING, c->id, c->inc);
    fl__jw_u64(&c->jw, "cid", m->cid);
    write_ids(&c->jw, "ids", ids, held, n, true);
    write_ids(&c->jw, "missing", ids, held, n, false);
    fl__send_to(c, m->from, NULL, 1, false);
    fl__free(ids);
    fl__free(held);
}
