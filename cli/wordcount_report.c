/*
 * wordcount_report.c - what `floret wordcount` prints: the summary (text or
 * one JSON object), the counts alone (--quiet), every word in the exact
 * format of the reference pipeline (--all), and the progress bar on
 * stderr. Words are printed as their bytes; in JSON a byte that is not
 * part of valid UTF-8 is written \xNN (a word never holds a backslash,
 * so this cannot be mistaken for text).
 * Depends on wordcount_cli.h, json_out.h and the C library.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "wordcount_cli.h"

#define BAR_WIDTH 30

static double mb_per_s(const struct wc_stats *s)
{
    return s->elapsed_s > 0 ? (double)s->bytes / 1e6 / s->elapsed_s : 0.0;
}

static void print_word(const fl_wc_entry *e)
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
static void print_json_word(const fl_wc_entry *e)
{
    putchar('"');
    for (size_t i = 0; i < e->len;) {
        size_t k = utf8_len(e->word + i, e->len - i);
        if (k == 0) {
            printf("\\\\x%02x", e->word[i]);
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

static void report_json(const struct wc_opts *o, const fl_wc_table *t,
                        const struct wc_stats *s, const fl_wc_entry *top, size_t n)
{
    putchar('{');
    print_files_json(o);
    printf(",\"bytes\":%" PRIu64 ",\"words\":%" PRIu64 ",\"distinct\":%zu,\"min_length\":%zu,\"top\":[",
           s->bytes, fl__wc_total(t), fl__wc_distinct(t), o->min_length);
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"word\":", i ? "," : "");
        print_json_word(&top[i]);
        printf(",\"count\":%" PRIu64 "}", top[i].count);
    }
    printf("],\"elapsed_s\":%.6f,\"mb_per_s\":%.1f", s->elapsed_s, mb_per_s(s));
    if (s->cluster_start_s >= 0)
        printf(",\"cluster_start_s\":%.6f", s->cluster_start_s);
    printf(",\"cluster\":");
    cli_json_string(s->where ? s->where : "");
    printf(",\"chunks\":%" PRIu64 ",\"chunks_read_by_nodes\":%" PRIu64
           ",\"chunks_sent\":%" PRIu64,
           s->chunks, s->by_ref, s->by_bytes);
    printf(",\"fallbacks\":%" PRIu64, s->fallbacks);
    printf(",\"tasks_per_node\":{");
    for (size_t i = 0; i < s->nnodes; i++) {
        if (i)
            putchar(',');
        cli_json_string(s->nodes[i].id);
        printf(":%" PRIu64, s->nodes[i].tasks);
    }
    printf("}}\n");
}

static void report_top(const fl_wc_entry *top, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        printf("%12" PRIu64 "  ", top[i].count);
        print_word(&top[i]);
        putchar('\n');
    }
}

static void report_text(const struct wc_opts *o, const fl_wc_table *t,
                        const struct wc_stats *s, const fl_wc_entry *top, size_t n)
{
    printf("words      %" PRIu64 "\n", fl__wc_total(t));
    printf("distinct   %zu\n", fl__wc_distinct(t));
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
    if (s->cluster_start_s >= 0)
        printf(" (+ %.3f s to start the local cluster)", s->cluster_start_s);
    printf("\nthroughput %.1f MB/s\n", mb_per_s(s));
    printf("cluster    %s\n", s->where ? s->where : "");
    printf("chunks     %" PRIu64 " (%" PRIu64 " read by the nodes from the file, %" PRIu64
           " sent through the broker)\n",
           s->chunks, s->by_ref, s->by_bytes);
    printf("tasks per node:\n");
    for (size_t i = 0; i < s->nnodes; i++)
        printf("  %-24s %" PRIu64 "\n", s->nodes[i].id, s->nodes[i].tasks);
}

/* Every word in byte order, as `sort | uniq -c` prints it. */
static int report_all(const fl_wc_table *t)
{
    fl_wc_entry *e = NULL;
    size_t n = 0;
    if (fl__wc_sorted(t, &e, &n) != FL_OK) {
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

int wc_report(const struct wc_opts *o, const fl_wc_table *t, const struct wc_stats *s)
{
    int rc = 0;
    if (o->all) {
        rc = report_all(t);
    } else {
        fl_wc_entry *top = NULL;
        size_t n = 0;
        if (fl__wc_top(t, o->top, &top, &n) != FL_OK) {
            fprintf(stderr, "floret wordcount: out of memory ranking the words\n");
            return 1;
        }
        if (o->json)
            report_json(o, t, s, top, n);
        else
            report_text(o, t, s, top, n);
        fl_free(top);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "floret wordcount: cannot write the result\n");
        return 1;
    }
    return rc;
}

void wc_progress(const struct wc_stats *s, double elapsed_s, bool done)
{
    if (done) {
        fprintf(stderr, "\r\033[K");
        return;
    }
    double mb = (double)s->bytes / 1e6;
    double rate = elapsed_s > 0 ? mb / elapsed_s : 0;
    if (s->size_known && s->known_bytes > 0) {
        double f = (double)s->bytes / (double)s->known_bytes;
        int fill = (int)(f * BAR_WIDTH);
        char bar[BAR_WIDTH + 1];
        for (int i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        fprintf(stderr, "\r[%s] %3.0f%%  %.1f / %.1f MB  %.0f MB/s\033[K", bar, f * 100.0, mb,
                (double)s->known_bytes / 1e6, rate);
    } else {
        fprintf(stderr, "\r%.1f MB  %.0f MB/s\033[K", mb, rate);
    }
    fflush(stderr);
}

void wc_stats_free(struct wc_stats *s)
{
    for (size_t i = 0; i < s->nnodes; i++)
        fl__wc_hint_free(&s->nodes[i].hint);
    free(s->nodes);
    s->nodes = NULL;
    s->nnodes = s->cap_nodes = 0;
}
