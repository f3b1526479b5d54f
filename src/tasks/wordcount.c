/*
 * wordcount.c - the word -> count table and the tokenizer that feeds it,
 * the hot path of word count. Open addressing with linear probing; each
 * distinct word is stored once (in its slot, or in an arena when long), so
 * memory follows the vocabulary, not the input.
 * Portable, no OS headers. Depends on wordcount.h, alloc.h and defaults.h
 * (the first sizes).
 */
#include <string.h>

#include "alloc.h"
#include "defaults.h"
#include "wordcount.h"

/* The lowercase form of each word byte; 0 for separators (what
 * `tr -cs 'A-Za-z0-9\200-\377'` squeezes away, then `tr A-Z a-z`). */
static const uint8_t k_fold[256] = {
    /* 00 */ 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    /* 10 */ 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    /* 20 */ 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    /* 30 */ 48,49,50,51,52,53,54,55,56,57,0,0,0,0,0,0,
    /* 40 */ 0,97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,
    /* 50 */ 112,113,114,115,116,117,118,119,120,121,122,0,0,0,0,0,
    /* 60 */ 0,97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,
    /* 70 */ 112,113,114,115,116,117,118,119,120,121,122,0,0,0,0,0,
    /* 80 */ 128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,
    /* 90 */ 144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159,
    /* a0 */ 160,161,162,163,164,165,166,167,168,169,170,171,172,173,174,175,
    /* b0 */ 176,177,178,179,180,181,182,183,184,185,186,187,188,189,190,191,
    /* c0 */ 192,193,194,195,196,197,198,199,200,201,202,203,204,205,206,207,
    /* d0 */ 208,209,210,211,212,213,214,215,216,217,218,219,220,221,222,223,
    /* e0 */ 224,225,226,227,228,229,230,231,232,233,234,235,236,237,238,239,
    /* f0 */ 240,241,242,243,244,245,246,247,248,249,250,251,252,253,254,255,
};

/* Words sit in a dense array in first-seen order, found through an index
 * of open-addressed 32-bit slots (entry number + 1; 0 is empty). Frequent
 * words tend to be seen first, so their entries pack into few cache lines
 * and the index stays small enough for the L2 cache: the lookup is memory
 * bound, and this layout measured fastest. Words of up to 16 bytes live in
 * their entry, zero-padded, and compare as two 8-byte blocks; longer words
 * live in the arena. */
#define WC_INLINE 16u
#define WC_PAD 16u
#define WC_MIN_SLOTS FL_WC_MIN_SLOTS
#define WC_MAX_SLOTS ((size_t)1 << (sizeof(size_t) >= 8 ? 32 : 26))
/* fl__wc_reuse keeps the words while they are at most twice those counted
 * since the last reuse, plus this many. */
#define WC_REUSE_SLACK 4096u

typedef struct wc_slot {
    uint64_t count;
    uint32_t len;
    uint32_t hash;  /* low half of the hash: the home slot, also when growing */
    union {
        uint8_t in[WC_INLINE]; /* len <= WC_INLINE: the word, zero-padded */
        uint64_t off;          /* longer: offset of the word in the arena */
    } key;
} wc_slot;

struct fl_wc_table {
    uint32_t *index;
    size_t mask;   /* number of index slots - 1 (a power of two) */
    wc_slot *slots; /* the entries, dense */
    size_t used, cap; /* distinct words, room in slots */
    uint8_t *arena; /* the bytes of words longer than WC_INLINE */
    size_t arena_len, arena_cap;
    uint64_t total;
    bool has_zeros; /* fl__wc_reuse left words at count 0 */
    uint8_t *scratch; /* a long word being read, + WC_PAD zero bytes */
    size_t scratch_cap;
};

bool fl__wc_is_word_byte(uint8_t b)
{
    return k_fold[b] != 0;
}

/* Blocks are little-endian on every host, so a block assembled from bytes
 * in registers equals one loaded from memory. */
static uint64_t load_le64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

static void store_le64(uint8_t *p, uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    memcpy(p, &w, 8);
}

