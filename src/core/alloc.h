/*
 * alloc.h - the core's allocation functions, routed through the hook set
 * with fl_set_allocator (include/floret/floret.h). Every allocation in
 * src/core/ goes through these so an embedder or a test can control it.
 * Depends on <stddef.h> and <stdarg.h> only.
 */
#ifndef FL_ALLOC_H
#define FL_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define FL__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FL__PRINTF(a, b)
#endif

void *fl__malloc(size_t size);
void *fl__calloc(size_t n, size_t size);
void *fl__realloc(void *ptr, size_t size);
void fl__free(void *ptr);

/* Copy of s, or of exactly its first n bytes plus a NUL; NULL on failure. */
char *fl__strdup(const char *s);
char *fl__strndup(const char *s, size_t n);

/* The formatted text in a block of its own size, cut at max bytes: the
 * messages that would otherwise need a buffer of max bytes on the stack
 * (no frame in the core is over 1 KiB). NULL on failure. Integers and
 * strings only: a board's printf may lack floating point. */
char *fl__strdup_printf(size_t max, const char *fmt, ...) FL__PRINTF(2, 3);
char *fl__strdup_vprintf(size_t max, const char *fmt, va_list ap)
    FL__PRINTF(2, 0);

#endif
