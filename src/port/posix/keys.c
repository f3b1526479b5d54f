/*
 * keys.c - the public signing-key calls (fl_key_* in floret.h): a thin,
 * opaque wrapper of ctl_sign.c's key files, so that a program (and the
 * floret command) can make and read keys without its internals. The
 * secret half is wiped on free.
 * Depends on floret.h, ctl_sign.h, the core's alloc.h.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "ctl_sign.h"
#include "floret/floret.h"

struct fl_key {
    fl_ctl_key k;
};

static void wipe(void *p, size_t n)
{
    volatile unsigned char *b = p;
    while (n--)
        *b++ = 0;
}

fl_status fl_key_generate(const char *prefix, char *err, size_t errlen)
{
    fl_ctl_key k;
    if (!prefix || !*prefix) {
        snprintf(err, errlen, "prefix: empty");
        return FL_EINVAL;
    }
    if (fl__ctl_keygen(&k) != FL_OK) {
        snprintf(err, errlen, "cannot initialise libsodium");
        return FL_EIO;
    }
    fl_status st = fl__ctl_key_write(&k, prefix, err, errlen);
    wipe(&k, sizeof k);
    return st;
}

fl_status fl_key_load(const char *path, fl_key **out, char *err, size_t errlen)
{
    if (!out)
        return FL_EINVAL;
    *out = NULL;
    if (!path || !*path) {
        snprintf(err, errlen, "path: empty");
        return FL_EINVAL;
    }
    if (fl__ctl_init() != FL_OK) {
        snprintf(err, errlen, "cannot initialise libsodium");
        return FL_EIO;
    }
    fl_key *key = fl__calloc(1, sizeof *key);
    if (!key)
        return FL_ENOMEM;
    fl_status st = fl__ctl_key_read(path, &key->k, err, errlen);
    if (st != FL_OK) {
        fl_key_free(key);
        return st;
    }
    *out = key;
    return FL_OK;
}

bool fl_key_can_sign(const fl_key *key)
{
    return key && key->k.has_secret;
}

const char *fl_key_id(const fl_key *key)
{
    return key ? key->k.id : "";
}

void fl_key_free(fl_key *key)
{
    if (!key)
        return;
    wipe(key, sizeof *key);
    fl__free(key);
}

/* For ctl_client.c: the key inside. */
const fl_ctl_key *fl__key_inner(const fl_key *key)
{
    return key ? &key->k : NULL;
}