/* The hash is defined on the word cut in 8-byte little-endian blocks, the
 * last one zero-filled. The first two blocks are mixed in parallel and
 * without a loop, since most words are that short; later blocks are
 * chained. Hashes never leave the process. */
static uint64_t hash_head(uint64_t b0, uint64_t b1, size_t n)
{
    return (b0 ^ 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull +
           (b1 ^ (uint64_t)n) * 0x94D049BB133111EBull;
}

static uint64_t hash_block(uint64_t h, uint64_t b)
{
    h = (h ^ b) * 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 29);
}

static uint64_t hash_final(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    return h ^ (h >> 32);
}

/* Block at byte i of s[0..n), zero-filled past n. */
static uint64_t block_at(const uint8_t *s, size_t n, size_t i)
{
    uint8_t tmp[8] = {0};
    if (i < n)
        memcpy(tmp, s + i, n - i < 8 ? n - i : 8);
    return load_le64(tmp);
}

static uint64_t hash_any(const uint8_t *s, size_t n)
{
    uint64_t h = hash_head(block_at(s, n, 0), block_at(s, n, 8), n);
    for (size_t i = WC_INLINE; i < n; i += 8)
        h = hash_block(h, block_at(s, n, i));
    return hash_final(h);
}

static const uint8_t *slot_word(const fl_wc_table *t, const wc_slot *s)
{
    return s->len <= WC_INLINE ? s->key.in : t->arena + s->key.off;
}

fl_wc_table *fl__wc_new(void)
{
    fl_wc_table *t = fl__calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->index = fl__calloc(WC_MIN_SLOTS, sizeof *t->index);
    t->scratch_cap = 256;
    t->scratch = fl__malloc(t->scratch_cap + WC_PAD);
    if (t->index == NULL || t->scratch == NULL) {
        fl__wc_free(t);
        return NULL;
    }
    t->mask = WC_MIN_SLOTS - 1u;
    return t;
}

void fl__wc_free(fl_wc_table *t)
{
    if (t == NULL)
        return;
    fl__free(t->index);
    fl__free(t->slots);
    fl__free(t->arena);
    fl__free(t->scratch);
    fl__free(t);
}

void fl__wc_clear(fl_wc_table *t)
{
    memset(t->index, 0, (t->mask + 1u) * sizeof *t->index);
    t->used = 0;
    t->arena_len = 0;
    t->total = 0;
    t->has_zeros = false;
}

void fl__wc_reuse(fl_wc_table *t)
{
    size_t live = 0;
    for (size_t i = 0; i < t->used; i++) {
        live += t->slots[i].count != 0;
        t->slots[i].count = 0;
    }
    if (t->used > 2u * live + WC_REUSE_SLACK) {
        fl__wc_clear(t);
        return;
    }
    t->total = 0;
    t->has_zeros = t->used > 0;
}

/* Double the index; the stored hash gives each word its new home. */
static fl_status grow_index(fl_wc_table *t)
{
    size_t n = t->mask + 1u;
    if (n >= WC_MAX_SLOTS)
        return FL_ETOOBIG;
    size_t nn = n * 2u;
    uint32_t *ni = fl__calloc(nn, sizeof *ni);
    if (ni == NULL)
        return FL_ENOMEM;
    size_t nmask = nn - 1u;
    for (size_t e = 0; e < t->used; e++) {
        size_t j = t->slots[e].hash & nmask;
        while (ni[j] != 0)
            j = (j + 1u) & nmask;
        ni[j] = (uint32_t)(e + 1u);
    }
    fl__free(t->index);
    t->index = ni;
    t->mask = nmask;
    return FL_OK;
}

/* Room for one more entry (and its index slot). */
static fl_status reserve_entry(fl_wc_table *t)
{
    fl_status st;
    if (t->used + 1u > (t->mask + 1u) / 2u && (st = grow_index(t)) != FL_OK)
        return st;
    if (t->used < t->cap)
        return FL_OK;
    size_t cap = t->cap ? t->cap * 2u : FL_WC_MIN_ENTRIES;
    if (cap > SIZE_MAX / sizeof *t->slots)
        return FL_ENOMEM;
    wc_slot *s = fl__realloc(t->slots, cap * sizeof *s);
    if (s == NULL)
        return FL_ENOMEM;
    t->slots = s;
    t->cap = cap;
    return FL_OK;
}

