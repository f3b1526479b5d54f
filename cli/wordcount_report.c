/*
 * wordcount_report.c - what `floret wordcount` prints: the summary (text or
 * one JSON object), the counts alone (--quiet), every word in the exact
 * format of the reference pipeline (--all), and the progress bar on
 * stderr. Words are printed as their bytes; in JSON a byte that is not
 * part of valid UTF-8 is written \xNN (a word never holds a backslash,
 * so this cannot be mistaken for text).
 * Depends on wordcount_cli.h, json_out.h, the public header and the C
 * library.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "wordcount_cli.h"

#define BAR_WIDTH 30

static double mb_per_s(const fl_wordcount_stats *s)
{
    return s->elapsed_s > 0 ? (double)s->bytes / 1e6 / s->elapsed_s : 0.0;
}

static void print_word(const fl_word *e)
{
    fwrite(e->word, 1, e->len, stdout);
}

/* Length of the valid UTF-8 sequence at w (n bytes left), or 0. */
static size_t utf8_len(const uint8_t *w, size_t n)
{
    uint8_t b = w[0];
    size_t k;
    uint32_t cp;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        k = 2, cp = b & 0x1Fu;
    else if (b >= 0xE0 && b <= 0xEF)
        k = 3, cp = b & 0x0Fu;
    else if (b >= 0xF0 && b <= 0xF4)
        k = 4, cp = b & 0x07u;
    else
        return 0;
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((w[i] & 0xC0u) != 0x80u)
            return 0;
        cp = cp << 6 | (w[i] & 0x3Fu);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return k;
}

/* A word as a JSON string (words hold no quote, backslash or control). */
static void print_json_word(const fl_word *e)
{
    const uint8_t *w = (const uint8_t *)e->word;
    putchar('"');
    for (size_t i = 0; i < e->len;) {
        size_t k = utf8_len(w + i, e->len - i);
        if (k == 0) {
            printf("\\\\x%02x", w[i]);
            i++;
        } else {
            fwrite(e->word + i, 1, k, stdout);
            i += k;
        }
    }
    putchar('"');
}

static void print_files_json(const struct wc_opts *o)
{
    printf("\"files\":[");
    for (int i = 0; i < o->nfiles; i++) {
        if (i)
            putchar(',');
        cli_json_string(o->files[i]);
    }
    if (o->nfiles == 0)
        cli_json_string("-");
    putchar(']');
}

static void report_json(const struct wc_opts *o, const fl_wordcount *wc,
                        const struct wc_where *w, const fl_word *top, size_t n)
{
    fl_wordcount_stats st;
    const fl_wordcount_stats *s = &st;
    fl_wordcount_get_stats(wc, &st);
    putchar('{');
    print_files_json(o);
    printf(",\"bytes\":%" PRIu64 ",\"words\":%" PRIu64 ",\"distinct\":%zu,\"min_length\":%zu,\"top\":[",
           s->bytes, fl_wordcount_total(wc), fl_wordcount_distinct(wc), o->min_length);
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"word\":", i ? "," : "");
        print_json_word(&top[i]);
        printf(",\"count\":%" PRIu64 "}", top[i].count);
    }
    printf("],\"elapsed_s\":%.6f,\"mb_per_s\":%.1f", s->elapsed_s, mb_per_s(s));
    if (w->cluster_start_s >= 0)
        printf(",\"cluster_start_s\":%.6f", w->cluster_start_s);
    printf(",\"cluster\":");
    cli_json_string(w->where ? w->where : "");
    printf(",\"chunks\":%" PRIu64 ",\"chunks_read_by_nodes\":%" PRIu64
           ",\"chunks_sent\":%" PRIu64,
           s->chunks, s->read_by_nodes, s->sent);
    printf(",\"fallbacks\":%" PRIu64, s->fallbacks);
    printf(",\"tasks_per_node\":{");
    for (size_t i = 0; i < s->nodes; i++) {
        uint64_t tasks = 0;
        const char *id = fl_wordcount_node(wc, i, &tasks);
        if (i)
            putchar(',');
        cli_json_string(id);
        printf(":%" PRIu64, tasks);
    }
    printf("}}\n");
}

