/*
 * arena.c - the fixed arena of arena.h. Every block starts with a header
 * holding its size and the size of the block before it, so a freed block
 * finds both neighbours in O(1) and merges with the free ones. Free
 * blocks keep the next and previous free block in their payload, in
 * address order; allocation takes the first that fits and splits off the
 * rest when it is big enough to be a block. Sizes are multiples of 8 and
 * payloads 8-aligned, as malloc's are.
 * Depends on arena.h and <string.h>, <stdint.h>.
 */
#include "arena.h"

#include <stdint.h>
#include <string.h>

#define ALIGN 8u
#define USED 1u

typedef struct hdr {
    size_t size;      /* whole block, header included; | USED */
    size_t prev;      /* size of the block before (0 for the first) */
} hdr;

typedef struct fblk {
    hdr h;
    struct fblk *next, *prevf;
} fblk;

#define HDR_SIZE ((sizeof(hdr) + ALIGN - 1) & ~(size_t)(ALIGN - 1))
#define MIN_BLOCK ((sizeof(fblk) + ALIGN - 1) & ~(size_t)(ALIGN - 1))

struct fl_arena {
    unsigned char *base;   /* first block */
    size_t size;           /* bytes of blocks */
    fblk *free;            /* address-ordered free list */
    size_t used, peak, blocks, failures;
};

static size_t bsize(const hdr *h) { return h->size & ~(size_t)USED; }
static int bused(const hdr *h) { return (h->size & USED) != 0; }

static hdr *next_blk(const fl_arena *a, hdr *h)
{
    unsigned char *n = (unsigned char *)h + bsize(h);
    return n < a->base + a->size ? (hdr *)n : NULL;
}

static hdr *prev_blk(hdr *h)
{
    return h->prev ? (hdr *)((unsigned char *)h - h->prev) : NULL;
}

static void set_size(fl_arena *a, hdr *h, size_t size, int used)
{
    h->size = size | (used ? USED : 0);
    hdr *n = next_blk(a, h);
    if (n)
        n->prev = size;
}

