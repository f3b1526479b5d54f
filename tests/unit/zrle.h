/*
 * zrle.h - a run-length codec for the unit tests of the attachment codec
 * hook (src/core/zcodec.h): (count 1..255, byte) pairs. Trivial enough to
 * reason about a stream by hand (a bomb is a few pairs of 255), and it
 * keeps the hook's contract: never more than cap bytes written, SIZE_MAX
 * on any stream it cannot decode within cap. The real codecs (zstd, lz4)
 * are the POSIX port's and are tested end to end (tests/integration).
 * Depends on zcodec.h.
 */
#ifndef FL_TEST_ZRLE_H
#define FL_TEST_ZRLE_H

#include "zcodec.h"

static size_t zrle_bound(size_t n)
{
    return 2 * n + 2;
}

static size_t zrle_compress(const uint8_t *src, size_t n, uint8_t *dst,
                            size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t run = 1;
        while (i + run < n && run < 255 && src[i + run] == src[i])
            run++;
        if (o + 2 > cap)
            return 0;
        dst[o++] = (uint8_t)run;
        dst[o++] = src[i];
        i += run;
    }
    return o;
}

static size_t zrle_decompress(const uint8_t *src, size_t n, uint8_t *dst,
                              size_t cap)
{
    size_t o = 0;
    if (n % 2)
        return SIZE_MAX;
    for (size_t i = 0; i < n; i += 2) {
        if (src[i] == 0 || src[i] > cap - o)
            return SIZE_MAX;
        memset(dst + o, src[i + 1], src[i]);
        o += src[i];
    }
    return o;
}

static const fl_zcodec ZRLE = {"rle", zrle_bound, zrle_compress,
                               zrle_decompress};
static const fl_zcodec *const ZRLE_LIST[] = {&ZRLE};
static const fl_zset ZRLE_SET = {ZRLE_LIST, 1};

#endif
