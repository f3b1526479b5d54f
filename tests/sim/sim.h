/*
 * sim.h - what the parts of the deterministic simulator share: the run
 * parameters, the network fault knobs and the kinds of events on the
 * virtual clock. The simulator drives real fl_core instances (src/core)
 * through an in-memory broker; nothing in it reads a clock or does I/O
 * while a run is in progress.
 * Depends on the C standard library only.
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_MS 1000ull          /* virtual time is in microseconds */
#define SIM_S (1000ull * SIM_MS)

/* Event kinds on the virtual clock. */
enum {
    SIM_EV_DELIVER,    /* node: session; gen: connection epoch */
    SIM_EV_WILL,       /* keep-alive ran out: publish the session's will */
    SIM_EV_TICK,       /* the core asked to be ticked now */
    SIM_EV_JOB_DONE,   /* ptr: the simulated job; gen: its token */
    SIM_EV_SUBMIT,     /* a client submits a batch of tasks */
    SIM_EV_REVOKE,     /* a client revokes one task (ptr: the task) */
    SIM_EV_FAULT,      /* periodic chance of crashes and disconnects */
    SIM_EV_RESTART,    /* a crashed node comes back with a new incarnation */
    SIM_EV_RECONNECT,  /* a disconnected node gets its connection back */
    SIM_EV_APPLY,      /* a client applies a workflow (ptr: the workflow) */
    SIM_EV_BROKER_DOWN, /* the broker dies (and is restarted) */
    SIM_EV_BROKER_UP   /* the restarted broker accepts connections */
};

/* Network faults applied by the broker to every delivery. */
typedef struct sim_faults {
    double loss;          /* probability a delivery is dropped */
    double dup;           /* probability a delivery is made twice */
    double reorder;       /* probability a delivery gets extra delay */
    uint64_t delay_min;   /* base one-way delay range (us) */
    uint64_t delay_max;
    uint64_t reorder_max; /* extra delay of a reordered delivery (us) */
} sim_faults;

typedef struct sim_params {
    uint64_t seed;
    int workers;          /* nodes with execution slots */
    int clients;          /* nodes with 0 slots that submit tasks */
    int tasks;            /* tasks submitted in total */
    int workflows;        /* Canvas workflows applied by each client */
    sim_faults net;
    double crash;         /* per worker per virtual second */
    double disconnect;    /* per node per virtual second */
    int broker_restarts;  /* times the broker dies, 0.5 to 5 s each */
    uint64_t max_time;    /* all finals must arrive before this (us) */
    bool allow_spin;      /* do not fail a core that ticks in a busy loop */
    bool mixed;           /* workers w1.. run task subsets, small limits */
    bool verbose;
} sim_params;

/* Defaults for everything (seed 1, 5 workers, 1 client, 200 tasks, no
 * workflows, no faults). */
void sim_params_default(sim_params *p);

/* Run one seed. Returns true when every invariant held; otherwise writes
 * the first broken one into why. */
bool sim_run(const sim_params *p, char *why, size_t whylen);

/* Self-checks of the simulator's own machinery (topic filters, clock). */
bool sim_selftest(char *why, size_t whylen);

#endif
