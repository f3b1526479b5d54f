/*
 * wordcount_chunk.c - the chunker: where to cut an input so that no chunk
 * splits a word. It only looks at bytes it is given, so the caller can
 * stream a file of any size through a bounded buffer.
 * Portable. Depends on wordcount.h.
 */
#include "wordcount.h"

size_t fl__wc_chunk_end(const void *data, size_t avail, size_t target,
                        bool eof)
{
    const uint8_t *d = data;
    if (avail == 0)
        return 0;
    if (target == 0)
        target = 1;
    if (avail <= target)
        return eof ? avail : 0;
    /* d[target] exists: a cut at target is fine unless it falls inside a
     * word; otherwise back up to just after the last separator. */
    if (!fl__wc_is_word_byte(d[target - 1]) || !fl__wc_is_word_byte(d[target]))
        return target;
    for (size_t k = target - 1u; k > 0; k--)
        if (!fl__wc_is_word_byte(d[k - 1u]))
            return k;
    /* The first word is longer than target: it is a chunk of its own. */
    for (size_t k = target + 1u; k < avail; k++)
        if (!fl__wc_is_word_byte(d[k]))
            return k;
    return eof ? avail : 0;
}
