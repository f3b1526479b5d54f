/*
 * registry.h - internal view of fl_registry (see registry.c).
 * Depends on the public header.
 */
#ifndef FL_REGISTRY_H
#define FL_REGISTRY_H

#include <stddef.h>

#include "floret/floret.h"

typedef struct fl_registry_entry {
    char *name;
    fl_task_fn fn;
    void *ud;
} fl_registry_entry;

struct fl_registry {
    fl_registry_entry *entries;
    size_t n, cap;
};

const fl_registry_entry *fl__registry_find(const fl_registry *reg,
                                           const char *name);
size_t fl__registry_count(const fl_registry *reg);
const char *fl__registry_name(const fl_registry *reg, size_t i);

#endif
