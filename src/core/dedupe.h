/*
 * dedupe.h - the worker's duplicate filter: the last `window` 64-bit keys
 * seen, in a ring, found through an open-addressed index of ring
 * positions. Both are allocated once, at the first key, and never grow or
 * rehash, so the filter's peak memory is its steady size: 8 bytes of ring
 * and two to four 4-byte index slots per key of the window (16 bytes a key
 * when the window is a power of two). Key 0 is reserved.
 * Depends on alloc.h.
 */
#ifndef FL_DEDUPE_H
#define FL_DEDUPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fl_dedupe {
    uint64_t *ring;   /* window keys, 0 = empty; the oldest at pos once full */
    uint32_t *index;  /* mask + 1 slots: ring position + 1, 0 = empty */
    size_t mask;
    size_t window;
    size_t pos;
} fl_dedupe;

/* window: how many keys it remembers, 1 to 2^30. Allocates nothing. */
void fl__dedupe_init(fl_dedupe *d, size_t window);
void fl__dedupe_free(fl_dedupe *d);

/* True when key is among the last window keys remembered. Otherwise
 * remembers it, forgetting the oldest, and returns false; also false, and
 * nothing remembered, when the filter's memory cannot be had (a duplicate
 * then runs again: at-least-once). */
bool fl__dedupe_seen(fl_dedupe *d, uint64_t key);

/* Forget key if remembered (a task released, not run, may come back). */
void fl__dedupe_forget(fl_dedupe *d, uint64_t key);

/* The bytes a filter of this window allocates, all at its first key. */
size_t fl__dedupe_bytes(size_t window);

#endif