/* Copy a long word into the arena; *off gets where. */
static fl_status arena_put(fl_wc_table *t, const uint8_t *w, size_t n,
                           uint64_t *off)
{
    if (t->arena_cap - t->arena_len < n) {
        size_t cap = t->arena_cap ? t->arena_cap : 4096u;
        while (cap - t->arena_len < n) {
            if (cap > SIZE_MAX / 2u)
                return FL_ENOMEM;
            cap *= 2u;
        }
        uint8_t *a = fl__realloc(t->arena, cap);
        if (a == NULL)
            return FL_ENOMEM;
        t->arena = a;
        t->arena_cap = cap;
    }
    memcpy(t->arena + t->arena_len, w, n);
    *off = t->arena_len;
    t->arena_len += n;
    return FL_OK;
}

/* Put a new word in an empty slot. w is the word when longer than
 * WC_INLINE; b0, b1 are its first two blocks. */
static fl_status insert_new(fl_wc_table *t, const uint8_t *w, size_t n,
                            uint64_t b0, uint64_t b1, uint64_t h, uint64_t c)
{
    fl_status st;
    wc_slot s;
    if (n > FL_WC_MAX_WORD)
        return FL_ETOOBIG;
    if (t->total + c < t->total)
        return FL_ETOOBIG;
    if ((st = reserve_entry(t)) != FL_OK)
        return st;
    memset(&s, 0, sizeof s);
    s.count = c;
    s.len = (uint32_t)n;
    s.hash = (uint32_t)h;
    if (n <= WC_INLINE) {
        store_le64(s.key.in, b0);
        store_le64(s.key.in + 8, b1);
    } else if ((st = arena_put(t, w, n, &s.key.off)) != FL_OK) {
        return st;
    }
    size_t i = s.hash & t->mask;
    while (t->index[i] != 0)
        i = (i + 1u) & t->mask;
    t->slots[t->used] = s;
    t->index[i] = (uint32_t)(t->used + 1u);
    t->used++;
    t->total += c;
    return FL_OK;
}

static fl_status add_to(fl_wc_table *t, wc_slot *s, uint64_t c)
{
    if (s->count + c < s->count || t->total + c < t->total)
        return FL_ETOOBIG;
    s->count += c;
    t->total += c;
    return FL_OK;
}

/* Add c to a word of at most WC_INLINE bytes given as its two blocks and
 * its hash. */
static fl_status probe_short(fl_wc_table *t, uint64_t b0, uint64_t b1,
                             size_t n, uint64_t h, uint64_t c)
{
    size_t i = (uint32_t)h & t->mask;
    for (;;) {
        uint32_t e = t->index[i];
        if (e == 0)
            return insert_new(t, NULL, n, b0, b1, h, c);
        wc_slot *s = &t->slots[e - 1u];
        if (s->hash == (uint32_t)h && s->len == n &&
            load_le64(s->key.in) == b0 && load_le64(s->key.in + 8) == b1)
            return add_to(t, s, c);
        i = (i + 1u) & t->mask;
    }
}

/* Add c to a word of at most WC_INLINE bytes given as its two blocks. */
static fl_status bump_short(fl_wc_table *t, uint64_t b0, uint64_t b1,
                            size_t n, uint64_t c)
{
    return probe_short(t, b0, b1, n, hash_final(hash_head(b0, b1, n)), c);
}

/* Add c to a word longer than WC_INLINE, whose hash is h. */
static fl_status probe_long(fl_wc_table *t, const uint8_t *w, size_t n,
                            uint64_t h, uint64_t c)
{
    size_t i = (uint32_t)h & t->mask;
    for (;;) {
        uint32_t e = t->index[i];
        if (e == 0)
            return insert_new(t, w, n, 0, 0, h, c);
        wc_slot *s = &t->slots[e - 1u];
        if (s->hash == (uint32_t)h && s->len == n &&
            memcmp(t->arena + s->key.off, w, n) == 0)
            return add_to(t, s, c);
        i = (i + 1u) & t->mask;
    }
}

