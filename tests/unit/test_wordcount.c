/*
 * test_wordcount.c - the word-count engine against a naive oracle: the
 * tokenizer and table, min-length, the chunker, the chunk -> wc.map ->
 * merge path (the same path floret wordcount takes), the partial-count
 * format on hostile input, rankings, memory bounds and allocation failure.
 * Depends on the core library, src/tasks/wordcount.h and the test harness.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/tasks/wordcount.h"
#include "alloc.h"
#include "core.h"
#include "oom.h"
#include "rng.h"
#include "test.h"

/* ------------------------------------------------------------- the oracle */

/* The definition, written as plainly as possible. */
static int oracle_is_word(uint8_t b)
{
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
           (b >= '0' && b <= '9') || b >= 0x80;
}

typedef struct oword {
    uint8_t *w;
    size_t len;
    uint64_t count;
} oword;

static int oword_cmp(const void *pa, const void *pb)
{
    const oword *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->w, b->w, n);
    if (c)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

/* Every word of d (lowercased) of at least min_len bytes, then sorted and
 * collapsed into counts: sort | uniq -c. */
static oword *oracle(const uint8_t *d, size_t n, size_t min_len, size_t *nw,
                     uint64_t *total)
{
    oword *ws = malloc((n / 2 + 1) * sizeof *ws);
    size_t k = 0, i = 0;
    while (i < n) {
        while (i < n && !oracle_is_word(d[i]))
            i++;
        size_t s = i;
        while (i < n && oracle_is_word(d[i]))
            i++;
        if (i == s || i - s < min_len)
            continue;
        ws[k].len = i - s;
        ws[k].w = malloc(i - s);
        for (size_t j = s; j < i; j++)
            ws[k].w[j - s] = (d[j] >= 'A' && d[j] <= 'Z') ? (uint8_t)(d[j] + 32) : d[j];
        ws[k].count = 1;
        k++;
    }
    qsort(ws, k, sizeof *ws, oword_cmp);
    size_t u = 0;
    *total = k;
    for (size_t j = 0; j < k; j++) {
        if (u > 0 && oword_cmp(&ws[u - 1], &ws[j]) == 0) {
            ws[u - 1].count++;
            free(ws[j].w);
        } else {
            ws[u++] = ws[j];
        }
    }
    *nw = u;
    return ws;
}

static void oracle_free(oword *ws, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ws[i].w);
    free(ws);
}

/* Whether table t holds exactly the oracle's counts for d. */
static int table_matches(const fl_wc_table *t, const uint8_t *d, size_t n,
                         size_t min_len)
{
    size_t nw, got_n = 0;
    uint64_t total;
    oword *ws = oracle(d, n, min_len, &nw, &total);
    fl_wc_entry *e = NULL;
    int ok = fl__wc_sorted(t, &e, &got_n) == FL_OK && got_n == nw &&
             fl__wc_total(t) == total && fl__wc_distinct(t) == nw;
    for (size_t i = 0; ok && i < nw; i++)
        ok = e[i].len == ws[i].len && e[i].count == ws[i].count &&
             memcmp(e[i].word, ws[i].w, ws[i].len) == 0;
    fl__free(e);
    oracle_free(ws, nw);
    return ok;
}

/* ------------------------------------------------------------- the inputs */

typedef struct input {
    const char *name;
    uint8_t *d;
    size_t n;
} input;

#define N_INPUTS 12
static input inputs[N_INPUTS];

static void set_input(int i, const char *name, const void *d, size_t n)
{
    inputs[i].name = name;
    inputs[i].d = malloc(n ? n : 1);
    memcpy(inputs[i].d, d, n);
    inputs[i].n = n;
}

/* Random bytes drawn from alphabet (or any byte when alphabet is NULL). */
static void set_random(int i, const char *name, uint64_t seed, size_t n,
                       const char *alphabet)
{
    fl_rng r = {seed};
    uint8_t *d = malloc(n);
    size_t an = alphabet ? strlen(alphabet) : 0;
    for (size_t j = 0; j < n; j++)
        d[j] = alphabet ? (uint8_t)alphabet[fl__rng_below(&r, an)]
                        : (uint8_t)fl__rng_next(&r);
    inputs[i].name = name;
    inputs[i].d = d;
    inputs[i].n = n;
}

/* Words of every length around the 8- and 16-byte boundaries of the
 * table's inline keys, in mixed case. */
static void set_lengths(int i)
{
    static uint8_t buf[8192];
    size_t n = 0;
    for (int rep = 0; rep < 3; rep++)
        for (size_t len = 1; len <= 40; len++) {
            for (size_t j = 0; j < len; j++)
                buf[n++] = (uint8_t)((j + rep) % 2 ? 'A' + (j % 26) : 'a' + (j % 26));
            buf[n++] = (uint8_t)(len % 3 ? ' ' : '\n');
        }
    set_input(i, "lengths", buf, n);
}

