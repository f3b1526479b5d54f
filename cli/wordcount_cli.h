/*
 * wordcount_cli.h - the parts of `floret wordcount` (docs/wordcount.md): the
 * inputs cut into chunks (wordcount_input.c), the dispatch of map tasks
 * with merging as results arrive (wordcount_run.c), and the reports
 * (wordcount_report.c); cli/wordcount.c parses the command line and ties
 * them together.
 * Depends on the public header and src/tasks/wordcount.h.
 */
#ifndef FLORET_CLI_WORDCOUNT_CLI_H
#define FLORET_CLI_WORDCOUNT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "conn.h"
#include "floret/floret.h"
#include "wordcount.h"

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

/* One input: a regular file mapped whole, or a stream read in blocks. */
struct wc_input {
    const char *name;  /* as given, for messages */
    int fd;
    char *path;        /* absolute path of a regular file (locality), else NULL */
    struct stat st;
    const uint8_t *map; /* the mapped file (NULL when empty or a stream) */
    uint64_t size;      /* bytes of a mapped file */
    uint64_t pos;       /* next unread offset */
    uint8_t *buf;       /* streams: bytes read but not yet chunked */
    size_t cap, len;
    bool eof;
};

/* One chunk of an input, ending at a word boundary. */
struct wc_chunk {
    struct wc_input *in;
    uint64_t offset;
    size_t len;
    const uint8_t *data; /* into the map, or owned */
    uint8_t *owned;      /* a stream's copy, freed by wc_chunk_release */
};

/* Open name ("-" for stdin). 0, or -1 with a reason in err. */
int wc_input_open(struct wc_input *in, const char *name, char *err, size_t errlen);

/* The next chunk of about target bytes: 1 (c filled), 0 at the end, or -1
 * with a reason in err. */
int wc_input_next(struct wc_input *in, size_t target, struct wc_chunk *c,
                  char *err, size_t errlen);

/* The locality sample hash of c (its input must have a path). */
uint64_t wc_chunk_sample(const struct wc_chunk *c);

void wc_chunk_release(struct wc_chunk *c);
void wc_input_close(struct wc_input *in);

/* One node of a run: the tasks it did, and the hint its partials are
 * merged with (fl__wc_merge_from; freed by wc_stats_free). */
struct wc_node_tasks {
    char id[72];
    uint64_t tasks;
    fl_wc_hint hint;
};

/* What a run did, for the report. */
struct wc_stats {
    uint64_t bytes;       /* bytes counted */
    uint64_t known_bytes; /* total size of the inputs, when known (progress) */
    bool size_known;
    uint64_t chunks;    /* chunks merged = by_ref + by_bytes */
    uint64_t by_ref;    /* ... counted by a node from its own copy */
    uint64_t by_bytes;  /* ... whose bytes crossed the broker */
    uint64_t fallbacks; /* NotLocal answers, then sent as bytes */
    struct wc_node_tasks *nodes;
    size_t nnodes, cap_nodes;
    double elapsed_s;       /* from the first submit to the last merge */
    double cluster_start_s; /* embedded cluster start, or < 0 when none */
    const char *where;      /* "embedded" or the broker URL */
};

/*
 * Count every input on the cluster behind node (a started client), merging
 * into t. Returns 0, or the exit status after printing the error (1: a
 * chunk failed or an input could not be read).
 */
int wc_run(fl_node *node, const struct wc_opts *o, fl_wc_table *t,
           struct wc_stats *s);

/* Print the result as the options say. 0 or 1 (output error). */
int wc_report(const struct wc_opts *o, const fl_wc_table *t,
              const struct wc_stats *s);

/* Draw (or, with done, clear) the progress bar on stderr. */
void wc_progress(const struct wc_stats *s, double elapsed_s, bool done);

void wc_stats_free(struct wc_stats *s);

#endif