static fl_status bump_long(fl_wc_table *t, const uint8_t *w, size_t n,
                           uint64_t c)
{
    return probe_long(t, w, n, hash_any(w, n), c);
}

static fl_status grow_scratch(fl_wc_table *t)
{
    if (t->scratch_cap > (SIZE_MAX - WC_PAD) / 2u)
        return FL_ENOMEM;
    size_t cap = t->scratch_cap * 2u;
    uint8_t *s = fl__realloc(t->scratch, cap + WC_PAD);
    if (s == NULL)
        return FL_ENOMEM;
    t->scratch = s;
    t->scratch_cap = cap;
    return FL_OK;
}

#define WC_LO7 0x7F7F7F7F7F7F7F7Full
#define WC_HI8 0x8080808080808080ull
#define WC_ONES 0x0101010101010101ull

/* The high bit of each byte of y (all below 0x80) that lies in [lo, hi]:
 * y + (0x80 - lo) reaches bit 7 when y >= lo, y + (0x7F - hi) when
 * y > hi, and neither sum carries into the next byte. */
static uint64_t bytes_in(uint64_t y, unsigned lo, unsigned hi)
{
    return (y + WC_ONES * (0x80u - lo)) & ~(y + WC_ONES * (0x7Fu - hi)) & WC_HI8;
}

/* Eight bytes at p, lowercased, separators as 0, byte i at bits 8i: the
 * same as k_fold on each byte, computed in one register (SWAR) because
 * eight table loads per block measured slower. */
static uint64_t fold8(const uint8_t *p)
{
    uint64_t x = load_le64(p);
    uint64_t high = x & WC_HI8;           /* bytes >= 0x80: word bytes */
    uint64_t y = x & WC_LO7;
    uint64_t alpha = bytes_in(y | (WC_ONES * 0x20u), 'a', 'z') & ~high;
    uint64_t digit = bytes_in(y, '0', '9') & ~high;
    uint64_t upper = alpha & ~((y & (WC_ONES * 0x20u)) << 2);
    uint64_t word = high | alpha | digit;
    return (x | (upper >> 2)) & ((word >> 7) * 0xFFu);
}

/* The high bit of every non-zero byte of x (exact: no carry crosses a
 * byte). */
static uint64_t nonzero_bytes(uint64_t x)
{
    return (((x & WC_LO7) + WC_LO7) | x) & WC_HI8;
}

/* Index of the lowest byte flagged in m (m != 0, high bits only). */
static size_t first_byte(uint64_t m)
{
#if defined(__GNUC__)
    return (size_t)__builtin_ctzll(m) >> 3;
#else
    size_t n = 0;
    while ((m & 0x80u) == 0) {
        m >>= 8;
        n++;
    }
    return n;
#endif
}

/* The scanners look at 8 bytes at a time without a branch per byte: word
 * lengths are random, so byte loops mispredict once per word. */
static const uint8_t *skip_separators(const uint8_t *p, const uint8_t *end)
{
    while (end - p >= 8) {
        uint64_t nz = nonzero_bytes(fold8(p));
        if (nz != 0)
            return p + first_byte(nz);
        p += 8;
    }
    while (p < end && k_fold[*p] == 0)
        p++;
    return p;
}

/* Up to 8 lowercased word bytes from p as a block; returns how many. */
static size_t scan_block(const uint8_t *p, const uint8_t *end, uint64_t *b)
{
    if (end - p >= 8) {
        uint64_t x = fold8(p);
        uint64_t z = ~nonzero_bytes(x) & WC_HI8;
        if (z == 0) {
            *b = x;
            return 8;
        }
        size_t n = first_byte(z);
        *b = x & ((1ull << (8u * n)) - 1u);
        return n;
    }
    size_t lim = (size_t)(end - p);
    uint64_t x = 0;
    size_t i = 0;
    for (; i < lim; i++) {
        uint64_t c = k_fold[p[i]];
        if (c == 0)
            break;
        x |= c << (8u * i);
    }
    *b = x;
    return i;
}

