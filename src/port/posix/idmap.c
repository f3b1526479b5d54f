/*
 * idmap.c - task id -> result handle for the loop thread: open addressing
 * with linear probing and backward-shift deletion, so 100,000 tasks in
 * flight cost two arrays and no per-entry allocation.
 * Depends on posix.h and alloc.h.
 */
#include "posix.h"

#include "alloc.h"

/* Slots hold id + 1 so that 0 can mean "empty" whatever ids the core uses. */
static size_t slot_of(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

void fl__idmap_init(fl_idmap *m)
{
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->len = 0;
}

void fl__idmap_free(fl_idmap *m)
{
    fl__free(m->keys);
    fl__free(m->vals);
    fl__idmap_init(m);
}

static void insert(fl_idmap *m, uint64_t key, fl_result *r)
{
    size_t i = slot_of(key, m->cap);
    while (m->keys[i] != 0 && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (m->keys[i] == 0)
        m->len++;
    m->keys[i] = key;
    m->vals[i] = r;
}

static fl_status grow(fl_idmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    uint64_t *okeys = m->keys;
    fl_result **ovals = m->vals;
    size_t ocap = m->cap;
    uint64_t *keys = fl__calloc(ncap, sizeof *keys);
    fl_result **vals = fl__calloc(ncap, sizeof *vals);

    if (!keys || !vals) {
        fl__free(keys);
        fl__free(vals);
        return FL_ENOMEM;
    }
    m->keys = keys;
    m->vals = vals;
    m->cap = ncap;
    m->len = 0;
    for (size_t i = 0; i < ocap; i++)
        if (okeys[i] != 0)
            insert(m, okeys[i], ovals[i]);
    fl__free(okeys);
    fl__free(ovals);
    return FL_OK;
}

fl_status fl__idmap_put(fl_idmap *m, uint64_t id, fl_result *r)
{
    /* Kept at most half full so probes stay short. */
    if ((m->len + 1) * 2 > m->cap) {
        fl_status st = grow(m);
        if (st != FL_OK)
            return st;
    }
    insert(m, id + 1, r);
    return FL_OK;
}

static size_t find(const fl_idmap *m, uint64_t key)
{
    size_t i;
    if (m->cap == 0)
        return SIZE_MAX;
    i = slot_of(key, m->cap);
    while (m->keys[i] != 0) {
        if (m->keys[i] == key)
            return i;
        i = (i + 1) & (m->cap - 1);
    }
    return SIZE_MAX;
}

fl_result *fl__idmap_get(const fl_idmap *m, uint64_t id)
{
    size_t i = find(m, id + 1);
    return i == SIZE_MAX ? NULL : m->vals[i];
}

static void remove_at(fl_idmap *m, size_t i)
{
    size_t j = i;
    m->keys[i] = 0;
    m->vals[i] = NULL;
    m->len--;
    /* Pull later members of the probe run back into the hole. */
    for (;;) {
        size_t home;
        j = (j + 1) & (m->cap - 1);
        if (m->keys[j] == 0)
            return;
        home = slot_of(m->keys[j], m->cap);
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            m->keys[j] = 0;
            m->vals[j] = NULL;
            i = j;
        }
    }
}

fl_result *fl__idmap_take(fl_idmap *m, uint64_t id)
{
    size_t i = find(m, id + 1);
    fl_result *r;
    if (i == SIZE_MAX)
        return NULL;
    r = m->vals[i];
    remove_at(m, i);
    return r;
}

void fl__idmap_drain(fl_idmap *m, void (*fn)(void *ud, fl_result *r), void *ud)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] != 0)
            fn(ud, m->vals[i]);
    fl__idmap_free(m);
}
