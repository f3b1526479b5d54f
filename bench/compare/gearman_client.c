/*
 * gearman_client.c - the Gearman side of bench/compare: one client that
 * runs the comparison's workloads against a gearmand served by
 * bench/compare/gearman_worker processes, checks every answer, and prints
 * one "key=value ..." line per workload (the format of the other drivers):
 *
 *   throughput  --count add jobs submitted at once, every result back
 *   latency     --rounds sequential add jobs (after --warmup untimed)
 *   chord       --chord add jobs at once, then the client sums them
 *               (Gearman has no workflows, so the client is the chord)
 *   wordcount   --corpus FILE cut at word boundaries into --chunk byte jobs,
 *               partial counts merged here; --listing OUT gets every word as
 *               `sort | uniq -c` prints it, to be compared with floret's
 *
 * A failed or wrong answer prints "fail step=NAME reason=..." and makes the
 * exit status 1; the other workloads still run.
 * Depends on libgearman (Debian libgearman-dev), floret's word-count engine
 * (src/tasks/wordcount.h, src/core/alloc.h) and POSIX.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libgearman/gearman.h>

#include "alloc.h"
#include "wordcount.h"

typedef struct config {
    const char *host;
    long port, count, rounds, warmup, chord, chunk;
    const char *corpus, *listing;
} config;

/* What the completion callback needs: the answers, and how many came. */
typedef struct batch {
    long long *got;
    long done, failed;
    fl_wc_table *wc;
    uint64_t wc_bad;
} batch;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, long n, double q)
{
    long i = (long)(q * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static gearman_client_st *connect_client(const config *cfg)
{
    gearman_client_st *c = gearman_client_create(NULL);
    if (!c)
        return NULL;
    if (gearman_failed(gearman_client_add_server(c, cfg->host, (in_port_t)cfg->port))) {
        fprintf(stderr, "gearman_client: %s\n", gearman_client_error(c));
        gearman_client_free(c);
        return NULL;
    }
    gearman_client_add_options(c, GEARMAN_CLIENT_FREE_TASKS);
    return c;
}

/* The context of an add job: its batch and index; the answer goes to
 * got[index]. */
typedef struct add_ctx {
    batch *b;
    long i;
} add_ctx;

static gearman_return_t on_add_complete(gearman_task_st *task)
{
    add_ctx *a = gearman_task_context(task);
    char buf[32];
    size_t n = gearman_task_data_size(task);
    if (n == 0 || n >= sizeof buf) {
        a->b->failed++;
        return GEARMAN_SUCCESS;
    }
    memcpy(buf, gearman_task_data(task), n);
    buf[n] = '\0';
    a->b->got[a->i] = strtoll(buf, NULL, 10);
    a->b->done++;
    return GEARMAN_SUCCESS;
}

static gearman_return_t on_fail(gearman_task_st *task)
{
    add_ctx *a = gearman_task_context(task);
    a->b->failed++;
    return GEARMAN_SUCCESS;
}

/* Submit add(i, i) for i < n at once and wait for all; 0 when every answer
 * is 2i. sum (if not NULL) gets the sum of the answers. */
static int add_batch(gearman_client_st *c, long n, long long *sum)
{
    batch b = {0};
    add_ctx *ctx = calloc((size_t)n, sizeof *ctx);
    char (*payload)[48] = calloc((size_t)n, sizeof *payload);
    b.got = calloc((size_t)n, sizeof *b.got);
    int rc = -1;
    if (!ctx || !payload || !b.got)
        goto out;
    gearman_client_set_complete_fn(c, on_add_complete);
    gearman_client_set_fail_fn(c, on_fail);
    for (long i = 0; i < n; i++) {
        gearman_return_t ret;
        ctx[i].b = &b;
        ctx[i].i = i;
        int len = snprintf(payload[i], sizeof payload[i], "%ld %ld", i, i);
        if (!gearman_client_add_task(c, NULL, &ctx[i], "add", NULL, payload[i], (size_t)len,
                                     &ret)) {
            fprintf(stderr, "gearman_client: add_task: %s\n", gearman_client_error(c));
            goto out;
        }
    }
    if (gearman_failed(gearman_client_run_tasks(c))) {
        fprintf(stderr, "gearman_client: run_tasks: %s\n", gearman_client_error(c));
        goto out;
    }
    long long s = 0;
    for (long i = 0; i < n; i++) {
        if (b.got[i] != 2LL * i)
            goto out;
        s += b.got[i];
    }
    if (sum)
        *sum = s;
    rc = b.done == n && b.failed == 0 ? 0 : -1;
out:
    free(ctx);
    free(payload);
    free(b.got);
    return rc;
}

static int run_throughput(gearman_client_st *c, const config *cfg)
{
    double t0 = now_s();
    if (add_batch(c, cfg->count, NULL) != 0) {
        printf("fail step=throughput reason=wrong_or_missing_results\n");
        return -1;
    }
    double dt = now_s() - t0;
    printf("throughput tasks=%ld seconds=%.3f tasks_per_s=%.0f\n", cfg->count, dt,
           (double)cfg->count / dt);
    return 0;
}

static int run_chord(gearman_client_st *c, const config *cfg)
{
    long long sum = 0, want = (long long)cfg->chord * (cfg->chord - 1);
    double t0 = now_s();
    if (add_batch(c, cfg->chord, &sum) != 0 || sum != want) {
        printf("fail step=chord reason=wrong_sum\n");
        return -1;
    }
    printf("chord members=%ld wall_s=%.4f\n", cfg->chord, now_s() - t0);
    return 0;
}

/* One add(i, i) with gearman_client_do, checked. Seconds, or -1. */
static double one_add(gearman_client_st *c, long i)
{
    char payload[48];
    int len = snprintf(payload, sizeof payload, "%ld %ld", i, i);
    size_t rsize = 0;
    gearman_return_t ret;
    double t0 = now_s();
    char *r = gearman_client_do(c, "add", NULL, payload, (size_t)len, &rsize, &ret);
    double dt = now_s() - t0;
    char buf[32];
    bool ok = gearman_success(ret) && r && rsize > 0 && rsize < sizeof buf;
    if (ok) {
        memcpy(buf, r, rsize);
        buf[rsize] = '\0';
        ok = strtoll(buf, NULL, 10) == 2LL * i;
    }
    free(r);
    return ok ? dt : -1;
}

static int run_latency(gearman_client_st *c, const config *cfg)
{
    double *us = calloc((size_t)cfg->rounds, sizeof *us);
    if (!us)
        return -1;
    for (long i = 0; i < cfg->warmup + cfg->rounds; i++) {
        double s = one_add(c, i);
        if (s < 0) {
            printf("fail step=latency reason=wrong_or_missing_result\n");
            free(us);
            return -1;
        }
        if (i >= cfg->warmup)
            us[i - cfg->warmup] = s * 1e6;
    }
    qsort(us, (size_t)cfg->rounds, sizeof *us, cmp_double);
    printf("latency rounds=%ld p50_us=%.1f p99_us=%.1f\n", cfg->rounds,
           percentile(us, cfg->rounds, 0.50), percentile(us, cfg->rounds, 0.99));
    free(us);
    return 0;
}

static gearman_return_t on_wc_complete(gearman_task_st *task)
{
    batch *b = gearman_task_context(task);
    if (fl__wc_merge(b->wc, gearman_task_data(task), gearman_task_data_size(task), NULL,
                     NULL) != FL_OK)
        b->wc_bad++;
    b->done++;
    return GEARMAN_SUCCESS;
}

static gearman_return_t on_wc_fail(gearman_task_st *task)
{
    batch *b = gearman_task_context(task);
    b->failed++;
    return GEARMAN_SUCCESS;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long size;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (data = malloc((size_t)size + 1)) != NULL) {
        if (fread(data, 1, (size_t)size, f) != (size_t)size) {
            free(data);
            data = NULL;
        } else {
            *len = (size_t)size;
        }
    }
    fclose(f);
    return data;
}

static int write_listing(const fl_wc_table *t, const char *path)
{
    fl_wc_entry *e = NULL;
    size_t n = 0;
    FILE *f = fopen(path, "wb");
    if (!f || fl__wc_sorted(t, &e, &n) != FL_OK) {
        if (f)
            fclose(f);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%7" PRIu64 " ", e[i].count);
        fwrite(e[i].word, 1, e[i].len, f);
        fputc('\n', f);
    }
    fl__free(e);
    return fclose(f) == 0 ? 0 : -1;
}

/* The time counts from reading the file to the last partial merged, as
 * floret wordcount's elapsed_s does. */
static int run_wordcount(gearman_client_st *c, const config *cfg)
{
    batch b = {0};
    size_t len = 0, chunks = 0;
    int rc = -1;
    double t0 = now_s();
    char *data = read_file(cfg->corpus, &len);
    b.wc = fl__wc_new();
    if (!data || !b.wc) {
        printf("fail step=wordcount reason=cannot_read_corpus\n");
        goto out;
    }
    gearman_client_set_complete_fn(c, on_wc_complete);
    gearman_client_set_fail_fn(c, on_wc_fail);
    for (size_t off = 0; off < len;) {
        size_t k = fl__wc_chunk_end(data + off, len - off, (size_t)cfg->chunk, true);
        gearman_return_t ret;
        if (k == 0)
            break;
        if (!gearman_client_add_task(c, NULL, &b, "wc", NULL, data + off, k, &ret)) {
            printf("fail step=wordcount reason=add_task\n");
            goto out;
        }
        off += k;
        chunks++;
    }
    if (gearman_failed(gearman_client_run_tasks(c)) || b.failed || b.wc_bad ||
        (size_t)b.done != chunks) {
        printf("fail step=wordcount reason=%s\n", gearman_client_error(c) ? "jobs_failed" : "?");
        goto out;
    }
    double dt = now_s() - t0;
    printf("wordcount bytes=%zu chunks=%zu words=%" PRIu64 " distinct=%zu seconds=%.3f "
           "mb_per_s=%.1f\n",
           len, chunks, fl__wc_total(b.wc), fl__wc_distinct(b.wc), dt, (double)len / 1e6 / dt);
    if (cfg->listing && write_listing(b.wc, cfg->listing) != 0) {
        printf("fail step=wordcount reason=cannot_write_listing\n");
        goto out;
    }
    rc = 0;
out:
    free(data);
    fl__wc_free(b.wc);
    return rc;
}

static int parse_args(int argc, char **argv, config *cfg)
{
    *cfg = (config){.host = "127.0.0.1", .count = 10000, .rounds = 1000, .warmup = 100,
                    .chord = 1000, .chunk = 4L << 20};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *num = NULL;
        if (!v)
            return -1;
        if (strcmp(a, "--host") == 0)
            cfg->host = v;
        else if (strcmp(a, "--corpus") == 0)
            cfg->corpus = v;
        else if (strcmp(a, "--listing") == 0)
            cfg->listing = v;
        else if (strcmp(a, "--port") == 0)
            num = &cfg->port;
        else if (strcmp(a, "--count") == 0)
            num = &cfg->count;
        else if (strcmp(a, "--rounds") == 0)
            num = &cfg->rounds;
        else if (strcmp(a, "--warmup") == 0)
            num = &cfg->warmup;
        else if (strcmp(a, "--chord") == 0)
            num = &cfg->chord;
        else if (strcmp(a, "--chunk") == 0)
            num = &cfg->chunk;
        else
            return -1;
        if (num) {
            char *end;
            errno = 0;
            *num = strtol(v, &end, 10);
            if (errno || *end || *num < 0)
                return -1;
        }
    }
    return cfg->port > 0 && cfg->port < 65536 && cfg->chunk > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    config cfg;
    if (parse_args(argc, argv, &cfg) != 0) {
        fprintf(stderr, "usage: gearman_client --port P [--host H] [--count N] [--rounds M]\n"
                        "       [--warmup W] [--chord K] [--corpus FILE [--chunk BYTES]\n"
                        "       [--listing OUT]]   (0 skips a workload)\n");
        return 2;
    }
    gearman_client_st *c = connect_client(&cfg);
    if (!c)
        return 3;
    int bad = 0;
    if (cfg.count > 0)
        bad |= run_throughput(c, &cfg);
    if (cfg.rounds > 0)
        bad |= run_latency(c, &cfg);
    if (cfg.chord > 0)
        bad |= run_chord(c, &cfg);
    if (cfg.corpus)
        bad |= run_wordcount(c, &cfg);
    gearman_client_free(c);
    return bad ? 1 : 0;
}
