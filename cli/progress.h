/*
 * progress.h - the progress line `floret run` draws on a terminal while a
 * workflow runs (docs/watching.md, "Progress"): done/total tasks, running,
 * failed, rate and ETA, redrawn in place on stderr, from the client node's
 * own counters (fl_node_counters_get). Depends on the public header only.
 */
#ifndef FLORET_CLI_PROGRESS_H
#define FLORET_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "floret/floret.h"

/* --progress / --no-progress / neither (a terminal on stderr decides). */
enum cli_progress_mode { CLI_PROGRESS_AUTO, CLI_PROGRESS_ON, CLI_PROGRESS_OFF };

/* Drawn lines keep this many past samples for the rate. */
#define CLI_PROGRESS_SAMPLES 32

struct cli_progress {
    FILE *out;
    bool on;           /* draw at all */
    bool forced;       /* --progress: draw at once, terminal or not */
    bool drawn;        /* a line is on the screen */
    size_t total;      /* tasks of the workflow (fl_canvas_tasks) */
    double start_s;
    int width;         /* columns; the line is cut to fit */
    /* (time, done) samples of the last seconds, oldest first. */
    double at[CLI_PROGRESS_SAMPLES];
    uint64_t done[CLI_PROGRESS_SAMPLES];
    size_t nsamples;
};

/* True when the mode draws on out: ON always, OFF never, AUTO only when
 * out is a terminal (never on a pipe or file). */
bool cli_progress_wanted(enum cli_progress_mode mode, FILE *out);

/* Prepare p for a workflow of total tasks started at now_s (seconds on any
 * monotonic clock); nothing is drawn when on is false. */
void cli_progress_init(struct cli_progress *p, FILE *out, bool on, bool forced,
                       size_t total, double now_s);

/* Redraw from the counters at now_s. Without --progress, the first line
 * waits until the workflow has run for half a second, so that a quick run
 * leaves no trace. */
void cli_progress_update(struct cli_progress *p, const fl_node_counters *k,
                         double now_s);

/* The last line, with the elapsed time instead of the ETA, and a newline
 * (like pv): only when a line was drawn before, or with --progress. */
void cli_progress_end(struct cli_progress *p, const fl_node_counters *k,
                      double now_s);

/* One line into buf (no newline): what update and end draw. final puts
 * the elapsed time where the ETA was. Exposed for its unit test. */
void cli_progress_format(char *buf, size_t cap, size_t total,
                         const fl_node_counters *k, double rate,
                         double elapsed_s, bool final);

#endif
