/*
 * map.c - open addressing with linear probing and tombstones; grows at 50%
 * load so probes stay short. Depends on map.h and alloc.h.
 */
#include "map.h"

#include "alloc.h"

#define EMPTY 0u
#define TOMB UINT64_MAX

void fl__map_init(fl_u64map *m)
{
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->len = m->used = 0;
}

void fl__map_free(fl_u64map *m)
{
    fl__free(m->keys);
    fl__free(m->vals);
    fl__map_init(m);
}

static size_t slot_of(uint64_t key, size_t cap)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

void *fl__map_get(const fl_u64map *m, uint64_t key)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key)
            return m->vals[i];
        if (m->keys[i] == EMPTY)
            return NULL;
    }
}

static bool grow(fl_u64map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    if (m->len * 4 < m->cap)  /* mostly tombstones: rehash in place size */
        ncap = m->cap;
    uint64_t *nk = fl__calloc(ncap, sizeof *nk);
    void **nv = fl__calloc(ncap, sizeof *nv);
    if (!nk || !nv) {
        fl__free(nk);
        fl__free(nv);
        return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
        uint64_t k = m->keys[i];
        if (k == EMPTY || k == TOMB)
            continue;
        size_t j = slot_of(k, ncap);
        while (nk[j] != EMPTY)
            j = (j + 1) & (ncap - 1);
        nk[j] = k;
        nv[j] = m->vals[i];
    }
    fl__free(m->keys);
    fl__free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    m->used = m->len;
    return true;
}

bool fl__map_put(fl_u64map *m, uint64_t key, void *val)
{
    if ((m->used + 1) * 2 > m->cap && !grow(m))
        return false;
    size_t tomb = SIZE_MAX;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) {
            m->vals[i] = val;
            return true;
        }
        if (m->keys[i] == TOMB && tomb == SIZE_MAX)
            tomb = i;
        if (m->keys[i] == EMPTY) {
            if (tomb != SIZE_MAX)
                i = tomb;
            else
                m->used++;
            m->keys[i] = key;
            m->vals[i] = val;
            m->len++;
            return true;
        }
    }
}

void *fl__map_del(fl_u64map *m, uint64_t key)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) {
            void *v = m->vals[i];
            m->keys[i] = TOMB;
            m->vals[i] = NULL;
            m->len--;
            return v;
        }
        if (m->keys[i] == EMPTY)
            return NULL;
    }
}

uint64_t fl__hash_bytes(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    if (h == EMPTY || h == TOMB)
        h = 1;
    return h;
}