/* The rest of a long word whose first WC_INLINE bytes are b0, b1: copy it
 * lowercased into the scratch from p on; *pp moves past it, *len gets the
 * whole length. */
static fl_status take_long(fl_wc_table *t, uint64_t b0, uint64_t b1,
                           const uint8_t **pp, const uint8_t *end,
                           size_t *len)
{
    const uint8_t *p = *pp;
    size_t n = WC_INLINE;
    store_le64(t->scratch, b0);
    store_le64(t->scratch + 8, b1);
    for (;;) {
        uint8_t *s = t->scratch;
        size_t room = t->scratch_cap - n;
        const uint8_t *lim = (size_t)(end - p) > room ? p + room : end;
        uint8_t c;
        while (p < lim && (c = k_fold[*p]) != 0) {
            s[n++] = c;
            p++;
        }
        if (p < lim || p == end || k_fold[*p] == 0)
            break;
        fl_status st = grow_scratch(t);
        if (st != FL_OK)
            return st;
    }
    *pp = p;
    *len = n;
    return FL_OK;
}

fl_status fl__wc_count(fl_wc_table *t, const void *data, size_t len,
                       size_t min_len)
{
    if (len == 0)
        return FL_OK;
    const uint8_t *p = data;
    const uint8_t *end = p + len;
    fl_status st = FL_OK;
    while (p < end) {
        p = skip_separators(p, end);
        if (p == end)
            break;
        /* The first 16 bytes are gathered in registers: storing bytes and
         * loading them back as blocks would stall store forwarding. */
        uint64_t b0, b1 = 0;
        size_t n = scan_block(p, end, &b0);
        if (n == 8)
            n += scan_block(p + 8, end, &b1);
        p += n;
        if (n == WC_INLINE && p < end && k_fold[*p] != 0) {
            if ((st = take_long(t, b0, b1, &p, end, &n)) != FL_OK)
                return st;
            if (n >= min_len)
                st = bump_long(t, t->scratch, n, 1);
        } else if (n >= min_len) {
            st = bump_short(t, b0, b1, n, 1);
        }
        if (st != FL_OK)
            return st;
    }
    return FL_OK;
}

fl_status fl__wc_add(fl_wc_table *t, const void *word, size_t len,
                     uint64_t count)
{
    const uint8_t *w = word;
    if (len == 0 || w == NULL)
        return FL_EINVAL;
    for (size_t i = 0; i < len; i++)
        if (k_fold[w[i]] != w[i] || w[i] == 0)
            return FL_EINVAL;
    return fl__wc_add_checked(t, w, len, count);
}

/* The hash of a lowercase word; for one of at most WC_INLINE bytes also
 * its two blocks, which its probe compares. */
static uint64_t word_hash(const uint8_t *w, size_t len, uint64_t *b0,
                          uint64_t *b1)
{
    if (len > WC_INLINE) {
        *b0 = *b1 = 0; /* unused: long words compare in the arena */
        return hash_any(w, len);
    }
    *b0 = len >= 8 ? load_le64(w) : block_at(w, len, 0);
    *b1 = len >= 8 ? block_at(w, len, 8) : 0;
    return hash_final(hash_head(*b0, *b1, len));
}

/* Add c to word w (len bytes) whose hash and blocks word_hash gave. */
static fl_status probe_word(fl_wc_table *t, const uint8_t *w, size_t len,
                            uint64_t b0, uint64_t b1, uint64_t h, uint64_t c)
{
    if (c == 0)
        return FL_OK;
    return len > WC_INLINE ? probe_long(t, w, len, h, c)
                           : probe_short(t, b0, b1, len, h, c);
}

fl_status fl__wc_add_checked(fl_wc_table *t, const void *word, size_t len,
                             uint64_t count)
{
    uint64_t b0, b1;
    if (count == 0)
        return FL_OK;
    uint64_t h = word_hash(word, len, &b0, &b1);
    return probe_word(t, word, len, b0, b1, h, count);
}

