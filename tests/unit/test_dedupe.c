/*
 * test_dedupe.c - the worker's duplicate filter (src/core/dedupe.c): it
 * answers exactly as a plain list of the last `window` keys would, over
 * long random runs with many repeats, evictions and forgotten keys, and
 * its memory,
 * counted in bytes through the allocator hook, is allocated once at the
 * first key and never grows: its peak is its steady size (16 bytes per key
 * of a power-of-two window), whatever the number of keys that pass through it.
 */
#include <stdlib.h>

#include "dedupe.h"
#include "defaults.h"
#include "floret/floret.h"
#include "rng.h"
#include "test.h"

/* ------------------------------------------- an allocator counting bytes */

typedef union hdr {
    size_t size;
    max_align_t align;
} hdr;

static struct {
    size_t live, peak;
    long calls;      /* allocations and reallocations asked for */
    long fail_at;    /* 0: never fail */
} bytes;

static void *count_alloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    hdr *h = ptr ? (hdr *)ptr - 1 : NULL;
    if (size == 0) {
        if (h) {
            bytes.live -= h->size;
            free(h);
        }
        return NULL;
    }
    if (++bytes.calls == bytes.fail_at)
        return NULL;
    size_t old = h ? h->size : 0;
    hdr *n = realloc(h, sizeof *n + size);
    if (!n)
        return NULL;
    n->size = size;
    bytes.live += size - old;
    if (bytes.live > bytes.peak)
        bytes.peak = bytes.live;
    return n + 1;
}

static void count_begin(long fail_at)
{
    bytes.live = bytes.peak = 0;
    bytes.calls = 0;
    bytes.fail_at = fail_at;
    fl_set_allocator(count_alloc, NULL);
}

static void count_end(void)
{
    fl_set_allocator(NULL, NULL);
}

/* ------------------------------------------------------------ the model */

/* Was key among the last n remembered (ring of size window)? Linear. */
static bool model_seen(uint64_t *ring, size_t window, size_t *pos,
                       size_t *filled, uint64_t key)
{
    for (size_t i = 0; i < *filled; i++)
        if (ring[i] == key)
            return true;
    ring[*pos] = key;
    *pos = (*pos + 1) % window;
    if (*filled < window)
        (*filled)++;
    return false;
}

/* Keys drawn from a universe a few times the window, so that about half
 * are repeats and every key is evicted again and again. */
static void compare_with_model(size_t window, size_t universe, long steps,
                               uint64_t seed)
{
    fl_dedupe d;
    fl__dedupe_init(&d, window);
    uint64_t *ring = calloc(window, sizeof *ring);
    uint64_t *keys = calloc(universe, sizeof *keys);
    fl_rng r = {seed};
    for (size_t i = 0; i < universe; i++)
        keys[i] = fl__rng_next(&r) | 1u;
    size_t pos = 0, filled = 0;
    long hits = 0, wrong = 0;
    for (long s = 0; s < steps; s++) {
        uint64_t k = keys[fl__rng_below(&r, universe)];
        if (fl__rng_below(&r, 8) == 0) {   /* a released task: forget it */
            for (size_t i = 0; i < filled; i++)
                if (ring[i] == k)
                    ring[i] = 0;
            fl__dedupe_forget(&d, k);
            continue;
        }
        bool want = model_seen(ring, window, &pos, &filled, k);
        bool got = fl__dedupe_seen(&d, k);
        hits += want;
        if (got != want && wrong++ < 5)
            T_FAILED("window %zu step %ld: seen %d, want %d", window, s,
                     (int)got, (int)want);
    }
    CHECK_EQ(wrong, 0);
    CHECK(hits > steps / 10);        /* the run did exercise repeats */
    CHECK(hits < steps - steps / 10); /* and evictions */
    fl__dedupe_free(&d);
    free(ring);
    free(keys);
}

static void test_matches_model(void)
{
    compare_with_model(1, 3, 2000, 1);
    compare_with_model(2, 5, 5000, 2);
    compare_with_model(7, 16, 20000, 3);
    compare_with_model(64, 150, 100000, 4);
    compare_with_model(256, 600, 200000, 5);
    compare_with_model(1000, 2500, 200000, 6);
}

/* Keys whose index homes crowd together (a tiny window, so a tiny index):
 * long probe runs that wrap around the end, shifted back on every
 * eviction. */
static void test_crowded_index(void)
{
    for (uint64_t seed = 10; seed < 40; seed++)
        compare_with_model(3, 6, 3000, seed);
}

static void test_peak_is_steady_size(void)
{
    size_t windows[] = {1, 100, 256, FL_DEDUPE_WINDOW};
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
        size_t window = windows[w];
        count_begin(0);
        fl_dedupe d;
        fl__dedupe_init(&d, window);
        CHECK_EQ(bytes.calls, 0);
        fl_rng r = {window};
        CHECK(!fl__dedupe_seen(&d, fl__rng_next(&r)));
        size_t steady = bytes.live;
        long calls = bytes.calls;
        CHECK_EQ(steady, fl__dedupe_bytes(window));
        /* Twenty windows' worth of new keys, then as many repeats. */
        for (size_t i = 0; i < 20 * window; i++)
            (void)fl__dedupe_seen(&d, fl__rng_next(&r));
        for (size_t i = 0; i < 20 * window; i++)
            (void)fl__dedupe_seen(&d, fl__rng_below(&r, 2 * window) + 1);
        CHECK_EQ(bytes.calls, calls);   /* no allocation after the first key */
        CHECK_EQ(bytes.peak, steady);   /* never two tables at once */
        /* 8 bytes of ring and 2 to 4 index slots of 4 bytes per key;
         * exactly 16 bytes a key for a power-of-two window. */
        CHECK(steady <= 24 * window);
        if ((window & (window - 1)) == 0 && window > 1)
            CHECK_EQ(steady, 16 * window);
        fl__dedupe_free(&d);
        CHECK_EQ(bytes.live, 0);
        count_end();
    }
    /* The small profile's window costs 4 KiB. */
    CHECK_EQ(fl__dedupe_bytes(256), 4096);
}

static void test_out_of_memory(void)
{
    for (long fail = 1; fail <= 2; fail++) {
        count_begin(fail);
        fl_dedupe d;
        fl__dedupe_init(&d, 64);
        CHECK(!fl__dedupe_seen(&d, 42));   /* could not remember: runs it */
        CHECK_EQ(bytes.live, 0);           /* nothing half-made kept */
        CHECK(!fl__dedupe_seen(&d, 42));   /* memory now: remembered */
        CHECK(fl__dedupe_seen(&d, 42));
        fl__dedupe_free(&d);
        CHECK_EQ(bytes.live, 0);
        count_end();
    }
}

int main(void)
{
    RUN(test_matches_model);
    RUN(test_crowded_index);
    RUN(test_peak_is_steady_size);
    RUN(test_out_of_memory);
    return TEST_DONE();
}