static void make_inputs(void)
{
    static const char text[] =
        "The quick brown Fox jumps over the lazy dog. THE DOG sleeps;\n"
        "the fox -- don't ask -- runs 42 laps, then 42 more (x2).";
    static const char utf8[] = "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln: "
        "na\xc3\xafve caf\xc3\xa9 \xc3\x89" "COLE \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac "
        "Caf\xc3\xa9 CAF\xc3\x89";
    static const char nul[] = "a\0b\0\0ABC\0abc\0\0";
    static const char crlf[] = "Hello\r\nWorld\r\nhello\r\n\r\n";
    set_input(0, "empty", "", 0);
    set_input(1, "text no trailing newline", text, sizeof text - 1);
    set_input(2, "utf-8", utf8, sizeof utf8 - 1);
    set_input(3, "nul bytes", nul, sizeof nul - 1);
    set_input(4, "crlf", crlf, sizeof crlf - 1);
    static const char seps[] = " ,.;\n\t\x01\x7f-";
    set_input(5, "only separators", seps, sizeof seps - 1);
    set_lengths(6);
    set_random(7, "random binary", 7, 20000, NULL);
    set_random(8, "small alphabet", 8, 20000, "aAbB ");
    set_random(9, "long words", 9, 20000, "abcdefghijklmnopqrstuvwxyzABC                                                                        ");
    set_random(10, "digits and high bytes", 10, 5000, "09\x80\xff\xc3\xa9 .");
    static uint8_t longw[3000];
    memset(longw, 'Q', sizeof longw);
    longw[0] = ' ';
    longw[1500] = 'x';
    set_input(11, "one long word", longw, sizeof longw);
}

static void free_inputs(void)
{
    for (int i = 0; i < N_INPUTS; i++)
        free(inputs[i].d);
}

/* -------------------------------------------------------------- the tests */

static void test_word_bytes(void)
{
    for (int b = 0; b < 256; b++)
        CHECK_EQ(fl__wc_is_word_byte((uint8_t)b), oracle_is_word((uint8_t)b));
}

static void test_count_whole(void)
{
    static const size_t mins[] = {0, 1, 2, 3, 5, 9, 17, 100000};
    for (int i = 0; i < N_INPUTS; i++)
        for (size_t m = 0; m < sizeof mins / sizeof mins[0]; m++) {
            fl_wc_table *t = fl__wc_new();
            CHECK(t != NULL);
            CHECK_EQ(fl__wc_count(t, inputs[i].d, inputs[i].n, mins[m]), FL_OK);
            if (!table_matches(t, inputs[i].d, inputs[i].n, mins[m]))
                T_FAILED("counts differ: %s, min_length %zu", inputs[i].name,
                         mins[m]);
            fl__wc_free(t);
        }
}

static void test_known_counts(void)
{
    static const char s[] = "It's the the THE end, 3x 3X.";
    fl_wc_table *t = fl__wc_new();
    CHECK_EQ(fl__wc_count(t, s, sizeof s - 1, 1), FL_OK);
    CHECK_EQ(fl__wc_total(t), 8);
    CHECK_EQ(fl__wc_distinct(t), 5);
    fl_wc_entry *e;
    size_t n;
    CHECK_EQ(fl__wc_top(t, 2, &e, &n), FL_OK);
    CHECK_EQ(n, 2);
    CHECK(n == 2 && e[0].count == 3 && e[0].len == 3 && memcmp(e[0].word, "the", 3) == 0);
    CHECK(n == 2 && e[1].count == 2 && e[1].len == 2 && memcmp(e[1].word, "3x", 2) == 0);
    fl__free(e);
    fl__wc_free(t);
}

/* Every chunk ends at a word boundary, the chunks tile the input, and a
 * chunk is over target only when it holds a single word. */
static int chunk_ok(const uint8_t *d, size_t n, size_t start, size_t k,
                    size_t target)
{
    if (k == 0 || start + k > n)
        return 0;
    size_t end = start + k;
    if (end < n && fl__wc_is_word_byte(d[end - 1]) && fl__wc_is_word_byte(d[end]))
        return 0;
    if (k <= (target ? target : 1))
        return 1;
    size_t i = start, words = 0;
    while (i < end) {
        while (i < end && !fl__wc_is_word_byte(d[i]))
            i++;
        if (i < end)
            words++;
        while (i < end && fl__wc_is_word_byte(d[i]))
            i++;
    }
    return words == 1;
}

/* Stream d through a window of at most `window` bytes, as a reader with a
 * bounded buffer would, growing it only when one word fills it. Counts each
 * chunk with wc.map's steps (count, encode) and merges into merged; with
 * hint, as a node and the client do it: the map task's kept table, and the
 * merge with that node's hint. */