fl_arena *fl_arena_init(void *mem, size_t n)
{
    uintptr_t p = (uintptr_t)mem;
    uintptr_t start = (p + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    size_t lost = (size_t)(start - p);
    size_t head = (sizeof(fl_arena) + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (!mem || n < lost + head + MIN_BLOCK)
        return NULL;
    fl_arena *a = (fl_arena *)start;
    memset(a, 0, sizeof *a);
    a->base = (unsigned char *)start + head;
    a->size = (n - lost - head) & ~(size_t)(ALIGN - 1);
    fblk *f = (fblk *)a->base;
    f->h.size = a->size;
    f->h.prev = 0;
    f->next = f->prevf = NULL;
    a->free = f;
    return a;
}

static void list_remove(fl_arena *a, fblk *f)
{
    if (f->prevf)
        f->prevf->next = f->next;
    else
        a->free = f->next;
    if (f->next)
        f->next->prevf = f->prevf;
}

/* Put f in the free list between prevf and next: where the block it was
 * split from stood, so the list stays in address order without a walk. */
static void list_put_between(fl_arena *a, fblk *f, fblk *prevf, fblk *next)
{
    f->prevf = prevf;
    f->next = next;
    if (prevf)
        prevf->next = f;
    else
        a->free = f;
    if (next)
        next->prevf = f;
}

/* Put f in the free list at its address. */
static void list_insert(fl_arena *a, fblk *f)
{
    fblk *prev = NULL, *cur = a->free;
    while (cur && cur < f) {
        prev = cur;
        cur = cur->next;
    }
    f->prevf = prev;
    f->next = cur;
    if (prev)
        prev->next = f;
    else
        a->free = f;
    if (cur)
        cur->prevf = f;
}

/* Mark free block f used with exactly need bytes when the rest can be a
 * block of its own (which goes back in the list where f was). */
static void take(fl_arena *a, fblk *f, size_t need)
{
    size_t have = bsize(&f->h);
    fblk *next = f->next, *prevf = f->prevf;
    list_remove(a, f);
    if (have - need >= MIN_BLOCK) {
        fblk *rest = (fblk *)((unsigned char *)f + need);
        rest->h.prev = need;
        set_size(a, &rest->h, have - need, 0);
        list_put_between(a, rest, prevf, next);
        have = need;
    }
    set_size(a, &f->h, have, 1);
    a->used += have;
    a->blocks++;
    if (a->used > a->peak)
        a->peak = a->used;
}

static size_t need_for(size_t size)
{
    if (size > SIZE_MAX / 2)
        return 0;
    size_t n = (size + HDR_SIZE + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    return n < MIN_BLOCK ? MIN_BLOCK : n;
}

static void *alloc(fl_arena *a, size_t size)
{
    size_t need = need_for(size);
    if (!need) {
        a->failures++;
        return NULL;
    }
    for (fblk *f = a->free; f; f = f->next)
        if (bsize(&f->h) >= need) {
            take(a, f, need);
            return (unsigned char *)f + HDR_SIZE;
        }
    a->failures++;
    return NULL;
}

/* Free block h, merged with free neighbours. */
static void release(fl_arena *a, hdr *h)
{
    size_t size = bsize(h);
    a->used -= size;
    a->blocks--;
    h->size = size;
    hdr *n = next_blk(a, h);
    hdr *p = prev_blk(h);
    if (n && !bused(n)) {
        list_remove(a, (fblk *)n);
        size += bsize(n);
        set_size(a, h, size, 0);
    }
    if (p && !bused(p)) {
        set_size(a, p, bsize(p) + size, 0);
        return; /* p is in the list already, at its place */
    }
    list_insert(a, (fblk *)h);
}

/* Grow or shrink the block of ptr in place when its next neighbour
 * allows; false when it must move. */
static int resize_in_place(fl_arena *a, hdr *h, size_t need)
{
    size_t have = bsize(h);
    if (need <= have) {
        if (have - need >= MIN_BLOCK) {
            /* Cut the tail off as a used block of its own and free it,
             * which merges it with a free neighbour. */
            fblk *rest = (fblk *)((unsigned char *)h + need);
            set_size(a, h, need, 1);
            rest->h.prev = need;
            set_size(a, &rest->h, have - need, 1);
            a->blocks++;
            release(a, &rest->h);
        }
        return 1;
    }
    hdr *n = next_blk(a, h);
    if (!n || bused(n) || have + bsize(n) < need)
        return 0;
    size_t extra = need - have;
    fblk *nf = (fblk *)n;
    size_t nsize = bsize(n);
    fblk *next = nf->next, *prevf = nf->prevf;
    list_remove(a, nf);
    if (nsize - extra >= MIN_BLOCK) {
        fblk *rest = (fblk *)((unsigned char *)h + need);
        set_size(a, h, need, 1);
        rest->h.prev = need;
        set_size(a, &rest->h, nsize - extra, 0);
        list_put_between(a, rest, prevf, next);
        a->used += extra;
    } else {
        set_size(a, h, have + nsize, 1);
        a->used += nsize;
    }
    if (a->used > a->peak)
        a->peak = a->used;
    return 1;
}

void *fl_arena_alloc(void *ud, void *ptr, size_t size)
{
    fl_arena *a = ud;
    if (!ptr)
        return size ? alloc(a, size) : NULL;
    hdr *h = (hdr *)((unsigned char *)ptr - HDR_SIZE);
    if (size == 0) {
        release(a, h);
        return NULL;
    }
    size_t need = need_for(size);
    if (!need) {
        a->failures++;
        return NULL;
    }
    if (resize_in_place(a, h, need))
        return ptr;
    void *p = alloc(a, size);
    if (!p)
        return NULL;
    memcpy(p, ptr, bsize(h) - HDR_SIZE);
    release(a, h);
    return p;
}

void fl_arena_stats_get(const fl_arena *a, fl_arena_stats *st)
{
    memset(st, 0, sizeof *st);
    st->size = a->size;
    st->used = a->used;
    st->peak = a->peak;
    st->blocks = a->blocks;
    st->failures = a->failures;
    for (const fblk *f = a->free; f; f = f->next)
        if (bsize(&f->h) - HDR_SIZE > st->largest)
            st->largest = bsize(&f->h) - HDR_SIZE;
}

int fl_arena_check(const fl_arena *a)
{
    size_t total = 0, used = 0, blocks = 0, prev = 0, nfree = 0;
    int prev_free = 0;
    for (hdr *h = (hdr *)a->base; h; h = next_blk(a, h)) {
        size_t s = bsize(h);
        if (s < MIN_BLOCK || s % ALIGN)
            return 1;
        if (h->prev != prev)
            return 2;
        if (!bused(h) && prev_free)
            return 3; /* two free neighbours left unmerged */
        if (bused(h)) {
            used += s;
            blocks++;
        } else {
            nfree++;
        }
        prev_free = !bused(h);
        prev = s;
        total += s;
        if (total > a->size)
            return 4;
    }
    if (total != a->size)
        return 5;
    if (used != a->used || blocks != a->blocks)
        return 6;
    size_t listed = 0;
    const fblk *last = NULL;
    for (const fblk *f = a->free; f; f = f->next) {
        if (bused(&f->h) || f->prevf != last || (last && last >= f))
            return 7;
        last = f;
        listed++;
    }
    return listed == nfree ? 0 : 8;
}
