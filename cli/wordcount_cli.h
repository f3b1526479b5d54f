/*
 * wordcount_cli.h - the parts of `floret wordcount` (docs/wordcount.md):
 * cli/wordcount.c parses the command line and runs the count with the
 * library's fl_wordcount_files; wordcount_report.c prints it.
 * Depends on the public header and conn.h.
 */
#ifndef FLORET_CLI_WORDCOUNT_CLI_H
#define FLORET_CLI_WORDCOUNT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "floret/floret.h"

/* What the command line asked for. */
struct wc_opts {
    size_t top;        /* words to list; 0 = all */
    size_t min_length; /* keep words of at least this many bytes */
    size_t chunk;      /* target chunk size in bytes */
    bool chunk_set;    /* --chunk given */
    bool json, quiet, all, verbose;
    bool locality;     /* false with --no-locality */
    const char *compress; /* --compress LIST / --no-compress; NULL: default */
    bool progress;     /* a progress bar on stderr */
    struct cli_conn conn; /* the cluster's broker and credentials */
    const char *cluster;
    const char *map;   /* --map MODULE.FN: a Lua mapper; NULL: wc.map */
    int nodes;         /* nodes of the embedded cluster; 0 = one per core */
    char **files;      /* the inputs ("-" is standard input) */
    int nfiles;
};

/* What the report adds to the count's own statistics. */
struct wc_where {
    double cluster_start_s; /* embedded cluster start, or < 0 when none */
    const char *where;      /* "embedded local cluster" or the broker URL */
};

/* Print the result as the options say. 0 or 1 (output error). */
int wc_report(const struct wc_opts *o, const fl_wordcount *wc, const struct wc_where *w);

/* The progress callback: draws the bar on stderr (ud unused). */
void wc_progress(void *ud, const fl_wordcount_progress *p);

/* Clear the progress bar. */
void wc_progress_clear(void);

#endif