static int chunk_and_merge(const uint8_t *d, size_t n, size_t target,
                           size_t window, size_t min_len, fl_wc_table *merged,
                           fl_wc_hint *hint, size_t *chunks)
{
    size_t pos = 0;
    *chunks = 0;
    for (int guard = 0; pos < n && guard < 10000000; guard++) {
        size_t avail = n - pos < window ? n - pos : window;
        bool eof = pos + avail == n;
        size_t k = fl__wc_chunk_end(d + pos, avail, target, eof);
        if (k == 0) {
            if (eof)
                return 0;
            window *= 2;
            continue;
        }
        if (!chunk_ok(d, n, pos, k, target)) {
            T_FAILED("bad chunk at %zu+%zu (target %zu)", pos, k, target);
            return 0;
        }
        fl_wc_table *t = hint ? fl__wc_task_table() : fl__wc_new();
        uint8_t *enc = NULL;
        size_t enc_len = 0, distinct = 0;
        uint64_t words = 0;
        int ok = t && fl__wc_count(t, d + pos, k, min_len) == FL_OK &&
                 fl__wc_encode(t, &enc, &enc_len) == FL_OK &&
                 (hint ? fl__wc_merge_from(merged, hint, enc, enc_len, &words, &distinct)
                       : fl__wc_merge(merged, enc, enc_len, &words, &distinct)) == FL_OK &&
                 words == fl__wc_total(t) && distinct == fl__wc_distinct(t);
        fl__free(enc);
        if (hint)
            fl__wc_task_table_done(t);
        else
            fl__wc_free(t);
        if (!ok)
            return 0;
        pos += k;
        (*chunks)++;
    }
    return pos == n;
}

static void test_chunk_map_merge(void)
{
    static const size_t targets[] = {1, 2, 3, 5, 8, 16, 17, 64, 1000, 1 << 20};
    for (int i = 0; i < N_INPUTS; i++)
        for (size_t ti = 0; ti < sizeof targets / sizeof targets[0]; ti++)
            for (size_t min_len = 1; min_len <= 4; min_len += 3)
                for (int hinted = 0; hinted < 2; hinted++) {
                    size_t target = targets[ti], chunks;
                    fl_wc_table *m = fl__wc_new();
                    fl_wc_hint hint = {0};
                    int ok = chunk_and_merge(inputs[i].d, inputs[i].n, target,
                                             target + 1, min_len, m,
                                             hinted ? &hint : NULL, &chunks) &&
                             table_matches(m, inputs[i].d, inputs[i].n, min_len);
                    if (!ok)
                        T_FAILED("chunk+map+merge differs: %s, chunk %zu, min %zu%s",
                                 inputs[i].name, target, min_len,
                                 hinted ? ", kept tables and a hint" : "");
                    else
                        t_checks++;
                    fl__wc_hint_free(&hint);
                    fl__wc_free(m);
                }
}

static void test_chunker_edges(void)
{
    const uint8_t *d = (const uint8_t *)"abc defgh ij";
    CHECK_EQ(fl__wc_chunk_end(d, 0, 4, true), 0);
    CHECK_EQ(fl__wc_chunk_end(d, 3, 4, false), 0);   /* may continue */
    CHECK_EQ(fl__wc_chunk_end(d, 3, 4, true), 3);
    CHECK_EQ(fl__wc_chunk_end(d, 12, 4, false), 4);  /* cut after "abc " */
    CHECK_EQ(fl__wc_chunk_end(d, 12, 3, false), 3);  /* "abc" then ' ' */
    CHECK_EQ(fl__wc_chunk_end(d, 12, 2, false), 3);  /* "abc" is over 2 */
    CHECK_EQ(fl__wc_chunk_end(d + 4, 8, 2, false), 5); /* "defgh" alone */
    CHECK_EQ(fl__wc_chunk_end(d + 4, 5, 2, false), 0); /* it may go on */
    CHECK_EQ(fl__wc_chunk_end(d + 4, 5, 2, true), 5);
    CHECK_EQ(fl__wc_chunk_end(d, 12, 0, false), 3);  /* target 0 is 1 */
}

/* The wc.map task itself, run as a node runs it. */
static fl_status run_map(const fl_registry *reg, const void *att, size_t len,
                         const char *kwargs, fl_outcome *out)
{
    fl_job job;
    memset(&job, 0, sizeof job);
    memset(out, 0, sizeof *out);
    job.name = "wc.map";
    job.attempt = 1;
    job.att = (uint8_t *)(uintptr_t)att;
    job.att_len = len;
    fl_status st = fl_value_parse("[]", 2, &job.args);
    if (st == FL_OK)
        st = fl_value_parse(kwargs, strlen(kwargs), &job.kwargs);
    fl_run_hooks hooks = {0};
    hooks.node_id = "test";
    hooks.max_result = (size_t)8 << 20; /* the inputs' partials, any profile */
    if (st == FL_OK)
        fl_core_run_job(reg, &job, &hooks, out);
    fl_value_free(job.args);
    fl_value_free(job.kwargs);
    return st;
}

