/*
 * lua_wc.c - the word-count map task in Lua next to the native one, on one
 * core, in the same run: the file is cut into chunks as `floret wordcount`
 * cuts them and each chunk goes through the whole task path a node runs
 * (fl_core_run_job with the chunk as attachment): the native wc.map, and
 * the Lua mapper tasks.wc_map of examples/lua/tasks.lua in a sandboxed
 * state. The two alternate for --repeat rounds; medians and their ratio
 * are printed, and the two word totals must agree.
 *   lua_wc [--chunk BYTES] [--repeat N] [--module tasks.lua] FILE
 * Depends on the floret library (core.h, lua_runtime.h, wordcount.h), POSIX.
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

#include "core.h"
#include "lua_runtime.h"
#include "wordcount.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(FL_LUA_MAX_SOURCE + 1);
    size_t n = f && buf ? fread(buf, 1, FL_LUA_MAX_SOURCE, f) : 0;
    if (f)
        fclose(f);
    if (!buf || n == 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Words counted in one task's result: native {"words":n}, Lua {w: n}. */
static uint64_t words_of(const fl_outcome *o, bool lua)
{
    fl_value *v = NULL;
    uint64_t n = 0;
    if (!o->ok || fl_value_parse(o->value_json, o->value_len, &v) != FL_OK)
        return 0;
    if (!lua)
        n = (uint64_t)fl_value_number(fl_value_get(v, "words"));
    else
        for (const fl_value *m = fl_value_first(v); m; m = fl_value_next(m))
            n += (uint64_t)fl_value_number(m);
    fl_value_free(v);
    return n;
}

/* One pass over the file with task name; returns seconds, adds words. */
static double pass(const fl_registry *reg, fl_lua_slot *slot, const char *name,
                   const uint8_t *map, size_t size, size_t chunk, uint64_t *words)
{
    fl_run_hooks hooks = {.node_id = "bench", .max_result = 1u << 30};
    fl_value *args = NULL, *kwargs = NULL;
    fl_value_parse("[]", 2, &args);
    fl_value_parse("{}", 2, &kwargs);
    double total = 0;
    *words = 0;
    for (size_t pos = 0; pos < size;) {
        size_t len = fl__wc_chunk_end(map + pos, size - pos, chunk, true);
        fl_job job = {.name = (char *)name, .attempt = 1, .args = args,
                      .kwargs = kwargs, .att = (uint8_t *)(map + pos), .att_len = len};
        fl_outcome o;
        memset(&o, 0, sizeof o);
        double t0 = now_s();
        fl_core_run_job_or(reg, fl__lua_slot_run, slot, &job, &hooks, &o);
        total += now_s() - t0;
        if (!o.ok) {
            fprintf(stderr, "lua_wc: %s failed: %s: %s\n", name, o.err_type,
                    o.err_message ? o.err_message : "");
            exit(1);
        }
        *words += words_of(&o, strcmp(name, "wc.map") != 0);
        fl_outcome_clear(&o);
        pos += len;
    }
    fl_value_free(args);
    fl_value_free(kwargs);
    return total;
}

int main(int argc, char **argv)
{
    size_t chunk = 1u << 20, src_len = 0;
    int repeat = 5;
    const char *file = NULL, *module = "examples/lua/tasks.lua";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc)
            chunk = (size_t)strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (strcmp(argv[i], "--module") == 0 && i + 1 < argc)
            module = argv[++i];
        else
            file = argv[i];
    }
    if (!file || chunk == 0 || repeat < 1 || repeat > 99) {
        fprintf(stderr, "usage: lua_wc [--chunk BYTES] [--repeat N] [--module tasks.lua] FILE\n");
        return 2;
    }
    char *src = read_all(module, &src_len), err[600];
    fl_lua_limits lim = {.mem_bytes = 512u << 20, .steps = 1000000000ull};
    fl_lua_set *set = fl__lua_set_new(&lim);
    fl_lua_module *m = NULL;
    if (!src || !set || fl__lua_module_new("tasks", "bench", src, src_len, &lim, &m, err,
                                           sizeof err) != FL_OK ||
        fl__lua_set_put(set, m) != FL_OK) {
        fprintf(stderr, "lua_wc: cannot load %s: %s\n", module, src ? err : "unreadable");
        return 1;
    }
    fl__lua_module_unref(m);
    fl_lua_slot *slot = fl__lua_slot_new(set);
    fl_registry *reg = fl_registry_new();
    if (!slot || !reg || fl_register_wordcount(reg) != FL_OK)
        return 1;
    int fd = open(file, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        fprintf(stderr, "lua_wc: %s: %s\n", file, fd < 0 ? strerror(errno) : "empty");
        return 1;
    }
    size_t size = (size_t)st.st_size;
    const uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED)
        return 1;
    double tn[100], tl[100];
    uint64_t wn = 0, wl = 0;
    for (int r = 0; r < repeat; r++) { /* alternate: both see the same noise */
        tn[r] = pass(reg, slot, "wc.map", map, size, chunk, &wn);
        tl[r] = pass(reg, slot, "tasks.wc_map", map, size, chunk, &wl);
    }
    qsort(tn, (size_t)repeat, sizeof *tn, by_double);
    qsort(tl, (size_t)repeat, sizeof *tl, by_double);
    double mn = tn[repeat / 2], ml = tl[repeat / 2];
    printf("file %s, %zu bytes, chunk %zu, %d rounds (medians)\n", file, size, chunk, repeat);
    printf("native wc.map        %8.1f MB/s  (%.3f s, %llu words)\n", size / 1e6 / mn, mn,
           (unsigned long long)wn);
    printf("lua    tasks.wc_map  %8.1f MB/s  (%.3f s, %llu words)\n", size / 1e6 / ml, ml,
           (unsigned long long)wl);
    printf("native / lua         %8.2f x\n", ml / mn);
    munmap((void *)map, size);
    close(fd);
    fl__lua_slot_free(slot);
    fl__lua_set_free(set);
    fl_registry_free(reg);
    free(src);
    if (wn != wl) {
        fprintf(stderr, "lua_wc: the counts disagree: native %llu words, lua %llu\n",
                (unsigned long long)wn, (unsigned long long)wl);
        return 1;
    }
    return 0;
}
