/*
 * zcodec.c - the attachment codecs the POSIX port lends the core
 * (src/core/zcodec.h): zstd (libzstd, level 1: one Zstandard frame) and
 * lz4 (liblz4: one LZ4 block, no frame), and the parsing of a node's
 * `compress` option into the list it hands the core. The decoders never
 * write past the capacity they are given, so a stream that claims or
 * decodes to more than the receiver allows fails instead of growing.
 * Depends on zcodec.h, posix.h, pthreads, libzstd, liblz4.
 */
#include <lz4.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "posix.h"
#include "zcodec.h"

/* Level 1: on text it keeps most of what higher levels save (x2.3 on the
 * word-count corpus against x2.5 at level 3) at twice their speed, and the
 * sender is the one node that compresses every chunk. */
#define ZSTD_LEVEL 1

static size_t zstd_bound(size_t n)
{
    return ZSTD_compressBound(n);
}

/* One pair of contexts per thread, kept: making one costs more than
 * compressing a small attachment. Freed when the thread ends (the node's
 * loop thread is the one that sends and receives). */
typedef struct zstd_ctx {
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
} zstd_ctx;

static pthread_key_t zstd_key;
static pthread_once_t zstd_once = PTHREAD_ONCE_INIT;
static bool zstd_key_ok;

static void zstd_ctx_free(void *p)
{
    zstd_ctx *x = p;
    ZSTD_freeCCtx(x->c);
    ZSTD_freeDCtx(x->d);
    free(x);
}

static void zstd_key_make(void)
{
    zstd_key_ok = pthread_key_create(&zstd_key, zstd_ctx_free) == 0;
}

/* This thread's contexts, made on first use; NULL out of memory. */
static zstd_ctx *zstd_here(void)
{
    pthread_once(&zstd_once, zstd_key_make);
    if (!zstd_key_ok)
        return NULL;
    zstd_ctx *x = pthread_getspecific(zstd_key);
    if (x)
        return x;
    x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->c = ZSTD_createCCtx();
    x->d = ZSTD_createDCtx();
    if (!x->c || !x->d || pthread_setspecific(zstd_key, x) != 0) {
        zstd_ctx_free(x);
        return NULL;
    }
    return x;
}

static size_t zstd_compress(const uint8_t *src, size_t n, uint8_t *dst,
                            size_t cap)
{
    zstd_ctx *x = zstd_here();
    if (!x)
        return 0;
    size_t r = ZSTD_compressCCtx(x->c, dst, cap, src, n, ZSTD_LEVEL);
    return ZSTD_isError(r) ? 0 : r;
}

static size_t zstd_decompress(const uint8_t *src, size_t n, uint8_t *dst,
                              size_t cap)
{
    zstd_ctx *x = zstd_here();
    if (!x)
        return SIZE_MAX;
    /* A frame declaring more than cap is refused before it decodes a byte. */
    unsigned long long want = ZSTD_getFrameContentSize(src, n);
    if (want == ZSTD_CONTENTSIZE_ERROR ||
        (want != ZSTD_CONTENTSIZE_UNKNOWN && want > cap))
        return SIZE_MAX;
    size_t r = ZSTD_decompressDCtx(x->d, dst, cap, src, n);
    return ZSTD_isError(r) ? SIZE_MAX : r;
}

static size_t lz4_bound(size_t n)
{
    return n > LZ4_MAX_INPUT_SIZE ? 0 : (size_t)LZ4_compressBound((int)n);
}

static size_t lz4_compress(const uint8_t *src, size_t n, uint8_t *dst,
                           size_t cap)
{
    if (n > LZ4_MAX_INPUT_SIZE || cap > INT32_MAX)
        return 0;
    int r = LZ4_compress_default((const char *)src, (char *)dst, (int)n,
                                 (int)cap);
    return r > 0 ? (size_t)r : 0;
}

static size_t lz4_decompress(const uint8_t *src, size_t n, uint8_t *dst,
                             size_t cap)
{
    if (n > INT32_MAX || cap > INT32_MAX)
        return SIZE_MAX;
    int r = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n,
                                (int)cap);
    return r >= 0 ? (size_t)r : SIZE_MAX;
}

static const fl_zcodec ZSTD = {"zstd", zstd_bound, zstd_compress,
                               zstd_decompress};
static const fl_zcodec LZ4 = {"lz4", lz4_bound, lz4_compress, lz4_decompress};
static const fl_zcodec *const ALL[] = {&ZSTD, &LZ4};

const fl_zcodec *fl__posix_zcodec(const char *name, size_t len)
{
    fl_zset all = {ALL, sizeof ALL / sizeof ALL[0]};
    return fl__z_find(&all, name, len);
}

fl_status fl__posix_zset(const char *option, const fl_zcodec **out,
                         size_t cap, size_t *n, bool *send, char *err,
                         size_t errlen)
{
    *n = 0;
    *send = option && *option && strcmp(option, "none") != 0;
    if (!option) {
        for (size_t i = 0; i < sizeof ALL / sizeof ALL[0] && i < cap; i++)
            out[(*n)++] = ALL[i];
        return FL_OK;
    }
    if (strcmp(option, "none") == 0 || option[0] == '\0')
        return FL_OK;
    for (const char *t = option; *t;) {
        size_t len = strcspn(t, ",");
        const fl_zcodec *z = fl__posix_zcodec(t, len);
        if (!z) {
            snprintf(err, errlen, "compress: unknown codec '%.*s' (known: "
                     "zstd, lz4, none)", (int)(len > 32 ? 32 : len), t);
            return FL_EINVAL;
        }
        bool dup = false;
        for (size_t i = 0; i < *n; i++)
            dup = dup || out[i] == z;
        if (!dup && *n < cap)
            out[(*n)++] = z;
        t += len + (t[len] == ',');
    }
    return FL_OK;
}
