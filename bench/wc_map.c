/*
 * wc_map.c - the word count's map task alone, on one core: the file is cut
 * into chunks exactly as `floret wordcount` cuts it, and each chunk is
 * handed to the registered task itself, as a node runs it
 * (fl_core_run_job): `--as bytes` runs wc.map on the chunk held in memory,
 * as a node holds an attachment it received; `--as ref` runs wc.file on
 * the chunk's (path, offset, length), so the task reads the file itself,
 * as a node with locality does. Only the task's run is timed. Then the
 * partials are merged as the client merges them. Prints MB/s of the map
 * step (per core) and of the merge, so the benchmark can tell where a
 * distributed run loses time.
 *   wc_map [--as bytes|ref] [--chunk SIZE] [--repeat N] FILE
 * Depends on the floret library (the tasks, core.h to run them,
 * wordcount.h) and POSIX.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "alloc.h"
#include "core.h"
#include "wordcount.h"
#include "wordcount_file.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct partial {
    uint8_t *data;
    size_t len;
};

struct input {
    const char *path; /* absolute */
    const uint8_t *map;
    struct stat st;
    bool by_ref;
    const fl_registry *reg;
};

/* The task's kwargs for the chunk at pos, as the client writes them. */
static void chunk_kwargs(const struct input *in, size_t pos, size_t len,
                         char *out, size_t cap)
{
    if (!in->by_ref) {
        snprintf(out, cap, "{\"min_length\":1}");
        return;
    }
    size_t size = (size_t)in->st.st_size;
    size_t head = size < FL_WC_SAMPLE ? size : FL_WC_SAMPLE;
    uint64_t sample = fl__wc_sample_hash(size, in->map, head, in->map + pos, len);
    snprintf(out, cap,
             "{\"path\":\"%s\",\"offset\":%zu,\"length\":%zu,\"size\":%zu,"
             "\"mtime_s\":%lld,\"mtime_ns\":%ld,\"sample\":\"%016" PRIx64
             "\",\"min_length\":1}",
             in->path, pos, len, size, (long long)in->st.st_mtim.tv_sec,
             (long)in->st.st_mtim.tv_nsec, sample);
}

/* One chunk through its task; *task_s grows by the run's time and the
 * partial count goes to *p. */
static int map_chunk(const struct input *in, size_t pos, size_t len,
                     double *task_s, struct partial *p)
{
    char kwargs[PATH_MAX + 320];
    fl_job job;
    fl_outcome out;
    memset(&job, 0, sizeof job);
    memset(&out, 0, sizeof out);
    chunk_kwargs(in, pos, len, kwargs, sizeof kwargs);
    job.name = in->by_ref ? "wc.file" : "wc.map";
    job.attempt = 1;
    if (!in->by_ref && len > 0) {
        /* A node's attachment: a heap copy of the bytes it received. */
        if ((job.att = fl__malloc(len)) == NULL)
            return -1;
        memcpy(job.att, in->map + pos, len);
        job.att_len = len;
    }
    int rc = fl_value_parse("[]", 2, &job.args) == FL_OK &&
                     fl_value_parse(kwargs, strlen(kwargs), &job.kwargs) == FL_OK
                 ? 0 : -1;
    fl_run_hooks hooks = {.node_id = "wc_map", .max_result = FL_DEFAULT_MAX_MESSAGE};
    if (rc == 0) {
        double t0 = now_s();
        fl_core_run_job(in->reg, &job, &hooks, &out);
        *task_s += now_s() - t0;
        if (!out.ok) {
            fprintf(stderr, "wc_map: %s: %s: %s\n", job.name, out.err_type,
                    out.err_message ? out.err_message : "");
            rc = -1;
        } else if ((p->data = fl__malloc(out.att_len ? out.att_len : 1)) == NULL) {
            rc = -1;
        } else {
            memcpy(p->data, out.att, out.att_len);
            p->len = out.att_len;
        }
    }
    fl_outcome_clear(&out);
    fl_value_free(job.args);
    fl_value_free(job.kwargs);
    fl__free(job.att);
    return rc;
}

