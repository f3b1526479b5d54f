/*
 * gearman_worker.c - the Gearman side of bench/compare: one worker process
 * that serves the comparison's tasks until it is killed.
 *
 *   add  payload "A B" (decimal integers) -> "A+B" in decimal
 *   wc   payload = a chunk of text cut at a word boundary -> the chunk's
 *        partial word count in floret's binary partial-count format, so the
 *        tokenizer is the very same code floret's own wc.map runs and the
 *        comparison measures the queue, not two different counters.
 *
 * Usage: gearman_worker --port P [--host 127.0.0.1]
 * Depends on libgearman (Debian libgearman-dev) and floret's word-count
 * engine (src/tasks/wordcount.h, src/core/alloc.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libgearman/gearman.h>

#include "alloc.h"
#include "wordcount.h"

/* gearman_worker_fn: the returned buffer is malloc'd; libgearman frees it. */
static void *do_add(gearman_job_st *job, void *ctx, size_t *size, gearman_return_t *ret)
{
    (void)ctx;
    char in[64];
    size_t n = gearman_job_workload_size(job);
    long long a, b;
    char *out = malloc(32);
    if (!out || n >= sizeof in) {
        free(out);
        *ret = GEARMAN_WORK_FAIL;
        return NULL;
    }
    memcpy(in, gearman_job_workload(job), n);
    in[n] = '\0';
    if (sscanf(in, "%lld %lld", &a, &b) != 2) {
        free(out);
        *ret = GEARMAN_WORK_FAIL;
        return NULL;
    }
    *size = (size_t)snprintf(out, 32, "%lld", a + b);
    *ret = GEARMAN_SUCCESS;
    return out;
}

static void *do_wc(gearman_job_st *job, void *ctx, size_t *size, gearman_return_t *ret)
{
    (void)ctx;
    fl_wc_table *t = fl__wc_new();
    uint8_t *enc = NULL;
    size_t len = 0;
    char *out = NULL;
    *ret = GEARMAN_WORK_FAIL;
    if (t && fl__wc_count(t, gearman_job_workload(job), gearman_job_workload_size(job), 1) == FL_OK &&
        fl__wc_encode(t, &enc, &len) == FL_OK && (out = malloc(len ? len : 1)) != NULL) {
        memcpy(out, enc, len);
        *size = len;
        *ret = GEARMAN_SUCCESS;
    }
    fl__free(enc);
    fl__wc_free(t);
    return out;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--host") == 0)
            host = argv[i + 1];
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: gearman_worker --port P [--host H]\n");
        return 2;
    }
    gearman_worker_st *w = gearman_worker_create(NULL);
    if (!w) {
        fprintf(stderr, "gearman_worker: out of memory\n");
        return 1;
    }
    if (gearman_failed(gearman_worker_add_server(w, host, (in_port_t)port)) ||
        gearman_failed(gearman_worker_add_function(w, "add", 0, do_add, NULL)) ||
        gearman_failed(gearman_worker_add_function(w, "wc", 0, do_wc, NULL))) {
        fprintf(stderr, "gearman_worker: %s\n", gearman_worker_error(w));
        gearman_worker_free(w);
        return 1;
    }
    for (;;) {
        gearman_return_t rc = gearman_worker_work(w);
        if (gearman_failed(rc)) {
            /* The server going away ends the benchmark's worker too. */
            fprintf(stderr, "gearman_worker: %s\n", gearman_worker_error(w));
            break;
        }
    }
    gearman_worker_free(w);
    return 1;
}
