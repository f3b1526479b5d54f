/*
 * dedupe.c - the duplicate filter (dedupe.h): a ring of the last keys and
 * a linear-probing index into it, at most half full. Forgetting the oldest
 * key empties its index slot by shifting the rest of its probe run back
 * (no tombstones), so the index never needs a rebuild and its size is
 * fixed from the start. Depends on dedupe.h and alloc.h.
 */
#include "dedupe.h"

#include "alloc.h"

/* Index slots for a window: a power of two at least twice the window. */
static size_t index_slots(size_t window)
{
    size_t n = 2;
    while (n < 2 * window)
        n *= 2;
    return n;
}

size_t fl__dedupe_bytes(size_t window)
{
    return window * sizeof(uint64_t) + index_slots(window) * sizeof(uint32_t);
}

void fl__dedupe_init(fl_dedupe *d, size_t window)
{
    d->ring = NULL;
    d->index = NULL;
    d->mask = 0;
    d->window = window ? window : 1;
    d->pos = 0;
}

void fl__dedupe_free(fl_dedupe *d)
{
    fl__free(d->ring);
    fl__free(d->index);
    fl__dedupe_init(d, d->window);
}

static size_t home(const fl_dedupe *d, uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (size_t)key & d->mask;
}

/* The index slot holding key, or the empty slot ending its probe run. */
static size_t find(const fl_dedupe *d, uint64_t key)
{
    size_t i = home(d, key);
    while (d->index[i] && d->ring[d->index[i] - 1] != key)
        i = (i + 1) & d->mask;
    return i;
}

/* Empty slot i, moving back every later entry of the run that may live
 * there: one whose home is not cyclically within (i, j]. */
static void unlink_slot(fl_dedupe *d, size_t i)
{
    for (size_t j = (i + 1) & d->mask; d->index[j]; j = (j + 1) & d->mask) {
        size_t k = home(d, d->ring[d->index[j] - 1]);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            d->index[i] = d->index[j];
            i = j;
        }
    }
    d->index[i] = 0;
}

static bool allocate(fl_dedupe *d)
{
    size_t slots = index_slots(d->window);
    d->ring = fl__calloc(d->window, sizeof *d->ring);
    d->index = fl__calloc(slots, sizeof *d->index);
    if (!d->ring || !d->index) {
        fl__dedupe_free(d);
        return false;
    }
    d->mask = slots - 1;
    return true;
}

bool fl__dedupe_seen(fl_dedupe *d, uint64_t key)
{
    if (key == 0)
        key = 1;
    if (!d->ring && !allocate(d))
        return false;
    size_t i = find(d, key);
    if (d->index[i])
        return true;
    uint64_t old = d->ring[d->pos];
    if (old) {
        unlink_slot(d, find(d, old));
        i = find(d, key);   /* the shift may have moved the run's end */
    }
    d->ring[d->pos] = key;
    d->index[i] = (uint32_t)(d->pos + 1);
    d->pos = (d->pos + 1) % d->window;
    return false;
}

void fl__dedupe_forget(fl_dedupe *d, uint64_t key)
{
    if (key == 0)
        key = 1;
    if (!d->ring)
        return;
    size_t i = find(d, key);
    if (!d->index[i])
        return;
    d->ring[d->index[i] - 1] = 0;   /* its turn in the ring evicts nothing */
    unlink_slot(d, i);
}