static int run(const struct input *in, size_t size, size_t chunk, double *map_s,
               double *merge_s, uint64_t *words)
{
    size_t n = size / chunk + 2, k = 0;
    struct partial *ps = calloc(n, sizeof *ps);
    int rc = ps ? 0 : -1;
    *map_s = 0;
    for (size_t pos = 0; rc == 0 && pos < size; k++) {
        size_t len = fl__wc_chunk_end(in->map + pos, size - pos, chunk, true);
        if (k == n)
            ps = realloc(ps, (n *= 2) * sizeof *ps); /* long words: more chunks */
        if (ps == NULL || map_chunk(in, pos, len, map_s, &ps[k]) != 0)
            rc = -1;
        pos += len;
    }
    /* As the client merges: the partials of one node, with its hint. */
    double t1 = now_s();
    fl_wc_table *all = fl__wc_new();
    fl_wc_hint hint = {0};
    for (size_t i = 0; rc == 0 && i < k; i++)
        if (all == NULL ||
            fl__wc_merge_from(all, &hint, ps[i].data, ps[i].len, NULL, NULL) != FL_OK)
            rc = -1;
    *merge_s = now_s() - t1;
    fl__wc_hint_free(&hint);
    if (all)
        *words = fl__wc_total(all);
    fl__wc_free(all);
    for (size_t i = 0; ps && i < k; i++)
        fl__free(ps[i].data);
    free(ps);
    return rc;
}

int main(int argc, char **argv)
{
#if defined(__GLIBC__)
    /* The malloc settings of a floret node (cli/malloc_tune.c). */
    (void)mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    (void)mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
#endif
    size_t chunk = 4u << 20;
    int repeat = 3;
    const char *file = NULL;
    struct input in;
    memset(&in, 0, sizeof in);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc)
            chunk = (size_t)strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--as") == 0 && i + 1 < argc &&
                 (strcmp(argv[i + 1], "ref") == 0 || strcmp(argv[i + 1], "bytes") == 0))
            in.by_ref = strcmp(argv[++i], "ref") == 0;
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else
            file = argv[i];
    }
    if (!file || chunk == 0 || repeat < 1) {
        fprintf(stderr, "usage: wc_map [--as bytes|ref] [--chunk BYTES] [--repeat N] FILE\n");
        return 2;
    }
    char path[PATH_MAX];
    int fd = open(file, O_RDONLY);
    if (fd < 0 || fstat(fd, &in.st) != 0 || in.st.st_size == 0 ||
        realpath(file, path) == NULL || strpbrk(path, "\"\\") != NULL) {
        fprintf(stderr, "wc_map: %s: %s\n", file,
                fd < 0 ? strerror(errno) : "empty, or a path JSON would need to escape");
        return 1;
    }
    size_t size = (size_t)in.st.st_size;
    const uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) {
        fprintf(stderr, "wc_map: mmap: %s\n", strerror(errno));
        return 1;
    }
    /* wc.file may read below the file's own directory. */
    char dir[PATH_MAX], err[300];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    const char *dirs[] = {dir[0] ? dir : "/"};
    fl_wordcount_roots *roots = fl_wordcount_roots_new(dirs, 1, err, sizeof err);
    fl_registry *reg = fl_registry_new();
    if (roots == NULL || reg == NULL || fl_register_wordcount(reg) != FL_OK ||
        fl_register_wordcount_file(reg, roots) != FL_OK) {
        fprintf(stderr, "wc_map: out of memory\n");
        return 1;
    }
    in.path = path;
    in.map = map;
    in.reg = reg;
    /* The best of several runs: the machine may be shared. */
    double best_map = 1e30, best_merge = 1e30;
    uint64_t words = 0;
    for (int r = 0; r < repeat; r++) {
        double m, g;
        if (run(&in, size, chunk, &m, &g, &words) != 0) {
            fprintf(stderr, "wc_map: a chunk failed (above) or out of memory\n");
            return 1;
        }
        if (m < best_map)
            best_map = m;
        if (g < best_merge)
            best_merge = g;
    }
    printf("words %llu\n", (unsigned long long)words);
    printf("map   %.1f MB/s per core (%.3f s, chunk %zu, %s)\n", (double)size / 1e6 / best_map,
           best_map, chunk, in.by_ref ? "wc.file" : "wc.map");
    printf("merge %.1f MB/s of input (%.3f s)\n", (double)size / 1e6 / best_merge, best_merge);
    fl_registry_free(reg);
    fl_wordcount_roots_free(roots);
    munmap((void *)map, size);
    close(fd);
    return 0;
}
