/*
 * wordcount_rank.c - orderings of a word-count table: the top N (count
 * descending, then word ascending bytewise) and the full listing in
 * bytewise word order, the order `LC_ALL=C sort` gives.
 * Portable. Depends on wordcount.h, alloc.h and qsort.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "wordcount.h"

static int word_cmp(const fl_wc_entry *a, const fl_wc_entry *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->word, b->word, n) : 0;
    if (c != 0)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

/* Negative when a ranks before b. */
static int rank_cmp(const fl_wc_entry *a, const fl_wc_entry *b)
{
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return word_cmp(a, b);
}

static int qsort_word(const void *a, const void *b)
{
    return word_cmp(a, b);
}

static int qsort_rank(const void *a, const void *b)
{
    return rank_cmp(a, b);
}

/* Sift the heap's root down; the root is the worst-ranked entry kept. */
static void sift_down(fl_wc_entry *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2u * i + 1u, r = l + 1u, w = i;
        if (l < n && rank_cmp(&h[l], &h[w]) > 0)
            w = l;
        if (r < n && rank_cmp(&h[r], &h[w]) > 0)
            w = r;
        if (w == i)
            return;
        fl_wc_entry tmp = h[i];
        h[i] = h[w];
        h[w] = tmp;
        i = w;
    }
}

static fl_status collect_all(const fl_wc_table *t, fl_wc_entry **out,
                             size_t *count)
{
    size_t n = fl__wc_distinct(t);
    *out = NULL;
    *count = 0;
    if (n == 0)
        return FL_OK;
    if (n > SIZE_MAX / sizeof **out)
        return FL_ENOMEM;
    fl_wc_entry *a = fl__malloc(n * sizeof *a);
    if (a == NULL)
        return FL_ENOMEM;
    size_t pos = 0, i = 0;
    while (i < n && fl__wc_next(t, &pos, &a[i]))
        i++;
    *out = a;
    *count = i;
    return FL_OK;
}

fl_status fl__wc_sorted(const fl_wc_table *t, fl_wc_entry **out,
                        size_t *count)
{
    fl_status st = collect_all(t, out, count);
    if (st == FL_OK && *count > 1)
        qsort(*out, *count, sizeof **out, qsort_word);
    return st;
}

/* Keep the best n of the table in a heap of n, then sort them: memory and
 * time stay small when n is far below the vocabulary. */
static fl_status top_heap(const fl_wc_table *t, size_t n, fl_wc_entry **out,
                          size_t *count)
{
    fl_wc_entry *h = fl__malloc(n * sizeof *h);
    if (h == NULL)
        return FL_ENOMEM;
    size_t pos = 0, k = 0;
    fl_wc_entry e;
    while (fl__wc_next(t, &pos, &e)) {
        if (k < n) {
            h[k++] = e;
            if (k == n)
                for (size_t i = n / 2u; i-- > 0;)
                    sift_down(h, n, i);
        } else if (rank_cmp(&e, &h[0]) < 0) {
            h[0] = e;
            sift_down(h, n, 0);
        }
    }
    qsort(h, k, sizeof *h, qsort_rank);
    *out = h;
    *count = k;
    return FL_OK;
}

fl_status fl__wc_top(const fl_wc_table *t, size_t n, fl_wc_entry **out,
                     size_t *count)
{
    if (n != 0 && n < fl__wc_distinct(t))
        return top_heap(t, n, out, count);
    fl_status st = collect_all(t, out, count);
    if (st == FL_OK && *count > 1)
        qsort(*out, *count, sizeof **out, qsort_rank);
    return st;
}
