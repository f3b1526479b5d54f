/*
 * test_arena.c - the firmware's fixed arena (src/port/lwip/arena.c), on
 * the host: random allocate/free/realloc runs checked against a shadow
 * copy of every block's bytes and the arena's own invariants after each
 * step, out-of-room refusals that leave blocks intact, full merging back
 * to one block, and the high-water mark.
 */
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"
#include "test.h"

#define SLOTS 64

static uint64_t rng = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

typedef struct {
    unsigned char *p;
    size_t n;
    unsigned char fill;
} slot;

static int intact(const slot *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->p[i] != (unsigned char)(s->fill + i))
            return 0;
    return 1;
}

static void paint(slot *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->p[i] = (unsigned char)(s->fill + i);
}

static void test_random_runs(void)
{
    static uint64_t mem[64 * 1024 / 8];
    fl_arena *a = fl_arena_init((char *)mem + 3, sizeof mem - 3);
    CHECK(a != NULL);
    slot s[SLOTS] = {{0}};
    size_t refused = 0;
    for (int step = 0; step < 50000; step++) {
        slot *x = &s[rnd(SLOTS)];
        unsigned op = rnd(3);
        size_t n = 1 + rnd(rnd(4) == 0 ? 6000 : 200);
        if (x->p && op == 0) {
            CHECK(intact(x));
            CHECK(fl_arena_alloc(a, x->p, 0) == NULL);
            x->p = NULL;
        } else if (x->p && op == 1) {
            CHECK(intact(x));
            unsigned char *q = fl_arena_alloc(a, x->p, n);
            if (q) {
                size_t keep = n < x->n ? n : x->n;
                x->n = keep;
                x->p = q;
                CHECK(intact(x)); /* the kept bytes moved with it */
                x->n = n;
                paint(x);
            } else {
                refused++;
                CHECK(intact(x)); /* a refused realloc leaves it alone */
            }
        } else if (!x->p) {
            x->p = fl_arena_alloc(a, NULL, n);
            if (x->p) {
                x->n = n;
                x->fill = (unsigned char)rnd(256);
                paint(x);
            } else {
                refused++;
            }
        }
        if (x->p)
            CHECK(((uintptr_t)x->p & 7u) == 0);
        int bad = fl_arena_check(a);
        if (bad) {
            T_FAILED("arena broken (rule %d) at step %d", bad, step);
            return;
        }
    }
    fl_arena_stats st;
    fl_arena_stats_get(a, &st);
    CHECK(st.failures == refused);
    CHECK(refused > 0); /* the run did reach the arena's limit */
    CHECK(st.peak <= st.size);
    CHECK(st.peak >= st.used);
    for (int i = 0; i < SLOTS; i++)
        if (s[i].p) {
            CHECK(intact(&s[i]));
            fl_arena_alloc(a, s[i].p, 0);
        }
    fl_arena_stats_get(a, &st);
    CHECK_EQ(st.used, 0);
    CHECK_EQ(st.blocks, 0);
    CHECK(st.largest + 64 >= st.size); /* merged back into one block */
    CHECK_EQ(fl_arena_check(a), 0);
}

static void test_limits(void)
{
    static uint64_t mem[1024 / 8];
    CHECK(fl_arena_init(mem, 16) == NULL);
    CHECK(fl_arena_init(NULL, 4096) == NULL);
    fl_arena *a = fl_arena_init(mem, sizeof mem);
    CHECK(a != NULL);
    fl_arena_stats st;
    fl_arena_stats_get(a, &st);
    CHECK(st.size > 0 && st.size <= sizeof mem);
    CHECK(fl_arena_alloc(a, NULL, st.size + 1) == NULL);
    CHECK(fl_arena_alloc(a, NULL, (size_t)-1) == NULL);
    CHECK(fl_arena_alloc(a, NULL, 0) == NULL);
    void *p = fl_arena_alloc(a, NULL, 100);
    void *q = fl_arena_alloc(a, NULL, 100);
    CHECK(p && q);
    fl_arena_stats_get(a, &st);
    size_t peak = st.peak;
    CHECK(fl_arena_alloc(a, p, 0) == NULL);
    /* Growing q into the space freed behind it is not possible (p is in
     * front), growing into what follows it is. */
    void *q2 = fl_arena_alloc(a, q, 300);
    CHECK(q2 == q);
    fl_arena_stats_get(a, &st);
    CHECK(st.peak >= peak);
    CHECK_EQ(st.failures, 2); /* size 0 is no request */
    CHECK(fl_arena_alloc(a, q2, 0) == NULL);
    fl_arena_stats_get(a, &st);
    CHECK_EQ(st.used, 0);
    CHECK_EQ(fl_arena_check(a), 0);
}

int main(void)
{
    RUN(test_random_runs);
    RUN(test_limits);
    return TEST_DONE();
}