static void test_map_task(void)
{
    fl_registry *reg = fl_registry_new();
    CHECK(reg != NULL);
    CHECK_EQ(fl_register_wordcount(reg), FL_OK);
    CHECK_EQ(fl_register_wordcount(reg), FL_EEXIST);
    for (int i = 0; i < N_INPUTS; i++) {
        fl_outcome out;
        fl_wc_table *m = fl__wc_new();
        uint64_t words = 0;
        size_t distinct = 0;
        CHECK_EQ(run_map(reg, inputs[i].d, inputs[i].n, "{\"min_length\":2}", &out), FL_OK);
        CHECK(out.ok);
        CHECK_EQ(fl__wc_merge(m, out.att, out.att_len, &words, &distinct), FL_OK);
        if (!table_matches(m, inputs[i].d, inputs[i].n, 2))
            T_FAILED("wc.map counts differ: %s", inputs[i].name);
        char want[96];
        snprintf(want, sizeof want, "{\"words\":%llu,\"distinct\":%zu}",
                 (unsigned long long)words, distinct);
        CHECK(out.value_json != NULL);
        CHECK_STR(out.value_json, want);
        fl_outcome_clear(&out);
        fl__wc_free(m);
    }
    static const char *bad[] = {"{\"min_length\":-1}", "{\"min_length\":1.5}",
                                "{\"min_length\":\"3\"}", "{\"min_length\":1e300}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_outcome out;
        CHECK_EQ(run_map(reg, "a b", 3, bad[i], &out), FL_OK);
        CHECK(!out.ok);
        CHECK(out.err_message && strstr(out.err_message, "min_length") != NULL);
        fl_outcome_clear(&out);
    }
    fl_outcome out; /* no attachment, no kwargs: an empty count */
    CHECK_EQ(run_map(reg, NULL, 0, "{}", &out), FL_OK);
    CHECK(out.ok && out.value_json && strcmp(out.value_json, "{\"words\":0,\"distinct\":0}") == 0);
    fl_outcome_clear(&out);
    fl_registry_free(reg);
}

static void test_rankings(void)
{
    for (int i = 0; i < N_INPUTS; i++) {
        fl_wc_table *t = fl__wc_new();
        CHECK_EQ(fl__wc_count(t, inputs[i].d, inputs[i].n, 1), FL_OK);
        fl_wc_entry *all, *top;
        size_t n_all, n_top;
        CHECK_EQ(fl__wc_top(t, 0, &all, &n_all), FL_OK);
        CHECK_EQ(n_all, fl__wc_distinct(t));
        for (size_t j = 1; j < n_all; j++) {
            const fl_wc_entry *a = &all[j - 1], *b = &all[j];
            size_t m = a->len < b->len ? a->len : b->len;
            int c = memcmp(a->word, b->word, m);
            CHECK(a->count > b->count ||
                  (a->count == b->count && (c < 0 || (c == 0 && a->len < b->len))));
        }
        static const size_t ns[] = {1, 2, 3, 10, 100000};
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            CHECK_EQ(fl__wc_top(t, ns[k], &top, &n_top), FL_OK);
            CHECK_EQ(n_top, ns[k] < n_all ? ns[k] : n_all);
            for (size_t j = 0; j < n_top; j++)
                CHECK(top[j].count == all[j].count && top[j].len == all[j].len &&
                      memcmp(top[j].word, all[j].word, top[j].len) == 0);
            fl__free(top);
        }
        fl__free(all);
        fl__wc_free(t);
    }
}

/* A partial with one change must be refused and leave the table alone. */
static void expect_refused(const char *what, const uint8_t *p, size_t n)
{
    fl_wc_table *t = fl__wc_new();
    CHECK_EQ(fl__wc_add(t, "keep", 4, 5), FL_OK);
    fl_status st = fl__wc_merge(t, p, n, NULL, NULL);
    if (st != FL_EPROTO)
        T_FAILED("%s: merge gave %d, not FL_EPROTO", what, (int)st);
    CHECK_EQ(fl__wc_total(t), 5);
    CHECK_EQ(fl__wc_distinct(t), 1);
    fl__wc_free(t);
}

