/*
 * wordcount_api.c - the public word count calls (fl_wordcount_* in
 * floret.h): run a count (wordcount_client.c) and read its result, the
 * merged table of src/tasks/wordcount.c and what the run did.
 * Depends on floret.h, wordcount_client.h, src/tasks/wordcount.h, the
 * core's alloc.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "wordcount_client.h"

_Static_assert(sizeof(fl_word) == sizeof(fl_wc_entry), "fl_word mirrors fl_wc_entry");

void fl_wordcount_options_init(fl_wordcount_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->min_length = 1;
    o->locality = true;
}

void fl__wc_stats_free(struct wc_stats *s)
{
    for (size_t i = 0; i < s->nnodes; i++)
        fl__wc_hint_free(&s->nodes[i].hint);
    free(s->nodes);
    s->nodes = NULL;
    s->nnodes = s->cap_nodes = 0;
}

fl_status fl_wordcount_files(fl_node *node, const char *const *files, size_t nfiles,
                             const fl_wordcount_options *o, fl_wordcount **out,
                             char *err, size_t errlen)
{
    fl_wordcount_options defaults;
    if (!out)
        return FL_EINVAL;
    *out = NULL;
    if (!node || (nfiles && !files)) {
        snprintf(err, errlen, "%s", !node ? "node: NULL" : "files: NULL");
        return FL_EINVAL;
    }
    for (size_t i = 0; i < nfiles; i++)
        if (!files[i]) {
            snprintf(err, errlen, "files[%zu]: NULL", i);
            return FL_EINVAL;
        }
    if (!o) {
        fl_wordcount_options_init(&defaults);
        o = &defaults;
    }
    fl_wordcount *wc = fl__calloc(1, sizeof *wc);
    if (wc)
        wc->t = fl__wc_new();
    if (!wc || !wc->t) {
        fl_wordcount_free(wc);
        snprintf(err, errlen, "out of memory");
        return FL_ENOMEM;
    }
    fl_status st = fl__wc_run(node, files, nfiles, o, wc->t, &wc->s, err, errlen);
    if (st != FL_OK) {
        fl_wordcount_free(wc);
        return st;
    }
    /* The hints served the merging; only the counts per node are read. */
    for (size_t i = 0; i < wc->s.nnodes; i++)
        fl__wc_hint_free(&wc->s.nodes[i].hint);
    *out = wc;
    return FL_OK;
}

uint64_t fl_wordcount_total(const fl_wordcount *wc)
{
    return wc ? fl__wc_total(wc->t) : 0;
}

size_t fl_wordcount_distinct(const fl_wordcount *wc)
{
    return wc ? fl__wc_distinct(wc->t) : 0;
}

/* The entries of the table as fl_word, in place (same size, same order of
 * members: the pointer's type is all that differs). */
static fl_word *as_words(fl_wc_entry *e, size_t n)
{
    fl_word *w = (fl_word *)(void *)e;
    for (size_t i = 0; i < n; i++) {
        fl_wc_entry x = e[i];
        fl_word y = {(const char *)x.word, x.len, x.count};
        memcpy(&w[i], &y, sizeof y);
    }
    return w;
}

fl_status fl_wordcount_top(const fl_wordcount *wc, size_t n, fl_word **out, size_t *nout)
{
    fl_wc_entry *e = NULL;
    size_t k = 0;
    if (!wc || !out || !nout)
        return FL_EINVAL;
    fl_status st = fl__wc_top(wc->t, n, &e, &k);
    *out = st == FL_OK ? as_words(e, k) : NULL;
    *nout = st == FL_OK ? k : 0;
    return st;
}

fl_status fl_wordcount_sorted(const fl_wordcount *wc, fl_word **out, size_t *nout)
{
    fl_wc_entry *e = NULL;
    size_t k = 0;
    if (!wc || !out || !nout)
        return FL_EINVAL;
    fl_status st = fl__wc_sorted(wc->t, &e, &k);
    *out = st == FL_OK ? as_words(e, k) : NULL;
    *nout = st == FL_OK ? k : 0;
    return st;
}

void fl_wordcount_get_stats(const fl_wordcount *wc, fl_wordcount_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    if (!wc)
        return;
    st->bytes = wc->s.bytes;
    st->chunks = wc->s.chunks;
    st->read_by_nodes = wc->s.by_ref;
    st->sent = wc->s.by_bytes;
    st->fallbacks = wc->s.fallbacks;
    st->elapsed_s = wc->s.elapsed_s;
    st->nodes = wc->s.nnodes;
}

const char *fl_wordcount_node(const fl_wordcount *wc, size_t i, uint64_t *tasks)
{
    if (!wc || i >= wc->s.nnodes)
        return NULL;
    if (tasks)
        *tasks = wc->s.nodes[i].tasks;
    return wc->s.nodes[i].id;
}

void fl_wordcount_free(fl_wordcount *wc)
{
    if (!wc)
        return;
    fl__wc_stats_free(&wc->s);
    fl__wc_free(wc->t);
    fl__free(wc);
}
