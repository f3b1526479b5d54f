/*
 * alloc.c - the allocator hook behind fl_set_allocator and the fl__ helpers
 * every core file allocates through.
 *
 * The hook is Lua-style (fn(ud, ptr, size), size 0 frees). The helpers never
 * ask it for 0 bytes, so a zero-size request can never be mistaken for a
 * free. cJSON keeps its own hook pointers; value.c re-points them whenever
 * the hook changes (fl__json_hooks_update), so this file needs no cJSON.
 * Depends on alloc.h, codec.h (for that one call) and the C library
 * (vsnprintf only to size and write a formatted message).
 */
#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static void *default_alloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

static fl_alloc_fn alloc_fn = default_alloc;
static void *alloc_ud;

void fl_set_allocator(fl_alloc_fn fn, void *ud)
{
    alloc_fn = fn ? fn : default_alloc;
    alloc_ud = fn ? ud : NULL;
    fl__json_hooks_update();
}

void fl_free(void *ptr)
{
    fl__free(ptr);
}

void *fl_malloc(size_t size)
{
    return fl__malloc(size);
}

void *fl__malloc(size_t size)
{
    return alloc_fn(alloc_ud, NULL, size ? size : 1);
}

void *fl__calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = fl__malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *fl__realloc(void *ptr, size_t size)
{
    return alloc_fn(alloc_ud, ptr, size ? size : 1);
}

void fl__free(void *ptr)
{
    if (ptr)
        alloc_fn(alloc_ud, ptr, 0);
}

char *fl__strndup(const char *s, size_t n)
{
    char *p = fl__malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *fl__strdup(const char *s)
{
    return fl__strndup(s, strlen(s));
}

char *fl__strdup_vprintf(size_t max, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *s = NULL;
    if (n >= 0) {
        size_t len = (size_t)n < max ? (size_t)n : max;
        s = fl__malloc(len + 1);
        if (s)
            vsnprintf(s, len + 1, fmt, again);
    }
    va_end(again);
    return s;
}

char *fl__strdup_printf(size_t max, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = fl__strdup_vprintf(max, fmt, ap);
    va_end(ap);
    return s;
}
