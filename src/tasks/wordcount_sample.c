/*
 * wordcount_sample.c - the sample hash of the word count's locality check:
 * a node that reads a chunk from its own copy of a file first proves that
 * its copy has the bytes the client sees, by size, mtime (checked by the
 * caller) and this hash of the file's head and of the range's two ends.
 * Portable, no OS headers. Depends on wordcount.h.
 */
#include "wordcount.h"

static uint64_t mix(uint64_t h, uint64_t x)
{
    h = (h ^ x) * 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}

/* Bytes are taken one 8-byte little-endian block at a time, so the hash is
 * the same on every host whatever its byte order. */
static uint64_t mix_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    h = mix(h, (uint64_t)n);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        size_t k = n - i < 8 ? n - i : 8;
        for (size_t j = 0; j < k; j++)
            w |= (uint64_t)p[i + j] << (8u * j);
        h = mix(h, w);
    }
    return h;
}

uint64_t fl__wc_sample_hash_ends(uint64_t file_size, const void *head,
                                 size_t head_len, const void *first,
                                 const void *last, size_t range_len)
{
    uint64_t h = mix(0x6A09E667F3BCC908ull, file_size);
    h = mix_bytes(h, head, head_len);
    if (range_len <= 2u * FL_WC_SAMPLE) {
        h = mix_bytes(h, first, range_len);
    } else {
        h = mix_bytes(h, first, FL_WC_SAMPLE);
        h = mix_bytes(h, last, FL_WC_SAMPLE);
    }
    h ^= h >> 29;
    h *= 0xD6E8FEB86659FD93ull;
    return h ^ (h >> 32);
}

uint64_t fl__wc_sample_hash(uint64_t file_size, const void *head,
                            size_t head_len, const void *range,
                            size_t range_len)
{
    const uint8_t *r = range;
    const uint8_t *last = range_len > FL_WC_SAMPLE ? r + range_len - FL_WC_SAMPLE : r;
    return fl__wc_sample_hash_ends(file_size, head, head_len, r, last, range_len);
}
