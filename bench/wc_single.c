/*
 * wc_single.c - single-threaded word count with the same tokenizer and
 * table as wc.map: the baseline of the word-count benchmark and the oracle
 * of the word-count tests. Reads files (or stdin) in blocks cut at word
 * boundaries by the chunker, so memory stays bounded by the block size and
 * the vocabulary.
 *   wc_single [--all] [--top N] [--min-length L] [--block SIZE] [FILE...|-]
 * --all prints every count exactly as
 *   LC_ALL=C tr -cs 'A-Za-z0-9\200-\377' '\n' | tr A-Z a-z | grep -v '^$'
 *   | sort | uniq -c
 * does; otherwise totals, throughput and the top N words go to stdout.
 * Depends on the floret core library (src/tasks/wordcount.h) and POSIX.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wordcount.h"

typedef struct opts {
    int all;
    size_t top, min_len, block;
} opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr, "usage: wc_single [--all] [--top N] [--min-length L] "
                    "[--block SIZE] [FILE...|-]\n");
    return 2;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    if (*end == 'k' || *end == 'K')
        v *= 1024u, end++;
    else if (*end == 'm' || *end == 'M')
        v *= 1024u * 1024u, end++;
    if (*end != '\0' || v > SIZE_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Count one stream; *bytes grows by what was read, *count_s by the time
 * spent counting (not reading). */
static int count_stream(FILE *f, const char *name, fl_wc_table *t,
                        const opts *o, unsigned long long *bytes,
                        double *count_s)
{
    size_t cap = o->block * 2u, len = 0;
    unsigned char *buf = malloc(cap);
    int eof = 0, rc = 0;
    if (buf == NULL)
        return fprintf(stderr, "wc_single: out of memory\n"), 1;
    while (!eof || len > 0) {
        if (!eof && len < cap) {
            size_t n = fread(buf + len, 1, cap - len, f);
            len += n;
            *bytes += n;
            if (n == 0) {
                if (ferror(f)) {
                    fprintf(stderr, "wc_single: %s: read error\n", name);
                    rc = 1;
                    break;
                }
                eof = 1;
            }
            continue;
        }
        size_t k = fl__wc_chunk_end(buf, len, o->block, eof);
        if (k == 0) {
            /* One word fills the whole buffer: make room for more of it. */
            unsigned char *nb = cap <= SIZE_MAX / 2u ? realloc(buf, cap * 2u) : NULL;
            if (nb == NULL) {
                fprintf(stderr, "wc_single: out of memory\n");
                rc = 1;
                break;
            }
            buf = nb;
            cap *= 2u;
            continue;
        }
        double t0 = now_s();
        fl_status st = fl__wc_count(t, buf, k, o->min_len);
        *count_s += now_s() - t0;
        if (st != FL_OK) {
            fprintf(stderr, "wc_single: %s: %s\n", name, fl_strerror(st));
            rc = 1;
            break;
        }
        memmove(buf, buf + k, len - k);
        len -= k;
    }
    free(buf);
    return rc;
}

static int print_entries(const fl_wc_entry *e, size_t n, int all)
{
    for (size_t i = 0; i < n; i++) {
        printf(all ? "%7llu " : "%12llu  ", (unsigned long long)e[i].count);
        fwrite(e[i].word, 1, e[i].len, stdout);
        putchar('\n');
    }
    return ferror(stdout) ? 1 : 0;
}

static int report(const fl_wc_table *t, const opts *o,
                  unsigned long long bytes, double total_s, double count_s)
{
    fl_wc_entry *e = NULL;
    size_t n = 0;
    fl_status st = o->all ? fl__wc_sorted(t, &e, &n) : fl__wc_top(t, o->top, &e, &n);
    if (st != FL_OK)
        return fprintf(stderr, "wc_single: %s\n", fl_strerror(st)), 1;
    if (!o->all) {
        double mb = (double)bytes / 1e6;
        printf("bytes      %llu\n", bytes);
        printf("words      %llu\n", (unsigned long long)fl__wc_total(t));
        printf("distinct   %zu\n", fl__wc_distinct(t));
        printf("elapsed    %.3f s (counting %.3f s)\n", total_s, count_s);
        printf("throughput %.1f MB/s (counting %.1f MB/s)\n",
               total_s > 0 ? mb / total_s : 0.0, count_s > 0 ? mb / count_s : 0.0);
        printf("memory     %zu bytes of table\n", fl__wc_memory(t));
        if (n > 0)
            printf("top %zu:\n", n);
    }
    int rc = print_entries(e, n, o->all);
    free(e);
    return rc;
}

static int parse_args(int argc, char **argv, opts *o, int *first_file)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--all") == 0) {
            o->all = 1;
        } else if (i + 1 < argc && strcmp(a, "--top") == 0) {
            if (parse_size(argv[++i], &o->top))
                return -1;
        } else if (i + 1 < argc && strcmp(a, "--min-length") == 0) {
            if (parse_size(argv[++i], &o->min_len))
                return -1;
        } else if (i + 1 < argc && strcmp(a, "--block") == 0) {
            if (parse_size(argv[++i], &o->block) || o->block == 0 ||
                o->block > SIZE_MAX / 4u)
                return -1;
        } else if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (a[0] == '-' && a[1] != '\0') {
            return -1;
        } else {
            break;
        }
    }
    *first_file = i;
    return 0;
}

int main(int argc, char **argv)
{
    opts o = {0, 10, 1, 1u << 20};
    int first, rc = 0;
    if (parse_args(argc, argv, &o, &first) != 0)
        return usage();
    fl_wc_table *t = fl__wc_new();
    if (t == NULL)
        return fprintf(stderr, "wc_single: out of memory\n"), 1;
    unsigned long long bytes = 0;
    double count_s = 0, t0 = now_s();
    for (int i = first; rc == 0 && (i < argc || i == first); i++) {
        const char *name = i < argc ? argv[i] : "-";
        FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
        if (f == NULL) {
            fprintf(stderr, "wc_single: %s: %s\n", name, strerror(errno));
            rc = 1;
            break;
        }
        rc = count_stream(f, name, t, &o, &bytes, &count_s);
        if (f != stdin)
            fclose(f);
    }
    double total_s = now_s() - t0;
    if (rc == 0)
        rc = report(t, &o, bytes, total_s, count_s);
    fl__wc_free(t);
    return rc;
}
