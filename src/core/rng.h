/*
 * rng.h - a small seeded PRNG (splitmix64) for jitter and ids, so the core
 * and the simulator stay deterministic. Depends on <stdint.h>.
 */
#ifndef FL_RNG_H
#define FL_RNG_H

#include <stdint.h>

typedef struct fl_rng {
    uint64_t state;
} fl_rng;

static inline uint64_t fl__rng_next(fl_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static inline uint64_t fl__rng_below(fl_rng *r, uint64_t n)
{
    return fl__rng_next(r) % n;
}

#endif