static void test_format(void)
{
    /* The documented encoding of {"hi": 2, "a": 300}, entry by entry. */
    static const uint8_t doc[] = {'F', 'W', 'C', '1', 2, 0xAE, 0x02,
                                  2, 'h', 'i', 2, 1, 'a', 0xAC, 0x02};
    fl_wc_table *t = fl__wc_new();
    uint64_t words;
    size_t distinct;
    CHECK_EQ(fl__wc_merge(t, doc, sizeof doc, &words, &distinct), FL_OK);
    CHECK_EQ(words, 302);
    CHECK_EQ(distinct, 2);
    uint8_t *enc;
    size_t n;
    CHECK_EQ(fl__wc_encode(t, &enc, &n), FL_OK);
    CHECK_EQ(n, sizeof doc);
    CHECK_MEM(enc, doc, sizeof doc);
    fl__free(enc);
    fl__wc_free(t);

    uint8_t b[sizeof doc + 2];
#define MUTATE(what, stmt, len)               \
    do {                                      \
        memcpy(b, doc, sizeof doc);           \
        stmt;                                 \
        expect_refused(what, b, len);         \
    } while (0)
    MUTATE("bad magic", b[3] = '2', sizeof doc);
    MUTATE("truncated", (void)0, sizeof doc - 1);
    MUTATE("trailing byte", b[sizeof doc] = 0, sizeof doc + 1);
    MUTATE("total too big", b[5] = 0xAF, sizeof doc);
    MUTATE("uppercase word", b[8] = 'H', sizeof doc);
    MUTATE("separator in word", b[8] = ' ', sizeof doc);
    MUTATE("zero count", (b[10] = 0, b[5] = 0xAC), sizeof doc);
    MUTATE("too many entries", b[4] = 3, sizeof doc);
    MUTATE("overlong varint", (b[4] = 0x82, b[5] = 0x00), sizeof doc);
    MUTATE("word past the end", b[11] = 9, sizeof doc);
    expect_refused("empty", doc, 0);
    expect_refused("magic only", doc, 4);
    static const uint8_t zero_len[] = {'F', 'W', 'C', '1', 1, 1, 0, 1};
    expect_refused("zero-length word", zero_len, sizeof zero_len);
    static const uint8_t big[] = {'F', 'W', 'C', '1', 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0x02};
    expect_refused("varint over 64 bits", big, sizeof big);
    static const uint8_t none[] = {'F', 'W', 'C', '1', 0, 0};
    t = fl__wc_new();
    CHECK_EQ(fl__wc_merge(t, none, sizeof none, &words, &distinct), FL_OK);
    CHECK_EQ(words, 0);
    fl__wc_free(t);
#undef MUTATE
}

/* The partial format of docs/wordcount.md, read byte by byte as the
 * document states it: the reference the merge's checks must agree with. */
static bool ref_varint(const uint8_t *d, size_t len, size_t *pos, uint64_t *x)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*pos >= len)
            return false;
        uint8_t b = d[(*pos)++];
        if (i == 9 && b > 1)
            return false;          /* bits beyond 64 */
        v |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            *x = v;
            return !(b == 0 && i > 0); /* no overlong zero tail */
        }
    }
    return false;
}

