/*
 * wordcount_format.c - the binary partial-count format that wc.map returns
 * as its result attachment, and the validating merge of it into a table.
 * The format is specified in docs/wordcount.md; partials come from the
 * network, so the merge checks every byte before it changes anything.
 * Portable. Depends on wordcount.h and alloc.h.
 */
#include <string.h>

#include "alloc.h"
#include "wordcount.h"

static size_t varint_size(uint64_t x)
{
    size_t n = 1;
    while (x >= 0x80u) {
        x >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t x)
{
    while (x >= 0x80u) {
        *p++ = (uint8_t)(x | 0x80u);
        x >>= 7;
    }
    *p++ = (uint8_t)x;
    return p;
}

/* LEB128, at most 10 bytes, no bits beyond 64 and no overlong zero tail. */
static bool get_varint(const uint8_t *d, size_t len, size_t *pos, uint64_t *x)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*pos >= len)
            return false;
        uint8_t b = d[(*pos)++];
        if (i == 9 && b > 1u)
            return false;
        v |= (uint64_t)(b & 0x7Fu) << (7u * i);
        if ((b & 0x80u) == 0) {
            if (b == 0 && i > 0)
                return false;
            *x = v;
            return true;
        }
    }
    return false;
}

fl_status fl__wc_encode(const fl_wc_table *t, uint8_t **out, size_t *out_len)
{
    /* The entries are counted as they are sized: a table kept between
     * tasks holds words at count 0, and fl__wc_distinct would walk it all
     * to skip them, twice. */
    size_t size = 0, distinct = 0;
    size_t pos = 0;
    fl_wc_entry e;
    while (fl__wc_next(t, &pos, &e)) {
        size += varint_size(e.len) + e.len + varint_size(e.count);
        distinct++;
    }
    size += FL_WC_MAGIC_LEN + varint_size(distinct) + varint_size(fl__wc_total(t));
    uint8_t *buf = fl__malloc(size);
    if (buf == NULL)
        return FL_ENOMEM;
    memcpy(buf, FL_WC_MAGIC, FL_WC_MAGIC_LEN);
    uint8_t *p = buf + FL_WC_MAGIC_LEN;
    p = put_varint(p, distinct);
    p = put_varint(p, fl__wc_total(t));
    pos = 0;
    while (fl__wc_next(t, &pos, &e)) {
        p = put_varint(p, e.len);
        memcpy(p, e.word, e.len);
        p += e.len;
        p = put_varint(p, e.count);
    }
    *out = buf;
    *out_len = (size_t)(p - buf);
    return FL_OK;
}

#define BYTES_1 UINT64_C(0x0101010101010101)
#define BYTES_HIGH (BYTES_1 * 0x80u)

/* The high bit of each byte of x set when that byte may be in a partial's
 * word (a word byte, already lowercased): a-z, 0-9, or >= 0x80. The sums
 * run on the low 7 bits, so no byte carries into the next. */
static uint64_t word_bytes8(uint64_t x)
{
    uint64_t y = x & ~BYTES_HIGH;
    uint64_t lower = (y + BYTES_1 * (0x80u - 'a')) & ~(y + BYTES_1 * (0x80u - 'z' - 1));
    uint64_t digit = (y + BYTES_1 * (0x80u - '0')) & ~(y + BYTES_1 * (0x80u - '9' - 1));
    return (lower | digit | x) & BYTES_HIGH;
}

/* Whether the n bytes at w may form a partial's word; room bytes from w
 * on are readable. Checked 8 bytes at a time where the loads stay inside
 * the partial (every entry of every partial is checked: a branch per
 * byte cost more than the rest of the merge). */
static inline bool lower_word(const uint8_t *w, size_t n, size_t room)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (room >= ((n + 7u) & ~(size_t)7u)) {
        uint64_t x, bad = 0;
        size_t i = 0;
        for (; i + 8u <= n; i += 8u) {
            memcpy(&x, w + i, 8);
            bad |= ~word_bytes8(x);
        }
        if (i < n) {
            memcpy(&x, w + i, 8);
            /* Little-endian: the word's last bytes are the low ones. */
            bad |= ~word_bytes8(x) & ((UINT64_C(1) << (8u * (n - i))) - 1u);
        }
        return (bad & BYTES_HIGH) == 0;
    }
#endif
    (void)room;
    for (size_t i = 0; i < n; i++) {
        unsigned b = w[i];
        if (b - 'a' > 'z' - 'a' && b - '0' > 9u && b < 0x80u)
            return false;
    }
    return true;
}

/* One entry at *pos, any size: a well-formed word (its bytes checked
 * unless trusted, i.e. checked before) and a non-zero count. */
static bool get_entry_any(const uint8_t *d, size_t len, size_t *pos,
                          fl_wc_entry *e, bool trusted)
{
    uint64_t wl, c;
    if (!get_varint(d, len, pos, &wl) || wl == 0 || wl > FL_WC_MAX_WORD ||
        wl > len - *pos)
        return false;
    const uint8_t *w = d + *pos;
    if (!trusted && !lower_word(w, (size_t)wl, len - *pos))
        return false;
    *pos += (size_t)wl;
    if (!get_varint(d, len, pos, &c) || c == 0)
        return false;
    e->word = w;
    e->len = (size_t)wl;
    e->count = c;
    return true;
}

