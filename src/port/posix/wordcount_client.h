/*
 * wordcount_client.h - the client side of the word count (docs/wordcount.md),
 * behind the public fl_wordcount_* calls: the inputs cut into chunks
 * (wordcount_input.c), the dispatch of map tasks with merging as results
 * arrive (wordcount_client.c), and the result a program reads
 * (wordcount_api.c).
 * Depends on the public header, src/tasks/wordcount.h and POSIX (stat).
 */
#ifndef FL_WORDCOUNT_CLIENT_H
#define FL_WORDCOUNT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "floret/floret.h"
#include "wordcount.h"

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
    uint8_t *owned;      /* a stream's copy, freed by fl__wci_release */
};

/* Open name ("-" for stdin). 0, or -1 with a reason in err. */
int fl__wci_open(struct wc_input *in, const char *name, char *err, size_t errlen);

/* The next chunk of about target bytes: 1 (c filled), 0 at the end, or -1
 * with a reason in err. */
int fl__wci_next(struct wc_input *in, size_t target, struct wc_chunk *c,
                 char *err, size_t errlen);

/* The locality sample hash of c (its input must have a path). */
uint64_t fl__wci_sample(const struct wc_chunk *c);

void fl__wci_release(struct wc_chunk *c);
void fl__wci_close(struct wc_input *in);

/* One node of a run: the tasks it did, and the hint its partials are
 * merged with (fl__wc_merge_from). */
struct wc_node_tasks {
    char id[72];
    uint64_t tasks;
    fl_wc_hint hint;
};

/* What a run did. */
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
    double elapsed_s;   /* from the first submit to the last merge */
};

/* A finished count (the public fl_wordcount). */
struct fl_wordcount {
    fl_wc_table *t;
    struct wc_stats s;
};

/*
 * Count files[0..nfiles) (none: standard input) on the cluster behind node
 * (a started node), merging into t and s. FL_OK, or an error with the
 * reason in err: FL_EIO (an input could not be read), FL_ETASK (a chunk
 * failed), FL_ENOMEM, FL_EINVAL.
 */
fl_status fl__wc_run(fl_node *node, const char *const *files, size_t nfiles,
                     const fl_wordcount_options *o, fl_wc_table *t, struct wc_stats *s,
                     char *err, size_t errlen);

void fl__wc_stats_free(struct wc_stats *s);

#endif
