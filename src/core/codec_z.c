/*
 * codec_z.c - compressed attachments (docs/protocol.md section 3,
 * "Compressed attachments"): looking a codec up by name, and deciding
 * whether compressing an attachment is worth sending. The codecs
 * themselves come from the port (zcodec.h); this file only calls them, so
 * the core links no compression library and a board without one pays a
 * few hundred bytes of flash.
 * Depends on zcodec.h, buf.h.
 */
#include <stdio.h>
#include <string.h>

#include "zcodec.h"

const fl_zcodec *fl__z_find(const fl_zset *set, const char *name, size_t len)
{
    if (!set)
        return NULL;
    for (size_t i = 0; i < set->n; i++) {
        const char *s = set->codecs[i]->name;
        if (strlen(s) == len && memcmp(s, name, len) == 0)
            return set->codecs[i];
    }
    return NULL;
}

void fl__z_names(const fl_zset *set, char *out, size_t cap)
{
    size_t n = 0;
    if (!cap)
        return;
    out[0] = '\0';
    for (size_t i = 0; set && i < set->n && n < cap; i++) {
        int k = snprintf(out + n, cap - n, "%s%s", i ? ", " : "",
                         set->codecs[i]->name);
        if (k > 0)
            n += (size_t)k;
    }
    if (!out[0])
        snprintf(out, cap, "none");
}

void fl__z_shrink(const fl_zcodec *z, const uint8_t *src, size_t n,
                  fl_buf *out)
{
    fl__buf_reset(out);
    size_t cap = z->bound(n);
    if (cap == 0)
        return;
    fl__buf_reserve(out, cap);
    if (!fl__buf_ok(out)) {
        /* No memory for it: send the attachment as it is. */
        fl__buf_free(out);
        fl__buf_init(out);
        return;
    }
    size_t got = z->compress(src, n, (uint8_t *)out->data, cap);
    /* Not worth a receiver's decoding time unless it saves 1/16. */
    if (got == 0 || got > cap || got > n - n / 16u)
        return;
    out->len = got;
}
