/*
 * map.h - an open-addressing hash map from uint64 keys to pointers, used for
 * the owner's task table and the workflows kept for others. Keys 0 and
 * UINT64_MAX are reserved. Depends on alloc.h.
 */
#ifndef FL_MAP_H
#define FL_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fl_u64map {
    uint64_t *keys;
    void **vals;
    size_t cap;   /* power of two, or 0 */
    size_t len;
    size_t used;  /* len + tombstones */
} fl_u64map;

void fl__map_init(fl_u64map *m);
void fl__map_free(fl_u64map *m);
/* NULL when absent. */
void *fl__map_get(const fl_u64map *m, uint64_t key);
/* Insert or replace. false when out of memory. */
bool fl__map_put(fl_u64map *m, uint64_t key, void *val);
/* Remove; returns the value or NULL. */
void *fl__map_del(fl_u64map *m, uint64_t key);

/* 64-bit FNV-1a of bytes, mixed; for building keys from strings. */
uint64_t fl__hash_bytes(const void *data, size_t len, uint64_t seed);

#endif