static void report_top(const fl_word *top, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        printf("%12" PRIu64 "  ", top[i].count);
        print_word(&top[i]);
        putchar('\n');
    }
}

static void report_text(const struct wc_opts *o, const fl_wordcount *wc,
                        const struct wc_where *w, const fl_word *top, size_t n)
{
    fl_wordcount_stats st;
    const fl_wordcount_stats *s = &st;
    fl_wordcount_get_stats(wc, &st);
    printf("words      %" PRIu64 "\n", fl_wordcount_total(wc));
    printf("distinct   %zu\n", fl_wordcount_distinct(wc));
    if (o->quiet) {
        report_top(top, n);
        return;
    }
    if (o->min_length > 1)
        printf("min length %zu bytes\n", o->min_length);
    if (n > 0)
        printf("top %zu:\n", n);
    report_top(top, n);
    printf("bytes      %" PRIu64 "\n", s->bytes);
    printf("elapsed    %.3f s", s->elapsed_s);
    if (w->cluster_start_s >= 0)
        printf(" (+ %.3f s to start the local cluster)", w->cluster_start_s);
    printf("\nthroughput %.1f MB/s\n", mb_per_s(s));
    printf("cluster    %s\n", w->where ? w->where : "");
    printf("chunks     %" PRIu64 " (%" PRIu64 " read by the nodes from the file, %" PRIu64
           " sent through the broker)\n",
           s->chunks, s->read_by_nodes, s->sent);
    printf("tasks per node:\n");
    for (size_t i = 0; i < s->nodes; i++) {
        uint64_t tasks = 0;
        const char *id = fl_wordcount_node(wc, i, &tasks);
        printf("  %-24s %" PRIu64 "\n", id, tasks);
    }
}

/* Every word in byte order, as `sort | uniq -c` prints it. */
static int report_all(const fl_wordcount *wc)
{
    fl_word *e = NULL;
    size_t n = 0;
    if (fl_wordcount_sorted(wc, &e, &n) != FL_OK) {
        fprintf(stderr, "floret wordcount: out of memory sorting the words\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        printf("%7" PRIu64 " ", e[i].count);
        print_word(&e[i]);
        putchar('\n');
    }
    fl_free(e);
    return 0;
}

int wc_report(const struct wc_opts *o, const fl_wordcount *wc, const struct wc_where *w)
{
    int rc = 0;
    if (o->all) {
        rc = report_all(wc);
    } else {
        fl_word *top = NULL;
        size_t n = 0;
        if (fl_wordcount_top(wc, o->top, &top, &n) != FL_OK) {
            fprintf(stderr, "floret wordcount: out of memory ranking the words\n");
            return 1;
        }
        if (o->json)
            report_json(o, wc, w, top, n);
        else
            report_text(o, wc, w, top, n);
        fl_free(top);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "floret wordcount: cannot write the result\n");
        return 1;
    }
    return rc;
}

void wc_progress_clear(void)
{
    fprintf(stderr, "\r\033[K");
}

void wc_progress(void *ud, const fl_wordcount_progress *p)
{
    (void)ud;
    double mb = (double)p->bytes / 1e6;
    double rate = p->elapsed_s > 0 ? mb / p->elapsed_s : 0;
    if (p->size_known && p->total_bytes > 0) {
        double f = (double)p->bytes / (double)p->total_bytes;
        int fill = (int)(f * BAR_WIDTH);
        char bar[BAR_WIDTH + 1];
        for (int i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        fprintf(stderr, "\r[%s] %3.0f%%  %.1f / %.1f MB  %.0f MB/s\033[K", bar, f * 100.0, mb,
                (double)p->total_bytes / 1e6, rate);
    } else {
        fprintf(stderr, "\r%.1f MB  %.0f MB/s\033[K", mb, rate);
    }
    fflush(stderr);
}
