/*
 * wordcount.c - count the words of files on a floret cluster from C, as
 * `floret wordcount` does, and print the totals and the top words:
 *
 *     ./wordcount book.txt            words, distinct, the 10 most frequent
 *     ./wordcount -n 3 a.txt b.txt    the 3 most frequent
 *     cat a.txt | ./wordcount -       standard input
 *
 * Every chunk of the input is a map task ("wc.map") run by the cluster's
 * nodes (`floret node` registers it; a program's node does with
 * fl_register_wordcount); the partial counts are merged here. Progress goes to stderr. The broker
 * is $FLORET_BROKER (default mqtt://127.0.0.1:1883). Exit status: 0
 * counted, 1 the count failed, 2 bad arguments, 3 no broker.
 * Depends only on floret/floret.h (pkg-config floret).
 */
#include <floret/floret.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void progress(void *ud, const fl_wordcount_progress *p)
{
    (void)ud;
    if (p->size_known && p->total_bytes)
        fprintf(stderr, "\r%5.1f%% of %.1f MB", 100.0 * (double)p->bytes /
                (double)p->total_bytes, (double)p->total_bytes / 1e6);
    else
        fprintf(stderr, "\r%.1f MB", (double)p->bytes / 1e6);
}

static int report(const fl_wordcount *wc, size_t top)
{
    fl_word *w = NULL;
    size_t n = 0;
    if (fl_wordcount_top(wc, top, &w, &n) != FL_OK) {
        fprintf(stderr, "wordcount: out of memory\n");
        return 1;
    }
    printf("words %" PRIu64 "\ndistinct %zu\n", fl_wordcount_total(wc),
           fl_wordcount_distinct(wc));
    for (size_t i = 0; i < n; i++)
        printf("%" PRIu64 " %.*s\n", w[i].count, (int)w[i].len, w[i].word);
    fl_free(w);
    return 0;
}

int main(int argc, char **argv)
{
    size_t top = 10;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "-n") == 0) {
        top = (size_t)strtoul(argv[2], NULL, 10);
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: wordcount [-n TOP] FILE... (- for standard input)\n");
        return 2;
    }
    fl_node_options o;
    fl_node_options_init(&o);
    o.slots = 0; /* a client: the cluster's nodes count */
    o.log_level = FL_LOG_WARN;
    fl_node *node = NULL;
    fl_status st = fl_node_new(&o, &node);
    if (st == FL_OK)
        st = fl_node_start(node, 5000);
    if (st != FL_OK) {
        fprintf(stderr, "wordcount: cannot connect: %s\n",
                st == FL_ECONN ? fl_node_last_error(node) : fl_strerror(st));
        fl_node_free(node);
        return 3;
    }
    fl_wordcount_options wo;
    fl_wordcount_options_init(&wo);
    wo.progress = progress;
    fl_wordcount *wc = NULL;
    char err[600];
    st = fl_wordcount_files(node, (const char *const *)argv + first, (size_t)(argc - first),
                            &wo, &wc, err, sizeof err);
    fprintf(stderr, "\r\033[K");
    int rc = 1;
    if (st == FL_OK)
        rc = report(wc, top);
    else
        fprintf(stderr, "wordcount: %s\n", err);
    fl_wordcount_free(wc);
    fl_node_stop(node, 2000);
    fl_node_free(node);
    return rc;
}
