/*
 * zcodec.h - the seam through which a port lends the core a compressor
 * for attachments (docs/protocol.md section 3, "Compressed attachments").
 * The core itself compresses nothing and links no compression library: a
 * port that has one (the POSIX port links libzstd and liblz4,
 * src/port/posix/zcodec.c) hands the core a list of these; a board hands
 * none, lists none in its presence, and is never sent a compressed
 * attachment. Every function must be safe on any input bytes.
 * Depends on buf.h.
 */
#ifndef FL_ZCODEC_H
#define FL_ZCODEC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Attachments smaller than this are sent as they are: below it the bytes
 * saved do not pay for the time (bench/slow_links.sh). */
#ifndef FL_Z_MIN_BYTES
#define FL_Z_MIN_BYTES 4096u
#endif

/* At most this many codecs in a core's list (a bit each in a peer's). */
#define FL_Z_MAX_CODECS 8u

typedef struct fl_zcodec {
    /* The name in presence and in bin_z: 1..16 bytes of [a-z0-9]. */
    const char *name;
    /* The largest output compress may write for n input bytes. */
    size_t (*bound)(size_t n);
    /* Compress src (n bytes) into dst (cap >= bound(n) bytes). Returns the
     * bytes written, 0 on failure (the attachment is then sent as it is). */
    size_t (*compress)(const uint8_t *src, size_t n, uint8_t *dst, size_t cap);
    /* Decode src (n untrusted bytes) into dst, writing at most cap bytes.
     * Returns the bytes written, or SIZE_MAX when src is not a valid
     * stream or would decode to more than cap bytes; it never writes past
     * dst + cap, whatever src holds. */
    size_t (*decompress)(const uint8_t *src, size_t n, uint8_t *dst, size_t cap);
} fl_zcodec;

/* The codecs a node can use, in its order of preference. */
typedef struct fl_zset {
    const fl_zcodec *const *codecs;
    size_t n;
} fl_zset;

/* The codec of set named name (len bytes), or NULL. */
const fl_zcodec *fl__z_find(const fl_zset *set, const char *name, size_t len);

/* The names of set, ", "-separated, into out (cap bytes): "zstd, lz4",
 * or "none". For error messages. */
void fl__z_names(const fl_zset *set, char *out, size_t cap);

/* src (n bytes) compressed by z into out, replacing what out held, when
 * that saves at least n/16 bytes; otherwise (or out of memory) out is left
 * empty and the attachment goes as it is. */
void fl__z_shrink(const fl_zcodec *z, const uint8_t *src, size_t n,
                  fl_buf *out);

#endif