static bool ref_partial_ok(const uint8_t *d, size_t len)
{
    size_t pos = 4;
    uint64_t distinct, total, sum = 0;
    if (len < 4 || memcmp(d, "FWC1", 4) != 0 || !ref_varint(d, len, &pos, &distinct) ||
        !ref_varint(d, len, &pos, &total))
        return false;
    for (uint64_t i = 0; i < distinct; i++) {
        uint64_t wl, c;
        if (!ref_varint(d, len, &pos, &wl) || wl == 0 || wl > len - pos)
            return false;
        for (uint64_t j = 0; j < wl; j++) {
            uint8_t b = d[pos++];
            if (!((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b >= 0x80))
                return false;
        }
        if (!ref_varint(d, len, &pos, &c) || c == 0 || sum + c < sum)
            return false;
        sum += c;
    }
    return pos == len && sum == total;
}

/* Random damage to real partials (short and long words, high bytes)
 * never crashes or corrupts: the merge refuses exactly what the format
 * refuses, whole, or adds a consistent partial. */
static void test_format_damage(void)
{
    static const int from[] = {1, 6, 9, 10, 11};
    fl_rng r = {42};
    for (size_t k = 0; k < sizeof from / sizeof from[0]; k++) {
        fl_wc_table *src = fl__wc_new();
        const input *in = &inputs[from[k]];
        CHECK_EQ(fl__wc_count(src, in->d, in->n, 1), FL_OK);
        uint8_t *enc;
        size_t n;
        CHECK_EQ(fl__wc_encode(src, &enc, &n), FL_OK);
        uint8_t *b = malloc(n);
        for (int round = 0; round < 5000; round++) {
            memcpy(b, enc, n);
            int flips = 1 + (int)fl__rng_below(&r, 3);
            for (int f = 0; f < flips; f++)
                b[fl__rng_below(&r, n)] ^= (uint8_t)(1u << fl__rng_below(&r, 8));
            size_t len = fl__rng_below(&r, 4) ? n : (size_t)fl__rng_below(&r, n + 1);
            fl_wc_table *t = fl__wc_new();
            uint64_t words = 0;
            size_t distinct = 0;
            fl_status st = fl__wc_merge(t, b, len, &words, &distinct);
            if ((st == FL_OK) != ref_partial_ok(b, len))
                T_FAILED("%s, round %d: merge says %d, the format says %s", in->name,
                         round, (int)st, ref_partial_ok(b, len) ? "valid" : "invalid");
            if (st == FL_OK)
                CHECK(fl__wc_total(t) == words && fl__wc_distinct(t) <= distinct);
            else
                CHECK(st == FL_EPROTO && fl__wc_total(t) == 0);
            fl__wc_free(t);
        }
        free(b);
        fl__free(enc);
        fl__wc_free(src);
    }
}

static void test_add_and_overflow(void)
{
    fl_wc_table *t = fl__wc_new();
    CHECK_EQ(fl__wc_add(t, "Abc", 3, 1), FL_EINVAL);
    CHECK_EQ(fl__wc_add(t, "a b", 3, 1), FL_EINVAL);
    CHECK_EQ(fl__wc_add(t, "", 0, 1), FL_EINVAL);
    CHECK_EQ(fl__wc_add(t, "abc", 3, 0), FL_OK);
    CHECK_EQ(fl__wc_distinct(t), 0);
    CHECK_EQ(fl__wc_add(t, "abc", 3, UINT64_MAX - 1), FL_OK);
    CHECK_EQ(fl__wc_add(t, "abc", 3, 1), FL_OK);
    CHECK_EQ(fl__wc_add(t, "abc", 3, 1), FL_ETOOBIG);
    CHECK_EQ(fl__wc_add(t, "xyz", 3, 1), FL_ETOOBIG); /* total would wrap */
    fl__wc_free(t);
    /* A word counted from text and the same word added from a partial are
     * one word, whatever their length. */
    t = fl__wc_new();
    static const char w[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t len = 1; len < sizeof w; len++) {
        CHECK_EQ(fl__wc_count(t, w, len, 1), FL_OK);
        CHECK_EQ(fl__wc_add(t, w, len, 2), FL_OK);
    }
    fl_wc_entry *e;
    size_t n;
    CHECK_EQ(fl__wc_sorted(t, &e, &n), FL_OK);
    CHECK_EQ(n, sizeof w - 1);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ(e[i].count, 3);
    fl__free(e);
    fl__wc_free(t);
}

/* Adding words in batches gives the same table as one by one: words
 * short and long, repeated inside a batch, and enough new ones that the
 * index grows in the middle of a batch. */
static void test_add_batch(void)
{
    enum { WORDS = 6000, MAXLEN = 40 };
    static uint8_t text[WORDS][MAXLEN];
    fl_wc_entry e[WORDS];
    uint32_t seed = 7;
    for (size_t i = 0; i < WORDS; i++) {
        seed = seed * 1103515245u + 12345u;
        /* every fourth word repeats one of the last 8, maybe in its batch */
        if (i >= 8 && (seed >> 16) % 4 == 0) {
            e[i] = e[i - 1 - (seed >> 8) % 8];
            continue;
        }
        size_t len = 1 + (seed >> 16) % MAXLEN;
        for (size_t k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            text[i][k] = (uint8_t)('a' + (seed >> 16) % 26);
        }
        e[i] = (fl_wc_entry){.word = text[i], .len = len, .count = 1 + i % 5};
    }
    fl_wc_table *one = fl__wc_new(), *many = fl__wc_new();
    for (size_t i = 0; i < WORDS; i++)
        CHECK_EQ(fl__wc_add_checked(one, e[i].word, e[i].len, e[i].count), FL_OK);
    for (size_t i = 0; i < WORDS; i += FL_WC_BATCH) {
        size_t n = WORDS - i < FL_WC_BATCH ? WORDS - i : FL_WC_BATCH;
        CHECK_EQ(fl__wc_add_batch(many, e + i, n), FL_OK);
    }
    CHECK_EQ(fl__wc_add_batch(many, e, FL_WC_BATCH + 1), FL_EINVAL);
    CHECK_EQ(fl__wc_total(many), fl__wc_total(one));
    CHECK_EQ(fl__wc_distinct(many), fl__wc_distinct(one));
    CHECK(fl__wc_distinct(one) > 2000); /* the index grew several times */
    fl_wc_entry *a, *b;
    size_t na, nb;
    CHECK_EQ(fl__wc_sorted(one, &a, &na), FL_OK);
    CHECK_EQ(fl__wc_sorted(many, &b, &nb), FL_OK);
    CHECK_EQ(na, nb);
    for (size_t i = 0; i < na && i < nb; i++) {
        CHECK_EQ(a[i].len, b[i].len);
        CHECK_EQ(a[i].count, b[i].count);
        CHECK(memcmp(a[i].word, b[i].word, a[i].len) == 0);
    }
    fl__free(a);
    fl__free(b);
    fl__wc_free(one);
    fl__wc_free(many);
}

/* Memory follows the vocabulary: 8 MB of 50 distinct words needs a small
 * table, and a vocabulary of 100000 words a proportionate one. */
static void test_memory_bound(void)
{
    size_t n = 8u << 20;
    uint8_t *d = malloc(n);
    fl_rng r = {5};
    size_t i = 0;
    while (i + 12 < n) {
        int len = snprintf((char *)d + i, 12, "w%u ", (unsigned)fl__rng_below(&r, 50));
        i += (size_t)len;
    }
    memset(d + i, ' ', n - i);
    fl_wc_table *t = fl__wc_new();
    CHECK_EQ(fl__wc_count(t, d, n, 1), FL_OK);
    CHECK_EQ(fl__wc_distinct(t), 50);
    CHECK(fl__wc_memory(t) < 64u * 1024u);
    fl__wc_free(t);
    t = fl__wc_new();
    for (unsigned k = 0; k < 100000; k++) {
        char w[16];
        int len = snprintf(w, sizeof w, "v%u", k);
        CHECK_EQ(fl__wc_add(t, w, (size_t)len, 1), FL_OK);
    }
    CHECK_EQ(fl__wc_distinct(t), 100000);
    CHECK(fl__wc_memory(t) < 100000u * 96u);
    fl__wc_free(t);
    free(d);
}

/* A table reused between chunks counts each chunk exactly as a fresh one
 * would (its kept words at 0 stay invisible, also to the encoding), and
 * forgets them once they outnumber the new ones by far. */
static void test_reuse(void)
{
    fl_wc_table *t = fl__wc_new();
    for (int i = 0; i < N_INPUTS; i++) {
        int j = (i + 5) % N_INPUTS;
        CHECK_EQ(fl__wc_count(t, inputs[i].d, inputs[i].n, 1), FL_OK);
        fl__wc_reuse(t);
        CHECK_EQ(fl__wc_total(t), 0);
        CHECK_EQ(fl__wc_distinct(t), 0);
        CHECK_EQ(fl__wc_count(t, inputs[j].d, inputs[j].n, 3), FL_OK);
        if (!table_matches(t, inputs[j].d, inputs[j].n, 3))
            T_FAILED("reused table: counts differ: %s after %s", inputs[j].name,
                     inputs[i].name);
        uint8_t *enc = NULL;
        size_t n = 0;
        fl_wc_table *m = fl__wc_new();
        CHECK_EQ(fl__wc_encode(t, &enc, &n), FL_OK);
        CHECK_EQ(fl__wc_merge(m, enc, n, NULL, NULL), FL_OK);
        if (!table_matches(m, inputs[j].d, inputs[j].n, 3))
            T_FAILED("reused table: partial differs: %s after %s", inputs[j].name,
                     inputs[i].name);
        fl__free(enc);
        fl__wc_free(m);
        fl__wc_reuse(t);
    }
    /* 20,000 words kept; then chunks of 2 words: the first reuse keeps them
     * (the last use counted them all), the next forgets them. */
    fl__wc_clear(t);
    for (unsigned k = 0; k < 20000; k++) {
        char w[16];
        int len = snprintf(w, sizeof w, "v%u", k);
        CHECK_EQ(fl__wc_add(t, w, (size_t)len, 1), FL_OK);
    }
    size_t pos = 0;
    fl_wc_entry e;
    for (int round = 0; round < 2; round++) {
        fl__wc_reuse(t);
        CHECK_EQ(fl__wc_count(t, "v7 new", 6, 1), FL_OK);
        CHECK_EQ(fl__wc_distinct(t), 2);
        pos = 0;
        while (fl__wc_next(t, &pos, &e))
            ;
    }
    CHECK_EQ(pos, 2); /* only the 2 words are left to walk over */
    fl__wc_free(t);
}

/* The map tasks' tables: given back, one comes out again empty; one over
 * 8 MiB is not kept. */
static void test_task_tables(void)
{
    fl_wc_table *t = fl__wc_task_table();
    CHECK(t != NULL);
    CHECK_EQ(fl__wc_count(t, "a b a", 5, 1), FL_OK);
    fl__wc_task_table_done(t);
    fl_wc_table *u = fl__wc_task_table();
    CHECK(u == t);
    CHECK_EQ(fl__wc_distinct(u), 0);
    CHECK_EQ(fl__wc_total(u), 0);
    for (unsigned k = 0; k < 400000; k++) {
        char w[32];
        int len = snprintf(w, sizeof w, "aratherlongword%u", k);
        CHECK_EQ(fl__wc_add(u, w, (size_t)len, 1), FL_OK);
    }
    CHECK(fl__wc_memory(u) > ((size_t)8 << 20));
    fl__wc_task_table_done(u);
    fl_wc_table *v = fl__wc_task_table();
    CHECK(v != NULL && fl__wc_memory(v) < ((size_t)1 << 20));
    fl__wc_task_table_done(v);
}

/* The partial count of text s, encoded; the caller frees it. */
static uint8_t *partial_of(const char *s, size_t *len)
{
    fl_wc_table *t = fl__wc_new();
    uint8_t *enc = NULL;
    CHECK_EQ(fl__wc_count(t, s, strlen(s), 1), FL_OK);
    CHECK_EQ(fl__wc_encode(t, &enc, len), FL_OK);
    fl__wc_free(t);
    return enc;
}

/* A hint only saves work: words in another order than it remembers, a
 * damaged partial and a hint from another table all merge (or fail) as
 * without it. */
static void test_merge_hint(void)
{
    fl_wc_table *m = fl__wc_new(), *other = fl__wc_new();
    fl_wc_hint h = {0};
    size_t n1, n2, n3;
    uint8_t *p1 = partial_of("a bb ccc", &n1);
    uint8_t *p2 = partial_of("ccc x a a", &n2);
    uint8_t *p3 = partial_of("zz yy ccc", &n3);
    CHECK_EQ(fl__wc_merge_from(m, &h, p1, n1, NULL, NULL), FL_OK);
    CHECK_EQ(fl__wc_merge_from(m, &h, p2, n2, NULL, NULL), FL_OK);
    CHECK_EQ(fl__wc_merge_from(m, &h, p1, n1 - 1, NULL, NULL), FL_EPROTO);
    CHECK_EQ(fl__wc_merge_from(other, &h, p3, n3, NULL, NULL), FL_OK);
    CHECK_EQ(fl__wc_merge_from(m, &h, p3, n3, NULL, NULL), FL_OK);
    static const char all[] = "a bb ccc ccc x a a zz yy ccc";
    if (!table_matches(m, (const uint8_t *)all, sizeof all - 1, 1))
        T_FAILED("hinted merges differ from the text's counts");
    if (!table_matches(other, (const uint8_t *)"zz yy ccc", 9, 1))
        T_FAILED("a hint from another table changed the counts");
    fl__free(p1);
    fl__free(p2);
    fl__free(p3);
    fl__wc_hint_free(&h);
    fl__wc_free(m);
    fl__wc_free(other);
}

/* A huge word (over the 256-byte scratch, over a chunk) is one word. */
static void test_huge_word(void)
{
    size_t n = 3u << 20;
    uint8_t *d = malloc(n + 4);
    memset(d, 'z', n);
    memcpy(d + n, " zZ", 3);
    fl_wc_table *t = fl__wc_new();
    CHECK_EQ(fl__wc_count(t, d, n + 3, 1), FL_OK);
    CHECK_EQ(fl__wc_distinct(t), 2);
    CHECK_EQ(fl__wc_total(t), 2);
    fl_wc_table *m = fl__wc_new();
    size_t chunks;
    CHECK(chunk_and_merge(d, n + 3, 4096, 4097, 1, m, NULL, &chunks));
    CHECK_EQ(chunks, 2);
    CHECK_EQ(fl__wc_distinct(m), 2);
    fl_wc_entry *e;
    size_t k;
    CHECK_EQ(fl__wc_top(m, 2, &e, &k), FL_OK); /* ties: "zz" sorts first */
    CHECK(k == 2 && e[0].len == 2 && e[1].len == n && e[1].count == 1);
    fl__free(e);
    fl__wc_free(m);
    fl__wc_free(t);
    free(d);
}

/* Out of memory anywhere in count, encode, merge, top: FL_ENOMEM, no
 * leak. */
static fl_status oom_pipeline(void *ctx)
{
    const input *in = ctx;
    fl_wc_table *t = fl__wc_new(), *m = NULL;
    uint8_t *enc = NULL;
    size_t n = 0, k = 0;
    fl_wc_entry *e = NULL;
    fl_status st = t ? FL_OK : FL_ENOMEM;
    if (st == FL_OK)
        st = fl__wc_count(t, in->d, in->n, 1);
    if (st == FL_OK)
        st = fl__wc_encode(t, &enc, &n);
    if (st == FL_OK && (m = fl__wc_new()) == NULL)
        st = FL_ENOMEM;
    if (st == FL_OK)
        st = fl__wc_merge(m, enc, n, NULL, NULL);
    if (st == FL_OK)
        st = fl__wc_top(m, 3, &e, &k);
    fl__free(e);
    fl__free(enc);
    fl__wc_free(m);
    fl__wc_free(t);
    return st;
}

static void test_oom(void)
{
    oom_sweep("lengths", oom_pipeline, &inputs[6]);
    oom_sweep("long words", oom_pipeline, &inputs[9]);
    oom_sweep("one long word", oom_pipeline, &inputs[11]);
}

int main(void)
{
    make_inputs();
    RUN(test_word_bytes);
    RUN(test_count_whole);
    RUN(test_known_counts);
    RUN(test_chunker_edges);
    RUN(test_chunk_map_merge);
    RUN(test_map_task);
    RUN(test_rankings);
    RUN(test_format);
    RUN(test_format_damage);
    RUN(test_add_and_overflow);
    RUN(test_add_batch);
    RUN(test_memory_bound);
    RUN(test_reuse);
    RUN(test_merge_hint);
    RUN(test_task_tables);
    RUN(test_huge_word);
    RUN(test_oom);
    free_inputs();
    return TEST_DONE();
}
