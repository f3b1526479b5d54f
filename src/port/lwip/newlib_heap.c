/*
 * newlib_heap.c - newlib's malloc family (malloc, free, calloc, realloc
 * and their reentrant _r forms) served from the firmware's arena, so the
 * C library's own allocations (strtod's big numbers, for one) count in
 * the same high-water mark as floret's and no _sbrk heap is needed.
 * Before the arena exists every request fails. For newlib toolchains
 * (arm-none-eabi, STM32Cube); ESP-IDF and the Pico SDK bring their own
 * heap and leave this file out.
 * Depends on mcu.h (the arena) and <string.h>, <reent.h>.
 */
#include <reent.h>
#include <string.h>

#include "mcu.h"

static void *grow(void *ptr, size_t size)
{
    fl_arena *a = fl__mcu_arena();
    if (!a)
        return NULL;
    if (size == 0)
        size = 1; /* realloc(p, 0) frees elsewhere; keep a block here */
    return fl_arena_alloc(a, ptr, size);
}

void *_malloc_r(struct _reent *r, size_t size)
{
    (void)r;
    return grow(NULL, size);
}

void _free_r(struct _reent *r, void *ptr)
{
    (void)r;
    fl_arena *a = fl__mcu_arena();
    if (a && ptr)
        fl_arena_alloc(a, ptr, 0);
}

void *_calloc_r(struct _reent *r, size_t n, size_t size)
{
    (void)r;
    if (size && n > (size_t)-1 / size)
        return NULL;
    void *p = grow(NULL, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *_realloc_r(struct _reent *r, void *ptr, size_t size)
{
    (void)r;
    return grow(ptr, size);
}

void *malloc(size_t size) { return _malloc_r(NULL, size); }
void free(void *ptr) { _free_r(NULL, ptr); }
void *calloc(size_t n, size_t size) { return _calloc_r(NULL, n, size); }
void *realloc(void *ptr, size_t size) { return _realloc_r(NULL, ptr, size); }
