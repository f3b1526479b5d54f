/*
 * events.c - a binary min-heap keyed by (time, seq): the simulator's clock.
 * Depends on events.h and the C standard library.
 */
#include "events.h"

#include <stdlib.h>

void sim_events_init(sim_events *q)
{
    q->heap = NULL;
    q->n = q->cap = 0;
    q->next_seq = 0;
    q->now = 0;
}

void sim_events_free(sim_events *q)
{
    free(q->heap);
    sim_events_init(q);
}

static bool before(const sim_event *a, const sim_event *b)
{
    if (a->time != b->time)
        return a->time < b->time;
    return a->seq < b->seq;
}

static void swap(sim_event *a, sim_event *b)
{
    sim_event t = *a;
    *a = *b;
    *b = t;
}

bool sim_events_push(sim_events *q, uint64_t time, int type, int node,
                     uint64_t gen, void *ptr)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        sim_event *h = realloc(q->heap, cap * sizeof *h);
        if (!h)
            return false;
        q->heap = h;
        q->cap = cap;
    }
    sim_event e = {time < q->now ? q->now : time, q->next_seq++, type, node,
                   gen, ptr};
    size_t i = q->n++;
    q->heap[i] = e;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&q->heap[i], &q->heap[parent]))
            break;
        swap(&q->heap[i], &q->heap[parent]);
        i = parent;
    }
    return true;
}

bool sim_events_pop(sim_events *q, sim_event *out)
{
    if (q->n == 0)
        return false;
    *out = q->heap[0];
    q->heap[0] = q->heap[--q->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->n && before(&q->heap[l], &q->heap[m]))
            m = l;
        if (r < q->n && before(&q->heap[r], &q->heap[m]))
            m = r;
        if (m == i)
            break;
        swap(&q->heap[i], &q->heap[m]);
        i = m;
    }
    q->now = out->time;
    return true;
}
