/*
 * wc_map.c - the word count's map task alone, on one core: the file is cut
 * into chunks exactly as `floret wordcount` cuts it, and each chunk goes
 * through wc.map's steps (the table kept between tasks, count, encode the
 * partial count).
 * Then the partials are merged as the client merges them. Prints MB/s of
 * the map step (per core) and of the merge, so the benchmark can tell
 * where a distributed run loses time.
 *   wc_map [--chunk SIZE] [--repeat N] FILE
 * Depends on the floret core library (src/tasks/wordcount.h) and POSIX.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "wordcount.h"

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

/* One chunk as wc.map handles it (the table kept between tasks, count,
 * encode); the encoded partial goes to *p. */
static int map_chunk(const uint8_t *d, size_t len, struct partial *p)
{
    fl_wc_table *t = fl__wc_task_table();
    int rc = t != NULL && fl__wc_count(t, d, len, 1) == FL_OK &&
                     fl__wc_encode(t, &p->data, &p->len) == FL_OK
                 ? 0 : -1;
    fl__wc_task_table_done(t);
    return rc;
}

static int run(const uint8_t *map, size_t size, size_t chunk, double *map_s,
               double *merge_s, uint64_t *words)
{
    size_t n = size / chunk + 2, k = 0;
    struct partial *ps = calloc(n, sizeof *ps);
    int rc = ps ? 0 : -1;
    double t0 = now_s();
    for (size_t pos = 0; rc == 0 && pos < size; k++) {
        size_t len = fl__wc_chunk_end(map + pos, size - pos, chunk, true);
        if (k == n)
            ps = realloc(ps, (n *= 2) * sizeof *ps); /* long words: more chunks */
        if (ps == NULL || map_chunk(map + pos, len, &ps[k]) != 0)
            rc = -1;
        pos += len;
    }
    double t1 = now_s();
    fl_wc_table *all = fl__wc_new();
    for (size_t i = 0; rc == 0 && i < k; i++)
        if (all == NULL || fl__wc_merge(all, ps[i].data, ps[i].len, NULL, NULL) != FL_OK)
            rc = -1;
    *merge_s = now_s() - t1;
    *map_s = t1 - t0;
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
    size_t chunk = 4u << 20;
    int repeat = 3;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc)
            chunk = (size_t)strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else
            file = argv[i];
    }
    if (!file || chunk == 0 || repeat < 1) {
        fprintf(stderr, "usage: wc_map [--chunk BYTES] [--repeat N] FILE\n");
        return 2;
    }
    int fd = open(file, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        fprintf(stderr, "wc_map: %s: %s\n", file, fd < 0 ? strerror(errno) : "empty");
        return 1;
    }
    size_t size = (size_t)st.st_size;
    const uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) {
        fprintf(stderr, "wc_map: mmap: %s\n", strerror(errno));
        return 1;
    }
    /* The best of several runs: the machine may be shared. */
    double best_map = 1e30, best_merge = 1e30;
    uint64_t words = 0;
    for (int r = 0; r < repeat; r++) {
        double m, g;
        if (run(map, size, chunk, &m, &g, &words) != 0) {
            fprintf(stderr, "wc_map: out of memory\n");
            return 1;
        }
        if (m < best_map)
            best_map = m;
        if (g < best_merge)
            best_merge = g;
    }
    printf("words %llu\n", (unsigned long long)words);
    printf("map   %.1f MB/s per core (%.3f s, chunk %zu)\n", (double)size / 1e6 / best_map,
           best_map, chunk);
    printf("merge %.1f MB/s of input (%.3f s)\n", (double)size / 1e6 / best_merge, best_merge);
    munmap((void *)map, size);
    close(fd);
    return 0;
}