/* The entry number + 1 of a word already in t, 0 when absent. */
static uint32_t find_entry(const fl_wc_table *t, const uint8_t *w, size_t len)
{
    uint64_t b0, b1;
    size_t i = (uint32_t)word_hash(w, len, &b0, &b1) & t->mask;
    for (uint32_t e; (e = t->index[i]) != 0; i = (i + 1u) & t->mask) {
        const wc_slot *s = &t->slots[e - 1u];
        if (s->len == len && memcmp(slot_word(t, s), w, len) == 0)
            return e;
    }
    return 0;
}

fl_status fl__wc_add_at(fl_wc_table *t, const void *word, size_t len,
                        uint64_t count, uint32_t *e)
{
    bool at_hint = *e != 0 && *e <= t->used &&
                   t->slots[*e - 1u].len == len &&
                   memcmp(slot_word(t, &t->slots[*e - 1u]), word, len) == 0;
    if (!at_hint)
        *e = find_entry(t, word, len);
    if (*e != 0)
        return add_to(t, &t->slots[*e - 1u], count);
    if (count == 0)
        return FL_OK; /* nothing to insert; *e stays 0 */
    /* A new word: inserted as the last entry. */
    fl_status st = fl__wc_add_checked(t, word, len, count);
    *e = st == FL_OK ? (uint32_t)t->used : 0;
    return st;
}

/* A hint to the cache; nothing where the compiler has no such builtin. */
#if defined(__GNUC__) || defined(__clang__)
#define WC_PREFETCH(p) __builtin_prefetch(p)
#else
#define WC_PREFETCH(p) ((void)(p))
#endif

void fl__wc_prefetch_entry(const fl_wc_table *t, uint32_t e)
{
    if (e != 0 && e <= t->used)
        WC_PREFETCH(&t->slots[e - 1u]);
}

/* A table much larger than the cache spends a merge waiting for memory,
 * one word at a time. Hashing a batch first and asking for the index
 * slots, then for the entries they name, lets those misses overlap; the
 * probes that follow are the same as one by one, so a prefetch made stale
 * by an insert that grew the index only costs its time. */
fl_status fl__wc_add_batch(fl_wc_table *t, const fl_wc_entry *e, size_t n)
{
    uint64_t h[FL_WC_BATCH], b0[FL_WC_BATCH], b1[FL_WC_BATCH];
    if (n > FL_WC_BATCH)
        return FL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        h[i] = word_hash(e[i].word, e[i].len, &b0[i], &b1[i]);
        WC_PREFETCH(&t->index[(uint32_t)h[i] & t->mask]);
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t x = t->index[(uint32_t)h[i] & t->mask];
        if (x != 0)
            WC_PREFETCH(&t->slots[x - 1u]);
    }
    for (size_t i = 0; i < n; i++) {
        fl_status st = probe_word(t, e[i].word, e[i].len, b0[i], b1[i], h[i],
                                  e[i].count);
        if (st != FL_OK)
            return st;
    }
    return FL_OK;
}

bool fl__wc_next(const fl_wc_table *t, size_t *pos, fl_wc_entry *e)
{
    while (t->has_zeros && *pos < t->used && t->slots[*pos].count == 0)
        (*pos)++;
    if (*pos >= t->used)
        return false;
    const wc_slot *s = &t->slots[(*pos)++];
    e->word = slot_word(t, s);
    e->len = s->len;
    e->count = s->count;
    return true;
}

uint64_t fl__wc_total(const fl_wc_table *t)
{
    return t->total;
}

size_t fl__wc_distinct(const fl_wc_table *t)
{
    if (!t->has_zeros)
        return t->used;
    size_t n = 0;
    for (size_t i = 0; i < t->used; i++)
        n += t->slots[i].count != 0;
    return n;
}

size_t fl__wc_memory(const fl_wc_table *t)
{
    return sizeof *t + (t->mask + 1u) * sizeof *t->index +
           t->cap * sizeof *t->slots + t->arena_cap +
           t->scratch_cap + WC_PAD;
}
