/*
 * alloc.h - the core's allocation functions, routed through the hook set
 * with fl_set_allocator (include/floret/floret.h). Every allocation in
 * src/core/ goes through these so an embedder or a test can control it.
 * Depends on <stddef.h> only.
 */
#ifndef FL_ALLOC_H
#define FL_ALLOC_H

#include <stddef.h>

void *fl__malloc(size_t size);
void *fl__calloc(size_t n, size_t size);
void *fl__realloc(void *ptr, size_t size);
void fl__free(void *ptr);

/* Copy of s, or of exactly its first n bytes plus a NUL; NULL on failure. */
char *fl__strdup(const char *s);
char *fl__strndup(const char *s, size_t n);

#endif
