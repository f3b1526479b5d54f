/*
 * events.h - the simulator's virtual clock: a time-ordered queue of events.
 * Ties in time are broken by insertion order (a sequence number), so a run
 * never depends on heap layout and a seed replays exactly.
 * Depends on the C standard library only.
 */
#ifndef SIM_EVENTS_H
#define SIM_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim_event {
    uint64_t time; /* virtual microseconds */
    uint64_t seq;  /* insertion order, breaks ties */
    int type;      /* meaning chosen by the user of the queue */
    int node;      /* index of the node concerned, or -1 */
    uint64_t gen;  /* generation the event belongs to; stale ones are skipped */
    void *ptr;
} sim_event;

typedef struct sim_events {
    sim_event *heap;
    size_t n, cap;
    uint64_t next_seq;
    uint64_t now;
} sim_events;

void sim_events_init(sim_events *q);
void sim_events_free(sim_events *q);

/* Schedule an event; time is clamped to now so the clock never runs back.
 * Returns false when out of memory. */
bool sim_events_push(sim_events *q, uint64_t time, int type, int node,
                     uint64_t gen, void *ptr);

/* Take the earliest event and advance the clock to it. False when empty. */
bool sim_events_pop(sim_events *q, sim_event *out);

#endif
