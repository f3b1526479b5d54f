/*
 * registry.c - the table of native tasks a node can run, by name. It is
 * filled before the node starts and only read afterwards, so executor
 * threads may look names up without a lock. Depends on alloc.h, codec.h
 * (name validation) and the public header.
 */
#include <string.h>

#include "alloc.h"
#include "codec.h"
#include "registry.h"

fl_registry *fl_registry_new(void)
{
    return fl__calloc(1, sizeof(fl_registry));
}

void fl_registry_free(fl_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++)
        fl__free(reg->entries[i].name);
    fl__free(reg->entries);
    fl__free(reg);
}

const fl_registry_entry *fl__registry_find(const fl_registry *reg,
                                           const char *name)
{
    if (!reg)
        return NULL;
    /* Few tasks per node (tens): a linear scan beats a hash on this size. */
    for (size_t i = 0; i < reg->n; i++)
        if (strcmp(reg->entries[i].name, name) == 0)
            return &reg->entries[i];
    return NULL;
}

fl_status fl_registry_add(fl_registry *reg, const char *name, fl_task_fn fn,
                          void *ud)
{
    if (!reg || !name || !fn || !fl__valid_id(name))
        return FL_EINVAL;
    if (fl__registry_find(reg, name))
        return FL_EEXIST;
    if (reg->n == reg->cap) {
        size_t ncap = reg->cap ? reg->cap * 2 : 16;
        fl_registry_entry *e = fl__realloc(reg->entries, ncap * sizeof *e);
        if (!e)
            return FL_ENOMEM;
        reg->entries = e;
        reg->cap = ncap;
    }
    char *copy = fl__strdup(name);
    if (!copy)
        return FL_ENOMEM;
    reg->entries[reg->n].name = copy;
    reg->entries[reg->n].fn = fn;
    reg->entries[reg->n].ud = ud;
    reg->n++;
    return FL_OK;
}

size_t fl__registry_count(const fl_registry *reg)
{
    return reg ? reg->n : 0;
}

const char *fl__registry_name(const fl_registry *reg, size_t i)
{
    return reg && i < reg->n ? reg->entries[i].name : NULL;
}
