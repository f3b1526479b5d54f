/*
 * arena.h - a fixed memory arena behind fl_set_allocator: first fit over
 * an address-ordered free list, blocks merged with their free neighbours
 * at once, so a board with no malloc gets floret's memory from one static
 * array and knows its high-water mark.
 * Depends on <stddef.h> only; portable C (unit-tested on the host).
 */
#ifndef FL_ARENA_H
#define FL_ARENA_H

#include <stddef.h>

typedef struct fl_arena fl_arena;

typedef struct fl_arena_stats {
    size_t size;      /* bytes the arena manages */
    size_t used;      /* bytes in allocated blocks, headers included */
    size_t peak;      /* highest `used` since init */
    size_t largest;   /* largest block that could be allocated now */
    size_t blocks;    /* allocated blocks */
    size_t failures;  /* requests refused for lack of room */
} fl_arena_stats;

/* Lay an arena over mem (n bytes; aligned or not). NULL when n is too
 * small to hold the arena's bookkeeping and one block. */
fl_arena *fl_arena_init(void *mem, size_t n);

/* The allocator function of floret.h (fl_alloc_fn) over arena ud:
 * size 0 frees ptr, otherwise it behaves like realloc (NULL when out of
 * room, leaving ptr untouched). */
void *fl_arena_alloc(void *ud, void *ptr, size_t size);

void fl_arena_stats_get(const fl_arena *a, fl_arena_stats *st);

/* Walk every block and check the arena's invariants (sizes add up,
 * neighbours merged, free list ordered). 0 when sound, else the number of
 * the first broken rule; for tests. */
int fl_arena_check(const fl_arena *a);

#endif