/* get_entry_any, with the common case first: nearly every entry is a
 * word under 128 bytes counted under 128 times, one byte for each
 * number. Small enough to be inlined into the loops that decode every
 * entry of every partial. */
static inline bool get_entry(const uint8_t *d, size_t len, size_t *pos,
                             fl_wc_entry *e, bool trusted)
{
    size_t p = *pos;
    if (p < len && d[p] != 0 && d[p] < 0x80u && d[p] < len - p - 1) {
        size_t n = d[p];
        const uint8_t *w = d + p + 1;
        uint8_t count = w[n];
        if (count < 0x80u) {
            if (count == 0 || (!trusted && !lower_word(w, n, len - p - 1)))
                return false;
            e->word = w;
            e->len = n;
            e->count = count;
            *pos = p + 2 + n;
            return true;
        }
    }
    return get_entry_any(d, len, pos, e, trusted);
}

/* Check the whole partial; *body gets where the entries start. */
static bool check_partial(const uint8_t *d, size_t len, size_t *body,
                          uint64_t *distinct, uint64_t *total)
{
    size_t pos = FL_WC_MAGIC_LEN;
    if (len < FL_WC_MAGIC_LEN || memcmp(d, FL_WC_MAGIC, FL_WC_MAGIC_LEN) != 0)
        return false;
    if (!get_varint(d, len, &pos, distinct) ||
        !get_varint(d, len, &pos, total))
        return false;
    /* An entry takes at least 3 bytes: a cheap bound before the loop. */
    if (*distinct > (len - pos) / 3u)
        return false;
    *body = pos;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < *distinct; i++) {
        fl_wc_entry e;
        if (!get_entry(d, len, &pos, &e, false) || sum + e.count < sum)
            return false;
        sum += e.count;
    }
    return pos == len && sum == *total;
}

void fl__wc_hint_free(fl_wc_hint *h)
{
    fl__free(h->entry);
    h->entry = NULL;
    h->n = h->cap = 0;
}

/* Room for n positions in h, new ones unknown. */
static fl_status hint_reserve(fl_wc_hint *h, size_t n)
{
    if (n > h->cap) {
        if (n > SIZE_MAX / sizeof *h->entry)
            return FL_ENOMEM;
        uint32_t *e = fl__realloc(h->entry, n * sizeof *e);
        if (e == NULL)
            return FL_ENOMEM;
        h->entry = e;
        h->cap = n;
    }
    for (size_t i = h->n; i < n; i++)
        h->entry[i] = 0;
    if (n > h->n)
        h->n = n;
    return FL_OK;
}

/* The entries a hint expects a little ahead, asked for early: the lookups
 * that follow then find them in the cache. */
#define HINT_AHEAD 8u

fl_status fl__wc_merge_from(fl_wc_table *t, fl_wc_hint *h, const void *data,
                            size_t len, uint64_t *words, size_t *distinct)
{
    const uint8_t *d = data;
    size_t pos;
    uint64_t nd, nt;
    if (d == NULL || !check_partial(d, len, &pos, &nd, &nt))
        return FL_EPROTO;
    fl_status st = hint_reserve(h, (size_t)nd);
    for (uint64_t i = 0; st == FL_OK && i < nd; i++) {
        fl_wc_entry e;
        /* check_partial walked the same entries: this cannot fail. */
        if (!get_entry(d, len, &pos, &e, true))
            return FL_EPROTO;
        if (i + HINT_AHEAD < nd)
            fl__wc_prefetch_entry(t, h->entry[i + HINT_AHEAD]);
        st = fl__wc_add_at(t, e.word, e.len, e.count, &h->entry[i]);
    }
    if (st != FL_OK)
        return st;
    if (words != NULL)
        *words = nt;
    if (distinct != NULL)
        *distinct = (size_t)nd;
    return FL_OK;
}

fl_status fl__wc_merge(fl_wc_table *t, const void *data, size_t len,
                       uint64_t *words, size_t *distinct)
{
    const uint8_t *d = data;
    size_t pos;
    uint64_t nd, nt;
    if (d == NULL || !check_partial(d, len, &pos, &nd, &nt))
        return FL_EPROTO;
    fl_wc_entry batch[FL_WC_BATCH];
    size_t nb = 0;
    for (uint64_t i = 0; i < nd; i++) {
        /* check_partial walked the same entries: this cannot fail. */
        if (!get_entry(d, len, &pos, &batch[nb], true))
            return FL_EPROTO;
        if (++nb == FL_WC_BATCH || i + 1 == nd) {
            fl_status st = fl__wc_add_batch(t, batch, nb);
            if (st != FL_OK)
                return st;
            nb = 0;
        }
    }
    if (words != NULL)
        *words = nt;
    if (distinct != NULL)
        *distinct = (size_t)nd;
    return FL_OK;
}
